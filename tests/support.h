/* support.h — small helpers shared by the Criterion suites. */
#ifndef REFERRAL_TEST_SUPPORT_H
#define REFERRAL_TEST_SUPPORT_H

#include <stddef.h>

/* A fresh empty directory under /tmp, removed at exit. Static buffer. */
const char *test_tmpdir(void);
/* A fresh path for a store file inside test_tmpdir(); with REFERRAL_TEST_PG
 * set to the URI of a PostgreSQL database, a fresh brand of it instead
 * (t_PID_N, dropped when the process exits). Static buffer. */
const char *test_db_path(void);
/* The URI of REFERRAL_TEST_PG, or NULL when the suites run on SQLite. */
const char *test_pg(void);
/* Skips the running test on PostgreSQL, saying why. */
#define TEST_SQLITE_ONLY(why)                                                          \
	do {                                                                           \
		if (test_pg())                                                         \
			cr_skip_test("SQLite only: %s", why);                          \
	} while (0)
/* Runs SQL on a store (a file or a PostgreSQL brand) outside the library:
 * 0 on success (test_store_error() then says why not). On PostgreSQL,
 * "DROP TRIGGER T_..." disables T's triggers and x'HEX' is a bytea. */
int test_store_sql(const char *store, const char *sql);
const char *test_store_error(void);
/* The integer a one-row, one-column query on a store gives (NULL: 0). */
long long test_store_int(const char *store, const char *sql);
/* The brand of a PostgreSQL store, NULL for a file. Static buffer. */
const char *test_brand(const char *store);
/* How the library's messages name a store: store "PATH" for a file, brand
 * "NAME" for a brand (never its URI). Static buffer. */
const char *test_store_named(const char *store);
/* Drops a PostgreSQL store's brand; nothing for a file. */
void test_store_drop(const char *store);
/* The whole of a file as a malloc'd NUL-terminated string (abort-free: NULL
 * when it cannot be read). */
char *test_read_file(const char *path);
/* The reference plan text (tests/fixtures/reference-plan.json), malloc'd;
 * fails the running test when it cannot be read. */
char *test_reference_plan(void);
/* The JSON text of a line written with ' for " (malloc'd; fails the running
 * test when out of memory). */
char *test_dq(const char *s);
/* Runs SQL on the file directly, outside the library: SQLite's code, -1
 * when it cannot be opened. */
int test_sql(const char *path, const char *sql);

#endif
