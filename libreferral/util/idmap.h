/*
 * idmap.h — an open-addressing hash map from an int64 key (an event seq) to
 * a dense int32 index, for the in-memory state of settlement and points.
 */
#ifndef REFERRAL_IDMAP_H
#define REFERRAL_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap {
	int64_t *keys;  /* 0 marks an empty slot: seqs start at 1 */
	int32_t *vals;
	size_t cap, len; /* cap is a power of two */
};

/* The index of `key`, or -1. */
int32_t idmap_get(const struct idmap *m, int64_t key);
/* Inserts key -> val (key > 0, not yet present). 0, or -1 out of memory. */
int idmap_put(struct idmap *m, int64_t key, int32_t val);
/* Sets key -> val whether or not key is present. 0, or -1 out of memory. */
int idmap_set(struct idmap *m, int64_t key, int32_t val);
/* Makes room for n keys in all, so that inserting them never rehashes.
 * 0, or -1 out of memory. */
int idmap_reserve(struct idmap *m, size_t n);
void idmap_free(struct idmap *m);

#endif
