/*
 * test_release.c — earnings held for a refund window before they are
 * released (the plan's hold_days), the income tax withheld from each
 * payout (the plan's withholding), and the payouts export. Every expected
 * figure is worked out by hand in the comment above it, from the reference
 * plan: grade 1 pays 5% and a bounty of 20.00, the override is 1%, the
 * brand's offset +08:00 (instants without an offset are local).
 *
 *   statements  period,distributor,store,grade,opening_carry,commission,
 *               bounty,override,accrued,released,held,total,payable,closing_carry
 *   payouts     period,distributor,store,payable,withheld,net
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <gmp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "plan.h"
#include "scenario.h"
#include "withholding.h"

/* s1, D1 at s1, her members m1 and m2, early in January 2026. */
#define NETWORK_D1_M1_M2                                              \
	EV_STORE("s1", "2026-01-01T08:00:00")                         \
	EV_DIST("D1", "2026-01-02T09:00:00", "s1")                    \
	EV_MEMBER("m1", "2026-01-04T09:00:00", "D1")                  \
	EV_MEMBER("m2", "2026-01-04T10:00:00", "D1")

/* The reference plan holding earnings `days` days. */
static char *plan_holding(const char *days)
{
	char to[64];
	snprintf(to, sizeof to, "\"min_payout\": \"0.01\", \"hold_days\": %s", days);
	return plan_with(1, "\"min_payout\": \"0.01\"", to);
}

static referral_store *store_holding(const char *days)
{
	char *text = plan_holding(days);
	referral_store *st = store_with(text);
	free(text);
	return st;
}

/* ---- release ------------------------------------------------------------------ */

/*
 * hold_days 10. o1 at 2026-01-21T23:59:59 + 10 days = 2026-01-31T23:59:59:
 * released in January. o2 at 2026-01-22T00:00:00 + 10 days is exactly
 * 2026-02-01T00:00:00, the first instant of February: released there.
 * January: commission 100.00 x 0.05 + 200.00 x 0.05 = 5.00 + 10.00 =
 * 15.00, bounties 2 x 20.00; accrued 55.00, of which o1's 25.00 released
 * and o2's 30.00 held; payable 25.00. February: the 30.00 released.
 */
Test(release, an_order_released_on_the_first_instant_of_a_period_is_released_in_it)
{
	referral_store *st = store_holding("10");
	ingest(st, NETWORK_D1_M1_M2 EV_ORDER("o1", "2026-01-21T23:59:59", "m1", "100.00")
		   EV_ORDER("o2", "2026-01-22T00:00:00", "m2", "200.00"));
	close_period(st, "2026-01");
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,15.00,40.00,0.00,55.00,25.00,30.00,25.00,25.00,0.00\n");
	close_period(st, "2026-02");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,0.00,0.00,0.00,0.00,30.00,0.00,30.00,30.00,0.00\n");
	assert_rows(st, "payouts", NULL,
		    "2026-01,D1,s1,25.00,0.00,25.00\n"
		    "2026-02,D1,s1,30.00,0.00,30.00\n");
	assert_verifies(st);
	referral_store_free(st);
}

/*
 * hold_days 10. o1 at 2026-01-25T10:00 (released 2026-02-04, in February)
 * is refunded whole on 2026-02-02, inside the window: the reversals go
 * with the lines they reverse, released in February, where they cancel.
 * January: accrued 5.00 + 20.00 = 25.00, all held, nothing paid.
 * February: commission -5.00, bounty reversed -20.00, accrued -25.00;
 * released = -25.00 + the 25.00 held for February = 0.00; nothing paid,
 * nothing carried.
 */
Test(release, a_refund_inside_the_window_cancels_what_was_held)
{
	referral_store *st = store_holding("10");
	ingest(st, NETWORK_D1_M1_M2 EV_ORDER("o1", "2026-01-25T10:00:00", "m1", "100.00"));
	close_period(st, "2026-01");
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,5.00,20.00,0.00,25.00,0.00,25.00,0.00,0.00,0.00\n");
	ingest(st, EV_REFUND("r1", "2026-02-02T10:00:00", "o1", "100.00"));
	close_period(st, "2026-02");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,-5.00,-20.00,0.00,-25.00,0.00,0.00,0.00,0.00,0.00\n");
	assert_rows(st, "payouts", NULL, "");
	assert_verifies(st);
	referral_store_free(st);
}

/*
 * hold_days 10. o1 at 2026-01-05 is released on 2026-01-15: paid in
 * January (25.00). Its refund on 2026-02-10 reverses lines already
 * released, so it is taken back at once: February released -25.00, total
 * -25.00, nothing paid, carried -25.00 to be recovered later.
 */
Test(release, a_refund_after_release_is_taken_back_at_once)
{
	referral_store *st = store_holding("10");
	ingest(st, NETWORK_D1_M1_M2 EV_ORDER("o1", "2026-01-05T10:00:00", "m1", "100.00"));
	close_period(st, "2026-01");
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,5.00,20.00,0.00,25.00,25.00,0.00,25.00,25.00,0.00\n");
	ingest(st, EV_REFUND("r1", "2026-02-10T10:00:00", "o1", "100.00"));
	close_period(st, "2026-02");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,-5.00,-20.00,0.00,-25.00,-25.00,0.00,-25.00,0.00,-25.00\n");
	assert_verifies(st);
	referral_store_free(st);
}

/*
 * hold_days 10, all in the window: o1 (100.00, 2026-01-25) earns m1's
 * bounty, its full refund r1 (2026-01-26) reverses it, o2 (50.00,
 * 2026-01-27) earns it again. Each line is released in February: o1's and
 * its reversals with o1 (2026-02-04), o2's on 2026-02-06. January:
 * commission 5.00 - 5.00 + 2.50 = 2.50, bounty 20.00 - 20.00 + 20.00 =
 * 20.00, accrued 22.50, all held. February: the 22.50 released and paid.
 */
Test(release, a_bounty_earned_reversed_and_earned_again_inside_the_window)
{
	referral_store *st = store_holding("10");
	ingest(st, NETWORK_D1_M1_M2 EV_ORDER("o1", "2026-01-25T10:00:00", "m1", "100.00")
		   EV_REFUND("r1", "2026-01-26T10:00:00", "o1", "100.00")
		   EV_ORDER("o2", "2026-01-27T10:00:00", "m1", "50.00"));
	close_period(st, "2026-01");
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,2.50,20.00,0.00,22.50,0.00,22.50,0.00,0.00,0.00\n");
	assert_rows(st, "lines", "2026-01",
		    "2026-01,D1,bounty,o1,o1,m1,,,,20.00\n"
		    "2026-01,D1,bounty,o2,o2,m1,,,,20.00\n"
		    "2026-01,D1,bounty_reversal,r1,o1,m1,,,,-20.00\n"
		    "2026-01,D1,commission,o1,o1,m1,,100.00,0.05,5.00\n"
		    "2026-01,D1,commission,o2,o2,m1,,50.00,0.05,2.50\n"
		    "2026-01,D1,commission_reversal,r1,o1,m1,,100.00,0.05,-5.00\n");
	close_period(st, "2026-02");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,0.00,0.00,0.00,0.00,22.50,0.00,22.50,22.50,0.00\n");
	assert_verifies(st);
	referral_store_free(st);
}

/*
 * hold_days 40: o1 at 2026-01-25T10:00 is released on 2026-03-06, in
 * March. January holds 25.00 for March, and m1's standing bounty with it.
 * Refunded whole in February, its commission and its bounty are reversed
 * with them: held for March too, where they cancel. February: accrued
 * -25.00, released 0.00, held 25.00 - 25.00 = 0.00. March: nothing.
 */
Test(release, a_bounty_held_past_the_next_close_is_reversed_with_it)
{
	referral_store *st = store_holding("40");
	ingest(st, NETWORK_D1_M1_M2 EV_ORDER("o1", "2026-01-25T10:00:00", "m1", "100.00"));
	close_period(st, "2026-01");
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,5.00,20.00,0.00,25.00,0.00,25.00,0.00,0.00,0.00\n");
	ingest(st, EV_REFUND("r1", "2026-02-10T10:00:00", "o1", "100.00"));
	close_period(st, "2026-02");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,-5.00,-20.00,0.00,-25.00,0.00,0.00,0.00,0.00,0.00\n");
	close_period(st, "2026-03");
	assert_rows(st, "statements", "2026-03",
		    "2026-03,D1,s1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n");
	assert_verifies(st);
	referral_store_free(st);
}

/*
 * hold_days 10. January closes with the network only. o1 dated
 * 2026-01-05 arrives after: it is late, booked into February. Its
 * instant plus 10 days (2026-01-15) lies in closed January, so it is
 * released in its booking period, February: 25.00 paid there.
 */
Test(release, a_late_order_is_released_no_earlier_than_its_booking_period)
{
	referral_store *st = store_holding("10");
	ingest(st, NETWORK_D1_M1_M2);
	close_period(st, "2026-01");
	ingest(st, EV_ORDER("o1", "2026-01-05T10:00:00", "m1", "100.00"));
	close_period(st, "2026-02");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,5.00,20.00,0.00,25.00,25.00,0.00,25.00,25.00,0.00\n");
	assert_verifies(st);
	referral_store_free(st);
}

/*
 * The first plan holds 20 days, a version from February holds none. o1
 * (100.00, 2026-01-20, booked in January) uses January's plan: released
 * 2026-02-09, in February. o2 (200.00, 2026-02-20) uses February's:
 * released at once. January: 25.00 accrued, all held. February: o2's
 * 10.00 + 20.00 = 30.00 accrued and released, plus o1's 25.00: released
 * 55.00, paid.
 */
Test(release, each_order_is_held_by_the_plan_of_its_booking_period)
{
	referral_store *st = store_holding("20");
	char *v2 = plan_holding("0");
	cr_assert_eq(referral_plan_add(st, v2, "2026-02"), REFERRAL_OK, "%s", referral_errmsg(st));
	free(v2);
	ingest(st, NETWORK_D1_M1_M2 EV_ORDER("o1", "2026-01-20T10:00:00", "m1", "100.00"));
	close_period(st, "2026-01");
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,5.00,20.00,0.00,25.00,0.00,25.00,0.00,0.00,0.00\n");
	ingest(st, EV_ORDER("o2", "2026-02-20T10:00:00", "m2", "200.00"));
	close_period(st, "2026-02");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,10.00,20.00,0.00,30.00,55.00,0.00,55.00,55.00,0.00\n");
	assert_verifies(st);
	referral_store_free(st);
}

/*
 * The override is held with the order it comes from. hold_days 10, R1
 * recruits D1; o1 (1000.00, 2026-01-28, released 2026-02-07). January: D1
 * 50.00 + 20.00 = 70.00 held; R1's override 0.01 x 50.00 = 0.50 held.
 * February: both released.
 */
Test(release, the_override_is_held_with_its_order)
{
	referral_store *st = store_holding("10");
	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00") EV_DIST("R1", "2026-01-02T09:00:00", "s1")
		   EV_RECRUIT("D1", "2026-01-03T09:00:00", "s1", "R1")
		   EV_MEMBER("m1", "2026-01-04T09:00:00", "D1")
		   EV_ORDER("o1", "2026-01-28T10:00:00", "m1", "1000.00"));
	close_period(st, "2026-01");
	assert_rows(st, "statements", "2026-01",
		    "2026-01,D1,s1,1,0.00,50.00,20.00,0.00,70.00,0.00,70.00,0.00,0.00,0.00\n"
		    "2026-01,R1,s1,1,0.00,0.00,0.00,0.50,0.50,0.00,0.50,0.00,0.00,0.00\n");
	close_period(st, "2026-02");
	assert_rows(st, "statements", "2026-02",
		    "2026-02,D1,s1,1,0.00,0.00,0.00,0.00,0.00,70.00,0.00,70.00,70.00,0.00\n"
		    "2026-02,R1,s1,1,0.00,0.00,0.00,0.00,0.00,0.50,0.00,0.50,0.50,0.00\n");
	assert_verifies(st);
	referral_store_free(st);
}

/*
 * The example of docs/formats.md ("Release and withholding"): hold_days 15,
 * o1 2000.00 at 2026-01-20T10:00 (released 2026-02-04T10:00, in February);
 * 500.00 refunded on 28 January, inside the window; the remaining 1500.00
 * on 10 March, after it. D1: January commission 100.00, bounty 20.00,
 * reversal -25.00: 95.00 accrued and held. February: 95.00 released and
 * paid. March: -75.00 and the bounty -20.00 taken back at once: carried
 * -95.00. R1's overrides 1.00 - 0.25 = 0.75 held, released in February,
 * -0.75 in March.
 */
Test(release, the_documented_example)
{
	referral_store *st = store_holding("15");
	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00") EV_DIST("R1", "2026-01-02T09:00:00", "s1")
		   EV_RECRUIT("D1", "2026-01-03T09:00:00", "s1", "R1")
		   EV_MEMBER("m1", "2026-01-04T09:00:00", "D1")
		   EV_ORDER("o1", "2026-01-20T10:00:00", "m1", "2000.00")
		   EV_REFUND("r1", "2026-01-28T10:00:00", "o1", "500.00"));
	close_period(st, "2026-01");
	close_period(st, "2026-02");
	ingest(st, EV_REFUND("r2", "2026-03-10T10:00:00", "o1", "1500.00"));
	close_period(st, "2026-03");
	assert_rows(st, "statements", NULL,
		    "2026-01,D1,s1,1,0.00,75.00,20.00,0.00,95.00,0.00,95.00,0.00,0.00,0.00\n"
		    "2026-01,R1,s1,1,0.00,0.00,0.00,0.75,0.75,0.00,0.75,0.00,0.00,0.00\n"
		    "2026-02,D1,s1,1,0.00,0.00,0.00,0.00,0.00,95.00,0.00,95.00,95.00,0.00\n"
		    "2026-02,R1,s1,1,0.00,0.00,0.00,0.00,0.00,0.75,0.00,0.75,0.75,0.00\n"
		    "2026-03,D1,s1,1,0.00,-75.00,-20.00,0.00,-95.00,-95.00,0.00,-95.00,0.00,-95.00\n"
		    "2026-03,R1,s1,1,0.00,0.00,0.00,-0.75,-0.75,-0.75,0.00,-0.75,0.00,-0.75\n");
	assert_verifies(st);
	referral_store_free(st);
}

/* Altering what is held is caught by verify, naming it. */
Test(release, verify_catches_an_altered_record_of_held_earnings)
{
	char path[300];
	snprintf(path, sizeof path, "%s", test_db_path());
	char *text = plan_holding("10");
	referral_store *st = store_at(path, text);
	free(text);
	ingest(st, NETWORK_D1_M1_M2 EV_ORDER("o1", "2026-01-25T10:00:00", "m1", "100.00"));
	close_period(st, "2026-01");
	referral_store_free(st);
	cr_assert_eq(test_store_sql(path, "DROP TRIGGER holds_frozen_u; UPDATE holds SET data = x'00'"),
		     0, "%s", test_store_error());
	cr_assert_eq(referral_store_open(&st, path), REFERRAL_OK, "%s", referral_errmsg(st));
	cr_assert_eq(referral_verify(st), REFERRAL_EVERIFY, "%s", referral_errmsg(st));
	cr_assert(strstr(referral_errmsg(st), "held earnings"), "%s", referral_errmsg(st));
	referral_store_free(st);
}

/* ---- withholding ----------------------------------------------------------------- */

/* China's 劳务报酬 table. */
#define CHINA                                                                               \
	"\"withholding\": {\"threshold\": \"4000.00\", \"fixed_deduction\": \"800.00\","       \
	" \"rate_deduction\": \"0.20\", \"brackets\": ["                                       \
	"{\"up_to\": \"20000.00\", \"rate\": \"0.20\", \"quick_deduction\": \"0.00\"},"        \
	" {\"up_to\": \"50000.00\", \"rate\": \"0.30\", \"quick_deduction\": \"2000.00\"},"    \
	" {\"up_to\": null, \"rate\": \"0.40\", \"quick_deduction\": \"7000.00\"}]}"

/* A table whose one bracket taxes an eighth, less a quick deduction. */
#define EIGHTH(quick)                                                                       \
	"\"withholding\": {\"threshold\": \"4000.00\", \"fixed_deduction\": \"800.00\","       \
	" \"rate_deduction\": \"0.20\", \"brackets\": ["                                       \
	"{\"up_to\": null, \"rate\": \"0.125\", \"quick_deduction\": \"" quick "\"}]}"

/* Criterion hands each case to a process of its own by copy: texts, not pointers. */
struct tax_case {
	char table[512], payable[16], withheld[16];
};

/*
 * By hand (base = X - 800.00 up to 4000.00, else X x 0.80):
 *   800.00: base 0.00 -> nothing;  4000.00: base 3200.00 x 0.20 = 640.00;
 *   4000.01: base 3200.008 x 0.20 = 640.0016 -> 640.00;
 *   5020.00: base 4016.00 x 0.20 = 803.20;
 *   25000.00: base exactly 20000.00, still the first bracket: 4000.00;
 *   25000.01: base 20000.008 x 0.30 - 2000.00 = 4000.0024 -> 4000.00;
 *   62500.00: base exactly 50000.00, the second: 15000.00 - 2000.00 = 13000.00;
 *   62500.01: base 50000.008 x 0.40 - 7000.00 = 13000.0032 -> 13000.00;
 *   0.01: base negative -> nothing.
 * An eighth: 1000.04 -> base 200.04 x 0.125 = 25.005, half a fen, up: 25.01;
 *   with a quick deduction of 50.00 the tax is below 0: nothing.
 */
ParameterizedTestParameters(withholding, china_and_an_eighth)
{
	static struct tax_case cases[] = {
		{CHINA, "800.00", "0.00"},         {CHINA, "4000.00", "640.00"},
		{CHINA, "4000.01", "640.00"},      {CHINA, "5020.00", "803.20"},
		{CHINA, "25000.00", "4000.00"},    {CHINA, "25000.01", "4000.00"},
		{CHINA, "62500.00", "13000.00"},   {CHINA, "62500.01", "13000.00"},
		{CHINA, "0.01", "0.00"},           {EIGHTH("0.00"), "1000.04", "25.01"},
		{EIGHTH("50.00"), "1000.04", "0.00"},
	};
	return cr_make_param_array(struct tax_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct tax_case *c, withholding, china_and_an_eighth)
{
	char to[1024], err[256];
	snprintf(to, sizeof to, "\"min_payout\": \"0.01\", %s", c->table);
	char *text = plan_with(1, "\"min_payout\": \"0.01\"", to);
	plan p;
	cr_assert_eq(plan_parse(&p, text, err, sizeof err), 0, "%s", err);
	free(text);
	mpq_t x, w;
	mpq_inits(x, w, NULL);
	cr_assert_eq(dec_parse_money(x, c->payable, strlen(c->payable)), DEC_OK);
	withholding_of(p.withholding, x, w);
	char got[64];
	dec_format(got, sizeof got, w);
	cr_assert_str_eq(got, c->withheld, "payable %s", c->payable);
	mpq_clears(x, w, NULL);
	plan_clear(&p);
}

/*
 * The payouts of a month under China's table. D1: 100000.00 x 0.05 =
 * 5000.00 + the bounty 20.00 = 5020.00 paid, 803.20 withheld, net 4216.80.
 * R1: override 0.01 x 5000.00 = 50.00, base 50.00 - 800.00 < 0: nothing
 * withheld. D2 earned nothing: no payout row. A second version from
 * February has no withholding: February's payout has nothing withheld.
 */
Test(payouts, withheld_and_net_per_distributor)
{
	char to[1024];
	snprintf(to, sizeof to, "\"min_payout\": \"0.01\", %s", CHINA);
	char *text = plan_with(1, "\"min_payout\": \"0.01\"", to);
	referral_store *st = store_with(text);
	free(text);
	char *v2 = test_reference_plan();
	cr_assert_eq(referral_plan_add(st, v2, "2026-02"), REFERRAL_OK, "%s", referral_errmsg(st));
	free(v2);
	ingest(st, EV_STORE("s1", "2026-01-01T08:00:00") EV_DIST("R1", "2026-01-02T09:00:00", "s1")
		   EV_RECRUIT("D1", "2026-01-03T09:00:00", "s1", "R1")
		   EV_DIST("D2", "2026-01-03T10:00:00", "s1")
		   EV_MEMBER("m1", "2026-01-04T09:00:00", "D1")
		   EV_ORDER("o1", "2026-01-10T12:00:00", "m1", "100000.00"));
	settle(st, "2026-01");
	/* the settled draft has its payouts too */
	assert_rows(st, "payouts", "2026-01",
		    "2026-01,D1,s1,5020.00,803.20,4216.80\n"
		    "2026-01,R1,s1,50.00,0.00,50.00\n");
	close_period(st, "2026-01");
	ingest(st, EV_ORDER("o2", "2026-02-10T12:00:00", "m1", "100000.00"));
	close_period(st, "2026-02");
	/* February: 5000.00 commission (m1 already consumes: no bounty) */
	assert_rows(st, "payouts", "2026-02",
		    "2026-02,D1,s1,5000.00,0.00,5000.00\n"
		    "2026-02,R1,s1,50.00,0.00,50.00\n");
	struct text t = {0};
	cr_assert_eq(referral_export(st, "payouts", "2026-01", "json", scn_sink, &t), REFERRAL_OK,
		     "%s", referral_errmsg(st));
	char *json = text_take(&t);
	cr_assert_str_eq(json,
			 "[\n{\"period\":\"2026-01\",\"distributor\":\"D1\",\"store\":\"s1\","
			 "\"payable\":\"5020.00\",\"withheld\":\"803.20\",\"net\":\"4216.80\"},\n"
			 "{\"period\":\"2026-01\",\"distributor\":\"R1\",\"store\":\"s1\","
			 "\"payable\":\"50.00\",\"withheld\":\"0.00\",\"net\":\"50.00\"}\n]\n");
	free(json);
	assert_verifies(st);
	referral_store_free(st);
}
