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

static void free_versions(struct plan_version *plans, int n)
{
	for (int i = 0; i < n; i++)
		plan_clear(&plans[i].p);
	free(plans);
}

static void free_plans(referral_store *st)
{
	free_versions(st->plans, st->nplans);
	st->plans = NULL;
	st->nplans = 0;
}

/* Plan versions being read, then the earliest open period; the handle's
 * own are replaced only once everything is read (st_load_state). */
struct plan_load {
	referral_store *st;
	struct plan_version *plans;
	int n, cap;
	int first_open;
};

static int put_plan(void *ctx, int effective, const char *body)
{
	struct plan_load *L = ctx;
	referral_store *st = L->st;
	char err[512];
	if (L->n == L->cap) {
		int cap = L->cap ? 2 * L->cap : 4;
		struct plan_version *n = realloc(L->plans, (size_t)cap * sizeof *n);
		if (!n)
			return st_nomem(st);
		L->plans = n;
		L->cap = cap;
	}
	struct plan_version *v = &L->plans[L->n];
	memset(v, 0, sizeof *v);
	v->from = effective;
	int rc = body ? plan_parse_stored(&v->p, body, err, sizeof err) : -1;
	if (rc == PLAN_NOMEM)
		return st_nomem(st);
	if (rc)
		return st_fail(st, REFERRAL_EIO, "storage: a stored plan is invalid: %s",
			       body ? err : "no text");
	L->n++;
	return 0;
}

static int put_closed(void *ctx, int period, int64_t last_seq)
{
	struct plan_load *L = ctx;
	(void)last_seq;
	L->first_open = period + 1; /* ascending: the last one wins */
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

/* Reads the plans and the earliest open period into *L; 0 or a status,
 * with what was read freed. */
static int load_state(referral_store *st, struct plan_load *L)
{
	*L = (struct plan_load){.st = st};
	int rc = ENG(st, plans, put_plan, L);
	if (!rc && L->n == 0)
		rc = st_fail(st, REFERRAL_EIO, "storage: the store has no plan");
	if (!rc) {
		/* the earliest open period: the one after the last close */
		L->first_open = L->plans[0].p.start_period;
		rc = ENG(st, closes, put_closed, L);
	}
	if (rc)
		free_versions(L->plans, L->n);
	return rc;
}

/* Makes what load_state() read the handle's own; cannot fail. */
static void install_state(referral_store *st, struct plan_load *L)
{
	free_plans(st);
	st->plans = L->plans;
	st->nplans = L->n;
	st->first_open = L->first_open;
}

int st_load_state(referral_store *st)
{
	struct plan_load L;
	int rc = load_state(st, &L);
	if (!rc)
		install_state(st, &L);
	return rc;
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
	int parsed = plan_json ? plan_parse(&p, plan_json, err, sizeof err) : 0;
	if (!plan_json || parsed) {
		referral_store *st = *out = calloc(1, sizeof *st);
		if (!st)
			return REFERRAL_EIO;
		return !plan_json ? st_fail(st, REFERRAL_EUSAGE, "no plan given")
		       : parsed == PLAN_NOMEM ? st_nomem(st)
					      : st_fail(st, REFERRAL_EINPUT, "%s", err);
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
	if ((rc = plan_parse(&p, plan_json, err, sizeof err)))
		return rc == PLAN_NOMEM ? st_nomem(st) : st_fail(st, REFERRAL_EINPUT, "%s", err);
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
	/* the plans as they will be, read before the commit: nothing that can
	 * fail is left once the version is stored */
	struct plan_load L = {0};
	if (rc || (rc = ENG(st, plan_add, from, plan_json)) || (rc = load_state(st, &L))) {
		ENG(st, rollback);
		return rc;
	}
	if ((rc = ENG(st, commit))) {
		free_versions(L.plans, L.n);
		ENG(st, rollback);
		return rc;
	}
	install_state(st, &L);
	return 0;
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
