/* idcache.c — see idcache.h. */
#include "idcache.h"
#include "hugemem.h"

#include <string.h>

/* A 64-bit hash of a short byte string: 8 bytes at a time, multiplied and
 * folded, then the finaliser of MurmurHash3. */
static uint64_t hash_id(const char *s, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
		h ^= h >> 31;
		s += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;
		memcpy(&w, s, n);
		h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
	}
	h ^= h >> 33;
	h *= 0xFF51AFD7ED558CCDull;
	h ^= h >> 33;
	h *= 0xC4CEB9FE1A85EC53ull;
	h ^= h >> 33;
	return h;
}

/* The id a slot holds, and its hash. */
static const char *key_of(const struct idcache *c, const struct idcache_slot *s)
{
	if (s->len <= IDCACHE_INLINE)
		return s->key;
	uint32_t off;
	memcpy(&off, s->key + 4, 4);
	return c->arena.data + off;
}

static int matches(const struct idcache *c, const struct idcache_slot *s, uint64_t h,
		   const char *id, size_t n)
{
	if (s->len != n)
		return 0;
	if (n <= IDCACHE_INLINE)
		return !memcmp(s->key, id, n);
	uint32_t tag = (uint32_t)(h >> 32);
	return !memcmp(s->key, &tag, 4) && !memcmp(key_of(c, s), id, n);
}

int idcache_get(const struct idcache *c, const char *id, size_t n, int64_t *seq, int64_t *at)
{
	if (!c->nslots)
		return 0;
	uint64_t h = hash_id(id, n);
	size_t mask = c->nslots - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct idcache_slot *s = &c->slots[i];
		if (!s->seq)
			return 0;
		if (matches(c, s, h, id, n)) {
			*seq = s->seq;
			*at = s->at;
			return 1;
		}
	}
}

void idcache_prefetch(const struct idcache *c, const char *id, size_t n)
{
	if (c->nslots)
		__builtin_prefetch(&c->slots[hash_id(id, n) & (c->nslots - 1)]);
}

static void place(struct idcache_slot *slots, size_t nslots, uint64_t h, const struct idcache_slot *s)
{
	size_t i = h & (nslots - 1);
	while (slots[i].seq)
		i = (i + 1) & (nslots - 1);
	slots[i] = *s;
}

static int rehash(struct idcache *c, size_t nslots)
{
	struct idcache_slot *slots = huge_alloc(nslots * sizeof(struct idcache_slot));
	if (!slots)
		return -1;
	for (size_t i = 0; i < c->nslots; i++) {
		const struct idcache_slot *s = &c->slots[i];
		if (s->seq)
			place(slots, nslots, hash_id(key_of(c, s), s->len), s);
	}
	huge_free(c->slots, c->nslots * sizeof *c->slots);
	c->slots = slots;
	c->nslots = nslots;
	return 0;
}

/* Whether n ids fit in nslots at a load factor of at most 0.7. */
static int fits(size_t n, size_t nslots) { return n * 10 <= nslots * 7; }

int idcache_reserve(struct idcache *c, size_t n)
{
	size_t nslots = c->nslots ? c->nslots : 1024;
	while (!fits(n, nslots))
		nslots *= 2;
	return nslots == c->nslots ? 0 : rehash(c, nslots);
}

/* Adds `id` with its hash, once there is room for it. */
static int add(struct idcache *c, const char *id, size_t n, uint64_t h, int64_t seq, int64_t at)
{
	struct idcache_slot s = {.seq = seq, .at = at, .len = (unsigned char)n};
	if (n <= IDCACHE_INLINE) {
		memcpy(s.key, id, n);
	} else {
		uint32_t tag = (uint32_t)(h >> 32), off = (uint32_t)c->arena.len;
		if (c->arena.len + n > UINT32_MAX || sb_append(&c->arena, id, n))
			return -1;
		memcpy(s.key, &tag, 4);
		memcpy(s.key + 4, &off, 4);
	}
	place(c->slots, c->nslots, h, &s);
	c->len++;
	return 0;
}

int idcache_put(struct idcache *c, const char *id, size_t n, int64_t seq, int64_t at)
{
	if (n < 1 || n > 255 || seq <= 0)
		return -1;
	if (!fits(c->len + 1, c->nslots) && idcache_reserve(c, c->len + 1))
		return -1;
	return add(c, id, n, hash_id(id, n), seq, at);
}

int idcache_load_end(struct idcache_loader *l)
{
	struct idcache *c = l->c;
	int n = l->n;
	l->n = 0;
	if (!fits(c->len + (size_t)n, c->nslots) && idcache_reserve(c, c->len + (size_t)n))
		return -1;
	for (int i = 0; i < n; i++)
		__builtin_prefetch(&c->slots[l->q[i].h & (c->nslots - 1)], 1);
	for (int i = 0; i < n; i++)
		if (add(c, l->q[i].id, l->q[i].len, l->q[i].h, l->q[i].seq, l->q[i].at))
			return -1;
	return 0;
}

int idcache_load(struct idcache_loader *l, const char *id, size_t n, int64_t seq, int64_t at)
{
	if (n > sizeof l->q[0].id || seq <= 0)
		return idcache_put(l->c, id, n, seq, at);
	if (n < 1)
		return -1;
	memcpy(l->q[l->n].id, id, n);
	l->q[l->n].len = (unsigned char)n;
	l->q[l->n].h = hash_id(id, n);
	l->q[l->n].seq = seq;
	l->q[l->n].at = at;
	return ++l->n == IDCACHE_GROUP ? idcache_load_end(l) : 0;
}

void idcache_free(struct idcache *c)
{
	huge_free(c->slots, c->nslots * sizeof *c->slots);
	sb_free(&c->arena);
	memset(c, 0, sizeof *c);
}
