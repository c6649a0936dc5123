/*
 * test_findings.c — lines and stores that a hostile test of the library
 * found to be handled wrongly, each a test of its own: numbers in unknown
 * fields, files that are not stores, unknown schema versions, and the
 * messages of storage failures (a busy store, a full disk). On PostgreSQL
 * a store that is not one is a schema of the brand's name that another
 * program made.
 *
 * JSON lines are written with ' for " to stay readable; dq() swaps them.
 */
#include <criterion/criterion.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.h"
#include "referral/referral.h"
#include "support.h"

static const char *const NETWORK[] = {
	"{'type':'store','id':'s1','at':'2026-01-01T08:00:00+08:00','name':'Store One','region':'east'}",
	"{'type':'distributor','id':'D1','at':'2026-01-03T09:00:00+08:00','kind':'doctor','store':'s1','recruiter':null}",
	"{'type':'member','id':'m1','at':'2026-01-04T09:00:00+08:00','distributor':'D1'}",
	NULL
};

static char db_path[512];

#define dq test_dq

/* What one batch did: the commit's status, the first error, the counts. */
struct run {
	int rc;
	long ingested, duplicates, nerrors;
	char err[600];
};

static struct run run_lines(referral_store *st, const char *const *lines)
{
	struct run r = {0};
	referral_batch *b = NULL;
	cr_assert_eq(referral_batch_begin(st, &b, "x.jsonl"), REFERRAL_OK, "%s", referral_errmsg(st));
	for (int i = 0; lines[i]; i++) {
		char *j = dq(lines[i]);
		referral_batch_add_json(b, j, strlen(j), i + 1);
		free(j);
	}
	r.rc = referral_batch_commit(b);
	r.ingested = referral_batch_ingested(b);
	r.duplicates = referral_batch_duplicates(b);
	r.nerrors = referral_batch_error_count(b);
	const char *e = referral_batch_error(b, 0);
	snprintf(r.err, sizeof r.err, "%s", e ? e : "");
	referral_batch_free(b);
	return r;
}

static struct run run_one(referral_store *st, const char *line)
{
	const char *lines[] = {line, NULL};
	return run_lines(st, lines);
}

static referral_store *network(void)
{
	char *text = test_reference_plan();
	referral_store *st = NULL;
	snprintf(db_path, sizeof db_path, "%s", test_db_path());
	int rc = referral_store_create(&st, db_path, text);
	free(text);
	cr_assert_eq(rc, REFERRAL_OK, "create: %s", referral_errmsg(st));
	struct run r = run_lines(st, NETWORK);
	cr_assert_eq(r.rc, REFERRAL_OK, "network: %s", r.err);
	return st;
}

/* ---- numbers in unknown fields ---------------------------------------------- */

#define ORDER(id) "{'type':'order','id':'" id "','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'1.00'"

/* A field the spec does not define is ignored, whatever number it holds:
 * neither reader converts it. */
Test(unknown_fields, huge_numbers_are_ignored)
{
	static const char *const lines[] = {
		ORDER("u1") ",'extra':123456789012345678901234567890}",
		ORDER("u2") ",'extra':1e999999}",
		ORDER("u3") ",'extra':-1e-999999,'more':{'a':[1e400,true,false,null,'x\\n'],'b':{}}}",
		/* escapes and non-ASCII send the line to jansson */
		ORDER("u4") ",'note':'caf\\u00e9','extra':123456789012345678901234567890}",
		"{'type':'store','id':'u5','at':'2026-01-02T10:00:00+08:00','name':'\xe5\xba\x97','region':'x','n':[1e999999,{'k':99999999999999999999999}]}",
		ORDER("u6") ",'x':[],'y':[[[[]]]],'z':0,'w':-0.5E+3}",
		NULL
	};
	referral_store *st = network();
	struct run r = run_lines(st, lines);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err);
	cr_assert_eq(r.ingested, 6);
	referral_store_free(st);
}

/* The same lines without their unknown fields are identical repeats. */
Test(unknown_fields, same_event_with_or_without_them)
{
	static const char *const with[] = {
		ORDER("v1") ",'extra':123456789012345678901234567890}",
		ORDER("v2") ",'extra':{'deep':[1e999999]},'note':'a\\tb'}",
		NULL
	};
	static const char *const without[] = {ORDER("v1") "}", ORDER("v2") "}", NULL};
	referral_store *st = network();
	struct run r = run_lines(st, with);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err);
	r = run_lines(st, without);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err);
	cr_assert_eq(r.duplicates, 2);
	referral_store_free(st);
}

/* The plain reader itself takes such lines, and still declines what it is
 * not sure of. */
Test(unknown_fields, plain_reader_skips_and_declines)
{
	static const struct {
		const char *line;
		int plain;
	} cases[] = {
		{ORDER("a") ",'extra':123456789012345678901234567890}", 1},
		{ORDER("a") ",'x':{'a':[1,2.5e-3,'s\\\\',{}],'b':null}}", 1},
		{ORDER("a") ",'x':1,'x':2}", 0},            /* repeated unknown key */
		{ORDER("a") ",'x':{'k':1,'k':2}}", 0},      /* repeated nested key */
		{ORDER("a") ",'x':'\\u0041'}", 0},          /* \u escape */
		{ORDER("a") ",'x':'\xc3\xa9'}", 0},         /* non-ASCII */
		{ORDER("a") ",'x':01}", 0},                 /* bad number */
		{ORDER("a") ",'x':1.}", 0},
		{ORDER("a") ",'x':1e}", 0},
		{ORDER("a") ",'x':-}", 0},
		{ORDER("a") ",'x':1x}", 0},
		{ORDER("a") ",'x':[1,]}", 0},
		{ORDER("a") ",'x':{'a':1,}}", 0},
		{ORDER("a") ",'x':tru}", 0},
		{ORDER("a") ",'x':nullx}", 0},
		{ORDER("a") ",'x':[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}", 0}, /* deep */
		{ORDER("a") ",'x':{'\\u006b':1}}", 0},     /* escaped key */
		{ORDER("a") ",'x':'a\\qb'}", 0},            /* bad escape */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *j = dq(cases[i].line);
		struct event_in e;
		memset(&e, 0, offsetof(struct event_in, num));
		cr_assert_eq(read_plain(j, strlen(j), &e), cases[i].plain, "case %zu: %s", i, j);
		free(j);
	}
}

/* A NUL byte in an unknown field's value is left to jansson, which refuses
 * one in a string (jansson 2.14 passes over one after a number: its
 * verdict stands either way). */
Test(unknown_fields, a_nul_byte_is_declined)
{
	static const char *const tails[] = {",\"x\":\"\\", ",\"x\":1", ",\"x\":\"a"};
	referral_store *st = network();
	for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
		char line[300];
		int n = snprintf(line, sizeof line, "%s%s", ORDER("n1"), tails[i]);
		cr_assert_lt(n + 3, (int)sizeof line);
		/* dq() is not needed: ORDER's quotes become " below */
		for (int k = 0; k < n; k++)
			if (line[k] == '\'')
				line[k] = '"';
		line[n] = '\0';
		line[n + 1] = i != 1 ? '"' : '}';
		line[n + 2] = '}';
		size_t len = (size_t)n + (i != 1 ? 3 : 2);
		struct event_in e;
		memset(&e, 0, offsetof(struct event_in, num));
		cr_assert_eq(read_plain(line, len, &e), 0, "case %zu", i);
		if (i == 1)
			continue;
		referral_batch *b = NULL;
		cr_assert_eq(referral_batch_begin(st, &b, "x.jsonl"), REFERRAL_OK);
		cr_assert_eq(referral_batch_add_json(b, line, len, 1), REFERRAL_EINPUT, "case %zu", i);
		cr_assert(strstr(referral_batch_error(b, 0), "invalid JSON"), "%s",
			  referral_batch_error(b, 0));
		referral_batch_free(b);
	}
	referral_store_free(st);
}

/* A number too large in a field of the spec keeps jansson's message, and a
 * line that is bad JSON after an ignored number reports its real fault. */
Test(unknown_fields, messages_stay)
{
	referral_store *st = network();
	struct run r = run_one(st, ORDER("w1") ",'points':1e999999}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	cr_assert_str_eq(r.err, "x.jsonl:1: invalid JSON at column 106: real number overflow near '1e999999'");
	r = run_one(st, "{'type':'order','id':'w2','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':123456789012345678901234567890}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	cr_assert_str_eq(r.err, "x.jsonl:1: invalid JSON at column 112: too big integer");
	r = run_one(st, ORDER("w3") ",'extra':1e999999,'note':'caf\xc3\xa9',}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	cr_assert_str_eq(r.err, "x.jsonl:1: invalid JSON at column 121: string or '}' expected near '}'");
	r = run_one(st, ORDER("w4") ",'x':1,'x':123456789012345678901234567890}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	cr_assert(strstr(r.err, "duplicate object key") != NULL, "%s", r.err);
	referral_store_free(st);
}

/* ---- files that are not stores --------------------------------------------- */

/* The whole of a file, or NULL if it cannot be read; *n its size. */
static char *slurp(const char *path, long *n)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	*n = -1;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (*n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (data = malloc((size_t)*n + 1)) && fread(data, 1, (size_t)*n, f) != (size_t)*n) {
		free(data);
		data = NULL;
	}
	fclose(f);
	return data;
}

#define raw_sql test_sql

/* What a PostgreSQL brand's schema holds, as a number to compare: a digest
 * of the names and kinds of its objects and of the rows of its tables. */
static long long schema_state(const char *store)
{
	return test_store_int(
		store, "SELECT coalesce(('x' || left(md5(string_agg("
		       "c.relname::text || c.relkind::text || CASE c.relkind WHEN 'r' THEN"
		       " query_to_xml(format('SELECT * FROM %I.%I', n.nspname, c.relname),"
		       " true, false, '')::text ELSE '' END, ',' ORDER BY c.relname)), 15))"
		       "::bit(60)::bigint, 0)"
		       " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		       " WHERE n.nspname = current_schema()");
}

/* Runs SQL on a store, failing the test if it fails. */
static void store_sql_ok(const char *store, const char *sql)
{
	cr_assert_eq(test_store_sql(store, sql), 0, "%s: %s", sql, test_store_error());
}

/* On PostgreSQL: the brand's schema made empty, as another program would. */
static void empty_schema(const char *store)
{
	char sql[200];
	snprintf(sql, sizeof sql, "CREATE SCHEMA \"%s\"", test_brand(store));
	store_sql_ok(store, sql);
}

/* A file at a fresh path holding `text` `times` times, into path. */
static void make_file(char *path, size_t cap, const char *text, int times)
{
	snprintf(path, cap, "%s", test_db_path());
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	for (int i = 0; i < times; i++)
		fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* Opening `path` (and creating a store at it when `create`) fails with
 * `status` and a message holding `needle`, and leaves the file byte for
 * byte as it was, with no write-ahead log beside it; on PostgreSQL, the
 * brand's schema as it was. */
static void refused_untouched(const char *path, int create, int status, const char *needle)
{
	long before_n = 0, after_n;
	long long state = test_pg() ? schema_state(path) : 0;
	char *before = test_pg() ? NULL : slurp(path, &before_n), wal[600];
	cr_assert_geq(before_n, 0);
	referral_store *st = NULL;
	int rc;
	if (create) {
		char *text = test_reference_plan();
		rc = referral_store_create(&st, path, text);
		free(text);
	} else {
		rc = referral_store_open(&st, path);
	}
	cr_assert_eq(rc, status, "%s: %s", path, referral_errmsg(st));
	cr_assert(strstr(referral_errmsg(st), needle), "%s: \"%s\" lacks \"%s\"", path,
		  referral_errmsg(st), needle);
	referral_store_free(st);
	if (test_pg()) {
		cr_assert_eq(schema_state(path), state, "%s was changed", path);
		return;
	}
	char *after = slurp(path, &after_n);
	cr_assert_eq(after_n, before_n, "%s: %ld bytes became %ld", path, before_n, after_n);
	cr_assert(before_n == 0 || !memcmp(before, after, (size_t)before_n), "%s was changed", path);
	snprintf(wal, sizeof wal, "%s-wal", path);
	cr_assert_neq(access(wal, F_OK), 0, "%s was left", wal);
	free(before);
	free(after);
}

/* A SQLite database of another program is neither switched to WAL nor
 * otherwise written, by an open or an init; nor is a schema of another
 * program on PostgreSQL. */
Test(not_a_store, a_foreign_database_is_never_written)
{
	char path[600];
	snprintf(path, sizeof path, "%s", test_db_path());
	if (test_pg()) {
		empty_schema(path);
		store_sql_ok(path, "CREATE TABLE t(x integer); INSERT INTO t VALUES (1)");
		refused_untouched(path, 0, REFERRAL_EIO, "is not a libreferral store");
		refused_untouched(path, 1, REFERRAL_ESTATE, "already exists");
		/* the schema version of ours on tables of someone else's */
		store_sql_ok(path, "CREATE TABLE meta(version integer); INSERT INTO meta VALUES (1)");
		refused_untouched(path, 0, REFERRAL_EIO, "not a libreferral store");
		refused_untouched(path, 1, REFERRAL_ESTATE, "already exists");
		return;
	}
	cr_assert_eq(raw_sql(path, "CREATE TABLE t(x); INSERT INTO t VALUES(1)"), SQLITE_OK);
	refused_untouched(path, 0, REFERRAL_EIO, "not a libreferral store");
	refused_untouched(path, 1, REFERRAL_ESTATE, "already holds other data");
	/* a schema version of ours on tables of someone else's */
	cr_assert_eq(raw_sql(path, "PRAGMA user_version = 2"), SQLITE_OK);
	refused_untouched(path, 0, REFERRAL_EIO, "not a libreferral store");
	refused_untouched(path, 1, REFERRAL_ESTATE, "already initialised");
}

/* An empty file stays empty when opened (init makes a store of it); an
 * empty schema on PostgreSQL is another program's (init refuses it). */
Test(not_a_store, an_empty_file_stays_empty)
{
	char path[600];
	if (test_pg()) {
		snprintf(path, sizeof path, "%s", test_db_path());
		empty_schema(path);
		refused_untouched(path, 0, REFERRAL_EIO, "is not a libreferral store");
		return;
	}
	make_file(path, sizeof path, "", 0);
	refused_untouched(path, 0, REFERRAL_EIO, "not initialised (run init)");
}

/* A file of text is reported as not a store, and not changed. */
Test(not_a_store, a_text_file_is_not_changed)
{
	TEST_SQLITE_ONLY("a file of text (another program's schema:"
			 " a_foreign_database_is_never_written)");
	char path[600];
	make_file(path, sizeof path, "this is not a SQLite database\n", 100);
	refused_untouched(path, 0, REFERRAL_EIO, "not a libreferral store");
	refused_untouched(path, 1, REFERRAL_EIO, "not a usable SQLite file");
}

/* A store whose schema version is none this library knows says so. The
 * schema versions are 1 to 5 of a SQLite file, 1 to 2 of a PostgreSQL
 * brand (docs/design.md). */
Test(not_a_store, an_unknown_schema_version_is_named)
{
	const char *set = test_pg() ? "UPDATE meta SET version = %d" : "PRAGMA user_version = %d";
	int newest = test_pg() ? 2 : 5;
	char sql[80], want[800];
	referral_store *st = network();
	referral_store_free(st);
	snprintf(sql, sizeof sql, set, -1);
	store_sql_ok(db_path, sql);
	cr_assert_eq(referral_store_open(&st, db_path), REFERRAL_EIO);
	snprintf(want, sizeof want, "%s: schema version -1 is unknown (this library knows 1 to %d)",
		 test_store_named(db_path), newest);
	cr_assert_str_eq(referral_errmsg(st), want);
	referral_store_free(st);
	snprintf(sql, sizeof sql, set, newest + 1);
	store_sql_ok(db_path, sql);
	cr_assert_eq(referral_store_open(&st, db_path), REFERRAL_EIO);
	snprintf(want, sizeof want, "%s: schema version %d is newer than this library's %d",
		 test_store_named(db_path), newest + 1, newest);
	cr_assert_str_eq(referral_errmsg(st), want);
	referral_store_free(st);
}

/* ---- messages that name what is wrong --------------------------------------- */

/* A byte order mark inside a line is named wherever a message quotes it. */
Test(messages, a_byte_order_mark_is_named)
{
	static const char *const lines[] = {
		"{'type':'store','id':'s9\xef\xbb\xbf','at':'2026-01-01T08:00:00+08:00','name':'x','region':'y'}",
		"{'type':'order','id':'o9','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'\xef\xbb\xbf" "1.00'}",
		"{'type':'store\xef\xbb\xbf','id':'s7'}",
		"\xef\xbb\xbf{'type':'store','id':'s8'}",
		NULL
	};
	static const char *const want[] = {
		"x.jsonl:1: store \"s9U+FEFF\": field \"id\": expected an id (1-64 characters of "
		"[A-Za-z0-9._:@/-]), got \"s9U+FEFF\"",
		"x.jsonl:2: order \"o9\": field \"amount\": expected a string of digits with up to 2 "
		"decimals, like \"12.34\", got \"U+FEFF1.00\"",
		"x.jsonl:3: unknown event type \"storeU+FEFF\"",
		"x.jsonl:4: invalid JSON at column 1: '[' or '{' expected near 'U+FEFF'",
	};
	referral_store *st = network();
	referral_batch *b = NULL;
	cr_assert_eq(referral_batch_begin(st, &b, "x.jsonl"), REFERRAL_OK);
	for (int i = 0; lines[i]; i++) {
		char *j = dq(lines[i]);
		referral_batch_add_json(b, j, strlen(j), i + 1);
		free(j);
	}
	cr_assert_eq(referral_batch_commit(b), REFERRAL_EINPUT);
	for (int i = 0; i < 4; i++)
		cr_assert_str_eq(referral_batch_error(b, i), want[i]);
	referral_batch_free(b);
	referral_store_free(st);
}

/* A directory given as the file of a batch says so. */
Test(messages, a_directory_is_not_a_file_of_events)
{
	referral_store *st = network();
	referral_batch *b = NULL;
	char want[600];
	cr_assert_eq(referral_batch_begin(st, &b, "dir"), REFERRAL_OK);
	cr_assert_eq(referral_batch_add_file(b, test_tmpdir()), REFERRAL_EIO);
	snprintf(want, sizeof want, "%s: cannot open: Is a directory", test_tmpdir());
	cr_assert_str_eq(referral_errmsg(st), want);
	referral_batch_free(b);
	referral_store_free(st);
}

/* Another process holding the store: every wait of more than 5 s ends
 * with the same message and REFERRAL_ESTATE, whether it is the open
 * (a lock that keeps readers out) or a write (the write lock). */
static void assert_busy(referral_store *st, int rc)
{
	char want[700];
	snprintf(want, sizeof want, "store \"%s\": another process is writing to it; try again",
		 db_path);
	cr_assert_eq(rc, REFERRAL_ESTATE, "%s", referral_errmsg(st));
	cr_assert_str_eq(referral_errmsg(st), want);
}

Test(messages, a_store_locked_against_readers_is_busy, .timeout = 30)
{
	TEST_SQLITE_ONLY("a file locked by SQLite (on PostgreSQL readers never wait; a settle, close"
			 " or verify while another runs: test_postgres.c)");
	referral_store *st = network();
	referral_store_free(st);
	sqlite3 *other;
	cr_assert_eq(sqlite3_open(db_path, &other), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(other, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;"
				  " CREATE TABLE other(x); COMMIT", NULL, NULL, NULL), SQLITE_OK,
		     "%s", sqlite3_errmsg(other));
	assert_busy(st, referral_store_open(&st, db_path));
	referral_store_free(st);
	sqlite3_close(other);
}

Test(messages, a_store_being_written_is_busy, .timeout = 30)
{
	TEST_SQLITE_ONLY("SQLite's write lock of a file (on PostgreSQL batches wait for one"
			 " another; a settle, close or verify while another runs: test_postgres.c)");
	referral_store *st = network();
	sqlite3 *other;
	referral_batch *b = NULL;
	cr_assert_eq(sqlite3_open(db_path, &other), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_busy(st, referral_batch_begin(st, &b, "x.jsonl"));
	cr_assert_null(b);
	assert_busy(st, referral_close(st, "2026-01"));
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	cr_assert_eq(referral_close(st, "2026-01"), REFERRAL_OK, "%s", referral_errmsg(st));
	referral_store_free(st);
}
