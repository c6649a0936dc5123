/*
 * test_faults.c — the fault-injection loops, as SQLite tests itself: for
 * each operation of the worked example (tests/fixtures/basic) — ingest,
 * settle, close, a plan version, verify, the exports, a member's points,
 * opening the store — fail the N-th allocation, then
 * the N-th I/O operation, for N = 1, 2, ... until the operation succeeds
 * without meeting the failure (faults.h says what is counted). After
 * every failure:
 *   - the call returned a status (the process did not abort), with a
 *     message, and REFERRAL_EIO (never REFERRAL_EVERIFY: an injected
 *     failure is no discrepancy);
 *   - the file passes PRAGMA integrity_check and holds exactly what it held
 *     before the call (every table, byte for byte): nothing half stored;
 *   - the same handle, the failure gone, does the operation: the handle
 *     recovered; the store then holds what a run without failures leaves,
 *     and referral_verify() passes on a fresh handle.
 * A third loop makes every lock from the N-th on fail as busy, as when
 * another process holds the store: the call must say so (REFERRAL_ESTATE,
 * "another process is writing to it; try again") on every path.
 *
 * Each loop prints how many failure points it covered (with
 * REFERRAL_FAULTS_STRIDE=k, as the sanitizer build sets, every k-th). The settlement
 * runs on the caller's thread (stream_use_thread = 0), so that the N-th
 * operation is the same one in every run.
 */
#include <criterion/criterion.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include "core.h"
#include "faults.h"
#include "sqlite.h"
#include "support.h"

#define BASIC REFERRAL_FIXTURES_DIR "/basic/"

/* ---- the worked example, step by step ------------------------------------------ */

enum step { INIT, INGEST1, SETTLE1, CLOSE1, INGEST2, CLOSE2, INGEST3, CLOSE3, NSTEPS };

static char *plan_json;

static int ingest(referral_store *st, const char *file, const char *extra)
{
	referral_batch *b = NULL;
	int rc = referral_batch_begin(st, &b, file);
	if (!rc)
		rc = referral_batch_add_file(b, file);
	if (!rc && extra)
		rc = referral_batch_add_json(b, extra, strlen(extra), 100);
	if (!rc)
		rc = referral_batch_commit(b);
	referral_batch_free(b);
	return rc;
}

/* A line that the plain reader declines (an escape, a character outside
 * ASCII), so that jansson reads it, in the ingest under test. */
static const char jansson_line[] =
	"{\"type\":\"store\",\"id\":\"sj\",\"at\":\"2026-01-01T08:00:00+08:00\","
	"\"name\":\"Caf\\u00e9 \xe5\xba\x97\",\"region\":\"x\",\"extra\":1e999999}";

static int run_step(referral_store *st, int step)
{
	switch (step) {
	case INGEST1: return ingest(st, BASIC "batch1.jsonl", NULL);
	case SETTLE1: return referral_settle(st, "2026-01");
	case CLOSE1: return referral_close(st, "2026-01");
	case INGEST2: return ingest(st, BASIC "batch2.jsonl", NULL);
	case CLOSE2: return referral_close(st, "2026-02");
	case INGEST3: return ingest(st, BASIC "batch3.jsonl", NULL);
	case CLOSE3: return referral_close(st, "2026-03");
	default: return -1;
	}
}

/* A store at `path` after the example's steps before `upto`. */
static void make_store(const char *path, int upto)
{
	referral_store *st = NULL;
	int rc = referral_store_create(&st, path, plan_json);
	cr_assert_eq(rc, REFERRAL_OK, "create: %s", referral_errmsg(st));
	for (int s = INIT + 1; s < upto; s++)
		cr_assert_eq(run_step(st, s), REFERRAL_OK, "step %d: %s", s, referral_errmsg(st));
	referral_store_free(st);
}

/* ---- what a file holds ------------------------------------------------------------ */

static void put(char **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap = *cap ? *cap * 2 : 4096;
		*buf = realloc(*buf, *cap);
		cr_assert_not_null(*buf);
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* Every row of every table of the file, as text (blobs in hex), after the
 * result of PRAGMA integrity_check, which must be "ok". */
static char *contents(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *t, *r;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &r, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(r), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(r, 0), "ok", "%s: integrity_check", path);
	sqlite3_finalize(r);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table'"
					    " ORDER BY name", -1, &t, NULL), SQLITE_OK);
	while (sqlite3_step(t) == SQLITE_ROW) {
		char sql[200];
		const char *name = (const char *)sqlite3_column_text(t, 0);
		snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", name);
		put(&buf, &len, &cap, name, strlen(name));
		put(&buf, &len, &cap, ":\n", 2);
		cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &r, NULL), SQLITE_OK);
		while (sqlite3_step(r) == SQLITE_ROW) {
			for (int c = 0; c < sqlite3_column_count(r); c++) {
				if (sqlite3_column_type(r, c) == SQLITE_BLOB) {
					const unsigned char *b = sqlite3_column_blob(r, c);
					for (int i = 0; i < sqlite3_column_bytes(r, c); i++) {
						char hex[3];
						snprintf(hex, sizeof hex, "%02x", b[i]);
						put(&buf, &len, &cap, hex, 2);
					}
				} else if (sqlite3_column_type(r, c) != SQLITE_NULL) {
					put(&buf, &len, &cap, sqlite3_column_text(r, c),
					    (size_t)sqlite3_column_bytes(r, c));
				}
				put(&buf, &len, &cap, "|", 1);
			}
			put(&buf, &len, &cap, "\n", 1);
		}
		sqlite3_finalize(r);
	}
	sqlite3_finalize(t);
	sqlite3_close(db);
	return buf;
}

static void copy_file(const char *from, const char *to)
{
	char *data;
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	cr_assert(in && out);
	cr_assert_eq(fseek(in, 0, SEEK_END), 0);
	long n = ftell(in);
	rewind(in);
	data = malloc((size_t)n);
	cr_assert_not_null(data);
	cr_assert_eq(fread(data, 1, (size_t)n, in), (size_t)n);
	cr_assert_eq(fwrite(data, 1, (size_t)n, out), (size_t)n);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
	free(data);
}

/* ---- the loops ---------------------------------------------------------------------- */

/* An operation under test: the steps of the example before it, and what
 * it does on a handle opened on the store. What it writes (an export) is
 * kept in `output`. */
struct op {
	const char *name;
	int before;
	int (*run)(referral_store *st);
	int reads; /* writes nothing: the store is never copied */
};

static char *output;
static size_t output_len, output_cap;

static int keep_output(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	fault_pause();
	put(&output, &output_len, &output_cap, data, len);
	fault_resume();
	return 0;
}

/* Every export of the example's last state, in CSV or JSON. */
static int op_export(referral_store *st)
{
	static const char *const tables[] = {"statements", "lines", "grades", "members", "payouts"};
	output_len = 0;
	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
		int rc = referral_export(st, tables[i], NULL, i % 2 ? "json" : "csv", keep_output, NULL);
		if (rc)
			return rc;
	}
	return 0;
}

static int op_ingest(referral_store *st) { return ingest(st, BASIC "batch1.jsonl", jansson_line); }
static int op_settle(referral_store *st) { return referral_settle(st, "2026-01"); }
static int op_close(referral_store *st) { return referral_close(st, "2026-02"); }
static int op_plan(referral_store *st) { return referral_plan_add(st, plan_json, "2026-02"); }
static int op_verify(referral_store *st) { return referral_verify(st); }

/* The path of the store under test, for an operation that opens it. */
static const char *store_path;

/* Opening the store (a second handle) and closing it. */
static int op_open(referral_store *st)
{
	(void)st;
	referral_store *other = NULL;
	int rc = referral_store_open(&other, store_path);
	if (rc) { /* the message, on the handle the loop reads */
		fault_pause();
		st_fail(st, rc, "%s", referral_errmsg(other));
		fault_resume();
	}
	referral_store_free(other);
	return rc;
}
static int op_member(referral_store *st)
{
	referral_member_info info;
	output_len = 0;
	int rc = referral_member_get(st, "m1", &info);
	if (!rc) {
		fault_pause();
		const char *const parts[] = {info.member, info.lifetime, info.balance, info.tier,
					     info.sharer, info.effective_tier};
		for (int i = 0; i < 6; i++) {
			put(&output, &output_len, &output_cap, parts[i] ? parts[i] : "-",
			    strlen(parts[i] ? parts[i] : "-"));
			put(&output, &output_len, &output_cap, "|", 1);
		}
		fault_resume();
	}
	return rc;
}

static const struct op ops[] = {
	{"ingest", INGEST1, op_ingest, 0},
	{"settle", SETTLE1, op_settle, 0},
	{"close", CLOSE2, op_close, 0},
	{"plan add", INGEST2, op_plan, 0},
	{"verify", NSTEPS, op_verify, 1},
	{"export", NSTEPS, op_export, 1},
	{"member", NSTEPS, op_member, 1},
	{"open", NSTEPS, op_open, 1},
};

static referral_store *open_store(const char *path)
{
	referral_store *st = NULL;
	int rc = referral_store_open(&st, path);
	cr_assert_eq(rc, REFERRAL_OK, "open: %s", referral_errmsg(st));
	return st;
}

static void verify_fresh(const char *path, const char *what)
{
	referral_store *st = open_store(path);
	cr_assert_eq(referral_verify(st), REFERRAL_OK, "%s: verify: %s", what, referral_errmsg(st));
	referral_store_free(st);
}

/* Where the loops keep their stores: a fresh folder in /dev/shm when there
 * is one, where a commit's fsync costs nothing, else test_tmpdir(). */
static const char *scratch_dir(void)
{
	static char dir[300];
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/dev/shm/referral-faults-XXXXXX");
		if (!mkdtemp(dir))
			snprintf(dir, sizeof dir, "%s", test_tmpdir());
	}
	return dir;
}

/* Runs the loop of `kind` over operation `op`; returns the failure points
 * covered. */
static long loop(const struct op *op, enum fault_kind kind)
{
	char tpl[600], work[600], side[640];
	const char *dir = scratch_dir();
	snprintf(tpl, sizeof tpl, "%s/template.db", dir);
	snprintf(work, sizeof work, "%s/work.db", dir);
	make_store(tpl, op->before);
	char *before = contents(tpl);

	/* what a run without failures leaves */
	copy_file(tpl, work);
	referral_store *st = open_store(work);
	output_len = 0;
	store_path = work;
	cr_assert_eq(op->run(st), REFERRAL_OK, "%s: %s", op->name, referral_errmsg(st));
	referral_store_free(st);
	char *after = contents(work);
	char *want = strdup(output ? output : "");
	cr_assert_not_null(want);
	/* a store whose every table equals one of these two passes verify */
	verify_fresh(tpl, op->name);
	verify_fresh(work, op->name);

	/* under the sanitizers and valgrind every stride-th point is failed */
	const char *env = getenv("REFERRAL_FAULTS_STRIDE");
	long stride = env && atol(env) > 0 ? atol(env) : 1, n, covered = 0;
	/* an operation that only reads keeps its handle through its allocation
	 * loop, and the template is checked to be unchanged at the end */
	referral_store *kept = NULL;
	for (n = 1;; n += stride, covered++) {
		store_path = op->reads ? tpl : work;
		if (op->reads) {
			st = kept ? kept : open_store(tpl);
			if (kind == FAULT_ALLOC)
				kept = st;
		} else {
			copy_file(tpl, work);
			snprintf(side, sizeof side, "%s-wal", work);
			unlink(side);
			snprintf(side, sizeof side, "%s-shm", work);
			unlink(side);
			st = open_store(work);
		}
		if (kind == FAULT_BUSY) /* a lock refused is not waited for */
			sqlite3_busy_timeout(((struct sqlite_engine *)st->eng)->db, 0);
		if (getenv("REFERRAL_FAULTS_TRACE"))
			fprintf(stderr, "%s: kind %d, failure %ld\n", op->name, (int)kind, n);
		output_len = 0;
		fault_arm(kind, n);
		int rc = op->run(st);
		int hit = fault_disarm();
		if (!rc)
			cr_assert_str_eq(output ? output : "", want, "%s, failure %ld: wrong output",
					 op->name, n);
		if (!hit) {
			cr_assert_eq(rc, REFERRAL_OK, "%s, %ld: %s", op->name, n, referral_errmsg(st));
			if (st != kept)
				referral_store_free(st);
			break;
		}
		const char *msg = referral_errmsg(st);
		if (rc) {
			cr_assert_neq(msg[0], '\0', "%s, failure %ld: no message", op->name, n);
			if (kind == FAULT_BUSY) {
				cr_assert_eq(rc, REFERRAL_ESTATE, "%s, busy lock %ld: %d %s", op->name, n,
					     rc, msg);
				cr_assert(strstr(msg, "another process is writing to it; try again"),
					  "%s, busy lock %ld: %s", op->name, n, msg);
			} else {
				cr_assert_eq(rc, REFERRAL_EIO, "%s, failure %ld: status %d: %s",
					     op->name, n, rc, msg);
			}
			if (!op->reads) {
				char *now = contents(work);
				cr_assert_str_eq(now, before, "%s, failure %ld (%s): the store changed",
						 op->name, n, msg);
				free(now);
			}
			/* the handle recovered: the same call now works */
			if (kind == FAULT_BUSY)
				sqlite3_busy_timeout(((struct sqlite_engine *)st->eng)->db, 5000);
			int again = op->run(st);
			cr_assert_eq(again, REFERRAL_OK, "%s, after failure %ld (%s): %s", op->name, n,
				     msg, referral_errmsg(st));
			cr_assert_str_eq(output ? output : "", want, "%s, after failure %ld: wrong output",
					 op->name, n);
		}
		if (st != kept)
			referral_store_free(st);
		if (op->reads)
			continue;
		char *now = contents(work);
		cr_assert_str_eq(now, after, "%s, failure %ld: not what a run without failures leaves",
				 op->name, n);
		free(now);
	}
	referral_store_free(kept);
	if (op->reads) {
		char *now = contents(tpl);
		cr_assert_str_eq(now, before, "%s: the store changed", op->name);
		free(now);
	}
	free(before);
	free(after);
	free(want);
	unlink(tpl);
	unlink(work);
	return covered;
}

/* With REFERRAL_FAULTS_TRACE set, a crash prints where it happened. */
static void on_crash(int sig)
{
	void *frames[64];
	int n = backtrace(frames, 64);
	backtrace_symbols_fd(frames, n, 2);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void setup(void)
{
	if (getenv("REFERRAL_FAULTS_TRACE")) {
		signal(SIGSEGV, on_crash);
		signal(SIGABRT, on_crash);
	}
	fault_install();
	stream_use_thread = 0;
	plan_json = test_read_file(BASIC "plan.json");
	cr_assert_not_null(plan_json);
}

static void teardown(void)
{
	free(plan_json);
	if (strcmp(scratch_dir(), test_tmpdir()))
		rmdir(scratch_dir());
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 600);

/* v with a comma between thousands: 1,234. */
static const char *grouped(char *buf, long v)
{
	char digits[24];
	int n = snprintf(digits, sizeof digits, "%ld", v), k = 0;
	for (int j = 0; j < n; j++) {
		if (j && (n - j) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = digits[j];
	}
	buf[k] = '\0';
	return buf;
}

static void report(const struct op *op)
{
	TEST_SQLITE_ONLY("SQLite's allocator, VFS and locks fail here (test_pg_faults.c: a lost"
			 " connection)");
	long alloc = loop(op, FAULT_ALLOC);
	long io = loop(op, FAULT_IO);
	long busy = loop(op, FAULT_BUSY);
	char a[32], i[32], b[32];
	fprintf(stderr, "%s: %s allocation failure points, %s I/O failure points, %s busy locks,"
			" all recovered\n", op->name, grouped(a, alloc), grouped(i, io), grouped(b, busy));
	cr_assert_gt(alloc, 0);
	cr_assert_gt(io, 0);
}

Test(faults, ingest) { report(&ops[0]); }
Test(faults, settle) { report(&ops[1]); }
Test(faults, close) { report(&ops[2]); }
Test(faults, plan) { report(&ops[3]); }
Test(faults, verify) { report(&ops[4]); }
Test(faults, export) { report(&ops[5]); }
Test(faults, member) { report(&ops[6]); }
Test(faults, open) { report(&ops[7]); }

/* A disk that fills up while a batch, a close or a plan is written: the
 * message names the store, and nothing of the call is stored. */
Test(faults, a_full_disk_names_the_store)
{
	TEST_SQLITE_ONLY("a full disk under a SQLite file");
	char path[600], want[700];
	snprintf(path, sizeof path, "%s/full.db", scratch_dir());
	make_store(path, CLOSE2);
	char *before = contents(path);
	referral_store *st = open_store(path);
	snprintf(want, sizeof want, "store \"%s\": ", path);
	const struct op *writes[] = {&ops[0], &ops[2], &ops[3]};
	for (int i = 0; i < 3; i++) {
		fault_arm(FAULT_FULL, 1);
		int rc = writes[i]->run(st);
		cr_assert(fault_disarm(), "%s wrote nothing", writes[i]->name);
		cr_assert_eq(rc, REFERRAL_EIO, "%s: %s", writes[i]->name, referral_errmsg(st));
		cr_assert(!strncmp(referral_errmsg(st), want, strlen(want)) &&
				  strstr(referral_errmsg(st), "database or disk is full"),
			  "%s: %s", writes[i]->name, referral_errmsg(st));
	}
	referral_store_free(st);
	char *now = contents(path);
	cr_assert_str_eq(now, before);
	free(now);
	free(before);
	unlink(path);
}
