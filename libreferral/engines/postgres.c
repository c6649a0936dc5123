/*
 * postgres.c — the PostgreSQL engine: a brand's store in a schema of its
 * own in a database any number of processes on any hosts share, reached
 * through libpq. The handle and the store's name, errors, the schema and
 * its version, transactions and locks, plans and periods, and the table of
 * operations; the rest is in the files postgres.h lists.
 *
 * The store's name is a libpq connection URI with one more query
 * parameter, brand=NAME ([a-z][a-z0-9_]*, up to 63; "main" when absent),
 * which is taken out before libpq reads the URI. The brand's schema is
 * named NAME; the connection's search_path is that schema alone.
 *
 * Transactions (docs/design.md, "PostgreSQL engine"): a batch (TX_APPEND)
 * runs at READ COMMITTED and takes the brand's append lock, a
 * transaction-scoped advisory lock, in append_lock(), before it checks its
 * first event: batches of one brand check and append one after the other,
 * each reading the last seq once it holds the lock, so seqs commit in
 * order. What a batch reads before (the ids of its caches) it tops up
 * once it holds the lock. A settle or a verify first takes the brand's
 * settle lock, a session-level advisory lock, waiting up to 5 seconds, and
 * then reads a REPEATABLE READ snapshot taken after it. A close takes the
 * settle lock and then the append lock, at READ COMMITTED: nothing appends
 * while it runs, and it sees every batch that committed before it. Adding
 * a plan takes the append lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postgres.h"

#define SCHEMA_VERSION 2
/* how long a settle, close or verify waits for another one of its brand */
#define SETTLE_WAIT_MS 5000
#define SETTLE_POLL_MS 100
#define BRAND_MAX 63

/* ---- small helpers ------------------------------------------------------------ */

long long pg_lock_key(const struct pg_engine *p, int kind)
{
	/* the high half names libreferral's lock and its kind, the low half
	 * the brand's schema: keys of two brands never meet */
	return (long long)((0x52460000u + (unsigned)kind) * 4294967296ull + p->ns_oid);
}

const char *pg_itoa(char *buf, int64_t v)
{
	snprintf(buf, 24, "%lld", (long long)v);
	return buf;
}

const char *const *pg_ints(struct pg_ints *b, const int64_t *v, size_t n)
{
	for (size_t i = 0; i < n && i < 4; i++)
		b->v[i] = pg_itoa(b->buf[i], v[i]);
	return b->v;
}

int64_t pg_int(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

const char *pg_text(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col);
}

const char *pg_text_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

void pg_event_row_at(const PGresult *res, int row, int first, struct ev_row *out)
{
	out->seq = pg_int(res, row, first);
	out->at = pg_int(res, row, first + 1);
	out->booked = (int)pg_int(res, row, first + 2);
	out->ref1 = pg_int(res, row, first + 3);
	out->ref2 = pg_int(res, row, first + 4);
	out->num = pg_text_or_null(res, row, first + 5);
	out->txt1 = pg_text_or_null(res, row, first + 6);
	out->txt2 = pg_text_or_null(res, row, first + 7);
	out->type = (int)pg_int(res, row, first + 8);
	out->id = pg_text(res, row, first + 9);
	out->idlen = (size_t)PQgetlength(res, row, first + 9);
}

void pg_event_row(const PGresult *res, int row, struct ev_row *out)
{
	pg_event_row_at(res, row, 0, out);
}

const char *pg_cursor_name(struct pg_engine *p, char *buf)
{
	snprintf(buf, 32, "referral_c%u", ++p->cursors);
	return buf;
}

void pg_close_cursor(struct pg_engine *p, const char *name)
{
	char sql[64];
	if (PQstatus(p->conn) != CONNECTION_OK || PQtransactionStatus(p->conn) == PQTRANS_INERROR)
		return;
	/* a COPY sent without waiting (statements, grades) is in flight: its
	 * result is for the next statement that reports, not for this quiet
	 * one, and the transaction's end closes the cursor (a cursor WITH
	 * HOLD is only opened outside a transaction, where nothing is) */
	if (p->copy_inflight)
		return;
	snprintf(sql, sizeof sql, "CLOSE %s", name);
	(void)pg_idle(p); /* what failed there was said already */
	PQclear(PQexec(p->conn, sql));
}

/* ---- errors ------------------------------------------------------------------- */

/* Whether `sql` begins with the keyword `kw` (upper case). */
static int starts_with(const char *sql, const char *kw)
{
	while (*sql == ' ')
		sql++;
	return !strncmp(sql, kw, strlen(kw));
}

/* The table `sql` writes: the word after INSERT INTO, UPDATE, DELETE FROM
 * or COPY, into buf; "" for a statement that only reads. */
static void target_of(const char *sql, char *buf, size_t cap)
{
	static const char *const verbs[] = {"INSERT INTO ", "UPDATE ", "DELETE FROM ", "COPY ",
					    "TRUNCATE "};
	buf[0] = 0;
	while (*sql == ' ')
		sql++;
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		if (starts_with(sql, verbs[i])) {
			const char *t = sql + strlen(verbs[i]);
			size_t n = strcspn(t, " (");
			snprintf(buf, cap, "%.*s", (int)n, t);
			if (!strncmp(buf, "pg_temp.", 8))
				memmove(buf, buf + 8, strlen(buf + 8) + 1);
		}
}

/* The right the statement `sql` lacked on the object PostgreSQL named in
 * "permission denied for KIND NAME". */
static const char *right_needed(const char *sql, const char *kind, const char *name)
{
	char target[80];
	if (!strcmp(kind, "schema"))
		return starts_with(sql, "CREATE") ? "CREATE" : "USAGE";
	if (!strcmp(kind, "database"))
		return starts_with(sql, "CREATE TEMP") ? "TEMPORARY" : "CREATE";
	if (!strcmp(kind, "sequence"))
		return "USAGE";
	if (!strcmp(kind, "function"))
		return "EXECUTE";
	target_of(sql, target, sizeof target);
	if (!target[0] || strcmp(target, name))
		return "SELECT"; /* read by the statement or by a trigger */
	return starts_with(sql, "INSERT") || starts_with(sql, "COPY") ? "INSERT"
	       : starts_with(sql, "UPDATE")                           ? "UPDATE"
	       : starts_with(sql, "DELETE")                           ? "DELETE"
								      : "TRUNCATE";
}

/* The message of a missing right (SQLSTATE 42501). */
static int rights_fail(struct pg_engine *p, const char *what, const char *msg)
{
	char kind[32] = "", name[128] = "";
	const char *user = p->role[0] ? p->role : PQuser(p->conn);
	const char *obj = strstr(msg, "permission denied for ");
	if (obj && sscanf(obj + 22, "%31s %127s", kind, name) == 2)
		return st_fail(p->base.st, REFERRAL_EIO,
			       "brand \"%s\": %s: the role %s lacks the right to %s on %s%s%s (%s)",
			       p->brand, what, user ? user : "?",
			       right_needed(p->sql ? p->sql : "", kind, name),
			       strcmp(kind, "table") ? kind : "", strcmp(kind, "table") ? " " : "", name,
			       msg);
	return st_fail(p->base.st, REFERRAL_EIO, "brand \"%s\": %s: the role %s lacks a right: %s",
		       p->brand, what, user ? user : "?", msg);
}

int pg_fail(struct pg_engine *p, PGresult *res, const char *what)
{
	char msg[600];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	snprintf(msg, sizeof msg, "%s", primary ? primary : PQerrorMessage(p->conn));
	for (size_t n = strlen(msg); n && (msg[n - 1] == '\n' || msg[n - 1] == ' '); n--)
		msg[n - 1] = 0;
	snprintf(p->state, sizeof p->state, "%s", state ? state : "");
	int rc;
	if (PQstatus(p->conn) != CONNECTION_OK || (state && !strncmp(state, "08", 2)) ||
	    (state && !strncmp(state, "57P0", 4)))
		rc = st_fail(p->base.st, REFERRAL_EIO,
			     "brand \"%s\": lost the connection to the PostgreSQL server while %s: %s",
			     p->brand, what, msg[0] ? msg : "no answer");
	else if (state && !strcmp(state, "42501"))
		rc = rights_fail(p, what, msg);
	else if (state && (!strcmp(state, "55P03") || !strcmp(state, "40001") ||
			   !strcmp(state, "40P01")))
		rc = st_fail(p->base.st, REFERRAL_ESTATE,
			     "brand \"%s\": %s: another process holds the store (%s); try again",
			     p->brand, what, msg);
	else if (!res && !msg[0])
		rc = st_nomem(p->base.st);
	else
		rc = st_fail(p->base.st, REFERRAL_EIO, "brand \"%s\": %s: %s", p->brand, what, msg);
	PQclear(res);
	return rc;
}

/* ---- running statements -------------------------------------------------------- */

PGresult *pg_exec(struct pg_engine *p, const char *sql, int n, const char *const *vals,
		  const char *what, int *rc)
{
	if (p->npending && !p->keep_pending && (*rc = pg_flush(p)))
		return NULL;
	p->keep_pending = 0;
	if ((*rc = pg_idle(p)))
		return NULL;
	p->sql = sql;
	/* without parameters, a text of several statements (the schema) */
	PGresult *res = n ? PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0)
			  : PQexec(p->conn, sql);
	ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
		*rc = 0;
		return res;
	}
	*rc = pg_fail(p, res, what);
	return NULL;
}

int pg_cmd(struct pg_engine *p, const char *sql, const char *what)
{
	int rc;
	PQclear(pg_exec(p, sql, 0, NULL, what, &rc));
	return rc;
}

int pg_run(struct pg_engine *p, const char *sql, int64_t a, int64_t b, const char *what)
{
	struct pg_ints iv;
	int rc;
	PQclear(pg_exec(p, sql, strstr(sql, "$2") ? 2 : 1, PG_INTS(iv, a, b), what, &rc));
	return rc;
}

int pg_each(struct pg_engine *p, const char *sql, int n, const char *const *vals,
	    int (*row)(void *ctx, const PGresult *res, int i), void *ctx, const char *what)
{
	int rc = p->npending && !p->keep_pending ? pg_flush(p) : 0;
	PGresult *res;
	p->keep_pending = 0;
	if (rc)
		return rc;
	if ((rc = pg_idle(p)))
		return rc;
	p->sql = sql;
	if (!PQsendQueryParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0))
		return pg_fail(p, NULL, what);
	if (!PQsetSingleRowMode(p->conn))
		rc = pg_fail(p, NULL, what);
	/* every result is read, even once a callback stopped the iteration:
	 * the connection is then ready for the next statement */
	while ((res = PQgetResult(p->conn))) {
		ExecStatusType status = PQresultStatus(res);
		if (status == PGRES_SINGLE_TUPLE) {
			if (!rc)
				rc = row(ctx, res, 0);
			PQclear(res);
		} else if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
			PQclear(res);
		} else if (!rc) {
			rc = pg_fail(p, res, what);
		} else {
			PQclear(res);
		}
	}
	return rc;
}

int pg_copy_field(struct strbuf *line, const char *text, char end)
{
	int bad = 0;
	if (!text)
		bad = sb_puts(line, "\\N");
	for (const char *c = text; c && *c && !bad; c++)
		bad = *c == '\\'   ? sb_puts(line, "\\\\")
		      : *c == '\t' ? sb_puts(line, "\\t")
		      : *c == '\n' ? sb_puts(line, "\\n")
		      : *c == '\r' ? sb_puts(line, "\\r")
				   : sb_putc(line, *c);
	return bad || sb_putc(line, end);
}

int pg_copy_int(struct strbuf *line, int64_t v, char end)
{
	return sb_printf(line, "%lld%c", (long long)v, end);
}

/* Starts `COPY ... FROM STDIN`: 0 or the failure. */
static int copy_start(struct pg_engine *p, const char *copy_sql, const char *what)
{
	int rc = pg_idle(p);
	if (rc)
		return rc;
	p->sql = copy_sql;
	PGresult *res = PQexec(p->conn, copy_sql);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN)
		return pg_fail(p, res, what);
	PQclear(res);
	return 0;
}

/* Ends the COPY, aborting it when rc is a failure already: rc, or the
 * COPY's own failure. */
static int copy_end(struct pg_engine *p, int rc, const char *what)
{
	PGresult *res;
	if (PQputCopyEnd(p->conn, rc ? "libreferral stopped the copy" : NULL) != 1 && !rc)
		rc = pg_fail(p, NULL, what);
	while ((res = PQgetResult(p->conn))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !rc)
			rc = pg_fail(p, res, what);
		else
			PQclear(res);
	}
	return rc;
}

int pg_copy_send(struct pg_engine *p, const char *copy_sql, const char *data, size_t len,
		 const char *what)
{
	int rc = copy_start(p, copy_sql, what);
	if (rc)
		return rc;
	if (len > INT32_MAX || PQputCopyData(p->conn, data, (int)len) != 1)
		return copy_end(p, pg_fail(p, NULL, what), what);
	if (PQputCopyEnd(p->conn, NULL) != 1)
		return copy_end(p, pg_fail(p, NULL, what), what);
	p->copy_inflight = 1;
	p->copy_sql = copy_sql;
	p->copy_what = what;
	return 0;
}

int pg_idle(struct pg_engine *p)
{
	PGresult *res;
	int rc = 0;
	pg_stream_collect(p);
	if (!p->copy_inflight)
		return 0;
	p->copy_inflight = 0;
	while ((res = PQgetResult(p->conn))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !rc) {
			p->sql = p->copy_sql; /* for the rights messages */
			rc = pg_fail(p, res, p->copy_what);
		} else {
			PQclear(res);
		}
	}
	return rc;
}

int pg_first_row(struct pg_engine *p, const char *sql, int n, const char *const *vals,
		 const char *what, int64_t *a, int64_t *b)
{
	int rc;
	PGresult *res = pg_exec(p, sql, n, vals, what, &rc);
	if (!res)
		return -rc;
	int found = PQntuples(res) > 0;
	if (found) {
		*a = pg_int(res, 0, 0);
		*b = pg_int(res, 0, 1);
	}
	PQclear(res);
	return found;
}

int pg_copy_async(struct pg_engine *p, const char *copy_sql, size_t n,
		  int (*put)(void *ctx, size_t i, struct strbuf *line), void *ctx, const char *what)
{
	struct strbuf buf = {0};
	int rc = p->npending ? pg_flush(p) : 0;
	for (size_t i = 0; i < n && !rc; i++)
		if (put(ctx, i, &buf))
			rc = st_nomem(p->base.st);
	if (!rc && buf.len)
		rc = pg_copy_send(p, copy_sql, buf.data, buf.len, what);
	sb_free(&buf);
	return rc;
}

int pg_copy(struct pg_engine *p, const char *copy_sql, size_t n,
	    int (*put)(void *ctx, size_t i, struct strbuf *line), void *ctx, const char *what)
{
	struct strbuf buf = {0};
	int rc = p->npending ? pg_flush(p) : 0;
	if (rc || (rc = copy_start(p, copy_sql, what)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		if (put(ctx, i, &buf)) {
			rc = st_nomem(p->base.st);
			break;
		}
		/* sent some 64 KiB at a time */
		if ((buf.len >= 65536 || i + 1 == n) && buf.len) {
			if (PQputCopyData(p->conn, buf.data, (int)buf.len) != 1)
				rc = pg_fail(p, NULL, what);
			sb_reset(&buf);
		}
	}
	sb_free(&buf);
	return copy_end(p, rc, what);
}

/* ---- schema --------------------------------------------------------------------- */

/* Version 1, made inside the brand's new schema in the transaction of
 * create(), which then runs the later versions' steps; the functions keep
 * the schema as their search_path. */
static const char schema_ddl[] =
	"CREATE TABLE meta(version integer NOT NULL);"
	"CREATE TABLE plans(version bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" effective integer NOT NULL, body text NOT NULL);"
	"CREATE TABLE closes(period integer PRIMARY KEY, last_seq bigint NOT NULL);"
	"CREATE TABLE drafts(period integer PRIMARY KEY, last_seq bigint NOT NULL);"
	"CREATE TABLE events(seq bigint PRIMARY KEY, type integer NOT NULL,"
	" id text COLLATE \"C\" NOT NULL, at bigint NOT NULL, booked integer NOT NULL,"
	" ref1 bigint, ref2 bigint, num text COLLATE \"C\", txt1 text COLLATE \"C\","
	" txt2 text COLLATE \"C\", CONSTRAINT events_key UNIQUE(type, id));"
	"CREATE INDEX events_by_ref ON events(ref1, type);"
	"CREATE INDEX events_by_ref2 ON events(ref2, type) WHERE ref2 IS NOT NULL;"
	"CREATE INDEX events_network ON events(type, seq) WHERE type BETWEEN 2 AND 7;"
	"CREATE INDEX events_stream ON events(booked, at, seq) INCLUDE (type, ref1, num, txt1)"
	" WHERE type IN (9, 10, 11);"
	"CREATE TABLE statements(period integer NOT NULL, dist bigint NOT NULL,"
	" store bigint NOT NULL, grade integer NOT NULL,"
	" opening_carry text COLLATE \"C\" NOT NULL, commission text COLLATE \"C\" NOT NULL,"
	" bounty text COLLATE \"C\" NOT NULL, override text COLLATE \"C\" NOT NULL,"
	" accrued text COLLATE \"C\" NOT NULL, total text COLLATE \"C\" NOT NULL,"
	" payable text COLLATE \"C\" NOT NULL, closing_carry text COLLATE \"C\" NOT NULL,"
	" members bigint NOT NULL, sales text COLLATE \"C\" NOT NULL, shares bigint NOT NULL,"
	" released text COLLATE \"C\" NOT NULL, held text COLLATE \"C\" NOT NULL,"
	" PRIMARY KEY(period, dist));"
	"CREATE TABLE grades(period integer NOT NULL, dist bigint NOT NULL,"
	" grade integer NOT NULL, members bigint NOT NULL, sales text COLLATE \"C\" NOT NULL,"
	" shares bigint NOT NULL, store_rating text COLLATE \"C\" NOT NULL,"
	" next_grade integer NOT NULL, PRIMARY KEY(period, dist));"
	"CREATE TABLE snapshots(period integer NOT NULL, part integer NOT NULL,"
	" data bytea NOT NULL, PRIMARY KEY(period, part));"
	"CREATE TABLE holds(period integer NOT NULL, part integer NOT NULL,"
	" data bytea NOT NULL, PRIMARY KEY(period, part));"
	"CREATE TABLE networks(period integer NOT NULL, part integer NOT NULL,"
	" last_seq bigint NOT NULL, data bytea NOT NULL, PRIMARY KEY(period, part));"
	"CREATE FUNCTION reject_change() RETURNS trigger LANGUAGE plpgsql AS"
	" $$BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END$$;"
		/* what settlement derives of a closed period is never written again:
	 * checked once a statement, on the rows it changed (a check a row
	 * would cost more than the COPY of a month's statements) */
	"CREATE FUNCTION frozen_rows() RETURNS trigger LANGUAGE plpgsql"
	" SET search_path FROM CURRENT AS $$BEGIN"
	" IF EXISTS(SELECT 1 FROM changed JOIN closes USING (period)) THEN"
	"  RAISE EXCEPTION 'closed periods are immutable'; END IF;"
	" RETURN NULL; END$$;"
"CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events"
	" FOR EACH ROW EXECUTE FUNCTION reject_change('the event log is append-only');"
	"CREATE TRIGGER events_append_only_t BEFORE TRUNCATE ON events"
	" FOR EACH STATEMENT EXECUTE FUNCTION reject_change('the event log is append-only');"
	"CREATE TRIGGER closes_final BEFORE UPDATE OR DELETE ON closes"
	" FOR EACH ROW EXECUTE FUNCTION reject_change('closed periods are immutable');"
	"CREATE TRIGGER closes_final_t BEFORE TRUNCATE ON closes"
	" FOR EACH STATEMENT EXECUTE FUNCTION reject_change('closed periods are immutable');"
		"CREATE TRIGGER statements_frozen_i AFTER INSERT ON statements REFERENCING NEW TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER statements_frozen_u AFTER UPDATE ON statements REFERENCING OLD TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER statements_frozen_un AFTER UPDATE ON statements REFERENCING NEW TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER statements_frozen_d AFTER DELETE ON statements REFERENCING OLD TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER grades_frozen_i AFTER INSERT ON grades REFERENCING NEW TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER grades_frozen_u AFTER UPDATE ON grades REFERENCING OLD TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER grades_frozen_un AFTER UPDATE ON grades REFERENCING NEW TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER grades_frozen_d AFTER DELETE ON grades REFERENCING OLD TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER snapshots_frozen_i AFTER INSERT ON snapshots REFERENCING NEW TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER snapshots_frozen_u AFTER UPDATE ON snapshots REFERENCING OLD TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER snapshots_frozen_un AFTER UPDATE ON snapshots REFERENCING NEW TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER snapshots_frozen_d AFTER DELETE ON snapshots REFERENCING OLD TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER holds_frozen_i AFTER INSERT ON holds REFERENCING NEW TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER holds_frozen_u AFTER UPDATE ON holds REFERENCING OLD TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER holds_frozen_un AFTER UPDATE ON holds REFERENCING NEW TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
	"CREATE TRIGGER holds_frozen_d AFTER DELETE ON holds REFERENCING OLD TABLE AS changed"
	" FOR EACH STATEMENT EXECUTE FUNCTION frozen_rows();"
"INSERT INTO meta(version) VALUES (1);";

/* Version 2: the (ref1, type) index leaves out the orders and shares.
 * Orders are filed under their member, whose seq is random, so each one
 * went to another leaf of a large index: the largest part of the server's
 * time in a bulk ingest's COPY. Only a redeem's check reads orders and
 * member shares by member; it reads them from member_events, which it
 * brings up to date itself (postgres_log.c), starting empty here. The
 * table is a cache of the log, like networks, but its triggers keep it
 * what the log says: rows are only added, each an order or member share
 * of its member above the mark, and the mark only moves forward, up to
 * the log's last seq and over rows all added. */
static const char schema_v2[] =
	"DROP INDEX events_by_ref;"
	"CREATE INDEX events_by_ref ON events(ref1, type) WHERE " PG_BY_REF("") ";"
	"CREATE TABLE member_events(member bigint NOT NULL, seq bigint NOT NULL,"
	" PRIMARY KEY(member, seq));"
	"CREATE TABLE member_events_mark(last_seq bigint NOT NULL);"
	"INSERT INTO member_events_mark(last_seq) VALUES (0);"
	/* counts, not EXISTS: the planner takes an EXISTS for a search for one
	 * row, a nested loop that the first fill of a large log (millions of
	 * rows) pays with a probe a row */
	"CREATE FUNCTION member_events_added() RETURNS trigger LANGUAGE plpgsql"
	" SET search_path FROM CURRENT AS $$BEGIN"
	" IF (SELECT count(*) FROM added a WHERE a.seq <= (SELECT last_seq FROM member_events_mark)) > 0"
	"  OR (SELECT count(*) FROM added a WHERE NOT EXISTS(SELECT 1 FROM events e"
	"  WHERE e.seq = a.seq AND e.ref1 = a.member"
	"  AND (e.type = 9 OR (e.type = 11 AND e.txt1 = 'member')))) > 0 THEN"
	"  RAISE EXCEPTION 'member_events holds the orders and member shares of the log"
	" past its mark'; END IF;"
	" RETURN NULL; END$$;"
	"CREATE FUNCTION member_events_moved() RETURNS trigger LANGUAGE plpgsql"
	" SET search_path FROM CURRENT AS $$BEGIN"
	" IF NEW.last_seq < OLD.last_seq"
	"  OR NEW.last_seq > (SELECT coalesce(max(seq), 0) FROM events)"
	"  OR (SELECT count(*) FROM events e WHERE e.seq > OLD.last_seq AND e.seq <= NEW.last_seq"
	"  AND (e.type = 9 OR (e.type = 11 AND e.txt1 = 'member')) AND NOT EXISTS(SELECT 1"
	"  FROM member_events m WHERE m.member = e.ref1 AND m.seq = e.seq)) > 0 THEN"
	"  RAISE EXCEPTION 'the mark of member_events moves forward, over what member_events"
	" holds'; END IF;"
	" RETURN NEW; END$$;"
	"CREATE TRIGGER member_events_append_only BEFORE UPDATE OR DELETE ON member_events"
	" FOR EACH ROW EXECUTE FUNCTION reject_change('member_events is append-only');"
	"CREATE TRIGGER member_events_append_only_t BEFORE TRUNCATE ON member_events"
	" FOR EACH STATEMENT EXECUTE FUNCTION reject_change('member_events is append-only');"
	"CREATE TRIGGER member_events_checked AFTER INSERT ON member_events"
	" REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION member_events_added();"
	"CREATE TRIGGER member_events_mark_one BEFORE INSERT OR DELETE ON member_events_mark"
	" FOR EACH ROW EXECUTE FUNCTION reject_change('member_events_mark holds one row');"
	"CREATE TRIGGER member_events_mark_one_t BEFORE TRUNCATE ON member_events_mark"
	" FOR EACH STATEMENT EXECUTE FUNCTION reject_change('member_events_mark holds one row');"
	"CREATE TRIGGER member_events_mark_moved BEFORE UPDATE ON member_events_mark"
	" FOR EACH ROW EXECUTE FUNCTION member_events_moved();"
	"UPDATE meta SET version = 2;";

/* The oid of the brand's schema into p->ns_oid: 1 when it exists, 0 if
 * not, or a negative status. */
static int find_schema(struct pg_engine *p)
{
	const char *vals[1] = {p->brand};
	int rc;
	PGresult *res = pg_exec(p, "SELECT oid, pg_catalog.has_schema_privilege(oid, 'USAGE')"
				   " FROM pg_catalog.pg_namespace WHERE nspname = $1",
				1, vals, "looking for the brand", &rc);
	if (!res)
		return -rc;
	int found = PQntuples(res) == 1;
	if (found) {
		p->ns_oid = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
		p->ns_usage = PQgetvalue(res, 0, 1)[0] == 't';
	}
	PQclear(res);
	return found;
}

static int brand_exists(struct pg_engine *p)
{
	return st_fail(p->base.st, REFERRAL_ESTATE, "brand \"%s\" already exists in database \"%s\"",
		       p->brand, PQdb(p->conn));
}

static int insert_plan(struct pg_engine *p, int effective, const char *body)
{
	char x[24];
	const char *vals[2] = {pg_itoa(x, effective), body};
	int rc;
	PQclear(pg_exec(p, "INSERT INTO plans(effective, body) VALUES ($1, $2)", 2, vals,
			"storing the plan", &rc));
	return rc;
}

static int pg_begin(struct engine *e, enum tx_kind kind);
static int pg_commit(struct engine *e);
static void pg_rollback(struct engine *e);
static int pg_append_lock(struct engine *e);

static int pg_create(struct engine *e, const char *plan_json, int start_period)
{
	struct pg_engine *p = pg(e);
	char sql[160];
	int rc = find_schema(p);
	if (rc)
		return rc > 0 ? brand_exists(p) : -rc;
	if ((rc = pg_cmd(p, "BEGIN", "creating the brand")))
		return rc;
	/* another init may come first: CREATE SCHEMA then fails, with 42P06
	 * when that one had committed, 23505 when it committed meanwhile */
	snprintf(sql, sizeof sql, "CREATE SCHEMA \"%s\"", p->brand);
	p->sql = sql;
	PGresult *res = PQexec(p->conn, sql);
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state && (!strcmp(state, "42P06") || !strcmp(state, "23505"))) {
		PQclear(res);
		pg_rollback(e);
		return brand_exists(p);
	}
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = pg_fail(p, res, "creating the brand");
		goto fail;
	}
	PQclear(res);
	snprintf(sql, sizeof sql, "SET LOCAL search_path TO \"%s\"", p->brand);
	if ((rc = pg_cmd(p, sql, "creating the brand")) ||
	    (rc = pg_cmd(p, schema_ddl, "creating the brand's tables")) ||
	    (rc = pg_cmd(p, schema_v2, "creating the brand's tables")) ||
	    (rc = insert_plan(p, start_period, plan_json)) || (rc = pg_commit(e)))
		goto fail;
	p->version = SCHEMA_VERSION;
	rc = find_schema(p);
	return rc == 1 ? 0 : rc ? -rc : st_fail(e->st, REFERRAL_EIO, "brand \"%s\": vanished", p->brand);
fail:
	pg_rollback(e);
	return rc;
}

/* Brings the brand to SCHEMA_VERSION in a transaction of its own, under
 * the append lock: batches that began before it end first, and of two
 * processes opening the brand at once the second finds it migrated. */
static int migrate(struct pg_engine *p)
{
	char sql[160];
	int rc = pg_cmd(p, "BEGIN", "migrating the brand's schema");
	if (rc)
		return rc;
	snprintf(sql, sizeof sql, "SELECT pg_catalog.pg_advisory_xact_lock(%lld)",
		 pg_lock_key(p, PG_LOCK_APPEND));
	PGresult *res = NULL;
	if ((rc = pg_cmd(p, sql, "waiting for the brand's other appends")) ||
	    !(res = pg_exec(p, "SELECT version FROM meta", 0, NULL, "reading the schema version", &rc)))
		goto fail;
	int version = PQntuples(res) == 1 ? (int)pg_int(res, 0, 0) : SCHEMA_VERSION;
	PQclear(res);
	/* the functions made keep the schema alone as their search_path, as
	 * those create() made */
	snprintf(sql, sizeof sql, "SET LOCAL search_path TO \"%s\"", p->brand);
	if (version < 2 && ((rc = pg_cmd(p, sql, "migrating the brand's schema")) ||
			    (rc = pg_cmd(p, schema_v2, "migrating the brand's schema to version 2"))))
		goto fail;
	if ((rc = pg_commit(&p->base)))
		return rc;
	p->version = SCHEMA_VERSION;
	return 0;
fail:
	pg_rollback(&p->base);
	return rc;
}

static int pg_open(struct engine *e)
{
	struct pg_engine *p = pg(e);
	int rc = find_schema(p);
	if (rc < 0)
		return -rc;
	if (!rc)
		return st_fail(e->st, REFERRAL_EIO,
			       "brand \"%s\" does not exist in database \"%s\" (run init)", p->brand,
			       PQdb(p->conn));
	/* without USAGE the schema's tables look missing: say what is */
	if (!p->ns_usage)
		return st_fail(e->st, REFERRAL_EIO,
			       "brand \"%s\": the role %s lacks the right to USAGE on schema %s", p->brand,
			       p->role, p->brand);
	/* a store's tables beside meta, as the SQLite engine asks of a file,
	 * and whether the role may migrate them: it owns the log (is a member
	 * of its owner) and may create tables in the schema */
	static const char version_sql[] =
		"SELECT version, pg_catalog.to_regclass('plans') IS NOT NULL"
		" AND pg_catalog.to_regclass('events') IS NOT NULL,"
		" (SELECT pg_catalog.pg_has_role(c.relowner, 'USAGE')"
		" AND pg_catalog.has_schema_privilege(c.relnamespace, 'CREATE')"
		" FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass('events'))"
		" FROM meta";
	PGresult *res = PQexec(p->conn, version_sql);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		if (state && !strcmp(state, "42P01")) {
			PQclear(res);
			return st_fail(e->st, REFERRAL_EIO,
				       "brand \"%s\": the schema \"%s\" is not a libreferral store",
				       p->brand, p->brand);
		}
		p->sql = version_sql;
		return pg_fail(p, res, "reading the schema version");
	}
	int version = PQntuples(res) == 1 ? (int)pg_int(res, 0, 0) : 0;
	int ours = PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] == 't';
	int may_migrate = PQntuples(res) == 1 && PQgetvalue(res, 0, 2)[0] == 't';
	PQclear(res);
	if (version > SCHEMA_VERSION)
		return st_fail(e->st, REFERRAL_EIO,
			       "brand \"%s\": schema version %d is newer than this library's %d",
			       p->brand, version, SCHEMA_VERSION);
	if (version < 0)
		return st_fail(e->st, REFERRAL_EIO,
			       "brand \"%s\": schema version %d is unknown (this library knows 1 to %d)",
			       p->brand, version, SCHEMA_VERSION);
	if (version == 0 || !ours)
		return st_fail(e->st, REFERRAL_EIO, "brand \"%s\": not a libreferral store", p->brand);
	/* Version 2 only rebuilt an index and added a cache that only a
	 * redeem's check reads: a brand of version 1 opened by a role that may
	 * not migrate it (the ingest, finance and auditor roles) is read and
	 * written as it is, as the library that made it did, until its owner
	 * opens it. */
	p->version = version;
	return version < SCHEMA_VERSION && may_migrate ? migrate(p) : 0;
}

/* ---- transactions and locks ----------------------------------------------------- */

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Takes the brand's settle lock (session-level), waiting up to
 * SETTLE_WAIT_MS for another settle, close or verify to end. */
static int settle_lock(struct pg_engine *p)
{
	struct pg_ints iv;
	for (int waited = 0;; waited += SETTLE_POLL_MS) {
		int rc;
		PGresult *res = pg_exec(p, "SELECT pg_catalog.pg_try_advisory_lock($1::bigint)", 1,
					PG_INTS(iv, pg_lock_key(p, PG_LOCK_SETTLE)), "locking the brand",
					&rc);
		if (!res)
			return rc;
		int got = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
		PQclear(res);
		if (got) {
			p->settle_locked = 1;
			return 0;
		}
		if (waited >= SETTLE_WAIT_MS)
			return st_fail(p->base.st, REFERRAL_ESTATE,
				       "brand \"%s\" is being settled, closed or verified by another"
				       " process; try again", p->brand);
		sleep_ms(SETTLE_POLL_MS);
	}
}

void pg_session_unlock(struct pg_engine *p, int kind, int *held)
{
	char sql[96];
	if (!*held)
		return;
	*held = 0;
	if (PQstatus(p->conn) != CONNECTION_OK)
		return; /* the server released it with the session */
	snprintf(sql, sizeof sql, "SELECT pg_catalog.pg_advisory_unlock(%lld)", pg_lock_key(p, kind));
	(void)pg_idle(p); /* what failed there was said already */
	PQclear(PQexec(p->conn, sql));
}

static void settle_unlock(struct pg_engine *p)
{
	pg_session_unlock(p, PG_LOCK_SETTLE, &p->settle_locked);
}

static int pg_begin(struct engine *e, enum tx_kind kind)
{
	struct pg_engine *p = pg(e);
	int rc;
	int settling = kind == TX_SETTLE || kind == TX_CLOSE || kind == TX_VERIFY;
	int appending = kind == TX_APPEND || kind == TX_CLOSE || kind == TX_PLAN;
	pg_lookups_forget(p);
	p->append_locked = 0;
	if (settling && (rc = settle_lock(p)))
		return rc;
	/* the snapshot of a REPEATABLE READ transaction is taken by its first
	 * statement: after the settle lock, and never before a wait for the
	 * append lock (those transactions read committed) */
	if ((rc = pg_cmd(p, appending ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ",
			 "beginning a transaction")))
		goto fail;
	/* a batch takes the append lock later, in pg_append_lock */
	if (appending && kind != TX_APPEND && (rc = pg_append_lock(e)))
		goto fail;
	return 0;
fail:
	pg_rollback(e);
	return rc;
}

static int pg_append_lock(struct engine *e)
{
	struct pg_engine *p = pg(e);
	if (p->append_locked)
		return 0;
	int rc = pg_run(p, "SELECT pg_catalog.pg_advisory_xact_lock($1::bigint)",
			pg_lock_key(p, PG_LOCK_APPEND), 0, "waiting for the brand's other appends");
	p->append_locked = !rc;
	return rc;
}

static int pg_commit(struct engine *e)
{
	struct pg_engine *p = pg(e);
	int rc;
	pg_prefetch_forget(p);
	PGresult *res = pg_exec(p, "COMMIT", 0, NULL, "commit", &rc);
	pg_lookups_forget(p);
	p->append_locked = 0;
	/* a failed transaction "commits" as a rollback */
	if (res && strcmp(PQcmdStatus(res), "COMMIT"))
		rc = st_fail(e->st, REFERRAL_EIO, "brand \"%s\": commit: the transaction was rolled back",
			     p->brand);
	PQclear(res);
	if (rc)
		pg_rollback(e);
	settle_unlock(p);
	return rc;
}

static void pg_rollback(struct engine *e)
{
	struct pg_engine *p = pg(e);
	pg_lookups_forget(p); /* what is pending was never sent: nothing to undo */
	p->append_locked = 0;
	if (p->conn && PQstatus(p->conn) == CONNECTION_OK &&
	    PQtransactionStatus(p->conn) != PQTRANS_IDLE) {
		(void)pg_idle(p); /* rolled back whatever it says */
		PQclear(PQexec(p->conn, "ROLLBACK"));
	}
	if (p->conn) {
		settle_unlock(p);
		pg_session_unlock(p, PG_LOCK_LOAD, &p->load_locked);
	}
}

/* ---- plans and periods ---------------------------------------------------------- */

struct plan_ctx {
	plan_cb cb;
	void *ctx;
};

static int plan_row(void *ctx, const PGresult *res, int i)
{
	struct plan_ctx *c = ctx;
	return c->cb(c->ctx, (int)pg_int(res, i, 0), pg_text(res, i, 1));
}

static int pg_plans(struct engine *e, plan_cb cb, void *ctx)
{
	struct plan_ctx c = {cb, ctx};
	return pg_each(pg(e), "SELECT effective, body FROM plans ORDER BY effective, version", 0,
		       NULL, plan_row, &c, "reading plans");
}

static int pg_plan_add(struct engine *e, int effective, const char *body)
{
	return insert_plan(pg(e), effective, body);
}

struct period_ctx {
	period_seq_cb cb;
	void *ctx;
};

static int period_row(void *ctx, const PGresult *res, int i)
{
	struct period_ctx *c = ctx;
	return c->cb(c->ctx, (int)pg_int(res, i, 0), pg_int(res, i, 1));
}

/* Every (period, last_seq) row of `sql`, in order. */
static int period_rows(struct engine *e, const char *sql, period_seq_cb cb, void *ctx)
{
	struct period_ctx c = {cb, ctx};
	return pg_each(pg(e), sql, 0, NULL, period_row, &c, "reading periods");
}

static int pg_closes(struct engine *e, period_seq_cb cb, void *ctx)
{
	return period_rows(e, "SELECT period, last_seq FROM closes ORDER BY period", cb, ctx);
}

static int pg_drafts(struct engine *e, period_seq_cb cb, void *ctx)
{
	return period_rows(e, "SELECT period, last_seq FROM drafts ORDER BY period", cb, ctx);
}

static int pg_last_seq(struct engine *e, int64_t *out)
{
	int rc;
	PGresult *res = pg_exec(pg(e), "SELECT coalesce(max(seq), 0) FROM events", 0, NULL,
				"reading the log", &rc);
	if (res)
		*out = pg_int(res, 0, 0);
	PQclear(res);
	return rc;
}

static int pg_clear_draft(struct engine *e, int period)
{
	static const char *const clear[] = {
		"DELETE FROM statements WHERE period = $1",
		"DELETE FROM snapshots WHERE period = $1",
		"DELETE FROM holds WHERE period = $1",
		"DELETE FROM grades WHERE period = $1",
		/* a draft's network cache; the settlement prunes older ones */
		"DELETE FROM networks WHERE period >= $1",
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof clear / sizeof *clear && !rc; i++)
		rc = pg_run(pg(e), clear[i], period, 0, "clearing the draft");
	return rc;
}

static int pg_record_draft(struct engine *e, int period, int64_t last_seq)
{
	return pg_run(pg(e), "INSERT INTO drafts(period, last_seq) VALUES ($1, $2)"
			     " ON CONFLICT (period) DO UPDATE SET last_seq = EXCLUDED.last_seq",
		      period, last_seq, "recording the draft");
}

static int pg_record_close(struct engine *e, int period, int64_t last_seq)
{
	int rc = pg_run(pg(e), "DELETE FROM drafts WHERE period <= $1", period, 0,
			"recording the close");
	return rc ? rc : pg_run(pg(e), "INSERT INTO closes(period, last_seq) VALUES ($1, $2)",
				period, last_seq, "recording the close");
}

static void pg_free(struct engine *e)
{
	struct pg_engine *p = pg(e);
	if (!p)
		return;
	pg_rollback(e);
	PQclear(p->row_res);
	sb_free(&p->pending);
	pg_lookups_forget(p);
	free(p->pending_refunds);
	idmap_free(&p->pending_binds);
	PQfinish(p->conn);
	free(p->brand);
	free(p->conninfo);
	free(p);
}

static const struct engine_ops postgres_ops = {
	.name = "postgresql",
	.free = pg_free,
	.create = pg_create,
	.open = pg_open,
	.begin = pg_begin,
	.append_lock = pg_append_lock,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.plans = pg_plans,
	.plan_add = pg_plan_add,
	.closes = pg_closes,
	.drafts = pg_drafts,
	.last_seq = pg_last_seq,
	.clear_draft = pg_clear_draft,
	.record_draft = pg_record_draft,
	.record_close = pg_record_close,
	.prefetch = pg_prefetch,
	.find = pg_find,
	.get = pg_get,
	.append = pg_append,
	.count_type = pg_count_type,
	.ids = pg_ids,
	.termination = pg_termination,
	.bindings = pg_bindings,
	.last_binding = pg_last_binding,
	.has_sharer = pg_has_sharer,
	.refunds = pg_refunds,
	.sharers = pg_sharers,
	.points_events = pg_points_events,
	.member_events_check = pg_member_events_check,
	.network_count = pg_network_count,
	.network_events = pg_network_events,
	.stream_open = pg_stream_open,
	.stream_next = pg_stream_next,
	.stream_close = pg_stream_close,
	.stream_count = pg_stream_count,
	.next_grades = pg_next_grades,
	.carries = pg_carries,
	.statements = pg_statements,
	.grades = pg_grades,
	.statement_figures = pg_statement_figures,
	.ratings = pg_ratings,
	.put_statements = pg_put_statements,
	.put_grades = pg_put_grades,
	.cache_find = pg_cache_find,
	.cache_prune = pg_cache_prune,
	.blob_open = pg_blob_open,
	.blob_put = pg_blob_put,
	.lines_reset = pg_lines_reset,
	.put_lines = pg_put_lines,
	.rows_open = pg_rows_open,
	.rows_next = pg_rows_next,
	.rows_close = pg_rows_close,
	.id_of = pg_id_of,
	.events = pg_events,
};

/* ---- the store's name ------------------------------------------------------------ */

static int valid_brand(const char *b, size_t n)
{
	if (n == 0 || n > BRAND_MAX || b[0] < 'a' || b[0] > 'z')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '_'))
			return 0;
	return 1;
}

/* Splits `where` into the URI for libpq (p->conninfo) and the brand
 * (p->brand, "main" when it names none). */
static int parse_name(struct pg_engine *p, const char *where)
{
	struct strbuf uri = {0};
	const char *q = strchr(where, '?');
	const char *end = q ? q + strcspn(q, "#") : where + strlen(where);
	const char *brand = "main";
	size_t brand_len = 4;
	int bad = sb_append(&uri, where, (size_t)((q ? q : end) - where)), kept = 0;
	for (const char *s = q ? q + 1 : end; s < end && !bad;) {
		size_t n = strcspn(s, "&#");
		if (n > (size_t)(end - s))
			n = (size_t)(end - s);
		if (n >= 6 && !strncmp(s, "brand=", 6)) {
			brand = s + 6;
			brand_len = n - 6;
		} else if (n) {
			bad = sb_putc(&uri, kept++ ? '&' : '?') || sb_append(&uri, s, n);
		}
		s += n;
		if (s < end && *s == '&')
			s++;
	}
	if (bad || sb_puts(&uri, end)) {
		sb_free(&uri);
		return st_nomem(p->base.st);
	}
	p->conninfo = uri.data;
	if (!valid_brand(brand, brand_len))
		return st_fail(p->base.st, REFERRAL_EUSAGE,
			       "store name: brand \"%.*s\" is not a brand name: expected"
			       " [a-z][a-z0-9_]*, up to %d characters",
			       (int)(brand_len > 80 ? 80 : brand_len), brand, BRAND_MAX);
	if (!(p->brand = strndup(brand, brand_len)))
		return st_nomem(p->base.st);
	return 0;
}

static void drop_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int postgres_engine_new(referral_store *st, const char *where, int create, struct engine **out)
{
	struct pg_engine *p = calloc(1, sizeof *p);
	char sql[160];
	int rc;
	(void)create;
	*out = p ? &p->base : NULL;
	if (!p)
		return st_nomem(st);
	p->base.ops = &postgres_ops;
	p->base.st = st;
	p->version = SCHEMA_VERSION;
	if ((rc = parse_name(p, where)))
		return rc;
	p->conn = PQconnectdb(p->conninfo);
	if (!p->conn)
		return st_nomem(st);
	if (PQstatus(p->conn) != CONNECTION_OK) {
		char msg[600];
		snprintf(msg, sizeof msg, "%s", PQerrorMessage(p->conn));
		for (size_t n = strlen(msg); n && (msg[n - 1] == '\n' || msg[n - 1] == ' '); n--)
			msg[n - 1] = 0;
		return st_fail(st, REFERRAL_EIO,
			       "brand \"%s\": cannot connect to the PostgreSQL server: %s", p->brand, msg);
	}
	/* the library never prints: the server's notices are dropped */
	PQsetNoticeProcessor(p->conn, drop_notice, NULL);
	if (PQsetClientEncoding(p->conn, "UTF8"))
		return pg_fail(p, NULL, "setting the client encoding");
	/* the brand's schema alone, and the session's temporary tables; no
	 * JIT: the engine's queries are simple scans of indexes, for which
	 * compiling costs more than it saves */
	snprintf(sql, sizeof sql, "SELECT pg_catalog.set_config('search_path', '\"%s\", pg_temp', false),"
		 " current_user, pg_catalog.set_config('jit', 'off', false)", p->brand);
	PGresult *res = pg_exec(p, sql, 0, NULL, "connecting", &rc);
	if (res && PQntuples(res) == 1)
		snprintf(p->role, sizeof p->role, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return rc;
}
