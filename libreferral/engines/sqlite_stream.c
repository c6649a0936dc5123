/*
 * sqlite_stream.c — the orders, refunds and shares booked in a period, in
 * (at, seq) order, as settlement reads them, a batch at a time.
 *
 * Where it can, the stream is read by a thread of its own on a second,
 * read-only connection to the store, up to 131,072 rows ahead of the
 * settlement that consumes them: SQLite's share of the pass then runs on
 * the other core. The rows are those with seq <= the limit, which fixes
 * what both connections see: the log is append-only. When a second
 * connection or a thread cannot be had (an in-memory store, no threads
 * left), the caller's connection reads the rows itself, with the same
 * result.
 */
#include "sqlite.h"

#define STREAM_BATCH 256

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Batches the reader may be ahead by: 131,072 rows, 8 MiB. Settlement opens
 * the stream before it loads the network (about 0.15 s for two million
 * bindings), and a ring this deep lets the reader use that time. */
#define RING 512

/* The query of the stream, with the condition of its index as the store
 * has it (sqlite.h). */
static const char *const stream_sql[2] = {
	"SELECT seq, type, at, ref1, num, txt1 FROM events"
	" WHERE booked = ?1 AND seq <= ?2 AND " STREAM_COND " ORDER BY at, seq",
	"SELECT seq, type, at, ref1, num, txt1 FROM events"
	" WHERE booked = ?1 AND seq <= ?2 AND " STREAM_COND_V3 " ORDER BY at, seq",
};

struct batch {
	struct stream_row rows[STREAM_BATCH];
	int n;
};

struct ev_stream {
	struct sqlite_engine *eng;
	sqlite3_stmt *q;       /* on the reader's connection, or the caller's */
	sqlite3 *db;           /* the reader's connection, or NULL */
	int threaded;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch *ring;    /* RING batches, or one when not threaded */
	int head, count;       /* the next batch to settle; batches ready */
	int done, stop;        /* the reader reached the end; the consumer quits */
	int failed;            /* the reader failed: why is in msg */
	int code;              /* and SQLite's code, when it was SQLite's failure */
	int handed;            /* a batch of the ring is with the consumer */
	char msg[300];
};

/* Reads one row; 0, or -1 if its amount is not money (msg set). */
static int read_row(struct ev_stream *s, struct stream_row *r)
{
	sqlite3_stmt *q = s->q;
	r->seq = sqlite3_column_int64(q, 0);
	r->type = sqlite3_column_int(q, 1);
	r->at = sqlite3_column_int64(q, 2);
	r->ref1 = sqlite3_column_int64(q, 3);
	r->amount = 0;
	r->by_dist = 0;
	if (r->type == REFERRAL_EV_SHARE) {
		const char *by = (const char *)sqlite3_column_text(q, 5);
		r->by_dist = by && by[0] == 'd';
	} else if (fen_parse((const char *)sqlite3_column_text(q, 4), &r->amount)) {
		snprintf(s->msg, sizeof s->msg, "storage: the amount of event %lld is not money",
			 (long long)r->seq);
		return -1;
	}
	return 0;
}

/* Fills batch b from the statement: 1 at the end, 0 if more may come, -1
 * on failure (msg set). */
static int fill(struct ev_stream *s, struct batch *b)
{
	int step = SQLITE_DONE;
	b->n = 0;
	while (b->n < STREAM_BATCH && (step = sqlite3_step(s->q)) == SQLITE_ROW)
		if (read_row(s, &b->rows[b->n++]))
			return -1;
	if (step == SQLITE_ROW)
		return 0;
	if (step == SQLITE_DONE)
		return 1;
	s->code = sqlite3_errcode(s->db ? s->db : s->eng->db);
	snprintf(s->msg, sizeof s->msg, "%s", sqlite3_errmsg(s->db ? s->db : s->eng->db));
	return -1;
}

static void *reader(void *arg)
{
	struct ev_stream *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (s->count == RING && !s->stop)
			pthread_cond_wait(&s->cv, &s->mu);
		int slot = (s->head + s->count) % RING, stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			return NULL;
		/* the slot is outside the ready ones: the consumer does not read it */
		int end = fill(s, &s->ring[slot]);
		pthread_mutex_lock(&s->mu);
		if (end < 0)
			s->failed = 1;
		else
			s->count++;
		if (end)
			s->done = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		if (end)
			return NULL;
	}
}

static int prepare(struct ev_stream *s, sqlite3 *db, int period, int64_t limit)
{
	if (sqlite3_prepare_v2(db, stream_sql[s->eng->version < 4], -1, &s->q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(s->q, 1, period);
	sqlite3_bind_int64(s->q, 2, limit);
	return 0;
}

/* The failure of a fill(): SQLite's, or one of a row (msg). */
static int stream_failed(struct ev_stream *s)
{
	if (s->code)
		return sq_fail_code(s->eng, s->code, "reading the period's events", s->msg);
	return st_fail(s->eng->base.st, REFERRAL_EIO, "%s", s->msg);
}

/* Starts the reader on a connection of its own: 0, or -1 when it cannot
 * be had (the caller then reads on its own connection). */
static int start_reader(struct ev_stream *s, int period, int64_t limit)
{
	const char *path = sqlite3_db_filename(s->eng->db, "main");
	/* an immutable store is read only through the URI it was opened by */
	if (!stream_use_thread || !path || !*path || s->eng->immutable)
		return -1;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
		    SQLITE_OK ||
	    sqlite3_exec(s->db, "PRAGMA mmap_size=17179869184; PRAGMA cache_size=-65536", NULL, NULL,
			 NULL) != SQLITE_OK ||
	    prepare(s, s->db, period, limit) || !(s->ring = malloc(RING * sizeof *s->ring)))
		goto fail;
	sqlite3_busy_timeout(s->db, 5000);
	if (pthread_mutex_init(&s->mu, NULL))
		goto fail;
	if (pthread_cond_init(&s->cv, NULL)) {
		pthread_mutex_destroy(&s->mu);
		goto fail;
	}
	if (pthread_create(&s->thread, NULL, reader, s)) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		goto fail;
	}
	s->threaded = 1;
	return 0;
fail:
	sqlite3_finalize(s->q);
	s->q = NULL;
	sqlite3_close(s->db);
	s->db = NULL;
	free(s->ring);
	s->ring = NULL;
	return -1;
}

int sq_stream_count(struct engine *e, int period, int64_t limit, long long *out)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, q->version < 4 ? "SELECT count(*) FROM events WHERE booked = ?1"
						" AND seq <= ?2 AND " STREAM_COND_V3
					      : "SELECT count(*) FROM events WHERE booked = ?1"
						" AND seq <= ?2 AND " STREAM_COND, &s);
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, period);
	sqlite3_bind_int64(s, 2, limit);
	if (sqlite3_step(s) == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else
		rc = sq_fail(q, "counting the period's events");
	sqlite3_finalize(s);
	return rc;
}

int sq_stream_open(struct engine *e, int period, int64_t limit, struct ev_stream **out)
{
	struct ev_stream *s = calloc(1, sizeof *s);
	*out = s;
	if (!s)
		return st_nomem(e->st);
	s->eng = sq(e);
	if (!start_reader(s, period, limit))
		return 0;
	if (!(s->ring = malloc(sizeof *s->ring)))
		return st_nomem(e->st);
	if (prepare(s, s->eng->db, period, limit))
		return sq_fail(s->eng, "preparing the period's events");
	return 0;
}

int sq_stream_next(struct ev_stream *s, const struct stream_row **rows, int *n)
{
	*n = 0;
	if (!s->threaded) {
		if (s->done)
			return 0;
		int end = fill(s, s->ring);
		if (end < 0)
			return stream_failed(s);
		s->done = end;
		*rows = s->ring->rows;
		*n = s->ring->n;
	} else {
		pthread_mutex_lock(&s->mu);
		if (s->handed) { /* the batch handed out last time is settled */
			s->head = (s->head + 1) % RING;
			s->count--;
			pthread_cond_broadcast(&s->cv);
		}
		while (!s->count && !s->done && !s->failed)
			pthread_cond_wait(&s->cv, &s->mu);
		int failed = s->failed, slot = s->head, ready = s->count;
		pthread_mutex_unlock(&s->mu);
		if (failed)
			return stream_failed(s);
		if (!ready)
			return 0; /* done */
		*rows = s->ring[slot].rows;
		*n = s->ring[slot].n;
		s->handed = 1;
	}
	return 0;
}

void sq_stream_close(struct ev_stream *s)
{
	if (!s)
		return;
	if (s->threaded) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
	}
	sqlite3_finalize(s->q);
	sqlite3_close(s->db);
	free(s->ring);
	free(s);
}
