/*
 * test_settle.c — settlement through the public C API, one hand-computed
 * scenario per rule of SPEC §6 (attribution and commission), §7
 * (statements, rounding, carry) and §8 (grading), plus the lifecycle of §11
 * (settle, close, late booking, plan versions, verify).
 *
 * Every expected row is worked out by hand from the spec; the arithmetic is
 * in the comment above it. Unless a test says otherwise the plan is the
 * reference plan: grade 1 rate 0.05 and bounty 20.00, grade 2 rate 0.08,
 * override 0.01, half_up, min_payout 0.01, times in +08:00.
 *
 * Row texts are the exports of SPEC §10 without their header:
 *   statements  period,distributor,store,grade,opening_carry,commission,
 *               bounty,override,accrued,released,held,total,payable,closing_carry
 *   lines       period,distributor,type,event,order,member,source,base,rate,value
 *   grades      period,distributor,grade,members,sales,shares,store_rating,next_grade
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

/* ---- helpers ----------------------------------------------------------- */

/* A store s1, recruiter R1 and her recruit D1 (both at s1), and D1's member
 * m1, all early in January 2026. */
#define NETWORK_R1_D1_M1                                              \
	EV_STORE("s1", "2026-01-01T08:00:00")                         \
	EV_DIST("R1", "2026-01-02T09:00:00", "s1")                    \
	EV_RECRUIT("D1", "2026-01-03T09:00:00", "s1", "R1")           \
	EV_MEMBER("m1", "2026-01-04T09:00:00", "D1")

/* The same without a recruiter: s1, D1, m1. */
#define NETWORK_D1_M1                                                 \
	EV_STORE("s1", "2026-01-01T08:00:00")                         \
	EV_DIST("D1", "2026-01-02T09:00:00", "s1")                    \
	EV_MEMBER("m1", "2026-01-04T09:00:00", "D1")

/* Runs `sql` on the store directly, outside the library. */
static void tamper(const char *path, const char *sql)
{
	cr_assert_eq(test_store_sql(path, sql), 0, "tamper: %s", test_store_error());
}

/* ---- §6 commission, override, bounty ------------------------------------ */

Test(commission, one_order_pays_commission_bounty_and_override)
{
	referral_store *st = store_with(NULL);

	ingest(st, NETWORK_R1_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "2391.37"));
	settle(st, "2026-01");
	/*
	 * commission 2391.37 x 0.05 = 119.5685; bounty 20.00 (m1's net spend
	 * goes 0 -> 2391.37); override to R1 0.01 x 119.5685 = 1.195685.
	 */
	assert_rows(st, "lines", "2026-01",
		    "2026-01,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-01,D1,commission,o1,o1,m1,,2391.37,0.05,119.5685\n"
		    "2026-01,R1,override,o1,o1,m1,D1,119.5685,0.01,1.195685\n");
	/*
	 * D1: total 119.5685 + 20.00 = 139.5685 -> 139.57, carry 139.5685 -
	 *     139.57 = -0.0015.
	 * R1: total 1.195685 -> 1.20, carry -0.004315.
	 */
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,119.5685,20.00,0.00,139.5685,139.5685,0.00,139.5685,139.57,-0.0015\n"
		    "2026-01,R1,s1,1,0.00,0.00,0.00,1.195685,1.195685,1.195685,0.00,1.195685,1.20,-0.004315\n");
	assert_rows(st, "grades", "2026-01", ""); /* grades exist for closed periods only */

	close_period(st, "2026-01");
	/* D1: 1 bounty, sales 2391.37; no shares, no rating -> 0.00; stays 1. */
	assert_rows(st, "grades", "2026-01",
		    "2026-01,D1,1,1,2391.37,0,0.00,1\n"
		    "2026-01,R1,1,0,0.00,0,0.00,1\n");
	assert_verifies(st);
	referral_store_free(st);
}

Test(commission, override_is_one_level_and_not_on_bounties_or_overrides)
{
	referral_store *st = store_with(NULL);

	/* R0 recruits R1, R1 recruits D1; m1 is D1's member, m2 is R1's. */
	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00")
		   EV_DIST("R0", "2026-01-02T09:00:00", "s1")
		   EV_RECRUIT("R1", "2026-01-02T10:00:00", "s1", "R0")
		   EV_RECRUIT("D1", "2026-01-02T11:00:00", "s1", "R1")
		   EV_MEMBER("m1", "2026-01-03T09:00:00", "D1")
		   EV_MEMBER("m2", "2026-01-03T10:00:00", "R1")
		   EV_ORDER("o1", "2026-01-05T09:00:00", "m1", "100.00")
		   EV_ORDER("o2", "2026-01-06T09:00:00", "m2", "200"));
	settle(st, "2026-01");
	/*
	 * o1: D1 100.00 x 0.05 = 5.00 + bounty 20.00; R1 0.01 x 5.00 = 0.05
	 *     (not on the bounty); nothing to R0 (one level only).
	 * o2: R1 200.00 x 0.05 = 10.00 + bounty 20.00; R0 0.01 x 10.00 = 0.10
	 *     (not on R1's override of 0.05).
	 */
	assert_rows(st, "lines", "2026-01",
		    "2026-01,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-01,D1,commission,o1,o1,m1,,100.00,0.05,5.00\n"
		    "2026-01,R0,override,o2,o2,m2,R1,10.00,0.01,0.10\n"
		    "2026-01,R1,bounty,o2,o2,m2,,,,20.00\n"
		    "2026-01,R1,commission,o2,o2,m2,,200.00,0.05,10.00\n"
		    "2026-01,R1,override,o1,o1,m1,D1,5.00,0.01,0.05\n");
	/* R1: 10.00 + 20.00 + 0.05 = 30.05. */
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,5.00,20.00,0.00,25.00,25.00,0.00,25.00,25.00,0.00\n"
		    "2026-01,R0,s1,1,0.00,0.00,0.00,0.10,0.10,0.10,0.00,0.10,0.10,0.00\n"
		    "2026-01,R1,s1,1,0.00,10.00,20.00,0.05,30.05,30.05,0.00,30.05,30.05,0.00\n");
	referral_store_free(st);
}

/* ---- §6.1 the binding window ---------------------------------------------- */

Test(window, order_at_36_months_earns_nothing_one_second_earlier_earns)
{
	referral_store *st = store_with(NULL);

	/*
	 * m1 and m2 are bound at 2026-01-05T10:00+08:00, so both bindings end
	 * at 2029-01-05T10:00+08:00 (bound_at <= t < end). The orders are dated
	 * in 2029-01 and so booked there.
	 */
	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00")
		   EV_DIST("D1", "2026-01-02T09:00:00", "s1")
		   EV_MEMBER("m1", "2026-01-05T10:00:00+08:00", "D1")
		   EV_MEMBER("m2", "2026-01-05T02:00:00Z", "D1")
		   EV_ORDER("o1", "2029-01-05T10:00:00+08:00", "m1", "100.00")
		   EV_ORDER("o2", "2029-01-05T09:59:59+08:00", "m2", "100.00"));
	close_through(st, "2028-12");
	settle(st, "2029-01");
	/* Only o2: 100.00 x 0.05 = 5.00 and its bounty 20.00. */
	assert_rows(st, "lines", NULL,
		    "2029-01,D1,bounty,o2,o2,m2,,,,20.00\n"
		    "2029-01,D1,commission,o2,o2,m2,,100.00,0.05,5.00\n");
	assert_rows(st, "statements", "2029-01",
		    "2029-01,D1,s1,1,0.00,5.00,20.00,0.00,25.00,25.00,0.00,25.00,25.00,0.00\n");
	assert_verifies(st);
	referral_store_free(st);
}

Test(window, binding_made_on_feb_29_ends_on_feb_28)
{
	char *plan = plan_with(1, "\"2026-01\"", "\"2024-02\"");
	referral_store *st = store_with(plan);

	/*
	 * 2024-02-29T10:00 + 36 months clamps to 2027-02-28T10:00: an order at
	 * that instant earns nothing, one a second earlier earns (a window
	 * rolling over to 2027-03-01 would pay both).
	 */
	ingest(st, EV_STORE("s1", "2024-02-01T08:00:00")
		   EV_DIST("D1", "2024-02-01T09:00:00", "s1")
		   EV_MEMBER("m1", "2024-02-29T10:00:00", "D1")
		   EV_MEMBER("m2", "2024-02-29T10:00:00", "D1")
		   EV_ORDER("o1", "2027-02-28T10:00:00", "m1", "100.00")
		   EV_ORDER("o2", "2027-02-28T09:59:59", "m2", "100.00"));
	close_through(st, "2027-01");
	settle(st, "2027-02");
	assert_rows(st, "lines", NULL,
		    "2027-02,D1,bounty,o2,o2,m2,,,,20.00\n"
		    "2027-02,D1,commission,o2,o2,m2,,100.00,0.05,5.00\n");
	referral_store_free(st);
	free(plan);
}

/* ---- §6.6 refunds ----------------------------------------------------------- */

Test(refund, after_close_reverses_in_the_next_period_at_the_original_rates)
{
	referral_store *st = store_with(NULL);

	ingest(st, NETWORK_R1_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "1000.00"));
	close_period(st, "2026-01");
	/* D1 1000.00 x 0.05 = 50.00 + 20.00 = 70.00; R1 0.01 x 50.00 = 0.50. */
	char *jan_lines = rows(st, "lines", "2026-01");
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,50.00,20.00,0.00,70.00,70.00,0.00,70.00,70.00,0.00\n"
		    "2026-01,R1,s1,1,0.00,0.00,0.00,0.50,0.50,0.50,0.00,0.50,0.50,0.00\n");

	ingest(st, EV_REFUND("f1", "2026-02-05T10:00:00", "o1", "400.00"));
	close_period(st, "2026-02");
	/*
	 * 400.00 x 0.05 = 20.00 reversed from D1; 0.01 x 20.00 = 0.20 from R1.
	 * Net spend 600.00 > 0: the bounty stands.
	 */
	assert_rows(st, "lines", "2026-02",
		    "2026-02,D1,commission_reversal,f1,o1,m1,,400.00,0.05,-20.00\n"
		    "2026-02,R1,override_reversal,f1,o1,m1,D1,20.00,0.01,-0.20\n");
	/* Negative totals pay 0.00 and carry the whole total. */
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,-20.00,0.00,0.00,-20.00,-20.00,0.00,-20.00,0.00,-20.00\n"
		    "2026-02,R1,s1,1,0.00,0.00,0.00,-0.20,-0.20,-0.20,0.00,-0.20,0.00,-0.20\n");
	/* January is closed: untouched. */
	assert_rows(st, "lines", "2026-01", jan_lines);
	free(jan_lines);
	assert_verifies(st);
	referral_store_free(st);
}

Test(refund, of_an_unattributed_order_reverses_nothing)
{
	referral_store *st = store_with(NULL);

	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00")
		   EV_DIST("D1", "2026-01-02T09:00:00", "s1")
		   EV_MEMBER0("m0", "2026-01-03T09:00:00")
		   EV_ORDER("o1", "2026-01-05T09:00:00", "m0", "100.00"));
	close_period(st, "2026-01");
	ingest(st, EV_REFUND("f1", "2026-02-05T09:00:00", "o1", "100.00"));
	close_period(st, "2026-02");
	/* m0 was never bound: no lines at all, D1's statements all zero. */
	assert_rows(st, "lines", NULL, "");
	assert_rows(st, "statements", NULL,
		    "2026-01,D1,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n"
		    "2026-02,D1,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n");
	referral_store_free(st);
}

/* ---- §6.4 the bounty ---------------------------------------------------------- */

Test(bounty, partial_refund_keeps_it_full_refund_reverses_it_and_it_is_earned_again)
{
	referral_store *st = store_with(NULL);

	ingest(st, NETWORK_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "200.00"));
	close_period(st, "2026-01");
	/* 200.00 x 0.05 = 10.00 + bounty 20.00 = 30.00. */
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,10.00,20.00,0.00,30.00,30.00,0.00,30.00,30.00,0.00\n");

	/* Partial: net 200.00 - 50.00 = 150.00 > 0, the bounty stands. */
	ingest(st, EV_REFUND("f1", "2026-02-05T10:00:00", "o1", "50.00"));
	close_period(st, "2026-02");
	assert_rows(st, "lines", "2026-02",
		    "2026-02,D1,commission_reversal,f1,o1,m1,,50.00,0.05,-2.50\n");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,-2.50,0.00,0.00,-2.50,-2.50,0.00,-2.50,0.00,-2.50\n");

	/*
	 * The rest: net 150.00 - 150.00 = 0 -> the bounty of 20.00 is
	 * reversed; then o2 takes it from 0 to 100.00 -> a new bounty.
	 */
	ingest(st, EV_REFUND("f2", "2026-03-05T10:00:00", "o1", "150.00")
		   EV_ORDER("o2", "2026-03-20T10:00:00", "m1", "100.00"));
	close_period(st, "2026-03");
	assert_rows(st, "lines", "2026-03",
		    "2026-03,D1,bounty,o2,o2,m1,,,,20.00\n"
		    "2026-03,D1,bounty_reversal,f2,o1,m1,,,,-20.00\n"
		    "2026-03,D1,commission,o2,o2,m1,,100.00,0.05,5.00\n"
		    "2026-03,D1,commission_reversal,f2,o1,m1,,150.00,0.05,-7.50\n");
	/*
	 * commission 5.00 - 7.50 = -2.50, bounty 20.00 - 20.00 = 0.00;
	 * total -2.50 + -2.50 = -5.00 -> payable 0.00, carry -5.00.
	 */
	assert_rows(st, "statements", "2026-03",
		    "2026-03,D1,s1,1,-2.50,-2.50,0.00,0.00,-2.50,-2.50,0.00,-5.00,0.00,-5.00\n");
	/*
	 * Grades by booking period. Feb (window Dec..Feb): members 1, sales
	 * 200.00 - 50.00 = 150.00. Mar (Jan..Mar): members 1 + 0 + (1 - 1) = 1,
	 * sales 200.00 - 50.00 - 150.00 + 100.00 = 100.00.
	 */
	assert_rows(st, "grades", "2026-02", "2026-02,D1,1,1,150.00,0,0.00,1\n");
	assert_rows(st, "grades", "2026-03", "2026-03,D1,1,1,100.00,0,0.00,1\n");
	assert_verifies(st);
	referral_store_free(st);
}

Test(bounty, reversed_and_earned_again_within_one_period)
{
	referral_store *st = store_with(NULL);

	ingest(st, NETWORK_D1_M1
		   EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "200.00")
		   EV_REFUND("f1", "2026-01-12T12:00:00", "o1", "200.00")
		   EV_ORDER("o2", "2026-01-15T12:00:00", "m1", "50.00"));
	settle(st, "2026-01");
	/*
	 * o1 10.00 + bounty; f1 -10.00 and net 0 -> bounty reversed;
	 * o2 50.00 x 0.05 = 2.50 and net 0 -> 50.00 -> bounty again.
	 */
	assert_rows(st, "lines", "2026-01",
		    "2026-01,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-01,D1,bounty,o2,o2,m1,,,,20.00\n"
		    "2026-01,D1,bounty_reversal,f1,o1,m1,,,,-20.00\n"
		    "2026-01,D1,commission,o1,o1,m1,,200.00,0.05,10.00\n"
		    "2026-01,D1,commission,o2,o2,m1,,50.00,0.05,2.50\n"
		    "2026-01,D1,commission_reversal,f1,o1,m1,,200.00,0.05,-10.00\n");
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,2.50,20.00,0.00,22.50,22.50,0.00,22.50,22.50,0.00\n");
	close_period(st, "2026-01");
	/* members 2 - 1 = 1; sales 200.00 - 200.00 + 50.00 = 50.00. */
	assert_rows(st, "grades", "2026-01", "2026-01,D1,1,1,50.00,0,0.00,1\n");
	referral_store_free(st);
}

/* ---- §6.1, §6.5 terminations ---------------------------------------------------- */

Test(termination, members_are_unattributed_until_bound_to_another_distributor)
{
	referral_store *st = store_with(NULL);

	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00")
		   EV_DIST("D1", "2026-01-02T09:00:00", "s1")
		   EV_DIST("D2", "2026-01-02T10:00:00", "s1")
		   EV_MEMBER("m1", "2026-01-03T09:00:00", "D1")
		   EV_ORDER("o0", "2026-01-05T09:00:00", "m1", "100.00")
		   EV_TERM("t1", "2026-01-10T12:00:00", "D1")
		   EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00")
		   EV_ORDER("o1b", "2026-01-12T12:00:00", "m1", "300.00")
		   EV_BIND("b1", "2026-01-15T09:00:00", "m1", "D2")
		   EV_ORDER("o2", "2026-01-20T09:00:00", "m1", "100.00"));
	settle(st, "2026-01");
	/*
	 * o0 before the termination: D1 5.00 + bounty 20.00. The binding ends
	 * at the termination (t < end fails at the very instant), so o1 and o1b
	 * earn nothing. The new binding to D2 has its own bounty state: o2 gives
	 * D2 5.00 + 20.00.
	 */
	assert_rows(st, "lines", "2026-01",
		    "2026-01,D1,bounty,o0,o0,m1,,,,20.00\n"
		    "2026-01,D1,commission,o0,o0,m1,,100.00,0.05,5.00\n"
		    "2026-01,D2,bounty,o2,o2,m1,,,,20.00\n"
		    "2026-01,D2,commission,o2,o2,m1,,100.00,0.05,5.00\n");
	/* A terminated distributor keeps her statement row. */
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,5.00,20.00,0.00,25.00,25.00,0.00,25.00,25.00,0.00\n"
		    "2026-01,D2,s1,1,0.00,5.00,20.00,0.00,25.00,25.00,0.00,25.00,25.00,0.00\n");
	referral_store_free(st);
}

Test(termination, recruiter_gets_no_override_but_clawbacks_reach_the_terminated)
{
	referral_store *st = store_with(NULL);

	ingest(st, NETWORK_R1_D1_M1
		   EV_ORDER("o1", "2026-01-05T09:00:00", "m1", "1000.00")
		   EV_TERM("tR1", "2026-01-10T12:00:00", "R1")
		   EV_ORDER("o2", "2026-01-10T12:00:00", "m1", "1000.00"));
	close_period(st, "2026-01");
	/*
	 * o1: D1 50.00 + bounty 20.00, R1 0.50. o2 is at the instant R1 was
	 * terminated ("at or before t"): D1 50.00, no override, no new bounty.
	 */
	assert_rows(st, "lines", "2026-01",
		    "2026-01,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-01,D1,commission,o1,o1,m1,,1000.00,0.05,50.00\n"
		    "2026-01,D1,commission,o2,o2,m1,,1000.00,0.05,50.00\n"
		    "2026-01,R1,override,o1,o1,m1,D1,50.00,0.01,0.50\n");
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,100.00,20.00,0.00,120.00,120.00,0.00,120.00,120.00,0.00\n"
		    "2026-01,R1,s1,1,0.00,0.00,0.00,0.50,0.50,0.50,0.00,0.50,0.50,0.00\n");

	/* D1 leaves too; then both orders come back. */
	ingest(st, EV_TERM("tD1", "2026-02-03T09:00:00", "D1")
		   EV_REFUND("f1", "2026-02-05T09:00:00", "o1", "1000.00")
		   EV_REFUND("f2", "2026-02-06T09:00:00", "o2", "1000.00"));
	close_period(st, "2026-02");
	/*
	 * Each reversal goes to whoever got the original line, terminated or
	 * not: D1 -50.00 twice; R1 -0.50 for o1 only (o2 had no override).
	 * f2 brings the net spend 2000.00 - 1000.00 - 1000.00 to 0: the bounty
	 * is reversed.
	 */
	assert_rows(st, "lines", "2026-02",
		    "2026-02,D1,bounty_reversal,f2,o2,m1,,,,-20.00\n"
		    "2026-02,D1,commission_reversal,f1,o1,m1,,1000.00,0.05,-50.00\n"
		    "2026-02,D1,commission_reversal,f2,o2,m1,,1000.00,0.05,-50.00\n"
		    "2026-02,R1,override_reversal,f1,o1,m1,D1,50.00,0.01,-0.50\n");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,-100.00,-20.00,0.00,-120.00,-120.00,0.00,-120.00,0.00,-120.00\n"
		    "2026-02,R1,s1,1,0.00,0.00,0.00,-0.50,-0.50,-0.50,0.00,-0.50,0.00,-0.50\n");
	assert_verifies(st);
	referral_store_free(st);
}

/* ---- §8 grading ------------------------------------------------------------------ */

/*
 * Grade 2's bounty is 25.00 in this variant so that a reversed bounty can
 * be told from the current one.
 */
#define GRADE2_BOUNTY_FROM "{\"grade\": 2, \"rate\": \"0.08\", \"bounty\": \"20.00\""
#define GRADE2_BOUNTY_TO "{\"grade\": 2, \"rate\": \"0.08\", \"bounty\": \"25.00\""

/*
 * January meets every grade-2 threshold exactly (3 bounties, sales
 * 3000.00, 5 shares, rating 3.0); February pays at grade 2; April's window
 * (Feb..Apr) misses. Checks everything up to April's close except April's
 * next_grade, which depends on allow_demotion.
 */
static referral_store *promotion_scenario(const char *plan)
{
	referral_store *st = store_with(plan);

	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00")
		   EV_RATING("r1", "2026-01-01T09:00:00", "s1", "3.0")
		   EV_DIST("D1", "2026-01-02T09:00:00", "s1")
		   EV_MEMBER("m1", "2026-01-03T09:00:00", "D1")
		   EV_MEMBER("m2", "2026-01-03T10:00:00", "D1")
		   EV_MEMBER("m3", "2026-01-03T11:00:00", "D1")
		   EV_ORDER("o1", "2026-01-05T09:00:00", "m1", "1000.00")
		   EV_ORDER("o2", "2026-01-06T09:00:00", "m2", "1000.00")
		   EV_ORDER("o3", "2026-01-07T09:00:00", "m3", "1000.00")
		   EV_SHARE("sh1", "2026-01-08T09:00:00", "D1")
		   EV_SHARE("sh2", "2026-01-09T09:00:00", "D1")
		   EV_SHARE("sh3", "2026-01-10T09:00:00", "D1")
		   EV_SHARE("sh4", "2026-01-11T09:00:00", "D1")
		   EV_SHARE("sh5", "2026-01-12T09:00:00", "D1"));
	close_period(st, "2026-01");
	/* 3 x 1000.00 x 0.05 = 150.00; 3 x 20.00 = 60.00. */
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,150.00,60.00,0.00,210.00,210.00,0.00,210.00,210.00,0.00\n");
	assert_rows(st, "grades", "2026-01", "2026-01,D1,1,3,3000.00,5,3.00,2\n");

	ingest(st, EV_MEMBER("m4", "2026-02-01T09:00:00", "D1")
		   EV_REFUND("f1", "2026-02-02T09:00:00", "o1", "1000.00")
		   EV_ORDER("o4", "2026-02-10T09:00:00", "m1", "1000.00")
		   EV_ORDER("o5", "2026-02-11T09:00:00", "m4", "100.00"));
	close_period(st, "2026-02");
	/*
	 * f1 reverses o1 at o1's rate: 1000.00 x 0.05 = 50.00, and m1's net
	 * goes to 0: the bounty reversed at its original 20.00. o4 at grade 2:
	 * 1000.00 x 0.08 = 80.00 and a new bounty at grade 2's 25.00; o5:
	 * 100.00 x 0.08 = 8.00 + 25.00.
	 * commission 80.00 + 8.00 - 50.00 = 38.00; bounty 25 + 25 - 20 = 30.00.
	 */
	assert_rows(st, "lines", "2026-02",
		    "2026-02,D1,bounty,o4,o4,m1,,,,25.00\n"
		    "2026-02,D1,bounty,o5,o5,m4,,,,25.00\n"
		    "2026-02,D1,bounty_reversal,f1,o1,m1,,,,-20.00\n"
		    "2026-02,D1,commission,o4,o4,m1,,1000.00,0.08,80.00\n"
		    "2026-02,D1,commission,o5,o5,m4,,100.00,0.08,8.00\n"
		    "2026-02,D1,commission_reversal,f1,o1,m1,,1000.00,0.05,-50.00\n");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,2,0.00,38.00,30.00,0.00,68.00,68.00,0.00,68.00,68.00,0.00\n");
	/* Window Jan..Feb: members 3 + 2 - 1 = 4; sales 3000 + 1100 - 1000. */
	assert_rows(st, "grades", "2026-02", "2026-02,D1,2,4,3100.00,5,3.00,2\n");

	close_period(st, "2026-03");
	assert_rows(st, "statements", "2026-03",
		    "2026-03,D1,s1,2,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n");
	assert_rows(st, "grades", "2026-03", "2026-03,D1,2,4,3100.00,5,3.00,2\n");

	close_period(st, "2026-04");
	ingest(st, EV_ORDER("o6", "2026-05-05T09:00:00", "m4", "100.00"));
	settle(st, "2026-05");
	return st;
}

Test(grading, promotion_then_demotion_when_allowed)
{
	char *plan = plan_with(1, GRADE2_BOUNTY_FROM, GRADE2_BOUNTY_TO);
	referral_store *st = promotion_scenario(plan);

	/* Window Feb..Apr: members 2 - 1 = 1, sales 1100.00 - 1000.00 = 100.00,
	 * no shares: grade 1. */
	assert_rows(st, "grades", "2026-04", "2026-04,D1,2,1,100.00,0,3.00,1\n");
	/* May at grade 1: 100.00 x 0.05 = 5.00 (m4's bounty already stands). */
	assert_rows(st, "statements", "2026-05",
		    "2026-05,D1,s1,1,0.00,5.00,0.00,0.00,5.00,5.00,0.00,5.00,5.00,0.00\n");
	assert_verifies(st);
	referral_store_free(st);
	free(plan);
}

Test(grading, no_demotion_when_not_allowed)
{
	char *plan = plan_with(2, GRADE2_BOUNTY_FROM, GRADE2_BOUNTY_TO,
			       "\"allow_demotion\": true", "\"allow_demotion\": false");
	referral_store *st = promotion_scenario(plan);

	/* The same window misses grade 2, but she keeps it. */
	assert_rows(st, "grades", "2026-04", "2026-04,D1,2,1,100.00,0,3.00,2\n");
	/* May at grade 2: 100.00 x 0.08 = 8.00. */
	assert_rows(st, "statements", "2026-05",
		    "2026-05,D1,s1,2,0.00,8.00,0.00,0.00,8.00,8.00,0.00,8.00,8.00,0.00\n");
	assert_verifies(st);
	referral_store_free(st);
	free(plan);
}

/*
 * The thresholds, one row each: D1's members each buy once (amounts), she
 * shares `shares` times, and her store is rated `rating` at `rating_at`
 * ("" = never). `want` is her January grades row.
 */
struct threshold_case {
	char amounts[200];
	int shares;
	char rating[8], rating_at[32];
	char want[64];
};

ParameterizedTestParameters(grading, thresholds)
{
	static struct threshold_case cases[] = {
		/* every grade-2 threshold met exactly */
		{"1000.00 1000.00 1000.00", 5, "3.0", "2026-01-01T09:00:00",
		 "2026-01,D1,1,3,3000.00,5,3.00,2\n"},
		/* members 2 < 3 */
		{"1500.00 1500.00", 5, "3.0", "2026-01-01T09:00:00",
		 "2026-01,D1,1,2,3000.00,5,3.00,1\n"},
		/* sales 2999.99 < 3000.00 */
		{"1000.00 1000.00 999.99", 5, "3.0", "2026-01-01T09:00:00",
		 "2026-01,D1,1,3,2999.99,5,3.00,1\n"},
		/* shares 4 < 5 */
		{"1000.00 1000.00 1000.00", 4, "3.0", "2026-01-01T09:00:00",
		 "2026-01,D1,1,3,3000.00,4,3.00,1\n"},
		/* rating 2.9 < 3.0 */
		{"1000.00 1000.00 1000.00", 5, "2.9", "2026-01-01T09:00:00",
		 "2026-01,D1,1,3,3000.00,5,2.90,1\n"},
		/* no rating: 0.00 */
		{"1000.00 1000.00 1000.00", 5, "", "", "2026-01,D1,1,3,3000.00,5,0.00,1\n"},
		/* rated at the last second of January: counts */
		{"1000.00 1000.00 1000.00", 5, "3.0", "2026-01-31T23:59:59",
		 "2026-01,D1,1,3,3000.00,5,3.00,2\n"},
		/* rated when February begins: not as of the end of January */
		{"1000.00 1000.00 1000.00", 5, "3.0", "2026-02-01T00:00:00",
		 "2026-01,D1,1,3,3000.00,5,0.00,1\n"},
		/* grade 3 straight from 1: 10 members, 10 x 1500.00, 20 shares, 3.5 */
		{"1500.00 1500.00 1500.00 1500.00 1500.00 1500.00 1500.00 1500.00 1500.00 1500.00",
		 20, "3.50", "2026-01-01T09:00:00", "2026-01,D1,1,10,15000.00,20,3.50,3\n"},
		/* grade 3's numbers but rating 3.4: grade 2 */
		{"1500.00 1500.00 1500.00 1500.00 1500.00 1500.00 1500.00 1500.00 1500.00 1500.00",
		 20, "3.4", "2026-01-01T09:00:00", "2026-01,D1,1,10,15000.00,20,3.40,2\n"},
	};
	return cr_make_param_array(struct threshold_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct threshold_case *c, grading, thresholds)
{
	referral_store *st = store_with(NULL);
	struct text t = {0};
	int n = 0;

	text_printf(&t, EV_STORE("s1", "2026-01-01T08:00:00")
			EV_DIST("D1", "2026-01-02T09:00:00", "s1"));
	if (c->rating[0])
		text_printf(&t, EV_RATING("r1", "%s", "s1", "%s"), c->rating_at, c->rating);
	char amounts[sizeof c->amounts];
	strcpy(amounts, c->amounts);
	for (char *a = strtok(amounts, " "); a; a = strtok(NULL, " ")) {
		n++;
		text_printf(&t, EV_MEMBER("m%d", "2026-01-03T09:%02d:00", "D1"), n, n);
		text_printf(&t, EV_ORDER("o%d", "2026-01-05T09:%02d:00", "m%d", "%s"), n, n, n, a);
	}
	for (int i = 1; i <= c->shares; i++)
		text_printf(&t, EV_SHARE("sh%d", "2026-01-10T09:%02d:00", "D1"), i, i);
	char *jsonl = text_take(&t);
	ingest(st, jsonl);
	free(jsonl);
	close_period(st, "2026-01");
	assert_rows(st, "grades", "2026-01", c->want);
	referral_store_free(st);
}

Test(grading, store_and_rating_are_those_at_the_end_of_the_period)
{
	referral_store *st = store_with(NULL);

	/* D1 moves to s2 at the last second of January and back to s1 when
	 * February begins; only s2 is rated. */
	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00")
		   EV_STORE("s2", "2026-01-01T08:30:00")
		   EV_RATING("r2", "2026-01-01T09:00:00", "s2", "4.0")
		   EV_DIST("D1", "2026-01-02T09:00:00", "s1")
		   EV_MOVE("mv1", "2026-01-31T23:59:59", "D1", "s2")
		   EV_MOVE("mv2", "2026-02-01T00:00:00", "D1", "s1"));
	close_period(st, "2026-01");
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s2,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n");
	assert_rows(st, "grades", "2026-01", "2026-01,D1,1,0,0.00,0,4.00,1\n");
	close_period(st, "2026-02");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n");
	assert_rows(st, "grades", "2026-02", "2026-02,D1,1,0,0.00,0,0.00,1\n");
	referral_store_free(st);
}

/* ---- §7 rounding, minimum payout, carry ------------------------------------------- */

/*
 * One order of `amount` at grade 1: commission amount x 0.05 plus the
 * bounty 20.00 makes the total; `payable` and `carry` under `mode`.
 */
struct rounding_case {
	char mode[12], amount[12], commission[12], total[12], payable[12], carry[12];
};

ParameterizedTestParameters(statement, rounding_modes)
{
	static struct rounding_case cases[] = {
		/* 2.50 x 0.05 = 0.125: total 20.125, an exact half */
		{"half_up", "2.50", "0.125", "20.125", "20.13", "-0.005"},
		{"half_even", "2.50", "0.125", "20.125", "20.12", "0.005"},
		{"down", "2.50", "0.125", "20.125", "20.12", "0.005"},
		/* 2.70 x 0.05 = 0.135: total 20.135, a half above an odd fen */
		{"half_up", "2.70", "0.135", "20.135", "20.14", "-0.005"},
		{"half_even", "2.70", "0.135", "20.135", "20.14", "-0.005"},
		{"down", "2.70", "0.135", "20.135", "20.13", "0.005"},
		/* 2.59 x 0.05 = 0.1295: total 20.1295, just under a half above */
		{"half_up", "2.59", "0.1295", "20.1295", "20.13", "-0.0005"},
		{"half_even", "2.59", "0.1295", "20.1295", "20.13", "-0.0005"},
		{"down", "2.59", "0.1295", "20.1295", "20.12", "0.0095"},
		/* 2.69 x 0.05 = 0.1345: total 20.1345, below a half */
		{"half_up", "2.69", "0.1345", "20.1345", "20.13", "0.0045"},
		{"half_even", "2.69", "0.1345", "20.1345", "20.13", "0.0045"},
		{"down", "2.69", "0.1345", "20.1345", "20.13", "0.0045"},
	};
	return cr_make_param_array(struct rounding_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct rounding_case *c, statement, rounding_modes)
{
	char mode[40], want[200];
	snprintf(mode, sizeof mode, "\"rounding\": \"%s\"", c->mode);
	char *plan = plan_with(1, "\"rounding\": \"half_up\"", mode);
	referral_store *st = store_with(plan);
	struct text t = {0};

	text_printf(&t, NETWORK_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "%s"), c->amount);
	char *jsonl = text_take(&t);
	ingest(st, jsonl);
	free(jsonl);
	settle(st, "2026-01");
	snprintf(want, sizeof want, "2026-01,D1,s1,1,0.00,%s,20.00,0.00,%s,%s,0.00,%s,%s,%s\n",
		 c->commission, c->total, c->total, c->total, c->payable, c->carry);
	assert_rows(st, "statements", "2026-01", want);
	referral_store_free(st);
	free(plan);
}

struct mode_case {
	char mode[12];
};

ParameterizedTestParameters(statement, negative_half_pays_nothing_in_every_mode)
{
	static struct mode_case cases[] = {{"half_up"}, {"half_even"}, {"down"}};
	return cr_make_param_array(struct mode_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct mode_case *c, statement, negative_half_pays_nothing_in_every_mode)
{
	char mode[40];
	snprintf(mode, sizeof mode, "\"rounding\": \"%s\"", c->mode);
	char *plan = plan_with(1, "\"rounding\": \"half_up\"", mode);
	referral_store *st = store_with(plan);

	ingest(st, NETWORK_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "1000.00"));
	close_period(st, "2026-01");
	/* 50.00 + 20.00 = 70.00, paid whole. */
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,50.00,20.00,0.00,70.00,70.00,0.00,70.00,70.00,0.00\n");
	ingest(st, EV_REFUND("f1", "2026-02-05T10:00:00", "o1", "2.50"));
	close_period(st, "2026-02");
	/* -2.50 x 0.05 = -0.125: rounds to a negative or zero fen -> 0.00. */
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,-0.125,0.00,0.00,-0.125,-0.125,0.00,-0.125,0.00,-0.125\n");
	referral_store_free(st);
	free(plan);
}

Test(statement, rounds_once_per_distributor_not_per_line)
{
	referral_store *st = store_with(NULL);

	ingest(st, NETWORK_D1_M1
		   EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "2.50")
		   EV_ORDER("o2", "2026-01-11T12:00:00", "m1", "2.50"));
	settle(st, "2026-01");
	/* 0.125 + 0.125 = 0.25 exactly: 20.25, no residue (per line: 20.26). */
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,0.25,20.00,0.00,20.25,20.25,0.00,20.25,20.25,0.00\n");
	referral_store_free(st);
}

Test(statement, below_min_payout_is_carried_and_paid_when_reached)
{
	char *plan = plan_with(1, "\"min_payout\": \"0.01\"", "\"min_payout\": \"100.00\"");
	referral_store *st = store_with(plan);

	ingest(st, NETWORK_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "600.00"));
	close_period(st, "2026-01");
	ingest(st, EV_ORDER("o2", "2026-02-10T12:00:00", "m1", "999.90"));
	close_period(st, "2026-02");
	close_period(st, "2026-03");
	/*
	 * Jan: 600.00 x 0.05 = 30.00 + 20.00 = 50.00 < 100.00: carried.
	 * Feb: 999.90 x 0.05 = 49.995; total 50.00 + 49.995 = 99.995 -> 100.00,
	 *      not below 100.00: paid, carry -0.005.
	 * Mar: nothing; total -0.005 -> 0.00, carry -0.005.
	 */
	assert_rows(st, "statements", NULL,
		    "2026-01,D1,s1,1,0.00,30.00,20.00,0.00,50.00,50.00,0.00,50.00,0.00,50.00\n"
		    "2026-02,D1,s1,1,50.00,49.995,0.00,0.00,49.995,49.995,0.00,99.995,100.00,-0.005\n"
		    "2026-03,D1,s1,1,-0.005,0.00,0.00,0.00,0.00,0.00,0.00,-0.005,0.00,-0.005\n");
	assert_verifies(st);
	referral_store_free(st);
	free(plan);
}

Test(statement, rounded_just_below_min_payout_is_carried)
{
	char *plan = plan_with(1, "\"min_payout\": \"0.01\"", "\"min_payout\": \"100.00\"");
	referral_store *st = store_with(plan);

	ingest(st, NETWORK_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "600.00")
		   EV_ORDER("o2", "2026-01-11T12:00:00", "m1", "999.80"));
	settle(st, "2026-01");
	/* 30.00 + 49.99 + 20.00 = 99.99 < 100.00: carried whole. */
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,79.99,20.00,0.00,99.99,99.99,0.00,99.99,0.00,99.99\n");
	referral_store_free(st);
	free(plan);
}

Test(statement, negative_carry_is_recovered_from_later_earnings)
{
	referral_store *st = store_with(NULL);

	ingest(st, NETWORK_R1_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "2391.37"));
	close_period(st, "2026-01");
	ingest(st, EV_REFUND("f1", "2026-02-05T10:00:00", "o1", "1000.00"));
	close_period(st, "2026-02");
	ingest(st, EV_ORDER("o2", "2026-03-03T10:00:00", "m1", "2000"));
	close_period(st, "2026-03");
	/*
	 * Jan: D1 119.5685 + 20.00 -> 139.57, carry -0.0015;
	 *      R1 1.195685 -> 1.20, carry -0.004315.
	 * Feb: D1 -1000 x 0.05 = -50.00; total -50.0015 -> 0.00, carried.
	 *      R1 -0.01 x 50.00 = -0.50; total -0.504315 -> 0.00, carried.
	 * Mar: D1 2000 x 0.05 = 100.00; -50.0015 + 100.00 = 49.9985 -> 50.00,
	 *      carry -0.0015. R1 1.00; -0.504315 + 1.00 = 0.495685 -> 0.50,
	 *      carry -0.004315.
	 * D1: 139.57 + 0 + 50.00 - 0.0015 = 189.5685
	 *   = 119.5685 + 20.00 - 50.00 + 100.00.
	 */
	assert_rows(st, "statements", NULL,
		    "2026-01,D1,s1,1,0.00,119.5685,20.00,0.00,139.5685,139.5685,0.00,139.5685,139.57,-0.0015\n"
		    "2026-01,R1,s1,1,0.00,0.00,0.00,1.195685,1.195685,1.195685,0.00,1.195685,1.20,-0.004315\n"
		    "2026-02,D1,s1,1,-0.0015,-50.00,0.00,0.00,-50.00,-50.00,0.00,-50.0015,0.00,-50.0015\n"
		    "2026-02,R1,s1,1,-0.004315,0.00,0.00,-0.50,-0.50,-0.50,0.00,-0.504315,0.00,-0.504315\n"
		    "2026-03,D1,s1,1,-50.0015,100.00,0.00,0.00,100.00,100.00,0.00,49.9985,50.00,-0.0015\n"
		    "2026-03,R1,s1,1,-0.504315,0.00,0.00,1.00,1.00,1.00,0.00,0.495685,0.50,-0.004315\n");
	assert_verifies(st);
	referral_store_free(st);
}

/* ---- §3 late and early booking ---------------------------------------------------- */

Test(late, events_dated_in_a_closed_period_are_settled_in_the_earliest_open)
{
	referral_store *st = store_with(NULL);

	ingest(st, NETWORK_D1_M1
		   EV_MEMBER("m2", "2026-01-05T09:00:00", "D1")
		   EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	close_period(st, "2026-01");
	char *jan = rows(st, "lines", "2026-01");
	assert_rows(st, "lines", "2026-01",
		    "2026-01,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-01,D1,commission,o1,o1,m1,,100.00,0.05,5.00\n");

	ingest(st, EV_ORDER("o2", "2026-02-05T09:00:00", "m2", "300.00"));
	/* Dated in closed January, ingested later: booked in February. */
	ingest(st, EV_ORDER("oL", "2026-01-20T09:00:00", "m2", "100.00")
		   EV_REFUND("fL", "2026-01-25T09:00:00", "o1", "100.00"));
	settle(st, "2026-02");
	/*
	 * February in (at, seq) order: oL (Jan 20) comes before o2 (Feb 5)
	 * although ingested after it, so oL takes m2's net spend from 0 and
	 * earns the bounty. fL refunds o1 whole: -5.00 and o1's bounty reversed.
	 * commission 15.00 + 5.00 - 5.00 = 15.00; bounty 20.00 - 20.00 = 0.00.
	 */
	assert_rows(st, "lines", "2026-02",
		    "2026-02,D1,bounty,oL,oL,m2,,,,20.00\n"
		    "2026-02,D1,bounty_reversal,fL,o1,m1,,,,-20.00\n"
		    "2026-02,D1,commission,o2,o2,m2,,300.00,0.05,15.00\n"
		    "2026-02,D1,commission,oL,oL,m2,,100.00,0.05,5.00\n"
		    "2026-02,D1,commission_reversal,fL,o1,m1,,100.00,0.05,-5.00\n");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,15.00,0.00,0.00,15.00,15.00,0.00,15.00,15.00,0.00\n");
	assert_rows(st, "lines", "2026-01", jan);
	free(jan);
	close_period(st, "2026-02");
	assert_verifies(st);
	referral_store_free(st);
}

Test(late, events_before_start_period_are_booked_in_the_first_period)
{
	referral_store *st = store_with(NULL);

	ingest(st, EV_STORE("s1", "2025-11-01T08:00:00")
		   EV_DIST("D1", "2025-11-02T09:00:00", "s1")
		   EV_MEMBER("m1", "2025-11-04T09:00:00", "D1")
		   EV_ORDER("o1", "2025-12-10T12:00:00", "m1", "100.00"));
	settle(st, "2026-01");
	assert_rows(st, "lines", NULL,
		    "2026-01,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-01,D1,commission,o1,o1,m1,,100.00,0.05,5.00\n");
	referral_store_free(st);
}

Test(late, events_dated_in_a_future_period_wait_for_it)
{
	referral_store *st = store_with(NULL);

	ingest(st, NETWORK_D1_M1 EV_ORDER("o1", "2026-03-10T12:00:00", "m1", "100.00"));
	close_period(st, "2026-01");
	close_period(st, "2026-02");
	settle(st, "2026-03");
	assert_rows(st, "lines", NULL,
		    "2026-03,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-03,D1,commission,o1,o1,m1,,100.00,0.05,5.00\n");
	referral_store_free(st);
}

Test(late, joiner_first_appears_in_the_period_she_is_booked_in)
{
	referral_store *st = store_with(NULL);

	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00")
		   EV_DIST("D1", "2026-01-02T09:00:00", "s1"));
	close_period(st, "2026-01");
	/* D2 dated in closed January (booked Feb); D3 dated in March. */
	ingest(st, EV_DIST("D2", "2026-01-15T09:00:00", "s1")
		   EV_MEMBER("m2", "2026-01-16T09:00:00", "D2")
		   EV_ORDER("o2", "2026-01-17T09:00:00", "m2", "100.00")
		   EV_DIST("D3", "2026-03-02T09:00:00", "s1"));
	close_period(st, "2026-02");
	settle(st, "2026-03");
	/* D2 gets 5.00 + 20.00 in February; D3 appears in March. */
	assert_rows(st, "statements", NULL,
		    "2026-01,D1,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n"
		    "2026-02,D1,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n"
		    "2026-02,D2,s1,1,0.00,5.00,20.00,0.00,25.00,25.00,0.00,25.00,25.00,0.00\n"
		    "2026-03,D1,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n"
		    "2026-03,D2,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n"
		    "2026-03,D3,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n");
	assert_rows(st, "grades", NULL,
		    "2026-01,D1,1,0,0.00,0,0.00,1\n"
		    "2026-02,D1,1,0,0.00,0,0.00,1\n"
		    "2026-02,D2,1,1,100.00,0,0.00,1\n");
	assert_verifies(st);
	referral_store_free(st);
}

/* ---- §11 the lifecycle ------------------------------------------------------------- */

Test(lifecycle, only_the_earliest_open_period_can_be_settled_or_closed)
{
	referral_store *st = store_with(NULL);
	int rc;

	ingest(st, NETWORK_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00")
		   EV_ORDER("o2", "2026-02-10T12:00:00", "m1", "100.00"));

	rc = referral_settle(st, "2026-02");
	cr_assert_eq(rc, REFERRAL_ESTATE);
	cr_assert(strstr(referral_errmsg(st), "2026-02") && strstr(referral_errmsg(st), "2026-01"),
		  "message: %s", referral_errmsg(st));
	rc = referral_close(st, "2026-02");
	cr_assert_eq(rc, REFERRAL_ESTATE);
	cr_assert(strstr(referral_errmsg(st), "2026-02"), "message: %s", referral_errmsg(st));
	rc = referral_settle(st, "2025-12");
	cr_assert_eq(rc, REFERRAL_ESTATE);
	cr_assert(strstr(referral_errmsg(st), "2025-12"), "message: %s", referral_errmsg(st));
	/* Nothing was stored by the refusals. */
	assert_rows(st, "statements", NULL, "");
	assert_rows(st, "lines", NULL, "");

	close_period(st, "2026-01");
	char *stm = rows(st, "statements", NULL), *lin = rows(st, "lines", NULL);
	rc = referral_settle(st, "2026-01");
	cr_assert_eq(rc, REFERRAL_ESTATE);
	cr_assert(strstr(referral_errmsg(st), "2026-01"), "message: %s", referral_errmsg(st));
	rc = referral_close(st, "2026-01");
	cr_assert_eq(rc, REFERRAL_ESTATE);
	cr_assert(strstr(referral_errmsg(st), "2026-01"), "message: %s", referral_errmsg(st));
	rc = referral_settle(st, "2026-03");
	cr_assert_eq(rc, REFERRAL_ESTATE);
	assert_rows(st, "statements", NULL, stm);
	assert_rows(st, "lines", NULL, lin);
	free(stm);
	free(lin);

	/* A malformed period is a usage error. */
	cr_assert_eq(referral_settle(st, "2026-2"), REFERRAL_EUSAGE);
	cr_assert_eq(referral_close(st, "2026-13"), REFERRAL_EUSAGE);
	char open[8];
	cr_assert_eq(referral_open_period(st, open, sizeof open), REFERRAL_OK);
	cr_assert_str_eq(open, "2026-02");
	referral_store_free(st);
}

Test(lifecycle, settle_is_rerunnable_and_replaces_the_draft)
{
	referral_store *st = store_with(NULL);

	ingest(st, NETWORK_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	settle(st, "2026-01");
	settle(st, "2026-01");
	/* Settled twice, nothing doubled: 5.00 + 20.00. */
	assert_rows(st, "lines", NULL,
		    "2026-01,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-01,D1,commission,o1,o1,m1,,100.00,0.05,5.00\n");
	assert_rows(st, "statements", NULL,
		    "2026-01,D1,s1,1,0.00,5.00,20.00,0.00,25.00,25.00,0.00,25.00,25.00,0.00\n");

	ingest(st, EV_MEMBER("m2", "2026-01-11T09:00:00", "D1")
		   EV_ORDER("o2", "2026-01-12T12:00:00", "m2", "300.00")
		   EV_REFUND("f1", "2026-01-13T12:00:00", "o1", "100.00"));
	settle(st, "2026-01");
	/*
	 * The new draft from every event: o1 5.00 + 20.00, fully refunded
	 * (-5.00, -20.00); o2 15.00 + 20.00. commission 15.00, bounty 20.00.
	 */
	assert_rows(st, "lines", NULL,
		    "2026-01,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-01,D1,bounty,o2,o2,m2,,,,20.00\n"
		    "2026-01,D1,bounty_reversal,f1,o1,m1,,,,-20.00\n"
		    "2026-01,D1,commission,o1,o1,m1,,100.00,0.05,5.00\n"
		    "2026-01,D1,commission,o2,o2,m2,,300.00,0.05,15.00\n"
		    "2026-01,D1,commission_reversal,f1,o1,m1,,100.00,0.05,-5.00\n");
	assert_rows(st, "statements", NULL,
		    "2026-01,D1,s1,1,0.00,15.00,20.00,0.00,35.00,35.00,0.00,35.00,35.00,0.00\n");
	char *draft = export_all(st);
	close_period(st, "2026-01");
	/* Closing without new events freezes exactly the draft (plus grades). */
	char *after = export_csv(st, "statements", NULL), *lines = export_csv(st, "lines", NULL);
	cr_assert(strstr(draft, after) == draft, "statements changed on close:\n%s", after);
	cr_assert(strstr(draft, lines) != NULL, "lines changed on close:\n%s", lines);
	free(draft);
	free(after);
	free(lines);
	referral_store_free(st);
}

/* ---- §5 plan versions -------------------------------------------------------------- */

Test(plan_version, applies_from_its_period_and_refunds_keep_the_original_rates)
{
	referral_store *st = store_with(NULL);
	/* From March: grade 1 pays 0.06 and the override is 0.02. */
	char *v2 = plan_with(2, "\"rate\": \"0.05\"", "\"rate\": \"0.06\"",
			     "\"override_rate\": \"0.01\"", "\"override_rate\": \"0.02\"");
	int rc;

	ingest(st, NETWORK_R1_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "1000.00"));
	rc = referral_plan_add(st, v2, "2026-03");
	cr_assert_eq(rc, REFERRAL_OK, "plan_add: %s", referral_errmsg(st));
	close_period(st, "2026-01");
	/* A version cannot start in a closed period. */
	rc = referral_plan_add(st, v2, "2026-01");
	cr_assert_eq(rc, REFERRAL_ESTATE);
	cr_assert(strstr(referral_errmsg(st), "2026-01"), "message: %s", referral_errmsg(st));

	ingest(st, EV_ORDER("o2", "2026-02-10T12:00:00", "m1", "1000.00"));
	close_period(st, "2026-02");
	/* February still uses the first plan: 50.00 and 0.50. */
	assert_rows(st, "lines", "2026-02",
		    "2026-02,D1,commission,o2,o2,m1,,1000.00,0.05,50.00\n"
		    "2026-02,R1,override,o2,o2,m1,D1,50.00,0.01,0.50\n");

	ingest(st, EV_ORDER("o3", "2026-03-10T12:00:00", "m1", "1000.00")
		   EV_REFUND("f1", "2026-03-15T12:00:00", "o1", "500.00"));
	settle(st, "2026-03");
	/*
	 * o3: 1000.00 x 0.06 = 60.00; override 0.02 x 60.00 = 1.20.
	 * f1 of January's o1 at its rates: 500.00 x 0.05 = 25.00 reversed,
	 * override 0.01 x 25.00 = 0.25 reversed.
	 */
	assert_rows(st, "lines", "2026-03",
		    "2026-03,D1,commission,o3,o3,m1,,1000.00,0.06,60.00\n"
		    "2026-03,D1,commission_reversal,f1,o1,m1,,500.00,0.05,-25.00\n"
		    "2026-03,R1,override,o3,o3,m1,D1,60.00,0.02,1.20\n"
		    "2026-03,R1,override_reversal,f1,o1,m1,D1,25.00,0.01,-0.25\n");
	/* D1 60.00 - 25.00 = 35.00; R1 1.20 - 0.25 = 0.95. */
	assert_rows(st, "statements", "2026-03",
		    "2026-03,D1,s1,1,0.00,35.00,0.00,0.00,35.00,35.00,0.00,35.00,35.00,0.00\n"
		    "2026-03,R1,s1,1,0.00,0.00,0.00,0.95,0.95,0.95,0.00,0.95,0.95,0.00\n");
	close_period(st, "2026-03");
	assert_verifies(st);
	referral_store_free(st);
	free(v2);
}

/* ---- §11 verify ---------------------------------------------------------------------- */

/* The basic month closed, the store freed: returns the file's path. */
static const char *closed_basic_store(char *path, size_t cap)
{
	referral_store *st = NULL;
	char *plan = test_reference_plan();

	snprintf(path, cap, "%s", test_db_path());
	cr_assert_eq(referral_store_create(&st, path, plan), REFERRAL_OK);
	free(plan);
	ingest(st, NETWORK_R1_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "2391.37"));
	close_period(st, "2026-01");
	assert_verifies(st);
	referral_store_free(st);
	return path;
}

/*
 * Alterations made directly in SQLite (triggers dropped first), each of
 * which verify must catch with a message naming a distributor in `who`
 * ("A|B": either).
 */
struct tamper_case {
	char sql[400];
	char who[16];
};

ParameterizedTestParameters(verify, catches_alterations)
{
	static struct tamper_case cases[] = {
		/* R1's payable 1.20 -> 1.21 (R1 sorts after D1: the message must
		 * really name the culprit) */
		{"DROP TRIGGER statements_frozen_u;"
		 " UPDATE statements SET payable = '1.21'"
		 " WHERE dist = (SELECT seq FROM events WHERE type = 3 AND id = 'R1')", "R1"},
		/* D1's commission 119.5685 -> 119.5686 (lines are re-derived from
		 * the log, never stored: they cannot be altered, what they sum to can) */
		{"DROP TRIGGER statements_frozen_u;"
		 " UPDATE statements SET commission = '119.5686'"
		 " WHERE dist = (SELECT seq FROM events WHERE type = 3 AND id = 'D1')", "D1"},
		/* D1's next grade 1 -> 4 */
		{"DROP TRIGGER grades_frozen_u;"
		 " UPDATE grades SET next_grade = 4"
		 " WHERE dist = (SELECT seq FROM events WHERE type = 3 AND id = 'D1')", "D1"},
		/* R1's statement removed */
		{"DROP TRIGGER statements_frozen_d;"
		 " DELETE FROM statements"
		 " WHERE dist = (SELECT seq FROM events WHERE type = 3 AND id = 'R1')", "R1"},
		/* D1's bounty count, which grading reads, 1 -> 2 */
		{"DROP TRIGGER statements_frozen_u;"
		 " UPDATE statements SET members = 2"
		 " WHERE dist = (SELECT seq FROM events WHERE type = 3 AND id = 'D1')", "D1"},
		/* the bounty state carried to the next period */
		{"DROP TRIGGER snapshots_frozen_u;"
		 " UPDATE snapshots SET data = x'0101'", "snapshot"},
		/* the network cache the next close starts from: well formed, but
		 * without m1's binding (format 1, no member binding, no bind) */
		{"UPDATE networks SET data = x'010000'", "network"},
		/* the order itself rewritten in the log: 2391.37 -> 2391.38 */
		{"DROP TRIGGER events_append_only_u;"
		 " UPDATE events SET num = '2391.38' WHERE type = 9 AND id = 'o1'", "D1|R1"},
	};
	return cr_make_param_array(struct tamper_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct tamper_case *c, verify, catches_alterations)
{
	char path[300], who[16];
	closed_basic_store(path, sizeof path);
	tamper(path, c->sql);

	referral_store *st = NULL;
	int rc = referral_store_open(&st, path);
	cr_assert_eq(rc, REFERRAL_OK, "open: %s", referral_errmsg(st));
	rc = referral_verify(st);
	cr_assert_eq(rc, REFERRAL_EVERIFY, "verify returned %d: %s", rc, referral_errmsg(st));
	int named = 0;
	strcpy(who, c->who);
	for (char *w = strtok(who, "|"); w; w = strtok(NULL, "|"))
		named |= strstr(referral_errmsg(st), w) != NULL;
	cr_assert(named, "message does not name %s: %s", c->who, referral_errmsg(st));
	referral_store_free(st);
}

Test(verify, frozen_rows_refuse_updates)
{
	char path[300];
	closed_basic_store(path, sizeof path);
	cr_assert_neq(test_store_sql(path, "UPDATE statements SET payable = '1.21'"), 0,
		      "a closed statement was updated");
	cr_assert(strstr(test_store_error(), "closed periods are immutable"), "%s",
		  test_store_error());
	cr_assert_neq(test_store_sql(path, "DELETE FROM snapshots"), 0,
		      "a closed bounty snapshot was deleted");
}

/* ---- the network cache (settle.c) ------------------------------------------------ */

/* The value of a one-row, one-column query on the store. */
static long long query_int(const char *path, const char *sql)
{
	return test_store_int(path, sql);
}

/* January closed with s1, s2, R1 -> D1, D2, m1 bound to D1 and m0 unbound;
 * m1 ordered 100.00. The store is left open at `path`. */
static referral_store *january_closed(char *path, size_t cap)
{
	char *plan = test_reference_plan();
	snprintf(path, cap, "%s", test_db_path());
	referral_store *st = store_at(path, plan);
	free(plan);
	ingest(st, NETWORK_R1_D1_M1
		   EV_STORE("s2", "2026-01-01T08:30:00")
		   EV_DIST("D2", "2026-01-02T10:00:00", "s1")
		   EV_MEMBER0("m0", "2026-01-05T09:00:00")
		   EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	close_period(st, "2026-01");
	return st;
}

Test(network_cache, the_next_close_starts_from_it_and_agrees_with_the_log)
{
	char path[300];
	referral_store *st = january_closed(path, sizeof path);
	/* every network event of February comes after January's cache */
	ingest(st, EV_MEMBER("m2", "2026-02-01T09:00:00", "D2")
		   EV_BIND("b0", "2026-02-02T09:00:00", "m0", "D1")
		   EV_MOVE("c1", "2026-02-03T09:00:00", "D1", "s2")
		   EV_TERM("t1", "2026-02-05T09:00:00", "R1")
		   EV_ORDER("o2", "2026-02-10T09:00:00", "m1", "200.00")
		   EV_ORDER("o3", "2026-02-11T09:00:00", "m2", "300.00")
		   EV_ORDER("o4", "2026-02-12T09:00:00", "m0", "400.00"));
	close_period(st, "2026-02");
	/*
	 * o2: m1's binding from the cache, D1 at 0.05: 10.00; m1's net spend
	 *     goes 100.00 -> 300.00 (carried), so no new bounty; R1 is
	 *     terminated (Feb 5) before o2, so no override.
	 * o3: m2 joined after the cache, bound to D2: 15.00 + bounty 20.00.
	 * o4: m0's bind after the cache, to D1: 20.00 + bounty 20.00.
	 * D1: 10.00 + 20.00 = 30.00 commission, 20.00 bounty, at s2 since Feb 3:
	 *     accrued 50.00, paid whole. D2: 15.00 + 20.00 = 35.00. R1: nothing.
	 */
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s2,1,0.00,30.00,20.00,0.00,50.00,50.00,0.00,50.00,50.00,0.00\n"
		    "2026-02,D2,s1,1,0.00,15.00,20.00,0.00,35.00,35.00,0.00,35.00,35.00,0.00\n"
		    "2026-02,R1,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n");
	/* verify rebuilds the network from the log alone and compares */
	assert_verifies(st);
	/* kept: January's (which served February) and February's */
	cr_assert_eq(query_int(path, "SELECT count(*) FROM networks"), 2);
	cr_assert_eq(query_int(path, "SELECT last_seq FROM networks WHERE period = 2026 * 12 + 1"),
		     query_int(path, "SELECT max(seq) FROM events"));
	close_period(st, "2026-03");
	cr_assert_eq(query_int(path, "SELECT min(period) FROM networks"), 2026 * 12 + 1);
	assert_verifies(st);
	referral_store_free(st);
}

/* The store holds `n` network caches, the newest for `period`. */
static void assert_caches(const char *path, long long n, long long period)
{
	cr_assert_eq(query_int(path, "SELECT count(*) FROM networks"), n);
	cr_assert_eq(query_int(path, "SELECT max(period) FROM networks"), period);
}

/* A month that adds few bindings reads them from the log after the cache
 * it starts from, and writes no new cache; one that adds more than an
 * eighth of the cached bindings writes a new one. Older caches are
 * deleted once a newer one has served. */
Test(network_cache, is_rewritten_only_when_an_eighth_of_the_bindings_are_newer)
{
	char path[300];
	char *plan = test_reference_plan();
	snprintf(path, sizeof path, "%s", test_db_path());
	referral_store *st = store_at(path, plan);
	free(plan);
	/* January: eight bindings, m1 to m8, all to D1 */
	ingest(st, NETWORK_R1_D1_M1
		   EV_DIST("D2", "2026-01-02T10:00:00", "s1")
		   EV_MEMBER("m2", "2026-01-05T09:00:00", "D1")
		   EV_MEMBER("m3", "2026-01-05T09:01:00", "D1")
		   EV_MEMBER("m4", "2026-01-05T09:02:00", "D1")
		   EV_MEMBER("m5", "2026-01-05T09:03:00", "D1")
		   EV_MEMBER("m6", "2026-01-05T09:04:00", "D1")
		   EV_MEMBER("m7", "2026-01-05T09:05:00", "D1")
		   EV_MEMBER("m8", "2026-01-05T09:06:00", "D1"));
	close_period(st, "2026-01");
	assert_caches(path, 1, 2026 * 12);

	/* February: one new binding (1 of 9, not more than 8 / 8): no new cache.
	 * n1 -> D2 orders 300.00: 300.00 x 0.05 = 15.00, and the bounty 20.00. */
	ingest(st, EV_MEMBER("n1", "2026-02-01T09:00:00", "D2")
		   EV_ORDER("o1", "2026-02-10T09:00:00", "n1", "300.00"));
	close_period(st, "2026-02");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n"
		    "2026-02,D2,s1,1,0.00,15.00,20.00,0.00,35.00,35.00,0.00,35.00,35.00,0.00\n"
		    "2026-02,R1,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n");
	assert_caches(path, 1, 2026 * 12);

	/* March: n1 and n2 both come from the log now (2 > 8 / 8): a new cache.
	 * D2: o2 by n2, 15.00 and the bounty 20.00; o3 by n1, 15.00 (her
	 * bounty stands). */
	ingest(st, EV_MEMBER("n2", "2026-03-01T09:00:00", "D2")
		   EV_ORDER("o2", "2026-03-10T09:00:00", "n2", "300.00")
		   EV_ORDER("o3", "2026-03-11T09:00:00", "n1", "300.00"));
	close_period(st, "2026-03");
	assert_rows(st, "statements", "2026-03",
		    "2026-03,D1,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n"
		    "2026-03,D2,s1,1,0.00,30.00,20.00,0.00,50.00,50.00,0.00,50.00,50.00,0.00\n"
		    "2026-03,R1,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n");
	/* January's served March and is kept until a newer one has served */
	assert_caches(path, 2, 2026 * 12 + 2);
	assert_verifies(st);

	/* April starts from March's, writes none and deletes January's */
	close_period(st, "2026-04");
	assert_caches(path, 1, 2026 * 12 + 2);
	assert_verifies(st);
	referral_store_free(st);
}

struct damaged_case {
	char blob[40];
};

ParameterizedTestParameters(network_cache, damaged_fails_the_close_and_stores_nothing)
{
	static struct damaged_case cases[] = {
		{"x'01'"},             /* the counts are missing */
		{"x'02010000'"},       /* an unknown format */
		{"x'0101000100'"},     /* one member binding, cut short */
		{"x'0100000000'"},     /* no binding, and bytes after them */
		/* one member binding (seq 4, at 0) to distributor index 99 */
		{"x'01010004006324'"},
	};
	return cr_make_param_array(struct damaged_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct damaged_case *c, network_cache, damaged_fails_the_close_and_stores_nothing)
{
	char path[300], sql[128], open[16];
	referral_store *st = january_closed(path, sizeof path);
	ingest(st, EV_ORDER("o2", "2026-02-10T09:00:00", "m1", "200.00"));
	snprintf(sql, sizeof sql, "UPDATE networks SET data = %s", c->blob);
	tamper(path, sql);

	int rc = referral_close(st, "2026-02");
	cr_assert_eq(rc, REFERRAL_EIO, "close returned %d: %s", rc, referral_errmsg(st));
	cr_assert(strstr(referral_errmsg(st), "network cache is damaged"), "%s", referral_errmsg(st));
	cr_assert_eq(referral_open_period(st, open, sizeof open), REFERRAL_OK);
	cr_assert_str_eq(open, "2026-02");
	assert_rows(st, "statements", "2026-02", "");
	referral_store_free(st);
}

/* ---- the statements' texts, made by a thread of their own (settle.c) ------------- */

extern int stream_use_thread;

/* More distributors than two chunks of statement texts (1,024 each). */
#define MANY 2500

/* Distributor D<i> (i < MANY) has member m<i>, who orders
 * (10 + i % 90).(i % 100) yuan in the month: an order o<month>-<i>.
 * The first month also brings the store and the network. */
static char *many_month(int month)
{
	struct text t = {0};
	char line[300];
	if (month == 1)
		text_add(&t, EV_STORE("s1", "2026-01-01T08:00:00"),
			 strlen(EV_STORE("s1", "2026-01-01T08:00:00")));
	for (int i = 0; i < MANY; i++) {
		int n = 0;
		if (month == 1)
			n = snprintf(line, sizeof line,
				     "{\"type\":\"distributor\",\"id\":\"D%04d\",\"at\":\"2026-01-02T09:00:00\","
				     "\"kind\":\"mom\",\"store\":\"s1\",\"recruiter\":null}\n"
				     "{\"type\":\"member\",\"id\":\"m%04d\",\"at\":\"2026-01-03T09:00:00\","
				     "\"distributor\":\"D%04d\"}\n", i, i, i);
		n += snprintf(line + n, sizeof line - (size_t)n,
			      "{\"type\":\"order\",\"id\":\"o%d-%04d\",\"at\":\"2026-%02d-10T09:00:00\","
			      "\"member\":\"m%04d\",\"amount\":\"%d.%02d\"}\n",
			      month, i, month, i, 10 + i % 90, i % 100);
		text_add(&t, line, (size_t)n);
	}
	return text_take(&t);
}

/* A store with January closed and February's orders ingested. */
static referral_store *many_store(char *path, size_t cap)
{
	char *plan = test_reference_plan();
	snprintf(path, cap, "%s", test_db_path());
	referral_store *st = store_at(path, plan);
	free(plan);
	for (int month = 1; month <= 2; month++) {
		char *batch = many_month(month);
		ingest(st, batch);
		free(batch);
		if (month == 1)
			close_period(st, "2026-01");
	}
	return st;
}

Test(statement_texts, made_by_a_thread_across_chunks_as_made_inline)
{
	char pa[300], pb[300];
	referral_store *a = many_store(pa, sizeof pa);
	close_period(a, "2026-02");
	stream_use_thread = 0;
	referral_store *b = many_store(pb, sizeof pb);
	close_period(b, "2026-02");
	stream_use_thread = 1;
	/*
	 * D0007: m0007 orders 17.07 each month.
	 * January: 17.07 x 0.05 = 0.8535, bounty 20.00: 20.8535, paid 20.85,
	 * carry 0.0035. February: 0.8535 (the bounty stands): total 0.857,
	 * paid 0.86, carry -0.003.
	 * D2417 (in the third chunk): m2417 orders 87.17: 87.17 x 0.05 =
	 * 4.3585; January 24.3585, paid 24.36, carry -0.0015; February total
	 * 4.357, paid 4.36, carry -0.003.
	 */
	static const char *const want[] = {
		"2026-01,D0007,s1,1,0.00,0.8535,20.00,0.00,20.8535,20.8535,0.00,20.8535,20.85,0.0035\n",
		"2026-02,D0007,s1,1,0.0035,0.8535,0.00,0.00,0.8535,0.8535,0.00,0.857,0.86,-0.003\n",
		"2026-01,D2417,s1,1,0.00,4.3585,20.00,0.00,24.3585,24.3585,0.00,24.3585,24.36,-0.0015\n",
		"2026-02,D2417,s1,1,-0.0015,4.3585,0.00,0.00,4.3585,4.3585,0.00,4.357,4.36,-0.003\n",
	};
	char *csv = export_csv(a, "statements", NULL);
	for (size_t i = 0; i < sizeof want / sizeof *want; i++)
		cr_assert(strstr(csv, want[i]), "missing: %s", want[i]);
	size_t lines = 0;
	for (const char *p = csv; *p; p++)
		lines += *p == '\n';
	cr_assert_eq(lines, 1 + 2 * MANY); /* the header, and every distributor twice */
	free(csv);
	assert_verifies(a);
	char *ea = export_all(a), *eb = export_all(b);
	cr_assert_str_eq(ea, eb, "statements made by a thread and inline differ");
	free(ea);
	free(eb);
	referral_store_free(a);
	referral_store_free(b);
}

ParameterizedTestParameters(statement_texts, damaged_carry_fails_the_close_and_stores_nothing)
{
	static int threaded[] = {1, 0};
	return cr_make_param_array(int, threaded, 2);
}

/* D2400's texts are made in the third chunk, after two chunks of
 * statements were inserted: the close fails and stores none. */
ParameterizedTest(int *threaded, statement_texts, damaged_carry_fails_the_close_and_stores_nothing)
{
	char path[300], open[16];
	referral_store *st = many_store(path, sizeof path);
	tamper(path, "DROP TRIGGER statements_frozen_u; UPDATE statements SET closing_carry = '1.2.3'"
		     " WHERE dist = (SELECT seq FROM events WHERE type = 3 AND id = 'D2400')");
	stream_use_thread = *threaded;
	int rc = referral_close(st, "2026-02");
	stream_use_thread = 1;
	cr_assert_eq(rc, REFERRAL_EIO, "close returned %d: %s", rc, referral_errmsg(st));
	cr_assert(strstr(referral_errmsg(st), "a stored carry is not a decimal"), "%s",
		  referral_errmsg(st));
	cr_assert_eq(referral_open_period(st, open, sizeof open), REFERRAL_OK);
	cr_assert_str_eq(open, "2026-02");
	assert_rows(st, "statements", "2026-02", "");
	referral_store_free(st);
}

/* ---- the largest bounty a binding holds (settle.c) ---------------------------------- */

/* A standing bounty is kept in 32 bits of fen: the largest a plan may pay,
 * 21,474,836.47 yuan (2^31 - 1 fen), is paid exactly. Plans with more are
 * refused (test_plan.c). */
Test(bounty_limit, the_largest_bounty_a_plan_may_pay_is_paid)
{
	char path[300];
	char *plan = test_reference_plan();
	/* every grade's bounty (they may not decrease with the grade) */
	struct text t = {0};
	const char *p = plan, *key = "\"bounty\": \"";
	for (const char *at; (at = strstr(p, key)); p = strchr(at + strlen(key), '"')) {
		text_add(&t, p, (size_t)(at - p) + strlen(key));
		text_add(&t, "21474836.47", strlen("21474836.47"));
	}
	text_add(&t, p, strlen(p));
	char *big = text_take(&t);
	free(plan);
	snprintf(path, sizeof path, "%s", test_db_path());
	referral_store *st = store_at(path, big);
	free(big);
	ingest(st, NETWORK_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	close_period(st, "2026-01");
	/* 100.00 x 0.05 = 5.00 and the bounty */
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,5.00,21474836.47,0.00,21474841.47,21474841.47,0.00,"
		    "21474841.47,21474841.47,0.00\n");
	/* and it stands in the snapshot carried to February: a full refund
	 * there reverses all of it */
	ingest(st, EV_REFUND("r1", "2026-02-10T12:00:00", "o1", "100.00"));
	close_period(st, "2026-02");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,-5.00,-21474836.47,0.00,-21474841.47,-21474841.47,0.00,"
		    "-21474841.47,0.00,-21474841.47\n");
	assert_verifies(st);
	referral_store_free(st);
}

/* A store whose plan was stored before plans were limited to that bounty
 * still opens; the close in which such a bounty is earned fails and
 * stores nothing. */
Test(bounty_limit, a_stored_plan_beyond_it_opens_and_its_bounty_is_refused_at_close)
{
	char path[300], open[16];
	char *plan = test_reference_plan();
	snprintf(path, sizeof path, "%s", test_db_path());
	referral_store *st = store_at(path, plan);
	free(plan);
	ingest(st, NETWORK_D1_M1 EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100.00"));
	referral_store_free(st);
	tamper(path, "UPDATE plans SET body = replace(replace(replace(body, '\"20.00\"',"
		     " '\"30000000.00\"'), '\"30.00\"', '\"30000000.00\"'), '\"50.00\"',"
		     " '\"30000000.00\"')");
	st = NULL;
	cr_assert_eq(referral_store_open(&st, path), REFERRAL_OK, "%s", referral_errmsg(st));
	int rc = referral_close(st, "2026-01");
	cr_assert_eq(rc, REFERRAL_EIO, "close returned %d", rc);
	cr_assert(strstr(referral_errmsg(st), "amounts too large"), "%s", referral_errmsg(st));
	cr_assert_eq(referral_open_period(st, open, sizeof open), REFERRAL_OK);
	cr_assert_str_eq(open, "2026-01");
	assert_rows(st, "statements", "2026-01", "");
	referral_store_free(st);
}

/* ---- §5, §6.1 a binding's window comes from the plan of its booking period ------- */

Test(plan_version, binding_window_is_the_one_of_its_booking_period)
{
	referral_store *st = store_with(NULL);
	/* From March, bindings last one month. */
	char *v2 = plan_with(1, "\"commission_window_months\": 36", "\"commission_window_months\": 1");

	cr_assert_eq(referral_plan_add(st, v2, "2026-03"), REFERRAL_OK, "%s", referral_errmsg(st));
	/*
	 * m1 bound in January: 36 months. m2 bound 2026-03-05T10:00 (booked in
	 * March): one month, to 2026-04-05T10:00; then free to bind to D2.
	 */
	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00")
		   EV_DIST("D1", "2026-01-02T09:00:00", "s1")
		   EV_DIST("D2", "2026-01-02T10:00:00", "s1")
		   EV_MEMBER("m1", "2026-01-05T09:00:00", "D1")
		   EV_MEMBER("m2", "2026-03-05T10:00:00", "D1")
		   EV_ORDER("o2", "2026-04-05T09:59:59", "m2", "100.00")
		   EV_ORDER("o3", "2026-04-05T10:00:00", "m2", "100.00")
		   EV_BIND("b2", "2026-04-06T09:00:00", "m2", "D2")
		   EV_ORDER("o1", "2026-04-10T09:00:00", "m1", "100.00")
		   EV_ORDER("o4", "2026-04-10T10:00:00", "m2", "100.00"));
	close_through(st, "2026-03");
	settle(st, "2026-04");
	/* o1 and o2 to D1, o3 to nobody, o4 to D2: 5.00 + 20.00 each. */
	assert_rows(st, "lines", NULL,
		    "2026-04,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-04,D1,bounty,o2,o2,m2,,,,20.00\n"
		    "2026-04,D1,commission,o1,o1,m1,,100.00,0.05,5.00\n"
		    "2026-04,D1,commission,o2,o2,m2,,100.00,0.05,5.00\n"
		    "2026-04,D2,bounty,o4,o4,m2,,,,20.00\n"
		    "2026-04,D2,commission,o4,o4,m2,,100.00,0.05,5.00\n");
	referral_store_free(st);
	free(v2);
}

/* ---- §2 exact values are never cut ------------------------------------------------ */

Test(exact, long_rates_give_long_exact_values)
{
	/* grade 1 and the override pay 10^-59 (a 60-digit decimal). */
	static const char tiny[] = "0.00000000000000000000000000000000000000000000000000000000001";
	char rate[120], orate[120];
	snprintf(rate, sizeof rate, "\"rate\": \"%s\"", tiny);
	snprintf(orate, sizeof orate, "\"override_rate\": \"%s\"", tiny);
	char *plan = plan_with(2, "\"rate\": \"0.05\"", rate, "\"override_rate\": \"0.01\"", orate);
	referral_store *st = store_with(plan);

	/* The largest money: 30 digits. */
	ingest(st, NETWORK_R1_D1_M1
		   EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "1234567890123456789012345678.91"));
	settle(st, "2026-01");
	/*
	 * commission = 123456789012345678901234567891 x 10^-2 x 10^-59
	 *            = 123456789012345678901234567891 x 10^-61:
	 *   "0." then 61 - 30 = 31 zeros then the 30 digits;
	 * override   = that x 10^-59 = 123456789012345678901234567891 x 10^-120:
	 *   "0." then 90 zeros then the 30 digits.
	 */
	char z31[32], z90[91], commission[100], override[160], line[600], want[2000];
	memset(z31, '0', 31);
	z31[31] = '\0';
	memset(z90, '0', 90);
	z90[90] = '\0';
	snprintf(commission, sizeof commission, "0.%s123456789012345678901234567891", z31);
	snprintf(override, sizeof override, "0.%s123456789012345678901234567891", z90);
	cr_assert_eq(strlen(override), 122);
	snprintf(want, sizeof want,
		 "2026-01,D1,bounty,o1,o1,m1,,,,20.00\n"
		 "2026-01,D1,commission,o1,o1,m1,,1234567890123456789012345678.91,%s,%s\n"
		 "2026-01,R1,override,o1,o1,m1,D1,%s,%s,%s\n",
		 tiny, commission, commission, tiny, override);
	assert_rows(st, "lines", "2026-01", want);
	/*
	 * D1: total 20 + commission -> 20.00 (half_up: far below half a fen),
	 * carry = the commission; R1: total = override -> 0.00, carry = it.
	 */
	snprintf(line, sizeof line,
		 "2026-01,D1,s1,1,0.00,%s,20.00,0.00,20.%s,20.%s,0.00,20.%s,20.00,%s\n", commission,
		 commission + 2, commission + 2, commission + 2, commission);
	snprintf(want, sizeof want, "%s2026-01,R1,s1,1,0.00,0.00,0.00,%s,%s,%s,0.00,%s,0.00,%s\n",
		 line, override, override, override, override, override);
	assert_rows(st, "statements", "2026-01", want);
	close_period(st, "2026-01");
	assert_verifies(st);

	/*
	 * The whole order refunded in February: m1's net spend, carried in the
	 * bounty snapshot, goes back to 0, so the bounty is reversed too.
	 * D1: opening = the commission carried, commission -it, bounty -20.00:
	 *     accrued -20.000..0123..., total -20.00, nothing paid, carry -20.00.
	 * R1: opening = the override carried, override -it: total 0.00.
	 */
	ingest(st, EV_REFUND("f1", "2026-02-10T12:00:00", "o1", "1234567890123456789012345678.91"));
	close_period(st, "2026-02");
	snprintf(line, sizeof line,
		 "2026-02,D1,s1,1,%s,-%s,-20.00,0.00,-20.%s,-20.%s,0.00,-20.00,0.00,-20.00\n",
		 commission, commission, commission + 2, commission + 2);
	snprintf(want, sizeof want,
		 "%s2026-02,R1,s1,1,%s,0.00,0.00,-%s,-%s,-%s,0.00,0.00,0.00,0.00\n", line, override,
		 override, override, override);
	assert_rows(st, "statements", "2026-02", want);
	assert_verifies(st);
	referral_store_free(st);
	free(plan);
}

/* ---- more of §3 and §6: processing order, "as of t", bindings anew ------------------ */

Test(order, same_instant_events_go_in_ingest_order)
{
	referral_store *st = store_with(NULL);

	/* oB is ingested before oA, at the same instant: oB takes the bounty. */
	ingest(st, NETWORK_D1_M1 EV_ORDER("oB", "2026-01-10T12:00:00", "m1", "100.00"));
	ingest(st, EV_ORDER("oA", "2026-01-10T04:00:00Z", "m1", "300.00"));
	settle(st, "2026-01");
	assert_rows(st, "lines", "2026-01",
		    "2026-01,D1,bounty,oB,oB,m1,,,,20.00\n"
		    "2026-01,D1,commission,oA,oA,m1,,300.00,0.05,15.00\n"
		    "2026-01,D1,commission,oB,oB,m1,,100.00,0.05,5.00\n");
	referral_store_free(st);
}

Test(order, late_termination_counts_for_later_settlements_only)
{
	referral_store *st = store_with(NULL);

	ingest(st, NETWORK_D1_M1 EV_ORDER("o1", "2026-01-20T09:00:00", "m1", "100.00"));
	close_period(st, "2026-01");
	char *jan = rows(st, "statements", "2026-01");
	/*
	 * Learnt in February: D1 left on January 15. o1 (Jan 20) was paid in
	 * closed January and stays paid; a late order of Jan 18 finds no active
	 * binding; the refund of o1 claws back from D1 (5.00 and, the net
	 * spend back to 0, the bounty).
	 */
	ingest(st, EV_TERM("t1", "2026-01-15T09:00:00", "D1")
		   EV_ORDER("oL", "2026-01-18T09:00:00", "m1", "200.00")
		   EV_REFUND("f1", "2026-02-05T09:00:00", "o1", "100.00"));
	close_period(st, "2026-02");
	assert_rows(st, "statements", "2026-01", jan);
	free(jan);
	assert_rows(st, "lines", "2026-02",
		    "2026-02,D1,bounty_reversal,f1,o1,m1,,,,-20.00\n"
		    "2026-02,D1,commission_reversal,f1,o1,m1,,100.00,0.05,-5.00\n");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,-5.00,-20.00,0.00,-25.00,-25.00,0.00,-25.00,0.00,-25.00\n");
	assert_verifies(st);
	referral_store_free(st);
}

Test(order, late_order_is_paid_at_the_grade_of_its_booking_period)
{
	referral_store *st = store_with(NULL);

	/* January meets grade 2 exactly (3 bounties, 3000.00, 5 shares, 3.0). */
	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00")
		   EV_RATING("r1", "2026-01-01T09:00:00", "s1", "3.0")
		   EV_DIST("D1", "2026-01-02T09:00:00", "s1")
		   EV_MEMBER("m1", "2026-01-03T09:00:00", "D1")
		   EV_MEMBER("m2", "2026-01-03T10:00:00", "D1")
		   EV_MEMBER("m3", "2026-01-03T11:00:00", "D1")
		   EV_ORDER("o1", "2026-01-05T09:00:00", "m1", "1000.00")
		   EV_ORDER("o2", "2026-01-06T09:00:00", "m2", "1000.00")
		   EV_ORDER("o3", "2026-01-07T09:00:00", "m3", "1000.00")
		   EV_SHARE("sh1", "2026-01-08T09:00:00", "D1")
		   EV_SHARE("sh2", "2026-01-09T09:00:00", "D1")
		   EV_SHARE("sh3", "2026-01-10T09:00:00", "D1")
		   EV_SHARE("sh4", "2026-01-11T09:00:00", "D1")
		   EV_SHARE("sh5", "2026-01-12T09:00:00", "D1"));
	close_period(st, "2026-01");
	assert_rows(st, "grades", "2026-01", "2026-01,D1,1,3,3000.00,5,3.00,2\n");
	/* Dated January 25, booked in February: grade(D1, Feb) = 2, 100.00 x 0.08. */
	ingest(st, EV_ORDER("oL", "2026-01-25T09:00:00", "m1", "100.00"));
	settle(st, "2026-02");
	assert_rows(st, "lines", "2026-02", "2026-02,D1,commission,oL,oL,m1,,100.00,0.08,8.00\n");
	referral_store_free(st);
}

Test(bounty, a_new_binding_after_the_window_earns_it_again)
{
	/* Bindings last one month in this plan. */
	char *plan = plan_with(1, "\"commission_window_months\": 36", "\"commission_window_months\": 1");
	referral_store *st = store_with(plan);

	/*
	 * m1's first binding: 2026-01-05T10:00 to 2026-02-05T10:00. o1 earns
	 * 5.00 + 20.00; o2 after the end earns nothing; b2 binds her to D1
	 * again and o3 starts the new binding's spend: 10.00 + a new 20.00.
	 * f1 refunds o1 whole: the first binding's bounty is reversed, the
	 * second's stands.
	 */
	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00")
		   EV_DIST("D1", "2026-01-02T09:00:00", "s1")
		   EV_MEMBER("m1", "2026-01-05T10:00:00", "D1")
		   EV_ORDER("o1", "2026-01-10T09:00:00", "m1", "100.00")
		   EV_ORDER("o2", "2026-02-06T09:00:00", "m1", "100.00")
		   EV_BIND("b2", "2026-02-07T09:00:00", "m1", "D1")
		   EV_ORDER("o3", "2026-02-10T09:00:00", "m1", "200.00")
		   EV_REFUND("f1", "2026-02-12T09:00:00", "o1", "100.00"));
	close_period(st, "2026-01");
	settle(st, "2026-02");
	assert_rows(st, "lines", NULL,
		    "2026-01,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-01,D1,commission,o1,o1,m1,,100.00,0.05,5.00\n"
		    "2026-02,D1,bounty,o3,o3,m1,,,,20.00\n"
		    "2026-02,D1,bounty_reversal,f1,o1,m1,,,,-20.00\n"
		    "2026-02,D1,commission,o3,o3,m1,,200.00,0.05,10.00\n"
		    "2026-02,D1,commission_reversal,f1,o1,m1,,100.00,0.05,-5.00\n");
	/* Feb: 10.00 - 5.00 = 5.00; 20.00 - 20.00 = 0.00. */
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,5.00,0.00,0.00,5.00,5.00,0.00,5.00,5.00,0.00\n");
	referral_store_free(st);
	free(plan);
}

/*
 * SPEC §6.1: `end` is bound_at + commission_window_months, "the window
 * fixed when the binding is made"; §5: a binding's window "never changes".
 * A version added later for the binding's (still open) booking period must
 * not shorten a binding that already exists.
 */
Test(plan_version, a_later_version_does_not_change_an_existing_binding_window)
{
	referral_store *st = store_with(NULL);
	char *v2 = plan_with(1, "\"commission_window_months\": 36", "\"commission_window_months\": 1");

	/* m1 bound 2026-01-05 under the first plan: 36 months. */
	ingest(st, NETWORK_D1_M1);
	cr_assert_eq(referral_plan_add(st, v2, "2026-01"), REFERRAL_OK, "%s", referral_errmsg(st));
	ingest(st, EV_ORDER("o1", "2026-02-10T09:00:00", "m1", "100.00"));
	close_period(st, "2026-01");
	settle(st, "2026-02");
	/* Still within 36 months of 2026-01-04: 5.00 + 20.00. */
	assert_rows(st, "lines", NULL,
		    "2026-02,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-02,D1,commission,o1,o1,m1,,100.00,0.05,5.00\n");
	referral_store_free(st);
	free(v2);
}
