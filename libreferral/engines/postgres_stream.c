/*
 * postgres_stream.c — the orders, refunds and shares booked in a period, in
 * (at, seq) order, as settlement reads them: a server-side cursor over the
 * index events_stream, fetched CHUNK rows at a time. The cursor belongs to
 * the settlement's transaction, and the connection is free between two
 * fetches, so settlement calls the engine's other operations while the
 * stream is open; memory stays at one chunk whatever the period holds. The
 * rows are those with seq <= the limit: the log is append-only, so what
 * the stream yields is fixed. The orders of a chunk's refunds are read
 * with it, one query, and kept for get() (pg_stream_order).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

#define CHUNK 4096

/* The order of a refund of the chunk: its seq and its row in orders_res
 * (pg_stream_order()). */
struct chunk_order {
	int64_t seq;
	int row;
};

struct ev_stream {
	struct pg_engine *p;
	char cursor[32];
	int done;
	struct stream_row rows[CHUNK];
	PGresult *orders_res;            /* the orders of the chunk's refunds */
	struct chunk_order orders[CHUNK]; /* their rows in it, by seq */
	int norders;
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
	else
		p->stream = s;
	return rc;
}

static int order_cmp(const void *x, const void *y)
{
	const struct chunk_order *a = x, *b = y;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int pg_stream_order(struct pg_engine *p, int64_t seq, struct ev_row *out)
{
	struct ev_stream *s = p->stream;
	if (!s || !s->norders)
		return 0;
	struct chunk_order key = {seq, 0};
	const struct chunk_order *hit = bsearch(&key, s->orders, (size_t)s->norders, sizeof key,
						order_cmp);
	if (!hit)
		return 0;
	pg_event_row(s->orders_res, hit->row, out);
	return 1;
}

/* The orders of the chunk's refunds, which settlement reads next (get()):
 * one query a chunk, not a round trip a refund. */
static int fetch_orders(struct ev_stream *s, int got)
{
	struct strbuf seqs = {0};
	int rc = 0, n = 0;
	for (int i = 0; i < got && !rc; i++)
		if (s->rows[i].type == REFERRAL_EV_REFUND)
			rc = sb_printf(&seqs, "%c%lld", n++ ? ',' : '{', (long long)s->rows[i].ref1);
	if (rc || (n && sb_putc(&seqs, '}'))) {
		sb_free(&seqs);
		return st_nomem(s->p->base.st);
	}
	if (!n)
		return 0;
	const char *vals[1] = {sb_str(&seqs)};
	s->orders_res = pg_exec(s->p, "SELECT seq, at, booked, ref1, ref2, num, txt1, txt2, type, id"
				      " FROM events WHERE seq = ANY($1::bigint[])",
				1, vals, "reading the period's events", &rc);
	sb_free(&seqs);
	if (!s->orders_res)
		return rc;
	s->norders = PQntuples(s->orders_res);
	for (int i = 0; i < s->norders; i++)
		s->orders[i] = (struct chunk_order){pg_int(s->orders_res, i, 0), i};
	qsort(s->orders, (size_t)s->norders, sizeof *s->orders, order_cmp);
	return 0;
}

int pg_stream_next(struct ev_stream *s, const struct stream_row **rows, int *n)
{
	char sql[64];
	int rc;
	*n = 0;
	PQclear(s->orders_res); /* the orders of the rows handed out last */
	s->orders_res = NULL;
	s->norders = 0;
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
	if ((rc = fetch_orders(s, got)))
		return rc;
	s->done = got < CHUNK;
	*rows = s->rows;
	*n = got;
	return 0;
}

void pg_stream_close(struct ev_stream *s)
{
	if (!s)
		return;
	if (s->p->stream == s)
		s->p->stream = NULL;
	PQclear(s->orders_res);
	if (s->cursor[0])
		pg_close_cursor(s->p, s->cursor);
	free(s);
}
