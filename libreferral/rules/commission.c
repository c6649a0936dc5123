/*
 * commission.c — the rules of attribution and commission: an order is
 * attributed through the member's binding active at its instant; it earns
 * her distributor the commission at her grade's rate, the bounty when the
 * binding's net spend turns positive, and her recruiter the override; a
 * refund reverses them at the order's own rates, to whoever got them.
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
 * A refund of an order settled in an earlier period P' re-derives that
 * order's attribution as it was when P' closed: only the bindings and
 * terminations ingested by then (seq <= the close's last seq), the grade
 * frozen for P', and the plan for P'.
 *
 * In LINES mode every effect is also a line, summed distributor by
 * distributor so that verify can check that the lines add up to the
 * statements exactly, and handed to the output when it takes them.
 */
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "settle.h"

/* ---- attribution ------------------------------------------------------------- */

static int put_old_grade(void *ctx, int64_t dist, int next_grade)
{
	struct old_grades *g = ctx;
	return idmap_put(&g->map, dist, next_grade) ? REFERRAL_EIO : 0;
}

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
		int rc = ENG(s->st, next_grades, p - 1, put_old_grade, g);
		if (rc)
			return rc;
	}
	int32_t v = idmap_get(&g->map, s->d[di].seq);
	*grade = v >= 0 ? v : st_plan_for(s->st, p)->initial_grade;
	return 0;
}

/*
 * Attributes an order by `member` at `t` booked in period p (the binding
 * active at t; the override unless the recruiter was terminated by t) as
 * the settlement of p saw it: with the events ingested up to `limit`.
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

/* Hands the lines waiting to the output. */
int flush_lines(struct settle *s)
{
	int rc = 0;
	if (s->nlines) {
		/* the texts were appended to line_text, each ending in its NUL,
		 * base, rate and value one after another; their offsets are in
		 * the pointers until now, as the buffer may have moved */
		for (size_t i = 0; i < s->nlines; i++) {
			struct line_row *l = &s->lines[i];
			l->base = l->base ? s->line_text.data + (size_t)l->base - 1 : NULL;
			l->rate = l->rate ? s->line_text.data + (size_t)l->rate - 1 : NULL;
			l->value = s->line_text.data + (size_t)l->value - 1;
		}
		rc = s->out->lines(s->out->ctx, s->lines, s->nlines);
	}
	s->nlines = 0;
	sb_reset(&s->line_text);
	return rc;
}

/* A text of a line kept for the output: its offset in line_text plus 1,
 * as a pointer until flush_lines(), or NULL for none. */
static const char *keep_text(struct settle *s, const char *t, int *bad)
{
	if (!t)
		return NULL;
	size_t at = s->line_text.len + 1;
	*bad |= sb_append(&s->line_text, t, strlen(t) + 1);
	return (const char *)at;
}

/* A line: summed for the check of its distributor's statement and, when
 * the output takes lines, kept for it. */
static int put_line(struct settle *s, int32_t dist, int type, int64_t event, int64_t ord,
		    const struct attr *a, int32_t source, const char *base, const char *rate,
		    const mpq_t value)
{
	static const int sum_of[7] = {0, 1, 1, 0, 0, 2, 2};
	struct exact *e = exact_of(s, dist);
	if (!e)
		return fail_nomem(s);
	mpq_add(e->line_sum[sum_of[type]], e->line_sum[sum_of[type]], value);
	if (a->rel > s->period)
		mpq_add(e->line_held, e->line_held, value);
	if (!s->out->lines)
		return 0;
	if (!s->lines && !(s->lines = malloc(LINE_BATCH * sizeof *s->lines)))
		return fail_nomem(s);
	dec_format(s->value, sizeof s->value, value);
	int bad = 0;
	s->lines[s->nlines++] = (struct line_row){
		.period = s->period,
		.type = type,
		.dist = s->d[dist].seq,
		.event = event,
		.order = ord,
		.member = a->member,
		.source = source >= 0 ? s->d[source].seq : 0,
		.binding = B_SEQ(&s->b[a->binding]),
		.base = keep_text(s, base, &bad),
		.rate = keep_text(s, rate, &bad),
		.value = keep_text(s, s->value, &bad),
	};
	if (bad)
		return fail_nomem(s);
	return s->nlines == LINE_BATCH ? flush_lines(s) : 0;
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
	int rc, sign = type == LINE_COMMISSION ? 1 : -1, texts = s->out->lines != NULL;
	fen_to_mpq(s->y, amount);
	if (texts) {
		dec_format(s->amount, sizeof s->amount, s->y); /* as the event stored it: canonical */
		dec_format(s->rate, sizeof s->rate, *a->rate);
	}
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
	if (texts) {
		dec_format(s->base, sizeof s->base, s->x);
		dec_format(s->rate, sizeof s->rate, a->pl->override_rate);
	}
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
	/* released after P: also summed apart (release.c) */
	struct bucket *held = NULL;
	if ((a.rel = release_of(s, t, s->period)) > s->period) {
		if (!(held = bucket_at(s, a.dist, a.rel)))
			return fail_nomem(s);
		if (fen_add(&held->com_fen, fen) || (a.recruiter >= 0 && fen_add(&held->ov_fen, fen)))
			return fail_overflow(s);
	}

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
		if (held && fen_add(&held->bounty_fen, bounty))
			return fail_overflow(s);
		if ((rc = set_bounty_release(s, a.binding, a.rel)))
			return rc;
	}

	if (s->lines_on && !s->out->lines) { /* checked, not written */
		if ((rc = check_commission(s, &a, 1, fen)) ||
		    (earned && (rc = check_bounty(s, &a, a.dist, b->bounty))))
			return rc;
	} else if (s->lines_on) {
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
	struct attr a;
	struct ev_row o;
	int rc = ENG(s->st, get, ord, &o);
	if (rc <= 0)
		return rc < 0 ? -rc
			      : st_fail(s->st, REFERRAL_EIO, "storage: refund %lld names no order",
					(long long)seq);
	int64_t member = o.ref1, t = o.at;
	int booked = o.booked;

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
	/* released with the lines reversed, or now if they were */
	struct bucket *held = NULL;
	if ((a.rel = release_of(s, t, booked)) > s->period &&
	    !(held = bucket_at(s, a.dist, a.rel)))
		return fail_nomem(s);
	if (a.rel < s->period)
		a.rel = s->period;
	if (booked == s->period) {
		/* an order of this period: reversed at her rate in P, in fen */
		if (fen_add(&d->com_fen, -fen) || (a.recruiter >= 0 && fen_add(&d->ov_fen, -fen)) ||
		    (held && (fen_add(&held->com_fen, -fen) ||
			      (a.recruiter >= 0 && fen_add(&held->ov_fen, -fen)))))
			return fail_overflow(s);
	} else {
		/* at the rates of the order's own period */
		struct exact *e = exact_of(s, a.dist), *r;
		if (!e)
			return fail_nomem(s);
		fen_to_mpq(s->x, fen);
		mpq_mul(s->x, s->x, *a.rate);
		mpq_sub(e->commission, e->commission, s->x);
		if (held)
			mpq_sub(held->com_x, held->com_x, s->x);
		if (a.recruiter >= 0) {
			if (!(r = exact_of(s, a.recruiter)))
				return fail_nomem(s);
			mpq_mul(s->y, s->x, a.pl->override_rate);
			mpq_sub(r->override, r->override, s->y);
			struct bucket *rh = held ? bucket_at(s, a.recruiter, a.rel) : NULL;
			if (held && !rh)
				return fail_nomem(s);
			if (rh)
				mpq_sub(rh->ov_x, rh->ov_x, s->y);
		}
	}
	if (s->lines_on && !s->out->lines) {
		if ((rc = check_commission(s, &a, -1, fen)))
			return rc;
	} else if (s->lines_on) {
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
		/* released with the bounty that stood, or now if it was */
		if ((a.rel = bounty_release(s, a.binding)) > s->period) {
			struct bucket *bh = bucket_at(s, a.dist, a.rel);
			if (!bh)
				return fail_nomem(s);
			if (fen_add(&bh->bounty_fen, -b->bounty))
				return fail_overflow(s);
		}
		if ((rc = set_bounty_release(s, a.binding, s->period)))
			return rc;
		if (s->lines_on && !s->out->lines)
			rc = check_bounty(s, &a, a.dist, -b->bounty);
		else if (s->lines_on)
			rc = put_bounty_line(s, LINE_BOUNTY_REVERSAL, seq, ord, &a, a.dist, -b->bounty);
		if (rc)
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
int settle_rows(struct settle *s, const struct stream_row *r, int n)
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

