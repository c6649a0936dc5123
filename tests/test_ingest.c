/*
 * test_ingest.c — ingestion through the public C API (SPEC §3 and §4).
 *
 * Every test works on a store of its own at test_db_path(), made with the
 * reference plan (utc_offset +08:00, start_period 2026-01, per_yuan 1,
 * per_share 5, share_bonus_rate 0.25, commission_window_months 36) and, for
 * most tests, holding the WORLD batch below (a copy of a template built
 * once per run: see world()). Each rejection rule is a row of a table: a
 * batch of
 *     line 1  a good store "sb"
 *     line 2  a blank line
 *     line 3  a good line (a store "sc", or a row's own setup line)
 *     line 4  the bad line
 * whose commit must fail, whose only recorded error must be exactly
 * "bad.jsonl:4: ..." naming the culprit, and which must leave the event
 * log as WORLD left it (counted with sqlite3 on the file, and checked by
 * ingesting line 1 again: it must be new, not a duplicate).
 *
 * JSON lines are written with ' for " to stay readable; dq() swaps them.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/parameterized.h>

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idcache.h"
#include "referral/referral.h"
#include "support.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* 2026-01 and 2026-02 as stored in events.booked: year*12 + (month-1). */
#define P2026_01 (2026 * 12 + 0)
#define P2026_02 (2026 * 12 + 1)
#define P2026_03 (2026 * 12 + 2)

/* ---- the world most tests start from ------------------------------------ */

/*
 * Who is where (all times +08:00):
 *   s1, s2     stores from 01-01 08:00
 *   R1         mom at s1 from 01-02 09:00, no recruiter
 *   D1         doctor at s1 from 01-03 09:00, recruited by R1
 *   D2         practitioner at s2 from 01-03 09:00, recruited by R1,
 *              terminated 01-20 00:00 (t2)
 *   m1         bound to D1 from 01-04 09:00 (window to 2029-01-04 09:00)
 *   m2, m3     unbound members from 01-04 09:00
 *   m4         bound to D2 from 01-05 09:00; that binding ends 01-20 00:00
 *   b3         m3 bound to R1 from 03-01 09:00
 *   sb1        m1 is m2's sharer from 01-06 09:00
 *   o1         m1 orders 100.00 at 01-10 12:00: m1 has 100 points
 *              (100.00 x per_yuan 1); m2 has none.
 */
static const char *const WORLD[] = {
	"{'type':'store','id':'s1','at':'2026-01-01T08:00:00+08:00','name':'Store One','region':'east'}",
	"{'type':'store','id':'s2','at':'2026-01-01T08:00:00+08:00','name':'Store Two','region':'west'}",
	"{'type':'distributor','id':'R1','at':'2026-01-02T09:00:00+08:00','kind':'mom','store':'s1','recruiter':null}",
	"{'type':'distributor','id':'D1','at':'2026-01-03T09:00:00+08:00','kind':'doctor','store':'s1','recruiter':'R1'}",
	"{'type':'distributor','id':'D2','at':'2026-01-03T09:00:00+08:00','kind':'practitioner','store':'s2','recruiter':'R1'}",
	"{'type':'member','id':'m1','at':'2026-01-04T09:00:00+08:00','distributor':'D1'}",
	"{'type':'member','id':'m2','at':'2026-01-04T09:00:00+08:00','distributor':null}",
	"{'type':'member','id':'m3','at':'2026-01-04T09:00:00+08:00','distributor':null}",
	"{'type':'member','id':'m4','at':'2026-01-05T09:00:00+08:00','distributor':'D2'}",
	"{'type':'bind','id':'b3','at':'2026-03-01T09:00:00+08:00','member':'m3','distributor':'R1'}",
	"{'type':'terminate','id':'t2','at':'2026-01-20T00:00:00+08:00','distributor':'D2'}",
	"{'type':'share_benefits','id':'sb1','at':'2026-01-06T09:00:00+08:00','from':'m1','to':'m2'}",
	"{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'100.00'}",
	NULL
};
#define WORLD_EVENTS 13L

/* Lines 1 and 3 of a rejection batch when the row brings no setup line. */
#define LINE1 "{'type':'store','id':'sb','at':'2026-01-02T10:00:00+08:00','name':'Batch','region':'x'}"
#define LINE3 "{'type':'store','id':'sc','at':'2026-01-02T10:00:00+08:00','name':'Batch C','region':'x'}"

/* ---- helpers ------------------------------------------------------------- */

static char db_path[512];

/* The JSON text of a line written with ' for ". malloc'd. */
static char *dq(const char *s)
{
	char *out = strdup(s);

	cr_assert_not_null(out);
	for (char *p = out; *p; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

static referral_store *new_store(void)
{
	char *plan = test_reference_plan();
	referral_store *st = NULL;

	snprintf(db_path, sizeof db_path, "%s", test_db_path());
	int rc = referral_store_create(&st, db_path, plan);
	free(plan);
	cr_assert_not_null(st);
	cr_assert_eq(rc, REFERRAL_OK, "create: %s", referral_errmsg(st));
	return st;
}

/* What one batch did. */
struct run {
	int rc;               /* of commit */
	int add_rc[64];       /* of each add, by position */
	long ingested, duplicates, nerrors;
	char err[8][600];     /* the first recorded errors */
	char errmsg[600];     /* referral_errmsg() after commit */
};

/* Opens a batch named `src`, adds lines (NULL-terminated, ' for ") as
 * lines 1, 2, ..., commits and frees it. */
static struct run run_lines(referral_store *st, const char *src, const char *const *lines)
{
	static struct run r;
	referral_batch *b = NULL;

	memset(&r, 0, sizeof r);
	cr_assert_eq(referral_batch_begin(st, &b, src), REFERRAL_OK, "begin: %s",
		     referral_errmsg(st));
	for (int i = 0; lines[i]; i++) {
		char *j = dq(lines[i]);
		int rc = referral_batch_add_json(b, j, strlen(j), i + 1);
		if (i < (int)ARRAY_SIZE(r.add_rc))
			r.add_rc[i] = rc;
		free(j);
	}
	r.rc = referral_batch_commit(b);
	snprintf(r.errmsg, sizeof r.errmsg, "%s", referral_errmsg(st));
	r.ingested = referral_batch_ingested(b);
	r.duplicates = referral_batch_duplicates(b);
	r.nerrors = referral_batch_error_count(b);
	for (long i = 0; i < r.nerrors && i < (long)ARRAY_SIZE(r.err); i++) {
		const char *e = referral_batch_error(b, i);
		snprintf(r.err[i], sizeof r.err[i], "%s", e ? e : "(NULL)");
	}
	referral_batch_free(b);
	return r;
}

/* One line as a batch of its own. */
static struct run run_one(referral_store *st, const char *line)
{
	const char *lines[] = {line, NULL};
	return run_lines(st, "one.jsonl", lines);
}

/* Copies a file; 0 on success. */
static int copy_file(const char *from, const char *to)
{
	char *data = NULL;
	FILE *in = fopen(from, "rb"), *out = NULL;
	int rc = -1;
	long n;

	if (!in)
		return -1;
	if (fseek(in, 0, SEEK_END) == 0 && (n = ftell(in)) > 0 && fseek(in, 0, SEEK_SET) == 0 &&
	    (data = malloc((size_t)n)) && fread(data, 1, (size_t)n, in) == (size_t)n &&
	    (out = fopen(to, "wb")) && fwrite(data, 1, (size_t)n, out) == (size_t)n)
		rc = 0;
	if (out && fclose(out))
		rc = -1;
	fclose(in);
	free(data);
	return rc;
}

/*
 * The store after WORLD. Creating a store costs tens of milliseconds of
 * fsync here, so the first test of a run builds it once (checking every
 * line went in) as a template next to the runner's pid, and every test
 * opens a fresh copy of it at test_db_path(). The runner removes the
 * template when all tests are done (the POST_ALL hook below).
 */
static void template_path(char *buf, size_t cap, int runner)
{
	snprintf(buf, cap, "/tmp/referral-test-ingest-world-%d.db", runner);
}

static referral_store *world(void)
{
	char tpl[300], tmp[340];
	referral_store *st = NULL;

	if (test_pg()) { /* a brand is no file to copy: WORLD is ingested anew */
		st = new_store();
		struct run r = run_lines(st, "world.jsonl", WORLD);
		cr_assert_eq(r.rc, REFERRAL_OK, "world: %s / %s", r.errmsg, r.err[0]);
		return st;
	}
	template_path(tpl, sizeof tpl, (int)getppid());
	if (access(tpl, R_OK) != 0) {
		st = new_store();
		struct run r = run_lines(st, "world.jsonl", WORLD);
		cr_assert_eq(r.rc, REFERRAL_OK, "world: %s / %s", r.errmsg, r.err[0]);
		cr_assert_eq(r.ingested, WORLD_EVENTS);
		cr_assert_eq(r.duplicates, 0);
		referral_store_free(st);
		/* built aside and renamed: a racing test sees all of it or none */
		snprintf(tmp, sizeof tmp, "%s.%d", tpl, (int)getpid());
		cr_assert_eq(copy_file(db_path, tmp), 0, "cannot write %s", tmp);
		cr_assert_eq(rename(tmp, tpl), 0, "cannot rename %s", tmp);
	}
	snprintf(db_path, sizeof db_path, "%s", test_db_path());
	cr_assert_eq(copy_file(tpl, db_path), 0, "cannot copy %s", tpl);
	int rc = referral_store_open(&st, db_path);
	cr_assert_eq(rc, REFERRAL_OK, "open: %s", referral_errmsg(st));
	return st;
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	char tpl[300];

	(void)stats;
	template_path(tpl, sizeof tpl, (int)getpid());
	remove(tpl);
}

/* A single integer from the store, through a connection of our own. */
static long long sql_int(const char *sql)
{
	return test_store_int(db_path, sql);
}

static long long count_events(void)
{
	return sql_int("SELECT count(*) FROM events");
}

/* The booking period of the event (type, id) as stored. */
static long long booked(int type, const char *id)
{
	char sql[200];
	snprintf(sql, sizeof sql, "SELECT booked FROM events WHERE type = %d AND id = '%s'", type, id);
	return sql_int(sql);
}

/* `err` starts with exactly "PREFIX" and has a message after it. */
static void assert_prefix(const char *err, const char *prefix, const char *what)
{
	size_t n = strlen(prefix);
	cr_assert_not_null(err, "%s: no error recorded", what);
	cr_assert(strncmp(err, prefix, n) == 0, "%s: error \"%s\" does not start with \"%s\"", what,
		  err, prefix);
	cr_assert(strlen(err) > n, "%s: empty message in \"%s\"", what, err);
}

static void assert_has(const char *err, const char *needle, const char *what)
{
	cr_assert_not_null(err, "%s: no error recorded", what);
	if (needle && needle[0])
		cr_assert(strstr(err, needle) != NULL, "%s: error \"%s\" does not name \"%s\"", what,
			  err, needle);
}

/* Nothing of a rejected batch whose first line was LINE1 was stored. */
static void assert_nothing_stored(referral_store *st, long long before, const char *what)
{
	cr_assert_eq(count_events(), before, "%s: the rejected batch stored events", what);
	struct run again = run_one(st, LINE1);
	cr_assert_eq(again.rc, REFERRAL_OK, "%s: %s", what, again.err[0]);
	cr_assert_eq(again.ingested, 1, "%s: line 1 of the rejected batch was kept", what);
	cr_assert_eq(again.duplicates, 0, "%s: line 1 of the rejected batch was kept", what);
}

/* ---- 1. every rejection rule --------------------------------------------- */

struct reject_row {
	char name[48];
	char pre[200];     /* line 3 ("" = LINE3) */
	char bad[240];     /* line 4 */
	int status;        /* REFERRAL_EINPUT unless stated */
	char culprit[40];  /* the error must contain both */
	char culprit2[40];
};

#define ORDER9(amount) \
	"{'type':'order','id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':" amount "}"
#define REFUND9(amount) \
	"{'type':'refund','id':'f9','at':'2026-01-11T10:00:00+08:00','order':'o1','amount':" amount "}"
#define REDEEM9(points) \
	"{'type':'redeem','id':'r9','at':'2026-01-11T10:00:00+08:00','member':'m1','points':" points "}"
#define RATING9(rating) \
	"{'type':'store_rating','id':'sr9','at':'2026-01-11T10:00:00+08:00','store':'s1','rating':" rating "}"
#define KIND9(kind) \
	"{'type':'distributor','id':'D9','at':'2026-01-11T10:00:00+08:00','kind':" kind ",'store':'s1','recruiter':null}"
#define AT9(at) "{'type':'order','id':'o9','at':" at ",'member':'m1','amount':'10.00'}"
#define NAME9(name) \
	"{'type':'store','id':'s9','at':'2026-01-11T10:00:00+08:00','name':" name ",'region':'x'}"

ParameterizedTestParameters(reject, rule)
{
	static struct reject_row rows[] = {
		/* money (SPEC §2): the field and its value or event are named */
		{"money as a JSON number", "", ORDER9("100"), 0, "amount", "o9"},
		{"money as a JSON fraction", "", ORDER9("10.5"), 0, "amount", "o9"},
		{"money with +", "", ORDER9("'+10.00'"), 0, "amount", "+10.00"},
		{"money with -", "", ORDER9("'-10.00'"), 0, "amount", "-10.00"},
		{"money with exponent", "", ORDER9("'1e2'"), 0, "amount", "1e2"},
		{"money with exponent 2", "", ORDER9("'1.5E1'"), 0, "amount", "1.5E1"},
		{"money third decimal", "", ORDER9("'10.001'"), 0, "amount", "10.001"},
		{"money third decimal 0", "", ORDER9("'10.000'"), 0, "amount", "10.000"},
		{"money leading space", "", ORDER9("' 10.00'"), 0, "amount", "o9"},
		{"money trailing space", "", ORDER9("'10.00 '"), 0, "amount", "o9"},
		{"money inner space", "", ORDER9("'10 000'"), 0, "amount", "o9"},
		{"money empty string", "", ORDER9("''"), 0, "amount", "o9"},
		{"money no integer part", "", ORDER9("'.50'"), 0, "amount", ".50"},
		{"money no fraction digits", "", ORDER9("'10.'"), 0, "amount", "o9"},
		{"money decimal comma", "", ORDER9("'10,50'"), 0, "amount", "10,50"},
		{"money currency sign", "", ORDER9("'¥10'"), 0, "amount", "o9"},
		{"money 31 digits", "", ORDER9("'1234567890123456789012345678901'"), 0, "amount", "o9"},
		{"money 30+1 digits", "", ORDER9("'123456789012345678901234567890.5'"), 0, "amount", "o9"},
		{"money 31 digits, leading zero", "", ORDER9("'0123456789012345678901234567890'"), 0, "amount", "o9"},
		{"money null", "", ORDER9("null"), 0, "amount", "o9"},
		{"money boolean", "", ORDER9("true"), 0, "amount", "o9"},
		{"order amount 0", "", ORDER9("'0'"), 0, "amount", "o9"},
		{"order amount 0.00", "", ORDER9("'0.00'"), 0, "amount", "o9"},
		{"refund amount 0", "", REFUND9("'0'"), 0, "amount", "f9"},
		{"refund amount 0.00", "", REFUND9("'0.00'"), 0, "amount", "f9"},
		{"refund JSON number", "", REFUND9("5"), 0, "amount", "f9"},
		{"refund third decimal", "", REFUND9("'0.005'"), 0, "amount", "0.005"},
		{"refund with -", "", REFUND9("'-1.00'"), 0, "amount", "-1.00"},

		/* type */
		{"unknown type", "", "{'type':'purchase','id':'p9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "purchase", ""},
		{"type in capitals", "", "{'type':'ORDER','id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "ORDER", ""},
		{"missing type", "", "{'id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "type", ""},
		{"type null", "", "{'type':null,'id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "type", ""},
		{"type a number", "", "{'type':9,'id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "type", ""},
		{"not an object", "", "['order','o9']", 0, "object", ""},
		{"not JSON", "", "type=order id=o9", 0, "JSON", ""},
		{"truncated JSON", "", "{'type':'order','id':'o9'", 0, "JSON", ""},

		/* missing fields */
		{"order without amount", "", "{'type':'order','id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m1'}", 0, "amount", "o9"},
		{"order without member", "", "{'type':'order','id':'o9','at':'2026-01-11T10:00:00+08:00','amount':'1.00'}", 0, "member", "o9"},
		{"order without id", "", "{'type':'order','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "id", "order"},
		{"order without at", "", "{'type':'order','id':'o9','member':'m1','amount':'1.00'}", 0, "at", "o9"},
		{"store without name", "", "{'type':'store','id':'s9','at':'2026-01-11T10:00:00+08:00','region':'x'}", 0, "name", "s9"},
		{"store without region", "", "{'type':'store','id':'s9','at':'2026-01-11T10:00:00+08:00','name':'x'}", 0, "region", "s9"},
		{"distributor without kind", "", "{'type':'distributor','id':'D9','at':'2026-01-11T10:00:00+08:00','store':'s1','recruiter':null}", 0, "kind", "D9"},
		{"distributor without store", "", "{'type':'distributor','id':'D9','at':'2026-01-11T10:00:00+08:00','kind':'mom','recruiter':null}", 0, "store", "D9"},
		{"distributor without recruiter", "", "{'type':'distributor','id':'D9','at':'2026-01-11T10:00:00+08:00','kind':'mom','store':'s1'}", 0, "recruiter", "D9"},
		{"member without distributor", "", "{'type':'member','id':'m9','at':'2026-01-11T10:00:00+08:00'}", 0, "distributor", "m9"},
		{"store_rating without rating", "", "{'type':'store_rating','id':'sr9','at':'2026-01-11T10:00:00+08:00','store':'s1'}", 0, "rating", "sr9"},
		{"store_change without store", "", "{'type':'store_change','id':'sc9','at':'2026-01-11T10:00:00+08:00','distributor':'D1'}", 0, "store", "sc9"},
		{"terminate without distributor", "", "{'type':'terminate','id':'t9','at':'2026-01-11T10:00:00+08:00'}", 0, "distributor", "t9"},
		{"bind without member", "", "{'type':'bind','id':'b9','at':'2026-01-11T10:00:00+08:00','distributor':'D1'}", 0, "member", "b9"},
		{"share_benefits without from", "", "{'type':'share_benefits','id':'sb9','at':'2026-01-11T10:00:00+08:00','to':'m3'}", 0, "from", "sb9"},
		{"share_benefits without to", "", "{'type':'share_benefits','id':'sb9','at':'2026-01-11T10:00:00+08:00','from':'m3'}", 0, "to", "sb9"},
		{"refund without order", "", "{'type':'refund','id':'f9','at':'2026-01-11T10:00:00+08:00','amount':'1.00'}", 0, "order", "f9"},
		{"redeem without points", "", "{'type':'redeem','id':'r9','at':'2026-01-11T10:00:00+08:00','member':'m1'}", 0, "points", "r9"},

		/* null where not allowed */
		{"null member", "", "{'type':'order','id':'o9','at':'2026-01-11T10:00:00+08:00','member':null,'amount':'1.00'}", 0, "member", "o9"},
		{"null id", "", "{'type':'order','id':null,'at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "id", "order"},
		{"null at", "", "{'type':'order','id':'o9','at':null,'member':'m1','amount':'1.00'}", 0, "at", "o9"},
		{"null store name", "", NAME9("null"), 0, "name", "s9"},
		{"null distributor store", "", "{'type':'distributor','id':'D9','at':'2026-01-11T10:00:00+08:00','kind':'mom','store':null,'recruiter':null}", 0, "store", "D9"},
		{"null kind", "", KIND9("null"), 0, "kind", "D9"},
		{"null bind distributor", "", "{'type':'bind','id':'b9','at':'2026-01-11T10:00:00+08:00','member':'m2','distributor':null}", 0, "distributor", "b9"},
		{"null refund order", "", "{'type':'refund','id':'f9','at':'2026-01-11T10:00:00+08:00','order':null,'amount':'1.00'}", 0, "order", "f9"},
		{"null store_change distributor", "", "{'type':'store_change','id':'sc9','at':'2026-01-11T10:00:00+08:00','distributor':null,'store':'s2'}", 0, "distributor", "sc9"},
		{"store name a number", "", NAME9("5"), 0, "name", "s9"},
		{"recruiter a number", "", "{'type':'distributor','id':'D9','at':'2026-01-11T10:00:00+08:00','kind':'mom','store':'s1','recruiter':7}", 0, "recruiter", "D9"},

		/* ids: 1-64 of [A-Za-z0-9._:@/-] */
		{"id of 65 characters", "", "{'type':'order','id':'o2345678901234567890123456789012345678901234567890123456789012345','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "id", "o2345678901234567890"},
		{"id with a space", "", "{'type':'order','id':'o 9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "id", "o 9"},
		{"id with #", "", "{'type':'order','id':'o#9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "id", "o#9"},
		{"id with a non-ASCII letter", "", "{'type':'order','id':'oé9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "id", "order"},
		{"empty id", "", "{'type':'order','id':'','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "id", "order"},
		{"id a number", "", "{'type':'order','id':9,'at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}", 0, "id", "order"},
		{"bad id in a reference", "", "{'type':'order','id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m 1','amount':'1.00'}", 0, "member", "o9"},
		{"empty recruiter id", "", "{'type':'distributor','id':'D9','at':'2026-01-11T10:00:00+08:00','kind':'mom','store':'s1','recruiter':''}", 0, "recruiter", "D9"},

		/* timestamps (SPEC §3) */
		{"February 30", "", AT9("'2026-02-30T10:00:00+08:00'"), 0, "at", "2026-02-30"},
		{"February 29 of 2026", "", AT9("'2026-02-29T10:00:00+08:00'"), 0, "at", "2026-02-29"},
		{"April 31", "", AT9("'2026-04-31T10:00:00+08:00'"), 0, "at", "2026-04-31"},
		{"month 13", "", AT9("'2026-13-01T10:00:00+08:00'"), 0, "at", "2026-13-01"},
		{"day 0", "", AT9("'2026-01-00T10:00:00+08:00'"), 0, "at", "2026-01-00"},
		{"hour 24", "", AT9("'2026-01-11T24:00:00+08:00'"), 0, "at", "T24:00"},
		{"minute 60", "", AT9("'2026-01-11T10:60:00+08:00'"), 0, "at", "10:60"},
		{"second 60", "", AT9("'2026-01-11T10:00:60+08:00'"), 0, "at", "10:00:60"},
		{"garbage timestamp", "", AT9("'yesterday'"), 0, "at", "yesterday"},
		{"date only", "", AT9("'2026-01-11'"), 0, "at", "o9"},
		{"no seconds", "", AT9("'2026-01-11T10:00+08:00'"), 0, "at", "o9"},
		{"seven fraction digits", "", AT9("'2026-01-11T10:00:00.1234567+08:00'"), 0, "at", "o9"},
		{"empty fraction", "", AT9("'2026-01-11T10:00:00.+08:00'"), 0, "at", "o9"},
		{"offset without minutes", "", AT9("'2026-01-11T10:00:00+08'"), 0, "at", "o9"},
		{"offset without colon", "", AT9("'2026-01-11T10:00:00+0800'"), 0, "at", "o9"},
		{"lower-case z", "", AT9("'2026-01-11T10:00:00z'"), 0, "at", "o9"},
		{"trailing text", "", AT9("'2026-01-11T10:00:00Z junk'"), 0, "at", "o9"},
		{"timestamp a number", "", AT9("1768096800"), 0, "at", "o9"},
		{"empty timestamp", "", AT9("''"), 0, "at", "o9"},

		/* names must be UTF-8 (raw bytes in the JSON text) */
		{"name with byte 0xff", "", NAME9("'Caf\xff'"), 0, "name", "UTF-8"},
		{"name truncated sequence", "", NAME9("'Caf\xc3'"), 0, "name", "UTF-8"},
		{"name overlong encoding", "", NAME9("'a\xc0\xaf'"), 0, "name", "UTF-8"},
		{"name encoded surrogate", "", NAME9("'a\xed\xa0\x80'"), 0, "name", "UTF-8"},
		{"region with a lone continuation", "", "{'type':'store','id':'s9','at':'2026-01-11T10:00:00+08:00','name':'x','region':'\x80'}", 0, "region", "UTF-8"},

		/* unknown references */
		{"unknown store", "", "{'type':'distributor','id':'D9','at':'2026-01-11T10:00:00+08:00','kind':'mom','store':'s9','recruiter':null}", 0, "store", "s9"},
		{"unknown recruiter", "", "{'type':'distributor','id':'D9','at':'2026-01-11T10:00:00+08:00','kind':'mom','store':'s1','recruiter':'R9'}", 0, "recruiter", "R9"},
		{"recruiter is a member id", "", "{'type':'distributor','id':'D9','at':'2026-01-11T10:00:00+08:00','kind':'mom','store':'s1','recruiter':'m1'}", 0, "recruiter", "m1"},
		{"unknown member of an order", "", "{'type':'order','id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m9','amount':'1.00'}", 0, "member", "m9"},
		{"order member is a distributor id", "", "{'type':'order','id':'o9','at':'2026-01-11T10:00:00+08:00','member':'D1','amount':'1.00'}", 0, "member", "D1"},
		{"unknown distributor of a member", "", "{'type':'member','id':'m9','at':'2026-01-11T10:00:00+08:00','distributor':'D9'}", 0, "distributor", "D9"},
		{"unknown order of a refund", "", "{'type':'refund','id':'f9','at':'2026-01-11T10:00:00+08:00','order':'o9','amount':'1.00'}", 0, "order", "o9"},
		{"unknown from", "", "{'type':'share_benefits','id':'sb9','at':'2026-01-11T10:00:00+08:00','from':'m9','to':'m3'}", 0, "from", "m9"},
		{"unknown to", "", "{'type':'share_benefits','id':'sb9','at':'2026-01-11T10:00:00+08:00','from':'m3','to':'m9'}", 0, "to", "m9"},
		{"unknown member of a bind", "", "{'type':'bind','id':'b9','at':'2026-01-11T10:00:00+08:00','member':'m9','distributor':'D1'}", 0, "member", "m9"},
		{"unknown distributor of a bind", "", "{'type':'bind','id':'b9','at':'2026-01-11T10:00:00+08:00','member':'m2','distributor':'D9'}", 0, "distributor", "D9"},
		{"unknown store of a rating", "", "{'type':'store_rating','id':'sr9','at':'2026-01-11T10:00:00+08:00','store':'s9','rating':'4'}", 0, "store", "s9"},
		{"unknown store of a store_change", "", "{'type':'store_change','id':'sc9','at':'2026-01-11T10:00:00+08:00','distributor':'D1','store':'s9'}", 0, "store", "s9"},
		{"unknown distributor of a store_change", "", "{'type':'store_change','id':'sc9','at':'2026-01-11T10:00:00+08:00','distributor':'D9','store':'s2'}", 0, "distributor", "D9"},
		{"unknown distributor terminated", "", "{'type':'terminate','id':'t9','at':'2026-01-11T10:00:00+08:00','distributor':'D9'}", 0, "distributor", "D9"},
		{"unknown distributor of a share", "", "{'type':'share','id':'sh9','at':'2026-01-11T10:00:00+08:00','distributor':'D9'}", 0, "distributor", "D9"},
		{"unknown member of a share", "", "{'type':'share','id':'sh9','at':'2026-01-11T10:00:00+08:00','member':'m9'}", 0, "member", "m9"},
		{"unknown member of a redeem", "", "{'type':'redeem','id':'r9','at':'2026-01-11T10:00:00+08:00','member':'m9','points':'1'}", 0, "member", "m9"},

		/* references to entities that appear later than the event */
		{"order before its member joins", "", AT9("'2026-01-04T08:59:59+08:00'"), 0, "member", "m1"},
		{"order before its member joins, in Z", "", AT9("'2026-01-04T00:59:59Z'"), 0, "member", "m1"},
		{"distributor before her recruiter", "", "{'type':'distributor','id':'D9','at':'2026-01-02T08:59:59+08:00','kind':'mom','store':'s1','recruiter':'R1'}", 0, "recruiter", "R1"},
		{"distributor before her store", "", "{'type':'distributor','id':'D9','at':'2025-12-31T10:00:00+08:00','kind':'mom','store':'s1','recruiter':null}", 0, "store", "s1"},
		{"member before her distributor", "", "{'type':'member','id':'m9','at':'2026-01-03T08:00:00+08:00','distributor':'D1'}", 0, "distributor", "D1"},
		{"refund before its order", "", "{'type':'refund','id':'f9','at':'2026-01-10T11:59:59+08:00','order':'o1','amount':'1.00'}", 0, "order", "o1"},
		{"share_benefits before to joins", "", "{'type':'share_benefits','id':'sb9','at':'2026-01-05T08:00:00+08:00','from':'m3','to':'m4'}", 0, "to", "m4"},
		{"share_benefits before from joins", "", "{'type':'share_benefits','id':'sb9','at':'2026-01-05T08:00:00+08:00','from':'m4','to':'m3'}", 0, "from", "m4"},
		{"bind before the member joins", "", "{'type':'bind','id':'b9','at':'2026-01-04T08:00:00+08:00','member':'m2','distributor':'D1'}", 0, "member", "m2"},
		{"bind before the distributor joins", "{'type':'distributor','id':'D8','at':'2026-01-15T10:00:00+08:00','kind':'mom','store':'s1','recruiter':null}", "{'type':'bind','id':'b9','at':'2026-01-14T10:00:00+08:00','member':'m2','distributor':'D8'}", 0, "distributor", "D8"},
		{"rating before the store", "", "{'type':'store_rating','id':'sr9','at':'2025-12-01T10:00:00+08:00','store':'s1','rating':'4'}", 0, "store", "s1"},
		{"store_change before the distributor", "", "{'type':'store_change','id':'sc9','at':'2026-01-02T10:00:00+08:00','distributor':'D1','store':'s2'}", 0, "distributor", "D1"},
		{"store_change to a later store", "{'type':'store','id':'s8','at':'2026-02-01T10:00:00+08:00','name':'Later','region':'x'}", "{'type':'store_change','id':'sc9','at':'2026-01-15T10:00:00+08:00','distributor':'D1','store':'s8'}", 0, "store", "s8"},
		{"terminate before the distributor", "", "{'type':'terminate','id':'t9','at':'2026-01-02T10:00:00+08:00','distributor':'D1'}", 0, "distributor", "D1"},
		{"share before the member", "", "{'type':'share','id':'sh9','at':'2026-01-01T10:00:00+08:00','member':'m1'}", 0, "member", "m1"},
		{"share before the distributor", "", "{'type':'share','id':'sh9','at':'2026-01-01T10:00:00+08:00','distributor':'D1'}", 0, "distributor", "D1"},
		{"redeem before the member", "", "{'type':'redeem','id':'r9','at':'2026-01-01T10:00:00+08:00','member':'m1','points':'1'}", 0, "member", "m1"},

		/* binding to a terminated distributor (D2 ends 2026-01-20T00:00+08:00) */
		{"member joins D2 at its termination", "", "{'type':'member','id':'m9','at':'2026-01-20T00:00:00+08:00','distributor':'D2'}", 0, "D2", "m9"},
		{"member joins D2 at its termination, in Z", "", "{'type':'member','id':'m9','at':'2026-01-19T16:00:00Z','distributor':'D2'}", 0, "D2", "m9"},
		{"member joins D2 after its termination", "", "{'type':'member','id':'m9','at':'2026-02-01T00:00:00+08:00','distributor':'D2'}", 0, "D2", "m9"},
		{"bind to D2 at its termination", "", "{'type':'bind','id':'b9','at':'2026-01-20T00:00:00+08:00','member':'m2','distributor':'D2'}", 0, "D2", "b9"},
		{"bind to D2 after its termination", "", "{'type':'bind','id':'b9','at':'2026-01-25T00:00:00+08:00','member':'m2','distributor':'D2'}", 0, "D2", "b9"},

		/* termination at or before the start of a binding to her */
		{"terminate D1 at m1's binding start", "", "{'type':'terminate','id':'t9','at':'2026-01-04T09:00:00+08:00','distributor':'D1'}", 0, "D1", "t9"},
		{"terminate D1 before m1's binding start", "", "{'type':'terminate','id':'t9','at':'2026-01-03T12:00:00+08:00','distributor':'D1'}", 0, "D1", "t9"},
		{"terminate R1 before the bind b3 to her", "", "{'type':'terminate','id':'t9','at':'2026-02-01T00:00:00+08:00','distributor':'R1'}", 0, "R1", "t9"},
		{"terminate before a bind of the same batch", "{'type':'bind','id':'b8','at':'2026-02-01T00:00:00+08:00','member':'m2','distributor':'D1'}", "{'type':'terminate','id':'t9','at':'2026-01-31T00:00:00+08:00','distributor':'D1'}", 0, "D1", "t9"},

		/* terminating twice */
		{"terminate D2 again", "", "{'type':'terminate','id':'t9','at':'2026-02-01T00:00:00+08:00','distributor':'D2'}", 0, "D2", "t9"},
		{"terminate twice in the batch", "{'type':'terminate','id':'t8','at':'2026-02-01T00:00:00+08:00','distributor':'D1'}", "{'type':'terminate','id':'t9','at':'2026-02-02T00:00:00+08:00','distributor':'D1'}", 0, "D1", "t9"},

		/* overlapping bindings */
		{"bind m1 while bound to D1", "", "{'type':'bind','id':'b9','at':'2026-02-01T00:00:00+08:00','member':'m1','distributor':'R1'}", 0, "m1", "b9"},
		{"bind m1 to D1 again", "", "{'type':'bind','id':'b9','at':'2026-02-01T00:00:00+08:00','member':'m1','distributor':'D1'}", 0, "m1", "b9"},
		{"bind m1 in 2029 before the window ends", "", "{'type':'bind','id':'b9','at':'2029-01-04T08:59:59+08:00','member':'m1','distributor':'R1'}", 0, "m1", "b9"},
		{"bind m4 while bound to D2", "", "{'type':'bind','id':'b9','at':'2026-01-10T00:00:00+08:00','member':'m4','distributor':'R1'}", 0, "m4", "b9"},
		{"bind m3 before b3, overlapping it", "", "{'type':'bind','id':'b9','at':'2026-01-05T00:00:00+08:00','member':'m3','distributor':'D1'}", 0, "m3", "b9"},
		{"bind m3 after b3", "", "{'type':'bind','id':'b9','at':'2026-04-01T00:00:00+08:00','member':'m3','distributor':'D1'}", 0, "m3", "b9"},
		{"two binds of m2 in the batch", "{'type':'bind','id':'b8','at':'2026-01-15T00:00:00+08:00','member':'m2','distributor':'D1'}", "{'type':'bind','id':'b9','at':'2026-01-12T00:00:00+08:00','member':'m2','distributor':'R1'}", 0, "m2", "b9"},

		/* sharers */
		{"share_benefits to herself", "", "{'type':'share_benefits','id':'sb9','at':'2026-01-11T10:00:00+08:00','from':'m3','to':'m3'}", 0, "sb9", ""},
		{"a second sharer", "", "{'type':'share_benefits','id':'sb9','at':'2026-01-11T10:00:00+08:00','from':'m3','to':'m2'}", 0, "m2", "sb9"},
		{"a second sharer, dated earlier", "", "{'type':'share_benefits','id':'sb9','at':'2026-01-05T10:00:00+08:00','from':'m3','to':'m2'}", 0, "m2", "sb9"},
		{"a second sharer in the batch", "{'type':'share_benefits','id':'sb8','at':'2026-01-11T10:00:00+08:00','from':'m1','to':'m3'}", "{'type':'share_benefits','id':'sb9','at':'2026-01-12T10:00:00+08:00','from':'m2','to':'m3'}", 0, "m3", "sb9"},

		/* shares name exactly one of distributor and member */
		{"share naming both", "", "{'type':'share','id':'sh9','at':'2026-01-11T10:00:00+08:00','distributor':'D1','member':'m1'}", 0, "distributor", "member"},
		{"share naming neither", "", "{'type':'share','id':'sh9','at':'2026-01-11T10:00:00+08:00'}", 0, "distributor", "member"},
		{"share naming both as null", "", "{'type':'share','id':'sh9','at':'2026-01-11T10:00:00+08:00','distributor':null,'member':null}", 0, "distributor", "member"},

		/* redeems: m1 has 100 points from 2026-01-10T12:00+08:00 */
		{"redeem 0", "", REDEEM9("'0'"), 0, "points", "r9"},
		{"redeem 0.00", "", REDEEM9("'0.00'"), 0, "points", "r9"},
		{"redeem -1", "", REDEEM9("'-1'"), 0, "points", "r9"},
		{"redeem as a JSON number", "", REDEEM9("5"), 0, "points", "r9"},
		{"redeem of 61 digits", "", REDEEM9("'1234567890123456789012345678901234567890123456789012345678901'"), 0, "points", "r9"},
		{"redeem with exponent", "", REDEEM9("'1e1'"), 0, "points", "r9"},
		{"redeem 100.01 of 100", "", REDEEM9("'100.01'"), 0, "r9", "100.01"},
		{"redeem 40.01 after 60 of 100", "{'type':'redeem','id':'r8','at':'2026-01-11T09:00:00+08:00','member':'m1','points':'60'}", REDEEM9("'40.01'"), 0, "r9", "40.01"},
		{"redeem before the order earned points", "", "{'type':'redeem','id':'r9','at':'2026-01-10T11:59:59+08:00','member':'m1','points':'1'}", 0, "r9", ""},
		{"redeem with no points at all", "", "{'type':'redeem','id':'r9','at':'2026-01-11T10:00:00+08:00','member':'m3','points':'0.01'}", 0, "r9", "0.01"},

		/* refunds never exceed the order (o1 is 100.00) */
		{"refund 60 then 50 of 100", "{'type':'refund','id':'f8','at':'2026-01-11T09:00:00+08:00','order':'o1','amount':'60.00'}", REFUND9("'50.00'"), 0, "o1", "f9"},
		{"refund 100.01 of 100", "", REFUND9("'100.01'"), 0, "o1", "f9"},
		{"refund 0.01 after 100 of 100", "{'type':'refund','id':'f8','at':'2026-01-11T09:00:00+08:00','order':'o1','amount':'100'}", REFUND9("'0.01'"), 0, "o1", "f9"},
		{"refund dated earlier exceeding", "{'type':'refund','id':'f8','at':'2026-01-12T09:00:00+08:00','order':'o1','amount':'99.99'}", REFUND9("'0.02'"), 0, "o1", "f9"},

		/* ratings 0-5 */
		{"rating 5.01", "", RATING9("'5.01'"), 0, "rating", "sr9"},
		{"rating 6", "", RATING9("'6'"), 0, "rating", "sr9"},
		{"rating -1", "", RATING9("'-1'"), 0, "rating", "sr9"},
		{"rating a JSON number", "", RATING9("4"), 0, "rating", "sr9"},
		{"rating empty", "", RATING9("''"), 0, "rating", "sr9"},

		/* kinds */
		{"kind nurse", "", KIND9("'nurse'"), 0, "kind", "D9"},
		{"kind Mom", "", KIND9("'Mom'"), 0, "kind", "D9"},
		{"kind empty", "", KIND9("''"), 0, "kind", "D9"},
		{"kind with a space", "", KIND9("'mom '"), 0, "kind", "D9"},
		{"kind a number", "", KIND9("1"), 0, "kind", "D9"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		if (!rows[i].status)
			rows[i].status = REFERRAL_EINPUT;
	return cr_make_param_array(struct reject_row, rows, ARRAY_SIZE(rows));
}

/*
 * Feeds LINE1, a blank line, `pre` (or LINE3) and `bad` to a store holding
 * WORLD and checks the batch was refused as a whole with one error,
 * exactly "bad.jsonl:4: ...", naming both culprits.
 */
static void expect_rejected(referral_store *st, const char *name, const char *pre, const char *bad,
			    int status, const char *culprit, const char *culprit2)
{
	const char *lines[] = {LINE1, "", pre && pre[0] ? pre : LINE3, bad, NULL};
	long long before = count_events();

	cr_assert_eq(before, WORLD_EVENTS);
	struct run r = run_lines(st, "bad.jsonl", lines);
	cr_log_info("%s: %s", name, r.err[0]);
	cr_assert_eq(r.rc, status, "%s: commit returned %d, want %d (%s)", name, r.rc, status,
		     r.err[0]);
	cr_assert_eq(r.add_rc[0], REFERRAL_OK, "%s: line 1 rejected", name);
	cr_assert_eq(r.add_rc[2], REFERRAL_OK, "%s: line 3 rejected: %s", name, r.err[0]);
	cr_assert_eq(r.add_rc[3], status, "%s: add of line 4 returned %d", name, r.add_rc[3]);
	cr_assert_eq(r.nerrors, 1, "%s: %ld errors, first \"%s\"", name, r.nerrors, r.err[0]);
	assert_prefix(r.err[0], "bad.jsonl:4: ", name);
	assert_has(r.err[0], culprit, name);
	assert_has(r.err[0], culprit2, name);
	cr_assert_eq(r.ingested, 0, "%s: ingested %ld of a rejected batch", name, r.ingested);
	assert_nothing_stored(st, before, name);
}

ParameterizedTest(struct reject_row *row, reject, rule)
{
	referral_store *st = world();

	expect_rejected(st, row->name, row->pre, row->bad, row->status, row->culprit, row->culprit2);
	referral_store_free(st);
}

/* A store line whose name and region are `nlen` and `rlen` bytes of `fill`
 * (a 1- or 3-byte UTF-8 character, repeated while it fits, then 'a'). */
static char *store_line(const char *id, const char *fill, size_t nlen, size_t rlen)
{
	char *name = calloc(1, nlen + 1), *region = calloc(1, rlen + 1), *line;
	size_t f = strlen(fill);

	cr_assert(name && region);
	for (size_t i = 0; i < nlen; i += f)
		memcpy(name + i, nlen - i >= f ? fill : "aaa", nlen - i >= f ? f : nlen - i);
	memset(region, 'r', rlen);
	line = malloc(nlen + rlen + 200);
	cr_assert_not_null(line);
	sprintf(line, "{'type':'store','id':'%s','at':'2026-01-11T10:00:00+08:00','name':'%s','region':'%s'}",
		id, name, region);
	free(name);
	free(region);
	return line;
}

/* docs/design.md: store names and regions are UTF-8 of at most 500 bytes. */
Test(reject, name_of_501_bytes)
{
	referral_store *st = world();
	char *bad = store_line("s9", "a", 501, 1);

	expect_rejected(st, "name of 501 bytes", NULL, bad, REFERRAL_EINPUT, "name", "s9");
	free(bad);
	referral_store_free(st);
}

Test(reject, name_of_600_bytes)
{
	referral_store *st = world();
	char *bad = store_line("s9", "a", 600, 1);

	expect_rejected(st, "name of 600 bytes", NULL, bad, REFERRAL_EINPUT, "name", "s9");
	free(bad);
	referral_store_free(st);
}

Test(reject, region_of_501_bytes)
{
	referral_store *st = world();
	char *bad = store_line("s9", "a", 1, 501);

	expect_rejected(st, "region of 501 bytes", NULL, bad, REFERRAL_EINPUT, "region", "s9");
	free(bad);
	referral_store_free(st);
}

/* 500 bytes each, also in 3-byte characters (166 x 3 = 498, then "aa"). */
Test(accept, names_of_500_bytes)
{
	referral_store *st = world();
	char *a = store_line("s9", "a", 500, 500), *b = store_line("s8", "\xe5\xa6\x88", 500, 500);
	const char *lines[] = {a, b, NULL};
	struct run r = run_lines(st, "names.jsonl", lines);

	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	cr_assert_eq(r.ingested, 2);
	/* bytes, not characters */
	cr_assert_eq(sql_int(test_pg() ? "SELECT octet_length(txt1) + octet_length(txt2)"
					 " FROM events WHERE type = 1 AND id = 's8'"
				       : "SELECT length(CAST(txt1 AS BLOB)) + length(CAST(txt2 AS BLOB))"
					 " FROM events WHERE type = 1 AND id = 's8'"), 1000);
	free(a);
	free(b);
	referral_store_free(st);
}

/* ---- 1b. the boundaries of those rules are accepted ----------------------- */

struct accept_row {
	char name[48];
	char pre[200];    /* "" = none */
	char good[240];
};

ParameterizedTestParameters(accept, boundary)
{
	static struct accept_row rows[] = {
		{"order of 0.01", "", ORDER9("'0.01'")},
		{"order with leading zeros", "", ORDER9("'007.5'")},
		{"order of 30 digits", "", ORDER9("'123456789012345678901234567890'")},
		{"order of 28+2 digits", "", ORDER9("'1234567890123456789012345678.90'")},
		{"order at the member's instant", "", AT9("'2026-01-04T09:00:00+08:00'")},
		{"order at the member's instant in Z", "", AT9("'2026-01-04T01:00:00Z'")},
		{"timestamp with a space and no offset", "", AT9("'2026-01-11 10:00:00'")},
		{"timestamp with microseconds", "", AT9("'2026-01-11T10:00:00.123456Z'")},
		{"timestamp with a negative offset", "", AT9("'2026-01-11T10:00:00-05:30'")},
		{"id of 64 characters of every class", "", "{'type':'order','id':'Az09._:@/-o23456789012345678901234567890123456789012345678901234','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}"},
		{"UTF-8 store name", "", NAME9("'妈妈店 Café'")},
		{"unknown fields ignored", "", "{'type':'order','id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00','note':{'x':[1,2]},'channel':null}"},
		{"rating 5", "", RATING9("'5'")},
		{"rating 0", "", RATING9("'0'")},
		{"rating 4.75", "", RATING9("'4.75'")},
		{"kind practitioner", "", KIND9("'practitioner'")},
		{"member joins D2 just before termination", "", "{'type':'member','id':'m9','at':'2026-01-19T23:59:59+08:00','distributor':'D2'}"},
		{"bind m4 at D2's termination", "", "{'type':'bind','id':'b9','at':'2026-01-20T00:00:00+08:00','member':'m4','distributor':'R1'}"},
		{"bind m3 to D2 before b3", "", "{'type':'bind','id':'b9','at':'2026-01-05T00:00:00+08:00','member':'m3','distributor':'D2'}"},
		{"bind m1 when the window ends", "", "{'type':'bind','id':'b9','at':'2029-01-04T09:00:00+08:00','member':'m1','distributor':'R1'}"},
		{"terminate D1 after m1's binding start", "", "{'type':'terminate','id':'t9','at':'2026-01-04T09:00:01+08:00','distributor':'D1'}"},
		{"share_benefits to a member without sharer", "", "{'type':'share_benefits','id':'sb9','at':'2026-01-11T10:00:00+08:00','from':'m2','to':'m3'}"},
		{"share by a distributor", "", "{'type':'share','id':'sh9','at':'2026-01-11T10:00:00+08:00','distributor':'D1'}"},
		{"share by a member, distributor null", "", "{'type':'share','id':'sh9','at':'2026-01-11T10:00:00+08:00','distributor':null,'member':'m1'}"},
		{"redeem 100 of 100", "", REDEEM9("'100'")},
		{"redeem 100.00 of 100", "", REDEEM9("'100.00'")},
		{"redeem 60 then 40", "{'type':'redeem','id':'r8','at':'2026-01-11T09:00:00+08:00','member':'m1','points':'60'}", REDEEM9("'40'")},
		{"redeem points of an order of the batch", "{'type':'order','id':'o8','at':'2026-01-11T09:00:00+08:00','member':'m3','amount':'10.00'}", "{'type':'redeem','id':'r9','at':'2026-01-11T10:00:00+08:00','member':'m3','points':'10'}"},
		{"redeem with many decimals", "", REDEEM9("'99.999999'")},
		{"refund 60 then 40 of 100", "{'type':'refund','id':'f8','at':'2026-01-11T09:00:00+08:00','order':'o1','amount':'60.00'}", REFUND9("'40'")},
		{"refund all of 100", "", REFUND9("'100.0'")},
		{"store_change", "", "{'type':'store_change','id':'sc9','at':'2026-01-11T10:00:00+08:00','distributor':'D1','store':'s2'}"},
		{"ids are per type", "", "{'type':'store','id':'m1','at':'2026-01-11T10:00:00+08:00','name':'x','region':'x'}"},
	};
	return cr_make_param_array(struct accept_row, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct accept_row *row, accept, boundary)
{
	referral_store *st = world();
	const char *with_pre[] = {row->pre, row->good, NULL};
	const char *alone[] = {row->good, NULL};
	struct run r = run_lines(st, "good.jsonl", row->pre[0] ? with_pre : alone);
	long want = row->pre[0] ? 2 : 1;

	cr_assert_eq(r.rc, REFERRAL_OK, "%s: %s", row->name, r.err[0]);
	cr_assert_eq(r.nerrors, 0);
	cr_assert_eq(r.ingested, want, "%s", row->name);
	cr_assert_eq(count_events(), WORLD_EVENTS + want, "%s", row->name);
	referral_store_free(st);
}

/* ---- 1c. rules that need more than one bad line ------------------------- */

/* A line naming what a rejected earlier line of the batch would have
 * created is bad too; both are reported. */
Test(reject, entity_of_a_rejected_line)
{
	referral_store *st = world();
	const char *lines[] = {
		LINE1,
		"{'type':'member','id':'m9','at':'2026-01-11T10:00:00+08:00','distributor':'D9'}",
		"{'type':'order','id':'o9','at':'2026-01-12T10:00:00+08:00','member':'m9','amount':'5.00'}",
		"{'type':'distributor','id':'D8','at':'2026-01-11T10:00:00+08:00','kind':'nurse','store':'s1','recruiter':null}",
		"{'type':'member','id':'m8','at':'2026-01-12T10:00:00+08:00','distributor':'D8'}",
		NULL
	};
	struct run r = run_lines(st, "bad.jsonl", lines);

	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	cr_assert_eq(r.nerrors, 4, "%ld errors: %s | %s", r.nerrors, r.err[0], r.err[1]);
	assert_prefix(r.err[0], "bad.jsonl:2: ", "member m9");
	assert_has(r.err[0], "D9", "member m9");
	assert_prefix(r.err[1], "bad.jsonl:3: ", "order of m9");
	assert_has(r.err[1], "m9", "order of m9");
	assert_prefix(r.err[2], "bad.jsonl:4: ", "distributor D8");
	assert_has(r.err[2], "kind", "distributor D8");
	assert_prefix(r.err[3], "bad.jsonl:5: ", "member of D8");
	assert_has(r.err[3], "D8", "member of D8");
	assert_nothing_stored(st, WORLD_EVENTS, "rejected entity");
	referral_store_free(st);
}

/* A sharer's bonus counts toward her balance: m2 (shared by m1 since
 * 01-06) orders 40.00 at 01-12, so m1 earns 0.25 x 40 = 10 bonus points:
 * m1's balance is 100 + 10 = 110 from 01-12 on, but still 100 at 01-11. */
Test(reject, redeem_counts_the_share_bonus)
{
	referral_store *st = world();
	struct run r = run_one(st, "{'type':'order','id':'o2','at':'2026-01-12T10:00:00+08:00','member':'m2','amount':'40.00'}");
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);

	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-01-13T10:00:00+08:00','member':'m1','points':'110.01'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	assert_has(r.err[0], "110.01", "redeem 110.01");
	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-01-11T10:00:00+08:00','member':'m1','points':'100.01'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT, "the bonus of 01-12 counted at 01-11");
	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-01-13T10:00:00+08:00','member':'m1','points':'110'}");
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	/* m2 has her own 40 (40.00 x 1) */
	r = run_one(st, "{'type':'redeem','id':'r2','at':'2026-01-13T10:00:00+08:00','member':'m2','points':'40.01'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	r = run_one(st, "{'type':'redeem','id':'r2','at':'2026-01-13T10:00:00+08:00','member':'m2','points':'40'}");
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	referral_store_free(st);
}

/* A refund takes points back: after refunding 30.00 of o1, m1 holds
 * 100 - 30 = 70 points; a member share earns per_share = 5. */
Test(reject, redeem_after_refund_and_share)
{
	referral_store *st = world();
	const char *lines[] = {
		"{'type':'refund','id':'f1','at':'2026-01-11T10:00:00+08:00','order':'o1','amount':'30.00'}",
		"{'type':'share','id':'sh1','at':'2026-01-11T11:00:00+08:00','member':'m1'}",
		NULL
	};
	struct run r = run_lines(st, "a.jsonl", lines);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);

	/* at 10:30: 100 - 30 = 70 */
	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-01-11T10:30:00+08:00','member':'m1','points':'70.01'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	/* at 12:00: 70 + 5 = 75 */
	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-01-11T12:00:00+08:00','member':'m1','points':'75.01'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-01-11T12:00:00+08:00','member':'m1','points':'75'}");
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	referral_store_free(st);
}

/* Bonus only from events at or after the share_benefits (01-06 09:00), and
 * a refund of a sharee's order takes the bonus back:
 *   o2  m2 40.00 at 01-05: before sb1, m1 gets nothing      m1: 100
 *   o3  m2 40.00 at 01-12: m1 gets 0.25 x 40 = 10          m1: 110
 *   f3  20.00 of o3 at 01-13: m1 loses 0.25 x 20 = 5       m1: 105 */
Test(reject, redeem_bonus_timing_and_refund)
{
	referral_store *st = world();
	const char *lines[] = {
		"{'type':'order','id':'o2','at':'2026-01-05T10:00:00+08:00','member':'m2','amount':'40.00'}",
		"{'type':'order','id':'o3','at':'2026-01-12T10:00:00+08:00','member':'m2','amount':'40.00'}",
		"{'type':'refund','id':'f3','at':'2026-01-13T10:00:00+08:00','order':'o3','amount':'20.00'}",
		NULL
	};
	struct run r = run_lines(st, "a.jsonl", lines);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);

	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-01-11T10:00:00+08:00','member':'m1','points':'100.01'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT, "o2 before sb1 gave m1 a bonus");
	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-01-12T11:00:00+08:00','member':'m1','points':'110.01'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-01-14T10:00:00+08:00','member':'m1','points':'105.01'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT, "the refund f3 did not take the bonus back");
	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-01-14T10:00:00+08:00','member':'m1','points':'105'}");
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	/* m2: 40 + 40 - 20 = 60 */
	r = run_one(st, "{'type':'redeem','id':'r2','at':'2026-01-14T10:00:00+08:00','member':'m2','points':'60.01'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	r = run_one(st, "{'type':'redeem','id':'r2','at':'2026-01-14T10:00:00+08:00','member':'m2','points':'60'}");
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	referral_store_free(st);
}

/* docs/design.md: a redeem is checked at its own instant, so one dated
 * before a stored redeem sees the balance before it. m1 redeems all 100
 * at 01-11; at 01-10 13:00 she still had 100. */
Test(accept, backdated_redeem_checked_at_its_instant)
{
	referral_store *st = world();
	struct run r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-01-11T10:00:00+08:00','member':'m1','points':'100'}");
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	r = run_one(st, "{'type':'redeem','id':'r2','at':'2026-01-11T10:00:01+08:00','member':'m1','points':'0.01'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT, "redeemed beyond a spent balance");
	r = run_one(st, "{'type':'redeem','id':'r2','at':'2026-01-10T13:00:00+08:00','member':'m1','points':'100'}");
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	referral_store_free(st);
}

/* Points use the plan for the order's booking period (SPEC §5): a version
 * with per_yuan 2 from 2026-02. m3 orders 10.00 in January (10 points) and
 * 10.00 in February (20 points): 30 at 02-06. A refund of 5.00 of the
 * February order in March takes back 5 x 2 = 10 at that order's rate: 20. */
Test(reject, redeem_uses_the_plan_of_the_booking_period)
{
	referral_store *st = world();
	char *plan = test_reference_plan();
	char *p = strstr(plan, "\"per_yuan\": \"1\"");

	cr_assert_not_null(p, "reference plan has no per_yuan 1");
	p[strlen("\"per_yuan\": \"")] = '2';
	cr_assert_eq(referral_plan_add(st, plan, "2026-02"), REFERRAL_OK, "%s", referral_errmsg(st));
	free(plan);
	const char *lines[] = {
		"{'type':'order','id':'o2','at':'2026-01-20T10:00:00+08:00','member':'m3','amount':'10.00'}",
		"{'type':'order','id':'o3','at':'2026-02-05T10:00:00+08:00','member':'m3','amount':'10.00'}",
		"{'type':'refund','id':'f3','at':'2026-03-05T10:00:00+08:00','order':'o3','amount':'5.00'}",
		NULL
	};
	struct run r = run_lines(st, "a.jsonl", lines);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-02-06T10:00:00+08:00','member':'m3','points':'30.01'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-03-06T10:00:00+08:00','member':'m3','points':'20.01'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT, "the refund took back fewer than 10 points");
	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-03-06T10:00:00+08:00','member':'m3','points':'20'}");
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	referral_store_free(st);
}

/* ---- 2. idempotency -------------------------------------------------------- */

struct dup_row {
	char name[48];
	char line[240];
};

ParameterizedTestParameters(idempotency, identical_repeat)
{
	static struct dup_row rows[] = {
		{"the same line", "{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'100.00'}"},
		{"amount 100.0", "{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'100.0'}"},
		{"amount 100", "{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'100'}"},
		{"amount 0100.00", "{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'0100.00'}"},
		/* 12:00 at +08:00 is 04:00Z, 06:30 at +02:30, and 12:00 local with no offset */
		{"at in Z", "{'type':'order','id':'o1','at':'2026-01-10T04:00:00Z','member':'m1','amount':'100.00'}"},
		{"at in +02:30", "{'type':'order','id':'o1','at':'2026-01-10T06:30:00+02:30','member':'m1','amount':'100.00'}"},
		{"at without offset, with a space", "{'type':'order','id':'o1','at':'2026-01-10 12:00:00','member':'m1','amount':'100.00'}"},
		{"at with .000000", "{'type':'order','id':'o1','at':'2026-01-10T12:00:00.000000+08:00','member':'m1','amount':'100.00'}"},
		{"extra unknown fields", "{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'100.00','note':'again','n':1}"},
		{"fields reordered", "{'amount':'100.00','member':'m1','at':'2026-01-10T12:00:00+08:00','id':'o1','type':'order'}"},
		{"distributor with null recruiter", "{'type':'distributor','id':'R1','at':'2026-01-02T01:00:00Z','kind':'mom','store':'s1','recruiter':null,'x':1}"},
		{"member with null distributor", "{'type':'member','id':'m2','at':'2026-01-04T09:00:00+08:00','distributor':null}"},
		/* a repeat is a duplicate even where the rules would now refuse it */
		{"terminate repeated", "{'type':'terminate','id':'t2','at':'2026-01-20T00:00:00+08:00','distributor':'D2'}"},
		{"member repeated (her own binding)", "{'type':'member','id':'m1','at':'2026-01-04T09:00:00+08:00','distributor':'D1'}"},
		{"bind repeated", "{'type':'bind','id':'b3','at':'2026-03-01T09:00:00+08:00','member':'m3','distributor':'R1'}"},
		{"share_benefits repeated", "{'type':'share_benefits','id':'sb1','at':'2026-01-06T09:00:00+08:00','from':'m1','to':'m2'}"},
		{"store repeated", "{'type':'store','id':'s1','at':'2026-01-01T08:00:00+08:00','name':'Store One','region':'east'}"},
	};
	return cr_make_param_array(struct dup_row, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct dup_row *row, idempotency, identical_repeat)
{
	referral_store *st = world();
	struct run r = run_one(st, row->line);

	cr_assert_eq(r.rc, REFERRAL_OK, "%s: %s", row->name, r.err[0]);
	cr_assert_eq(r.add_rc[0], REFERRAL_OK);
	cr_assert_eq(r.ingested, 0, "%s", row->name);
	cr_assert_eq(r.duplicates, 1, "%s", row->name);
	cr_assert_eq(count_events(), WORLD_EVENTS);
	referral_store_free(st);
}

/* A redeem repeated after the balance is spent is a duplicate, not a
 * redeem beyond the balance: identity is checked before the rules. */
Test(idempotency, repeated_redeem_is_not_checked_again)
{
	referral_store *st = world();
	const char *redeem = "{'type':'redeem','id':'r1','at':'2026-01-11T10:00:00+08:00','member':'m1','points':'100'}";
	struct run r = run_one(st, redeem);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	r = run_one(st, redeem);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	cr_assert_eq(r.duplicates, 1);
	r = run_one(st, "{'type':'redeem','id':'r1','at':'2026-01-11T10:00:00+08:00','member':'m1','points':'100.00','src':'pos'}");
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	cr_assert_eq(r.duplicates, 1);
	referral_store_free(st);
}

Test(idempotency, repeat_inside_one_batch)
{
	referral_store *st = world();
	const char *lines[] = {
		"{'type':'order','id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'10.00'}",
		"{'type':'order','id':'o9','at':'2026-01-11T02:00:00Z','member':'m1','amount':'10.0'}",
		"{'type':'store','id':'s9','at':'2026-01-11T10:00:00+08:00','name':'Nine','region':'x'}",
		"{'type':'order','id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'10','x':true}",
		NULL
	};
	struct run r = run_lines(st, "dup.jsonl", lines);

	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	cr_assert_eq(r.ingested, 2);
	cr_assert_eq(r.duplicates, 2);
	cr_assert_eq(count_events(), WORLD_EVENTS + 2);
	referral_store_free(st);
}

struct conflict_row {
	char name[48];
	char line[240];
	char culprit[24];
};

ParameterizedTestParameters(idempotency, conflicting_repeat)
{
	static struct conflict_row rows[] = {
		{"another amount", "{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'100.01'}", "o1"},
		{"another instant", "{'type':'order','id':'o1','at':'2026-01-10T12:00:00Z','member':'m1','amount':'100.00'}", "o1"},
		{"another microsecond", "{'type':'order','id':'o1','at':'2026-01-10T12:00:00.000001+08:00','member':'m1','amount':'100.00'}", "o1"},
		{"another instant, no offset", "{'type':'order','id':'o1','at':'2026-01-10T04:00:00','member':'m1','amount':'100.00'}", "o1"},
		{"another member", "{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m2','amount':'100.00'}", "o1"},
		{"an unknown member", "{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m9','amount':'100.00'}", "o1"},
		{"another store name", "{'type':'store','id':'s1','at':'2026-01-01T08:00:00+08:00','name':'Store 1','region':'east'}", "s1"},
		{"another region", "{'type':'store','id':'s1','at':'2026-01-01T08:00:00+08:00','name':'Store One','region':'west'}", "s1"},
		{"a recruiter where null", "{'type':'distributor','id':'R1','at':'2026-01-02T09:00:00+08:00','kind':'mom','store':'s1','recruiter':'D1'}", "R1"},
		{"null where a recruiter", "{'type':'distributor','id':'D1','at':'2026-01-03T09:00:00+08:00','kind':'doctor','store':'s1','recruiter':null}", "D1"},
		{"another kind", "{'type':'distributor','id':'D1','at':'2026-01-03T09:00:00+08:00','kind':'mom','store':'s1','recruiter':'R1'}", "D1"},
		{"a member now bound", "{'type':'member','id':'m2','at':'2026-01-04T09:00:00+08:00','distributor':'D1'}", "m2"},
		{"share_benefits reversed", "{'type':'share_benefits','id':'sb1','at':'2026-01-06T09:00:00+08:00','from':'m2','to':'m1'}", "sb1"},
	};
	return cr_make_param_array(struct conflict_row, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct conflict_row *row, idempotency, conflicting_repeat)
{
	referral_store *st = world();
	const char *lines[] = {LINE1, row->line, NULL};
	struct run r = run_lines(st, "c.jsonl", lines);

	cr_assert_eq(r.rc, REFERRAL_ESTATE, "%s: commit %d (%s)", row->name, r.rc, r.err[0]);
	cr_assert_eq(r.add_rc[1], REFERRAL_ESTATE, "%s", row->name);
	cr_assert_eq(r.nerrors, 1);
	assert_prefix(r.err[0], "c.jsonl:2: ", row->name);
	assert_has(r.err[0], row->culprit, row->name);
	cr_assert_eq(r.duplicates, 0);
	assert_nothing_stored(st, WORLD_EVENTS, row->name);
	referral_store_free(st);
}

Test(idempotency, conflict_inside_one_batch)
{
	referral_store *st = world();
	const char *lines[] = {
		LINE1,
		"{'type':'order','id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'10.00'}",
		"{'type':'order','id':'o9','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'10.01'}",
		NULL
	};
	struct run r = run_lines(st, "c.jsonl", lines);

	cr_assert_eq(r.rc, REFERRAL_ESTATE, "%s", r.err[0]);
	cr_assert_eq(r.nerrors, 1);
	assert_prefix(r.err[0], "c.jsonl:3: ", "o9 conflict");
	assert_has(r.err[0], "o9", "o9 conflict");
	assert_nothing_stored(st, WORLD_EVENTS, "o9 conflict");
	referral_store_free(st);
}

/* A conflicting duplicate mixed with any other bad line: input error (3). */
Test(idempotency, conflict_mixed_with_bad_lines)
{
	referral_store *st = world();
	const char *lines[] = {
		LINE1,
		"{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'99.00'}",
		ORDER9("'1.001'"),
		NULL
	};
	struct run r = run_lines(st, "c.jsonl", lines);

	cr_assert_eq(r.rc, REFERRAL_EINPUT, "%d: %s", r.rc, r.err[0]);
	cr_assert_eq(r.add_rc[1], REFERRAL_ESTATE);
	cr_assert_eq(r.add_rc[2], REFERRAL_EINPUT);
	cr_assert_eq(r.nerrors, 2);
	assert_prefix(r.err[0], "c.jsonl:2: ", "o1 conflict");
	assert_has(r.err[0], "o1", "o1 conflict");
	assert_prefix(r.err[1], "c.jsonl:3: ", "o9 amount");
	assert_has(r.err[1], "amount", "o9 amount");
	assert_nothing_stored(st, WORLD_EVENTS, "mixed");
	referral_store_free(st);
}

/* Two conflicting duplicates and nothing else: still a state error (4). */
Test(idempotency, only_conflicts_is_state)
{
	referral_store *st = world();
	const char *lines[] = {
		"{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'99.00'}",
		"{'type':'store','id':'s2','at':'2026-01-01T08:00:00+08:00','name':'Store Two','region':'north'}",
		"{'type':'store','id':'s1','at':'2026-01-01T08:00:00+08:00','name':'Store One','region':'east'}",
		NULL
	};
	struct run r = run_lines(st, "c.jsonl", lines);

	cr_assert_eq(r.rc, REFERRAL_ESTATE, "%d", r.rc);
	cr_assert_eq(r.nerrors, 2);
	cr_assert_eq(r.duplicates, 1);
	assert_has(r.err[1], "s2", "s2 conflict");
	cr_assert_eq(count_events(), WORLD_EVENTS);
	referral_store_free(st);
}

/* ---- 3. batches ------------------------------------------------------------ */

Test(batch, atomic_bad_last_line)
{
	referral_store *st = world();
	const char *lines[] = {
		LINE1,
		"{'type':'member','id':'m9','at':'2026-01-11T10:00:00+08:00','distributor':'D1'}",
		"{'type':'order','id':'o9','at':'2026-01-11T11:00:00+08:00','member':'m9','amount':'10.00'}",
		"{'type':'refund','id':'f9','at':'2026-01-11T12:00:00+08:00','order':'o9','amount':'10.01'}",
		NULL
	};
	struct run r = run_lines(st, "a.jsonl", lines);

	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	cr_assert_eq(r.nerrors, 1);
	assert_prefix(r.err[0], "a.jsonl:4: ", "refund");
	assert_has(r.err[0], "o9", "refund");
	assert_has(r.errmsg, "bad line", "referral_errmsg");
	cr_assert_eq(count_events(), WORLD_EVENTS);
	cr_assert_eq(sql_int("SELECT count(*) FROM events WHERE id IN ('sb','m9','o9','f9')"), 0);
	/* the same batch without its last line goes in whole */
	lines[3] = NULL;
	r = run_lines(st, "a.jsonl", lines);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	cr_assert_eq(r.ingested, 3);
	cr_assert_eq(r.duplicates, 0);
	cr_assert_eq(count_events(), WORLD_EVENTS + 3);
	referral_store_free(st);
}

/* A batch that was never committed stores nothing either. */
Test(batch, freed_without_commit)
{
	referral_store *st = world();
	referral_batch *b = NULL;
	char *j = dq(LINE1);

	cr_assert_eq(referral_batch_begin(st, &b, "x"), REFERRAL_OK);
	cr_assert_eq(referral_batch_add_json(b, j, strlen(j), 1), REFERRAL_OK);
	cr_assert_eq(referral_batch_ingested(b), 1);
	referral_batch_free(b);
	free(j);
	cr_assert_eq(count_events(), WORLD_EVENTS);
	assert_nothing_stored(st, WORLD_EVENTS, "freed batch");
	referral_store_free(st);
}

/* add_json reads exactly `len` bytes: the buffer need not end there. */
Test(batch, add_json_takes_len_bytes)
{
	referral_store *st = world();
	referral_batch *b = NULL;
	char *one = dq(LINE1), *two = dq(LINE3);
	size_t n1 = strlen(one);
	char *both = malloc(n1 + strlen(two) + 1);

	cr_assert_not_null(both);
	strcpy(both, one);
	strcat(both, two);
	cr_assert_eq(referral_batch_begin(st, &b, "x"), REFERRAL_OK);
	cr_assert_eq(referral_batch_add_json(b, both, n1, 1), REFERRAL_OK, "%s", referral_batch_error(b, 0));
	cr_assert_eq(referral_batch_add_json(b, both + n1, strlen(two), 2), REFERRAL_OK);
	cr_assert_eq(referral_batch_add_json(b, both, n1 - 1, 3), REFERRAL_EINPUT, "a cut line was accepted");
	cr_assert_eq(referral_batch_commit(b), REFERRAL_EINPUT);
	assert_prefix(referral_batch_error(b, 0), "x:3: ", "cut line");
	referral_batch_free(b);
	free(one);
	free(two);
	free(both);
	cr_assert_eq(count_events(), WORLD_EVENTS);
	referral_store_free(st);
}

Test(batch, hundred_errors_then_counted)
{
	referral_store *st = world();
	referral_batch *b = NULL;

	cr_assert_eq(referral_batch_begin(st, &b, "many.jsonl"), REFERRAL_OK);
	for (int i = 1; i <= 150; i++) {
		char line[200];
		snprintf(line, sizeof line,
			 "{\"type\":\"order\",\"id\":\"o%d\",\"at\":\"garbage\",\"member\":\"m1\",\"amount\":\"1.00\"}",
			 i + 100);
		cr_assert_eq(referral_batch_add_json(b, line, strlen(line), i), REFERRAL_EINPUT);
	}
	cr_assert_eq(referral_batch_commit(b), REFERRAL_EINPUT);
	cr_assert_eq(referral_batch_error_count(b), 150);
	cr_assert_eq(referral_batch_ingested(b), 0);
	assert_prefix(referral_batch_error(b, 0), "many.jsonl:1: ", "error 0");
	assert_has(referral_batch_error(b, 0), "o101", "error 0");
	cr_assert_not_null(referral_batch_error(b, 99));
	assert_prefix(referral_batch_error(b, 99), "many.jsonl:100: ", "error 99");
	assert_has(referral_batch_error(b, 99), "o200", "error 99");
	cr_assert_null(referral_batch_error(b, 100));
	cr_assert_null(referral_batch_error(b, 149));
	cr_assert_null(referral_batch_error(b, 150));
	cr_assert_null(referral_batch_error(b, -1));
	assert_has(referral_errmsg(st), "150", "referral_errmsg");
	referral_batch_free(b);
	cr_assert_eq(count_events(), WORLD_EVENTS);
	referral_store_free(st);
}

Test(batch, blank_lines_skipped)
{
	referral_store *st = world();
	const char *lines[] = {"", " ", "\t", "\n", "  \r\n", LINE1, "\r\n", NULL};
	struct run r = run_lines(st, "blank.jsonl", lines);

	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	for (int i = 0; i < 7; i++)
		cr_assert_eq(r.add_rc[i], REFERRAL_OK, "line %d", i + 1);
	cr_assert_eq(r.nerrors, 0);
	cr_assert_eq(r.ingested, 1);
	cr_assert_eq(r.duplicates, 0);
	cr_assert_eq(count_events(), WORLD_EVENTS + 1);
	referral_store_free(st);
}

Test(batch, empty_batch)
{
	referral_store *st = world();
	referral_batch *b = NULL;

	cr_assert_eq(referral_batch_begin(st, &b, "empty.jsonl"), REFERRAL_OK);
	cr_assert_eq(referral_batch_commit(b), REFERRAL_OK, "%s", referral_errmsg(st));
	cr_assert_eq(referral_batch_ingested(b), 0);
	cr_assert_eq(referral_batch_duplicates(b), 0);
	cr_assert_eq(referral_batch_error_count(b), 0);
	cr_assert_null(referral_batch_error(b, 0));
	referral_batch_free(b);
	cr_assert_eq(count_events(), WORLD_EVENTS);

	/* also on a store with no events at all, and with only blank lines */
	referral_store_free(st);
	st = new_store();
	const char *blank[] = {"", "   ", NULL};
	struct run r = run_lines(st, "empty.jsonl", blank);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.errmsg);
	cr_assert_eq(r.ingested, 0);
	cr_assert_eq(count_events(), 0);
	referral_store_free(st);
}

/* Lines are counted physically, blank ones included, and the source is
 * reported as given. */
Test(batch, add_file_physical_line_numbers)
{
	referral_store *st = world();
	char path[600];
	snprintf(path, sizeof path, "%s/in-%d.jsonl", test_tmpdir(), (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	const char *text[] = {
		LINE1 "\n",                                                        /* 1 */
		"\n",                                                              /* 2 */
		"{'type':'order','id':'o9','at':'2026-02-30T10:00:00+08:00','member':'m1','amount':'1.00'}\n", /* 3: bad */
		"   \n",                                                           /* 4 */
		"\n",                                                              /* 5 */
		LINE3 "\r\n",                                                      /* 6: CRLF */
		"{'type':'order','id':'o8','at':'2026-01-11T10:00:00+08:00','member':'m8','amount':'1.00'}\n", /* 7: bad */
		"\n",                                                              /* 8 */
		"{'type':'store','id':'sd','at':'2026-01-02T10:00:00+08:00','name':'D','region':'x'}",  /* 9, no newline */
		NULL
	};
	for (int i = 0; text[i]; i++) {
		char *j = dq(text[i]);
		fputs(j, f);
		free(j);
	}
	fclose(f);

	referral_batch *b = NULL;
	cr_assert_eq(referral_batch_begin(st, &b, path), REFERRAL_OK);
	cr_assert_eq(referral_batch_add_file(b, path), REFERRAL_OK, "%s", referral_errmsg(st));
	cr_assert_eq(referral_batch_commit(b), REFERRAL_EINPUT);
	cr_assert_eq(referral_batch_error_count(b), 2);
	char want[700];
	snprintf(want, sizeof want, "%s:3: ", path);
	assert_prefix(referral_batch_error(b, 0), want, "line 3");
	assert_has(referral_batch_error(b, 0), "at", "line 3");
	snprintf(want, sizeof want, "%s:7: ", path);
	assert_prefix(referral_batch_error(b, 1), want, "line 7");
	assert_has(referral_batch_error(b, 1), "m8", "line 7");
	referral_batch_free(b);
	cr_assert_eq(count_events(), WORLD_EVENTS);

	/* without the bad lines the file goes in: 3 events, CRLF and a last
	 * line without newline included */
	f = fopen(path, "w");
	cr_assert_not_null(f);
	for (int i = 0; text[i]; i++) {
		if (i == 2 || i == 6)
			continue;
		char *j = dq(text[i]);
		fputs(j, f);
		free(j);
	}
	fclose(f);
	cr_assert_eq(referral_batch_begin(st, &b, "-"), REFERRAL_OK);
	cr_assert_eq(referral_batch_add_file(b, path), REFERRAL_OK);
	cr_assert_eq(referral_batch_commit(b), REFERRAL_OK, "%s", referral_batch_error(b, 0));
	cr_assert_eq(referral_batch_ingested(b), 3);
	referral_batch_free(b);
	cr_assert_eq(count_events(), WORLD_EVENTS + 3);
	referral_store_free(st);
}

Test(batch, add_file_missing)
{
	referral_store *st = world();
	referral_batch *b = NULL;
	char path[600];
	snprintf(path, sizeof path, "%s/no-such-file.jsonl", test_tmpdir());

	cr_assert_eq(referral_batch_begin(st, &b, path), REFERRAL_OK);
	cr_assert_eq(referral_batch_add_file(b, path), REFERRAL_EIO);
	assert_has(referral_errmsg(st), "no-such-file.jsonl", "missing file");
	referral_batch_free(b);
	cr_assert_eq(count_events(), WORLD_EVENTS);
	referral_store_free(st);
}

/* ---- 4. late events and booking periods ------------------------------------ */

Test(booking, by_local_period)
{
	referral_store *st = new_store();
	const char *lines[] = {
		/* 2026-01-31T15:59:59Z is 23:59:59 on 01-31 at +08:00: January */
		"{'type':'store','id':'a','at':'2026-01-31T15:59:59Z','name':'a','region':'x'}",
		/* 2026-01-31T16:00:00Z is 00:00 on 02-01 at +08:00: February */
		"{'type':'store','id':'b','at':'2026-01-31T16:00:00Z','name':'b','region':'x'}",
		/* no offset: the plan's +08:00 applies */
		"{'type':'store','id':'c','at':'2026-02-01 00:00:00','name':'c','region':'x'}",
		/* 2025-12-31T16:00Z is 2026-01-01T00:00 local: January */
		"{'type':'store','id':'d','at':'2025-12-31T16:00:00Z','name':'d','region':'x'}",
		/* before start_period (2025-12 local): the earliest open, 2026-01 */
		"{'type':'store','id':'e','at':'2025-12-31T15:59:59Z','name':'e','region':'x'}",
		"{'type':'store','id':'f','at':'2020-06-15T10:00:00+08:00','name':'f','region':'x'}",
		"{'type':'store','id':'g','at':'2026-03-31T23:59:59+08:00','name':'g','region':'x'}",
		NULL
	};
	struct run r = run_lines(st, "p.jsonl", lines);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	cr_assert_eq(booked(REFERRAL_EV_STORE, "a"), P2026_01);
	cr_assert_eq(booked(REFERRAL_EV_STORE, "b"), P2026_02);
	cr_assert_eq(booked(REFERRAL_EV_STORE, "c"), P2026_02);
	cr_assert_eq(booked(REFERRAL_EV_STORE, "d"), P2026_01);
	cr_assert_eq(booked(REFERRAL_EV_STORE, "e"), P2026_01);
	cr_assert_eq(booked(REFERRAL_EV_STORE, "f"), P2026_01);
	cr_assert_eq(booked(REFERRAL_EV_STORE, "g"), P2026_03);
	referral_store_free(st);
}

Test(booking, late_after_close)
{
	referral_store *st = world();
	char open[16];

	cr_assert_eq(booked(REFERRAL_EV_ORDER, "o1"), P2026_01);
	cr_assert_eq(referral_close(st, "2026-01"), REFERRAL_OK, "%s", referral_errmsg(st));
	cr_assert_eq(referral_open_period(st, open, sizeof open), REFERRAL_OK);
	cr_assert_str_eq(open, "2026-02");

	const char *lines[] = {
		/* dated in closed January: booked in 2026-02 */
		"{'type':'order','id':'o2','at':'2026-01-20T10:00:00+08:00','member':'m1','amount':'10.00'}",
		/* before start_period: booked in 2026-02 too */
		"{'type':'store','id':'s0','at':'2025-11-30T10:00:00+08:00','name':'Old','region':'x'}",
		/* February is its own period */
		"{'type':'order','id':'o3','at':'2026-02-10T10:00:00+08:00','member':'m1','amount':'10.00'}",
		/* 01-31T16:00Z is 02-01 local */
		"{'type':'order','id':'o4','at':'2026-01-31T16:00:00Z','member':'m1','amount':'10.00'}",
		/* 01-31T15:59:59Z is still January local: late */
		"{'type':'refund','id':'f4','at':'2026-01-31T15:59:59Z','order':'o1','amount':'1.00'}",
		"{'type':'order','id':'o5','at':'2026-03-02T10:00:00+08:00','member':'m1','amount':'10.00'}",
		NULL
	};
	struct run r = run_lines(st, "late.jsonl", lines);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	cr_assert_eq(booked(REFERRAL_EV_ORDER, "o2"), P2026_02);
	cr_assert_eq(booked(REFERRAL_EV_STORE, "s0"), P2026_02);
	cr_assert_eq(booked(REFERRAL_EV_ORDER, "o3"), P2026_02);
	cr_assert_eq(booked(REFERRAL_EV_ORDER, "o4"), P2026_02);
	cr_assert_eq(booked(REFERRAL_EV_REFUND, "f4"), P2026_02);
	cr_assert_eq(booked(REFERRAL_EV_ORDER, "o5"), P2026_03);
	/* what was booked before the close keeps its period */
	cr_assert_eq(booked(REFERRAL_EV_ORDER, "o1"), P2026_01);
	/* a repeat of a January event after the close is still a duplicate */
	r = run_one(st, WORLD[12]);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	cr_assert_eq(r.duplicates, 1);
	referral_store_free(st);
}

/* The booking period is fixed at ingest by the store's state then, even
 * through another handle on the same file. */
Test(booking, second_handle_sees_the_close)
{
	referral_store *st = world();
	referral_store *other = NULL;

	cr_assert_eq(referral_store_open(&other, db_path), REFERRAL_OK, "%s", referral_errmsg(other));
	cr_assert_eq(referral_close(other, "2026-01"), REFERRAL_OK, "%s", referral_errmsg(other));
	referral_store_free(other);
	struct run r = run_one(st, "{'type':'order','id':'o2','at':'2026-01-20T10:00:00+08:00','member':'m1','amount':'10.00'}");
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	cr_assert_eq(booked(REFERRAL_EV_ORDER, "o2"), P2026_02);
	referral_store_free(st);
}

/* ---- 5. the C-struct path ----------------------------------------------------- */

/* The events of CEVENTS below, as JSON in other but equal notations. */
static const char *const CJSON[] = {
	"{'type':'store','id':'s7','at':'2026-01-07T10:00:00+08:00','name':'Store Seven','region':'north'}",
	"{'type':'store','id':'s8','at':'2026-01-07T02:00:00Z','name':'Store Eight','region':'south'}",
	"{'type':'distributor','id':'D7','at':'2026-01-07T11:00:00+08:00','kind':'practitioner','store':'s7','recruiter':null}",
	"{'type':'distributor','id':'D8','at':'2026-01-07T12:00:00+08:00','kind':'mom','store':'s7','recruiter':'D7'}",
	"{'type':'member','id':'m7','at':'2026-01-07T13:00:00+08:00','distributor':null}",
	"{'type':'member','id':'m8','at':'2026-01-07T13:00:00+08:00','distributor':'D8'}",
	"{'type':'bind','id':'b7','at':'2026-01-08T10:00:00+08:00','member':'m7','distributor':'D7'}",
	"{'type':'share_benefits','id':'sb7','at':'2026-01-08T10:00:00+08:00','from':'m8','to':'m7'}",
	"{'type':'order','id':'o7','at':'2026-01-09T10:00:00+08:00','member':'m8','amount':'50.50'}",
	"{'type':'refund','id':'f7','at':'2026-01-09T11:00:00+08:00','order':'o7','amount':'0.5'}",
	"{'type':'share','id':'sh7','at':'2026-01-09T12:00:00+08:00','distributor':'D7'}",
	"{'type':'share','id':'sh8','at':'2026-01-09T12:00:00+08:00','member':'m7','distributor':null}",
	"{'type':'store_rating','id':'sr7','at':'2026-01-09T12:00:00+08:00','store':'s7','rating':'4.50'}",
	"{'type':'store_change','id':'sc7','at':'2026-01-10T12:00:00+08:00','distributor':'D8','store':'s8'}",
	"{'type':'redeem','id':'rd7','at':'2026-01-10T12:00:00+08:00','member':'m8','points':'10.0'}",
	"{'type':'terminate','id':'t7','at':'2026-01-11T12:00:00+08:00','distributor':'D8'}",
	NULL
};

static void c_events(referral_event *ev, int *n)
{
	const referral_event list[] = {
		{.type = REFERRAL_EV_STORE, .id = "s7", .at = "2026-01-07T10:00:00+08:00", .name = "Store Seven", .region = "north"},
		{.type = REFERRAL_EV_STORE, .id = "s8", .at = "2026-01-07T10:00:00+08:00", .name = "Store Eight", .region = "south"},
		{.type = REFERRAL_EV_DISTRIBUTOR, .id = "D7", .at = "2026-01-07T11:00:00+08:00", .kind = "practitioner", .store = "s7", .recruiter = NULL},
		{.type = REFERRAL_EV_DISTRIBUTOR, .id = "D8", .at = "2026-01-07T12:00:00+08:00", .kind = "mom", .store = "s7", .recruiter = "D7"},
		{.type = REFERRAL_EV_MEMBER, .id = "m7", .at = "2026-01-07T13:00:00+08:00", .distributor = NULL},
		{.type = REFERRAL_EV_MEMBER, .id = "m8", .at = "2026-01-07T13:00:00+08:00", .distributor = "D8"},
		{.type = REFERRAL_EV_BIND, .id = "b7", .at = "2026-01-08T10:00:00+08:00", .member = "m7", .distributor = "D7"},
		{.type = REFERRAL_EV_SHARE_BENEFITS, .id = "sb7", .at = "2026-01-08T10:00:00+08:00", .from = "m8", .to = "m7"},
		{.type = REFERRAL_EV_ORDER, .id = "o7", .at = "2026-01-09T10:00:00+08:00", .member = "m8", .amount = "50.5"},
		{.type = REFERRAL_EV_REFUND, .id = "f7", .at = "2026-01-09T11:00:00+08:00", .order = "o7", .amount = "0.50"},
		{.type = REFERRAL_EV_SHARE, .id = "sh7", .at = "2026-01-09T12:00:00+08:00", .distributor = "D7"},
		{.type = REFERRAL_EV_SHARE, .id = "sh8", .at = "2026-01-09T12:00:00+08:00", .member = "m7"},
		{.type = REFERRAL_EV_STORE_RATING, .id = "sr7", .at = "2026-01-09T12:00:00+08:00", .store = "s7", .rating = "4.5"},
		{.type = REFERRAL_EV_STORE_CHANGE, .id = "sc7", .at = "2026-01-10T12:00:00+08:00", .distributor = "D8", .store = "s8"},
		{.type = REFERRAL_EV_REDEEM, .id = "rd7", .at = "2026-01-10T12:00:00+08:00", .member = "m8", .points = "10"},
		{.type = REFERRAL_EV_TERMINATE, .id = "t7", .at = "2026-01-11T12:00:00+08:00", .distributor = "D8"},
	};
	*n = (int)ARRAY_SIZE(list);
	memcpy(ev, list, sizeof list);
}

static void add_c_events(referral_store *st, long *ingested, long *dups)
{
	referral_event ev[32];
	int n;
	referral_batch *b = NULL;

	c_events(ev, &n);
	cr_assert_eq(referral_batch_begin(st, &b, "c-api"), REFERRAL_OK);
	for (int i = 0; i < n; i++)
		cr_assert_eq(referral_batch_add_event(b, &ev[i], i + 1), REFERRAL_OK, "event %d: %s", i,
			     referral_batch_error(b, referral_batch_error_count(b) - 1));
	cr_assert_eq(referral_batch_commit(b), REFERRAL_OK, "%s", referral_errmsg(st));
	*ingested = referral_batch_ingested(b);
	*dups = referral_batch_duplicates(b);
	referral_batch_free(b);
}

Test(c_path, equals_json_path)
{
	referral_store *st = world();
	long ingested, dups;

	add_c_events(st, &ingested, &dups);
	cr_assert_eq(ingested, 16);
	cr_assert_eq(dups, 0);
	cr_assert_eq(count_events(), WORLD_EVENTS + 16);
	/* the same events as JSON are all duplicates */
	struct run r = run_lines(st, "same.jsonl", CJSON);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	cr_assert_eq(r.ingested, 0);
	cr_assert_eq(r.duplicates, 16);
	/* and the other way round */
	referral_store_free(st);
	st = world();
	r = run_lines(st, "same.jsonl", CJSON);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s", r.err[0]);
	cr_assert_eq(r.ingested, 16);
	add_c_events(st, &ingested, &dups);
	cr_assert_eq(ingested, 0);
	cr_assert_eq(dups, 16);
	cr_assert_eq(count_events(), WORLD_EVENTS + 16);
	referral_store_free(st);
}

/* A distributor without recruiter by C equals "recruiter": null by JSON but
 * conflicts with one that names a recruiter. */
Test(c_path, null_recruiter_is_null)
{
	referral_store *st = world();
	referral_batch *b = NULL;
	referral_event ev = {.type = REFERRAL_EV_DISTRIBUTOR, .id = "R1", .at = "2026-01-02T09:00:00+08:00",
			     .kind = "mom", .store = "s1"};

	cr_assert_eq(referral_batch_begin(st, &b, "c"), REFERRAL_OK);
	cr_assert_eq(referral_batch_add_event(b, &ev, 1), REFERRAL_OK);
	cr_assert_eq(referral_batch_duplicates(b), 1);
	ev.id = "D1";
	ev.kind = "doctor";
	ev.at = "2026-01-03T09:00:00+08:00";
	cr_assert_eq(referral_batch_add_event(b, &ev, 2), REFERRAL_ESTATE);
	assert_prefix(referral_batch_error(b, 0), "c:2: ", "D1 without recruiter");
	assert_has(referral_batch_error(b, 0), "D1", "D1 without recruiter");
	cr_assert_eq(referral_batch_commit(b), REFERRAL_ESTATE);
	referral_batch_free(b);

	/* a member with NULL distributor is unbound: she can be bound later */
	cr_assert_eq(referral_batch_begin(st, &b, "c"), REFERRAL_OK);
	referral_event m = {.type = REFERRAL_EV_MEMBER, .id = "m9", .at = "2026-01-11T10:00:00+08:00"};
	referral_event bind = {.type = REFERRAL_EV_BIND, .id = "b9", .at = "2026-01-12T10:00:00+08:00",
			       .member = "m9", .distributor = "D1"};
	cr_assert_eq(referral_batch_add_event(b, &m, 1), REFERRAL_OK);
	cr_assert_eq(referral_batch_add_event(b, &bind, 2), REFERRAL_OK,
		     "%s", referral_batch_error(b, 0));
	cr_assert_eq(referral_batch_commit(b), REFERRAL_OK);
	referral_batch_free(b);
	struct run r = run_one(st, "{'type':'member','id':'m9','at':'2026-01-11T10:00:00+08:00','distributor':null}");
	cr_assert_eq(r.duplicates, 1, "%s", r.err[0]);
	referral_store_free(st);
}

struct c_reject_row {
	char name[48];
	referral_event ev;   /* pointers to literals of this file */
	char culprit[24];
};

/* Rejections through the C path: the same rules, the same messages. */
Test(c_path, rejections)
{
	const struct c_reject_row rows[] = {
		{"order without amount", {.type = REFERRAL_EV_ORDER, .id = "o9", .at = "2026-01-11T10:00:00+08:00", .member = "m1"}, "amount"},
		{"order amount -1", {.type = REFERRAL_EV_ORDER, .id = "o9", .at = "2026-01-11T10:00:00+08:00", .member = "m1", .amount = "-1"}, "amount"},
		{"order amount 1e2", {.type = REFERRAL_EV_ORDER, .id = "o9", .at = "2026-01-11T10:00:00+08:00", .member = "m1", .amount = "1e2"}, "amount"},
		{"order without id", {.type = REFERRAL_EV_ORDER, .at = "2026-01-11T10:00:00+08:00", .member = "m1", .amount = "1"}, "id"},
		{"order without at", {.type = REFERRAL_EV_ORDER, .id = "o9", .member = "m1", .amount = "1"}, "at"},
		{"order hour 24", {.type = REFERRAL_EV_ORDER, .id = "o9", .at = "2026-01-11T24:00:00+08:00", .member = "m1", .amount = "1"}, "at"},
		{"store name 0xff", {.type = REFERRAL_EV_STORE, .id = "s9", .at = "2026-01-11T10:00:00+08:00", .name = "Caf\xff", .region = "x"}, "name"},
		{"store region overlong", {.type = REFERRAL_EV_STORE, .id = "s9", .at = "2026-01-11T10:00:00+08:00", .name = "x", .region = "\xc0\xaf"}, "region"},
		{"store without region", {.type = REFERRAL_EV_STORE, .id = "s9", .at = "2026-01-11T10:00:00+08:00", .name = "x"}, "region"},
		{"share naming both", {.type = REFERRAL_EV_SHARE, .id = "sh9", .at = "2026-01-11T10:00:00+08:00", .distributor = "D1", .member = "m1"}, "sh9"},
		{"share naming neither", {.type = REFERRAL_EV_SHARE, .id = "sh9", .at = "2026-01-11T10:00:00+08:00"}, "sh9"},
		{"bind without distributor", {.type = REFERRAL_EV_BIND, .id = "b9", .at = "2026-01-11T10:00:00+08:00", .member = "m2"}, "distributor"},
		{"redeem 100.01", {.type = REFERRAL_EV_REDEEM, .id = "r9", .at = "2026-01-11T10:00:00+08:00", .member = "m1", .points = "100.01"}, "100.01"},
		{"kind nurse", {.type = REFERRAL_EV_DISTRIBUTOR, .id = "D9", .at = "2026-01-11T10:00:00+08:00", .kind = "nurse", .store = "s1"}, "kind"},
		{"id with space", {.type = REFERRAL_EV_STORE, .id = "s 9", .at = "2026-01-11T10:00:00+08:00", .name = "x", .region = "x"}, "id"},
		{"unknown member", {.type = REFERRAL_EV_ORDER, .id = "o9", .at = "2026-01-11T10:00:00+08:00", .member = "m9", .amount = "1"}, "m9"},
		{"type 0", {.type = 0, .id = "o9", .at = "2026-01-11T10:00:00+08:00"}, "type"},
		{"type 13", {.type = 13, .id = "o9", .at = "2026-01-11T10:00:00+08:00"}, "type"},
	};
	referral_store *st = world();

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		referral_batch *b = NULL;
		referral_event good = {.type = REFERRAL_EV_STORE, .id = "sb", .at = "2026-01-02T10:00:00+08:00",
				       .name = "Batch", .region = "x"};
		cr_assert_eq(referral_batch_begin(st, &b, "c-api"), REFERRAL_OK);
		cr_assert_eq(referral_batch_add_event(b, &good, 1), REFERRAL_OK);
		cr_assert_eq(referral_batch_add_event(b, &rows[i].ev, 2), REFERRAL_EINPUT, "%s",
			     rows[i].name);
		cr_assert_eq(referral_batch_commit(b), REFERRAL_EINPUT, "%s", rows[i].name);
		cr_assert_eq(referral_batch_error_count(b), 1, "%s", rows[i].name);
		assert_prefix(referral_batch_error(b, 0), "c-api:2: ", rows[i].name);
		assert_has(referral_batch_error(b, 0), rows[i].culprit, rows[i].name);
		referral_batch_free(b);
		cr_assert_eq(count_events(), WORLD_EVENTS, "%s", rows[i].name);
	}
	referral_store_free(st);
}

/* The usage errors of the batch calls. */
Test(c_path, usage)
{
	referral_store *st = world();
	referral_batch *b = NULL, *b2 = (referral_batch *)1;

	cr_assert_eq(referral_batch_begin(st, &b, "x"), REFERRAL_OK);
	cr_assert_eq(referral_batch_begin(st, &b2, "y"), REFERRAL_EUSAGE, "a second batch on one store");
	cr_assert_null(b2);
	cr_assert_eq(referral_batch_add_event(b, NULL, 1), REFERRAL_EUSAGE);
	cr_assert_eq(referral_batch_commit(b), REFERRAL_OK);
	cr_assert_eq(referral_batch_commit(b), REFERRAL_EUSAGE, "committed twice");
	char *j = dq(LINE1);
	cr_assert_eq(referral_batch_add_json(b, j, strlen(j), 1), REFERRAL_EUSAGE);
	free(j);
	referral_batch_free(b);
	referral_batch_free(NULL);
	cr_assert_eq(referral_batch_begin(st, NULL, "x"), REFERRAL_EUSAGE);
	cr_assert_eq(referral_batch_begin(NULL, &b, "x"), REFERRAL_EUSAGE);
	cr_assert_eq(referral_batch_ingested(NULL), 0);
	cr_assert_null(referral_batch_error(NULL, 0));
	cr_assert_eq(count_events(), WORLD_EVENTS);
	referral_store_free(st);
}

/* ---- the id cache of a large batch ----------------------------------------- */

/*
 * A batch resolves references through SQLite until it has looked up
 * IDCACHE_MIN_LOOKUPS ids of a type (the minimum on a store as small as
 * WORLD), and from then on through an in-memory cache of every id of the
 * type: the ones in the store, the batch's earlier lines, and each line it
 * adds. These batches start with BIG lines that each look up one id of the
 * type, so that every line after them runs with the cache on.
 */
#define BIG (IDCACHE_MIN_LOOKUPS + 8)

/* A growing NULL-terminated array of malloc'd lines (' for "). */
struct lines {
	char *v[3 * BIG];
	int n;
};

static void add_line(struct lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_line(struct lines *l, const char *fmt, ...)
{
	va_list ap;
	char buf[300];

	cr_assert_lt(l->n + 1, (int)ARRAY_SIZE(l->v));
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	l->v[l->n] = strdup(buf);
	cr_assert_not_null(l->v[l->n]);
	l->v[++l->n] = NULL;
}

/* Adds the lines of a NULL-terminated table. */
static void add_table(struct lines *l, const char *const *table)
{
	for (int i = 0; table[i]; i++)
		add_line(l, "%s", table[i]);
}

/* Runs the lines as the batch "big.jsonl" and empties them. */
static struct run run_big(referral_store *st, struct lines *l)
{
	struct run r = run_lines(st, "big.jsonl", (const char *const *)l->v);
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
	return r;
}

/* The commit's status, the bad lines and the duplicates of a batch. */
static void assert_outcome(const struct run *r, int rc, long nerrors, long duplicates)
{
	cr_assert_eq(r->rc, rc, "%s / %s", r->errmsg, r->err[0]);
	cr_assert_eq(r->nerrors, nerrors);
	cr_assert_eq(r->duplicates, duplicates);
}

/* Lines 1..BIG: new unbound members bm0, bm1, ..., then bmy and bmz, which
 * come after the cache was built (each of these lines looks its own key up:
 * a member is checked for a stored twin before its rules). */
static void add_big_members(struct lines *l)
{
	for (int i = 0; i < BIG - 2; i++)
		add_line(l, "{'type':'member','id':'bm%d','at':'2026-01-05T09:00:00+08:00','distributor':null}", i);
	add_line(l, "{'type':'member','id':'bmy','at':'2026-01-05T09:00:00+08:00','distributor':null}");
	add_line(l, "{'type':'member','id':'bmz','at':'2026-01-05T09:00:00+08:00','distributor':null}");
}

/* The recorded error i is exactly "big.jsonl:LINE: MESSAGE". */
static void assert_error(const struct run *r, int i, int line, const char *message)
{
	char want[600];
	snprintf(want, sizeof want, "big.jsonl:%d: %s", line, message);
	cr_assert_str_eq(r->err[i], want, "error %d", i);
}

/* Lines BIG+1 ... of members_rejected_batch: +1..+3 name members loaded
 * with the cache, added after it, and in the store; +4 is a rejected member
 * and +5 an order naming her; +6..+9 are a duplicate and a conflict of a
 * stored id, then of a batch id; +10 names a member nobody ever made. */
static const char *const MEMBERS_BAD_TAIL[] = {
	"{'type':'order','id':'co1','at':'2026-01-06T10:00:00+08:00','member':'bm5','amount':'10.00'}",
	"{'type':'order','id':'co2','at':'2026-01-06T10:00:00+08:00','member':'bmz','amount':'10.00'}",
	"{'type':'order','id':'co3','at':'2026-01-06T10:00:00+08:00','member':'m1','amount':'10.00'}",
	"{'type':'member','id':'bx','at':'2026-01-05T09:00:00+08:00','distributor':'nobody'}",
	"{'type':'order','id':'co4','at':'2026-01-06T10:00:00+08:00','member':'bx','amount':'10.00'}",
	"{'type':'member','id':'m2','at':'2026-01-04T09:00:00+08:00','distributor':null}",
	"{'type':'member','id':'m3','at':'2026-01-04T10:00:00+08:00','distributor':null}",
	"{'type':'member','id':'bm7','at':'2026-01-05T09:00:00+08:00','distributor':null}",
	"{'type':'member','id':'bmy','at':'2026-01-05T09:00:00+08:00','distributor':'D1'}",
	"{'type':'order','id':'co5','at':'2026-01-06T10:00:00+08:00','member':'ghost','amount':'10.00'}",
	NULL
};

/* Members: references to ids the store holds, to ids loaded with the cache
 * and to ids added after it; a rejected line's member; duplicates and
 * conflicts of stored and batch ids; a missing id; and the rolled-back
 * batch's ids unknown to the next one. */
Test(idcache, members_rejected_batch)
{
	referral_store *st = world();
	struct lines l = {0};

	add_big_members(&l);
	add_table(&l, MEMBERS_BAD_TAIL);
	struct run r = run_big(st, &l);

	assert_outcome(&r, REFERRAL_EINPUT, 5, 2); /* m2 and bm7 repeated identically */
	assert_error(&r, 0, BIG + 4, "member \"bx\": distributor \"nobody\" does not exist");
	assert_error(&r, 1, BIG + 5, "order \"co4\": member \"bx\" does not exist");
	assert_error(&r, 2, BIG + 7,
		     "member \"m3\": conflicts with the member \"m3\" already stored (different at)");
	assert_error(&r, 3, BIG + 9,
		     "member \"bmy\": conflicts with the member \"bmy\" already stored (different distributor)");
	assert_error(&r, 4, BIG + 10, "order \"co5\": member \"ghost\" does not exist");
	cr_assert_eq(count_events(), WORLD_EVENTS);

	/* the rolled-back members are unknown to the next batch */
	r = run_one(st, "{'type':'order','id':'co6','at':'2026-01-06T10:00:00+08:00','member':'bm5','amount':'10.00'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	cr_assert_str_eq(r.err[0], "one.jsonl:1: order \"co6\": member \"bm5\" does not exist");
	cr_assert_eq(count_events(), WORLD_EVENTS);
	referral_store_free(st);
}

/* A good batch with the cache on commits everything; the next batch builds
 * its cache afresh from the store and finds the committed ids there. */
Test(idcache, members_committed_then_next_batch)
{
	static const char *const tail[] = {
		"{'type':'order','id':'co1','at':'2026-01-06T10:00:00+08:00','member':'bm5','amount':'10.00'}",
		"{'type':'order','id':'co2','at':'2026-01-06T10:00:00+08:00','member':'bmz','amount':'10.00'}",
		"{'type':'member','id':'m2','at':'2026-01-04T09:00:00+08:00','distributor':null}",
		"{'type':'member','id':'bm7','at':'2026-01-05T09:00:00+08:00','distributor':null}",
		NULL
	};
	static const char *const again[] = {
		"{'type':'order','id':'co3','at':'2026-01-06T10:00:00+08:00','member':'bmz','amount':'10.00'}",
		NULL
	};
	referral_store *st = world();
	struct lines l = {0};

	add_big_members(&l);
	add_table(&l, tail);
	struct run r = run_big(st, &l);
	assert_outcome(&r, REFERRAL_OK, 0, 2);
	cr_assert_eq(r.ingested, BIG + 2);
	cr_assert_eq(count_events(), WORLD_EVENTS + BIG + 2);

	/* the same members again are all duplicates; an order names the last */
	add_big_members(&l);
	add_table(&l, again);
	r = run_big(st, &l);
	assert_outcome(&r, REFERRAL_OK, 0, BIG);
	cr_assert_eq(r.ingested, 1);
	cr_assert_eq(count_events(), WORLD_EVENTS + BIG + 3);
	referral_store_free(st);
}

/* Lines 2*BIG+1 ... of orders_rejected_batch: +1, +2 repeat a batch order
 * and a stored one, +3, +4 conflict with them; +5 is a rejected order and +6
 * a refund naming it; +7 is an order added after the cache was built and +8
 * its refund; +9 refunds a stored order; +10 names an order nobody made. */
static const char *const ORDERS_BAD_TAIL[] = {
	"{'type':'order','id':'bo3','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'10.00'}",
	"{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'100.00'}",
	"{'type':'order','id':'bo4','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'11.00'}",
	"{'type':'order','id':'o1','at':'2026-01-10T12:00:00+08:00','member':'m1','amount':'99.00'}",
	"{'type':'order','id':'bz','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'0.00'}",
	"{'type':'refund','id':'brz','at':'2026-01-12T10:00:00+08:00','order':'bz','amount':'1.00'}",
	"{'type':'order','id':'bn','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'10.00'}",
	"{'type':'refund','id':'brn','at':'2026-01-12T10:00:00+08:00','order':'bn','amount':'10.00'}",
	"{'type':'refund','id':'bro1','at':'2026-01-12T10:00:00+08:00','order':'o1','amount':'5.00'}",
	"{'type':'refund','id':'brx','at':'2026-01-12T10:00:00+08:00','order':'nothing','amount':'1.00'}",
	NULL
};

/* Orders, whose duplicates are found by the insert: BIG orders bo0, ...
 * then a refund of each (each refund looks its order up). */
Test(idcache, orders_rejected_batch)
{
	referral_store *st = world();
	struct lines l = {0};
	const int n = 2 * BIG;

	for (int i = 0; i < BIG; i++)
		add_line(&l, "{'type':'order','id':'bo%d','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'10.00'}", i);
	for (int i = 0; i < BIG; i++)
		add_line(&l, "{'type':'refund','id':'br%d','at':'2026-01-12T10:00:00+08:00','order':'bo%d','amount':'1.00'}", i, i);
	add_table(&l, ORDERS_BAD_TAIL);
	struct run r = run_big(st, &l);

	assert_outcome(&r, REFERRAL_EINPUT, 5, 2); /* bo3 and o1 repeated identically */
	assert_error(&r, 0, n + 3,
		     "order \"bo4\": conflicts with the order \"bo4\" already stored (different amount)");
	assert_error(&r, 1, n + 4,
		     "order \"o1\": conflicts with the order \"o1\" already stored (different amount)");
	assert_error(&r, 2, n + 5,
		     "order \"bz\": field \"amount\": expected an amount greater than 0, got \"0.00\"");
	assert_error(&r, 3, n + 6, "refund \"brz\": order \"bz\" does not exist");
	assert_error(&r, 4, n + 10, "refund \"brx\": order \"nothing\" does not exist");
	cr_assert_eq(count_events(), WORLD_EVENTS);

	r = run_one(st, "{'type':'refund','id':'br0','at':'2026-01-12T10:00:00+08:00','order':'bo0','amount':'1.00'}");
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	cr_assert_str_eq(r.err[0], "one.jsonl:1: refund \"br0\": order \"bo0\" does not exist");
	referral_store_free(st);
}

/* ---- the two JSON readers --------------------------------------------------- */

/*
 * A plain line (a flat object of known keys with ASCII strings or null) is
 * read without jansson; any other goes through jansson. Both must read the
 * same event: each line of the first batch takes one path, and the plain
 * form of each in the second batch is an identical repeat.
 */
Test(json_readers, same_event_either_way)
{
	static const char *const forms[] = {
		"{'type':'order','id':'p1','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}",
		" { 'type' : 'order' ,\t'id' : 'p2' , 'at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00' } \r\n",
		"{'type':'order','id':'p\\u0033','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}",
		"{'type':'order','id':'p4','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00','note':'x'}",
		"{'id':'p5','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00','type':'order'}",
		"{'type':'order','id':'p6','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00','n':1}",
		"{'type':'store','id':'p7','at':'2026-01-02T10:00:00+08:00','name':'A\\/B','region':'x'}",
		"{'type':'member','id':'p8','at':'2026-01-11T10:00:00+08:00','distributor':null}",
		NULL
	};
	static const char *const plain[] = {
		"{'type':'order','id':'p1','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}",
		"{'type':'order','id':'p2','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}",
		"{'type':'order','id':'p3','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}",
		"{'type':'order','id':'p4','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}",
		"{'type':'order','id':'p5','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}",
		"{'type':'order','id':'p6','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}",
		"{'type':'store','id':'p7','at':'2026-01-02T10:00:00+08:00','name':'A/B','region':'x'}",
		"{'distributor':null,'type':'member','id':'p8','at':'2026-01-11T10:00:00+08:00'}",
		NULL
	};
	referral_store *st = world();

	struct run r = run_lines(st, "x.jsonl", forms);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s / %s", r.errmsg, r.err[0]);
	cr_assert_eq(r.ingested, 8);
	r = run_lines(st, "x.jsonl", plain);
	cr_assert_eq(r.rc, REFERRAL_OK, "%s / %s", r.errmsg, r.err[0]);
	cr_assert_eq(r.ingested, 0);
	cr_assert_eq(r.duplicates, 8);
	referral_store_free(st);
}

/* Lines the plain reader declines keep jansson's verdicts. */
Test(json_readers, declined_lines_keep_their_messages)
{
	static const char *const lines[] = {
		"{'type':'order','id':'q1','id':'q2','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}",
		"{'type':'order','type':'order','id':'q3','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'}",
		"{'type':null,'id':'q4'}",
		"{'type':'orders','id':'q5'}",
		"{'type':'order','id':'q6','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00'} x",
		"{'type':'order','id':'q7','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':1}",
		"{'type':'order','id':'q8','at':'2026-01-11T10:00:00+08:00','member':'m1','amount':'1.00',}",
		NULL
	};
	referral_store *st = world();

	struct run r = run_lines(st, "x.jsonl", lines);
	cr_assert_eq(r.rc, REFERRAL_EINPUT);
	cr_assert_eq(r.nerrors, 7);
	assert_prefix(r.err[0], "x.jsonl:1: invalid JSON at column ", "repeated id");
	assert_has(r.err[0], "duplicate object key", "repeated id");
	assert_prefix(r.err[1], "x.jsonl:2: invalid JSON at column ", "repeated type");
	assert_has(r.err[1], "duplicate object key", "repeated type");
	cr_assert_str_eq(r.err[2], "x.jsonl:3: field \"type\": expected a string");
	cr_assert_str_eq(r.err[3], "x.jsonl:4: unknown event type \"orders\"");
	assert_prefix(r.err[4], "x.jsonl:5: invalid JSON at column ", "trailing text");
	cr_assert_str_eq(r.err[5], "x.jsonl:6: order \"q7\": field \"amount\": expected a string of "
				   "digits with up to 2 decimals, like \"12.34\", got 1");
	assert_prefix(r.err[6], "x.jsonl:7: invalid JSON at column ", "trailing comma");
	cr_assert_eq(count_events(), WORLD_EVENTS);
	referral_store_free(st);
}

/* The cache itself: short ids (kept in their slots), ids of 16 to 255
 * bytes (kept in the arena), added one by one and through a loader, across
 * several growths of the table. */
Test(idcache, map)
{
	struct idcache c = {0};
	struct idcache_loader l = {.c = &c};
	char id[300];
	int64_t seq, at;
	const int n = 5000;

	/* id i: "k" and i, padded with 'x' to 1 + i % 100 bytes at least */
	for (int i = 0; i < n; i++) {
		int len = snprintf(id, sizeof id, "k%d", i);
		while (len < 1 + i % 100)
			id[len++] = 'x';
		if (i % 2)
			cr_assert_eq(idcache_put(&c, id, (size_t)len, i + 1, -i), 0);
		else
			cr_assert_eq(idcache_load(&l, id, (size_t)len, i + 1, -i), 0);
	}
	cr_assert_eq(idcache_load_end(&l), 0);
	cr_assert_eq(idcache_put(&c, "long", 4, 9999, 1), 0);
	memset(id, 'y', 255);
	cr_assert_eq(idcache_put(&c, id, 255, 10000, 2), 0);
	cr_assert_eq(c.len, (size_t)n + 2);

	for (int i = 0; i < n; i++) {
		int digits = snprintf(id, sizeof id, "k%d", i), len = digits;
		while (len < 1 + i % 100)
			id[len++] = 'x';
		cr_assert_eq(idcache_get(&c, id, (size_t)len, &seq, &at), 1, "id %d", i);
		cr_assert_eq(seq, i + 1);
		cr_assert_eq(at, -i);
		/* one 'x' more, or one less when it has some, is no id */
		id[len] = 'x';
		cr_assert_eq(idcache_get(&c, id, (size_t)len + 1, &seq, &at), 0, "id %d longer", i);
		if (len > digits)
			cr_assert_eq(idcache_get(&c, id, (size_t)len - 1, &seq, &at), 0, "id %d shorter", i);
	}
	memset(id, 'y', 255);
	cr_assert_eq(idcache_get(&c, id, 255, &seq, &at), 1);
	cr_assert_eq(seq, 10000);
	cr_assert_eq(idcache_get(&c, id, 254, &seq, &at), 0);
	cr_assert_eq(idcache_get(&c, "long", 4, &seq, &at), 1);
	cr_assert_eq(seq, 9999);
	cr_assert_eq(idcache_get(&c, "k", 1, &seq, &at), 0);
	cr_assert_eq(idcache_put(&c, "zero", 4, 0, 0), -1, "seq 0 marks an empty slot");
	idcache_free(&c);
	cr_assert_eq(idcache_get(&c, "long", 4, &seq, &at), 0);
}

/* Reading a file, a batch builds a cache as soon as the rest of the file
 * promises enough lookups. A store of 16 * 1,100 members more than WORLD
 * puts the threshold for members at 1,100 lookups, and the file's 1,100
 * orders (lines 1 to 1,100) reach it by projection at line 1,024; the
 * lines after them need the cache to be exact. */
Test(idcache, file_batch)
{
	static const char *const tail[] = {
		"{'type':'member','id':'late','at':'2026-01-05T09:00:00+08:00','distributor':null}",
		"{'type':'order','id':'fo-late','at':'2026-01-06T10:00:00+08:00','member':'late','amount':'1.00'}",
		"{'type':'member','id':'bx','at':'2026-01-05T09:00:00+08:00','distributor':'nobody'}",
		"{'type':'order','id':'fo-bx','at':'2026-01-06T10:00:00+08:00','member':'bx','amount':'1.00'}",
		"{'type':'order','id':'fo-ghost','at':'2026-01-06T10:00:00+08:00','member':'ghost','amount':'1.00'}",
		"{'type':'member','id':'fm7','at':'2026-01-05T09:00:00+08:00','distributor':null}",
		NULL
	};
	const int members = 16 * 1100, orders = 1100;
	referral_store *st = world();
	referral_batch *b = NULL;
	char line[200];

	cr_assert_eq(referral_batch_begin(st, &b, "members"), REFERRAL_OK);
	for (int i = 0; i < members; i++) {
		int n = snprintf(line, sizeof line, "{\"type\":\"member\",\"id\":\"fm%d\","
				 "\"at\":\"2026-01-05T09:00:00+08:00\",\"distributor\":null}", i);
		cr_assert_eq(referral_batch_add_json(b, line, (size_t)n, i + 1), REFERRAL_OK);
	}
	cr_assert_eq(referral_batch_commit(b), REFERRAL_OK, "%s", referral_errmsg(st));
	referral_batch_free(b);

	char path[600];
	snprintf(path, sizeof path, "%s/file_batch%d.jsonl", test_tmpdir(), (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < orders; i++)
		fprintf(f, "{\"type\":\"order\",\"id\":\"fo%d\",\"at\":\"2026-01-06T10:00:00+08:00\","
			   "\"member\":\"fm%d\",\"amount\":\"1.00\"}\n", i, i);
	for (int i = 0; tail[i]; i++) {
		char *j = dq(tail[i]);
		fprintf(f, "%s\n", j);
		free(j);
	}
	cr_assert_eq(fclose(f), 0);

	cr_assert_eq(referral_batch_begin(st, &b, "big.jsonl"), REFERRAL_OK);
	cr_assert_eq(referral_batch_add_file(b, path), REFERRAL_OK, "%s", referral_errmsg(st));
	cr_assert_eq(referral_batch_commit(b), REFERRAL_EINPUT);
	cr_assert_eq(referral_batch_error_count(b), 3);
	cr_assert_eq(referral_batch_duplicates(b), 1, "fm7 repeated identically");
	char want[300];
	snprintf(want, sizeof want, "big.jsonl:%d: member \"bx\": distributor \"nobody\" does not exist",
		 orders + 3);
	cr_assert_str_eq(referral_batch_error(b, 0), want);
	snprintf(want, sizeof want, "big.jsonl:%d: order \"fo-bx\": member \"bx\" does not exist",
		 orders + 4);
	cr_assert_str_eq(referral_batch_error(b, 1), want);
	snprintf(want, sizeof want, "big.jsonl:%d: order \"fo-ghost\": member \"ghost\" does not exist",
		 orders + 5);
	cr_assert_str_eq(referral_batch_error(b, 2), want);
	referral_batch_free(b);
	remove(path);
	cr_assert_eq(count_events(), WORLD_EVENTS + members);
	referral_store_free(st);
}
