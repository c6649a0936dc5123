/*
 * test_pg_faults.c — the fault-injection loop of the PostgreSQL engine: a
 * connection lost in the middle of an operation.
 *
 * For each operation of the worked example (tests/fixtures/basic) — ingest,
 * settle, close, a plan version, verify — the N-th round trip the library
 * makes to the server (an exec, a prepare, a COPY chunk, a result awaited)
 * is preceded by the end of its connection's server process
 * (pg_terminate_backend, from a connection of the test's own), for N = 1,
 * 2, ... until the operation succeeds without meeting it. After every
 * failure:
 *   - the call returned REFERRAL_EIO (exit 5), with a message;
 *   - every table of the brand holds exactly what it held before the call:
 *     the server rolled back what the lost transaction had begun;
 * and once the operation succeeds, verify passes on a fresh handle. A
 * handle whose connection was lost is not used again (the engine does not
 * reconnect: the caller opens the store anew).
 *
 * The library's objects linked into this suite call the wrappers below
 * (-Wl,--wrap=..., tests/CMakeLists.txt). Runs when REFERRAL_TEST_PG names
 * a database (./scripts/test.sh --postgres); skipped otherwise. Each loop
 * prints how many failure points it covered.
 */
#include <criterion/criterion.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "referral/referral.h"
#include "support.h"

#define BASIC REFERRAL_FIXTURES_DIR "/basic/"

/* ---- the wrappers -------------------------------------------------------------- */

PGresult *__real_PQexec(PGconn *c, const char *q);
PGresult *__real_PQexecParams(PGconn *c, const char *q, int n, const Oid *t,
			      const char *const *v, const int *l, const int *f, int rf);
PGresult *__real_PQexecPrepared(PGconn *c, const char *name, int n, const char *const *v,
				const int *l, const int *f, int rf);
PGresult *__real_PQprepare(PGconn *c, const char *name, const char *q, int n, const Oid *t);
int __real_PQputCopyData(PGconn *c, const char *buf, int n);
int __real_PQputCopyEnd(PGconn *c, const char *err);
int __real_PQsendQueryParams(PGconn *c, const char *q, int n, const Oid *t,
			     const char *const *v, const int *l, const int *f, int rf);
PGresult *__real_PQgetResult(PGconn *c);

static PGconn *admin;     /* the test's own connection */
static long armed_at;     /* the round trip to fail, 0: none */
static long trips;        /* round trips counted since armed */
static int dropped;       /* whether the armed failure happened */

/* Before the library's round trip on `c`: ends its server process when it
 * is the armed one, and waits until it is gone. */
static void trip(PGconn *c)
{
	if (!armed_at || c == admin || dropped || ++trips != armed_at)
		return; /* armed_at -1: counting only */
	char pid[16], sql[96];
	snprintf(pid, sizeof pid, "%d", PQbackendPID(c));
	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%s, 10000)", pid);
	PGresult *r = __real_PQexec(admin, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "t"))
		dropped = 1;
	PQclear(r);
}

PGresult *__wrap_PQexec(PGconn *c, const char *q)
{
	trip(c);
	return __real_PQexec(c, q);
}

PGresult *__wrap_PQexecParams(PGconn *c, const char *q, int n, const Oid *t,
			      const char *const *v, const int *l, const int *f, int rf)
{
	trip(c);
	return __real_PQexecParams(c, q, n, t, v, l, f, rf);
}

PGresult *__wrap_PQexecPrepared(PGconn *c, const char *name, int n, const char *const *v,
				const int *l, const int *f, int rf)
{
	trip(c);
	return __real_PQexecPrepared(c, name, n, v, l, f, rf);
}

PGresult *__wrap_PQprepare(PGconn *c, const char *name, const char *q, int n, const Oid *t)
{
	trip(c);
	return __real_PQprepare(c, name, q, n, t);
}

int __wrap_PQputCopyData(PGconn *c, const char *buf, int n)
{
	trip(c);
	return __real_PQputCopyData(c, buf, n);
}

int __wrap_PQputCopyEnd(PGconn *c, const char *err)
{
	trip(c);
	return __real_PQputCopyEnd(c, err);
}

int __wrap_PQsendQueryParams(PGconn *c, const char *q, int n, const Oid *t,
			     const char *const *v, const int *l, const int *f, int rf)
{
	trip(c);
	return __real_PQsendQueryParams(c, q, n, t, v, l, f, rf);
}

PGresult *__wrap_PQgetResult(PGconn *c)
{
	trip(c);
	return __real_PQgetResult(c);
}

/* ---- what a brand holds ------------------------------------------------------------ */

static const char *const tables[] = { "meta", "plans", "closes", "drafts", "events",
				      "statements", "grades", "snapshots", "holds", "networks" };

/* Every row of every table of the brand, as text, malloc'd. */
static char *contents(const char *brand)
{
	size_t len = 0;
	char *all = calloc(1, 1);
	cr_assert_not_null(all);
	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
		char sql[256];
		snprintf(sql, sizeof sql,
			 "SELECT '%s:' || coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')"
			 " FROM \"%s\".%s t", tables[i], brand, tables[i]);
		PGresult *r = __real_PQexec(admin, sql);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql,
			     PQerrorMessage(admin));
		const char *v = PQgetvalue(r, 0, 0);
		size_t n = strlen(v);
		all = realloc(all, len + n + 2);
		cr_assert_not_null(all);
		memcpy(all + len, v, n);
		all[len + n] = '\n';
		all[len + n + 1] = '\0';
		len += n + 1;
		PQclear(r);
	}
	return all;
}

/* ---- the loop -------------------------------------------------------------------------- */

enum op { INGEST1, SETTLE1, CLOSE1, PLAN, INGEST2, CLOSE2, VERIFY, NOPS };
static const char *const op_names[NOPS] = { "ingest", "settle", "close", "plan",
					    "ingest", "close", "verify" };

static char *plan_json;

static int ingest(referral_store *st, const char *file)
{
	referral_batch *b = NULL;
	int rc = referral_batch_begin(st, &b, file);
	if (!rc)
		rc = referral_batch_add_file(b, file);
	if (!rc)
		rc = referral_batch_commit(b);
	referral_batch_free(b);
	return rc;
}

static int run_op(referral_store *st, int op)
{
	switch (op) {
	case INGEST1: return ingest(st, BASIC "batch1.jsonl");
	case SETTLE1: return referral_settle(st, "2026-01");
	case CLOSE1: return referral_close(st, "2026-01");
	case PLAN: return referral_plan_add(st, plan_json, "2026-04");
	case INGEST2: return ingest(st, BASIC "batch2.jsonl");
	case CLOSE2: return referral_close(st, "2026-02");
	case VERIFY: return referral_verify(st);
	default: return -1;
	}
}

static char *name;        /* the brand's URI */
static const char *brand; /* its name, inside `name` */

/* Makes the brand anew and runs the operations before `upto` on it,
 * without failures. */
static void rebuild(int upto)
{
	char sql[160];
	snprintf(sql, sizeof sql, "SET client_min_messages = warning; DROP SCHEMA IF EXISTS \"%s\" CASCADE",
		 brand);
	PQclear(__real_PQexec(admin, sql));
	referral_store *st = NULL;
	cr_assert_eq(referral_store_create(&st, name, plan_json), REFERRAL_OK, "%s",
		     referral_errmsg(st));
	for (int op = 0; op < upto; op++)
		cr_assert_eq(run_op(st, op), REFERRAL_OK, "%s: %s", op_names[op], referral_errmsg(st));
	referral_store_free(st);
}

/* Runs `op` on a fresh handle with the n-th round trip failed (n = 0:
 * none; then *trips_out is how many it made). */
static int run_armed(int op, long n, char *msg, size_t cap)
{
	referral_store *st = NULL;
	cr_assert_eq(referral_store_open(&st, name), REFERRAL_OK, "%s", referral_errmsg(st));
	trips = 0;
	dropped = 0;
	armed_at = n ? n : -1; /* -1: count, never reached */
	int rc = run_op(st, op);
	armed_at = 0;
	snprintf(msg, cap, "%s", referral_errmsg(st));
	referral_store_free(st);
	return rc;
}

Test(pg_faults, a_lost_connection_leaves_the_brand_as_it_was)
{
	if (!test_pg())
		cr_skip_test("REFERRAL_TEST_PG is not set (run ./scripts/test.sh --postgres)");
	admin = PQconnectdb(test_pg());
	cr_assert_eq(PQstatus(admin), CONNECTION_OK, "%s", PQerrorMessage(admin));
	plan_json = test_reference_plan();
	name = strdup(test_db_path());
	cr_assert_not_null(name);
	brand = strstr(name, "brand=") + 6;
	char msg[1024];

	for (int op = 0; op < NOPS; op++) {
		/* what the operation leaves when nothing fails, and how many
		 * round trips it makes, from the brand made anew (a sequence
		 * keeps the values failed transactions drew: the plans'
		 * version numbers then differ, not what the store means) */
		rebuild(op);
		char *before = contents(brand);
		int rc = run_armed(op, 0, msg, sizeof msg);
		cr_assert_eq(rc, REFERRAL_OK, "%s: %s", op_names[op], msg);
		long total = trips;
		char *reference = contents(brand);
		rebuild(op);

		long failed = 0, completed = 0;
		for (long n = 1; n <= total; n++) {
			rc = run_armed(op, n, msg, sizeof msg);
			cr_assert(dropped, "%s: round trip %ld of %ld was not made", op_names[op], n, total);
			char *now = contents(brand);
			if (rc == REFERRAL_OK) {
				/* the connection ended after the last thing the
				 * operation needed of it: all of it is done */
				cr_assert_str_eq(now, reference, "%s, connection lost at round trip %ld:"
						 " done, but not as without the failure", op_names[op], n);
				completed++;
				rebuild(op);
			} else {
				cr_assert_eq(rc, REFERRAL_EIO, "%s, connection lost at round trip %ld:"
					     " status %d (%s)", op_names[op], n, rc, msg);
				cr_assert(msg[0], "%s: no message", op_names[op]);
				cr_assert_str_eq(now, before, "%s, connection lost at round trip %ld:"
						 " the brand changed", op_names[op], n);
				failed++;
			}
			free(now);
		}
		printf("pg_faults: %s: %ld round trips, %ld failed with nothing changed, %ld done\n",
		       op_names[op], total, failed, completed);
		fflush(stdout);
		free(before);
		free(reference);
	}
	rebuild(NOPS);
	referral_store *st = NULL;
	cr_assert_eq(referral_store_open(&st, name), REFERRAL_OK, "%s", referral_errmsg(st));
	cr_assert_eq(referral_verify(st), REFERRAL_OK, "%s", referral_errmsg(st));
	referral_store_free(st);
	free(name);
	free(plan_json);
	PQfinish(admin);
}
