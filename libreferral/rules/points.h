/*
 * points.h — member points, the share bonus and tiers (docs/formats.md,
 * "Members").
 */
#ifndef REFERRAL_POINTS_H
#define REFERRAL_POINTS_H

#include <gmp.h>
#include <stdint.h>

#include "core.h"

struct points_ledger;

/* Computes every member's points from every event ingested. On success
 * *out owns the ledger (release with points_free()). */
int points_compute_all(referral_store *st, struct points_ledger **out);

/* A member's lifetime points, balance and sharer seq (0 if none). Returns 1
 * if the member has any points state, 0 if not (then all zero). */
int points_get(const struct points_ledger *L, int64_t member, mpq_t lifetime, mpq_t balance,
	       int64_t *sharer);

/* The index of the highest tier of `pl` whose min_points <= lifetime. */
int points_tier(const plan *pl, const mpq_t lifetime);

void points_free(struct points_ledger *L);

#endif
