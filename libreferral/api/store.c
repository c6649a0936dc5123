/*
 * store.c — the SQLite store: opening, schema and migrations, plans,
 * transactions, and the error state of the handle.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "decimal.h"
#include "timeutil.h"

#define SCHEMA_VERSION 2

const char *const ev_type_names[EV_TYPES + 1] = {
	"", "store", "store_rating", "distributor", "store_change", "terminate", "member",
	"bind", "share_benefits", "order", "refund", "share", "redeem"
};

const char *const line_type_names[7] = {
	"", "bounty", "bounty_reversal", "commission", "commission_reversal", "override",
	"override_reversal"
};

/* Tables derived by settlement; the same DDL serves the frozen tables in
 * `main` and the scratch copies of verify and the exports in `temp` (prefixes
 * v_ and x_). %s is the prefix. */
const char derived_ddl[] =
	"CREATE TABLE IF NOT EXISTS %sstatements("
	" period INTEGER NOT NULL, dist INTEGER NOT NULL, store INTEGER NOT NULL,"
	" grade INTEGER NOT NULL, opening_carry TEXT NOT NULL, commission TEXT NOT NULL,"
	" bounty TEXT NOT NULL, override TEXT NOT NULL, accrued TEXT NOT NULL,"
	" total TEXT NOT NULL, payable TEXT NOT NULL, closing_carry TEXT NOT NULL,"
	" members INTEGER NOT NULL, sales TEXT NOT NULL, shares INTEGER NOT NULL,"
	" PRIMARY KEY(period, dist)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS %sgrades("
	" period INTEGER NOT NULL, dist INTEGER NOT NULL, grade INTEGER NOT NULL,"
	" members INTEGER NOT NULL, sales TEXT NOT NULL, shares INTEGER NOT NULL,"
	" store_rating TEXT NOT NULL, next_grade INTEGER NOT NULL,"
	" PRIMARY KEY(period, dist)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS %ssnapshots("
	" period INTEGER PRIMARY KEY, data BLOB NOT NULL);"
	/* since schema version 2: a cache, not frozen (settle.c) */
	"CREATE TABLE IF NOT EXISTS %snetworks("
	" period INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, data BLOB NOT NULL);";

/* Lines, re-derived on demand: only ever in `temp`. */
static const char lines_ddl[] =
	"CREATE TABLE IF NOT EXISTS %slines("
	" period INTEGER NOT NULL, dist INTEGER NOT NULL, type INTEGER NOT NULL,"
	" event INTEGER NOT NULL, ord INTEGER NOT NULL, member INTEGER NOT NULL,"
	" source INTEGER, binding INTEGER NOT NULL, base TEXT, rate TEXT, value TEXT NOT NULL);";

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
	" BEGIN SELECT RAISE(ABORT, 'closed periods are immutable'); END;";

/* Frozen-period triggers for one derived table. */
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

static const char *const stmt_sql[Q_COUNT] = {
	[Q_FIND] = "SELECT seq, at, booked, ref1, ref2, num, txt1, txt2 FROM events"
		   " WHERE type = ?1 AND id = ?2",
	[Q_INSERT] = "INSERT INTO events(type, id, at, booked, ref1, ref2, num, txt1, txt2)"
		     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[Q_BY_REF] = "SELECT seq, at, booked, ref2, num, txt1 FROM events"
		     " WHERE ref1 = ?1 AND type = ?2 ORDER BY at, seq",
	[Q_BY_SEQ] = "SELECT type, id, at, booked, ref1, ref2, num, txt1 FROM events"
		     " WHERE seq = ?1",
};

int st_fail(referral_store *st, int status, const char *fmt, ...)
{
	va_list ap;
	sb_reset(&st->err);
	va_start(ap, fmt);
	sb_vprintf(&st->err, fmt, ap);
	va_end(ap);
	return status;
}

int st_sqlfail(referral_store *st, const char *what)
{
	if (sqlite3_errcode(st->db) == SQLITE_NOMEM)
		return st_nomem(st);
	return st_fail(st, REFERRAL_EIO, "storage: %s: %s", what, sqlite3_errmsg(st->db));
}

int st_nomem(referral_store *st)
{
	sb_reset(&st->err);
	if (sb_puts(&st->err, "out of memory"))
		sb_free(&st->err); /* referral_errmsg() then falls back to a static text */
	return REFERRAL_EIO;
}

int st_exec(referral_store *st, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return st_sqlfail(st, "executing");
	return 0;
}

int st_begin(referral_store *st) { return st_exec(st, "BEGIN IMMEDIATE"); }

int st_commit(referral_store *st)
{
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = st_sqlfail(st, "commit");
		st_rollback(st);
		return rc;
	}
	return 0;
}

void st_rollback(referral_store *st)
{
	if (st->db && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int st_prepare(referral_store *st, const char *sql, sqlite3_stmt **out)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK) {
		*out = NULL;
		return st_sqlfail(st, "preparing a statement");
	}
	return 0;
}

int st_period_arg(referral_store *st, const char *s, int *out)
{
	if (!s || period_parse(s, strlen(s), out))
		return st_fail(st, REFERRAL_EUSAGE, "period \"%s\": expected YYYY-MM, like \"2026-01\"",
			       s ? s : "(null)");
	return 0;
}

const plan *st_plan_for(const referral_store *st, int period)
{
	const plan *best = &st->plans[0].p;
	for (int i = 0; i < st->nplans; i++)
		if (st->plans[i].from <= period)
			best = &st->plans[i].p;
	return best;
}

int64_t binding_end(const referral_store *st, int64_t bound_at, int months, int64_t term)
{
	int offset = st->plans[0].p.utc_offset_min; /* the same in every version */
	int64_t end = ts_add_months(bound_at, months, offset);
	return term < end ? term : end;
}

static void free_plans(referral_store *st)
{
	for (int i = 0; i < st->nplans; i++)
		plan_clear(&st->plans[i].p);
	free(st->plans);
	st->plans = NULL;
	st->nplans = 0;
}

int st_load_state(referral_store *st)
{
	sqlite3_stmt *s;
	int rc, n = 0;
	char err[512];

	free_plans(st);
	if ((rc = st_prepare(st, "SELECT count(*) FROM plans", &s)))
		return rc;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (n == 0)
		return st_fail(st, REFERRAL_EIO, "storage: the store has no plan");
	st->plans = calloc((size_t)n, sizeof *st->plans);
	if (!st->plans)
		return st_nomem(st);
	if ((rc = st_prepare(st, "SELECT effective, body FROM plans ORDER BY effective, version", &s)))
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && st->nplans < n) {
		struct plan_version *v = &st->plans[st->nplans];
		v->from = sqlite3_column_int(s, 0);
		if (plan_parse_stored(&v->p, (const char *)sqlite3_column_text(s, 1), err, sizeof err)) {
			sqlite3_finalize(s);
			return st_fail(st, REFERRAL_EIO, "storage: a stored plan is invalid: %s", err);
		}
		st->nplans++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return st_sqlfail(st, "reading plans");

	/* The earliest open period: the one after the last close. */
	if ((rc = st_prepare(st, "SELECT max(period) FROM closes", &s)))
		return rc;
	st->first_open = st->plans[0].p.start_period;
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		st->first_open = sqlite3_column_int(s, 0) + 1;
	sqlite3_finalize(s);
	return 0;
}

static int user_version(referral_store *st, int *out)
{
	sqlite3_stmt *s;
	int rc = st_prepare(st, "PRAGMA user_version", &s);
	if (rc)
		return rc;
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		return st_sqlfail(st, "reading the schema version");
	}
	*out = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return 0;
}

/* Runs the DDL of the derived tables for a prefix: "" for the frozen ones,
 * "temp.v_" or "temp.x_" for scratch copies, which also get a lines table. */
int st_create_derived(referral_store *st, const char *prefix)
{
	struct strbuf sql = {0};
	int rc;
	if (sb_printf(&sql, derived_ddl, prefix, prefix, prefix, prefix) ||
	    (strcmp(prefix, "") && strcmp(prefix, "main.") && sb_printf(&sql, lines_ddl, prefix)))
		return st_nomem(st);
	rc = st_exec(st, sb_str(&sql));
	sb_free(&sql);
	return rc;
}

/* Schema version 1 from nothing, then a step per later version:
 *   2  the network cache (table networks) */
static int migrate(referral_store *st, int from)
{
	int rc = 0;
	if (from < 1) {
		if ((rc = st_exec(st, schema_v1)) || (rc = st_create_derived(st, "")))
			return rc;
		static const char *const frozen[] = {"statements", "grades", "snapshots"};
		for (size_t i = 0; i < sizeof frozen / sizeof *frozen; i++) {
			struct strbuf sql = {0};
			if (sb_printf(&sql, freeze_ddl, frozen[i]))
				return st_nomem(st);
			rc = st_exec(st, sb_str(&sql));
			sb_free(&sql);
			if (rc)
				return rc;
		}
	}
	if (from < 2 && (rc = st_create_derived(st, "")))
		return rc;
	char pragma[64];
	snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", SCHEMA_VERSION);
	return st_exec(st, pragma);
}

static int prepare_all(referral_store *st)
{
	for (int i = 0; i < Q_COUNT; i++) {
		int rc = st_prepare(st, stmt_sql[i], &st->q[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* Opens the SQLite file with the settings every handle uses, into the
 * handle *out (allocated here unless the caller already did). */
static int open_db(referral_store **out, const char *path, int create)
{
	referral_store *st = *out ? *out : calloc(1, sizeof *st);
	*out = st;
	if (!st)
		return REFERRAL_EIO;
	if (!path)
		return st_fail(st, REFERRAL_EUSAGE, "no store path given");
	/* a handle is used by one thread at a time (referral.h): no mutexes */
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		if (!st->db)
			return st_nomem(st);
		return st_fail(st, REFERRAL_EIO, "store \"%s\": cannot open: %s", path,
			       sqlite3_errmsg(st->db));
	}
	sqlite3_extended_result_codes(st->db, 0);
	sqlite3_busy_timeout(st->db, 5000);
	int rc = st_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			     " PRAGMA foreign_keys=OFF; PRAGMA cache_size=-262144;"
			     " PRAGMA temp_store=FILE; PRAGMA mmap_size=17179869184");
	if (rc)
		return st_fail(st, REFERRAL_EIO, "store \"%s\": not a usable SQLite file: %s", path,
			       sqlite3_errmsg(st->db));
	return 0;
}

/* Stores a plan version (inside the caller's transaction). */
static int insert_plan(referral_store *st, int from, const char *plan_json)
{
	sqlite3_stmt *s;
	int rc = st_prepare(st, "INSERT INTO plans(effective, body) VALUES(?1, ?2)", &s);
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, from);
	sqlite3_bind_text(s, 2, plan_json, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = st_sqlfail(st, "storing the plan");
	sqlite3_finalize(s);
	return rc;
}

int referral_store_create(referral_store **out, const char *path, const char *plan_json)
{
	referral_store *st = *out = calloc(1, sizeof *st);
	int rc, version;
	char err[512];
	plan p;

	if (!st)
		return REFERRAL_EIO;
	/* the plan first: a bad plan must not leave a file behind */
	if (!plan_json)
		return st_fail(st, REFERRAL_EUSAGE, "no plan given");
	if (plan_parse(&p, plan_json, err, sizeof err))
		return st_fail(st, REFERRAL_EINPUT, "%s", err);
	int start = p.start_period;
	plan_clear(&p);
	if ((rc = open_db(out, path, 1)))
		return rc;
	if ((rc = st_begin(st)))
		return rc;
	if ((rc = user_version(st, &version)))
		goto fail;
	if (version != 0) {
		rc = st_fail(st, REFERRAL_ESTATE, "store \"%s\": already initialised", path);
		goto fail;
	}
	sqlite3_stmt *s;
	if ((rc = st_prepare(st, "SELECT count(*) FROM sqlite_schema", &s)))
		goto fail;
	int tables = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_finalize(s);
	if (tables != 0) {
		rc = st_fail(st, REFERRAL_ESTATE, "store \"%s\": the file already holds other data", path);
		goto fail;
	}
	if ((rc = migrate(st, 0)))
		goto fail;
	if ((rc = insert_plan(st, start, plan_json)))
		goto fail;
	if ((rc = st_commit(st)) || (rc = st_load_state(st)) || (rc = prepare_all(st)))
		return rc;
	sb_reset(&st->err);
	return 0;
fail:
	st_rollback(st);
	return rc;
}

int referral_store_open(referral_store **out, const char *path)
{
	referral_store *st;
	int rc, version;

	*out = NULL;
	rc = open_db(out, path, 0);

	if (!(st = *out) || rc)
		return st ? rc : REFERRAL_EIO;
	if ((rc = user_version(st, &version)))
		return st_fail(st, REFERRAL_EIO, "store \"%s\": not a libreferral store", path);
	if (version == 0)
		return st_fail(st, REFERRAL_EIO, "store \"%s\": not initialised (run init)", path);
	if (version > SCHEMA_VERSION)
		return st_fail(st, REFERRAL_EIO,
			       "store \"%s\": schema version %d is newer than this library's %d",
			       path, version, SCHEMA_VERSION);
	if (version < SCHEMA_VERSION) {
		if ((rc = st_begin(st)))
			return rc;
		if ((rc = migrate(st, version)) || (rc = st_commit(st))) {
			st_rollback(st);
			return rc;
		}
	}
	if ((rc = st_load_state(st)) || (rc = prepare_all(st)))
		return rc;
	return 0;
}

void referral_store_free(referral_store *st)
{
	if (!st)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	st_rollback(st);
	sqlite3_close(st->db);
	free_plans(st);
	sb_free(&st->err);
	sb_free(&st->member_buf);
	free(st);
}

const char *referral_errmsg(const referral_store *st)
{
	if (!st)
		return "out of memory";
	return sb_str(&st->err);
}

int referral_plan_add(referral_store *st, const char *plan_json, const char *from_period)
{
	int from, rc;
	char err[512];
	plan p;

	if (!st)
		return REFERRAL_EUSAGE;
	if ((rc = st_period_arg(st, from_period, &from)))
		return rc;
	if (!plan_json)
		return st_fail(st, REFERRAL_EUSAGE, "no plan given");
	if (plan_parse(&p, plan_json, err, sizeof err))
		return st_fail(st, REFERRAL_EINPUT, "%s", err);
	const plan *first = &st->plans[0].p;
	if (p.utc_offset_min != first->utc_offset_min || p.start_period != first->start_period) {
		plan_clear(&p);
		return st_fail(st, REFERRAL_EINPUT,
			       "plan: utc_offset and start_period must equal the first plan's");
	}
	plan_clear(&p);
	if (from < st->first_open) {
		char a[8], b[8];
		period_format(from, a);
		period_format(st->first_open, b);
		return st_fail(st, REFERRAL_ESTATE,
			       "period %s is closed: a plan can take effect from %s at the earliest",
			       a, b);
	}
	if ((rc = st_begin(st)))
		return rc;
	if ((rc = insert_plan(st, from, plan_json)))
		goto fail;
	if ((rc = st_commit(st)))
		return rc;
	return st_load_state(st);
fail:
	st_rollback(st);
	return rc;
}

int referral_set_progress(referral_store *st, referral_progress_fn fn, void *ctx)
{
	if (!st)
		return REFERRAL_EUSAGE;
	st->progress = fn;
	st->progress_ctx = ctx;
	return 0;
}

int referral_open_period(referral_store *st, char *buf, size_t cap)
{
	if (!st || !buf || cap < 8)
		return st ? st_fail(st, REFERRAL_EUSAGE, "buffer too small") : REFERRAL_EUSAGE;
	period_format(st->first_open, buf);
	return 0;
}
