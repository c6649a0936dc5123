/*
 * postgres_stream.c — the orders, refunds and shares booked in a period, in
 * (at, seq) order, as settlement reads them: a server-side cursor over the
 * index events_stream, fetched CHUNK rows at a time. The cursor belongs to
 * the settlement's transaction, and the connection is free between two
 * fetches, so settlement calls the engine's other operations while the
 * stream is open; memory stays at one chunk whatever the period holds. The
 * rows are those with seq <= the limit: the log is append-only, so what
 * the stream yields is fixed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

#define CHUNK 4096

struct ev_stream {
	struct pg_engine *p;
	char cursor[32];
	int done;
	struct stream_row rows[CHUNK];
};

int pg_stream_count(struct engine *e, int period, int64_t limit, long long *out)
{
	struct pg_ints iv;
	int rc;
	PGresult *res = pg_exec(pg(e), "SELECT count(*) FROM events WHERE booked = $1 AND seq <= $2"
				       " AND type IN (9, 10, 11)",
				2, PG_INTS(iv, period, limit), "counting the period's events", &rc);
	if (res)
		*out = (long long)pg_int(res, 0, 0);
	PQclear(res);
	return rc;
}

int pg_stream_open(struct engine *e, int period, int64_t limit, struct ev_stream **out)
{
	struct pg_engine *p = pg(e);
	char sql[400];
	struct ev_stream *s = calloc(1, sizeof *s);
	*out = s;
	if (!s)
		return st_nomem(e->st);
	s->p = p;
	pg_cursor_name(p, s->cursor);
	/* outside a transaction a cursor must outlive the statement */
	int hold = PQtransactionStatus(p->conn) == PQTRANS_IDLE;
	snprintf(sql, sizeof sql,
		 "DECLARE %s NO SCROLL CURSOR%s FOR SELECT seq, type, at, ref1, num, txt1 FROM events"
		 " WHERE booked = %d AND seq <= %lld AND type IN (9, 10, 11) ORDER BY at, seq",
		 s->cursor, hold ? " WITH HOLD" : "", period, (long long)limit);
	int rc = pg_cmd(p, sql, "reading the period's events");
	if (rc)
		s->cursor[0] = 0;
	return rc;
}

int pg_stream_next(struct ev_stream *s, const struct stream_row **rows, int *n)
{
	char sql[64];
	int rc;
	*n = 0;
	if (s->done)
		return 0;
	snprintf(sql, sizeof sql, "FETCH FORWARD %d FROM %s", CHUNK, s->cursor);
	PGresult *res = pg_exec(s->p, sql, 0, NULL, "reading the period's events", &rc);
	if (!res)
		return rc;
	int got = PQntuples(res);
	for (int i = 0; i < got; i++) {
		struct stream_row *r = &s->rows[i];
		r->seq = pg_int(res, i, 0);
		r->type = (int)pg_int(res, i, 1);
		r->at = pg_int(res, i, 2);
		r->ref1 = pg_int(res, i, 3);
		r->amount = 0;
		r->by_dist = 0;
		if (r->type == REFERRAL_EV_SHARE) {
			r->by_dist = pg_text(res, i, 5)[0] == 'd';
		} else if (fen_parse(pg_text(res, i, 4), &r->amount)) {
			PQclear(res);
			return st_fail(s->p->base.st, REFERRAL_EIO,
				       "storage: the amount of event %lld is not money", (long long)r->seq);
		}
	}
	PQclear(res);
	s->done = got < CHUNK;
	*rows = s->rows;
	*n = got;
	return 0;
}

void pg_stream_close(struct ev_stream *s)
{
	if (!s)
		return;
	if (s->cursor[0])
		pg_close_cursor(s->p, s->cursor);
	free(s);
}
