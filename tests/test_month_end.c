/*
 * test_month_end.c — the C API of the month end as people read it: export
 * options, the filter on distributors, explain and the report, on the
 * worked example (tests/fixtures/basic; figures by hand in its NOTES.md),
 * and every way such a call refuses or fails without leaking.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <referral/referral.h>

#include "support.h"

struct sink {
	char *data;
	size_t len;
	int fail_after; /* fails the call after this many pieces; -1 never */
};

static int sink_write(void *ctx, const char *data, size_t len)
{
	struct sink *s = ctx;
	if (s->fail_after == 0)
		return 1;
	if (s->fail_after > 0)
		s->fail_after--;
	char *p = realloc(s->data, s->len + len + 1);
	if (!p)
		return 1;
	memcpy(p + s->len, data, len);
	s->len += len;
	p[s->len] = '\0';
	s->data = p;
	return 0;
}

static void ingest(referral_store *st, const char *name)
{
	char path[1024];
	referral_batch *b;
	snprintf(path, sizeof path, "%s/basic/%s", REFERRAL_FIXTURES_DIR, name);
	cr_assert_eq(referral_batch_begin(st, &b, path), REFERRAL_OK);
	cr_assert_eq(referral_batch_add_file(b, path), REFERRAL_OK);
	cr_assert_eq(referral_batch_commit(b), REFERRAL_OK, "%s", referral_errmsg(st));
	referral_batch_free(b);
}

/* The worked example, its three months closed. */
static referral_store *basic(void)
{
	referral_store *st;
	char *plan = test_reference_plan();
	cr_assert_eq(referral_store_create(&st, test_db_path(), plan), REFERRAL_OK);
	free(plan);
	ingest(st, "batch1.jsonl");
	cr_assert_eq(referral_close(st, "2026-01"), REFERRAL_OK);
	ingest(st, "batch2.jsonl");
	cr_assert_eq(referral_close(st, "2026-02"), REFERRAL_OK);
	ingest(st, "batch3.jsonl");
	cr_assert_eq(referral_close(st, "2026-03"), REFERRAL_OK);
	return st;
}

Test(export_options, init_knows_its_version_only)
{
	referral_export_options o;
	cr_expect_eq(referral_export_options_init(&o, REFERRAL_EXPORT_OPTIONS_VERSION), REFERRAL_OK);
	cr_expect_eq(o.version, 1u);
	cr_expect_null(o.period);
	cr_expect_eq(o.ndistributors, 0);
	cr_expect_eq(referral_export_options_init(&o, 2), REFERRAL_EUSAGE);
	cr_expect_eq(referral_export_options_init(NULL, 1), REFERRAL_EUSAGE);
	referral_export_options i = REFERRAL_EXPORT_OPTIONS_INIT;
	cr_expect_eq(i.version, 1u);
}

Test(export_options, one_distributor_of_the_cursor)
{
	referral_store *st = basic();
	const char *ids[] = {"R1"};
	referral_export_options o = REFERRAL_EXPORT_OPTIONS_INIT;
	o.distributors = ids;
	o.ndistributors = 1;
	o.period = "2026-02";
	referral_rows *r;
	cr_assert_eq(referral_rows_open_ext(st, &r, "lines", &o), REFERRAL_OK, "%s",
		     referral_errmsg(st));
	/* February, by hand: R1 gives back 0.01 x 50.00 */
	cr_assert_eq(referral_rows_next(r), 1);
	cr_expect_str_eq(referral_rows_value(r, 1), "R1");
	cr_expect_str_eq(referral_rows_value(r, 9), "-0.50");
	cr_expect_eq(referral_rows_next(r), 0);
	referral_rows_free(r);

	o.version = 7;
	cr_expect_eq(referral_rows_open_ext(st, &r, "lines", &o), REFERRAL_EUSAGE);
	cr_expect_null(r);
	o.version = REFERRAL_EXPORT_OPTIONS_VERSION;
	cr_expect_eq(referral_rows_open_ext(st, &r, "stores", &o), REFERRAL_EUSAGE);
	ids[0] = "nobody";
	cr_expect_eq(referral_rows_open_ext(st, &r, "statements", &o), REFERRAL_EINPUT);
	cr_expect_str_eq(referral_errmsg(st), "distributor \"nobody\" does not exist");
	o.distributors = NULL;
	cr_expect_eq(referral_rows_open_ext(st, &r, "statements", &o), REFERRAL_EUSAGE);
	/* NULL options are the defaults */
	cr_assert_eq(referral_rows_open_ext(st, &r, "tree", NULL), REFERRAL_OK);
	cr_expect_eq(referral_rows_columns(r), 6);
	cr_expect(referral_rows_column_is_number(r, 2)); /* depth */
	cr_assert_eq(referral_rows_next(r), 1);
	cr_expect_str_eq(referral_rows_value(r, 0), "R1");
	referral_rows_free(r);
	referral_store_free(st);
}

Test(export_options, bom_and_dot)
{
	referral_store *st = basic();
	referral_export_options o = REFERRAL_EXPORT_OPTIONS_INIT;
	struct sink s = {NULL, 0, -1};
	o.bom = 1;
	cr_assert_eq(referral_export_ext(st, "stores", &o, sink_write, &s), REFERRAL_OK);
	cr_expect_str_eq(s.data, "\xEF\xBB\xBFstore,name,region,rating\ns1,Store One,east,\n");
	free(s.data);
	s = (struct sink){NULL, 0, -1};
	o.bom = 0;
	o.format = "dot";
	cr_expect_eq(referral_export_ext(st, "statements", &o, sink_write, &s), REFERRAL_EUSAGE);
	cr_assert_eq(referral_export_ext(st, "tree", &o, sink_write, &s), REFERRAL_OK);
	cr_expect(strstr(s.data, "\"R1\" -> \"D1\";\n") != NULL);
	free(s.data);
	referral_store_free(st);
}

Test(explain, words_and_json_of_a_month)
{
	referral_store *st = basic();
	struct sink s = {NULL, 0, -1};
	/* March, D1: 2000.00 x 0.05 = 100.00; -50.0015 + 100.00 = 49.9985 -> 50.00 */
	cr_assert_eq(referral_explain(st, "D1", "2026-03", NULL, sink_write, &s), REFERRAL_OK, "%s",
		     referral_errmsg(st));
	cr_expect(strstr(s.data, "commission: 2000.00 x 0.05 = 100.00\n") != NULL, "%s", s.data);
	cr_expect(strstr(s.data, "Total: carried -50.0015 + released 100.00 = 49.9985\n") != NULL);
	cr_expect(strstr(s.data, "Carried to next month: total 49.9985 - payable 50.00 = -0.0015\n"));
	free(s.data);
	s = (struct sink){NULL, 0, -1};
	cr_assert_eq(referral_explain(st, "D1", "2026-03", "json", sink_write, &s), REFERRAL_OK);
	cr_expect(strstr(s.data, "\"payable\": \"50.00\"") != NULL, "%s", s.data);
	free(s.data);
	referral_store_free(st);
}

Test(explain, refusals)
{
	referral_store *st = basic();
	struct sink s = {NULL, 0, -1};
	cr_expect_eq(referral_explain(NULL, "D1", "2026-03", NULL, sink_write, &s), REFERRAL_EUSAGE);
	cr_expect_eq(referral_explain(st, NULL, "2026-03", NULL, sink_write, &s), REFERRAL_EUSAGE);
	cr_expect_eq(referral_explain(st, "D1", "2026-03", NULL, NULL, &s), REFERRAL_EUSAGE);
	cr_expect_eq(referral_explain(st, "D1", "2026-03", "csv", sink_write, &s), REFERRAL_EUSAGE);
	cr_expect_eq(referral_explain(st, "D1", "March", NULL, sink_write, &s), REFERRAL_EUSAGE);
	cr_expect_eq(referral_explain(st, "D9", "2026-03", NULL, sink_write, &s), REFERRAL_EINPUT);
	cr_expect_eq(referral_explain(st, "D1", "2026-04", NULL, sink_write, &s), REFERRAL_ESTATE);
	s.fail_after = 0;
	cr_expect_eq(referral_explain(st, "D1", "2026-03", NULL, sink_write, &s), REFERRAL_EIO);
	cr_expect_null(s.data);
	referral_store_free(st);
}

Test(report, a_page_and_its_refusals)
{
	referral_store *st = basic();
	struct sink s = {NULL, 0, -1};
	cr_assert_eq(referral_report(st, "2026-03", sink_write, &s), REFERRAL_OK, "%s",
		     referral_errmsg(st));
	cr_expect_eq(strncmp(s.data, "<!DOCTYPE html>\n", 16), 0);
	cr_expect(strstr(s.data, "<td>D1</td><td>s1</td><td>Store One</td><td class=\"n\">50.00</td>"
				 "<td class=\"n\">0.00</td><td class=\"n\">50.00</td>") != NULL);
	cr_expect(strstr(s.data, "</html>\n") != NULL);
	free(s.data);
	s = (struct sink){NULL, 0, 0};
	cr_expect_eq(referral_report(st, "2026-03", sink_write, &s), REFERRAL_EIO);
	cr_expect_str_eq(referral_errmsg(st), "report: the output could not be written");
	cr_expect_eq(referral_report(st, "2026-04", sink_write, &s), REFERRAL_ESTATE);
	cr_expect_eq(referral_report(st, "2026-4", sink_write, &s), REFERRAL_EUSAGE);
	cr_expect_eq(referral_report(st, "2026-03", NULL, &s), REFERRAL_EUSAGE);
	cr_expect_eq(referral_report(NULL, "2026-03", sink_write, &s), REFERRAL_EUSAGE);
	referral_store_free(st);
}
