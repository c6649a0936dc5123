/* support.c — see support.h. */
#define _GNU_SOURCE
#include "support.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static void remove_tmpdir(void)
{
	char cmd[300];
	if (tmpdir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0) { /* best effort */ }
	}
}

const char *test_tmpdir(void)
{
	if (!tmpdir[0]) {
		/* under $TMPDIR when set: ctest points it into the build tree, so
		 * that what a crashed test leaves behind stays out of /tmp */
		const char *base = getenv("TMPDIR");
		snprintf(tmpdir, sizeof tmpdir, "%s/referral-test-XXXXXX",
			 base && *base && strlen(base) < 200 ? base : "/tmp");
		if (!mkdtemp(tmpdir))
			return "/tmp";
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

const char *test_pg(void)
{
	const char *base = getenv("REFERRAL_TEST_PG");
	return base && *base ? base : NULL;
}

/* The brands this process made, as a LIKE pattern: t_PID_% */
static void own_brands(char *buf, size_t cap)
{
	snprintf(buf, cap, "t\\_%d\\_%%", (int)getpid());
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *pg_connect(const char *base)
{
	PGconn *c = PQconnectdb(base);
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

static void drop_own_brands(void)
{
	char like[64], sql[400];
	PGconn *c = pg_connect(test_pg());
	if (!c)
		return;
	own_brands(like, sizeof like);
	/* a failed test may leave a transaction of its own open on a brand:
	 * then the drop gives up rather than waiting for it for ever */
	PQclear(PQexec(c, "SET lock_timeout = '10s'"));
	snprintf(sql, sizeof sql,
		 "DO $$DECLARE s name; BEGIN FOR s IN SELECT nspname FROM pg_namespace"
		 " WHERE nspname LIKE '%s' LOOP EXECUTE format('DROP SCHEMA %%I CASCADE', s);"
		 " END LOOP; END$$", like);
	PQclear(PQexec(c, sql));
	PQfinish(c);
}

const char *test_db_path(void)
{
	static char path[600];
	static int n;
	const char *base = test_pg();
	if (base) {
		if (n == 0)
			atexit(drop_own_brands);
		snprintf(path, sizeof path, "%s%cbrand=t_%d_%d", base, strchr(base, '?') ? '&' : '?',
			 (int)getpid(), n++);
		return path;
	}
	snprintf(path, sizeof path, "%s/store%d-%d.db", test_tmpdir(), (int)getpid(), n++);
	return path;
}

/* ---- SQL on a store, outside the library ----------------------------------------- */

static char store_error[600];

const char *test_store_error(void) { return store_error; }

/* A PostgreSQL store's URI split into the URI of its database and its
 * brand. */
static void split_uri(const char *store, char *base, size_t cap, char *brand, size_t bcap)
{
	const char *b = strstr(store, "brand=");
	snprintf(brand, bcap, "%.*s", b ? (int)strcspn(b + 6, "&#") : 4, b ? b + 6 : "main");
	snprintf(base, cap, "%.*s", b ? (int)(b - store - 1) : (int)strlen(store), store);
	if (b && b[6 + strcspn(b + 6, "&#")] == '&') /* parameters after brand= */
		snprintf(base + strlen(base), cap - strlen(base), "%c%s", b[-1],
			 b + 7 + strcspn(b + 6, "&#"));
}

/* The SQLite statements the suites tamper with, made PostgreSQL's:
 * "DROP TRIGGER T_frozen_u;" (or _d, _i, T_append_only_u...) disables the
 * triggers of T, x'HEX' is '\xHEX'::bytea. */
static char *pg_dialect(const char *sql)
{
	size_t cap = strlen(sql) * 2 + 256, n = 0;
	char *out = malloc(cap);
	cr_assert_not_null(out);
	while (*sql) {
		if (!strncmp(sql, "DROP TRIGGER ", 13)) {
			const char *name = sql + 13, *end = name + strcspn(name, ";");
			const char *cut = strstr(name, "_frozen");
			const char *cut2 = strstr(name, "_append_only");
			if (!cut || cut > end)
				cut = cut2 && cut2 < end ? cut2 : end;
			n += (size_t)snprintf(out + n, cap - n, "ALTER TABLE %.*s DISABLE TRIGGER USER",
					      (int)(cut - name), name);
			sql = end;
		} else if (sql[0] == 'x' && sql[1] == '\'') {
			const char *hex = sql + 2, *end = strchr(hex, '\'');
			cr_assert_not_null(end);
			n += (size_t)snprintf(out + n, cap - n, "'\\x%.*s'::bytea", (int)(end - hex), hex);
			sql = end + 1;
		} else {
			out[n++] = *sql++;
		}
	}
	out[n] = 0;
	return out;
}

/* A connection to the store's database with its brand as search_path. */
static PGconn *pg_store(const char *store)
{
	char base[600], brand[80], sql[200];
	split_uri(store, base, sizeof base, brand, sizeof brand);
	PGconn *c = pg_connect(base);
	if (!c) {
		snprintf(store_error, sizeof store_error, "cannot connect to %.500s", base);
		return NULL;
	}
	snprintf(sql, sizeof sql, "SET search_path TO \"%s\"", brand);
	PQclear(PQexec(c, sql));
	return c;
}

int test_store_sql(const char *store, const char *sql)
{
	store_error[0] = 0;
	if (strncmp(store, "postgres", 8)) {
		sqlite3 *db;
		char *err = NULL;
		if (sqlite3_open(store, &db) != SQLITE_OK) {
			sqlite3_close(db);
			snprintf(store_error, sizeof store_error, "cannot open %s", store);
			return -1;
		}
		int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
		snprintf(store_error, sizeof store_error, "%s", err ? err : "");
		sqlite3_free(err);
		sqlite3_close(db);
		return rc;
	}
	PGconn *c = pg_store(store);
	if (!c)
		return -1;
	char *text = pg_dialect(sql);
	PGresult *res = PQexec(c, text);
	free(text);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
	snprintf(store_error, sizeof store_error, "%s", ok ? "" : PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(c);
	return ok ? 0 : 1;
}

long long test_store_int(const char *store, const char *sql)
{
	long long v = -1;
	if (strncmp(store, "postgres", 8)) {
		sqlite3 *db = NULL;
		sqlite3_stmt *q = NULL;
		cr_assert_eq(sqlite3_open_v2(store, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK, "%s: %s", sql,
			     sqlite3_errmsg(db));
		cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "%s: no row (%s)", sql, sqlite3_errmsg(db));
		v = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
		sqlite3_close(db);
		return v;
	}
	PGconn *c = pg_store(store);
	cr_assert_not_null(c, "%s", store_error);
	PGresult *res = PQexec(c, sql);
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(res));
	cr_assert_eq(PQntuples(res), 1, "%s: no row", sql);
	v = PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQfinish(c);
	return v;
}

char *test_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		size_t n = fread(buf + len, 1, 4096, f);
		len += n;
		if (n < 4096)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

char *test_reference_plan(void)
{
	const char *path = REFERRAL_FIXTURES_DIR "/reference-plan.json";
	char *text = test_read_file(path);

	cr_assert_not_null(text, "cannot read the reference plan %s", path);
	return text;
}

char *test_dq(const char *s)
{
	char *out = strdup(s);

	cr_assert_not_null(out);
	for (char *p = out; *p; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

int test_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

const char *test_brand(const char *store)
{
	static char brand[80];
	char base[600];
	if (strncmp(store, "postgres", 8))
		return NULL;
	split_uri(store, base, sizeof base, brand, sizeof brand);
	return brand;
}

const char *test_store_named(const char *store)
{
	static char named[700];
	const char *brand = test_brand(store);
	snprintf(named, sizeof named, "%s \"%s\"", brand ? "brand" : "store", brand ? brand : store);
	return named;
}

void test_store_drop(const char *store)
{
	char base[600], brand[80], sql[200];
	if (strncmp(store, "postgres", 8))
		return;
	split_uri(store, base, sizeof base, brand, sizeof brand);
	PGconn *c = pg_connect(base);
	if (!c)
		return;
	snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS \"%s\" CASCADE", brand);
	PQclear(PQexec(c, sql));
	PQfinish(c);
}
