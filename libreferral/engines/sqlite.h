/*
 * sqlite.h — the SQLite engine's own declarations, shared by its files:
 *   sqlite.c         the handle, schema and migrations, transactions, plans
 *                    and periods, and the table of operations
 *   sqlite_log.c     the event log: appending, and what ingest looks up
 *   sqlite_points.c  the events of points: a redeem's check, the members export
 *   sqlite_settle.c  what settlement and grading read and write
 *   sqlite_blob.c    blobs through SQLite's incremental blob I/O
 *   sqlite_stream.c  the period's events, read on a thread of their own
 *   sqlite_export.c  the exports' rows and the scratch lines
 *
 * Storage layout (schema version 5; see sqlite.c for the DDL):
 *   events      the append-only log: one row per accepted event, its ingest
 *               sequence `seq` (the row id), type, id, instant `at` (µs UTC),
 *               booking period, the seqs of the entities it names (ref1 is
 *               the owner looked up by, ref2 the other), one exact decimal
 *               (`num`) and up to two texts. Indexes: the key (type, id);
 *               (ref1, type) for every type but orders and shares
 *               (BY_REF), and (ref2, type), for the lookups of ingest and
 *               points; events_network over the network's events, for
 *               settlement's load of the network; events_stream over the
 *               orders, refunds and shares by (booked, at, seq), holding
 *               every column the stream reads.
 *   member_events, member_events_mark
 *               the orders and member shares of each member, up to the
 *               seq in the mark: a redeem's check brings it up to date
 *               when the log has grown past it (sqlite_points.c).
 *   plans       plan versions with their effective period.
 *   closes      closed periods with the last event seq ingested at close.
 *   drafts      the settled draft of the earliest open period.
 *   statements, grades, snapshots
 *               what settlement derived, per period. Frozen by triggers
 *               once the period is closed.
 *   networks    a cache of the bindings the last settlements loaded
 *               (rules/network.c).
 *   temp.lines  the scratch lines of an export.
 */
#ifndef REFERRAL_SQLITE_H
#define REFERRAL_SQLITE_H

#include <sqlite3.h>

#include "core.h"
#include "engine.h"

/* The condition of the partial index events_by_ref, which leaves out the
 * orders and shares (types 9 and 11): most of the log, filed under a
 * member or distributor at random, and read by ref1 only for a redeem's
 * balance (sqlite_points.c). A query by ref1 repeats it, prefixed with the
 * table's alias, for SQLite's planner uses a partial index only when the
 * query's condition contains the index's. */
#define BY_REF(t) t "type <> 9 AND " t "type <> 11"

/* The condition of events_stream, which a query of the period's stream
 * repeats: since version 4 BETWEEN, before it an IN list. */
#define STREAM_COND "type BETWEEN 9 AND 11"
#define STREAM_COND_V3 "type IN (9, 10, 11)"

/* Statements kept prepared for the life of the handle. */
enum sqlite_stmt_id {
	SQ_FIND,          /* type, id -> seq, at, booked, ref1, ref2, num, txt1, txt2 */
	SQ_GET,           /* seq -> type, id, at, booked, ref1, ref2, num, txt1, txt2 */
	SQ_INSERT,        /* seq, type, id, at, booked, ref1, ref2, num, txt1, txt2 */
	SQ_BY_REF,        /* ref1, type -> seq, at, booked, ref2, num, txt1 */
	SQ_BINDINGS,      /* member seq -> at, window, distributor of each binding */
	SQ_LAST_BINDING,  /* distributor seq -> the latest start of a binding to her */
	SQ_ROLLBACK,      /* ROLLBACK, prepared: a rollback then needs no memory */
	SQ_COUNT
};

struct sqlite_engine {
	struct engine base;
	sqlite3 *db;
	char *path;
	/* opened with immutable=1: a WAL store in a directory or on a mount
	 * where its -shm cannot be made, read as it is (sqlite.c) */
	int immutable;
	/* inside a transaction that writes: a failure to open a file then is
	 * one to write it */
	int writing;
	/* the file's schema version: SCHEMA_VERSION, or 3 or 4 for a store that
	 * cannot be written, read without the migrations that only rebuild
	 * indexes (sqlite.c) */
	int version;
	sqlite3_stmt *q[SQ_COUNT];
	/* a lookup's texts, lent until the next one */
	struct strbuf row_text;
};

static inline struct sqlite_engine *sq(struct engine *e) { return (struct sqlite_engine *)e; }

/* Records the SQLite error of the handle with some context; returns
 * REFERRAL_EIO ("out of memory" when it is one). */
int sq_fail(struct sqlite_engine *q, const char *what);
/* The same for SQLite's `code` and message `text` of a failure the
 * handle may not hold (a blob's, another connection's). A busy store, one
 * that cannot be written and a full disk get messages naming the store. */
int sq_fail_code(struct sqlite_engine *q, int code, const char *what, const char *text);
int sq_exec(struct sqlite_engine *q, const char *sql);
/* Prepares `sql`, recording the error on failure. */
int sq_prepare(struct sqlite_engine *q, const char *sql, sqlite3_stmt **out);
/* Runs `sql` with ?1 = a and, when it has them, ?2 = b: for statements that
 * return no rows. */
int sq_run(struct sqlite_engine *q, const char *sql, int64_t a, int64_t b, const char *what);
/* A row of SQ_FIND or SQ_GET into *out; its texts are copied to q->row_text. */
int sq_event_row(struct sqlite_engine *q, sqlite3_stmt *s, int first, struct ev_row *out);

/* The operations of each file. */
int sq_prefetch(struct engine *e, const struct prefetch *want);
int sq_find(struct engine *e, int type, const char *id, size_t n, struct ev_row *out);
int sq_get(struct engine *e, int64_t seq, struct ev_row *out);
int sq_append(struct engine *e, const struct ev_row *rows, size_t n);
int sq_count_type(struct engine *e, int type, long *out);
int sq_ids(struct engine *e, int type, int64_t after,
	   int (*cb)(void *ctx, const char *id, size_t n, int64_t seq, int64_t at), void *ctx);
int sq_termination(struct engine *e, int64_t dist, int64_t *at);
int sq_bindings(struct engine *e, int64_t member,
		int (*cb)(void *ctx, int64_t at, int months, int64_t dist), void *ctx);
int sq_last_binding(struct engine *e, int64_t dist, int64_t *at);
int sq_has_sharer(struct engine *e, int64_t member);
int sq_refunds(struct engine *e, int64_t order, int (*cb)(void *ctx, const char *amount),
	       void *ctx);
int sq_sharers(struct engine *e, int64_t from,
	       int (*cb)(void *ctx, int64_t to, int64_t from, int64_t at), void *ctx);
int sq_points_events(struct engine *e, int64_t member, int64_t at_max, points_cb cb, void *ctx);
int sq_member_events_check(struct engine *e, int64_t *member, int64_t *seq);

int sq_network_count(struct engine *e, int64_t after, int64_t limit, size_t *dists,
		     size_t *bindings);
int sq_network_events(struct engine *e, int type, int64_t after, int64_t limit, ev_cb cb,
		      void *ctx);
int sq_next_grades(struct engine *e, int period,
		   int (*cb)(void *ctx, int64_t dist, int next_grade), void *ctx);
int sq_carries(struct engine *e, int period,
	       int (*cb)(void *ctx, int64_t dist, const char *carry), void *ctx);
int sq_statements(struct engine *e, int period, statement_cb cb, void *ctx);
int sq_grades(struct engine *e, int period, grade_cb cb, void *ctx);
int sq_statement_figures(struct engine *e, int lo, int hi,
			 int (*cb)(void *ctx, int64_t dist, long members, const char *sales,
				   long shares), void *ctx);
int sq_ratings(struct engine *e, int64_t before, int64_t limit,
	       int (*cb)(void *ctx, int64_t store, const char *rating), void *ctx);
int sq_put_statements(struct engine *e, const struct statement_row *rows, size_t n);
int sq_put_grades(struct engine *e, const struct grade_row *rows, size_t n);
int sq_cache_find(struct engine *e, int before, int64_t limit, int *period, int64_t *last_seq);
int sq_cache_prune(struct engine *e, int period);

int sq_blob_open(struct engine *e, enum blob_kind kind, int period, struct blob_src **out);
int sq_blob_put(struct engine *e, enum blob_kind kind, int period, int64_t last_seq, size_t size,
		struct blob_dst **out);

int sq_stream_open(struct engine *e, int period, int64_t limit, struct ev_stream **out);
int sq_stream_next(struct ev_stream *s, const struct stream_row **rows, int *n);
void sq_stream_close(struct ev_stream *s);
int sq_stream_count(struct engine *e, int period, int64_t limit, long long *out);

int sq_lines_reset(struct engine *e);
int sq_put_lines(struct engine *e, const struct line_row *rows, size_t n);
int sq_rows_open(struct engine *e, enum export_kind kind, int period, struct engine_rows **out);
int sq_rows_next(struct engine_rows *r, const char *const **cols);
void sq_rows_close(struct engine_rows *r);
void sq_id_of(struct engine *e, int64_t seq, char *buf, size_t cap);
int sq_events(struct engine *e, int type, ev_cb cb, void *ctx);

#endif
