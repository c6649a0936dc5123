/*
 * lifecycle.c — settle, close and verify (SPEC §11), and the library's
 * version and status names.
 *
 * settle P   computes the draft of the earliest open period, replacing the
 *            previous draft, in one transaction.
 * close P    settles P again from every event ingested so far, grades it,
 *            and records the close with the last event seq it saw, all in
 *            one transaction: a crash leaves P open or wholly closed. From
 *            then on triggers refuse any change to P's rows.
 * verify     re-derives each closed period into temporary tables from the
 *            events with seq <= the seq recorded at its close, compares them
 *            with the frozen rows (statements, grades, bounty snapshot),
 *            re-derives its lines one by one and checks that they add up to
 *            the statements, then checks conservation (SPEC §7).
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "decimal.h"
#include "idmap.h"
#include "timeutil.h"

const char *referral_version(void) { return REFERRAL_VERSION; }
int referral_version_number(void) { return REFERRAL_VERSION_NUMBER; }

const char *referral_status_name(int status)
{
	switch (status) {
	case REFERRAL_OK: return "ok";
	case REFERRAL_EUSAGE: return "usage";
	case REFERRAL_EINPUT: return "input";
	case REFERRAL_ESTATE: return "state";
	case REFERRAL_EIO: return "storage";
	case REFERRAL_EVERIFY: return "verify";
	default: return "unknown";
	}
}

/* The largest event seq so far (0 for an empty log). */
static int last_seq(referral_store *st, int64_t *out)
{
	sqlite3_stmt *q;
	int rc = st_prepare(st, "SELECT coalesce(max(seq), 0) FROM events", &q);
	if (rc)
		return rc;
	if (sqlite3_step(q) == SQLITE_ROW)
		*out = sqlite3_column_int64(q, 0);
	else
		rc = st_sqlfail(st, "reading the log");
	sqlite3_finalize(q);
	return rc;
}

/* Checks that `period` is the earliest open period. */
static int need_earliest_open(referral_store *st, const char *arg, int *period)
{
	int rc;
	char want[8];
	if (!st)
		return REFERRAL_EUSAGE;
	if ((rc = st_period_arg(st, arg, period)) || (rc = st_load_state(st)))
		return rc;
	period_format(st->first_open, want);
	if (*period < st->first_open)
		return st_fail(st, REFERRAL_ESTATE, "period %s is closed (the earliest open period is %s)",
			       arg, want);
	if (*period > st->first_open)
		return st_fail(st, REFERRAL_ESTATE,
			       "period %s is not the earliest open period (%s must be closed first)",
			       arg, want);
	return 0;
}

/* Settles `period` into main, replacing its draft rows; with `figs`, hands
 * over its figures for grading. In a transaction. */
static int settle_into_main(referral_store *st, int period, int64_t *limit, struct figures *figs)
{
	sqlite3_stmt *q;
	int rc;
	static const char *const clear[] = {
		"DELETE FROM main.statements WHERE period = ?1",
		"DELETE FROM main.snapshots WHERE period = ?1",
		"DELETE FROM main.grades WHERE period = ?1",
		/* a draft's network cache; the settlement prunes older ones */
		"DELETE FROM main.networks WHERE period >= ?1",
	};
	if ((rc = last_seq(st, limit)))
		return rc;
	for (size_t i = 0; i < sizeof clear / sizeof *clear; i++) {
		if ((rc = st_prepare(st, clear[i], &q)))
			return rc;
		sqlite3_bind_int(q, 1, period);
		int step = sqlite3_step(q);
		sqlite3_finalize(q);
		if (step != SQLITE_DONE)
			return st_sqlfail(st, "clearing the draft");
	}
	return settle_period(st, period, *limit, "main.", SETTLE_STATEMENTS, figs);
}

/* Runs `sql` with ?1 = period and, when it has a second parameter, ?2 = limit. */
static int record(referral_store *st, const char *sql, int period, int64_t limit)
{
	sqlite3_stmt *q;
	int rc = st_prepare(st, sql, &q);
	if (rc)
		return rc;
	sqlite3_bind_int(q, 1, period);
	if (sqlite3_bind_parameter_count(q) >= 2)
		sqlite3_bind_int64(q, 2, limit);
	if (sqlite3_step(q) != SQLITE_DONE)
		rc = st_sqlfail(st, "recording the period");
	sqlite3_finalize(q);
	return rc;
}

/* Settles the earliest open period in one transaction; when `closing`,
 * also grades it and records the close. */
static int settle_or_close(referral_store *st, const char *period_arg, int closing)
{
	int period, rc;
	int64_t limit = 0;
	if ((rc = need_earliest_open(st, period_arg, &period)))
		return rc;
	if ((rc = st_begin(st)))
		return rc;
	st->phase = closing ? "close" : "settle";
	struct figures figs = {0};
	if (!(rc = settle_into_main(st, period, &limit, closing ? &figs : NULL))) {
		if (!closing)
			rc = record(st, "INSERT OR REPLACE INTO drafts(period, last_seq) VALUES(?1, ?2)",
				    period, limit);
		else if (!(rc = grade_period(st, period, limit, "main.", &figs)) &&
			 !(rc = record(st, "DELETE FROM drafts WHERE period <= ?1", period, limit)))
			rc = record(st, "INSERT INTO closes(period, last_seq) VALUES(?1, ?2)", period,
				    limit);
	}
	figures_free(&figs);
	st->phase = NULL;
	if (rc) {
		st_rollback(st);
		return rc;
	}
	if ((rc = st_commit(st)))
		return rc;
	return st_load_state(st);
}

int referral_settle(referral_store *st, const char *period) { return settle_or_close(st, period, 0); }

int referral_close(referral_store *st, const char *period) { return settle_or_close(st, period, 1); }

/* ---- verify --------------------------------------------------------------- */

struct compared {
	const char *what;   /* for the message */
	const char *cols;   /* the columns compared; the first names the culprit */
	const char *table;
	int optional;       /* compared only when the store has the period's row */
};

static const struct compared compared[] = {
	{"statement", "dist, store, grade, opening_carry, commission, bounty, override, accrued,"
		      " total, payable, closing_carry, members, sales, shares", "statements", 0},
	{"grade", "dist, grade, members, sales, shares, store_rating, next_grade", "grades", 0},
	{"bounty snapshot", "period, data", "snapshots", 0},
	/* kept for the last periods only: compared where the store has it */
	{"network cache", "period, last_seq, data", "networks", 1},
};

/* Compares one table of one period, both ways, and row counts. */
static int compare_table(referral_store *st, const struct compared *c, int period)
{
	struct strbuf sql = {0};
	sqlite3_stmt *q;
	int rc, found = 0;
	char p[8];
	const char *side = "";

	period_format(period, p);
	if (c->optional) {
		if (sb_printf(&sql, "SELECT 1 FROM main.%s WHERE period = ?1", c->table))
			return st_nomem(st);
		if ((rc = st_prepare(st, sb_str(&sql), &q))) {
			sb_free(&sql);
			return rc;
		}
		sqlite3_bind_int(q, 1, period);
		int step = sqlite3_step(q);
		sqlite3_finalize(q);
		if (step != SQLITE_ROW) {
			sb_free(&sql);
			return step == SQLITE_DONE ? 0 : st_sqlfail(st, "comparing");
		}
	}
	for (int way = 0; way < 3 && !found; way++) {
		sb_reset(&sql);
		if (way < 2) {
			const char *a = way ? "temp.v_" : "main.", *b = way ? "main." : "temp.v_";
			sb_printf(&sql, "SELECT %s FROM"
				  " (SELECT %s FROM %s%s WHERE period = ?1 EXCEPT"
				  " SELECT %s FROM %s%s WHERE period = ?1) x LIMIT 1",
				  c->cols[0] == 'd' ? "(SELECT id FROM events WHERE seq = x.dist)"
						    : "'the period'",
				  c->cols, a, c->table, c->cols, b, c->table);
			side = way ? "is missing from the store" : "differs from its re-derivation";
		} else {
			sb_printf(&sql, "SELECT 'row count' WHERE (SELECT count(*) FROM main.%s WHERE"
				  " period = ?1) != (SELECT count(*) FROM temp.v_%s WHERE period = ?1)",
				  c->table, c->table);
			side = "differs in number from its re-derivation";
		}
		if (!sql.data)
			return st_nomem(st);
		if ((rc = st_prepare(st, sb_str(&sql), &q)))
			break;
		sqlite3_bind_int(q, 1, period);
		int step = sqlite3_step(q);
		if (step == SQLITE_ROW) {
			const char *who = (const char *)sqlite3_column_text(q, 0);
			rc = st_fail(st, REFERRAL_EVERIFY, "verify: period %s: a %s of %s %s", p, c->what,
				     who ? who : "?", side);
			found = 1;
		} else if (step != SQLITE_DONE) {
			rc = st_sqlfail(st, "comparing");
		}
		sqlite3_finalize(q);
		if (rc)
			break;
	}
	sb_free(&sql);
	return rc;
}

static int verify_period(referral_store *st, int period, int64_t limit)
{
	int rc;
	if ((rc = st_exec(st, "DELETE FROM temp.v_lines; DELETE FROM temp.v_statements;"
			      " DELETE FROM temp.v_grades; DELETE FROM temp.v_snapshots;"
			      " DELETE FROM temp.v_networks")))
		return rc;
	struct figures figs = {0};
	if (!(rc = settle_period(st, period, limit, "temp.v_", SETTLE_STATEMENTS | SETTLE_FROM_LOG,
				 &figs)))
		rc = grade_period(st, period, limit, "temp.v_", &figs);
	figures_free(&figs);
	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof compared / sizeof *compared; i++)
		if ((rc = compare_table(st, &compared[i], period)))
			return rc;
	/* the lines, derived one by one, must add up to the statements */
	return settle_period(st, period, limit, "temp.v_", SETTLE_LINES | SETTLE_FROM_LOG, NULL);
}

/* For every distributor: the payables of the closed periods plus the last
 * closing carry equal the exact sum of her lines (SPEC §7). Each period's
 * accrued is the sum of its lines (checked line by line per period above). */
static int verify_conservation(referral_store *st)
{
	sqlite3_stmt *q;
	struct idmap map = {0};
	mpq_t *sums = NULL, v;
	size_t n = 0, cap = 0;
	int rc, step;

	/* sums[i] = lines - payables - last carry, which must come to zero */
	rc = st_prepare(st, "SELECT dist, accrued, 0 FROM main.statements WHERE period IN (SELECT"
			    " period FROM closes) UNION ALL SELECT dist, payable, 1 FROM main.statements"
			    " WHERE period IN (SELECT period FROM closes) UNION ALL"
			    " SELECT s.dist, s.closing_carry, 1 FROM main.statements s"
			    " WHERE s.period = (SELECT max(period) FROM main.statements t"
			    " WHERE t.dist = s.dist AND t.period IN (SELECT period FROM closes))", &q);
	if (rc)
		return rc;
	mpq_init(v);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t dist = sqlite3_column_int64(q, 0);
		int32_t i = idmap_get(&map, dist);
		if (i < 0) {
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				mpq_t *ns = realloc(sums, cap * sizeof *ns);
				if (!ns) {
					rc = st_nomem(st);
					break;
				}
				sums = ns;
			}
			if (idmap_put(&map, dist, (int32_t)n)) {
				rc = st_nomem(st);
				break;
			}
			mpq_init(sums[n]);
			i = (int32_t)n++;
		}
		if (dec_parse_signed(v, (const char *)sqlite3_column_text(q, 1))) {
			rc = st_fail(st, REFERRAL_EVERIFY, "verify: a stored value is not a decimal");
			break;
		}
		if (sqlite3_column_int(q, 2))
			mpq_sub(sums[i], sums[i], v);
		else
			mpq_add(sums[i], sums[i], v);
	}
	sqlite3_finalize(q);
	if (!rc && step != SQLITE_DONE)
		rc = st_sqlfail(st, "reading for conservation");
	for (size_t i = 0; i < map.cap && !rc; i++) {
		if (!map.keys[i] || mpq_sgn(sums[map.vals[i]]) == 0)
			continue;
		sqlite3_stmt *idq;
		const char *id = "?";
		if (!st_prepare(st, "SELECT id FROM events WHERE seq = ?1", &idq)) {
			sqlite3_bind_int64(idq, 1, map.keys[i]);
			if (sqlite3_step(idq) == SQLITE_ROW)
				id = (const char *)sqlite3_column_text(idq, 0);
		}
		char diff[160];
		dec_format(diff, sizeof diff, sums[map.vals[i]]);
		rc = st_fail(st, REFERRAL_EVERIFY,
			     "verify: distributor %s: payables plus the last carry miss the sum of her"
			     " lines by %s", id, diff);
		sqlite3_finalize(idq);
	}
	for (size_t i = 0; i < n; i++)
		mpq_clear(sums[i]);
	free(sums);
	idmap_free(&map);
	mpq_clear(v);
	return rc;
}

int referral_verify(referral_store *st)
{
	sqlite3_stmt *q;
	int rc, step;

	if (!st)
		return REFERRAL_EUSAGE;
	if ((rc = st_load_state(st)) || (rc = st_create_derived(st, "temp.v_")))
		return rc;
	if ((rc = st_exec(st, "BEGIN")))
		return rc;
	st->phase = "verify";
	if ((rc = st_prepare(st, "SELECT period, last_seq FROM closes ORDER BY period", &q)))
		goto out;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		if ((rc = verify_period(st, sqlite3_column_int(q, 0), sqlite3_column_int64(q, 1))))
			break;
	}
	if (!rc && step != SQLITE_DONE)
		rc = st_sqlfail(st, "reading closes");
	sqlite3_finalize(q);
	if (!rc)
		rc = verify_conservation(st);
out:
	st->phase = NULL;
	st_rollback(st);
	return rc;
}
