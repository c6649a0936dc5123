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
 * Reads of earlier periods go to `main`; writes go to the `out` prefix.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "decimal.h"
#include "idmap.h"
#include "timeutil.h"

typedef __int128 fen_t; /* an amount in fen (0.01 yuan) */

struct dist {
	int64_t seq;
	int booked;
	int64_t term, term_seq;  /* termination instant and its seq; INT64_MAX if none */
	int64_t store;           /* store as of the end of the period */
	int64_t store_at;        /* instant of the last store change applied */
	int32_t recruiter;       /* index, or -1 */
	int grade;               /* grade(D, P) */
	fen_t com_fen;           /* her commissionable order amounts in P */
	fen_t ov_fen;            /* those of them whose recruiter was active */
	fen_t bounty_fen;        /* bounties earned minus reversed in P */
	fen_t sales_fen;         /* commission bases minus reversal bases */
	long members;            /* bounties earned minus reversed, counted */
	long shares;             /* her share events booked in P */
	mpq_t opening, commission, override; /* reversals gather here first */
	mpq_t line_sum[3];       /* LINES mode: commission, bounty, override lines */
};

struct binding {
	int64_t member, seq, bound_at;
	int32_t dist;
	int months;   /* the window fixed when the binding was made */
};

/* Bounty state per binding (SPEC §6.4), carried across periods. */
struct bstate {
	int64_t binding;
	fen_t net;      /* net commissionable spend */
	fen_t bounty;   /* the standing bounty, when standing */
	int standing;   /* earned by the binding's distributor */
};

/* How an order was attributed. */
struct attr {
	int32_t dist, recruiter;  /* indexes; recruiter -1 when no override */
	int64_t binding, member;
	int grade;
	const plan *pl;           /* the plan of the order's booking period */
	const mpq_t *rate;
};

/* Frozen grades of one earlier period, for refunds of its orders. */
struct old_grades {
	int period;
	struct idmap map; /* dist seq -> next_grade of the period before */
};

struct settle {
	referral_store *st;
	int period, mode;
	int64_t limit, period_end;
	const plan *pl;
	const char *out;
	struct dist *d;
	size_t nd;
	struct idmap dmap;
	struct binding *b;
	size_t nb;
	struct idmap first_binding; /* member seq -> index of her first binding */
	struct bstate *bs;
	size_t nbs, nbs_loaded, capbs;
	struct idmap bsmap;
	struct old_grades *og;
	size_t nog;
	int64_t *close_seq;      /* last seq of each closed period, by period - first */
	int first_closed, nclosed;
	sqlite3_stmt *ins_line;
	char value[160], base[160], rate[160];
	mpq_t x, y;
};

static int fail_nomem(struct settle *s) { return st_nomem(s->st); }

static int fail_overflow(struct settle *s)
{
	return st_fail(s->st, REFERRAL_EIO, "settlement: amounts too large to sum exactly");
}

/* ---- whole fen ------------------------------------------------------------ */

/* Parses a canonical money text ("2391.37", exactly two decimals) into fen. */
static int fen_parse(const char *s, fen_t *out)
{
	fen_t v = 0;
	int decimals = -1;
	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s == '.') {
			if (decimals >= 0)
				return -1;
			decimals = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || v > ((fen_t)1 << 120))
			return -1;
		v = v * 10 + (*s - '0');
		if (decimals >= 0)
			decimals++;
	}
	if (decimals != 2)
		return -1;
	*out = v;
	return 0;
}

static void fen_to_mpq(mpq_t out, fen_t v)
{
	unsigned __int128 m = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
	mpz_ptr num = mpq_numref(out);
	mpz_set_ui(num, (unsigned long)(uint64_t)(m >> 64));
	mpz_mul_2exp(num, num, 64);
	mpz_add_ui(num, num, (unsigned long)(uint64_t)m);
	if (v < 0)
		mpz_neg(num, num);
	mpz_set_ui(mpq_denref(out), 100);
	mpq_canonicalize(out);
}

static int fen_add(fen_t *acc, fen_t v)
{
	return __builtin_add_overflow(*acc, v, acc) ? -1 : 0;
}

/* A money value of the plan (at most two decimals) in fen. */
static int fen_of(const mpq_t money, fen_t *out)
{
	mpz_t z;
	int rc = 0;
	mpz_init(z);
	mpz_mul_ui(z, mpq_numref(money), 100);
	mpz_tdiv_q(z, z, mpq_denref(money));
	if (mpz_sizeinbase(z, 2) > 120) {
		rc = -1;
	} else {
		unsigned __int128 m = 0;
		size_t n = 0;
		uint64_t limbs[2] = {0, 0};
		mpz_export(limbs, &n, -1, sizeof limbs[0], 0, 0, z);
		m = ((unsigned __int128)limbs[1] << 64) | limbs[0];
		*out = mpz_sgn(z) < 0 ? -(fen_t)m : (fen_t)m;
	}
	mpz_clear(z);
	return rc;
}

/* ---- loading the network -------------------------------------------------- */

static int add_binding(struct settle *s, int64_t seq, int64_t member, int64_t dist_seq,
		       int64_t at, int months, size_t *cap)
{
	int32_t di = idmap_get(&s->dmap, dist_seq);
	if (di < 0)
		return 0; /* cannot happen: the distributor precedes the binding */
	if (s->nb == *cap) {
		size_t ncap = *cap ? *cap * 2 : 1024;
		struct binding *nb = realloc(s->b, ncap * sizeof *nb);
		if (!nb)
			return fail_nomem(s);
		s->b = nb;
		*cap = ncap;
	}
	s->b[s->nb++] = (struct binding){member, seq, at, di, months};
	return 0;
}

static int cmp_binding(const void *pa, const void *pb)
{
	const struct binding *a = pa, *b = pb;
	if (a->member != b->member)
		return a->member < b->member ? -1 : 1;
	return a->bound_at < b->bound_at ? -1 : a->bound_at > b->bound_at;
}

/* Orders the bindings by (member, bound_at). Those made by member events
 * come first and are in order already (a member's seq is her key, and the
 * scan is by seq); a member's first binding is always the one she joined
 * with. Only the binds are sorted, then the two runs are merged. */
static int sort_bindings(struct settle *s, size_t nmember)
{
	size_t nbind = s->nb - nmember;
	if (!nbind)
		return 0;
	qsort(s->b + nmember, nbind, sizeof *s->b, cmp_binding);
	struct binding *merged = malloc(s->nb * sizeof *merged);
	if (!merged)
		return fail_nomem(s);
	size_t i = 0, j = nmember, k = 0;
	while (i < nmember || j < s->nb) {
		if (j >= s->nb || (i < nmember && cmp_binding(&s->b[i], &s->b[j]) <= 0))
			merged[k++] = s->b[i++];
		else
			merged[k++] = s->b[j++];
	}
	free(s->b);
	s->b = merged;
	return 0;
}

/* Indexes every member's first binding, so that attribution finds hers in
 * one probe instead of a binary search over millions. */
static int index_bindings(struct settle *s)
{
	if (idmap_reserve(&s->first_binding, s->nb))
		return fail_nomem(s);
	for (size_t i = 0; i < s->nb; i++)
		if ((i == 0 || s->b[i - 1].member != s->b[i].member) &&
		    idmap_put(&s->first_binding, s->b[i].member, (int32_t)i))
			return fail_nomem(s);
	return 0;
}

static int new_dist(struct settle *s, size_t *cap, int64_t seq, int booked, int64_t store,
		    int64_t recruiter)
{
	if (s->nd == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		struct dist *nd = realloc(s->d, *cap * sizeof *nd);
		if (!nd)
			return fail_nomem(s);
		s->d = nd;
	}
	struct dist *d = &s->d[s->nd];
	memset(d, 0, offsetof(struct dist, opening));
	d->seq = seq;
	d->booked = booked;
	d->term = d->term_seq = INT64_MAX;
	d->store = store;
	d->store_at = INT64_MIN;
	d->recruiter = recruiter ? idmap_get(&s->dmap, recruiter) : -1;
	mpq_inits(d->opening, d->commission, d->override, d->line_sum[0], d->line_sum[1],
		  d->line_sum[2], NULL);
	if (idmap_put(&s->dmap, seq, (int32_t)s->nd))
		return fail_nomem(s); /* its values are cleared with the others */
	s->nd++;
	return 0;
}

static int load_network(struct settle *s)
{
	referral_store *st = s->st;
	sqlite3_stmt *q;
	size_t capd = 0, capb = 0, nmember_bindings = 0;
	int rc, step;

	/* the partial index events_network covers this scan (its condition is
	 * repeated so that the planner sees it), type by type: distributors
	 * first, then what refers to them */
	rc = st_prepare(st, "SELECT seq, type, at, booked, ref1, ref2, num FROM events"
			    " WHERE type BETWEEN 2 AND 7 AND type >= 3 AND seq <= ?1"
			    " ORDER BY type, seq", &q);
	if (rc)
		return rc;
	sqlite3_bind_int64(q, 1, s->limit);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0), at = sqlite3_column_int64(q, 2);
		int type = sqlite3_column_int(q, 1);
		int64_t ref1 = sqlite3_column_int64(q, 4), ref2 = sqlite3_column_int64(q, 5);
		int32_t di;
		switch (type) {
		case REFERRAL_EV_DISTRIBUTOR:
			rc = new_dist(s, &capd, seq, sqlite3_column_int(q, 3), ref1, ref2);
			break;
		case REFERRAL_EV_STORE_CHANGE:
			di = idmap_get(&s->dmap, ref1);
			/* the last change before the period ends, by (at, seq) */
			if (di >= 0 && at < s->period_end && at >= s->d[di].store_at) {
				s->d[di].store = ref2;
				s->d[di].store_at = at;
			}
			break;
		case REFERRAL_EV_TERMINATE:
			di = idmap_get(&s->dmap, ref1);
			if (di >= 0) {
				s->d[di].term = at;
				s->d[di].term_seq = seq;
			}
			break;
		case REFERRAL_EV_MEMBER:
			if (ref2)
				rc = add_binding(s, seq, seq, ref2, at, sqlite3_column_int(q, 6), &capb);
			nmember_bindings = s->nb;
			break;
		case REFERRAL_EV_BIND:
			rc = add_binding(s, seq, ref1, ref2, at, sqlite3_column_int(q, 6), &capb);
			break;
		}
		if (rc)
			break;
	}
	if (!rc && step != SQLITE_DONE)
		rc = st_sqlfail(st, "reading the network");
	sqlite3_finalize(q);
	if (rc)
		return rc;
	if ((rc = sort_bindings(s, nmember_bindings)))
		return rc;
	return index_bindings(s);
}

/* grade(D, P) from the close of P-1, the opening carry, and the close limits
 * of earlier periods. */
static int load_previous(struct settle *s)
{
	referral_store *st = s->st;
	sqlite3_stmt *q;
	int rc, step;

	for (size_t i = 0; i < s->nd; i++)
		s->d[i].grade = s->pl->initial_grade;
	if ((rc = st_prepare(st, "SELECT dist, next_grade FROM main.grades WHERE period = ?1", &q)))
		return rc;
	sqlite3_bind_int(q, 1, s->period - 1);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int32_t di = idmap_get(&s->dmap, sqlite3_column_int64(q, 0));
		if (di >= 0)
			s->d[di].grade = sqlite3_column_int(q, 1);
	}
	sqlite3_finalize(q);
	if (step != SQLITE_DONE)
		return st_sqlfail(st, "reading grades");

	if ((rc = st_prepare(st, "SELECT dist, closing_carry FROM main.statements WHERE period = ?1",
			     &q)))
		return rc;
	sqlite3_bind_int(q, 1, s->period - 1);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int32_t di = idmap_get(&s->dmap, sqlite3_column_int64(q, 0));
		const char *c = (const char *)sqlite3_column_text(q, 1);
		if (di >= 0 && dec_parse_signed(s->d[di].opening, c)) {
			sqlite3_finalize(q);
			return st_fail(st, REFERRAL_EIO, "storage: a stored carry is not a decimal");
		}
	}
	sqlite3_finalize(q);
	if (step != SQLITE_DONE)
		return st_sqlfail(st, "reading carries");

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

static int put_varint(struct strbuf *sb, unsigned __int128 v)
{
	char buf[20];
	int n = 0;
	do {
		unsigned char byte = v & 0x7F;
		v >>= 7;
		buf[n++] = (char)(byte | (v ? 0x80 : 0));
	} while (v);
	return sb_append(sb, buf, (size_t)n);
}

static int get_varint(const unsigned char **p, const unsigned char *end, unsigned __int128 *v)
{
	unsigned __int128 r = 0;
	for (int shift = 0; *p < end && shift < 128; shift += 7) {
		unsigned char byte = *(*p)++;
		r |= (unsigned __int128)(byte & 0x7F) << shift;
		if (!(byte & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

static unsigned __int128 zigzag(fen_t v)
{
	return v < 0 ? ((unsigned __int128)(-(v + 1)) << 1) | 1 : (unsigned __int128)v << 1;
}

static fen_t unzigzag(unsigned __int128 u) { return u & 1 ? -(fen_t)(u >> 1) - 1 : (fen_t)(u >> 1); }

static struct bstate *new_bstate(struct settle *s, int64_t binding)
{
	if (s->nbs == s->capbs) {
		size_t cap = s->capbs ? s->capbs * 2 : 4096;
		struct bstate *n = realloc(s->bs, cap * sizeof *n);
		if (!n)
			return NULL;
		s->bs = n;
		s->capbs = cap;
	}
	struct bstate *b = &s->bs[s->nbs];
	memset(b, 0, sizeof *b);
	b->binding = binding;
	if (idmap_put(&s->bsmap, binding, (int32_t)s->nbs))
		return NULL;
	s->nbs++;
	return b;
}

/* The snapshot: for every binding with a spend or a standing bounty, in
 * ascending binding seq: the seq's increase, the net spend in fen
 * (zigzag), and 0 or 1 + the standing bounty in fen; all as varints. */
static int load_snapshot(struct settle *s)
{
	sqlite3_stmt *q;
	int rc = st_prepare(s->st, "SELECT data FROM main.snapshots WHERE period = ?1", &q), step;
	if (rc)
		return rc;
	sqlite3_bind_int(q, 1, s->period - 1);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(q, 0);
		const unsigned char *end = p + sqlite3_column_bytes(q, 0);
		int64_t seq = 0;
		/* at least three bytes an entry: size the map once */
		if (idmap_reserve(&s->bsmap, (size_t)(end - p) / 3 + 1024)) {
			sqlite3_finalize(q);
			return fail_nomem(s);
		}
		while (p && p < end && !rc) {
			unsigned __int128 dseq, net, bounty;
			if (get_varint(&p, end, &dseq) || get_varint(&p, end, &net) ||
			    get_varint(&p, end, &bounty)) {
				rc = st_fail(s->st, REFERRAL_EIO, "storage: a bounty snapshot is damaged");
				break;
			}
			seq += (int64_t)dseq;
			struct bstate *b = new_bstate(s, seq);
			if (!b) {
				rc = fail_nomem(s);
				break;
			}
			b->net = unzigzag(net);
			b->standing = bounty != 0;
			b->bounty = bounty ? (fen_t)(bounty - 1) : 0;
		}
	} else if (step != SQLITE_DONE) {
		rc = st_sqlfail(s->st, "reading the bounty snapshot");
	}
	sqlite3_finalize(q);
	s->nbs_loaded = s->nbs;
	return rc;
}

static int cmp_bstate(const void *pa, const void *pb)
{
	const struct bstate *a = pa, *b = pb;
	return a->binding < b->binding ? -1 : a->binding > b->binding;
}

static int write_snapshot(struct settle *s)
{
	struct strbuf data = {0}, sql = {0};
	sqlite3_stmt *q;
	int rc;

	/* the loaded part is sorted already: sort what this period added, then
	 * merge the two runs while encoding */
	size_t nnew = s->nbs - s->nbs_loaded;
	if (nnew)
		qsort(s->bs + s->nbs_loaded, nnew, sizeof *s->bs, cmp_bstate);
	size_t i = 0, j = s->nbs_loaded;
	int64_t prev = 0;
	int oom = 0;
	while (i < s->nbs_loaded || j < s->nbs) {
		struct bstate *b;
		if (j >= s->nbs || (i < s->nbs_loaded && s->bs[i].binding < s->bs[j].binding))
			b = &s->bs[i++];
		else
			b = &s->bs[j++];
		if (b->net == 0 && !b->standing)
			continue;
		oom |= put_varint(&data, (unsigned __int128)(b->binding - prev));
		oom |= put_varint(&data, zigzag(b->net));
		oom |= put_varint(&data, b->standing ? (unsigned __int128)b->bounty + 1 : 0);
		prev = b->binding;
	}
	if (oom || sb_printf(&sql, "INSERT INTO %ssnapshots(period, data) VALUES(?1, ?2)", s->out)) {
		sb_free(&data);
		return fail_nomem(s);
	}
	rc = st_prepare(s->st, sb_str(&sql), &q);
	sb_free(&sql);
	if (!rc) {
		sqlite3_bind_int(q, 1, s->period);
		sqlite3_bind_blob(q, 2, data.data ? data.data : "", (int)data.len, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = st_sqlfail(s->st, "writing the bounty snapshot");
		sqlite3_finalize(q);
	}
	sb_free(&data);
	return rc;
}

static struct bstate *bounty_state(struct settle *s, int64_t binding)
{
	int32_t i = idmap_get(&s->bsmap, binding);
	return i >= 0 ? &s->bs[i] : new_bstate(s, binding);
}

/* ---- attribution ------------------------------------------------------------- */

/* The grade of distributor `di` in an earlier period p: the next grade
 * frozen when p-1 closed, or the initial grade of the plan for p. */
static int old_grade(struct settle *s, int32_t di, int p, int *grade)
{
	struct old_grades *g = NULL;
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
	int32_t first = idmap_get(&s->first_binding, member);
	if (first < 0)
		return 0; /* never bound */
	/* past her bindings made by t (few: usually one) */
	size_t end = (size_t)first;
	while (end < s->nb && s->b[end].member == member && s->b[end].bound_at <= t)
		end++;
	/* her latest binding made by then that the settlement of p knew of */
	const struct binding *b = NULL;
	while (end > (size_t)first) {
		if (s->b[--end].seq <= limit) {
			b = &s->b[end];
			break;
		}
	}
	if (!b)
		return 0;
	const struct dist *d = &s->d[b->dist];
	int64_t term = d->term_seq <= limit ? d->term : INT64_MAX;
	if (t >= binding_end(s->st, b->bound_at, b->months, term))
		return 0;

	a->dist = b->dist;
	a->binding = b->seq;
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
	a->recruiter = r >= 0 && !(s->d[r].term_seq <= limit && s->d[r].term <= t) ? r : -1;
	return 1;
}

/* ---- lines (LINES mode) ------------------------------------------------------ */

static int put_line(struct settle *s, int32_t dist, int type, int64_t event, int64_t ord,
		    const struct attr *a, int32_t source, const char *base, const char *rate,
		    const mpq_t value)
{
	static const int sum_of[7] = {0, 1, 1, 0, 0, 2, 2};
	sqlite3_stmt *q = s->ins_line;
	mpq_add(s->d[dist].line_sum[sum_of[type]], s->d[dist].line_sum[sum_of[type]], value);
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
	sqlite3_bind_int64(q, 8, a->binding);
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

/* ---- orders and refunds ------------------------------------------------------- */

static int settle_order(struct settle *s, int64_t seq, int64_t t, int64_t member,
			const char *amount)
{
	struct attr a;
	fen_t fen;
	int rc = attribute(s, member, t, s->period, s->limit, &a);
	if (rc <= 0)
		return -rc; /* unattributed: nothing for anyone */
	if (fen_parse(amount, &fen))
		return st_fail(s->st, REFERRAL_EIO, "storage: an order amount is not money");
	struct dist *d = &s->d[a.dist];
	if (fen_add(&d->com_fen, fen) || fen_add(&d->sales_fen, fen) ||
	    (a.recruiter >= 0 && fen_add(&d->ov_fen, fen)))
		return fail_overflow(s);
	if (s->mode == SETTLE_LINES) {
		fen_to_mpq(s->x, fen);
		mpq_mul(s->x, s->x, *a.rate); /* the commission */
		dec_format(s->rate, sizeof s->rate, *a.rate);
		if ((rc = put_line(s, a.dist, LINE_COMMISSION, seq, seq, &a, -1, amount, s->rate,
				   s->x)))
			return rc;
	}

	struct bstate *bs = bounty_state(s, a.binding);
	if (!bs)
		return fail_nomem(s);
	int was_zero = bs->net == 0;
	if (fen_add(&bs->net, fen))
		return fail_overflow(s);
	if (was_zero && bs->net > 0) {
		if (fen_of(a.pl->grades[a.grade - 1].bounty, &bs->bounty))
			return fail_overflow(s);
		bs->standing = 1;
		d->members++;
		if (fen_add(&d->bounty_fen, bs->bounty))
			return fail_overflow(s);
		if (s->mode == SETTLE_LINES &&
		    (rc = put_bounty_line(s, LINE_BOUNTY, seq, seq, &a, a.dist, bs->bounty)))
			return rc;
	}

	if (a.recruiter >= 0 && s->mode == SETTLE_LINES) {
		mpq_mul(s->y, s->x, a.pl->override_rate);
		dec_format(s->base, sizeof s->base, s->x);
		dec_format(s->rate, sizeof s->rate, a.pl->override_rate);
		if ((rc = put_line(s, a.recruiter, LINE_OVERRIDE, seq, seq, &a, a.dist, s->base,
				   s->rate, s->y)))
			return rc;
	}
	return 0;
}

static int settle_refund(struct settle *s, int64_t seq, int64_t ord, const char *amount)
{
	referral_store *st = s->st;
	sqlite3_stmt *q = st->q[Q_BY_SEQ];
	struct attr a;
	fen_t fen;
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
	if (fen_parse(amount, &fen))
		return st_fail(st, REFERRAL_EIO, "storage: a refund amount is not money");

	struct dist *d = &s->d[a.dist];
	fen_to_mpq(s->x, fen);
	mpq_mul(s->x, s->x, *a.rate); /* the commission reversed */
	mpq_sub(d->commission, d->commission, s->x);
	if (fen_add(&d->sales_fen, -fen))
		return fail_overflow(s);
	if (s->mode == SETTLE_LINES) {
		mpq_neg(s->y, s->x);
		dec_format(s->rate, sizeof s->rate, *a.rate);
		if ((rc = put_line(s, a.dist, LINE_COMMISSION_REVERSAL, seq, ord, &a, -1, amount,
				   s->rate, s->y)))
			return rc;
	}
	if (a.recruiter >= 0) {
		struct dist *r = &s->d[a.recruiter];
		mpq_mul(s->y, s->x, a.pl->override_rate);
		mpq_sub(r->override, r->override, s->y);
		if (s->mode == SETTLE_LINES) {
			mpq_neg(s->y, s->y);
			dec_format(s->base, sizeof s->base, s->x);
			dec_format(s->rate, sizeof s->rate, a.pl->override_rate);
			if ((rc = put_line(s, a.recruiter, LINE_OVERRIDE_REVERSAL, seq, ord, &a, a.dist,
					   s->base, s->rate, s->y)))
				return rc;
		}
	}

	struct bstate *bs = bounty_state(s, a.binding);
	if (!bs)
		return fail_nomem(s);
	if (fen_add(&bs->net, -fen))
		return fail_overflow(s);
	if (bs->net == 0 && bs->standing) {
		/* reversed at its original value, to whoever earned it: the
		 * binding's distributor */
		int32_t who = a.dist;
		bs->standing = 0;
		s->d[who].members--;
		if (fen_add(&s->d[who].bounty_fen, -bs->bounty))
			return fail_overflow(s);
		if (s->mode == SETTLE_LINES &&
		    (rc = put_bounty_line(s, LINE_BOUNTY_REVERSAL, seq, ord, &a, who, -bs->bounty)))
			return rc;
		bs->bounty = 0;
	}
	return 0;
}

static int stream_period(struct settle *s)
{
	sqlite3_stmt *q;
	int rc, step;
	long done = 0;

	rc = st_prepare(s->st, "SELECT seq, type, at, ref1, num, txt1 FROM events"
			       " WHERE booked = ?1 AND seq <= ?2 AND type IN (9, 10, 11)"
			       " ORDER BY at, seq", &q);
	if (rc)
		return rc;
	sqlite3_bind_int(q, 1, s->period);
	sqlite3_bind_int64(q, 2, s->limit);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		st_progress(s->st, "settle", ++done);
		int64_t seq = sqlite3_column_int64(q, 0), t = sqlite3_column_int64(q, 2);
		int64_t ref1 = sqlite3_column_int64(q, 3);
		const char *num = (const char *)sqlite3_column_text(q, 4);
		int type = sqlite3_column_int(q, 1);
		if (type == REFERRAL_EV_ORDER) {
			rc = settle_order(s, seq, t, ref1, num);
		} else if (type == REFERRAL_EV_REFUND) {
			rc = settle_refund(s, seq, ref1, num);
		} else {
			/* a share: counted for grading when a distributor's */
			const char *by = (const char *)sqlite3_column_text(q, 5);
			int32_t di = by && by[0] == 'd' ? idmap_get(&s->dmap, ref1) : -1;
			if (di >= 0)
				s->d[di].shares++;
		}
		if (rc)
			break;
	}
	sqlite3_finalize(q);
	if (!rc && step != SQLITE_DONE)
		rc = st_sqlfail(s->st, "reading the period's events");
	return rc;
}

/* ---- statements -------------------------------------------------------------- */

/* Turns the sums in fen into each distributor's exact commission, bounty
 * and override: once per distributor, not once per order. */
static void finish_sums(struct settle *s)
{
	for (size_t i = 0; i < s->nd; i++) {
		struct dist *d = &s->d[i];
		const mpq_t *rate = (const mpq_t *)&s->pl->grades[d->grade - 1].rate;
		if (d->com_fen) {
			fen_to_mpq(s->x, d->com_fen);
			mpq_mul(s->x, s->x, *rate);
			mpq_add(d->commission, d->commission, s->x);
		}
		if (d->ov_fen && d->recruiter >= 0) {
			fen_to_mpq(s->x, d->ov_fen);
			mpq_mul(s->x, s->x, *rate);
			mpq_mul(s->x, s->x, s->pl->override_rate);
			mpq_add(s->d[d->recruiter].override, s->d[d->recruiter].override, s->x);
		}
	}
}

/* LINES mode: the lines of each distributor must add up to her sums. */
static int check_lines(struct settle *s)
{
	for (size_t i = 0; i < s->nd; i++) {
		struct dist *d = &s->d[i];
		fen_to_mpq(s->x, d->bounty_fen);
		const char *what = NULL;
		if (!mpq_equal(d->line_sum[0], d->commission))
			what = "commission";
		else if (!mpq_equal(d->line_sum[1], s->x))
			what = "bounty";
		else if (!mpq_equal(d->line_sum[2], d->override))
			what = "override";
		if (!what)
			continue;
		char p[8];
		period_format(s->period, p);
		sqlite3_stmt *q = s->st->q[Q_BY_SEQ];
		sqlite3_bind_int64(q, 1, d->seq);
		int found = sqlite3_step(q) == SQLITE_ROW;
		int rc = st_fail(s->st, REFERRAL_EVERIFY,
				 "verify: period %s: the %s lines of distributor %s do not add up"
				 " to her statement", p, what,
				 found ? (const char *)sqlite3_column_text(q, 1) : "?");
		sqlite3_reset(q);
		return rc;
	}
	return 0;
}

static int write_statements(struct settle *s)
{
	struct strbuf sql = {0};
	sqlite3_stmt *q;
	mpq_t bounty, accrued, total, payable, carry, sales;
	char txt[9][160];
	int rc = 0;

	if (sb_printf(&sql, "INSERT INTO %sstatements(period, dist, store, grade, opening_carry,"
			    " commission, bounty, override, accrued, total, payable, closing_carry,"
			    " members, sales, shares)"
			    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
		      s->out))
		return fail_nomem(s);
	rc = st_prepare(s->st, sb_str(&sql), &q);
	sb_free(&sql);
	if (rc)
		return rc;
	mpq_inits(bounty, accrued, total, payable, carry, sales, NULL);
	for (size_t i = 0; i < s->nd && !rc; i++) {
		struct dist *d = &s->d[i];
		if (d->booked > s->period)
			continue; /* appears in the period her event is booked in */
		fen_to_mpq(bounty, d->bounty_fen);
		fen_to_mpq(sales, d->sales_fen);
		mpq_add(accrued, d->commission, bounty);
		mpq_add(accrued, accrued, d->override);
		mpq_add(total, d->opening, accrued);
		dec_round_fen(payable, total, s->pl->rounding);
		if (mpq_sgn(payable) < 0 || mpq_cmp(payable, s->pl->min_payout) < 0)
			mpq_set_ui(payable, 0, 1);
		mpq_sub(carry, total, payable);
		const mpq_t *vals[9] = {&d->opening, &d->commission, &bounty, &d->override,
					&accrued, &total, &payable, &carry, &sales};
		sqlite3_bind_int(q, 1, s->period);
		sqlite3_bind_int64(q, 2, d->seq);
		sqlite3_bind_int64(q, 3, d->store);
		sqlite3_bind_int(q, 4, d->grade);
		for (int k = 0; k < 9; k++)
			dec_format(txt[k], sizeof txt[k], *vals[k]);
		for (int k = 0; k < 8; k++)
			sqlite3_bind_text(q, 5 + k, txt[k], -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 13, d->members);
		sqlite3_bind_text(q, 14, txt[8], -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 15, d->shares);
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = st_sqlfail(s->st, "writing a statement");
		sqlite3_reset(q);
	}
	mpq_clears(bounty, accrued, total, payable, carry, sales, NULL);
	sqlite3_finalize(q);
	return rc;
}

/* ---- the pass -------------------------------------------------------------------- */

static void settle_free(struct settle *s)
{
	for (size_t i = 0; i < s->nd; i++)
		mpq_clears(s->d[i].opening, s->d[i].commission, s->d[i].override,
			   s->d[i].line_sum[0], s->d[i].line_sum[1], s->d[i].line_sum[2], NULL);
	free(s->d);
	idmap_free(&s->dmap);
	free(s->b);
	idmap_free(&s->first_binding);
	free(s->bs);
	idmap_free(&s->bsmap);
	for (size_t k = 0; k < s->nog; k++)
		idmap_free(&s->og[k].map);
	free(s->og);
	free(s->close_seq);
	sqlite3_finalize(s->ins_line);
	mpq_clears(s->x, s->y, NULL);
}

int settle_period(referral_store *st, int period, int64_t limit, const char *out, int mode)
{
	struct settle s;
	struct strbuf sql = {0};
	int rc = 0;

	memset(&s, 0, sizeof s);
	s.st = st;
	s.period = period;
	s.mode = mode;
	s.limit = limit;
	s.out = out;
	s.pl = st_plan_for(st, period);
	s.period_end = period_start(period + 1, s.pl->utc_offset_min);
	mpq_inits(s.x, s.y, NULL);

	if (mode == SETTLE_LINES) {
		if (sb_printf(&sql, "INSERT INTO %slines(period, dist, type, event, ord, member,"
				    " source, binding, base, rate, value)"
				    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", out))
			rc = st_nomem(st);
		else
			rc = st_prepare(st, sb_str(&sql), &s.ins_line);
	}
	if (!rc && !(rc = load_network(&s)) && !(rc = load_previous(&s)) &&
	    !(rc = load_snapshot(&s)) && !(rc = stream_period(&s))) {
		finish_sums(&s);
		if (mode == SETTLE_LINES)
			rc = check_lines(&s);
		else if (!(rc = write_snapshot(&s)))
			rc = write_statements(&s);
	}
	sb_free(&sql);
	settle_free(&s);
	return rc;
}
