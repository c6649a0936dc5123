/*
 * test_plan.c — the plan parser (SPEC §5, libreferral/plan.h).
 *
 * The reference plan must parse to exactly its values; every validation
 * rule has rows in a table of mutations of the reference plan, each naming
 * the key path that the message must contain.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <gmp.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "plan.h"
#include "support.h"

/* ---- helpers ----------------------------------------------------------- */

/* mpq equal to the fraction text, like "1/10" or "3000". */
static int q_is(const mpq_t v, const char *frac)
{
	mpq_t want;
	int eq;

	mpq_init(want);
	cr_assert_eq(mpq_set_str(want, frac, 10), 0, "bad fraction %s", frac);
	mpq_canonicalize(want);
	eq = mpq_equal(v, want);
	mpq_clear(want);
	return eq;
}

/*
 * The reference plan with one change at a path like "grades[1].rate",
 * "grading", "member_tiers[0]" or "grades[4]" (one past the end appends):
 * the value there becomes the JSON text `value`, or is removed when value
 * is NULL. Returns the new JSON text (free with free()).
 */
/* China's 劳务报酬 withholding table, added to a plan by mutate(). */
#define CHINA_TABLE                                                                          \
	"{\"threshold\": \"4000.00\", \"fixed_deduction\": \"800.00\", \"rate_deduction\": \"0.20\"," \
	" \"brackets\": [{\"up_to\": \"20000.00\", \"rate\": \"0.20\", \"quick_deduction\": \"0.00\"}," \
	" {\"up_to\": \"50000.00\", \"rate\": \"0.30\", \"quick_deduction\": \"2000.00\"}," \
	" {\"up_to\": null, \"rate\": \"0.40\", \"quick_deduction\": \"7000.00\"}]}"

static char *mutate_plan(char *text, const char *path, const char *value);

static char *mutate(const char *path, const char *value)
{
	return mutate_plan(test_reference_plan(), path, value);
}

/* The same on `text` (malloc'd, consumed). */
static char *mutate_plan(char *text, const char *path, const char *value)
{
	char *out, seg[64];
	json_error_t je;
	json_t *root = json_loads(text, 0, &je), *cur, *parent = NULL, *nv = NULL;
	const char *p = path, *key = NULL;
	size_t idx = 0;
	int last_is_index = 0;

	cr_assert_not_null(root, "reference plan: %s", je.text);
	free(text);
	if (value) {
		nv = json_loads(value, JSON_DECODE_ANY, &je);
		cr_assert_not_null(nv, "test value %s: %s", value, je.text);
	}
	cur = root;
	while (*p) {
		size_t n = strcspn(p, ".[");

		parent = cur;
		if (n) {
			cr_assert_lt(n, sizeof seg);
			memcpy(seg, p, n);
			seg[n] = '\0';
			key = seg;
			last_is_index = 0;
			cur = json_object_get(parent, seg);
			p += n;
		} else if (*p == '[') {
			idx = strtoul(p + 1, NULL, 10);
			last_is_index = 1;
			cur = json_array_get(parent, idx);
			p = strchr(p, ']') + 1;
		}
		if (*p == '.')
			p++;
		if (*p)
			cr_assert_not_null(cur, "path %s does not exist", path);
	}
	if (last_is_index) {
		if (!nv)
			cr_assert_eq(json_array_remove(parent, idx), 0, "%s", path);
		else if (idx == json_array_size(parent))
			cr_assert_eq(json_array_append_new(parent, nv), 0, "%s", path);
		else
			cr_assert_eq(json_array_set_new(parent, idx, nv), 0, "%s", path);
	} else {
		if (!nv)
			cr_assert_eq(json_object_del(parent, key), 0, "%s", path);
		else
			cr_assert_eq(json_object_set_new(parent, key, nv), 0, "%s", path);
	}
	out = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	cr_assert_not_null(out);
	return out;
}

/* The reference plan text with its one occurrence of `from` replaced. */
static char *replace(const char *from, const char *to)
{
	char *text = test_reference_plan(), *at = strstr(text, from), *out;
	size_t lf = strlen(from), lt = strlen(to), len = strlen(text);

	cr_assert_not_null(at, "\"%s\" is not in the reference plan", from);
	cr_assert_null(strstr(at + 1, from), "\"%s\" occurs twice in the reference plan", from);
	out = malloc(len - lf + lt + 1);
	cr_assert_not_null(out);
	memcpy(out, text, (size_t)(at - text));
	memcpy(out + (at - text), to, lt);
	strcpy(out + (at - text) + lt, at + lf);
	free(text);
	return out;
}

/* plan_parse() must fail on text with a message containing each of want*. */
static void expect_reject(const char *text, const char *want, const char *want2,
			  const char *want3)
{
	plan p;
	char err[512];
	int rc;

	memset(err, 'x', sizeof err);
	rc = plan_parse(&p, text, err, sizeof err);
	cr_assert_eq(rc, -1, "accepted, wanted \"%s\"", want);
	cr_assert_eq(strncmp(err, "plan: ", 6), 0, "message: %s", err);
	cr_assert_not_null(strstr(err, want), "message \"%s\" lacks \"%s\"", err, want);
	if (want2)
		cr_assert_not_null(strstr(err, want2), "message \"%s\" lacks \"%s\"", err, want2);
	if (want3)
		cr_assert_not_null(strstr(err, want3), "message \"%s\" lacks \"%s\"", err, want3);
	/* nothing left to release: the plan is zeroed */
	cr_assert_null(p.tiers);
	cr_assert_eq(p.ntiers, 0);
	plan_clear(&p);
}

/* plan_parse() must accept text; *p is the caller's to clear. */
static void expect_accept(plan *p, const char *text)
{
	char err[512] = "untouched";

	cr_assert_eq(plan_parse(p, text, err, sizeof err), 0, "rejected: %s", err);
	cr_assert_str_empty(err);
}

/* ---- the reference plan ------------------------------------------------ */

Test(plan, reference_values)
{
	static const char *const names[] = { "bronze", "silver", "gold", "platinum", "diamond" };
	static const char *const points[] = { "0", "2000", "10000", "30000", "80000" };
	char *text = test_reference_plan();
	plan p;
	size_t i;

	expect_accept(&p, text);
	free(text);

	cr_expect_eq(p.utc_offset_min, 480);
	cr_expect_eq(p.start_period, 2026 * 12 + 0);
	cr_expect_eq(p.commission_window_months, 36);

	cr_expect(q_is(p.grades[0].rate, "1/20"));
	cr_expect(q_is(p.grades[1].rate, "2/25"));
	cr_expect(q_is(p.grades[2].rate, "1/10"), "grade 3's rate is exactly 0.10");
	cr_expect(q_is(p.grades[3].rate, "3/25"));
	cr_expect(q_is(p.grades[0].bounty, "20"));
	cr_expect(q_is(p.grades[1].bounty, "20"));
	cr_expect(q_is(p.grades[2].bounty, "30"));
	cr_expect(q_is(p.grades[3].bounty, "50"));

	cr_expect_eq(p.grades[0].min_members, 0);
	cr_expect(q_is(p.grades[0].min_sales, "0"));
	cr_expect_eq(p.grades[0].min_shares, 0);
	cr_expect(q_is(p.grades[0].min_store_rating, "0"));
	cr_expect_eq(p.grades[1].min_members, 3);
	cr_expect(q_is(p.grades[1].min_sales, "3000"));
	cr_expect_eq(p.grades[1].min_shares, 5);
	cr_expect(q_is(p.grades[1].min_store_rating, "3"));
	cr_expect_eq(p.grades[2].min_members, 10);
	cr_expect(q_is(p.grades[2].min_sales, "15000"));
	cr_expect_eq(p.grades[2].min_shares, 20);
	cr_expect(q_is(p.grades[2].min_store_rating, "7/2"));
	cr_expect_eq(p.grades[3].min_members, 30);
	cr_expect(q_is(p.grades[3].min_sales, "60000"));
	cr_expect_eq(p.grades[3].min_shares, 60);
	cr_expect(q_is(p.grades[3].min_store_rating, "4"));

	cr_expect_eq(p.grading_window_months, 3);
	cr_expect_eq(p.initial_grade, 1);
	cr_expect_eq(p.allow_demotion, 1);
	cr_expect(q_is(p.override_rate, "1/100"));
	cr_expect(q_is(p.share_bonus_rate, "1/4"));
	cr_expect(q_is(p.per_yuan, "1"));
	cr_expect(q_is(p.per_share, "5"));

	cr_assert_eq(p.ntiers, 5);
	cr_assert_not_null(p.tiers);
	for (i = 0; i < 5; i++) {
		cr_expect_str_eq(p.tiers[i].name, names[i]);
		cr_expect(q_is(p.tiers[i].min_points, points[i]), "tier %zu", i);
	}
	cr_expect_eq(p.rounding, DEC_ROUND_HALF_UP);
	cr_expect(q_is(p.min_payout, "1/100"));

	plan_clear(&p);
	cr_expect_null(p.tiers);
	plan_clear(&p); /* twice is harmless */
}

Test(plan, clear_accepts_a_zeroed_plan)
{
	plan p;

	memset(&p, 0, sizeof p);
	plan_clear(&p);
	plan_clear(NULL);
}

Test(plan, reparse_after_clear)
{
	char *text = test_reference_plan();
	plan p;

	expect_accept(&p, text);
	plan_clear(&p);
	expect_accept(&p, text);
	plan_clear(&p);
	free(text);
}

Test(plan, rounding_modes)
{
	static const struct { const char *name; int mode; } modes[] = {
		{ "\"half_up\"", DEC_ROUND_HALF_UP },
		{ "\"half_even\"", DEC_ROUND_HALF_EVEN },
		{ "\"down\"", DEC_ROUND_DOWN },
	};
	size_t i;

	for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		char *text = mutate("rounding", modes[i].name);
		plan p;

		expect_accept(&p, text);
		cr_expect_eq(p.rounding, modes[i].mode, "%s", modes[i].name);
		plan_clear(&p);
		free(text);
	}
}

Test(plan, negative_offset_and_other_start)
{
	char *a = mutate("utc_offset", "\"-05:30\""), *b;
	plan p;

	expect_accept(&p, a);
	cr_expect_eq(p.utc_offset_min, -330);
	plan_clear(&p);
	free(a);

	b = mutate("start_period", "\"1999-12\"");
	expect_accept(&p, b);
	cr_expect_eq(p.start_period, 1999 * 12 + 11);
	plan_clear(&p);
	free(b);
}

Test(plan, no_demotion)
{
	char *text = mutate("grading.allow_demotion", "false");
	plan p;

	expect_accept(&p, text);
	cr_expect_eq(p.allow_demotion, 0);
	plan_clear(&p);
	free(text);
}

Test(plan, one_tier)
{
	char *text = mutate("member_tiers", "[{\"name\": \"all\", \"min_points\": \"0.00\"}]");
	plan p;

	expect_accept(&p, text);
	cr_assert_eq(p.ntiers, 1);
	cr_expect_str_eq(p.tiers[0].name, "all");
	cr_expect(q_is(p.tiers[0].min_points, "0"));
	plan_clear(&p);
	free(text);
}

Test(plan, longest_tier_name)
{
	static const char name32[] = "Aa0_-bcdefghijklmnopqrstuvwxyz12";
	char value[64];
	char *text;
	plan p;

	cr_assert_eq(strlen(name32), PLAN_TIER_NAME_MAX);
	snprintf(value, sizeof value, "\"%s\"", name32);
	text = mutate("member_tiers[4].name", value);
	expect_accept(&p, text);
	cr_expect_str_eq(p.tiers[4].name, name32);
	plan_clear(&p);
	free(text);
}

Test(plan, equal_thresholds_are_non_decreasing)
{
	/* grade 3 equal to grade 2 in everything */
	char *text = mutate("grades[2]",
			    "{\"grade\": 3, \"rate\": \"0.080\", \"bounty\": \"20\","
			    " \"min_members\": 3, \"min_sales\": \"3000\", \"min_shares\": 5,"
			    " \"min_store_rating\": \"3\"}");
	plan p;

	expect_accept(&p, text);
	cr_expect(q_is(p.grades[2].rate, "2/25"));
	cr_expect_eq(p.grades[2].min_members, 3);
	plan_clear(&p);
	free(text);
}

/* Values at the edges of every range, each of which must be accepted. */
/*
 * Parameters are copied into each test's process, where pointers into this
 * one need not be valid: the rows hold their text inline.
 */
struct accept_case {
	char path[48], value[48];
};

ParameterizedTestParameters(plan, accepts_edges)
{
	static struct accept_case cases[] = {
		{ "grades[3].rate", "\"0.9999999999\"" },
		{ "grades[0].rate", "\"0\"" },
		{ "grades[3].min_store_rating", "\"5\"" },
		{ "grades[3].min_store_rating", "\"5.000\"" },
		{ "grades[3].bounty", "\"21474836.47\"" }, /* PLAN_MAX_BOUNTY */
		{ "commission_window_months", "1" },
		{ "commission_window_months", "1200" },
		{ "grading.window_months", "1" },
		{ "grading.window_months", "1200" },
		{ "grading.initial_grade", "4" },
		{ "override_rate", "\"0\"" },
		{ "override_rate", "\"0.99\"" },
		{ "share_bonus_rate", "\"0.0\"" },
		{ "points.per_yuan", "\"0\"" },
		{ "points.per_share", "\"0.5\"" },
		{ "min_payout", "\"0\"" },
		{ "min_payout", "\"100\"" },
		{ "utc_offset", "\"+00:00\"" },
		{ "utc_offset", "\"-23:59\"" },
		{ "start_period", "\"9999-12\"" },
		{ "member_tiers[0].min_points", "\"0.000\"" },
		{ "member_tiers[1].min_points", "\"0.001\"" },
		{ "member_tiers[1].name", "\"Silver-2_x\"" },
	};
	return cr_make_param_array(struct accept_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct accept_case *c, plan, accepts_edges)
{
	char *text = mutate(c->path, c->value);
	plan p;

	expect_accept(&p, text);
	plan_clear(&p);
	free(text);
}

/* ---- rejections -------------------------------------------------------- */

/*
 * One row per rejected mutation: set `path` to the JSON `value` (NULL:
 * remove it); the message must contain `want`, and `want2` when given; `form`
 * asks for the expected money (1) or decimal (2) form of decimal.h in it.
 */
struct reject_case {
	char path[48];
	char value[80];
	int remove;
	char want[112], want2[48];
	int form;
};

#define MONEY 1
#define DECIMAL 2

ParameterizedTestParameters(plan, rejects)
{
	static struct reject_case cases[] = {
		/* every key is required, at every level */
		{ "utc_offset", "", 1, "plan: missing key \"utc_offset\"", "", 0 },
		{ "start_period", "", 1, "plan: missing key \"start_period\"", "", 0 },
		{ "commission_window_months", "", 1, "plan: missing key \"commission_window_months\"", "", 0 },
		{ "grades", "", 1, "plan: missing key \"grades\"", "", 0 },
		{ "grading", "", 1, "plan: missing key \"grading\"", "", 0 },
		{ "override_rate", "", 1, "plan: missing key \"override_rate\"", "", 0 },
		{ "share_bonus_rate", "", 1, "plan: missing key \"share_bonus_rate\"", "", 0 },
		{ "points", "", 1, "plan: missing key \"points\"", "", 0 },
		{ "member_tiers", "", 1, "plan: missing key \"member_tiers\"", "", 0 },
		{ "rounding", "", 1, "plan: missing key \"rounding\"", "", 0 },
		{ "min_payout", "", 1, "plan: missing key \"min_payout\"", "", 0 },
		{ "grades[0].grade", "", 1, "missing key \"grades[0].grade\"", "", 0 },
		{ "grades[0].rate", "", 1, "missing key \"grades[0].rate\"", "", 0 },
		{ "grades[0].bounty", "", 1, "missing key \"grades[0].bounty\"", "", 0 },
		{ "grades[1].grade", "", 1, "missing key \"grades[1].grade\"", "", 0 },
		{ "grades[1].rate", "", 1, "missing key \"grades[1].rate\"", "", 0 },
		{ "grades[2].bounty", "", 1, "missing key \"grades[2].bounty\"", "", 0 },
		{ "grades[1].min_members", "", 1, "missing key \"grades[1].min_members\"", "", 0 },
		{ "grades[2].min_sales", "", 1, "missing key \"grades[2].min_sales\"", "", 0 },
		{ "grades[3].min_shares", "", 1, "missing key \"grades[3].min_shares\"", "", 0 },
		{ "grades[3].min_store_rating", "", 1, "missing key \"grades[3].min_store_rating\"", "", 0 },
		{ "grading.window_months", "", 1, "missing key \"grading.window_months\"", "", 0 },
		{ "grading.initial_grade", "", 1, "missing key \"grading.initial_grade\"", "", 0 },
		{ "grading.allow_demotion", "", 1, "missing key \"grading.allow_demotion\"", "", 0 },
		{ "points.per_yuan", "", 1, "missing key \"points.per_yuan\"", "", 0 },
		{ "points.per_share", "", 1, "missing key \"points.per_share\"", "", 0 },
		{ "member_tiers[0].name", "", 1, "missing key \"member_tiers[0].name\"", "", 0 },
		{ "member_tiers[3].min_points", "", 1, "missing key \"member_tiers[3].min_points\"", "", 0 },

		/* unknown keys are rejected at every level */
		{ "min_payot", "\"0.01\"", 0, "plan: unknown key \"min_payot\"", "", 0 },
		{ "comment", "\"hello\"", 0, "plan: unknown key \"comment\"", "", 0 },
		{ "grades[0].note", "1", 0, "unknown key \"grades[0].note\"", "", 0 },
		{ "grades[2].min_member", "10", 0, "unknown key \"grades[2].min_member\"", "", 0 },
		{ "grading.demotion", "true", 0, "unknown key \"grading.demotion\"", "", 0 },
		{ "points.per_yen", "\"1\"", 0, "unknown key \"points.per_yen\"", "", 0 },
		{ "member_tiers[1].colour", "\"grey\"", 0, "unknown key \"member_tiers[1].colour\"", "", 0 },

		/* grade 1 has no thresholds */
		{ "grades[0].min_members", "0", 0, "grades[0].min_members: not allowed", "grade 1", 0 },
		{ "grades[0].min_sales", "\"0.00\"", 0, "grades[0].min_sales: not allowed", "", 0 },
		{ "grades[0].min_shares", "0", 0, "grades[0].min_shares: not allowed", "", 0 },
		{ "grades[0].min_store_rating", "\"0\"", 0, "grades[0].min_store_rating: not allowed", "", 0 },

		/* exactly four grades, in order */
		{ "grades", "\"all\"", 0, "grades: expected an array of exactly 4", "got \"all\"", 0 },
		{ "grades", "{}", 0, "grades: expected an array of exactly 4", "got an object", 0 },
		{ "grades", "[]", 0, "grades: expected exactly 4 grades, got 0", "", 0 },
		{ "grades[3]", "", 1, "grades: expected exactly 4 grades, got 3", "", 0 },
		{ "grades[4]", "{\"grade\": 5, \"rate\": \"0.2\", \"bounty\": \"60.00\"}", 0,
		  "grades: expected exactly 4 grades, got 5", "", 0 },
		{ "grades[2]", "3", 0, "grades[2]: expected an object, got 3", "", 0 },
		{ "grades[1]", "null", 0, "grades[1]: expected an object, got null", "", 0 },
		{ "grades[0].grade", "0", 0, "grades[0].grade: expected the integer 1", "got 0", 0 },
		{ "grades[1].grade", "3", 0, "grades[1].grade: expected the integer 2", "got 3", 0 },
		{ "grades[3].grade", "5", 0, "grades[3].grade: expected the integer 4", "", 0 },

		/* counts, months and grades are JSON integers */
		{ "grades[1].grade", "\"2\"", 0, "grades[1].grade: expected the integer 2", "got \"2\"", 0 },
		{ "grades[1].grade", "2.0", 0, "grades[1].grade: expected the integer 2", "got 2.0", 0 },
		{ "grades[1].grade", "true", 0, "grades[1].grade: expected the integer 2", "got true", 0 },
		{ "commission_window_months", "\"36\"", 0, "commission_window_months: expected an integer from 1 to 1200", "got \"36\"", 0 },
		{ "commission_window_months", "36.0", 0, "commission_window_months: expected an integer", "got 36.0", 0 },
		{ "commission_window_months", "36.5", 0, "commission_window_months: expected an integer", "got 36.5", 0 },
		{ "commission_window_months", "true", 0, "commission_window_months: expected an integer", "got true", 0 },
		{ "commission_window_months", "null", 0, "commission_window_months: expected an integer", "got null", 0 },
		{ "grading.window_months", "\"3\"", 0, "grading.window_months: expected an integer from 1 to 1200", "", 0 },
		{ "grading.window_months", "3.0", 0, "grading.window_months: expected an integer", "", 0 },
		{ "grading.window_months", "false", 0, "grading.window_months: expected an integer", "", 0 },
		{ "grading.initial_grade", "\"1\"", 0, "grading.initial_grade: expected an integer from 1 to 4", "", 0 },
		{ "grading.initial_grade", "1.0", 0, "grading.initial_grade: expected an integer from 1 to 4", "", 0 },
		{ "grades[1].min_members", "\"3\"", 0, "grades[1].min_members: expected a non-negative integer", "got \"3\"", 0 },
		{ "grades[1].min_members", "3.0", 0, "grades[1].min_members: expected a non-negative integer", "", 0 },
		{ "grades[1].min_members", "true", 0, "grades[1].min_members: expected a non-negative integer", "", 0 },
		{ "grades[1].min_members", "-1", 0, "grades[1].min_members: expected a non-negative integer", "got -1", 0 },
		{ "grades[2].min_shares", "\"20\"", 0, "grades[2].min_shares: expected a non-negative integer", "", 0 },
		{ "grades[2].min_shares", "20.5", 0, "grades[2].min_shares: expected a non-negative integer", "", 0 },
		{ "grades[2].min_shares", "-20", 0, "grades[2].min_shares: expected a non-negative integer", "", 0 },

		/* months 1..1200, initial_grade 1..4 */
		{ "commission_window_months", "0", 0, "commission_window_months: expected an integer from 1 to 1200", "got 0", 0 },
		{ "commission_window_months", "-36", 0, "commission_window_months: expected an integer from 1 to 1200", "", 0 },
		{ "commission_window_months", "1201", 0, "commission_window_months: expected an integer from 1 to 1200", "got 1201", 0 },
		{ "commission_window_months", "99999999999999999", 0, "commission_window_months: expected an integer", "", 0 },
		{ "grading.window_months", "0", 0, "grading.window_months: expected an integer from 1 to 1200", "", 0 },
		{ "grading.window_months", "1201", 0, "grading.window_months: expected an integer from 1 to 1200", "", 0 },
		{ "grading.initial_grade", "0", 0, "grading.initial_grade: expected an integer from 1 to 4", "got 0", 0 },
		{ "grading.initial_grade", "5", 0, "grading.initial_grade: expected an integer from 1 to 4", "got 5", 0 },

		/* a bounty settlement can hold: at most 2^31 - 1 fen */
		{ "grades[3].bounty", "\"21474836.48\"", 0, "grades[3].bounty: expected at most \"21474836.47\"", "got \"21474836.48\"", 0 },
		{ "grades[3].bounty", "\"999999999999999999999999999.99\"", 0, "grades[3].bounty: expected at most ", "", 0 },

		/* money is a string in the money form */
		{ "grades[1].bounty", "20", 0, "grades[1].bounty: expected ", "got 20", MONEY },
		{ "grades[1].bounty", "20.5", 0, "grades[1].bounty: expected ", "got 20.5", MONEY },
		{ "grades[1].bounty", "\"20.001\"", 0, "grades[1].bounty: expected ", "got \"20.001\"", MONEY },
		{ "grades[1].bounty", "\"-20.00\"", 0, "grades[1].bounty: expected ", "", MONEY },
		{ "grades[1].bounty", "\"+20.00\"", 0, "grades[1].bounty: expected ", "", MONEY },
		{ "grades[1].bounty", "\"2e1\"", 0, "grades[1].bounty: expected ", "", MONEY },
		{ "grades[1].bounty", "\" 20.00\"", 0, "grades[1].bounty: expected ", "", MONEY },
		{ "grades[1].bounty", "\"20.00 \"", 0, "grades[1].bounty: expected ", "", MONEY },
		{ "grades[1].bounty", "\"\"", 0, "grades[1].bounty: expected ", "got \"\"", MONEY },
		{ "grades[1].bounty", "\"20.\"", 0, "grades[1].bounty: expected ", "", MONEY },
		{ "grades[1].bounty", "\".5\"", 0, "grades[1].bounty: expected ", "", MONEY },
		{ "grades[1].bounty", "\"20,00\"", 0, "grades[1].bounty: expected ", "", MONEY },
		{ "grades[1].bounty", "\"1234567890123456789012345678901\"", 0, "grades[1].bounty: expected ", "", MONEY },
		{ "grades[1].bounty", "null", 0, "grades[1].bounty: expected ", "got null", MONEY },
		{ "grades[0].bounty", "{}", 0, "grades[0].bounty: expected ", "got an object", MONEY },
		{ "grades[2].min_sales", "15000", 0, "grades[2].min_sales: expected ", "got 15000", MONEY },
		{ "grades[2].min_sales", "\"15000.000\"", 0, "grades[2].min_sales: expected ", "", MONEY },
		{ "min_payout", "0.01", 0, "min_payout: expected ", "got 0.01", MONEY },
		{ "min_payout", "\"0.001\"", 0, "min_payout: expected ", "", MONEY },
		{ "min_payout", "\"-0.01\"", 0, "min_payout: expected ", "", MONEY },

		/* rates, ratings and points are strings in the decimal form */
		{ "grades[1].rate", "0.08", 0, "grades[1].rate: expected ", "got 0.08", DECIMAL },
		{ "grades[0].rate", "0", 0, "grades[0].rate: expected ", "got 0", DECIMAL },
		{ "grades[1].rate", "\"-0.08\"", 0, "grades[1].rate: expected ", "", DECIMAL },
		{ "grades[1].rate", "\"8%\"", 0, "grades[1].rate: expected ", "", DECIMAL },
		{ "grades[1].rate", "\"8e-2\"", 0, "grades[1].rate: expected ", "", DECIMAL },
		{ "grades[1].rate", "\"\"", 0, "grades[1].rate: expected ", "", DECIMAL },
		{ "grades[1].rate", "[\"0.08\"]", 0, "grades[1].rate: expected ", "got an array", DECIMAL },
		{ "grades[1].min_store_rating", "3.0", 0, "grades[1].min_store_rating: expected ", "got 3.0", DECIMAL },
		{ "grades[1].min_store_rating", "\"three\"", 0, "grades[1].min_store_rating: expected ", "", DECIMAL },
		{ "override_rate", "0.01", 0, "override_rate: expected ", "got 0.01", DECIMAL },
		{ "share_bonus_rate", "0.25", 0, "share_bonus_rate: expected ", "got 0.25", DECIMAL },
		{ "points.per_yuan", "1", 0, "points.per_yuan: expected ", "got 1", DECIMAL },
		{ "points.per_share", "\"five\"", 0, "points.per_share: expected ", "", DECIMAL },
		{ "member_tiers[1].min_points", "2000", 0, "member_tiers[1].min_points: expected ", "got 2000", DECIMAL },

		/* 0 <= rate < 1; ratings 0..5; override and share bonus in [0, 1) */
		{ "grades[0].rate", "\"1\"", 0, "grades[0].rate: expected a decimal string from 0 up to but not including 1", "", 0 },
		{ "grades[3].rate", "\"1.00\"", 0, "grades[3].rate: expected a decimal string from 0 up to but not including 1", "got \"1.00\"", 0 },
		{ "grades[3].rate", "\"12\"", 0, "grades[3].rate: expected a decimal string from 0 up to but not including 1", "", 0 },
		{ "grades[1].min_store_rating", "\"5.01\"", 0, "grades[1].min_store_rating: expected a rating string from 0 to 5", "", 0 },
		{ "grades[3].min_store_rating", "\"6\"", 0, "grades[3].min_store_rating: expected a rating string from 0 to 5", "", 0 },
		{ "override_rate", "\"1\"", 0, "override_rate: expected a decimal string from 0 up to but not including 1", "", 0 },
		{ "override_rate", "\"1.000\"", 0, "override_rate: expected a decimal string from 0 up to but not including 1", "", 0 },
		{ "share_bonus_rate", "\"1\"", 0, "share_bonus_rate: expected a decimal string from 0 up to but not including 1", "", 0 },
		{ "share_bonus_rate", "\"2.5\"", 0, "share_bonus_rate: expected a decimal string from 0 up to but not including 1", "", 0 },

		/* rates, bounties and each threshold never decrease with grade */
		{ "grades[1].rate", "\"0.04\"", 0, "grades[1].rate: expected at least \"0.05\"", "got \"0.04\"", 0 },
		{ "grades[2].rate", "\"0.0799\"", 0, "grades[2].rate: expected at least \"0.08\"", "", 0 },
		{ "grades[3].rate", "\"0.09\"", 0, "grades[3].rate: expected at least \"0.10\"", "", 0 },
		{ "grades[1].bounty", "\"19.99\"", 0, "grades[1].bounty: expected at least \"20.00\"", "", 0 },
		{ "grades[3].bounty", "\"29\"", 0, "grades[3].bounty: expected at least \"30.00\"", "", 0 },
		{ "grades[2].min_members", "2", 0, "grades[2].min_members: expected at least 3", "got 2", 0 },
		{ "grades[3].min_members", "9", 0, "grades[3].min_members: expected at least 10", "", 0 },
		{ "grades[2].min_sales", "\"2999.99\"", 0, "grades[2].min_sales: expected at least \"3000.00\"", "", 0 },
		{ "grades[3].min_shares", "19", 0, "grades[3].min_shares: expected at least 20", "", 0 },
		{ "grades[2].min_store_rating", "\"2.9\"", 0, "grades[2].min_store_rating: expected at least \"3.0\"", "", 0 },
		{ "grades[3].min_store_rating", "\"3.49\"", 0, "grades[3].min_store_rating: expected at least \"3.5\"", "", 0 },

		/* allow_demotion is a JSON boolean */
		{ "grading.allow_demotion", "1", 0, "grading.allow_demotion: expected true or false", "got 1", 0 },
		{ "grading.allow_demotion", "\"true\"", 0, "grading.allow_demotion: expected true or false", "got \"true\"", 0 },
		{ "grading.allow_demotion", "null", 0, "grading.allow_demotion: expected true or false", "", 0 },

		/* grading and points are objects */
		{ "grading", "3", 0, "grading: expected an object", "got 3", 0 },
		{ "points", "[]", 0, "points: expected an object", "got an array", 0 },

		/* member tiers */
		{ "member_tiers", "[]", 0, "member_tiers: expected a non-empty array", "", 0 },
		{ "member_tiers", "{}", 0, "member_tiers: expected a non-empty array", "got an object", 0 },
		{ "member_tiers", "\"bronze\"", 0, "member_tiers: expected a non-empty array", "", 0 },
		{ "member_tiers[0]", "\"bronze\"", 0, "member_tiers[0]: expected an object", "", 0 },
		{ "member_tiers[1].name", "\"\"", 0, "member_tiers[1].name: expected a name of 1 to 32", "got \"\"", 0 },
		{ "member_tiers[1].name", "\"abcdefghijklmnopqrstuvwxyz0123456\"", 0, "member_tiers[1].name: expected a name of 1 to 32", "", 0 },
		{ "member_tiers[1].name", "\"gold!\"", 0, "member_tiers[1].name: expected a name of 1 to 32", "", 0 },
		{ "member_tiers[1].name", "\"sil ver\"", 0, "member_tiers[1].name: expected a name of 1 to 32", "", 0 },
		{ "member_tiers[1].name", "\"silver.2\"", 0, "member_tiers[1].name: expected a name of 1 to 32", "", 0 },
		{ "member_tiers[1].name", "\"\\u94f6\"", 0, "member_tiers[1].name: expected a name of 1 to 32", "", 0 },
		{ "member_tiers[1].name", "2", 0, "member_tiers[1].name: expected a name of 1 to 32", "got 2", 0 },
		{ "member_tiers[1].name", "null", 0, "member_tiers[1].name: expected a name of 1 to 32", "", 0 },
		{ "member_tiers[3].name", "\"silver\"", 0, "member_tiers[3].name: duplicate tier name \"silver\"", "member_tiers[1].name", 0 },
		{ "member_tiers[0].min_points", "\"1\"", 0, "member_tiers[0].min_points: expected \"0\"", "got \"1\"", 0 },
		{ "member_tiers[0].min_points", "\"0.01\"", 0, "member_tiers[0].min_points: expected \"0\"", "", 0 },
		{ "member_tiers[1].min_points", "\"0\"", 0, "member_tiers[1].min_points: expected more than \"0\"", "", 0 },
		{ "member_tiers[2].min_points", "\"2000.0\"", 0, "member_tiers[2].min_points: expected more than \"2000\"", "got \"2000.0\"", 0 },
		{ "member_tiers[4].min_points", "\"29999\"", 0, "member_tiers[4].min_points: expected more than \"30000\"", "", 0 },

		/* rounding is one of three names */
		{ "rounding", "\"half-up\"", 0, "rounding: expected one of \"half_up\", \"half_even\", \"down\"", "got \"half-up\"", 0 },
		{ "rounding", "\"HALF_UP\"", 0, "rounding: expected one of", "", 0 },
		{ "rounding", "\"up\"", 0, "rounding: expected one of", "", 0 },
		{ "rounding", "\"\"", 0, "rounding: expected one of", "", 0 },
		{ "rounding", "0", 0, "rounding: expected one of", "got 0", 0 },
		{ "rounding", "null", 0, "rounding: expected one of", "", 0 },

		/* utc_offset is "+HH:MM" or "-HH:MM" */
		{ "utc_offset", "\"+8:00\"", 0, "utc_offset: expected an offset string", "got \"+8:00\"", 0 },
		{ "utc_offset", "\"08:00\"", 0, "utc_offset: expected an offset string", "", 0 },
		{ "utc_offset", "\"+0800\"", 0, "utc_offset: expected an offset string", "", 0 },
		{ "utc_offset", "\"+08:60\"", 0, "utc_offset: expected an offset string", "", 0 },
		{ "utc_offset", "\"+24:00\"", 0, "utc_offset: expected an offset string", "", 0 },
		{ "utc_offset", "\"+08:00 \"", 0, "utc_offset: expected an offset string", "", 0 },
		{ "utc_offset", "\"\"", 0, "utc_offset: expected an offset string", "", 0 },
		{ "utc_offset", "480", 0, "utc_offset: expected an offset string", "got 480", 0 },

		/* start_period is "YYYY-MM" */
		{ "start_period", "\"2026-1\"", 0, "start_period: expected a period string", "got \"2026-1\"", 0 },
		{ "start_period", "\"2026-13\"", 0, "start_period: expected a period string", "", 0 },
		{ "start_period", "\"2026-00\"", 0, "start_period: expected a period string", "", 0 },
		{ "start_period", "\"2026-01-01\"", 0, "start_period: expected a period string", "", 0 },
		{ "start_period", "\"26-01\"", 0, "start_period: expected a period string", "", 0 },
		{ "start_period", "\"0000-01\"", 0, "start_period: expected a period string", "", 0 },
		{ "start_period", "202601", 0, "start_period: expected a period string", "got 202601", 0 },
	};
	return cr_make_param_array(struct reject_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct reject_case *c, plan, rejects)
{
	char *text = mutate(c->path, c->remove ? NULL : c->value);
	const char *form = c->form == MONEY ? dec_money_form() :
			   c->form == DECIMAL ? dec_decimal_form() : NULL;

	expect_reject(text, c->want, c->want2[0] ? c->want2 : NULL, form);
	free(text);
}

/* ---- hold_days and withholding (optional keys) ------------------------------- */

Test(plan, the_optional_keys_default_to_no_hold_and_no_withholding)
{
	char *text = test_reference_plan();
	plan p;
	expect_accept(&p, text);
	cr_assert_eq(p.hold_days, 0);
	cr_assert_null(p.withholding);
	plan_clear(&p);
	free(text);
}

Test(plan, reads_hold_days_and_china_s_table)
{
	char *text = mutate_plan(mutate("hold_days", "366"), "withholding", CHINA_TABLE);
	plan p;
	expect_accept(&p, text);
	cr_assert_eq(p.hold_days, 366);
	cr_assert_not_null(p.withholding);
	cr_assert_eq(p.withholding->nbrackets, 3);
	cr_assert(p.withholding->brackets[1].bounded && !p.withholding->brackets[2].bounded);
	cr_assert_eq(mpq_cmp_si(p.withholding->brackets[2].quick_deduction, 7000, 1), 0);
	plan_clear(&p);
	free(text);
}

/* A withholding block changed at `path` ("" for the block itself), value
 * NULL (removed) or JSON text; the message must contain `want`. */
struct withholding_case {
	char path[48], value[96];
	int remove;
	char want[160];
};

ParameterizedTestParameters(plan, rejects_bad_hold_days_and_withholding)
{
	static struct withholding_case cases[] = {
		{ "hold_days", "-1", 0, "plan: hold_days: expected an integer from 0 to 366, like 15, got -1" },
		{ "hold_days", "367", 0, "plan: hold_days: expected an integer from 0 to 366, like 15, got 367" },
		{ "hold_days", "\"10\"", 0, "plan: hold_days: expected an integer from 0 to 366, like 15, got \"10\"" },
		{ "hold_days", "1.5", 0, "plan: hold_days: expected an integer from 0 to 366" },
		{ "hold_days", "null", 0, "plan: hold_days: expected an integer from 0 to 366, like 15, got null" },
		{ "withholding", "null", 0, "plan: withholding: expected an object, got null" },
		{ "withholding", "[]", 0, "plan: withholding: expected an object, got an array" },
		{ "withholding.threshold", "", 1, "plan: missing key \"withholding.threshold\"" },
		{ "withholding.fixed_deduction", "", 1, "plan: missing key \"withholding.fixed_deduction\"" },
		{ "withholding.rate_deduction", "", 1, "plan: missing key \"withholding.rate_deduction\"" },
		{ "withholding.brackets", "", 1, "plan: missing key \"withholding.brackets\"" },
		{ "withholding.ceiling", "\"1.00\"", 0, "plan: unknown key \"withholding.ceiling\"" },
		{ "withholding.threshold", "4000", 0, "plan: withholding.threshold: expected" },
		{ "withholding.threshold", "\"4000.001\"", 0, "plan: withholding.threshold: expected" },
		{ "withholding.fixed_deduction", "\"-800.00\"", 0, "plan: withholding.fixed_deduction: expected" },
		{ "withholding.rate_deduction", "\"1\"", 0, "plan: withholding.rate_deduction: expected a decimal string from 0 up to but not including 1" },
		{ "withholding.brackets", "[]", 0, "plan: withholding.brackets: expected a non-empty array" },
		{ "withholding.brackets", "{}", 0, "plan: withholding.brackets: expected a non-empty array of {\"up_to\", \"rate\", \"quick_deduction\"} objects, got an object" },
		{ "withholding.brackets[1]", "7", 0, "plan: withholding.brackets[1]: expected an object, got 7" },
		{ "withholding.brackets[1].up_to", "\"20000.00\"", 0, "plan: withholding.brackets[1].up_to: expected more than \"20000.00\" (withholding.brackets[0].up_to; brackets ascend strictly), got \"20000.00\"" },
		{ "withholding.brackets[1].up_to", "\"19999.99\"", 0, "plan: withholding.brackets[1].up_to: expected more than \"20000.00\"" },
		{ "withholding.brackets[1].up_to", "null", 0, "plan: withholding.brackets[1].up_to: expected money like \"20000.00\" (only the last bracket's up_to is null), got null" },
		{ "withholding.brackets[2].up_to", "\"90000.00\"", 0, "plan: withholding.brackets[2].up_to: expected null (the last bracket has no upper bound), got \"90000.00\"" },
		{ "withholding.brackets[2].up_to", "", 1, "plan: missing key \"withholding.brackets[2].up_to\"" },
		{ "withholding.brackets[0].rate", "\"1.0\"", 0, "plan: withholding.brackets[0].rate: expected a decimal string from 0 up to but not including 1" },
		{ "withholding.brackets[0].rate", "0.2", 0, "plan: withholding.brackets[0].rate: expected" },
		{ "withholding.brackets[0].quick_deduction", "", 1, "plan: missing key \"withholding.brackets[0].quick_deduction\"" },
		{ "withholding.brackets[0].quick_deduction", "\"0.001\"", 0, "plan: withholding.brackets[0].quick_deduction: expected" },
		{ "withholding.brackets[0].quick", "\"0.00\"", 0, "plan: unknown key \"withholding.brackets[0].quick\"" },
	};
	return cr_make_param_array(struct withholding_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct withholding_case *c, plan, rejects_bad_hold_days_and_withholding)
{
	char *text = mutate("withholding", CHINA_TABLE);
	text = mutate_plan(text, c->path, c->remove ? NULL : c->value);
	expect_reject(text, c->want, NULL, NULL);
	free(text);
}

/* A misspelt optional key gets its hint too. */
Test(plan, a_misspelt_optional_key_gets_a_hint)
{
	char *text = mutate("hold_day", "10");
	expect_reject(text, "plan: unknown key \"hold_day\" (did you mean \"hold_days\"?)", NULL,
		      NULL);
	free(text);
	text = mutate("withholding", CHINA_TABLE);
	text = mutate_plan(text, "withholding.fixed_deductions", "\"800.00\"");
	text = mutate_plan(text, "withholding.fixed_deduction", NULL);
	expect_reject(text,
		      "plan: unknown key \"withholding.fixed_deductions\" (did you mean \"fixed_deduction\"?)",
		      NULL, NULL);
	free(text);
}

/* Rejections that need the text itself changed: JSON syntax, key spelling. */
struct text_case {
	char from[48], to[80], want[112], want2[24];
};

ParameterizedTestParameters(plan, rejects_text)
{
	static struct text_case cases[] = {
		{ "\"min_payout\"", "\"min_payot\"",
		  "plan: unknown key \"min_payot\" (did you mean \"min_payout\"?)", "" },
		{ "\"window_months\"", "\"windows_months\"",
		  "plan: unknown key \"grading.windows_months\" (did you mean \"window_months\"?)", "" },
		{ "\"per_share\"", "\"per-share\"",
		  "plan: unknown key \"points.per-share\" (did you mean \"per_share\"?)", "" },
		{ "\"rounding\": \"half_up\",", "\"rounding\": \"half_up\", \"rounding\": \"down\",",
		  "plan: invalid JSON at line ", "duplicate" },
		{ "\"per_yuan\": \"1\",", "\"per_yuan\": \"1\", \"per_yuan\": \"1\",",
		  "plan: invalid JSON at line ", "duplicate" },
		{ "\"min_payout\": \"0.01\"", "\"min_payout\": \"0.01\",",
		  "plan: invalid JSON at line ", " column " },
		{ "\"min_payout\": \"0.01\"\n}", "\"min_payout\": \"0.01\"\n}\n{}",
		  "plan: invalid JSON at line ", "" },
		{ "\"rounding\": \"half_up\"", "\"rounding\": 'half_up'",
		  "plan: invalid JSON at line ", "" },
		{ "\"rounding\": \"half_up\"", "\"rounding\": \"half\\u0000up\"",
		  "plan: invalid JSON at line ", "" },
		{ "\"rounding\": \"half_up\"", "\"rounding\": \"half_up\", \"\\u0001x\": 1",
		  "plan: unknown key \"\\u0001x\"", "" },
	};
	return cr_make_param_array(struct text_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct text_case *c, plan, rejects_text)
{
	char *text = replace(c->from, c->to);

	expect_reject(text, c->want, c->want2[0] ? c->want2 : NULL, NULL);
	free(text);
}

Test(plan, json_error_position)
{
	/* the error (the comma) is on line 3, column 14 */
	expect_reject("{\n  \"utc_offset\": \"+08:00\",\n  \"grades\": [,]\n}",
		      "plan: invalid JSON at line 3 column 14: ", NULL, NULL);
}

Test(plan, not_json)
{
	expect_reject("", "plan: invalid JSON at line ", NULL, NULL);
	expect_reject("utc_offset = +08:00", "plan: invalid JSON at line 1 ", NULL, NULL);
}

Test(plan, top_level_not_an_object)
{
	expect_reject("[]", "plan: expected a JSON object at the top level, got an array",
		      NULL, NULL);
}

Test(plan, unknown_key_is_reported_before_missing_ones)
{
	expect_reject("{\"rate\": \"0.05\"}", "plan: unknown key \"rate\"", NULL, NULL);
	expect_reject("{}", "plan: missing key \"utc_offset\"", NULL, NULL);
}

Test(plan, long_unknown_key_is_cut)
{
	char *text = mutate("an_unknown_key_that_goes_on_and_on_and_on_and_on_and_on", "1");

	expect_reject(text, "plan: unknown key \"an_unknown_key_that_goes_on_and_on_and_o...\"",
		      NULL, NULL);
	free(text);
}

Test(plan, null_arguments)
{
	char err[128];
	plan p;

	cr_expect_eq(plan_parse(&p, NULL, err, sizeof err), -1);
	cr_expect_null(p.tiers);
	cr_expect_str_eq(err, "plan: no plan text");
	cr_expect_eq(plan_parse(NULL, "{}", err, sizeof err), -1);
	plan_clear(&p);
}

Test(plan, small_or_no_error_buffer)
{
	char small[12];
	plan p;

	memset(small, 'x', sizeof small);
	cr_expect_eq(plan_parse(&p, "{}", small, sizeof small), -1);
	cr_expect_str_eq(small, "plan: missi");
	cr_expect_eq(plan_parse(&p, "{}", NULL, 0), -1);
	cr_expect_eq(plan_parse(&p, "{}", small, 0), -1);
	cr_expect_eq(small[0], 'p', "cap 0 writes nothing");
	cr_expect_null(p.tiers);
}

Test(plan, failure_after_tiers_leaves_nothing)
{
	/* fails after the tiers were allocated (rounding comes later) */
	char *text = mutate("rounding", "\"up\"");
	plan p;

	expect_reject(text, "rounding: expected one of", NULL, NULL);
	free(text);
	text = mutate("min_payout", "\"x\"");
	expect_reject(text, "min_payout: expected ", NULL, NULL);
	free(text);
	(void)p;
}
