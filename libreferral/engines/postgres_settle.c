/*
 * postgres_settle.c — what settlement and grading read from and write to a
 * brand's store on PostgreSQL: the network, the frozen grades and carries,
 * statements and grades (written by COPY), store ratings, and the network
 * caches. Orders and texts as in the SQLite engine.
 */
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

int pg_network_count(struct engine *e, int64_t after, int64_t limit, size_t *dists,
		     size_t *bindings)
{
	struct pg_ints iv;
	int rc;
	PGresult *res = pg_exec(pg(e), "SELECT (SELECT count(*) FROM events WHERE type BETWEEN 2 AND 7"
				       " AND type = 3 AND seq <= $2), (SELECT count(*) FROM events"
				       " WHERE type BETWEEN 2 AND 7 AND type IN (6, 7) AND seq > $1"
				       " AND seq <= $2)",
				2, PG_INTS(iv, after, limit), "counting the network", &rc);
	if (res) {
		*dists = (size_t)pg_int(res, 0, 0);
		*bindings = (size_t)pg_int(res, 0, 1);
	}
	PQclear(res);
	return rc;
}

struct network_ctx {
	ev_cb cb;
	void *ctx;
	int type;
};

static int network_row(void *ctx, const PGresult *res, int i)
{
	struct network_ctx *c = ctx;
	struct ev_row r = {
		.type = c->type,
		.id = "",
		.seq = pg_int(res, i, 0),
		.at = pg_int(res, i, 1),
		.booked = (int)pg_int(res, i, 2),
		.ref1 = pg_int(res, i, 3),
		.ref2 = pg_int(res, i, 4),
		.num = pg_text_or_null(res, i, 5),
	};
	return c->cb(c->ctx, &r);
}

int pg_network_events(struct engine *e, int type, int64_t after, int64_t limit, ev_cb cb,
		      void *ctx)
{
	struct pg_ints iv;
	struct network_ctx c = {cb, ctx, type};
	/* (type, seq) compared as rows: only events_network can use that, and
	 * it finds the members after a cached network's seq at once; with
	 * type = $1 and seq > $2 the planner takes the primary key instead
	 * (members are early in the log, which its statistics do not show)
	 * and reads every event since */
	return pg_each(pg(e), "SELECT seq, at, booked, ref1, ref2, num FROM events"
			      " WHERE type BETWEEN 2 AND 7 AND (type, seq) > ($1, $2)"
			      " AND (type, seq) <= ($1, $3) ORDER BY type, seq",
		       3, PG_INTS(iv, type, after, limit), network_row, &c, "reading the network");
}

struct dist_int_ctx {
	int (*cb)(void *ctx, int64_t dist, int v);
	void *ctx;
};

static int dist_int_row(void *ctx, const PGresult *res, int i)
{
	struct dist_int_ctx *c = ctx;
	return c->cb(c->ctx, pg_int(res, i, 0), (int)pg_int(res, i, 1));
}

int pg_next_grades(struct engine *e, int period, int (*cb)(void *ctx, int64_t dist, int next_grade),
		   void *ctx)
{
	struct pg_ints iv;
	struct dist_int_ctx c = {cb, ctx};
	return pg_each(pg(e), "SELECT dist, next_grade FROM grades WHERE period = $1 ORDER BY dist", 1,
		       PG_INTS(iv, period), dist_int_row, &c, "reading grades");
}

struct dist_text_ctx {
	int (*cb)(void *ctx, int64_t dist, const char *t);
	void *ctx;
};

static int dist_text_row(void *ctx, const PGresult *res, int i)
{
	struct dist_text_ctx *c = ctx;
	return c->cb(c->ctx, pg_int(res, i, 0), pg_text(res, i, 1));
}

int pg_carries(struct engine *e, int period, int (*cb)(void *ctx, int64_t dist, const char *carry),
	       void *ctx)
{
	struct pg_ints iv;
	struct dist_text_ctx c = {cb, ctx};
	return pg_each(pg(e), "SELECT dist, closing_carry FROM statements"
			      " WHERE period = $1 AND closing_carry <> '0.00' ORDER BY dist",
		       1, PG_INTS(iv, period), dist_text_row, &c, "reading carries");
}

struct statement_ctx {
	statement_cb cb;
	void *ctx;
};

static int statement_row(void *ctx, const PGresult *res, int i)
{
	struct statement_ctx *c = ctx;
	struct statement_row r = {
		.period = (int)pg_int(res, i, 0),
		.dist = pg_int(res, i, 1),
		.store = pg_int(res, i, 2),
		.grade = (int)pg_int(res, i, 3),
		.opening_carry = pg_text(res, i, 4),
		.commission = pg_text(res, i, 5),
		.bounty = pg_text(res, i, 6),
		.override = pg_text(res, i, 7),
		.accrued = pg_text(res, i, 8),
		.total = pg_text(res, i, 9),
		.payable = pg_text(res, i, 10),
		.closing_carry = pg_text(res, i, 11),
		.members = (long)pg_int(res, i, 12),
		.sales = pg_text(res, i, 13),
		.shares = (long)pg_int(res, i, 14),
		.released = pg_text(res, i, 15),
		.held = pg_text(res, i, 16),
	};
	return c->cb(c->ctx, &r);
}

#define STATEMENT_COLS                                                                        \
	"period, dist, store, grade, opening_carry, commission, bounty, override, accrued, total," \
	" payable, closing_carry, members, sales, shares, released, held"

int pg_statements(struct engine *e, int period, statement_cb cb, void *ctx)
{
	struct pg_ints iv;
	struct statement_ctx c = {cb, ctx};
	return pg_each(pg(e), period >= 0
			       ? "SELECT " STATEMENT_COLS " FROM statements WHERE period = $1 ORDER BY dist"
			       : "SELECT " STATEMENT_COLS " FROM statements"
				 " WHERE period IN (SELECT period FROM closes) ORDER BY period, dist",
		       period >= 0 ? 1 : 0, PG_INTS(iv, period), statement_row, &c, "reading statements");
}

struct grade_ctx {
	grade_cb cb;
	void *ctx;
};

static int grade_row(void *ctx, const PGresult *res, int i)
{
	struct grade_ctx *c = ctx;
	struct grade_row r = {
		.period = (int)pg_int(res, i, 0),
		.dist = pg_int(res, i, 1),
		.grade = (int)pg_int(res, i, 2),
		.members = (long)pg_int(res, i, 3),
		.sales = pg_text(res, i, 4),
		.shares = (long)pg_int(res, i, 5),
		.store_rating = pg_text(res, i, 6),
		.next_grade = (int)pg_int(res, i, 7),
	};
	return c->cb(c->ctx, &r);
}

int pg_grades(struct engine *e, int period, grade_cb cb, void *ctx)
{
	struct pg_ints iv;
	struct grade_ctx c = {cb, ctx};
	return pg_each(pg(e), "SELECT period, dist, grade, members, sales, shares, store_rating,"
			      " next_grade FROM grades WHERE period = $1 ORDER BY dist",
		       1, PG_INTS(iv, period), grade_row, &c, "reading grades");
}

struct figures_ctx {
	int (*cb)(void *ctx, int64_t dist, long members, const char *sales, long shares);
	void *ctx;
};

static int figures_row(void *ctx, const PGresult *res, int i)
{
	struct figures_ctx *c = ctx;
	return c->cb(c->ctx, pg_int(res, i, 0), (long)pg_int(res, i, 1), pg_text(res, i, 2),
		     (long)pg_int(res, i, 3));
}

int pg_statement_figures(struct engine *e, int lo, int hi,
			 int (*cb)(void *ctx, int64_t dist, long members, const char *sales,
				   long shares), void *ctx)
{
	struct pg_ints iv;
	struct figures_ctx c = {cb, ctx};
	return pg_each(pg(e), "SELECT dist, members, sales, shares FROM statements"
			      " WHERE period BETWEEN $1 AND $2 ORDER BY period, dist",
		       2, PG_INTS(iv, lo, hi), figures_row, &c, "reading statements for grading");
}

int pg_ratings(struct engine *e, int64_t before, int64_t limit,
	       int (*cb)(void *ctx, int64_t store, const char *rating), void *ctx)
{
	struct pg_ints iv;
	struct dist_text_ctx c = {cb, ctx};
	return pg_each(pg(e), "SELECT ref1, num FROM events WHERE type BETWEEN 2 AND 7"
			      " AND type = 2 AND at < $1 AND seq <= $2 ORDER BY at, seq",
		       2, PG_INTS(iv, before, limit), dist_text_row, &c, "reading store ratings");
}

static int put_statement(void *ctx, size_t i, struct strbuf *line)
{
	const struct statement_row *r = (const struct statement_row *)ctx + i;
	const char *texts[8] = {r->opening_carry, r->commission, r->bounty, r->override,
				r->accrued, r->total, r->payable, r->closing_carry};
	int bad = pg_copy_int(line, r->period, '\t') || pg_copy_int(line, r->dist, '\t') ||
		  pg_copy_int(line, r->store, '\t') || pg_copy_int(line, r->grade, '\t');
	for (int t = 0; t < 8 && !bad; t++)
		bad = pg_copy_field(line, texts[t], '\t');
	return bad || pg_copy_int(line, r->members, '\t') || pg_copy_field(line, r->sales, '\t') ||
	       pg_copy_int(line, r->shares, '\t') || pg_copy_field(line, r->released, '\t') ||
	       pg_copy_field(line, r->held, '\n');
}

int pg_put_statements(struct engine *e, const struct statement_row *rows, size_t n)
{
	if (!n)
		return 0;
	return pg_copy_async(pg(e), "COPY statements(period, dist, store, grade, opening_carry,"
			      " commission, bounty, override, accrued, total, payable, closing_carry,"
			      " members, sales, shares, released, held) FROM STDIN",
		       n, put_statement, (void *)rows, "writing statements");
}

static int put_grade(void *ctx, size_t i, struct strbuf *line)
{
	const struct grade_row *r = (const struct grade_row *)ctx + i;
	return pg_copy_int(line, r->period, '\t') || pg_copy_int(line, r->dist, '\t') ||
	       pg_copy_int(line, r->grade, '\t') || pg_copy_int(line, r->members, '\t') ||
	       pg_copy_field(line, r->sales, '\t') || pg_copy_int(line, r->shares, '\t') ||
	       pg_copy_field(line, r->store_rating, '\t') || pg_copy_int(line, r->next_grade, '\n');
}

int pg_put_grades(struct engine *e, const struct grade_row *rows, size_t n)
{
	if (!n)
		return 0;
	return pg_copy_async(pg(e), "COPY grades(period, dist, grade, members, sales, shares,"
			      " store_rating, next_grade) FROM STDIN",
		       n, put_grade, (void *)rows, "writing grades");
}

int pg_cache_find(struct engine *e, int before, int64_t limit, int *period, int64_t *last_seq)
{
	struct pg_ints iv;
	int64_t p = 0;
	int found = pg_first_row(pg(e), "SELECT period, last_seq FROM networks WHERE part = 0"
					" AND period < $1 AND last_seq <= $2 ORDER BY period DESC LIMIT 1",
				 2, PG_INTS(iv, before, limit), "reading the network cache", &p, last_seq);
	if (found > 0)
		*period = (int)p;
	return found;
}

int pg_cache_prune(struct engine *e, int period)
{
	return pg_run(pg(e), "DELETE FROM networks WHERE period < $1", period, 0,
		      "pruning the network cache");
}
