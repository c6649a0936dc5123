/* support.c — see support.h. */
#define _GNU_SOURCE
#include "support.h"

#include <criterion/criterion.h>
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

const char *test_db_path(void)
{
	static char path[300];
	static int n;
	snprintf(path, sizeof path, "%s/store%d-%d.db", test_tmpdir(), (int)getpid(), n++);
	return path;
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
