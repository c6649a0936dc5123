/*
 * sqlite_points.c — the SQLite engine's events of member points: every
 * order, refund, member share and redeem (the members export), or those of
 * one member and of the members she shares with (a redeem's check at
 * ingest).
 *
 * events_by_ref leaves out the orders and shares (sqlite.h, BY_REF), so a
 * member's orders and member shares are found through member_events, which
 * maps each member to the seqs of hers up to the seq in member_events_mark,
 * and through the log after that seq, read in seq order. A redeem's check
 * runs inside a batch, which writes: when the log has grown past the mark
 * by MEMBER_EVENTS_TAIL events or more, it first adds the newer orders and
 * member shares to member_events, sorted, and moves the mark. A store that
 * never redeems never fills it, and ingest of orders never touches it. The
 * table is a cache of the log, like the network cache: it holds nothing
 * the log does not say.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"

/* How far the log may run past member_events before a redeem's check adds
 * what is newer: the check reads that many events of the log at most. */
#define MEMBER_EVENTS_TAIL 4096

/* Rows: type, at, booked, member (ref1, or the order's member), num, txt1,
 * the order's member, instant and booking period (refunds). */
static const char points_all[] =
	"SELECT e.type, e.at, e.booked, e.ref1, e.num, e.txt1, o.ref1, o.at, o.booked"
	" FROM events e LEFT JOIN events o ON e.type = 10 AND o.seq = e.ref1"
	" WHERE e.type IN (9, 10, 11, 12)";

/* Her events and those of the members she shares with (?1), up to the
 * instant ?2: their orders and member shares, from member_events up to the
 * mark ?3 and from the log after it, their redeems, and the refunds of
 * their orders. The plan is fixed, whatever the planner knows of the
 * tables: the log after the mark is read by seq (the unary + keeps the
 * key index out of it), and CROSS JOIN keeps the order of the joins, so
 * that refunds are found by their order, not among all refunds. */
static const char points_of_member[] =
	"WITH mem(seq) AS (SELECT ?1 UNION SELECT ref1 FROM events WHERE ref2 = ?1 AND type = 8),"
	" own(seq) AS (SELECT x.seq FROM mem CROSS JOIN member_events x ON x.member = mem.seq"
	" UNION ALL SELECT e.seq FROM events e WHERE e.seq > ?3 AND +e.type IN (9, 11)"
	" AND e.ref1 IN (SELECT seq FROM mem)"
	" UNION ALL SELECT e.seq FROM mem CROSS JOIN events e ON e.ref1 = mem.seq AND e.type = 12"
	" AND " BY_REF("e.") ") "
	"SELECT e.type, e.at, e.booked, e.ref1, e.num, e.txt1, 0, 0, 0"
	" FROM own CROSS JOIN events e ON e.seq = own.seq WHERE e.at <= ?2"
	" UNION ALL "
	"SELECT r.type, r.at, r.booked, o.ref1, r.num, r.txt1, o.ref1, o.at, o.booked"
	" FROM own CROSS JOIN events o ON o.seq = own.seq AND o.type = 9"
	" CROSS JOIN events r ON r.ref1 = o.seq AND r.type = 10 AND " BY_REF("r.")
	" WHERE r.at <= ?2";

/* One integer from `sql` (no parameters) into *out: 0, or a status; no
 * row is the store's damage. */
static int one_int(struct sqlite_engine *q, const char *sql, int64_t *out, const char *what)
{
	sqlite3_stmt *s;
	int rc = sq_prepare(q, sql, &s), step;
	if (rc)
		return rc;
	if ((step = sqlite3_step(s)) == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else if (step == SQLITE_DONE)
		rc = st_fail(q->base.st, REFERRAL_EIO, "storage: %s: no row", what);
	else
		rc = sq_fail(q, what);
	sqlite3_finalize(s);
	return rc;
}

/* The mark of member_events into *mark, after adding the orders and member
 * shares the log holds past it when the transaction writes and they are
 * MEMBER_EVENTS_TAIL or more events. */
static int member_events_mark(struct sqlite_engine *q, int64_t *mark)
{
	int64_t last = 0;
	int rc = one_int(q, "SELECT last_seq FROM member_events_mark", mark,
			 "reading member_events_mark");
	if (rc || !q->writing)
		return rc;
	if ((rc = one_int(q, "SELECT coalesce(max(seq), 0) FROM events", &last, "reading the log")))
		return rc;
	if (last - *mark < MEMBER_EVENTS_TAIL)
		return 0;
	if ((rc = sq_run(q, "INSERT INTO member_events(member, seq) SELECT ref1, seq FROM events"
			    " WHERE seq > ?1 AND seq <= ?2 AND (type = 9 OR (type = 11 AND txt1 = 'member'))"
			    " ORDER BY ref1, seq", *mark, last, "adding to member_events")) ||
	    (rc = sq_run(q, "UPDATE member_events_mark SET last_seq = ?1", last, 0,
			 "adding to member_events")))
		return rc;
	*mark = last;
	return 0;
}

/* A row of member_events the log does not hold as an order or member
 * share of that member up to the mark, then an order or member share up
 * to the mark the table lacks, then a mark that is not one row. */
static const char member_events_check_sql[] =
	"SELECT x.member, x.seq FROM member_events x LEFT JOIN events e ON e.seq = x.seq"
	" WHERE e.seq IS NULL OR coalesce(e.ref1, 0) <> x.member"
	" OR NOT (e.type = 9 OR (e.type = 11 AND e.txt1 = 'member'))"
	" OR x.seq > (SELECT max(last_seq) FROM member_events_mark)"
	" UNION ALL SELECT e.ref1, e.seq FROM events e"
	" WHERE e.seq <= (SELECT max(last_seq) FROM member_events_mark)"
	" AND (e.type = 9 OR (e.type = 11 AND e.txt1 = 'member'))"
	" AND NOT EXISTS (SELECT 1 FROM member_events x WHERE x.member = e.ref1 AND x.seq = e.seq)"
	" UNION ALL SELECT 0, 0 WHERE (SELECT count(*) FROM member_events_mark) <> 1"
	" LIMIT 1";

int sq_member_events_check(struct engine *e, int64_t *member, int64_t *seq)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	if (q->version < 5)
		return 0;
	int rc = sq_prepare(q, member_events_check_sql, &s), step;
	if (rc)
		return -rc;
	if ((step = sqlite3_step(s)) == SQLITE_ROW) {
		*member = sqlite3_column_int64(s, 0);
		*seq = sqlite3_column_int64(s, 1);
		rc = 1;
	} else if (step != SQLITE_DONE) {
		rc = -sq_fail(q, "checking member_events");
	}
	sqlite3_finalize(s);
	return rc;
}

int sq_points_events(struct engine *e, int64_t member, int64_t at_max, points_cb cb, void *ctx)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	int64_t mark = 0;
	int rc, step;
	/* only a batch reads one member's points, and a store read without
	 * its migrations (sqlite.c) takes no batch */
	if (member > 0 && q->version < 5)
		return st_fail(e->st, REFERRAL_EIO, "store \"%s\": cannot check a redeem: the store"
			       " is read-only, at schema version %d", q->path, q->version);
	rc = member > 0 ? member_events_mark(q, &mark) : 0;
	if (rc || (rc = sq_prepare(q, member > 0 ? points_of_member : points_all, &s)))
		return rc;
	if (member > 0) {
		sqlite3_bind_int64(s, 1, member);
		sqlite3_bind_int64(s, 2, at_max);
		sqlite3_bind_int64(s, 3, mark);
	}
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *txt1 = (const char *)sqlite3_column_text(s, 5);
		struct points_row r = {
			.type = sqlite3_column_int(s, 0),
			.at = sqlite3_column_int64(s, 1),
			.booked = sqlite3_column_int(s, 2),
			.member = sqlite3_column_int64(s, 3),
			.num = (const char *)sqlite3_column_text(s, 4),
			.by_member = txt1 && !strcmp(txt1, "member"),
			.order_member = sqlite3_column_int64(s, 6),
			.order_at = sqlite3_column_int64(s, 7),
			.order_booked = sqlite3_column_int(s, 8),
		};
		rc = cb(ctx, &r);
	}
	if (!rc && step != SQLITE_DONE)
		rc = sq_fail(q, "reading points events");
	sqlite3_finalize(s);
	return rc;
}
