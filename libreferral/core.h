/*
 * core.h — the store handle and the pieces every module shares.
 *
 * Storage layout (schema version 2; see store.c for the DDL):
 *   events      the append-only log: one row per accepted event, its ingest
 *               sequence `seq` (the row id), type, id, instant `at` (µs UTC),
 *               booking period, the seqs of the entities it names (ref1 is
 *               the owner looked up by, ref2 the other), one exact decimal
 *               (`num`) and up to two texts.
 *   plans       plan versions with their effective period.
 *   closes      closed periods with the last event seq ingested at close.
 *   drafts      the settled draft of the earliest open period.
 *   statements, grades, snapshots
 *               what settlement derived, per period: each distributor's
 *               statement (with the members and sales grading needs), her
 *               grade at close, and the bounty state of every binding at the
 *               end of the period. Frozen by triggers once the period is
 *               closed.
 *   networks    (schema version 2) a cache: every binding as the last
 *               settlements loaded it, so that the next one need not
 *               rebuild two million of them from the log (settle.c). Kept
 *               for the last two periods settled; verify checks it.
 *   lines       are not stored: settle.c re-derives them on demand (exports,
 *               verify) into temporary tables of the same shape.
 */
#ifndef REFERRAL_CORE_H
#define REFERRAL_CORE_H

#include <gmp.h>
#include <sqlite3.h>
#include <stdint.h>

#include "fen.h"
#include "plan.h"
#include "referral/referral.h"
#include "strbuf.h"

/* Event types: the public enum referral_event_type. */
#define EV_TYPES 12
extern const char *const ev_type_names[EV_TYPES + 1]; /* [1] = "store" ... */

/* Where an event keeps its fields in the events row. */
/*  type            ref1          ref2         num      txt1    txt2   */
/*  store           -             -            -        name    region */
/*  store_rating    store         -            rating   -       -      */
/*  distributor     store         recruiter    -        kind    -      */
/*  store_change    distributor   store        -        -       -      */
/*  terminate       distributor   -            -        -       -      */
/*  member          -             distributor  window*  -       -      */
/*  bind            member        distributor  window*  -       -      */
/*  share_benefits  to            from         -        -       -      */
/*  order           member        -            amount   -       -      */
/*  refund          order         -            amount   -       -      */
/*  share           dist./member  -            -        "distributor"/"member" */
/*  redeem          member        -            points   -       -      */
/* window*: the binding's commission window in months, fixed from the plan
 * for the event's booking period when the event is ingested (SPEC §5: it
 * never changes, whatever plan versions are added later). Not part of the
 * event's identity. */

/* Line types, in the order of their names' bytes. */
enum line_type {
	LINE_BOUNTY = 1,
	LINE_BOUNTY_REVERSAL,
	LINE_COMMISSION,
	LINE_COMMISSION_REVERSAL,
	LINE_OVERRIDE,
	LINE_OVERRIDE_REVERSAL
};
extern const char *const line_type_names[7];

struct plan_version {
	int from;      /* effective period */
	plan p;
};

/* Prepared statements kept for the life of the handle. */
enum stmt_id {
	Q_FIND,          /* type, id -> seq, at, booked, ref1, ref2, num, txt1, txt2 */
	Q_INSERT,        /* type, id, at, booked, ref1, ref2, num, txt1, txt2 */
	Q_BY_REF,        /* ref1, type -> seq, at, booked, ref2, num, txt1 */
	Q_BY_SEQ,        /* seq -> type, id, at, booked, ref1, ref2, num, txt1 */
	Q_COUNT
};

struct referral_store {
	sqlite3 *db;
	struct strbuf err;
	struct plan_version *plans; /* sorted by (from, version) */
	int nplans;
	int first_open;             /* earliest open period */
	int in_batch;
	sqlite3_stmt *q[Q_COUNT];
	referral_progress_fn progress;
	void *progress_ctx;
	const char *phase;          /* of the run in progress: "settle", "close", "verify" */
	/* buffers lent by referral_member_get() */
	struct strbuf member_buf;
};

/* Reports progress every 2^16 units when a callback is set. */
static inline void st_progress(referral_store *st, const char *phase, long long done,
			       long long total)
{
	if (st->progress && (done & 0xFFFF) == 0)
		st->progress(st->progress_ctx, phase, done, total);
}

/* Reports the end of a phase: done = total. */
static inline void st_progress_end(referral_store *st, const char *phase, long long done)
{
	if (st->progress)
		st->progress(st->progress_ctx, phase, done, done);
}

/* Records a message and returns `status`. */
int st_fail(referral_store *st, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Records the SQLite error of the handle with some context; returns REFERRAL_EIO. */
int st_sqlfail(referral_store *st, const char *what);
/* Records "out of memory"; returns REFERRAL_EIO. */
int st_nomem(referral_store *st);

/* The plan for period p (SPEC §5): the version with the greatest effective
 * period <= p, the last added among equals; the first plan before it. */
const plan *st_plan_for(const referral_store *st, int period);

/* Transactions. */
int st_exec(referral_store *st, const char *sql);
int st_begin(referral_store *st);   /* BEGIN IMMEDIATE */
int st_commit(referral_store *st);
void st_rollback(referral_store *st);

/* (Re)loads plans and the earliest open period from the database. */
int st_load_state(referral_store *st);

/* Creates the derived tables under a prefix ("" for main, "temp.v_"). */
int st_create_derived(referral_store *st, const char *prefix);

/* Prepares `sql`, recording the error on failure. */
int st_prepare(referral_store *st, const char *sql, sqlite3_stmt **out);

/* Parses a "YYYY-MM" argument, else REFERRAL_EUSAGE with a message. */
int st_period_arg(referral_store *st, const char *s, int *out);

/* The end of a binding made at `bound_at` with a window of `months` (as
 * the member or bind event stored it when it was ingested), to a
 * distributor with termination `term` (INT64_MAX if none). */
int64_t binding_end(const referral_store *st, int64_t bound_at, int months, int64_t term);

/* Settlement (settle.c). `limit` is the last event seq to consider; `out`
 * is the schema prefix to write to ("main.", or "temp.v_" and "temp.x_"
 * for verify and exports). SETTLE_STATEMENTS writes the statements, the
 * bounty snapshot and the network cache of the period; SETTLE_LINES writes
 * its lines instead and checks that they add up to what the statements sum
 * (REFERRAL_EVERIFY). Or'ed with SETTLE_FROM_LOG, the pass rebuilds the
 * network from the log alone, without the cache (verify). */
enum { SETTLE_STATEMENTS, SETTLE_LINES, SETTLE_FROM_LOG = 4 };

/* A distributor with a statement in the period, with the figures of it
 * that grading sums (bounties earned minus reversed, commission bases
 * minus reversal bases, shares), as settlement hands them to grading. */
struct graded {
	int64_t dist, store;
	int grade;
	long members, shares;
	fen_t sales;
	int32_t rating;  /* grading's: her store's rating, an index, or -1 */
};

struct figures {
	struct graded *g; /* in seq order */
	size_t n;
};

/* With `figs` (STATEMENTS mode), also hands over the period's figures,
 * which the caller frees with figures_free() whatever the outcome. */
int settle_period(referral_store *st, int period, int64_t limit, const char *out, int mode,
		  struct figures *figs);
void figures_free(struct figures *figs);
/* Grading at close of `period` (grading.c) from the figures its settlement
 * handed over, writing to `out`grades. */
int grade_period(referral_store *st, int period, int64_t limit, const char *out,
		 struct figures *figs);

/* A member's points balance as of instant `at`, from every event ingested
 * so far with at <= `at` (points.c). */
int points_member_balance(referral_store *st, int64_t member_seq, int64_t at, mpq_t balance);

#endif
