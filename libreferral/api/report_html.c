/*
 * report_html.c — what the month-end page is made of: escaped text, tables
 * whose amounts line up on the decimal point, and the charts.
 *
 * Amounts are printed exactly, in the canonical form of the exports. To
 * line them up, each amount cell is right-aligned in tabular figures and
 * padded after its last digit by as many invisible digits as its column's
 * longest fraction has more (a data-pad attribute shown by CSS), so that
 * the page's text holds the exact value and nothing else.
 *
 * The charts are inline SVG drawn from the exact values: the positions of
 * bars, points and ticks are computed in floating point and rounded to a
 * tenth of a pixel, which only places them; every number printed on a
 * chart (each point's value, each tick) is exact.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "report.h"

void page_puts(struct page *pg, const char *s)
{
	pg->bad |= sb_puts(&pg->sb, s);
}

void page_printf(struct page *pg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pg->bad |= sb_vprintf(&pg->sb, fmt, ap);
	va_end(ap);
}

void page_text(struct page *pg, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': page_puts(pg, "&amp;"); break;
		case '<': page_puts(pg, "&lt;"); break;
		case '>': page_puts(pg, "&gt;"); break;
		case '"': page_puts(pg, "&quot;"); break;
		case '\'': page_puts(pg, "&#39;"); break;
		default: pg->bad |= sb_putc(&pg->sb, *s);
		}
	}
}

/* ---- tables ------------------------------------------------------------- */

void grid_init(struct grid *g, const char *kinds)
{
	memset(g, 0, sizeof *g);
	g->kinds = kinds;
	g->ncols = (int)strlen(kinds);
}

void grid_cell(struct grid *g, const char *text)
{
	if (g->ncell == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		char **n = realloc(g->cell, cap * sizeof *n);
		if (!n) {
			g->bad = 1;
			return;
		}
		g->cell = n;
		g->cap = cap;
	}
	char *c = strdup(text ? text : "");
	g->bad |= !c;
	g->cell[g->ncell++] = c;
}

void grid_money(struct grid *g, const mpq_t v)
{
	char b[160];
	dec_format(b, sizeof b, v);
	grid_cell(g, b);
}

void grid_count(struct grid *g, long v)
{
	char b[32];
	snprintf(b, sizeof b, "%ld", v);
	grid_cell(g, b);
}

void grid_row(struct grid *g, int mark)
{
	/* a row short of cells (out of memory) is filled, so rows stay whole */
	while (!g->bad && g->ncell % (size_t)g->ncols)
		grid_cell(g, "");
	unsigned char *m = realloc(g->mark, g->nrows + 1);
	if (!m) {
		g->bad = 1;
		return;
	}
	g->mark = m;
	g->mark[g->nrows++] = (unsigned char)mark;
}

static size_t fraction(const char *s)
{
	const char *dot = strchr(s, '.');
	return dot ? strlen(dot + 1) : 0;
}

void grid_write(struct page *pg, struct grid *g, const char *id, const char *const *heads)
{
	size_t most[32] = {0};
	int nc = g->ncols < 32 ? g->ncols : 32;
	pg->bad |= g->bad;
	if (g->bad || g->nrows * (size_t)g->ncols != g->ncell) {
		pg->bad = 1;
		grid_free(g);
		return;
	}
	for (size_t i = 0; i < g->ncell; i++)
		if (g->kinds[i % (size_t)g->ncols] == 'm' && fraction(g->cell[i]) > most[i % (size_t)g->ncols])
			most[i % (size_t)g->ncols] = fraction(g->cell[i]);
	page_printf(pg, "<table id=\"%s\">\n<thead><tr>", id);
	for (int c = 0; c < nc; c++) {
		page_puts(pg, g->kinds[c] == 't' ? "<th>" : "<th class=\"n\">");
		page_text(pg, heads[c]);
		page_puts(pg, "</th>");
	}
	page_puts(pg, "</tr></thead>\n<tbody>\n");
	for (size_t r = 0; r < g->nrows; r++) {
		page_puts(pg, g->mark[r] == GRID_TOTAL ? "<tr class=\"total\">"
			      : g->mark[r] == GRID_SUBTOTAL ? "<tr class=\"subtotal\">" : "<tr>");
		for (int c = 0; c < nc; c++) {
			const char *v = g->cell[r * (size_t)g->ncols + (size_t)c];
			if (g->kinds[c] == 't') {
				page_puts(pg, "<td>");
			} else if (g->kinds[c] == 'm' && v[0] && most[c] > fraction(v)) {
				page_printf(pg, "<td class=\"n\" data-pad=\"%.*s\">",
					    (int)(most[c] - fraction(v)), "0000000000000000000000000000000");
			} else {
				page_puts(pg, "<td class=\"n\">");
			}
			page_text(pg, v);
			page_puts(pg, "</td>");
		}
		page_puts(pg, "</tr>\n");
	}
	page_puts(pg, "</tbody>\n</table>\n");
	grid_free(g);
}

void grid_free(struct grid *g)
{
	for (size_t i = 0; i < g->ncell; i++)
		free(g->cell[i]);
	free(g->cell);
	free(g->mark);
	memset(g, 0, sizeof *g);
}

/* ---- charts ------------------------------------------------------------- */

#define CHART_W 600
#define CHART_H 260
#define PLOT_X 90   /* left of the plot: room for the ticks */
#define PLOT_Y 30
#define PLOT_W 490
#define PLOT_H 180

/* The tick step: the smallest 1, 2 or 5 x 10^k fen that splits the range
 * into at most 5 steps; lo and hi (in fen) widened to whole steps. */
static void ticks(mpz_t step, mpz_t lo, mpz_t hi)
{
	mpz_t span, unit;
	mpz_inits(span, unit, NULL);
	mpz_sub(span, hi, lo);
	if (mpz_sgn(span) == 0)
		mpz_set_ui(span, 100);
	mpz_set_ui(unit, 1);
	for (;;) {
		static const unsigned mult[3] = {1, 2, 5};
		int done = 0;
		for (int i = 0; i < 3 && !done; i++) {
			mpz_mul_ui(step, unit, mult[i]);
			mpz_t five;
			mpz_init(five);
			mpz_mul_ui(five, step, 5);
			done = mpz_cmp(five, span) >= 0;
			mpz_clear(five);
		}
		if (done)
			break;
		mpz_mul_ui(unit, unit, 10);
	}
	mpz_fdiv_q(lo, lo, step);
	mpz_mul(lo, lo, step);
	mpz_cdiv_q(hi, hi, step);
	mpz_mul(hi, hi, step);
	if (!mpz_cmp(lo, hi))
		mpz_add(hi, hi, step);
	mpz_clears(span, unit, NULL);
}

/* The y of a value in fen (as a rational) between lo and hi. */
static double y_of(const mpq_t v, const mpz_t lo, const mpz_t hi)
{
	double l = mpz_get_d(lo) / 100, h = mpz_get_d(hi) / 100, x = mpq_get_d(v);
	return PLOT_Y + PLOT_H - (x - l) / (h - l) * PLOT_H;
}

void chart_svg(struct page *pg, const char *title, int bars, int n, const char *const *labels,
	       mpq_t *values)
{
	mpz_t lo, hi, step, fen;
	mpq_t t;
	char b[160];
	mpz_inits(lo, hi, step, fen, NULL);
	mpq_init(t);
	/* the range in whole fen, 0 included: bars stand on the zero line */
	for (int i = 0; i < n; i++) {
		mpq_set_ui(t, 100, 1);
		mpq_mul(t, t, values[i]);
		mpz_fdiv_q(fen, mpq_numref(t), mpq_denref(t));
		if (mpz_cmp(fen, lo) < 0)
			mpz_set(lo, fen);
		mpz_cdiv_q(fen, mpq_numref(t), mpq_denref(t));
		if (mpz_cmp(fen, hi) > 0)
			mpz_set(hi, fen);
	}
	ticks(step, lo, hi);
	page_puts(pg, "<figure class=\"chart\"><figcaption>");
	page_text(pg, title);
	page_printf(pg, "</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\""
			" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\""
			" aria-label=\"", CHART_W, CHART_H, CHART_W, CHART_H);
	page_text(pg, title);
	page_puts(pg, "\">\n");
	/* the ticks, exact, and their grid lines */
	for (mpz_set(fen, lo); mpz_cmp(fen, hi) <= 0; mpz_add(fen, fen, step)) {
		mpq_set_z(t, fen);
		mpz_set_ui(mpq_denref(t), 100);
		mpq_canonicalize(t);
		double y = y_of(t, lo, hi);
		dec_format(b, sizeof b, t);
		page_printf(pg, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
				"<text class=\"tick\" x=\"%d\" y=\"%.1f\">%s</text>\n",
			    PLOT_X, PLOT_X + PLOT_W, y, y, PLOT_X - 6, y + 4, b);
	}
	mpq_set_ui(t, 0, 1);
	double zero = y_of(t, lo, hi), slot = n ? (double)PLOT_W / n : PLOT_W;
	struct strbuf path = {0};
	for (int i = 0; i < n; i++) {
		double x = PLOT_X + slot * i + slot / 2, y = y_of(values[i], lo, hi);
		dec_format(b, sizeof b, values[i]);
		if (bars) {
			double top = y < zero ? y : zero, h = y < zero ? zero - y : y - zero;
			page_printf(pg, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
					" height=\"%.1f\"/>\n", x - slot * 0.35, top, slot * 0.7, h);
		} else {
			pg->bad |= sb_printf(&path, "%s%.1f,%.1f", i ? " " : "", x, y);
			page_printf(pg, "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>\n", x, y);
		}
		page_printf(pg, "<text class=\"value\" x=\"%.1f\" y=\"%.1f\">%s</text>\n", x,
			    (y < zero || !bars ? y : zero) - 6, b);
		page_printf(pg, "<text class=\"label\" x=\"%.1f\" y=\"%d\">%s</text>\n", x,
			    PLOT_Y + PLOT_H + 18, labels[i]);
	}
	if (!bars && n)
		page_printf(pg, "<polyline class=\"line\" points=\"%s\"/>\n", sb_str(&path));
	page_printf(pg, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
		    PLOT_X, PLOT_X + PLOT_W, zero, zero);
	page_puts(pg, "</svg></figure>\n");
	sb_free(&path);
	mpq_clear(t);
	mpz_clears(lo, hi, step, fen, NULL);
}
