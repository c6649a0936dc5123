/* decimal.c — see decimal.h. Exact values on GMP; no floating point. */
#include "decimal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * A value that is not a terminating decimal is a caller bug (every quantity
 * of the rules is a product of decimals); dec_format() then writes it
 * truncated toward zero at this many fraction digits rather than loop.
 */
#define DEC_FALLBACK_SCALE 64

/* 5^13, the largest power of 5 that fits in 32 bits. */
#define POW5_13 1220703125UL

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Checks `len` bytes at `s` against ^[0-9]+(\.[0-9]+)?$ and sets *int_len
 * and *frac_len to the digit counts either side of the point.
 */
static int scan(const char *s, size_t len, size_t *int_len, size_t *frac_len)
{
	size_t i = 0, dot;

	if (len == 0)
		return DEC_EMPTY;
	while (i < len && is_digit(s[i]))
		i++;
	if (i == 0)
		return DEC_SYNTAX;      /* "", "+1", " 1", ".5", "１" */
	*int_len = i;
	*frac_len = 0;
	if (i == len)
		return DEC_OK;
	if (s[i] != '.')
		return DEC_SYNTAX;      /* "1e5", "1,5", "1 ", "0x10" */
	dot = ++i;
	while (i < len && is_digit(s[i]))
		i++;
	if (i == dot || i != len)
		return DEC_SYNTAX;      /* "1.", "1.2.3", "1.5 " */
	*frac_len = i - dot;
	return DEC_OK;
}

static int parse(mpq_t out, const char *s, size_t len, size_t max_frac,
		 size_t max_digits)
{
	char digits[DEC_MAX_DIGITS + 1];
	size_t int_len, frac_len;
	int rc = scan(s, len, &int_len, &frac_len);

	if (rc != DEC_OK)
		return rc;
	if (frac_len > max_frac)
		return DEC_TOO_MANY_DECIMALS;
	if (int_len + frac_len > max_digits || int_len + frac_len > DEC_MAX_DIGITS)
		return DEC_TOO_LONG;

	/* The digits without the point, over 10^frac_len. */
	memcpy(digits, s, int_len);
	if (frac_len)
		memcpy(digits + int_len, s + int_len + 1, frac_len);
	digits[int_len + frac_len] = '\0';
	mpz_set_str(mpq_numref(out), digits, 10);
	mpz_ui_pow_ui(mpq_denref(out), 10, frac_len);
	mpq_canonicalize(out);
	return DEC_OK;
}

int dec_parse_money(mpq_t out, const char *s, size_t len)
{
	return parse(out, s, len, 2, DEC_MONEY_MAX_DIGITS);
}

int dec_parse(mpq_t out, const char *s, size_t len)
{
	return parse(out, s, len, DEC_MAX_DIGITS, DEC_MAX_DIGITS);
}

const char *dec_money_form(void)
{
	return "a string of digits with up to 2 decimals, like \"12.34\"";
}

const char *dec_decimal_form(void)
{
	return "a string of digits with optional decimals, like \"0.05\"";
}

/* A bounded writer with snprintf semantics: counts everything, stores
 * what fits and always leaves room for the NUL. */
struct out {
	char *buf;
	size_t cap;
	size_t len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void put_zeros(struct out *o, size_t n)
{
	while (n--)
		put(o, '0');
}

/*
 * Writes the canonical text of ±(D / 10^scale), where D is the decimal digit
 * string `d` of length n (no leading zeros; "0" for zero) and scale >= 2.
 */
static size_t layout(struct out *o, int neg, const char *d, size_t n,
		     size_t scale)
{
	size_t i;

	/* Drop fraction zeros beyond the second (only the fallback has any). */
	while (scale > 2 && n > 1 && d[n - 1] == '0') {
		n--;
		scale--;
	}
	if (neg)
		put(o, '-');
	if (n > scale) {
		for (i = 0; i < n - scale; i++)
			put(o, d[i]);
		put(o, '.');
		for (; i < n; i++)
			put(o, d[i]);
	} else {
		put(o, '0');
		put(o, '.');
		put_zeros(o, scale - n);
		for (i = 0; i < n; i++)
			put(o, d[i]);
	}
	if (o->cap)
		o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
	return o->len;
}

/*
 * Fast path for the common case of a numerator and denominator of at most
 * one limb whose scaled value fits in 64 bits: no GMP allocation at all.
 * Returns 0 when it does not apply.
 */
static int format_small(struct out *o, const mpq_t v, size_t *len)
{
	uint64_t n, d, rest, p10 = 1, scaled;
	unsigned twos = 0, fives = 0, scale, i;
	char tmp[24];
	size_t nd = 0;

	if (mpz_size(mpq_numref(v)) > 1 || mpz_size(mpq_denref(v)) > 1)
		return 0;
	n = mpz_getlimbn(mpq_numref(v), 0);
	d = mpz_getlimbn(mpq_denref(v), 0);
	for (rest = d; rest % 2 == 0; rest /= 2)
		twos++;
	for (; rest % 5 == 0; rest /= 5)
		fives++;
	if (rest != 1)
		return 0;
	scale = twos > fives ? twos : fives;
	if (scale < 2)
		scale = 2;
	if (scale > 19)                 /* 10^19 is the last power in 64 bits */
		return 0;
	for (i = 0; i < scale; i++)
		p10 *= 10;
	if (n > UINT64_MAX / (p10 / d))
		return 0;
	scaled = n * (p10 / d);
	do {
		tmp[nd++] = (char)('0' + scaled % 10);
		scaled /= 10;
	} while (scaled);
	for (i = 0; i < nd / 2; i++) {
		char c = tmp[i];
		tmp[i] = tmp[nd - 1 - i];
		tmp[nd - 1 - i] = c;
	}
	*len = layout(o, mpq_sgn(v) < 0, tmp, nd, scale);
	return 1;
}

/* The exact decimal scale of a denominator d = 2^a 5^b: max(a, b); or
 * DEC_FALLBACK_SCALE when d has another prime factor. */
static size_t scale_of(const mpz_t d, mpz_t t)
{
	size_t twos = mpz_scan1(d, 0), fives = 0;

	mpz_tdiv_q_2exp(t, d, twos);
	while (mpz_divisible_ui_p(t, POW5_13)) {
		mpz_divexact_ui(t, t, POW5_13);
		fives += 13;
	}
	while (mpz_divisible_ui_p(t, 5)) {
		mpz_divexact_ui(t, t, 5);
		fives++;
	}
	if (mpz_cmp_ui(t, 1) != 0)
		return DEC_FALLBACK_SCALE;
	return twos > fives ? twos : fives;
}

static size_t format_big(struct out *o, const mpq_t v)
{
	void (*gmp_free)(void *, size_t);
	mpz_t t;
	size_t scale, n;
	char small[128], *d;

	mpz_init(t);
	scale = scale_of(mpq_denref(v), t);
	if (scale < 2)
		scale = 2;
	/* t = |num| * 10^scale / den, exact unless in the fallback. */
	mpz_ui_pow_ui(t, 10, scale);
	mpz_mul(t, t, mpq_numref(v));
	mpz_abs(t, t);
	mpz_tdiv_q(t, t, mpq_denref(v));

	if (mpz_sizeinbase(t, 10) + 2 <= sizeof(small))
		d = mpz_get_str(small, 10, t);
	else
		d = mpz_get_str(NULL, 10, t);
	n = strlen(d);
	layout(o, mpq_sgn(v) < 0, d, n, scale);
	if (d != small) {
		mp_get_memory_functions(NULL, NULL, &gmp_free);
		gmp_free(d, n + 1);
	}
	mpz_clear(t);
	return o->len;
}

size_t dec_format(char *buf, size_t cap, const mpq_t v)
{
	struct out o = { buf, cap, 0 };
	size_t len;

	if (format_small(&o, v, &len))
		return len;
	o.len = 0;
	return format_big(&o, v);
}

char *dec_to_str(const mpq_t v)
{
	char tmp[128];
	size_t n = dec_format(tmp, sizeof(tmp), v);
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	if (n < sizeof(tmp))
		memcpy(p, tmp, n + 1);
	else
		dec_format(p, n + 1, v);
	return p;
}

/*
 * q = trunc(v * 100) and r the remainder over den(v); the dropped part is
 * |r| / den, compared with a half as 2|r| against den. Ties are decided by
 * the mode; any unknown mode rounds like DEC_ROUND_HALF_UP.
 */
void dec_round_fen(mpq_t out, const mpq_t v, int mode)
{
	mpz_t q, r;
	int sign, cmp, away;

	mpz_inits(q, r, NULL);
	mpz_mul_ui(q, mpq_numref(v), 100);
	mpz_tdiv_qr(q, r, q, mpq_denref(v));
	sign = mpz_sgn(r);
	if (sign != 0 && mode != DEC_ROUND_DOWN) {
		mpz_abs(r, r);
		mpz_mul_2exp(r, r, 1);
		cmp = mpz_cmp(r, mpq_denref(v));
		if (cmp == 0)
			away = mode == DEC_ROUND_HALF_EVEN ? mpz_odd_p(q) : 1;
		else
			away = cmp > 0;
		if (away && sign > 0)
			mpz_add_ui(q, q, 1);
		else if (away)
			mpz_sub_ui(q, q, 1);
	}
	/* v is no longer read: out may alias it. */
	mpz_swap(mpq_numref(out), q);
	mpz_set_ui(mpq_denref(out), 100);
	mpq_canonicalize(out);
	mpz_clears(q, r, NULL);
}

int dec_parse_signed(mpq_t out, const char *s)
{
	/* no digit limit here: stored values may be longer than any input */
	if (!s)
		return -1;
	int neg = s[0] == '-';
	const char *p = s + neg, *dot = strchr(p, '.');
	size_t n = strlen(p), ilen = dot ? (size_t)(dot - p) : n;
	size_t flen = dot ? n - ilen - 1 : 0;
	char small[128], *digits = n < sizeof small ? small : malloc(n + 1);
	if (!digits || ilen == 0 || (dot && flen == 0)) {
		if (digits && digits != small)
			free(digits);
		return -1;
	}
	memcpy(digits, p, ilen);
	if (dot)
		memcpy(digits + ilen, dot + 1, flen);
	digits[ilen + flen] = '\0';
	int rc = strspn(digits, "0123456789") == ilen + flen ? 0 : -1;
	if (!rc) {
		mpz_set_str(mpq_numref(out), digits, 10);
		mpz_ui_pow_ui(mpq_denref(out), 10, flen);
		mpq_canonicalize(out);
		if (neg)
			mpq_neg(out, out);
	}
	if (digits != small)
		free(digits);
	return rc;
}
