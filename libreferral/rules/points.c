/*
 * points.c — member points, the 0.25 share bonus and tiers (docs/formats.md,
 * "Members").
 *
 * Points are sums: every order, member share, refund and redeem adds to or
 * takes from one member, and an order or share of a member whose sharer
 * named her at or before the event adds share_bonus_rate of its points to
 * the sharer (one level: bonus points earn no bonus). Whether an event
 * earned a bonus depends only on its own instant and the member's sharer,
 * which never changes once set, so the totals do not depend on the order in
 * which events are visited; the ledger visits them in storage order.
 *
 * The same ledger serves the members export (every event) and the redeem
 * check at ingest (one member's events and those of the members she shares
 * with, up to an instant).
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "decimal.h"
#include "idmap.h"
#include "points.h"

struct pmember {
	mpq_t lifetime, redeemed;
	int64_t sharer;   /* seq of the sharer, 0 if none */
	int64_t sb_at;    /* when she became the sharer */
};

struct points_ledger {
	referral_store *st;
	struct idmap map;
	struct pmember *m;
	size_t n, cap;
	mpq_t x, y;
};

static struct pmember *member_of(struct points_ledger *L, int64_t seq)
{
	int32_t i = idmap_get(&L->map, seq);
	if (i >= 0)
		return &L->m[i];
	if (L->n == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 1024;
		struct pmember *nm = realloc(L->m, cap * sizeof *nm);
		if (!nm)
			return NULL;
		L->m = nm;
		L->cap = cap;
	}
	struct pmember *p = &L->m[L->n];
	mpq_inits(p->lifetime, p->redeemed, NULL);
	p->sharer = 0;
	p->sb_at = 0;
	if (idmap_put(&L->map, seq, (int32_t)L->n)) {
		mpq_clears(p->lifetime, p->redeemed, NULL);
		return NULL;
	}
	L->n++;
	return p;
}

/* Adds `pts` (may be negative) to member `who`, and the bonus at `rate` to
 * her sharer if the sharer named her at or before `at`. */
static int credit(struct points_ledger *L, int64_t who, int64_t at, const mpq_t pts,
		  const mpq_t rate)
{
	struct pmember *p = member_of(L, who);
	if (!p)
		return -1;
	mpq_add(p->lifetime, p->lifetime, pts);
	if (p->sharer && p->sb_at <= at) {
		int64_t sharer = p->sharer;
		mpq_mul(L->y, pts, rate);
		struct pmember *s = member_of(L, sharer); /* may move L->m */
		if (!s)
			return -1;
		mpq_add(s->lifetime, s->lifetime, L->y);
	}
	return 0;
}

/* A share_benefits: `from` is `to`'s sharer since `at`. */
static int put_sharer(void *ctx, int64_t to, int64_t from, int64_t at)
{
	struct points_ledger *L = ctx;
	struct pmember *p = member_of(L, to);
	if (!p)
		return st_nomem(L->st);
	p->sharer = from;
	p->sb_at = at;
	return 0;
}

/* Applies one order, refund, member share or redeem. */
static int apply_row(void *ctx, const struct points_row *r)
{
	struct points_ledger *L = ctx;
	referral_store *st = L->st;
	const plan *pl = st_plan_for(st, r->booked);
	int fail = 0;

	if (r->type != REFERRAL_EV_SHARE && (!r->num || dec_parse_signed(L->x, r->num)))
		return st_fail(st, REFERRAL_EIO, "storage: a stored amount or points is not a decimal");

	switch (r->type) {
	case REFERRAL_EV_ORDER:
		mpq_mul(L->x, L->x, pl->per_yuan);
		fail = credit(L, r->member, r->at, L->x, pl->share_bonus_rate);
		break;
	case REFERRAL_EV_REFUND: {
		/* taken back at the order's rates, bonus if the order earned one */
		const plan *op = st_plan_for(st, r->order_booked);
		mpq_mul(L->x, L->x, op->per_yuan);
		mpq_neg(L->x, L->x);
		fail = credit(L, r->order_member, r->order_at, L->x, op->share_bonus_rate);
		break;
	}
	case REFERRAL_EV_SHARE:
		if (r->by_member)
			fail = credit(L, r->member, r->at, pl->per_share, pl->share_bonus_rate);
		break;
	case REFERRAL_EV_REDEEM: {
		struct pmember *p = member_of(L, r->member);
		if (!(fail = !p))
			mpq_add(p->redeemed, p->redeemed, L->x);
		break;
	}
	}
	return fail ? st_nomem(st) : 0;
}

static struct points_ledger *ledger_new(referral_store *st)
{
	struct points_ledger *L = calloc(1, sizeof *L);
	if (!L)
		return NULL;
	L->st = st;
	mpq_inits(L->x, L->y, NULL);
	return L;
}

void points_free(struct points_ledger *L)
{
	if (!L)
		return;
	for (size_t i = 0; i < L->n; i++)
		mpq_clears(L->m[i].lifetime, L->m[i].redeemed, NULL);
	free(L->m);
	idmap_free(&L->map);
	mpq_clears(L->x, L->y, NULL);
	free(L);
}

int points_compute_all(referral_store *st, struct points_ledger **out)
{
	struct points_ledger *L = ledger_new(st);
	int rc;
	*out = NULL;
	if (!L)
		return st_nomem(st);
	rc = ENG(st, sharers, 0, put_sharer, L);
	if (!rc)
		rc = ENG(st, points_events, 0, INT64_MAX, apply_row, L);
	if (rc) {
		points_free(L);
		return rc;
	}
	*out = L;
	return 0;
}

int points_member_balance(referral_store *st, int64_t member, int64_t at, mpq_t balance)
{
	/* her events and those of the members she shares with, up to `at` */
	struct points_ledger *L = ledger_new(st);
	int rc;
	if (!L)
		return st_nomem(st);
	rc = ENG(st, sharers, member, put_sharer, L);
	if (!rc)
		rc = ENG(st, points_events, member, at, apply_row, L);
	if (!rc) {
		int32_t i = idmap_get(&L->map, member);
		if (i >= 0)
			mpq_sub(balance, L->m[i].lifetime, L->m[i].redeemed);
		else
			mpq_set_ui(balance, 0, 1);
	}
	points_free(L);
	return rc;
}

int points_get(const struct points_ledger *L, int64_t member, mpq_t lifetime, mpq_t balance,
	       int64_t *sharer)
{
	int32_t i = idmap_get(&L->map, member);
	if (i < 0) {
		mpq_set_ui(lifetime, 0, 1);
		mpq_set_ui(balance, 0, 1);
		*sharer = 0;
		return 0;
	}
	mpq_set(lifetime, L->m[i].lifetime);
	mpq_sub(balance, L->m[i].lifetime, L->m[i].redeemed);
	*sharer = L->m[i].sharer;
	return 1;
}

int points_tier(const plan *pl, const mpq_t lifetime)
{
	int tier = 0;
	for (size_t k = 0; k < pl->ntiers; k++)
		if (mpq_cmp(pl->tiers[k].min_points, lifetime) <= 0)
			tier = (int)k;
	return tier;
}
