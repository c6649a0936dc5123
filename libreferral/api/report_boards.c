/*
 * report_boards.c — the sections of the month-end page that rank and
 * compare (report.h): the team PK board of distributors and stores by
 * sales, new consuming members and earnings, the grade moves at the close,
 * and the last 12 months as charts and a table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "report.h"
#include "timeutil.h"

/* ---- names ------------------------------------------------------------------ */

const char *dist_id(const struct report *P, int64_t seq)
{
	int32_t i = roster_dist_ix(&P->R, seq);
	return i >= 0 ? roster_text(&P->R, P->R.d[i].id) : "?";
}

const char *store_field(const struct report *P, int64_t seq, int name)
{
	int32_t i = roster_store_ix(&P->R, seq);
	if (i < 0)
		return "";
	const struct roster_store *s = &P->R.s[i];
	return roster_text(&P->R, name == 0 ? s->id : name == 1 ? s->name : s->region);
}

/* ---- rankings: the team PK board ---------------------------------------------- */

/* Whether a ranks before b on the metric (ties by id). */
static int before(enum metric m, fen_t sa, long ma, const mpq_t *ea, const char *ida, fen_t sb,
		  long mb, const mpq_t *eb, const char *idb)
{
	int c = m == BY_SALES ? (sa > sb) - (sa < sb)
		: m == BY_MEMBERS ? (ma > mb) - (ma < mb) : mpq_cmp(*ea, *eb);
	return c > 0 || (c == 0 && strcmp(ida, idb) < 0);
}

static int positive(enum metric m, fen_t s, long mem, const mpq_t *e)
{
	return m == BY_SALES ? s > 0 : m == BY_MEMBERS ? mem > 0 : mpq_sgn(*e) > 0;
}

static void value_cell(struct grid *g, enum metric m, fen_t s, long mem, const mpq_t *e)
{
	mpq_t x;
	if (m == BY_MEMBERS) {
		grid_count(g, mem);
		return;
	}
	mpq_init(x);
	if (m == BY_SALES)
		fen_to_mpq(x, s);
	else
		mpq_set(x, *e);
	grid_money(g, x);
	mpq_clear(x);
}

/* What a ranking compares of a row. */
struct rank_item {
	fen_t sales;
	long members;
	const mpq_t *earned;
	const char *id;
};

/* The TOP rows with a value above 0, best first, by insertion: one pass
 * however many rows. Returns how many. */
static size_t top_of(enum metric m, size_t n,
		     void (*item)(const void *ctx, size_t i, struct rank_item *out), const void *ctx,
		     size_t top[TOP])
{
	size_t nt = 0;
	struct rank_item x, o;
	for (size_t i = 0; i < n; i++) {
		item(ctx, i, &x);
		if (!positive(m, x.sales, x.members, x.earned))
			continue;
		size_t at = nt;
		while (at > 0) {
			item(ctx, top[at - 1], &o);
			if (!before(m, x.sales, x.members, x.earned, x.id, o.sales, o.members, o.earned,
				    o.id))
				break;
			at--;
		}
		if (at >= TOP)
			continue;
		if (nt < TOP)
			nt++;
		memmove(top + at + 1, top + at, (nt - 1 - at) * sizeof *top);
		top[at] = i;
	}
	return nt;
}

static void dist_item(const void *ctx, size_t i, struct rank_item *out)
{
	const struct report *P = ctx;
	const struct srow *r = &P->rows[i];
	*out = (struct rank_item){r->sales, r->members, &r->v[C_ACCRUED], dist_id(P, r->dist)};
}

struct store_items {
	const struct report *P;
	const struct sstore *st;
};

static void store_item(const void *ctx, size_t i, struct rank_item *out)
{
	const struct store_items *c = ctx;
	const struct sstore *s = &c->st[i];
	*out = (struct rank_item){s->sales, s->members, &s->earned,
				  roster_text(&c->P->R, c->P->R.s[s->store].id)};
}

static const char *const metric_names[3] = {"sales", "new consuming members", "earned"};
static const char *const metric_heads[3] = {"sales", "new members", "earned"};
static const char *const metric_ids[3] = {"sales", "members", "earned"};

void rank_distributors(struct page *pg, const struct report *P, enum metric m)
{
	size_t top[TOP], nt = top_of(m, P->n, dist_item, P, top);
	static const char *const heads[] = {"#", "distributor", "store", ""};
	const char *h[4] = {heads[0], heads[1], heads[2], metric_heads[m]};
	struct grid g;
	grid_init(&g, m == BY_MEMBERS ? "cttc" : "cttm");
	for (size_t k = 0; k < nt; k++) {
		const struct srow *r = &P->rows[top[k]];
		grid_count(&g, (long)k + 1);
		grid_cell(&g, dist_id(P, r->dist));
		grid_cell(&g, store_field(P, r->store, 1));
		value_cell(&g, m, r->sales, r->members, &r->v[C_ACCRUED]);
		grid_row(&g, 0);
	}
	char id[32];
	snprintf(id, sizeof id, "rank-distributors-%s", metric_ids[m]);
	page_printf(pg, "<section><h3>Distributors by %s</h3>\n", metric_names[m]);
	if (!nt)
		page_puts(pg, "<p>nobody this month</p>\n");
	grid_write(pg, &g, id, h);
	page_puts(pg, "</section>\n");
}

void rank_stores(struct page *pg, const struct report *P, const struct sstore *st, size_t n,
			enum metric m)
{
	const struct roster *R = &P->R;
	struct store_items ctx = {P, st};
	size_t top[TOP], nt = top_of(m, n, store_item, &ctx, top);
	const char *h[4] = {"#", "store", "name", metric_heads[m]};
	struct grid g;
	grid_init(&g, m == BY_MEMBERS ? "cttc" : "cttm");
	for (size_t k = 0; k < nt; k++) {
		const struct sstore *s = &st[top[k]];
		grid_count(&g, (long)k + 1);
		grid_cell(&g, roster_text(R, R->s[s->store].id));
		grid_cell(&g, roster_text(R, R->s[s->store].name));
		value_cell(&g, m, s->sales, s->members, &s->earned);
		grid_row(&g, 0);
	}
	char id[32];
	snprintf(id, sizeof id, "rank-stores-%s", metric_ids[m]);
	page_printf(pg, "<section><h3>Stores by %s</h3>\n", metric_names[m]);
	if (!nt)
		page_puts(pg, "<p>no store this month</p>\n");
	grid_write(pg, &g, id, h);
	page_puts(pg, "</section>\n");
}

/* ---- grades, the 12 months --------------------------------- */

void grade_moves(struct page *pg, const struct report *P)
{
	page_puts(pg, "<h2>Grade moves</h2>\n");
	if (!P->closed) {
		page_puts(pg, "<p>The grades for next month are decided when this month closes.</p>\n");
		return;
	}
	long moves[PLAN_GRADES + 1][PLAN_GRADES + 1] = {{0}};
	for (size_t i = 0; i < P->n; i++)
		if (P->rows[i].next_grade >= 1 && P->rows[i].next_grade <= PLAN_GRADES &&
		    P->rows[i].grade >= 1 && P->rows[i].grade <= PLAN_GRADES)
			moves[P->rows[i].grade][P->rows[i].next_grade]++;
	static const char *const heads[] = {"from grade", "to grade", "move", "distributors"};
	struct grid g;
	grid_init(&g, "cctc");
	for (int a = 1; a <= PLAN_GRADES; a++)
		for (int b = 1; b <= PLAN_GRADES; b++)
			if (moves[a][b]) {
				grid_count(&g, a);
				grid_count(&g, b);
				grid_cell(&g, b > a ? "promoted" : b < a ? "demoted" : "stays");
				grid_count(&g, moves[a][b]);
				grid_row(&g, 0);
			}
	grid_write(pg, &g, "grade-moves", heads);
	static const char *const mheads[] = {"distributor", "store", "from grade", "to grade"};
	size_t shown = 0, movers = 0, nk = 0;
	struct roster_key *k = malloc((P->n + 1) * sizeof *k);
	if (!k) {
		pg->bad = 1;
		return;
	}
	for (size_t i = 0; i < P->n; i++)
		if (P->rows[i].next_grade && P->rows[i].next_grade != P->rows[i].grade)
			k[nk++] = (struct roster_key){dist_id(P, P->rows[i].dist), (int32_t)i};
	qsort(k, nk, sizeof *k, roster_key_cmp);
	grid_init(&g, "ttcc");
	for (size_t j = 0; j < nk; j++) {
		const struct srow *r = &P->rows[k[j].ix];
		if (movers++ >= MOVERS_SHOWN)
			continue;
		shown++;
		grid_cell(&g, dist_id(P, r->dist));
		grid_cell(&g, store_field(P, r->store, 1));
		grid_count(&g, r->grade);
		grid_count(&g, r->next_grade);
		grid_row(&g, 0);
	}
	if (movers)
		grid_write(pg, &g, "movers", mheads);
	else
		grid_free(&g);
	if (movers > shown)
		page_printf(pg, "<p>and %zu more (the grades export has every one)</p>\n",
			    movers - shown);
	free(k);
}

void trend(struct page *pg, struct report *P)
{
	char labels[TREND][8];
	const char *l[TREND];
	for (int i = 0; i < P->ntrend; i++) {
		period_format(P->trend_period[i], labels[i]);
		l[i] = labels[i];
	}
	page_printf(pg, "<h2>The last %d months</h2>\n<div class=\"charts\">\n", P->ntrend);
	chart_svg(pg, "Payable by month", 1, P->ntrend, l, P->trend_payable);
	chart_svg(pg, "Sales by month", 0, P->ntrend, l, P->trend_sales);
	page_puts(pg, "</div>\n");
	static const char *const heads[] = {"period", "sales", "payable"};
	struct grid g;
	grid_init(&g, "tmm");
	for (int i = 0; i < P->ntrend; i++) {
		grid_cell(&g, labels[i]);
		grid_money(&g, P->trend_sales[i]);
		grid_money(&g, P->trend_payable[i]);
		grid_row(&g, 0);
	}
	grid_write(pg, &g, "trend", heads);
}

