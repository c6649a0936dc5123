/*
 * explain.c — how every figure of one distributor's statement came about
 * (docs/formats.md, "Explain"), gathered into a JSON document that
 * referral_explain() writes as it is or words for people (explain_text.c).
 *
 * Her lines are re-derived as an export of lines does, by settlement
 * passes over the period and, when a plan holds earnings, the periods
 * before it whose lines can still be released in it (a line is released at
 * most 13 months after it is booked: hold_days is at most 366). Each line's
 * release period follows the rule of docs/formats.md, section 4, from the
 * instant and booking period of its order; a bounty reversal is released
 * with the bounty that stood, the last bounty line of the same binding.
 * The figures themselves (released, held, payable, carries, grades) are the
 * statement's and the grading's as stored.
 */
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "explain.h"
#include "roster.h"
#include "timeutil.h"
#include "withholding.h"

#define DAY_US 86400000000LL

struct xline {
	int period, type, rel;
	int64_t event, order, member, source, binding;
	size_t base, rate, value; /* offsets in text, ROSTER_NONE for none */
};

struct evinfo {
	size_t id;                /* offset in text */
	int64_t at;
	int booked;
};

struct explain {
	referral_store *st;
	int64_t dist;             /* her seq */
	int period, closed;
	struct xline *l;
	size_t nl, capl;
	struct strbuf text;
	struct idmap evix;        /* seq -> index into ev */
	struct evinfo *ev;
	size_t nev, capev;
	struct statement_row srow; /* texts copied into stexts */
	char stexts[11][160];
	int have_statement;
	struct grade_row grow;
	char gtexts[2][160];
	int have_grade;
	long win_members, win_shares; /* the draft: the window's figures */
	fen_t win_sales;
	int bad;                  /* out of memory in a callback */
};

static size_t keep(struct explain *X, const char *s)
{
	if (!s)
		return ROSTER_NONE;
	size_t at = X->text.len;
	if (sb_append(&X->text, s, strlen(s) + 1))
		X->bad = 1;
	return at;
}

static const char *text_at(const struct explain *X, size_t off)
{
	return off == ROSTER_NONE ? NULL : X->text.data + off;
}

/* ---- gathering ----------------------------------------------------------- */

static int take_lines(void *ctx, const struct line_row *rows, size_t n)
{
	struct explain *X = ctx;
	for (size_t i = 0; i < n; i++) {
		const struct line_row *r = &rows[i];
		if (r->dist != X->dist)
			continue;
		if (X->nl == X->capl) {
			size_t cap = X->capl ? 2 * X->capl : 64;
			struct xline *nl = realloc(X->l, cap * sizeof *nl);
			if (!nl)
				return st_nomem(X->st);
			X->l = nl;
			X->capl = cap;
		}
		X->l[X->nl++] = (struct xline){r->period, r->type, 0, r->event, r->order, r->member,
					       r->source, r->binding, keep(X, r->base),
					       keep(X, r->rate), keep(X, r->value)};
	}
	return X->bad ? st_nomem(X->st) : 0;
}

static int take_statement(void *ctx, const struct statement_row *r)
{
	struct explain *X = ctx;
	if (r->dist != X->dist)
		return 0;
	const char *t[11] = {r->opening_carry, r->commission, r->bounty, r->override, r->accrued,
			     r->released, r->held, r->total, r->payable, r->closing_carry, r->sales};
	for (int i = 0; i < 11; i++)
		snprintf(X->stexts[i], sizeof X->stexts[i], "%s", t[i] ? t[i] : "0.00");
	X->srow = *r;
	X->have_statement = 1;
	return 0;
}

static int take_grade(void *ctx, const struct grade_row *r)
{
	struct explain *X = ctx;
	if (r->dist != X->dist)
		return 0;
	X->grow = *r;
	snprintf(X->gtexts[0], sizeof X->gtexts[0], "%s", r->sales ? r->sales : "0.00");
	snprintf(X->gtexts[1], sizeof X->gtexts[1], "%s", r->store_rating ? r->store_rating : "0.00");
	X->have_grade = 1;
	return 0;
}

static int take_figures(void *ctx, int64_t dist, long members, const char *sales, long shares)
{
	struct explain *X = ctx;
	fen_t f;
	if (dist != X->dist)
		return 0;
	if (fen_parse(sales, &f) || fen_add(&X->win_sales, f))
		return st_fail(X->st, REFERRAL_EIO, "storage: a stored sales figure is not money");
	X->win_members += members;
	X->win_shares += shares;
	return 0;
}

/* The event seq: looked up once, its id, instant and booking kept. */
static int note_event(struct explain *X, int64_t seq)
{
	if (seq <= 0 || idmap_get(&X->evix, seq) >= 0)
		return 0;
	struct ev_row row;
	int found = ENG(X->st, get, seq, &row);
	if (found < 0)
		return -found;
	if (X->nev == X->capev) {
		size_t cap = X->capev ? 2 * X->capev : 64;
		struct evinfo *n = realloc(X->ev, cap * sizeof *n);
		if (!n)
			return st_nomem(X->st);
		X->ev = n;
		X->capev = cap;
	}
	struct evinfo *e = &X->ev[X->nev];
	size_t at = X->text.len;
	if (sb_append(&X->text, found ? row.id : "?", found ? row.idlen : 1) ||
	    sb_putc(&X->text, '\0'))
		return st_nomem(X->st);
	*e = (struct evinfo){at, found ? row.at : 0, found ? row.booked : 0};
	if (idmap_put(&X->evix, seq, (int32_t)X->nev))
		return st_nomem(X->st);
	X->nev++;
	return 0;
}

static const struct evinfo *ev_of(const struct explain *X, int64_t seq)
{
	int32_t i = seq > 0 ? idmap_get(&X->evix, seq) : -1;
	return i >= 0 ? &X->ev[i] : NULL;
}

/* The release period of the lines of an order at t booked in `booked`. */
static int release_of_order(const referral_store *st, int64_t t, int booked)
{
	const plan *pl = st_plan_for(st, booked);
	if (!pl->hold_days)
		return booked;
	int p = period_of(t + pl->hold_days * DAY_US, pl->utc_offset_min);
	return p > booked ? p : booked;
}

/* Every line's release period, in the order the passes derived them. */
static int set_releases(struct explain *X)
{
	struct idmap bounty = {0}; /* binding -> her last bounty line */
	int rc = 0;
	for (size_t i = 0; i < X->nl && !rc; i++) {
		struct xline *l = &X->l[i];
		const struct evinfo *o = ev_of(X, l->order);
		int rel = o ? release_of_order(X->st, o->at, o->booked) : l->period;
		if (l->type == LINE_BOUNTY_REVERSAL) {
			int32_t b = idmap_get(&bounty, l->binding);
			rel = b >= 0 ? X->l[b].rel : l->period; /* an older bounty: long released */
		}
		l->rel = rel > l->period ? rel : l->period;
		if (l->type == LINE_BOUNTY && idmap_set(&bounty, l->binding, (int32_t)i))
			rc = st_nomem(X->st);
	}
	idmap_free(&bounty);
	return rc;
}

/* The periods whose lines can be released in P: those of the last 13
 * months and more, when a plan holds anything. */
static int lookback(const referral_store *st)
{
	long most = 0;
	for (int i = 0; i < st->nplans; i++)
		if (st->plans[i].p.hold_days > most)
			most = st->plans[i].p.hold_days;
	return most ? (int)(most / 28) + 2 : 0;
}

static int gather(struct explain *X, const struct roster *R)
{
	referral_store *st = X->st;
	struct periods P = {.st = st};
	int rc, found = 0;
	if ((rc = ENG(st, closes, periods_put, &P)) || (rc = ENG(st, drafts, periods_put, &P)))
		goto out;
	for (size_t i = 0; i < P.n; i++)
		if (P.period[i] == X->period)
			found = 1;
	if (!found) {
		char p[8];
		period_format(X->period, p);
		rc = st_fail(st, REFERRAL_ESTATE, "period %s has no statements: it is neither closed"
			     " nor settled", p);
		goto out;
	}
	X->closed = X->period < st->first_open;
	if ((rc = ENG(st, statements, X->period, take_statement, X)))
		goto out;
	if (!X->have_statement) {
		char p[8];
		period_format(X->period, p);
		rc = st_fail(st, REFERRAL_EINPUT, "distributor \"%s\" has no statement in %s: she"
			     " joined later", roster_text(R, R->d[roster_dist_ix(R, X->dist)].id), p);
		goto out;
	}
	const plan *pl = st_plan_for(st, X->period);
	if (X->closed)
		rc = ENG(st, grades, X->period, take_grade, X);
	else
		rc = ENG(st, statement_figures, X->period - (int)pl->grading_window_months + 1,
			 X->period, take_figures, X);
	struct settle_out out = {NULL, NULL, take_lines, NULL, X, 0};
	int from = X->period - lookback(st);
	for (size_t i = 0; i < P.n && !rc; i++)
		if (P.period[i] >= from && P.period[i] <= X->period)
			rc = settle_period(st, P.period[i], P.last_seq[i], &out, SETTLE_LINES, NULL);
	for (size_t i = 0; i < X->nl && !rc; i++)
		if (!(rc = note_event(X, X->l[i].event)) && !(rc = note_event(X, X->l[i].order)) &&
		    !(rc = note_event(X, X->l[i].member)))
			rc = note_event(X, X->l[i].source);
	if (!rc)
		rc = set_releases(X);
out:
	periods_free(&P);
	return rc;
}

/* ---- the document ----------------------------------------------------------- */

struct doc {
	const struct explain *X;
	const struct roster *R;
	int offset;
	int bad;
};

static json_t *jtext(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jperiod(int p)
{
	char b[8];
	period_format(p, b);
	return json_string(b);
}

static json_t *jinstant(const struct doc *D, int64_t t)
{
	char b[48];
	ts_format(t, D->offset, b, sizeof b);
	return json_string(b);
}

static void put(struct doc *D, json_t *o, const char *key, json_t *v)
{
	D->bad |= json_object_set_new(o, key, v) != 0;
}

static void push(struct doc *D, json_t *a, json_t *v)
{
	D->bad |= json_array_append_new(a, v) != 0;
}

static const char *ev_id(const struct explain *X, int64_t seq)
{
	const struct evinfo *e = ev_of(X, seq);
	return e ? X->text.data + e->id : NULL;
}

/* One line as the document shows it. */
static json_t *line_doc(struct doc *D, const struct xline *l)
{
	const struct explain *X = D->X;
	const struct evinfo *e = ev_of(X, l->event);
	json_t *o = json_object();
	if (!o) {
		D->bad = 1;
		return NULL;
	}
	put(D, o, "type", json_string(line_type_names[l->type]));
	put(D, o, "event", jtext(ev_id(X, l->event)));
	put(D, o, "at", e ? jinstant(D, e->at) : json_null());
	put(D, o, "order", jtext(ev_id(X, l->order)));
	put(D, o, "member", jtext(ev_id(X, l->member)));
	put(D, o, "source", jtext(l->source ? ev_id(X, l->source) : NULL));
	put(D, o, "booked", jperiod(l->period));
	put(D, o, "base", jtext(text_at(X, l->base)));
	put(D, o, "rate", jtext(text_at(X, l->rate)));
	put(D, o, "value", jtext(text_at(X, l->value)));
	put(D, o, "released", jperiod(l->rel));
	return o;
}

static int by_group(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	int c = strcmp(x[0], y[0]);
	if (!c)
		c = strcmp(x[1], y[1]);
	return c ? c : x[2] < y[2] ? -1 : x[2] > y[2];
}

/* The lines of P of the types wanted, grouped: by member then order
 * (`key` "member"), or by recruit then order ("recruit"). */
static json_t *groups(struct doc *D, int overrides)
{
	const struct explain *X = D->X;
	const char *key = overrides ? "recruit" : "member";
	/* (group id, order id, line index) triples sorted; lines of one order
	 * keep the order they were derived in */
	size_t n = 0;
	const char *(*k)[3] = malloc((X->nl + 1) * sizeof *k);
	json_t *out = json_array();
	if (!k || !out) {
		free(k);
		json_decref(out);
		D->bad = 1;
		return NULL;
	}
	for (size_t i = 0; i < X->nl; i++) {
		const struct xline *l = &X->l[i];
		int ov = l->type == LINE_OVERRIDE || l->type == LINE_OVERRIDE_REVERSAL;
		if (l->period != X->period || ov != overrides)
			continue;
		k[n][0] = ev_id(X, overrides ? l->source : l->member);
		k[n][1] = ev_id(X, l->order);
		k[n][2] = (const char *)(X->l + i);
		if (!k[n][0] || !k[n][1])
			continue;
		n++;
	}
	/* stable on the line's position: its address breaks ties */
	qsort(k, n, sizeof *k, by_group);
	json_t *g = NULL, *orders = NULL, *lines = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!g || strcmp(k[i][0], k[i - 1][0])) {
			g = json_object();
			orders = json_array();
			put(D, g, key, json_string(k[i][0]));
			put(D, g, "orders", json_incref(orders));
			push(D, out, g);
			json_decref(orders);
			lines = NULL;
		}
		if (!lines || strcmp(k[i][1], k[i - 1][1])) {
			const struct xline *l = (const struct xline *)k[i][2];
			const struct evinfo *o = ev_of(X, l->order);
			json_t *od = json_object();
			lines = json_array();
			put(D, od, "order", json_string(k[i][1]));
			if (overrides)
				put(D, od, "member", jtext(ev_id(X, l->member)));
			put(D, od, "placed_at", o ? jinstant(D, o->at) : json_null());
			put(D, od, "booked", o ? jperiod(o->booked) : json_null());
			put(D, od, "lines", json_incref(lines));
			push(D, orders, od);
			json_decref(lines);
		}
		push(D, lines, line_doc(D, (const struct xline *)k[i][2]));
	}
	free(k);
	return out;
}

static const char *const rounding_names[] = {"half_up", "half_even", "down"};

/* Release: what this month's lines leave held, what earlier months held
 * for this one, and what is held at its end, line by line. */
static void release_doc(struct doc *D, json_t *o, const plan *pl)
{
	const struct explain *X = D->X;
	json_t *earlier = json_array(), *held = json_array();
	for (size_t i = 0; i < X->nl; i++) {
		const struct xline *l = &X->l[i];
		if (l->period > X->period)
			continue;
		if (l->period < X->period && l->rel == X->period)
			push(D, earlier, line_doc(D, l));
		else if (l->rel > X->period)
			push(D, held, line_doc(D, l));
	}
	put(D, o, "hold_days", json_integer(pl->hold_days));
	put(D, o, "released", json_string(X->stexts[5]));
	put(D, o, "released_from_earlier", earlier);
	put(D, o, "held", json_string(X->stexts[6]));
	put(D, o, "held_lines", held);
}

/* Payable: the carry, the rounding, the minimum, the tax. */
static void payable_doc(struct doc *D, json_t *o, const plan *pl)
{
	const struct explain *X = D->X;
	mpq_t total, rounded, payable, withheld, base;
	char b[160];
	mpq_inits(total, rounded, payable, withheld, base, NULL);
	put(D, o, "opening_carry", json_string(X->stexts[0]));
	put(D, o, "total", json_string(X->stexts[7]));
	put(D, o, "rounding", json_string(rounding_names[pl->rounding % 3]));
	dec_format(b, sizeof b, pl->min_payout);
	put(D, o, "min_payout", json_string(b));
	if (!dec_parse_signed(total, X->stexts[7]))
		dec_round_fen(rounded, total, pl->rounding);
	dec_format(b, sizeof b, rounded);
	put(D, o, "rounded", json_string(b));
	put(D, o, "payable", json_string(X->stexts[8]));
	put(D, o, "closing_carry", json_string(X->stexts[9]));
	/* the tax: what the payouts export shows, and how its base is made */
	json_t *w = json_object();
	const struct plan_withholding *t = pl->withholding;
	if (!dec_parse_signed(payable, X->stexts[8]))
		withholding_of(t, payable, withheld);
	if (t && mpq_sgn(payable) > 0) {
		int fixed = mpq_cmp(payable, t->threshold) <= 0;
		if (fixed) {
			mpq_sub(base, payable, t->fixed_deduction);
		} else {
			mpq_set_ui(base, 1, 1);
			mpq_sub(base, base, t->rate_deduction);
			mpq_mul(base, base, payable);
		}
		dec_format(b, sizeof b, fixed ? t->fixed_deduction : t->rate_deduction);
		put(D, w, fixed ? "fixed_deduction" : "rate_deduction", json_string(b));
		dec_format(b, sizeof b, t->threshold);
		put(D, w, "threshold", json_string(b));
		dec_format(b, sizeof b, base);
		put(D, w, "base", json_string(b));
	}
	dec_format(b, sizeof b, withheld);
	put(D, w, "withheld", json_string(b));
	mpq_sub(withheld, payable, withheld);
	dec_format(b, sizeof b, withheld);
	put(D, w, "net", json_string(b));
	put(D, o, "withholding", t ? w : (json_decref(w), json_null()));
	if (!t) {
		put(D, o, "withheld", json_string("0.00"));
		put(D, o, "net", json_string(X->stexts[8]));
	} else {
		put(D, o, "withheld", json_incref(json_object_get(w, "withheld")));
		put(D, o, "net", json_incref(json_object_get(w, "net")));
	}
	mpq_clears(total, rounded, payable, withheld, base, NULL);
}

/* Grading: the window's figures against each grade's thresholds. */
static void grading_doc(struct doc *D, json_t *o, const plan *pl, const char *rating)
{
	const struct explain *X = D->X;
	long members = X->closed ? X->grow.members : X->win_members;
	long shares = X->closed ? X->grow.shares : X->win_shares;
	char sales_text[160], b[160];
	if (X->closed)
		snprintf(sales_text, sizeof sales_text, "%s", X->gtexts[0]);
	else
		fen_format(sales_text, X->win_sales);
	const char *rating_text = X->closed ? X->gtexts[1] : rating ? rating : "0.00";
	mpq_t sales, r;
	mpq_inits(sales, r, NULL);
	D->bad |= dec_parse_signed(sales, sales_text) || dec_parse_signed(r, rating_text);
	json_t *g = json_object(), *grades = json_array();
	put(D, g, "provisional", json_boolean(!X->closed));
	put(D, g, "from", jperiod(X->period - (int)pl->grading_window_months + 1));
	put(D, g, "to", jperiod(X->period));
	put(D, g, "members", json_integer(members));
	put(D, g, "sales", json_string(sales_text));
	put(D, g, "shares", json_integer(shares));
	put(D, g, "store_rating", json_string(rating_text));
	int next = 1;
	for (int k = 2; k <= PLAN_GRADES; k++) {
		const struct plan_grade *t = &pl->grades[k - 1];
		json_t *gd = json_object(), *th = json_array(), *m;
		int met[4] = {members >= t->min_members, mpq_cmp(sales, t->min_sales) >= 0,
			      shares >= t->min_shares, mpq_cmp(r, t->min_store_rating) >= 0};
		static const char *const names[4] = {"members", "sales", "shares", "store_rating"};
		for (int i = 0; i < 4; i++) {
			m = json_object();
			put(D, m, "metric", json_string(names[i]));
			if (i == 1 || i == 3) {
				dec_format(b, sizeof b, i == 1 ? t->min_sales : t->min_store_rating);
				put(D, m, "min", json_string(b));
			} else {
				put(D, m, "min", json_integer(i == 0 ? t->min_members : t->min_shares));
			}
			put(D, m, "met", json_boolean(met[i]));
			push(D, th, m);
		}
		int reached = met[0] && met[1] && met[2] && met[3];
		if (reached)
			next = k;
		put(D, gd, "grade", json_integer(k));
		put(D, gd, "reached", json_boolean(reached));
		put(D, gd, "thresholds", th);
		push(D, grades, gd);
	}
	if (!pl->allow_demotion && next < X->srow.grade)
		next = X->srow.grade;
	put(D, g, "grades", grades);
	put(D, g, "allow_demotion", json_boolean(pl->allow_demotion));
	put(D, g, "next_grade", json_integer(X->closed ? X->grow.next_grade : next));
	put(D, o, "grading", g);
	mpq_clears(sales, r, NULL);
}

static json_t *document(struct doc *D)
{
	const struct explain *X = D->X;
	const struct roster *R = D->R;
	const plan *pl = st_plan_for(X->st, X->period);
	const struct roster_dist *d = &R->d[roster_dist_ix(R, X->dist)];
	int32_t s = roster_store_ix(R, X->srow.store);
	json_t *o = json_object();
	char b[160];
	if (!o) {
		D->bad = 1;
		return NULL;
	}
	put(D, o, "distributor", json_string(roster_text(R, d->id)));
	put(D, o, "period", jperiod(X->period));
	put(D, o, "state", json_string(X->closed ? "closed" : "draft"));
	put(D, o, "kind", json_string(roster_text(R, d->kind)));
	put(D, o, "store", s >= 0 ? json_string(roster_text(R, R->s[s].id)) : json_null());
	put(D, o, "store_name", s >= 0 ? json_string(roster_text(R, R->s[s].name)) : json_null());
	put(D, o, "region", s >= 0 ? json_string(roster_text(R, R->s[s].region)) : json_null());
	put(D, o, "recruiter",
	    d->recruiter >= 0 ? json_string(roster_text(R, R->d[d->recruiter].id)) : json_null());
	put(D, o, "joined_at", jinstant(D, d->joined));
	put(D, o, "terminated_at", d->term != INT64_MAX ? jinstant(D, d->term) : json_null());
	put(D, o, "grade", json_integer(X->srow.grade));
	dec_format(b, sizeof b, pl->grades[X->srow.grade - 1].rate);
	put(D, o, "rate", json_string(b));
	dec_format(b, sizeof b, pl->grades[X->srow.grade - 1].bounty);
	put(D, o, "bounty_per_member", json_string(b));
	dec_format(b, sizeof b, pl->override_rate);
	put(D, o, "override_rate", json_string(b));
	put(D, o, "members", groups(D, 0));
	put(D, o, "recruits", groups(D, 1));
	put(D, o, "commission", json_string(X->stexts[1]));
	put(D, o, "bounty", json_string(X->stexts[2]));
	put(D, o, "override", json_string(X->stexts[3]));
	put(D, o, "accrued", json_string(X->stexts[4]));
	release_doc(D, o, pl);
	payable_doc(D, o, pl);
	grading_doc(D, o, pl, s >= 0 ? roster_text(R, R->s[s].rating) : NULL);
	return o;
}

static int write_text(referral_store *st, referral_write_fn write, void *ctx, const char *text,
		      size_t len)
{
	if (len && write(ctx, text, len))
		return st_fail(st, REFERRAL_EIO, "explain: the output could not be written");
	return 0;
}

int referral_explain(referral_store *st, const char *distributor, const char *period,
		     const char *format, referral_write_fn write, void *ctx)
{
	struct explain X;
	struct roster R;
	struct ev_row row;
	int rc, json;

	if (!st)
		return REFERRAL_EUSAGE;
	if (!write || !distributor)
		return st_fail(st, REFERRAL_EUSAGE, "no %s given", write ? "distributor" : "writer");
	if (!format || !strcmp(format, "text"))
		json = 0;
	else if (!strcmp(format, "json"))
		json = 1;
	else
		return st_fail(st, REFERRAL_EUSAGE, "unknown format \"%s\": expected text or json",
			       format);
	memset(&X, 0, sizeof X);
	X.st = st;
	if ((rc = st_period_arg(st, period, &X.period)) || (rc = st_load_state(st)))
		return rc;
	int found = ENG(st, find, REFERRAL_EV_DISTRIBUTOR, distributor, strlen(distributor), &row);
	if (found < 0)
		return -found;
	if (!found)
		return st_fail(st, REFERRAL_EINPUT, "distributor \"%s\" does not exist", distributor);
	X.dist = row.seq;
	if ((rc = ENG(st, begin, TX_READ)))
		return rc;
	if (!(rc = roster_load(st, &R, 0)))
		rc = gather(&X, &R);
	ENG(st, rollback); /* it only read */
	json_t *doc = NULL;
	if (!rc) {
		struct doc D = {&X, &R, st->plans[0].p.utc_offset_min, X.bad};
		doc = document(&D);
		if (D.bad || !doc)
			rc = st_nomem(st);
	}
	if (!rc && json) {
		char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (!text)
			rc = st_nomem(st);
		else if (!(rc = write_text(st, write, ctx, text, strlen(text))))
			rc = write_text(st, write, ctx, "\n", 1);
		free(text);
	} else if (!rc) {
		struct strbuf sb = {0};
		if (explain_words(doc, &sb))
			rc = st_nomem(st);
		else
			rc = write_text(st, write, ctx, sb_str(&sb), sb.len);
		sb_free(&sb);
	}
	json_decref(doc);
	roster_free(&R);
	free(X.l);
	free(X.ev);
	idmap_free(&X.evix);
	sb_free(&X.text);
	return rc;
}
