/*
 * roster.c — the stores, the distributors and the recruitment tree, as of
 * the end of the reference period (roster.h), from every event of the
 * network types in the log.
 *
 * One pass per event type, in seq order, through the engine's events():
 * stores, their ratings, distributors, store changes, terminations, then
 * (when asked) members and binds. A distributor's store at the end of the
 * period is that of her last store change dated before it, the latest
 * instant winning and the later seq among equal instants, as settlement
 * decides it; a store's rating likewise. Her grade is the next grade frozen
 * at the latest close, or the initial grade of the plan for the earliest
 * open period. The tree is her recruits in id order, walked depth first.
 */
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "roster.h"
#include "timeutil.h"

/* Keeps a text in the arena: its offset, or ROSTER_NONE when out of memory
 * (noted in *bad). */
static size_t keep(struct roster *r, const char *s, size_t n, int *bad)
{
	size_t at = r->text.len;
	if (sb_append(&r->text, s, n) || sb_putc(&r->text, '\0')) {
		*bad = 1;
		return ROSTER_NONE;
	}
	return at;
}

int32_t roster_store_ix(const struct roster *r, int64_t seq)
{
	return seq > 0 ? idmap_get(&r->six, seq) : -1;
}

int32_t roster_dist_ix(const struct roster *r, int64_t seq)
{
	return seq > 0 ? idmap_get(&r->dix, seq) : -1;
}

int32_t roster_find(const struct roster *r, const char *id)
{
	for (size_t i = 0; i < r->nd; i++)
		if (!strcmp(roster_text(r, r->d[i].id), id))
			return (int32_t)i;
	return -1;
}

struct load {
	referral_store *st;
	struct roster *r;
	int bad;
};

static int put_store(void *ctx, const struct ev_row *e)
{
	struct load *L = ctx;
	struct roster *r = L->r;
	if (r->ns == r->caps) {
		size_t cap = r->caps ? 2 * r->caps : 64;
		struct roster_store *n = realloc(r->s, cap * sizeof *n);
		if (!n)
			return st_nomem(L->st);
		r->s = n;
		r->caps = cap;
	}
	struct roster_store *s = &r->s[r->ns];
	s->seq = e->seq;
	s->id = keep(r, e->id, e->idlen, &L->bad);
	s->name = keep(r, e->txt1 ? e->txt1 : "", e->txt1 ? strlen(e->txt1) : 0, &L->bad);
	s->region = keep(r, e->txt2 ? e->txt2 : "", e->txt2 ? strlen(e->txt2) : 0, &L->bad);
	s->rating = ROSTER_NONE;
	s->rating_at = INT64_MIN;
	s->rating_seq = 0;
	if (L->bad || idmap_put(&r->six, e->seq, (int32_t)r->ns))
		return st_nomem(L->st);
	r->ns++;
	return 0;
}

static int put_rating(void *ctx, const struct ev_row *e)
{
	struct load *L = ctx;
	struct roster *r = L->r;
	int32_t i = roster_store_ix(r, e->ref1);
	if (i < 0 || e->at >= r->end || !e->num)
		return 0;
	struct roster_store *s = &r->s[i];
	if (e->at < s->rating_at || (e->at == s->rating_at && e->seq < s->rating_seq))
		return 0;
	mpq_t v;
	char text[160];
	mpq_init(v);
	int bad = dec_parse_signed(v, e->num);
	if (!bad)
		dec_format(text, sizeof text, v);
	mpq_clear(v);
	if (bad)
		return st_fail(L->st, REFERRAL_EIO, "storage: a stored rating is not a decimal");
	s->rating = keep(r, text, strlen(text), &L->bad);
	s->rating_at = e->at;
	s->rating_seq = e->seq;
	return L->bad ? st_nomem(L->st) : 0;
}

static int put_dist(void *ctx, const struct ev_row *e)
{
	struct load *L = ctx;
	struct roster *r = L->r;
	if (r->nd == r->capd) {
		size_t cap = r->capd ? 2 * r->capd : 256;
		struct roster_dist *n = realloc(r->d, cap * sizeof *n);
		if (!n)
			return st_nomem(L->st);
		r->d = n;
		r->capd = cap;
	}
	struct roster_dist *d = &r->d[r->nd];
	memset(d, 0, sizeof *d);
	d->seq = e->seq;
	d->store = e->ref1;
	d->store_at = INT64_MIN;
	/* a recruiter's event comes first in seq order: she is loaded */
	d->recruiter = e->ref2 ? roster_dist_ix(r, e->ref2) : -1;
	d->joined = e->at;
	d->term = INT64_MAX;
	d->id = keep(r, e->id, e->idlen, &L->bad);
	d->kind = keep(r, e->txt1 ? e->txt1 : "", e->txt1 ? strlen(e->txt1) : 0, &L->bad);
	d->first_child = d->next_sibling = -1;
	if (L->bad || idmap_put(&r->dix, e->seq, (int32_t)r->nd))
		return st_nomem(L->st);
	r->nd++;
	return 0;
}

static int put_store_change(void *ctx, const struct ev_row *e)
{
	struct load *L = ctx;
	int32_t i = roster_dist_ix(L->r, e->ref1);
	if (i >= 0 && e->at < L->r->end && e->at >= L->r->d[i].store_at) {
		L->r->d[i].store = e->ref2;
		L->r->d[i].store_at = e->at;
	}
	return 0;
}

static int put_term(void *ctx, const struct ev_row *e)
{
	struct load *L = ctx;
	int32_t i = roster_dist_ix(L->r, e->ref1);
	if (i >= 0)
		L->r->d[i].term = e->at;
	return 0;
}

/* A member or bind event: counted for her distributor when the binding is
 * active at the last instant of the period (started before its end, and
 * ending, by its window or her termination, at or after it). */
static int put_binding(void *ctx, const struct ev_row *e)
{
	struct load *L = ctx;
	struct roster *r = L->r;
	int32_t i = roster_dist_ix(r, e->ref2);
	if (i < 0 || e->at >= r->end)
		return 0;
	int months = e->num ? atoi(e->num) : 0;
	if (binding_end(L->st, e->at, months, r->d[i].term) >= r->end)
		r->d[i].members++;
	return 0;
}

static int put_grade(void *ctx, int64_t dist, int next_grade)
{
	struct load *L = ctx;
	int32_t i = roster_dist_ix(L->r, dist);
	if (i >= 0)
		L->r->d[i].grade = next_grade;
	return 0;
}

static int last_period(void *ctx, int period, int64_t last_seq)
{
	(void)last_seq;
	*(int *)ctx = period; /* ascending: the last one wins */
	return 0;
}

int roster_period(referral_store *st, int *period)
{
	int draft = 0, closed = 0, rc;
	if ((rc = ENG(st, drafts, last_period, &draft)) || (rc = ENG(st, closes, last_period, &closed)))
		return rc;
	*period = draft ? draft : closed ? closed : st->first_open;
	return 0;
}

int roster_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct roster_key *)a)->id, ((const struct roster_key *)b)->id);
}

/* The recruits of each distributor by id, and every distributor in tree
 * order with her depth. */
static int make_tree(referral_store *st, struct roster *r)
{
	struct roster_key *sorted = malloc((r->nd + 1) * sizeof *sorted);
	int32_t *ids = malloc((r->nd + 1) * sizeof *ids);
	int32_t *stack = malloc((r->nd + 1) * sizeof *stack);
	r->order = malloc((r->nd + 1) * sizeof *r->order);
	if (!sorted || !ids || !stack || !r->order) {
		free(sorted);
		free(ids);
		free(stack);
		return st_nomem(st);
	}
	for (size_t i = 0; i < r->nd; i++)
		sorted[i] = (struct roster_key){roster_text(r, r->d[i].id), (int32_t)i};
	qsort(sorted, r->nd, sizeof *sorted, roster_key_cmp);
	/* linked in reverse id order, so that each list reads in id order */
	int32_t roots = -1;
	for (size_t k = r->nd; k-- > 0;) {
		struct roster_dist *d = &r->d[sorted[k].ix];
		int32_t *head = d->recruiter >= 0 ? &r->d[d->recruiter].first_child : &roots;
		d->next_sibling = *head;
		*head = sorted[k].ix;
	}
	free(sorted);
	size_t n = 0, top = 0;
	for (int32_t x = roots; x >= 0; x = r->d[x].next_sibling)
		ids[top++] = x; /* roots, in id order */
	/* depth first: a stack holding the next node to visit at each level */
	for (size_t k = 0; k < top; k++) {
		size_t sp = 0;
		stack[sp++] = ids[k];
		r->d[ids[k]].depth = 0;
		while (sp) {
			int32_t x = stack[--sp];
			r->order[n++] = x;
			if (r->d[x].next_sibling >= 0 && r->d[x].depth > 0)
				stack[sp++] = r->d[x].next_sibling;
			int32_t c = r->d[x].first_child;
			if (c >= 0) {
				r->d[c].depth = r->d[x].depth + 1;
				for (int32_t y = r->d[c].next_sibling; y >= 0; y = r->d[y].next_sibling)
					r->d[y].depth = r->d[c].depth;
				stack[sp++] = c;
			}
		}
	}
	free(ids);
	free(stack);
	return 0;
}

int roster_load(referral_store *st, struct roster *r, int members)
{
	struct load L = {st, r, 0};
	int rc, closed = 0;
	memset(r, 0, sizeof *r);
	if ((rc = roster_period(st, &r->period)) || (rc = ENG(st, last_seq, &r->limit)))
		return rc;
	r->end = period_start(r->period + 1, st->plans[0].p.utc_offset_min);
	if ((rc = ENG(st, events, REFERRAL_EV_STORE, put_store, &L)) ||
	    (rc = ENG(st, events, REFERRAL_EV_STORE_RATING, put_rating, &L)) ||
	    (rc = ENG(st, events, REFERRAL_EV_DISTRIBUTOR, put_dist, &L)) ||
	    (rc = ENG(st, events, REFERRAL_EV_STORE_CHANGE, put_store_change, &L)) ||
	    (rc = ENG(st, events, REFERRAL_EV_TERMINATE, put_term, &L)))
		return rc;
	if (members && ((rc = ENG(st, events, REFERRAL_EV_MEMBER, put_binding, &L)) ||
			(rc = ENG(st, events, REFERRAL_EV_BIND, put_binding, &L))))
		return rc;
	int initial = st_plan_for(st, st->first_open)->initial_grade;
	for (size_t i = 0; i < r->nd; i++)
		r->d[i].grade = initial;
	if ((rc = ENG(st, closes, last_period, &closed)))
		return rc;
	if (closed && (rc = ENG(st, next_grades, closed, put_grade, &L)))
		return rc;
	return make_tree(st, r);
}

void roster_free(struct roster *r)
{
	free(r->s);
	free(r->d);
	free(r->order);
	idmap_free(&r->six);
	idmap_free(&r->dix);
	sb_free(&r->text);
	memset(r, 0, sizeof *r);
}
