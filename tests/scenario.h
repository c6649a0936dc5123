/*
 * scenario.h — helpers for the settlement suites (test_settle.c,
 * test_properties.c): stores made from the reference plan or a variant of
 * it, batches of JSON Lines, period operations, and the rows of the exports
 * as text. Everything here drives the public C API only.
 *
 * tests/CMakeLists.txt links only support.c into each suite, so the helpers
 * are static functions in this header; each suite uses a subset.
 */
#ifndef REFERRAL_TEST_SCENARIO_H
#define REFERRAL_TEST_SCENARIO_H

#include <criterion/criterion.h>
#include <gmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "referral/referral.h"
#include "support.h"

#if defined(__GNUC__)
#define SCN_UNUSED __attribute__((unused))
#else
#define SCN_UNUSED
#endif

/* ---- a growing text buffer ---------------------------------------------- */

struct text {
	char *s;
	size_t n, cap;
};

static SCN_UNUSED void text_add(struct text *t, const char *data, size_t len)
{
	if (t->n + len + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 1024;
		while (t->n + len + 1 > cap)
			cap *= 2;
		char *p = realloc(t->s, cap);
		cr_assert_not_null(p, "out of memory");
		t->s = p;
		t->cap = cap;
	}
	memcpy(t->s + t->n, data, len);
	t->n += len;
	t->s[t->n] = '\0';
}

static SCN_UNUSED __attribute__((format(printf, 2, 3))) void text_printf(struct text *t,
									 const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	cr_assert_geq(n, 0);
	if ((size_t)n < sizeof small) {
		text_add(t, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	cr_assert_not_null(big);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	text_add(t, big, (size_t)n);
	free(big);
}

/* The text so far, never NULL; the caller frees it. */
static SCN_UNUSED char *text_take(struct text *t)
{
	if (!t->s)
		text_add(t, "", 0);
	char *s = t->s;
	memset(t, 0, sizeof *t);
	return s;
}

/* ---- plans ---------------------------------------------------------------- */

/*
 * `text` (malloc'd, consumed) with its one occurrence of `from` replaced by
 * `to`; `from` must occur exactly once. Free the result with free().
 */
static SCN_UNUSED char *replace_once(char *text, const char *from, const char *to)
{
	char *at = strstr(text, from);
	cr_assert_not_null(at, "the plan has no \"%s\"", from);
	cr_assert_null(strstr(at + 1, from), "\"%s\" occurs twice in the plan", from);
	size_t head = (size_t)(at - text), lf = strlen(from), lt = strlen(to);
	char *out = malloc(strlen(text) - lf + lt + 1);
	cr_assert_not_null(out);
	memcpy(out, text, head);
	memcpy(out + head, to, lt);
	strcpy(out + head + lt, at + lf);
	free(text);
	return out;
}

/*
 * The reference plan with `n` textual replacements, given as pairs
 * (from, to), each applied by replace_once(). Free the result with free().
 */
static SCN_UNUSED char *plan_with(int n, ...)
{
	char *text = test_reference_plan();
	va_list ap;

	cr_assert_not_null(text, "cannot read the reference plan");
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *from = va_arg(ap, const char *), *to = va_arg(ap, const char *);
		text = replace_once(text, from, to);
	}
	va_end(ap);
	return text;
}

/* ---- stores ----------------------------------------------------------------- */

/* A new store at `path` with the plan text `plan_json` (NULL: the
 * reference plan). */
static SCN_UNUSED referral_store *store_at(const char *path, const char *plan_json)
{
	char *ref = plan_json ? NULL : test_reference_plan();
	referral_store *st = NULL;
	int rc = referral_store_create(&st, path, plan_json ? plan_json : ref);
	cr_assert_eq(rc, REFERRAL_OK, "store_create: %d %s", rc, referral_errmsg(st));
	free(ref);
	return st;
}

/* A new store at a fresh path in the test's temporary directory. */
static SCN_UNUSED referral_store *store_with(const char *plan_json)
{
	return store_at(test_db_path(), plan_json);
}

/* ---- batches ------------------------------------------------------------------ */

struct ingest_result {
	int rc;
	long ingested, duplicates, errors;
	char first_error[512];
};

/* Ingests `jsonl` (lines separated by '\n') as one batch named `source`. */
static SCN_UNUSED struct ingest_result ingest_try(referral_store *st, const char *jsonl)
{
	struct ingest_result r = {0};
	referral_batch *b = NULL;
	long lineno = 0;

	cr_assert_eq(referral_batch_begin(st, &b, "batch.jsonl"), REFERRAL_OK, "batch_begin: %s",
		     referral_errmsg(st));
	for (const char *p = jsonl; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		int rc = referral_batch_add_json(b, p, len, ++lineno);
		cr_assert_neq(rc, REFERRAL_EIO, "storage failure at line %ld", lineno);
		p += len + (nl ? 1 : 0);
	}
	r.rc = referral_batch_commit(b);
	r.ingested = referral_batch_ingested(b);
	r.duplicates = referral_batch_duplicates(b);
	r.errors = referral_batch_error_count(b);
	if (r.errors) {
		const char *e = referral_batch_error(b, 0);
		snprintf(r.first_error, sizeof r.first_error, "%s", e ? e : "?");
	}
	referral_batch_free(b);
	return r;
}

/* Ingests `jsonl`, which must be accepted whole. */
static SCN_UNUSED void ingest(referral_store *st, const char *jsonl)
{
	struct ingest_result r = ingest_try(st, jsonl);
	cr_assert_eq(r.rc, REFERRAL_OK, "ingest rejected (%ld bad lines), first: %s", r.errors,
		     r.first_error);
}

/* ---- periods --------------------------------------------------------------------- */

static SCN_UNUSED void settle(referral_store *st, const char *period)
{
	int rc = referral_settle(st, period);
	cr_assert_eq(rc, REFERRAL_OK, "settle %s: %d %s", period, rc, referral_errmsg(st));
}

static SCN_UNUSED void close_period(referral_store *st, const char *period)
{
	int rc = referral_close(st, period);
	cr_assert_eq(rc, REFERRAL_OK, "close %s: %d %s", period, rc, referral_errmsg(st));
}

/* Closes every open period up to and including `last` ("YYYY-MM"). */
static SCN_UNUSED void close_through(referral_store *st, const char *last)
{
	char open[16];
	for (;;) {
		cr_assert_eq(referral_open_period(st, open, sizeof open), REFERRAL_OK, "%s",
			     referral_errmsg(st));
		if (strcmp(open, last) > 0)
			return;
		close_period(st, open);
	}
}

static SCN_UNUSED void assert_verifies(referral_store *st)
{
	int rc = referral_verify(st);
	cr_assert_eq(rc, REFERRAL_OK, "verify: %d %s", rc, referral_errmsg(st));
}

/* ---- reading results ------------------------------------------------------------- */

/*
 * The rows of an export through the cursor API, one "a,b,c\n" per row, no
 * header (NULL period: every period). The caller frees the text.
 */
static SCN_UNUSED char *rows(referral_store *st, const char *table, const char *period)
{
	referral_rows *r = NULL;
	struct text t = {0};
	int rc = referral_rows_open(st, &r, table, period);

	cr_assert_eq(rc, REFERRAL_OK, "rows_open %s: %d %s", table, rc, referral_errmsg(st));
	int ncols = referral_rows_columns(r);
	while ((rc = referral_rows_next(r)) == 1) {
		for (int i = 0; i < ncols; i++) {
			const char *v = referral_rows_value(r, i);
			if (i)
				text_add(&t, ",", 1);
			text_add(&t, v, strlen(v));
		}
		text_add(&t, "\n", 1);
	}
	cr_assert_eq(rc, 0, "rows_next %s: %d %s", table, rc, referral_errmsg(st));
	referral_rows_free(r);
	return text_take(&t);
}

/* Asserts that the rows of `table` for `period` are exactly `want`. */
#define assert_rows(st, table, period, want)                                          \
	do {                                                                          \
		char *got_ = rows((st), (table), (period));                           \
		cr_assert_str_eq(got_, (want), "%s %s:\n--- got\n%s--- want\n%s",     \
				 (table), (period) ? (period) : "(all)", got_, (want)); \
		free(got_);                                                           \
	} while (0)

static int scn_sink(void *ctx, const char *data, size_t len)
{
	text_add(ctx, data, len);
	return 0;
}

/* The CSV export of `table` (header included), byte for byte. */
static SCN_UNUSED char *export_csv(referral_store *st, const char *table, const char *period)
{
	struct text t = {0};
	int rc = referral_export(st, table, period, "csv", scn_sink, &t);
	cr_assert_eq(rc, REFERRAL_OK, "export %s: %d %s", table, rc, referral_errmsg(st));
	return text_take(&t);
}

/* All four exports concatenated, for comparing two stores. */
static SCN_UNUSED char *export_all(referral_store *st)
{
	static const char *const tables[] = {"statements", "lines", "grades", "members"};
	struct text t = {0};
	for (size_t i = 0; i < 4; i++) {
		char *one = export_csv(st, tables[i], NULL);
		text_add(&t, one, strlen(one));
		free(one);
	}
	return text_take(&t);
}

/* ---- exact values in the test ---------------------------------------------------- */

/*
 * Parses a decimal "-12.345" / "7" into q, independently of the library.
 * Returns 0, or -1 if s is not of the form -?[0-9]+(\.[0-9]+)?.
 */
static SCN_UNUSED int q_from_dec(mpq_t q, const char *s)
{
	char digits[256];
	size_t nd = 0, frac = 0;
	int neg = 0, seen_dot = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s < '0' || *s > '9')
		return -1;
	if (neg)
		digits[nd++] = '-';
	for (; *s; s++) {
		if (*s == '.' && !seen_dot && s[1]) {
			seen_dot = 1;
			continue;
		}
		if (*s < '0' || *s > '9' || nd + 1 >= sizeof digits - 8)
			return -1;
		digits[nd++] = *s;
		frac += seen_dot;
	}
	digits[nd] = '\0';
	mpz_t num, den;
	mpz_inits(num, den, NULL);
	mpz_set_str(num, digits, 10);
	mpz_ui_pow_ui(den, 10, frac);
	mpq_set_num(q, num);
	mpq_set_den(q, den);
	mpq_canonicalize(q);
	mpz_clears(num, den, NULL);
	return 0;
}

/* The n-th (0-based) comma-separated field of a row, into buf. */
static SCN_UNUSED const char *field_of(const char *row, int n, char *buf, size_t cap)
{
	for (int i = 0; i < n && row; i++) {
		row = strchr(row, ',');
		if (row)
			row++;
	}
	cr_assert_not_null(row, "row has no field %d", n);
	size_t len = strcspn(row, ",\n");
	cr_assert_lt(len, cap);
	memcpy(buf, row, len);
	buf[len] = '\0';
	return buf;
}

/* ---- events as JSON Lines, local times in the plan's +08:00 ----------------------- */

#define EV_STORE(id, at)                                                                   \
	"{\"type\":\"store\",\"id\":\"" id "\",\"at\":\"" at "\",\"name\":\"Store " id "\"," \
	"\"region\":\"east\"}\n"
#define EV_RATING(id, at, store, rating)                                                  \
	"{\"type\":\"store_rating\",\"id\":\"" id "\",\"at\":\"" at "\",\"store\":\"" store \
	"\",\"rating\":\"" rating "\"}\n"
#define EV_DIST(id, at, store)                                                            \
	"{\"type\":\"distributor\",\"id\":\"" id "\",\"at\":\"" at "\",\"kind\":\"mom\","  \
	"\"store\":\"" store "\",\"recruiter\":null}\n"
#define EV_RECRUIT(id, at, store, recruiter)                                              \
	"{\"type\":\"distributor\",\"id\":\"" id "\",\"at\":\"" at "\",\"kind\":\"doctor\"," \
	"\"store\":\"" store "\",\"recruiter\":\"" recruiter "\"}\n"
#define EV_MOVE(id, at, dist, store)                                                      \
	"{\"type\":\"store_change\",\"id\":\"" id "\",\"at\":\"" at "\",\"distributor\":\"" \
	dist "\",\"store\":\"" store "\"}\n"
#define EV_TERM(id, at, dist)                                                             \
	"{\"type\":\"terminate\",\"id\":\"" id "\",\"at\":\"" at "\",\"distributor\":\"" dist \
	"\"}\n"
#define EV_MEMBER(id, at, dist)                                                           \
	"{\"type\":\"member\",\"id\":\"" id "\",\"at\":\"" at "\",\"distributor\":\"" dist  \
	"\"}\n"
#define EV_MEMBER0(id, at)                                                                \
	"{\"type\":\"member\",\"id\":\"" id "\",\"at\":\"" at "\",\"distributor\":null}\n"
#define EV_BIND(id, at, member, dist)                                                     \
	"{\"type\":\"bind\",\"id\":\"" id "\",\"at\":\"" at "\",\"member\":\"" member      \
	"\",\"distributor\":\"" dist "\"}\n"
#define EV_ORDER(id, at, member, amount)                                                  \
	"{\"type\":\"order\",\"id\":\"" id "\",\"at\":\"" at "\",\"member\":\"" member     \
	"\",\"amount\":\"" amount "\"}\n"
#define EV_REFUND(id, at, order, amount)                                                  \
	"{\"type\":\"refund\",\"id\":\"" id "\",\"at\":\"" at "\",\"order\":\"" order      \
	"\",\"amount\":\"" amount "\"}\n"
#define EV_SHARE(id, at, dist)                                                            \
	"{\"type\":\"share\",\"id\":\"" id "\",\"at\":\"" at "\",\"distributor\":\"" dist  \
	"\"}\n"

#define STATEMENTS_HEADER                                                                  \
	"period,distributor,store,grade,opening_carry,commission,bounty,override,accrued,"   \
	"total,payable,closing_carry\n"

#endif
