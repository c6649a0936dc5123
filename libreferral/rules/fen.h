/*
 * fen.h — money in whole fen (0.01 yuan) as a 128-bit integer, for the sums
 * settlement and grading make by the million. Every amount an event carries
 * is a money value with exactly two decimals, so these sums are exact; they
 * become GMP values only where a rate multiplies them.
 */
#ifndef REFERRAL_FEN_H
#define REFERRAL_FEN_H

#include <gmp.h>
#include <stddef.h>

typedef __int128 fen_t;

/* The longest fen_format() text, with its NUL. */
#define FEN_TEXT 48

/* Parses a canonical money text ("2391.37", "-0.50": an optional minus,
 * digits, exactly two decimals). 0, or -1 if it is not one. */
int fen_parse(const char *s, fen_t *out);

/* Writes v in the canonical form of docs/formats.md ("-0.50", "1254.00"); returns
 * the length. `buf` holds FEN_TEXT bytes. */
size_t fen_format(char *buf, fen_t v);

void fen_to_mpq(mpq_t out, fen_t v);

/* A money value (at most two decimals) in fen: 0, or -1 if too large. */
int fen_of(const mpq_t money, fen_t *out);

/* *acc += v: 0, or -1 on overflow (and *acc is then meaningless). */
static inline int fen_add(fen_t *acc, fen_t v)
{
	return __builtin_add_overflow(*acc, v, acc) ? -1 : 0;
}

#endif
