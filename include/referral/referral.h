/*
 * libreferral — commission settlement for an "all-round mom" distributor
 * network: events in, monthly statements out, every fen exact.
 *
 * Conventions of this header
 *  - One opaque handle, referral_store, per open store: a SQLite file, or a
 *    brand's store on a PostgreSQL server (see referral_store_create()). A
 *    handle is used by one thread at a time; distinct handles may be used in
 *    parallel. The library keeps no global mutable state.
 *  - Every call that can fail returns an int status from enum referral_status.
 *    The status values are the exit-code families of the `referral` command.
 *    After a failure, referral_errmsg(store) describes it (the text is owned
 *    by the store and valid until the next call on it).
 *  - Money, rates and points cross the ABI as canonical decimal strings
 *    ("119.5685", "-0.005", "80.00"), never as floating point.
 *  - Strings the library returns through `const char *` are lent: they stay
 *    valid until the next call on the same object unless stated otherwise.
 *  - The library never aborts, exits or prints. The one exception is GMP:
 *    when GMP cannot allocate memory it aborts the process, and offers no way
 *    to recover.
 */
#ifndef REFERRAL_REFERRAL_H
#define REFERRAL_REFERRAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(REFERRAL_BUILDING)
#define REFERRAL_API __attribute__((visibility("default")))
#else
#define REFERRAL_API
#endif
#if defined(__GNUC__)
#define REFERRAL_NODISCARD __attribute__((warn_unused_result))
#else
#define REFERRAL_NODISCARD
#endif

#define REFERRAL_VERSION_MAJOR 0
#define REFERRAL_VERSION_MINOR 2
#define REFERRAL_VERSION_PATCH 0
#define REFERRAL_VERSION "0.2.0"
/* REFERRAL_VERSION_NUMBER is major*10000 + minor*100 + patch. */
#define REFERRAL_VERSION_NUMBER 200

/* The version of the library actually loaded, e.g. "0.1.0". Static string. */
REFERRAL_API const char *referral_version(void);
/* The same as REFERRAL_VERSION_NUMBER, for the library actually loaded. */
REFERRAL_API int referral_version_number(void);

/*
 * Status codes. Append-only: a retired value keeps its number.
 */
enum referral_status {
	REFERRAL_OK = 0,
	REFERRAL_EUSAGE = 2,   /* a bad argument: NULL handle, malformed period string, unknown export name */
	REFERRAL_EINPUT = 3,   /* rejected input: a bad event line or plan */
	REFERRAL_ESTATE = 4,   /* refused by state: period closed or not the earliest open,
	                          conflicting duplicate, store already initialised */
	REFERRAL_EIO = 5,      /* storage, I/O or out-of-memory failure */
	REFERRAL_EVERIFY = 6   /* verify found a discrepancy */
};

/* A short static English name of a status ("ok", "usage", "input", ...). */
REFERRAL_API const char *referral_status_name(int status);

typedef struct referral_store referral_store;

/*
 * Creates a new store at `path` with its first plan, given as the JSON text
 * `plan_json` (its keys and validation: docs/formats.md, section 3). The
 * first period open is the plan's start_period. `path` is a SQLite file
 * (created if missing), or a PostgreSQL connection URI "postgresql://..." or
 * "postgres://..." with the query parameter brand=NAME ([a-z][a-z0-9_]{0,62},
 * default "main"): the brand's store, a schema of its own in that database
 * (docs/formats.md, "Stores").
 *
 * On return *out is set to a handle, even on most failures (like
 * sqlite3_open), so that referral_errmsg(*out) can tell what went wrong; the
 * caller always releases it with referral_store_free(). *out is NULL only
 * when memory ran out before a handle existed.
 *
 * Errors: REFERRAL_EUSAGE (a malformed brand), REFERRAL_EINPUT (the plan is
 * invalid; the message names the key), REFERRAL_ESTATE (the file already
 * holds a store or other data; the brand's schema exists), REFERRAL_EIO.
 * On any error nothing is written.
 */
REFERRAL_API REFERRAL_NODISCARD int referral_store_create(referral_store **out, const char *path,
                                                          const char *plan_json);

/*
 * Opens an existing store, migrating its schema to the current version if it
 * is older. The *out convention is that of referral_store_create().
 * Errors: REFERRAL_EIO (missing file, not a store, newer schema, I/O).
 */
REFERRAL_API REFERRAL_NODISCARD int referral_store_open(referral_store **out, const char *path);

/* Closes the store and frees the handle. Accepts NULL. Any batch still open on
 * it must have been freed first. */
REFERRAL_API void referral_store_free(referral_store *store);

/* The message of the last failed call on `store` ("" if none; "out of memory"
 * for a NULL store). Lent: valid until the next call on the store. */
REFERRAL_API const char *referral_errmsg(const referral_store *store);

/*
 * Adds a plan version effective from `from_period` ("YYYY-MM"), which must be
 * no earlier than the earliest open period. utc_offset and start_period must
 * equal the first plan's.
 * Errors: REFERRAL_EUSAGE (malformed period), REFERRAL_EINPUT (invalid plan),
 * REFERRAL_ESTATE (from_period already closed), REFERRAL_EIO.
 */
REFERRAL_API REFERRAL_NODISCARD int referral_plan_add(referral_store *store, const char *plan_json,
                                                      const char *from_period);

/*
 * Progress of long runs. When set, `fn` is called now and then with the
 * name of the phase and how far it has come:
 *   "ingest"  referral_batch_add_file(): bytes of the file read, of `total`
 *             (the file's size; -1 when it is not a regular file)
 *   "settle", "close", "verify"
 *             the events of the period being settled, of `total` (the
 *             period's events, counted when the pass starts)
 * `total` is -1 when it is not known. `done` only grows within a phase and
 * reaches `total` at the phase's end, where fn is called once more. `fn`
 * must not call back into the store. NULL removes it. Returns REFERRAL_OK.
 */
typedef void (*referral_progress_fn)(void *ctx, const char *phase, long long done,
                                     long long total);
REFERRAL_API int referral_set_progress(referral_store *store, referral_progress_fn fn, void *ctx);

/*
 * The earliest open period as "YYYY-MM" into buf (at least 8 bytes).
 */
REFERRAL_API REFERRAL_NODISCARD int referral_open_period(referral_store *store, char *buf, size_t cap);

/* ------------------------------------------------------------------------
 * Ingestion: one atomic batch of events.
 *
 *   referral_batch *b;
 *   referral_batch_begin(store, &b, "orders.jsonl");
 *   referral_batch_add_json(b, line, len, lineno);    -- repeatedly
 *   rc = referral_batch_commit(b);                    -- all or nothing
 *   referral_batch_free(b);
 *
 * Lines are validated as they are added (against the store and the earlier
 * lines of the batch) and held in an open transaction of the store, in which
 * no other batch appends meanwhile; commit makes them durable only if every
 * line was good. Memory does not grow with the
 * number of lines. While a batch is open no other call may be made on its
 * store.
 * ------------------------------------------------------------------------ */

typedef struct referral_batch referral_batch;

enum referral_event_type {
	REFERRAL_EV_STORE = 1,
	REFERRAL_EV_STORE_RATING = 2,
	REFERRAL_EV_DISTRIBUTOR = 3,
	REFERRAL_EV_STORE_CHANGE = 4,
	REFERRAL_EV_TERMINATE = 5,
	REFERRAL_EV_MEMBER = 6,
	REFERRAL_EV_BIND = 7,
	REFERRAL_EV_SHARE_BENEFITS = 8,
	REFERRAL_EV_ORDER = 9,
	REFERRAL_EV_REFUND = 10,
	REFERRAL_EV_SHARE = 11,
	REFERRAL_EV_REDEEM = 12
};

/*
 * An event given as C strings, for callers who do not hold JSON. Set `type`,
 * `id`, `at` and the fields of that type (docs/formats.md, section 2); leave
 * the others NULL.
 * For the fields that may be null (`recruiter` of a distributor, `distributor`
 * of a member) NULL means null. A share sets exactly one of `distributor` and
 * `member`. Money, rates, ratings and points are decimal strings.
 */
typedef struct referral_event {
	int type;                 /* enum referral_event_type */
	const char *id;
	const char *at;           /* "2026-01-10T12:00:00+08:00" */
	const char *name, *region;      /* store */
	const char *kind;               /* distributor: mom, doctor, practitioner */
	const char *store;              /* store_rating, distributor, store_change */
	const char *recruiter;          /* distributor */
	const char *distributor;        /* store_change, terminate, member, bind, share */
	const char *member;             /* bind, order, share, redeem */
	const char *from, *to;          /* share_benefits */
	const char *order;              /* refund */
	const char *amount;             /* order, refund */
	const char *rating;             /* store_rating */
	const char *points;             /* redeem */
} referral_event;

/*
 * Opens a batch on `store`. `source` names the input in error messages
 * (FILE in "FILE:LINE: message"; "-" for standard input); it is copied.
 * Errors: REFERRAL_EUSAGE (a batch is already open on this store),
 * REFERRAL_EIO (also when another connection holds the write lock for
 * more than 5 seconds). On success *out owns a batch to release with
 * referral_batch_free().
 */
REFERRAL_API REFERRAL_NODISCARD int referral_batch_begin(referral_store *store, referral_batch **out,
                                                         const char *source);

/*
 * Adds one JSON Lines line (without or with its trailing newline; `len`
 * bytes at `json`). `line` is its physical line number, used in messages.
 * A blank line is skipped. Returns REFERRAL_OK when the line was accepted or
 * skipped, REFERRAL_EINPUT or REFERRAL_ESTATE when it was rejected (the batch
 * records the message and goes on: add the remaining lines so that every bad
 * line is reported), REFERRAL_EIO on a storage failure (the batch is then
 * dead: only referral_batch_free() is left to do).
 */
REFERRAL_API int referral_batch_add_json(referral_batch *batch, const char *json, size_t len,
                                         long line);

/* Adds one event given as C strings; otherwise as referral_batch_add_json(). */
REFERRAL_API int referral_batch_add_event(referral_batch *batch, const referral_event *ev, long line);

/*
 * Reads `path` ("-" for standard input) as JSON Lines and adds every line.
 * The input is inflated when it is gzip (its first two bytes are 1F 8B,
 * whatever its name); a UTF-8 byte order mark at its very start is skipped.
 * Returns REFERRAL_OK (bad lines are recorded in the batch; see
 * referral_batch_commit()), or REFERRAL_EIO: when the file cannot be
 * opened, nothing was added; when it cannot be read to its end or is not a
 * valid gzip stream ("FILE: not a valid gzip stream: ..."), the batch is
 * dead, as after a storage failure, so that no part of it is committed.
 */
REFERRAL_API int referral_batch_add_file(referral_batch *batch, const char *path);

/*
 * Stores the batch whole if every line was good, or nothing.
 * Returns REFERRAL_OK, REFERRAL_EINPUT (some line was bad), REFERRAL_ESTATE
 * (every bad line was a conflicting duplicate) or REFERRAL_EIO.
 * A batch is committed at most once.
 */
REFERRAL_API REFERRAL_NODISCARD int referral_batch_commit(referral_batch *batch);

/* Counts of the batch so far: lines stored (or to be stored), identical
 * duplicates skipped, bad lines (all of them, also past the first 100). */
REFERRAL_API long referral_batch_ingested(const referral_batch *batch);
REFERRAL_API long referral_batch_duplicates(const referral_batch *batch);
REFERRAL_API long referral_batch_error_count(const referral_batch *batch);
/* The i-th recorded bad line as "FILE:LINE: message", for i below
 * min(error_count, 100); NULL otherwise. Lent until referral_batch_free(). */
REFERRAL_API const char *referral_batch_error(const referral_batch *batch, long i);
/* Rolls back anything uncommitted and frees the batch. Accepts NULL. */
REFERRAL_API void referral_batch_free(referral_batch *batch);

/* ------------------------------------------------------------------------
 * Settlement lifecycle (docs/design.md, "How data moves"). `period` is
 * "YYYY-MM".
 * ------------------------------------------------------------------------ */

/*
 * Computes the draft of `period`, which must be the earliest open period,
 * replacing any earlier draft.
 * Errors: REFERRAL_EUSAGE (malformed period), REFERRAL_ESTATE (closed or not
 * the earliest open), REFERRAL_EIO.
 */
REFERRAL_API REFERRAL_NODISCARD int referral_settle(referral_store *store, const char *period);

/*
 * Settles `period` (the earliest open), freezes its lines and statements,
 * grades its distributors and opens the next period, in one transaction.
 * Errors as referral_settle().
 */
REFERRAL_API REFERRAL_NODISCARD int referral_close(referral_store *store, const char *period);

/*
 * Re-derives every closed period from the events ingested before it closed
 * and compares with what was frozen; checks for every distributor that
 * nothing was lost or created: her payables plus her last closing carry
 * equal the exact sum of her lines (docs/formats.md, section 4). Returns
 * REFERRAL_OK or REFERRAL_EVERIFY with the first discrepancy in
 * referral_errmsg(); REFERRAL_EIO on failure.
 */
REFERRAL_API REFERRAL_NODISCARD int referral_verify(referral_store *store);

/* ------------------------------------------------------------------------
 * Reading results: a cursor over the rows of an export (the columns, their
 * order and forms: docs/formats.md, section 5).
 *
 *   referral_rows *r;
 *   referral_rows_open(store, &r, "statements", "2026-01");
 *   while (referral_rows_next(r) == 1)
 *       use referral_rows_value(r, i) for i < referral_rows_columns(r);
 *   referral_rows_free(r);
 *
 * Rows come sorted as the export is. Memory does not grow with the number
 * of rows (members is the exception: it holds one entry per member).
 * Lines are not stored: opening "lines" re-derives them, one settlement pass
 * per period asked for, into a temporary table on disk, then reads it
 * sorted. That takes about as long as closing the period did.
 * ------------------------------------------------------------------------ */

typedef struct referral_rows referral_rows;

/*
 * Opens a cursor over `table`: "statements", "lines", "grades", "members",
 * "payouts", "stores", "distributors" or "tree" (docs/formats.md,
 * "Exports"). `period` ("YYYY-MM") restricts
 * statements, lines, grades and payouts to one period; NULL means every
 * period that has them. Ignored for members. Payouts are the statements
 * whose payable is above 0, with the income tax withheld under the plan's
 * withholding and the net.
 * Errors: REFERRAL_EUSAGE (unknown table, malformed period), REFERRAL_EIO.
 * On success *out owns the cursor; release it with referral_rows_free().
 */
REFERRAL_API REFERRAL_NODISCARD int referral_rows_open(referral_store *store, referral_rows **out,
                                                       const char *table, const char *period);
/*
 * Options of an export, for referral_rows_open_ext() and
 * referral_export_ext(): a versioned struct, so that options can be added
 * without changing a signature. Set it up with referral_export_options_init()
 * (or REFERRAL_EXPORT_OPTIONS_INIT), then set the fields wanted:
 *
 *   referral_export_options o;
 *   referral_export_options_init(&o, REFERRAL_EXPORT_OPTIONS_VERSION);
 *   const char *ids[] = {"D1", "R1"};
 *   o.period = "2026-01";
 *   o.distributors = ids;
 *   o.ndistributors = 2;
 *
 * Strings are the caller's and only read during the call.
 */
#define REFERRAL_EXPORT_OPTIONS_VERSION 1
typedef struct referral_export_options {
	unsigned int version;             /* REFERRAL_EXPORT_OPTIONS_VERSION */
	/* "YYYY-MM": statements, lines, grades and payouts of that period
	 * only; NULL for every period that has them. Ignored by the other
	 * tables. */
	const char *period;
	/* referral_export_ext(): "csv" (also NULL), "json", or "dot" (the tree
	 * only, for Graphviz). Ignored by referral_rows_open_ext(). */
	const char *format;
	/* When ndistributors > 0, only the rows of these distributors: the
	 * rows whose `distributor` column is one of them (statements, lines,
	 * grades, payouts, distributors), or their subtrees (tree: each one and
	 * everyone she recruited, directly or not). Each must be a distributor
	 * of the store, else REFERRAL_EINPUT; stores and members have no
	 * distributor to choose (REFERRAL_EUSAGE). */
	const char *const *distributors;
	size_t ndistributors;
	/* referral_export_ext(): non-zero writes a UTF-8 byte order mark
	 * (EF BB BF) first, for spreadsheets that need one to read UTF-8. */
	int bom;
} referral_export_options;
#define REFERRAL_EXPORT_OPTIONS_INIT {REFERRAL_EXPORT_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0}

/* Sets *opts to the defaults of `version` (every field empty). Returns
 * REFERRAL_OK, or REFERRAL_EUSAGE for a NULL opts or a version this library
 * does not know. */
REFERRAL_API int referral_export_options_init(referral_export_options *opts, unsigned int version);

/*
 * referral_rows_open() with options: also "stores", "distributors" and
 * "tree" (docs/formats.md, "Stores, distributors and the tree"), and the
 * rows of some distributors only. NULL opts means the defaults.
 * Errors: those of referral_rows_open(); REFERRAL_EUSAGE (options of an
 * unknown version, distributors asked of stores or members), REFERRAL_EINPUT
 * (a distributor asked for does not exist).
 */
REFERRAL_API REFERRAL_NODISCARD int referral_rows_open_ext(referral_store *store,
							   referral_rows **out, const char *table,
							   const referral_export_options *opts);

/* Number of columns and their names (the CSV header). Names are static. */
REFERRAL_API int referral_rows_columns(const referral_rows *rows);
REFERRAL_API const char *referral_rows_column(const referral_rows *rows, int i);
/* 1 if the column holds a count or grade (a JSON number), 0 if text. */
REFERRAL_API int referral_rows_column_is_number(const referral_rows *rows, int i);
/* Advances: 1 = a row is there, 0 = done, negative = -status on failure
 * (the message is in referral_errmsg() of the store). */
REFERRAL_API int referral_rows_next(referral_rows *rows);
/* The i-th field of the current row; "" for an empty field. Lent until the
 * next referral_rows_next() or referral_rows_free(). */
REFERRAL_API const char *referral_rows_value(const referral_rows *rows, int i);
/* Frees the cursor. Accepts NULL. */
REFERRAL_API void referral_rows_free(referral_rows *rows);

/*
 * Writes an export through a callback: calls `write(ctx, data, len)` with
 * consecutive pieces of the CSV ("csv", also when `format` is NULL) or JSON
 * ("json") text of docs/formats.md, section 5, so that C callers can write
 * to a FILE, a socket or a buffer and FFI callers need no FILE at all. The
 * pieces are lent for the duration of the call. `write` returns 0 to go on,
 * non-zero to stop (the export then fails with REFERRAL_EIO).
 *
 * CSV: a header row, then the rows, each ended by "\n", fields quoted as
 * RFC 4180 says when they hold ',', '"' or a newline. JSON: an array of
 * objects with the columns as keys, exact values as strings, counts and
 * grades as numbers and empty fields as null, one object per line.
 * Errors: those of referral_rows_open(), REFERRAL_EUSAGE (unknown format),
 * REFERRAL_EIO.
 */
typedef int (*referral_write_fn)(void *ctx, const char *data, size_t len);
REFERRAL_API REFERRAL_NODISCARD int referral_export(referral_store *store, const char *table,
                                                    const char *period, const char *format,
                                                    referral_write_fn write, void *ctx);

/*
 * referral_export() with options (see referral_export_options): the period,
 * the format ("dot" for the tree), some distributors only, a byte order
 * mark. NULL opts means the defaults. Errors: those of
 * referral_rows_open_ext() and referral_export().
 */
REFERRAL_API REFERRAL_NODISCARD int referral_export_ext(referral_store *store, const char *table,
							const referral_export_options *opts,
							referral_write_fn write, void *ctx);

/*
 * Explains how every figure of the statement of `distributor` in `period`
 * came about (docs/formats.md, "Explain"): her lines grouped by member and
 * order, each with its base x rate; the bounties earned and reversed; the
 * overrides by recruit; what is held and in which month it is released; the
 * carry, the rounding and the carry left; the tax withheld; and her grade,
 * with the thresholds met and missed. `format` is "text" (also NULL), plain
 * words for people, or "json", a document with the same figures. The text
 * goes through `write` as referral_export() does. The period must be closed
 * or the settled draft (a draft's grading is shown as provisional).
 * Errors: REFERRAL_EUSAGE (malformed period, unknown format, no writer),
 * REFERRAL_EINPUT (no such distributor, or no statement of hers in the
 * period), REFERRAL_ESTATE (the period is neither closed nor settled),
 * REFERRAL_EIO.
 */
REFERRAL_API REFERRAL_NODISCARD int referral_explain(referral_store *store,
						     const char *distributor, const char *period,
						     const char *format, referral_write_fn write,
						     void *ctx);

/*
 * Writes the month end of `period` as one self-contained HTML page
 * (docs/formats.md, "The month-end report"; no script, nothing fetched,
 * charts in inline SVG, made to print): the totals and the conservation
 * check; per region and store the sales, earnings, payable, held and
 * withheld; the rankings of distributors and stores by sales, new consuming
 * members and earnings; the grade moves; the last 12 months' payable and
 * sales; the late adjustments; the payouts. Every amount is exact. The page
 * goes through `write` as referral_export() does, in UTF-8. The period must
 * be closed or the settled draft.
 * Errors: REFERRAL_EUSAGE (malformed period, no writer), REFERRAL_ESTATE
 * (the period is neither closed nor settled), REFERRAL_EIO.
 */
REFERRAL_API REFERRAL_NODISCARD int referral_report(referral_store *store, const char *period,
						    referral_write_fn write, void *ctx);

/*
 * One member's points (docs/formats.md, section 5.6), as of every event
 * ingested so far.
 * Fields are lent until the next call on the store.
 */
typedef struct referral_member_info {
	const char *member;
	const char *lifetime;       /* canonical decimal */
	const char *balance;        /* canonical decimal, may be negative */
	const char *tier;           /* own tier name */
	const char *sharer;         /* member id or "" */
	const char *effective_tier; /* better of own and sharer's own tier */
} referral_member_info;

/* Errors: REFERRAL_EINPUT (no such member), REFERRAL_EIO. */
REFERRAL_API REFERRAL_NODISCARD int referral_member_get(referral_store *store, const char *member,
                                                        referral_member_info *out);

#ifdef __cplusplus
}
#endif
#endif
