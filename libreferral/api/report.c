/*
 * report.c — the month end as one page (referral_report(); docs/design.md,
 * "The month-end report"): a self-contained HTML document, no script and
 * nothing fetched, that prints well.
 *
 * Everything on it comes from what the store keeps: the statements of the
 * period (and of the periods before it, for the conservation check and the
 * 12 months' chart), the grades frozen at its close, the roster for names
 * and regions, the tax withheld as the payouts export computes it, and the
 * late adjustments, re-derived as the lines export does them: a settlement
 * pass over the period keeps the lines of its events dated in an earlier
 * period. Sums are exact; sales and new consuming members are the figures
 * each statement keeps for grading (commission bases less reversal bases,
 * bounties earned less reversed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "report.h"
#include "roster.h"
#include "timeutil.h"
#include "withholding.h"

/* ---- gathering ------------------------------------------------------------ */

static int take_row(void *ctx, const struct statement_row *s)
{
	struct report *P = ctx;
	const char *t[10] = {s->opening_carry, s->commission, s->bounty, s->override, s->accrued,
			     s->released, s->held, s->total, s->payable, s->closing_carry};
	if (P->pass) { /* an earlier period: what was paid and earned then */
		int32_t i = idmap_get(&P->ix, s->dist);
		mpq_t x;
		mpq_init(x);
		int bad = i < 0 || dec_parse_signed(x, s->payable);
		if (!bad) {
			mpq_add(P->rows[i].paid, P->rows[i].paid, x);
			bad = dec_parse_signed(x, s->accrued);
			mpq_add(P->rows[i].earned, P->rows[i].earned, x);
		}
		mpq_clear(x);
		return bad ? st_fail(P->st, REFERRAL_EIO, "storage: a stored statement is damaged") : 0;
	}
	if (P->n == P->cap) {
		size_t cap = P->cap ? 2 * P->cap : 256;
		struct srow *n = realloc(P->rows, cap * sizeof *n);
		if (!n)
			return st_nomem(P->st);
		P->rows = n;
		P->cap = cap;
	}
	struct srow *r = &P->rows[P->n];
	memset(r, 0, sizeof *r);
	for (int k = 0; k < NSUM; k++)
		mpq_init(r->v[k]);
	mpq_inits(r->paid, r->earned, NULL);
	P->n++;
	r->dist = s->dist;
	r->store = s->store;
	r->grade = s->grade;
	r->members = s->members;
	int bad = fen_parse(s->sales ? s->sales : "0.00", &r->sales);
	for (int k = 0; k < 10 && !bad; k++)
		bad = !t[k] || dec_parse_signed(r->v[k], t[k]);
	if (bad)
		return st_fail(P->st, REFERRAL_EIO, "storage: a stored statement is damaged");
	withholding_of(st_plan_for(P->st, P->period)->withholding, r->v[C_PAYABLE], r->v[C_WITHHELD]);
	mpq_sub(r->v[C_NET], r->v[C_PAYABLE], r->v[C_WITHHELD]);
	mpq_set(r->paid, r->v[C_PAYABLE]);
	mpq_set(r->earned, r->v[C_ACCRUED]);
	for (int k = 0; k < NSUM; k++)
		mpq_add(P->sum[k], P->sum[k], r->v[k]);
	return idmap_put(&P->ix, s->dist, (int32_t)(P->n - 1)) ? st_nomem(P->st) : 0;
}

/* An earlier period of the chart: its payable and sales. */
struct trend_sum {
	struct report *P;
	int k;
};

static int take_trend(void *ctx, const struct statement_row *s)
{
	struct trend_sum *T = ctx;
	mpq_t x;
	mpq_init(x);
	int bad = dec_parse_signed(x, s->payable);
	mpq_add(T->P->trend_payable[T->k], T->P->trend_payable[T->k], x);
	bad |= dec_parse_signed(x, s->sales ? s->sales : "0.00");
	mpq_add(T->P->trend_sales[T->k], T->P->trend_sales[T->k], x);
	mpq_clear(x);
	if (bad)
		return st_fail(T->P->st, REFERRAL_EIO, "storage: a stored statement is damaged");
	return T->P->pass ? take_row(T->P, s) : 0;
}

static int take_grade(void *ctx, const struct grade_row *g)
{
	struct report *P = ctx;
	int32_t i = idmap_get(&P->ix, g->dist);
	if (i >= 0)
		P->rows[i].next_grade = g->next_grade;
	return 0;
}

static int take_late(void *ctx, const struct line_row *l, size_t n)
{
	struct report *P = ctx;
	for (size_t i = 0; i < n; i++) {
		if (idmap_get(&P->late_ev, l[i].event) < 0)
			continue;
		if (P->nlate == P->caplate) {
			size_t cap = P->caplate ? 2 * P->caplate : 16;
			struct late *nl = realloc(P->late, cap * sizeof *nl);
			if (!nl)
				return st_nomem(P->st);
			P->late = nl;
			P->caplate = cap;
		}
		struct late *x = &P->late[P->nlate++];
		*x = (struct late){l[i].dist, l[i].event, l[i].order, l[i].type, ""};
		snprintf(x->value, sizeof x->value, "%s", l[i].value);
	}
	return 0;
}

/* The period's orders and refunds dated in an earlier period, then their
 * lines. */
static int late_lines(struct report *P)
{
	struct ev_stream *s;
	const struct stream_row *rows;
	int n, rc = ENG(P->st, stream_open, P->period, P->limit, &s);
	if (rc)
		return rc;
	while (!(rc = P->st->eng->ops->stream_next(s, &rows, &n)) && n > 0)
		for (int i = 0; i < n && !rc; i++)
			if (rows[i].type != REFERRAL_EV_SHARE &&
			    period_of(rows[i].at, P->offset) < P->period &&
			    idmap_put(&P->late_ev, rows[i].seq, 1))
				rc = st_nomem(P->st);
	P->st->eng->ops->stream_close(s);
	if (rc || !P->late_ev.len)
		return rc;
	struct settle_out out = {NULL, NULL, take_late, NULL, P, 0};
	return settle_period(P->st, P->period, P->limit, &out, SETTLE_LINES, NULL);
}

static int gather(struct report *P)
{
	referral_store *st = P->st;
	struct periods S = {.st = st};
	int rc, found = -1;
	if ((rc = ENG(st, closes, periods_put, &S)) || (rc = ENG(st, drafts, periods_put, &S)))
		goto out;
	for (size_t i = 0; i < S.n; i++)
		if (S.period[i] == P->period) {
			found = (int)i;
			P->limit = S.last_seq[i];
		}
	if (found < 0) {
		char p[8];
		period_format(P->period, p);
		rc = st_fail(st, REFERRAL_ESTATE, "period %s has no statements: it is neither closed"
			     " nor settled", p);
		goto out;
	}
	P->closed = P->period < st->first_open;
	P->pass = 0;
	if ((rc = ENG(st, statements, P->period, take_row, P)))
		goto out;
	if (P->closed && (rc = ENG(st, grades, P->period, take_grade, P)))
		goto out;
	/* the earlier periods, for what was paid and earned so far, and the chart */
	P->pass = 1;
	for (size_t i = 0; i < S.n && !rc; i++) {
		if (S.period[i] > P->period)
			continue;
		if (S.period[i] > P->period - TREND) {
			struct trend_sum T = {P, P->ntrend};
			P->trend_period[P->ntrend++] = S.period[i];
			P->pass = S.period[i] < P->period;
			rc = ENG(st, statements, S.period[i], take_trend, &T);
		} else {
			P->pass = 1;
			rc = ENG(st, statements, S.period[i], take_row, P);
		}
	}
	if (!rc)
		rc = late_lines(P);
out:
	periods_free(&S);
	return rc;
}

/* ---- the sections ------------------------------------------------------------- */

static const char style[] =
	"<style>\n"
	"body{font:14px/1.45 \"Noto Sans CJK SC\",\"Noto Sans SC\",\"Noto Sans\",\"DejaVu Sans\","
	"sans-serif;margin:24px 32px;color:#1d2330;background:#fff}\n"
	"h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:30px 0 8px;padding-bottom:4px;"
	"border-bottom:2px solid #d9dee8}h3{font-size:14px;margin:12px 0 4px}\n"
	"p.meta{color:#566070;margin:0 0 12px}\n"
	"table{border-collapse:collapse;margin:6px 0 14px;font-variant-numeric:tabular-nums}\n"
	"th,td{padding:3px 10px;border-bottom:1px solid #e4e7ee;text-align:left;white-space:nowrap}\n"
	"th{background:#f3f5f9;font-weight:600}.n{text-align:right}\n"
	"td[data-pad]::after{content:attr(data-pad);visibility:hidden}\n"
	"tr.subtotal td{font-weight:600;background:#f8f9fc}\n"
	"tr.total td{font-weight:700;border-top:2px solid #1d2330}\n"
	".boards{display:flex;flex-wrap:wrap;gap:8px 28px}.boards section{flex:0 1 auto}\n"
	".charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}\n"
	"figcaption{font-weight:600;margin:0 0 2px 90px}\n"
	"svg text{font-size:11px;fill:#1d2330;font-variant-numeric:tabular-nums}\n"
	".tick{text-anchor:end}.value,.label{text-anchor:middle}.value{font-size:10px}\n"
	".bar{fill:#e4572e}.line{fill:none;stroke:#2e86ab;stroke-width:2}.dot{fill:#2e86ab}\n"
	".grid{stroke:#e4e7ee}.axis{stroke:#1d2330}\n"
	".ok{color:#1b7f3b;font-weight:600}.fail{color:#b00020;font-weight:700}\n"
	"@page{size:A4;margin:12mm}\n"
	"@media print{body{margin:0;font-size:10px}h2{break-after:avoid}"
	"table.small,figure,.boards section{break-inside:avoid}thead{display:table-header-group}"
	"tr{break-inside:avoid}th{background:#eee}}\n"
	"</style>\n";

static void header(struct page *pg, const struct report *P)
{
	char p[8];
	period_format(P->period, p);
	const plan *pl = st_plan_for(P->st, P->period);
	page_printf(pg, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
			"<title>Month end %s</title>\n", p);
	page_puts(pg, style);
	page_printf(pg, "</head>\n<body>\n<h1>Month end %s</h1>\n<p class=\"meta\">%s &middot; "
			"%zu distributors &middot; refund window %ld days &middot; %s &middot; "
			"libreferral %s</p>\n",
		    p, P->closed ? "Closed" : "Draft: settled, not closed", P->n, pl->hold_days,
		    pl->withholding ? "income tax withheld as 劳务报酬" : "no withholding",
		    REFERRAL_VERSION);
}

static void totals(struct page *pg, const struct report *P)
{
	static const char *const names[NSUM] = {
		"carried from last month", "commission", "bounty", "override",
		"earned (commission + bounty + override)", "released", "held for later months",
		"total (carried + released)", "payable", "carried to next month", "tax withheld",
		"net paid to distributors"};
	static const int order[NSUM] = {C_COMMISSION, C_BOUNTY, C_OVERRIDE, C_ACCRUED, C_RELEASED,
					C_HELD, C_OPENING, C_TOTAL, C_PAYABLE, C_WITHHELD, C_NET,
					C_CLOSING};
	static const char *const heads[] = {"", "amount"};
	struct grid g;
	grid_init(&g, "tm");
	for (int k = 0; k < NSUM; k++) {
		grid_cell(&g, names[order[k]]);
		grid_money(&g, P->sum[order[k]]);
		grid_row(&g, order[k] == C_PAYABLE ? GRID_TOTAL : 0);
	}
	page_puts(pg, "<h2>Totals</h2>\n");
	grid_write(pg, &g, "totals", heads);
	/* conservation: for each distributor, paid so far + carry + held = earned so far */
	size_t bad = 0;
	mpq_t x, paid, carry, held, earned;
	mpq_inits(x, paid, carry, held, earned, NULL);
	for (size_t i = 0; i < P->n; i++) {
		const struct srow *r = &P->rows[i];
		mpq_add(x, r->paid, r->v[C_CLOSING]);
		mpq_add(x, x, r->v[C_HELD]);
		bad += !mpq_equal(x, r->earned);
		mpq_add(paid, paid, r->paid);
		mpq_add(earned, earned, r->earned);
	}
	char a[160], b[160], c[160], d[160];
	dec_format(a, sizeof a, paid);
	dec_format(b, sizeof b, P->sum[C_CLOSING]);
	dec_format(c, sizeof c, P->sum[C_HELD]);
	dec_format(d, sizeof d, earned);
	if (!bad)
		page_printf(pg, "<p id=\"conservation\" class=\"ok\">Conservation holds for each of the "
				"%zu distributors: paid so far %s + carried %s + held %s = earned so far "
				"%s, exactly.</p>\n", P->n, a, b, c, d);
	else
		page_printf(pg, "<p id=\"conservation\" class=\"fail\">Conservation FAILS for %zu of "
				"the %zu distributors: run referral verify.</p>\n", bad, P->n);
	mpq_clears(x, paid, carry, held, earned, NULL);
}

/* qsort has no context: the stores are sorted by a key made of region and
 * id, joined by a byte below any other. */
struct store_key {
	char *key;
	struct sstore *s;
};

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct store_key *)a)->key, ((const struct store_key *)b)->key);
}

static void store_cells(struct grid *g, const struct sstore *s, const char *region,
			const char *id, const char *name, int mark)
{
	grid_cell(g, region);
	grid_cell(g, id);
	grid_cell(g, name);
	grid_count(g, s->dists);
	mpq_t sales;
	mpq_init(sales);
	fen_to_mpq(sales, s->sales);
	grid_money(g, sales);
	mpq_clear(sales);
	grid_money(g, s->earned);
	grid_money(g, s->payable);
	grid_money(g, s->held);
	grid_money(g, s->withheld);
	grid_row(g, mark);
}

void sstore_init(struct sstore *s, int32_t store)
{
	memset(s, 0, sizeof *s);
	s->store = store;
	mpq_inits(s->earned, s->payable, s->held, s->withheld, NULL);
}

static void sstore_add(struct sstore *to, const struct sstore *s)
{
	to->dists += s->dists;
	to->members += s->members;
	to->sales += s->sales;
	mpq_add(to->earned, to->earned, s->earned);
	mpq_add(to->payable, to->payable, s->payable);
	mpq_add(to->held, to->held, s->held);
	mpq_add(to->withheld, to->withheld, s->withheld);
}

static void sstore_clear(struct sstore *s)
{
	mpq_clears(s->earned, s->payable, s->held, s->withheld, NULL);
}

/* The statements summed per store (of the statement: hers at the end of
 * the period); *out in roster order of stores, those with statements only. */
static struct sstore *per_store(const struct report *P, size_t *n)
{
	size_t ns = P->R.ns;
	struct sstore *all = malloc((ns + 1) * sizeof *all);
	if (!all)
		return NULL;
	for (size_t i = 0; i < ns; i++)
		sstore_init(&all[i], (int32_t)i);
	for (size_t i = 0; i < P->n; i++) {
		const struct srow *r = &P->rows[i];
		int32_t k = roster_store_ix(&P->R, r->store);
		if (k < 0)
			continue;
		struct sstore *s = &all[k];
		s->dists++;
		s->members += r->members;
		s->sales += r->sales;
		mpq_add(s->earned, s->earned, r->v[C_ACCRUED]);
		mpq_add(s->payable, s->payable, r->v[C_PAYABLE]);
		mpq_add(s->held, s->held, r->v[C_HELD]);
		mpq_add(s->withheld, s->withheld, r->v[C_WITHHELD]);
	}
	*n = 0;
	for (size_t i = 0; i < ns; i++) {
		if (all[i].dists)
			all[(*n)++] = all[i];
		else
			sstore_clear(&all[i]);
	}
	return all;
}

static void regions(struct page *pg, const struct report *P, struct sstore *st, size_t n)
{
	static const char *const heads[] = {"region", "store", "name", "distributors", "sales",
					    "earned", "payable", "held", "withheld"};
	struct store_key *k = malloc((n + 1) * sizeof *k);
	struct strbuf keys = {0};
	size_t *at = malloc((n + 1) * sizeof *at);
	struct grid g;
	grid_init(&g, "tttcmmmmm");
	if (!k || !at) {
		pg->bad = 1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		at[i] = keys.len;
		pg->bad |= sb_printf(&keys, "%s%c%s", roster_text(&P->R, P->R.s[st[i].store].region),
				     1, roster_text(&P->R, P->R.s[st[i].store].id)) ||
			   sb_putc(&keys, '\0');
	}
	for (size_t i = 0; i < n; i++)
		k[i] = (struct store_key){keys.data + at[i], &st[i]};
	if (!pg->bad)
		qsort(k, n, sizeof *k, by_key);
	struct sstore sub, all;
	sstore_init(&sub, -1);
	sstore_init(&all, -1);
	for (size_t i = 0; i < n && !pg->bad; i++) {
		const struct roster_store *rs = &P->R.s[k[i].s->store];
		const char *region = roster_text(&P->R, rs->region);
		store_cells(&g, k[i].s, region, roster_text(&P->R, rs->id),
			    roster_text(&P->R, rs->name), 0);
		sstore_add(&sub, k[i].s);
		sstore_add(&all, k[i].s);
		const char *next = i + 1 < n ? roster_text(&P->R, P->R.s[k[i + 1].s->store].region) : NULL;
		if (!next || strcmp(next, region)) {
			store_cells(&g, &sub, region, "", "subtotal", GRID_SUBTOTAL);
			sstore_clear(&sub);
			sstore_init(&sub, -1);
		}
	}
	store_cells(&g, &all, "all regions", "", "", GRID_TOTAL);
	sstore_clear(&sub);
	sstore_clear(&all);
out:
	page_puts(pg, "<h2>By region and store</h2>\n<p class=\"meta\">Each distributor counts with"
		      " her store at the end of the month. Sales: her members' orders less refunds;"
		      " earned: commission + bounty + override of the month.</p>\n");
	grid_write(pg, &g, "stores", heads);
	free(k);
	free(at);
	sb_free(&keys);
}

/* ---- late events, payouts ---------------------------------------------------- */

static int by_late(const void *a, const void *b)
{
	const struct late *x = a, *y = b;
	return (x->event > y->event) - (x->event < y->event);
}

/* The late lines, with the ids and instants of their events: looked up
 * after the pass, as the engine may not be called from its callbacks. */
static int late_section(struct page *pg, struct report *P)
{
	static const char *const heads[] = {"booked in", "dated", "event", "order", "distributor",
					    "line", "value"};
	struct grid g;
	char booked[8], dated[8];
	int rc = 0;
	period_format(P->period, booked);
	if (P->nlate)
		qsort(P->late, P->nlate, sizeof *P->late, by_late);
	grid_init(&g, "ttttttm");
	for (size_t i = 0; i < P->nlate && !rc; i++) {
		struct ev_row e, o;
		char eid[80], oid[80];
		int fe = ENG(P->st, get, P->late[i].event, &e);
		if (fe < 0) {
			rc = -fe;
			break;
		}
		snprintf(eid, sizeof eid, "%s", fe ? e.id : "?");
		period_format(fe ? period_of(e.at, P->offset) : P->period, dated);
		int fo = ENG(P->st, get, P->late[i].order, &o);
		if (fo < 0) {
			rc = -fo;
			break;
		}
		snprintf(oid, sizeof oid, "%s", fo ? o.id : "?");
		grid_cell(&g, booked);
		grid_cell(&g, dated);
		grid_cell(&g, eid);
		grid_cell(&g, oid);
		grid_cell(&g, dist_id(P, P->late[i].dist));
		grid_cell(&g, line_type_names[P->late[i].type]);
		grid_cell(&g, P->late[i].value);
		grid_row(&g, 0);
	}
	page_puts(pg, "<h2>Late adjustments</h2>\n<p class=\"meta\">Orders and refunds dated in a"
		      " month already closed when they arrived, booked in this one.</p>\n");
	if (!P->nlate)
		page_puts(pg, "<p>none</p>\n");
	grid_write(pg, &g, "late", heads);
	return rc;
}

/* The payouts, by distributor id as the payouts export has them; written
 * as they go, however many. */
static int payouts(struct page *pg, const struct report *P, referral_write_fn write, void *ctx)
{
	struct roster_key *k = malloc((P->n + 1) * sizeof *k);
	size_t n = 0;
	int rc = 0;
	char a[160], b[160], c[160];
	if (!k)
		return st_nomem(P->st);
	for (size_t i = 0; i < P->n; i++)
		if (mpq_sgn(P->rows[i].v[C_PAYABLE]) > 0)
			k[n++] = (struct roster_key){dist_id(P, P->rows[i].dist), (int32_t)i};
	qsort(k, n, sizeof *k, roster_key_cmp);
	page_printf(pg, "<h2>Payouts</h2>\n<p class=\"meta\">%zu payouts: what is sent to the bank"
			" (net) and declared to the tax office (withheld).</p>\n"
			"<table id=\"payouts\">\n<thead><tr><th>distributor</th><th>store</th>"
			"<th>name</th><th class=\"n\">payable</th><th class=\"n\">withheld</th>"
			"<th class=\"n\">net</th></tr></thead>\n<tbody>\n", n);
	for (size_t i = 0; i < n && !rc; i++) {
		const struct srow *r = &P->rows[k[i].ix];
		dec_format(a, sizeof a, r->v[C_PAYABLE]);
		dec_format(b, sizeof b, r->v[C_WITHHELD]);
		dec_format(c, sizeof c, r->v[C_NET]);
		page_puts(pg, "<tr><td>");
		page_text(pg, k[i].id);
		page_puts(pg, "</td><td>");
		page_text(pg, store_field(P, r->store, 0));
		page_puts(pg, "</td><td>");
		page_text(pg, store_field(P, r->store, 1));
		page_printf(pg, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
				"<td class=\"n\">%s</td></tr>\n", a, b, c);
		if (pg->sb.len >= 65536) {
			if (pg->bad)
				rc = st_nomem(P->st);
			else if (write(ctx, pg->sb.data, pg->sb.len))
				rc = st_fail(P->st, REFERRAL_EIO, "report: the output could not be written");
			sb_reset(&pg->sb);
		}
	}
	dec_format(a, sizeof a, P->sum[C_PAYABLE]);
	dec_format(b, sizeof b, P->sum[C_WITHHELD]);
	dec_format(c, sizeof c, P->sum[C_NET]);
	page_printf(pg, "<tr class=\"total\"><td>total</td><td></td><td></td><td class=\"n\">%s</td>"
			"<td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n</tbody>\n</table>\n",
		    a, b, c);
	free(k);
	return rc;
}

static void report_free(struct report *P)
{
	for (size_t i = 0; i < P->n; i++) {
		for (int k = 0; k < NSUM; k++)
			mpq_clear(P->rows[i].v[k]);
		mpq_clears(P->rows[i].paid, P->rows[i].earned, NULL);
	}
	for (int k = 0; k < NSUM; k++)
		mpq_clear(P->sum[k]);
	for (int k = 0; k < TREND; k++)
		mpq_clears(P->trend_payable[k], P->trend_sales[k], NULL);
	free(P->rows);
	free(P->late);
	idmap_free(&P->ix);
	idmap_free(&P->late_ev);
	roster_free(&P->R);
}

int referral_report(referral_store *st, const char *period, referral_write_fn write, void *ctx)
{
	struct report P;
	struct page pg = {{0}, 0};
	int rc;

	if (!st)
		return REFERRAL_EUSAGE;
	if (!write)
		return st_fail(st, REFERRAL_EUSAGE, "no writer given");
	memset(&P, 0, sizeof P);
	P.st = st;
	for (int k = 0; k < NSUM; k++)
		mpq_init(P.sum[k]);
	for (int k = 0; k < TREND; k++)
		mpq_inits(P.trend_payable[k], P.trend_sales[k], NULL);
	if ((rc = st_period_arg(st, period, &P.period)) || (rc = st_load_state(st)))
		goto out;
	P.offset = st->plans[0].p.utc_offset_min;
	if ((rc = ENG(st, begin, TX_READ)))
		goto out;
	if (!(rc = roster_load(st, &P.R, 0)))
		rc = gather(&P);
	ENG(st, rollback); /* it only read */
	if (rc)
		goto out;
	size_t ns = 0;
	struct sstore *stores = per_store(&P, &ns);
	if (!stores) {
		rc = st_nomem(st);
		goto out;
	}
	header(&pg, &P);
	totals(&pg, &P);
	regions(&pg, &P, stores, ns);
	page_puts(&pg, "<h2>Team PK: the rankings of the month</h2>\n<div class=\"boards\">\n");
	for (int m = BY_SALES; m <= BY_EARNED; m++)
		rank_distributors(&pg, &P, (enum metric)m);
	page_puts(&pg, "</div>\n<div class=\"boards\">\n");
	for (int m = BY_SALES; m <= BY_EARNED; m++)
		rank_stores(&pg, &P, stores, ns, (enum metric)m);
	page_puts(&pg, "</div>\n");
	for (size_t i = 0; i < ns; i++)
		sstore_clear(&stores[i]);
	free(stores);
	grade_moves(&pg, &P);
	trend(&pg, &P);
	if (!(rc = late_section(&pg, &P)))
		rc = payouts(&pg, &P, write, ctx);
	page_puts(&pg, "</body>\n</html>\n");
	if (!rc && pg.bad)
		rc = st_nomem(st);
	if (!rc && pg.sb.len && write(ctx, pg.sb.data, pg.sb.len))
		rc = st_fail(st, REFERRAL_EIO, "report: the output could not be written");
out:
	sb_free(&pg.sb);
	report_free(&P);
	return rc;
}
