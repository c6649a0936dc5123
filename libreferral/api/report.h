/*
 * report.h — the month-end page (referral_report()): report.c gathers the
 * figures and writes the HTML, report_html.c holds what a page is made of
 * (escaping, tables aligned on the decimal point, the SVG charts).
 */
#ifndef REFERRAL_REPORT_H
#define REFERRAL_REPORT_H

#include <gmp.h>

#include "core.h"
#include "roster.h"
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

/* ---- what the page is made from (report.c) ---------------------------- */

#define TOP 10          /* rows of each ranking */
#define MOVERS_SHOWN 200
#define TREND 12

/* The statement columns the page sums, in the engine row's order. */
enum { C_OPENING, C_COMMISSION, C_BOUNTY, C_OVERRIDE, C_ACCRUED, C_RELEASED, C_HELD, C_TOTAL,
       C_PAYABLE, C_CLOSING, C_WITHHELD, C_NET, NSUM };

struct srow {
	int64_t dist, store;
	int grade, next_grade;    /* next_grade 0: not graded */
	long members;
	fen_t sales;
	mpq_t v[NSUM];
	mpq_t paid, earned;       /* payables and accruals of every period up to P */
};

struct sstore {
	int32_t store;            /* roster index */
	long dists, members;
	fen_t sales;
	mpq_t earned, payable, held, withheld;
};

struct late {
	int64_t dist, event, order;
	int type;
	char value[160];
};

struct report {
	referral_store *st;
	struct roster R;
	int period, closed, offset;
	int64_t limit;
	struct srow *rows;
	size_t n, cap;
	struct idmap ix;          /* dist seq -> row */
	mpq_t sum[NSUM];
	/* the 12 months up to P */
	int trend_period[TREND];
	mpq_t trend_payable[TREND], trend_sales[TREND];
	int ntrend;
	struct idmap late_ev;     /* seqs of the period's events dated earlier */
	struct late *late;
	size_t nlate, caplate;
	int pass;                 /* 0: the period itself, 1: an earlier one */
	int bad;
};

enum metric { BY_SALES, BY_MEMBERS, BY_EARNED };

/* The ids of a distributor and the fields of a store (name 0: id, 1: name,
 * 2: region); "" or "?" when unknown. */
const char *dist_id(const struct report *P, int64_t seq);
const char *store_field(const struct report *P, int64_t seq, int name);
void sstore_init(struct sstore *s, int32_t store);

/* The sections of report_boards.c: the rankings of the team PK board,
 * the grade moves and the last 12 months. */
void rank_distributors(struct page *pg, const struct report *P, enum metric m);
void rank_stores(struct page *pg, const struct report *P, const struct sstore *st, size_t n,
		 enum metric m);
void grade_moves(struct page *pg, const struct report *P);
void trend(struct page *pg, struct report *P);

#endif
