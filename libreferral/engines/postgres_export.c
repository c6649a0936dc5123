/*
 * postgres_export.c — the rows of the exports, read from a brand's store
 * through a server-side cursor a chunk at a time, joined to the log for
 * the ids and sorted on the text of every column by its bytes (COLLATE
 * "C", as SQLite's BINARY), so that every export is byte for byte the one
 * the SQLite engine gives; and the scratch lines of an export, in a TEMP
 * table of the session filled by COPY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

#define MAX_COLS 16
#define CHUNK 1000

struct engine_rows {
	struct pg_engine *p;
	char cursor[32];
	PGresult *res;
	int row, done, ncols;
	const char *cols[MAX_COLS];
};

/* The text YYYY-MM of a period column. */
#define PERIOD_TEXT(col)                                                                         \
	"(lpad((" col " / 12)::text, 4, '0') || '-' || lpad((" col " % 12 + 1)::text, 2, '0'))" \
	" COLLATE \"C\""

/* %s: the condition on the period. */
static const char *const export_sql[] = {
	[EXPORT_STATEMENTS] =
		"SELECT " PERIOD_TEXT("s.period") ", d.id, so.id, s.grade::text COLLATE \"C\","
		" s.opening_carry, s.commission, s.bounty, s.override, s.accrued, s.released, s.held,"
		" s.total, s.payable, s.closing_carry"
		" FROM statements s JOIN events d ON d.seq = s.dist JOIN events so ON so.seq = s.store"
		" WHERE %s ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14",
	[EXPORT_LINES] =
		"SELECT " PERIOD_TEXT("l.period") ", d.id,"
		" (CASE l.type WHEN 1 THEN 'bounty' WHEN 2 THEN 'bounty_reversal'"
		" WHEN 3 THEN 'commission' WHEN 4 THEN 'commission_reversal'"
		" WHEN 5 THEN 'override' ELSE 'override_reversal' END) COLLATE \"C\","
		" e.id, o.id, m.id, coalesce(src.id, ''), coalesce(l.base, ''), coalesce(l.rate, ''),"
		" l.value"
		" FROM pg_temp.lines l JOIN events d ON d.seq = l.dist JOIN events e ON e.seq = l.event"
		" JOIN events o ON o.seq = l.ord JOIN events m ON m.seq = l.member"
		" LEFT JOIN events src ON src.seq = l.source"
		" WHERE %s ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10",
	[EXPORT_GRADES] =
		"SELECT " PERIOD_TEXT("g.period") ", d.id, g.grade::text, g.members::text, g.sales,"
		" g.shares::text, g.store_rating, g.next_grade::text"
		" FROM grades g JOIN events d ON d.seq = g.dist"
		" WHERE %s ORDER BY 1, 2",
	[EXPORT_MEMBERS] =
		"SELECT m.seq::text, m.id, coalesce(s.id, '') FROM events m"
		" LEFT JOIN events sb ON sb.type = 8 AND sb.ref1 = m.seq AND " PG_BY_REF("sb.")
		" LEFT JOIN events s ON s.seq = sb.ref2"
		" WHERE m.type = 6 AND %s ORDER BY m.id, sb.seq",
};

static const char *const period_col[] = {
	[EXPORT_STATEMENTS] = "s.period", [EXPORT_LINES] = "l.period", [EXPORT_GRADES] = "g.period",
	[EXPORT_MEMBERS] = NULL,
};

int pg_lines_reset(struct engine *e)
{
	return pg_cmd(pg(e), "CREATE TEMP TABLE IF NOT EXISTS lines("
			     " period integer NOT NULL, dist bigint NOT NULL, type integer NOT NULL,"
			     " event bigint NOT NULL, ord bigint NOT NULL, member bigint NOT NULL,"
			     " source bigint, binding bigint NOT NULL, base text COLLATE \"C\","
			     " rate text COLLATE \"C\", value text COLLATE \"C\" NOT NULL);"
			     " TRUNCATE pg_temp.lines",
		      "making the scratch lines");
}

static int put_line(void *ctx, size_t i, struct strbuf *line)
{
	const struct line_row *l = (const struct line_row *)ctx + i;
	char src[24];
	return pg_copy_int(line, l->period, '\t') || pg_copy_int(line, l->dist, '\t') ||
	       pg_copy_int(line, l->type, '\t') || pg_copy_int(line, l->event, '\t') ||
	       pg_copy_int(line, l->order, '\t') || pg_copy_int(line, l->member, '\t') ||
	       pg_copy_field(line, l->source ? pg_itoa(src, l->source) : NULL, '\t') ||
	       pg_copy_int(line, l->binding, '\t') || pg_copy_field(line, l->base, '\t') ||
	       pg_copy_field(line, l->rate, '\t') || pg_copy_field(line, l->value, '\n');
}

int pg_put_lines(struct engine *e, const struct line_row *rows, size_t n)
{
	if (!n)
		return 0;
	return pg_copy(pg(e), "COPY pg_temp.lines(period, dist, type, event, ord, member, source,"
			      " binding, base, rate, value) FROM STDIN",
		       n, put_line, (void *)rows, "writing lines");
}

int pg_rows_open(struct engine *e, enum export_kind kind, int period, struct engine_rows **out)
{
	struct pg_engine *p = pg(e);
	struct strbuf sql = {0};
	char cond[64];
	*out = NULL;
	struct engine_rows *r = calloc(1, sizeof *r);
	if (!r)
		return st_nomem(e->st);
	r->p = p;
	if (period && period_col[kind])
		snprintf(cond, sizeof cond, "%s = %d", period_col[kind], period);
	else
		snprintf(cond, sizeof cond, "TRUE");
	pg_cursor_name(p, r->cursor);
	int hold = PQtransactionStatus(p->conn) == PQTRANS_IDLE;
	if (sb_printf(&sql, "DECLARE %s NO SCROLL CURSOR%s FOR ", r->cursor, hold ? " WITH HOLD" : "") ||
	    sb_printf(&sql, export_sql[kind], cond)) {
		sb_free(&sql);
		free(r);
		return st_nomem(e->st);
	}
	int rc = pg_cmd(p, sb_str(&sql), "reading an export");
	sb_free(&sql);
	if (rc) {
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int pg_rows_next(struct engine_rows *r, const char *const **cols)
{
	char sql[64];
	int rc;
	while (!r->res || r->row >= PQntuples(r->res)) {
		if (r->done)
			return 0;
		PQclear(r->res);
		snprintf(sql, sizeof sql, "FETCH FORWARD %d FROM %s", CHUNK, r->cursor);
		r->res = pg_exec(r->p, sql, 0, NULL, "reading an export", &rc);
		if (!r->res)
			return -rc;
		r->row = 0;
		r->done = PQntuples(r->res) < CHUNK;
		r->ncols = PQnfields(r->res) < MAX_COLS ? PQnfields(r->res) : MAX_COLS;
	}
	for (int i = 0; i < r->ncols; i++)
		r->cols[i] = pg_text_or_null(r->res, r->row, i);
	r->row++;
	*cols = r->cols;
	return 1;
}

void pg_rows_close(struct engine_rows *r)
{
	if (!r)
		return;
	PQclear(r->res);
	pg_close_cursor(r->p, r->cursor);
	free(r);
}
