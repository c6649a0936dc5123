/*
 * lifecycle.c — settle, close and verify, and the library's version and
 * status names.
 *
 * settle P   computes the draft of the earliest open period, replacing the
 *            previous draft, in one transaction.
 * close P    settles P again from every event ingested so far, grades it,
 *            and records the close with the last event seq it saw, all in
 *            one transaction: a crash leaves P open or wholly closed. From
 *            then on the store refuses any change to P's rows.
 * verify     re-derives each closed period from the events with seq <= the
 *            seq recorded at its close and compares what it derives with
 *            the frozen rows (statements, grades, bounty snapshot, network
 *            cache), re-derives its lines one by one and checks that they
 *            add up to the statements, then checks that nothing was lost or
 *            created (conservation).
 *
 * The rules write through a struct settle_out: into the store's own rows
 * here for settle and close, into verify.c's comparison for verify.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "timeutil.h"
#include "verify.h"

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

/* ---- into the store's own rows ------------------------------------------- */

static int store_statements(void *ctx, const struct statement_row *rows, size_t n)
{
	return ENG((referral_store *)ctx, put_statements, rows, n);
}

static int store_blob(void *ctx, enum blob_kind kind, int period, int64_t last_seq, size_t size,
		      struct blob_dst **dst)
{
	return ENG((referral_store *)ctx, blob_put, kind, period, last_seq, size, dst);
}

static int store_grades(void *ctx, const struct grade_row *rows, size_t n)
{
	return ENG((referral_store *)ctx, put_grades, rows, n);
}

/* Checks that `period` is the earliest open period (as of the transaction). */
static int need_earliest_open(referral_store *st, const char *arg, int period)
{
	int rc;
	char want[8];
	if ((rc = st_load_state(st)))
		return rc;
	period_format(st->first_open, want);
	if (period < st->first_open)
		return st_fail(st, REFERRAL_ESTATE, "period %s is closed (the earliest open period is %s)",
			       arg, want);
	if (period > st->first_open)
		return st_fail(st, REFERRAL_ESTATE,
			       "period %s is not the earliest open period (%s must be closed first)",
			       arg, want);
	return 0;
}

/* Settles the earliest open period in one transaction, replacing its
 * draft; when `closing`, also grades it and records the close. */
static int settle_or_close(referral_store *st, const char *period_arg, int closing)
{
	int period, rc;
	int64_t limit = 0;
	if (!st)
		return REFERRAL_EUSAGE;
	if ((rc = st_period_arg(st, period_arg, &period)))
		return rc;
	if ((rc = ENG(st, begin, closing ? TX_CLOSE : TX_SETTLE)))
		return rc;
	struct settle_out out = {store_statements, store_blob, NULL, store_grades, st, 1};
	struct figures figs = {0};
	st->phase = closing ? "close" : "settle";
	if (!(rc = need_earliest_open(st, period_arg, period)) && !(rc = ENG(st, last_seq, &limit)) &&
	    !(rc = ENG(st, clear_draft, period)) &&
	    !(rc = settle_period(st, period, limit, &out, SETTLE_STATEMENTS, closing ? &figs : NULL))) {
		if (!closing)
			rc = ENG(st, record_draft, period, limit);
		else if (!(rc = grade_period(st, period, limit, &out, &figs)))
			rc = ENG(st, record_close, period, limit);
	}
	figures_free(&figs);
	st->phase = NULL;
	if (rc || (rc = ENG(st, commit))) {
		/* the state need_earliest_open() read is the store's: the
		 * transaction wrote no plan and no close */
		ENG(st, rollback);
		return rc;
	}
	/* nothing that can fail once the close is stored */
	if (closing)
		st->first_open = period + 1;
	return 0;
}

int referral_settle(referral_store *st, const char *period) { return settle_or_close(st, period, 0); }

int referral_close(referral_store *st, const char *period) { return settle_or_close(st, period, 1); }

/* ---- verify --------------------------------------------------------------- */


int referral_verify(referral_store *st)
{
	struct periods c = {.st = st};
	int rc;

	if (!st)
		return REFERRAL_EUSAGE;
	if ((rc = ENG(st, begin, TX_VERIFY)))
		return rc;
	st->phase = "verify";
	if (!(rc = st_load_state(st)) && !(rc = ENG(st, closes, periods_put, &c))) {
		for (size_t i = 0; i < c.n && !rc; i++)
			rc = verify_period(st, c.period[i], c.last_seq[i]);
		if (!rc)
			rc = verify_conservation(st);
		if (!rc)
			rc = verify_member_events(st);
	}
	st->phase = NULL;
	ENG(st, rollback);
	periods_free(&c);
	return rc;
}
