/*
 * ingest_rules.c — the checks a line passes before its event is appended
 * (docs/formats.md, "Events"): the shape of every field, then the rules
 * that need the log (an entity exists at the event's instant, bindings
 * never overlap, refunds never exceed their order, redeems never exceed
 * the balance, ...), and the comparison of a repeat with the event stored
 * under its key. The log is read through the store's engine.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "event.h"
#include "timeutil.h"

const char *const field_names[NFIELDS] = {
	"id", "at", "name", "region", "kind", "store", "recruiter", "distributor",
	"member", "from", "to", "order", "amount", "rating", "points"
};

static const struct type_spec specs[EV_TYPES + 1] = {
	[REFERRAL_EV_STORE] = {-1, 0, -1, 0, 0, -1, 0, F_NAME, F_REGION},
	[REFERRAL_EV_STORE_RATING] = {F_STORE, REFERRAL_EV_STORE, -1, 0, 0, F_RATING, 0, -1, -1},
	[REFERRAL_EV_DISTRIBUTOR] = {F_STORE, REFERRAL_EV_STORE, F_RECRUITER, REFERRAL_EV_DISTRIBUTOR,
				     1, -1, 0, F_KIND, -1},
	[REFERRAL_EV_STORE_CHANGE] = {F_DISTRIBUTOR, REFERRAL_EV_DISTRIBUTOR, F_STORE,
				      REFERRAL_EV_STORE, 0, -1, 0, -1, -1},
	[REFERRAL_EV_TERMINATE] = {F_DISTRIBUTOR, REFERRAL_EV_DISTRIBUTOR, -1, 0, 0, -1, 0, -1, -1},
	[REFERRAL_EV_MEMBER] = {-1, 0, F_DISTRIBUTOR, REFERRAL_EV_DISTRIBUTOR, 1, -1, 0, -1, -1},
	[REFERRAL_EV_BIND] = {F_MEMBER, REFERRAL_EV_MEMBER, F_DISTRIBUTOR, REFERRAL_EV_DISTRIBUTOR, 0,
			      -1, 0, -1, -1},
	[REFERRAL_EV_SHARE_BENEFITS] = {F_TO, REFERRAL_EV_MEMBER, F_FROM, REFERRAL_EV_MEMBER, 0, -1, 0,
					-1, -1},
	[REFERRAL_EV_ORDER] = {F_MEMBER, REFERRAL_EV_MEMBER, -1, 0, 0, F_AMOUNT, 1, -1, -1},
	[REFERRAL_EV_REFUND] = {F_ORDER, REFERRAL_EV_ORDER, -1, 0, 0, F_AMOUNT, 1, -1, -1},
	/* share: ref1 is the distributor or the member, decided per line */
	[REFERRAL_EV_SHARE] = {F_DISTRIBUTOR, REFERRAL_EV_DISTRIBUTOR, -1, 0, 0, -1, 0, -1, -1},
	[REFERRAL_EV_REDEEM] = {F_MEMBER, REFERRAL_EV_MEMBER, -1, 0, 0, F_POINTS, 0, -1, -1},
};

/* ---- messages ---------------------------------------------------------- */

/* Starts the message of a bad line with "type \"id\": ". */
void msg_head(struct checker *b, const struct event_in *e)
{
	sb_reset(&b->msg);
	if (e->type) {
		sb_puts(&b->msg, ev_type_names[e->type]);
		if (e->f[F_ID].state == FS_STRING && e->f[F_ID].n <= 64) {
			sb_puts(&b->msg, " \"");
			sb_append(&b->msg, e->f[F_ID].s, e->f[F_ID].n);
			sb_putc(&b->msg, '"');
		}
		sb_puts(&b->msg, ": ");
	}
}

int bad(struct checker *b, const struct event_in *e, const char *fmt, ...)
{
	va_list ap;
	msg_head(b, e);
	va_start(ap, fmt);
	sb_vprintf(&b->msg, fmt, ap);
	va_end(ap);
	return REFERRAL_EINPUT;
}

/* Shows what a field held: its string in quotes, or its JSON text. */
static void show_value(struct strbuf *sb, const struct fval *v)
{
	if (v->state == FS_STRING) {
		sb_putc(sb, '"');
		sb_append(sb, v->s, v->n > 80 ? 80 : v->n);
		sb_puts(sb, v->n > 80 ? "...\"" : "\"");
	} else if (v->j) {
		char *text = json_dumps(v->j, JSON_ENCODE_ANY | JSON_COMPACT);
		sb_puts(sb, text ? text : "a non-string");
		free(text);
	} else {
		sb_puts(sb, v->state == FS_NULL ? "null" : "nothing");
	}
}

int bad_field(struct checker *b, const struct event_in *e, int f, const char *expected)
{
	msg_head(b, e);
	const struct fval *v = &e->f[f];
	if (v->state == FS_ABSENT) {
		sb_printf(&b->msg, "missing field \"%s\"", field_names[f]);
	} else {
		sb_printf(&b->msg, "field \"%s\": expected %s, got ", field_names[f], expected);
		show_value(&b->msg, v);
	}
	return REFERRAL_EINPUT;
}

/* ---- syntax of one line ----------------------------------------------- */

static int valid_id(const char *s, size_t n)
{
	if (n < 1 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("._:@/-", c)))
			return 0;
	}
	return 1;
}

/* Well-formed UTF-8 without NUL (the C path; jansson checks JSON input). */
static int valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		unsigned c = *p++;
		int more;
		unsigned min;
		if (c == 0)
			return 0;
		if (c < 0x80)
			continue;
		if ((c & 0xE0) == 0xC0) { more = 1; min = 0x80; c &= 0x1F; }
		else if ((c & 0xF0) == 0xE0) { more = 2; min = 0x800; c &= 0x0F; }
		else if ((c & 0xF8) == 0xF0) { more = 3; min = 0x10000; c &= 0x07; }
		else return 0;
		if (end - p < more)
			return 0;
		while (more--) {
			if ((*p & 0xC0) != 0x80)
				return 0;
			c = (c << 6) | (*p++ & 0x3F);
		}
		if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return 0;
	}
	return 1;
}

/* Requires a string field; nullable fields may also be null. */
static int need_string(struct checker *b, const struct event_in *e, int f, int nullable,
		       const char *expected)
{
	int s = e->f[f].state;
	if (s == FS_STRING || (nullable && s == FS_NULL))
		return 0;
	return bad_field(b, e, f, expected);
}

static int need_id(struct checker *b, const struct event_in *e, int f, int nullable)
{
	const char *form = nullable ? "an id (1-64 characters of [A-Za-z0-9._:@/-]) or null"
				    : "an id (1-64 characters of [A-Za-z0-9._:@/-])";
	int rc = need_string(b, e, f, nullable, form);
	if (rc)
		return rc;
	if (e->f[f].state == FS_STRING && !valid_id(e->f[f].s, e->f[f].n))
		return bad_field(b, e, f, form);
	return 0;
}

/* Parses the decimal field into num (canonical text) and b->a. */
static int need_decimal(struct checker *b, struct event_in *e, int f, int money)
{
	const char *form = money ? dec_money_form() : dec_decimal_form();
	int rc = need_string(b, e, f, 0, form);
	if (rc)
		return rc;
	int err = money ? dec_parse_money(b->a, e->f[f].s, e->f[f].n)
			: dec_parse(b->a, e->f[f].s, e->f[f].n);
	if (err)
		return bad_field(b, e, f, form);
	if (dec_format(e->num, sizeof e->num, b->a) >= sizeof e->num)
		return bad_field(b, e, f, form);
	return 0;
}

static int copy_text(struct checker *b, struct event_in *e, int f, size_t *used, const char **out)
{
	const struct fval *v = &e->f[f];
	if (v->n > 500 || v->n + 1 > sizeof e->txtbuf - *used || !valid_utf8(v->s, v->n))
		return bad_field(b, e, f, "a UTF-8 string of at most 500 bytes");
	char *dst = e->txtbuf + *used;
	memcpy(dst, v->s, v->n);
	dst[v->n] = '\0';
	*used += v->n + 1;
	*out = dst;
	return 0;
}

/* Checks the shape of every field and fills the normalised slots that need
 * no lookup: at, booked, num, texts. */
const struct type_spec *type_spec_of(int type)
{
	return &specs[type];
}

int check_fields(struct checker *b, struct event_in *e)
{
	referral_store *st = b->st;
	struct type_spec *sp = &e->spec;
	int rc;

	*sp = specs[e->type];
	if ((rc = need_id(b, e, F_ID, 0)))
		return rc;
	if ((rc = need_string(b, e, F_AT, 0, "a timestamp like \"2026-01-10T12:00:00+08:00\"")))
		return rc;
	const plan *p0 = &st->plans[0].p;
	if (ts_parse(e->f[F_AT].s, e->f[F_AT].n, p0->utc_offset_min, &e->at))
		return bad_field(b, e, F_AT,
				 "a timestamp YYYY-MM-DDTHH:MM:SS[.ffffff] with Z, +HH:MM or no offset, "
				 "like \"2026-01-10T12:00:00+08:00\"");
	int p = period_of(e->at, p0->utc_offset_min);
	e->booked = p < st->first_open ? st->first_open : p;

	if (e->type == REFERRAL_EV_SHARE) {
		int d = e->f[F_DISTRIBUTOR].state, m = e->f[F_MEMBER].state;
		int hasd = d != FS_ABSENT && d != FS_NULL, hasm = m != FS_ABSENT && m != FS_NULL;
		if (hasd == hasm)
			return bad(b, e, "a share names exactly one of \"distributor\" and \"member\"");
		if (hasm) {
			sp->ref1 = F_MEMBER;
			sp->ref1_type = REFERRAL_EV_MEMBER;
		}
	}
	if (sp->ref1 >= 0 && (rc = need_id(b, e, sp->ref1, 0)))
		return rc;
	if (sp->ref2 >= 0 && (rc = need_id(b, e, sp->ref2, sp->ref2_nullable)))
		return rc;
	e->num[0] = '\0';
	if (sp->num >= 0 && (rc = need_decimal(b, e, sp->num, sp->num_money)))
		return rc;

	size_t used = 0;
	e->txt1 = e->txt2 = NULL;
	if (e->type == REFERRAL_EV_STORE) {
		if ((rc = need_string(b, e, F_NAME, 0, "a string")) ||
		    (rc = need_string(b, e, F_REGION, 0, "a string")) ||
		    (rc = copy_text(b, e, F_NAME, &used, &e->txt1)) ||
		    (rc = copy_text(b, e, F_REGION, &used, &e->txt2)))
			return rc;
	} else if (e->type == REFERRAL_EV_DISTRIBUTOR) {
		const char *form = "one of \"mom\", \"doctor\", \"practitioner\"";
		if ((rc = need_string(b, e, F_KIND, 0, form)))
			return rc;
		const struct fval *k = &e->f[F_KIND];
		if (!((k->n == 3 && !memcmp(k->s, "mom", 3)) || (k->n == 6 && !memcmp(k->s, "doctor", 6)) ||
		      (k->n == 12 && !memcmp(k->s, "practitioner", 12))))
			return bad_field(b, e, F_KIND, form);
		if ((rc = copy_text(b, e, F_KIND, &used, &e->txt1)))
			return rc;
	} else if (e->type == REFERRAL_EV_SHARE) {
		e->txt1 = sp->ref1 == F_MEMBER ? "member" : "distributor";
	}
	return 0;
}

void explain_ref(struct checker *b, const struct event_in *e, int f)
{
	sb_append(&b->msg, field_names[f], strlen(field_names[f]));
	sb_puts(&b->msg, " \"");
	sb_append(&b->msg, e->f[f].s, e->f[f].n);
	sb_putc(&b->msg, '"');
}

/* The termination instant of a distributor, or INT64_MAX. */
static int termination_of(referral_store *st, int64_t dist, int64_t *term)
{
	int found = ENG(st, termination, dist, term);
	if (found <= 0)
		*term = INT64_MAX;
	return found < 0 ? -found : 0;
}

/* ---- the rules that need the log -------------------------------------- */

static int bad_time(struct checker *b, const struct event_in *e, int f)
{
	msg_head(b, e);
	explain_ref(b, e, f);
	sb_puts(&b->msg, " does not exist yet at ");
	sb_append(&b->msg, e->f[F_AT].s, e->f[F_AT].n);
	return REFERRAL_EINPUT;
}

/* A distributor a member binds to must not be terminated at or before at. */
static int check_not_terminated(struct checker *b, const struct event_in *e, int f, int64_t dist,
				int64_t *term)
{
	int rc = termination_of(b->st, dist, term);
	if (rc)
		return rc;
	if (*term <= e->at) {
		msg_head(b, e);
		explain_ref(b, e, f);
		sb_puts(&b->msg, " is terminated at or before ");
		sb_append(&b->msg, e->f[F_AT].s, e->f[F_AT].n);
		return REFERRAL_EINPUT;
	}
	return 0;
}

/* The bindings of a member, gathered before they are checked (a callback
 * does not call the engine). */
struct bindings {
	struct { int64_t at, dist; int months; } *b;
	size_t n, cap;
	referral_store *st;
};

static int put_binding(void *ctx, int64_t at, int months, int64_t dist)
{
	struct bindings *B = ctx;
	if (B->n == B->cap) {
		size_t cap = B->cap ? 2 * B->cap : 8;
		void *n = realloc(B->b, cap * sizeof *B->b);
		if (!n)
			return st_nomem(B->st);
		B->b = n;
		B->cap = cap;
	}
	B->b[B->n].at = at;
	B->b[B->n].dist = dist;
	B->b[B->n++].months = months;
	return 0;
}

/* A new binding [at, end) of member `m` must not overlap any of hers. */
static int check_no_overlap(struct checker *b, const struct event_in *e, int64_t m, int64_t end)
{
	referral_store *st = b->st;
	struct bindings B = {.st = st};
	int overlap = 0;
	/* every binding of hers: the one she joined with, and her binds */
	int rc = ENG(st, bindings, m, put_binding, &B);
	for (size_t i = 0; i < B.n && !rc && !overlap; i++) {
		int64_t term;
		if (!(rc = termination_of(st, B.b[i].dist, &term))) {
			int64_t bend = binding_end(st, B.b[i].at, B.b[i].months, term);
			overlap = B.b[i].at < end && e->at < bend;
		}
	}
	free(B.b);
	if (rc)
		return rc;
	if (overlap)
		return bad(b, e, "member \"%.*s\" already has a binding active at some instant of this one",
			   (int)e->f[F_MEMBER].n, e->f[F_MEMBER].s);
	return 0;
}

/* A member or bind event records its binding's window from the plan for
 * its booking period, once and for all. */
static void window_months(const referral_store *st, struct event_in *e)
{
	snprintf(e->num, sizeof e->num, "%ld", st_plan_for(st, e->booked)->commission_window_months);
}

/* Takes a stored refund off what is left of its order (in b->b). */
static int take_refund(void *ctx, const char *amount)
{
	struct checker *b = ctx;
	if (dec_parse_signed(b->a, amount))
		return st_fail(b->st, REFERRAL_EIO, "storage: a stored refund is not money");
	mpq_sub(b->b, b->b, b->a);
	return 0;
}

int check_rules(struct checker *b, struct event_in *e)
{
	referral_store *st = b->st;
	const struct type_spec *sp = &e->spec;
	int rc;
	int64_t term;

	/* every entity named must exist at the event's instant */
	if (e->ref1 && e->ref1_at > e->at)
		return bad_time(b, e, sp->ref1);
	if (e->ref2 && e->ref2_at > e->at)
		return bad_time(b, e, sp->ref2);

	switch (e->type) {
	case REFERRAL_EV_STORE_RATING:
		mpq_set_ui(b->b, 5, 1);
		if (mpq_cmp(b->a, b->b) > 0)
			return bad_field(b, e, F_RATING, "a rating from 0 to 5");
		return 0;
	case REFERRAL_EV_TERMINATE: {
		if ((rc = termination_of(st, e->ref1, &term)))
			return rc;
		if (term != INT64_MAX)
			return bad(b, e, "distributor \"%.*s\" is already terminated",
				   (int)e->f[F_DISTRIBUTOR].n, e->f[F_DISTRIBUTOR].s);
		int64_t last;
		int found = ENG(st, last_binding, e->ref1, &last);
		if (found < 0)
			return -found;
		if (found && last >= e->at)
			return bad(b, e, "distributor \"%.*s\" has a binding that starts at or after "
				   "the termination", (int)e->f[F_DISTRIBUTOR].n, e->f[F_DISTRIBUTOR].s);
		return 0;
	}
	case REFERRAL_EV_MEMBER:
		if (!e->ref2)
			return 0;
		window_months(st, e);
		return check_not_terminated(b, e, F_DISTRIBUTOR, e->ref2, &term);
	case REFERRAL_EV_BIND:
		if ((rc = check_not_terminated(b, e, F_DISTRIBUTOR, e->ref2, &term)))
			return rc;
		window_months(st, e);
		return check_no_overlap(b, e, e->ref1, binding_end(st, e->at, atoi(e->num), term));
	case REFERRAL_EV_SHARE_BENEFITS: {
		if (e->ref1 == e->ref2)
			return bad(b, e, "a member cannot share benefits with herself");
		int found = ENG(st, has_sharer, e->ref1);
		if (found < 0)
			return -found;
		if (found)
			return bad(b, e, "member \"%.*s\" already has a sharer", (int)e->f[F_TO].n,
				   e->f[F_TO].s);
		return 0;
	}
	case REFERRAL_EV_ORDER:
		if (mpq_sgn(b->a) <= 0)
			return bad_field(b, e, F_AMOUNT, "an amount greater than 0");
		return 0;
	case REFERRAL_EV_REFUND: {
		if (mpq_sgn(b->a) <= 0)
			return bad_field(b, e, F_AMOUNT, "an amount greater than 0");
		struct ev_row order;
		int found = ENG(st, get, e->ref1, &order);
		if (found < 0)
			return -found;
		if (!found || !order.num || dec_parse_signed(b->b, order.num))
			return st_fail(st, REFERRAL_EIO, "storage: order %lld is not in the log as it should",
				       (long long)e->ref1);
		mpq_sub(b->b, b->b, b->a); /* what is left after this refund */
		if ((rc = ENG(st, refunds, e->ref1, take_refund, b)))
			return rc;
		if (mpq_sgn(b->b) < 0)
			return bad(b, e, "the refunds of order \"%.*s\" would exceed its amount",
				   (int)e->f[F_ORDER].n, e->f[F_ORDER].s);
		return 0;
	}
	case REFERRAL_EV_REDEEM: {
		if (mpq_sgn(b->a) <= 0)
			return bad_field(b, e, F_POINTS, "points greater than 0");
		if ((rc = points_member_balance(st, e->ref1, e->at, b->b)))
			return rc;
		if (mpq_cmp(b->a, b->b) > 0) {
			char bal[128];
			dec_format(bal, sizeof bal, b->b);
			return bad(b, e, "redeeming %s points exceeds the balance %s of member \"%.*s\""
				   " at %.*s", e->num, bal, (int)e->f[F_MEMBER].n, e->f[F_MEMBER].s,
				   (int)e->f[F_AT].n, e->f[F_AT].s);
		}
		return 0;
	}
	default:
		return 0;
	}
}

/* ---- duplicates -------------------------------------------------------- */

static int same_text(const char *t, const char *s)
{
	if (!s || !t)
		return !s && !t;
	return strcmp(s, t) == 0;
}

/* Compares with a stored event of the same key: 1 identical, 0 conflicting
 * (message set). */
int compare_stored(struct checker *b, struct event_in *e, const struct ev_row *r)
{
	const struct type_spec *sp = &e->spec;
	const char *differs = NULL;

	if (r->at != e->at)
		differs = "at";
	else if (r->ref1 != e->ref1)
		differs = sp->ref1 >= 0 ? field_names[sp->ref1] : "reference";
	else if (r->ref2 != e->ref2)
		differs = sp->ref2 >= 0 ? field_names[sp->ref2] : "reference";
	else if (sp->num >= 0 && !same_text(r->num, e->num[0] ? e->num : NULL))
		differs = field_names[sp->num];
	else if (!same_text(r->txt1, e->txt1))
		differs = e->type == REFERRAL_EV_SHARE ? "distributor/member"
						       : field_names[sp->txt1];
	else if (!same_text(r->txt2, e->txt2))
		differs = field_names[sp->txt2];
	if (!differs)
		return 1;
	bad(b, e, "conflicts with the %s \"%.*s\" already stored (different %s)",
	    ev_type_names[e->type], (int)e->f[F_ID].n, e->f[F_ID].s, differs);
	return 0;
}

