/*
 * postgres_stream.c — the orders, refunds and shares booked in a period, in
 * (at, seq) order, as settlement reads them: a server-side cursor over the
 * index events_stream, fetched CHUNK rows at a time. The cursor belongs to
 * the settlement's transaction; memory stays at one chunk (and the one in
 * flight) whatever the period holds. The rows are those with seq <= the
 * limit: the log is append-only, so what the stream yields is fixed. Each
 * refund's row carries its order (a lateral join on the key), kept for
 * get() (pg_stream_order), so that a chunk costs one query.
 *
 * The next chunk is asked for as soon as one is handed out, and settlement
 * works on the rows while the server reads the next ones. The connection
 * is busy meanwhile: every other statement of the engine first collects
 * the fetch in flight (pg_idle), so settlement may still call the
 * engine's other operations while the stream is open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

#define CHUNK 4096

/* The order of a refund of the chunk: its seq and its row in res
 * (pg_stream_order()). */
struct chunk_order {
	int64_t seq;
	int row;
};

struct ev_stream {
	struct pg_engine *p;
	char cursor[32];
	int done;
	int inflight;                    /* a FETCH was sent, its result not read */
	PGresult *next;                  /* its result, once collected */
	struct stream_row rows[CHUNK];
	PGresult *res;                   /* the chunk handed out, with its refunds' orders */
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

/* The row's columns, then its order's when it is a refund (from ORDER_COL) */
#define ORDER_COL 6

int pg_stream_open(struct engine *e, int period, int64_t limit, struct ev_stream **out)
{
	struct pg_engine *p = pg(e);
	char sql[800];
	struct ev_stream *s = calloc(1, sizeof *s);
	*out = s;
	if (!s)
		return st_nomem(e->st);
	s->p = p;
	pg_cursor_name(p, s->cursor);
	/* outside a transaction a cursor must outlive the statement */
	int hold = PQtransactionStatus(p->conn) == PQTRANS_IDLE;
	snprintf(sql, sizeof sql,
		 "DECLARE %s NO SCROLL CURSOR%s FOR SELECT e.seq, e.type, e.at, e.ref1, e.num, e.txt1,"
		 " o.seq, o.at, o.booked, o.ref1, o.ref2, o.num, o.txt1, o.txt2, o.type, o.id"
		 " FROM events e LEFT JOIN LATERAL (SELECT * FROM events o WHERE o.seq = e.ref1"
		 " AND e.type = 10 OFFSET 0) o ON true"
		 " WHERE e.booked = %d AND e.seq <= %lld AND e.type IN (9, 10, 11)"
		 " ORDER BY e.at, e.seq",
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
	pg_event_row_at(s->res, hit->row, ORDER_COL, out);
	return 1;
}

/* Asks for the next chunk, without waiting for it. */
static int send_fetch(struct ev_stream *s)
{
	char sql[64];
	int rc = pg_idle(s->p);
	if (rc)
		return rc;
	snprintf(sql, sizeof sql, "FETCH FORWARD %d FROM %s", CHUNK, s->cursor);
	s->p->sql = "FETCH";
	if (!PQsendQueryParams(s->p->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
		return pg_fail(s->p, NULL, "reading the period's events");
	s->inflight = 1;
	return 0;
}

void pg_stream_collect(struct pg_engine *p)
{
	struct ev_stream *s = p->stream;
	PGresult *res;
	if (!s || !s->inflight)
		return;
	s->inflight = 0;
	while ((res = PQgetResult(p->conn))) {
		if (s->next)
			PQclear(res); /* a FETCH has one result: anything more is noise */
		else
			s->next = res;
	}
}

int pg_stream_next(struct ev_stream *s, const struct stream_row **rows, int *n)
{
	*n = 0;
	PQclear(s->res); /* the rows handed out last, and their orders */
	s->res = NULL;
	s->norders = 0;
	if (s->done)
		return 0;
	int rc = !s->inflight && !s->next ? send_fetch(s) : 0;
	if (rc)
		return rc;
	pg_stream_collect(s->p);
	PGresult *res = s->next;
	s->next = NULL;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(s->p, res, "reading the period's events");
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
		if (r->type == REFERRAL_EV_REFUND && !PQgetisnull(res, i, ORDER_COL))
			s->orders[s->norders++] = (struct chunk_order){pg_int(res, i, ORDER_COL), i};
	}
	qsort(s->orders, (size_t)s->norders, sizeof *s->orders, order_cmp);
	s->res = res;
	s->done = got < CHUNK;
	if (!s->done && (rc = send_fetch(s)))
		return rc;
	*rows = s->rows;
	*n = got;
	return 0;
}

void pg_stream_close(struct ev_stream *s)
{
	if (!s)
		return;
	pg_stream_collect(s->p);
	if (s->p->stream == s)
		s->p->stream = NULL;
	PQclear(s->next);
	PQclear(s->res);
	if (s->cursor[0])
		pg_close_cursor(s->p, s->cursor);
	free(s);
}
