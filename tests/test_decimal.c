/*
 * test_decimal.c — parsing, canonical formatting and fen rounding (SPEC §2,
 * §5 `rounding`, §7). Every expected value below was worked out by hand.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <gmp.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Sets q from "num/den" (or "num") and canonicalizes it. */
static void set_frac(mpq_t q, const char *text)
{
	cr_assert_eq(mpq_set_str(q, text, 10), 0, "bad fixture %s", text);
	mpq_canonicalize(q);
}

/* Sets q from a decimal text with an optional leading "-". */
static void set_signed(mpq_t q, const char *text)
{
	int neg = text[0] == '-';

	cr_assert_eq(dec_parse(q, text + neg, strlen(text + neg)), DEC_OK,
		     "bad fixture %s", text);
	if (neg)
		mpq_neg(q, q);
}

/* Asserts the canonical text of q through both dec_format and dec_to_str. */
static void assert_text(const mpq_t q, const char *want)
{
	char buf[256];
	size_t n = dec_format(buf, sizeof(buf), q);
	char *s = dec_to_str(q);

	cr_assert_eq(n, strlen(want), "length %zu for %s", n, want);
	cr_assert_str_eq(buf, want);
	cr_assert_not_null(s);
	cr_assert_str_eq(s, want);
	free(s);
}

/* ---- parsing ---------------------------------------------------------- */

/*
 * Criterion runs each test in a fresh process and copies the parameters
 * there by value, so the rows hold arrays, not pointers to literals.
 */
struct parse_ok {
	char in[72];
	char want[128];         /* the exact value as "num/den" */
};

ParameterizedTestParameters(parse, money_valid)
{
	static struct parse_ok rows[] = {
		{ "0", "0" },
		{ "00", "0" },
		{ "0.00", "0" },
		{ "10", "10" },
		{ "10.5", "21/2" },
		{ "10.50", "21/2" },
		{ "000123.40", "617/5" },       /* 1234/10 */
		{ "0.01", "1/100" },
		{ "12.34", "617/50" },          /* 1234/100 */
		{ "2391.37", "239137/100" },
		/* 30 digits, the most money may have */
		{ "123456789012345678901234567890",
		  "123456789012345678901234567890" },
		{ "1234567890123456789012345678.90",
		  "12345678901234567890123456789/10" },
		{ "000000000000000000000000000001", "1" },
	};
	return cr_make_param_array(struct parse_ok, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct parse_ok *r, parse, money_valid)
{
	mpq_t got, want;

	mpq_inits(got, want, NULL);
	set_frac(want, r->want);
	cr_assert_eq(dec_parse_money(got, r->in, strlen(r->in)), DEC_OK,
		     "rejected \"%s\"", r->in);
	cr_assert(mpq_equal(got, want), "\"%s\" parsed wrong", r->in);
	mpq_clears(got, want, NULL);
}

struct parse_bad {
	char in[72];
	int err;
};

ParameterizedTestParameters(parse, money_invalid)
{
	static struct parse_bad rows[] = {
		{ "", DEC_EMPTY },
		{ " 1", DEC_SYNTAX },
		{ "1 ", DEC_SYNTAX },
		{ "+1", DEC_SYNTAX },
		{ "-1", DEC_SYNTAX },
		{ "-0", DEC_SYNTAX },
		{ "1e5", DEC_SYNTAX },
		{ "1E5", DEC_SYNTAX },
		{ "1.", DEC_SYNTAX },
		{ ".5", DEC_SYNTAX },
		{ ".", DEC_SYNTAX },
		{ "1,5", DEC_SYNTAX },
		{ "1,000.00", DEC_SYNTAX },
		{ "\xef\xbc\x91", DEC_SYNTAX },        /* fullwidth "１" */
		{ "1\xef\xbc\x90", DEC_SYNTAX },       /* "1０" */
		{ "\xd9\xa1", DEC_SYNTAX },            /* Arabic-Indic one */
		{ "0x10", DEC_SYNTAX },
		{ "1.2.3", DEC_SYNTAX },
		{ "1..2", DEC_SYNTAX },
		{ "1.5a", DEC_SYNTAX },
		{ "NaN", DEC_SYNTAX },
		{ "Infinity", DEC_SYNTAX },
		{ "\"1\"", DEC_SYNTAX },
		{ "1\t", DEC_SYNTAX },
		{ "1.234", DEC_TOO_MANY_DECIMALS },
		{ "0.001", DEC_TOO_MANY_DECIMALS },
		{ "10.500", DEC_TOO_MANY_DECIMALS },
		/* 31 digits; leading zeros count as digits too */
		{ "1234567890123456789012345678901", DEC_TOO_LONG },
		{ "123456789012345678901234567890.1", DEC_TOO_LONG },
		{ "0000000000000000000000000000001", DEC_TOO_LONG },
	};
	return cr_make_param_array(struct parse_bad, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct parse_bad *r, parse, money_invalid)
{
	mpq_t q, before;

	mpq_inits(q, before, NULL);
	set_frac(q, "7/3");
	mpq_set(before, q);
	cr_assert_eq(dec_parse_money(q, r->in, strlen(r->in)), r->err,
		     "\"%s\" should fail with %d", r->in, r->err);
	cr_assert(mpq_equal(q, before), "\"%s\" changed out", r->in);
	mpq_clears(q, before, NULL);
}

ParameterizedTestParameters(parse, decimal_valid)
{
	static struct parse_ok rows[] = {
		{ "0", "0" },
		{ "0.05", "1/20" },
		{ "3.0", "3" },
		{ "0.25", "1/4" },
		{ "1.234", "617/500" },
		{ "0.000001", "1/1000000" },
		{ "1.913096", "239137/125000" },        /* 1913096/10^6 */
		{ "007.50", "15/2" },
		/* 60 digits, the most a decimal may have */
		{ "123456789012345678901234567890123456789012345678901234567890",
		  "123456789012345678901234567890123456789012345678901234567890" },
		{ "0.00000000000000000000000000000000000000000000000000000000001",
		  "1/100000000000000000000000000000000000000000000000000000000000" },
	};
	return cr_make_param_array(struct parse_ok, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct parse_ok *r, parse, decimal_valid)
{
	mpq_t got, want;

	mpq_inits(got, want, NULL);
	set_frac(want, r->want);
	cr_assert_eq(dec_parse(got, r->in, strlen(r->in)), DEC_OK,
		     "rejected \"%s\"", r->in);
	cr_assert(mpq_equal(got, want), "\"%s\" parsed wrong", r->in);
	mpq_clears(got, want, NULL);
}

ParameterizedTestParameters(parse, decimal_invalid)
{
	static struct parse_bad rows[] = {
		{ "", DEC_EMPTY },
		{ " 0.05", DEC_SYNTAX },
		{ "0.05 ", DEC_SYNTAX },
		{ "+0.05", DEC_SYNTAX },
		{ "-0.05", DEC_SYNTAX },
		{ "5e-2", DEC_SYNTAX },
		{ "1.", DEC_SYNTAX },
		{ ".05", DEC_SYNTAX },
		{ "0,05", DEC_SYNTAX },
		{ "\xef\xbc\x91", DEC_SYNTAX },
		{ "0x10", DEC_SYNTAX },
		{ "1.2.3", DEC_SYNTAX },
		{ "5%", DEC_SYNTAX },
		/* 61 digits */
		{ "1234567890123456789012345678901234567890123456789012345678901",
		  DEC_TOO_LONG },
		{ "0.000000000000000000000000000000000000000000000000000000000001",
		  DEC_TOO_LONG },
	};
	return cr_make_param_array(struct parse_bad, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct parse_bad *r, parse, decimal_invalid)
{
	mpq_t q, before;

	mpq_inits(q, before, NULL);
	set_frac(q, "7/3");
	mpq_set(before, q);
	cr_assert_eq(dec_parse(q, r->in, strlen(r->in)), r->err,
		     "\"%s\" should fail with %d", r->in, r->err);
	cr_assert(mpq_equal(q, before), "\"%s\" changed out", r->in);
	mpq_clears(q, before, NULL);
}

Test(parse, reads_only_len_bytes)
{
	const char *s = "12.345";   /* not a valid money text as a whole */
	mpq_t q, want;

	mpq_inits(q, want, NULL);
	cr_assert_eq(dec_parse_money(q, s, 4), DEC_OK);        /* "12.3" */
	set_frac(want, "123/10");
	cr_assert(mpq_equal(q, want));
	cr_assert_eq(dec_parse_money(q, s, 3), DEC_SYNTAX);    /* "12." */
	cr_assert_eq(dec_parse_money(q, s, 0), DEC_EMPTY);
	cr_assert_eq(dec_parse_money(q, s, 6), DEC_TOO_MANY_DECIMALS);
	mpq_clears(q, want, NULL);
}

Test(parse, embedded_nul_is_syntax)
{
	mpq_t q;

	mpq_init(q);
	cr_assert_eq(dec_parse_money(q, "1\0", 2), DEC_SYNTAX);
	cr_assert_eq(dec_parse(q, "1.5\0" "0", 5), DEC_SYNTAX);
	mpq_clear(q);
}

Test(parse, forms_for_messages)
{
	cr_assert_str_eq(dec_money_form(),
			 "a string of digits with up to 2 decimals, like \"12.34\"");
	cr_assert_str_eq(dec_decimal_form(),
			 "a string of digits with optional decimals, like \"0.05\"");
}

/* ---- canonical form --------------------------------------------------- */

struct fmt_row {
	char value[128];        /* "num/den" */
	char want[72];
};

ParameterizedTestParameters(format, canonical)
{
	static struct fmt_row rows[] = {
		{ "0", "0.00" },
		{ "80", "80.00" },
		{ "1", "1.00" },
		{ "-1", "-1.00" },
		{ "1913096/1000000", "1.913096" },
		{ "-5/1000", "-0.005" },
		{ "-500015/10000", "-50.0015" },
		{ "1/2", "0.50" },
		{ "-7/2", "-3.50" },
		{ "1195685/10000", "119.5685" },
		{ "1/10", "0.10" },
		{ "-1/10", "-0.10" },
		{ "1/100", "0.01" },
		{ "1/1000", "0.001" },
		{ "1/4", "0.25" },
		{ "1/8", "0.125" },
		{ "1/16", "0.0625" },
		{ "1/3125", "0.00032" },                /* 5^-5 = 32 * 10^-5 */
		{ "1/1024", "0.0009765625" },           /* 2^-10 = 5^10 * 10^-10 */
		{ "239137/100", "2391.37" },
		{ "100", "100.00" },
		{ "1001/10", "100.10" },
		/* around the 64-bit fast path: 2^64 - 1 = 18446744073709551615 */
		{ "184467440737095516", "184467440737095516.00" },
		{ "184467440737095517", "184467440737095517.00" },
		{ "18446744073709551615", "18446744073709551615.00" },
		{ "-18446744073709551616", "-18446744073709551616.00" },
		{ "18446744073709551615/100", "184467440737095516.15" },
		/* large values */
		{ "123456789012345678901234567890",
		  "123456789012345678901234567890.00" },
		{ "-123456789012345678901234567890/100",
		  "-1234567890123456789012345678.90" },
		{ "123456789012345678901234567890123456789012345678901234567890/1000000000000000000000000000000",
		  "123456789012345678901234567890.12345678901234567890123456789" },
		/* 2^-19 = 5^19 * 10^-19, 5^19 = 19073486328125; 2^-20 =
		 * 5^20 * 10^-20, 5^20 = 95367431640625: one-limb
		 * denominators on either side of the 10^19 limit */
		{ "1/524288", "0.0000019073486328125" },
		{ "1/1048576", "0.00000095367431640625" },
		{ "-3/1048576", "-0.00000286102294921875" },
		{ "1/10000000000000000000", "0.0000000000000000001" },      /* 10^-19 */
		{ "1/100000000000000000000", "0.00000000000000000001" },    /* 10^-20 */
		{ "-3/200000000000000000000000", "-0.000000000000000000000015" },
	};
	return cr_make_param_array(struct fmt_row, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct fmt_row *r, format, canonical)
{
	mpq_t q;

	mpq_init(q);
	set_frac(q, r->value);
	assert_text(q, r->want);
	mpq_clear(q);
}

Test(format, snprintf_semantics)
{
	char buf[8];
	mpq_t q;

	mpq_init(q);
	set_frac(q, "-500015/10000");                  /* "-50.0015", 8 chars */
	memset(buf, 'x', sizeof(buf));
	cr_assert_eq(dec_format(buf, 0, q), 8);
	cr_assert_eq(buf[0], 'x', "cap 0 must not write");
	cr_assert_eq(dec_format(buf, 1, q), 8);
	cr_assert_str_eq(buf, "");
	cr_assert_eq(dec_format(buf, 4, q), 8);
	cr_assert_str_eq(buf, "-50");
	cr_assert_eq(dec_format(buf, 8, q), 8);
	cr_assert_str_eq(buf, "-50.001");
	cr_assert_eq(dec_format(NULL, 0, q), 8);
	/* the same through the big path: 31 digits + ".00" */
	set_frac(q, "1234567890123456789012345678901");
	cr_assert_eq(dec_format(buf, sizeof(buf), q), 34);
	cr_assert_str_eq(buf, "1234567");
	mpq_clear(q);
}

Test(format, to_str_longer_than_stack_buffer)
{
	char want[160];
	mpq_t q;

	/* 10^150: "1", 150 zeros, ".00" — 154 characters */
	mpq_init(q);
	mpz_ui_pow_ui(mpq_numref(q), 10, 150);
	want[0] = '1';
	memset(want + 1, '0', 150);
	strcpy(want + 151, ".00");
	assert_text(q, want);
	/* -10^-150: "-0.", 149 zeros, "1" */
	mpz_set_si(mpq_numref(q), -1);
	mpz_ui_pow_ui(mpq_denref(q), 10, 150);
	strcpy(want, "-0.");
	memset(want + 3, '0', 149);
	strcpy(want + 152, "1");
	assert_text(q, want);
	mpq_clear(q);
}

Test(format, parse_round_trip)
{
	static const char *texts[] = { "0.05", "3.0", "1.913096", "000123.40" };
	static const char *canon[] = { "0.05", "3.00", "1.913096", "123.40" };
	mpq_t q;
	size_t i;

	mpq_init(q);
	for (i = 0; i < ARRAY_SIZE(texts); i++) {
		cr_assert_eq(dec_parse(q, texts[i], strlen(texts[i])), DEC_OK);
		assert_text(q, canon[i]);
	}
	mpq_clear(q);
}

Test(format, non_terminating_is_truncated)
{
	char want[80];
	mpq_t q;

	/* A caller bug, but it must not hang or overflow: 64 digits, toward 0. */
	mpq_init(q);
	set_frac(q, "-1/3");
	strcpy(want, "-0.");
	memset(want + 3, '3', 64);
	want[67] = '\0';
	assert_text(q, want);
	mpq_clear(q);
}

/* ---- rounding to the fen ---------------------------------------------- */

struct round_row {
	char value[32];         /* decimal, optional "-" */
	char half_up[32];
	char half_even[32];
	char down[32];
};

ParameterizedTestParameters(round, fen)
{
	static struct round_row rows[] = {
		/* value           half_up     half_even   down */
		{ "0",             "0.00",     "0.00",     "0.00" },
		{ "80",            "80.00",    "80.00",    "80.00" },
		{ "10.50",         "10.50",    "10.50",    "10.50" },
		{ "-10.5",         "-10.50",   "-10.50",   "-10.50" },
		/* exact halves of a fen */
		{ "0.005",         "0.01",     "0.00",     "0.00" },
		{ "0.015",         "0.02",     "0.02",     "0.01" },
		{ "0.025",         "0.03",     "0.02",     "0.02" },
		{ "0.035",         "0.04",     "0.04",     "0.03" },
		{ "0.045",         "0.05",     "0.04",     "0.04" },
		{ "1.005",         "1.01",     "1.00",     "1.00" },
		{ "2.675",         "2.68",     "2.68",     "2.67" },
		{ "-0.005",        "-0.01",    "0.00",     "0.00" },
		{ "-0.015",        "-0.02",    "-0.02",    "-0.01" },
		{ "-0.025",        "-0.03",    "-0.02",    "-0.02" },
		{ "-0.035",        "-0.04",    "-0.04",    "-0.03" },
		{ "-0.045",        "-0.05",    "-0.04",    "-0.04" },
		/* just either side of a half */
		{ "0.0049999",     "0.00",     "0.00",     "0.00" },
		{ "0.0050001",     "0.01",     "0.01",     "0.00" },
		{ "-0.0049999",    "0.00",     "0.00",     "0.00" },
		{ "-0.0050001",    "-0.01",    "-0.01",    "0.00" },
		/* not halves */
		{ "1.2349",        "1.23",     "1.23",     "1.23" },
		{ "-1.2351",       "-1.24",    "-1.24",    "-1.23" },
		{ "139.5685",      "139.57",   "139.57",   "139.56" },
		{ "119.5685",      "119.57",   "119.57",   "119.56" },
		{ "-50.0015",      "-50.00",   "-50.00",   "-50.00" },
		{ "1.913096",      "1.91",     "1.91",     "1.91" },
		{ "0.999",         "1.00",     "1.00",     "0.99" },
		{ "-0.999",        "-1.00",    "-1.00",    "-0.99" },
		{ "0.0001",        "0.00",     "0.00",     "0.00" },
		/* beyond 64 bits: fen 1234567890123456789012345.5 (odd) and
		 * 1234567890123456789012344.5 (even) */
		{ "12345678901234567890123.455",
		  "12345678901234567890123.46", "12345678901234567890123.46",
		  "12345678901234567890123.45" },
		{ "12345678901234567890123.445",
		  "12345678901234567890123.45", "12345678901234567890123.44",
		  "12345678901234567890123.44" },
		{ "-12345678901234567890123.445",
		  "-12345678901234567890123.45", "-12345678901234567890123.44",
		  "-12345678901234567890123.44" },
	};
	return cr_make_param_array(struct round_row, rows, ARRAY_SIZE(rows));
}

static void check_round(const char *value, int mode, const char *want)
{
	mpq_t v, out;
	char *s;

	mpq_inits(v, out, NULL);
	set_signed(v, value);
	dec_round_fen(out, v, mode);
	s = dec_to_str(out);
	cr_assert_str_eq(s, want, "%s mode %d: got %s, want %s", value, mode,
			 s, want);
	free(s);
	/* in place (out aliases v) gives the same */
	dec_round_fen(v, v, mode);
	cr_assert(mpq_equal(v, out), "%s mode %d in place", value, mode);
	mpq_clears(v, out, NULL);
}

ParameterizedTest(struct round_row *r, round, fen)
{
	check_round(r->value, DEC_ROUND_HALF_UP, r->half_up);
	check_round(r->value, DEC_ROUND_HALF_EVEN, r->half_even);
	check_round(r->value, DEC_ROUND_DOWN, r->down);
}

Test(round, non_decimal_rationals)
{
	/* 1/3 = 33.33… fen; -2/3 = -66.66… fen */
	static const struct { const char *v, *up, *even, *down; } rows[] = {
		{ "1/3", "0.33", "0.33", "0.33" },
		{ "-2/3", "-0.67", "-0.67", "-0.66" },
		{ "1/8", "0.13", "0.12", "0.12" },      /* 12.5 fen, exact half */
		{ "-3/8", "-0.38", "-0.38", "-0.37" },  /* -37.5 fen */
	};
	const int modes[] = { DEC_ROUND_HALF_UP, DEC_ROUND_HALF_EVEN,
			      DEC_ROUND_DOWN };
	mpq_t v, out;
	size_t i, m;

	mpq_inits(v, out, NULL);
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		const char *want[] = { rows[i].up, rows[i].even, rows[i].down };

		for (m = 0; m < 3; m++) {
			char *s;

			set_frac(v, rows[i].v);
			dec_round_fen(out, v, modes[m]);
			s = dec_to_str(out);
			cr_assert_str_eq(s, want[m], "%s mode %d", rows[i].v,
					 modes[m]);
			free(s);
		}
	}
	mpq_clears(v, out, NULL);
}

Test(round, unknown_mode_is_half_up)
{
	check_round("0.025", 99, "0.03");
	check_round("-0.025", -1, "-0.03");
}
