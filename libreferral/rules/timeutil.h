/*
 * timeutil.h — instants, local dates and periods (docs/formats.md,
 * "Exact values").
 *
 * An instant is an int64 count of microseconds since 1970-01-01T00:00:00Z.
 * A period is a calendar month in the plan's fixed UTC offset, held as the
 * integer year*12 + (month-1): 2026-10 is 2026*12+9. Offsets are minutes
 * east of UTC (+08:00 is 480). Years 0001..9999 are supported.
 */
#ifndef REFERRAL_TIMEUTIL_H
#define REFERRAL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses `len` bytes at `s` as "YYYY-MM-DDTHH:MM:SS[.f{1,6}]" followed by
 * "Z", "+HH:MM", "-HH:MM" or nothing (then `default_offset_min` applies); a
 * single space may replace the "T". Rejects impossible dates and times
 * (Feb 30, hour 24, minute 60, second 60), years outside 0001..9999, more
 * than 6 fraction digits, offsets beyond ±23:59, lowercase "t"/"z" and any
 * trailing byte. `s` need not be NUL-terminated. Returns 0 and sets *out,
 * or -1 and leaves *out alone.
 */
int ts_parse(const char *s, size_t len, int default_offset_min, int64_t *out);

/* Formats an instant as "YYYY-MM-DDTHH:MM:SS[.ffffff]±HH:MM" in the given
 * offset (fraction only when non-zero, 6 digits; "+00:00" for UTC), into
 * buf of >= 40 bytes; a smaller cap truncates, always NUL-terminated. A
 * local year outside 0000..9999 is written with as many digits as needed. */
void ts_format(int64_t t, int offset_min, char *buf, size_t cap);

/* Parses "+HH:MM" / "-HH:MM" (HH <= 23, MM <= 59) into minutes. 0 or -1. */
int utc_offset_parse(const char *s, size_t len, int *out_min);

/* Parses "YYYY-MM" strictly (4-digit year 0001..9999, month 01..12) into a
 * period. Returns 0 or -1. */
int period_parse(const char *s, size_t len, int *out);

/* Writes "YYYY-MM" and a NUL into buf (at least 8 bytes). A period outside
 * years 0000..9999 is written as "0000-00", which period_parse rejects. */
void period_format(int period, char *buf);

/* The period containing instant t, in local time at the offset. The
 * functions below are pure and thread-safe; the calendar is proleptic
 * Gregorian and instants before 1970 work too. */
int period_of(int64_t t, int offset_min);

/* The first instant of a period: local YYYY-MM-01T00:00 at the offset. */
int64_t period_start(int period, int offset_min);

/* Adds `months` (>= 0) to the local date-time of t, keeping the time of
 * day and clamping the day to the end of the target month:
 * 2024-02-29T10:00 + 36 months = 2027-02-28T10:00. */
int64_t ts_add_months(int64_t t, int months, int offset_min);

#endif
