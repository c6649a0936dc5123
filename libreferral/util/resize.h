/*
 * resize.h — growing the malloc'd arrays the modules keep.
 */
#ifndef REFERRAL_RESIZE_H
#define REFERRAL_RESIZE_H

#include <stdlib.h>

/* Resizes the array *pp (a pointer to the array pointer) to n elements of
 * `elem` bytes: 0, or -1 when memory runs out (*pp is then unchanged). */
static inline int array_resize(void *pp, size_t n, size_t elem)
{
	void **p = pp;
	void *q = realloc(*p, (n ? n : 1) * elem);
	if (!q)
		return -1;
	*p = q;
	return 0;
}

/* The capacity after `cap` when it is full: doubled, or `first`. */
static inline size_t grown(size_t cap, size_t first) { return cap ? 2 * cap : first; }

#endif
