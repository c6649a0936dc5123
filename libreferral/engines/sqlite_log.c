/*
 * sqlite_log.c — the SQLite engine's event log: appending a batch's events,
 * and the lookups ingest makes against it (points: sqlite_points.c).
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"

/* A text column, NULL for SQL NULL. */
static const char *text_or_null(sqlite3_stmt *s, int col)
{
	return sqlite3_column_type(s, col) == SQLITE_NULL ? NULL
							   : (const char *)sqlite3_column_text(s, col);
}

int sq_event_row(struct sqlite_engine *q, sqlite3_stmt *s, int first, struct ev_row *out)
{
	const char *texts[4] = {text_or_null(s, first + 5), text_or_null(s, first + 6),
				text_or_null(s, first + 7), text_or_null(s, first + 9)};
	size_t at[4];
	struct strbuf *b = &q->row_text;
	sb_reset(b);
	for (int i = 0; i < 4; i++) {
		at[i] = b->len;
		if (texts[i] && sb_append(b, texts[i], strlen(texts[i]) + 1))
			return st_nomem(q->base.st);
	}
	out->seq = sqlite3_column_int64(s, first);
	out->at = sqlite3_column_int64(s, first + 1);
	out->booked = sqlite3_column_int(s, first + 2);
	out->ref1 = sqlite3_column_int64(s, first + 3); /* NULL reads as 0: none */
	out->ref2 = sqlite3_column_int64(s, first + 4);
	out->type = sqlite3_column_int(s, first + 8);
	out->num = texts[0] ? b->data + at[0] : NULL;
	out->txt1 = texts[1] ? b->data + at[1] : NULL;
	out->txt2 = texts[2] ? b->data + at[2] : NULL;
	out->id = texts[3] ? b->data + at[3] : "";
	out->idlen = strlen(out->id);
	return 0;
}

/* Steps a prepared lookup once: 1 with its row, 0 if none. */
static int one_row(struct sqlite_engine *q, sqlite3_stmt *s, struct ev_row *out, const char *what)
{
	int step = sqlite3_step(s), rc = 0;
	if (step == SQLITE_ROW)
		rc = sq_event_row(q, s, 0, out) ? -REFERRAL_EIO : 1;
	else if (step != SQLITE_DONE)
		rc = -sq_fail(q, what);
	sqlite3_reset(s);
	return rc;
}

int sq_find(struct engine *e, int type, const char *id, size_t n, struct ev_row *out)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s = q->q[SQ_FIND];
	sqlite3_bind_int(s, 1, type);
	sqlite3_bind_text(s, 2, id, (int)n, SQLITE_STATIC);
	return one_row(q, s, out, "looking up an id");
}

int sq_get(struct engine *e, int64_t seq, struct ev_row *out)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s = q->q[SQ_GET];
	sqlite3_bind_int64(s, 1, seq);
	return one_row(q, s, out, "reading an event");
}

static void bind_ref(sqlite3_stmt *s, int col, int64_t ref)
{
	if (ref)
		sqlite3_bind_int64(s, col, ref);
	else
		sqlite3_bind_null(s, col);
}

static void bind_text(sqlite3_stmt *s, int col, const char *t)
{
	if (t)
		sqlite3_bind_text(s, col, t, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, col);
}

int sq_append(struct engine *e, const struct ev_row *rows, size_t n)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s = q->q[SQ_INSERT];
	for (size_t i = 0; i < n; i++) {
		const struct ev_row *r = &rows[i];
		sqlite3_bind_int64(s, 1, r->seq);
		sqlite3_bind_int(s, 2, r->type);
		sqlite3_bind_text(s, 3, r->id, (int)r->idlen, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, r->at);
		sqlite3_bind_int(s, 5, r->booked);
		bind_ref(s, 6, r->ref1);
		bind_ref(s, 7, r->ref2);
		bind_text(s, 8, r->num);
		bind_text(s, 9, r->txt1);
		bind_text(s, 10, r->txt2);
		int step = sqlite3_step(s);
		sqlite3_reset(s);
		if (step == SQLITE_CONSTRAINT)
			return ENGINE_EXISTS;
		if (step != SQLITE_DONE)
			return sq_fail(q, "appending an event");
	}
	return 0;
}

int sq_count_type(struct engine *e, int type, long *out)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "SELECT count(*) FROM events WHERE type = ?1", &s);
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, type);
	if (sqlite3_step(s) == SQLITE_ROW)
		*out = (long)sqlite3_column_int64(s, 0);
	else
		rc = sq_fail(q, "counting ids");
	sqlite3_finalize(s);
	return rc;
}

int sq_ids(struct engine *e, int type, int64_t after,
	   int (*cb)(void *ctx, const char *id, size_t n, int64_t seq, int64_t at), void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	/* after a seq: the end of the log, read by seq (the unary + keeps the
	 * key index out of it) */
	int rc = sq_prepare(q, after ? "SELECT id, seq, at FROM events WHERE seq > ?2 AND +type = ?1"
				     : "SELECT id, seq, at FROM events WHERE type = ?1 AND ?2 = 0",
			    &s),
	    step;
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, type);
	sqlite3_bind_int64(s, 2, after);
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		rc = id ? cb(ctx, id, (size_t)sqlite3_column_bytes(s, 0), sqlite3_column_int64(s, 1),
			     sqlite3_column_int64(s, 2))
			: st_nomem(e->st);
	}
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "loading ids");
	sqlite3_finalize(s);
	return rc;
}

/* The first row of SQ_BY_REF for (ref1, type): 1 with its instant, 0 if none. */
static int first_by_ref(struct sqlite_engine *q, int64_t ref1, int type, int64_t *at,
			const char *what)
{
	sqlite3_stmt *s = q->q[SQ_BY_REF];
	sqlite3_bind_int64(s, 1, ref1);
	sqlite3_bind_int(s, 2, type);
	int step = sqlite3_step(s), rc = 0;
	if (step == SQLITE_ROW) {
		if (at)
			*at = sqlite3_column_int64(s, 1);
		rc = 1;
	} else if (step != SQLITE_DONE) {
		rc = -sq_fail(q, what);
	}
	sqlite3_reset(s);
	return rc;
}

int sq_termination(struct engine *e, int64_t dist, int64_t *at)
{
	return first_by_ref(sq(e), dist, REFERRAL_EV_TERMINATE, at, "looking up a termination");
}

int sq_has_sharer(struct engine *e, int64_t member)
{
	return first_by_ref(sq(e), member, REFERRAL_EV_SHARE_BENEFITS, NULL, "reading sharers");
}

int sq_bindings(struct engine *e, int64_t member,
		int (*cb)(void *ctx, int64_t at, int months, int64_t dist), void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s = q->q[SQ_BINDINGS];
	int rc = 0, step;
	sqlite3_bind_int64(s, 1, member);
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
		rc = cb(ctx, sqlite3_column_int64(s, 0), sqlite3_column_int(s, 1),
			sqlite3_column_int64(s, 2));
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading bindings");
	sqlite3_reset(s);
	return rc;
}

int sq_last_binding(struct engine *e, int64_t dist, int64_t *at)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s = q->q[SQ_LAST_BINDING];
	sqlite3_bind_int64(s, 1, dist);
	int step = sqlite3_step(s), rc = 0;
	if (step == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		*at = sqlite3_column_int64(s, 0);
		rc = 1;
	} else if (step != SQLITE_ROW) {
		rc = -sq_fail(q, "reading bindings");
	}
	sqlite3_reset(s);
	return rc;
}

int sq_refunds(struct engine *e, int64_t order, int (*cb)(void *ctx, const char *amount), void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s = q->q[SQ_BY_REF];
	int rc = 0, step;
	sqlite3_bind_int64(s, 1, order);
	sqlite3_bind_int(s, 2, REFERRAL_EV_REFUND);
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *amount = (const char *)sqlite3_column_text(s, 4);
		rc = amount ? cb(ctx, amount) : st_nomem(e->st);
	}
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading refunds");
	sqlite3_reset(s);
	return rc;
}

int sq_sharers(struct engine *e, int64_t from,
	       int (*cb)(void *ctx, int64_t to, int64_t from, int64_t at), void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, from > 0 ? "SELECT ref1, ref2, at FROM events WHERE ref2 = ?1 AND type = 8"
					: "SELECT ref1, ref2, at FROM events WHERE type = 8",
			    &s), step;
	if (rc)
		return rc;
	if (from > 0)
		sqlite3_bind_int64(s, 1, from);
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
		rc = cb(ctx, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
			sqlite3_column_int64(s, 2));
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading sharers");
	sqlite3_finalize(s);
	return rc;
}

int sq_events(struct engine *e, int type, ev_cb cb, void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "SELECT seq, at, booked, ref1, ref2, num, txt1, txt2, type, id"
			       " FROM events WHERE type = ?1 ORDER BY seq", &s), step;
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, type);
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct ev_row r;
		if (!(rc = sq_event_row(q, s, 0, &r)))
			rc = cb(ctx, &r);
	}
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading events");
	sqlite3_finalize(s);
	return rc;
}

/* The SQLite engine answers each lookup at once: nothing to fetch ahead. */
int sq_prefetch(struct engine *e, const struct prefetch *want)
{
	(void)e;
	(void)want;
	return 0;
}
