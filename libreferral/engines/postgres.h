/*
 * postgres.h — the PostgreSQL engine's own declarations, shared by its files:
 *   postgres.c         the handle, the store's name (URI and brand), schema,
 *                      transactions and locks, plans and periods, errors and
 *                      the table of operations
 *   postgres_log.c     the event log: appending, and what ingest looks up
 *   postgres_settle.c  what settlement and grading read and write
 *   postgres_blob.c    blobs kept as bytea parts of at most 1 MiB
 *   postgres_stream.c  the period's events, read through a cursor in chunks
 *   postgres_export.c  the exports' rows (cursors), the scratch lines (a TEMP
 *                      table filled by COPY), the events of a type
 *
 * Storage layout (schema version 2; see postgres.c for the DDL). Each brand
 * is a schema of its own, named as the brand (brand=acme: schema "acme"),
 * holding:
 *   meta        one row: the schema version.
 *   events      the append-only log: seq (the primary key), type, id, at
 *               (µs UTC), booked, ref1, ref2, num, txt1, txt2, as in the
 *               SQLite engine. Texts are TEXT COLLATE "C": stored exactly as
 *               given, compared and sorted by their bytes. Indexes: the key
 *               (type, id), unique; events_by_ref (ref1, type) over every
 *               type but orders and shares (PG_BY_REF); (ref2, type);
 *               events_network (type, seq) over the network's types;
 *               events_stream (booked, at, seq) over the orders, refunds and
 *               shares, including what the stream reads.
 *   member_events, member_events_mark
 *               the orders and member shares of each member, up to the
 *               seq in the mark: a redeem's check brings it up to date
 *               when the log has grown past it (postgres_log.c).
 *   plans, closes, drafts, statements, grades
 *               as in the SQLite engine; exact values are TEXT.
 *   snapshots, holds, networks
 *               blobs, one row per part (period, part, data bytea).
 * Triggers reject UPDATE, DELETE and TRUNCATE of events and closes, and any
 * write to statements, grades, snapshots and holds of a closed period; they
 * keep member_events what the log says up to its mark, which only moves
 * forward.
 *
 * Appends: one prepared INSERT ... ON CONFLICT DO NOTHING an event, or,
 * for an event whose key prefetch() found missing, a line of the pending
 * COPY text sent before the next statement that may read it (pg_flush,
 * pg_flush_for), at the latest at commit.
 *
 * Locks (advisory, keyed by the schema's oid, so brands never block one
 * another): the append lock, transaction-scoped, taken by a batch's
 * append_lock() (after it loaded its id caches) and by TX_CLOSE and
 * TX_PLAN at begin; the load lock, session-scoped, around the loading of
 * a batch's id cache before it holds the append lock (pg_ids); the settle
 * lock, session-scoped around the transaction, taken by TX_SETTLE,
 * TX_CLOSE and TX_VERIFY with a bounded wait (docs/design.md, "PostgreSQL
 * engine").
 */
#ifndef REFERRAL_POSTGRES_H
#define REFERRAL_POSTGRES_H

#include <libpq-fe.h>

#include "core.h"
#include "engine.h"
#include "idmap.h"

#define PG_LOCK_APPEND 1
#define PG_LOCK_SETTLE 2
#define PG_LOCK_LOAD 3

/* The condition of the partial index events_by_ref, which leaves out the
 * orders and shares (types 9 and 11): most of the log, filed under a
 * member or distributor at random, and read by ref1 only for a redeem's
 * balance, through member_events (postgres_log.c). A query by ref1
 * repeats it, prefixed with the table's alias, so that the planner can
 * prove the index's condition whatever the type it is given (a parameter,
 * or `type + 0 = N`, which it cannot prove anything from). */
#define PG_BY_REF(t) t "type <> 9 AND " t "type <> 11"

/* A refund of an order, by the order's seq: its amount (owned or lent, as
 * its list says). */
struct pg_refund {
	int64_t order;
	char *amount;
};

struct pg_engine {
	struct engine base;
	PGconn *conn;
	char *brand;       /* the brand, which is the schema's name */
	char *conninfo;    /* the URI without brand=, for libpq */
	char role[64];     /* current_user, for the rights messages */
	unsigned ns_oid;   /* the schema's oid: the lock keys' low half */
	int ns_usage;      /* the role may use the schema */
	int settle_locked; /* holds the session-level settle lock */
	/* holds the transaction's append lock: the batch may append, and a
	 * redeem's check may bring member_events up to date (postgres_log.c) */
	int append_locked;
	int load_locked;   /* holds the session-level load lock (pg_ids) */
	/* the brand's schema version: SCHEMA_VERSION, or 1 for a store the
	 * role may not migrate, read and written as it is (postgres.c) */
	int version;
	unsigned cursors;  /* names the next cursor */
	const char *sql;   /* the statement being run, for the rights messages */
	char state[6];     /* the SQLSTATE of the last failure, "" for none */
	int prepared;      /* the lookups and the insert are prepared */
	PGresult *row_res; /* the last lookup's row, lent until the next one */
	struct pg_prefetched *pre; /* what prefetch() fetched (postgres_log.c) */
	/* appended events not sent yet: COPY text, sent before the next
	 * statement of the connection (pg_flush) */
	struct strbuf pending;
	size_t npending;
	unsigned pending_types; /* bit t: an event of type t is pending */
	int64_t pending_from;   /* the first pending seq */
	int keep_pending;       /* the next statement reads nothing pending */
	/* the pending refunds (amounts owned), so that a lookup of another
	 * order's refunds need not send them first, and prefetch() knows
	 * what the server does not yet hold */
	struct pg_refund *pending_refunds;
	size_t npending_refunds, cap_pending_refunds;
	/* the members with a bind pending, so that a lookup of another
	 * member's bindings need not send them first */
	struct idmap pending_binds;
	/* a COPY of pending events was sent and its result not read yet
	 * (pg_idle) */
	int copy_inflight;
	const char *copy_sql, *copy_what; /* of the COPY in flight, for its failure */
	/* the answers of first_by_ref() this transaction (postgres_log.c) */
	struct pg_memo *memo;
	struct ev_stream *stream; /* the stream open, if any */
};

static inline struct pg_engine *pg(struct engine *e) { return (struct pg_engine *)e; }

/* Releases the session-level lock of `kind` if *held, quietly; clears
 * *held. */
void pg_session_unlock(struct pg_engine *p, int kind, int *held);
/* The advisory lock key of `kind` (PG_LOCK_*) for the engine's brand. */
long long pg_lock_key(const struct pg_engine *p, int kind);

/* Records the failure of `res` (NULL: the connection's) with some context
 * and returns its status: REFERRAL_EIO, with a message naming the missing
 * right for SQLSTATE 42501 and the lost connection for class 08 or a
 * broken connection; REFERRAL_ESTATE for lock timeouts, deadlocks and
 * serialisation failures. Clears `res`. */
int pg_fail(struct pg_engine *p, PGresult *res, const char *what);

/* Runs `sql` with n text parameters (NULL values are SQL NULLs) and
 * returns the result when its status is the one expected (tuples for a
 * query, command OK otherwise), or NULL with the failure recorded in *rc. */
PGresult *pg_exec(struct pg_engine *p, const char *sql, int n, const char *const *vals,
		  const char *what, int *rc);
/* Runs a query and reads two integers of its first row into *a and *b:
 * 1, 0 when it gives no row, or a negative status. */
int pg_first_row(struct pg_engine *p, const char *sql, int n, const char *const *vals,
		 const char *what, int64_t *a, int64_t *b);
/* Runs a command: 0 or the status. */
int pg_cmd(struct pg_engine *p, const char *sql, const char *what);
/* Runs `sql` with $1 = a and, when it names it, $2 = b (integers). */
int pg_run(struct pg_engine *p, const char *sql, int64_t a, int64_t b, const char *what);
/* Runs `sql` in single-row mode, calling row(ctx, res, 0) for each row;
 * the rows stay flat in memory. Returns 0, the callback's status, or the
 * failure. */
int pg_each(struct pg_engine *p, const char *sql, int n, const char *const *vals,
	    int (*row)(void *ctx, const PGresult *res, int i), void *ctx, const char *what);
/* Sends rows to `COPY table(columns) FROM STDIN` in text format: put(ctx,
 * i, buf) writes row i, tab-separated and ending in a newline, into buf
 * (pg_copy_field helps). */
int pg_copy(struct pg_engine *p, const char *copy_sql, size_t n,
	    int (*put)(void *ctx, size_t i, struct strbuf *line), void *ctx, const char *what);
/* As pg_copy, but the rows are sent in one message and the COPY's result
 * is read before the connection's next statement (pg_idle), so that the
 * server stores them while the client goes on. */
int pg_copy_async(struct pg_engine *p, const char *copy_sql, size_t n,
		  int (*put)(void *ctx, size_t i, struct strbuf *line), void *ctx, const char *what);
/* Appends a COPY text field (NULL: \N), escaped, and the separator `end`. */
int pg_copy_field(struct strbuf *line, const char *text, char end);
int pg_copy_int(struct strbuf *line, int64_t v, char end);

/* Column helpers: integers of a text result (NULL: 0), texts (NULL stays
 * NULL with pg_text_or_null, "" with pg_text). */
int64_t pg_int(const PGresult *res, int row, int col);
const char *pg_text(const PGresult *res, int row, int col);
const char *pg_text_or_null(const PGresult *res, int row, int col);
/* A decimal text of v into buf (at least 24 bytes). */
const char *pg_itoa(char *buf, int64_t v);
/* Up to four integers as the text parameters of a statement:
 * PG_INTS(iv, a, b) gives {"a", "b"}, lent by iv (a struct pg_ints). */
struct pg_ints {
	char buf[4][24];
	const char *v[4];
};
const char *const *pg_ints(struct pg_ints *b, const int64_t *v, size_t n);
#define PG_INTS(b, ...)                                   \
	pg_ints(&(b), (const int64_t[]){__VA_ARGS__},     \
		sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
/* An event row of a result whose columns are seq, at, booked, ref1, ref2,
 * num, txt1, txt2, type, id from `first`; its texts are lent by `res`. */
void pg_event_row(const PGresult *res, int row, struct ev_row *out);
/* The same from column `first` on. */
void pg_event_row_at(const PGresult *res, int row, int first, struct ev_row *out);
/* A fresh cursor name into buf (at least 32 bytes). */
const char *pg_cursor_name(struct pg_engine *p, char *buf);
/* Closes a cursor, quietly (the store's message is kept). */
void pg_close_cursor(struct pg_engine *p, const char *name);
/* Frees what prefetch() kept (postgres_log.c). */
void pg_prefetch_forget(struct pg_engine *p);
/* Forgets what the transaction's lookups remembered, and the pending
 * events: at the start and the end of every transaction. */
void pg_lookups_forget(struct pg_engine *p);
/* Sends the appended events not sent yet (one COPY): 0 or the failure.
 * Every statement the engine runs calls it first. */
int pg_flush(struct pg_engine *p);
/* Before a lookup that reads only events of the types in `types` (bits)
 * and the event `seq` (0: none): sends what is pending if it may hold any
 * of them, or lets the lookup's statement go before it (keep_pending). */
int pg_flush_for(struct pg_engine *p, unsigned types, int64_t seq);
/* Sends the COPY of `data` without waiting for its result: pg_idle()
 * reads it before the connection's next statement. */
int pg_copy_send(struct pg_engine *p, const char *copy_sql, const char *data, size_t len,
		 const char *what);
/* Reads what the connection still owes (a COPY sent by pg_copy_send, the
 * stream's fetch in flight), so that it can take a statement: 0, or the
 * failure of that COPY. Every function that sends a statement calls it
 * first. */
int pg_idle(struct pg_engine *p);

/* The operations of each file. */
int pg_prefetch(struct engine *e, const struct prefetch *want);
int pg_find(struct engine *e, int type, const char *id, size_t n, struct ev_row *out);
int pg_get(struct engine *e, int64_t seq, struct ev_row *out);
int pg_append(struct engine *e, const struct ev_row *rows, size_t n);
int pg_count_type(struct engine *e, int type, long *out);
int pg_ids(struct engine *e, int type, int64_t after,
	   int (*cb)(void *ctx, const char *id, size_t n, int64_t seq, int64_t at), void *ctx);
int pg_termination(struct engine *e, int64_t dist, int64_t *at);
int pg_bindings(struct engine *e, int64_t member,
		int (*cb)(void *ctx, int64_t at, int months, int64_t dist), void *ctx);
int pg_last_binding(struct engine *e, int64_t dist, int64_t *at);
int pg_has_sharer(struct engine *e, int64_t member);
int pg_refunds(struct engine *e, int64_t order, int (*cb)(void *ctx, const char *amount),
	       void *ctx);
int pg_sharers(struct engine *e, int64_t from,
	       int (*cb)(void *ctx, int64_t to, int64_t from, int64_t at), void *ctx);
int pg_points_events(struct engine *e, int64_t member, int64_t at_max, points_cb cb, void *ctx);
int pg_member_events_check(struct engine *e, int64_t *member, int64_t *seq);

int pg_network_count(struct engine *e, int64_t after, int64_t limit, size_t *dists,
		     size_t *bindings);
int pg_network_events(struct engine *e, int type, int64_t after, int64_t limit, ev_cb cb,
		      void *ctx);
int pg_next_grades(struct engine *e, int period,
		   int (*cb)(void *ctx, int64_t dist, int next_grade), void *ctx);
int pg_carries(struct engine *e, int period,
	       int (*cb)(void *ctx, int64_t dist, const char *carry), void *ctx);
int pg_statements(struct engine *e, int period, statement_cb cb, void *ctx);
int pg_grades(struct engine *e, int period, grade_cb cb, void *ctx);
int pg_statement_figures(struct engine *e, int lo, int hi,
			 int (*cb)(void *ctx, int64_t dist, long members, const char *sales,
				   long shares), void *ctx);
int pg_ratings(struct engine *e, int64_t before, int64_t limit,
	       int (*cb)(void *ctx, int64_t store, const char *rating), void *ctx);
int pg_put_statements(struct engine *e, const struct statement_row *rows, size_t n);
int pg_put_grades(struct engine *e, const struct grade_row *rows, size_t n);
int pg_cache_find(struct engine *e, int before, int64_t limit, int *period, int64_t *last_seq);
int pg_cache_prune(struct engine *e, int period);

int pg_blob_open(struct engine *e, enum blob_kind kind, int period, struct blob_src **out);
int pg_blob_put(struct engine *e, enum blob_kind kind, int period, int64_t last_seq, size_t size,
		struct blob_dst **out);

int pg_stream_open(struct engine *e, int period, int64_t limit, struct ev_stream **out);
int pg_stream_next(struct ev_stream *s, const struct stream_row **rows, int *n);
void pg_stream_close(struct ev_stream *s);
int pg_stream_count(struct engine *e, int period, int64_t limit, long long *out);
/* The order `seq` of a refund of the stream's current chunk: 1 with its
 * row (lent until the next chunk), 0 if the chunk has no such refund. */
int pg_stream_order(struct pg_engine *p, int64_t seq, struct ev_row *out);
/* Reads the result of the stream's fetch in flight, if any, so that the
 * connection can take another statement: every statement sent while a
 * stream is open calls it first. */
void pg_stream_collect(struct pg_engine *p);

int pg_lines_reset(struct engine *e);
int pg_put_lines(struct engine *e, const struct line_row *rows, size_t n);
int pg_rows_open(struct engine *e, enum export_kind kind, int period, struct engine_rows **out);
int pg_rows_next(struct engine_rows *r, const char *const **cols);
void pg_rows_close(struct engine_rows *r);
void pg_id_of(struct engine *e, int64_t seq, char *buf, size_t cap);
int pg_events(struct engine *e, int type, ev_cb cb, void *ctx);

#endif
