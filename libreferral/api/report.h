/*
 * report.h — the month-end page (referral_report()): report.c gathers the
 * figures and writes the HTML, report_html.c holds what a page is made of
 * (escaping, tables aligned on the decimal point, the SVG charts).
 */
#ifndef REFERRAL_REPORT_H
#define REFERRAL_REPORT_H

#include <gmp.h>

#include "strbuf.h"

/* A page being written: appends to sb, remembering a failure. */
struct page {
	struct strbuf sb;
	int bad;
};

void page_puts(struct page *pg, const char *s);
void page_printf(struct page *pg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text escaped for HTML (&, <, >, " and '). */
void page_text(struct page *pg, const char *s);

/* A small table built in memory, then written with its money columns
 * aligned on the decimal point. Kinds of column: 't' text, 'c' a count,
 * 'm' an exact amount. A row may be marked a subtotal or total. */
struct grid {
	int ncols;
	const char *kinds;
	char **cell;
	unsigned char *mark; /* by row: 0, or GRID_SUBTOTAL, GRID_TOTAL */
	size_t ncell, cap, nrows;
	int bad;
};
enum { GRID_SUBTOTAL = 1, GRID_TOTAL = 2 };

void grid_init(struct grid *g, const char *kinds);
/* Adds a cell (copied) to the row being filled; NULL is an empty cell. */
void grid_cell(struct grid *g, const char *text);
void grid_money(struct grid *g, const mpq_t v);
void grid_count(struct grid *g, long v);
/* Ends the row being filled, with its mark. */
void grid_row(struct grid *g, int mark);
/* Writes <table id="id"> with the heads, and frees the grid. */
void grid_write(struct page *pg, struct grid *g, const char *id, const char *const *heads);
void grid_free(struct grid *g);

/* An SVG chart of one series by period: bars (payable) or a line (sales),
 * with exact values printed above each point and exact ticks. */
void chart_svg(struct page *pg, const char *title, int bars, int n, const char *const *labels,
	       mpq_t *values);

#endif
