/*
 * idcache.h — an in-memory map from an entity's id (1-64 bytes) to its event
 * seq and instant, for resolving references during an ingest batch without
 * a B-tree search per reference (see ingest.c).
 *
 * The table is one array of 32-byte slots, probed linearly at a load factor
 * of at most 0.7. A slot holds the seq, the instant and the id itself when
 * it is at most 15 bytes (as ids usually are), so that a lookup touches one
 * place in memory; a longer id is kept in an arena and its slot holds 32 bits
 * of its hash and its offset there. Keys are always compared in full.
 */
#ifndef REFERRAL_IDCACHE_H
#define REFERRAL_IDCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define IDCACHE_INLINE 15 /* the longest id kept in its slot */

/* An ingest batch builds the cache of an entity type once it has looked up
 * this many ids of the type through the engine, or more for a type with many
 * events (ingest.c). Tests size their batches from it. */
#define IDCACHE_MIN_LOOKUPS 1024

struct idcache_slot {
	int64_t seq;  /* 0 = empty: seqs start at 1 */
	int64_t at;
	unsigned char len;
	char key[IDCACHE_INLINE]; /* the id, or a longer id's hash tag and arena offset */
};

struct idcache {
	struct idcache_slot *slots;
	size_t nslots; /* a power of two, or 0 */
	size_t len;
	struct strbuf arena; /* the ids longer than IDCACHE_INLINE */
};

/* 1 with the seq and instant of `id`, or 0 if it is not in the cache. */
int idcache_get(const struct idcache *c, const char *id, size_t n, int64_t *seq, int64_t *at);
/* Asks the CPU to fetch the slot where a lookup of `id` starts, so that
 * the lookup, made a few lines later, does not wait for memory. */
void idcache_prefetch(const struct idcache *c, const char *id, size_t n);
/* Adds `id` (1-255 bytes, not yet present) with seq > 0. 0, or -1 out of
 * memory (the cache is left as it was). */
int idcache_put(struct idcache *c, const char *id, size_t n, int64_t seq, int64_t at);
/* Adding many ids at once: ids are queued and placed a group at a time,
 * the slots of a group fetched from memory together rather than one miss
 * after another (about twice as fast for millions of ids). A zeroed loader
 * with `c` set is ready; idcache_load_end places what is queued. */
#define IDCACHE_GROUP 16
struct idcache_loader {
	struct idcache *c;
	int n;
	struct {
		uint64_t h;
		int64_t seq, at;
		unsigned char len;
		char id[64];
	} q[IDCACHE_GROUP];
};
/* As idcache_put, except that ids longer than 64 bytes are added at once
 * and the others when their group is placed. 0, or -1 out of memory (then
 * some of the queued ids may not have been added). */
int idcache_load(struct idcache_loader *l, const char *id, size_t n, int64_t seq, int64_t at);
int idcache_load_end(struct idcache_loader *l);

/* Makes room for n ids in all, so that adding them never rehashes. 0, or -1
 * out of memory. */
int idcache_reserve(struct idcache *c, size_t n);
void idcache_free(struct idcache *c);

#endif
