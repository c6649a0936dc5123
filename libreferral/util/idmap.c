/* idmap.c — see idmap.h. Linear probing, load factor at most 1/2. */
#include "idmap.h"

#include <stdlib.h>

static size_t slot_of(int64_t key, size_t cap)
{
	uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing */
	return (size_t)(h >> 17) & (cap - 1);
}

int32_t idmap_get(const struct idmap *m, int64_t key)
{
	if (!m->cap)
		return -1;
	for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key)
			return m->vals[i];
		if (m->keys[i] == 0)
			return -1;
	}
}

static int rehash(struct idmap *m, size_t cap)
{
	int64_t *keys = calloc(cap, sizeof *keys);
	int32_t *vals = malloc(cap * sizeof *vals);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = slot_of(m->keys[i], cap);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

int idmap_reserve(struct idmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 1024;
	while (n * 2 > cap)
		cap *= 2;
	return cap == m->cap ? 0 : rehash(m, cap);
}

int idmap_put(struct idmap *m, int64_t key, int32_t val)
{
	if ((m->len + 1) * 2 > m->cap && rehash(m, m->cap ? m->cap * 2 : 1024))
		return -1;
	size_t i = slot_of(key, m->cap);
	while (m->keys[i])
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = key;
	m->vals[i] = val;
	m->len++;
	return 0;
}

int idmap_set(struct idmap *m, int64_t key, int32_t val)
{
	if (m->cap) {
		for (size_t i = slot_of(key, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1))
			if (m->keys[i] == key) {
				m->vals[i] = val;
				return 0;
			}
	}
	return idmap_put(m, key, val);
}

void idmap_free(struct idmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->len = 0;
}
