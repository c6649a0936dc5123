/* support.h — small helpers shared by the Criterion suites. */
#ifndef REFERRAL_TEST_SUPPORT_H
#define REFERRAL_TEST_SUPPORT_H

#include <stddef.h>

/* A fresh empty directory under /tmp, removed at exit. Static buffer. */
const char *test_tmpdir(void);
/* A fresh path for a store file inside test_tmpdir(). Static buffer. */
const char *test_db_path(void);
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
