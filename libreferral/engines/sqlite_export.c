/*
 * sqlite_export.c — the rows of the exports, read from a SQLite store,
 * joined to the log for the ids and sorted on the text of every column
 * (BINARY collation compares bytes), and the scratch table the lines of an
 * export are re-derived into.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"

#define MAX_COLS 16

struct engine_rows {
	struct sqlite_engine *q;
	sqlite3_stmt *s;
	int ncols;
	const char *cols[MAX_COLS];
};

#define PERIOD_TEXT(col) "printf('%04d-%02d', " col " / 12, " col " % 12 + 1)"

/* ?1 = the period, or NULL for all. */
static const char *const export_sql[] = {
	[EXPORT_STATEMENTS] =
		"SELECT " PERIOD_TEXT("s.period") ", d.id, so.id, s.grade, s.opening_carry,"
		" s.commission, s.bounty, s.override, s.accrued, s.released, s.held, s.total, s.payable,"
		" s.closing_carry"
		" FROM statements s JOIN events d ON d.seq = s.dist JOIN events so ON so.seq = s.store"
		" WHERE (?1 IS NULL OR s.period = ?1)"
		" ORDER BY 1, 2, 3, CAST(s.grade AS TEXT), 5, 6, 7, 8, 9, 10, 11, 12, 13, 14",
	[EXPORT_LINES] =
		"SELECT " PERIOD_TEXT("l.period") ", d.id,"
		" CASE l.type WHEN 1 THEN 'bounty' WHEN 2 THEN 'bounty_reversal'"
		" WHEN 3 THEN 'commission' WHEN 4 THEN 'commission_reversal'"
		" WHEN 5 THEN 'override' ELSE 'override_reversal' END,"
		" e.id, o.id, m.id, coalesce(src.id, ''), coalesce(l.base, ''), coalesce(l.rate, ''),"
		" l.value"
		" FROM temp.lines l JOIN events d ON d.seq = l.dist JOIN events e ON e.seq = l.event"
		" JOIN events o ON o.seq = l.ord JOIN events m ON m.seq = l.member"
		" LEFT JOIN events src ON src.seq = l.source"
		" WHERE (?1 IS NULL OR l.period = ?1)"
		" ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10",
	[EXPORT_GRADES] =
		"SELECT " PERIOD_TEXT("g.period") ", d.id, g.grade, g.members, g.sales, g.shares,"
		" g.store_rating, g.next_grade"
		" FROM grades g JOIN events d ON d.seq = g.dist"
		" WHERE (?1 IS NULL OR g.period = ?1)"
		" ORDER BY 1, 2",
	[EXPORT_MEMBERS] =
		"SELECT m.seq, m.id, coalesce(s.id, '') FROM events m"
		" LEFT JOIN events sb ON sb.type = 8 AND sb.ref1 = m.seq AND " BY_REF("sb.")
		" LEFT JOIN events s ON s.seq = sb.ref2"
		" WHERE m.type = 6 ORDER BY m.id",
};

int sq_lines_reset(struct engine *e)
{
	return sq_exec(sq(e), "CREATE TEMP TABLE IF NOT EXISTS lines("
			      " period INTEGER NOT NULL, dist INTEGER NOT NULL, type INTEGER NOT NULL,"
			      " event INTEGER NOT NULL, ord INTEGER NOT NULL, member INTEGER NOT NULL,"
			      " source INTEGER, binding INTEGER NOT NULL, base TEXT, rate TEXT,"
			      " value TEXT NOT NULL);"
			      " DELETE FROM temp.lines");
}

int sq_put_lines(struct engine *e, const struct line_row *rows, size_t n)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "INSERT INTO temp.lines(period, dist, type, event, ord, member,"
			       " source, binding, base, rate, value)"
			       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", &s);
	for (size_t i = 0; i < n && !rc; i++) {
		const struct line_row *l = &rows[i];
		sqlite3_bind_int(s, 1, l->period);
		sqlite3_bind_int64(s, 2, l->dist);
		sqlite3_bind_int(s, 3, l->type);
		sqlite3_bind_int64(s, 4, l->event);
		sqlite3_bind_int64(s, 5, l->order);
		sqlite3_bind_int64(s, 6, l->member);
		if (l->source)
			sqlite3_bind_int64(s, 7, l->source);
		else
			sqlite3_bind_null(s, 7);
		sqlite3_bind_int64(s, 8, l->binding);
		sqlite3_bind_text(s, 9, l->base, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 10, l->rate, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 11, l->value, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = sq_fail(q, "writing a line");
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	return rc;
}

int sq_rows_open(struct engine *e, enum export_kind kind, int period, struct engine_rows **out)
{
	struct sqlite_engine *q = sq(e);
	struct engine_rows *r = calloc(1, sizeof *r);
	*out = NULL;
	if (!r)
		return st_nomem(e->st);
	r->q = q;
	int rc = sq_prepare(q, export_sql[kind], &r->s);
	if (rc) {
		free(r);
		return rc;
	}
	if (period && kind != EXPORT_MEMBERS)
		sqlite3_bind_int(r->s, 1, period);
	r->ncols = sqlite3_column_count(r->s);
	*out = r;
	return 0;
}

int sq_rows_next(struct engine_rows *r, const char *const **cols)
{
	int step = sqlite3_step(r->s);
	if (step == SQLITE_DONE)
		return 0;
	if (step != SQLITE_ROW)
		return -sq_fail(r->q, "reading an export");
	for (int i = 0; i < r->ncols && i < MAX_COLS; i++) {
		/* a number made text takes memory: NULL then is no SQL NULL */
		r->cols[i] = (const char *)sqlite3_column_text(r->s, i);
		if (!r->cols[i] && sqlite3_errcode(r->q->db) == SQLITE_NOMEM)
			return -st_nomem(r->q->base.st);
	}
	*cols = r->cols;
	return 1;
}

void sq_rows_close(struct engine_rows *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->s);
	free(r);
}

void sq_id_of(struct engine *e, int64_t seq, char *buf, size_t cap)
{
	struct ev_row row;
	int found = sq_get(e, seq, &row);
	snprintf(buf, cap, "%s", found == 1 ? row.id : "?");
}
