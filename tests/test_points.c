/*
 * test_points.c — member points, tiers, benefit sharing and the share bonus
 * (SPEC §9) and the members export (SPEC §10), through the public C API.
 *
 * Every store starts from the reference plan (tests/fixtures/reference-plan.json):
 *   points.per_yuan 1, points.per_share 5, share_bonus_rate 0.25,
 *   tiers bronze 0 / silver 2000 / gold 10000 / platinum 30000 / diamond 80000,
 *   utc_offset +08:00, start_period 2026-01.
 * Timestamps without an offset below are therefore +08:00 local time.
 * Every expected value was worked out by hand; the arithmetic is in the
 * comment next to it.
 *
 * Event lines are written with single quotes for readability; ingest()
 * turns them into double quotes (no id or value here contains a quote).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <referral/referral.h>

#include "support.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ----------------------------------------------------------- */

/* The bad lines of the last ingest(), "FILE:LINE: message" joined by '\n'. */
static char last_errors[8192];

/* A new store on the reference plan (or on `plan_json` if given). */
static referral_store *new_store_with(const char *plan_json)
{
	referral_store *st = NULL;
	int rc = referral_store_create(&st, test_db_path(), plan_json);

	cr_assert_eq(rc, REFERRAL_OK, "store_create: %d %s", rc, referral_errmsg(st));
	return st;
}

static referral_store *new_store(void)
{
	char *plan = test_reference_plan();
	referral_store *st = new_store_with(plan);
	free(plan);
	return st;
}

/* The reference plan with every occurrence of `from` replaced by `to`
 * (two pairs may be given; pass NULL for the unused one). malloc'd. */
static char *plan_with(const char *from1, const char *to1, const char *from2, const char *to2)
{
	char *text = test_reference_plan();
	const char *from[2] = {from1, from2}, *to[2] = {to1, to2};

	for (int k = 0; k < 2; k++) {
		if (!from[k])
			continue;
		char *at = strstr(text, from[k]);
		cr_assert_not_null(at, "plan fixture: \"%s\" not in the reference plan", from[k]);
		size_t head = (size_t)(at - text), fl = strlen(from[k]), tl = strlen(to[k]);
		char *out = malloc(strlen(text) - fl + tl + 1);
		cr_assert_not_null(out);
		memcpy(out, text, head);
		memcpy(out + head, to[k], tl);
		strcpy(out + head + tl, at + fl);
		free(text);
		text = out;
	}
	return text;
}

/*
 * Ingests `lines` (events one per line, single quotes standing for double
 * quotes) as one batch named "points.jsonl". Returns the commit status;
 * the bad lines are left in last_errors.
 */
static int ingest(referral_store *st, const char *lines)
{
	referral_batch *b = NULL;
	int rc = referral_batch_begin(st, &b, "points.jsonl");
	long lineno = 0;

	cr_assert_eq(rc, REFERRAL_OK, "batch_begin: %s", referral_errmsg(st));
	last_errors[0] = '\0';
	for (const char *p = lines; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = malloc(n + 1);
		cr_assert_not_null(line);
		for (size_t i = 0; i < n; i++)
			line[i] = p[i] == '\'' ? '"' : p[i];
		line[n] = '\0';
		lineno++;
		int arc = referral_batch_add_json(b, line, n, lineno);
		free(line);
		cr_assert_neq(arc, REFERRAL_EIO, "batch_add_json: storage failure");
		p += n + (nl ? 1 : 0);
	}
	rc = referral_batch_commit(b);
	for (long i = 0; i < referral_batch_error_count(b) && i < 100; i++) {
		const char *e = referral_batch_error(b, i);
		size_t used = strlen(last_errors);
		snprintf(last_errors + used, sizeof last_errors - used, "%s\n", e ? e : "(null)");
	}
	referral_batch_free(b);
	return rc;
}

static void ingest_ok(referral_store *st, const char *lines)
{
	int rc = ingest(st, lines);
	cr_assert_eq(rc, REFERRAL_OK, "ingest failed (%d):\n%s", rc, last_errors);
}

/* Asserts one member's row of referral_member_get(). */
static void expect_member(referral_store *st, const char *id, const char *lifetime,
			  const char *balance, const char *tier, const char *sharer,
			  const char *effective_tier)
{
	referral_member_info m;
	int rc = referral_member_get(st, id, &m);

	cr_assert_eq(rc, REFERRAL_OK, "member_get %s: %d %s", id, rc, referral_errmsg(st));
	cr_expect_str_eq(m.member, id);
	cr_expect_str_eq(m.lifetime, lifetime, "%s lifetime: got %s, want %s", id, m.lifetime,
			 lifetime);
	cr_expect_str_eq(m.balance, balance, "%s balance: got %s, want %s", id, m.balance, balance);
	cr_expect_str_eq(m.tier, tier, "%s tier: got %s, want %s", id, m.tier, tier);
	cr_expect_str_eq(m.sharer, sharer, "%s sharer: got \"%s\", want \"%s\"", id, m.sharer,
			 sharer);
	cr_expect_str_eq(m.effective_tier, effective_tier, "%s effective tier: got %s, want %s", id,
			 m.effective_tier, effective_tier);
}

/* Lifetime and balance only (tiers bronze, as for most small amounts). */
static void expect_points(referral_store *st, const char *id, const char *lifetime,
			  const char *balance)
{
	referral_member_info m;
	int rc = referral_member_get(st, id, &m);

	cr_assert_eq(rc, REFERRAL_OK, "member_get %s: %d %s", id, rc, referral_errmsg(st));
	cr_expect_str_eq(m.lifetime, lifetime, "%s lifetime: got %s, want %s", id, m.lifetime,
			 lifetime);
	cr_expect_str_eq(m.balance, balance, "%s balance: got %s, want %s", id, m.balance, balance);
}

struct sink {
	char *data;
	size_t len;
};

static int sink_write(void *ctx, const char *data, size_t len)
{
	struct sink *s = ctx;
	char *p = realloc(s->data, s->len + len + 1);
	if (!p)
		return 1;
	memcpy(p + s->len, data, len);
	s->len += len;
	p[s->len] = '\0';
	s->data = p;
	return 0;
}

/* The members export in `format`, malloc'd ("" if empty). */
static char *export_members(referral_store *st, const char *format)
{
	struct sink s = {0};
	int rc = referral_export(st, "members", NULL, format, sink_write, &s);

	cr_assert_eq(rc, REFERRAL_OK, "export members %s: %d %s", format, rc, referral_errmsg(st));
	return s.data ? s.data : calloc(1, 1);
}

static void expect_members_csv(referral_store *st, const char *want)
{
	char *got = export_members(st, "csv");
	cr_expect_str_eq(got, want, "members export:\n--- got\n%s--- want\n%s", got, want);
	free(got);
}

/* Members A, B, C (and D) joined on 2026-01-01, bound to no distributor. */
#define MEMBERS_ABC                                                                       \
	"{'type':'member','id':'A','at':'2026-01-01T00:00:00','distributor':null}\n"     \
	"{'type':'member','id':'B','at':'2026-01-01T00:00:00','distributor':null}\n"     \
	"{'type':'member','id':'C','at':'2026-01-01T00:00:00','distributor':null}\n"
#define MEMBER_D "{'type':'member','id':'D','at':'2026-01-01T00:00:00','distributor':null}\n"

/* ---- earning, refunds and the 0.25 bonus ------------------------------- */

Test(points, order_earns_points_and_sharer_bonus)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'1000.00'}\n");
	/* B: 1000.00 x per_yuan 1 = 1000 points; A: 0.25 x 1000 = 250 */
	expect_member(st, "B", "1000.00", "1000.00", "bronze", "A", "bronze");
	expect_member(st, "A", "250.00", "250.00", "bronze", "", "bronze");
	/* C took no part */
	expect_member(st, "C", "0.00", "0.00", "bronze", "", "bronze");
	referral_store_free(st);
}

Test(points, refund_takes_back_points_and_bonus)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'1000.00'}\n");
	ingest_ok(st, "{'type':'refund','id':'f1','at':'2026-01-20T12:00:00','order':'o1','amount':'400.00'}\n");
	/* B: 1000 - 400 x 1 = 600; A: 250 - 0.25 x 400 = 250 - 100 = 150 */
	expect_member(st, "B", "600.00", "600.00", "bronze", "A", "bronze");
	expect_member(st, "A", "150.00", "150.00", "bronze", "", "bronze");

	/* the rest of the order: B 600 - 600 = 0; A 150 - 0.25 x 600 = 0 */
	ingest_ok(st, "{'type':'refund','id':'f2','at':'2026-01-21T12:00:00','order':'o1','amount':'600'}\n");
	expect_points(st, "B", "0.00", "0.00");
	expect_points(st, "A", "0.00", "0.00");
	referral_store_free(st);
}

Test(points, bonus_is_one_level_only)
{
	referral_store *st = new_store();

	/* A shares with B, B shares with C */
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'share_benefits','id':'sb2','at':'2026-01-02T00:00:00','from':'B','to':'C'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'C','amount':'1000.00'}\n");
	/* C: 1000; B: 0.25 x 1000 = 250 (bonus); A: nothing — bonus earns no bonus */
	expect_member(st, "C", "1000.00", "1000.00", "bronze", "B", "bronze");
	expect_member(st, "B", "250.00", "250.00", "bronze", "A", "bronze");
	expect_member(st, "A", "0.00", "0.00", "bronze", "", "bronze");

	/* B's own order does pay A: B 250 + 100 = 350; A 0.25 x 100 = 25 */
	ingest_ok(st, "{'type':'order','id':'o2','at':'2026-01-11T12:00:00','member':'B','amount':'100.00'}\n");
	expect_points(st, "B", "350.00", "350.00");
	expect_points(st, "A", "25.00", "25.00");

	/* refund of C's order takes back from C and B only:
	 * C 1000 - 200 = 800; B 350 - 0.25 x 200 = 300; A stays 25 */
	ingest_ok(st, "{'type':'refund','id':'f1','at':'2026-01-12T12:00:00','order':'o1','amount':'200.00'}\n");
	expect_points(st, "C", "800.00", "800.00");
	expect_points(st, "B", "300.00", "300.00");
	expect_points(st, "A", "25.00", "25.00");
	referral_store_free(st);
}

Test(points, sharer_earns_from_every_sharee)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'share_benefits','id':'sb2','at':'2026-01-02T00:00:00','from':'A','to':'C'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'100.00'}\n"
		  "{'type':'order','id':'o2','at':'2026-01-10T13:00:00','member':'C','amount':'300.00'}\n");
	/* A: 0.25 x 100 + 0.25 x 300 = 25 + 75 = 100 */
	expect_member(st, "A", "100.00", "100.00", "bronze", "", "bronze");
	expect_member(st, "B", "100.00", "100.00", "bronze", "A", "bronze");
	expect_member(st, "C", "300.00", "300.00", "bronze", "A", "bronze");
	referral_store_free(st);
}

Test(points, mutual_sharers_bonus_does_not_cascade)
{
	referral_store *st = new_store();

	/* A is B's sharer and B is A's: each has one sharer, neither herself */
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'share_benefits','id':'sb2','at':'2026-01-02T00:00:00','from':'B','to':'A'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'A','amount':'100.00'}\n"
		  "{'type':'order','id':'o2','at':'2026-01-11T12:00:00','member':'B','amount':'200.00'}\n");
	/* A: 100 own + 0.25 x 200 (B's order) = 150 (the 25 bonus B got from A pays A nothing)
	 * B: 200 own + 0.25 x 100 (A's order) = 225 */
	expect_member(st, "A", "150.00", "150.00", "bronze", "B", "bronze");
	expect_member(st, "B", "225.00", "225.00", "bronze", "A", "bronze");
	referral_store_free(st);
}

Test(points, canonical_decimals_of_fractional_points)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'share_benefits','id':'sb2','at':'2026-01-02T00:00:00','from':'A','to':'C'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'10.01'}\n"
		  "{'type':'order','id':'o2','at':'2026-01-10T13:00:00','member':'C','amount':'0.5'}\n");
	/* B 10.01; C 0.50 ("0.5" is 0.50);
	 * A 0.25 x 10.01 + 0.25 x 0.5 = 2.5025 + 0.125 = 2.6275 (as few digits as exact) */
	expect_points(st, "B", "10.01", "10.01");
	expect_points(st, "C", "0.50", "0.50");
	expect_points(st, "A", "2.6275", "2.6275");
	/* a redeem of 0.0025 points: A balance 2.6275 - 0.0025 = 2.625 */
	ingest_ok(st, "{'type':'redeem','id':'r1','at':'2026-01-11T00:00:00','member':'A','points':'0.0025'}\n");
	expect_points(st, "A", "2.6275", "2.625");
	referral_store_free(st);
}

Test(points, exact_arithmetic_on_big_and_fractional_values)
{
	referral_store *st = new_store();

	/* a 29-digit amount: B 123456789012345678901234567.89 points;
	 * A 0.25 x that = /4: 4 x 30864197253086419725308641 =
	 * 123456789012345678901234564, remainder 3.89 / 4 = 0.9725
	 * -> 30864197253086419725308641.9725 (no double anywhere could hold it) */
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'123456789012345678901234567.89'}\n");
	expect_member(st, "B", "123456789012345678901234567.89", "123456789012345678901234567.89",
		      "diamond", "A", "diamond");
	expect_member(st, "A", "30864197253086419725308641.9725", "30864197253086419725308641.9725",
		      "diamond", "", "diamond");
	referral_store_free(st);

	/* per_yuan 0.01: an order of 12.34 earns 0.1234; the bonus
	 * 0.25 x 0.1234 = 0.03085 */
	char *plan = plan_with("\"per_yuan\": \"1\"", "\"per_yuan\": \"0.01\"", NULL, NULL);
	st = new_store_with(plan);
	free(plan);
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'12.34'}\n");
	expect_points(st, "B", "0.1234", "0.1234");
	expect_points(st, "A", "0.03085", "0.03085");
	referral_store_free(st);
}

Test(points, duplicate_events_earn_nothing_twice)
{
	referral_store *st = new_store();
	const char *batch = MEMBERS_ABC
		"{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		"{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'100.00'}\n"
		"{'type':'share','id':'sh1','at':'2026-01-11T12:00:00','member':'B'}\n";

	ingest_ok(st, batch);
	/* B 100 + 5 = 105; A 0.25 x 105 = 26.25 */
	expect_points(st, "B", "105.00", "105.00");
	expect_points(st, "A", "26.25", "26.25");
	/* the same batch again, and the order with "100.0" (the same number) */
	ingest_ok(st, batch);
	ingest_ok(st, "{'type':'order','id':'o1','at':'2026-01-10T04:00:00Z','member':'B','amount':'100.0'}\n");
	expect_points(st, "B", "105.00", "105.00");
	expect_points(st, "A", "26.25", "26.25");
	referral_store_free(st);
}

/* ---- when a sharer counts --------------------------------------------- */

Test(points, share_benefits_after_order_gives_no_bonus)
{
	referral_store *st = new_store();

	/* o1 one second before the sharing: no bonus; o2 after it: bonus */
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'1000.00'}\n"
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-10T12:00:01','from':'A','to':'B'}\n"
		  "{'type':'order','id':'o2','at':'2026-01-11T12:00:00','member':'B','amount':'100.00'}\n");
	/* B 1000 + 100 = 1100; A 0.25 x 100 = 25 (nothing for o1) */
	expect_member(st, "B", "1100.00", "1100.00", "bronze", "A", "bronze");
	expect_member(st, "A", "25.00", "25.00", "bronze", "", "bronze");

	/* refunding o1 (which earned A nothing) after the sharing takes nothing
	 * from A: B 1100 - 500 = 600, A stays 25 */
	ingest_ok(st, "{'type':'refund','id':'f1','at':'2026-01-12T12:00:00','order':'o1','amount':'500.00'}\n");
	expect_points(st, "B", "600.00", "600.00");
	expect_points(st, "A", "25.00", "25.00");
	referral_store_free(st);
}

Test(points, share_benefits_at_the_same_instant_counts)
{
	referral_store *st = new_store();

	/* sb1 and o1 at the very same instant; sb2 and o2 at the same instant
	 * written in two offsets (04:00Z = 12:00+08:00) */
	ingest_ok(st, MEMBERS_ABC MEMBER_D
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-10T12:00:00+08:00','from':'A','to':'B'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'B','amount':'1000.00'}\n"
		  "{'type':'share_benefits','id':'sb2','at':'2026-01-10T04:00:00Z','from':'C','to':'D'}\n"
		  "{'type':'order','id':'o2','at':'2026-01-10T12:00:00','member':'D','amount':'40.00'}\n");
	/* A 0.25 x 1000 = 250; C 0.25 x 40 = 10 */
	expect_points(st, "A", "250.00", "250.00");
	expect_points(st, "C", "10.00", "10.00");
	referral_store_free(st);
}

Test(points, share_benefits_ingested_later_but_dated_earlier_counts)
{
	referral_store *st = new_store();

	/* the order is ingested first, the sharing later but dated before it:
	 * points are computed over all events in (at, sequence) order */
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'80.00'}\n");
	expect_points(st, "A", "0.00", "0.00");
	ingest_ok(st, "{'type':'share_benefits','id':'sb1','at':'2026-01-05T00:00:00','from':'A','to':'B'}\n");
	/* A 0.25 x 80 = 20 */
	expect_points(st, "A", "20.00", "20.00");
	expect_member(st, "B", "80.00", "80.00", "bronze", "A", "bronze");
	referral_store_free(st);
}

Test(points, second_sharer_rejected_nothing_stored)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n");
	char *before = export_members(st, "csv");
	int rc = ingest(st, "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'100.00'}\n"
			    "{'type':'share_benefits','id':'sb2','at':'2026-01-03T00:00:00','from':'C','to':'B'}\n");
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d", rc);
	cr_expect(strstr(last_errors, "points.jsonl:2:") != NULL, "errors: %s", last_errors);
	cr_expect(strstr(last_errors, "\"B\"") != NULL, "message does not name B: %s", last_errors);
	/* nothing stored: the good order on line 1 neither, and B keeps A */
	char *after = export_members(st, "csv");
	cr_expect_str_eq(after, before);
	expect_member(st, "B", "0.00", "0.00", "bronze", "A", "bronze");
	free(before);
	free(after);
	referral_store_free(st);
}

/* ---- propagation ------------------------------------------------------- */

Test(points, member_share_earns_per_share_and_bonus)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'share','id':'sh1','at':'2026-01-05T00:00:00','member':'B'}\n");
	/* B per_share 5; A 0.25 x 5 = 1.25 */
	expect_member(st, "B", "5.00", "5.00", "bronze", "A", "bronze");
	expect_member(st, "A", "1.25", "1.25", "bronze", "", "bronze");

	/* two more shares by B and one by A herself:
	 * B 5 x 3 = 15; A 1.25 x 3 + 5 = 8.75 (A has no sharer: no bonus to anyone) */
	ingest_ok(st, "{'type':'share','id':'sh2','at':'2026-01-06T00:00:00','member':'B'}\n"
		      "{'type':'share','id':'sh3','at':'2026-01-07T00:00:00','member':'B'}\n"
		      "{'type':'share','id':'sh4','at':'2026-01-07T00:00:00','member':'A'}\n");
	expect_points(st, "B", "15.00", "15.00");
	expect_points(st, "A", "8.75", "8.75");
	expect_points(st, "C", "0.00", "0.00");
	referral_store_free(st);
}

Test(points, distributor_share_earns_no_member_points)
{
	referral_store *st = new_store();

	/* a distributor and a member may both be called "A" (ids are unique per
	 * entity type): the distributor's shares must not reach member A */
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'store','id':'s1','at':'2026-01-01T00:00:00','name':'Store One','region':'east'}\n"
		  "{'type':'distributor','id':'A','at':'2026-01-01T00:00:00','kind':'mom','store':'s1','recruiter':null}\n"
		  "{'type':'distributor','id':'d2','at':'2026-01-01T00:00:00','kind':'doctor','store':'s1','recruiter':null}\n"
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'B','to':'A'}\n"
		  "{'type':'share','id':'sh1','at':'2026-01-05T00:00:00','distributor':'A'}\n"
		  "{'type':'share','id':'sh2','at':'2026-01-05T00:00:00','distributor':'d2'}\n");
	expect_member(st, "A", "0.00", "0.00", "bronze", "B", "bronze");
	expect_member(st, "B", "0.00", "0.00", "bronze", "", "bronze");
	expect_members_csv(st, "member,lifetime,balance,tier,sharer,effective_tier\n"
			       "A,0.00,0.00,bronze,B,bronze\n"
			       "B,0.00,0.00,bronze,,bronze\n"
			       "C,0.00,0.00,bronze,,bronze\n");
	referral_store_free(st);
}

/* ---- tiers ------------------------------------------------------------- */

/* Inline arrays, not pointers: with pointer fields these cases crashed in
 * the Criterion workers unless ASLR was off (setarch -R), so the strings are
 * carried by value. */
struct tier_case {
	char amount[32]; /* one order of this amount: lifetime = amount x 1 */
	char tier[16];
};

ParameterizedTestParameters(points, tier_boundaries)
{
	/* reference tiers: bronze 0, silver 2000, gold 10000, platinum 30000,
	 * diamond 80000; a tier holds from exactly its min_points */
	static struct tier_case rows[] = {
		{"0.01", "bronze"},
		{"1999.99", "bronze"},
		{"2000.00", "silver"},
		{"2000.01", "silver"},
		{"9999.99", "silver"},
		{"10000", "gold"},
		{"29999.99", "gold"},
		{"30000.00", "platinum"},
		{"79999.99", "platinum"},
		{"80000.00", "diamond"},
		{"1000000000000.00", "diamond"},
	};
	return cr_make_param_array(struct tier_case, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct tier_case *c, points, tier_boundaries)
{
	referral_store *st = new_store();
	char line[256];

	snprintf(line, sizeof line,
		 "{'type':'member','id':'m1','at':'2026-01-01T00:00:00','distributor':null}\n"
		 "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'m1','amount':'%s'}\n",
		 c->amount);
	ingest_ok(st, line);
	referral_member_info m;
	cr_assert_eq(referral_member_get(st, "m1", &m), REFERRAL_OK, "%s", referral_errmsg(st));
	cr_expect_str_eq(m.tier, c->tier, "lifetime %s: tier %s, want %s", m.lifetime, m.tier,
			 c->tier);
	cr_expect_str_eq(m.effective_tier, c->tier);
	referral_store_free(st);
}

Test(points, tier_reached_through_bonus_and_lost_through_refund)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'A','amount':'1999.75'}\n");
	expect_member(st, "A", "1999.75", "1999.75", "bronze", "", "bronze");
	/* B orders 1.00: A 1999.75 + 0.25 x 1 = 2000.00, silver exactly */
	ingest_ok(st, "{'type':'order','id':'o2','at':'2026-01-11T12:00:00','member':'B','amount':'1.00'}\n");
	expect_member(st, "A", "2000.00", "2000.00", "silver", "", "silver");
	/* B enjoys her sharer's silver */
	expect_member(st, "B", "1.00", "1.00", "bronze", "A", "silver");
	/* refund 0.04 of o2: A 2000 - 0.25 x 0.04 = 1999.99, bronze again */
	ingest_ok(st, "{'type':'refund','id':'f1','at':'2026-01-12T12:00:00','order':'o2','amount':'0.04'}\n");
	expect_member(st, "A", "1999.99", "1999.99", "bronze", "", "bronze");
	expect_member(st, "B", "0.96", "0.96", "bronze", "A", "bronze");
	referral_store_free(st);
}

Test(points, effective_tier_follows_sharer_own_tier)
{
	referral_store *st = new_store();

	/* A shares with B, B shares with C */
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'share_benefits','id':'sb2','at':'2026-01-02T00:00:00','from':'B','to':'C'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'A','amount':'80000.00'}\n"
		  "{'type':'order','id':'o2','at':'2026-01-11T12:00:00','member':'B','amount':'2000.00'}\n"
		  "{'type':'order','id':'o3','at':'2026-01-12T12:00:00','member':'C','amount':'100.00'}\n");
	/* A: 80000 + 0.25 x 2000 (B's o2) = 80500 -> diamond
	 * B: 2000 + 0.25 x 100 (C's o3) = 2025 -> own silver; effective = better
	 *    of silver and A's own diamond = diamond
	 * C: 100 -> own bronze; effective = better of bronze and B's OWN tier
	 *    (silver) = silver, not B's effective diamond */
	expect_member(st, "A", "80500.00", "80500.00", "diamond", "", "diamond");
	expect_member(st, "B", "2025.00", "2025.00", "silver", "A", "diamond");
	expect_member(st, "C", "100.00", "100.00", "bronze", "B", "silver");
	referral_store_free(st);
}

Test(points, effective_tier_keeps_own_when_better)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'10000.00'}\n");
	/* B 10000 -> gold; A 0.25 x 10000 = 2500 -> silver; B keeps gold */
	expect_member(st, "B", "10000.00", "10000.00", "gold", "A", "gold");
	expect_member(st, "A", "2500.00", "2500.00", "silver", "", "silver");
	referral_store_free(st);
}

/* ---- redeems ------------------------------------------------------------ */

Test(points, redeem_reduces_balance_not_lifetime)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'A','amount':'2500.00'}\n"
		  "{'type':'redeem','id':'r1','at':'2026-01-11T12:00:00','member':'A','points':'1000'}\n");
	/* lifetime 2500 (silver by lifetime), balance 2500 - 1000 = 1500 */
	expect_member(st, "A", "2500.00", "1500.00", "silver", "", "silver");
	/* redeeming exactly the balance leaves 0.00 */
	ingest_ok(st, "{'type':'redeem','id':'r2','at':'2026-01-12T12:00:00','member':'A','points':'1500.00'}\n");
	expect_member(st, "A", "2500.00", "0.00", "silver", "", "silver");
	referral_store_free(st);
}

Test(points, redeem_at_the_same_instant_as_the_order_counts_it)
{
	referral_store *st = new_store();

	/* "with at <= the redeem's": the order at the same instant counts */
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'A','amount':'100.00'}\n"
		  "{'type':'redeem','id':'r1','at':'2026-01-10T12:00:00','member':'A','points':'100'}\n");
	expect_points(st, "A", "100.00", "0.00");
	referral_store_free(st);
}

Test(points, redeem_over_balance_rejected_nothing_stored)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'A','amount':'1000.00'}\n"
		  "{'type':'redeem','id':'r1','at':'2026-01-11T12:00:00','member':'A','points':'300'}\n");
	char *before = export_members(st, "csv");
	/* balance 1000 - 300 = 700; 700.01 is one hundredth too many. Line 1 is
	 * good and must not be stored either (the batch is atomic). */
	int rc = ingest(st, "{'type':'order','id':'o2','at':'2026-01-12T12:00:00','member':'C','amount':'50.00'}\n"
			    "{'type':'redeem','id':'r2','at':'2026-01-12T12:00:00','member':'A','points':'700.01'}\n");
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d", rc);
	cr_expect(strstr(last_errors, "points.jsonl:2:") != NULL, "errors: %s", last_errors);
	cr_expect(strstr(last_errors, "points.jsonl:1:") == NULL, "line 1 was good: %s", last_errors);
	cr_expect(strstr(last_errors, "700.01") != NULL, "message does not show the points: %s",
		  last_errors);
	cr_expect(strstr(last_errors, "700.00") != NULL, "message does not show the balance: %s",
		  last_errors);
	cr_expect(strstr(last_errors, "\"A\"") != NULL, "message does not name member A: %s",
		  last_errors);
	char *after = export_members(st, "csv");
	cr_expect_str_eq(after, before, "something was stored");
	expect_points(st, "A", "1000.00", "700.00");
	expect_points(st, "C", "0.00", "0.00");
	/* the same two lines with 700 go through */
	ingest_ok(st, "{'type':'order','id':'o2','at':'2026-01-12T12:00:00','member':'C','amount':'50.00'}\n"
		      "{'type':'redeem','id':'r2','at':'2026-01-12T12:00:00','member':'A','points':'700'}\n");
	expect_points(st, "A", "1000.00", "0.00");
	expect_points(st, "C", "50.00", "50.00");
	free(before);
	free(after);
	referral_store_free(st);
}

Test(points, redeem_counts_only_points_earned_by_its_instant)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'A','amount':'100.00'}\n");
	/* dated before the order: the balance at 2026-01-09 is 0 */
	int rc = ingest(st, "{'type':'redeem','id':'r1','at':'2026-01-09T12:00:00','member':'A','points':'1'}\n");
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d", rc);
	cr_expect(strstr(last_errors, "points.jsonl:1:") != NULL, "errors: %s", last_errors);
	cr_expect(strstr(last_errors, "0.00") != NULL, "message does not show balance 0.00: %s",
		  last_errors);
	expect_points(st, "A", "100.00", "100.00");
	referral_store_free(st);
}

Test(points, redeem_of_zero_points_rejected)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'A','amount':'100.00'}\n");
	int rc = ingest(st, "{'type':'redeem','id':'r1','at':'2026-01-11T12:00:00','member':'A','points':'0.00'}\n");
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d", rc);
	cr_expect(strstr(last_errors, "points") != NULL, "message does not name points: %s",
		  last_errors);
	expect_points(st, "A", "100.00", "100.00");
	referral_store_free(st);
}

Test(points, redeem_may_spend_bonus_points_from_a_sharee)
{
	referral_store *st = new_store();

	/* A has no order of her own; her 250 are the bonus on B's 1000 */
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'1000.00'}\n");
	/* 250.01 > 250: rejected */
	int rc = ingest(st, "{'type':'redeem','id':'r1','at':'2026-01-11T12:00:00','member':'A','points':'250.01'}\n");
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d: %s", rc, last_errors);
	cr_expect(strstr(last_errors, "250.00") != NULL, "message does not show balance 250.00: %s",
		  last_errors);
	/* 250 = the balance: allowed; A lifetime 250, balance 0 */
	ingest_ok(st, "{'type':'redeem','id':'r1','at':'2026-01-11T12:00:00','member':'A','points':'250'}\n");
	expect_member(st, "A", "250.00", "0.00", "bronze", "", "bronze");
	/* B's own points are untouched by A's redeem */
	expect_points(st, "B", "1000.00", "1000.00");
	referral_store_free(st);
}

Test(points, redeem_sees_bonus_net_of_sharee_refund)
{
	referral_store *st = new_store();

	/* A's bonus: 0.25 x 1000 = 250 on the 10th, less 0.25 x 400 = 100 on
	 * the 12th -> 150 */
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'1000.00'}\n"
		  "{'type':'refund','id':'f1','at':'2026-01-12T12:00:00','order':'o1','amount':'400.00'}\n");
	int rc = ingest(st, "{'type':'redeem','id':'r1','at':'2026-01-13T00:00:00','member':'A','points':'150.01'}\n");
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d: %s", rc, last_errors);
	cr_expect(strstr(last_errors, "150.00") != NULL, "message does not show balance 150.00: %s",
		  last_errors);
	ingest_ok(st, "{'type':'redeem','id':'r1','at':'2026-01-13T00:00:00','member':'A','points':'150'}\n");
	expect_points(st, "A", "150.00", "0.00");
	/* a sharing dated after B's order earns no bonus, so it cannot be spent:
	 * C shares with D from the 20th, D ordered on the 15th */
	ingest_ok(st, MEMBER_D
		  "{'type':'order','id':'o2','at':'2026-01-15T00:00:00','member':'D','amount':'100.00'}\n"
		  "{'type':'share_benefits','id':'sb2','at':'2026-01-20T00:00:00','from':'C','to':'D'}\n");
	rc = ingest(st, "{'type':'redeem','id':'r2','at':'2026-01-21T00:00:00','member':'C','points':'25'}\n");
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d: %s", rc, last_errors);
	expect_points(st, "C", "0.00", "0.00");
	referral_store_free(st);
}

Test(points, redeem_in_one_batch_with_the_points_it_spends)
{
	referral_store *st = new_store();

	/* sharing, sharee's order and the sharer's redeem all in one batch:
	 * A 0.25 x 400 = 100, redeems 100 -> balance 0 */
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'B','amount':'400.00'}\n"
		  "{'type':'redeem','id':'r1','at':'2026-01-10T13:00:00','member':'A','points':'100'}\n");
	expect_member(st, "A", "100.00", "0.00", "bronze", "", "bronze");
	referral_store_free(st);
}

Test(points, redeem_before_the_line_of_its_points_rejected)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC);
	/* "computed from the events ingested so far": on line 1 the order of
	 * line 2 (dated earlier) is not ingested yet, so the balance is 0 */
	int rc = ingest(st, "{'type':'redeem','id':'r1','at':'2026-01-11T12:00:00','member':'A','points':'10'}\n"
			    "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'A','amount':'100.00'}\n");
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d", rc);
	cr_expect(strstr(last_errors, "points.jsonl:1:") != NULL, "errors: %s", last_errors);
	cr_expect(strstr(last_errors, "points.jsonl:2:") == NULL, "line 2 is good: %s", last_errors);
	expect_points(st, "A", "0.00", "0.00");
	referral_store_free(st);
}

struct bad_points {
	char json[24]; /* the JSON text of the points field */
};

ParameterizedTestParameters(points, redeem_bad_points_rejected)
{
	/* redeems are of more than 0 points, given as "^[0-9]+(\.[0-9]+)?$" strings */
	static struct bad_points rows[] = {
		{"'0'"}, {"'0.00'"}, {"5"}, {"'-1'"}, {"'1e2'"}, {"''"}, {"' 5'"}, {"'+5'"},
		{"null"},
	};
	return cr_make_param_array(struct bad_points, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct bad_points *c, points, redeem_bad_points_rejected)
{
	referral_store *st = new_store();
	char line[256];

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'A','amount':'100.00'}\n");
	snprintf(line, sizeof line,
		 "{'type':'redeem','id':'r1','at':'2026-01-11T12:00:00','member':'A','points':%s}\n",
		 c->json);
	int rc = ingest(st, line);
	cr_expect_eq(rc, REFERRAL_EINPUT, "points %s: rc %d", c->json, rc);
	cr_expect(strstr(last_errors, "points.jsonl:1:") != NULL, "points %s: errors: %s", c->json,
		  last_errors);
	cr_expect(strstr(last_errors, "points") != NULL && strstr(last_errors, "r1") != NULL,
		  "points %s: message does not name the field and redeem: %s", c->json, last_errors);
	expect_points(st, "A", "100.00", "100.00");
	referral_store_free(st);
}

Test(points, late_refund_after_redeem_leaves_negative_balance)
{
	referral_store *st = new_store();

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'A','amount':'100.00'}\n"
		  "{'type':'redeem','id':'r1','at':'2026-01-11T12:00:00','member':'A','points':'100'}\n");
	expect_points(st, "A", "100.00", "0.00");
	ingest_ok(st, "{'type':'refund','id':'f1','at':'2026-01-12T12:00:00','order':'o1','amount':'100.00'}\n");
	/* lifetime 100 - 100 = 0; balance 0 - 100 redeemed = -100 */
	expect_member(st, "A", "0.00", "-100.00", "bronze", "", "bronze");
	expect_members_csv(st, "member,lifetime,balance,tier,sharer,effective_tier\n"
			       "A,0.00,-100.00,bronze,,bronze\n"
			       "B,0.00,0.00,bronze,,bronze\n"
			       "C,0.00,0.00,bronze,,bronze\n");
	/* with a negative balance no redeem goes through */
	int rc = ingest(st, "{'type':'redeem','id':'r2','at':'2026-01-13T12:00:00','member':'A','points':'0.01'}\n");
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d", rc);
	cr_expect(strstr(last_errors, "-100.00") != NULL, "message does not show -100.00: %s",
		  last_errors);
	referral_store_free(st);
}

/* ---- plan versions ------------------------------------------------------ */

Test(points, refund_takes_back_at_the_order_plan_rates)
{
	referral_store *st = new_store();
	/* v2 from 2026-02: per_yuan 2; v3 from 2026-03: per_yuan 3, per_share 7,
	 * share_bonus_rate 0.5 */
	char *v2 = plan_with("\"per_yuan\": \"1\"", "\"per_yuan\": \"2\"", NULL, NULL);
	char *v3a = plan_with("\"per_yuan\": \"1\"", "\"per_yuan\": \"3\"", "\"per_share\": \"5\"",
			      "\"per_share\": \"7\"");
	int rc = referral_plan_add(st, v2, "2026-02");
	cr_assert_eq(rc, REFERRAL_OK, "plan_add v2: %s", referral_errmsg(st));
	/* v3: also share_bonus_rate 0.5 */
	char *p = strstr(v3a, "\"share_bonus_rate\": \"0.25\"");
	cr_assert_not_null(p, "plan fixture: share_bonus_rate");
	memcpy(p, "\"share_bonus_rate\": \"0.50\"", strlen("\"share_bonus_rate\": \"0.50\""));
	rc = referral_plan_add(st, v3a, "2026-03");
	cr_assert_eq(rc, REFERRAL_OK, "plan_add v3: %s", referral_errmsg(st));
	free(v2);
	free(v3a);

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n"
		  "{'type':'order','id':'o1','at':'2026-01-20T12:00:00','member':'B','amount':'100.00'}\n"
		  "{'type':'order','id':'o2','at':'2026-02-10T12:00:00','member':'B','amount':'100.00'}\n");
	/* o1 (Jan, per_yuan 1): B 100, A 0.25 x 100 = 25
	 * o2 (Feb, per_yuan 2): B 100 x 2 = 200, A 0.25 x 200 = 50
	 * B 300, A 75 */
	expect_points(st, "B", "300.00", "300.00");
	expect_points(st, "A", "75.00", "75.00");

	/* in March (per_yuan 3, bonus 0.5) refunds take back at their order's rates:
	 * f1 40.00 of o1: B -40 x 1 = -40, A -0.25 x 40 = -10
	 * f2 30.00 of o2: B -30 x 2 = -60, A -0.25 x 60 = -15
	 * and a share by B in March earns v3's per_share 7, A 0.5 x 7 = 3.5
	 * B 300 - 40 - 60 + 7 = 207; A 75 - 10 - 15 + 3.5 = 53.5 */
	ingest_ok(st, "{'type':'refund','id':'f1','at':'2026-03-05T12:00:00','order':'o1','amount':'40.00'}\n"
		      "{'type':'refund','id':'f2','at':'2026-03-05T13:00:00','order':'o2','amount':'30.00'}\n"
		      "{'type':'share','id':'sh1','at':'2026-03-06T00:00:00','member':'B'}\n");
	expect_points(st, "B", "207.00", "207.00");
	expect_points(st, "A", "53.50", "53.50");
	referral_store_free(st);
}

Test(points, plan_period_follows_local_month)
{
	referral_store *st = new_store();
	char *v2 = plan_with("\"per_yuan\": \"1\"", "\"per_yuan\": \"2\"", NULL, NULL);
	int rc = referral_plan_add(st, v2, "2026-02");
	cr_assert_eq(rc, REFERRAL_OK, "plan_add: %s", referral_errmsg(st));
	free(v2);

	/* A: 23:59:59 on Jan 31 local is January (x1): 10
	 * B: 00:00 on Feb 1 local is February (x2): 10 x 2 = 20
	 * C: 16:00Z on Jan 31 = 00:00+08:00 on Feb 1, February (x2): 20 */
	ingest_ok(st, MEMBERS_ABC
		  "{'type':'order','id':'o1','at':'2026-01-31T23:59:59','member':'A','amount':'10.00'}\n"
		  "{'type':'order','id':'o2','at':'2026-02-01T00:00:00','member':'B','amount':'10.00'}\n"
		  "{'type':'order','id':'o3','at':'2026-01-31T16:00:00Z','member':'C','amount':'10.00'}\n");
	expect_points(st, "A", "10.00", "10.00");
	expect_points(st, "B", "20.00", "20.00");
	expect_points(st, "C", "20.00", "20.00");
	referral_store_free(st);
}

Test(points, late_order_earns_at_its_booking_period_plan)
{
	referral_store *st = new_store();
	/* v2 from 2026-02: per_yuan 2 and silver from 100 points */
	char *v2 = plan_with("\"per_yuan\": \"1\"", "\"per_yuan\": \"2\"",
			     "{\"name\": \"silver\", \"min_points\": \"2000\"}",
			     "{\"name\": \"silver\", \"min_points\": \"100\"}");
	int rc = referral_plan_add(st, v2, "2026-02");
	cr_assert_eq(rc, REFERRAL_OK, "plan_add: %s", referral_errmsg(st));
	free(v2);

	ingest_ok(st, MEMBERS_ABC
		  "{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'A','amount':'150.00'}\n");
	/* Jan open: per_yuan 1 -> 150; tiers of the plan for the earliest open
	 * period (Jan, v1): 150 < 2000 -> bronze */
	expect_member(st, "A", "150.00", "150.00", "bronze", "", "bronze");

	rc = referral_close(st, "2026-01");
	cr_assert_eq(rc, REFERRAL_OK, "close: %s", referral_errmsg(st));
	/* Feb is now the earliest open period: v2 tiers, 150 >= 100 -> silver */
	expect_member(st, "A", "150.00", "150.00", "silver", "", "silver");

	/* an order dated in closed January is booked in February: per_yuan 2,
	 * B 30 x 2 = 60 -> bronze under v2 (60 < 100) */
	ingest_ok(st, "{'type':'order','id':'o2','at':'2026-01-25T12:00:00','member':'B','amount':'30.00'}\n");
	expect_member(st, "B", "60.00", "60.00", "bronze", "", "bronze");
	/* its refund takes back at the order's per_yuan 2: 60 - 10 x 2 = 40 */
	ingest_ok(st, "{'type':'refund','id':'f1','at':'2026-02-03T12:00:00','order':'o2','amount':'10.00'}\n");
	expect_points(st, "B", "40.00", "40.00");
	/* a refund of January's o1 booked in February still takes back at 1:
	 * 150 - 50 x 1 = 100, silver under v2 */
	ingest_ok(st, "{'type':'refund','id':'f2','at':'2026-02-04T12:00:00','order':'o1','amount':'50.00'}\n");
	expect_member(st, "A", "100.00", "100.00", "silver", "", "silver");
	referral_store_free(st);
}

/* ---- members export ------------------------------------------------------ */

/*
 * Members Zed, a, m-1, m10, m2 (bytewise order: 'Z' 0x5A < 'a' 0x61 <
 * "m-" ('-' 0x2D) < "m1" < "m2"), with:
 *   m2 shares with m10; Zed shares with a.
 *   m10: order 1000.00, member share, refund 400.00 -> 1000 + 5 - 400 = 605
 *   m2:  0.25 x 1000 + 0.25 x 5 - 0.25 x 400 = 250 + 1.25 - 100 = 151.25,
 *        redeems 50 -> balance 101.25
 *   Zed: order 2000.00 + 0.25 x 0.5 = 2000.125 -> silver
 *   a:   order 0.5 -> 0.50, bronze, effective = Zed's own silver
 *   m-1: nothing -> 0.00
 */
#define EXPORT_EVENTS                                                                                  \
	"{'type':'member','id':'m2','at':'2026-01-01T00:00:00','distributor':null}\n"                 \
	"{'type':'member','id':'m10','at':'2026-01-01T00:00:00','distributor':null}\n"                \
	"{'type':'member','id':'Zed','at':'2026-01-01T00:00:00','distributor':null}\n"                \
	"{'type':'member','id':'a','at':'2026-01-01T00:00:00','distributor':null}\n"                  \
	"{'type':'member','id':'m-1','at':'2026-01-01T00:00:00','distributor':null}\n"                \
	"{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'m2','to':'m10'}\n"    \
	"{'type':'share_benefits','id':'sb2','at':'2026-01-03T00:00:00','from':'Zed','to':'a'}\n"     \
	"{'type':'order','id':'o1','at':'2026-01-10T12:00:00','member':'m10','amount':'1000.00'}\n"   \
	"{'type':'share','id':'sh1','at':'2026-01-11T12:00:00','member':'m10'}\n"                     \
	"{'type':'order','id':'o2','at':'2026-01-12T12:00:00','member':'Zed','amount':'2000.00'}\n"   \
	"{'type':'order','id':'o3','at':'2026-01-13T12:00:00','member':'a','amount':'0.5'}\n"         \
	"{'type':'refund','id':'f1','at':'2026-01-15T12:00:00','order':'o1','amount':'400.00'}\n"     \
	"{'type':'redeem','id':'r1','at':'2026-01-20T12:00:00','member':'m2','points':'50'}\n"

static const char EXPORT_CSV[] =
	"member,lifetime,balance,tier,sharer,effective_tier\n"
	"Zed,2000.125,2000.125,silver,,silver\n"
	"a,0.50,0.50,bronze,Zed,silver\n"
	"m-1,0.00,0.00,bronze,,bronze\n"
	"m10,605.00,605.00,bronze,m2,bronze\n"
	"m2,151.25,101.25,bronze,,bronze\n";

Test(points, members_export_csv_exact)
{
	referral_store *st = new_store();

	ingest_ok(st, EXPORT_EVENTS);
	expect_members_csv(st, EXPORT_CSV);
	/* referral_member_get agrees with the export */
	expect_member(st, "Zed", "2000.125", "2000.125", "silver", "", "silver");
	expect_member(st, "a", "0.50", "0.50", "bronze", "Zed", "silver");
	expect_member(st, "m-1", "0.00", "0.00", "bronze", "", "bronze");
	expect_member(st, "m10", "605.00", "605.00", "bronze", "m2", "bronze");
	expect_member(st, "m2", "151.25", "101.25", "bronze", "", "bronze");
	referral_store_free(st);
}

Test(points, members_export_json)
{
	referral_store *st = new_store();
	static const char *keys[] = {"member", "lifetime", "balance", "tier", "sharer",
				     "effective_tier"};
	/* the rows of EXPORT_CSV; NULL = JSON null (empty sharer) */
	static const char *want[5][6] = {
		{"Zed", "2000.125", "2000.125", "silver", NULL, "silver"},
		{"a", "0.50", "0.50", "bronze", "Zed", "silver"},
		{"m-1", "0.00", "0.00", "bronze", NULL, "bronze"},
		{"m10", "605.00", "605.00", "bronze", "m2", "bronze"},
		{"m2", "151.25", "101.25", "bronze", NULL, "bronze"},
	};

	ingest_ok(st, EXPORT_EVENTS);
	char *text = export_members(st, "json");
	json_error_t err;
	json_t *root = json_loads(text, 0, &err);
	cr_assert_not_null(root, "not JSON (%s at line %d): %s", err.text, err.line, text);
	cr_assert(json_is_array(root), "not an array: %s", text);
	cr_assert_eq(json_array_size(root), 5, "rows: %s", text);
	for (size_t i = 0; i < 5; i++) {
		json_t *o = json_array_get(root, i);
		cr_assert(json_is_object(o), "row %zu not an object", i);
		cr_expect_eq(json_object_size(o), 6, "row %zu: %zu keys", i, json_object_size(o));
		/* keys in column order */
		void *it = json_object_iter(o);
		for (size_t k = 0; k < 6; k++) {
			cr_assert_not_null(it, "row %zu: missing key %s", i, keys[k]);
			cr_expect_str_eq(json_object_iter_key(it), keys[k], "row %zu key %zu", i, k);
			it = json_object_iter_next(o, it);
		}
		for (size_t k = 0; k < 6; k++) {
			json_t *v = json_object_get(o, keys[k]);
			cr_assert_not_null(v, "row %zu: no %s", i, keys[k]);
			if (!want[i][k]) {
				cr_expect(json_is_null(v), "row %zu %s: want null", i, keys[k]);
			} else {
				cr_assert(json_is_string(v), "row %zu %s: not a string", i, keys[k]);
				cr_expect_str_eq(json_string_value(v), want[i][k], "row %zu %s", i,
						 keys[k]);
			}
		}
	}
	json_decref(root);
	free(text);
	referral_store_free(st);
}

Test(points, members_export_of_empty_store)
{
	referral_store *st = new_store();

	expect_members_csv(st, "member,lifetime,balance,tier,sharer,effective_tier\n");
	char *text = export_members(st, "json");
	json_t *root = json_loads(text, 0, NULL);
	cr_assert_not_null(root, "not JSON: %s", text);
	cr_expect(json_is_array(root) && json_array_size(root) == 0, "want []: %s", text);
	json_decref(root);
	free(text);
	referral_store_free(st);
}

Test(points, members_export_is_deterministic)
{
	const char *path;
	referral_store *st = NULL;
	char *plan = test_reference_plan();

	path = test_db_path();
	cr_assert_eq(referral_store_create(&st, path, plan), REFERRAL_OK, "%s",
		     referral_errmsg(st));
	free(plan);
	ingest_ok(st, EXPORT_EVENTS);
	char *csv1 = export_members(st, "csv"), *csv2 = export_members(st, "csv");
	char *json1 = export_members(st, "json"), *json2 = export_members(st, "json");
	cr_expect_str_eq(csv1, csv2);
	cr_expect_str_eq(json1, json2);
	referral_store_free(st);

	/* and the same bytes from the store reopened */
	st = NULL;
	cr_assert_eq(referral_store_open(&st, path), REFERRAL_OK, "%s", referral_errmsg(st));
	char *csv3 = export_members(st, "csv"), *json3 = export_members(st, "json");
	cr_expect_str_eq(csv3, csv1);
	cr_expect_str_eq(json3, json1);
	cr_expect_str_eq(csv1, EXPORT_CSV);
	/* a period is ignored for members */
	struct sink s = {0};
	cr_assert_eq(referral_export(st, "members", "2026-01", "csv", sink_write, &s), REFERRAL_OK,
		     "%s", referral_errmsg(st));
	cr_expect_str_eq(s.data, EXPORT_CSV);
	free(s.data);
	free(csv1);
	free(csv2);
	free(csv3);
	free(json1);
	free(json2);
	free(json3);
	referral_store_free(st);
}

Test(points, members_rows_cursor_matches_export)
{
	referral_store *st = new_store();
	static const char *cols[] = {"member", "lifetime", "balance", "tier", "sharer",
				     "effective_tier"};

	ingest_ok(st, EXPORT_EVENTS);
	referral_rows *r = NULL;
	int rc = referral_rows_open(st, &r, "members", NULL);
	cr_assert_eq(rc, REFERRAL_OK, "rows_open: %s", referral_errmsg(st));
	cr_assert_eq(referral_rows_columns(r), 6);
	for (int i = 0; i < 6; i++) {
		cr_expect_str_eq(referral_rows_column(r, i), cols[i]);
		cr_expect_eq(referral_rows_column_is_number(r, i), 0, "column %s is text", cols[i]);
	}
	/* rebuild the CSV from the cursor */
	char buf[1024];
	size_t len = 0;
	len += (size_t)snprintf(buf, sizeof buf, "member,lifetime,balance,tier,sharer,effective_tier\n");
	int more;
	while ((more = referral_rows_next(r)) == 1)
		for (int i = 0; i < 6; i++)
			len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%c",
						referral_rows_value(r, i), i < 5 ? ',' : '\n');
	cr_expect_eq(more, 0, "rows_next: %d %s", more, referral_errmsg(st));
	cr_expect_str_eq(buf, EXPORT_CSV);
	referral_rows_free(r);
	referral_store_free(st);
}

Test(points, member_get_of_unknown_member_rejected)
{
	referral_store *st = new_store();
	referral_member_info m;

	ingest_ok(st, MEMBERS_ABC);
	int rc = referral_member_get(st, "nobody", &m);
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d", rc);
	cr_expect(strstr(referral_errmsg(st), "nobody") != NULL, "message: %s",
		  referral_errmsg(st));
	/* a distributor is not a member */
	ingest_ok(st, "{'type':'store','id':'s1','at':'2026-01-01T00:00:00','name':'S','region':'r'}\n"
		      "{'type':'distributor','id':'d1','at':'2026-01-01T00:00:00','kind':'mom','store':'s1','recruiter':null}\n");
	rc = referral_member_get(st, "d1", &m);
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d", rc);
	cr_expect(strstr(referral_errmsg(st), "d1") != NULL, "message: %s", referral_errmsg(st));
	referral_store_free(st);
}

/* A redeem's balance is the same whether the member's orders and shares
 * are read from the log or, once the log has grown by a few thousand
 * events, from the index a redeem's check keeps of them (member_events,
 * on either engine), partly from one and partly from the other. */
Test(points, redeem_balance_is_the_same_across_the_member_index)
{
	char path[600], *plan = test_reference_plan();
	referral_store *st = NULL;
	snprintf(path, sizeof path, "%s", test_db_path());
	cr_assert_eq(referral_store_create(&st, path, plan), REFERRAL_OK, "%s", referral_errmsg(st));
	free(plan);
	const int filler = 4500; /* more than the 4,096 the index may lag by */
	size_t cap = (size_t)filler * 120 + 4096, n;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	n = (size_t)snprintf(text, cap, "%s",
			       MEMBERS_ABC
			       "{'type':'share_benefits','id':'sb1','at':'2026-01-02T00:00:00','from':'A','to':'B'}\n");
	for (int i = 0; i < filler; i++)
		n += (size_t)snprintf(text + n, cap - n,
					"{'type':'order','id':'c%d','at':'2026-01-05T%02d:%02d:%02d',"
					"'member':'C','amount':'1.00'}\n",
					i, i / 3600, i / 60 % 60, i % 60);
	/* A: 100 + 5 (a share) - 40 (refund) + 250 (bonus on B's 1000) by the
	 * 7th = 315; 200 more on the 8th */
	snprintf(text + n, cap - n, "%s",
		 "{'type':'order','id':'oa1','at':'2026-01-06T00:00:00','member':'A','amount':'100.00'}\n"
		 "{'type':'share','id':'sa1','at':'2026-01-06T01:00:00','member':'A'}\n"
		 "{'type':'order','id':'ob1','at':'2026-01-06T02:00:00','member':'B','amount':'1000.00'}\n"
		 "{'type':'refund','id':'fa1','at':'2026-01-07T00:00:00','order':'oa1','amount':'40.00'}\n"
		 "{'type':'order','id':'oa2','at':'2026-01-08T00:00:00','member':'A','amount':'200.00'}\n");
	ingest_ok(st, text);
	free(text);

	int rc = ingest(st, "{'type':'redeem','id':'r1','at':'2026-01-07T12:00:00','member':'A','points':'315.01'}\n");
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d: %s", rc, last_errors);
	cr_expect(strstr(last_errors, "315.00") != NULL, "message does not show balance 315.00: %s",
		  last_errors);
	ingest_ok(st, "{'type':'redeem','id':'r1','at':'2026-01-07T12:00:00','member':'A','points':'315'}\n");
	/* the orders and the member share are in the index now */
	cr_expect_eq(test_store_int(path, "SELECT count(*) FROM member_events"), filler + 4);
	/* one more order after the index: 515 - 315 + 50 = 250 left on the 11th */
	ingest_ok(st, "{'type':'order','id':'oa3','at':'2026-01-10T00:00:00','member':'A','amount':'50.00'}\n");
	rc = ingest(st, "{'type':'redeem','id':'r2','at':'2026-01-11T00:00:00','member':'A','points':'250.01'}\n");
	cr_expect_eq(rc, REFERRAL_EINPUT, "rc %d: %s", rc, last_errors);
	cr_expect(strstr(last_errors, "250.00") != NULL, "message does not show balance 250.00: %s",
		  last_errors);
	ingest_ok(st, "{'type':'redeem','id':'r2','at':'2026-01-11T00:00:00','member':'A','points':'250'}\n");
	/* lifetime 100 + 5 + 250 - 40 + 200 + 50 = 565 */
	expect_points(st, "A", "565.00", "0.00");
	expect_points(st, "C", "4500.00", "4500.00");
	referral_store_free(st);
}
