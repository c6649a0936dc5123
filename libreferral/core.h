/*
 * core.h — the store handle and the pieces every module shares.
 *
 * A handle holds its engine (engines/engine.h), through which every module
 * reaches the store, the plan versions and the earliest open period it
 * read, and the message of the last failure.
 */
#ifndef REFERRAL_CORE_H
#define REFERRAL_CORE_H

#include <gmp.h>
#include <stdint.h>

#include "engine.h"
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
 * for the event's booking period when the event is ingested (docs/formats.md: it
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

struct referral_store {
	struct engine *eng;
	struct strbuf err;
	struct plan_version *plans; /* sorted by (from, version) */
	int nplans;
	int first_open;             /* earliest open period */
	int in_batch;
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
/* Records "out of memory"; returns REFERRAL_EIO. */
int st_nomem(referral_store *st);

/* The plan for period p: the version with the greatest effective
 * period <= p, the last added among equals; the first plan before it. */
const plan *st_plan_for(const referral_store *st, int period);

/* Calls operation `op` of the store's engine: ENG(st, find, type, id, n, &row). */
#define ENG(st, op, ...) ((st)->eng->ops->op((st)->eng, ##__VA_ARGS__))

/* 0 makes settlement run on the caller's thread alone: the period's events
 * read on the caller's connection, the statements' texts made inline (tests
 * compare the two ways). */
extern int stream_use_thread;

/* Periods with the last seq each saw, gathered from the engine's closes()
 * or drafts() by periods_put (a period_seq_cb); zeroed with `st` set is
 * empty. */
struct periods {
	int *period;
	int64_t *last_seq;
	size_t n, cap;
	referral_store *st;
};
int periods_put(void *ctx, int period, int64_t last_seq);
void periods_free(struct periods *p);

/* (Re)loads plans and the earliest open period from the database. */
int st_load_state(referral_store *st);

/* Parses a "YYYY-MM" argument, else REFERRAL_EUSAGE with a message. */
int st_period_arg(referral_store *st, const char *s, int *out);

/* The end of a binding made at `bound_at` with a window of `months` (as
 * the member or bind event stored it when it was ingested), to a
 * distributor with termination `term` (INT64_MAX if none). */
int64_t binding_end(const referral_store *st, int64_t bound_at, int months, int64_t term);

/*
 * Where a settlement pass and grading write what they derive: the store's
 * own rows (a draft or a close), or a scratch that verify compares with
 * the store's, or an export's scratch lines. `ctx` is handed back to every
 * call; a call returns 0 or a status.
 */
struct settle_out {
	/* statements of the period, in ascending dist */
	int (*statements)(void *ctx, const struct statement_row *rows, size_t n);
	/* a blob of the period of `size` bytes, to write through *dst */
	int (*blob)(void *ctx, enum blob_kind kind, int period, int64_t last_seq, size_t size,
		    struct blob_dst **dst);
	/* lines (LINES mode); NULL when they are only checked */
	int (*lines)(void *ctx, const struct line_row *rows, size_t n);
	/* grades of the period, in ascending dist */
	int (*grades)(void *ctx, const struct grade_row *rows, size_t n);
	void *ctx;
	/* the store's own rows: the network caches older than the one used are
	 * pruned after a new one is written */
	int into_store;
};

/* Settlement (rules/settle.c). `limit` is the last event seq to consider.
 * SETTLE_STATEMENTS writes the statements, the bounty snapshot, what is
 * held and the network cache of the period; SETTLE_LINES writes its lines
 * instead. Or'ed with SETTLE_CHECK, the pass also derives every line and
 * checks that they add up to what the statements sum (REFERRAL_EVERIFY);
 * with SETTLE_FROM_LOG, it rebuilds the network from the log alone,
 * without the cache, and always hands a cache out (verify does both). */
enum { SETTLE_STATEMENTS, SETTLE_LINES, SETTLE_FROM_LOG = 4, SETTLE_CHECK = 8 };

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
int settle_period(referral_store *st, int period, int64_t limit, const struct settle_out *out,
		  int mode, struct figures *figs);
void figures_free(struct figures *figs);
/* Grading at close of `period` (rules/grading.c) from the figures its
 * settlement handed over. */
int grade_period(referral_store *st, int period, int64_t limit, const struct settle_out *out,
		 struct figures *figs);

/* A member's points balance as of instant `at`, from every event ingested
 * so far with at <= `at` (rules/points.c). */
int points_member_balance(referral_store *st, int64_t member_seq, int64_t at, mpq_t balance);

#endif
