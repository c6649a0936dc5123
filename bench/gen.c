/*
 * gen.c — the benchmark dataset, generated deterministically from a seed.
 *
 *   bench_gen [--out DIR] [--orders N] [--seed S]
 *             [--stores N] [--distributors N] [--members N] [--month1-orders N]
 *
 * Writes four JSON Lines files into DIR (default /tmp/referral-bench-data):
 *
 *   network.jsonl  stores and their ratings, distributors in recruitment
 *                  trees, members who joined over the 40 months before the
 *                  measured month, binds (unbound members bound later, and
 *                  members re-bound after their 36-month window ended),
 *                  benefit sharing, store changes, terminations. Dated
 *                  2022-09 .. 2026-01.
 *   month1.jsonl   the month that gets closed (2026-01): orders, refunds of
 *                  3% of them, distributor and member shares, ratings.
 *   month2.jsonl   the measured month (2026-02): N orders (--orders), 3% of
 *                  them refunded in part or whole (a fifth of those in two
 *                  parts), refunds dated 2026-02 of 0.5% x N month-1 orders,
 *                  shares, ratings and a few terminations.
 *   late.jsonl     0.5% x N refunds of month-1 orders dated in 2026-01 and
 *                  ingested after 2026-01 closed (booked into 2026-02).
 *
 * The plan is the reference plan (start_period 2026-01): everything dated
 * before 2026-01 is booked late into 2026-01, the closed month.
 *
 * Each phase draws from its own random stream derived from the seed, and the
 * network and month 1 do not depend on --orders: the sizes of the scaling
 * curve share one network and one closed month and differ only in the
 * measured month. Same arguments, same bytes.
 *
 * Times are written in local time with "+08:00"; internally an instant is a
 * count of local seconds since 1970-01-01T00:00 (the offset is fixed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HOUR 3600LL
#define DAY 86400LL
#define NEVER INT64_MAX

/* ---- random numbers: splitmix64 seeding xoshiro256** ------------------- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next(struct rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Uniform in [0, n) (n > 0); the tiny modulo bias does not matter here. */
static uint64_t below(struct rng *r, uint64_t n) { return next(r) % n; }
/* Uniform in [lo, hi] */
static int64_t between(struct rng *r, int64_t lo, int64_t hi)
{
	return hi <= lo ? lo : lo + (int64_t)below(r, (uint64_t)(hi - lo + 1));
}
/* True with probability num/den. */
static int chance(struct rng *r, uint64_t num, uint64_t den) { return below(r, den) < num; }
/* Uniform double in [0, 1). */
static double unit(struct rng *r) { return (double)(next(r) >> 11) * (1.0 / 9007199254740992.0); }

/* ---- calendar ------------------------------------------------------------ */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t local(int y, int m, int d, int hh, int mm, int ss)
{
	return days_from_civil(y, m, d) * DAY + hh * HOUR + mm * 60 + ss;
}

static int days_in_month(int y, int m)
{
	static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : n[m - 1];
}

/* t + months, the day clamped to the end of the target month (SPEC §3). */
static int64_t add_months(int64_t t, int months)
{
	int64_t days = t / DAY, secs = t % DAY;
	int y, m, d;
	civil_from_days(days, &y, &m, &d);
	int idx = y * 12 + (m - 1) + months;
	y = idx / 12;
	m = idx % 12 + 1;
	if (d > days_in_month(y, m))
		d = days_in_month(y, m);
	return days_from_civil(y, m, d) * DAY + secs;
}

/* ---- buffered output ------------------------------------------------------ */

struct out {
	FILE *f;
	const char *path;
	char *buf;
	size_t n, cap;
	long lines;
};

static void die(const char *what, const char *path)
{
	fprintf(stderr, "bench_gen: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void out_open(struct out *o, const char *dir, const char *name)
{
	char *path;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		exit(1);
	o->path = path;
	o->f = fopen(path, "wb");
	if (!o->f)
		die("cannot create", path);
	o->cap = 1 << 20;
	o->buf = malloc(o->cap);
	o->n = 0;
	o->lines = 0;
	if (!o->buf)
		exit(1);
}

static void flush(struct out *o)
{
	if (o->n && fwrite(o->buf, 1, o->n, o->f) != o->n)
		die("cannot write", o->path);
	o->n = 0;
}

static void out_close(struct out *o)
{
	flush(o);
	if (fclose(o->f))
		die("cannot write", o->path);
	free(o->buf);
	free((char *)o->path);
}

static inline void reserve(struct out *o, size_t n)
{
	if (o->n + n > o->cap)
		flush(o);
}

static inline void put(struct out *o, const char *s)
{
	size_t n = strlen(s);
	reserve(o, n);
	memcpy(o->buf + o->n, s, n);
	o->n += n;
}

static inline void put_u(struct out *o, uint64_t v)
{
	char tmp[24];
	int k = 0;
	do
		tmp[k++] = (char)('0' + v % 10);
	while ((v /= 10));
	reserve(o, (size_t)k);
	while (k)
		o->buf[o->n++] = tmp[--k];
}

static inline void put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/* "2026-01-10T12:00:00+08:00" */
static void put_at(struct out *o, int64_t t)
{
	int y, m, d;
	int64_t days = t / DAY, s = t % DAY;
	civil_from_days(days, &y, &m, &d);
	reserve(o, 32);
	char *p = o->buf + o->n;
	put2(p, y / 100);
	put2(p + 2, y % 100);
	p[4] = '-';
	put2(p + 5, m);
	p[7] = '-';
	put2(p + 8, d);
	p[10] = 'T';
	put2(p + 11, (int)(s / 3600));
	p[13] = ':';
	put2(p + 14, (int)(s / 60 % 60));
	p[16] = ':';
	put2(p + 17, (int)(s % 60));
	memcpy(p + 19, "+08:00", 6);
	o->n += 25;
}

/* Fen as a yuan string: 29800 -> "298.00". */
static void put_fen(struct out *o, int64_t fen)
{
	put_u(o, (uint64_t)(fen / 100));
	reserve(o, 3);
	o->buf[o->n++] = '.';
	put2(o->buf + o->n, (int)(fen % 100));
	o->n += 2;
}

/* {"type":"T","id":"PREFIXn","at":"..." */
static void head(struct out *o, const char *type, const char *prefix, uint64_t n, int64_t at)
{
	put(o, "{\"type\":\"");
	put(o, type);
	put(o, "\",\"id\":\"");
	put(o, prefix);
	put_u(o, n);
	put(o, "\",\"at\":\"");
	put_at(o, at);
	put(o, "\"");
	o->lines++;
}

/* ,"key":"PREFIXn" */
static void ref(struct out *o, const char *key, const char *prefix, uint64_t n)
{
	put(o, ",\"");
	put(o, key);
	put(o, "\":\"");
	put(o, prefix);
	put_u(o, n);
	put(o, "\"");
}

static void end(struct out *o) { put(o, "}\n"); }

/* ---- the dataset ---------------------------------------------------------- */

struct config {
	const char *out;
	uint64_t seed;
	long stores, dists, members, orders1, orders2;
};

struct world {
	struct config c;
	int64_t *d_at, *d_term;   /* distributor joins and terminations (NEVER if none) */
	char *d_term2;            /* terminated during the measured month */
	int64_t *m_at;            /* member joins, non-decreasing */
	int64_t *o1_at, *o1_fen;  /* month-1 orders */
	char *o1_refunded;        /* a refund of it exists already */
};

/* Phases: network 1, month 1 2, month 2 3. */
enum { S_NETWORK = 1, S_MONTH1 = 2, S_MONTH2 = 3 };

/* The number of entries of the sorted array a[0..n) that are <= t. */
static long count_le(const int64_t *a, long n, int64_t t)
{
	long lo = 0, hi = n;
	while (lo < hi) {
		long mid = lo + (hi - lo) / 2;
		if (a[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A distributor who exists and is not terminated at t: uniform, or skewed
 * towards the early ones (who have more members) when `skew`. */
static long pick_dist(struct world *w, struct rng *r, int64_t t, int skew)
{
	long n = count_le(w->d_at, w->c.dists, t);
	if (n == 0)
		return -1;
	for (int tries = 0; tries < 64; tries++) {
		long d;
		if (skew) {
			double u = unit(r);
			d = (long)(u * u * (double)n);
		} else {
			d = (long)below(r, (uint64_t)n);
		}
		if (w->d_term[d] > t)
			return d;
	}
	return -1;
}

static long pick_member(struct world *w, struct rng *r, int64_t t)
{
	long n = count_le(w->m_at, w->c.members, t);
	return n ? (long)below(r, (uint64_t)n) : -1;
}

/* An order amount in fen: mostly catalogue prices times a quantity. */
static int64_t order_fen(struct rng *r)
{
	static const int64_t prices[] = {8900, 16800, 23800, 29800, 32800, 35800, 41800, 59800,
					 118800};
	if (chance(r, 7, 10))
		return prices[below(r, sizeof prices / sizeof *prices)] * between(r, 1, 3);
	return between(r, 1990, 99999);
}

static const char *const regions[] = {"华东", "华北", "华南", "西南", "东北", "Central"};

static void gen_network(struct world *w)
{
	struct config *c = &w->c;
	struct rng r;
	struct out o;
	rng_seed(&r, c->seed, S_NETWORK);
	out_open(&o, c->out, "network.jsonl");

	const int64_t store_at = local(2022, 9, 1, 8, 0, 0);
	const int64_t d0 = local(2022, 9, 2, 9, 0, 0), d1 = local(2025, 12, 31, 20, 0, 0);
	const int64_t m0 = local(2022, 10, 1, 10, 0, 0), m1 = local(2026, 1, 25, 0, 0, 0);
	const int64_t net_end = local(2026, 1, 28, 0, 0, 0); /* binds, shares of benefits */
	const int64_t last_change = local(2026, 1, 20, 0, 0, 0);

	/* stores and their first ratings; half are rated again in 2025 */
	for (long s = 0; s < c->stores; s++) {
		head(&o, "store", "s", (uint64_t)s, store_at + s);
		put(&o, ",\"name\":\"门店 ");
		put_u(&o, (uint64_t)s);
		put(&o, "\",\"region\":\"");
		put(&o, regions[s % (long)(sizeof regions / sizeof *regions)]);
		put(&o, "\"");
		end(&o);
	}
	long nrating = 0;
	for (long s = 0; s < c->stores; s++) {
		int64_t at = store_at + HOUR + s;
		for (int k = 0; k < 2; k++) {
			if (k == 1) {
				if (!chance(&r, 1, 2))
					break;
				at = between(&r, local(2025, 1, 1, 0, 0, 0), local(2025, 12, 31, 0, 0, 0));
			}
			head(&o, "store_rating", "sr-", (uint64_t)nrating++, at);
			ref(&o, "store", "s", (uint64_t)s);
			uint64_t tenths = (uint64_t)between(&r, 25, 50);
			put(&o, ",\"rating\":\"");
			put_u(&o, tenths / 10);
			put(&o, ".");
			put_u(&o, tenths % 10);
			put(&o, "\"");
			end(&o);
		}
	}

	/* distributors: join times increase with the index; 1% are terminated
	 * before 2026-01, 0.1% more during the measured month */
	for (long d = 0; d < c->dists; d++) {
		w->d_at[d] = d0 + (int64_t)((double)d * (double)(d1 - d0) / (double)c->dists);
		w->d_term[d] = NEVER;
		if (d > 0 && chance(&r, 1, 100) && w->d_at[d] + 30 * DAY < d1)
			w->d_term[d] = between(&r, w->d_at[d] + 30 * DAY, d1);
		else if (d > 0 && chance(&r, 1, 1000))
			w->d_term2[d] = 1;
	}
	for (long d = 0; d < c->dists; d++) {
		uint64_t k = below(&r, 100);
		head(&o, "distributor", "d", (uint64_t)d, w->d_at[d]);
		put(&o, k < 80 ? ",\"kind\":\"mom\"" : k < 92 ? ",\"kind\":\"doctor\"" :
			",\"kind\":\"practitioner\"");
		ref(&o, "store", "s", below(&r, (uint64_t)c->stores));
		long rec = d > 0 && chance(&r, 9, 10) ? pick_dist(w, &r, w->d_at[d] - 1, 0) : -1;
		if (rec >= 0)
			ref(&o, "recruiter", "d", (uint64_t)rec);
		else
			put(&o, ",\"recruiter\":null");
		end(&o);
	}

	/* members, bound at join to a distributor who exists then (2% unbound) */
	int32_t *m_dist = malloc((size_t)c->members * sizeof *m_dist);
	if (!m_dist)
		exit(1);
	for (long m = 0; m < c->members; m++) {
		int64_t at = m0 + (int64_t)((double)m * (double)(m1 - m0) / (double)c->members);
		w->m_at[m] = at;
		long d = chance(&r, 2, 100) ? -1 : pick_dist(w, &r, at, 0);
		m_dist[m] = (int32_t)d;
		head(&o, "member", "m", (uint64_t)m, at);
		if (d >= 0)
			ref(&o, "distributor", "d", (uint64_t)d);
		else
			put(&o, ",\"distributor\":null");
		end(&o);
	}

	/* store changes: 2% of the distributors move once */
	long nsc = 0;
	for (long d = 0; d < c->dists; d++) {
		if (!chance(&r, 2, 100))
			continue;
		int64_t at = between(&r, w->d_at[d] + DAY, last_change);
		head(&o, "store_change", "sc-", (uint64_t)nsc++, at);
		ref(&o, "distributor", "d", (uint64_t)d);
		ref(&o, "store", "s", below(&r, (uint64_t)c->stores));
		end(&o);
	}

	/* terminations, after every member who joins bound to the distributor and
	 * before the binds (a bind after a termination relies on it) */
	long nterm = 0;
	for (long d = 0; d < c->dists; d++) {
		if (w->d_term[d] == NEVER)
			continue;
		head(&o, "terminate", "t-", (uint64_t)nterm++, w->d_term[d]);
		ref(&o, "distributor", "d", (uint64_t)d);
		end(&o);
	}
	/* binds: half the unbound members are bound later; 15% of the members
	 * whose binding ended are bound again */
	long nbind = 0;
	for (long m = 0; m < c->members; m++) {
		int64_t at;
		if (m_dist[m] < 0) {
			if (!chance(&r, 1, 2))
				continue;
			at = w->m_at[m] + between(&r, DAY, 60 * DAY);
		} else {
			int64_t e = add_months(w->m_at[m], 36);
			if (w->d_term[m_dist[m]] < e)
				e = w->d_term[m_dist[m]];
			if (e > last_change || !chance(&r, 15, 100))
				continue;
			at = e + between(&r, HOUR, 20 * DAY);
		}
		if (at > net_end)
			continue;
		long d = pick_dist(w, &r, at, 0);
		if (d < 0)
			continue;
		head(&o, "bind", "b-", (uint64_t)nbind++, at);
		ref(&o, "member", "m", (uint64_t)m);
		ref(&o, "distributor", "d", (uint64_t)d);
		end(&o);
	}
	free(m_dist);

	/* benefit sharing: 3% of the members get a sharer */
	long nsb = 0;
	for (long m = 0; m < c->members; m++) {
		if (!chance(&r, 3, 100))
			continue;
		long from = (long)below(&r, (uint64_t)c->members);
		if (from == m)
			continue;
		int64_t at = (w->m_at[m] > w->m_at[from] ? w->m_at[m] : w->m_at[from]) +
			     between(&r, HOUR, 30 * DAY);
		if (at > net_end)
			at = net_end;
		head(&o, "share_benefits", "sb-", (uint64_t)nsb++, at);
		ref(&o, "from", "m", (uint64_t)from);
		ref(&o, "to", "m", (uint64_t)m);
		end(&o);
	}

	fprintf(stderr, "network.jsonl: %ld lines (%ld stores, %ld distributors, %ld members,"
		" %ld binds, %ld benefit shares, %ld store changes, %ld terminations)\n",
		o.lines, c->stores, c->dists, c->members, nbind, nsb, nsc, nterm);
	out_close(&o);
}

/* ---- a month ------------------------------------------------------------ */

enum { K_RATING, K_TERM, K_ORDER, K_REFUND, K_DSHARE, K_MSHARE };

/* One line of a month, sorted by (at, seq) before it is written. */
struct rec {
	int64_t at;
	uint32_t seq;   /* generation order, the tie-break */
	uint8_t kind, file; /* file: 0 the month, 1 late.jsonl */
	int64_t a, b;   /* kind-specific: order index / member / distributor, fen */
};

struct month {
	struct rec *r;
	size_t n, cap;
};

static void add(struct month *M, int64_t at, int kind, int64_t a, int64_t b, int file)
{
	if (M->n == M->cap) {
		M->cap = M->cap ? M->cap * 2 : 1 << 20;
		M->r = realloc(M->r, M->cap * sizeof *M->r);
		if (!M->r)
			exit(1);
	}
	M->r[M->n] = (struct rec){at, (uint32_t)M->n, (uint8_t)kind, (uint8_t)file, a, b};
	M->n++;
}

static int cmp_rec(const void *pa, const void *pb)
{
	const struct rec *a = pa, *b = pb;
	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Refunds of an order of `fen` at `t`, dated in [t, limit]: whole (45%),
 * one part (35%), or two parts (20%). `a` is the order index. */
static void refunds_of(struct month *M, struct rng *r, int64_t a, int64_t fen, int64_t t,
		       int64_t limit, int file)
{
	int64_t t1 = t + between(r, HOUR, 10 * DAY);
	if (t1 > limit)
		t1 = limit > t ? between(r, t, limit) : t;
	uint64_t k = below(r, 100);
	if (k < 45 || fen < 2) {
		add(M, t1, K_REFUND, a, fen, file);
	} else if (k < 80) {
		add(M, t1, K_REFUND, a, between(r, 1, fen - 1), file);
	} else {
		int64_t p1 = between(r, 1, fen - 1);
		int64_t p2 = chance(r, 1, 2) ? fen - p1 : between(r, 1, fen - p1);
		int64_t t2 = t1 + between(r, HOUR, 5 * DAY);
		if (t2 > limit)
			t2 = limit > t1 ? between(r, t1, limit) : t1;
		add(M, t1, K_REFUND, a, p1, file);
		add(M, t2, K_REFUND, a, p2, file);
	}
}

/* Writes month P's lines sorted by (at, generation order). Ids: orders
 * "oP-i", refunds "rP-n" (late ones "rlP-n", into `late`), distributor
 * shares "sdP-n", member shares "smP-n", ratings "srP-n", terminations
 * "tP-n". A refund record's `a` is the order index in this month, or -i-1
 * for month 1's order i. */
static void write_month(struct world *w, struct month *M, int p, struct out *o, struct out *late,
			const int64_t *o_member)
{
	char oprefix[8], rprefix[8], lprefix[8], shprefix[8], msprefix[8], srprefix[8], tprefix[8];
	snprintf(oprefix, sizeof oprefix, "o%d-", p);
	snprintf(rprefix, sizeof rprefix, "r%d-", p);
	snprintf(lprefix, sizeof lprefix, "rl%d-", p);
	snprintf(shprefix, sizeof shprefix, "sd%d-", p);
	snprintf(msprefix, sizeof msprefix, "sm%d-", p);
	snprintf(srprefix, sizeof srprefix, "sr%d-", p);
	snprintf(tprefix, sizeof tprefix, "t%d-", p);
	qsort(M->r, M->n, sizeof *M->r, cmp_rec);
	uint64_t nref = 0, nlate = 0, nsh = 0, nms = 0, nsr = 0, nt = 0;
	for (size_t i = 0; i < M->n; i++) {
		const struct rec *x = &M->r[i];
		switch (x->kind) {
		case K_ORDER:
			head(o, "order", oprefix, (uint64_t)x->a, x->at);
			ref(o, "member", "m", (uint64_t)o_member[x->a]);
			put(o, ",\"amount\":\"");
			put_fen(o, x->b);
			put(o, "\"");
			end(o);
			break;
		case K_REFUND: {
			/* a >= 0: this month's order a; a < 0: month 1's order -a-1 */
			struct out *dst = x->file ? late : o;
			head(dst, "refund", x->file ? lprefix : rprefix, x->file ? nlate++ : nref++, x->at);
			if (x->a >= 0)
				ref(dst, "order", oprefix, (uint64_t)x->a);
			else
				ref(dst, "order", "o1-", (uint64_t)(-x->a - 1));
			put(dst, ",\"amount\":\"");
			put_fen(dst, x->b);
			put(dst, "\"");
			end(dst);
			break;
		}
		case K_DSHARE:
			head(o, "share", shprefix, nsh++, x->at);
			ref(o, "distributor", "d", (uint64_t)x->a);
			end(o);
			break;
		case K_MSHARE:
			head(o, "share", msprefix, nms++, x->at);
			ref(o, "member", "m", (uint64_t)x->a);
			end(o);
			break;
		case K_RATING:
			head(o, "store_rating", srprefix, nsr++, x->at);
			ref(o, "store", "s", (uint64_t)x->a);
			put(o, ",\"rating\":\"");
			put_u(o, (uint64_t)x->b / 10);
			put(o, ".");
			put_u(o, (uint64_t)x->b % 10);
			put(o, "\"");
			end(o);
			break;
		case K_TERM:
			head(o, "terminate", tprefix, nt++, x->at);
			ref(o, "distributor", "d", (uint64_t)x->a);
			end(o);
			break;
		}
	}
	fprintf(stderr, "month %d: %ld lines (%llu refunds, %llu late refunds, %llu distributor"
		" shares, %llu member shares, %llu ratings, %llu terminations)\n", p, o->lines,
		(unsigned long long)nref, (unsigned long long)nlate, (unsigned long long)nsh,
		(unsigned long long)nms, (unsigned long long)nsr, (unsigned long long)nt);
}

/* Orders at evenly spread times over [start, stop) with a little jitter,
 * each by a member who has joined by then. */
static void gen_orders(struct world *w, struct month *M, struct rng *r, long n, int64_t start,
		       int64_t stop, int64_t *at, int64_t *fen, int64_t *member)
{
	double step = (double)(stop - start) / (double)n;
	for (long i = 0; i < n; i++) {
		int64_t t = start + (int64_t)((double)i * step) + (int64_t)(unit(r) * step);
		long m = pick_member(w, r, t);
		if (m < 0)
			m = 0, t = w->m_at[0];
		at[i] = t;
		fen[i] = order_fen(r);
		member[i] = m;
		add(M, t, K_ORDER, i, fen[i], 0);
	}
}

/* Shares and ratings common to both months. */
static void gen_activity(struct world *w, struct month *M, struct rng *r, long norders,
			 int64_t start, int64_t stop)
{
	long nd = norders * 3 / 10, nm = norders / 20;
	for (long i = 0; i < nd; i++) {
		int64_t t = between(r, start, stop - 1);
		long d = pick_dist(w, r, t, 1);
		if (d >= 0 && !w->d_term2[d])
			add(M, t, K_DSHARE, d, 0, 0);
	}
	for (long i = 0; i < nm; i++) {
		int64_t t = between(r, start, stop - 1);
		long m = pick_member(w, r, t);
		if (m >= 0)
			add(M, t, K_MSHARE, m, 0, 0);
	}
	for (long s = 0; s < w->c.stores; s++)
		if (chance(r, 1, 5))
			add(M, between(r, start, stop - 1), K_RATING, s, between(r, 25, 50), 0);
}

static void gen_month1(struct world *w)
{
	struct config *c = &w->c;
	struct rng r;
	struct out o;
	struct month M = {0};
	const int64_t start = local(2026, 1, 1, 0, 0, 0), stop = local(2026, 2, 1, 0, 0, 0);
	int64_t *member = malloc((size_t)c->orders1 * sizeof *member);
	if (!member)
		exit(1);
	rng_seed(&r, c->seed, S_MONTH1);
	out_open(&o, c->out, "month1.jsonl");
	gen_orders(w, &M, &r, c->orders1, start, stop, w->o1_at, w->o1_fen, member);
	for (long i = 0; i < c->orders1; i++)
		if (chance(&r, 3, 100)) {
			w->o1_refunded[i] = 1;
			refunds_of(&M, &r, i, w->o1_fen[i], w->o1_at[i], stop - 1, 0);
		}
	gen_activity(w, &M, &r, c->orders1, start, stop);
	write_month(w, &M, 1, &o, NULL, member);
	out_close(&o);
	free(M.r);
	free(member);
}

static void gen_month2(struct world *w)
{
	struct config *c = &w->c;
	struct rng r;
	struct out o, late;
	struct month M = {0};
	const int64_t start = local(2026, 2, 1, 0, 0, 0), stop = local(2026, 3, 1, 0, 0, 0);
	long n = c->orders2;
	int64_t *at = malloc((size_t)n * sizeof *at), *fen = malloc((size_t)n * sizeof *fen);
	int64_t *member = malloc((size_t)n * sizeof *member);
	if (!at || !fen || !member)
		exit(1);
	rng_seed(&r, c->seed, S_MONTH2);
	out_open(&o, c->out, "month2.jsonl");
	out_open(&late, c->out, "late.jsonl");
	gen_orders(w, &M, &r, n, start, stop, at, fen, member);
	for (long i = 0; i < n; i++)
		if (chance(&r, 3, 100))
			refunds_of(&M, &r, i, fen[i], at[i], stop - 1, 0);
	/* month-1 orders refunded now (dated 2026-02) and late (dated 2026-01) */
	long want = n / 200;
	for (int file = 0; file < 2; file++)
		for (long k = 0, tries = 0; k < want && tries < 100 * want; tries++) {
			long i = (long)below(&r, (uint64_t)c->orders1);
			if (w->o1_refunded[i])
				continue;
			w->o1_refunded[i] = 1;
			int64_t fen1 = chance(&r, 1, 2) ? w->o1_fen[i] : between(&r, 1, w->o1_fen[i]);
			int64_t t = file ? between(&r, w->o1_at[i], start - 1) : between(&r, start, stop - 1);
			add(&M, t, K_REFUND, -i - 1, fen1, file);
			k++;
		}
	gen_activity(w, &M, &r, n, start, stop);
	for (long d = 0; d < c->dists; d++)
		if (w->d_term2[d])
			add(&M, between(&r, start, stop - 1), K_TERM, d, 0, 0);
	write_month(w, &M, 2, &o, &late, member);
	fprintf(stderr, "late.jsonl: %ld lines\n", late.lines);
	out_close(&o);
	out_close(&late);
	free(M.r);
	free(at);
	free(fen);
	free(member);
}

/* ---- main ---------------------------------------------------------------- */

static long arg_long(const char *opt, const char *v)
{
	char *e;
	errno = 0;
	long n = v ? strtol(v, &e, 10) : 0;
	if (!v || errno || *e || n <= 0) {
		fprintf(stderr, "bench_gen: %s: expected a positive integer\n", opt);
		exit(2);
	}
	return n;
}

int main(int argc, char **argv)
{
	struct world w = {.c = {"/tmp/referral-bench-data", 20260201, 1000, 100000, 2000000,
				1000000, 1000000}};
	struct config *c = &w.c;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--out") && v)
			c->out = argv[++i];
		else if (!strcmp(a, "--seed"))
			c->seed = (uint64_t)arg_long(a, v), i++;
		else if (!strcmp(a, "--orders"))
			c->orders2 = arg_long(a, v), i++;
		else if (!strcmp(a, "--stores"))
			c->stores = arg_long(a, v), i++;
		else if (!strcmp(a, "--distributors"))
			c->dists = arg_long(a, v), i++;
		else if (!strcmp(a, "--members"))
			c->members = arg_long(a, v), i++;
		else if (!strcmp(a, "--month1-orders"))
			c->orders1 = arg_long(a, v), i++;
		else {
			fprintf(stderr, "usage: bench_gen [--out DIR] [--orders N] [--seed S] [--stores N]"
				" [--distributors N] [--members N] [--month1-orders N]\n");
			return 2;
		}
	}
	if (mkdir(c->out, 0777) && errno != EEXIST)
		die("cannot create", c->out);
	w.d_at = malloc((size_t)c->dists * sizeof *w.d_at);
	w.d_term = malloc((size_t)c->dists * sizeof *w.d_term);
	w.d_term2 = calloc((size_t)c->dists, 1);
	w.m_at = malloc((size_t)c->members * sizeof *w.m_at);
	w.o1_at = malloc((size_t)c->orders1 * sizeof *w.o1_at);
	w.o1_fen = malloc((size_t)c->orders1 * sizeof *w.o1_fen);
	w.o1_refunded = calloc((size_t)c->orders1, 1);
	if (!w.d_at || !w.d_term || !w.d_term2 || !w.m_at || !w.o1_at || !w.o1_fen || !w.o1_refunded)
		return 1;
	gen_network(&w);
	gen_month1(&w);
	gen_month2(&w);
	free(w.d_at);
	free(w.d_term);
	free(w.d_term2);
	free(w.m_at);
	free(w.o1_at);
	free(w.o1_fen);
	free(w.o1_refunded);
	return 0;
}
