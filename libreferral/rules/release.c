/*
 * release.c — when earnings become payable (docs/formats.md, "Release").
 *
 * Every line has a release period. The lines an order causes (its
 * commission, the bounty it earns, its override) are released in the
 * period of its instant plus the plan's hold_days (of the plan for the
 * order's booking period), or in its booking period if that is later. A
 * reversal is released with the line it reverses (for a bounty reversal,
 * the bounty that stood), or in its own booking period if that is later:
 * a refund inside the window cancels what was never paid, one after it is
 * taken back at once.
 *
 * A statement of P shows `released`, what of the lines booked in P or
 * before is released in P, and `held`, what of them is released later.
 * Settlement sums P's own lines as it always did; the few released after P
 * (orders of the last hold_days of the period) are also summed apart, in
 * buckets per distributor and release period, the same way in fen. What
 * is held at the end of P is carried to the next period in a blob of the
 * period (BLOB_HOLDS), with the release period of every standing bounty
 * that is held: released = accrued - what P's lines hold + what earlier
 * periods held for P; held = what earlier periods held for after P + what
 * P's lines hold. With hold_days 0 nothing is held and none of this runs.
 *
 * The blob: nothing at all when nothing is held; else varints: the number
 * of distributors, and for each (ascending seq) the seq's increase, her
 * number of entries, and for each the release period minus P, the length
 * of the exact value's canonical text and the text; then the number of
 * held standing bounties, and for each (ascending binding seq) the seq's
 * increase and the release period minus P.
 */
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "decimal.h"
#include "resize.h"
#include "settle.h"
#include "timeutil.h"

#define DAY_US 86400000000LL
/* The longest text of a held value the blob accepts. */
#define HOLD_TEXT_MAX 4096

int release_of(const struct settle *s, int64_t t, int booked)
{
	if (booked == s->period && t < s->release_cut)
		return booked; /* the usual case: no lookup of the calendar */
	const plan *pl = st_plan_for(s->st, booked);
	if (!pl->hold_days)
		return booked;
	int p = period_of(t + pl->hold_days * DAY_US, pl->utc_offset_min);
	return p > booked ? p : booked;
}

static int64_t bucket_key(int32_t di, int rel, int period)
{
	return ((int64_t)di << 5 | (rel - period)) + 1;
}

struct bucket *bucket_at(struct settle *s, int32_t di, int rel)
{
	int32_t i = idmap_get(&s->bucket_of, bucket_key(di, rel, s->period));
	if (i >= 0)
		return &s->bk[i];
	if (s->nbk == s->capbk) {
		size_t cap = grown(s->capbk, 64);
		if (array_resize(&s->bk, cap, sizeof *s->bk))
			return NULL;
		s->capbk = cap;
	}
	if (idmap_put(&s->bucket_of, bucket_key(di, rel, s->period), (int32_t)s->nbk))
		return NULL;
	struct bucket *b = &s->bk[s->nbk++];
	memset(b, 0, sizeof *b);
	b->dist = di;
	b->rel = rel;
	mpq_inits(b->com_x, b->ov_x, NULL);
	return b;
}

int bounty_release(const struct settle *s, int32_t bi)
{
	int32_t rel = s->bounty_rel.len ? idmap_get(&s->bounty_rel, (int64_t)bi + 1) : -1;
	return rel > s->period ? rel : s->period;
}

int set_bounty_release(struct settle *s, int32_t bi, int rel)
{
	/* released by P: only an entry of an earlier bounty needs clearing */
	if (rel <= s->period && !s->bounty_rel.len)
		return 0;
	if (idmap_set(&s->bounty_rel, (int64_t)bi + 1, rel > s->period ? rel : -1))
		return fail_nomem(s);
	return 0;
}

/* ---- what earlier periods held ------------------------------------------ */

static int holds_damaged(struct settle *s, const struct blob_in *in)
{
	if (blob_in_failed(in))
		return blob_in_failed(in);
	return st_fail(s->st, REFERRAL_EIO, "storage: the record of held earnings is damaged");
}

static int read_entries(struct settle *s, struct blob_in *in, int32_t di, size_t n, char *text)
{
	for (size_t k = 0; k < n; k++) {
		unsigned __int128 drel, len;
		if (blob_in_varint(in, &drel) || drel < 1 || drel > 64 || blob_in_varint(in, &len) ||
		    len < 1 || len > HOLD_TEXT_MAX || blob_in_bytes(in, (unsigned char *)text, (size_t)len))
			return holds_damaged(s, in);
		text[len] = '\0';
		if (s->nhin == s->caphin) {
			size_t cap = grown(s->caphin, 64);
			if (array_resize(&s->hin, cap, sizeof *s->hin))
				return fail_nomem(s);
			s->caphin = cap;
		}
		struct hold_entry *h = &s->hin[s->nhin];
		mpq_init(h->v);
		s->nhin++;
		h->dist = di;
		h->rel = s->period - 1 + (int)drel;
		if (dec_parse_signed(h->v, text))
			return holds_damaged(s, in);
	}
	return 0;
}

int load_holds(struct settle *s)
{
	struct blob_src *src = NULL;
	int found = ENG(s->st, blob_open, BLOB_HOLDS, s->period - 1, &src);
	if (found <= 0)
		return -found;
	struct blob_in *in = malloc(sizeof *in);
	char *text = malloc(HOLD_TEXT_MAX + 1);
	int rc = in && text ? 0 : fail_nomem(s);
	if (!rc && (blob_in_init(in, src), !blob_in_done(in))) {
		unsigned __int128 nd, n, dseq, drel;
		int64_t seq = 0;
		if (blob_in_varint(in, &nd))
			rc = holds_damaged(s, in);
		for (unsigned __int128 k = 0; k < nd && !rc; k++) {
			int32_t di = -1;
			if (!blob_in_varint(in, &dseq) && dseq <= (unsigned __int128)s->limit &&
			    !blob_in_varint(in, &n) && n <= 64)
				di = dist_of(s, seq += (int64_t)dseq);
			rc = di < 0 ? holds_damaged(s, in) : read_entries(s, in, di, (size_t)n, text);
		}
		seq = 0;
		if (!rc && blob_in_varint(in, &n))
			rc = holds_damaged(s, in);
		for (unsigned __int128 k = 0; k < n && !rc; k++) {
			int32_t bi = -1;
			if (!blob_in_varint(in, &dseq) && dseq <= (unsigned __int128)s->limit &&
			    !blob_in_varint(in, &drel) && drel >= 1 && drel <= 64)
				bi = binding_of(s, seq += (int64_t)dseq);
			if (bi < 0 || s->b[bi].bounty < 0)
				rc = holds_damaged(s, in);
			else if (idmap_set(&s->bounty_rel, (int64_t)bi + 1, s->period - 1 + (int)drel))
				rc = fail_nomem(s);
		}
		if (!rc && !blob_in_done(in))
			rc = holds_damaged(s, in);
	}
	src->close(src);
	free(in);
	free(text);
	return rc;
}

/* ---- what is held at the end of P ---------------------------------------- */

static int cmp_bucket(const void *pa, const void *pb)
{
	const struct bucket *x = pa, *y = pb;
	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	return (x->rel > y->rel) - (x->rel < y->rel);
}

/* Each bucket's override sums go to her recruiter's bucket of the same
 * release, by her grade, as gather_overrides() does with the totals. */
static int gather_bucket_overrides(struct settle *s)
{
	size_t n = s->nbk;
	for (size_t i = 0; i < n; i++) {
		struct bucket b = s->bk[i]; /* bucket_at() may move them */
		int32_t r = s->d[b.dist].recruiter;
		if (!b.ov_fen || r < 0)
			continue;
		struct bucket *rb = bucket_at(s, r, b.rel);
		if (!rb)
			return fail_nomem(s);
		if (fen_add(&rb->ov_by_grade[s->d[b.dist].grade - 1], b.ov_fen))
			return fail_overflow(s);
	}
	return 0;
}

static int new_entry(struct settle *s, size_t *cap, int32_t di, int rel, const mpq_t v)
{
	if (s->nhe == *cap) {
		size_t ncap = grown(*cap, 64);
		if (array_resize(&s->he, ncap, sizeof *s->he))
			return fail_nomem(s);
		*cap = ncap;
	}
	struct hold_entry *h = &s->he[s->nhe++];
	h->dist = di;
	h->rel = rel;
	mpq_init(h->v);
	mpq_set(h->v, v);
	return 0;
}

/* Adds v to the entry of (di, rel) at the end of s->he, or a new one. */
static int add_entry(struct settle *s, size_t *cap, size_t first, int32_t di, int rel,
		     const mpq_t v)
{
	for (size_t k = first; k < s->nhe; k++)
		if (s->he[k].rel == rel) {
			mpq_add(s->he[k].v, s->he[k].v, v);
			return 0;
		}
	return new_entry(s, cap, di, rel, v);
}

int settle_holds(struct settle *s)
{
	int rc = 0;
	if (!s->nbk && !s->nhin)
		return 0;
	if ((rc = gather_bucket_overrides(s)))
		return rc;
	if (s->nbk)
		qsort(s->bk, s->nbk, sizeof *s->bk, cmp_bucket);
	/* distributors with something held, at most one each */
	size_t capheld = s->nbk + s->nhin, caphe = 0;
	if (!(s->held = calloc(capheld ? capheld : 1, sizeof *s->held)))
		return fail_nomem(s);
	mpq_t com, bounty, ovr, tmp;
	mpq_inits(com, bounty, ovr, tmp, NULL);
	size_t i = 0, j = 0; /* buckets, entries held before */
	while (!rc && (i < s->nbk || j < s->nhin)) {
		int32_t di = i < s->nbk && (j == s->nhin || s->bk[i].dist <= s->hin[j].dist)
				     ? s->bk[i].dist : s->hin[j].dist;
		struct dist *d = &s->d[di];
		struct held *h = &s->held[s->nheld];
		mpq_inits(h->fresh, h->due, h->total, NULL);
		h->first = s->nhe;
		d->held = (int32_t)s->nheld++;
		for (; !rc && j < s->nhin && s->hin[j].dist == di; j++) {
			if (s->hin[j].rel < s->period)
				rc = st_fail(s->st, REFERRAL_EIO,
					     "storage: the record of held earnings is damaged");
			else if (s->hin[j].rel == s->period)
				mpq_add(h->due, h->due, s->hin[j].v);
			else
				rc = add_entry(s, &caphe, h->first, di, s->hin[j].rel, s->hin[j].v);
		}
		for (; !rc && i < s->nbk && s->bk[i].dist == di; i++) {
			const struct bucket *b = &s->bk[i];
			value_of(s, d->grade, b->com_fen, b->bounty_fen, b->ov_by_grade,
				 (const mpq_t *)&b->com_x, (const mpq_t *)&b->ov_x, com, bounty, ovr, tmp);
			mpq_add(com, com, bounty);
			mpq_add(com, com, ovr);
			mpq_add(h->fresh, h->fresh, com);
			if (mpq_sgn(com))
				rc = add_entry(s, &caphe, h->first, di, b->rel, com);
		}
		h->n = s->nhe - h->first;
		for (size_t k = h->first; k < s->nhe; k++)
			mpq_add(h->total, h->total, s->he[k].v);
	}
	mpq_clears(com, bounty, ovr, tmp, NULL);
	return rc;
}

struct held_bounty {
	int64_t seq;
	int rel;
};

static int cmp_held_bounty(const void *pa, const void *pb)
{
	const struct held_bounty *x = pa, *y = pb;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The standing bounties held past P, in ascending binding seq; NULL with
 * *n 0 when there are none or memory ran out (*failed). */
static struct held_bounty *held_bounties(const struct settle *s, size_t *n, int *failed)
{
	struct held_bounty *hb = NULL;
	*n = 0;
	*failed = 0;
	for (size_t k = 0; k < s->bounty_rel.cap; k++) {
		int64_t key = s->bounty_rel.keys[k];
		if (!key || s->bounty_rel.vals[k] <= s->period || s->b[key - 1].bounty < 0)
			continue;
		if (!hb && !(hb = malloc(s->bounty_rel.len * sizeof *hb))) {
			*failed = 1;
			return NULL;
		}
		hb[(*n)++] = (struct held_bounty){B_SEQ(&s->b[key - 1]), s->bounty_rel.vals[k]};
	}
	if (hb)
		qsort(hb, *n, sizeof *hb, cmp_held_bounty);
	return hb;
}

void encode_holds(struct settle *s, struct blob_out *w)
{
	size_t nd = 0, nb;
	int failed;
	for (size_t k = 0; k < s->nheld; k++)
		nd += s->held[k].n > 0;
	struct held_bounty *hb = held_bounties(s, &nb, &failed);
	if (failed)
		w->err = w->err ? w->err : fail_nomem(s);
	if (!nd && !nb)
		return; /* nothing held: an empty blob */
	int64_t prev = 0;
	blob_out_varint(w, nd);
	for (size_t i = 0; i < s->nd; i++) {
		const struct dist *d = &s->d[i];
		if (d->held < 0 || !s->held[d->held].n)
			continue;
		const struct held *h = &s->held[d->held];
		blob_out_varint(w, (unsigned __int128)(d->seq - prev));
		blob_out_varint(w, h->n);
		for (size_t k = h->first; k < h->first + h->n; k++) {
			char *text = dec_to_str(s->he[k].v);
			size_t len = text ? strlen(text) : 0;
			if (!text && !w->err)
				w->err = fail_nomem(s);
			blob_out_varint(w, (unsigned __int128)(s->he[k].rel - s->period));
			blob_out_varint(w, len);
			blob_out_bytes(w, text, len);
			free(text);
		}
		prev = d->seq;
	}
	blob_out_varint(w, nb);
	prev = 0;
	for (size_t k = 0; k < nb; k++) {
		blob_out_varint(w, (unsigned __int128)(hb[k].seq - prev));
		blob_out_varint(w, (unsigned __int128)(hb[k].rel - s->period));
		prev = hb[k].seq;
	}
	free(hb);
}

void holds_free(struct settle *s)
{
	for (size_t i = 0; i < s->nbk; i++)
		mpq_clears(s->bk[i].com_x, s->bk[i].ov_x, NULL);
	free(s->bk);
	idmap_free(&s->bucket_of);
	for (size_t i = 0; i < s->nhin; i++)
		mpq_clear(s->hin[i].v);
	free(s->hin);
	for (size_t i = 0; i < s->nheld; i++)
		mpq_clears(s->held[i].fresh, s->held[i].due, s->held[i].total, NULL);
	free(s->held);
	for (size_t i = 0; i < s->nhe; i++)
		mpq_clear(s->he[i].v);
	free(s->he);
	idmap_free(&s->bounty_rel);
}
