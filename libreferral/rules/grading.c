/*
 * grading.c — the 4-level grading run when a period closes
 * (docs/formats.md, "Grades").
 *
 * Each distributor with a statement row in P is measured over the window of
 * the last `window_months` periods ending with P, by booking period: bounties
 * earned minus reversed, commission bases minus reversal bases, her shares,
 * and the latest rating of her store as of the end of P. The highest grade
 * whose every threshold she meets is her grade for P+1; without demotion it
 * never falls below her grade for P. P's own figures come from the
 * settlement that just wrote its statements (struct figures), the earlier
 * periods' from their frozen statements.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "decimal.h"
#include "fen.h"
#include "idmap.h"
#include "timeutil.h"

/* A store's rating at the end of P, and its canonical text. */
struct rating {
	mpq_t value;
	char text[160];
};

struct grading {
	referral_store *st;
	const plan *pl;
	int period, lo;
	int64_t limit;
	fen_t min_sales[PLAN_GRADES]; /* the plan's thresholds: money */
	struct graded *g;
	size_t n;
	struct idmap map, stores;
	struct rating *ratings;
	size_t nratings, capratings;
};

/* Her statement's figures in P, as settlement handed them over. */
static int take_rows(struct grading *G, struct figures *figs)
{
	G->g = figs->g;
	G->n = figs->n;
	for (size_t i = 0; i < G->n; i++) {
		G->g[i].rating = -1;
		if (idmap_put(&G->map, G->g[i].dist, (int32_t)i))
			return st_nomem(G->st);
	}
	return 0;
}

/* Members, sales and shares over the window: P's own from the figures,
 * the earlier periods' from their frozen statements. Each statement holds
 * her bounties earned minus reversed, her commission bases minus reversal
 * bases, and her shares booked in its period. */
static int put_figures(void *ctx, int64_t dist, long members, const char *sales_text,
		       long shares)
{
	struct grading *G = ctx;
	int32_t i = idmap_get(&G->map, dist);
	if (i < 0)
		return 0;
	struct graded *g = &G->g[i];
	fen_t sales;
	g->members += members;
	g->shares += shares;
	if (fen_parse(sales_text, &sales) || fen_add(&g->sales, sales))
		return st_fail(G->st, REFERRAL_EIO, "storage: a stored sales figure is not money");
	return 0;
}

static int measure_statements(struct grading *G)
{
	if (G->lo > G->period - 1)
		return 0;
	return ENG(G->st, statement_figures, G->lo, G->period - 1, put_figures, G);
}

/* The latest rating of each store as of the end of P (0 if none): kept in
 * G->ratings with its text, each distributor pointing at her store's. */
static int put_rating(void *ctx, int64_t store, const char *r)
{
	struct grading *G = ctx;
	int32_t i = idmap_get(&G->stores, store);
	if (i < 0) {
		if (G->nratings == G->capratings) {
			size_t cap = G->capratings ? G->capratings * 2 : 64;
			struct rating *nr = realloc(G->ratings, cap * sizeof *nr);
			if (!nr)
				return st_nomem(G->st);
			G->ratings = nr;
			G->capratings = cap;
		}
		if (idmap_put(&G->stores, store, (int32_t)G->nratings))
			return st_nomem(G->st);
		mpq_init(G->ratings[G->nratings].value);
		i = (int32_t)G->nratings++;
	}
	if (dec_parse_signed(G->ratings[i].value, r)) /* later rows win */
		return st_fail(G->st, REFERRAL_EIO, "storage: a stored rating is not a decimal");
	return 0;
}

static int measure_ratings(struct grading *G)
{
	int rc = ENG(G->st, ratings, period_start(G->period + 1, G->pl->utc_offset_min), G->limit,
		     put_rating, G);
	for (size_t k = 0; k < G->nratings; k++)
		dec_format(G->ratings[k].text, sizeof G->ratings[k].text, G->ratings[k].value);
	for (size_t k = 0; k < G->n && !rc; k++)
		G->g[k].rating = idmap_get(&G->stores, G->g[k].store);
	return rc;
}

static int next_grade(const struct grading *G, const struct graded *g, const mpq_t zero)
{
	int next = 1;
	const mpq_t *rating = g->rating >= 0 ? (const mpq_t *)&G->ratings[g->rating].value
					     : (const mpq_t *)zero;
	for (int k = PLAN_GRADES; k >= 2; k--) {
		const struct plan_grade *t = &G->pl->grades[k - 1];
		if (g->members >= t->min_members && g->sales >= G->min_sales[k - 1] &&
		    g->shares >= t->min_shares && mpq_cmp(*rating, t->min_store_rating) >= 0) {
			next = k;
			break;
		}
	}
	if (!G->pl->allow_demotion && next < g->grade)
		next = g->grade;
	return next;
}

#define GRADE_BATCH 1024

static int write_grades(struct grading *G, const struct settle_out *out)
{
	struct grade_row *rows = malloc(GRADE_BATCH * sizeof *rows);
	char (*sales)[FEN_TEXT] = malloc(GRADE_BATCH * sizeof *sales);
	mpq_t zero;
	int rc = rows && sales ? 0 : st_nomem(G->st);
	mpq_init(zero);
	for (size_t k = 0; k < G->n && !rc; k += GRADE_BATCH) {
		size_t n = G->n - k < GRADE_BATCH ? G->n - k : GRADE_BATCH;
		for (size_t i = 0; i < n; i++) {
			struct graded *g = &G->g[k + i];
			fen_format(sales[i], g->sales);
			rows[i] = (struct grade_row){
				.period = G->period,
				.dist = g->dist,
				.grade = g->grade,
				.members = g->members,
				.sales = sales[i],
				.shares = g->shares,
				.store_rating = g->rating >= 0 ? G->ratings[g->rating].text : "0.00",
				.next_grade = next_grade(G, g, zero),
			};
		}
		rc = out->grades(out->ctx, rows, n);
	}
	mpq_clear(zero);
	free(rows);
	free(sales);
	return rc;
}

int grade_period(referral_store *st, int period, int64_t limit, const struct settle_out *out,
		 struct figures *figs)
{
	struct grading G;
	int rc = 0;

	memset(&G, 0, sizeof G);
	G.st = st;
	G.pl = st_plan_for(st, period);
	G.period = period;
	G.lo = period - (int)G.pl->grading_window_months + 1;
	G.limit = limit;
	for (int k = 0; k < PLAN_GRADES && !rc; k++)
		if (fen_of(G.pl->grades[k].min_sales, &G.min_sales[k]))
			rc = st_fail(st, REFERRAL_EIO, "grading: a sales threshold is too large");
	if (!rc && !(rc = take_rows(&G, figs)) && !(rc = measure_statements(&G)) &&
	    !(rc = measure_ratings(&G)))
		rc = write_grades(&G, out);
	for (size_t k = 0; k < G.nratings; k++)
		mpq_clear(G.ratings[k].value);
	free(G.ratings);
	idmap_free(&G.map); /* the rows are the caller's */
	idmap_free(&G.stores);
	return rc;
}
