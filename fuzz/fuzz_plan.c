/*
 * fuzz_plan.c — plans, mutated by their structure as well as their bytes.
 *
 * The custom mutator reads the input as JSON and changes one thing in it:
 * a value (a number or a decimal string near a limit, another type), a key
 * (renamed, removed, or one added), or an array's length (an element
 * dropped or repeated), then writes it back; an input that is not JSON is
 * left to libFuzzer's byte mutations. So most inputs stay plans that
 * parse, and reach the checks of every key and the settlement they drive.
 *
 * The oracle: a plan is stored or refused as invalid input (never a
 * storage failure); a plan that is stored settles and closes the worked
 * example's first month, and referral_verify() passes on it.
 */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	FUZZ_CHECK(text, "out of memory");
	memcpy(text, data, size);
	text[size] = 0;
	int rc;
	referral_store *st = fuzz_store(text, &rc);
	free(text);
	if (!st)
		return 0;
	long ingested, duplicates;
	const char *batch = fuzz_fixture("tests/fixtures/basic/batch1.jsonl");
	rc = fuzz_batch(st, batch, strlen(batch), 1, &ingested, &duplicates);
	/* the plan decides the periods: the example's events may fall before
	 * its start or break its rules */
	FUZZ_CHECK(rc == 0 || rc == REFERRAL_EINPUT, "ingest: %d %s", rc, referral_errmsg(st));
	char period[8];
	FUZZ_CHECK(referral_open_period(st, period, sizeof period) == 0, "open period");
	rc = referral_settle(st, period);
	FUZZ_CHECK(rc == 0 || rc == REFERRAL_EIO, "settle: %d %s", rc, referral_errmsg(st));
	if (rc == 0) {
		rc = referral_close(st, period);
		FUZZ_CHECK(rc == 0, "close after a settle: %d %s", rc, referral_errmsg(st));
	}
	/* EIO: amounts too large to sum exactly, which stores nothing */
	rc = referral_verify(st);
	FUZZ_CHECK(rc == 0, "verify: %d %s", rc, referral_errmsg(st));
	FUZZ_CHECK(fuzz_exports(st) == 0, "export: %s", referral_errmsg(st));
	referral_store_free(st);
	return 0;
}

/* ---- the mutator (libFuzzer builds only) ------------------------------------------ */
#ifdef REFERRAL_FUZZING
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

static unsigned next(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7FFF;
}

static const char *const texts[] = {
	"0", "1", "0.05", "0.999999", "1.0", "0.5", "-1", "", "2026-01", "2026-13", "+08:00",
	"-23:59", "+24:00", "21474836.47", "21474836.48", "99999999999999999999999999999",
	"0.00000000000000000000000000000000000000000000000000000001", "half_up", "half_even",
	"down", "up", "1e3", " 1", "bronze", "Gold", "gold", "a-b_c",
};
static const long long numbers[] = {0, 1, 2, 3, 4, 5, -1, 12, 36, 366, 367, 1200, 1201,
				    2147483647LL, 2147483648LL, 9007199254740993LL};
static const char *const keys[] = {
	"utc_offset", "start_period", "commission_window_months", "grades", "grading",
	"override_rate", "share_bonus_rate", "points", "member_tiers", "rounding", "min_payout",
	"hold_days", "withholding", "grade", "rate", "bounty", "min_members", "min_sales",
	"min_shares", "min_store_rating", "window_months", "initial_grade", "allow_demotion",
	"per_yuan", "per_share", "name", "min_points", "threshold", "fixed_deduction",
	"rate_deduction", "brackets", "up_to", "quick_deduction", "min_payot",
};

/* A place in the tree: a container and, for its member or element, the
 * key or the index. */
struct place {
	json_t *parent;
	const char *key;
	size_t index;
	json_t *value;
};

#define MAX_PLACES 512

static void gather(json_t *v, struct place *out, size_t *n)
{
	const char *k;
	json_t *c;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach(v, k, c) {
			if (*n < MAX_PLACES)
				out[(*n)++] = (struct place){v, k, 0, c};
			gather(c, out, n);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c) {
			if (*n < MAX_PLACES)
				out[(*n)++] = (struct place){v, NULL, i, c};
			gather(c, out, n);
		}
	}
}

static json_t *new_value(unsigned *seed)
{
	switch (next(seed) % 7) {
	case 0: return json_string(texts[next(seed) % (sizeof texts / sizeof *texts)]);
	case 1: return json_integer(numbers[next(seed) % (sizeof numbers / sizeof *numbers)]);
	case 2: return json_real(0.5);
	case 3: return json_null();
	case 4: return next(seed) % 2 ? json_true() : json_false();
	case 5: return json_array();
	default: return json_object();
	}
}

static const char *some_key(unsigned *seed) { return keys[next(seed) % (sizeof keys / sizeof *keys)]; }

/* One change to the tree below root (an object). */
static void mutate(json_t *root, unsigned *seed)
{
	struct place places[MAX_PLACES + 1];
	size_t n = 0;
	places[n++] = (struct place){NULL, NULL, 0, root};
	gather(root, places, &n);
	struct place p = places[next(seed) % n];
	int what = (int)(next(seed) % 4);
	if (json_is_object(p.value) && what < 3) {
		if (what == 0 || json_object_size(p.value) == 0) {
			json_object_set_new(p.value, some_key(seed), new_value(seed));
			return;
		}
		/* a member removed, or renamed */
		size_t at = next(seed) % json_object_size(p.value), i = 0;
		const char *k;
		json_t *c;
		json_object_foreach(p.value, k, c) {
			if (i++ != at)
				continue;
			json_t *keep = json_incref(c);
			char *name = strdup(k);
			json_object_del(p.value, name);
			if (what == 2)
				json_object_set(p.value, some_key(seed), keep);
			json_decref(keep);
			free(name);
			return;
		}
	}
	if (json_is_array(p.value) && json_array_size(p.value) && what < 3) {
		size_t at = next(seed) % json_array_size(p.value);
		if (what == 0)
			json_array_remove(p.value, at);
		else
			json_array_append(p.value, json_array_get(p.value, at));
		return;
	}
	if (!p.parent)
		return;
	if (p.key)
		json_object_set_new(p.parent, p.key, new_value(seed));
	else
		json_array_set_new(p.parent, p.index, new_value(seed));
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	json_t *root = json_loadb((const char *)data, size, 0, NULL);
	if (!root || next(&seed) % 8 == 0) {
		json_decref(root);
		return LLVMFuzzerMutate(data, size, max_size);
	}
	int changes = 1 + (int)(next(&seed) % 3);
	for (int i = 0; i < changes && json_is_object(root); i++)
		mutate(root, &seed);
	char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return size;
	size_t n = strlen(text);
	if (n > max_size) {
		free(text);
		return LLVMFuzzerMutate(data, size, max_size);
	}
	memcpy(data, text, n);
	free(text);
	return n;
}
#endif
