/*
 * roster.h — the network as people read it: every store with its name,
 * region and rating, every distributor with her kind, store, recruiter,
 * dates, grade and bound members, and the recruitment tree
 * (docs/formats.md, "Stores, distributors and the tree"). Computed from
 * the log through the engine's events() operation; used by the exports,
 * explain and the report.
 *
 * Everything time-dependent is "as of the end of the reference period":
 * the settled draft if there is one, else the latest closed period, else
 * (nothing settled yet) the earliest open period; every event ingested so
 * far counts whose `at` is before the end of that period.
 */
#ifndef REFERRAL_ROSTER_H
#define REFERRAL_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "idmap.h"
#include "strbuf.h"

/* Offsets into roster.text are kept while it grows; ROSTER_NONE is none. */
#define ROSTER_NONE ((size_t)-1)

struct roster_store {
	int64_t seq;
	size_t id, name, region, rating; /* rating: canonical text, or ROSTER_NONE */
	int64_t rating_at, rating_seq;
};

struct roster_dist {
	int64_t seq;
	int64_t store;                   /* seq of her store as of the end of the period */
	int64_t store_at;                /* instant of the store change applied, or INT64_MIN */
	int32_t recruiter;               /* index, or -1 */
	int64_t joined, term;            /* instants; term INT64_MAX when she has not left */
	size_t id, kind;
	int grade;                       /* her grade in the earliest open period */
	long members;                    /* members bound to her at the end of the period */
	int depth;                       /* 0 without a recruiter */
	int32_t first_child, next_sibling; /* the tree, recruits by id; -1 for none */
};

struct roster {
	int period;                      /* the reference period */
	int64_t end;                     /* its end: the first instant of the next period */
	int64_t limit;                   /* the last seq of the log when loaded */
	struct roster_store *s;
	size_t ns, caps;
	struct roster_dist *d;
	size_t nd, capd;
	int32_t *order;                  /* distributors in tree order (pre-order), nd of them */
	struct idmap six, dix;           /* seq -> index */
	struct strbuf text;
};

/* Loads the roster inside the caller's read transaction. With `members`
 * non-zero, also counts the members bound to each distributor at the end
 * of the period (a pass over every member and bind event). 0 or a status;
 * roster_free() in either case. */
int roster_load(referral_store *st, struct roster *r, int members);
void roster_free(struct roster *r);

/* The text at an offset ("" for ROSTER_NONE). Lent until roster_free(). */
static inline const char *roster_text(const struct roster *r, size_t off)
{
	return off == ROSTER_NONE ? "" : r->text.data + off;
}

/* The index of the store or distributor of a seq, or -1. */
int32_t roster_store_ix(const struct roster *r, int64_t seq);
int32_t roster_dist_ix(const struct roster *r, int64_t seq);
/* The index of the distributor with that id, or -1. */
int32_t roster_find(const struct roster *r, const char *id);

/* An index keyed by an id, and its order for qsort (bytewise). */
struct roster_key {
	const char *id;
	int32_t ix;
};
int roster_key_cmp(const void *a, const void *b);

/* The reference period: the settled draft, else the latest closed period,
 * else the earliest open one. Inside the caller's transaction. */
int roster_period(referral_store *st, int *period);

#endif
