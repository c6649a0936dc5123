/*
 * test_postgres.c — what only a PostgreSQL store does: brands in one
 * database, the schema's triggers seen from another connection, processes
 * ingesting and settling one brand at once, missing rights and a lost
 * connection. Runs when REFERRAL_TEST_PG names a database
 * (./scripts/test.sh --postgres); skipped otherwise.
 *
 * Expected values are counted from what the tests send: N processes each
 * sending ORDERS orders of their own and the same SHARED orders store
 * ORDERS * N + SHARED orders, and nothing twice.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core.h"
#include "idcache.h"
#include "scenario.h"

#define NETWORK                                                                    \
	EV_STORE("s1", "2026-01-01T09:00:00")                                      \
	EV_DIST("D1", "2026-01-02T09:00:00", "s1")                                 \
	EV_RECRUIT("R0", "2026-01-03T09:00:00", "s1", "D1")                        \
	EV_MEMBER("m1", "2026-01-04T09:00:00", "D1")

static void need_pg(void)
{
	if (!test_pg())
		cr_skip_test("REFERRAL_TEST_PG is not set (run ./scripts/test.sh --postgres)");
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* A connection of the test's own to the database (not through the library). */
static PGconn *admin(void)
{
	PGconn *c = PQconnectdb(test_pg());
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

static void admin_sql(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	cr_assert(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK,
		  "%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
}

/* The brand of a store's URI ("...?brand=NAME"). */
static const char *brand_of(const char *uri)
{
	return strstr(uri, "brand=") + 6;
}

static referral_store *open_store(const char *uri)
{
	referral_store *st = NULL;
	int rc = referral_store_open(&st, uri);
	cr_assert_eq(rc, REFERRAL_OK, "open: %s", referral_errmsg(st));
	return st;
}

/* A new brand at a fresh URI (into uri) holding the events of `jsonl`. */
static void new_brand(char *uri, size_t cap, const char *jsonl)
{
	snprintf(uri, cap, "%s", test_db_path());
	referral_store *st = store_at(uri, NULL);
	ingest(st, jsonl);
	referral_store_free(st);
}

/* A new brand (its URI into uri) with one order, January closed; open. */
static referral_store *closed_brand(char *uri, size_t cap)
{
	snprintf(uri, cap, "%s", test_db_path());
	referral_store *st = store_at(uri, NULL);
	ingest(st, NETWORK EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	close_period(st, "2026-01");
	return st;
}

/* Makes the role `role` without login (dropped first, if a crashed run
 * left it), with USAGE on the brand's schema and then `grants`, and puts
 * the URI of a session as that role into as_role (options=-c role=...). */
static void make_role(PGconn *c, const char *brand, const char *role, const char *grants,
		      char *as_role, size_t cap)
{
	char sql[1200];
	snprintf(sql, sizeof sql,
		 "DROP ROLE IF EXISTS %s; CREATE ROLE %s NOLOGIN; GRANT USAGE ON SCHEMA %s TO %s;"
		 " %s; GRANT %s TO CURRENT_USER",
		 role, role, brand, role, grants, role);
	admin_sql(c, sql);
	snprintf(as_role, cap, "%s?options=-c%%20role%%3D%s&brand=%s", test_pg(), role, brand);
}

static void drop_role(PGconn *c, const char *role)
{
	char sql[200];
	snprintf(sql, sizeof sql, "DROP OWNED BY %s; DROP ROLE %s", role, role);
	admin_sql(c, sql);
}

/* ---- brands --------------------------------------------------------------------- */

Test(brand, init_of_an_existing_brand_is_refused_and_changes_nothing)
{
	need_pg();
	char uri[600];
	new_brand(uri, sizeof uri, NETWORK);

	char *text = test_reference_plan();
	referral_store *st = NULL;
	int rc = referral_store_create(&st, uri, text);
	free(text);
	cr_assert_eq(rc, REFERRAL_ESTATE, "create again: %d %s", rc, referral_errmsg(st));
	char want[200];
	snprintf(want, sizeof want, "brand \"%s\" already exists", brand_of(uri));
	cr_assert(strstr(referral_errmsg(st), want), "%s", referral_errmsg(st));
	referral_store_free(st);
	/* the four events are there, once, and the one plan */
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM events"), 4);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM plans"), 1);
}

Test(brand, a_missing_brand_is_named)
{
	need_pg();
	referral_store *st = NULL;
	int rc = referral_store_open(&st, test_db_path());
	cr_assert_eq(rc, REFERRAL_EIO);
	cr_assert(strstr(referral_errmsg(st), "does not exist"), "%s", referral_errmsg(st));
	cr_assert(strstr(referral_errmsg(st), "brand \"t_"), "%s", referral_errmsg(st));
	referral_store_free(st);
}

Test(brand, a_bad_brand_name_is_a_usage_error_naming_it)
{
	need_pg();
	static const char *const bad[] = {"Acme", "1acme", "ac-me", "",
					  "a234567890123456789012345678901234567890123456789012345678901234"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char uri[700];
		snprintf(uri, sizeof uri, "%s?brand=%s", test_pg(), bad[i]);
		referral_store *st = NULL;
		int rc = referral_store_open(&st, uri);
		cr_assert_eq(rc, REFERRAL_EUSAGE, "%s: %d %s", bad[i], rc, referral_errmsg(st));
		char want[100];
		snprintf(want, sizeof want, "brand \"%s\"", bad[i]);
		cr_assert(strstr(referral_errmsg(st), want), "%s", referral_errmsg(st));
		referral_store_free(st);
	}
}

Test(brand, two_brands_in_one_database_are_independent)
{
	need_pg();
	char a[600], b[600], open[16];
	snprintf(a, sizeof a, "%s", test_db_path());
	snprintf(b, sizeof b, "%s", test_db_path());
	referral_store *sa = store_at(a, NULL), *sb = store_at(b, NULL);
	ingest(sa, NETWORK EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	ingest(sb, EV_STORE("s1", "2026-01-01T09:00:00"));
	close_period(sa, "2026-01");

	cr_assert_eq(test_store_int(a, "SELECT count(*) FROM events"), 5);
	cr_assert_eq(test_store_int(b, "SELECT count(*) FROM events"), 1);
	cr_assert_eq(test_store_int(b, "SELECT count(*) FROM closes"), 0);
	cr_assert_eq(referral_open_period(sb, open, sizeof open), REFERRAL_OK);
	cr_assert_str_eq(open, "2026-01");
	/* the same ids in the other brand are new there */
	struct ingest_result r = ingest_try(sb, NETWORK);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.first_error);
	cr_assert_eq(r.ingested, 3);
	cr_assert_eq(r.duplicates, 1);
	referral_store_free(sa);
	referral_store_free(sb);
}

/* ---- the schema's triggers ----------------------------------------------------------- */

Test(schema, the_event_log_refuses_update_and_delete)
{
	need_pg();
	char uri[600];
	new_brand(uri, sizeof uri, NETWORK EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	cr_assert_neq(test_store_sql(uri, "UPDATE events SET num = '100.01' WHERE id = 'o1'"), 0);
	cr_assert(strstr(test_store_error(), "append-only"), "%s", test_store_error());
	cr_assert_neq(test_store_sql(uri, "DELETE FROM events WHERE id = 'o1'"), 0);
	cr_assert_neq(test_store_sql(uri, "TRUNCATE events"), 0);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM events WHERE num = '100.00'"), 1);
}

Test(schema, a_closed_period_is_immutable)
{
	need_pg();
	char uri[600];
	referral_store *st = closed_brand(uri, sizeof uri);
	referral_store_free(st);
	static const char *const writes[] = {
		"UPDATE statements SET payable = '1.00'",
		"DELETE FROM statements",
		"INSERT INTO statements SELECT * FROM statements LIMIT 0",
		"UPDATE grades SET next_grade = 4",
		"DELETE FROM snapshots",
		"DELETE FROM holds",
		"DELETE FROM closes",
		"UPDATE closes SET last_seq = 1",
	};
	for (size_t i = 0; i < sizeof writes / sizeof *writes; i++) {
		int rc = test_store_sql(uri, writes[i]);
		/* an INSERT of no rows fires no row trigger: insert one for real */
		if (!strncmp(writes[i], "INSERT", 6)) {
			rc = test_store_sql(uri, "INSERT INTO statements(period, dist, store, grade,"
						 " opening_carry, commission, bounty, override, accrued,"
						 " total, payable, closing_carry, members, sales, shares,"
						 " released, held) SELECT period, dist + 1000, store, grade,"
						 " opening_carry, commission, bounty, override, accrued,"
						 " total, payable, closing_carry, members, sales, shares,"
						 " released, held FROM statements");
		}
		cr_assert_neq(rc, 0, "%s was allowed", writes[i]);
		cr_assert(strstr(test_store_error(), "closed periods are immutable"), "%s: %s", writes[i],
			  test_store_error());
	}
}

Test(schema, an_event_amount_altered_behind_the_triggers_is_caught_by_verify)
{
	need_pg();
	char uri[600];
	referral_store *st = closed_brand(uri, sizeof uri);
	assert_verifies(st);
	/* as a superuser may: the trigger disabled, then the amount changed */
	PGconn *c = admin();
	char sql[300];
	snprintf(sql, sizeof sql,
		 "ALTER TABLE %s.events DISABLE TRIGGER events_append_only;"
		 " UPDATE %s.events SET num = '100.01' WHERE type = 9 AND id = 'o1';"
		 " ALTER TABLE %s.events ENABLE TRIGGER events_append_only",
		 brand_of(uri), brand_of(uri), brand_of(uri));
	admin_sql(c, sql);
	PQfinish(c);
	int rc = referral_verify(st);
	cr_assert_eq(rc, REFERRAL_EVERIFY, "verify: %d %s", rc, referral_errmsg(st));
	cr_assert(strstr(referral_errmsg(st), "D1"), "%s", referral_errmsg(st));
	referral_store_free(st);
}

Test(schema, member_events_holds_only_what_the_log_says)
{
	need_pg();
	char uri[600];
	new_brand(uri, sizeof uri,
		  NETWORK EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00")
			  EV_ORDER("o2", "2026-01-11T12:00:00", "m1", "50.00"));
#define SEQ(id) "(SELECT seq FROM events WHERE id = '" id "')"
	/* a row that is no order or member share of its member, one of the
	 * mark or below it, a mark over what member_events lacks or past the
	 * log's end: refused */
	static const char *const refused[] = {
		"INSERT INTO member_events VALUES (" SEQ("m1") ", " SEQ("m1") ")",
		"INSERT INTO member_events VALUES (" SEQ("D1") ", " SEQ("o1") ")",
		"INSERT INTO member_events VALUES (" SEQ("m1") ", 0)",
		"UPDATE member_events_mark SET last_seq = (SELECT max(seq) FROM events)",
		"UPDATE member_events_mark SET last_seq = (SELECT max(seq) + 1 FROM events)",
		"INSERT INTO member_events_mark VALUES (0)",
		"DELETE FROM member_events_mark",
		"TRUNCATE member_events_mark",
	};
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
		cr_assert_neq(test_store_sql(uri, refused[i]), 0, "%s was allowed", refused[i]);
	/* what a redeem's check does is allowed; the rows then stay as they are */
	cr_assert_eq(test_store_sql(uri, "INSERT INTO member_events SELECT ref1, seq FROM events"
					 " WHERE type = 9; UPDATE member_events_mark SET last_seq ="
					 " (SELECT max(seq) FROM events)"),
		     0, "%s", test_store_error());
	static const char *const frozen[] = {
		"UPDATE member_events SET member = " SEQ("D1"),
		"DELETE FROM member_events",
		"TRUNCATE member_events",
		"UPDATE member_events_mark SET last_seq = 0",
		"INSERT INTO member_events VALUES (" SEQ("m1") ", " SEQ("o1") ")",
	};
	for (size_t i = 0; i < sizeof frozen / sizeof *frozen; i++)
		cr_assert_neq(test_store_sql(uri, frozen[i]), 0, "%s was allowed", frozen[i]);
#undef SEQ
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM member_events"), 2);
	cr_assert_eq(test_store_int(uri, "SELECT last_seq FROM member_events_mark"), 6);
}

/* ---- schema versions ------------------------------------------------------------------ */

/* A brand of the test's own (its URI into uri) holding the worked example
 * closed through 2026-03 by libreferral 0.2 with schema version 1
 * (tests/fixtures/stores/basic-pg-v1.sql, made for the brand basic_v1). */
static void version_1_brand(char *uri, size_t cap)
{
	snprintf(uri, cap, "%s", test_db_path());
	char *dump = test_read_file(REFERRAL_FIXTURES_DIR "/stores/basic-pg-v1.sql");
	cr_assert_not_null(dump, "cannot read basic-pg-v1.sql");
	struct text sql = {0};
	const char *p = dump, *hit;
	for (; (hit = strstr(p, "basic_v1")); p = hit + strlen("basic_v1")) {
		text_add(&sql, p, (size_t)(hit - p));
		text_add(&sql, brand_of(uri), strlen(brand_of(uri)));
	}
	text_add(&sql, p, strlen(p));
	free(dump);
	char *text = text_take(&sql);
	PGconn *c = admin();
	admin_sql(c, text);
	PQfinish(c);
	free(text);
}

#define REDEEM(id, at, member, points)                                                       \
	"{\"type\":\"redeem\",\"id\":\"" id "\",\"at\":\"" at "\",\"member\":\"" member "\"," \
	"\"points\":\"" points "\"}\n"

/* m1 has 2391.37 - 1000.00 + 2000.00 = 3391.37 points by March (1 a yuan):
 * a redeem of a fen more is refused, naming her balance, and one of them
 * all is taken. */
static void redeem_all_of_m1(referral_store *st)
{
	struct ingest_result r = ingest_try(st, REDEEM("r1", "2026-04-02T10:00:00", "m1", "3391.38"));
	cr_assert_eq(r.errors, 1, "a redeem over the balance was taken");
	cr_assert(strstr(r.first_error, "3391.37"), "%s", r.first_error);
	ingest(st, REDEEM("r1", "2026-04-02T10:00:00", "m1", "3391.37"));
	r = ingest_try(st, REDEEM("r2", "2026-04-03T10:00:00", "m1", "0.01"));
	cr_assert_eq(r.errors, 1, "a redeem over the balance was taken");
	cr_assert(strstr(r.first_error, "0.00"), "%s", r.first_error);
}

Test(schema, a_version_1_brand_is_used_as_it_is_by_a_role_that_may_not_migrate_it)
{
	need_pg();
	char uri[600], as_role[800], role[64], grants[400];
	version_1_brand(uri, sizeof uri);
	const char *brand = brand_of(uri);
	/* what docs/postgres-roles.sql gave the ingest role of a version 1 brand */
	snprintf(role, sizeof role, "t_ingest_%d", (int)getpid());
	snprintf(grants, sizeof grants,
		 "GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %s; GRANT INSERT ON %s.events TO %s",
		 brand, role, brand, role);
	PGconn *c = admin();
	make_role(c, brand, role, grants, as_role, sizeof as_role);
	referral_store *st = open_store(as_role);
	redeem_all_of_m1(st);
	referral_store_free(st);
	cr_assert_eq(test_store_int(uri, "SELECT version FROM meta"), 1);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM pg_catalog.pg_tables"
					 " WHERE schemaname = current_schema() AND tablename LIKE 'member%'"),
		     0);
	drop_role(c, role);
	PQfinish(c);
}

/* The plan of `query` (with parameters of `types`), generic, run with
 * `args`, when the planner may not scan the table: whether it reads
 * `index`. The network's index is dropped first, in a transaction rolled
 * back: over a table this small it costs the same for a type of the
 * network. */
static int reads_index(const char *uri, const char *types, const char *query, const char *args,
		       const char *index)
{
	char sql[1200];
	PGconn *c = admin();
	snprintf(sql, sizeof sql,
		 "BEGIN; SET LOCAL search_path TO %s; DROP INDEX events_network;"
		 " SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan;"
		 " PREPARE q(%s) AS %s",
		 brand_of(uri), types, query);
	admin_sql(c, sql);
	snprintf(sql, sizeof sql, "EXPLAIN EXECUTE q(%s)", args);
	PGresult *res = PQexec(c, sql);
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
	int found = 0;
	for (int i = 0; i < PQntuples(res); i++)
		found |= strstr(PQgetvalue(res, i, 0), index) != NULL;
	PQclear(res);
	admin_sql(c, "ROLLBACK");
	PQfinish(c);
	return found;
}

/* The worked example of version 1 is migrated when the brand's owner opens
 * it: its statements are as they were and verify, the next month closes,
 * a redeem's check reads member_events, and the lookups by reference,
 * which now say the index's condition, read the index the orders and
 * shares left. */
Test(schema, a_version_1_brand_migrates_when_its_owner_opens_it)
{
	need_pg();
	char uri[600], file[512];
	version_1_brand(uri, sizeof uri);
	referral_store *st = open_store(uri);
	cr_assert_eq(test_store_int(uri, "SELECT version FROM meta"), 2);
	assert_verifies(st);
	static const char *const periods[] = {"2026-01", "2026-02", "2026-03"};
	for (int i = 0; i < 3; i++) {
		snprintf(file, sizeof file, "%s/basic/expected/close_%s.statements.csv",
			 REFERRAL_FIXTURES_DIR, periods[i]);
		char *want = test_read_file(file), *got = export_csv(st, "statements", periods[i]);
		cr_assert_not_null(want, "cannot read %s", file);
		cr_assert_str_eq(got, want, "statements %s", periods[i]);
		free(want);
		free(got);
	}
	redeem_all_of_m1(st);
	close_period(st, "2026-04");
	assert_verifies(st);
	referral_store_free(st);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM pg_catalog.pg_index"
					 " WHERE indexrelid = pg_catalog.to_regclass('events_by_ref')"
					 " AND pg_catalog.pg_get_expr(indpred, indrelid)"
					 " = '((type <> 9) AND (type <> 11))'"),
		     1);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM member_events_mark"), 1);
	/* a termination or a sharer, an order's refunds (one, or a chunk's),
	 * a member's bindings and redeems */
	static const char *const lookups[][3] = {
		{"bigint, integer", "SELECT at FROM events WHERE ref1 = $1 AND type = $2"
				    " AND type <> 9 AND type <> 11 ORDER BY at, seq LIMIT 1", "2, 5"},
		{"bigint", "SELECT num FROM events WHERE ref1 = $1 AND type + 0 = 10"
			   " AND type <> 9 AND type <> 11 ORDER BY at, seq", "5"},
		{"bigint[]", "SELECT ref1, num FROM events WHERE ref1 = ANY($1) AND type + 0 = 10"
			     " AND type <> 9 AND type <> 11", "'{5}'"},
		{"bigint", "SELECT at, num, ref2 FROM events WHERE ref1 = $1 AND type = 7"
			   " AND type <> 9 AND type <> 11", "4"},
		{"bigint", "SELECT seq FROM events e WHERE e.ref1 = $1 AND e.type + 0 = 12"
			   " AND e.type <> 9 AND e.type <> 11", "4"},
	};
	for (size_t i = 0; i < sizeof lookups / sizeof *lookups; i++)
		cr_assert(reads_index(uri, lookups[i][0], lookups[i][1], lookups[i][2], "events_by_ref "),
			  "%s does not read events_by_ref", lookups[i][1]);
}

/* ---- processes at once ----------------------------------------------------------------- */

#define PROCS 6
#define ORDERS 40
#define SHARED 15

/* The order stored before the processes start. */
#define PRE EV_ORDER("pre", "2026-01-09T12:00:00", "m1", "10.00")

/* The batch of process `i`: the SHARED orders every process sends, then
 * ORDERS of its own; `conflict`: and the order PRE with another amount. */
static char *batch_of(int i, int conflict)
{
	struct text t = {0};
	for (int k = 0; k < SHARED; k++)
		text_printf(&t,
			    "{\"type\":\"order\",\"id\":\"sh%d\",\"at\":\"2026-01-10T12:00:00\","
			    "\"member\":\"m1\",\"amount\":\"10.00\"}\n",
			    k);
	if (conflict) {
		char *line = replace_once(strdup(PRE), "10.00", "99.99");
		text_printf(&t, "%s", line);
		free(line);
	}
	for (int k = 0; k < ORDERS; k++)
		text_printf(&t,
			    "{\"type\":\"order\",\"id\":\"p%d_%d\",\"at\":\"2026-01-11T12:00:00\","
			    "\"member\":\"m1\",\"amount\":\"1.00\"}\n",
			    i, k);
	return text_take(&t);
}

/* In a child: ingests the batch on a handle of its own, line by line or,
 * for an odd `i`, as a file (prefetched, sent by COPY); exits with the
 * batch's status (the parent's handles are left alone: _exit). */
static void child_ingest(const char *uri, int i, int conflict)
{
	referral_store *st = NULL;
	if (referral_store_open(&st, uri) != REFERRAL_OK)
		_exit(100);
	char *jsonl = batch_of(i, conflict);
	referral_batch *b = NULL;
	if (referral_batch_begin(st, &b, "batch") != REFERRAL_OK)
		_exit(101);
	if (i % 2) {
		char path[400];
		snprintf(path, sizeof path, "%s/child%d-%d.jsonl", test_tmpdir(), i, (int)getpid());
		FILE *f = fopen(path, "w");
		if (!f || fputs(jsonl, f) < 0 || fclose(f))
			_exit(103);
		if (referral_batch_add_file(b, path) != REFERRAL_OK)
			_exit(102);
	}
	long line = 0;
	for (char *p = jsonl; *p && !(i % 2);) {
		char *nl = strchr(p, '\n');
		int rc = referral_batch_add_json(b, p, (size_t)(nl - p), ++line);
		if (rc == REFERRAL_EIO)
			_exit(102);
		p = nl + 1;
	}
	int rc = referral_batch_commit(b);
	referral_batch_free(b);
	referral_store_free(st);
	free(jsonl);
	_exit(rc);
}

static int wait_status(pid_t pid)
{
	int status = 0;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "a child died");
	return WEXITSTATUS(status);
}

Test(concurrency, processes_ingesting_one_brand_store_every_event_once_with_dense_seqs,
     .timeout = 120)
{
	need_pg();
	char uri[600];
	new_brand(uri, sizeof uri, NETWORK PRE);

	/* PROCS good batches and two that conflict with PRE (lines, a file) */
	pid_t pids[PROCS + 2];
	for (int i = 0; i < PROCS + 2; i++) {
		pids[i] = fork();
		cr_assert_neq(pids[i], -1);
		if (!pids[i])
			child_ingest(uri, i, i >= PROCS);
	}
	for (int i = 0; i < PROCS; i++)
		cr_assert_eq(wait_status(pids[i]), REFERRAL_OK, "process %d", i);
	/* the conflicting batches are refused whole */
	for (int i = PROCS; i < PROCS + 2; i++) {
		int rc = wait_status(pids[i]);
		cr_assert_eq(rc, REFERRAL_ESTATE, "the conflicting batch %d: %d", i, rc);
	}

	long long events = 5 + SHARED + (long long)PROCS * ORDERS;
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM events"), events);
	cr_assert_eq(test_store_int(uri, "SELECT count(DISTINCT (type, id)) FROM events"), events);
	cr_assert_eq(test_store_int(uri, "SELECT min(seq) FROM events"), 1);
	cr_assert_eq(test_store_int(uri, "SELECT max(seq) FROM events"), events);
	for (int i = 0; i < PROCS; i++) {
		char sql[120];
		snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE id LIKE 'p%d\\_%%'", i);
		cr_assert_eq(test_store_int(uri, sql), ORDERS, "process %d's orders", i);
	}
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM events WHERE id ~ '^p[67]_'"), 0,
		     "the refused batch stored some of its orders");
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM events WHERE num = '99.99'"), 0);
	/* a batch's events have consecutive seqs: batches never interleave */
	for (int i = 0; i < PROCS; i++) {
		char sql[200];
		snprintf(sql, sizeof sql,
			 "SELECT max(seq) - min(seq) + 1 FROM events WHERE id LIKE 'p%d\\_%%'", i);
		cr_assert_eq(test_store_int(uri, sql), ORDERS, "process %d's orders interleaved", i);
	}
	referral_store *st = open_store(uri);
	close_period(st, "2026-01");
	assert_verifies(st);
	referral_store_free(st);
}

Test(concurrency, the_same_batch_sent_twice_at_once_is_stored_once, .timeout = 60)
{
	need_pg();
	char uri[600];
	new_brand(uri, sizeof uri, NETWORK);
	pid_t a = fork();
	if (!a)
		child_ingest(uri, 0, 0);
	pid_t b = fork();
	if (!b)
		child_ingest(uri, 0, 0);
	/* and the same as a file (its own orders are p1_...) twice at once */
	pid_t c = fork();
	if (!c)
		child_ingest(uri, 1, 0);
	pid_t d = fork();
	if (!d)
		child_ingest(uri, 1, 0);
	cr_assert_eq(wait_status(c), REFERRAL_OK);
	cr_assert_eq(wait_status(d), REFERRAL_OK);
	cr_assert_eq(wait_status(a), REFERRAL_OK);
	cr_assert_eq(wait_status(b), REFERRAL_OK);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM events"), 4 + SHARED + 2 * ORDERS);
	cr_assert_eq(test_store_int(uri, "SELECT max(seq) FROM events"), 4 + SHARED + 2 * ORDERS);
}

/* Whether a session of the database waits for an advisory lock. */
static int someone_waits_for_a_lock(PGconn *c)
{
	PGresult *res =
		PQexec(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
	cr_assert_eq(PQntuples(res), 1, "%s", PQresultErrorMessage(res));
	int waits = atoi(PQgetvalue(res, 0, 0)) > 0;
	PQclear(res);
	return waits;
}

#define EARLY_ORDERS (IDCACHE_MIN_LOOKUPS + 200)

/* A file batch large enough to load its member cache before it takes the
 * append lock (ingest.c) waits for a batch that adds a member; once that
 * one committed, the file's orders of the new member are good: what
 * committed meanwhile reached the cache. */
Test(concurrency, a_cache_loaded_before_the_lock_sees_what_committed_while_it_waited,
     .timeout = 60)
{
	need_pg();
	char uri[600], path[400];
	new_brand(uri, sizeof uri, NETWORK);
	snprintf(path, sizeof path, "%s/early-%d.jsonl", test_tmpdir(), (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert(f);
	/* every order names a member; every tenth the one added meanwhile */
	for (int k = 0; k < EARLY_ORDERS; k++)
		fprintf(f,
			"{\"type\":\"order\",\"id\":\"e%d\",\"at\":\"2026-01-11T12:00:00\","
			"\"member\":\"%s\",\"amount\":\"1.00\"}\n",
			k, k % 10 == 9 ? "m_new" : "m1");
	cr_assert_eq(fclose(f), 0);

	referral_store *st = open_store(uri);
	referral_batch *b = NULL;
	cr_assert_eq(referral_batch_begin(st, &b, "member"), REFERRAL_OK);
	const char *line = EV_MEMBER("m_new", "2026-01-05T09:00:00", "D1");
	cr_assert_eq(referral_batch_add_json(b, line, strlen(line) - 1, 1), REFERRAL_OK,
		     "%s", referral_errmsg(st));

	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (!pid) {
		referral_store *sc = NULL;
		referral_batch *bc = NULL;
		if (referral_store_open(&sc, uri) || referral_batch_begin(sc, &bc, "file"))
			_exit(100);
		int rc = referral_batch_add_file(bc, path);
		if (!rc)
			rc = referral_batch_commit(bc);
		_exit(rc);
	}
	/* the file's batch has loaded its caches and waits for the lock */
	PGconn *c = admin();
	for (int i = 0; i < 300 && !someone_waits_for_a_lock(c); i++)
		usleep(20000);
	cr_assert(someone_waits_for_a_lock(c), "the file's batch never waited for the lock");
	PQfinish(c);
	cr_assert_eq(referral_batch_commit(b), REFERRAL_OK, "%s", referral_errmsg(st));
	referral_batch_free(b);

	cr_assert_eq(wait_status(pid), REFERRAL_OK);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM events WHERE type = 9"), EARLY_ORDERS);
	/* the member's seq comes before every order of the file */
	long long after = test_store_int(uri, "SELECT count(*) FROM events o JOIN events m"
					      " ON m.type = 6 AND m.id = 'm_new' AND o.ref1 = m.seq"
					      " WHERE o.type = 9 AND o.seq > m.seq");
	cr_assert_eq(after, EARLY_ORDERS / 10, "%lld orders of m_new after it; events: %lld", after,
		     test_store_int(uri, "SELECT count(*) FROM events"));
	assert_verifies(st);
	referral_store_free(st);
}

/* The key of the brand's settle lock, as postgres.c makes it. */
static long long settle_key(PGconn *c, const char *brand)
{
	char sql[200];
	snprintf(sql, sizeof sql,
		 "SELECT ((x'52460002'::bigint) << 32) | oid::bigint FROM pg_namespace"
		 " WHERE nspname = '%s'", brand);
	PGresult *res = PQexec(c, sql);
	cr_assert_eq(PQntuples(res), 1, "%s", PQresultErrorMessage(res));
	long long key = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return key;
}

Test(concurrency, a_settle_while_another_runs_is_refused_as_busy, .timeout = 60)
{
	need_pg();
	char uri[600], other[600], sql[120];
	snprintf(uri, sizeof uri, "%s", test_db_path());
	snprintf(other, sizeof other, "%s", test_db_path());
	referral_store *st = store_at(uri, NULL);
	referral_store *so = store_at(other, NULL);
	ingest(st, NETWORK EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	ingest(so, NETWORK EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));

	/* another process holds the brand's settle lock, as a settle does */
	PGconn *c = admin();
	snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)", settle_key(c, brand_of(uri)));
	admin_sql(c, sql);
	int rc = referral_settle(st, "2026-01");
	cr_assert_eq(rc, REFERRAL_ESTATE, "settle: %d %s", rc, referral_errmsg(st));
	char want[200];
	snprintf(want, sizeof want, "brand \"%s\" is being settled", brand_of(uri));
	cr_assert(strstr(referral_errmsg(st), want), "%s", referral_errmsg(st));
	cr_assert_eq(referral_close(st, "2026-01"), REFERRAL_ESTATE);
	cr_assert_eq(referral_verify(st), REFERRAL_ESTATE);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM statements"), 0);
	/* ingest goes on meanwhile, and the other brand settles */
	ingest(st, EV_ORDER("o2", "2026-01-11T12:00:00", "m1", "50.00"));
	settle(so, "2026-01");
	PQfinish(c); /* the lock goes with the session */
	settle(st, "2026-01");
	referral_store_free(st);
	referral_store_free(so);
}

Test(concurrency, two_processes_settling_at_once_do_not_both_write, .timeout = 60)
{
	need_pg();
	char uri[600];
	new_brand(uri, sizeof uri, NETWORK EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	pid_t pids[2];
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		if (!pids[i]) {
			referral_store *s = NULL;
			if (referral_store_open(&s, uri) != REFERRAL_OK)
				_exit(100);
			int rc = referral_close(s, "2026-01");
			referral_store_free(s);
			_exit(rc);
		}
	}
	int a = wait_status(pids[0]), b = wait_status(pids[1]);
	/* one closes; the other waited and then found it closed, or gave up */
	cr_assert((a == 0 && b == REFERRAL_ESTATE) || (a == REFERRAL_ESTATE && b == 0),
		  "closes returned %d and %d", a, b);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM closes"), 1);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM statements"), 2);
}

/* ---- rights and connections --------------------------------------------------------------- */

Test(rights, a_role_without_insert_on_statements_cannot_settle_and_changes_nothing)
{
	need_pg();
	char uri[600], as_role[800], role[64], sql[600];
	snprintf(uri, sizeof uri, "%s", test_db_path());
	const char *brand = brand_of(uri);
	referral_store *st = store_at(uri, NULL);
	ingest(st, NETWORK EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	referral_store_free(st);

	snprintf(role, sizeof role, "t_ingest_%d", (int)getpid());
	PGconn *c = admin();
	snprintf(sql, sizeof sql,
		 "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %s TO %s;"
		 " REVOKE INSERT ON %s.statements FROM %s",
		 brand, role, brand, role);
	make_role(c, brand, role, sql, as_role, sizeof as_role);
	st = open_store(as_role);
	int rc = referral_settle(st, "2026-01");
	cr_assert_eq(rc, REFERRAL_EIO, "settle: %d %s", rc, referral_errmsg(st));
	char want[200];
	snprintf(want, sizeof want, "the role %s lacks the right to INSERT on statements", role);
	cr_assert(strstr(referral_errmsg(st), want), "%s", referral_errmsg(st));
	referral_store_free(st);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM statements"), 0);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM drafts"), 0);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM snapshots"), 0);
	/* and without USAGE on the schema, opening says so */
	snprintf(sql, sizeof sql, "REVOKE USAGE ON SCHEMA %s FROM %s", brand, role);
	admin_sql(c, sql);
	st = NULL;
	cr_assert_eq(referral_store_open(&st, as_role), REFERRAL_EIO);
	snprintf(want, sizeof want, "the role %s lacks the right to USAGE on schema %s", role, brand);
	cr_assert(strstr(referral_errmsg(st), want), "%s", referral_errmsg(st));
	referral_store_free(st);
	drop_role(c, role);
	PQfinish(c);
}

/* Statements and grades go to the server without waiting for each COPY's
 * result: one the server refuses still fails the operation with the
 * server's own message, and leaves nothing. */
Test(schema, a_statements_or_grades_copy_the_server_refuses_fails_with_its_message)
{
	need_pg();
	char uri[600], sql[800];
	snprintf(uri, sizeof uri, "%s", test_db_path());
	const char *brand = brand_of(uri);
	referral_store *st = store_at(uri, NULL);
	ingest(st, NETWORK EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	PGconn *c = admin();
	static const char *const tables[] = {"statements", "grades"};
	for (int k = 0; k < 2; k++) {
		snprintf(sql, sizeof sql,
			 "CREATE FUNCTION %s.refuse_%s() RETURNS trigger LANGUAGE plpgsql AS"
			 " $$BEGIN RAISE EXCEPTION '%s are refused today'; END$$;"
			 " CREATE TRIGGER refuse AFTER INSERT ON %s.%s"
			 " FOR EACH STATEMENT EXECUTE FUNCTION %s.refuse_%s()",
			 brand, tables[k], tables[k], brand, tables[k], brand, tables[k]);
		admin_sql(c, sql);
		/* a settle writes statements only; a close writes both */
		int rc = k == 0 ? referral_settle(st, "2026-01") : referral_close(st, "2026-01");
		cr_assert_eq(rc, REFERRAL_EIO, "%s: %d %s", tables[k], rc, referral_errmsg(st));
		char want[80];
		snprintf(want, sizeof want, "writing %s", tables[k]);
		cr_assert(strstr(referral_errmsg(st), want), "%s", referral_errmsg(st));
		snprintf(want, sizeof want, "%s are refused today", tables[k]);
		cr_assert(strstr(referral_errmsg(st), want), "%s", referral_errmsg(st));
		cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM statements"), 0);
		cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM grades"), 0);
		cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM drafts"), 0);
		cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM closes"), 0);
		snprintf(sql, sizeof sql, "DROP TRIGGER refuse ON %s.%s", brand, tables[k]);
		admin_sql(c, sql);
	}
	/* and without the triggers it closes */
	cr_assert_eq(referral_close(st, "2026-01"), REFERRAL_OK, "%s", referral_errmsg(st));
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM closes"), 1);
	referral_store_free(st);
	PQfinish(c);
}

Test(connection, a_lost_connection_is_a_clear_storage_error)
{
	need_pg();
	char uri[600], app[800], name[64], sql[300];
	new_brand(uri, sizeof uri, NETWORK EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	snprintf(name, sizeof name, "t_lost_%d", (int)getpid());
	snprintf(app, sizeof app, "%s?application_name=%s&brand=%s", test_pg(), name, brand_of(uri));
	referral_store *st = open_store(app);

	PGconn *c = admin();
	snprintf(sql, sizeof sql,
		 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '%s'",
		 name);
	admin_sql(c, sql);
	PQfinish(c);
	int rc = referral_settle(st, "2026-01");
	cr_assert_eq(rc, REFERRAL_EIO, "settle: %d %s", rc, referral_errmsg(st));
	cr_assert(strstr(referral_errmsg(st), "lost the connection to the PostgreSQL server"), "%s",
		  referral_errmsg(st));
	referral_store_free(st);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM drafts"), 0);
}

Test(connection, a_server_that_cannot_be_reached_is_named)
{
	need_pg();
	referral_store *st = NULL;
	int rc = referral_store_open(&st, "postgresql://127.0.0.1:1/nothing?brand=acme&connect_timeout=2");
	cr_assert_eq(rc, REFERRAL_EIO);
	cr_assert(strstr(referral_errmsg(st), "brand \"acme\": cannot connect"), "%s",
		  referral_errmsg(st));
	referral_store_free(st);
}

/* ---- prefetch ----------------------------------------------------------------------- */

Test(prefetch, answers_a_chunks_keys_and_a_key_appended_since)
{
	need_pg();
	referral_store *st = store_with(NULL);
	ingest(st, NETWORK);
	struct engine *e = st->eng;
	cr_assert_eq(ENG(st, begin, TX_APPEND), 0, "%s", referral_errmsg(st));
	cr_assert_eq(ENG(st, append_lock), 0, "%s", referral_errmsg(st));
	int types[3] = {REFERRAL_EV_STORE, REFERRAL_EV_MEMBER, REFERRAL_EV_MEMBER};
	const char *ids[3] = {"s1", "m1", "m2"};
	size_t lens[3] = {2, 2, 2};
	struct prefetch want = {3, types, ids, lens};
	cr_assert_eq(e->ops->prefetch(e, &want), 0, "%s", referral_errmsg(st));
	struct ev_row row;
	/* the log holds s1 (seq 1) and m1 (seq 4, the fourth event) */
	cr_assert_eq(ENG(st, find, REFERRAL_EV_STORE, "s1", 2, &row), 1);
	cr_assert_eq(row.seq, 1);
	cr_assert_eq(ENG(st, find, REFERRAL_EV_MEMBER, "m1", 2, &row), 1);
	cr_assert_eq(row.seq, 4);
	cr_assert_str_eq(row.id, "m1");
	cr_assert_eq(ENG(st, find, REFERRAL_EV_MEMBER, "m2", 2, &row), 0);
	/* a key not asked for is looked up */
	cr_assert_eq(ENG(st, find, REFERRAL_EV_DISTRIBUTOR, "D1", 2, &row), 1);
	cr_assert_eq(row.seq, 2);
	/* m2 appended: no longer answered as missing */
	struct ev_row m2 = {.seq = 5, .at = 1, .type = REFERRAL_EV_MEMBER, .booked = 2026 * 12,
			    .id = "m2", .idlen = 2};
	cr_assert_eq(ENG(st, append, &m2, 1), 0, "%s", referral_errmsg(st));
	cr_assert_eq(ENG(st, find, REFERRAL_EV_MEMBER, "m2", 2, &row), 1);
	cr_assert_eq(row.seq, 5);
	/* the same key again: ENGINE_EXISTS, and the transaction goes on */
	cr_assert_eq(ENG(st, append, &m2, 1), ENGINE_EXISTS);
	struct ev_row two[2] = {m2, m2};
	two[0].seq = 6, two[0].id = "m3";
	two[1].seq = 7;
	cr_assert_eq(ENG(st, append, two, 2), ENGINE_EXISTS, "%s", referral_errmsg(st));
	cr_assert_eq(ENG(st, find, REFERRAL_EV_MEMBER, "m3", 2, &row), 0, "half a COPY was kept");
	ENG(st, rollback);
	referral_store_free(st);
}

/* ---- a file's batch: keys fetched a chunk at a time, events sent by COPY ---------------- */

#define FILE_MEMBERS 1500 /* two chunks of lines and more */

/* Writes the lines of a file: FILE_MEMBERS members bound to D1 and an order
 * of each, then a repeat of m1 (stored before), a repeat of the file's own
 * fm5, and `extra` (NULL: none). Returns its path (static). */
/* A new file for a batch, named from `stem`, at path (400 bytes). */
static FILE *new_batch_file(char *path, const char *stem)
{
	static int n;
	snprintf(path, 400, "%s/%s%d-%d.jsonl", test_tmpdir(), stem, (int)getpid(), n++);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	return f;
}

static const char *write_batch_file(const char *extra)
{
	static char path[400];
	FILE *f = new_batch_file(path, "batch");
	for (int i = 0; i < FILE_MEMBERS; i++)
		fprintf(f,
			"{\"type\":\"member\",\"id\":\"fm%d\",\"at\":\"2026-01-05T09:00:00\","
			"\"distributor\":\"D1\"}\n"
			"{\"type\":\"order\",\"id\":\"fo%d\",\"at\":\"2026-01-06T10:00:00\","
			"\"member\":\"fm%d\",\"amount\":\"1.%02d\"}\n",
			i, i, i, i % 100);
	fprintf(f, "%s%s%s", EV_MEMBER("m1", "2026-01-04T09:00:00", "D1"),
		EV_MEMBER("fm5", "2026-01-05T09:00:00", "D1"), extra ? extra : "");
	fclose(f);
	return path;
}

static int ingest_file(referral_store *st, const char *path, long *ingested, long *dups)
{
	referral_batch *b = NULL;
	cr_assert_eq(referral_batch_begin(st, &b, "file"), REFERRAL_OK, "%s", referral_errmsg(st));
	cr_assert_eq(referral_batch_add_file(b, path), REFERRAL_OK, "%s", referral_errmsg(st));
	int rc = referral_batch_commit(b);
	if (rc && referral_batch_error_count(b))
		cr_log_info("%s", referral_batch_error(b, 0));
	*ingested = referral_batch_ingested(b);
	*dups = referral_batch_duplicates(b);
	referral_batch_free(b);
	return rc;
}

Test(file_batch, stores_what_sqlite_stores_once_each_with_dense_seqs, .timeout = 120)
{
	need_pg();
	char uri[600], file[400];
	long in = 0, dups = 0;
	new_brand(uri, sizeof uri, NETWORK);
	snprintf(file, sizeof file, "%s/file.db", test_tmpdir());
	remove(file);
	referral_store *pg = open_store(uri), *sq = store_at(file, NULL);
	ingest(sq, NETWORK);
	char path[400];
	snprintf(path, sizeof path, "%s", write_batch_file(NULL));
	cr_assert_eq(ingest_file(pg, path, &in, &dups), REFERRAL_OK, "%s", referral_errmsg(pg));
	cr_assert_eq(in, 2 * FILE_MEMBERS);
	cr_assert_eq(dups, 2);
	cr_assert_eq(ingest_file(sq, path, &in, &dups), REFERRAL_OK);

	long long events = 4 + 2 * FILE_MEMBERS;
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM events"), events);
	cr_assert_eq(test_store_int(uri, "SELECT max(seq) FROM events"), events);
	/* each order names its own member */
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM events o JOIN events m ON m.seq = o.ref1"
					 " WHERE o.type = 9 AND m.type = 6"
					 " AND substr(o.id, 3) = substr(m.id, 3)"),
		     FILE_MEMBERS);
	/* a line conflicting at the end refuses the whole file, which adds more */
	const char *bad = write_batch_file(EV_ORDER("fo9", "2026-01-06T10:00:00", "fm9", "2.00")
					   EV_ORDER("late", "2026-01-07T10:00:00", "fm1", "1.00"));
	cr_assert_eq(ingest_file(pg, bad, &in, &dups), REFERRAL_ESTATE);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM events"), events);
	/* the file again: every line a duplicate */
	cr_assert_eq(ingest_file(pg, path, &in, &dups), REFERRAL_OK);
	cr_assert_eq(in, 0);
	cr_assert_eq(dups, 2 * FILE_MEMBERS + 2);

	close_period(pg, "2026-01");
	close_period(sq, "2026-01");
	char *a = export_all(pg), *b = export_all(sq);
	cr_assert_str_eq(a, b);
	free(a);
	free(b);
	assert_verifies(pg);
	referral_store_free(pg);
	referral_store_free(sq);
}

/* What a batch of a file gave: its status, counts and first message. */
struct judgement {
	int rc;
	long in, dups;
	char first[600];
};

/* Ingests the file at `path` into a new brand and a new SQLite file holding
 * NETWORK, and checks that both give the same status, counts and first
 * message, and store as much. Returns PostgreSQL's judgement. */
static struct judgement judges_as_on_sqlite(const char *path, const char *what)
{
	char uri[600], file[400];
	static int n;
	long in[2], dups[2];
	int rc[2];
	char first[2][600];
	new_brand(uri, sizeof uri, NETWORK);
	snprintf(file, sizeof file, "%s/judge%d-%d.db", test_tmpdir(), n++, (int)getpid());
	referral_store *st[2] = {open_store(uri), store_at(file, NULL)};
	ingest(st[1], NETWORK);
	for (int k = 0; k < 2; k++) {
		referral_batch *b = NULL;
		cr_assert_eq(referral_batch_begin(st[k], &b, "file"), REFERRAL_OK);
		cr_assert_eq(referral_batch_add_file(b, path), REFERRAL_OK, "%s", referral_errmsg(st[k]));
		rc[k] = referral_batch_commit(b);
		in[k] = referral_batch_ingested(b);
		dups[k] = referral_batch_duplicates(b);
		const char *m = referral_batch_error_count(b) ? referral_batch_error(b, 0) : "";
		snprintf(first[k], sizeof first[k], "%s", m ? m : "?");
		referral_batch_free(b);
	}
	cr_assert_eq(rc[0], rc[1], "%s: %d on PostgreSQL, %d on SQLite", what, rc[0], rc[1]);
	cr_assert_eq(in[0], in[1], "%s", what);
	cr_assert_eq(dups[0], dups[1], "%s", what);
	cr_assert_str_eq(first[0], first[1], "%s", what);
	long long want = rc[0] ? 4 : 4 + in[0];
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM events"), want, "%s", what);
	referral_store_free(st[0]);
	referral_store_free(st[1]);
	struct judgement j = {rc[0], in[0], dups[0], ""};
	snprintf(j.first, sizeof j.first, "%s", first[0]);
	return j;
}

/* The rules see the file's own earlier events, pending or not: each file
 * gives the status, counts and first message it gives on a SQLite file. */
Test(file_batch, rules_on_the_files_own_events_judge_as_on_sqlite, .timeout = 120)
{
	need_pg();
	static const char *const tails[] = {
		/* a second refund of fo1 beyond its amount 1.01 */
		EV_REFUND("rf1", "2026-01-08T10:00:00", "fo1", "1.00")
		EV_REFUND("rf2", "2026-01-08T11:00:00", "fo1", "0.02"),
		/* refunds that fit */
		EV_REFUND("rf1", "2026-01-08T10:00:00", "fo1", "1.00")
		EV_REFUND("rf2", "2026-01-08T11:00:00", "fo1", "0.01"),
		/* a distributor of the file terminated, then bound to */
		EV_DIST("D7", "2026-01-02T09:00:00", "s1")
		EV_TERM("t7", "2026-01-03T09:00:00", "D7")
		EV_MEMBER("m77", "2026-01-04T09:00:00", "D7"),
		/* a member of the file bound again while she is bound */
		EV_BIND("b1", "2026-01-09T09:00:00", "fm3", "R0"),
		/* an order of a member the file made after it */
		EV_ORDER("early", "2026-01-01T10:00:00", "fm4", "1.00"),
	};
	for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
		char what[32];
		snprintf(what, sizeof what, "case %zu", i);
		judges_as_on_sqlite(write_batch_file(tails[i]), what);
	}
}

/* ---- a network's batch: terminations, sharers and bindings looked up in bulk -------------- */

#define NET_MANY 1200 /* beyond the lookups after which a batch loads them all */

/* Writes a network file: NET_MANY distributors nd<i>, nd0 terminated, a
 * member nm<i> bound to each other one, a member "solo" bound to none,
 * members nf<i> bound to none who then bind to nd<i>, and a share of
 * benefits from nm1 to each other member; then `tail`. Each line of the
 * tail thus meets the terminations, sharers and binds of a batch that has
 * looked up many of them. Returns its path (static). */
static const char *write_network_file(const char *tail)
{
	static char path[400];
	FILE *f = new_batch_file(path, "net");
	for (int i = 0; i < NET_MANY; i++)
		fprintf(f, "{\"type\":\"distributor\",\"id\":\"nd%d\",\"at\":\"2026-01-02T09:00:00\","
			   "\"kind\":\"mom\",\"store\":\"s1\",\"recruiter\":null}\n", i);
	fputs(EV_TERM("nt0", "2026-01-03T09:00:00", "nd0"), f);
	for (int i = 1; i < NET_MANY; i++)
		fprintf(f, "{\"type\":\"member\",\"id\":\"nm%d\",\"at\":\"2026-01-05T09:00:00\","
			   "\"distributor\":\"nd%d\"}\n", i, i);
	fputs(EV_MEMBER0("solo", "2026-01-05T09:00:00"), f);
	for (int i = 1; i < NET_MANY; i++)
		fprintf(f, "{\"type\":\"member\",\"id\":\"nf%d\",\"at\":\"2026-01-05T09:00:00\","
			   "\"distributor\":null}\n", i);
	for (int i = 1; i < NET_MANY; i++)
		fprintf(f, "{\"type\":\"bind\",\"id\":\"nb%d\",\"at\":\"2026-01-06T09:00:00\","
			   "\"member\":\"nf%d\",\"distributor\":\"nd%d\"}\n", i, i, i);
	for (int i = 2; i < NET_MANY; i++)
		fprintf(f, "{\"type\":\"share_benefits\",\"id\":\"ns%d\",\"at\":\"2026-01-06T09:00:00\","
			   "\"from\":\"nm1\",\"to\":\"nm%d\"}\n", i, i);
	fputs(tail, f);
	fclose(f);
	return path;
}

Test(network_batch, rules_after_many_lookups_judge_as_on_sqlite, .timeout = 120)
{
	need_pg();
	static const struct {
		const char *what, *tail, *error;
	} cases[] = {
		{"all of it", "", NULL},
		{"bound to a distributor the file terminated before the lookups grew many",
		 EV_MEMBER("late0", "2026-01-07T09:00:00", "nd0"), "is terminated at or before"},
		{"bound to a distributor terminated after they did",
		 EV_TERM("nt5", "2026-01-07T09:00:00", "nd5")
		 EV_MEMBER("late5", "2026-01-08T09:00:00", "nd5"), "is terminated at or before"},
		{"a second sharer",
		 "{\"type\":\"share_benefits\",\"id\":\"again\",\"at\":\"2026-01-09T09:00:00\","
		 "\"from\":\"nm3\",\"to\":\"nm1199\"}\n", "already has a sharer"},
		{"a sharer for a member who had none",
		 "{\"type\":\"share_benefits\",\"id\":\"first\",\"at\":\"2026-01-09T09:00:00\","
		 "\"from\":\"nm3\",\"to\":\"solo\"}\n", NULL},
		{"a bind over a bind the file made just before",
		 EV_BIND("sb1", "2026-01-09T09:00:00", "solo", "nd3")
		 EV_BIND("sb2", "2026-01-10T09:00:00", "solo", "nd4"), "already has a binding"},
		{"a bind over one the file made before the lookups grew many",
		 EV_BIND("again", "2026-01-09T09:00:00", "nf5", "nd6"), "already has a binding"},
		{"a bind over the binding a member joined with",
		 EV_BIND("again", "2026-01-09T09:00:00", "nm3", "nd9"), "already has a binding"},
		{"binds of two members in turn",
		 EV_BIND("sb1", "2026-01-09T09:00:00", "solo", "nd3")
		 EV_MEMBER0("solo2", "2026-01-09T10:00:00")
		 EV_BIND("sb2", "2026-01-10T09:00:00", "solo2", "nd4"), NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct judgement j =
			judges_as_on_sqlite(write_network_file(cases[i].tail), cases[i].what);
		/* and the judgement is the one the rules give */
		if (cases[i].error) {
			cr_assert_eq(j.rc, REFERRAL_EINPUT, "%s", cases[i].what);
			cr_assert(strstr(j.first, cases[i].error), "%s: %s", cases[i].what, j.first);
		} else {
			cr_assert_eq(j.rc, REFERRAL_OK, "%s: %s", cases[i].what, j.first);
			cr_assert_eq(j.dups, 0);
			cr_assert_eq(j.in, 5 * NET_MANY - 3 + (long)(strlen(cases[i].tail) ? 1 : 0) *
							 (long)(strstr(cases[i].tail, "solo2") ? 3 : 1),
				     "%s", cases[i].what);
		}
	}
}

Test(concurrency, two_inits_of_one_brand_at_once_make_it_once, .timeout = 60)
{
	need_pg();
	char uri[600];
	snprintf(uri, sizeof uri, "%s", test_db_path());
	pid_t pids[2];
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		if (!pids[i]) {
			char *text = test_reference_plan();
			referral_store *s = NULL;
			int rc = referral_store_create(&s, uri, text);
			_exit(rc == REFERRAL_ESTATE && !strstr(referral_errmsg(s), "already exists") ? 99
												   : rc);
		}
	}
	int a = wait_status(pids[0]), b = wait_status(pids[1]);
	cr_assert((a == 0 && b == REFERRAL_ESTATE) || (a == REFERRAL_ESTATE && b == 0),
		  "inits returned %d and %d", a, b);
	cr_assert_eq(test_store_int(uri, "SELECT count(*) FROM plans"), 1);
	referral_store_free(open_store(uri));
}
