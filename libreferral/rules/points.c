/*
 * points.c — member points, the 0.25 share bonus and tiers (SPEC §9).
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

/* Loads sharers from the rows of `q`: (to, from, at). */
static int load_sharers(struct points_ledger *L, sqlite3_stmt *q)
{
	int step;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		struct pmember *p = member_of(L, sqlite3_column_int64(q, 0));
		if (!p)
			return st_nomem(L->st);
		p->sharer = sqlite3_column_int64(q, 1);
		p->sb_at = sqlite3_column_int64(q, 2);
	}
	if (step != SQLITE_DONE)
		return st_sqlfail(L->st, "reading sharers");
	return 0;
}

/* Applies the rows of `q`: (type, at, booked, ref1, num, txt1, order's
 * member, order's at, order's booked), the last three for refunds. */
static int apply_rows(struct points_ledger *L, sqlite3_stmt *q)
{
	referral_store *st = L->st;
	int step;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int type = sqlite3_column_int(q, 0);
		int64_t at = sqlite3_column_int64(q, 1);
		int booked = sqlite3_column_int(q, 2);
		int64_t ref1 = sqlite3_column_int64(q, 3);
		const char *num = (const char *)sqlite3_column_text(q, 4);
		const char *txt1 = (const char *)sqlite3_column_text(q, 5);
		const plan *pl = st_plan_for(st, booked);
		int fail = 0;

		switch (type) {
		case REFERRAL_EV_ORDER:
			dec_parse_signed(L->x, num);
			mpq_mul(L->x, L->x, pl->per_yuan);
			fail = credit(L, ref1, at, L->x, pl->share_bonus_rate);
			break;
		case REFERRAL_EV_REFUND: {
			/* taken back at the order's rates, bonus if the order earned one */
			const plan *op = st_plan_for(st, sqlite3_column_int(q, 8));
			dec_parse_signed(L->x, num);
			mpq_mul(L->x, L->x, op->per_yuan);
			mpq_neg(L->x, L->x);
			fail = credit(L, sqlite3_column_int64(q, 6), sqlite3_column_int64(q, 7), L->x,
				      op->share_bonus_rate);
			break;
		}
		case REFERRAL_EV_SHARE:
			if (txt1 && !strcmp(txt1, "member"))
				fail = credit(L, ref1, at, pl->per_share, pl->share_bonus_rate);
			break;
		case REFERRAL_EV_REDEEM: {
			struct pmember *p = member_of(L, ref1);
			if (!p) {
				fail = 1;
				break;
			}
			dec_parse_signed(L->x, num);
			mpq_add(p->redeemed, p->redeemed, L->x);
			break;
		}
		}
		if (fail)
			return st_nomem(st);
	}
	if (step != SQLITE_DONE)
		return st_sqlfail(st, "reading points events");
	return 0;
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

/* Runs `sql` with ?1 = a, ?2 = b through `fn`. */
static int run(struct points_ledger *L, const char *sql, int64_t a, int64_t b,
	       int (*fn)(struct points_ledger *, sqlite3_stmt *))
{
	sqlite3_stmt *q;
	int rc = st_prepare(L->st, sql, &q);
	if (rc)
		return rc;
	if (sqlite3_bind_parameter_count(q) >= 1)
		sqlite3_bind_int64(q, 1, a);
	if (sqlite3_bind_parameter_count(q) >= 2)
		sqlite3_bind_int64(q, 2, b);
	rc = fn(L, q);
	sqlite3_finalize(q);
	return rc;
}

int points_compute_all(referral_store *st, struct points_ledger **out)
{
	struct points_ledger *L = ledger_new(st);
	int rc;
	*out = NULL;
	if (!L)
		return st_nomem(st);
	rc = run(L, "SELECT ref1, ref2, at FROM events WHERE type = 8", 0, 0, load_sharers);
	if (!rc)
		rc = run(L, "SELECT e.type, e.at, e.booked, e.ref1, e.num, e.txt1,"
			    " o.ref1, o.at, o.booked FROM events e"
			    " LEFT JOIN events o ON e.type = 10 AND o.seq = e.ref1"
			    " WHERE e.type IN (9, 10, 11, 12)", 0, 0, apply_rows);
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
#define SHAREES "WITH mem(seq) AS (SELECT ?1 UNION SELECT ref1 FROM events" \
		" WHERE ref2 = ?1 AND type = 8) "
	struct points_ledger *L = ledger_new(st);
	int rc;
	if (!L)
		return st_nomem(st);
	rc = run(L, "SELECT ref1, ref2, at FROM events WHERE ref2 = ?1 AND type = 8", member, 0,
		 load_sharers);
	if (!rc)
		rc = run(L, SHAREES /* own orders, shares, redeems */
			 "SELECT e.type, e.at, e.booked, e.ref1, e.num, e.txt1, 0, 0, 0"
			 " FROM mem JOIN events e ON e.ref1 = mem.seq AND e.type IN (9, 11, 12)"
			 " WHERE e.at <= ?2"
			 " UNION ALL " /* refunds of their orders */
			 "SELECT e.type, e.at, e.booked, o.ref1, e.num, e.txt1, o.ref1, o.at, o.booked"
			 " FROM mem JOIN events o ON o.ref1 = mem.seq AND o.type = 9"
			 " JOIN events e ON e.ref1 = o.seq AND e.type = 10 WHERE e.at <= ?2",
			 member, at, apply_rows);
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
