/*
 * export.c — the outputs (docs/formats.md, "Exports"): a row cursor over
 * statements, lines, grades, members, payouts, stores, distributors and
 * the recruitment tree, restricted to some distributors if asked, and
 * their CSV, JSON and (the tree) DOT texts.
 *
 * Statements and grades are read through the engine, joined to the log
 * for the ids and sorted on the bytes of every column. Payouts are the
 * statements whose payable is above 0, with the tax withheld from it under
 * the plan for the period (rules/withholding.c). Lines are not
 * stored: they are re-derived into the engine's scratch first, period by
 * period, as each settlement saw the log. Members are computed by the
 * points ledger, then read in id order. Stores, distributors and the tree
 * are the roster (roster.c), computed from the log's network events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "decimal.h"
#include "points.h"
#include "roster.h"
#include "timeutil.h"
#include "withholding.h"

#define MAX_COLS 14

/* How a row of the engine becomes the export's: as it is, a member's
 * points from the ledger, or a payout from a statement; or a row of the
 * roster (no engine rows). */
enum derive { AS_STORED, MEMBER_POINTS, PAYOUT, STORES, DISTRIBUTORS, TREE };

struct table_def {
	const char *name;
	enum export_kind kind;
	enum derive derive;
	int ncols;
	const char *cols[MAX_COLS];
	unsigned numeric; /* bit i: column i is a count or grade */
	int dist_col;     /* the column --distributor filters on, or -1 */
	int has_period;   /* --period applies */
};

static const struct table_def tables[] = {
	{"statements", EXPORT_STATEMENTS, AS_STORED, 14,
	 {"period", "distributor", "store", "grade", "opening_carry", "commission", "bounty",
	  "override", "accrued", "released", "held", "total", "payable", "closing_carry"},
	 1u << 3, 1, 1},
	{"lines", EXPORT_LINES, AS_STORED, 10,
	 {"period", "distributor", "type", "event", "order", "member", "source", "base", "rate",
	  "value"},
	 0, 1, 1},
	{"grades", EXPORT_GRADES, AS_STORED, 8,
	 {"period", "distributor", "grade", "members", "sales", "shares", "store_rating",
	  "next_grade"},
	 (1u << 2) | (1u << 3) | (1u << 5) | (1u << 7), 1, 1},
	{"members", EXPORT_MEMBERS, MEMBER_POINTS, 6,
	 {"member", "lifetime", "balance", "tier", "sharer", "effective_tier"},
	 0, -1, 0},
	/* what finance pays: the statements with a payable above 0 */
	{"payouts", EXPORT_STATEMENTS, PAYOUT, 6,
	 {"period", "distributor", "store", "payable", "withheld", "net"},
	 0, 1, 1},
	/* the roster, as of the end of the latest period settled */
	{"stores", EXPORT_MEMBERS, STORES, 4, {"store", "name", "region", "rating"}, 0, -1, 0},
	{"distributors", EXPORT_MEMBERS, DISTRIBUTORS, 8,
	 {"distributor", "kind", "store", "recruiter", "joined_at", "terminated_at", "grade",
	  "members"},
	 (1u << 6) | (1u << 7), 0, 0},
	{"tree", EXPORT_MEMBERS, TREE, 6,
	 {"distributor", "recruiter", "depth", "store", "grade", "terminated"},
	 (1u << 2) | (1u << 4), 0, 0},
};

#define TABLE_NAMES "statements, lines, grades, members, payouts, stores, distributors or tree"

/* The columns of a statements row of the engine that payouts read. */
enum { ST_PERIOD, ST_DIST, ST_STORE, ST_PAYABLE = 12 };

struct referral_rows {
	referral_store *st;
	const struct table_def *def;
	struct engine_rows *q;        /* NULL for the roster's tables */
	struct roster roster;         /* stores, distributors, tree */
	int32_t *sorted;              /* the roster's rows in their order */
	size_t nsorted, next;
	char *shown;                  /* the tree: by distributor, 1 when her row is shown */
	char **only;                  /* --distributor: sorted ids, or NULL */
	size_t nonly;
	const char *const *row;     /* the engine's current row */
	struct points_ledger *ledger; /* members only */
	const plan *tier_plan;
	mpq_t lifetime, balance; /* payouts: payable, withheld */
	char vals[MAX_COLS][160];
	const char *cur[MAX_COLS];
};


static int scratch_lines(void *ctx, const struct line_row *rows, size_t n)
{
	return ENG((referral_store *)ctx, put_lines, rows, n);
}

/* Re-derives the lines of every closed period and of the settled draft
 * (only `period` when it is given, non-zero) into the engine's scratch. */
static int derive_lines(referral_store *st, int period)
{
	struct periods P = {.st = st};
	struct settle_out out = {NULL, NULL, scratch_lines, NULL, st, 0};
	int rc = ENG(st, begin, TX_READ);
	if (rc)
		return rc;
	if (!(rc = ENG(st, lines_reset)) && !(rc = ENG(st, closes, periods_put, &P)))
		rc = ENG(st, drafts, periods_put, &P);
	for (size_t i = 0; i < P.n && !rc; i++)
		if (!period || P.period[i] == period)
			rc = settle_period(st, P.period[i], P.last_seq[i], &out, SETTLE_LINES, NULL);
	periods_free(&P);
	if (rc) {
		ENG(st, rollback);
		return rc;
	}
	return ENG(st, commit);
}

int referral_export_options_init(referral_export_options *opts, unsigned int version)
{
	if (!opts || version != REFERRAL_EXPORT_OPTIONS_VERSION)
		return REFERRAL_EUSAGE;
	memset(opts, 0, sizeof *opts);
	opts->version = version;
	return 0;
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether `id` is among the distributors asked for (all when none were). */
static int wanted(const referral_rows *r, const char *id)
{
	return !r->only || bsearch(&id, r->only, r->nonly, sizeof *r->only, by_text);
}

/* The --distributor ids, checked to name distributors, kept sorted. */
static int take_filter(referral_rows *r, const referral_export_options *o)
{
	referral_store *st = r->st;
	if (!o->ndistributors)
		return 0;
	if (r->def->dist_col < 0)
		return st_fail(st, REFERRAL_EUSAGE, "%s: no distributor to choose", r->def->name);
	if (!o->distributors)
		return st_fail(st, REFERRAL_EUSAGE, "no distributor ids given");
	if (!(r->only = calloc(o->ndistributors, sizeof *r->only)))
		return st_nomem(st);
	for (size_t i = 0; i < o->ndistributors; i++) {
		const char *id = o->distributors[i];
		struct ev_row row;
		if (!id)
			return st_fail(st, REFERRAL_EUSAGE, "no distributor id given");
		int found = ENG(st, find, REFERRAL_EV_DISTRIBUTOR, id, strlen(id), &row);
		if (found < 0)
			return -found;
		if (!found)
			return st_fail(st, REFERRAL_EINPUT, "distributor \"%s\" does not exist", id);
		if (!(r->only[r->nonly++] = strdup(id)))
			return st_nomem(st);
	}
	qsort(r->only, r->nonly, sizeof *r->only, by_text);
	return 0;
}

/* The roster and the order of its rows: stores and distributors by id
 * (ids are unique, so that is the order on every column), the tree in
 * tree order, only the subtrees of the distributors asked for. */
static int open_roster(referral_rows *r)
{
	struct roster *R = &r->roster;
	int rc = ENG(r->st, begin, TX_READ);
	if (rc)
		return rc;
	rc = roster_load(r->st, R, r->def->derive == DISTRIBUTORS);
	ENG(r->st, rollback); /* it only read */
	if (rc)
		return rc;
	size_t n = r->def->derive == STORES ? R->ns : R->nd;
	struct roster_key *k = malloc((n + 1) * sizeof *k);
	r->sorted = malloc((n + 1) * sizeof *r->sorted);
	char *in = r->def->derive == TREE ? calloc(R->nd + 1, 1) : NULL;
	if (!k || !r->sorted || (r->def->derive == TREE && !in)) {
		free(k);
		free(in);
		return st_nomem(r->st);
	}
	if (r->def->derive == TREE) {
		/* in pre-order a recruiter comes before her recruits */
		for (size_t i = 0; i < n; i++) {
			int32_t x = R->order[i];
			const struct roster_dist *d = &R->d[x];
			in[x] = wanted(r, roster_text(R, d->id)) || (d->recruiter >= 0 && in[d->recruiter]);
			if (in[x])
				r->sorted[r->nsorted++] = x;
		}
	} else {
		for (size_t i = 0; i < n; i++)
			k[i] = (struct roster_key){
				roster_text(R, r->def->derive == STORES ? R->s[i].id : R->d[i].id),
				(int32_t)i};
		qsort(k, n, sizeof *k, roster_key_cmp);
		for (size_t i = 0; i < n; i++)
			if (r->def->derive == STORES || wanted(r, k[i].id))
				r->sorted[r->nsorted++] = k[i].ix;
	}
	free(k);
	r->shown = in;
	return 0;
}

int referral_rows_open_ext(referral_store *st, referral_rows **out, const char *table,
			   const referral_export_options *opts)
{
	const struct table_def *def = NULL;
	referral_export_options none;
	int p = 0, rc;

	if (!out)
		return st ? st_fail(st, REFERRAL_EUSAGE, "no cursor pointer given") : REFERRAL_EUSAGE;
	*out = NULL;
	if (!st)
		return REFERRAL_EUSAGE;
	if (!opts) {
		referral_export_options_init(&none, REFERRAL_EXPORT_OPTIONS_VERSION);
		opts = &none;
	} else if (opts->version != REFERRAL_EXPORT_OPTIONS_VERSION) {
		return st_fail(st, REFERRAL_EUSAGE,
			       "export options of version %u: this library knows version %d",
			       opts->version, REFERRAL_EXPORT_OPTIONS_VERSION);
	}
	for (size_t i = 0; table && i < sizeof tables / sizeof *tables; i++)
		if (!strcmp(table, tables[i].name))
			def = &tables[i];
	if (!def)
		return st_fail(st, REFERRAL_EUSAGE, "unknown export \"%s\": expected " TABLE_NAMES,
			       table ? table : "(null)");
	const char *period = def->has_period ? opts->period : NULL;
	if (period && (rc = st_period_arg(st, period, &p)))
		return rc;
	if ((rc = st_load_state(st)))
		return rc;

	referral_rows *r = calloc(1, sizeof *r);
	if (!r)
		return st_nomem(st);
	r->st = st;
	r->def = def;
	mpq_inits(r->lifetime, r->balance, NULL);
	if ((rc = take_filter(r, opts)))
		goto fail;
	if (def->derive >= STORES) {
		if ((rc = open_roster(r)))
			goto fail;
		*out = r;
		return 0;
	}
	if (def->kind == EXPORT_LINES && (rc = derive_lines(st, p)))
		goto fail;
	if ((rc = ENG(st, rows_open, def->kind, period ? p : 0, &r->q)))
		goto fail;
	if (def->derive == MEMBER_POINTS) {
		if ((rc = points_compute_all(st, &r->ledger)))
			goto fail;
		r->tier_plan = st_plan_for(st, st->first_open);
	}
	*out = r;
	return 0;
fail:
	referral_rows_free(r);
	return rc;
}

int referral_rows_open(referral_store *st, referral_rows **out, const char *table,
		       const char *period)
{
	referral_export_options o;
	referral_export_options_init(&o, REFERRAL_EXPORT_OPTIONS_VERSION);
	o.period = period;
	return referral_rows_open_ext(st, out, table, &o);
}

int referral_rows_columns(const referral_rows *r) { return r ? r->def->ncols : 0; }

const char *referral_rows_column(const referral_rows *r, int i)
{
	return r && i >= 0 && i < r->def->ncols ? r->def->cols[i] : NULL;
}

int referral_rows_column_is_number(const referral_rows *r, int i)
{
	return r && i >= 0 && i < r->def->ncols && (r->def->numeric >> i) & 1;
}

static void member_row(referral_rows *r)
{
	const plan *pl = r->tier_plan;
	int64_t sharer;
	points_get(r->ledger, atoll(r->row[0]), r->lifetime, r->balance, &sharer);
	int own = points_tier(pl, r->lifetime), best = own;
	if (sharer) {
		mpq_t sl, sb;
		int64_t unused;
		mpq_inits(sl, sb, NULL);
		points_get(r->ledger, sharer, sl, sb, &unused);
		int theirs = points_tier(pl, sl);
		if (theirs > best)
			best = theirs;
		mpq_clears(sl, sb, NULL);
	}
	r->cur[0] = r->row[1];
	dec_format(r->vals[1], sizeof r->vals[1], r->lifetime);
	dec_format(r->vals[2], sizeof r->vals[2], r->balance);
	r->cur[1] = r->vals[1];
	r->cur[2] = r->vals[2];
	r->cur[3] = pl->tiers[own].name;
	r->cur[4] = r->row[2];
	r->cur[5] = pl->tiers[best].name;
}

/* A statement's payout: 0 when its payable is 0.00 (no payout), 1 with the
 * row made, or a negative status. */
static int payout_row(referral_rows *r)
{
	const char *const *row = r->row;
	int period;
	if (!row[ST_PERIOD] || !row[ST_PAYABLE] ||
	    period_parse(row[ST_PERIOD], strlen(row[ST_PERIOD]), &period) ||
	    dec_parse_signed(r->lifetime, row[ST_PAYABLE]))
		return -st_fail(r->st, REFERRAL_EIO, "storage: a stored statement is damaged");
	if (mpq_sgn(r->lifetime) <= 0)
		return 0;
	withholding_of(st_plan_for(r->st, period)->withholding, r->lifetime, r->balance);
	r->cur[0] = row[ST_PERIOD];
	r->cur[1] = row[ST_DIST];
	r->cur[2] = row[ST_STORE];
	r->cur[3] = row[ST_PAYABLE];
	dec_format(r->vals[4], sizeof r->vals[4], r->balance);
	mpq_sub(r->balance, r->lifetime, r->balance);
	dec_format(r->vals[5], sizeof r->vals[5], r->balance);
	r->cur[4] = r->vals[4];
	r->cur[5] = r->vals[5];
	return 1;
}

/* A row of the roster's tables. */
static void roster_row(referral_rows *r, int32_t x)
{
	const struct roster *R = &r->roster;
	int offset = r->st->plans[0].p.utc_offset_min;
	if (r->def->derive == STORES) {
		const struct roster_store *s = &R->s[x];
		r->cur[0] = roster_text(R, s->id);
		r->cur[1] = roster_text(R, s->name);
		r->cur[2] = roster_text(R, s->region);
		r->cur[3] = roster_text(R, s->rating);
		return;
	}
	const struct roster_dist *d = &R->d[x];
	int32_t store = roster_store_ix(R, d->store);
	const char *store_id = store >= 0 ? roster_text(R, R->s[store].id) : "";
	const char *recruiter = d->recruiter >= 0 ? roster_text(R, R->d[d->recruiter].id) : "";
	r->cur[0] = roster_text(R, d->id);
	if (r->def->derive == TREE) {
		snprintf(r->vals[2], sizeof r->vals[2], "%d", d->depth);
		snprintf(r->vals[4], sizeof r->vals[4], "%d", d->grade);
		r->cur[1] = recruiter;
		r->cur[2] = r->vals[2];
		r->cur[3] = store_id;
		r->cur[4] = r->vals[4];
		r->cur[5] = d->term != INT64_MAX ? "yes" : "no";
		return;
	}
	ts_format(d->joined, offset, r->vals[4], sizeof r->vals[4]);
	if (d->term != INT64_MAX)
		ts_format(d->term, offset, r->vals[5], sizeof r->vals[5]);
	else
		r->vals[5][0] = '\0';
	snprintf(r->vals[6], sizeof r->vals[6], "%d", d->grade);
	snprintf(r->vals[7], sizeof r->vals[7], "%ld", d->members);
	r->cur[1] = roster_text(R, d->kind);
	r->cur[2] = store_id;
	r->cur[3] = recruiter;
	for (int i = 4; i < 8; i++)
		r->cur[i] = r->vals[i];
}

int referral_rows_next(referral_rows *r)
{
	if (!r)
		return -REFERRAL_EUSAGE;
	if (!r->q) {
		if (r->next == r->nsorted)
			return 0;
		roster_row(r, r->sorted[r->next++]);
		return 1;
	}
	int more;
	for (;;) {
		more = r->st->eng->ops->rows_next(r->q, &r->row);
		if (more == 1 && r->def->dist_col >= 0 && r->only &&
		    !wanted(r, r->row[r->def->dist_col] ? r->row[r->def->dist_col] : ""))
			continue;
		if (more == 1 && r->def->derive == PAYOUT && (more = payout_row(r)) == 0)
			continue;
		break;
	}
	if (more <= 0 || r->def->derive == PAYOUT)
		return more;
	if (r->def->derive == MEMBER_POINTS) {
		member_row(r);
		return 1;
	}
	for (int i = 0; i < r->def->ncols; i++) {
		const char *v = r->row[i];
		r->cur[i] = v ? v : "";
	}
	return 1;
}

const char *referral_rows_value(const referral_rows *r, int i)
{
	if (!r || i < 0 || i >= r->def->ncols || !r->cur[i])
		return "";
	return r->cur[i];
}

void referral_rows_free(referral_rows *r)
{
	if (!r)
		return;
	if (r->q)
		r->st->eng->ops->rows_close(r->q);
	roster_free(&r->roster);
	free(r->sorted);
	free(r->shown);
	for (size_t i = 0; i < r->nonly; i++)
		free(r->only[i]);
	free(r->only);
	points_free(r->ledger);
	mpq_clears(r->lifetime, r->balance, NULL);
	free(r);
}

/* ---- text forms ------------------------------------------------------- */

static void csv_field(struct strbuf *sb, const char *v)
{
	if (!strpbrk(v, ",\"\n\r")) {
		sb_puts(sb, v);
		return;
	}
	sb_putc(sb, '"');
	for (; *v; v++) {
		if (*v == '"')
			sb_putc(sb, '"');
		sb_putc(sb, *v);
	}
	sb_putc(sb, '"');
}

static void json_string(struct strbuf *sb, const char *v)
{
	sb_putc(sb, '"');
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (c == '"' || c == '\\') {
			sb_putc(sb, '\\');
			sb_putc(sb, (char)c);
		} else if (c < 0x20) {
			sb_printf(sb, "\\u%04x", c);
		} else {
			sb_putc(sb, (char)c);
		}
	}
	sb_putc(sb, '"');
}

/* Flushes the buffer to the sink when it is large, or always if `force`. */
static int flush(struct strbuf *sb, referral_write_fn write, void *ctx, int force)
{
	if (!force && sb->len < 65536)
		return 0;
	int stop = sb->len && write(ctx, sb_str(sb), sb->len);
	sb_reset(sb);
	return stop;
}

/* The tree in Graphviz's DOT: a box per distributor with her kind, store
 * and grade (dashed once she has left), an arrow from recruiter to recruit
 * when both are shown. Ids and kinds need no escaping in DOT's quoted
 * strings: they hold no '"' nor '\\'. 0, or -1 out of memory. */
static int dot_text(referral_rows *r, struct strbuf *sb)
{
	const struct roster *R = &r->roster;
	int bad = sb_puts(sb, "digraph recruitment {\n"
			      "\tnode [shape=box, fontname=\"sans-serif\"];\n");
	for (size_t i = 0; i < r->nsorted; i++) {
		const struct roster_dist *d = &R->d[r->sorted[i]];
		int32_t store = roster_store_ix(R, d->store);
		bad |= sb_printf(sb, "\t\"%s\" [label=\"%s\\n%s, %s, grade %d\"%s];\n",
				 roster_text(R, d->id), roster_text(R, d->id), roster_text(R, d->kind),
				 store >= 0 ? roster_text(R, R->s[store].id) : "", d->grade,
				 d->term != INT64_MAX ? ", style=dashed" : "");
	}
	for (size_t i = 0; i < r->nsorted; i++) {
		const struct roster_dist *d = &R->d[r->sorted[i]];
		if (d->recruiter >= 0 && r->shown[d->recruiter])
			bad |= sb_printf(sb, "\t\"%s\" -> \"%s\";\n",
					 roster_text(R, R->d[d->recruiter].id), roster_text(R, d->id));
	}
	return bad | sb_puts(sb, "}\n");
}

int referral_export_ext(referral_store *st, const char *table, const referral_export_options *opts,
			referral_write_fn write, void *ctx)
{
	referral_rows *r;
	struct strbuf sb = {0};
	int json = 0, dot = 0, rc, n = 0, more = 0;
	const char *format = opts ? opts->format : NULL;

	if (!st)
		return REFERRAL_EUSAGE;
	if (!write)
		return st_fail(st, REFERRAL_EUSAGE, "no writer given");
	if (!format || !strcmp(format, "csv"))
		json = 0;
	else if (!strcmp(format, "json"))
		json = 1;
	else if (!strcmp(format, "dot") && table && !strcmp(table, "tree"))
		dot = 1;
	else
		return st_fail(st, REFERRAL_EUSAGE, "unknown format \"%s\": expected csv or json%s",
			       format, table && !strcmp(table, "tree") ? " or dot" : "");
	if ((rc = referral_rows_open_ext(st, &r, table, opts)))
		return rc;
	if (opts && opts->bom)
		sb_puts(&sb, "\xEF\xBB\xBF");
	int ncols = referral_rows_columns(r);
	if (dot) {
		if (dot_text(r, &sb))
			rc = st_nomem(st);
	} else if (json) {
		sb_putc(&sb, '[');
	} else {
		for (int i = 0; i < ncols; i++) {
			if (i)
				sb_putc(&sb, ',');
			sb_puts(&sb, referral_rows_column(r, i));
		}
		sb_putc(&sb, '\n');
	}
	while (!dot && (more = referral_rows_next(r)) == 1) {
		if (json) {
			sb_puts(&sb, n ? ",\n{" : "\n{");
			for (int i = 0; i < ncols; i++) {
				const char *v = referral_rows_value(r, i);
				if (i)
					sb_putc(&sb, ',');
				json_string(&sb, referral_rows_column(r, i));
				sb_putc(&sb, ':');
				if (!v[0])
					sb_puts(&sb, "null");
				else if (referral_rows_column_is_number(r, i))
					sb_puts(&sb, v);
				else
					json_string(&sb, v);
			}
			sb_putc(&sb, '}');
		} else {
			for (int i = 0; i < ncols; i++) {
				if (i)
					sb_putc(&sb, ',');
				csv_field(&sb, referral_rows_value(r, i));
			}
			sb_putc(&sb, '\n');
		}
		n++;
		if (sb.failed) {
			rc = st_nomem(st);
			break;
		}
		if (flush(&sb, write, ctx, 0)) {
			rc = st_fail(st, REFERRAL_EIO, "export: the output could not be written");
			break;
		}
	}
	if (!rc && more < 0)
		rc = -more;
	if (!rc && json)
		sb_puts(&sb, n ? "\n]\n" : "]\n");
	if (!rc && sb.failed)
		rc = st_nomem(st);
	if (!rc && flush(&sb, write, ctx, 1))
		rc = st_fail(st, REFERRAL_EIO, "export: the output could not be written");
	sb_free(&sb);
	referral_rows_free(r);
	return rc;
}

int referral_export(referral_store *st, const char *table, const char *period, const char *format,
		    referral_write_fn write, void *ctx)
{
	referral_export_options o;
	referral_export_options_init(&o, REFERRAL_EXPORT_OPTIONS_VERSION);
	o.period = period;
	o.format = format;
	return referral_export_ext(st, table, &o, write, ctx);
}

int referral_member_get(referral_store *st, const char *member, referral_member_info *out)
{
	struct points_ledger *L;
	int rc;
	char sharer_id[80] = "";

	if (!st)
		return REFERRAL_EUSAGE;
	if (!member || !out)
		return st_fail(st, REFERRAL_EUSAGE, "no member or result given");
	if ((rc = st_load_state(st)))
		return rc;
	struct ev_row row;
	int found = ENG(st, find, REFERRAL_EV_MEMBER, member, strlen(member), &row);
	if (found < 0)
		return -found;
	if (!found)
		return st_fail(st, REFERRAL_EINPUT, "member \"%s\" does not exist", member);
	int64_t seq = row.seq;

	/* the whole ledger: a sharer's points come from her sharees' events */
	if ((rc = points_compute_all(st, &L)))
		return rc;
	mpq_t life, bal, slife, sbal;
	int64_t sharer, unused;
	mpq_inits(life, bal, slife, sbal, NULL);
	points_get(L, seq, life, bal, &sharer);
	const plan *pl = st_plan_for(st, st->first_open);
	int own = points_tier(pl, life), best = own;
	if (sharer) {
		points_get(L, sharer, slife, sbal, &unused);
		if (points_tier(pl, slife) > best)
			best = points_tier(pl, slife);
		ENG(st, id_of, sharer, sharer_id, sizeof sharer_id);
	}
	/* one buffer holds the lent strings: id, lifetime, balance, sharer */
	struct strbuf *b = &st->member_buf;
	sb_reset(b);
	char l[160], bl[160];
	dec_format(l, sizeof l, life);
	dec_format(bl, sizeof bl, bal);
	size_t o_id = 0, o_l, o_b, o_s;
	sb_puts(b, member);
	sb_putc(b, '\0');
	o_l = b->len;
	sb_puts(b, l);
	sb_putc(b, '\0');
	o_b = b->len;
	sb_puts(b, bl);
	sb_putc(b, '\0');
	o_s = b->len;
	if (sb_puts(b, sharer_id) || b->failed) {
		rc = st_nomem(st);
		goto out;
	}
	out->member = b->data + o_id;
	out->lifetime = b->data + o_l;
	out->balance = b->data + o_b;
	out->sharer = b->data + o_s;
	out->tier = pl->tiers[own].name;
	out->effective_tier = pl->tiers[best].name;
out:
	mpq_clears(life, bal, slife, sbal, NULL);
	points_free(L);
	return rc;
}
