/*
 * ingest.c — validating events and appending them to the log, one atomic
 * batch at a time (SPEC §4).
 *
 * A batch holds one SQLite transaction open from begin to commit. Each line
 * is checked against the log as it stands inside that transaction, which
 * already holds the batch's earlier good lines, and is inserted at once when
 * good. A bad line is recorded and inserts nothing, so a later line naming
 * what it would have created is bad too. Commit keeps the transaction only if
 * no line was bad.
 *
 * References are resolved by id. A batch looks ids up in the (type, id)
 * index at first, as a small batch (an order service adding one order)
 * should. Once it has made enough lookups of one entity type (store,
 * distributor, member, order) for loading them all to pay, it loads every
 * id of that type with its seq and instant into an in-memory cache
 * (idcache.h) in one scan of the index, and from then on resolves that
 * type, and tells new keys of it from stored ones, without SQLite. The
 * threshold is IDCACHE_MIN_LOOKUPS, or 1/CACHE_SHARE of the type's events
 * when that is more: a B-tree lookup costs about ten times as much as
 * loading one id, so when the cache is built the batch has already spent
 * on lookups more than half of what the loading costs, and a batch that
 * ends soon after pays at most a few times the cheaper choice. Every event
 * the batch inserts afterwards goes into the cache of its type once
 * the insert succeeded, so a rejected line never enters it. The cache lives
 * and dies with the batch: the batch holds the write lock (BEGIN
 * IMMEDIATE), so nothing else changes the log meanwhile, and no later batch
 * sees what a rolled-back one added. A cache takes 32 to 64 bytes an id
 * (2M members take 128 MiB), and is only built by a batch that has made
 * 1/CACHE_SHARE as many lookups as its type has events.
 */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "decimal.h"
#include "idcache.h"
#include "linereader.h"
#include "timeutil.h"

#define MAX_REPORTED 100

/* Statements a batch prepares when it first needs them. */
enum batch_stmt {
	B_COUNT_TYPE,    /* type -> count */
	B_IDS_OF_TYPE,   /* type -> id, seq, at */
	B_BINDINGS,      /* member seq -> at, window, distributor of each binding */
	B_LAST_BINDING,  /* distributor seq -> the latest start of a binding to her */
	B_NSTMTS
};

static const char *const batch_sql[B_NSTMTS] = {
	[B_COUNT_TYPE] = "SELECT count(*) FROM events WHERE type = ?1",
	[B_IDS_OF_TYPE] = "SELECT id, seq, at FROM events WHERE type = ?1",
	[B_BINDINGS] = "SELECT at, num, ref2 FROM events WHERE seq = ?1 AND ref2 IS NOT NULL"
		       " UNION ALL SELECT at, num, ref2 FROM events WHERE ref1 = ?1 AND type = 7",
	[B_LAST_BINDING] = "SELECT max(at) FROM events WHERE ref2 = ?1 AND type IN (6, 7)",
};

/* A type's id cache is built once the batch has looked up
 * IDCACHE_MIN_LOOKUPS of its ids through SQLite, or 1/CACHE_SHARE of the
 * type's events if that is more (see the top of this file). */
#define CACHE_SHARE 16

/* The id cache of one entity type (see the top of this file). */
struct type_cache {
	struct idcache ids;
	int built;       /* ids holds every event of the type in the log */
	long lookups;    /* made through SQLite so far */
	long threshold;  /* build once lookups reach it; 0 = not sized yet */
	long count;      /* events of the type when the threshold was sized */
};

struct referral_batch {
	referral_store *st;
	char *source;
	long ingested, duplicates, nerrors, nconflicts;
	char *errors[MAX_REPORTED];
	int dead;       /* a storage failure happened: only free is left */
	int done;       /* committed or rolled back */
	struct strbuf msg;
	mpq_t a, b;     /* scratch values */
	sqlite3_stmt *q[B_NSTMTS];
	struct type_cache cache[EV_TYPES + 1]; /* used for the entity types */
	/* the regular file being read by referral_batch_add_file: its size and
	 * the bytes of it read so far, or 0 and 0 */
	long long file_size, file_done;
};

/* ---- fields ------------------------------------------------------------ */

enum field {
	F_ID, F_AT, F_NAME, F_REGION, F_KIND, F_STORE, F_RECRUITER, F_DISTRIBUTOR,
	F_MEMBER, F_FROM, F_TO, F_ORDER, F_AMOUNT, F_RATING, F_POINTS, NFIELDS
};

static const char *const field_names[NFIELDS] = {
	"id", "at", "name", "region", "kind", "store", "recruiter", "distributor",
	"member", "from", "to", "order", "amount", "rating", "points"
};

enum { FS_ABSENT, FS_NULL, FS_STRING, FS_OTHER };

struct fval {
	int state;
	const char *s;
	size_t n;
	json_t *j; /* the JSON value, for messages about a wrong type */
};

/* Where each event type keeps its fields (see core.h). */
struct type_spec {
	int ref1, ref1_type;   /* field and entity type of ref1, or -1 */
	int ref2, ref2_type;   /* likewise for ref2 */
	int ref2_nullable;
	int num, num_money;    /* field of num, or -1; money form or decimal */
	int txt1, txt2;        /* fields of the texts, or -1 */
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

/* One event on its way in: its raw fields, then the normalised row. */
struct event_in {
	int type;
	struct fval f[NFIELDS];
	struct type_spec spec;
	/* normalised */
	int64_t at;
	int booked;
	int64_t ref1, ref2;        /* seqs, 0 = none */
	int64_t ref1_at, ref2_at;  /* instants the referenced entities appear */
	char num[128];             /* canonical decimal, "" = none */
	const char *txt1, *txt2;   /* NUL-terminated copies live in txtbuf */
	char txtbuf[1024];
};

/* ---- messages ---------------------------------------------------------- */

/* Starts the message of a bad line with "type \"id\": ". */
static void msg_head(referral_batch *b, const struct event_in *e)
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

static int bad(referral_batch *b, const struct event_in *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(referral_batch *b, const struct event_in *e, const char *fmt, ...)
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

static int bad_field(referral_batch *b, const struct event_in *e, int f, const char *expected)
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
static int need_string(referral_batch *b, const struct event_in *e, int f, int nullable,
		       const char *expected)
{
	int s = e->f[f].state;
	if (s == FS_STRING || (nullable && s == FS_NULL))
		return 0;
	return bad_field(b, e, f, expected);
}

static int need_id(referral_batch *b, const struct event_in *e, int f, int nullable)
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
static int need_decimal(referral_batch *b, struct event_in *e, int f, int money)
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

static int copy_text(referral_batch *b, struct event_in *e, int f, size_t *used, const char **out)
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
static int check_fields(referral_batch *b, struct event_in *e)
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

/* ---- lookups ----------------------------------------------------------- */

/* A statement of the batch, prepared on first use. */
static int batch_stmt(referral_batch *b, enum batch_stmt which, sqlite3_stmt **out)
{
	int rc;
	if (!b->q[which] && (rc = st_prepare(b->st, batch_sql[which], &b->q[which])))
		return rc;
	*out = b->q[which];
	return 0;
}

/* The types that references name, which get an id cache. */
static int is_entity_type(int type)
{
	return type == REFERRAL_EV_STORE || type == REFERRAL_EV_DISTRIBUTOR ||
	       type == REFERRAL_EV_MEMBER || type == REFERRAL_EV_ORDER;
}

/* Loads every id of `type` in the log (the batch's own events included)
 * into its cache, in one scan of the (type, id) index. */
static int build_cache(referral_batch *b, int type)
{
	struct type_cache *tc = &b->cache[type];
	sqlite3_stmt *q;
	int rc = batch_stmt(b, B_IDS_OF_TYPE, &q), step;
	if (rc)
		return rc;
	if (idcache_reserve(&tc->ids, (size_t)tc->count + (size_t)tc->lookups))
		return st_nomem(b->st);
	sqlite3_bind_int(q, 1, type);
	struct idcache_loader l = {.c = &tc->ids};
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(q, 0);
		size_t n = (size_t)sqlite3_column_bytes(q, 0);
		if (!id || idcache_load(&l, id, n, sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 2)))
			break; /* out of memory */
	}
	sqlite3_reset(q);
	if (step == SQLITE_ROW || idcache_load_end(&l)) {
		idcache_free(&tc->ids);
		return st_nomem(b->st);
	}
	if (step != SQLITE_DONE) {
		idcache_free(&tc->ids);
		return st_sqlfail(b->st, "loading ids");
	}
	tc->built = 1;
	return 0;
}

/* Counts one lookup of `type` about to be made through SQLite while its
 * cache is not built, and builds the cache once enough have been made:
 * IDCACHE_MIN_LOOKUPS, or 1/CACHE_SHARE of the type's events if that is
 * more. */
static int count_lookup(referral_batch *b, int type)
{
	struct type_cache *tc = &b->cache[type];
	if (tc->built || !is_entity_type(type) ||
	    ++tc->lookups < (tc->threshold ? tc->threshold : IDCACHE_MIN_LOOKUPS))
		return 0;
	if (!tc->threshold) {
		sqlite3_stmt *q;
		int rc = batch_stmt(b, B_COUNT_TYPE, &q);
		if (rc)
			return rc;
		sqlite3_bind_int(q, 1, type);
		int step = sqlite3_step(q);
		long count = step == SQLITE_ROW ? (long)sqlite3_column_int64(q, 0) : 0;
		sqlite3_reset(q);
		if (step != SQLITE_ROW)
			return st_sqlfail(b->st, "counting ids");
		tc->count = count;
		tc->threshold = count / CACHE_SHARE > IDCACHE_MIN_LOOKUPS ? count / CACHE_SHARE
									  : IDCACHE_MIN_LOOKUPS;
		/* Reading a file, the batch can tell how many lookups of the type
		 * it will make in all if the rest of the file is like what it has
		 * read: when that reaches the threshold, waiting for it is waste. */
		int expected = b->file_size > 0 && b->file_done > 0 &&
			       (double)tc->lookups * (double)b->file_size / (double)b->file_done >=
				       (double)tc->threshold;
		if (tc->lookups < tc->threshold && !expected)
			return 0;
	}
	return build_cache(b, type);
}

/* Finds the entity (type, id): 1 with its seq and instant, 0 if none,
 * negative on storage failure. */
static int find_entity(referral_batch *b, int type, const char *id, size_t n, int64_t *seq,
		       int64_t *at)
{
	int rc = count_lookup(b, type), found = 0;
	if (rc)
		return -rc;
	if (b->cache[type].built)
		return idcache_get(&b->cache[type].ids, id, n, seq, at);
	sqlite3_stmt *q = b->st->q[Q_FIND];
	sqlite3_bind_int(q, 1, type);
	sqlite3_bind_text(q, 2, id, (int)n, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(q, 0);
		*at = sqlite3_column_int64(q, 1);
		found = 1;
	}
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -st_sqlfail(b->st, "looking up an id");
	return found;
}

/* The termination instant of a distributor, or INT64_MAX. */
static int termination_of(referral_store *st, int64_t dist, int64_t *term)
{
	sqlite3_stmt *q = st->q[Q_BY_REF];
	sqlite3_bind_int64(q, 1, dist);
	sqlite3_bind_int(q, 2, REFERRAL_EV_TERMINATE);
	int rc = sqlite3_step(q);
	*term = rc == SQLITE_ROW ? sqlite3_column_int64(q, 1) : INT64_MAX;
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return st_sqlfail(st, "looking up a termination");
	return 0;
}

static void explain_ref(referral_batch *b, const struct event_in *e, int f)
{
	sb_append(&b->msg, field_names[f], strlen(field_names[f]));
	sb_puts(&b->msg, " \"");
	sb_append(&b->msg, e->f[f].s, e->f[f].n);
	sb_putc(&b->msg, '"');
}

/* Resolves ref1 and ref2 to seqs. Returns 0, REFERRAL_EINPUT when a
 * reference does not exist (message set), or a storage status. */
static int resolve_refs(referral_batch *b, struct event_in *e)
{
	const struct type_spec *sp = &e->spec;
	int fields[2] = {sp->ref1, sp->ref2}, types[2] = {sp->ref1_type, sp->ref2_type};
	int64_t *seqs[2] = {&e->ref1, &e->ref2}, *ats[2] = {&e->ref1_at, &e->ref2_at};

	for (int i = 0; i < 2; i++) {
		*seqs[i] = 0;
		*ats[i] = INT64_MIN;
		int f = fields[i];
		if (f < 0 || e->f[f].state != FS_STRING)
			continue;
		int found = find_entity(b, types[i], e->f[f].s, e->f[f].n, seqs[i], ats[i]);
		if (found < 0)
			return -found;
		if (!found) {
			msg_head(b, e);
			explain_ref(b, e, f);
			sb_puts(&b->msg, " does not exist");
			return REFERRAL_EINPUT;
		}
	}
	return 0;
}

/* ---- the rules that need the log -------------------------------------- */

static int bad_time(referral_batch *b, const struct event_in *e, int f)
{
	msg_head(b, e);
	explain_ref(b, e, f);
	sb_puts(&b->msg, " does not exist yet at ");
	sb_append(&b->msg, e->f[F_AT].s, e->f[F_AT].n);
	return REFERRAL_EINPUT;
}

/* A distributor a member binds to must not be terminated at or before at. */
static int check_not_terminated(referral_batch *b, const struct event_in *e, int f, int64_t dist,
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

/* A new binding [at, end) of member `m` must not overlap any of hers. */
static int check_no_overlap(referral_batch *b, const struct event_in *e, int64_t m, int64_t end)
{
	referral_store *st = b->st;
	sqlite3_stmt *q;
	int rc, step, overlap = 0;

	/* every binding of hers: the one she joined with, and her binds */
	if ((rc = batch_stmt(b, B_BINDINGS, &q)))
		return rc;
	sqlite3_bind_int64(q, 1, m);
	while (!overlap && (step = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t term, bat = sqlite3_column_int64(q, 0);
		if ((rc = termination_of(st, sqlite3_column_int64(q, 2), &term)))
			break;
		int64_t bend = binding_end(st, bat, sqlite3_column_int(q, 1), term);
		overlap = bat < end && e->at < bend;
	}
	sqlite3_reset(q);
	if (rc)
		return rc;
	if (overlap)
		return bad(b, e, "member \"%.*s\" already has a binding active at some instant of this one",
			   (int)e->f[F_MEMBER].n, e->f[F_MEMBER].s);
	if (step != SQLITE_DONE)
		return st_sqlfail(st, "reading bindings");
	return 0;
}

/* A member or bind event records its binding's window from the plan for
 * its booking period, once and for all. */
static void window_months(const referral_store *st, struct event_in *e)
{
	snprintf(e->num, sizeof e->num, "%ld", st_plan_for(st, e->booked)->commission_window_months);
}

static int check_rules(referral_batch *b, struct event_in *e)
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
		sqlite3_stmt *q;
		if ((rc = batch_stmt(b, B_LAST_BINDING, &q)))
			return rc;
		sqlite3_bind_int64(q, 1, e->ref1);
		int step = sqlite3_step(q);
		int late = step == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL &&
			   sqlite3_column_int64(q, 0) >= e->at;
		sqlite3_reset(q);
		if (step != SQLITE_ROW)
			return st_sqlfail(st, "reading bindings");
		if (late)
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
		sqlite3_stmt *q = st->q[Q_BY_REF];
		sqlite3_bind_int64(q, 1, e->ref1);
		sqlite3_bind_int(q, 2, REFERRAL_EV_SHARE_BENEFITS);
		int step = sqlite3_step(q);
		sqlite3_reset(q);
		if (step == SQLITE_ROW)
			return bad(b, e, "member \"%.*s\" already has a sharer", (int)e->f[F_TO].n,
				   e->f[F_TO].s);
		if (step != SQLITE_DONE)
			return st_sqlfail(st, "reading sharers");
		return 0;
	}
	case REFERRAL_EV_ORDER:
		if (mpq_sgn(b->a) <= 0)
			return bad_field(b, e, F_AMOUNT, "an amount greater than 0");
		return 0;
	case REFERRAL_EV_REFUND: {
		if (mpq_sgn(b->a) <= 0)
			return bad_field(b, e, F_AMOUNT, "an amount greater than 0");
		sqlite3_stmt *q = st->q[Q_BY_SEQ];
		sqlite3_bind_int64(q, 1, e->ref1);
		int step = sqlite3_step(q);
		if (step == SQLITE_ROW) {
			const char *amount = (const char *)sqlite3_column_text(q, 6);
			dec_parse_signed(b->b, amount);
		}
		sqlite3_reset(q);
		if (step != SQLITE_ROW)
			return st_sqlfail(st, "reading an order");
		mpq_sub(b->b, b->b, b->a); /* what is left after this refund */
		q = st->q[Q_BY_REF];
		sqlite3_bind_int64(q, 1, e->ref1);
		sqlite3_bind_int(q, 2, REFERRAL_EV_REFUND);
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			const char *r = (const char *)sqlite3_column_text(q, 4);
			dec_parse_signed(b->a, r);
			mpq_sub(b->b, b->b, b->a);
		}
		sqlite3_reset(q);
		if (step != SQLITE_DONE)
			return st_sqlfail(st, "reading refunds");
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

static int same_text(sqlite3_stmt *q, int col, const char *s)
{
	const char *t = (const char *)sqlite3_column_text(q, col);
	if (!s || !t)
		return !s && !t;
	return strcmp(s, t) == 0;
}

/* Compares with a stored event of the same key: 1 identical, 0 conflicting
 * (message set), negative on failure. */
static int compare_stored(referral_batch *b, struct event_in *e, sqlite3_stmt *q)
{
	const struct type_spec *sp = &e->spec;
	const char *differs = NULL;

	if (sqlite3_column_int64(q, 1) != e->at)
		differs = "at";
	else if ((sqlite3_column_type(q, 3) == SQLITE_NULL ? 0 : sqlite3_column_int64(q, 3)) != e->ref1)
		differs = sp->ref1 >= 0 ? field_names[sp->ref1] : "reference";
	else if ((sqlite3_column_type(q, 4) == SQLITE_NULL ? 0 : sqlite3_column_int64(q, 4)) != e->ref2)
		differs = sp->ref2 >= 0 ? field_names[sp->ref2] : "reference";
	else if (sp->num >= 0 && !same_text(q, 5, e->num[0] ? e->num : NULL))
		differs = field_names[sp->num];
	else if (!same_text(q, 6, e->txt1))
		differs = e->type == REFERRAL_EV_SHARE ? "distributor/member"
						       : field_names[sp->txt1];
	else if (!same_text(q, 7, e->txt2))
		differs = field_names[sp->txt2];
	if (!differs)
		return 1;
	bad(b, e, "conflicts with the %s \"%.*s\" already stored (different %s)",
	    ev_type_names[e->type], (int)e->f[F_ID].n, e->f[F_ID].s, differs);
	return 0;
}

/* ---- one event ---------------------------------------------------------- */

static void record_error(referral_batch *b, long line, int conflict)
{
	if (conflict)
		b->nconflicts++;
	if (b->nerrors < MAX_REPORTED) {
		struct strbuf full = {0};
		sb_printf(&full, "%s:%ld: %s", b->source, line, sb_str(&b->msg));
		b->errors[b->nerrors] = full.data; /* NULL if out of memory: reported as such */
	}
	b->nerrors++;
}

/* Looks the event's key up in the log: NOT_STORED, 0 when an identical
 * event is there (counted as a duplicate), REFERRAL_ESTATE when a different
 * one is (recorded), or REFERRAL_EIO. `refs` is the status of resolving the
 * references: an event whose references do not resolve cannot be identical. */
#define NOT_STORED (-1)
static int check_stored(referral_batch *b, struct event_in *e, long line, int refs)
{
	struct type_cache *tc = &b->cache[e->type];
	int64_t seq, at;
	int rc;
	if (tc->built) {
		if (!idcache_get(&tc->ids, e->f[F_ID].s, e->f[F_ID].n, &seq, &at))
			return NOT_STORED;
	} else if ((rc = count_lookup(b, e->type))) {
		return rc;
	}
	sqlite3_stmt *q = b->st->q[Q_FIND];
	sqlite3_bind_int(q, 1, e->type);
	sqlite3_bind_text(q, 2, e->f[F_ID].s, (int)e->f[F_ID].n, SQLITE_STATIC);
	int step = sqlite3_step(q);
	if (step != SQLITE_ROW) {
		sqlite3_reset(q);
		return step == SQLITE_DONE ? NOT_STORED : st_sqlfail(b->st, "looking up an event");
	}
	int same = refs ? 0 : compare_stored(b, e, q);
	if (refs)
		bad(b, e, "conflicts with the %s \"%.*s\" already stored (different references)",
		    ev_type_names[e->type], (int)e->f[F_ID].n, e->f[F_ID].s);
	sqlite3_reset(q);
	if (same) {
		b->duplicates++;
		return 0;
	}
	record_error(b, line, 1);
	return REFERRAL_ESTATE;
}

/* Types whose rules do not depend on the log's other events of the same
 * key, so that an identical repeat passes them: for these the common case
 * (a new event) is inserted straight away and the key is looked up only
 * when the insert or a rule fails. */
static int checked_after_insert(int type)
{
	return type == REFERRAL_EV_ORDER || type == REFERRAL_EV_SHARE || type == REFERRAL_EV_STORE ||
	       type == REFERRAL_EV_STORE_RATING || type == REFERRAL_EV_DISTRIBUTOR ||
	       type == REFERRAL_EV_STORE_CHANGE;
}

static int insert_event(referral_store *st, const struct event_in *e)
{
	sqlite3_stmt *q = st->q[Q_INSERT];
	sqlite3_bind_int(q, 1, e->type);
	sqlite3_bind_text(q, 2, e->f[F_ID].s, (int)e->f[F_ID].n, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, e->at);
	sqlite3_bind_int(q, 4, e->booked);
	if (e->ref1)
		sqlite3_bind_int64(q, 5, e->ref1);
	else
		sqlite3_bind_null(q, 5);
	if (e->ref2)
		sqlite3_bind_int64(q, 6, e->ref2);
	else
		sqlite3_bind_null(q, 6);
	if (e->num[0])
		sqlite3_bind_text(q, 7, e->num, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 7);
	sqlite3_bind_text(q, 8, e->txt1, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 9, e->txt2, -1, SQLITE_STATIC);
	int step = sqlite3_step(q);
	sqlite3_reset(q);
	return step;
}

static int ingest_event(referral_batch *b, struct event_in *e, long line)
{
	referral_store *st = b->st;
	int rc, late_check = checked_after_insert(e->type);

	if ((rc = check_fields(b, e)))
		goto rejected;
	int refs = resolve_refs(b, e);
	if (refs == REFERRAL_EIO)
		return refs;
	if (!late_check || refs) {
		rc = check_stored(b, e, line, refs);
		if (rc != NOT_STORED)
			return rc;
	}
	if ((rc = refs))
		goto rejected;
	if ((rc = check_rules(b, e))) {
		if (rc == REFERRAL_EIO)
			return rc;
		if (late_check) {
			/* a stored event under this key makes it a conflict instead */
			int stored = check_stored(b, e, line, REFERRAL_EINPUT);
			if (stored != NOT_STORED)
				return stored;
		}
		goto rejected;
	}
	int step = insert_event(st, e);
	if (step == SQLITE_CONSTRAINT && late_check) {
		rc = check_stored(b, e, line, 0);
		return rc == NOT_STORED ? st_fail(st, REFERRAL_EIO, "storage: a key is both there and not")
					: rc;
	}
	if (step != SQLITE_DONE)
		return st_sqlfail(st, "appending an event");
	struct type_cache *tc = &b->cache[e->type];
	if (tc->built && idcache_put(&tc->ids, e->f[F_ID].s, e->f[F_ID].n,
				     sqlite3_last_insert_rowid(st->db), e->at))
		return st_nomem(st);
	b->ingested++;
	return 0;

rejected:
	record_error(b, line, 0);
	return rc;
}

/* ---- the public calls -------------------------------------------------- */

int referral_batch_begin(referral_store *st, referral_batch **out, const char *source)
{
	if (!out)
		return st ? st_fail(st, REFERRAL_EUSAGE, "no batch pointer given") : REFERRAL_EUSAGE;
	*out = NULL;
	if (!st)
		return REFERRAL_EUSAGE;
	if (st->in_batch)
		return st_fail(st, REFERRAL_EUSAGE, "a batch is already open on this store");
	referral_batch *b = calloc(1, sizeof *b);
	if (!b || !(b->source = strdup(source ? source : "-"))) {
		free(b);
		return st_nomem(st);
	}
	b->st = st;
	mpq_init(b->a);
	mpq_init(b->b);
	int rc = st_begin(st);
	if (!rc)
		rc = st_load_state(st); /* another handle may have closed a period */
	if (rc) {
		st_rollback(st);
		b->done = 1;
		referral_batch_free(b);
		return rc;
	}
	st->in_batch = 1;
	*out = b;
	return 0;
}

/* Reports a storage failure and kills the batch. */
static int batch_died(referral_batch *b, int rc)
{
	b->dead = 1;
	return rc;
}

static int batch_usable(referral_batch *b)
{
	if (!b)
		return REFERRAL_EUSAGE;
	if (b->dead || b->done)
		return st_fail(b->st, REFERRAL_EUSAGE, "the batch is no longer open");
	return 0;
}

static int is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r\n", s[i]))
			return 0;
	return 1;
}

/* In a referral_event, NULL means null for the fields that may be null (a
 * distributor's recruiter, a member's distributor) and absent elsewhere. */
static int c_field_null_means_null(int type, int f)
{
	return (type == REFERRAL_EV_DISTRIBUTOR && f == F_RECRUITER) ||
	       (type == REFERRAL_EV_MEMBER && f == F_DISTRIBUTOR);
}

/* The name of the JSON key whose string value holds byte `pos`, found by
 * walking back over `"key" : "...` from it; NULL if the layout is
 * unexpected. The name is copied into buf. */
static const char *key_before(const char *s, size_t pos, char *buf, size_t cap)
{
	size_t i = pos < 1 ? 0 : pos;
	while (i > 0 && !(s[i - 1] == '"' && (i < 2 || s[i - 2] != '\\')))
		i--; /* to the opening quote of the value */
	if (i == 0)
		return NULL;
	i--;
	while (i > 0 && strchr(" \t", s[i - 1]))
		i--;
	if (i == 0 || s[i - 1] != ':')
		return NULL;
	i--;
	while (i > 0 && strchr(" \t", s[i - 1]))
		i--;
	if (i == 0 || s[i - 1] != '"')
		return NULL;
	size_t end = --i;
	while (i > 0 && s[i - 1] != '"')
		i--;
	if (i == 0 || end - i >= cap)
		return NULL;
	memcpy(buf, s + i, end - i);
	buf[end - i] = '\0';
	return buf;
}

/* A line with invalid UTF-8: names the field, and the event when the rest
 * of the line parses once the bad bytes are masked. */
static void bad_utf8(referral_batch *b, const char *json, size_t len, size_t pos)
{
	char key[64];
	struct event_in e;
	memset(&e, 0, offsetof(struct event_in, num));
	char *copy = malloc(len);
	json_t *root = NULL;
	if (copy) {
		/* mask every byte outside ASCII: enough to read type and id */
		for (size_t i = 0; i < len; i++)
			copy[i] = (unsigned char)json[i] >= 0x80 ? '?' : json[i];
		root = json_loadb(copy, len, 0, NULL);
	}
	json_t *type = root ? json_object_get(root, "type") : NULL;
	json_t *id = root ? json_object_get(root, "id") : NULL;
	for (int t = 1; json_is_string(type) && t <= EV_TYPES; t++)
		if (!strcmp(json_string_value(type), ev_type_names[t]))
			e.type = t;
	if (e.type && json_is_string(id)) {
		e.f[F_ID].state = FS_STRING;
		e.f[F_ID].s = json_string_value(id);
		e.f[F_ID].n = json_string_length(id);
	}
	const char *field = key_before(json, pos, key, sizeof key);
	if (field)
		bad(b, &e, "field \"%s\": expected a UTF-8 string, got invalid UTF-8 at byte %zu",
		    field, pos + 1);
	else
		bad(b, &e, "invalid UTF-8 at byte %zu", pos + 1);
	json_decref(root);
	free(copy);
}

/* The field a JSON key names: 0 .. NFIELDS-1, NFIELDS for "type", -1 for
 * any other key. */
static int key_field(const char *k, size_t n)
{
	if (n == 4 && !memcmp(k, "type", 4))
		return NFIELDS;
	for (int f = 0; f < NFIELDS; f++)
		if (strlen(field_names[f]) == n && !memcmp(field_names[f], k, n))
			return f;
	return -1;
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* A string of printable ASCII without escapes, from after its opening
 * quote: its length in *n, and the position after its closing quote; NULL
 * for anything else. */
static const char *plain_string(const char *p, const char *end, size_t *n)
{
	const char *start = p;
	while (p < end && *p != '"') {
		if (*p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80)
			return NULL;
		p++;
	}
	if (p == end)
		return NULL;
	*n = (size_t)(p - start);
	return p + 1;
}

/* The usual line, read without jansson: a flat object whose keys are "type"
 * and fields of this spec, each once, and whose values are strings of
 * printable ASCII without escapes, or null. Fills the type and the fields
 * of `e` (zeroed) and returns 1; returns 0 for any other line, which jansson
 * then reads, so that every line this declines (bad JSON, escapes, UTF-8,
 * unknown or repeated keys, other value types, an unknown type) gets the
 * handling and the messages it always had. */
static int read_plain(const char *s, size_t len, struct event_in *e)
{
	const char *p = skip_space(s, s + len), *end = s + len, *type = NULL;
	size_t ntype = 0;
	unsigned seen = 0;

	if (p == end || *p++ != '{')
		return 0;
	for (;;) {
		const char *key = (p = skip_space(p, end)) + 1, *val = NULL;
		size_t nkey, nval = 0;
		if (p == end || *p != '"' || !(p = plain_string(p + 1, end, &nkey)))
			return 0;
		int f = key_field(key, nkey);
		if (f < 0 || (seen & 1u << f))
			return 0;
		seen |= 1u << f;
		p = skip_space(p, end);
		if (p == end || *p++ != ':')
			return 0;
		p = skip_space(p, end);
		if (p < end && *p == '"') {
			val = p + 1;
			if (!(p = plain_string(p + 1, end, &nval)))
				return 0;
		} else if (end - p >= 4 && !memcmp(p, "null", 4) && f < NFIELDS) {
			p += 4;
		} else {
			return 0;
		}
		if (f == NFIELDS) {
			type = val;
			ntype = nval;
		} else {
			e->f[f].state = val ? FS_STRING : FS_NULL;
			e->f[f].s = val;
			e->f[f].n = nval;
		}
		p = skip_space(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p == end || *p++ != '}')
			return 0;
		break;
	}
	if (skip_space(p, end) != end || !type)
		return 0;
	for (int t = 1; t <= EV_TYPES; t++)
		if (strlen(ev_type_names[t]) == ntype && !memcmp(ev_type_names[t], type, ntype))
			e->type = t;
	return e->type != 0;
}

/* Records jansson's message about a line that is not JSON. jansson quotes
 * the token it stopped at as raw bytes, where a byte order mark (EF BB BF)
 * would not show: it is shown as U+FEFF. */
static void bad_json(referral_batch *b, const struct event_in *e, const json_error_t *jerr)
{
	const char *bom = strstr(jerr->text, "\xEF\xBB\xBF");
	if (bom)
		bad(b, e, "invalid JSON at column %d: %.*sU+FEFF%s", jerr->column,
		    (int)(bom - jerr->text), jerr->text, bom + 3);
	else
		bad(b, e, "invalid JSON at column %d: %s", jerr->column, jerr->text);
}

int referral_batch_add_json(referral_batch *b, const char *json, size_t len, long line)
{
	int rc = batch_usable(b);
	if (rc)
		return rc;
	if (!json || is_blank(json, len))
		return 0;

	struct event_in e;
	memset(&e, 0, offsetof(struct event_in, num));
	if (read_plain(json, len, &e)) {
		rc = ingest_event(b, &e, line);
		return rc == REFERRAL_EIO ? batch_died(b, rc) : rc;
	}
	memset(&e, 0, offsetof(struct event_in, num));
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_invalid_utf8)
			bad_utf8(b, json, len, (size_t)jerr.position);
		else
			bad_json(b, &e, &jerr);
		record_error(b, line, 0);
		return REFERRAL_EINPUT;
	}
	if (!json_is_object(root)) {
		rc = bad(b, &e, "expected a JSON object");
		goto out;
	}
	json_t *type = json_object_get(root, "type");
	if (!json_is_string(type)) {
		rc = bad(b, &e, type ? "field \"type\": expected a string" : "missing field \"type\"");
		goto out;
	}
	for (int t = 1; t <= EV_TYPES; t++)
		if (!strcmp(json_string_value(type), ev_type_names[t]))
			e.type = t;
	if (!e.type) {
		rc = bad(b, &e, "unknown event type \"%.40s\"", json_string_value(type));
		goto out;
	}
	for (int f = 0; f < NFIELDS; f++) {
		json_t *v = json_object_get(root, field_names[f]);
		struct fval *fv = &e.f[f];
		fv->j = v;
		if (!v)
			fv->state = FS_ABSENT;
		else if (json_is_null(v))
			fv->state = FS_NULL;
		else if (json_is_string(v)) {
			fv->state = FS_STRING;
			fv->s = json_string_value(v);
			fv->n = json_string_length(v);
		} else
			fv->state = FS_OTHER;
	}
	rc = ingest_event(b, &e, line);
	json_decref(root);
	return rc == REFERRAL_EIO ? batch_died(b, rc) : rc;
out:
	json_decref(root);
	record_error(b, line, 0);
	return rc;
}

int referral_batch_add_event(referral_batch *b, const referral_event *ev, long line)
{
	int rc = batch_usable(b);
	if (rc)
		return rc;
	if (!ev)
		return st_fail(b->st, REFERRAL_EUSAGE, "no event given");
	struct event_in e;
	memset(&e, 0, offsetof(struct event_in, num));
	if (ev->type < 1 || ev->type > EV_TYPES) {
		bad(b, &e, "unknown event type %d", ev->type);
		record_error(b, line, 0);
		return REFERRAL_EINPUT;
	}
	e.type = ev->type;
	const char *vals[NFIELDS] = {
		ev->id, ev->at, ev->name, ev->region, ev->kind, ev->store, ev->recruiter,
		ev->distributor, ev->member, ev->from, ev->to, ev->order, ev->amount, ev->rating,
		ev->points
	};
	for (int f = 0; f < NFIELDS; f++) {
		struct fval *fv = &e.f[f];
		if (vals[f]) {
			fv->state = FS_STRING;
			fv->s = vals[f];
			fv->n = strlen(vals[f]);
		} else {
			fv->state = c_field_null_means_null(e.type, f) ? FS_NULL : FS_ABSENT;
		}
	}
	rc = ingest_event(b, &e, line);
	return rc == REFERRAL_EIO ? batch_died(b, rc) : rc;
}

int referral_batch_add_file(referral_batch *b, const char *path)
{
	int rc = batch_usable(b);
	if (rc)
		return rc;
	const char *name = !path || !strcmp(path, "-") ? "-" : path;
	struct linereader lr;
	if (lr_open(&lr, path))
		return st_fail(b->st, REFERRAL_EIO, "%s: cannot open: %s", name, strerror(errno));
	b->file_size = lr.size > 0 ? lr.size : 0;
	b->file_done = 0;
	const char *text;
	size_t n;
	long line = 0;
	int got;
	while ((got = lr_next(&lr, &text, &n)) == 1) {
		line++;
		b->file_done = lr_offset(&lr);
		if (b->st->progress && (line & 0xFFF) == 0)
			b->st->progress(b->st->progress_ctx, "ingest", b->file_done,
					b->file_size ? b->file_size : -1);
		int r = referral_batch_add_json(b, text, n, line);
		if (r == REFERRAL_EIO || r == REFERRAL_EUSAGE) {
			rc = r;
			break;
		}
	}
	/* lines before a read failure may be in: the batch must not commit */
	if (got < 0)
		rc = batch_died(b, st_fail(b->st, REFERRAL_EIO, "%s: %s", name, lr_error(&lr)));
	lr_close(&lr);
	if (!rc)
		st_progress_end(b->st, "ingest", b->file_done);
	b->file_size = b->file_done = 0;
	return rc;
}

/* Frees the id caches and the batch's statements: once the batch is over,
 * only its counts and messages are left to read. */
static void release_lookups(referral_batch *b)
{
	for (int i = 0; i < B_NSTMTS; i++) {
		sqlite3_finalize(b->q[i]);
		b->q[i] = NULL;
	}
	for (int t = 0; t <= EV_TYPES; t++) {
		idcache_free(&b->cache[t].ids);
		b->cache[t] = (struct type_cache){0};
	}
}

int referral_batch_commit(referral_batch *b)
{
	int rc = batch_usable(b);
	if (rc)
		return rc;
	referral_store *st = b->st;
	b->done = 1;
	st->in_batch = 0;
	release_lookups(b);
	if (b->nerrors) {
		st_rollback(st);
		b->ingested = 0;
		rc = b->nconflicts == b->nerrors ? REFERRAL_ESTATE : REFERRAL_EINPUT;
		return st_fail(st, rc, "%ld bad line%s: nothing was stored", b->nerrors,
			       b->nerrors == 1 ? "" : "s");
	}
	return st_commit(st);
}

long referral_batch_ingested(const referral_batch *b) { return b ? b->ingested : 0; }
long referral_batch_duplicates(const referral_batch *b) { return b ? b->duplicates : 0; }
long referral_batch_error_count(const referral_batch *b) { return b ? b->nerrors : 0; }

const char *referral_batch_error(const referral_batch *b, long i)
{
	if (!b || i < 0 || i >= b->nerrors || i >= MAX_REPORTED)
		return NULL;
	return b->errors[i] ? b->errors[i] : "out of memory while recording this error";
}

void referral_batch_free(referral_batch *b)
{
	if (!b)
		return;
	if (!b->done) {
		st_rollback(b->st);
		b->st->in_batch = 0;
	}
	for (long i = 0; i < b->nerrors && i < MAX_REPORTED; i++)
		free(b->errors[i]);
	release_lookups(b);
	sb_free(&b->msg);
	mpq_clear(b->a);
	mpq_clear(b->b);
	free(b->source);
	free(b);
}
