/*
 * sqlite.c — the SQLite engine: a store in one file, the embedded default.
 * The handle, its schema and migrations, transactions, plans and periods,
 * and the table of operations; the rest is in the files sqlite.h lists.
 *
 * The file is opened in WAL mode with synchronous=FULL, every statement is
 * prepared, and PRAGMA user_version holds the schema version: opening
 * migrates an older store step by step and refuses a newer one. Writers
 * take the database's write lock for their whole transaction (BEGIN
 * IMMEDIATE), so a batch, a settle and a close exclude one another; readers
 * see the snapshot of their transaction and never wait.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "sqlite.h"
#include "timeutil.h"

#define SCHEMA_VERSION 5

/* ---- errors and small helpers ------------------------------------------------ */

/* The directory of `path` into buf: "." when it names none. */
static void dir_of(const char *path, char *buf, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(buf, cap, ".");
	else if (slash == path)
		snprintf(buf, cap, "/");
	else
		snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

/* Why the file at `path` (existing or to be made) cannot be written, into
 * buf: its filesystem is mounted read-only, its directory or the file
 * itself is read-only. 0 when none of these is so. */
static int readonly_cause(const char *path, char *buf, size_t cap)
{
	char dir[4096];
	struct statvfs vfs;
	dir_of(path, dir, sizeof dir);
	if (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
		snprintf(buf, cap, "the filesystem of the directory \"%s\" is mounted read-only", dir);
	else if (access(dir, W_OK) != 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
		snprintf(buf, cap, "the directory \"%s\" is read-only", dir);
	else if (access(path, W_OK) != 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
		snprintf(buf, cap, "the file is read-only");
	else
		return 0;
	return 1;
}

int sq_fail_code(struct sqlite_engine *q, int code, const char *what, const char *text)
{
	char cause[4200];
	if (code == SQLITE_NOMEM)
		return st_nomem(q->base.st);
	if (code == SQLITE_BUSY)
		return st_fail(q->base.st, REFERRAL_ESTATE,
			       "store \"%s\": another process is writing to it; try again", q->path);
	if ((code == SQLITE_READONLY || (code == SQLITE_CANTOPEN && q->writing)) &&
	    readonly_cause(q->path, cause, sizeof cause))
		return st_fail(q->base.st, REFERRAL_EIO, "store \"%s\": cannot write: %s", q->path,
			       cause);
	if (code == SQLITE_READONLY && q->immutable)
		return st_fail(q->base.st, REFERRAL_EIO,
			       "store \"%s\": cannot write: it could only be opened read-only", q->path);
	if (code == SQLITE_FULL)
		return st_fail(q->base.st, REFERRAL_EIO, "store \"%s\": %s: %s", q->path, what, text);
	return st_fail(q->base.st, REFERRAL_EIO, "storage: %s: %s", what, text);
}

int sq_fail(struct sqlite_engine *q, const char *what)
{
	return sq_fail_code(q, sqlite3_errcode(q->db), what, sqlite3_errmsg(q->db));
}

int sq_exec(struct sqlite_engine *q, const char *sql)
{
	if (sqlite3_exec(q->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(q, "executing");
	return 0;
}

int sq_prepare(struct sqlite_engine *q, const char *sql, sqlite3_stmt **out)
{
	if (sqlite3_prepare_v2(q->db, sql, -1, out, NULL) != SQLITE_OK) {
		*out = NULL;
		return sq_fail(q, "preparing a statement");
	}
	return 0;
}

int sq_run(struct sqlite_engine *q, const char *sql, int64_t a, int64_t b, const char *what)
{
	sqlite3_stmt *s;
	int rc = sq_prepare(q, sql, &s);
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, a);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, b);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = sq_fail(q, what);
	sqlite3_finalize(s);
	return rc;
}

/* ---- schema ------------------------------------------------------------------- */

static const char schema_v1[] =
	"CREATE TABLE plans(version INTEGER PRIMARY KEY, effective INTEGER NOT NULL,"
	" body TEXT NOT NULL);"
	"CREATE TABLE closes(period INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL);"
	"CREATE TABLE drafts(period INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL);"
	"CREATE TABLE events(seq INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
	" id TEXT NOT NULL, at INTEGER NOT NULL, booked INTEGER NOT NULL,"
	" ref1 INTEGER, ref2 INTEGER, num TEXT, txt1 TEXT, txt2 TEXT,"
	" UNIQUE(type, id));"
	"CREATE INDEX events_by_ref ON events(ref1, type);"
	"CREATE INDEX events_by_ref2 ON events(ref2, type) WHERE ref2 IS NOT NULL;"
	"CREATE INDEX events_by_booking ON events(booked, at);"
	/* covers the scan of the network at every settlement */
	"CREATE INDEX events_network ON events(type, seq, at, booked, ref1, ref2, num)"
	" WHERE type BETWEEN 2 AND 7;"
	"CREATE TRIGGER events_append_only_u BEFORE UPDATE ON events"
	" BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;"
	"CREATE TRIGGER events_append_only_d BEFORE DELETE ON events"
	" BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;"
	"CREATE TRIGGER closes_final_u BEFORE UPDATE ON closes"
	" BEGIN SELECT RAISE(ABORT, 'closed periods are immutable'); END;"
	"CREATE TRIGGER closes_final_d BEFORE DELETE ON closes"
	" BEGIN SELECT RAISE(ABORT, 'closed periods are immutable'); END;"
	"CREATE TABLE statements("
	" period INTEGER NOT NULL, dist INTEGER NOT NULL, store INTEGER NOT NULL,"
	" grade INTEGER NOT NULL, opening_carry TEXT NOT NULL, commission TEXT NOT NULL,"
	" bounty TEXT NOT NULL, override TEXT NOT NULL, accrued TEXT NOT NULL,"
	" total TEXT NOT NULL, payable TEXT NOT NULL, closing_carry TEXT NOT NULL,"
	" members INTEGER NOT NULL, sales TEXT NOT NULL, shares INTEGER NOT NULL,"
	" PRIMARY KEY(period, dist)) WITHOUT ROWID;"
	"CREATE TABLE grades("
	" period INTEGER NOT NULL, dist INTEGER NOT NULL, grade INTEGER NOT NULL,"
	" members INTEGER NOT NULL, sales TEXT NOT NULL, shares INTEGER NOT NULL,"
	" store_rating TEXT NOT NULL, next_grade INTEGER NOT NULL,"
	" PRIMARY KEY(period, dist)) WITHOUT ROWID;"
	"CREATE TABLE snapshots(period INTEGER PRIMARY KEY, data BLOB NOT NULL);";

/* Frozen-period triggers for one table of what settlement derives. */
static const char freeze_ddl[] =
	"CREATE TRIGGER %1$s_frozen_i BEFORE INSERT ON %1$s"
	" WHEN EXISTS(SELECT 1 FROM closes WHERE period = NEW.period)"
	" BEGIN SELECT RAISE(ABORT, 'closed periods are immutable'); END;"
	"CREATE TRIGGER %1$s_frozen_u BEFORE UPDATE ON %1$s"
	" WHEN EXISTS(SELECT 1 FROM closes WHERE period = OLD.period)"
	" BEGIN SELECT RAISE(ABORT, 'closed periods are immutable'); END;"
	"CREATE TRIGGER %1$s_frozen_d BEFORE DELETE ON %1$s"
	" WHEN EXISTS(SELECT 1 FROM closes WHERE period = OLD.period)"
	" BEGIN SELECT RAISE(ABORT, 'closed periods are immutable'); END;";

/* Version 2: the network cache, not frozen (rules/network.c). */
static const char schema_v2[] =
	"CREATE TABLE IF NOT EXISTS networks("
	" period INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, data BLOB NOT NULL);";

/* Version 3 (spec v2): statements gain what of the period's earnings is
 * released and what is held; a store of spec v1 held nothing, so its
 * frozen statements released what they accrued. What is held at the end
 * of each period is kept as a blob, frozen like the snapshot; the periods
 * of a v1 store held nothing (an empty blob). */
static const char schema_v3[] =
	"ALTER TABLE statements ADD COLUMN released TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE statements ADD COLUMN held TEXT NOT NULL DEFAULT '';"
	"DROP TRIGGER statements_frozen_u;"
	"UPDATE statements SET released = accrued, held = '0.00';"
	"CREATE TABLE holds(period INTEGER PRIMARY KEY, data BLOB NOT NULL);"
	"INSERT INTO holds(period, data) SELECT period, x'' FROM snapshots;"
	/* the stream of a period reads its orders, refunds and shares from an
	 * index that holds all it needs, in (at, seq) order: never the table,
	 * which it would read at random when the month's events did not
	 * arrive in time order */
	"DROP INDEX events_by_booking;"
	"CREATE INDEX events_stream ON events(booked, at, seq, type, ref1, num, txt1)"
	" WHERE type IN (9, 10, 11);";

/* Version 4: the stream's index over orders, refunds and shares says
 * BETWEEN rather than IN: SQLite evaluates a partial index's condition at
 * every insert, and an IN list makes each one build and drop a temporary
 * table of its values (a fifth of the time of an ingest). The index holds
 * the same rows; queries repeat its condition as the planner requires. */
static const char schema_v4[] =
	"DROP INDEX events_stream;"
	"CREATE INDEX events_stream ON events(booked, at, seq, type, ref1, num, txt1)"
	" WHERE " STREAM_COND ";";

/* Version 5: the (ref1, type) index leaves out the orders and shares.
 * Orders are filed under their member, whose seq is random, so each one
 * went to another leaf of a large index: about half the time of an ingest.
 * Only a redeem's check reads orders and member shares by member; it reads
 * them from member_events, which it brings up to date itself
 * (sqlite_points.c), starting empty here. */
static const char schema_v5[] =
	"DROP INDEX events_by_ref;"
	"CREATE INDEX events_by_ref ON events(ref1, type) WHERE " BY_REF("") ";"
	"CREATE TABLE member_events(member INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" PRIMARY KEY(member, seq)) WITHOUT ROWID;"
	"CREATE TABLE member_events_mark(last_seq INTEGER NOT NULL);"
	"INSERT INTO member_events_mark(last_seq) VALUES(0);";

/* The trigger version 3 dropped to migrate the statements, as it was. */
static const char statements_frozen_u[] =
	"CREATE TRIGGER statements_frozen_u BEFORE UPDATE ON statements"
	" WHEN EXISTS(SELECT 1 FROM closes WHERE period = OLD.period)"
	" BEGIN SELECT RAISE(ABORT, 'closed periods are immutable'); END;";

static const char *const stmt_sql[SQ_COUNT] = {
	[SQ_FIND] = "SELECT seq, at, booked, ref1, ref2, num, txt1, txt2, type, id FROM events"
		    " WHERE type = ?1 AND id = ?2",
	[SQ_GET] = "SELECT seq, at, booked, ref1, ref2, num, txt1, txt2, type, id FROM events"
		   " WHERE seq = ?1",
	[SQ_INSERT] = "INSERT INTO events(seq, type, id, at, booked, ref1, ref2, num, txt1, txt2)"
		      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[SQ_BY_REF] = "SELECT seq, at, booked, ref2, num, txt1 FROM events"
		      " WHERE ref1 = ?1 AND type = ?2 AND " BY_REF("") " ORDER BY at, seq",
	[SQ_BINDINGS] = "SELECT at, num, ref2 FROM events WHERE seq = ?1 AND ref2 IS NOT NULL"
			" UNION ALL SELECT at, num, ref2 FROM events WHERE ref1 = ?1 AND type = 7"
			" AND " BY_REF(""),
	[SQ_LAST_BINDING] = "SELECT max(at) FROM events WHERE ref2 = ?1 AND type IN (6, 7)",
	[SQ_ROLLBACK] = "ROLLBACK",
};

/* The frozen-period triggers of one table. */
static int freeze(struct sqlite_engine *q, const char *table)
{
	struct strbuf sql = {0};
	if (sb_printf(&sql, freeze_ddl, table))
		return st_nomem(q->base.st);
	int rc = sq_exec(q, sb_str(&sql));
	sb_free(&sql);
	return rc;
}

/* PRAGMA user_version. */
static int user_version(struct sqlite_engine *q, int *out)
{
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "PRAGMA user_version", &s);
	if (rc)
		return rc;
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		return sq_fail(q, "reading the schema version");
	}
	*out = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return 0;
}

/* Schema version 1 from nothing, then a step per later version:
 *   2  the network cache (table networks)
 *   3  released and held on statements, the holds (spec v2)
 *   4  the stream's index without an IN list in its condition
 *   5  the (ref1, type) index without orders and shares; member_events */
static int migrate(struct sqlite_engine *q, int from)
{
	int rc = 0;
	if (from < 1 && ((rc = sq_exec(q, schema_v1)) || (rc = freeze(q, "statements")) ||
			 (rc = freeze(q, "grades")) || (rc = freeze(q, "snapshots"))))
		return rc;
	if (from < 2 && (rc = sq_exec(q, schema_v2)))
		return rc;
	if (from < 3 && ((rc = sq_exec(q, schema_v3)) || (rc = freeze(q, "holds")) ||
			 (rc = sq_exec(q, statements_frozen_u))))
		return rc;
	if (from < 4 && (rc = sq_exec(q, schema_v4)))
		return rc;
	if (from < 5 && (rc = sq_exec(q, schema_v5)))
		return rc;
	char pragma[64];
	snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", SCHEMA_VERSION);
	return sq_exec(q, pragma);
}

static int prepare_all(struct sqlite_engine *q)
{
	for (int i = 0; i < SQ_COUNT; i++) {
		int rc = sq_prepare(q, stmt_sql[i], &q->q[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the store --------------------------------------------------------------- */

static int sq_begin(struct engine *e, enum tx_kind kind)
{
	/* writers take the write lock at once: a batch, a settle, a close and
	 * a plan never interleave; readers read their snapshot */
	struct sqlite_engine *q = sq(e);
	q->writing = kind != TX_READ && kind != TX_VERIFY;
	int rc = sq_exec(q, q->writing ? "BEGIN IMMEDIATE" : "BEGIN");
	if (rc)
		q->writing = 0;
	return rc;
}

static void sq_rollback(struct engine *e);

static int sq_commit(struct engine *e)
{
	struct sqlite_engine *q = sq(e);
	if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = sq_fail(q, "commit");
		sq_rollback(e);
		return rc;
	}
	q->writing = 0;
	return 0;
}

static void sq_rollback(struct engine *e)
{
	struct sqlite_engine *q = sq(e);
	/* the prepared statement: a rollback after memory ran out must not
	 * need memory itself, or the handle would stay in the transaction */
	if (q->db && !sqlite3_get_autocommit(q->db) && q->q[SQ_ROLLBACK]) {
		sqlite3_step(q->q[SQ_ROLLBACK]);
		sqlite3_reset(q->q[SQ_ROLLBACK]);
	}
	if (q->db && !sqlite3_get_autocommit(q->db))
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	q->writing = 0;
}

static int insert_plan(struct sqlite_engine *q, int effective, const char *body)
{
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "INSERT INTO plans(effective, body) VALUES(?1, ?2)", &s);
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, effective);
	sqlite3_bind_text(s, 2, body, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = sq_fail(q, "storing the plan");
	sqlite3_finalize(s);
	return rc;
}

/* ---- opening: what the file is, before anything is written to it ------------- */

static void connection_setup(struct sqlite_engine *q)
{
	sqlite3_extended_result_codes(q->db, 0);
	sqlite3_busy_timeout(q->db, 5000);
}

/* What the file holds, read without writing to it: its schema version, the
 * objects of its schema, and how many of the tables plans and events are
 * among them. Returns the SQLite code of the reading. */
static int inspect(struct sqlite_engine *q, int *version, int *objects, int *ours)
{
	sqlite3_stmt *s = NULL;
	int code = sqlite3_prepare_v2(q->db,
				      "SELECT (SELECT user_version FROM pragma_user_version), count(*),"
				      " coalesce(sum(type = 'table' AND name IN ('plans', 'events')), 0)"
				      " FROM sqlite_schema", -1, &s, NULL);
	if (code == SQLITE_OK && (code = sqlite3_step(s)) == SQLITE_ROW) {
		*version = sqlite3_column_int(s, 0);
		*objects = sqlite3_column_int(s, 1);
		*ours = sqlite3_column_int(s, 2);
		code = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return code;
}

/* The settings of a connection once its file could be read, none of which
 * writes to it. */
static int tune(struct sqlite_engine *q)
{
	if (sqlite3_exec(q->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
				" PRAGMA cache_size=-262144; PRAGMA temp_store=FILE;"
				" PRAGMA mmap_size=17179869184",
			 NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(q, "setting up the connection");
	return 0;
}

/* A WAL store whose -shm cannot be made (its directory or its mount is
 * read-only) cannot be read by SQLite the usual way. When the store has no
 * write-ahead log to replay, the main file holds every commit and nothing
 * can be writing to it (a writer would need that log), so it is opened
 * again as immutable, read-only. Returns the SQLite code of the reopening
 * (SQLITE_CANTOPEN when there is a log to replay). */
static int reopen_immutable(struct sqlite_engine *q)
{
	struct strbuf uri = {0};
	struct stat sb;
	if (sb_printf(&uri, "%s-wal", q->path))
		return SQLITE_NOMEM;
	if (stat(sb_str(&uri), &sb) == 0 && sb.st_size > 0) {
		sb_free(&uri);
		return SQLITE_CANTOPEN;
	}
	sb_reset(&uri);
	/* file:///abs/path, file:rel/path; %, ? and # escaped */
	int bad = sb_puts(&uri, q->path[0] == '/' ? "file://" : "file:");
	for (const char *p = q->path; *p && !bad; p++)
		bad = strchr("%?#", *p) ? sb_printf(&uri, "%%%02X", (unsigned char)*p) : sb_putc(&uri, *p);
	if (bad || sb_puts(&uri, "?immutable=1")) {
		sb_free(&uri);
		return SQLITE_NOMEM;
	}
	sqlite3_close(q->db);
	q->db = NULL;
	int code = sqlite3_open_v2(sb_str(&uri), &q->db,
				   SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	sb_free(&uri);
	if (code == SQLITE_OK) {
		q->immutable = 1;
		connection_setup(q);
	}
	return !q->db ? SQLITE_NOMEM : code;
}

/* The message of a file that could not be inspected (SQLite's `code`). */
static int inspect_failed(struct sqlite_engine *q, int code)
{
	char cause[4200];
	if (code == SQLITE_NOMEM)
		return st_nomem(q->base.st);
	if (code == SQLITE_NOTADB)
		return st_fail(q->base.st, REFERRAL_EIO, "store \"%s\": not a libreferral store", q->path);
	if (code == SQLITE_BUSY)
		return sq_fail(q, "opening");
	if ((code == SQLITE_CANTOPEN || code == SQLITE_READONLY) &&
	    readonly_cause(q->path, cause, sizeof cause))
		return st_fail(q->base.st, REFERRAL_EIO,
			       "store \"%s\": cannot read: %s, and its write-ahead log %s-wal must be"
			       " replayed first", q->path, cause, q->path);
	return st_fail(q->base.st, REFERRAL_EIO, "store \"%s\": cannot read: %s", q->path,
		       q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(code));
}

/* Inspects the file, opening it again immutable when it cannot be read
 * otherwise (reopen_immutable). */
static int inspect_readable(struct sqlite_engine *q, int *version, int *objects, int *ours)
{
	int code = inspect(q, version, objects, ours);
	if ((code == SQLITE_CANTOPEN || code == SQLITE_READONLY) && !q->immutable) {
		int again = reopen_immutable(q);
		code = again == SQLITE_OK ? inspect(q, version, objects, ours) : code;
		if (again == SQLITE_NOMEM)
			code = again;
	}
	return code == SQLITE_OK ? 0 : inspect_failed(q, code);
}

/* Turns the store to WAL mode once the file is known to be one to write;
 * nothing to do for a store that is already (every store init made). A
 * store that cannot be written is read as it is; a write says why. */
static int use_wal(struct sqlite_engine *q)
{
	if (q->immutable || sqlite3_db_readonly(q->db, "main") == 1)
		return 0;
	if (sqlite3_exec(q->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	int code = sqlite3_errcode(q->db);
	if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN)
		return 0;
	return sq_fail(q, "turning on the write-ahead log");
}

static int sq_create(struct engine *e, const char *plan_json, int start_period)
{
	struct sqlite_engine *q = sq(e);
	int rc, version = 0, objects = 0, ours = 0, code;
	sqlite3_stmt *s;

	/* refused before anything is written: a file of other data stays as it was */
	if ((code = inspect(q, &version, &objects, &ours)) == SQLITE_NOTADB)
		return st_fail(e->st, REFERRAL_EIO, "store \"%s\": not a usable SQLite file: %s", q->path,
			       sqlite3_errmsg(q->db));
	if (code != SQLITE_OK)
		return inspect_failed(q, code);
	if (version != 0)
		return st_fail(e->st, REFERRAL_ESTATE, "store \"%s\": already initialised", q->path);
	if (objects != 0)
		return st_fail(e->st, REFERRAL_ESTATE, "store \"%s\": the file already holds other data",
			       q->path);
	if ((rc = tune(q)) || (rc = use_wal(q)) || (rc = sq_begin(e, TX_PLAN)))
		return rc;
	/* again under the write lock: another init may have come first */
	if ((rc = user_version(q, &version)))
		goto fail;
	if (version != 0) {
		rc = st_fail(e->st, REFERRAL_ESTATE, "store \"%s\": already initialised", q->path);
		goto fail;
	}
	if ((rc = sq_prepare(q, "SELECT count(*) FROM sqlite_schema", &s)))
		goto fail;
	int tables = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_finalize(s);
	if (tables != 0) {
		rc = tables < 0 ? sq_fail(q, "reading the schema")
				: st_fail(e->st, REFERRAL_ESTATE,
					  "store \"%s\": the file already holds other data", q->path);
		goto fail;
	}
	if ((rc = migrate(q, 0)) || (rc = insert_plan(q, start_period, plan_json)) ||
	    (rc = sq_commit(e)))
		goto fail;
	return prepare_all(q);
fail:
	sq_rollback(e);
	return rc;
}

static int sq_open(struct engine *e)
{
	struct sqlite_engine *q = sq(e);
	int rc, version = 0, objects = 0, ours = 0;
	/* what the file is, before anything is written to it */
	if ((rc = inspect_readable(q, &version, &objects, &ours)))
		return rc;
	if (version == 0 && objects == 0)
		return st_fail(e->st, REFERRAL_EIO, "store \"%s\": not initialised (run init)", q->path);
	if (version > SCHEMA_VERSION)
		return st_fail(e->st, REFERRAL_EIO,
			       "store \"%s\": schema version %d is newer than this library's %d",
			       q->path, version, SCHEMA_VERSION);
	if (version < 0)
		return st_fail(e->st, REFERRAL_EIO,
			       "store \"%s\": schema version %d is unknown (this library knows 1 to %d)",
			       q->path, version, SCHEMA_VERSION);
	if (version == 0 || ours != 2)
		return st_fail(e->st, REFERRAL_EIO, "store \"%s\": not a libreferral store", q->path);
	if ((rc = tune(q)) || (rc = use_wal(q)))
		return rc;
	/* Versions 4 and 5 only rebuilt indexes and added a cache that only
	 * ingest reads: a store of version 3 or 4 that cannot be written (a
	 * read-only file, directory or mount) is read as it is, as the library
	 * that made it read it, rather than refused for want of a migration. */
	if (version >= 3 && version < SCHEMA_VERSION &&
	    (q->immutable || sqlite3_db_readonly(q->db, "main") == 1)) {
		q->version = version;
		return prepare_all(q);
	}
	if (version < SCHEMA_VERSION) {
		if ((rc = sq_begin(e, TX_PLAN)))
			return rc;
		if ((rc = migrate(q, version)) || (rc = sq_commit(e))) {
			sq_rollback(e);
			return rc;
		}
	}
	return prepare_all(q);
}

static int sq_plans(struct engine *e, plan_cb cb, void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "SELECT effective, body FROM plans ORDER BY effective, version", &s);
	int step;
	if (rc)
		return rc;
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
		rc = cb(ctx, sqlite3_column_int(s, 0), (const char *)sqlite3_column_text(s, 1));
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading plans");
	sqlite3_finalize(s);
	return rc;
}

static int sq_plan_add(struct engine *e, int effective, const char *body)
{
	return insert_plan(sq(e), effective, body);
}

/* Every (period, last_seq) row of `sql`, in order. */
static int period_rows(struct sqlite_engine *q, const char *sql, period_seq_cb cb, void *ctx)
{
	sqlite3_stmt *s;
	int rc = sq_prepare(q, sql, &s), step;
	if (rc)
		return rc;
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
		rc = cb(ctx, sqlite3_column_int(s, 0), sqlite3_column_int64(s, 1));
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading periods");
	sqlite3_finalize(s);
	return rc;
}

static int sq_closes(struct engine *e, period_seq_cb cb, void *ctx)
{
	return period_rows(sq(e), "SELECT period, last_seq FROM closes ORDER BY period", cb, ctx);
}

static int sq_drafts(struct engine *e, period_seq_cb cb, void *ctx)
{
	return period_rows(sq(e), "SELECT period, last_seq FROM drafts ORDER BY period", cb, ctx);
}

static int sq_last_seq(struct engine *e, int64_t *out)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "SELECT coalesce(max(seq), 0) FROM events", &s);
	if (rc)
		return rc;
	if (sqlite3_step(s) == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else
		rc = sq_fail(q, "reading the log");
	sqlite3_finalize(s);
	return rc;
}

static int sq_clear_draft(struct engine *e, int period)
{
	static const char *const clear[] = {
		"DELETE FROM statements WHERE period = ?1",
		"DELETE FROM snapshots WHERE period = ?1",
		"DELETE FROM holds WHERE period = ?1",
		"DELETE FROM grades WHERE period = ?1",
		/* a draft's network cache; the settlement prunes older ones */
		"DELETE FROM networks WHERE period >= ?1",
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof clear / sizeof *clear && !rc; i++)
		rc = sq_run(sq(e), clear[i], period, 0, "clearing the draft");
	return rc;
}

static int sq_record_draft(struct engine *e, int period, int64_t last_seq)
{
	return sq_run(sq(e), "INSERT OR REPLACE INTO drafts(period, last_seq) VALUES(?1, ?2)",
		      period, last_seq, "recording the draft");
}

static int sq_record_close(struct engine *e, int period, int64_t last_seq)
{
	int rc = sq_run(sq(e), "DELETE FROM drafts WHERE period <= ?1", period, 0,
			"recording the close");
	return rc ? rc : sq_run(sq(e), "INSERT INTO closes(period, last_seq) VALUES(?1, ?2)",
				period, last_seq, "recording the close");
}

static void sq_free(struct engine *e)
{
	struct sqlite_engine *q = sq(e);
	if (!q)
		return;
	for (int i = 0; i < SQ_COUNT; i++)
		if (i != SQ_ROLLBACK) {
			sqlite3_finalize(q->q[i]);
			q->q[i] = NULL;
		}
	sq_rollback(e);
	sqlite3_finalize(q->q[SQ_ROLLBACK]);
	sqlite3_close(q->db);
	sb_free(&q->row_text);
	free(q->path);
	free(q);
}

static const struct engine_ops sqlite_ops = {
	.name = "sqlite",
	.free = sq_free,
	.create = sq_create,
	.open = sq_open,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.plans = sq_plans,
	.plan_add = sq_plan_add,
	.closes = sq_closes,
	.drafts = sq_drafts,
	.last_seq = sq_last_seq,
	.clear_draft = sq_clear_draft,
	.record_draft = sq_record_draft,
	.record_close = sq_record_close,
	.prefetch = NULL,
	.find = sq_find,
	.get = sq_get,
	.append = sq_append,
	.count_type = sq_count_type,
	.ids = sq_ids,
	.termination = sq_termination,
	.bindings = sq_bindings,
	.last_binding = sq_last_binding,
	.has_sharer = sq_has_sharer,
	.refunds = sq_refunds,
	.sharers = sq_sharers,
	.points_events = sq_points_events,
	.member_events_check = sq_member_events_check,
	.network_count = sq_network_count,
	.network_events = sq_network_events,
	.stream_open = sq_stream_open,
	.stream_next = sq_stream_next,
	.stream_close = sq_stream_close,
	.stream_count = sq_stream_count,
	.next_grades = sq_next_grades,
	.carries = sq_carries,
	.statements = sq_statements,
	.grades = sq_grades,
	.statement_figures = sq_statement_figures,
	.ratings = sq_ratings,
	.put_statements = sq_put_statements,
	.put_grades = sq_put_grades,
	.cache_find = sq_cache_find,
	.cache_prune = sq_cache_prune,
	.blob_open = sq_blob_open,
	.blob_put = sq_blob_put,
	.lines_reset = sq_lines_reset,
	.put_lines = sq_put_lines,
	.rows_open = sq_rows_open,
	.rows_next = sq_rows_next,
	.rows_close = sq_rows_close,
	.id_of = sq_id_of,
	.events = sq_events,
};

int sqlite_engine_new(referral_store *st, const char *path, int create, struct engine **out)
{
	struct sqlite_engine *q = calloc(1, sizeof *q);
	char cause[4200];
	*out = q ? &q->base : NULL;
	if (!q)
		return st_nomem(st);
	q->base.ops = &sqlite_ops;
	q->base.st = st;
	q->version = SCHEMA_VERSION;
	if (!(q->path = strdup(path)))
		return st_nomem(st);
	/* a handle is used by one thread at a time (referral.h): no mutexes */
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &q->db, flags, NULL) != SQLITE_OK) {
		if (!q->db || sqlite3_errcode(q->db) == SQLITE_NOMEM)
			return st_nomem(st);
		if (create && access(path, F_OK) != 0 && readonly_cause(path, cause, sizeof cause))
			return st_fail(st, REFERRAL_EIO, "store \"%s\": cannot create: %s", path, cause);
		return st_fail(st, REFERRAL_EIO, "store \"%s\": cannot open: %s", path,
			       sqlite3_errmsg(q->db));
	}
	/* nothing is written before the file is known to be a store (sq_open)
	 * or to be empty (sq_create): the write-ahead log is turned on then */
	connection_setup(q);
	return 0;
}
