/*
 * plan.h — the settlement plan (docs/formats.md, "The plan"), parsed and
 * validated with jansson.
 */
#ifndef REFERRAL_PLAN_H
#define REFERRAL_PLAN_H

#include <gmp.h>
#include <stddef.h>

#define PLAN_GRADES 4
/* The largest bounty a plan may pay: 2^31 - 1 fen, what settlement holds
 * for a binding's standing bounty. */
#define PLAN_MAX_BOUNTY "21474836.47"
#define PLAN_TIER_NAME_MAX 32

struct plan_grade {
	mpq_t rate;             /* 0 <= rate < 1 */
	mpq_t bounty;           /* money */
	/* thresholds; all zero for grade 1, which has none */
	long min_members;
	mpq_t min_sales;        /* money */
	long min_shares;
	mpq_t min_store_rating; /* 0..5 */
};

struct plan_tier {
	char name[PLAN_TIER_NAME_MAX + 1];
	mpq_t min_points;
};

/* A bracket of the withholding table: up to `up_to` (the last one has no
 * bound), tax = base x rate - quick_deduction. */
struct plan_bracket {
	int bounded;            /* 0 for the last bracket (up_to null) */
	mpq_t up_to;            /* money */
	mpq_t rate;             /* < 1 */
	mpq_t quick_deduction;  /* money */
};

/* Income tax withheld from each payable (docs/formats.md, "Withholding"). */
struct plan_withholding {
	mpq_t threshold;        /* money: up to it, the fixed deduction applies */
	mpq_t fixed_deduction;  /* money */
	mpq_t rate_deduction;   /* < 1: above the threshold, base = payable x (1 - it) */
	size_t nbrackets;
	struct plan_bracket *brackets; /* ascending up_to, the last unbounded */
};

#define PLAN_MAX_HOLD_DAYS 366
#define PLAN_MAX_BRACKETS 64

typedef struct plan {
	int utc_offset_min;            /* "+08:00" -> 480 */
	int start_period;              /* see timeutil.h */
	long commission_window_months; /* >= 1 */
	struct plan_grade grades[PLAN_GRADES]; /* grades[0] is grade 1 */
	long grading_window_months;    /* >= 1 */
	int initial_grade;             /* 1..4 */
	int allow_demotion;            /* 0/1 */
	mpq_t override_rate;
	mpq_t share_bonus_rate;
	mpq_t per_yuan, per_share;     /* points */
	size_t ntiers;
	struct plan_tier *tiers;       /* ascending min_points, first is 0 */
	int rounding;                  /* enum dec_rounding */
	mpq_t min_payout;              /* money */
	long hold_days;                /* 0..366; 0 when the plan has none */
	struct plan_withholding *withholding; /* NULL when the plan has none */
} plan;

/*
 * Parses and validates the plan JSON text (NUL-terminated). On success
 * returns 0 and *out owns its values (release with plan_clear()). On failure
 * returns -1, writes a message naming the offending key (like
 * "plan: grades[2].rate: expected a decimal string like \"0.05\", got 0.08";
 * array indexes count from 0, so grades[2] is grade 3) into err (cap bytes,
 * NUL-terminated, truncated if need be; err may be NULL when cap is 0), and
 * leaves *out zeroed, with nothing to release.
 *
 * Validation: every required key present, unknown keys rejected at every
 * level; integers where counts/months/grades are due, strings in the money
 * or decimal forms of decimal.h elsewhere; exactly four grades with `grade`
 * 1..4 in order; grade 1 without thresholds and grades 2..4 with all four;
 * rates, bounties and each threshold non-decreasing with grade; 0 <= rate < 1;
 * bounties at most PLAN_MAX_BOUNTY;
 * 0 <= ratings <= 5; override_rate and share_bonus_rate in [0, 1);
 * commission_window_months 1..1200; grading.window_months 1..1200;
 * initial_grade 1..4; allow_demotion a boolean; at least one tier, names of
 * 1..32 of [A-Za-z0-9_-], unique, min_points strictly ascending, the first 0;
 * rounding one of half_up, half_even, down; min_payout money. Optional:
 * hold_days an integer 0..366 (default 0); withholding an object of exactly
 * threshold, fixed_deduction (money), rate_deduction (a rate below 1) and
 * brackets, 1 to PLAN_MAX_BRACKETS objects of exactly up_to (money, or null
 * for the last one and only it), rate (below 1) and quick_deduction (money),
 * up_to strictly ascending.
 */
int plan_parse(plan *out, const char *json, char *err, size_t cap);
/* What plan_parse() returns when memory ran out: not a fault of the plan. */
#define PLAN_NOMEM (-2)

/* The same for a plan read back from a store: a limit added after the plan
 * was stored (the largest bounty, PLAN_MAX_BOUNTY) is not applied, so that
 * the store still opens; settlement refuses what it cannot hold. */
int plan_parse_stored(plan *out, const char *json, char *err, size_t cap);

/* Releases what plan_parse() allocated and zeroes *p. Accepts a zeroed plan
 * (and NULL), so clearing twice is harmless. */
void plan_clear(plan *p);

#endif
