/*
 * sqlite_settle.c — what settlement and grading read from and write to a
 * SQLite store: the network, the frozen grades and carries, statements and
 * grades, store ratings, and the network caches.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"

int sq_network_count(struct engine *e, int64_t after, int64_t limit, size_t *dists,
		     size_t *bindings)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	/* each count is a range of the partial index events_network (type,
	 * seq), whose condition is repeated so that the planner sees it: one
	 * type each, so that the range of seqs is used too */
	int rc = sq_prepare(q, "SELECT (SELECT count(*) FROM events WHERE type BETWEEN 2 AND 7"
			       " AND type = 3 AND seq <= ?2), (SELECT count(*) FROM events"
			       " WHERE type BETWEEN 2 AND 7 AND type = 6 AND seq > ?1 AND seq <= ?2)"
			       " + (SELECT count(*) FROM events WHERE type BETWEEN 2 AND 7"
			       " AND type = 7 AND seq > ?1 AND seq <= ?2)",
			    &s);
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, limit);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*dists = (size_t)sqlite3_column_int64(s, 0);
		*bindings = (size_t)sqlite3_column_int64(s, 1);
	} else {
		rc = sq_fail(q, "counting the network");
	}
	sqlite3_finalize(s);
	return rc;
}

int sq_network_events(struct engine *e, int type, int64_t after, int64_t limit, ev_cb cb,
		      void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "SELECT seq, at, booked, ref1, ref2, num FROM events"
			       " WHERE type BETWEEN 2 AND 7 AND type = ?1 AND seq > ?2"
			       " AND seq <= ?3 ORDER BY seq", &s), step;
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, type);
	sqlite3_bind_int64(s, 2, after);
	sqlite3_bind_int64(s, 3, limit);
	struct ev_row r = {.type = type, .id = "", .idlen = 0};
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
		r.seq = sqlite3_column_int64(s, 0);
		r.at = sqlite3_column_int64(s, 1);
		r.booked = sqlite3_column_int(s, 2);
		r.ref1 = sqlite3_column_int64(s, 3);
		r.ref2 = sqlite3_column_int64(s, 4);
		r.num = (const char *)sqlite3_column_text(s, 5);
		rc = cb(ctx, &r);
	}
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading the network");
	sqlite3_finalize(s);
	return rc;
}

int sq_next_grades(struct engine *e, int period, int (*cb)(void *ctx, int64_t dist, int next_grade),
		   void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "SELECT dist, next_grade FROM grades WHERE period = ?1", &s), step;
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, period);
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
		rc = cb(ctx, sqlite3_column_int64(s, 0), sqlite3_column_int(s, 1));
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading grades");
	sqlite3_finalize(s);
	return rc;
}

int sq_carries(struct engine *e, int period, int (*cb)(void *ctx, int64_t dist, const char *carry),
	       void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "SELECT dist, closing_carry FROM statements"
			       " WHERE period = ?1 AND closing_carry <> '0.00' ORDER BY dist", &s), step;
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, period);
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 1);
		rc = t ? cb(ctx, sqlite3_column_int64(s, 0), t) : st_nomem(e->st);
	}
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading carries");
	sqlite3_finalize(s);
	return rc;
}

static const char *col_text(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	return t ? t : "";
}

int sq_statements(struct engine *e, int period, statement_cb cb, void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, period >= 0
			       ? "SELECT period, dist, store, grade, opening_carry, commission, bounty,"
				 " override, accrued, total, payable, closing_carry, members, sales,"
				 " shares, released, held FROM statements WHERE period = ?1 ORDER BY dist"
			       : "SELECT period, dist, store, grade, opening_carry, commission, bounty,"
				 " override, accrued, total, payable, closing_carry, members, sales,"
				 " shares, released, held FROM statements"
				 " WHERE period IN (SELECT period FROM closes)"
				 " ORDER BY period, dist",
			    &s), step;
	if (rc)
		return rc;
	if (period >= 0)
		sqlite3_bind_int(s, 1, period);
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct statement_row r = {
			.period = sqlite3_column_int(s, 0),
			.dist = sqlite3_column_int64(s, 1),
			.store = sqlite3_column_int64(s, 2),
			.grade = sqlite3_column_int(s, 3),
			.opening_carry = col_text(s, 4),
			.commission = col_text(s, 5),
			.bounty = col_text(s, 6),
			.override = col_text(s, 7),
			.accrued = col_text(s, 8),
			.total = col_text(s, 9),
			.payable = col_text(s, 10),
			.closing_carry = col_text(s, 11),
			.members = (long)sqlite3_column_int64(s, 12),
			.sales = col_text(s, 13),
			.shares = (long)sqlite3_column_int64(s, 14),
			.released = col_text(s, 15),
			.held = col_text(s, 16),
		};
		rc = cb(ctx, &r);
	}
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading statements");
	sqlite3_finalize(s);
	return rc;
}

int sq_grades(struct engine *e, int period, grade_cb cb, void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "SELECT period, dist, grade, members, sales, shares, store_rating,"
			       " next_grade FROM grades WHERE period = ?1 ORDER BY dist", &s), step;
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, period);
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct grade_row r = {
			.period = sqlite3_column_int(s, 0),
			.dist = sqlite3_column_int64(s, 1),
			.grade = sqlite3_column_int(s, 2),
			.members = (long)sqlite3_column_int64(s, 3),
			.sales = col_text(s, 4),
			.shares = (long)sqlite3_column_int64(s, 5),
			.store_rating = col_text(s, 6),
			.next_grade = sqlite3_column_int(s, 7),
		};
		rc = cb(ctx, &r);
	}
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading grades");
	sqlite3_finalize(s);
	return rc;
}

int sq_statement_figures(struct engine *e, int lo, int hi,
			 int (*cb)(void *ctx, int64_t dist, long members, const char *sales,
				   long shares), void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "SELECT dist, members, sales, shares FROM statements"
			       " WHERE period BETWEEN ?1 AND ?2", &s), step;
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, lo);
	sqlite3_bind_int(s, 2, hi);
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
		rc = cb(ctx, sqlite3_column_int64(s, 0), (long)sqlite3_column_int64(s, 1),
			col_text(s, 2), (long)sqlite3_column_int64(s, 3));
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading statements for grading");
	sqlite3_finalize(s);
	return rc;
}

int sq_ratings(struct engine *e, int64_t before, int64_t limit,
	       int (*cb)(void *ctx, int64_t store, const char *rating), void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	/* through the partial index events_network */
	int rc = sq_prepare(q, "SELECT ref1, num FROM events WHERE type BETWEEN 2 AND 7"
			       " AND type = 2 AND at < ?1 AND seq <= ?2 ORDER BY at, seq", &s), step;
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, before);
	sqlite3_bind_int64(s, 2, limit);
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
		rc = cb(ctx, sqlite3_column_int64(s, 0), col_text(s, 1));
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading store ratings");
	sqlite3_finalize(s);
	return rc;
}

int sq_put_statements(struct engine *e, const struct statement_row *rows, size_t n)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "INSERT INTO statements(period, dist, store, grade, opening_carry,"
			       " commission, bounty, override, accrued, total, payable, closing_carry,"
			       " members, sales, shares, released, held)"
			       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
			       " ?16, ?17)",
			    &s);
	for (size_t i = 0; i < n && !rc; i++) {
		const struct statement_row *r = &rows[i];
		const char *texts[8] = {r->opening_carry, r->commission, r->bounty, r->override,
					r->accrued, r->total, r->payable, r->closing_carry};
		sqlite3_bind_int(s, 1, r->period);
		sqlite3_bind_int64(s, 2, r->dist);
		sqlite3_bind_int64(s, 3, r->store);
		sqlite3_bind_int(s, 4, r->grade);
		for (int t = 0; t < 8; t++)
			sqlite3_bind_text(s, 5 + t, texts[t], -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 13, r->members);
		sqlite3_bind_text(s, 14, r->sales, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 15, r->shares);
		sqlite3_bind_text(s, 16, r->released, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 17, r->held, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = sq_fail(q, "writing a statement");
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	return rc;
}

int sq_put_grades(struct engine *e, const struct grade_row *rows, size_t n)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "INSERT INTO grades(period, dist, grade, members, sales, shares,"
			       " store_rating, next_grade) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &s);
	for (size_t i = 0; i < n && !rc; i++) {
		const struct grade_row *r = &rows[i];
		sqlite3_bind_int(s, 1, r->period);
		sqlite3_bind_int64(s, 2, r->dist);
		sqlite3_bind_int(s, 3, r->grade);
		sqlite3_bind_int64(s, 4, r->members);
		sqlite3_bind_text(s, 5, r->sales, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 6, r->shares);
		sqlite3_bind_text(s, 7, r->store_rating, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 8, r->next_grade);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = sq_fail(q, "writing a grade");
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	return rc;
}

int sq_cache_find(struct engine *e, int before, int64_t limit, int *period, int64_t *last_seq)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int rc = sq_prepare(q, "SELECT period, last_seq FROM networks WHERE period < ?1"
			       " AND last_seq <= ?2 ORDER BY period DESC LIMIT 1", &s);
	if (rc)
		return -rc;
	sqlite3_bind_int(s, 1, before);
	sqlite3_bind_int64(s, 2, limit);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*period = sqlite3_column_int(s, 0);
		*last_seq = sqlite3_column_int64(s, 1);
		rc = 1;
	} else if (step != SQLITE_DONE) {
		rc = -sq_fail(q, "reading the network cache");
	}
	sqlite3_finalize(s);
	return rc;
}

int sq_cache_prune(struct engine *e, int period)
{
	return sq_run(sq(e), "DELETE FROM networks WHERE period < ?1", period, 0,
		      "pruning the network cache");
}
