/*
 * ingest.c — the public calls of a batch: one atomic batch of events at a
 * time (docs/formats.md, "Events"), read from JSON Lines or C structs,
 * checked (rules/ingest_rules.c) and appended to the log.
 *
 * A batch holds one transaction of the store open from begin to commit, in
 * which appends are exclusive (TX_APPEND): from before its first line is
 * checked to its end, no other batch appends and no period closes. Each
 * line is checked against the log as it stands inside that transaction,
 * which already holds the batch's earlier good lines, and is appended at
 * once when good, with the next seq. A bad line is recorded and appends
 * nothing, so a later line naming what it would have created is bad too.
 * Commit keeps the transaction only if no line was bad.
 *
 * An engine may leave the exclusivity for later (append_lock()), so that
 * the batches of several processes wait for one another only while they
 * check and append: a batch reading a file then loads the id caches its
 * first chunk of lines shows it will want (below) before it takes the
 * lock, and once it holds it adds what other batches committed meanwhile,
 * the events of a seq above the largest it loaded (batches commit in seq
 * order, so nothing below it can appear later).
 *
 * References are resolved by id. A batch asks the engine at first, as a
 * small batch (an order service adding one order) should. Once it has made
 * enough lookups of one entity type (store, distributor, member, order)
 * for loading them all to pay, it loads every id of that type with its seq
 * and instant into an in-memory cache (idcache.h) in one read, and from
 * then on resolves that type, and tells new keys of it from stored ones,
 * without the engine (or before checking the first line, when the first
 * chunk of a file shows the batch will get there). The threshold is
 * IDCACHE_MIN_LOOKUPS, or
 * 1/CACHE_SHARE of the type's events when that is more: a lookup costs
 * about ten times as much as loading one id, so when the cache is built
 * the batch has already spent on lookups more than half of what the
 * loading costs, and a batch that ends soon after pays at most a few times
 * the cheaper choice. Every event the batch appends afterwards goes into
 * the cache of its type once the append succeeded, so a rejected line
 * never enters it. The cache lives and dies with the batch: nothing else
 * appends while the batch holds the lock, and no later batch sees what a
 * rolled-back one added.
 * A cache takes 32 to 64 bytes an id (2M members take 128 MiB), and is only
 * built by a batch that has made 1/CACHE_SHARE as many lookups as its type
 * has events.
 *
 * A file is read CHUNK_LINES lines at a time, and the keys the chunk's
 * lines will look up (each event's own, and the entities it names) are
 * given to the engine's prefetch() before they are checked, so that an
 * engine that pays a round trip per lookup (PostgreSQL) fetches them all at
 * once; the lines are then checked one by one as ever.
 */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "event.h"
#include "idcache.h"
#include "linereader.h"
#include "timeutil.h"

#define MAX_REPORTED 100
#define CHUNK_LINES 1024

/* A type's id cache is built once the batch has looked up
 * IDCACHE_MIN_LOOKUPS of its ids through the engine, or 1/CACHE_SHARE of the
 * type's events if that is more (see the top of this file). */
#define CACHE_SHARE 16

/* The id cache of one entity type (see the top of this file). */
struct type_cache {
	struct idcache ids;
	int built;       /* ids holds every event of the type in the log */
	long lookups;    /* made through the engine so far */
	long threshold;  /* build once lookups reach it; 0 = not sized yet */
	long count;      /* events of the type when the threshold was sized */
	int64_t last;    /* ids holds every event of the type up to this seq */
};

struct referral_batch {
	referral_store *st;     /* the same as ck.st */
	char *source;
	long ingested, duplicates, nerrors, nconflicts;
	char *errors[MAX_REPORTED];
	int dead;       /* a storage failure happened: only free is left */
	int done;       /* committed or rolled back */
	int locked;     /* appends are exclusive, next_seq is known */
	struct checker ck; /* its message and scratch values */
	int64_t next_seq; /* the seq the next event appended gets */
	struct type_cache cache[EV_TYPES + 1]; /* used for the entity types */
	/* the regular file being read by referral_batch_add_file: its size and
	 * the bytes of it read so far, or 0 and 0 */
	long long file_size, file_done;
};

/* ---- lookups ----------------------------------------------------------- */

/* The types that references name, which get an id cache. */
static int is_entity_type(int type)
{
	return type == REFERRAL_EV_STORE || type == REFERRAL_EV_DISTRIBUTOR ||
	       type == REFERRAL_EV_MEMBER || type == REFERRAL_EV_ORDER;
}

static int load_id(void *ctx, const char *id, size_t n, int64_t seq, int64_t at)
{
	struct idcache_loader *l = ctx;
	return idcache_load(l, id, n, seq, at) ? REFERRAL_EIO : 0;
}

/* Loads every id of `type` in the log (the batch's own events included)
 * into its cache, in one scan of the (type, id) index. Before the batch
 * holds the lock, the log's last seq is read first: the ids loaded then
 * hold every event up to it, and maybe some after. */
static int build_cache(referral_batch *b, int type)
{
	struct type_cache *tc = &b->cache[type];
	if (idcache_reserve(&tc->ids, (size_t)tc->count + (size_t)tc->lookups))
		return st_nomem(b->st);
	struct idcache_loader l = {.c = &tc->ids};
	int rc = b->locked ? 0 : ENG(b->st, last_seq, &tc->last);
	if (!rc)
		rc = ENG(b->st, ids, type, 0, load_id, &l);
	if (!rc && idcache_load_end(&l))
		rc = st_nomem(b->st);
	if (rc) {
		idcache_free(&tc->ids);
		return rc;
	}
	tc->built = 1;
	return 0;
}

struct top_up {
	referral_batch *b;
	struct idcache *ids;
};

static int top_up_id(void *ctx, const char *id, size_t n, int64_t seq, int64_t at)
{
	struct top_up *t = ctx;
	int64_t s, a;
	if (idcache_get(t->ids, id, n, &s, &a))
		return 0; /* loaded already */
	return idcache_put(t->ids, id, n, seq, at) ? st_nomem(t->b->st) : 0;
}

/* Adds to a cache built before the batch took the lock the events of its
 * type committed since: those with a seq above tc->last (batches commit
 * in seq order, so every event up to it was committed when it was read). */
static int top_up_cache(referral_batch *b, int type)
{
	struct top_up t = {b, &b->cache[type].ids};
	return ENG(b->st, ids, type, b->cache[type].last, top_up_id, &t);
}

/* Sizes the threshold of `type` from its number of events, once. */
static int size_threshold(referral_batch *b, int type)
{
	struct type_cache *tc = &b->cache[type];
	long count = 0;
	if (tc->threshold)
		return 0;
	int rc = ENG(b->st, count_type, type, &count);
	if (rc)
		return rc;
	tc->count = count;
	tc->threshold = count / CACHE_SHARE > IDCACHE_MIN_LOOKUPS ? count / CACHE_SHARE
								  : IDCACHE_MIN_LOOKUPS;
	return 0;
}

/* Whether `lookups` made over the first `done` bytes of the file being read
 * will reach `threshold` over all of it, if the rest is like what was read. */
static int file_will_reach(const referral_batch *b, long lookups, long threshold)
{
	return b->file_size > 0 && b->file_done > 0 &&
	       (double)lookups * (double)b->file_size / (double)b->file_done >= (double)threshold;
}

/* Counts one lookup of `type` about to be made through the engine while its
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
		int rc = size_threshold(b, type);
		if (rc)
			return rc;
		/* Reading a file, the batch can tell how many lookups of the type
		 * it will make in all if the rest of the file is like what it has
		 * read: when that reaches the threshold, waiting for it is waste. */
		if (tc->lookups < tc->threshold && !file_will_reach(b, tc->lookups, tc->threshold))
			return 0;
	}
	return build_cache(b, type);
}

/* Makes the batch's appends exclusive (see the top of this file) if they
 * are not yet, tops up the caches loaded before, and reads what the
 * batch's checks start from: the closed periods and the last seq. A
 * failure kills the batch. */
static int lock_batch(referral_batch *b)
{
	referral_store *st = b->st;
	int rc = 0;
	if (b->locked)
		return 0;
	if (st->eng->ops->append_lock) {
		rc = ENG(st, append_lock);
		for (int t = 1; t <= EV_TYPES && !rc; t++)
			if (b->cache[t].built)
				rc = top_up_cache(b, t);
	}
	if (!rc)
		rc = st_load_state(st); /* another handle may have closed a period */
	if (!rc && !(rc = ENG(st, last_seq, &b->next_seq)))
		b->next_seq++;
	if (rc) {
		b->dead = 1;
		return rc;
	}
	b->locked = 1;
	return 0;
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
	struct ev_row row;
	found = ENG(b->st, find, type, id, n, &row);
	if (found == 1) {
		*seq = row.seq;
		*at = row.at;
	}
	return found;
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
			msg_head(&b->ck, e);
			explain_ref(&b->ck, e, f);
			sb_puts(&b->ck.msg, " does not exist");
			return REFERRAL_EINPUT;
		}
	}
	return 0;
}

/* ---- one event ---------------------------------------------------------- */

static void record_error(referral_batch *b, long line, int conflict)
{
	if (conflict)
		b->nconflicts++;
	if (b->nerrors < MAX_REPORTED) {
		struct strbuf full = {0};
		const char *m = sb_str(&b->ck.msg), *bom;
		int failed = sb_printf(&full, "%s:%ld: ", b->source, line);
		/* a byte order mark in what the message quotes would not show */
		while (!failed && (bom = strstr(m, "\xEF\xBB\xBF"))) {
			failed = sb_append(&full, m, (size_t)(bom - m)) || sb_puts(&full, "U+FEFF");
			m = bom + 3;
		}
		if (failed || b->ck.msg.failed || sb_puts(&full, m))
			sb_free(&full);
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
	struct ev_row row;
	int found = ENG(b->st, find, e->type, e->f[F_ID].s, e->f[F_ID].n, &row);
	if (found <= 0)
		return found == 0 ? NOT_STORED : -found;
	int same = refs ? 0 : compare_stored(&b->ck, e, &row);
	if (refs)
		bad(&b->ck, e, "conflicts with the %s \"%.*s\" already stored (different references)",
		    ev_type_names[e->type], (int)e->f[F_ID].n, e->f[F_ID].s);
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

/* Appends the event with the batch's next seq: 0, ENGINE_EXISTS, or a status. */
static int insert_event(referral_batch *b, const struct event_in *e)
{
	struct ev_row r = {
		.seq = b->next_seq,
		.at = e->at,
		.ref1 = e->ref1,
		.ref2 = e->ref2,
		.type = e->type,
		.booked = e->booked,
		.id = e->f[F_ID].s,
		.idlen = e->f[F_ID].n,
		.num = e->num[0] ? e->num : NULL,
		.txt1 = e->txt1,
		.txt2 = e->txt2,
	};
	int rc = ENG(b->st, append, &r, 1);
	if (!rc)
		b->next_seq++;
	return rc;
}

static int ingest_event(referral_batch *b, struct event_in *e, long line)
{
	referral_store *st = b->st;
	int rc, late_check = checked_after_insert(e->type);

	if ((rc = lock_batch(b)))
		return rc;
	if ((rc = check_fields(&b->ck, e)))
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
	if ((rc = check_rules(&b->ck, e))) {
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
	int64_t seq = b->next_seq;
	int step = insert_event(b, e);
	if (step == ENGINE_EXISTS && late_check) {
		rc = check_stored(b, e, line, 0);
		return rc == NOT_STORED ? st_fail(st, REFERRAL_EIO, "storage: a key is both there and not")
					: rc;
	}
	if (step == ENGINE_EXISTS)
		return st_fail(st, REFERRAL_EIO, "storage: a key checked as new is already stored");
	if (step)
		return step;
	struct type_cache *tc = &b->cache[e->type];
	if (tc->built && idcache_put(&tc->ids, e->f[F_ID].s, e->f[F_ID].n, seq, e->at))
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
	b->ck.st = st;
	mpq_init(b->ck.a);
	mpq_init(b->ck.b);
	int rc = ENG(st, begin, TX_APPEND);
	/* exclusive already: read where the batch starts from at once */
	if (!rc && !st->eng->ops->append_lock)
		rc = lock_batch(b);
	if (rc) {
		ENG(st, rollback);
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

/* A line of JSON: `plain` is the line already read by read_plain when it
 * could be (a file's lines are read ahead), or NULL. */
static int add_json(referral_batch *b, const char *json, size_t len, long line,
		    struct event_in *plain)
{
	int rc = batch_usable(b);
	if (rc)
		return rc;
	if (!json || is_blank(json, len))
		return 0;

	struct event_in e;
	if (plain || (memset(&e, 0, offsetof(struct event_in, num)), read_plain(json, len, &e))) {
		rc = ingest_event(b, plain ? plain : &e, line);
		return rc == REFERRAL_EIO ? batch_died(b, rc) : rc;
	}
	memset(&e, 0, offsetof(struct event_in, num));
	json_error_t jerr;
	json_t *root = load_line(json, len, &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return batch_died(b, st_nomem(b->st));
		if (json_error_code(&jerr) == json_error_invalid_utf8)
			bad_utf8(&b->ck, json, len, (size_t)jerr.position);
		else
			bad(&b->ck, &e, "invalid JSON at column %d: %s", jerr.column, jerr.text);
		record_error(b, line, 0);
		return REFERRAL_EINPUT;
	}
	if (!json_is_object(root)) {
		rc = bad(&b->ck, &e, "expected a JSON object");
		goto out;
	}
	json_t *type = json_object_get(root, "type");
	if (!json_is_string(type)) {
		rc = bad(&b->ck, &e, type ? "field \"type\": expected a string" : "missing field \"type\"");
		goto out;
	}
	for (int t = 1; t <= EV_TYPES; t++)
		if (!strcmp(json_string_value(type), ev_type_names[t]))
			e.type = t;
	if (!e.type) {
		rc = bad(&b->ck, &e, "unknown event type \"%.40s\"", json_string_value(type));
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

int referral_batch_add_json(referral_batch *b, const char *json, size_t len, long line)
{
	return add_json(b, json, len, line, NULL);
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
		bad(&b->ck, &e, "unknown event type %d", ev->type);
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

/* Lines of a file read ahead (see the top of this file). */
struct chunk {
	struct strbuf text;                /* the lines, one after the other */
	size_t at[CHUNK_LINES + 1];        /* where each starts; at[n]: the end */
	long long offset[CHUNK_LINES];     /* the file's offset after each */
	int n;
};

/* A key a line looks up. */
struct line_key {
	int type, own; /* own: the event's own key, else an entity it names */
	const char *id;
	size_t n;
};

/* The keys line i of the chunk looks up, its own and those of the
 * entities it names, into k: how many (none when it is not a plain line,
 * read_plain). The ids point into the chunk. */
static int line_keys(const struct chunk *c, int i, struct line_key k[3])
{
	struct event_in e;
	int n = 0;
	memset(&e, 0, offsetof(struct event_in, num));
	if (!read_plain(c->text.data + c->at[i], c->at[i + 1] - c->at[i], &e))
		return 0;
	const struct type_spec *sp = type_spec_of(e.type);
	int fields[3] = {F_ID, sp->ref1, sp->ref2}, of[3] = {e.type, sp->ref1_type, sp->ref2_type};
	for (int j = 0; j < 3; j++)
		if (fields[j] >= 0 && e.f[fields[j]].state == FS_STRING)
			k[n++] = (struct line_key){of[j], j == 0, e.f[fields[j]].s, e.f[fields[j]].n};
	return n;
}

/* Before the batch checks its first line, which is in chunk c: builds the
 * id caches that the lookups of the chunk show the batch would build
 * (count_lookup), so that an engine that makes a batch exclusive only
 * from its first check (append_lock) has them loaded before. */
static int early_caches(referral_batch *b, const struct chunk *c)
{
	long want[EV_TYPES + 1] = {0}, all = 0;
	struct line_key k[3];
	for (int i = 0; i < c->n; i++)
		for (int j = 0, n = line_keys(c, i, k); j < n; j++)
			if (is_entity_type(k[j].type) && !(k[j].own && checked_after_insert(k[j].type))) {
				want[k[j].type]++;
				all++;
			}
	b->file_done = c->offset[c->n - 1];
	/* a large file: the counts that size the thresholds are taken here
	 * too, for every type it looks up, rather than while others wait */
	if (!file_will_reach(b, all, IDCACHE_MIN_LOOKUPS))
		return 0;
	for (int t = 1; t <= EV_TYPES; t++) {
		struct type_cache *tc = &b->cache[t];
		if (tc->built || !want[t])
			continue;
		int rc = size_threshold(b, t);
		if (!rc && file_will_reach(b, want[t], tc->threshold))
			rc = build_cache(b, t);
		if (rc)
			return rc;
	}
	return 0;
}

/* Gives the engine the keys the chunk's lines will look up: each event's
 * own key, and those of the entities it names that the batch does not
 * resolve from a cache, for the lines that are plain ones (read_plain). A
 * bind's member goes too, cached or not: her own event holds the binding
 * the bind's check reads, which an engine may then fetch with the rest. */
static int prefetch_chunk(referral_batch *b, const struct chunk *c)
{
	size_t cap = (size_t)c->n * 3, n = 0;
	int *types = malloc(cap * sizeof *types);
	const char **ids = malloc(cap * sizeof *ids);
	size_t *lens = malloc(cap * sizeof *lens);
	int rc = 0;
	struct line_key k[3];
	if (!types || !ids || !lens)
		rc = st_nomem(b->st);
	for (int i = 0; i < c->n && !rc; i++) {
		int m = line_keys(c, i, k);
		int bind = m > 0 && k[0].own && k[0].type == REFERRAL_EV_BIND;
		for (int j = 0; j < m; j++) {
			if (!k[j].own && b->cache[k[j].type].built &&
			    !(bind && k[j].type == REFERRAL_EV_MEMBER))
				continue;
			types[n] = k[j].type;
			ids[n] = k[j].id;
			lens[n++] = k[j].n;
		}
	}
	struct prefetch want = {n, types, ids, lens};
	if (!rc && n)
		rc = ENG(b->st, prefetch, &want);
	free(types);
	free(ids);
	free(lens);
	return rc;
}

/* How many lines ahead of the one being checked a file's lines are read
 * (read_plain), so that the slots of the id caches their references will
 * look up are fetched from memory meanwhile: otherwise each lookup of a
 * large cache (two million members) waits for memory. */
#define READ_AHEAD 8

struct ahead {
	struct event_in e;
	int plain; /* read by read_plain */
};

/* Reads line i of the chunk into a, and prefetches the cache slots of the
 * entities it names. */
static void read_ahead(referral_batch *b, const struct chunk *c, int i, struct ahead *a)
{
	struct event_in *e = &a->e;
	memset(e, 0, offsetof(struct event_in, num));
	a->plain = read_plain(c->text.data + c->at[i], c->at[i + 1] - c->at[i], e);
	if (!a->plain)
		return;
	const struct type_spec *sp = type_spec_of(e->type);
	/* a share names a distributor or a member */
	int fields[3] = {sp->ref1, sp->ref2, e->type == REFERRAL_EV_SHARE ? F_MEMBER : -1};
	int types[3] = {sp->ref1_type, sp->ref2_type, REFERRAL_EV_MEMBER};
	for (int k = 0; k < 3; k++)
		if (fields[k] >= 0 && e->f[fields[k]].state == FS_STRING && b->cache[types[k]].built)
			idcache_prefetch(&b->cache[types[k]].ids, e->f[fields[k]].s,
					 e->f[fields[k]].n);
}

/* Reads up to CHUNK_LINES lines into c: lr_next's last answer (1: more
 * may come). */
static int read_chunk(referral_batch *b, struct linereader *lr, struct chunk *c, int *nomem)
{
	const char *text;
	size_t n;
	int got = 1;
	c->n = 0;
	sb_reset(&c->text);
	while (c->n < CHUNK_LINES && (got = lr_next(lr, &text, &n)) == 1) {
		c->at[c->n] = c->text.len;
		if (sb_append(&c->text, text, n)) {
			*nomem = st_nomem(b->st);
			break;
		}
		c->offset[c->n++] = lr_offset(lr);
	}
	c->at[c->n] = c->text.len;
	return got;
}

int referral_batch_add_file(referral_batch *b, const char *path)
{
	int rc = batch_usable(b);
	if (rc)
		return rc;
	const char *name = !path || !strcmp(path, "-") ? "-" : path;
	struct linereader lr;
	struct chunk *c = calloc(1, sizeof *c);
	struct ahead *ring = calloc(READ_AHEAD + 1, sizeof *ring);
	if (!c || !ring) {
		free(c);
		free(ring);
		return batch_died(b, st_nomem(b->st));
	}
	if (lr_open(&lr, path)) {
		free(c);
		free(ring);
		return st_fail(b->st, REFERRAL_EIO, "%s: cannot open: %s", name, strerror(errno));
	}
	b->file_size = lr.size > 0 ? lr.size : 0;
	b->file_done = 0;
	long line = 0;
	int got = 1;
	while (!rc && got == 1) {
		got = read_chunk(b, &lr, c, &rc);
		if (!rc && c->n && !b->locked && !(rc = early_caches(b, c)))
			rc = lock_batch(b);
		if (!rc && c->n && b->st->eng->ops->prefetch)
			rc = prefetch_chunk(b, c);
		if (rc) {
			rc = batch_died(b, rc);
			break;
		}
		for (int i = 0; i < c->n && i < READ_AHEAD; i++)
			read_ahead(b, c, i, &ring[i]);
		for (int i = 0; i < c->n; i++) {
			line++;
			b->file_done = c->offset[i];
			if (b->st->progress && (line & 0xFFF) == 0)
				b->st->progress(b->st->progress_ctx, "ingest", b->file_done,
						b->file_size ? b->file_size : -1);
			if (i + READ_AHEAD < c->n)
				read_ahead(b, c, i + READ_AHEAD, &ring[(i + READ_AHEAD) % (READ_AHEAD + 1)]);
			struct ahead *a = &ring[i % (READ_AHEAD + 1)];
			int r = add_json(b, c->text.data + c->at[i], c->at[i + 1] - c->at[i], line,
					 a->plain ? &a->e : NULL);
			if (r == REFERRAL_EIO || r == REFERRAL_EUSAGE) {
				rc = r;
				break;
			}
		}
	}
	/* lines before a read failure may be in: the batch must not commit */
	if (got < 0 && !rc)
		rc = batch_died(b, st_fail(b->st, REFERRAL_EIO, "%s: %s", name, lr_error(&lr)));
	sb_free(&c->text);
	free(c);
	free(ring);
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
		ENG(st, rollback);
		b->ingested = 0;
		rc = b->nconflicts == b->nerrors ? REFERRAL_ESTATE : REFERRAL_EINPUT;
		return st_fail(st, rc, "%ld bad line%s: nothing was stored", b->nerrors,
			       b->nerrors == 1 ? "" : "s");
	}
	return ENG(st, commit);
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
		ENG(b->st, rollback);
		b->st->in_batch = 0;
	}
	for (long i = 0; i < b->nerrors && i < MAX_REPORTED; i++)
		free(b->errors[i]);
	release_lookups(b);
	sb_free(&b->ck.msg);
	mpq_clear(b->ck.a);
	mpq_clear(b->ck.b);
	free(b->source);
	free(b);
}
