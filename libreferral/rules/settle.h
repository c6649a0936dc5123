/*
 * settle.h — the state of one settlement pass, shared by its files:
 *   settle.c       the pass: what it reads before the period, the bounty
 *                  snapshot, the stream of the period's events
 *   network.c      loading the network as of the limit, and its cache
 *   commission.c   attribution, commission, bounty, override, refunds and
 *                  the lines (rules of attribution and commission)
 *   statements.c   the statements: exact sums, rounding, carries, texts
 *   release.c      when each line is released: what is held past the
 *                  period, and what earlier periods held is due in it
 *
 * In memory. Seqs are dense (the log's ingest sequence), so one int32
 * array indexed by seq finds everything the stream names: a distributor's
 * record, a member's first binding, a binding by its seq. That costs 4
 * bytes per event in the log up to the limit and answers in one memory
 * access. Bindings sit in one array, each with its bounty state, a
 * member's chained by bound_at from her first, so that attributing an
 * order and updating its binding touch one or two cache lines. No GMP
 * value lives per distributor unless she needs one (a refund of an earlier
 * period's order, lines): the sums are integers of fen, made exact once at
 * the statement.
 */
#ifndef REFERRAL_SETTLE_H
#define REFERRAL_SETTLE_H

#include <gmp.h>
#include <stdint.h>

#include "core.h"
#include "fen.h"
#include "idmap.h"

/* The exact values a distributor needs only sometimes. */
struct exact {
	mpq_t commission;        /* reversals at rates other than hers in P */
	mpq_t override;          /* override reversals at such rates */
	mpq_t line_sum[3];       /* LINES mode: commission, bounty, override lines */
	mpq_t line_held;         /* LINES mode: of them, those released after P */
	/* checking lines (check.c): the same sums as integers of 10^-lines_scale
	 * yuan, to which line_sum and line_held add what would not fit */
	__int128 isum[3], iheld;
};

struct dist {
	/* what the stream touches for every order, first (two cache lines) */
	fen_t com_fen;           /* her commissionable amounts in P, net of refunds of P's orders */
	fen_t ov_fen;            /* those of them whose recruiter was active */
	fen_t sales_fen;         /* commission bases minus reversal bases */
	fen_t bounty_fen;        /* bounties earned minus reversed in P */
	int64_t term, term_seq;  /* termination instant and its seq; INT64_MAX if none */
	int64_t rterm, rterm_seq; /* her recruiter's, so that the stream need not look */
	long members;            /* bounties earned minus reversed, counted */
	int32_t recruiter;       /* index, or -1 */
	int grade;               /* grade(D, P) */
	/* the rest */
	int64_t seq;
	int64_t store;           /* store as of the end of the period */
	int64_t store_at;        /* instant of the last store change applied */
	fen_t ov_by_grade[PLAN_GRADES]; /* her recruits' ov_fen, by the recruit's grade */
	long shares;             /* her share events booked in P */
	int32_t ex;              /* index into the exact values, or -1 */
	int32_t held;            /* index into settle.held, or -1 when nothing is held */
	int booked;
};

/* Lines booked in P and released after it, summed per distributor and
 * release period the way struct dist sums them. Few: only with a plan's
 * hold_days, and only for the orders of the last days of the period. */
struct bucket {
	int32_t dist;
	int rel;
	fen_t com_fen, ov_fen, bounty_fen;
	fen_t ov_by_grade[PLAN_GRADES];
	mpq_t com_x, ov_x;       /* reversals of earlier periods' orders, at their rates */
};

/* What is held for a distributor: held from before P and due in P, held
 * past P (from before, and from P's own lines), and the entries by release
 * period that the next period is handed. */
struct held {
	mpq_t fresh;             /* of P's lines, the value released after P */
	mpq_t due;               /* held before P, released in P */
	mpq_t total;             /* held at the end of P */
	size_t first, n;         /* her entries in settle.he, by release period */
};

struct hold_entry {
	int32_t dist;
	int rel;
	mpq_t v;
};

/* A binding and its bounty state, carried across periods. 32 bytes: two
 * million of them are loaded at every settlement, and on the machines this
 * runs on, memory touched for the first time costs more than the work done
 * in it. Hence the packing: the seq (below 2^48), the window in months (at
 * most 1,200 by the plan) and whether the member has a later binding share
 * one word, and the few members who have one find it in settle.next. A
 * standing bounty is at most 21,474,836.47 yuan. */
struct binding {
	uint64_t key;            /* seq << 16 | B_HAS_NEXT | months */
	int64_t bound_at;
	int64_t net;             /* net commissionable spend in fen, or NET_WIDE */
	int32_t bounty;          /* the standing bounty in fen, or -1 when none stands */
	int32_t dist;
};
_Static_assert(sizeof(struct binding) == 32, "a binding is 32 bytes");

#define B_SEQ(b) ((int64_t)((b)->key >> 16))
#define B_MONTHS(b) ((int)((b)->key & 0x7FFF))
#define B_HAS_NEXT 0x8000u
#define B_SEQ_MAX (((int64_t)1 << 48) - 1)

/* A net spend beyond 64 bits (an order may have 30 digits) lives in
 * settle.wide instead. */
#define NET_WIDE INT64_MIN

/* How an order was attributed. */
struct attr {
	int32_t dist, recruiter;  /* indexes; recruiter -1 when no override */
	int32_t binding;          /* index */
	int64_t member;
	int grade;
	const plan *pl;           /* the plan of the order's booking period */
	const mpq_t *rate;
	int rel;                  /* the release period of the lines to put */
};

/* Frozen grades of one earlier period, for refunds of its orders. */
struct old_grades {
	int period;
	struct idmap map; /* dist seq -> next_grade of the period before */
};

/* What ix[seq] holds: a binding's index (>= 0; for a member's seq, her
 * first binding), a distributor's (DIST_IX), or nothing (-1). */
#define DIST_IX(i) (-2 - (int32_t)(i))
#define IX_DIST(v) (-2 - (v))

/* Lines are handed to the output this many at a time. */
#define LINE_BATCH 1024

struct settle {
	referral_store *st;
	int period, mode, from_log;
	int lines_on;            /* every line is derived (LINES, or CHECK) */
	int64_t limit, period_end;
	const plan *pl;
	const struct settle_out *out;
	int32_t *ix;             /* by seq, 0..limit */
	struct dist *d;
	size_t nd, capd;
	struct binding *b;
	size_t nb, capb, nmember; /* the first nmember are made by member events */
	int64_t *bmember;         /* by binding index: the member of a bind */
	struct idmap wide;        /* binding index + 1 -> index into wide_net */
	struct idmap next;        /* binding index + 1 -> the member's next binding */
	fen_t *wide_net;
	size_t nwide, capwide;
	struct exact *ex;
	size_t nex, capex;
	struct old_grades *og;
	size_t nog;
	int cache_period;        /* the network cache used, or 0 */
	size_t cached;           /* the bindings it held */
	int64_t *close_seq;      /* last seq of each closed period, by period - first */
	int first_closed, nclosed;
	/* LINES mode: lines waiting to be handed to the output, their texts */
	struct line_row *lines;
	size_t nlines;
	struct strbuf line_text;
	long long progress, total; /* the period's events settled so far, of total (-1) */
	/* checking lines in integers (check.c) */
	int int_lines;           /* lines are summed as integers */
	int rate_digits, ov_digits; /* decimals of every rate, of every override rate */
	struct { const void *rate; __int128 v; } scaled[16];
	int nscaled;
	/* release (release.c) */
	int64_t release_cut;     /* P's own orders at or after it are released after P */
	struct bucket *bk;
	size_t nbk, capbk;
	struct idmap bucket_of;  /* (dist << 5 | rel - P) + 1 -> bucket */
	struct hold_entry *hin;  /* held at the end of P-1, by dist and release */
	size_t nhin, caphin;
	struct held *held;
	size_t nheld;
	struct hold_entry *he;   /* held at the end of P */
	size_t nhe;
	struct idmap bounty_rel; /* binding + 1 -> the release of its standing bounty
				    when after P, -1 once none such stands */
	char value[160], base[160], rate[160], amount[160];
	mpq_t x, y;
};

static inline int fail_nomem(struct settle *s) { return st_nomem(s->st); }

static inline int fail_overflow(struct settle *s)
{
	return st_fail(s->st, REFERRAL_EIO, "settlement: amounts too large to sum exactly");
}

/* The size of the index by seq (hugemem.h: the big arrays are mapped, zeroed). */
static inline size_t ix_bytes(const struct settle *s)
{
	return ((size_t)s->limit + 1) * sizeof *s->ix;
}

/* The distributor of seq, or -1. */
static inline int32_t dist_of(const struct settle *s, int64_t seq)
{
	if (seq <= 0 || seq > s->limit)
		return -1;
	int32_t v = s->ix[seq];
	return v <= -2 ? IX_DIST(v) : -1;
}

/* The binding whose seq is `seq`, or -1. */
static inline int32_t binding_of(const struct settle *s, int64_t seq)
{
	if (seq <= 0 || seq > s->limit)
		return -1;
	int32_t v = s->ix[seq];
	return v >= 0 && B_SEQ(&s->b[v]) == seq ? v : -1;
}

/* The binding after binding i of its member, or -1. */
static inline int32_t next_of(const struct settle *s, int32_t i)
{
	return s->b[i].key & B_HAS_NEXT ? idmap_get(&s->next, (int64_t)i + 1) : -1;
}

/* Whether distributor d has a statement in P: she appears in the period
 * her event is booked in. */
static inline int has_statement(const struct settle *s, const struct dist *d)
{
	return d->booked <= s->period;
}

/* settle.c */
struct exact *exact_of(struct settle *s, int32_t di);
fen_t net_of(const struct settle *s, const struct binding *b);
int net_set(struct settle *s, struct binding *b, fen_t v);

/* network.c: loads the distributors and bindings as of the limit (from the
 * newest usable network cache and the log after it, or from the log alone
 * with from_log); writes a new cache when the one used is stale. */
int load_network(struct settle *s);
int update_cache(struct settle *s);
/* Writes a blob of the period made by `encode`, in two passes (blob.h). */
struct blob_out;
int write_blob(struct settle *s, enum blob_kind kind,
	       void (*encode)(struct settle *, struct blob_out *));

/* commission.c: settles a batch of the period's events in order. */
int settle_rows(struct settle *s, const struct stream_row *r, int n);
/* Hands the lines waiting to the output. */
int flush_lines(struct settle *s);

/* release.c. The period in which the lines of an order at `t` booked in
 * period `booked` are released: the period of t + hold_days of the plan
 * for `booked`, or `booked` if that is later. */
int release_of(const struct settle *s, int64_t t, int booked);
/* Adds to what is held past P; NULL out of memory. */
struct bucket *bucket_at(struct settle *s, int32_t di, int rel);
/* The release of the bounty standing on binding bi (a period <= P when
 * it was released by P), and recording one. */
int bounty_release(const struct settle *s, int32_t bi);
int set_bounty_release(struct settle *s, int32_t bi, int rel);
int load_holds(struct settle *s);
/* After the stream and the overrides: gathers each bucket's overrides on
 * the recruiter's bucket, then what is held and due per distributor. */
int settle_holds(struct settle *s);
void encode_holds(struct settle *s, struct blob_out *w);
void holds_free(struct settle *s);

/* check.c: summing lines to check them against the statements, in
 * integers where they fit. */
void check_init(struct settle *s);
/* A commission line or its reversal (sign -1) of `fen` at a->rate, and its
 * override line when a->recruiter gets one. */
int check_commission(struct settle *s, const struct attr *a, int sign, fen_t fen);
int check_bounty(struct settle *s, const struct attr *a, int32_t dist, fen_t fen);
/* Her lines' sums as exact values: commission, bounty, override, held. */
void check_sums(const struct settle *s, const struct exact *e, mpq_t sum[4]);

/* statements.c */
/* A distributor's exact commission, bounty and override from sums of fen
 * at her grade, her recruits' overrides by grade, and exact adjustments
 * (NULL: none); `tmp` is scratch. */
void value_of(const struct settle *s, int grade, fen_t com_fen, fen_t bounty_fen,
	      const fen_t *ov_by_grade, const mpq_t *com_x, const mpq_t *ov_x, mpq_t com,
	      mpq_t bounty, mpq_t ovr, mpq_t tmp);
int gather_overrides(struct settle *s);
int check_lines(struct settle *s);
/* Makes and writes the statements; writes the snapshot meanwhile (the
 * texts are made on another core while the blob is written). */
int write_statements(struct settle *s, int (*meanwhile)(struct settle *));
int hand_over(struct settle *s, struct figures *figs);

#endif
