/*
 * engine.h — the storage interface: what the rules and the public calls
 * ask of a store, and nothing shaped like SQL above it.
 *
 * A store engine is a table of operations (struct engine_ops) over an
 * engine handle (struct engine), in the manner of libgit2's odb backends
 * and SQLite's VFS: one engine a folder of files here, sqlite*.c and
 * postgres*.c. The rules (rules/) and the public calls (api/) only ever
 * call these operations; an engine owns its schema, its queries, its
 * transactions and its locks.
 *
 * Conventions
 *  - Every operation returns 0 or a REFERRAL_* status, with the message
 *    recorded on the store (st_fail); lookups that may find nothing
 *    return 1 (found) or 0 (not found), or a negative status.
 *  - Rows handed to a callback, and strings in them, are lent for the
 *    duration of the callback. A callback returns 0 to go on, or a status
 *    that stops the iteration and is returned by the operation.
 *  - Seqs are the log's ingest sequence: 1, 2, 3, ... in the order events
 *    were appended; the batch that appends them assigns them (append()).
 *  - Periods are the integers of timeutil.h; instants are µs UTC.
 *  - Texts of exact values are canonical decimals (decimal.h).
 *  - A callback never calls the engine: what it needs looked up is
 *    gathered and looked up once the iteration is over (an engine may be
 *    streaming the rows over the one connection it has).
 */
#ifndef REFERRAL_ENGINE_H
#define REFERRAL_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "fen.h"

struct referral_store;
struct engine;

/* append(): a key of the rows is already in the log. */
#define ENGINE_EXISTS (-1)

/* ---- rows ------------------------------------------------------------------ */

/* An event as the log keeps it (see core.h for where each type keeps its
 * fields). Refs are the seqs of the entities it names, 0 for none. */
struct ev_row {
	int64_t seq, at, ref1, ref2;
	int type, booked;
	const char *id;
	size_t idlen;
	const char *num, *txt1, *txt2; /* NULL for none */
};

/* An order, refund or share booked in the period being settled. */
struct stream_row {
	int64_t seq, at, ref1;
	fen_t amount;      /* orders and refunds */
	int type, by_dist; /* a share by a distributor */
};

/* A statement as settlement writes it and the store keeps it. */
struct statement_row {
	int period, grade;
	int64_t dist, store;
	long members, shares;             /* what grading sums */
	const char *opening_carry, *commission, *bounty, *override, *accrued, *released, *held,
		*total, *payable, *closing_carry, *sales;
};

struct grade_row {
	int period, grade, next_grade;
	int64_t dist;
	long members, shares;
	const char *sales, *store_rating;
};

/* A line, re-derived for an export (never stored for good). */
struct line_row {
	int period, type;
	int64_t dist, event, order, member, source, binding; /* source 0: none */
	const char *base, *rate, *value;                    /* NULL for none */
};

/* What the points of a member come from: an order, a refund (with the
 * member, instant and booking period of its order), a member's share or a
 * redeem. */
struct points_row {
	int type, booked, order_booked;
	int64_t at, member, order_member, order_at;
	const char *num;       /* amount or points; NULL for a share */
	int by_member;         /* a share: made by a member */
};

/* ---- the callbacks ----------------------------------------------------------- */

typedef int (*ev_cb)(void *ctx, const struct ev_row *row);
typedef int (*period_seq_cb)(void *ctx, int period, int64_t last_seq);
typedef int (*plan_cb)(void *ctx, int effective, const char *body);
typedef int (*statement_cb)(void *ctx, const struct statement_row *row);
typedef int (*grade_cb)(void *ctx, const struct grade_row *row);
typedef int (*points_cb)(void *ctx, const struct points_row *row);

/* ---- transactions ---------------------------------------------------------------- */

enum tx_kind {
	TX_READ,    /* a consistent snapshot, for exports and lookups */
	TX_VERIFY,  /* a snapshot, and no settle or close meanwhile */
	TX_APPEND,  /* an ingest batch: appends never interleave, and no close meanwhile
		     * (from append_lock() on, where the engine has one) */
	TX_SETTLE,  /* a draft: no other settle, close or verify meanwhile */
	TX_CLOSE,   /* a close: as TX_SETTLE, and no append until it ends */
	TX_PLAN     /* adding a plan version */
};

/* Blobs settlement keeps a period: the bounty state at its end, the
 * network cache (rules/network.c), and what is held at its end to be
 * released in later periods (rules/release.c). The snapshot and the holds
 * are frozen with the period; the cache is not. */
enum blob_kind { BLOB_SNAPSHOT, BLOB_NETWORK, BLOB_HOLDS };

/* Reading a blob a chunk at a time: read() gives up to `cap` bytes and 0
 * at the end. */
struct blob_src {
	int (*read)(struct blob_src *src, unsigned char *buf, size_t cap, size_t *got);
	void (*close)(struct blob_src *src);
};

/* Writing a blob of a size known in advance, a chunk at a time. */
struct blob_dst {
	int (*write)(struct blob_dst *dst, const unsigned char *buf, size_t n);
	/* ends the blob: 0 once every byte announced was written */
	int (*finish)(struct blob_dst *dst);
	void (*close)(struct blob_dst *dst);
};

/* The orders, refunds and shares of a period, in (at, seq) order. */
struct ev_stream;

/* A cursor over the rows of an export, each column a text (NULL: empty). */
struct engine_rows;

enum export_kind {
	EXPORT_STATEMENTS,  /* period, distributor, store, grade, the figures ...  */
	EXPORT_LINES,       /* from the scratch lines: period, distributor, type, event, ... */
	EXPORT_GRADES,
	EXPORT_MEMBERS      /* member seq, member id, sharer id, by member id */
};

/* What a batch will look up, given to prefetch() before it checks a
 * chunk of lines, so that an engine that pays a round trip per lookup can
 * fetch them all at once. Keys are (type, id); an engine may ignore it. */
struct prefetch {
	size_t n;
	const int *type;
	const char *const *id;
	const size_t *idlen;
};

struct engine_ops {
	const char *name;  /* "sqlite", "postgresql" */

	/* Releases the handle and everything it holds; rolls back an open
	 * transaction. */
	void (*free)(struct engine *e);

	/* ---- the store -------------------------------------------------------- */

	/* Makes the schema and stores the first plan in one transaction.
	 * REFERRAL_ESTATE when the place already holds a store or other data. */
	int (*create)(struct engine *e, const char *plan_json, int start_period);
	/* Checks an existing store and migrates an older schema. */
	int (*open)(struct engine *e);

	int (*begin)(struct engine *e, enum tx_kind kind);
	/* Makes a batch exclusive when begin(TX_APPEND) leaves that for later
	 * (NULL when begin makes it so). Until it returns, a batch may read
	 * what is committed but must not append; from then on no other batch
	 * appends and no close runs until the batch ends, and reads see every
	 * batch committed before. Batches commit in the order they take it,
	 * so their seqs commit in ascending order. */
	int (*append_lock)(struct engine *e);
	int (*commit)(struct engine *e);
	void (*rollback)(struct engine *e); /* without a transaction: nothing */

	/* Plan versions in the order added. */
	int (*plans)(struct engine *e, plan_cb cb, void *ctx);
	int (*plan_add)(struct engine *e, int effective, const char *body);
	/* Closed periods ascending, with the last seq each saw; the settled
	 * draft likewise. */
	int (*closes)(struct engine *e, period_seq_cb cb, void *ctx);
	int (*drafts)(struct engine *e, period_seq_cb cb, void *ctx);
	/* The largest seq in the log, 0 when empty. */
	int (*last_seq)(struct engine *e, int64_t *out);
	/* Removes what a draft of `period` wrote: its statements, grades,
	 * snapshot, and the network caches of it and later. */
	int (*clear_draft)(struct engine *e, int period);
	int (*record_draft)(struct engine *e, int period, int64_t last_seq);
	/* Records the close, and drops the drafts up to it. */
	int (*record_close)(struct engine *e, int period, int64_t last_seq);

	/* ---- the log: what ingest checks a line against ------------------------ */

	int (*prefetch)(struct engine *e, const struct prefetch *want); /* may be NULL */
	/* The event (type, id): 1 with its row, 0 if none. */
	int (*find)(struct engine *e, int type, const char *id, size_t n, struct ev_row *out);
	/* The event `seq`: 1 with its row, 0 if none. */
	int (*get)(struct engine *e, int64_t seq, struct ev_row *out);
	/* Appends rows whose seqs follow the log's last one, in order, inside
	 * the batch's transaction. ENGINE_EXISTS (nothing appended) when the
	 * key of a row is already stored, which the batch then looks at. */
	int (*append)(struct engine *e, const struct ev_row *rows, size_t n);
	/* The number of events of a type, and the ids of those with a seq
	 * above `after` (0: all of them), for the entity caches. */
	int (*count_type)(struct engine *e, int type, long *out);
	int (*ids)(struct engine *e, int type, int64_t after,
		   int (*cb)(void *ctx, const char *id, size_t n, int64_t seq, int64_t at), void *ctx);
	/* The termination instant of distributor `dist`: 1 with it, 0 if none. */
	int (*termination)(struct engine *e, int64_t dist, int64_t *at);
	/* Every binding of member `member` (the member event that bound her
	 * and her binds): its start, window in months and distributor. */
	int (*bindings)(struct engine *e, int64_t member,
			int (*cb)(void *ctx, int64_t at, int months, int64_t dist), void *ctx);
	/* The latest start of a binding to distributor `dist`: 1 with it, 0 if none. */
	int (*last_binding)(struct engine *e, int64_t dist, int64_t *at);
	/* Whether member `member` has a sharer: 1 or 0. */
	int (*has_sharer)(struct engine *e, int64_t member);
	/* The amounts of the refunds of order `order`. */
	int (*refunds)(struct engine *e, int64_t order, int (*cb)(void *ctx, const char *amount),
		       void *ctx);

	/* ---- points ------------------------------------------------------------ */

	/* Every share_benefits (to, from, at); with `from` > 0, only those
	 * naming her as the sharer. */
	int (*sharers)(struct engine *e, int64_t from,
		       int (*cb)(void *ctx, int64_t to, int64_t from, int64_t at), void *ctx);
	/* Every order, refund, member share and redeem; with `member` > 0 only
	 * those of her and of the members she shares with (as sharer), with
	 * at <= at_max. */
	int (*points_events)(struct engine *e, int64_t member, int64_t at_max, points_cb cb,
			     void *ctx);
	/* Where member_events, the cache of each member's orders and member
	 * shares up to its mark, and the log disagree: 1 with the member and
	 * the event's seq of the first disagreement found (both 0: the mark is
	 * not one row), 0 when they agree (or the store has no such cache), or
	 * a negative status. */
	int (*member_events_check)(struct engine *e, int64_t *member, int64_t *seq);

	/* ---- settlement -------------------------------------------------------- */

	/* The distributors up to `limit`, and the member and bind events in
	 * (after, limit]. */
	int (*network_count)(struct engine *e, int64_t after, int64_t limit, size_t *dists,
			     size_t *bindings);
	/* The events of a network type (store_rating .. bind) with seq in
	 * (after, limit], ascending. */
	int (*network_events)(struct engine *e, int type, int64_t after, int64_t limit, ev_cb cb,
			      void *ctx);
	/* The period's orders, refunds and shares up to `limit`. */
	int (*stream_open)(struct engine *e, int period, int64_t limit, struct ev_stream **out);
	/* The next rows, *n of them, 0 at the end. */
	int (*stream_next)(struct ev_stream *s, const struct stream_row **rows, int *n);
	void (*stream_close)(struct ev_stream *s);
	/* How many rows the stream of the period yields. */
	int (*stream_count)(struct engine *e, int period, int64_t limit, long long *out);
	/* The next grades frozen at the close of `period`. */
	int (*next_grades)(struct engine *e, int period,
			   int (*cb)(void *ctx, int64_t dist, int next_grade), void *ctx);
	/* The closing carries of `period` that are not zero, by ascending dist. */
	int (*carries)(struct engine *e, int period,
		       int (*cb)(void *ctx, int64_t dist, const char *carry), void *ctx);
	/* The statements of `period` (every closed period when period < 0), by
	 * ascending (period, dist). */
	int (*statements)(struct engine *e, int period, statement_cb cb, void *ctx);
	int (*grades)(struct engine *e, int period, grade_cb cb, void *ctx);
	/* The figures grading sums of the statements of periods lo..hi. */
	int (*statement_figures)(struct engine *e, int lo, int hi,
				 int (*cb)(void *ctx, int64_t dist, long members, const char *sales,
					   long shares), void *ctx);
	/* Store ratings with at < before and seq <= limit, in (at, seq) order. */
	int (*ratings)(struct engine *e, int64_t before, int64_t limit,
		       int (*cb)(void *ctx, int64_t store, const char *rating), void *ctx);
	int (*put_statements)(struct engine *e, const struct statement_row *rows, size_t n);
	int (*put_grades)(struct engine *e, const struct grade_row *rows, size_t n);

	/* The newest network cache of a period before `before` whose last seq
	 * is at most `limit`: 1 with its period and last seq, 0 if none. */
	int (*cache_find)(struct engine *e, int before, int64_t limit, int *period,
			  int64_t *last_seq);
	/* Deletes the network caches of periods before `period`. */
	int (*cache_prune)(struct engine *e, int period);
	/* Opens a stored blob: 1 with *out, 0 if there is none. */
	int (*blob_open)(struct engine *e, enum blob_kind kind, int period, struct blob_src **out);
	/* Stores a blob of `size` bytes (a network cache with its last seq). */
	int (*blob_put)(struct engine *e, enum blob_kind kind, int period, int64_t last_seq,
			size_t size, struct blob_dst **out);

	/* ---- exports -------------------------------------------------------- */

	/* Empties the scratch lines, then adds to them. */
	int (*lines_reset)(struct engine *e);
	int (*put_lines)(struct engine *e, const struct line_row *rows, size_t n);
	/* A cursor over an export's rows in their order; `period` 0 for every
	 * period. Columns: see enum export_kind. */
	int (*rows_open)(struct engine *e, enum export_kind kind, int period,
			 struct engine_rows **out);
	/* 1 with the row's columns in cols, 0 at the end. */
	int (*rows_next)(struct engine_rows *r, const char *const **cols);
	void (*rows_close)(struct engine_rows *r);
	/* Every event of `type`, in seq order, with all its fields (the
	 * stores, distributors... an export lists). */
	int (*events)(struct engine *e, int type, ev_cb cb, void *ctx);
	/* The id of the event `seq`, for messages: into buf, "?" if none. */
	void (*id_of)(struct engine *e, int64_t seq, char *buf, size_t cap);
};

struct engine {
	const struct engine_ops *ops;
	struct referral_store *st;
};

/* The engines. `where` is a file path (SQLite) or a postgresql:// URI;
 * *out is set even on failure when memory allowed (NULL otherwise), for
 * the caller to free. `readonly`: the handle will only read. */
int sqlite_engine_new(struct referral_store *st, const char *where, int create,
		      struct engine **out);
int postgres_engine_new(struct referral_store *st, const char *where, int create,
			struct engine **out);
/* Whether `where` names a PostgreSQL store. */
int engine_is_postgres(const char *where);

#endif
