/*
 * check.c — the lines of a period summed to check them against its
 * statements (verify), without making their texts.
 *
 * Every line's value is a product of decimals: an amount in fen times a
 * rate (a commission), times the override rate too (an override), or a
 * bounty in fen. With every rate of the plans written with at most
 * `rate_digits` decimals and every override rate with at most `ov_digits`,
 * each value is a whole number of 10^-(2 + rate_digits + ov_digits) yuan,
 * so the lines of a distributor are summed as 128-bit integers of that
 * unit, line by line, and made exact once, when compared. A line whose
 * product would not fit in 128 bits is summed as an exact rational
 * instead, and so is every line when the plans' decimals are too many for
 * the unit to fit at all: the check stays exact either way.
 */
#include <string.h>

#include "settle.h"

/* The unit of the integer sums is at most 10^-SCALE_MAX yuan. */
#define SCALE_MAX 24

/* The decimals of a terminating decimal: the smallest k such that 10^k is
 * a multiple of its denominator; -1 if there is none (not a decimal). */
static int decimals_of(const mpq_t v)
{
	mpz_t d;
	mpz_init_set(d, mpq_denref(v));
	int twos = (int)mpz_scan1(d, 0), fives = 0;
	mpz_tdiv_q_2exp(d, d, (mp_bitcnt_t)twos);
	while (mpz_divisible_ui_p(d, 5)) {
		mpz_divexact_ui(d, d, 5);
		fives++;
	}
	int k = mpz_cmp_ui(d, 1) == 0 ? (twos > fives ? twos : fives) : -1;
	mpz_clear(d);
	return k;
}

static __int128 pow10_128(int k)
{
	__int128 p = 1;
	while (k-- > 0)
		p *= 10;
	return p;
}

void check_init(struct settle *s)
{
	const referral_store *st = s->st;
	int rd = 0, od = 0, ok = 1;
	for (int i = 0; i < st->nplans && ok; i++) {
		const plan *pl = &st->plans[i].p;
		for (int g = 0; g < PLAN_GRADES; g++) {
			int k = decimals_of(pl->grades[g].rate);
			ok &= k >= 0;
			rd = k > rd ? k : rd;
		}
		int k = decimals_of(pl->override_rate);
		ok &= k >= 0;
		od = k > od ? k : od;
	}
	s->rate_digits = rd;
	s->ov_digits = od;
	s->int_lines = ok && 2 + rd + od <= SCALE_MAX;
}

/* rate x 10^digits, an integer: 0, or -1 if it does not fit. Cached by
 * the rate's address: a pass uses a few rates of a few plans. */
static int scaled(struct settle *s, const mpq_t rate, int digits, __int128 *out)
{
	for (int i = 0; i < s->nscaled; i++)
		if (s->scaled[i].rate == (const void *)rate) {
			*out = s->scaled[i].v;
			return 0;
		}
	mpz_t n;
	mpz_init(n);
	mpz_ui_pow_ui(n, 10, (unsigned long)digits);
	mpz_mul(n, n, mpq_numref(rate));
	mpz_divexact(n, n, mpq_denref(rate));
	int fits = mpz_sizeinbase(n, 2) <= 120;
	__int128 v = 0;
	if (fits) {
		uint64_t w[2] = {0, 0};
		mpz_export(w, NULL, -1, sizeof w[0], 0, 0, n); /* least significant first */
		v = (__int128)((unsigned __int128)w[1] << 64 | w[0]);
		if (mpz_sgn(n) < 0)
			v = -v;
	}
	mpz_clear(n);
	if (!fits)
		return -1;
	if (s->nscaled < (int)(sizeof s->scaled / sizeof s->scaled[0]))
		s->scaled[s->nscaled++] = (__typeof__(s->scaled[0])){(const void *)rate, v};
	*out = v;
	return 0;
}

/* Adds v (in the unit) to a sum of e, and to what is held when the line is
 * released after P. */
static int add(struct settle *s, struct exact *e, int k, const struct attr *a, __int128 v)
{
	if (__builtin_add_overflow(e->isum[k], v, &e->isum[k]) ||
	    (a->rel > s->period && __builtin_add_overflow(e->iheld, v, &e->iheld)))
		return fail_overflow(s);
	return 0;
}

/* The same as an exact rational, for a line that does not fit. */
static void add_exact(struct settle *s, struct exact *e, int k, const struct attr *a,
		      const mpq_t v)
{
	mpq_add(e->line_sum[k], e->line_sum[k], v);
	if (a->rel > s->period)
		mpq_add(e->line_held, e->line_held, v);
}

int check_commission(struct settle *s, const struct attr *a, int sign, fen_t fen)
{
	/* the recruiter's first: exact_of() may move the others */
	struct exact *r = a->recruiter >= 0 ? exact_of(s, a->recruiter) : NULL;
	struct exact *e = exact_of(s, a->dist);
	if (!e || (a->recruiter >= 0 && !(r = exact_of(s, a->recruiter))))
		return fail_nomem(s);
	__int128 rate, ov, c, o, unit;
	if (s->int_lines && !scaled(s, *a->rate, s->rate_digits, &rate) &&
	    !scaled(s, a->pl->override_rate, s->ov_digits, &ov) &&
	    !__builtin_mul_overflow((__int128)fen * sign, rate, &c) &&
	    !__builtin_mul_overflow(c, ov, &o) &&
	    !__builtin_mul_overflow(c, pow10_128(s->ov_digits), &unit)) {
		int rc = add(s, e, 0, a, unit);
		return rc || a->recruiter < 0 ? rc : add(s, r, 2, a, o);
	}
	/* too large for the integers: exact rationals */
	fen_to_mpq(s->x, (fen_t)fen * sign);
	mpq_mul(s->x, s->x, *a->rate);
	add_exact(s, e, 0, a, s->x);
	if (a->recruiter >= 0) {
		mpq_mul(s->y, s->x, a->pl->override_rate);
		add_exact(s, r, 2, a, s->y);
	}
	return 0;
}

int check_bounty(struct settle *s, const struct attr *a, int32_t dist, fen_t fen)
{
	struct exact *e = exact_of(s, dist);
	__int128 unit;
	if (!e)
		return fail_nomem(s);
	if (s->int_lines &&
	    !__builtin_mul_overflow((__int128)fen, pow10_128(s->rate_digits + s->ov_digits), &unit))
		return add(s, e, 1, a, unit);
	fen_to_mpq(s->x, fen);
	add_exact(s, e, 1, a, s->x);
	return 0;
}

/* v / 10^(2 + rate_digits + ov_digits), exactly. */
static void unit_to_mpq(const struct settle *s, mpq_t out, __int128 v)
{
	int neg = v < 0;
	unsigned __int128 u = neg ? -(unsigned __int128)v : (unsigned __int128)v;
	mpz_set_ui(mpq_numref(out), (unsigned long)(uint64_t)(u >> 64));
	mpz_mul_2exp(mpq_numref(out), mpq_numref(out), 64);
	mpz_add_ui(mpq_numref(out), mpq_numref(out), (unsigned long)(uint64_t)u);
	if (neg)
		mpz_neg(mpq_numref(out), mpq_numref(out));
	mpz_ui_pow_ui(mpq_denref(out), 10, (unsigned long)(2 + s->rate_digits + s->ov_digits));
	mpq_canonicalize(out);
}

void check_sums(const struct settle *s, const struct exact *e, mpq_t sum[4])
{
	for (int k = 0; k < 4; k++) {
		mpq_set_ui(sum[k], 0, 1);
		if (!e)
			continue;
		unit_to_mpq(s, sum[k], k < 3 ? e->isum[k] : e->iheld);
		mpq_add(sum[k], sum[k], k < 3 ? e->line_sum[k] : e->line_held);
	}
}
