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
 * And each line the plain reader takes (rules/event_json.c) must be one
 * jansson reads to the same type and fields: the two readers never differ.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "event.h"
#include "fuzz.h"

/* The plain reader and jansson agree on `line` whenever the plain reader
 * takes it. */
static void same_reading(const char *line, size_t len)
{
	struct event_in e;
	memset(&e, 0, offsetof(struct event_in, num));
	if (!read_plain(line, len, &e))
		return;
	json_error_t err;
	json_t *root = load_line(line, len, &err);
	FUZZ_CHECK(json_is_object(root), "the plain reader took a line jansson refuses: %s", err.text);
	json_t *type = json_object_get(root, "type");
	FUZZ_CHECK(json_is_string(type) && !strcmp(json_string_value(type), ev_type_names[e.type]),
		   "the readers differ on the type");
	for (int f = 0; f < NFIELDS; f++) {
		json_t *v = json_object_get(root, field_names[f]);
		int state = !v ? FS_ABSENT : json_is_null(v) ? FS_NULL : json_is_string(v) ? FS_STRING
											 : FS_OTHER;
		FUZZ_CHECK(state == e.f[f].state, "the readers differ on field %s", field_names[f]);
		if (state == FS_STRING)
			FUZZ_CHECK(json_string_length(v) == e.f[f].n &&
					   !memcmp(json_string_value(v), e.f[f].s, e.f[f].n),
				   "the readers differ on the value of field %s", field_names[f]);
	}
	json_decref(root);
}

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
	for (size_t i = 0; i < size;) {
		const char *line = (const char *)data + i, *nl = memchr(line, '\n', size - i);
		size_t len = nl ? (size_t)(nl - line) : size - i;
		same_reading(line, len);
		i += len + 1;
	}

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
