/*
 * network.c — the network as a settlement pass sees it: the distributors
 * with their recruiters, terminations and stores as of the end of the
 * period, and every member's bindings, each with the seq of the event that
 * made it, up to the pass's limit.
 *
 * The network cache. Rebuilding two million bindings from the log at every
 * settlement costs more than the month of orders, so each settlement into
 * the store also stores the bindings it loaded as one blob, and the next
 * settlement starts from the latest blob of an earlier period that covers
 * no more of the log than it may see, and reads from the log only the
 * network events after it. A new blob is written only when the bindings
 * read from the log outnumber an eighth of those in the blob used (or none
 * was used): a month that adds a few members costs a short read of the
 * log, not a rewrite of the whole network. The blob used is kept, so that
 * a close after a draft starts from it too; older ones serve nothing and
 * are deleted. Distributors, store changes and terminations are few and
 * always read from the log, so a distributor's index (her rank by seq)
 * means the same in every pass. Verify never uses the cache: it rebuilds
 * the network from the log and checks the stored blob against the one it
 * derives.
 *
 * The blob: a format byte (1), the number of member bindings and of binds,
 * then the member bindings and then the binds, each run in seq order, as
 * varints: the seq's increase, (binds only) seq minus the member's seq,
 * the instant's change (zigzag), the distributor's index, the months.
 */
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "hugemem.h"
#include "settle.h"

/* Appends a binding to distributor index di; 0, or -1 if it cannot be
 * (more bindings than counted, or no such distributor: a damaged cache). */
static int add_binding(struct settle *s, int64_t seq, int64_t member, int64_t di, int64_t at,
		       int64_t months)
{
	if (di < 0 || (size_t)di >= s->nd || s->nb == s->capb || seq <= 0 || seq > s->limit ||
	    member <= 0 || member > seq || months < 0 || months > 0x7FFF)
		return -1;
	if (member != seq)
		s->bmember[s->nb] = member;
	struct binding *b = &s->b[s->nb++];
	b->key = (uint64_t)seq << 16 | (uint64_t)months;
	b->bound_at = at;
	b->net = 0;
	b->bounty = -1;
	b->dist = (int32_t)di;
	return 0;
}

/* A bind to sort by (member, bound_at). */
struct bind_key {
	int64_t member, bound_at;
	int32_t i;
};

static int cmp_bind(const void *pa, const void *pb)
{
	const struct bind_key *x = pa, *y = pb;
	if (x->member != y->member)
		return x->member < y->member ? -1 : 1;
	return x->bound_at < y->bound_at ? -1 : x->bound_at > y->bound_at;
}

/* Makes binding j the one after binding i of their member. */
static int chain(struct settle *s, int32_t i, int32_t j)
{
	if (idmap_put(&s->next, (int64_t)i + 1, j))
		return fail_nomem(s);
	s->b[i].key |= B_HAS_NEXT;
	return 0;
}

/* Chains each member's bindings by bound_at from ix[member]. Those made by
 * member events come first, in seq order, and are each their member's
 * first (a bind starts after she joined); a bind's seq points at its own
 * binding. Only the binds, few, are sorted. */
static int index_bindings(struct settle *s, size_t nmember)
{
	size_t nbind = s->nb - nmember;
	for (size_t i = 0; i < nmember; i++)
		s->ix[B_SEQ(&s->b[i])] = (int32_t)i;
	if (!nbind)
		return 0;
	struct bind_key *order = malloc(nbind * sizeof *order);
	if (!order)
		return fail_nomem(s);
	for (size_t k = 0; k < nbind; k++) {
		const struct binding *b = &s->b[nmember + k];
		order[k] = (struct bind_key){s->bmember[nmember + k], b->bound_at, (int32_t)(nmember + k)};
	}
	qsort(order, nbind, sizeof *order, cmp_bind);
	int rc = 0;
	for (size_t k = 0; k < nbind && !rc; k++) {
		int32_t i = order[k].i;
		s->ix[B_SEQ(&s->b[i])] = i;
		if (k > 0 && order[k - 1].member == order[k].member) {
			rc = chain(s, order[k - 1].i, i);
			continue;
		}
		/* her first bind: after her member binding, or first of all */
		int32_t first = s->ix[order[k].member];
		if (first >= 0)
			rc = chain(s, first, i);
		else
			s->ix[order[k].member] = i;
	}
	free(order);
	return rc;
}

static void new_dist(struct settle *s, int64_t seq, int booked, int64_t store, int64_t recruiter)
{
	if (s->nd == s->capd)
		return; /* cannot happen: the distributors were counted */
	struct dist *d = &s->d[s->nd];
	memset(d, 0, sizeof *d);
	d->seq = seq;
	d->booked = booked;
	d->term = d->term_seq = INT64_MAX;
	d->store = store;
	d->store_at = INT64_MIN;
	d->recruiter = recruiter ? dist_of(s, recruiter) : -1;
	d->ex = -1;
	d->held = -1;
	d->grade = s->pl->initial_grade;
	s->ix[seq] = DIST_IX(s->nd);
	s->nd++;
}

#define NET_FORMAT 1

struct netcache {
	struct blob_src *src;       /* NULL without a cache */
	struct blob_in *in;
	int period;                 /* the period it was written for */
	int64_t last;               /* the last seq it covers; 0 without a cache */
	size_t nmember, nbind;
};

/* A new cache is written when more than 1/CACHE_STALE of the bindings come
 * from the log. */
#define CACHE_STALE 8

static int cache_damaged(struct settle *s, const struct blob_in *in)
{
	if (in && blob_in_failed(in))
		return blob_in_failed(in); /* the engine's message */
	return st_fail(s->st, REFERRAL_EIO, "storage: the network cache is damaged");
}

static int open_cache(struct settle *s, struct netcache *c)
{
	memset(c, 0, sizeof *c);
	if (s->from_log)
		return 0;
	int found = ENG(s->st, cache_find, s->period, s->limit, &c->period, &c->last);
	if (found <= 0)
		return -found;
	struct blob_src *src = NULL;
	found = ENG(s->st, blob_open, BLOB_NETWORK, c->period, &src);
	if (found < 0)
		return -found;
	if (!found)
		return cache_damaged(s, NULL);
	if (!(c->in = malloc(sizeof *c->in))) {
		src->close(src);
		return fail_nomem(s);
	}
	c->src = src;
	blob_in_init(c->in, src);
	unsigned __int128 format, nm, nb;
	if (blob_in_varint(c->in, &format) || format != NET_FORMAT || blob_in_varint(c->in, &nm) ||
	    blob_in_varint(c->in, &nb) || nm + nb > (unsigned __int128)c->last)
		return cache_damaged(s, c->in);
	c->nmember = (size_t)nm;
	c->nbind = (size_t)nb;
	return 0;
}

static void close_cache(struct netcache *c)
{
	if (c->src)
		c->src->close(c->src);
	free(c->in);
	c->in = NULL;
	c->src = NULL;
}

/* Decodes n bindings of the cache (binds when `binds`). */
static int decode_cache(struct settle *s, struct netcache *c, size_t n, int binds)
{
	int64_t seq = 0, at = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned __int128 dseq, back = 0, dat, di, months;
		if (blob_in_varint(c->in, &dseq) || (binds && blob_in_varint(c->in, &back)) ||
		    blob_in_varint(c->in, &dat) || blob_in_varint(c->in, &di) ||
		    blob_in_varint(c->in, &months) || dseq == 0 ||
		    dseq > (unsigned __int128)c->last || back >= (unsigned __int128)c->last ||
		    di > INT32_MAX || months > INT32_MAX)
			return cache_damaged(s, c->in);
		seq += (int64_t)dseq;
		at += (int64_t)unzigzag(dat);
		if (seq > c->last || add_binding(s, seq, seq - (int64_t)back, (int64_t)di, at,
						 (int64_t)months))
			return cache_damaged(s, NULL);
	}
	if (binds && c->in && !blob_in_done(c->in))
		return cache_damaged(s, NULL); /* more than it said */
	return 0;
}

static void encode_cache(struct settle *s, struct blob_out *w)
{
	blob_out_varint(w, NET_FORMAT);
	blob_out_varint(w, s->nmember);
	blob_out_varint(w, s->nb - s->nmember);
	for (int run = 0; run < 2; run++) {
		int64_t seq = 0, at = 0;
		for (size_t i = run ? s->nmember : 0; i < (run ? s->nb : s->nmember); i++) {
			const struct binding *b = &s->b[i];
			blob_out_varint(w, (unsigned __int128)(B_SEQ(b) - seq));
			if (run)
				blob_out_varint(w, (unsigned __int128)(B_SEQ(b) - s->bmember[i]));
			blob_out_varint(w, zigzag(b->bound_at - at));
			blob_out_varint(w, (unsigned __int128)b->dist);
			blob_out_varint(w, (unsigned __int128)B_MONTHS(b));
			seq = B_SEQ(b);
			at = b->bound_at;
		}
	}
}

/* Writes the period's blob of `kind` (a network cache with the limit),
 * made by `encode`, in two passes: one counts its bytes, one writes them. */
int write_blob(struct settle *s, enum blob_kind kind,
	       void (*encode)(struct settle *, struct blob_out *))
{
	struct blob_out *w = malloc(sizeof *w);
	struct blob_dst *dst = NULL;
	int rc;
	if (!w)
		return fail_nomem(s);
	blob_out_count(w);
	encode(s, w);
	if (!(rc = w->err) &&
	    !(rc = s->out->blob(s->out->ctx, kind, s->period, s->limit, w->len, &dst)) && dst) {
		blob_out_start(w, dst);
		encode(s, w);
		rc = blob_out_finish(w);
	}
	if (dst)
		dst->close(dst);
	free(w);
	return rc;
}

/* Writes a new network cache when the one used is stale (or there was
 * none); in `main`, deletes those older than the one used. A re-derivation
 * (from the log) always writes one, for verify to compare. */
int update_cache(struct settle *s)
{
	size_t from_log = s->nb - s->cached;
	int rc = 0;
	if ((!s->cache_period || from_log > s->cached / CACHE_STALE) &&
	    (rc = write_blob(s, BLOB_NETWORK, encode_cache)))
		return rc;
	if (!s->out->into_store)
		return 0;
	return ENG(s->st, cache_prune, s->cache_period ? s->cache_period : s->period);
}

/* Counts the distributors, and the bindings after the cache, up to the
 * limit, so that their arrays are allocated once (they are large: growing
 * them by copying cost more than counting). */
static int count_network(struct settle *s, const struct netcache *c)
{
	size_t bindings = 0;
	int rc = ENG(s->st, network_count, c->last, s->limit, &s->capd, &bindings);
	if (rc)
		return rc;
	s->capb = bindings + c->nmember + c->nbind;
	if (s->capd > INT32_MAX / 2 || s->capb > INT32_MAX / 2)
		return st_fail(s->st, REFERRAL_EIO, "settlement: more than 2^30 distributors or bindings");
	if (s->limit > B_SEQ_MAX)
		return st_fail(s->st, REFERRAL_EIO, "settlement: more than 2^48 events in the log");
	s->ix = huge_alloc(ix_bytes(s));
	s->d = huge_alloc(s->capd * sizeof *s->d);
	s->b = huge_alloc(s->capb * sizeof *s->b);
	s->bmember = malloc((s->capb ? s->capb : 1) * sizeof *s->bmember); /* binds' part only touched */
	if (!s->ix || !s->d || !s->b || !s->bmember)
		return fail_nomem(s);
	memset(s->ix, 0xFF, ix_bytes(s)); /* all -1 */
	return 0;
}

/* One network event read from the log, applied. */
static int network_row(void *ctx, const struct ev_row *r)
{
	struct settle *s = ctx;
	int32_t di;
	switch (r->type) {
	case REFERRAL_EV_DISTRIBUTOR:
		new_dist(s, r->seq, r->booked, r->ref1, r->ref2);
		break;
	case REFERRAL_EV_STORE_CHANGE:
		di = dist_of(s, r->ref1);
		/* the last change before the period ends, by (at, seq) */
		if (di >= 0 && r->at < s->period_end && r->at >= s->d[di].store_at) {
			s->d[di].store = r->ref2;
			s->d[di].store_at = r->at;
		}
		break;
	case REFERRAL_EV_TERMINATE:
		di = dist_of(s, r->ref1);
		if (di >= 0) {
			s->d[di].term = r->at;
			s->d[di].term_seq = r->seq;
		}
		break;
	case REFERRAL_EV_MEMBER:
	case REFERRAL_EV_BIND: {
		int64_t member = r->type == REFERRAL_EV_BIND ? r->ref1 : r->seq;
		if ((r->type == REFERRAL_EV_BIND || r->ref2) &&
		    add_binding(s, r->seq, member, dist_of(s, r->ref2), r->at,
				r->num ? atoll(r->num) : 0))
			return st_fail(s->st, REFERRAL_EIO, "storage: the binding of event %lld is not"
				       " consistent with the log", (long long)r->seq);
		break;
	}
	}
	return 0;
}

/* Reads the network events of one type with seq in (after, limit]. */
static int read_network(struct settle *s, int type, int64_t after)
{
	return ENG(s->st, network_events, type, after, s->limit, network_row, s);
}

int load_network(struct settle *s)
{
	struct netcache c;
	size_t nmember = 0;
	int rc;

	if ((rc = open_cache(s, &c))) {
		close_cache(&c);
		return rc;
	}
	/* one type at a time, distributors first, then what refers to them */
	if (!(rc = count_network(s, &c)) && !(rc = read_network(s, REFERRAL_EV_DISTRIBUTOR, 0)) &&
	    !(rc = read_network(s, REFERRAL_EV_STORE_CHANGE, 0)) &&
	    !(rc = read_network(s, REFERRAL_EV_TERMINATE, 0)) &&
	    !(rc = decode_cache(s, &c, c.nmember, 0)) &&
	    !(rc = read_network(s, REFERRAL_EV_MEMBER, c.last))) {
		nmember = s->nb;
		if (!(rc = decode_cache(s, &c, c.nbind, 1)))
			rc = read_network(s, REFERRAL_EV_BIND, c.last);
	}
	if (c.in) {
		s->cache_period = c.period;
		s->cached = c.nmember + c.nbind;
	}
	close_cache(&c);
	if (rc)
		return rc;
	for (size_t i = 0; i < s->nd; i++) {
		struct dist *d = &s->d[i];
		d->rterm = d->recruiter >= 0 ? s->d[d->recruiter].term : INT64_MAX;
		d->rterm_seq = d->recruiter >= 0 ? s->d[d->recruiter].term_seq : INT64_MAX;
	}
	s->nmember = nmember;
	return index_bindings(s, nmember);
}

