/* timeutil.c — see timeutil.h. Integer arithmetic only: no time.h, no TZ. */
#include "timeutil.h"

#include <stdio.h>
#include <string.h>

#define US_PER_SEC INT64_C(1000000)
#define US_PER_MIN (60 * US_PER_SEC)
#define US_PER_DAY (86400 * US_PER_SEC)

/* Division and remainder rounding toward minus infinity. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

static int is_leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int days_in_month(int64_t y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30,
				      31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard
 * Hinnant's days_from_civil / civil_from_days). Eras are 400-year cycles
 * starting on March 1st, so that the leap day is the last day of a year.
 */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;                                   /* [0, 399] */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;                              /* March = 0 */
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Reads exactly n digits at s into *out; -1 if any is not a digit. */
static int digits(const char *s, int n, int *out)
{
	int v = 0;

	while (n--) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	*out = v;
	return 0;
}

/* "YYYY-MM-DD" with a year 0001..9999 and a day that exists. */
static int parse_date(const char *s, int *y, int *m, int *d)
{
	if (digits(s, 4, y) || s[4] != '-' || digits(s + 5, 2, m) ||
	    s[7] != '-' || digits(s + 8, 2, d))
		return -1;
	if (*y < 1 || *m < 1 || *m > 12 || *d < 1 ||
	    *d > days_in_month(*y, *m))
		return -1;
	return 0;
}

/* "HH:MM:SS" with HH <= 23, MM <= 59, SS <= 59 (no leap second). */
static int parse_clock(const char *s, int *secs)
{
	int h, mi, sec;

	if (digits(s, 2, &h) || s[2] != ':' || digits(s + 3, 2, &mi) ||
	    s[5] != ':' || digits(s + 6, 2, &sec))
		return -1;
	if (h > 23 || mi > 59 || sec > 59)
		return -1;
	*secs = h * 3600 + mi * 60 + sec;
	return 0;
}

int utc_offset_parse(const char *s, size_t len, int *out_min)
{
	int h, mi;

	if (len != 6 || (s[0] != '+' && s[0] != '-') ||
	    digits(s + 1, 2, &h) || s[3] != ':' || digits(s + 4, 2, &mi))
		return -1;
	if (h > 23 || mi > 59)
		return -1;
	*out_min = (s[0] == '-' ? -1 : 1) * (h * 60 + mi);
	return 0;
}

/* ".f{1,6}" at s (at most len bytes) into microseconds; sets *used. */
static int parse_fraction(const char *s, size_t len, int *us, size_t *used)
{
	size_t n = 1;
	int v = 0, scale = 100000;

	while (n < len && s[n] >= '0' && s[n] <= '9') {
		if (n > 6)
			return -1;              /* a 7th digit: finer than 1 µs */
		v += (s[n] - '0') * scale;
		scale /= 10;
		n++;
	}
	if (n == 1)
		return -1;                      /* "." without digits */
	*us = v;
	*used = n;
	return 0;
}

int ts_parse(const char *s, size_t len, int default_offset_min, int64_t *out)
{
	int y, m, d, secs, us = 0, off = default_offset_min;
	size_t pos = 19, used;

	/* "YYYY-MM-DDTHH:MM:SS" is 19 bytes. */
	if (len < 19 || parse_date(s, &y, &m, &d) ||
	    (s[10] != 'T' && s[10] != ' ') || parse_clock(s + 11, &secs))
		return -1;
	if (pos < len && s[pos] == '.') {
		if (parse_fraction(s + pos, len - pos, &us, &used))
			return -1;
		pos += used;
	}
	if (pos < len && s[pos] == 'Z') {
		off = 0;
		pos++;
	} else if (pos < len) {
		if (utc_offset_parse(s + pos, len - pos, &off))
			return -1;
		pos += 6;
	}
	if (pos != len)
		return -1;
	*out = (days_from_civil(y, m, d) * 86400 + secs - off * 60) *
	       US_PER_SEC + us;
	return 0;
}

/* The local calendar day of t at the offset, and the µs into that day. */
static int64_t local_day(int64_t t, int offset_min, int64_t *us_of_day)
{
	int64_t local = t + offset_min * US_PER_MIN;
	int64_t days = floor_div(local, US_PER_DAY);

	if (us_of_day)
		*us_of_day = local - days * US_PER_DAY;
	return days;
}

/* Writes v as exactly n decimal digits at p (v >= 0); returns p + n. */
static char *put_digits(char *p, int64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

void ts_format(int64_t t, int offset_min, char *buf, size_t cap)
{
	char tmp[48], *p = tmp;
	int64_t us, y;
	int m, d, secs, off = offset_min < 0 ? -offset_min : offset_min;
	size_t n;

	if (!cap)
		return;
	civil_from_days(local_day(t, offset_min, &us), &y, &m, &d);
	secs = (int)(us / US_PER_SEC);
	us %= US_PER_SEC;
	if (y >= 0 && y <= 9999)
		p = put_digits(p, y, 4);
	else    /* outside the supported range: still print something true */
		p += snprintf(p, 24, "%lld", (long long)y);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, secs / 3600, 2);
	*p++ = ':';
	p = put_digits(p, secs / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, secs % 60, 2);
	if (us) {
		*p++ = '.';
		p = put_digits(p, us, 6);
	}
	*p++ = offset_min < 0 ? '-' : '+';
	p = put_digits(p, off / 60 % 100, 2);
	*p++ = ':';
	p = put_digits(p, off % 60, 2);
	n = (size_t)(p - tmp);
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
}

int period_parse(const char *s, size_t len, int *out)
{
	int y, m;

	if (len != 7 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &m))
		return -1;
	if (y < 1 || m < 1 || m > 12)
		return -1;
	*out = y * 12 + (m - 1);
	return 0;
}

void period_format(int period, char *buf)
{
	int64_t y = floor_div(period, 12);
	char *p = buf;

	/* Outside years 0000..9999 (never a valid period) write "0000-00". */
	if (y < 0 || y > 9999) {
		memcpy(buf, "0000-00", 8);
		return;
	}
	p = put_digits(p, y, 4);
	*p++ = '-';
	p = put_digits(p, floor_mod(period, 12) + 1, 2);
	*p = '\0';
}

int period_of(int64_t t, int offset_min)
{
	int64_t y;
	int m, d;

	civil_from_days(local_day(t, offset_min, NULL), &y, &m, &d);
	return (int)(y * 12 + (m - 1));
}

int64_t period_start(int period, int offset_min)
{
	int64_t y = floor_div(period, 12);
	int m = (int)floor_mod(period, 12) + 1;

	return days_from_civil(y, m, 1) * US_PER_DAY - offset_min * US_PER_MIN;
}

int64_t ts_add_months(int64_t t, int months, int offset_min)
{
	int64_t tod, y, p;
	int m, d, dim;

	civil_from_days(local_day(t, offset_min, &tod), &y, &m, &d);
	p = y * 12 + (m - 1) + months;
	y = floor_div(p, 12);
	m = (int)floor_mod(p, 12) + 1;
	dim = days_in_month(y, m);
	if (d > dim)
		d = dim;
	return days_from_civil(y, m, d) * US_PER_DAY + tod -
	       offset_min * US_PER_MIN;
}
