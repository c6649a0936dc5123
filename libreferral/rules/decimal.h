/*
 * decimal.h — exact decimal values on GMP (docs/formats.md, "Exact
 * values").
 *
 * Every quantity libreferral handles (money, rates, ratings, points and their
 * products) is a terminating decimal, held exactly as an mpq_t. Text crosses
 * in two input forms and one output form:
 *   money    ^[0-9]+(\.[0-9]{1,2})?$, at most 30 digits     ("2391.37")
 *   decimal  ^[0-9]+(\.[0-9]+)?$,     at most 60 digits     ("0.05", "3.0")
 *   canonical output: "-" if negative, the integer part without leading
 *   zeros ("0" if none), ".", then at least two and otherwise as few
 *   fraction digits as exact: "0.00", "80.00", "1.913096", "-0.005".
 */
#ifndef REFERRAL_DECIMAL_H
#define REFERRAL_DECIMAL_H

#include <gmp.h>
#include <stddef.h>

#define DEC_MONEY_MAX_DIGITS 30
#define DEC_MAX_DIGITS 60

/* What was wrong with a decimal text. */
enum dec_error {
	DEC_OK = 0,
	DEC_EMPTY,      /* "" */
	DEC_SYNTAX,     /* sign, exponent, space, letters, "1.", ".5", "1.2.3" */
	DEC_TOO_MANY_DECIMALS, /* money with a third decimal */
	DEC_TOO_LONG    /* more digits than allowed */
};

/* Parses `len` bytes at `s` (not necessarily NUL-terminated) as money. On
 * success sets `out` and returns DEC_OK; otherwise returns the error and
 * leaves `out` unchanged. Every digit counts toward the limit, leading
 * zeros included. When several errors apply, the first of DEC_SYNTAX,
 * DEC_TOO_MANY_DECIMALS, DEC_TOO_LONG is returned. */
int dec_parse_money(mpq_t out, const char *s, size_t len);

/* Parses `len` bytes at `s` as a non-negative decimal (rates, ratings,
 * points). Same conventions as dec_parse_money(). */
int dec_parse(mpq_t out, const char *s, size_t len);

/* Parses a NUL-terminated canonical decimal with an optional '-': the
 * values libreferral reads back from its own storage, which may be longer
 * than any input, so no digit limit applies. 0, or -1 if malformed. */
int dec_parse_signed(mpq_t out, const char *s);

/* A short English description of the money and decimal forms, for messages:
 * e.g. "a string of digits with up to 2 decimals, like \"12.34\"". Static. */
const char *dec_money_form(void);
const char *dec_decimal_form(void);

/* Writes the canonical form of `v` (which must be a terminating decimal)
 * into buf, NUL-terminated when cap > 0; returns the length the full text
 * needs, excluding the NUL, like snprintf (buf may be NULL when cap is 0).
 * A value that is not a terminating decimal (a caller bug) is written
 * truncated toward zero at 64 fraction digits. Thread-safe; allocates
 * nothing for values whose digits fit in 64 bits. */
size_t dec_format(char *buf, size_t cap, const mpq_t v);

/* The canonical form in a new malloc'd string, or NULL when out of memory.
 * The caller frees it with free(). */
char *dec_to_str(const mpq_t v);

/* Rounding modes of the plan. */
enum dec_rounding {
	DEC_ROUND_HALF_UP = 0,   /* a half goes away from zero */
	DEC_ROUND_HALF_EVEN = 1, /* a half goes to the even fen */
	DEC_ROUND_DOWN = 2       /* toward zero */
};

/* out = v rounded to a whole fen (0.01) by `mode`, exactly, for any sign
 * and any rational v. out may alias v. A mode outside the enum rounds like
 * DEC_ROUND_HALF_UP. */
void dec_round_fen(mpq_t out, const mpq_t v, int mode);

#endif
