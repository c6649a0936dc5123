/*
 * settle.c — one settlement pass over a period (SPEC §6, §7).
 *
 * The pass loads the network as of the event limit: distributors, their
 * recruiters, terminations and stores, and every member's bindings, each
 * with the seq of the event that made it. It then streams the orders and
 * refunds booked in the period in (at, seq) order.
 *
 * How the money is summed. Within a period every order of a distributor is
 * paid at one rate, rate(grade(D, P)). So instead of multiplying order by
 * order, the pass sums her commissionable amounts in whole fen (exact
 * integers) and multiplies once: rate x sum equals the sum of rate x amount
 * exactly. The same holds for the override: override_rate x rate(D) x the
 * sum of her orders whose recruiter was active. Refunds reverse at the
 * rates of their original order, which may differ; they are few and are
 * summed as exact rationals.
 *
 * Lines are not stored: a line is a pure function of the log, the frozen
 * grades and the bounty state carried between periods. In LINES mode the
 * pass writes every line to a table and sums the lines' own values
 * distributor by distributor; verify uses this to check that the lines
 * and the statements agree exactly.
 *
 * A refund of an order settled in an earlier period P' re-derives that
 * order's attribution as it was when P' closed: only the bindings and
 * terminations ingested by then (seq <= the close's last seq), the grade
 * frozen for P', and the plan for P'.
 *
 * State carried across periods: the bounty state of every binding (its
 * net commissionable spend and the bounty that stands), kept as one
 * compact snapshot per closed period.
 *
 * In memory. Seqs are dense (the log's row ids), so one int32 array
 * indexed by seq finds everything the stream names: a distributor's
 * record, a member's first binding, a binding by its seq. That costs 4
 * bytes per event in the log up to the limit and answers in one memory
 * access, where a hash map took two and a rehash on growth. Bindings sit
 * in one array, each with its bounty state, a member's chained by
 * bound_at from her first, so that attributing an order and updating its
 * binding touch one or two cache lines. No GMP value lives per
 * distributor unless she needs one (a refund of an earlier period's
 * order, lines): the sums are integers of fen, made exact once at the
 * statement, where the opening carry is read alongside.
 *
 * Reads of earlier periods go to `main`; writes go to the `out` prefix.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "blob.h"
#include "decimal.h"
#include "fen.h"
#include "hugemem.h"
#include "stream.h"
#include "idmap.h"
#include "timeutil.h"



/* The exact values a distributor needs only sometimes. */
struct exact {
	mpq_t commission;        /* reversals at rates other than hers in P */
	mpq_t override;          /* override reversals at such rates */
	mpq_t line_sum[3];       /* LINES mode: commission, bounty, override lines */
};

struct dist {
	/* what the stream touches for every order, first (two cache lines) */
	fen_t com_fen;           /* her commissionable amounts in P, net of refunds of P's orders */
	fen_t ov_fen;            /* those of them whose recruiter was active */
	fen_t sales_fen;         /* commission bases minus reversal bases */
	fen_t bounty_fen;        /* bounties earned minus reversed in P */
	int64_t term, term_seq;  /* termination instant and its seq; INT64_MAX if none */
	int64_t rterm, rterm_seq; /* her recruiter's, so that the stream need not look */
	long members;            /* bounties earned minus reversed, counted */
	int32_t recruiter;       /* index, or -1 */
	int grade;               /* grade(D, P) */
	/* the rest */
	int64_t seq;
	int64_t store;           /* store as of the end of the period */
	int64_t store_at;        /* instant of the last store change applied */
	fen_t ov_by_grade[PLAN_GRADES]; /* her recruits' ov_fen, by the recruit's grade */
	long shares;             /* her share events booked in P */
	int32_t ex;              /* index into the exact values, or -1 */
	int booked;
};

/* A binding and its bounty state (SPEC §6.4), carried across periods. 32
 * bytes: two million of them are loaded at every settlement, and on the
 * machines this runs on, memory touched for the first time costs more
 * than the work done in it. Hence the packing: the seq (below 2^48), the
 * window in months (at most 1,200 by the plan) and whether the member has
 * a later binding share one word, and the few members who have one find
 * it in settle.next. A standing bounty is at most 21,474,836.47 yuan. */
struct binding {
	uint64_t key;            /* seq << 16 | B_HAS_NEXT | months */
	int64_t bound_at;
	int64_t net;             /* net commissionable spend in fen, or NET_WIDE */
	int32_t bounty;          /* the standing bounty in fen, or -1 when none stands */
	int32_t dist;
};
_Static_assert(sizeof(struct binding) == 32, "a binding is 32 bytes");

#define B_SEQ(b) ((int64_t)((b)->key >> 16))
#define B_MONTHS(b) ((int)((b)->key & 0x7FFF))
#define B_HAS_NEXT 0x8000u
#define B_SEQ_MAX (((int64_t)1 << 48) - 1)

/* A net spend beyond 64 bits (an order may have 30 digits) lives in
 * settle.wide instead. */
#define NET_WIDE INT64_MIN

/* How an order was attributed. */
struct attr {
	int32_t dist, recruiter;  /* indexes; recruiter -1 when no override */
	int32_t binding;          /* index */
	int64_t member;
	int grade;
	const plan *pl;           /* the plan of the order's booking period */
	const mpq_t *rate;
};

/* Frozen grades of one earlier period, for refunds of its orders. */
struct old_grades {
	int period;
	struct idmap map; /* dist seq -> next_grade of the period before */
};

/* What ix[seq] holds: a binding's index (>= 0; for a member's seq, her
 * first binding), a distributor's (DIST_IX), or nothing (-1). */
#define DIST_IX(i) (-2 - (int32_t)(i))
#define IX_DIST(v) (-2 - (v))

struct settle {
	referral_store *st;
	int period, mode, from_log;
	int64_t limit, period_end;
	const plan *pl;
	const char *out;
	int32_t *ix;             /* by seq, 0..limit */
	struct dist *d;
	size_t nd, capd;
	struct binding *b;
	size_t nb, capb, nmember; /* the first nmember are made by member events */
	int64_t *bmember;         /* by binding index: the member of a bind */
	struct idmap wide;        /* binding index + 1 -> index into wide_net */
	struct idmap next;        /* binding index + 1 -> the member's next binding */
	fen_t *wide_net;
	size_t nwide, capwide;
	struct exact *ex;
	size_t nex, capex;
	struct old_grades *og;
	size_t nog;
	int cache_period;        /* the network cache used, or 0 */
	size_t cached;           /* the bindings it held */
	int64_t *close_seq;      /* last seq of each closed period, by period - first */
	int first_closed, nclosed;
	sqlite3_stmt *ins_line;
	char value[160], base[160], rate[160], amount[160];
	mpq_t x, y;
};

static int fail_nomem(struct settle *s) { return st_nomem(s->st); }

static int fail_overflow(struct settle *s)
{
	return st_fail(s->st, REFERRAL_EIO, "settlement: amounts too large to sum exactly");
}

/* The size of the index by seq (hugemem.h: the big arrays are mapped, zeroed). */
static size_t ix_bytes(const struct settle *s) { return ((size_t)s->limit + 1) * sizeof *s->ix; }

/* The distributor of seq, or -1. */
static int32_t dist_of(const struct settle *s, int64_t seq)
{
	if (seq <= 0 || seq > s->limit)
		return -1;
	int32_t v = s->ix[seq];
	return v <= -2 ? IX_DIST(v) : -1;
}

/* The exact values of distributor di, made on first use. */
static struct exact *exact_of(struct settle *s, int32_t di)
{
	struct dist *d = &s->d[di];
	if (d->ex >= 0)
		return &s->ex[d->ex];
	if (s->nex == s->capex) {
		size_t cap = s->capex ? s->capex * 2 : 256;
		struct exact *n = realloc(s->ex, cap * sizeof *n);
		if (!n)
			return NULL;
		s->ex = n;
		s->capex = cap;
	}
	struct exact *e = &s->ex[s->nex];
	mpq_inits(e->commission, e->override, e->line_sum[0], e->line_sum[1],
		  e->line_sum[2], NULL);
	d->ex = (int32_t)s->nex++;
	return e;
}

/* The net spend of a binding. */
static fen_t net_of(const struct settle *s, const struct binding *b)
{
	return b->net != NET_WIDE ? b->net : s->wide_net[idmap_get(&s->wide, b - s->b + 1)];
}

static int net_set(struct settle *s, struct binding *b, fen_t v)
{
	if (b->net != NET_WIDE && v > INT64_MIN && v <= INT64_MAX) {
		b->net = (int64_t)v;
		return 0;
	}
	int32_t i = b->net == NET_WIDE ? idmap_get(&s->wide, b - s->b + 1) : -1;
	if (i < 0) {
		if (s->nwide == s->capwide) {
			size_t cap = s->capwide ? s->capwide * 2 : 16;
			fen_t *n = realloc(s->wide_net, cap * sizeof *n);
			if (!n)
				return fail_nomem(s);
			s->wide_net = n;
			s->capwide = cap;
		}
		if (idmap_put(&s->wide, b - s->b + 1, (int32_t)s->nwide))
			return fail_nomem(s);
		i = (int32_t)s->nwide++;
		b->net = NET_WIDE;
	}
	s->wide_net[i] = v;
	return 0;
}

/* ---- loading the network -------------------------------------------------- */

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

/* The binding after binding i of its member, or -1. */
static int32_t next_of(const struct settle *s, int32_t i)
{
	return s->b[i].key & B_HAS_NEXT ? idmap_get(&s->next, (int64_t)i + 1) : -1;
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
	d->grade = s->pl->initial_grade;
	s->ix[seq] = DIST_IX(s->nd);
	s->nd++;
}

/*
 * The network cache. Rebuilding two million bindings from the log at every
 * settlement costs more than the month of orders, so each settlement into
 * `main` also stores the bindings it loaded as one blob (table networks),
 * and the next settlement starts from the latest blob of an earlier
 * period that covers no more of the log than it may see, and reads from
 * the log only the network events after it. A new blob is written only
 * when the bindings read from the log outnumber an eighth of those in the
 * blob used (or none was used): a month that adds a few members costs a
 * short read of the log, not a rewrite of the whole network. The blob used
 * is kept, so that a close after a draft starts from it too; older ones
 * serve nothing and are deleted. Distributors, store changes and
 * terminations are few and always read from the log, so a distributor's
 * index (her rank by seq) means the same in every pass. Verify never uses
 * the cache: it rebuilds the network from the log and checks the stored
 * blob against the one it derives.
 *
 * The blob: a format byte (1), the number of member bindings and of binds,
 * then the member bindings and then the binds, each run in seq order, as
 * varints: the seq's increase, (binds only) seq minus the member's seq,
 * the instant's change (zigzag), the distributor's index, the months.
 */
#define NET_FORMAT 1

struct netcache {
	struct blob_in *in;         /* NULL without a cache */
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
		return st_fail(s->st, REFERRAL_EIO, "storage: reading the network cache failed");
	return st_fail(s->st, REFERRAL_EIO, "storage: the network cache is damaged");
}

/* Whether `sql` (?1 the period, ?2 if any the limit) finds a row: 1 with
 * its first columns in cols[] (as many as it has, at most `ncols`), 0 if
 * not, or a negative status. */
static int has_row(struct settle *s, const char *sql, int period, int64_t limit, int64_t *cols,
		   int ncols)
{
	sqlite3_stmt *q;
	int rc = st_prepare(s->st, sql, &q);
	if (rc)
		return -rc;
	sqlite3_bind_int(q, 1, period);
	if (sqlite3_bind_parameter_count(q) >= 2)
		sqlite3_bind_int64(q, 2, limit);
	int step = sqlite3_step(q);
	for (int k = 0; step == SQLITE_ROW && k < ncols && k < sqlite3_column_count(q); k++)
		cols[k] = sqlite3_column_int64(q, k);
	sqlite3_finalize(q);
	if (step == SQLITE_ROW)
		return 1;
	return step == SQLITE_DONE ? 0 : -st_sqlfail(s->st, "reading a stored blob");
}

static int open_cache(struct settle *s, struct netcache *c)
{
	memset(c, 0, sizeof *c);
	if (s->from_log)
		return 0;
	int64_t row[2];
	int found = has_row(s, "SELECT period, last_seq FROM main.networks WHERE period < ?1"
			       " AND last_seq <= ?2 ORDER BY period DESC LIMIT 1",
			    s->period, s->limit, row, 2);
	if (found <= 0)
		return -found;
	c->period = (int)row[0];
	c->last = row[1];
	if (!(c->in = malloc(sizeof *c->in)))
		return fail_nomem(s);
	if (blob_in_open(c->in, s->st->db, "main", "networks", "data", c->period) != SQLITE_OK)
		return st_sqlfail(s->st, "reading the network cache");
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
	if (c->in)
		blob_in_close(c->in);
	free(c->in);
	c->in = NULL;
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

/* Writes the period's row of `out``table` (snapshots, or networks with the
 * limit), its blob made by `encode`, in two passes (blob.h). */
static int write_blob(struct settle *s, const char *table,
		      void (*encode)(struct settle *, struct blob_out *))
{
	struct strbuf sql = {0}, name = {0};
	sqlite3_stmt *q = NULL;
	int rc, cache = strcmp(table, "networks") == 0;
	const char *dot = strchr(s->out, '.');
	struct blob_out *w = malloc(sizeof *w);

	if (!w || !dot || sb_append(&name, s->out, (size_t)(dot - s->out)) ||
	    sb_printf(&sql, "INSERT INTO %s%s VALUES(?1, %szeroblob(?3))", s->out, table,
		      cache ? "?2, " : "")) {
		rc = fail_nomem(s);
		goto done;
	}
	blob_out_count(w);
	encode(s, w);
	if (w->len > INT32_MAX) {
		rc = st_fail(s->st, REFERRAL_EIO, "storage: the %s blob would exceed 2 GB", table);
		goto done;
	}
	if ((rc = st_prepare(s->st, sb_str(&sql), &q)))
		goto done;
	sqlite3_bind_int(q, 1, s->period);
	sqlite3_bind_int64(q, 2, s->limit);
	sqlite3_bind_int(q, 3, (int)w->len);
	if (sqlite3_step(q) != SQLITE_DONE) {
		rc = st_sqlfail(s->st, "writing a blob");
		goto done;
	}
	/* the table's name without the prefix's schema: "networks", "v_networks" */
	sb_reset(&sql);
	if (sb_printf(&sql, "%s%s", dot + 1, table)) {
		rc = fail_nomem(s);
		goto done;
	}
	if (blob_out_open(w, s->st->db, sb_str(&name), sb_str(&sql), "data", s->period) ==
	    SQLITE_OK) {
		encode(s, w);
		if (blob_out_finish(w) == SQLITE_OK)
			goto done;
	}
	rc = st_sqlfail(s->st, "writing a blob");
done:
	sqlite3_finalize(q);
	sb_free(&sql);
	sb_free(&name);
	free(w);
	return rc;
}

/* Writes a new network cache when the one used is stale (or there was
 * none); in `main`, deletes those older than the one used. A re-derivation
 * (from the log) always writes one, for verify to compare. */
static int update_cache(struct settle *s)
{
	size_t from_log = s->nb - s->cached;
	int rc = 0;
	if ((!s->cache_period || from_log > s->cached / CACHE_STALE) &&
	    (rc = write_blob(s, "networks", encode_cache)))
		return rc;
	if (strcmp(s->out, "main.") != 0)
		return 0;
	sqlite3_stmt *q;
	if ((rc = st_prepare(s->st, "DELETE FROM main.networks WHERE period < ?1", &q)))
		return rc;
	sqlite3_bind_int(q, 1, s->cache_period ? s->cache_period : s->period);
	if (sqlite3_step(q) != SQLITE_DONE)
		rc = st_sqlfail(s->st, "pruning the network cache");
	sqlite3_finalize(q);
	return rc;
}

/* Counts the distributors, and the bindings after the cache, up to the
 * limit, so that their arrays are allocated once (they are large: growing
 * them by copying cost more than counting). */
static int count_network(struct settle *s, const struct netcache *c)
{
	sqlite3_stmt *q;
	/* each count is a range of the partial index events_network (type,
	 * seq): one type each, so that the range of seqs is used too */
	int rc = st_prepare(s->st, "SELECT (SELECT count(*) FROM events WHERE type BETWEEN 2 AND 7"
				   " AND type = 3 AND seq <= ?2), (SELECT count(*) FROM events"
				   " WHERE type BETWEEN 2 AND 7 AND type = 6 AND seq > ?1 AND seq <= ?2)"
				   " + (SELECT count(*) FROM events WHERE type BETWEEN 2 AND 7"
				   " AND type = 7 AND seq > ?1 AND seq <= ?2)",
			    &q);
	if (rc)
		return rc;
	sqlite3_bind_int64(q, 1, c->last);
	sqlite3_bind_int64(q, 2, s->limit);
	if (sqlite3_step(q) == SQLITE_ROW) {
		s->capd = (size_t)sqlite3_column_int64(q, 0);
		s->capb = (size_t)sqlite3_column_int64(q, 1) + c->nmember + c->nbind;
	} else {
		rc = st_sqlfail(s->st, "counting the network");
	}
	sqlite3_finalize(q);
	if (rc)
		return rc;
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

/* Reads the network events of one type with seq in (after, limit]. */
static int read_network(struct settle *s, sqlite3_stmt *q, int type, int64_t after)
{
	int step;
	int64_t bad = 0;
	sqlite3_bind_int(q, 1, type);
	sqlite3_bind_int64(q, 2, after);
	sqlite3_bind_int64(q, 3, s->limit);
	while (!bad && (step = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0), at = sqlite3_column_int64(q, 1);
		int64_t ref1 = sqlite3_column_int64(q, 3), ref2 = sqlite3_column_int64(q, 4);
		int32_t di;
		switch (type) {
		case REFERRAL_EV_DISTRIBUTOR:
			new_dist(s, seq, sqlite3_column_int(q, 2), ref1, ref2);
			break;
		case REFERRAL_EV_STORE_CHANGE:
			di = dist_of(s, ref1);
			/* the last change before the period ends, by (at, seq) */
			if (di >= 0 && at < s->period_end && at >= s->d[di].store_at) {
				s->d[di].store = ref2;
				s->d[di].store_at = at;
			}
			break;
		case REFERRAL_EV_TERMINATE:
			di = dist_of(s, ref1);
			if (di >= 0) {
				s->d[di].term = at;
				s->d[di].term_seq = seq;
			}
			break;
		case REFERRAL_EV_MEMBER:
			if (ref2 && add_binding(s, seq, seq, dist_of(s, ref2), at,
						sqlite3_column_int64(q, 5)))
				bad = seq;
			break;
		case REFERRAL_EV_BIND:
			if (add_binding(s, seq, ref1, dist_of(s, ref2), at, sqlite3_column_int64(q, 5)))
				bad = seq;
			break;
		}
	}
	sqlite3_reset(q);
	if (bad)
		return st_fail(s->st, REFERRAL_EIO, "storage: the binding of event %lld is not"
			       " consistent with the log", (long long)bad);
	return step == SQLITE_DONE ? 0 : st_sqlfail(s->st, "reading the network");
}

static int load_network(struct settle *s)
{
	sqlite3_stmt *q = NULL;
	struct netcache c;
	size_t nmember = 0;
	int rc;

	if ((rc = open_cache(s, &c))) {
		close_cache(&c);
		return rc;
	}
	/* one type at a time, distributors first, then what refers to them;
	 * each a range of the partial index events_network, whose condition is
	 * repeated so that the planner sees it */
	if (!(rc = count_network(s, &c)) &&
	    !(rc = st_prepare(s->st, "SELECT seq, at, booked, ref1, ref2, num FROM events"
				     " WHERE type BETWEEN 2 AND 7 AND type = ?1 AND seq > ?2"
				     " AND seq <= ?3 ORDER BY seq", &q)) &&
	    !(rc = read_network(s, q, REFERRAL_EV_DISTRIBUTOR, 0)) &&
	    !(rc = read_network(s, q, REFERRAL_EV_STORE_CHANGE, 0)) &&
	    !(rc = read_network(s, q, REFERRAL_EV_TERMINATE, 0)) &&
	    !(rc = decode_cache(s, &c, c.nmember, 0)) &&
	    !(rc = read_network(s, q, REFERRAL_EV_MEMBER, c.last))) {
		nmember = s->nb;
		if (!(rc = decode_cache(s, &c, c.nbind, 1)))
			rc = read_network(s, q, REFERRAL_EV_BIND, c.last);
	}
	sqlite3_finalize(q);
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

/* grade(D, P) from the close of P-1, and the close limits of earlier
 * periods. */
static int load_previous(struct settle *s)
{
	referral_store *st = s->st;
	sqlite3_stmt *q;
	int rc, step;

	if ((rc = st_prepare(st, "SELECT dist, next_grade FROM main.grades WHERE period = ?1", &q)))
		return rc;
	sqlite3_bind_int(q, 1, s->period - 1);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int32_t di = dist_of(s, sqlite3_column_int64(q, 0));
		if (di >= 0)
			s->d[di].grade = sqlite3_column_int(q, 1);
	}
	sqlite3_finalize(q);
	if (step != SQLITE_DONE)
		return st_sqlfail(st, "reading grades");

	if ((rc = st_prepare(st, "SELECT period, last_seq FROM closes WHERE period < ?1"
				 " ORDER BY period", &q)))
		return rc;
	sqlite3_bind_int(q, 1, s->period);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int p = sqlite3_column_int(q, 0);
		if (!s->nclosed)
			s->first_closed = p;
		int64_t *n = realloc(s->close_seq, (size_t)(p - s->first_closed + 1) * sizeof *n);
		if (!n) {
			sqlite3_finalize(q);
			return fail_nomem(s);
		}
		s->close_seq = n;
		while (s->nclosed < p - s->first_closed)
			s->close_seq[s->nclosed++] = 0;
		s->close_seq[s->nclosed++] = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	if (step != SQLITE_DONE)
		return st_sqlfail(st, "reading closes");
	return 0;
}

/* ---- the bounty state snapshot ---------------------------------------------- */


/* The binding whose seq is `seq`, or -1. */
static int32_t binding_of(const struct settle *s, int64_t seq)
{
	if (seq <= 0 || seq > s->limit)
		return -1;
	int32_t v = s->ix[seq];
	return v >= 0 && B_SEQ(&s->b[v]) == seq ? v : -1;
}

/* The snapshot: for every binding with a spend or a standing bounty, in
 * ascending binding seq: the seq's increase, the net spend in fen
 * (zigzag), and 0 or 1 + the standing bounty in fen; all as varints. */
static int load_snapshot(struct settle *s)
{
	int found = has_row(s, "SELECT 1 FROM main.snapshots WHERE period = ?1", s->period - 1, 0,
			    NULL, 0);
	if (found <= 0)
		return -found;
	struct blob_in *in = malloc(sizeof *in);
	if (!in)
		return fail_nomem(s);
	int rc = 0;
	if (blob_in_open(in, s->st->db, "main", "snapshots", "data", s->period - 1) != SQLITE_OK) {
		free(in);
		return st_sqlfail(s->st, "reading the bounty snapshot");
	}
	int64_t seq = 0;
	while (!rc && !blob_in_done(in)) {
		unsigned __int128 dseq, net, bounty;
		int32_t bi = -1;
		if (!blob_in_varint(in, &dseq) && !blob_in_varint(in, &net) &&
		    !blob_in_varint(in, &bounty) && dseq <= (unsigned __int128)s->limit)
			bi = binding_of(s, seq += (int64_t)dseq);
		if (bi < 0)
			rc = st_fail(s->st, REFERRAL_EIO, "storage: %s the bounty snapshot",
				     blob_in_failed(in) ? "cannot read" : "a damaged entry in");
		else if (bounty > (unsigned __int128)INT32_MAX + 1)
			rc = fail_overflow(s);
		else if (!(rc = net_set(s, &s->b[bi], unzigzag(net))))
			s->b[bi].bounty = (int32_t)((int64_t)bounty - 1); /* 0 (none) -> -1 */
	}
	blob_in_close(in);
	free(in);
	return rc;
}

static void encode_snapshot(struct settle *s, struct blob_out *w)
{
	int64_t prev = 0;
	/* in ascending binding seq: the index by seq gives that order */
	for (int64_t seq = 1; seq <= s->limit; seq++) {
		int32_t bi = binding_of(s, seq);
		if (bi < 0)
			continue;
		const struct binding *b = &s->b[bi];
		fen_t net = net_of(s, b);
		if (net == 0 && b->bounty < 0)
			continue;
		blob_out_varint(w, (unsigned __int128)(seq - prev));
		blob_out_varint(w, zigzag(net));
		blob_out_varint(w, (unsigned __int128)((int64_t)b->bounty + 1)); /* none: 0 */
		prev = seq;
	}
}

/* ---- attribution ------------------------------------------------------------- */

/* The grade of distributor `di` in an earlier period p: the next grade
 * frozen when p-1 closed, or the initial grade of the plan for p. */
static int old_grade(struct settle *s, int32_t di, int p, int *grade)
{
	struct old_grades *g = NULL;
	*grade = 1;
	for (size_t k = 0; k < s->nog; k++)
		if (s->og[k].period == p)
			g = &s->og[k];
	if (!g) {
		struct old_grades *n = realloc(s->og, (s->nog + 1) * sizeof *n);
		if (!n)
			return fail_nomem(s);
		s->og = n;
		g = &s->og[s->nog++];
		memset(g, 0, sizeof *g);
		g->period = p;
		sqlite3_stmt *q;
		int rc = st_prepare(s->st, "SELECT dist, next_grade FROM main.grades WHERE period = ?1",
				    &q), step;
		if (rc)
			return rc;
		sqlite3_bind_int(q, 1, p - 1);
		while ((step = sqlite3_step(q)) == SQLITE_ROW)
			if (idmap_put(&g->map, sqlite3_column_int64(q, 0), sqlite3_column_int(q, 1))) {
				sqlite3_finalize(q);
				return fail_nomem(s);
			}
		sqlite3_finalize(q);
		if (step != SQLITE_DONE)
			return st_sqlfail(s->st, "reading grades");
	}
	int32_t v = idmap_get(&g->map, s->d[di].seq);
	*grade = v >= 0 ? v : st_plan_for(s->st, p)->initial_grade;
	return 0;
}

/*
 * Attributes an order by `member` at `t` booked in period p (SPEC §6.1-2,
 * 5) as the settlement of p saw it: with the events ingested up to `limit`.
 * Returns 1 if commissionable (*a filled in), 0 if not, or a negative
 * status.
 */
static int attribute(struct settle *s, int64_t member, int64_t t, int p, int64_t limit,
		     struct attr *a)
{
	int32_t first = member > 0 && member <= s->limit ? s->ix[member] : -1;
	if (first < 0)
		return 0; /* never bound */
	/* her latest binding made by t that the settlement of p knew of; her
	 * bindings are few, usually one */
	const struct binding *b = NULL;
	for (int32_t i = first; i >= 0 && s->b[i].bound_at <= t; i = next_of(s, i))
		if (B_SEQ(&s->b[i]) <= limit)
			b = &s->b[i];
	if (!b)
		return 0;
	const struct dist *d = &s->d[b->dist];
	int64_t term = d->term_seq <= limit ? d->term : INT64_MAX;
	if (t >= binding_end(s->st, b->bound_at, B_MONTHS(b), term))
		return 0;

	a->dist = b->dist;
	a->binding = (int32_t)(b - s->b);
	a->member = member;
	if (p == s->period) {
		a->grade = d->grade;
		a->pl = s->pl;
	} else {
		int rc = old_grade(s, b->dist, p, &a->grade);
		if (rc)
			return -rc;
		a->pl = st_plan_for(s->st, p);
	}
	a->rate = (const mpq_t *)&a->pl->grades[a->grade - 1].rate;
	int32_t r = d->recruiter;
	a->recruiter = r >= 0 && !(d->rterm_seq <= limit && d->rterm <= t) ? r : -1;
	return 1;
}

/* ---- lines (LINES mode) ------------------------------------------------------ */

static int put_line(struct settle *s, int32_t dist, int type, int64_t event, int64_t ord,
		    const struct attr *a, int32_t source, const char *base, const char *rate,
		    const mpq_t value)
{
	static const int sum_of[7] = {0, 1, 1, 0, 0, 2, 2};
	sqlite3_stmt *q = s->ins_line;
	struct exact *e = exact_of(s, dist);
	if (!e)
		return fail_nomem(s);
	mpq_add(e->line_sum[sum_of[type]], e->line_sum[sum_of[type]], value);
	dec_format(s->value, sizeof s->value, value);
	sqlite3_bind_int(q, 1, s->period);
	sqlite3_bind_int64(q, 2, s->d[dist].seq);
	sqlite3_bind_int(q, 3, type);
	sqlite3_bind_int64(q, 4, event);
	sqlite3_bind_int64(q, 5, ord);
	sqlite3_bind_int64(q, 6, a->member);
	if (source >= 0)
		sqlite3_bind_int64(q, 7, s->d[source].seq);
	else
		sqlite3_bind_null(q, 7);
	sqlite3_bind_int64(q, 8, B_SEQ(&s->b[a->binding]));
	sqlite3_bind_text(q, 9, base, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 10, rate, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 11, s->value, -1, SQLITE_STATIC);
	int step = sqlite3_step(q);
	sqlite3_reset(q);
	if (step != SQLITE_DONE)
		return st_sqlfail(s->st, "writing a line");
	return 0;
}

/* The bounty line or its reversal, in fen. */
static int put_bounty_line(struct settle *s, int type, int64_t event, int64_t ord,
			   const struct attr *a, int32_t dist, fen_t value)
{
	fen_to_mpq(s->y, value);
	return put_line(s, dist, type, event, ord, a, -1, NULL, NULL, s->y);
}

/* The commission line of an order, or its reversal, of the commission in
 * s->x (positive), and the override line or its reversal when a->recruiter
 * gets one: its base is that commission. */
static int put_commission_lines(struct settle *s, int type, int64_t seq, int64_t ord,
				const struct attr *a, fen_t amount)
{
	int rc, sign = type == LINE_COMMISSION ? 1 : -1;
	fen_to_mpq(s->y, amount);
	dec_format(s->amount, sizeof s->amount, s->y); /* as the event stored it: canonical */
	dec_format(s->rate, sizeof s->rate, *a->rate);
	if (sign < 0)
		mpq_neg(s->y, s->x);
	if ((rc = put_line(s, a->dist, type, seq, ord, a, -1, s->amount, s->rate,
			   sign < 0 ? s->y : s->x)))
		return rc;
	if (a->recruiter < 0)
		return 0;
	mpq_mul(s->y, s->x, a->pl->override_rate);
	if (sign < 0)
		mpq_neg(s->y, s->y);
	dec_format(s->base, sizeof s->base, s->x);
	dec_format(s->rate, sizeof s->rate, a->pl->override_rate);
	return put_line(s, a->recruiter, type + 2, seq, ord, a, a->dist, s->base, s->rate, s->y);
}

/* ---- orders and refunds ------------------------------------------------------- */

static int settle_order(struct settle *s, int64_t seq, int64_t t, int64_t member, fen_t fen)
{
	struct attr a;
	int rc = attribute(s, member, t, s->period, s->limit, &a);
	if (rc <= 0)
		return -rc; /* unattributed: nothing for anyone */
	struct dist *d = &s->d[a.dist];
	if (fen_add(&d->com_fen, fen) || fen_add(&d->sales_fen, fen) ||
	    (a.recruiter >= 0 && fen_add(&d->ov_fen, fen)))
		return fail_overflow(s);

	struct binding *b = &s->b[a.binding];
	fen_t before = net_of(s, b), after = before;
	if (fen_add(&after, fen))
		return fail_overflow(s);
	if ((rc = net_set(s, b, after)))
		return rc;
	int earned = before == 0 && after > 0;
	if (earned) {
		fen_t bounty;
		if (fen_of(a.pl->grades[a.grade - 1].bounty, &bounty) || bounty > INT32_MAX ||
		    fen_add(&d->bounty_fen, bounty))
			return fail_overflow(s);
		b->bounty = (int32_t)bounty;
		d->members++;
	}

	if (s->mode == SETTLE_LINES) {
		fen_to_mpq(s->x, fen);
		mpq_mul(s->x, s->x, *a.rate); /* the commission */
		if ((rc = put_commission_lines(s, LINE_COMMISSION, seq, seq, &a, fen)))
			return rc;
		if (earned && (rc = put_bounty_line(s, LINE_BOUNTY, seq, seq, &a, a.dist, b->bounty)))
			return rc;
	}
	return 0;
}

static int settle_refund(struct settle *s, int64_t seq, int64_t ord, fen_t fen)
{
	referral_store *st = s->st;
	sqlite3_stmt *q = st->q[Q_BY_SEQ];
	struct attr a;
	int rc;

	sqlite3_bind_int64(q, 1, ord);
	int step = sqlite3_step(q);
	int64_t member = 0, t = 0;
	int booked = 0;
	if (step == SQLITE_ROW) {
		t = sqlite3_column_int64(q, 2);
		booked = sqlite3_column_int(q, 3);
		member = sqlite3_column_int64(q, 4);
	}
	sqlite3_reset(q);
	if (step != SQLITE_ROW)
		return st_sqlfail(st, "reading a refunded order");

	/* as the order's own settlement attributed it */
	int64_t limit = s->limit;
	if (booked != s->period) {
		int k = booked - s->first_closed;
		limit = k >= 0 && k < s->nclosed ? s->close_seq[k] : 0;
	}
	if ((rc = attribute(s, member, t, booked, limit, &a)) <= 0)
		return -rc; /* an unattributed order: nothing to reverse */

	struct dist *d = &s->d[a.dist];
	if (fen_add(&d->sales_fen, -fen))
		return fail_overflow(s);
	if (booked == s->period) {
		/* an order of this period: reversed at her rate in P, in fen */
		if (fen_add(&d->com_fen, -fen) || (a.recruiter >= 0 && fen_add(&d->ov_fen, -fen)))
			return fail_overflow(s);
	} else {
		/* at the rates of the order's own period */
		struct exact *e = exact_of(s, a.dist), *r;
		if (!e)
			return fail_nomem(s);
		fen_to_mpq(s->x, fen);
		mpq_mul(s->x, s->x, *a.rate);
		mpq_sub(e->commission, e->commission, s->x);
		if (a.recruiter >= 0) {
			if (!(r = exact_of(s, a.recruiter)))
				return fail_nomem(s);
			mpq_mul(s->y, s->x, a.pl->override_rate);
			mpq_sub(r->override, r->override, s->y);
		}
	}
	if (s->mode == SETTLE_LINES) {
		fen_to_mpq(s->x, fen);
		mpq_mul(s->x, s->x, *a.rate); /* the commission reversed */
		if ((rc = put_commission_lines(s, LINE_COMMISSION_REVERSAL, seq, ord, &a, fen)))
			return rc;
	}

	struct binding *b = &s->b[a.binding];
	fen_t net = net_of(s, b);
	if (fen_add(&net, -fen))
		return fail_overflow(s);
	if ((rc = net_set(s, b, net)))
		return rc;
	if (net == 0 && b->bounty >= 0) {
		/* reversed at its original value, to whoever earned it: the
		 * binding's distributor */
		d->members--;
		if (fen_add(&d->bounty_fen, -b->bounty))
			return fail_overflow(s);
		if (s->mode == SETTLE_LINES &&
		    (rc = put_bounty_line(s, LINE_BOUNTY_REVERSAL, seq, ord, &a, a.dist, -b->bounty)))
			return rc;
		b->bounty = -1;
	}
	return 0;
}

/* The period's events are read a batch at a time, and each batch is
 * settled in order after prefetching, wave by wave, what its orders and
 * shares will touch: the index entry of the member (or distributor), the
 * binding, the distributor. The three lookups of one order depend on each
 * other, but those of different orders do not, so the waits for memory
 * overlap instead of adding up. */
static int settle_rows(struct settle *s, const struct stream_row *r, int n)
{
	int rc = 0;
	/* inline here: GCC drops a call to a function that only prefetches */
	for (int i = 0; i < n; i++)
		if (r[i].ref1 > 0 && r[i].ref1 <= s->limit && r[i].type != REFERRAL_EV_REFUND)
			__builtin_prefetch(&s->ix[r[i].ref1]);
	for (int i = 0; i < n; i++) {
		if (r[i].ref1 <= 0 || r[i].ref1 > s->limit || r[i].type == REFERRAL_EV_REFUND)
			continue;
		int32_t v = s->ix[r[i].ref1];
		if (v >= 0) {
			__builtin_prefetch(&s->b[v]);
			__builtin_prefetch((const char *)&s->b[v + 1] - 1); /* it may span two lines */
		}
		else if (v <= -2)
			__builtin_prefetch(&s->d[IX_DIST(v)].members);
	}
	for (int i = 0; i < n; i++) {
		if (r[i].type != REFERRAL_EV_ORDER || r[i].ref1 <= 0 || r[i].ref1 > s->limit)
			continue;
		int32_t v = s->ix[r[i].ref1];
		if (v >= 0) {
			const struct dist *d = &s->d[s->b[v].dist];
			__builtin_prefetch(d);
			__builtin_prefetch((const char *)d + 64);
		}
	}
	for (int i = 0; i < n && !rc; i++) {
		if (r[i].type == REFERRAL_EV_ORDER) {
			rc = settle_order(s, r[i].seq, r[i].at, r[i].ref1, r[i].amount);
		} else if (r[i].type == REFERRAL_EV_REFUND) {
			rc = settle_refund(s, r[i].seq, r[i].ref1, r[i].amount);
		} else if (r[i].by_dist) {
			/* a share: counted for grading when a distributor's */
			int32_t di = dist_of(s, r[i].ref1);
			if (di >= 0)
				s->d[di].shares++;
		}
	}
	return rc;
}

/* Settles the period's events as the stream `in` (opened by the caller
 * before the network was loaded, so that its reader is ahead) yields them. */
static int stream_period(struct settle *s, struct stream *in)
{
	const struct stream_row *rows;
	int rc, n;
	while (!(rc = stream_next(in, &rows, &n)) && n > 0 && !(rc = settle_rows(s, rows, n)))
		;
	return rc;
}

/* ---- statements -------------------------------------------------------------- */

/* Gathers each distributor's override sums on her recruiter, by the
 * recruit's grade: the override is then exact in one product per grade. */
static int gather_overrides(struct settle *s)
{
	for (size_t i = 0; i < s->nd; i++) {
		const struct dist *d = &s->d[i];
		if (d->ov_fen && d->recruiter >= 0 &&
		    fen_add(&s->d[d->recruiter].ov_by_grade[d->grade - 1], d->ov_fen))
			return fail_overflow(s);
	}
	return 0;
}

/* A distributor's exact commission, bounty and override in P; `tmp` is
 * scratch. Reads `s` only: the statements' texts are made by a thread of
 * their own. */
static void totals(const struct settle *s, const struct dist *d, mpq_t com, mpq_t bounty,
		   mpq_t ovr, mpq_t tmp)
{
	const struct exact *e = d->ex >= 0 ? &s->ex[d->ex] : NULL;
	fen_to_mpq(com, d->com_fen);
	mpq_mul(com, com, s->pl->grades[d->grade - 1].rate);
	if (e)
		mpq_add(com, com, e->commission);
	fen_to_mpq(bounty, d->bounty_fen);
	mpq_set_ui(ovr, 0, 1);
	for (int g = 0; g < PLAN_GRADES; g++) {
		if (!d->ov_by_grade[g])
			continue;
		fen_to_mpq(tmp, d->ov_by_grade[g]);
		mpq_mul(tmp, tmp, s->pl->grades[g].rate);
		mpq_add(ovr, ovr, tmp);
	}
	mpq_mul(ovr, ovr, s->pl->override_rate);
	if (e)
		mpq_add(ovr, ovr, e->override);
}

/* LINES mode: the lines of each distributor must add up to her sums. */
static int check_lines(struct settle *s)
{
	mpq_t com, bounty, ovr, zero;
	int rc = 0;
	mpq_inits(com, bounty, ovr, zero, NULL);
	for (size_t i = 0; i < s->nd && !rc; i++) {
		struct dist *d = &s->d[i];
		const struct exact *e = d->ex >= 0 ? &s->ex[d->ex] : NULL;
		totals(s, d, com, bounty, ovr, s->x);
		const char *what = NULL;
		if (!mpq_equal(e ? e->line_sum[0] : zero, com))
			what = "commission";
		else if (!mpq_equal(e ? e->line_sum[1] : zero, bounty))
			what = "bounty";
		else if (!mpq_equal(e ? e->line_sum[2] : zero, ovr))
			what = "override";
		if (!what)
			continue;
		char p[8];
		period_format(s->period, p);
		sqlite3_stmt *q = s->st->q[Q_BY_SEQ];
		sqlite3_bind_int64(q, 1, d->seq);
		int found = sqlite3_step(q) == SQLITE_ROW;
		rc = st_fail(s->st, REFERRAL_EVERIFY,
			     "verify: period %s: the %s lines of distributor %s do not add up"
			     " to her statement", p, what,
			     found ? (const char *)sqlite3_column_text(q, 1) : "?");
		sqlite3_reset(q);
	}
	mpq_clears(com, bounty, ovr, zero, NULL);
	return rc;
}

/* The opening carries: the closing carries of P-1 that are not zero, read
 * before the statements are written (a cursor on the table being written
 * would be saved and sought again at every insert) and then walked
 * alongside the distributors, both in seq order. */
struct carries {
	int64_t *dist;
	size_t *at;              /* offsets of their texts in `text` */
	size_t n, cap, next;
	struct strbuf text;
};

static int load_carries(struct settle *s, struct carries *c)
{
	sqlite3_stmt *q;
	int rc = st_prepare(s->st, "SELECT dist, closing_carry FROM main.statements"
				   " WHERE period = ?1 AND closing_carry <> '0.00' ORDER BY dist", &q);
	if (rc)
		return rc;
	sqlite3_bind_int(q, 1, s->period - 1);
	int step;
	while (!rc && (step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(q, 1);
		if (c->n == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 1024;
			int64_t *nd = realloc(c->dist, cap * sizeof *nd);
			if (nd)
				c->dist = nd;
			size_t *na = nd ? realloc(c->at, cap * sizeof *na) : NULL;
			if (!na) {
				rc = fail_nomem(s);
				break;
			}
			c->at = na;
			c->cap = cap;
		}
		c->dist[c->n] = sqlite3_column_int64(q, 0);
		c->at[c->n] = c->text.len;
		if (!t)
			rc = fail_nomem(s);
		else if (sb_append(&c->text, t, strlen(t) + 1))
			rc = fail_nomem(s);
		else
			c->n++;
	}
	if (!rc && step != SQLITE_DONE)
		rc = st_sqlfail(s->st, "reading carries");
	sqlite3_finalize(q);
	return rc;
}

static void free_carries(struct carries *c)
{
	free(c->dist);
	free(c->at);
	sb_free(&c->text);
}

/* Sets `opening` (and its canonical text) to the carry of distributor
 * `seq`, or zero. Called in ascending seq. 0, or -1 if the stored carry is
 * not a decimal. */
static int opening_of(struct carries *c, int64_t seq, mpq_t opening, char *text, size_t cap)
{
	while (c->next < c->n && c->dist[c->next] < seq)
		c->next++;
	const char *t = c->next < c->n && c->dist[c->next] == seq ? c->text.data + c->at[c->next]
								  : NULL;
	if (!t) { /* the canonical zero */
		mpq_set_ui(opening, 0, 1);
		snprintf(text, cap, "0.00");
	} else if (strlen(t) >= cap || dec_parse_signed(opening, t)) {
		return -1;
	} else {
		memcpy(text, t, strlen(t) + 1); /* stored in canonical form */
	}
	return 0;
}

/*
 * The texts of the statements. Making them (exact arithmetic, rounding,
 * decimal text: about 1.6 µs a distributor) and inserting them (about 2
 * µs) take about as long, so a thread of its own makes the texts, a chunk
 * of distributors at a time, while the settlement writes the bounty
 * snapshot and then inserts the statements as their chunks are done. The
 * thread reads the settlement's state and writes only its chunks; the
 * opening carries are read before it starts. Without a thread, the
 * chunks are made inline, one before it is inserted.
 */
#define TEXT_CHUNK 1024 /* distributors */
#define STATEMENT_TEXTS 9

enum { TEXT_OK, TEXT_NOMEM, TEXT_BAD_CARRY };

/* The distributors of chunk k: [k * TEXT_CHUNK, chunk_end(s, k)). */
static size_t chunk_end(const struct settle *s, size_t k)
{
	return (k + 1) * TEXT_CHUNK < s->nd ? (k + 1) * TEXT_CHUNK : s->nd;
}

/* For each distributor of the chunk that has a statement, her nine texts
 * one after another, each ending in its NUL. */
struct text_chunk {
	struct strbuf text;
	int failed;
};

struct texts {
	const struct settle *s;
	struct carries c;
	struct text_chunk *chunk;
	size_t nchunk;
	mpq_t v[8], tmp;
	int threaded, stop;
	size_t ready;            /* chunks made */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* Whether distributor d has a statement in P. */
static int has_statement(const struct settle *s, const struct dist *d)
{
	return d->booked <= s->period; /* she appears in the period her event is booked in */
}

static void make_chunk(struct texts *T, size_t k)
{
	const struct settle *s = T->s;
	struct text_chunk *ch = &T->chunk[k];
	mpq_t *v = T->v; /* opening, commission, bounty, override, accrued, total, payable, carry */
	char txt[160];
	for (size_t i = k * TEXT_CHUNK; i < chunk_end(s, k) && !ch->failed; i++) {
		const struct dist *d = &s->d[i];
		if (!has_statement(s, d))
			continue;
		if (opening_of(&T->c, d->seq, v[0], txt, sizeof txt)) {
			ch->failed = TEXT_BAD_CARRY;
			break;
		}
		int bad = sb_append(&ch->text, txt, strlen(txt) + 1);
		totals(s, d, v[1], v[2], v[3], T->tmp);
		mpq_add(v[4], v[1], v[2]);
		mpq_add(v[4], v[4], v[3]);
		mpq_add(v[5], v[0], v[4]);
		dec_round_fen(v[6], v[5], s->pl->rounding);
		if (mpq_sgn(v[6]) < 0 || mpq_cmp(v[6], s->pl->min_payout) < 0)
			mpq_set_ui(v[6], 0, 1);
		mpq_sub(v[7], v[5], v[6]);
		for (int t = 1; t < STATEMENT_TEXTS; t++) {
			if (t == 2) /* the bounty, whole fen */
				fen_format(txt, d->bounty_fen);
			else if (t == 8)
				fen_format(txt, d->sales_fen);
			else if (mpq_sgn(v[t]) == 0)
				strcpy(txt, "0.00");
			else
				dec_format(txt, sizeof txt, v[t]);
			bad |= sb_append(&ch->text, txt, strlen(txt) + 1);
		}
		if (bad)
			ch->failed = TEXT_NOMEM;
	}
}

static void *texts_thread(void *arg)
{
	struct texts *T = arg;
	for (size_t k = 0; k < T->nchunk; k++) {
		pthread_mutex_lock(&T->mu);
		int stop = T->stop;
		pthread_mutex_unlock(&T->mu);
		if (stop)
			break;
		make_chunk(T, k);
		pthread_mutex_lock(&T->mu);
		T->ready = k + 1;
		pthread_cond_broadcast(&T->cv);
		pthread_mutex_unlock(&T->mu);
		if (T->chunk[k].failed)
			break;
	}
	return NULL;
}

/* Reads the opening carries and starts making the texts. */
static int texts_start(struct settle *s, struct texts *T)
{
	memset(T, 0, sizeof *T);
	T->s = s;
	for (int k = 0; k < 8; k++)
		mpq_init(T->v[k]);
	mpq_init(T->tmp);
	int rc = load_carries(s, &T->c);
	if (rc)
		return rc;
	size_t nchunk = (s->nd + TEXT_CHUNK - 1) / TEXT_CHUNK;
	if (nchunk && !(T->chunk = calloc(nchunk, sizeof *T->chunk)))
		return fail_nomem(s);
	T->nchunk = nchunk;
	if (!stream_use_thread || T->nchunk < 2)
		return 0;
	if (pthread_mutex_init(&T->mu, NULL))
		return 0;
	if (pthread_cond_init(&T->cv, NULL)) {
		pthread_mutex_destroy(&T->mu);
		return 0;
	}
	if (pthread_create(&T->thread, NULL, texts_thread, T)) {
		pthread_cond_destroy(&T->cv);
		pthread_mutex_destroy(&T->mu);
		return 0;
	}
	T->threaded = 1;
	return 0;
}

/* Chunk k, made: by the thread (waited for) or here. */
static struct text_chunk *texts_chunk(struct texts *T, size_t k)
{
	if (!T->threaded) {
		make_chunk(T, k);
		return &T->chunk[k];
	}
	pthread_mutex_lock(&T->mu);
	while (T->ready <= k)
		pthread_cond_wait(&T->cv, &T->mu);
	pthread_mutex_unlock(&T->mu);
	return &T->chunk[k];
}

static void texts_end(struct texts *T)
{
	if (T->threaded) {
		pthread_mutex_lock(&T->mu);
		T->stop = 1;
		pthread_mutex_unlock(&T->mu);
		pthread_join(T->thread, NULL);
		pthread_cond_destroy(&T->cv);
		pthread_mutex_destroy(&T->mu);
	}
	for (size_t k = 0; k < T->nchunk; k++)
		sb_free(&T->chunk[k].text);
	free(T->chunk);
	free_carries(&T->c);
	for (int k = 0; k < 8; k++)
		mpq_clear(T->v[k]);
	mpq_clear(T->tmp);
}

static int write_statements(struct settle *s, struct texts *T)
{
	struct strbuf sql = {0};
	sqlite3_stmt *q = NULL;
	int rc = 0;

	if (sb_printf(&sql, "INSERT INTO %sstatements(period, dist, store, grade, opening_carry,"
			    " commission, bounty, override, accrued, total, payable, closing_carry,"
			    " members, sales, shares)"
			    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
		      s->out))
		return fail_nomem(s);
	rc = st_prepare(s->st, sb_str(&sql), &q);
	sb_free(&sql);
	for (size_t k = 0; k < T->nchunk && !rc; k++) {
		struct text_chunk *ch = texts_chunk(T, k);
		if (ch->failed) {
			rc = ch->failed == TEXT_NOMEM
				     ? fail_nomem(s)
				     : st_fail(s->st, REFERRAL_EIO,
					       "storage: a stored carry is not a decimal");
			break;
		}
		const char *p = ch->text.data;
		for (size_t i = k * TEXT_CHUNK; i < chunk_end(s, k) && !rc; i++) {
			const struct dist *d = &s->d[i];
			if (!has_statement(s, d))
				continue;
			const char *txt[STATEMENT_TEXTS];
			for (int t = 0; t < STATEMENT_TEXTS; t++) {
				txt[t] = p;
				p += strlen(p) + 1;
			}
			sqlite3_bind_int(q, 1, s->period);
			sqlite3_bind_int64(q, 2, d->seq);
			sqlite3_bind_int64(q, 3, d->store);
			sqlite3_bind_int(q, 4, d->grade);
			for (int t = 0; t < 8; t++)
				sqlite3_bind_text(q, 5 + t, txt[t], -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 13, d->members);
			sqlite3_bind_text(q, 14, txt[8], -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 15, d->shares);
			if (sqlite3_step(q) != SQLITE_DONE)
				rc = st_sqlfail(s->st, "writing a statement");
			sqlite3_reset(q);
		}
		/* done with: its memory serves the chunks still to be made */
		sqlite3_clear_bindings(q);
		sb_free(&T->chunk[k].text);
	}
	sqlite3_finalize(q);
	return rc;
}

/* The figures grading sums, of every distributor with a statement. */
static int hand_over(struct settle *s, struct figures *figs)
{
	if (!(figs->g = malloc((s->nd ? s->nd : 1) * sizeof *figs->g)))
		return fail_nomem(s);
	for (size_t i = 0; i < s->nd; i++) {
		const struct dist *d = &s->d[i];
		if (has_statement(s, d))
			figs->g[figs->n++] = (struct graded){d->seq, d->store, d->grade, d->members,
							     d->shares, d->sales_fen, -1};
	}
	return 0;
}

void figures_free(struct figures *figs)
{
	free(figs->g);
	figs->g = NULL;
	figs->n = 0;
}

/* ---- the pass -------------------------------------------------------------------- */

static void settle_free(struct settle *s)
{
	for (size_t i = 0; i < s->nex; i++)
		mpq_clears(s->ex[i].commission, s->ex[i].override,
			   s->ex[i].line_sum[0], s->ex[i].line_sum[1], s->ex[i].line_sum[2], NULL);
	free(s->ex);
	huge_free(s->d, s->capd * sizeof *s->d);
	huge_free(s->b, s->capb * sizeof *s->b);
	free(s->bmember);
	free(s->wide_net);
	idmap_free(&s->wide);
	idmap_free(&s->next);
	huge_free(s->ix, ix_bytes(s));
	for (size_t k = 0; k < s->nog; k++)
		idmap_free(&s->og[k].map);
	free(s->og);
	free(s->close_seq);
	sqlite3_finalize(s->ins_line);
	mpq_clears(s->x, s->y, NULL);
}

int settle_period(referral_store *st, int period, int64_t limit, const char *out, int mode,
		  struct figures *figs)
{
	struct settle s;
	struct strbuf sql = {0};
	int rc = 0;

	memset(&s, 0, sizeof s);
	s.st = st;
	s.period = period;
	s.mode = mode & ~SETTLE_FROM_LOG;
	s.from_log = !!(mode & SETTLE_FROM_LOG);
	s.limit = limit;
	s.out = out;
	s.pl = st_plan_for(st, period);
	s.period_end = period_start(period + 1, s.pl->utc_offset_min);
	mpq_inits(s.x, s.y, NULL);

	if (s.mode == SETTLE_LINES) {
		if (sb_printf(&sql, "INSERT INTO %slines(period, dist, type, event, ord, member,"
				    " source, binding, base, rate, value)"
				    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", out))
			rc = st_nomem(st);
		else
			rc = st_prepare(st, sb_str(&sql), &s.ins_line);
	}
	/* the stream's reader starts now, and reads while the network loads */
	struct stream *in = NULL;
	if (!rc && !(rc = stream_open(st, period, limit, &in)) && !(rc = load_network(&s)) &&
	    !(rc = load_previous(&s)) && !(rc = load_snapshot(&s)) && !(rc = stream_period(&s, in)) &&
	    !(rc = gather_overrides(&s))) {
		if (s.mode == SETTLE_LINES)
			rc = check_lines(&s);
		else {
			struct texts T;
			if (!(rc = texts_start(&s, &T)) &&
			    !(rc = write_blob(&s, "snapshots", encode_snapshot)) &&
			    !(rc = update_cache(&s)) && !(rc = write_statements(&s, &T)) && figs)
				rc = hand_over(&s, figs);
			texts_end(&T);
		}
	}
	stream_close(in);
	sb_free(&sql);
	settle_free(&s);
	return rc;
}
