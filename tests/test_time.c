/*
 * test_time.c — timestamps, offsets, periods and month arithmetic (SPEC §3).
 *
 * Expected instants are worked out by hand, in seconds, from day counts:
 *   1970-01-01 .. 2026-01-01 is 56 years with 14 leap days (1972 … 2024,
 *   every 4th year; 2000 is a leap year), 56*365 + 14 = 20454 days, and
 *   20454 * 86400 = 1767225600 s.
 *   1970-01-01 .. 2024-01-01 is 54*365 + 13 = 19723 days.
 *   1970-01-01 .. 2000-01-01 is 30*365 + 7 = 10957 days = 946684800 s.
 *   1970-01-01 .. 2027-01-01 is 20454 + 365 = 20819 days.
 * Days before a date in a common year: Jan 0, Feb 31, Mar 59, Apr 90,
 * Nov 304; add one from March on in a leap year.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <string.h>

#include "timeutil.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define US INT64_C(1000000)
#define DAY INT64_C(86400)
#define CST 480                 /* +08:00, the reference plan's offset */

#define T2026 INT64_C(1767225600)       /* 2026-01-01T00:00:00Z, seconds */

static int64_t parse(const char *s, int default_offset)
{
	int64_t t = INT64_MIN;

	cr_assert_eq(ts_parse(s, strlen(s), default_offset, &t), 0,
		     "rejected \"%s\"", s);
	return t;
}

/* ---- ts_parse --------------------------------------------------------- */

/*
 * Criterion runs each test in a fresh process and copies the parameters
 * there by value, so the rows hold arrays, not pointers to literals.
 */
struct ts_row {
	char in[40];
	int default_offset;
	int64_t want_us;
};

ParameterizedTestParameters(ts_parse, valid)
{
	static struct ts_row rows[] = {
		{ "1970-01-01T00:00:00Z", CST, 0 },
		{ "1970-01-01T00:00:00+00:00", CST, 0 },
		{ "1970-01-01T00:00:00-00:00", CST, 0 },
		{ "1970-01-01T00:00:00", 0, 0 },
		{ "1970-01-01T08:00:00", CST, 0 },
		{ "2026-01-01T00:00:00Z", CST, T2026 * US },
		{ "2026-01-01T08:00:00+08:00", 0, T2026 * US },
		/* 18:30 + 5:30 = 24:00, the next day in UTC */
		{ "2025-12-31T18:30:00-05:30", CST, T2026 * US },
		/* no offset: the default applies */
		{ "2026-01-01T08:00:00", CST, T2026 * US },
		{ "2026-01-01T00:00:00", 0, T2026 * US },
		{ "2025-12-31T19:00:00", -300, T2026 * US },
		/* a space for the T */
		{ "2026-01-01 08:00:00+08:00", 0, T2026 * US },
		{ "2026-01-01 00:00:00Z", CST, T2026 * US },
		{ "2026-01-01 08:00:00", CST, T2026 * US },
		/* the widest offsets */
		{ "2026-01-01T23:59:00+23:59", 0, T2026 * US },
		{ "2025-12-31T00:01:00-23:59", 0, T2026 * US },
		/* the last second of a day: 86399 s after midnight */
		{ "2026-01-01T23:59:59Z", 0, (T2026 + 86399) * US },
		/* fractions, 1..6 digits, exact to the microsecond */
		{ "2026-01-01T00:00:00.1Z", 0, T2026 * US + 100000 },
		{ "2026-01-01T00:00:00.12Z", 0, T2026 * US + 120000 },
		{ "2026-01-01T00:00:00.123Z", 0, T2026 * US + 123000 },
		{ "2026-01-01T00:00:00.1234Z", 0, T2026 * US + 123400 },
		{ "2026-01-01T00:00:00.12345Z", 0, T2026 * US + 123450 },
		{ "2026-01-01T00:00:00.123456Z", 0, T2026 * US + 123456 },
		{ "2026-01-01T00:00:00.000001Z", 0, T2026 * US + 1 },
		{ "2026-01-01T00:00:00.999999Z", 0, T2026 * US + 999999 },
		{ "2026-01-01T00:00:00.000000Z", 0, T2026 * US },
		{ "2026-01-01T08:00:00.5+08:00", 0, T2026 * US + 500000 },
		{ "2026-01-01T08:00:00.000007", CST, T2026 * US + 7 },
		/* leap days: 2024-02-29 is day 19723 + 59 = 19782 */
		{ "2024-02-29T00:00:00Z", 0, 19782 * DAY * US },
		{ "2024-03-01T00:00:00Z", 0, 19783 * DAY * US },
		/* 2000-02-29 is day 10957 + 59 = 11016 */
		{ "2000-02-29T00:00:00Z", 0, 11016 * DAY * US },
		/* 2026-03-01 is day 20454 + 59 = 20513 (no leap day in 2026) */
		{ "2026-03-01T00:00:00Z", 0, 20513 * DAY * US },
		/* before the epoch */
		{ "1969-12-31T23:59:59Z", 0, -1 * US },
		{ "1969-12-31T23:59:59.5Z", 0, -500000 },
		{ "1970-01-01T07:59:59.999999+08:00", 0, -1 },
		/* the supported range: 0001-01-01 is 719162 days before 1970
		 * (the well-known -62135596800 s), 9999-12-31T23:59:59Z is
		 * 253402300799 s */
		{ "0001-01-01T00:00:00Z", 0, INT64_C(-62135596800) * US },
		{ "9999-12-31T23:59:59Z", 0, INT64_C(253402300799) * US },
		{ "9999-12-31T23:59:59.999999Z", 0,
		  INT64_C(253402300799) * US + 999999 },
	};
	return cr_make_param_array(struct ts_row, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct ts_row *r, ts_parse, valid)
{
	int64_t t = parse(r->in, r->default_offset);

	cr_assert_eq(t, r->want_us, "\"%s\": got %lld, want %lld", r->in,
		     (long long)t, (long long)r->want_us);
}

struct bad_row {
	char in[40];
};

ParameterizedTestParameters(ts_parse, invalid)
{
	static struct bad_row rows[] = {
		{ "" },
		{ "2026-01-01" },
		{ "2026-01-01T00:00" },
		{ "2026-01-01T00:00Z" },
		{ "2026-01-01T00:00:00." },
		{ "2026-01-01T00:00:00.Z" },
		{ "2026-01-01T00:00:00.1234567Z" },     /* 7 fraction digits */
		{ "2026-01-01T00:00:00.1234567" },
		{ "2026-01-01T00:00:00,5Z" },
		/* impossible dates and times */
		{ "2026-02-29T00:00:00Z" },
		{ "2026-02-30T00:00:00Z" },
		{ "2024-02-30T00:00:00Z" },
		{ "1900-02-29T00:00:00Z" },             /* 1900 is not leap */
		{ "2100-02-29T00:00:00Z" },
		{ "2026-04-31T00:00:00Z" },
		{ "2026-13-01T00:00:00Z" },
		{ "2026-00-10T00:00:00Z" },
		{ "2026-01-00T00:00:00Z" },
		{ "2026-01-32T00:00:00Z" },
		{ "0000-01-01T00:00:00Z" },
		{ "2026-01-01T24:00:00Z" },
		{ "2026-01-01T23:60:00Z" },
		{ "2026-01-01T23:59:60Z" },
		/* offsets */
		{ "2026-01-01T00:00:00+24:00" },
		{ "2026-01-01T00:00:00-24:00" },
		{ "2026-01-01T00:00:00+08:60" },
		{ "2026-01-01T00:00:00+0800" },
		{ "2026-01-01T00:00:00+08" },
		{ "2026-01-01T00:00:00+8:00" },
		{ "2026-01-01T00:00:00 +08:00" },
		{ "2026-01-01T00:00:00 Z" },
		{ "2026-01-01T00:00:00UTC" },
		/* trailing garbage and other shapes */
		{ "2026-01-01T00:00:00Zx" },
		{ "2026-01-01T00:00:00ZZ" },
		{ "2026-01-01T00:00:00Z " },
		{ "2026-01-01T00:00:00+08:00x" },
		{ "2026-01-01T00:00:00+08:00Z" },
		{ "2026-01-01T00:00:00 " },
		{ " 2026-01-01T00:00:00Z" },
		{ "2026-01-01  00:00:00Z" },
		{ "2026-01-01t00:00:00Z" },
		{ "2026-01-01T00:00:00z" },
		{ "2026-01-01_00:00:00Z" },
		{ "2026/01/01T00:00:00Z" },
		{ "2026-1-01T00:00:00Z" },
		{ "2026-01-01T0:00:00Z" },
		{ "+2026-01-01T00:00:00Z" },
		{ "20260101T000000Z" },
		{ "2026-01-01T00:00:00.-1Z" },
		{ "2026-０1-01T00:00:00Z" },
	};
	return cr_make_param_array(struct bad_row, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct bad_row *r, ts_parse, invalid)
{
	int64_t t = 42;

	cr_assert_eq(ts_parse(r->in, strlen(r->in), CST, &t), -1,
		     "accepted \"%s\"", r->in);
	cr_assert_eq(t, 42, "\"%s\" wrote *out", r->in);
}

Test(ts_parse, reads_only_len_bytes)
{
	const char *s = "2026-01-01T00:00:00Zgarbage";
	int64_t t;

	cr_assert_eq(ts_parse(s, 20, CST, &t), 0);
	cr_assert_eq(t, T2026 * US);
	/* without the Z the default offset applies */
	cr_assert_eq(ts_parse(s, 19, CST, &t), 0);
	cr_assert_eq(t, (T2026 - 8 * 3600) * US);
	cr_assert_eq(ts_parse(s, 18, CST, &t), -1);
	cr_assert_eq(ts_parse("2026-01-01T00:00:00\0", 20, CST, &t), -1);
}

/* ---- ts_format -------------------------------------------------------- */

Test(ts_format, shapes)
{
	char buf[40];

	ts_format(T2026 * US, CST, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2026-01-01T08:00:00+08:00");
	ts_format(T2026 * US, 0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2026-01-01T00:00:00+00:00");
	ts_format(T2026 * US + 123456, -330, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2025-12-31T18:30:00.123456-05:30");
	ts_format(T2026 * US + 500000, 0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2026-01-01T00:00:00.500000+00:00");
	ts_format(-500000, 0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "1969-12-31T23:59:59.500000+00:00");
	ts_format(INT64_C(-62135596800) * US, 0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0001-01-01T00:00:00+00:00");
	ts_format(INT64_C(253402300799) * US + 999999, 1439, buf, sizeof(buf));
	cr_assert_str_eq(buf, "10000-01-01T23:58:59.999999+23:59");
}

Test(ts_format, truncates_to_cap)
{
	char buf[11];

	memset(buf, 'x', sizeof(buf));
	ts_format(T2026 * US, CST, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2026-01-01");
}

Test(ts_format, round_trips_through_parse)
{
	static const int64_t ts[] = { 0, -1, 1, T2026 * US + 123456,
				      19782 * DAY * US + 36000 * US };
	static const int offs[] = { 0, CST, -330, 1439, -1439 };
	char buf[40];
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(ts); i++) {
		for (j = 0; j < ARRAY_SIZE(offs); j++) {
			ts_format(ts[i], offs[j], buf, sizeof(buf));
			cr_assert_eq(parse(buf, 0), ts[i], "%s", buf);
		}
	}
}

/* ---- utc_offset_parse ------------------------------------------------- */

Test(utc_offset, parse)
{
	int m = 7;

	cr_assert_eq(utc_offset_parse("+08:00", 6, &m), 0);
	cr_assert_eq(m, 480);
	cr_assert_eq(utc_offset_parse("-05:30", 6, &m), 0);
	cr_assert_eq(m, -330);
	cr_assert_eq(utc_offset_parse("+00:00", 6, &m), 0);
	cr_assert_eq(m, 0);
	cr_assert_eq(utc_offset_parse("-00:00", 6, &m), 0);
	cr_assert_eq(m, 0);
	cr_assert_eq(utc_offset_parse("+23:59", 6, &m), 0);
	cr_assert_eq(m, 1439);
	cr_assert_eq(utc_offset_parse("-23:59", 6, &m), 0);
	cr_assert_eq(m, -1439);

	m = 7;
	cr_assert_eq(utc_offset_parse("+24:00", 6, &m), -1);
	cr_assert_eq(utc_offset_parse("+08:60", 6, &m), -1);
	cr_assert_eq(utc_offset_parse("08:00", 5, &m), -1);
	cr_assert_eq(utc_offset_parse("+8:00", 5, &m), -1);
	cr_assert_eq(utc_offset_parse("+0800", 5, &m), -1);
	cr_assert_eq(utc_offset_parse("Z", 1, &m), -1);
	cr_assert_eq(utc_offset_parse("", 0, &m), -1);
	cr_assert_eq(utc_offset_parse("+08:00 ", 7, &m), -1);
	cr_assert_eq(utc_offset_parse("+08:00", 5, &m), -1);
	cr_assert_eq(utc_offset_parse("*08:00", 6, &m), -1);
	cr_assert_eq(m, 7);
}

/* ---- periods ---------------------------------------------------------- */

#define P(y, m) ((y) * 12 + (m) - 1)

Test(period, parse_and_format)
{
	static const struct { const char *text; int period; } rows[] = {
		{ "2026-10", 24321 },   /* 2026*12 + 9 */
		{ "2026-01", 24312 },
		{ "2026-12", 24323 },
		{ "2027-01", 24324 },
		{ "0001-01", 12 },
		{ "9999-12", 119999 },  /* 9999*12 + 11 */
	};
	char buf[8];
	size_t i;
	int p;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		p = -1;
		cr_assert_eq(period_parse(rows[i].text, 7, &p), 0);
		cr_assert_eq(p, rows[i].period, "%s", rows[i].text);
		period_format(rows[i].period, buf);
		cr_assert_str_eq(buf, rows[i].text);
	}
}

Test(period, parse_is_strict)
{
	static const char *bad[] = {
		"2026-1", "2026-13", "26-01", "2026-00", "0000-01", "2026-10 ",
		" 2026-10", "2026/10", "2026-1a", "", "+026-10", "2026-010",
		"20261", "2026-10-01", "２026-10", "2026-",
	};
	size_t i;
	int p = 42;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		cr_assert_eq(period_parse(bad[i], strlen(bad[i]), &p), -1,
			     "accepted \"%s\"", bad[i]);
	cr_assert_eq(p, 42);
	/* only len bytes are read */
	cr_assert_eq(period_parse("2026-10-01", 7, &p), 0);
	cr_assert_eq(p, 24321);
}

/* 2026-11-01 is day 20454 + 304 = 20758; 20758 * 86400 = 1793491200 s. */
#define NOV1_2026 INT64_C(1793491200)

Test(period, of_near_boundaries)
{
	/* 2026-10-31T16:00:00Z is 2026-11-01T00:00 at +08:00 */
	cr_assert_eq(parse("2026-10-31T16:00:00Z", 0), (NOV1_2026 - 8 * 3600) * US);
	cr_assert_eq(period_of((NOV1_2026 - 8 * 3600) * US, CST), P(2026, 11));
	cr_assert_eq(period_of((NOV1_2026 - 8 * 3600) * US - 1, CST), P(2026, 10));
	cr_assert_eq(period_of((NOV1_2026 - 8 * 3600) * US, 0), P(2026, 10));
	cr_assert_eq(period_of(NOV1_2026 * US - 1, 0), P(2026, 10));
	cr_assert_eq(period_of(NOV1_2026 * US, 0), P(2026, 11));
	/* at -05:00, 2026-11-01T05:00:00Z is local midnight */
	cr_assert_eq(period_of((NOV1_2026 + 5 * 3600) * US - 1, -300), P(2026, 10));
	cr_assert_eq(period_of((NOV1_2026 + 5 * 3600) * US, -300), P(2026, 11));
	/* a year boundary and before the epoch */
	cr_assert_eq(period_of(T2026 * US - 1, 0), P(2025, 12));
	cr_assert_eq(period_of((T2026 - 8 * 3600) * US, CST), P(2026, 1));
	cr_assert_eq(period_of(-1, 0), P(1969, 12));
	cr_assert_eq(period_of(-1, CST), P(1970, 1));
	cr_assert_eq(period_of(0, -60), P(1969, 12));
}

Test(period, start)
{
	int p;

	cr_assert_eq(period_start(P(2026, 11), CST), (NOV1_2026 - 8 * 3600) * US);
	cr_assert_eq(period_start(P(2026, 11), 0), NOV1_2026 * US);
	cr_assert_eq(period_start(P(2026, 11), -300), (NOV1_2026 + 5 * 3600) * US);
	cr_assert_eq(period_start(P(2026, 1), 0), T2026 * US);
	cr_assert_eq(period_start(P(1970, 1), 0), 0);
	cr_assert_eq(period_start(P(1970, 1), CST), -8 * 3600 * US);
	/* 2024-03-01 is day 19723 + 60 = 19783 (leap year) */
	cr_assert_eq(period_start(P(2024, 3), 0), 19783 * DAY * US);
	/* each period starts where the previous one ends */
	for (p = P(2023, 1); p <= P(2028, 12); p++) {
		cr_assert_eq(period_of(period_start(p, CST), CST), p);
		cr_assert_eq(period_of(period_start(p, CST) - 1, CST), p - 1);
	}
}

/* ---- ts_add_months ---------------------------------------------------- */

struct add_row {
	char from[40];
	int months;
	int offset;
	char want[40];          /* checked by hand in the comments below */
	int64_t want_s;         /* the same instant, in seconds */
};

ParameterizedTestParameters(add_months, table)
{
	static struct add_row rows[] = {
		/* 2027-02-28 is day 20819 + 31 + 27 = 20877, 20877 * 86400 =
		 * 1803772800; 10:00 at +08:00 is 02:00Z, + 7200 */
		{ "2024-02-29T10:00:00+08:00", 36, CST,
		  "2027-02-28T10:00:00+08:00", INT64_C(1803780000) },
		{ "2024-02-29T10:00:00Z", 36, 0,
		  "2027-02-28T10:00:00+00:00", INT64_C(1803772800) + 36000 },
		/* 2026-02-28 is day 20454 + 31 + 27 = 20512 -> 1772236800 */
		{ "2026-01-31T00:00:00Z", 1, 0,
		  "2026-02-28T00:00:00+00:00", INT64_C(1772236800) },
		{ "2026-01-31T00:00:00Z", 13, 0,
		  "2027-02-28T00:00:00+00:00", INT64_C(1803772800) },
		/* 2025-02-28 is day 19723 + 366 + 58 = 20147 -> 1740700800 */
		{ "2024-02-29T00:00:00Z", 12, 0,
		  "2025-02-28T00:00:00+00:00", INT64_C(1740700800) },
		/* 2028-02-29 is day 20819 + 365 + 59 = 21243 -> 1835395200 */
		{ "2024-02-29T00:00:00Z", 48, 0,
		  "2028-02-29T00:00:00+00:00", INT64_C(1835395200) },
		/* 2026-04-30 is day 20454 + 90 + 29 = 20573 -> 1777507200 */
		{ "2026-03-31T00:00:00Z", 1, 0,
		  "2026-04-30T00:00:00+00:00", INT64_C(1777507200) },
		{ "2026-01-01T00:00:00Z", 0, 0,
		  "2026-01-01T00:00:00+00:00", T2026 },
		/* December rolls into the next year: 2027-01-15 is day
		 * 20819 + 14 = 20833 -> 1799971200 */
		{ "2026-12-15T00:00:00Z", 1, 0,
		  "2027-01-15T00:00:00+00:00", INT64_C(1799971200) },
		/*
		 * Clamping in local time. At +08:00 2026-01-30T16:30:00Z is
		 * 2026-01-31T00:30 local: + 1 month is 2026-02-28T00:30 local,
		 * 2026-02-27T16:30Z (in UTC it would wrongly be Feb 28 16:30Z).
		 * 2026-02-27 is day 20511 -> 1772150400, + 59400.
		 */
		{ "2026-01-30T16:30:00Z", 1, CST,
		  "2026-02-28T00:30:00+08:00", INT64_C(1772150400) + 59400 },
		/* at +08:00 2026-01-30T05:00 local is Jan 29 21:00Z */
		{ "2026-01-30T05:00:00+08:00", 1, CST,
		  "2026-02-28T05:00:00+08:00", INT64_C(1772150400) + 75600 },
		/* At -05:00 2026-01-29T03:00Z is Jan 28 22:00 local: no clamp,
		 * Feb 28 22:00 local = 2026-03-01T03:00Z, day 20513 ->
		 * 1772323200 + 10800 (in UTC it would clamp to Feb 28). */
		{ "2026-01-29T03:00:00Z", 1, -300,
		  "2026-02-28T22:00:00-05:00", INT64_C(1772334000) },
		/* the time of day keeps its microseconds */
		{ "2024-02-29T10:00:00.123456+08:00", 36, CST,
		  "2027-02-28T10:00:00.123456+08:00", INT64_C(1803780000) },
		/* before the epoch: 1970-02-28 is day 58 -> 5011200 + 43200 */
		{ "1969-12-31T12:00:00Z", 2, 0,
		  "1970-02-28T12:00:00+00:00", INT64_C(5054400) },
	};
	return cr_make_param_array(struct add_row, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct add_row *r, add_months, table)
{
	int64_t from = parse(r->from, 0);
	int64_t got = ts_add_months(from, r->months, r->offset);
	char buf[40];

	ts_format(got, r->offset, buf, sizeof(buf));
	cr_assert_str_eq(buf, r->want, "%s + %d", r->from, r->months);
	cr_assert_eq(got / US, r->want_s, "%s + %d: %lld s", r->from,
		     r->months, (long long)(got / US));
	cr_assert_eq(parse(r->want, 0), got);
}

Test(add_months, consistent_with_parse_of_local_text)
{
	/* 2024-02-29T10:00 + 36 months at any offset is 2027-02-28T10:00
	 * in that offset */
	static const int offs[] = { 0, CST, -330, 1439, -1439 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		int64_t t = parse("2024-02-29T10:00:00", offs[i]);

		cr_assert_eq(ts_add_months(t, 36, offs[i]),
			     parse("2027-02-28T10:00:00", offs[i]),
			     "offset %d", offs[i]);
	}
}
