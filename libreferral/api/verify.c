/*
 * verify.c — re-deriving a closed period and comparing it with the store.
 *
 * The period is settled again from the log alone (no network cache), with
 * the events that had been ingested when it closed, into a comparison
 * rather than into the store: the statements and grades it derives are
 * kept in memory (a line of text each, in ascending dist) and then walked
 * beside the store's, in the same order; the blobs it derives (the bounty
 * snapshot, the network cache) are compared byte by byte with the stored
 * ones as they are made. The same pass derives its lines one by one and
 * checks that they add up to the statements exactly (SETTLE_CHECK). Memory grows
 * with the distributors and bindings of the network, not with the orders.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "idmap.h"
#include "resize.h"
#include "timeutil.h"
#include "verify.h"

#define BLOB_CHUNK_CMP 65536

/* Rows derived for one table of one period, each as one line of text. */
struct derived {
	int64_t *dist;
	size_t *off;
	size_t n, cap;
	struct strbuf text;
};

struct comparison {
	referral_store *st;
	int period;
	struct derived statements, grades;
	/* the first discrepancy: a row of `dist` (0: the period's blob) */
	const char *what, *side;
	int64_t culprit;
	/* a blob that differs: reported only when no row does, since a row
	 * names the distributor concerned */
	const char *blob_what, *blob_side;
};

static void statement_text(struct strbuf *sb, const struct statement_row *r)
{
	sb_printf(sb, "%lld|%d|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%ld|%s|%ld", (long long)r->store,
		  r->grade, r->opening_carry, r->commission, r->bounty, r->override, r->accrued,
		  r->released ? r->released : "", r->held ? r->held : "", r->total, r->payable,
		  r->closing_carry, r->members, r->sales, r->shares);
}

static void grade_text(struct strbuf *sb, const struct grade_row *r)
{
	sb_printf(sb, "%d|%ld|%s|%ld|%s|%d", r->grade, r->members, r->sales, r->shares,
		  r->store_rating, r->next_grade);
}

static int keep(struct comparison *c, struct derived *d, int64_t dist)
{
	if (d->n == d->cap) {
		size_t cap = grown(d->cap, 1024);
		if (array_resize(&d->dist, cap, sizeof *d->dist) ||
		    array_resize(&d->off, cap, sizeof *d->off))
			return st_nomem(c->st);
		d->cap = cap;
	}
	d->dist[d->n] = dist;
	d->off[d->n++] = d->text.len;
	return 0;
}

static int derive_statements(void *ctx, const struct statement_row *rows, size_t n)
{
	struct comparison *c = ctx;
	for (size_t i = 0; i < n; i++) {
		int rc = keep(c, &c->statements, rows[i].dist);
		if (rc)
			return rc;
		statement_text(&c->statements.text, &rows[i]);
		if (sb_putc(&c->statements.text, '\0') || c->statements.text.failed)
			return st_nomem(c->st);
	}
	return 0;
}

static int derive_grades(void *ctx, const struct grade_row *rows, size_t n)
{
	struct comparison *c = ctx;
	for (size_t i = 0; i < n; i++) {
		int rc = keep(c, &c->grades, rows[i].dist);
		if (rc)
			return rc;
		grade_text(&c->grades.text, &rows[i]);
		if (sb_putc(&c->grades.text, '\0') || c->grades.text.failed)
			return st_nomem(c->st);
	}
	return 0;
}

/* ---- blobs, compared as they are made ------------------------------------ */

struct blob_cmp {
	struct blob_dst dst;
	struct comparison *c;
	struct blob_src *stored;  /* NULL: none to compare with */
	const char *what;
	unsigned char buf[BLOB_CHUNK_CMP];
};

/* Notes the difference and stops comparing: the rows are compared first. */
static int blob_differs(struct blob_cmp *b)
{
	if (!b->c->blob_what) {
		b->c->blob_what = b->what;
		b->c->blob_side = "differs from its re-derivation";
	}
	b->stored->close(b->stored);
	b->stored = NULL;
	return 0;
}

/* Reads exactly n stored bytes into b->buf: 0, 1 if the stored blob ends
 * first, or a status. */
static int read_stored(struct blob_cmp *b, size_t n)
{
	size_t have = 0, got;
	while (have < n) {
		int rc = b->stored->read(b->stored, b->buf + have, n - have, &got);
		if (rc)
			return rc;
		if (!got)
			return 1;
		have += got;
	}
	return 0;
}

static int cmp_write(struct blob_dst *dst, const unsigned char *p, size_t n)
{
	struct blob_cmp *b = (struct blob_cmp *)dst;
	while (b->stored && n) {
		size_t k = n < sizeof b->buf ? n : sizeof b->buf;
		int rc = read_stored(b, k);
		if (rc)
			return rc == 1 ? blob_differs(b) : rc;
		if (memcmp(b->buf, p, k))
			return blob_differs(b);
		p += k;
		n -= k;
	}
	return 0;
}

static int cmp_finish(struct blob_dst *dst)
{
	struct blob_cmp *b = (struct blob_cmp *)dst;
	if (!b->stored)
		return 0;
	int rc = read_stored(b, 1); /* the stored blob must end here too */
	return rc == 1 ? 0 : rc ? rc : blob_differs(b);
}

static void cmp_close(struct blob_dst *dst)
{
	struct blob_cmp *b = (struct blob_cmp *)dst;
	if (b->stored)
		b->stored->close(b->stored);
	free(b);
}

static int derive_blob(void *ctx, enum blob_kind kind, int period, int64_t last_seq, size_t size,
		       struct blob_dst **dst)
{
	struct comparison *c = ctx;
	(void)last_seq;
	(void)size;
	struct blob_cmp *b = calloc(1, sizeof *b);
	if (!b)
		return st_nomem(c->st);
	b->dst = (struct blob_dst){cmp_write, cmp_finish, cmp_close};
	b->c = c;
	b->what = kind == BLOB_SNAPSHOT ? "bounty snapshot"
		  : kind == BLOB_HOLDS  ? "record of held earnings"
					: "network cache";
	*dst = &b->dst;
	int found = ENG(c->st, blob_open, kind, period, &b->stored);
	if (found < 0)
		return -found;
	/* a network cache is kept for the last periods only: compared where
	 * the store has it; every closed period has its snapshot */
	if (!found && kind != BLOB_NETWORK && !c->blob_what) {
		c->blob_what = b->what;
		c->blob_side = "is missing from the store";
	}
	return 0;
}

/* ---- rows, walked beside the store's ------------------------------------------ */

struct walk {
	struct comparison *c;
	struct derived *d;
	const char *what;
	size_t next;
	struct strbuf row;
};

static int differs(struct walk *w, int64_t dist, const char *side)
{
	w->c->what = w->what;
	w->c->side = side;
	w->c->culprit = dist;
	return REFERRAL_EVERIFY;
}

/* A stored row: the derived rows before it are missing from the store; the
 * derived row of the same dist must read the same. */
static int walk_row(struct walk *w, int64_t dist)
{
	struct derived *d = w->d;
	if (!w->row.data || w->row.failed)
		return st_nomem(w->c->st);
	if (w->next < d->n && d->dist[w->next] < dist)
		return differs(w, d->dist[w->next], "is missing from the store");
	if (w->next == d->n || d->dist[w->next] != dist ||
	    strcmp(d->text.data + d->off[w->next], sb_str(&w->row)))
		return differs(w, dist, "differs from its re-derivation");
	w->next++;
	return 0;
}

static int stored_statement(void *ctx, const struct statement_row *r)
{
	struct walk *w = ctx;
	sb_reset(&w->row);
	statement_text(&w->row, r);
	return walk_row(w, r->dist);
}

static int stored_grade(void *ctx, const struct grade_row *r)
{
	struct walk *w = ctx;
	sb_reset(&w->row);
	grade_text(&w->row, r);
	return walk_row(w, r->dist);
}

static int compare_rows(struct comparison *c, struct derived *d, const char *what, int statements)
{
	struct walk w = {c, d, what, 0, {0}};
	int rc = statements ? ENG(c->st, statements, c->period, stored_statement, &w)
			    : ENG(c->st, grades, c->period, stored_grade, &w);
	if (!rc && w.next < d->n)
		rc = differs(&w, d->dist[w.next], "is missing from the store");
	sb_free(&w.row);
	return rc;
}

static void derived_free(struct derived *d)
{
	free(d->dist);
	free(d->off);
	sb_free(&d->text);
}

/* The message of the discrepancy found, naming the distributor by her id
 * (looked up once the iteration that found it is over). */
static int report(struct comparison *c)
{
	char p[8], who[80];
	period_format(c->period, p);
	if (c->culprit)
		ENG(c->st, id_of, c->culprit, who, sizeof who);
	else
		snprintf(who, sizeof who, "the period");
	return st_fail(c->st, REFERRAL_EVERIFY, "verify: period %s: a %s of %s %s", p, c->what, who,
		       c->side);
}

int verify_period(referral_store *st, int period, int64_t last_seq)
{
	struct comparison c = {.st = st, .period = period};
	struct settle_out out = {derive_statements, derive_blob, NULL, derive_grades, &c, 0};
	struct figures figs = {0};
	/* one pass derives the statements and, line by line, checks them */
	int rc = settle_period(st, period, last_seq, &out,
			       SETTLE_STATEMENTS | SETTLE_FROM_LOG | SETTLE_CHECK, &figs);
	if (!rc)
		rc = grade_period(st, period, last_seq, &out, &figs);
	figures_free(&figs);
	if (!rc)
		rc = compare_rows(&c, &c.statements, "statement", 1);
	if (!rc)
		rc = compare_rows(&c, &c.grades, "grade", 0);
	if (!rc && c.blob_what) {
		c.what = c.blob_what;
		c.side = c.blob_side;
		c.culprit = 0;
		rc = REFERRAL_EVERIFY;
	}
	if (rc == REFERRAL_EVERIFY && c.what)
		rc = report(&c);
	derived_free(&c.statements);
	derived_free(&c.grades);
	return rc;
}

/* ---- the redeem cache ---------------------------------------------------------- */

/* The id of the event `seq`, or its seq when the log has none. */
static void name_of(referral_store *st, int64_t seq, char *buf, size_t cap)
{
	ENG(st, id_of, seq, buf, cap);
	if (!strcmp(buf, "?"))
		snprintf(buf, cap, "seq %lld (not in the log)", (long long)seq);
}

int verify_member_events(referral_store *st)
{
	int64_t member = 0, seq = 0;
	int found = ENG(st, member_events_check, &member, &seq);
	if (found <= 0)
		return -found;
	if (!member && !seq)
		return st_fail(st, REFERRAL_EVERIFY, "verify: member_events_mark, the mark of the "
			       "redeem cache, is not one row");
	char who[80], what[80];
	name_of(st, member, who, sizeof who);
	name_of(st, seq, what, sizeof what);
	return st_fail(st, REFERRAL_EVERIFY,
		       "verify: member_events, the cache a redeem's check reads, disagrees with the"
		       " log at member %s and event %s", who, what);
}

/* ---- conservation --------------------------------------------------------------- */

/* Per distributor: the sum of her lines (each period's accrued, checked
 * line by line above) minus her payables, her last closing carry and what
 * is still held for her at the end of her last period. */
struct balance {
	referral_store *st;
	struct idmap map;
	mpq_t *sum, *carry; /* carry: the last closing carry plus the last held */
	size_t n, cap;
	mpq_t v;
};

static int add_text(struct balance *B, mpq_t acc, const char *t, int sign)
{
	if (dec_parse_signed(B->v, t))
		return st_fail(B->st, REFERRAL_EVERIFY, "verify: a stored value is not a decimal");
	if (sign > 0)
		mpq_add(acc, acc, B->v);
	else
		mpq_sub(acc, acc, B->v);
	return 0;
}

static int balance_row(void *ctx, const struct statement_row *r)
{
	struct balance *B = ctx;
	int32_t i = idmap_get(&B->map, r->dist);
	if (i < 0) {
		if (B->n == B->cap) {
			size_t cap = grown(B->cap, 256);
			if (array_resize(&B->sum, cap, sizeof *B->sum) ||
			    array_resize(&B->carry, cap, sizeof *B->carry))
				return st_nomem(B->st);
			B->cap = cap;
		}
		if (idmap_put(&B->map, r->dist, (int32_t)B->n))
			return st_nomem(B->st);
		mpq_inits(B->sum[B->n], B->carry[B->n], NULL);
		i = (int32_t)B->n++;
	}
	int rc = add_text(B, B->sum[i], r->accrued, 1);
	if (!rc)
		rc = add_text(B, B->sum[i], r->payable, -1);
	/* ascending periods: the last one read is her last */
	if (!rc && dec_parse_signed(B->carry[i], r->closing_carry))
		rc = st_fail(B->st, REFERRAL_EVERIFY, "verify: a stored value is not a decimal");
	if (!rc)
		rc = add_text(B, B->carry[i], r->held, 1);
	return rc;
}

int verify_conservation(referral_store *st)
{
	struct balance B = {.st = st};
	mpq_init(B.v);
	int rc = ENG(st, statements, -1, balance_row, &B);
	for (size_t k = 0; k < B.map.cap && !rc; k++) {
		if (!B.map.keys[k])
			continue;
		int32_t i = B.map.vals[k];
		mpq_sub(B.v, B.sum[i], B.carry[i]);
		if (mpq_sgn(B.v) == 0)
			continue;
		char id[80], diff[160];
		ENG(st, id_of, B.map.keys[k], id, sizeof id);
		dec_format(diff, sizeof diff, B.v);
		rc = st_fail(st, REFERRAL_EVERIFY,
			     "verify: distributor %s: payables plus the last carry and what is held"
			     " miss the sum of her lines by %s", id, diff);
	}
	for (size_t i = 0; i < B.n; i++)
		mpq_clears(B.sum[i], B.carry[i], NULL);
	free(B.sum);
	free(B.carry);
	idmap_free(&B.map);
	mpq_clear(B.v);
	return rc;
}
