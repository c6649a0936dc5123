/*
 * store.c — the store handle: creating and opening a store through the
 * engine its name selects (a file: SQLite; a postgresql:// URI:
 * PostgreSQL), its plans and earliest open period, and its error state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "decimal.h"
#include "resize.h"
#include "timeutil.h"

const char *const ev_type_names[EV_TYPES + 1] = {
	"", "store", "store_rating", "distributor", "store_change", "terminate", "member",
	"bind", "share_benefits", "order", "refund", "share", "redeem"
};

const char *const line_type_names[7] = {
	"", "bounty", "bounty_reversal", "commission", "commission_reversal", "override",
	"override_reversal"
};

int st_fail(referral_store *st, int status, const char *fmt, ...)
{
	va_list ap;
	sb_reset(&st->err);
	va_start(ap, fmt);
	sb_vprintf(&st->err, fmt, ap);
	va_end(ap);
	return status;
}

int st_nomem(referral_store *st)
{
	sb_reset(&st->err);
	if (sb_puts(&st->err, "out of memory"))
		sb_free(&st->err); /* referral_errmsg() then falls back to a static text */
	return REFERRAL_EIO;
}

int st_period_arg(referral_store *st, const char *s, int *out)
{
	if (!s || period_parse(s, strlen(s), out))
		return st_fail(st, REFERRAL_EUSAGE, "period \"%s\": expected YYYY-MM, like \"2026-01\"",
			       s ? s : "(null)");
	return 0;
}

const plan *st_plan_for(const referral_store *st, int period)
{
	const plan *best = &st->plans[0].p;
	for (int i = 0; i < st->nplans; i++)
		if (st->plans[i].from <= period)
			best = &st->plans[i].p;
	return best;
}

int64_t binding_end(const referral_store *st, int64_t bound_at, int months, int64_t term)
{
	int offset = st->plans[0].p.utc_offset_min; /* the same in every version */
	int64_t end = ts_add_months(bound_at, months, offset);
	return term < end ? term : end;
}

static void free_plans(referral_store *st)
{
	for (int i = 0; i < st->nplans; i++)
		plan_clear(&st->plans[i].p);
	free(st->plans);
	st->plans = NULL;
	st->nplans = 0;
}

struct plan_load {
	referral_store *st;
	int n, cap;
};

static int put_plan(void *ctx, int effective, const char *body)
{
	struct plan_load *L = ctx;
	referral_store *st = L->st;
	char err[512];
	if (L->n == L->cap) {
		int cap = L->cap ? 2 * L->cap : 4;
		struct plan_version *n = realloc(st->plans, (size_t)cap * sizeof *n);
		if (!n)
			return st_nomem(st);
		st->plans = n;
		L->cap = cap;
	}
	struct plan_version *v = &st->plans[L->n];
	memset(v, 0, sizeof *v);
	v->from = effective;
	if (!body || plan_parse_stored(&v->p, body, err, sizeof err))
		return st_fail(st, REFERRAL_EIO, "storage: a stored plan is invalid: %s",
			       body ? err : "no text");
	st->nplans = ++L->n;
	return 0;
}

static int put_closed(void *ctx, int period, int64_t last_seq)
{
	referral_store *st = ctx;
	(void)last_seq;
	st->first_open = period + 1; /* ascending: the last one wins */
	return 0;
}

int periods_put(void *ctx, int period, int64_t last_seq)
{
	struct periods *P = ctx;
	if (P->n == P->cap) {
		size_t cap = grown(P->cap, 16);
		if (array_resize(&P->period, cap, sizeof *P->period) ||
		    array_resize(&P->last_seq, cap, sizeof *P->last_seq))
			return st_nomem(P->st);
		P->cap = cap;
	}
	P->period[P->n] = period;
	P->last_seq[P->n++] = last_seq;
	return 0;
}

void periods_free(struct periods *p)
{
	free(p->period);
	free(p->last_seq);
	p->period = NULL;
	p->last_seq = NULL;
	p->n = p->cap = 0;
}

int st_load_state(referral_store *st)
{
	struct plan_load L = {st, 0, 0};
	free_plans(st);
	int rc = ENG(st, plans, put_plan, &L);
	if (rc)
		return rc;
	if (st->nplans == 0)
		return st_fail(st, REFERRAL_EIO, "storage: the store has no plan");
	/* the earliest open period: the one after the last close */
	st->first_open = st->plans[0].p.start_period;
	return ENG(st, closes, put_closed, st);
}

/* A handle on the store `where` names, with its engine: 0 with *out set,
 * or a status with *out set too when memory allowed, for the message. */
static int open_engine(referral_store **out, const char *where, int create)
{
	referral_store *st = *out = calloc(1, sizeof *st);
	if (!st)
		return REFERRAL_EIO;
	if (!where)
		return st_fail(st, REFERRAL_EUSAGE, "no store path given");
	if (engine_is_postgres(where))
		return postgres_engine_new(st, where, create, &st->eng);
	return sqlite_engine_new(st, where, create, &st->eng);
}

int referral_store_create(referral_store **out, const char *path, const char *plan_json)
{
	char err[512];
	plan p;
	*out = NULL;
	/* the plan first: a bad plan must not leave a file behind */
	if (!plan_json || plan_parse(&p, plan_json, err, sizeof err)) {
		referral_store *st = *out = calloc(1, sizeof *st);
		if (!st)
			return REFERRAL_EIO;
		return plan_json ? st_fail(st, REFERRAL_EINPUT, "%s", err)
				 : st_fail(st, REFERRAL_EUSAGE, "no plan given");
	}
	int start = p.start_period;
	plan_clear(&p);
	int rc = open_engine(out, path, 1);
	referral_store *st = *out;
	if (rc || (rc = ENG(st, create, plan_json, start)) || (rc = st_load_state(st)))
		return rc;
	sb_reset(&st->err);
	return 0;
}

int referral_store_open(referral_store **out, const char *path)
{
	int rc = open_engine(out, path, 0);
	referral_store *st = *out;
	if (rc || (rc = ENG(st, open)) || (rc = st_load_state(st)))
		return rc;
	return 0;
}

void referral_store_free(referral_store *st)
{
	if (!st)
		return;
	if (st->eng)
		st->eng->ops->free(st->eng);
	free_plans(st);
	sb_free(&st->err);
	sb_free(&st->member_buf);
	free(st);
}

const char *referral_errmsg(const referral_store *st)
{
	if (!st)
		return "out of memory";
	return sb_str(&st->err);
}

int referral_plan_add(referral_store *st, const char *plan_json, const char *from_period)
{
	int from, rc;
	char err[512];
	plan p;

	if (!st)
		return REFERRAL_EUSAGE;
	if ((rc = st_period_arg(st, from_period, &from)))
		return rc;
	if (!plan_json)
		return st_fail(st, REFERRAL_EUSAGE, "no plan given");
	if (plan_parse(&p, plan_json, err, sizeof err))
		return st_fail(st, REFERRAL_EINPUT, "%s", err);
	const plan *first = &st->plans[0].p;
	if (p.utc_offset_min != first->utc_offset_min || p.start_period != first->start_period) {
		plan_clear(&p);
		return st_fail(st, REFERRAL_EINPUT,
			       "plan: utc_offset and start_period must equal the first plan's");
	}
	plan_clear(&p);
	/* the earliest open period as of the transaction: a close elsewhere
	 * may have moved it */
	if ((rc = ENG(st, begin, TX_PLAN)))
		return rc;
	if (!(rc = st_load_state(st)) && from < st->first_open) {
		char a[8], b[8];
		period_format(from, a);
		period_format(st->first_open, b);
		rc = st_fail(st, REFERRAL_ESTATE,
			     "period %s is closed: a plan can take effect from %s at the earliest", a,
			     b);
	}
	if (rc || (rc = ENG(st, plan_add, from, plan_json)) || (rc = ENG(st, commit))) {
		ENG(st, rollback);
		return rc;
	}
	return st_load_state(st);
}

int referral_set_progress(referral_store *st, referral_progress_fn fn, void *ctx)
{
	if (!st)
		return REFERRAL_EUSAGE;
	st->progress = fn;
	st->progress_ctx = ctx;
	return 0;
}

int referral_open_period(referral_store *st, char *buf, size_t cap)
{
	if (!st || !buf || cap < 8)
		return st ? st_fail(st, REFERRAL_EUSAGE, "buffer too small") : REFERRAL_EUSAGE;
	period_format(st->first_open, buf);
	return 0;
}
