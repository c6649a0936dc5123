/*
 * settle.c — one settlement pass over a period (SPEC §6, §7).
 *
 * The pass loads the network as of the event limit (distributors, their
 * recruiters, terminations and stores, and every member's bindings), then
 * streams the orders and refunds booked in the period in (at, seq) order,
 * accumulating each distributor's commission, bounty and override exactly
 * and writing one line per effect. Refunds of orders settled in an earlier
 * period reverse the lines stored then; refunds of orders booked in this
 * period re-derive the order's attribution, which the pass computes the same
 * way every time. Statements are written last, rounded once per
 * distributor.
 *
 * Reads of earlier periods go to the frozen tables in `main`; writes go to
 * the `out` prefix ("main." for settle and close, "temp.v_" for verify).
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "decimal.h"
#include "idmap.h"
#include "timeutil.h"

struct dist {
	int64_t seq;
	int booked;
	int64_t term;       /* termination instant, INT64_MAX if none */
	int64_t store;      /* store as of the end of the period */
	int64_t store_at;   /* instant of the last store change applied */
	int32_t recruiter;  /* index, or -1 */
	int grade;          /* grade(D, P) */
	mpq_t opening, commission, bounty, override;
};

struct binding {
	int64_t member, seq, bound_at, end;
	int32_t dist;
	int months;   /* the window fixed when the binding was made */
};

/* Bounty state per binding (SPEC §6.4), carried across periods. */
struct bstate {
	int64_t binding;
	mpq_t net;          /* net commissionable spend */
	mpq_t bounty;       /* the standing bounty, valid when standing */
	int standing;
};

/* How an order was attributed. */
struct attr {
	int32_t dist, recruiter; /* indexes; recruiter -1 when no override */
	int64_t binding, member;
	mpq_t rate, orate;
};

struct settle {
	referral_store *st;
	int period;
	int64_t limit, period_end;
	const plan *pl;
	struct dist *d;
	size_t nd;
	struct idmap dmap;
	struct binding *b;
	size_t nb;
	struct bstate *bs;
	size_t nbs, capbs;
	struct idmap bsmap;
	sqlite3_stmt *ins_line, *get_bstate, *orig_lines;
	char rate_txt[PLAN_GRADES][128], orate_txt[128];
	mpq_t x, y, amount;
	struct attr at;
	char base[160], value[160];
};

static int fail_nomem(struct settle *s) { return st_nomem(s->st); }

/* ---- loading the network ------------------------------------------------ */

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
	s->b[s->nb++] = (struct binding){member, seq, at, 0, di, months};
	return 0;
}

static int cmp_binding(const void *pa, const void *pb)
{
	const struct binding *a = pa, *b = pb;
	if (a->member != b->member)
		return a->member < b->member ? -1 : 1;
	return a->bound_at < b->bound_at ? -1 : a->bound_at > b->bound_at;
}

static int load_network(struct settle *s)
{
	referral_store *st = s->st;
	sqlite3_stmt *q;
	size_t capd = 0, capb = 0;
	int rc, step;

	rc = st_prepare(st, "SELECT seq, type, at, booked, ref1, ref2, num FROM events"
			    " WHERE type IN (3, 4, 5, 6, 7) AND seq <= ?1 ORDER BY seq", &q);
	if (rc)
		return rc;
	sqlite3_bind_int64(q, 1, s->limit);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0), at = sqlite3_column_int64(q, 2);
		int type = sqlite3_column_int(q, 1), booked = sqlite3_column_int(q, 3);
		int64_t ref1 = sqlite3_column_int64(q, 4), ref2 = sqlite3_column_int64(q, 5);
		int32_t di;
		switch (type) {
		case REFERRAL_EV_DISTRIBUTOR:
			if (s->nd == capd) {
				capd = capd ? capd * 2 : 256;
				struct dist *nd = realloc(s->d, capd * sizeof *nd);
				if (!nd) {
					rc = fail_nomem(s);
					goto out;
				}
				s->d = nd;
			}
			struct dist *d = &s->d[s->nd];
			d->seq = seq;
			d->booked = booked;
			d->term = INT64_MAX;
			d->store = ref1;
			d->store_at = INT64_MIN;
			d->recruiter = ref2 ? idmap_get(&s->dmap, ref2) : -1;
			d->grade = 0;
			mpq_inits(d->opening, d->commission, d->bounty, d->override, NULL);
			if (idmap_put(&s->dmap, seq, (int32_t)s->nd)) {
				mpq_clears(d->opening, d->commission, d->bounty, d->override, NULL);
				rc = fail_nomem(s);
				goto out;
			}
			s->nd++;
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
			if (di >= 0)
				s->d[di].term = at;
			break;
		case REFERRAL_EV_MEMBER:
			if (ref2 && (rc = add_binding(s, seq, seq, ref2, at, sqlite3_column_int(q, 6),
						      &capb)))
				goto out;
			break;
		case REFERRAL_EV_BIND:
			if ((rc = add_binding(s, seq, ref1, ref2, at, sqlite3_column_int(q, 6), &capb)))
				goto out;
			break;
		}
	}
	if (step != SQLITE_DONE)
		rc = st_sqlfail(st, "reading the network");
out:
	sqlite3_finalize(q);
	if (rc)
		return rc;
	for (size_t i = 0; i < s->nb; i++) {
		struct binding *b = &s->b[i];
		b->end = binding_end(st, b->bound_at, b->months, s->d[b->dist].term);
	}
	if (s->nb)
		qsort(s->b, s->nb, sizeof *s->b, cmp_binding);
	return 0;
}

/* grade(D, P) from the close of P-1, and the opening carry. */
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
		if (di >= 0 && c && dec_parse_signed(s->d[di].opening, c)) {
			sqlite3_finalize(q);
			return st_fail(st, REFERRAL_EIO, "storage: a stored carry is not a decimal");
		}
	}
	sqlite3_finalize(q);
	if (step != SQLITE_DONE)
		return st_sqlfail(st, "reading carries");
	return 0;
}

/* The binding of `member` active at `t`, or NULL. */
static const struct binding *binding_at(const struct settle *s, int64_t member, int64_t t)
{
	size_t lo = 0, hi = s->nb;
	/* the first binding of a later member, or with bound_at > t */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct binding *b = &s->b[mid];
		if (b->member < member || (b->member == member && b->bound_at <= t))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct binding *b = &s->b[lo - 1];
	return b->member == member && t < b->end ? b : NULL;
}

/* ---- state per binding ------------------------------------------------- */

static struct bstate *bounty_state(struct settle *s, int64_t binding)
{
	int32_t i = idmap_get(&s->bsmap, binding);
	if (i >= 0)
		return &s->bs[i];
	if (s->nbs == s->capbs) {
		size_t cap = s->capbs ? s->capbs * 2 : 1024;
		struct bstate *n = realloc(s->bs, cap * sizeof *n);
		if (!n)
			return NULL;
		s->bs = n;
		s->capbs = cap;
	}
	struct bstate *b = &s->bs[s->nbs];
	b->binding = binding;
	b->standing = 0;
	mpq_inits(b->net, b->bounty, NULL);
	if (idmap_put(&s->bsmap, binding, (int32_t)s->nbs)) {
		mpq_clears(b->net, b->bounty, NULL);
		return NULL;
	}
	s->nbs++;

	/* the state left by the last period that touched this binding */
	sqlite3_stmt *q = s->get_bstate;
	sqlite3_bind_int64(q, 1, binding);
	sqlite3_bind_int(q, 2, s->period);
	if (sqlite3_step(q) == SQLITE_ROW) {
		const char *net = (const char *)sqlite3_column_text(q, 0);
		const char *bounty = (const char *)sqlite3_column_text(q, 1);
		dec_parse_signed(b->net, net);
		if (bounty && bounty[0]) {
			dec_parse_signed(b->bounty, bounty);
			b->standing = 1;
		}
	}
	sqlite3_reset(q);
	return b;
}

/* ---- lines --------------------------------------------------------------- */

static int put_line(struct settle *s, int32_t dist, int type, int64_t event, int64_t ord,
		    int64_t member, int32_t source, int64_t binding, const char *base,
		    const char *rate, const mpq_t value)
{
	sqlite3_stmt *q = s->ins_line;
	dec_format(s->value, sizeof s->value, value);
	sqlite3_bind_int(q, 1, s->period);
	sqlite3_bind_int64(q, 2, s->d[dist].seq);
	sqlite3_bind_int(q, 3, type);
	sqlite3_bind_int64(q, 4, event);
	sqlite3_bind_int64(q, 5, ord);
	sqlite3_bind_int64(q, 6, member);
	if (source >= 0)
		sqlite3_bind_int64(q, 7, s->d[source].seq);
	else
		sqlite3_bind_null(q, 7);
	sqlite3_bind_int64(q, 8, binding);
	sqlite3_bind_text(q, 9, base, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 10, rate, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 11, s->value, -1, SQLITE_STATIC);
	int step = sqlite3_step(q);
	sqlite3_reset(q);
	if (step != SQLITE_DONE)
		return st_sqlfail(s->st, "writing a line");
	return 0;
}

/* Attributes an order booked in this period (SPEC §6.1-2, 5): 1 if
 * commissionable (s->at filled), 0 if not. */
static int attribute(struct settle *s, int64_t member, int64_t t)
{
	const struct binding *b = binding_at(s, member, t);
	if (!b)
		return 0;
	struct attr *a = &s->at;
	a->dist = b->dist;
	a->binding = b->seq;
	a->member = member;
	mpq_set(a->rate, s->pl->grades[s->d[b->dist].grade - 1].rate);
	int32_t r = s->d[b->dist].recruiter;
	a->recruiter = r >= 0 && s->d[r].term > t ? r : -1;
	mpq_set(a->orate, s->pl->override_rate);
	return 1;
}

static int settle_order(struct settle *s, int64_t seq, int64_t t, int64_t member,
			const char *amount)
{
	if (!attribute(s, member, t))
		return 0; /* unattributed: nothing for anyone */
	struct attr *a = &s->at;
	struct dist *d = &s->d[a->dist];
	int g = d->grade, rc;

	dec_parse_signed(s->amount, amount);
	mpq_mul(s->x, s->amount, a->rate); /* the commission */
	mpq_add(d->commission, d->commission, s->x);
	if ((rc = put_line(s, a->dist, LINE_COMMISSION, seq, seq, member, -1, a->binding, amount,
			   s->rate_txt[g - 1], s->x)))
		return rc;

	struct bstate *bs = bounty_state(s, a->binding);
	if (!bs)
		return fail_nomem(s);
	int was_zero = mpq_sgn(bs->net) == 0;
	mpq_add(bs->net, bs->net, s->amount);
	if (was_zero && mpq_sgn(bs->net) > 0) {
		mpq_set(bs->bounty, s->pl->grades[g - 1].bounty);
		bs->standing = 1;
		mpq_add(d->bounty, d->bounty, bs->bounty);
		if ((rc = put_line(s, a->dist, LINE_BOUNTY, seq, seq, member, -1, a->binding, NULL,
				   NULL, bs->bounty)))
			return rc;
	}

	if (a->recruiter >= 0) {
		struct dist *r = &s->d[a->recruiter];
		mpq_mul(s->y, s->x, a->orate);
		mpq_add(r->override, r->override, s->y);
		dec_format(s->base, sizeof s->base, s->x);
		if ((rc = put_line(s, a->recruiter, LINE_OVERRIDE, seq, seq, member, a->dist,
				   a->binding, s->base, s->orate_txt, s->y)))
			return rc;
	}
	return 0;
}

/* The attribution of an order settled in an earlier period, from its
 * stored lines: 1 found, 0 unattributed, else a negative status. */
static int stored_attribution(struct settle *s, int64_t ord)
{
	sqlite3_stmt *q = s->orig_lines;
	struct attr *a = &s->at;
	int found = 0, step;

	a->recruiter = -1;
	sqlite3_bind_int64(q, 1, ord);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int type = sqlite3_column_int(q, 0);
		int32_t di = idmap_get(&s->dmap, sqlite3_column_int64(q, 1));
		const char *rate = (const char *)sqlite3_column_text(q, 2);
		if (di < 0 || !rate)
			continue;
		if (type == LINE_COMMISSION) {
			a->dist = di;
			a->binding = sqlite3_column_int64(q, 3);
			a->member = sqlite3_column_int64(q, 4);
			dec_parse_signed(a->rate, rate);
			found = 1;
		} else {
			a->recruiter = di;
			dec_parse_signed(a->orate, rate);
		}
	}
	sqlite3_reset(q);
	if (step != SQLITE_DONE)
		return -st_sqlfail(s->st, "reading an order's lines");
	return found;
}

static int settle_refund(struct settle *s, int64_t seq, int64_t ord, const char *amount)
{
	referral_store *st = s->st;
	sqlite3_stmt *q = st->q[Q_BY_SEQ];
	int rc, found;

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

	if (booked == s->period)
		found = attribute(s, member, t);
	else if ((found = stored_attribution(s, ord)) < 0)
		return -found;
	if (!found)
		return 0; /* an unattributed order: nothing to reverse */

	struct attr *a = &s->at;
	struct dist *d = &s->d[a->dist];
	char rate[128];
	dec_parse_signed(s->amount, amount);
	mpq_mul(s->x, s->amount, a->rate); /* the commission reversed */
	mpq_sub(d->commission, d->commission, s->x);
	mpq_neg(s->y, s->x);
	dec_format(rate, sizeof rate, a->rate);
	if ((rc = put_line(s, a->dist, LINE_COMMISSION_REVERSAL, seq, ord, a->member, -1, a->binding,
			   amount, rate, s->y)))
		return rc;

	if (a->recruiter >= 0) {
		struct dist *r = &s->d[a->recruiter];
		mpq_mul(s->y, s->x, a->orate);
		mpq_sub(r->override, r->override, s->y);
		mpq_neg(s->y, s->y);
		dec_format(s->base, sizeof s->base, s->x);
		dec_format(rate, sizeof rate, a->orate);
		if ((rc = put_line(s, a->recruiter, LINE_OVERRIDE_REVERSAL, seq, ord, a->member,
				   a->dist, a->binding, s->base, rate, s->y)))
			return rc;
	}

	struct bstate *bs = bounty_state(s, a->binding);
	if (!bs)
		return fail_nomem(s);
	mpq_sub(bs->net, bs->net, s->amount);
	if (mpq_sgn(bs->net) == 0 && bs->standing) {
		bs->standing = 0;
		mpq_sub(d->bounty, d->bounty, bs->bounty);
		mpq_neg(s->y, bs->bounty);
		if ((rc = put_line(s, a->dist, LINE_BOUNTY_REVERSAL, seq, ord, a->member, -1,
				   a->binding, NULL, NULL, s->y)))
			return rc;
	}
	return 0;
}

static int stream_period(struct settle *s)
{
	sqlite3_stmt *q;
	int rc, step;

	rc = st_prepare(s->st, "SELECT seq, type, at, ref1, num FROM events"
			       " WHERE booked = ?1 AND seq <= ?2 AND type IN (9, 10) ORDER BY at, seq",
			&q);
	if (rc)
		return rc;
	sqlite3_bind_int(q, 1, s->period);
	sqlite3_bind_int64(q, 2, s->limit);
	long done = 0;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		st_progress(s->st, "settle", ++done);
		int64_t seq = sqlite3_column_int64(q, 0), t = sqlite3_column_int64(q, 2);
		int64_t ref1 = sqlite3_column_int64(q, 3);
		const char *num = (const char *)sqlite3_column_text(q, 4);
		if (sqlite3_column_int(q, 1) == REFERRAL_EV_ORDER)
			rc = settle_order(s, seq, t, ref1, num);
		else
			rc = settle_refund(s, seq, ref1, num);
		if (rc)
			break;
	}
	sqlite3_finalize(q);
	if (!rc && step != SQLITE_DONE)
		rc = st_sqlfail(s->st, "reading the period's events");
	return rc;
}

/* ---- statements and carried state ---------------------------------------- */

static int write_bounty_states(struct settle *s, const char *out)
{
	struct strbuf sql = {0};
	sqlite3_stmt *q;
	int rc;
	char net[160], bounty[160];

	if (sb_printf(&sql, "INSERT INTO %sbounty_state(binding, period, net, bounty)"
			    " VALUES(?1, ?2, ?3, ?4)", out))
		return fail_nomem(s);
	rc = st_prepare(s->st, sb_str(&sql), &q);
	sb_free(&sql);
	if (rc)
		return rc;
	for (size_t i = 0; i < s->nbs && !rc; i++) {
		struct bstate *b = &s->bs[i];
		dec_format(net, sizeof net, b->net);
		if (b->standing)
			dec_format(bounty, sizeof bounty, b->bounty);
		else
			bounty[0] = '\0';
		sqlite3_bind_int64(q, 1, b->binding);
		sqlite3_bind_int(q, 2, s->period);
		sqlite3_bind_text(q, 3, net, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, bounty, -1, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = st_sqlfail(s->st, "writing bounty state");
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	return rc;
}

static int write_statements(struct settle *s, const char *out)
{
	struct strbuf sql = {0};
	sqlite3_stmt *q;
	mpq_t accrued, total, payable, carry;
	char txt[8][160];
	int rc = 0;

	if (sb_printf(&sql, "INSERT INTO %sstatements(period, dist, store, grade, opening_carry,"
			    " commission, bounty, override, accrued, total, payable, closing_carry)"
			    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)", out))
		return fail_nomem(s);
	rc = st_prepare(s->st, sb_str(&sql), &q);
	sb_free(&sql);
	if (rc)
		return rc;
	mpq_inits(accrued, total, payable, carry, NULL);
	for (size_t i = 0; i < s->nd && !rc; i++) {
		struct dist *d = &s->d[i];
		if (d->booked > s->period)
			continue; /* appears in the period her event is booked in */
		mpq_add(accrued, d->commission, d->bounty);
		mpq_add(accrued, accrued, d->override);
		mpq_add(total, d->opening, accrued);
		dec_round_fen(payable, total, s->pl->rounding);
		if (mpq_sgn(payable) < 0 || mpq_cmp(payable, s->pl->min_payout) < 0)
			mpq_set_ui(payable, 0, 1);
		mpq_sub(carry, total, payable);
		const mpq_t *vals[8] = {&d->opening, &d->commission, &d->bounty, &d->override,
					&accrued, &total, &payable, &carry};
		sqlite3_bind_int(q, 1, s->period);
		sqlite3_bind_int64(q, 2, d->seq);
		sqlite3_bind_int64(q, 3, d->store);
		sqlite3_bind_int(q, 4, d->grade);
		for (int k = 0; k < 8; k++) {
			dec_format(txt[k], sizeof txt[k], *vals[k]);
			sqlite3_bind_text(q, 5 + k, txt[k], -1, SQLITE_STATIC);
		}
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = st_sqlfail(s->st, "writing a statement");
		sqlite3_reset(q);
	}
	mpq_clears(accrued, total, payable, carry, NULL);
	sqlite3_finalize(q);
	return rc;
}

/* ---- the pass ------------------------------------------------------------ */

static void settle_free(struct settle *s)
{
	for (size_t i = 0; i < s->nd; i++)
		mpq_clears(s->d[i].opening, s->d[i].commission, s->d[i].bounty, s->d[i].override,
			   NULL);
	free(s->d);
	idmap_free(&s->dmap);
	free(s->b);
	for (size_t i = 0; i < s->nbs; i++)
		mpq_clears(s->bs[i].net, s->bs[i].bounty, NULL);
	free(s->bs);
	idmap_free(&s->bsmap);
	sqlite3_finalize(s->ins_line);
	sqlite3_finalize(s->get_bstate);
	sqlite3_finalize(s->orig_lines);
	mpq_clears(s->x, s->y, s->amount, s->at.rate, s->at.orate, NULL);
}

int settle_period(referral_store *st, int period, int64_t limit, const char *out)
{
	struct settle s;
	struct strbuf sql = {0};
	int rc;

	memset(&s, 0, sizeof s);
	s.st = st;
	s.period = period;
	s.limit = limit;
	s.pl = st_plan_for(st, period);
	s.period_end = period_start(period + 1, s.pl->utc_offset_min);
	mpq_inits(s.x, s.y, s.amount, s.at.rate, s.at.orate, NULL);
	for (int g = 0; g < PLAN_GRADES; g++)
		dec_format(s.rate_txt[g], sizeof s.rate_txt[g], s.pl->grades[g].rate);
	dec_format(s.orate_txt, sizeof s.orate_txt, s.pl->override_rate);

	if (sb_printf(&sql, "INSERT INTO %slines(period, dist, type, event, ord, member, source,"
			    " binding, base, rate, value)"
			    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", out)) {
		rc = st_nomem(st);
		goto done;
	}
	if ((rc = st_prepare(st, sb_str(&sql), &s.ins_line)) ||
	    (rc = st_prepare(st, "SELECT net, bounty FROM main.bounty_state"
				 " WHERE binding = ?1 AND period < ?2 ORDER BY period DESC LIMIT 1",
			     &s.get_bstate)) ||
	    (rc = st_prepare(st, "SELECT type, dist, rate, binding, member FROM main.lines"
				 " WHERE ord = ?1 AND type IN (3, 5)", &s.orig_lines)))
		goto done;
	if ((rc = load_network(&s)) || (rc = load_previous(&s)) || (rc = stream_period(&s)) ||
	    (rc = write_bounty_states(&s, out)) || (rc = write_statements(&s, out)))
		goto done;
done:
	sb_free(&sql);
	settle_free(&s);
	return rc;
}
