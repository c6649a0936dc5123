/* fen.c — see fen.h. */
#include "fen.h"

#include <stdint.h>

int fen_parse(const char *s, fen_t *out)
{
	fen_t v = 0;
	int decimals = -1, neg = 0;
	if (!s)
		return -1;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s < '0' || *s > '9')
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
	*out = neg ? -v : v;
	return 0;
}

size_t fen_format(char *buf, fen_t v)
{
	char tmp[FEN_TEXT];
	size_t n = 0, len = 0;
	unsigned __int128 m = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
	do {
		tmp[n++] = (char)('0' + (int)(m % 10));
		m /= 10;
	} while (m || n < 3); /* at least "0.00" */
	if (v < 0)
		buf[len++] = '-';
	while (n > 2)
		buf[len++] = tmp[--n];
	buf[len++] = '.';
	buf[len++] = tmp[1];
	buf[len++] = tmp[0];
	buf[len] = '\0';
	return len;
}

void fen_to_mpq(mpq_t out, fen_t v)
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

int fen_of(const mpq_t money, fen_t *out)
{
	mpz_t z;
	int rc = 0;
	mpz_init(z);
	mpz_mul_ui(z, mpq_numref(money), 100);
	mpz_tdiv_q(z, z, mpq_denref(money));
	if (mpz_sizeinbase(z, 2) > 120) {
		rc = -1;
	} else {
		size_t n = 0;
		uint64_t limbs[2] = {0, 0};
		mpz_export(limbs, &n, -1, sizeof limbs[0], 0, 0, z);
		unsigned __int128 m = ((unsigned __int128)limbs[1] << 64) | limbs[0];
		*out = mpz_sgn(z) < 0 ? -(fen_t)m : (fen_t)m;
	}
	mpz_clear(z);
	return rc;
}
