/*
 * fuzz_lines.c — JSON Lines into a batch, on a store holding the worked
 * example's first batch (tests/fixtures/basic/batch1.jsonl), so that lines
 * can name its store, distributors, member and order.
 *
 * The input is one batch. It is ingested three times:
 *   1. line by line (referral_batch_add_json), and rolled back: the log is
 *      as it was;
 *   2. as a file (referral_batch_add_file, which also reads gzip), and
 *      committed: the status is ok, rejected input or a conflict, and the
 *      log grew by exactly the events ingested (nothing when rejected);
 *   3. when 2 committed, again: every line is now an identical repeat, so
 *      nothing is ingested.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

static int batch_file(referral_store *st, const uint8_t *data, size_t size, long *ingested,
		      long *duplicates)
{
	int fd = memfd_create("fuzz-lines", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0, "memfd_create");
	FUZZ_CHECK(write(fd, data, size) == (ssize_t)size, "write");
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	referral_batch *b = NULL;
	int rc = referral_batch_begin(st, &b, "fuzz");
	FUZZ_CHECK(rc == 0, "begin: %s", referral_errmsg(st));
	rc = referral_batch_add_file(b, path);
	if (!rc)
		rc = referral_batch_commit(b);
	*ingested = referral_batch_ingested(b);
	*duplicates = referral_batch_duplicates(b);
	referral_batch_free(b);
	close(fd);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int rc;
	long ingested, duplicates;
	referral_store *st = fuzz_store(NULL, &rc);
	const char *base = fuzz_fixture("tests/fixtures/basic/batch1.jsonl");
	rc = fuzz_batch(st, base, strlen(base), 1, &ingested, &duplicates);
	FUZZ_CHECK(rc == 0 && ingested == 5, "base: %d %s", rc, referral_errmsg(st));
	int64_t before = fuzz_events(st);

	rc = fuzz_batch(st, (const char *)data, size, 0, &ingested, &duplicates);
	FUZZ_CHECK(rc == 0 || rc == REFERRAL_EINPUT || rc == REFERRAL_ESTATE, "add: %d %s", rc,
		   referral_errmsg(st));
	FUZZ_CHECK(fuzz_events(st) == before, "a batch rolled back left events");

	rc = batch_file(st, data, size, &ingested, &duplicates);
	/* a file that is not valid gzip after its magic bytes is a read failure */
	FUZZ_CHECK(rc == 0 || rc == REFERRAL_EINPUT || rc == REFERRAL_ESTATE ||
			   (rc == REFERRAL_EIO && size >= 2 && data[0] == 0x1F && data[1] == 0x8B),
		   "commit: %d %s", rc, referral_errmsg(st));
	int64_t after = fuzz_events(st);
	FUZZ_CHECK(after == before + (rc ? 0 : ingested), "%lld events before, %lld after, %ld ingested",
		   (long long)before, (long long)after, ingested);
	if (rc == 0) {
		long again_in, again_dup;
		rc = batch_file(st, data, size, &again_in, &again_dup);
		FUZZ_CHECK(rc == 0 && again_in == 0 && again_dup == ingested + duplicates,
			   "the same batch again: %d, %ld ingested, %ld duplicates (first %ld + %ld): %s",
			   rc, again_in, again_dup, ingested, duplicates, referral_errmsg(st));
	}
	referral_store_free(st);
	return 0;
}
