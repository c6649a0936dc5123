/*
 * hugemem.h — large arrays read at random (settlement's state, ingest's id
 * caches): mapped zero-filled rather than allocated, asking the system for
 * huge pages. Lookups land anywhere in tables of up to a few hundred MB;
 * on 4 KiB pages most of them would also miss the TLB, and on the virtual
 * machines this runs on each 4 KiB page touched for the first time costs a
 * fault of about 11 µs.
 */
#ifndef REFERRAL_HUGEMEM_H
#define REFERRAL_HUGEMEM_H

#include <stddef.h>

/* `bytes` of zeroed memory, page-aligned, or NULL. */
void *huge_alloc(size_t bytes);
/* Releases what huge_alloc(bytes) gave (NULL: nothing). */
void huge_free(void *p, size_t bytes);

#endif
