/*
 * grading.c — the 4-level grading run when a period closes (SPEC §8).
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
	struct idmap map;
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
static int measure_statements(struct grading *G)
{
	sqlite3_stmt *q;
	int rc = st_prepare(G->st, "SELECT dist, members, sales, shares FROM main.statements"
				   " WHERE period BETWEEN ?1 AND ?2 - 1", &q), step;
	if (rc)
		return rc;
	sqlite3_bind_int(q, 1, G->lo);
	sqlite3_bind_int(q, 2, G->period);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int32_t i = idmap_get(&G->map, sqlite3_column_int64(q, 0));
		if (i < 0)
			continue;
		struct graded *g = &G->g[i];
		fen_t sales;
		g->members += sqlite3_column_int64(q, 1);
		g->shares += sqlite3_column_int64(q, 3);
		if (fen_parse((const char *)sqlite3_column_text(q, 2), &sales) ||
		    fen_add(&g->sales, sales)) {
			rc = st_fail(G->st, REFERRAL_EIO, "storage: a stored sales figure is not money");
			break;
		}
	}
	sqlite3_finalize(q);
	if (!rc && step != SQLITE_DONE)
		rc = st_sqlfail(G->st, "reading statements for grading");
	return rc;
}

/* The latest rating of each store as of the end of P (0 if none): kept in
 * G->ratings with its text, each distributor pointing at her store's. */
static int measure_ratings(struct grading *G)
{
	sqlite3_stmt *q;
	struct idmap stores = {0};
	/* through the partial index events_network, whose condition is repeated
	 * so that the planner sees it */
	int rc = st_prepare(G->st, "SELECT ref1, num FROM events WHERE type BETWEEN 2 AND 7"
				   " AND type = 2 AND at < ?1 AND seq <= ?2 ORDER BY at, seq", &q), step;
	if (rc)
		return rc;
	sqlite3_bind_int64(q, 1, period_start(G->period + 1, G->pl->utc_offset_min));
	sqlite3_bind_int64(q, 2, G->limit);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t store = sqlite3_column_int64(q, 0);
		const char *r = (const char *)sqlite3_column_text(q, 1);
		int32_t i = idmap_get(&stores, store);
		if (i < 0) {
			if (G->nratings == G->capratings) {
				size_t cap = G->capratings ? G->capratings * 2 : 64;
				struct rating *nr = realloc(G->ratings, cap * sizeof *nr);
				if (!nr) {
					rc = st_nomem(G->st);
					break;
				}
				G->ratings = nr;
				G->capratings = cap;
			}
			if (idmap_put(&stores, store, (int32_t)G->nratings)) {
				rc = st_nomem(G->st);
				break;
			}
			mpq_init(G->ratings[G->nratings].value);
			i = (int32_t)G->nratings++;
		}
		dec_parse_signed(G->ratings[i].value, r); /* later rows win */
	}
	sqlite3_finalize(q);
	if (!rc && step != SQLITE_DONE)
		rc = st_sqlfail(G->st, "reading store ratings");
	for (size_t k = 0; k < G->nratings; k++)
		dec_format(G->ratings[k].text, sizeof G->ratings[k].text, G->ratings[k].value);
	for (size_t k = 0; k < G->n && !rc; k++)
		G->g[k].rating = idmap_get(&stores, G->g[k].store);
	idmap_free(&stores);
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

static int write_grades(struct grading *G, const char *out)
{
	struct strbuf sql = {0};
	sqlite3_stmt *q;
	char sales[FEN_TEXT];
	mpq_t zero;
	int rc;

	if (sb_printf(&sql, "INSERT INTO %sgrades(period, dist, grade, members, sales, shares,"
			    " store_rating, next_grade) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", out))
		return st_nomem(G->st);
	rc = st_prepare(G->st, sb_str(&sql), &q);
	sb_free(&sql);
	if (rc)
		return rc;
	mpq_init(zero);
	for (size_t k = 0; k < G->n && !rc; k++) {
		struct graded *g = &G->g[k];
		fen_format(sales, g->sales);
		sqlite3_bind_int(q, 1, G->period);
		sqlite3_bind_int64(q, 2, g->dist);
		sqlite3_bind_int(q, 3, g->grade);
		sqlite3_bind_int64(q, 4, g->members);
		sqlite3_bind_text(q, 5, sales, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 6, g->shares);
		sqlite3_bind_text(q, 7, g->rating >= 0 ? G->ratings[g->rating].text : "0.00", -1,
				  SQLITE_STATIC);
		sqlite3_bind_int(q, 8, next_grade(G, g, zero));
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = st_sqlfail(G->st, "writing a grade");
		sqlite3_reset(q);
	}
	mpq_clear(zero);
	sqlite3_finalize(q);
	return rc;
}

int grade_period(referral_store *st, int period, int64_t limit, const char *out,
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
	return rc;
}
