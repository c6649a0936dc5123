/*
 * fuzz_store.c — a whole store's life: batches, settlements, closes and
 * plan versions in any order, then verify.
 *
 * The input is text, a line at a time, on the reference plan:
 *   settle     settles the earliest open period
 *   close      closes it
 *   plan       adds the monthly example's plan (a refund window and
 *              withholding) from the earliest open period
 *   commit     commits the batch being read and opens another
 *   any other  a JSON line of the batch being read
 * At the end the open batch is committed and the earliest open period
 * closed. The oracle: whatever was accepted, referral_verify() finds no
 * discrepancy (any REFERRAL_EVERIFY is a bug), every export succeeds, and
 * no call returns REFERRAL_EVERIFY or a usage error.
 */
#include <string.h>

#include "fuzz.h"

static int period_call(referral_store *st, int (*fn)(referral_store *, const char *))
{
	char period[8];
	FUZZ_CHECK(referral_open_period(st, period, sizeof period) == 0, "open period");
	int rc = fn(st, period);
	/* EIO: amounts too large to sum exactly; nothing is stored */
	FUZZ_CHECK(rc == 0 || rc == REFERRAL_EIO, "%s: %d %s", period, rc, referral_errmsg(st));
	return rc;
}

static void commit(referral_store *st, const char *text, size_t n)
{
	long ingested, duplicates;
	int rc = fuzz_batch(st, text, n, 1, &ingested, &duplicates);
	FUZZ_CHECK(rc == 0 || rc == REFERRAL_EINPUT || rc == REFERRAL_ESTATE, "batch: %d %s", rc,
		   referral_errmsg(st));
}

static int is(const char *line, size_t n, const char *word)
{
	size_t w = strlen(word);
	return n == w && !memcmp(line, word, w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int rc;
	referral_store *st = fuzz_store(NULL, &rc);
	const char *text = (const char *)data, *batch = text;
	for (size_t i = 0; i < size;) {
		const char *line = text + i, *nl = memchr(line, '\n', size - i);
		size_t n = nl ? (size_t)(nl - line) : size - i;
		int command = is(line, n, "settle") || is(line, n, "close") || is(line, n, "plan") ||
			      is(line, n, "commit");
		if (command) {
			commit(st, batch, (size_t)(line - batch));
			batch = line + n + (nl != NULL);
		}
		if (is(line, n, "settle"))
			period_call(st, referral_settle);
		else if (is(line, n, "close"))
			period_call(st, referral_close);
		else if (is(line, n, "plan")) {
			char period[8];
			FUZZ_CHECK(referral_open_period(st, period, sizeof period) == 0, "open period");
			rc = referral_plan_add(st, fuzz_fixture("examples/monthly_settlement/plan.json"),
					       period);
			FUZZ_CHECK(rc == 0, "plan: %d %s", rc, referral_errmsg(st));
		}
		i += n + 1;
	}
	if (batch < text + size)
		commit(st, batch, (size_t)(text + size - batch));
	period_call(st, referral_close);
	rc = referral_verify(st);
	FUZZ_CHECK(rc == 0, "verify: %d %s", rc, referral_errmsg(st));
	rc = fuzz_exports(st);
	FUZZ_CHECK(rc == 0, "export: %d %s", rc, referral_errmsg(st));
	referral_store_free(st);
	return 0;
}
