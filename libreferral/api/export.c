/*
 * export.c — the outputs of SPEC §10: a row cursor over statements, lines,
 * grades and members, and their CSV and JSON texts.
 *
 * Statements and grades are read straight from the store, joined to the
 * event log for the ids, and sorted by SQLite on the text of every column
 * (BINARY collation compares bytes, as the spec asks). Lines are not
 * stored: they are re-derived into a temporary table first, period by
 * period, as each settlement saw the log. Members are computed by the
 * points ledger, then read in id order.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "decimal.h"
#include "points.h"
#include "timeutil.h"

#define MAX_COLS 12

struct table_def {
	const char *name;
	int ncols;
	const char *cols[MAX_COLS];
	unsigned numeric; /* bit i: column i is a count or grade */
	const char *sql;  /* ?1 = period or NULL for all */
};

#define PERIOD_TEXT(col) "printf('%04d-%02d', " col " / 12, " col " % 12 + 1)"

static const struct table_def tables[] = {
	{"statements", 12,
	 {"period", "distributor", "store", "grade", "opening_carry", "commission", "bounty",
	  "override", "accrued", "total", "payable", "closing_carry"},
	 1u << 3,
	 "SELECT " PERIOD_TEXT("s.period") ", d.id, so.id, s.grade, s.opening_carry, s.commission,"
	 " s.bounty, s.override, s.accrued, s.total, s.payable, s.closing_carry"
	 " FROM statements s JOIN events d ON d.seq = s.dist JOIN events so ON so.seq = s.store"
	 " WHERE (?1 IS NULL OR s.period = ?1)"
	 " ORDER BY 1, 2, 3, CAST(s.grade AS TEXT), 5, 6, 7, 8, 9, 10, 11, 12"},
	{"lines", 10,
	 {"period", "distributor", "type", "event", "order", "member", "source", "base", "rate",
	  "value"},
	 0,
	 "SELECT " PERIOD_TEXT("l.period") ", d.id,"
	 " CASE l.type WHEN 1 THEN 'bounty' WHEN 2 THEN 'bounty_reversal'"
	 " WHEN 3 THEN 'commission' WHEN 4 THEN 'commission_reversal'"
	 " WHEN 5 THEN 'override' ELSE 'override_reversal' END,"
	 " e.id, o.id, m.id, coalesce(src.id, ''), coalesce(l.base, ''), coalesce(l.rate, ''),"
	 " l.value"
	 " FROM temp.x_lines l JOIN events d ON d.seq = l.dist JOIN events e ON e.seq = l.event"
	 " JOIN events o ON o.seq = l.ord JOIN events m ON m.seq = l.member"
	 " LEFT JOIN events src ON src.seq = l.source"
	 " WHERE (?1 IS NULL OR l.period = ?1)"
	 " ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"},
	{"grades", 8,
	 {"period", "distributor", "grade", "members", "sales", "shares", "store_rating",
	  "next_grade"},
	 (1u << 2) | (1u << 3) | (1u << 5) | (1u << 7),
	 "SELECT " PERIOD_TEXT("g.period") ", d.id, g.grade, g.members, g.sales, g.shares,"
	 " g.store_rating, g.next_grade"
	 " FROM grades g JOIN events d ON d.seq = g.dist"
	 " WHERE (?1 IS NULL OR g.period = ?1)"
	 " ORDER BY 1, 2"},
	{"members", 6,
	 {"member", "lifetime", "balance", "tier", "sharer", "effective_tier"},
	 0,
	 "SELECT m.seq, m.id, coalesce(s.id, ''), sb.ref2 FROM events m"
	 " LEFT JOIN events sb ON sb.type = 8 AND sb.ref1 = m.seq"
	 " LEFT JOIN events s ON s.seq = sb.ref2"
	 " WHERE m.type = 6 ORDER BY m.id"},
};

struct referral_rows {
	referral_store *st;
	const struct table_def *def;
	sqlite3_stmt *q;
	struct points_ledger *ledger; /* members only */
	const plan *tier_plan;
	mpq_t lifetime, balance;
	char vals[MAX_COLS][160];
	const char *cur[MAX_COLS];
};

/* Re-derives the lines of every closed period and of the settled draft
 * (only `period` when it is given) into temp.x_lines. */
static int derive_lines(referral_store *st, int has_period, int period)
{
	sqlite3_stmt *q;
	int rc, step;

	if ((rc = st_create_derived(st, "temp.x_")) || (rc = st_exec(st, "BEGIN")))
		return rc;
	if ((rc = st_exec(st, "DELETE FROM temp.x_lines")) ||
	    (rc = st_prepare(st, "SELECT period, last_seq FROM closes UNION ALL"
				 " SELECT period, last_seq FROM drafts ORDER BY 1", &q))) {
		st_rollback(st);
		return rc;
	}
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int p = sqlite3_column_int(q, 0);
		if (has_period && p != period)
			continue;
		if ((rc = settle_period(st, p, sqlite3_column_int64(q, 1), "temp.x_", SETTLE_LINES, NULL)))
			break;
	}
	sqlite3_finalize(q);
	if (!rc && step != SQLITE_DONE)
		rc = st_sqlfail(st, "reading periods");
	if (rc) {
		st_rollback(st);
		return rc;
	}
	return st_commit(st);
}

int referral_rows_open(referral_store *st, referral_rows **out, const char *table,
		       const char *period)
{
	const struct table_def *def = NULL;
	int p = 0, rc;

	if (!out)
		return st ? st_fail(st, REFERRAL_EUSAGE, "no cursor pointer given") : REFERRAL_EUSAGE;
	*out = NULL;
	if (!st)
		return REFERRAL_EUSAGE;
	for (size_t i = 0; table && i < sizeof tables / sizeof *tables; i++)
		if (!strcmp(table, tables[i].name))
			def = &tables[i];
	if (!def)
		return st_fail(st, REFERRAL_EUSAGE,
			       "unknown export \"%s\": expected statements, lines, grades or members",
			       table ? table : "(null)");
	if (period && (rc = st_period_arg(st, period, &p)))
		return rc;
	if ((rc = st_load_state(st)))
		return rc;
	if (def == &tables[1] && (rc = derive_lines(st, period != NULL, p)))
		return rc;

	referral_rows *r = calloc(1, sizeof *r);
	if (!r)
		return st_nomem(st);
	r->st = st;
	r->def = def;
	mpq_inits(r->lifetime, r->balance, NULL);
	if ((rc = st_prepare(st, def->sql, &r->q)))
		goto fail;
	if (period && def != &tables[3])
		sqlite3_bind_int(r->q, 1, p);
	if (def == &tables[3]) {
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
	points_get(r->ledger, sqlite3_column_int64(r->q, 0), r->lifetime, r->balance, &sharer);
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
	r->cur[0] = (const char *)sqlite3_column_text(r->q, 1);
	dec_format(r->vals[1], sizeof r->vals[1], r->lifetime);
	dec_format(r->vals[2], sizeof r->vals[2], r->balance);
	r->cur[1] = r->vals[1];
	r->cur[2] = r->vals[2];
	r->cur[3] = pl->tiers[own].name;
	r->cur[4] = (const char *)sqlite3_column_text(r->q, 2);
	r->cur[5] = pl->tiers[best].name;
}

int referral_rows_next(referral_rows *r)
{
	if (!r)
		return -REFERRAL_EUSAGE;
	int step = sqlite3_step(r->q);
	if (step == SQLITE_DONE)
		return 0;
	if (step != SQLITE_ROW)
		return -st_sqlfail(r->st, "reading an export");
	if (r->ledger) {
		member_row(r);
		return 1;
	}
	for (int i = 0; i < r->def->ncols; i++) {
		const char *v = (const char *)sqlite3_column_text(r->q, i);
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
	sqlite3_finalize(r->q);
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

int referral_export(referral_store *st, const char *table, const char *period, const char *format,
		    referral_write_fn write, void *ctx)
{
	referral_rows *r;
	struct strbuf sb = {0};
	int json, rc, n = 0, more;

	if (!st)
		return REFERRAL_EUSAGE;
	if (!write)
		return st_fail(st, REFERRAL_EUSAGE, "no writer given");
	if (!format || !strcmp(format, "csv"))
		json = 0;
	else if (!strcmp(format, "json"))
		json = 1;
	else
		return st_fail(st, REFERRAL_EUSAGE, "unknown format \"%s\": expected csv or json",
			       format);
	if ((rc = referral_rows_open(st, &r, table, period)))
		return rc;
	int ncols = referral_rows_columns(r);
	if (json) {
		sb_putc(&sb, '[');
	} else {
		for (int i = 0; i < ncols; i++) {
			if (i)
				sb_putc(&sb, ',');
			sb_puts(&sb, referral_rows_column(r, i));
		}
		sb_putc(&sb, '\n');
	}
	while ((more = referral_rows_next(r)) == 1) {
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
		if (!sb.data) {
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
	if (!rc && flush(&sb, write, ctx, 1))
		rc = st_fail(st, REFERRAL_EIO, "export: the output could not be written");
	sb_free(&sb);
	referral_rows_free(r);
	return rc;
}

int referral_member_get(referral_store *st, const char *member, referral_member_info *out)
{
	struct points_ledger *L;
	sqlite3_stmt *q = NULL;
	int rc;

	if (!st)
		return REFERRAL_EUSAGE;
	if (!member || !out)
		return st_fail(st, REFERRAL_EUSAGE, "no member or result given");
	if ((rc = st_load_state(st)))
		return rc;
	sqlite3_stmt *f = st->q[Q_FIND];
	sqlite3_bind_int(f, 1, REFERRAL_EV_MEMBER);
	sqlite3_bind_text(f, 2, member, -1, SQLITE_TRANSIENT);
	int step = sqlite3_step(f);
	int64_t seq = step == SQLITE_ROW ? sqlite3_column_int64(f, 0) : 0;
	sqlite3_reset(f);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return st_sqlfail(st, "looking up a member");
	if (!seq)
		return st_fail(st, REFERRAL_EINPUT, "member \"%s\" does not exist", member);

	/* the whole ledger: a sharer's points come from her sharees' events */
	if ((rc = points_compute_all(st, &L)))
		return rc;
	mpq_t life, bal, slife, sbal;
	int64_t sharer, unused;
	mpq_inits(life, bal, slife, sbal, NULL);
	points_get(L, seq, life, bal, &sharer);
	const plan *pl = st_plan_for(st, st->first_open);
	int own = points_tier(pl, life), best = own;
	const char *sharer_id = "";
	if (sharer) {
		points_get(L, sharer, slife, sbal, &unused);
		if (points_tier(pl, slife) > best)
			best = points_tier(pl, slife);
		if ((rc = st_prepare(st, "SELECT id FROM events WHERE seq = ?1", &q)))
			goto out;
		sqlite3_bind_int64(q, 1, sharer);
		if (sqlite3_step(q) == SQLITE_ROW)
			sharer_id = (const char *)sqlite3_column_text(q, 0);
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
	if (sb_puts(b, sharer_id)) {
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
	sqlite3_finalize(q);
	mpq_clears(life, bal, slife, sbal, NULL);
	points_free(L);
	return rc;
}
