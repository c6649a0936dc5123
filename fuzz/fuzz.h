/*
 * fuzz.h — what the fuzz targets share: a store in memory made from the
 * reference plan, the oracle's abort, and the targets' entry point. Each
 * target is one file (fuzz_*.c) defining LLVMFuzzerTestOneInput; linked
 * with libFuzzer it is a fuzzer, linked with replay.c a program that runs
 * each input once (the regression tests).
 */
#ifndef REFERRAL_FUZZ_H
#define REFERRAL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core.h"
#include "referral/referral.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A finding: the oracle saw something wrong. Aborts, so that libFuzzer
 * keeps the input and the replay fails. */
#define FUZZ_CHECK(cond, ...)                                                   \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			abort();                                                \
		}                                                               \
	} while (0)

/* The whole of a file of the source tree (NAME relative to its root),
 * read once; a missing one aborts. */
const char *fuzz_fixture(const char *name);

/* A new store in memory with `plan_json` (the reference plan when NULL): the
 * store, or NULL when the plan is refused (*rc says why). */
referral_store *fuzz_store(const char *plan_json, int *rc);

/* The last seq of the log: how many events it holds. */
int64_t fuzz_events(referral_store *st);

/* Ingests `n` bytes of JSON Lines as one batch through
 * referral_batch_add_json, line by line; commits when `commit`, else frees
 * the batch (rolled back). Returns the status of the commit (or of the
 * add that failed the batch), with the counts. */
int fuzz_batch(referral_store *st, const char *text, size_t n, int commit, long *ingested,
	       long *duplicates);

/* Every export of the store, CSV and JSON: REFERRAL_OK or the status. */
int fuzz_exports(referral_store *st);

#endif
