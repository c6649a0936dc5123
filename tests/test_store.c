/*
 * test_store.c — the store: creating, opening, schema versions, plan
 * versions, and the guards that keep the log and closed periods unchanged.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <referral/referral.h>

#include "core.h"
#include "support.h"

static char *plan_text;

static void setup(void) { plan_text = test_reference_plan(); }
static void teardown(void) { free(plan_text); }

TestSuite(store, .init = setup, .fini = teardown);

/* SQL on the store, a file or a PostgreSQL brand: SQLITE_OK (0) or not. */
#define raw_sql test_store_sql

static long count_rows(const char *path, const char *table)
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	return (long)test_store_int(path, sql);
}

/* A new store with the reference plan, or a failed test. */
static referral_store *new_store(const char *path)
{
	referral_store *st;
	int rc = referral_store_create(&st, path, plan_text);
	cr_assert_eq(rc, REFERRAL_OK, "%s", referral_errmsg(st));
	return st;
}

static int ingest(referral_store *st, const char *lines)
{
	referral_batch *b;
	int rc = referral_batch_begin(st, &b, "t");
	cr_assert_eq(rc, REFERRAL_OK);
	long n = 0;
	for (const char *p = lines; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		referral_batch_add_json(b, p, len, ++n);
		p += len + (nl != NULL);
	}
	rc = referral_batch_commit(b);
	referral_batch_free(b);
	return rc;
}

Test(store, create_then_open_reports_the_first_open_period)
{
	const char *path = test_db_path();
	referral_store *st = new_store(path);
	referral_store_free(st);
	cr_assert_eq(referral_store_open(&st, path), REFERRAL_OK, "%s", referral_errmsg(st));
	char p[8];
	cr_assert_eq(referral_open_period(st, p, sizeof p), REFERRAL_OK);
	cr_assert_str_eq(p, "2026-01");
	referral_store_free(st);
}

Test(store, create_twice_is_refused_by_state)
{
	const char *path = test_db_path();
	referral_store_free(new_store(path));
	referral_store *st;
	cr_assert_eq(referral_store_create(&st, path, plan_text), REFERRAL_ESTATE);
	cr_assert(strstr(referral_errmsg(st), test_pg() ? "already exists" : "already initialised"),
		  "%s", referral_errmsg(st));
	referral_store_free(st);
}

Test(store, create_with_a_bad_plan_writes_nothing)
{
	const char *path = test_db_path();
	referral_store *st;
	cr_assert_eq(referral_store_create(&st, path, "{\"utc_offset\": \"+08:00\"}"), REFERRAL_EINPUT);
	cr_assert(strstr(referral_errmsg(st), "plan:"), "%s", referral_errmsg(st));
	referral_store_free(st);
	/* the plan is checked before the file is touched: no file is left */
	cr_assert_neq(access(path, F_OK), 0);
}

Test(store, open_of_a_missing_file_is_a_storage_failure)
{
	referral_store *st;
	char path[400];
	snprintf(path, sizeof path, "%s/no-such-dir/x.db", test_tmpdir());
	cr_assert_eq(referral_store_open(&st, path), REFERRAL_EIO);
	cr_assert(strstr(referral_errmsg(st), "no-such-dir"), "%s", referral_errmsg(st));
	referral_store_free(st);
}

Test(store, a_file_of_other_data_is_refused)
{
	TEST_SQLITE_ONLY("a file of other data (test_postgres.c: a brand that exists)");
	const char *path = test_db_path();
	cr_assert_eq(raw_sql(path, "CREATE TABLE t(x)"), SQLITE_OK);
	referral_store *st;
	cr_assert_eq(referral_store_create(&st, path, plan_text), REFERRAL_ESTATE);
	referral_store_free(st);
	cr_assert_eq(referral_store_open(&st, path), REFERRAL_EIO);
	referral_store_free(st);
}

Test(store, a_newer_schema_is_refused)
{
	const char *path = test_db_path();
	referral_store_free(new_store(path));
	cr_assert_eq(raw_sql(path, test_pg() ? "UPDATE meta SET version = 99" : "PRAGMA user_version = 99"),
		     SQLITE_OK, "%s", test_store_error());
	referral_store *st;
	cr_assert_eq(referral_store_open(&st, path), REFERRAL_EIO);
	cr_assert(strstr(referral_errmsg(st), "newer"), "%s", referral_errmsg(st));
	referral_store_free(st);
}

/* Everything an export writes, as one string (malloc'd). */
static int collect(void *ctx, const char *data, size_t len)
{
	struct strbuf_like { char *p; size_t n; } *t = ctx;
	char *n = realloc(t->p, t->n + len + 1);
	if (!n)
		return 1;
	memcpy(n + t->n, data, len);
	t->n += len;
	n[t->n] = '\0';
	t->p = n;
	return 0;
}

static char *export_text(referral_store *st, const char *table, const char *period)
{
	struct { char *p; size_t n; } t = {NULL, 0};
	int rc = referral_export(st, table, period, "csv", collect, &t);
	cr_assert_eq(rc, REFERRAL_OK, "export %s: %s", table, referral_errmsg(st));
	return t.p;
}

/* The query plan's detail of its first step that names `index`, or NULL. */
static char *plan_using(sqlite3 *db, const char *sql, const char *index)
{
	sqlite3_stmt *q;
	char *found = NULL;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	while (!found && sqlite3_step(q) == SQLITE_ROW)
		if (strstr((const char *)sqlite3_column_text(q, 3), index))
			found = strdup((const char *)sqlite3_column_text(q, 3));
	sqlite3_finalize(q);
	return found;
}

/* The worked example, closed through 2026-03 by libreferral 0.1 (spec v1)
 * with schema version 1 (before the network cache) or 2, or by 0.2 with
 * version 3 (before the stream's index said BETWEEN) or 4 (when the
 * (ref1, type) index held orders and shares), is migrated when opened:
 * its frozen statements release what they accrued and hold nothing
 * (versions 3 and 4: what they stored), every closed period verifies, the
 * next month closes, and the stream and the lookups by reference read
 * through their indexes. */
static void migrates(const char *dump, int version)
{
	TEST_SQLITE_ONLY("migrations of SQLite files of schema versions 1 to 4");
	const char *path = test_db_path();
	char file[512];
	snprintf(file, sizeof file, "%s/stores/%s", REFERRAL_FIXTURES_DIR, dump);
	char *sql = test_read_file(file);
	cr_assert_not_null(sql, "cannot read %s", file);
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	free(sql);

	referral_store *st;
	cr_assert_eq(referral_store_open(&st, path), REFERRAL_OK, "%s", referral_errmsg(st));
	cr_assert_eq(referral_verify(st), REFERRAL_OK, "v%d: %s", version, referral_errmsg(st));
	static const char *const periods[] = {"2026-01", "2026-02", "2026-03"};
	for (int i = 0; i < 3; i++) {
		snprintf(file, sizeof file, "%s/basic/expected/close_%s.statements.csv",
			 REFERRAL_FIXTURES_DIR, periods[i]);
		char *want = test_read_file(file), *got = export_text(st, "statements", periods[i]);
		cr_assert_not_null(want, "cannot read %s", file);
		cr_assert_str_eq(got, want, "v%d: statements %s", version, periods[i]);
		free(want);
		free(got);
	}
	cr_assert_eq(referral_close(st, "2026-04"), REFERRAL_OK, "%s", referral_errmsg(st));
	cr_assert_eq(referral_verify(st), REFERRAL_OK, "%s", referral_errmsg(st));
	referral_store_free(st);
	cr_assert_eq(count_rows(path, "networks"), 1);
	cr_assert_eq(count_rows(path, "holds"), 4);
	/* frozen as before: the migration put the update trigger back */
	cr_assert_neq(raw_sql(path, "UPDATE statements SET held = '1.00'"), SQLITE_OK);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *q;
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
	cr_assert_eq(sqlite3_column_int(q, 0), 5);
	sqlite3_finalize(q);
	/* the period's stream is read from its index, not from the table, and
	 * so are the refunds of an order */
	char *qp = plan_using(db, "EXPLAIN QUERY PLAN SELECT seq, type, at, ref1, num, txt1"
			      " FROM events WHERE booked = 1 AND seq <= 99 AND type BETWEEN 9"
			      " AND 11 ORDER BY at, seq", "COVERING INDEX events_stream");
	cr_assert_not_null(qp, "v%d: the stream does not read its index", version);
	free(qp);
	qp = plan_using(db, "EXPLAIN QUERY PLAN SELECT seq FROM events WHERE ref1 = 9 AND type = 10"
			" AND type <> 9 AND type <> 11", "INDEX events_by_ref (ref1=? AND type=?)");
	cr_assert_not_null(qp, "v%d: refunds are not read by their order", version);
	free(qp);
	/* orders and shares are no longer filed under their member */
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE name = 'events_by_ref'",
					-1, &q, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
	cr_assert(strstr((const char *)sqlite3_column_text(q, 0), "WHERE type <> 9 AND type <> 11"),
		  "v%d: %s", version, sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(db);
	cr_assert_eq(count_rows(path, "member_events_mark"), 1);
}

Test(store, a_version_1_store_migrates) { migrates("basic-v1.sql", 1); }

Test(store, a_version_2_store_migrates) { migrates("basic-v2.sql", 2); }

Test(store, a_version_3_store_migrates) { migrates("basic-v3.sql", 3); }

Test(store, a_version_4_store_migrates) { migrates("basic-v4.sql", 4); }

Test(store, the_store_uses_wal)
{
	TEST_SQLITE_ONLY("SQLite's journal mode");
	const char *path = test_db_path();
	referral_store_free(new_store(path));
	sqlite3 *db;
	sqlite3_stmt *q;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	sqlite3_close(db);
}

Test(store, null_handles_are_usage_errors)
{
	cr_assert_str_eq(referral_errmsg(NULL), "out of memory");
	cr_assert_eq(referral_settle(NULL, "2026-01"), REFERRAL_EUSAGE);
	cr_assert_eq(referral_verify(NULL), REFERRAL_EUSAGE);
	referral_store_free(NULL);
	referral_batch_free(NULL);
	referral_rows_free(NULL);
}

Test(store, version_calls_agree_with_the_header)
{
	cr_assert_str_eq(referral_version(), REFERRAL_VERSION);
	cr_assert_eq(referral_version_number(), REFERRAL_VERSION_NUMBER);
	cr_assert_str_eq(referral_status_name(REFERRAL_EVERIFY), "verify");
}

Test(store, a_plan_version_needs_an_open_period_and_the_same_offset)
{
	const char *path = test_db_path();
	referral_store *st = new_store(path);
	cr_assert_eq(referral_close(st, "2026-01"), REFERRAL_OK, "%s", referral_errmsg(st));
	/* 2026-01 is closed now */
	cr_assert_eq(referral_plan_add(st, plan_text, "2026-01"), REFERRAL_ESTATE);
	cr_assert(strstr(referral_errmsg(st), "2026-01"), "%s", referral_errmsg(st));
	cr_assert_eq(referral_plan_add(st, plan_text, "2026-1"), REFERRAL_EUSAGE);
	cr_assert(strstr(referral_errmsg(st), "YYYY-MM"), "%s", referral_errmsg(st));

	char *other = strdup(plan_text);
	char *off = strstr(other, "+08:00");
	cr_assert_not_null(off);
	memcpy(off, "+09:00", 6);
	cr_assert_eq(referral_plan_add(st, other, "2026-02"), REFERRAL_EINPUT);
	cr_assert(strstr(referral_errmsg(st), "utc_offset"), "%s", referral_errmsg(st));
	free(other);

	cr_assert_eq(referral_plan_add(st, plan_text, "2026-02"), REFERRAL_OK, "%s",
		     referral_errmsg(st));
	referral_store_free(st);
	cr_assert_eq(count_rows(path, "plans"), 2);
}

Test(store, the_event_log_is_append_only)
{
	const char *path = test_db_path();
	referral_store *st = new_store(path);
	cr_assert_eq(ingest(st, "{\"type\":\"store\",\"id\":\"s1\",\"at\":\"2026-01-01T08:00:00\","
				"\"name\":\"One\",\"region\":\"east\"}"), REFERRAL_OK);
	referral_store_free(st);
	cr_assert_neq(raw_sql(path, "UPDATE events SET id = 's2'"), SQLITE_OK);
	cr_assert_neq(raw_sql(path, "DELETE FROM events"), SQLITE_OK);
	cr_assert_eq(count_rows(path, "events"), 1);
}

Test(store, closed_periods_are_frozen_in_the_schema)
{
	const char *path = test_db_path();
	referral_store *st = new_store(path);
	cr_assert_eq(ingest(st,
		"{\"type\":\"store\",\"id\":\"s1\",\"at\":\"2026-01-01T08:00:00\",\"name\":\"One\",\"region\":\"e\"}\n"
		"{\"type\":\"distributor\",\"id\":\"D1\",\"at\":\"2026-01-02T08:00:00\",\"kind\":\"mom\",\"store\":\"s1\",\"recruiter\":null}\n"
		"{\"type\":\"member\",\"id\":\"m1\",\"at\":\"2026-01-03T08:00:00\",\"distributor\":\"D1\"}\n"
		"{\"type\":\"order\",\"id\":\"o1\",\"at\":\"2026-01-04T08:00:00\",\"member\":\"m1\",\"amount\":\"100.00\"}"),
		REFERRAL_OK);
	cr_assert_eq(referral_close(st, "2026-01"), REFERRAL_OK, "%s", referral_errmsg(st));
	referral_store_free(st);
	cr_assert_eq(count_rows(path, "statements"), 1);
	cr_assert_eq(count_rows(path, "snapshots"), 1);
	cr_assert_neq(raw_sql(path, "UPDATE statements SET payable = '9.00'"), SQLITE_OK);
	cr_assert_neq(raw_sql(path, "UPDATE snapshots SET data = x''"), SQLITE_OK);
	cr_assert_neq(raw_sql(path, "DELETE FROM statements"), SQLITE_OK);
	cr_assert_neq(raw_sql(path, "INSERT INTO grades VALUES(24312, 2, 1, 0, '0.00', 0, '0.00', 1)"),
		      SQLITE_OK);
	cr_assert_neq(raw_sql(path, "DELETE FROM closes"), SQLITE_OK);
	cr_assert_eq(referral_store_open(&st, path), REFERRAL_OK);
	cr_assert_eq(referral_verify(st), REFERRAL_OK, "%s", referral_errmsg(st));
	referral_store_free(st);
}

Test(store, a_batch_left_open_is_rolled_back_when_freed)
{
	const char *path = test_db_path();
	referral_store *st = new_store(path);
	referral_batch *b;
	cr_assert_eq(referral_batch_begin(st, &b, "t"), REFERRAL_OK);
	const char *line = "{\"type\":\"store\",\"id\":\"s1\",\"at\":\"2026-01-01T08:00:00\","
			   "\"name\":\"One\",\"region\":\"e\"}";
	cr_assert_eq(referral_batch_add_json(b, line, strlen(line), 1), REFERRAL_OK);
	/* a second batch on the same handle is refused while one is open */
	referral_batch *other;
	cr_assert_eq(referral_batch_begin(st, &other, "u"), REFERRAL_EUSAGE);
	referral_batch_free(b);
	referral_store_free(st);
	cr_assert_eq(count_rows(path, "events"), 0);
}

/* ---- the storage interface ---------------------------------------------- */

struct seen_ids {
	char ids[4][8];
	int n;
};

static int see_id(void *ctx, const char *id, size_t n, int64_t seq, int64_t at)
{
	struct seen_ids *s = ctx;
	(void)at;
	cr_assert_gt(seq, 0);
	cr_assert_lt(s->n, 4);
	snprintf(s->ids[s->n++], sizeof s->ids[0], "%.*s", (int)n, id);
	return 0;
}

/* ids() from a seq gives what a batch's cache adds once it holds the
 * append lock: the events of the type after that seq, and no other. */
Test(store, the_ids_after_a_seq_are_those_appended_after_it)
{
	char path[600];
	snprintf(path, sizeof path, "%s", test_db_path());
	referral_store *st = new_store(path);
	const char *ev =
		"{\"type\":\"store\",\"id\":\"s1\",\"at\":\"2026-01-01T09:00:00\","
		"\"name\":\"One\",\"region\":\"east\"}\n"
		"{\"type\":\"distributor\",\"id\":\"D1\",\"at\":\"2026-01-02T09:00:00\","
		"\"kind\":\"mom\",\"store\":\"s1\",\"recruiter\":null}\n"
		"{\"type\":\"member\",\"id\":\"m1\",\"at\":\"2026-01-03T09:00:00\",\"distributor\":\"D1\"}\n"
		"{\"type\":\"member\",\"id\":\"m2\",\"at\":\"2026-01-04T09:00:00\",\"distributor\":\"D1\"}\n"
		"{\"type\":\"store\",\"id\":\"s2\",\"at\":\"2026-01-05T09:00:00\","
		"\"name\":\"Two\",\"region\":\"east\"}\n"
		"{\"type\":\"member\",\"id\":\"m3\",\"at\":\"2026-01-06T09:00:00\",\"distributor\":\"D1\"}\n";
	cr_assert_eq(ingest(st, ev), REFERRAL_OK, "%s", referral_errmsg(st));
	cr_assert_eq(ENG(st, begin, TX_READ), 0, "%s", referral_errmsg(st));
	struct seen_ids all = {0}, after3 = {0}, after6 = {0};
	cr_assert_eq(ENG(st, ids, REFERRAL_EV_MEMBER, 0, see_id, &all), 0, "%s", referral_errmsg(st));
	cr_assert_eq(all.n, 3);
	/* seqs follow the lines: m1 is 3, m2 4, s2 5, m3 6 */
	cr_assert_eq(ENG(st, ids, REFERRAL_EV_MEMBER, 3, see_id, &after3), 0, "%s",
		     referral_errmsg(st));
	cr_assert_eq(after3.n, 2);
	int m2 = !strcmp(after3.ids[0], "m2") || !strcmp(after3.ids[1], "m2");
	int m3 = !strcmp(after3.ids[0], "m3") || !strcmp(after3.ids[1], "m3");
	cr_assert(m2 && m3, "%s, %s", after3.ids[0], after3.ids[1]);
	cr_assert_eq(ENG(st, ids, REFERRAL_EV_MEMBER, 6, see_id, &after6), 0);
	cr_assert_eq(after6.n, 0);
	ENG(st, rollback);
	referral_store_free(st);
}

/* ---- verify and the redeem cache ------------------------------------------------ */

/* A store whose member m1 has ORDERS orders and then a redeem: the
 * redeem's check fills member_events, its mark at the last order. */
#define ORDERS 4200 /* beyond what the check reads of the log past the mark */

static referral_store *redeemed_store(const char *path)
{
	referral_store *st = new_store(path);
	size_t cap = 400 + (size_t)ORDERS * 120, len = 0;
	char *ev = malloc(cap);
	cr_assert_not_null(ev);
	len += (size_t)snprintf(ev + len, cap - len,
				"{\"type\":\"store\",\"id\":\"s1\",\"at\":\"2026-01-01T09:00:00\","
				"\"name\":\"One\",\"region\":\"east\"}\n"
				"{\"type\":\"distributor\",\"id\":\"D1\",\"at\":\"2026-01-02T09:00:00\","
				"\"kind\":\"mom\",\"store\":\"s1\",\"recruiter\":null}\n"
				"{\"type\":\"member\",\"id\":\"m1\",\"at\":\"2026-01-03T09:00:00\","
				"\"distributor\":\"D1\"}\n");
	for (int i = 0; i < ORDERS; i++)
		len += (size_t)snprintf(ev + len, cap - len,
					"{\"type\":\"order\",\"id\":\"o%d\",\"at\":\"2026-01-05T10:%02d:%02d\","
					"\"member\":\"m1\",\"amount\":\"10.00\"}\n",
					i, i / 60 % 60, i % 60);
	cr_assert_eq(ingest(st, ev), REFERRAL_OK, "%s", referral_errmsg(st));
	free(ev);
	cr_assert_eq(ingest(st, "{\"type\":\"redeem\",\"id\":\"r1\",\"at\":\"2026-01-20T09:00:00\","
				"\"member\":\"m1\",\"points\":\"1\"}\n"),
		     REFERRAL_OK, "%s", referral_errmsg(st));
	return st;
}

/* SQL that changes member_events behind its guards: on PostgreSQL with the
 * brand's triggers off for the statement's transaction. */
static void tamper(const char *path, const char *sql)
{
	char full[600];
	if (test_pg())
		snprintf(full, sizeof full,
			 "BEGIN; ALTER TABLE member_events DISABLE TRIGGER USER;"
			 " ALTER TABLE member_events_mark DISABLE TRIGGER USER; %s;"
			 " ALTER TABLE member_events ENABLE TRIGGER USER;"
			 " ALTER TABLE member_events_mark ENABLE TRIGGER USER; COMMIT", sql);
	else
		snprintf(full, sizeof full, "%s", sql);
	cr_assert_eq(raw_sql(path, full), 0, "%s", test_store_error());
}

Test(store, verify_passes_a_redeem_cache_filled_from_the_log, .timeout = 60)
{
	char path[600];
	snprintf(path, sizeof path, "%s", test_db_path());
	referral_store *st = redeemed_store(path);
	/* the check filled it: every order of m1, up to the last one */
	cr_assert_eq(count_rows(path, "member_events"), ORDERS);
	cr_assert_eq(test_store_int(path, "SELECT last_seq FROM member_events_mark"), 3 + ORDERS);
	cr_assert_eq(referral_verify(st), REFERRAL_OK, "%s", referral_errmsg(st));
	referral_store_free(st);
}

/* The redeemed store changed by `sql`: verify names what `message` says,
 * and changes nothing. */
static void verify_after_tamper(const char *sql, const char *message)
{
	char path[600];
	snprintf(path, sizeof path, "%s", test_db_path());
	referral_store *st = redeemed_store(path);
	tamper(path, sql);
	long events = count_rows(path, "events"), cached = count_rows(path, "member_events");
	cr_assert_eq(referral_verify(st), REFERRAL_EVERIFY);
	cr_assert_str_eq(referral_errmsg(st), message);
	cr_assert_eq(count_rows(path, "events"), events);
	cr_assert_eq(count_rows(path, "member_events"), cached);
	referral_store_free(st);
}

#define CACHE_DISAGREES \
	"verify: member_events, the cache a redeem's check reads, disagrees with the log at "

Test(store, verify_names_a_redeem_cache_row_the_log_does_not_back, .timeout = 60)
{
	/* D1's event (seq 2) filed as an order of m1 (seq 3) */
	verify_after_tamper("INSERT INTO member_events(member, seq) VALUES (3, 2)",
			    CACHE_DISAGREES "member m1 and event D1");
}

Test(store, verify_names_a_redeem_cache_row_of_an_event_not_in_the_log, .timeout = 60)
{
	verify_after_tamper("INSERT INTO member_events(member, seq) VALUES (3, 999999)",
			    CACHE_DISAGREES "member m1 and event seq 999999 (not in the log)");
}

Test(store, verify_names_an_order_the_redeem_cache_lacks, .timeout = 60)
{
	/* o17 (seq 21) taken out of the cache */
	verify_after_tamper("DELETE FROM member_events WHERE seq = 21",
			    CACHE_DISAGREES "member m1 and event o17");
}

Test(store, verify_names_a_redeem_cache_mark_that_is_not_one_row, .timeout = 60)
{
	verify_after_tamper("INSERT INTO member_events_mark(last_seq) VALUES (1)",
			    "verify: member_events_mark, the mark of the redeem cache, is not one row");
}
