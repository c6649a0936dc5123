/* common.c — see fuzz.h. */
#include "fuzz.h"

#include <string.h>

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1))) {
		if (fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

const char *fuzz_fixture(const char *name)
{
	static struct {
		const char *name;
		char *text;
	} cache[8];
	for (int i = 0; i < 8; i++) {
		if (cache[i].name && !strcmp(cache[i].name, name))
			return cache[i].text;
		if (!cache[i].name) {
			char path[512];
			snprintf(path, sizeof path, "%s/%s", REFERRAL_SOURCE_DIR, name);
			cache[i].text = read_all(path);
			FUZZ_CHECK(cache[i].text, "cannot read %s", path);
			cache[i].name = name;
			return cache[i].text;
		}
	}
	FUZZ_CHECK(0, "too many fixtures");
	return NULL;
}

referral_store *fuzz_store(const char *plan_json, int *rc)
{
	referral_store *st = NULL;
	const char *text = plan_json ? plan_json : fuzz_fixture("tests/fixtures/reference-plan.json");
	*rc = referral_store_create(&st, ":memory:", text);
	if (*rc) {
		FUZZ_CHECK(plan_json && *rc == REFERRAL_EINPUT, "create: %d %s", *rc, referral_errmsg(st));
		referral_store_free(st);
		return NULL;
	}
	return st;
}

int64_t fuzz_events(referral_store *st)
{
	int64_t seq = -1;
	int rc = ENG(st, last_seq, &seq);
	FUZZ_CHECK(rc == 0, "last_seq: %s", referral_errmsg(st));
	return seq;
}

int fuzz_batch(referral_store *st, const char *text, size_t n, int commit, long *ingested,
	       long *duplicates)
{
	referral_batch *b = NULL;
	int rc = referral_batch_begin(st, &b, "fuzz");
	FUZZ_CHECK(rc == 0, "begin: %s", referral_errmsg(st));
	long line = 0;
	for (size_t i = 0; i < n && !rc;) {
		const char *nl = memchr(text + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (text + i)) : n - i;
		int r = referral_batch_add_json(b, text + i, len, ++line);
		if (r == REFERRAL_EIO || r == REFERRAL_EUSAGE)
			rc = r;
		i += len + 1;
	}
	if (!rc && commit)
		rc = referral_batch_commit(b);
	*ingested = referral_batch_ingested(b);
	*duplicates = referral_batch_duplicates(b);
	referral_batch_free(b);
	return rc;
}

static int discard(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return 0;
}

int fuzz_exports(referral_store *st)
{
	static const char *const tables[] = {"statements", "lines", "grades", "members", "payouts"};
	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
		for (int json = 0; json < 2; json++) {
			int rc = referral_export(st, tables[i], NULL, json ? "json" : "csv", discard, NULL);
			if (rc)
				return rc;
		}
	return 0;
}
