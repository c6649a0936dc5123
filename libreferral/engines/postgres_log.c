/*
 * postgres_log.c — the PostgreSQL engine's event log: appending a batch's
 * events, and the lookups ingest and points make against it. The lookups
 * of a key or a seq and the insert are prepared once per connection;
 * prefetch() answers a chunk's keys with one query.
 *
 * An event whose key prefetch() found missing, and that the batch has not
 * appended since, is new for sure (the batch holds the append lock): its
 * append is only written to the pending COPY text, which goes to the
 * server in one COPY before the next statement the engine runs (pg_flush),
 * at the latest at commit. A batch of a file thus costs a query per chunk
 * and a COPY, not a round trip per event. Any other append is an INSERT
 * that tells a stored key at once.
 *
 * events_by_ref leaves out the orders and shares (postgres.h, PG_BY_REF),
 * so a member's orders and member shares are found through member_events,
 * which maps each member to the seqs of hers up to the seq in
 * member_events_mark, and through the log after that seq, read by seq. A
 * redeem's check runs inside a batch, which holds the append lock: when
 * the log has grown past the mark by MEMBER_EVENTS_TAIL events or more, it
 * first adds the newer orders and member shares to member_events and moves
 * the mark. A brand that never redeems never fills it, and ingest of
 * orders never touches it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

#define EVENT_COLS "seq, at, booked, ref1, ref2, num, txt1, txt2, type, id"

/* How far the log may run past member_events before a redeem's check adds
 * what is newer: the check reads that many events of the log at most. */
#define MEMBER_EVENTS_TAIL 4096

static const char find_sql[] = "SELECT " EVENT_COLS " FROM events WHERE type = $1 AND id = $2";
static const char get_sql[] = "SELECT " EVENT_COLS " FROM events WHERE seq = $1";
/* a key already stored inserts nothing: the batch then looks at it (the
 * transaction goes on, which a unique violation would end) */
static const char insert_sql[] =
	"INSERT INTO events(seq, type, id, at, booked, ref1, ref2, num, txt1, txt2)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (type, id) DO NOTHING";

/* ---- prepared statements ---------------------------------------------------------- */

static int prepare_all(struct pg_engine *p)
{
	static const char *const names[] = {"referral_find", "referral_get", "referral_insert"};
	const char *const sql[] = {find_sql, get_sql, insert_sql};
	for (int i = 0; i < 3; i++) {
		int rc = pg_idle(p);
		if (rc)
			return rc;
		p->sql = sql[i];
		PGresult *res = PQprepare(p->conn, names[i], sql[i], 0, NULL);
		if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
			return pg_fail(p, res, "preparing a statement");
		PQclear(res);
	}
	p->prepared = 1;
	return 0;
}

/* Runs the prepared statement `name` (of `sql`): its result, or NULL with
 * the failure in *rc. */
static PGresult *exec_prepared(struct pg_engine *p, const char *name, const char *sql, int n,
			       const char *const *vals, const char *what, int *rc)
{
	if ((!p->prepared && (*rc = prepare_all(p))) ||
	    (p->npending && !p->keep_pending && (*rc = pg_flush(p))))
		return NULL;
	p->keep_pending = 0;
	if ((*rc = pg_idle(p)))
		return NULL;
	p->sql = sql;
	PGresult *res = PQexecPrepared(p->conn, name, n, vals, NULL, NULL, 0);
	ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
		*rc = 0;
		return res;
	}
	*rc = pg_fail(p, res, what);
	return NULL;
}

/* Keeps `res` as the handle's lookup row (lent until the next lookup): 1
 * with its first row in *out, 0 if it has none. */
static int keep_row(struct pg_engine *p, PGresult *res, struct ev_row *out)
{
	if (PQntuples(res) < 1) {
		PQclear(res);
		return 0;
	}
	PQclear(p->row_res);
	p->row_res = res;
	pg_event_row(res, 0, out);
	return 1;
}

/* ---- prefetch ------------------------------------------------------------------ */

/* What prefetch() fetched: the rows found, sorted by (type, id), and the
 * keys asked for, sorted likewise, once each. A key asked for and not found
 * is not in the log until the batch appends it (appended). */
struct key {
	int type;
	size_t n;
	char *id;     /* owned by keys[], lent by res in rows[] */
	int row;      /* rows[]: the row of res */
	int appended; /* keys[]: appended since (it is no longer missing) */
};

struct seq_row {
	int64_t seq;
	int row;
};

struct pg_prefetched {
	PGresult *res;
	struct key *rows; /* res's rows by key */
	int nrows;
	struct seq_row *by_seq; /* res's rows by seq, for get() */
	struct key *keys;
	size_t nkeys;
	/* the stored refunds of the orders res holds, by order (amounts lent
	 * by refunds_res), so that a refund's check of what its order has
	 * left costs no round trip; and the refunds the server did not hold
	 * when they were read: those pending then, and those the batch
	 * appended since (amounts owned) */
	PGresult *refunds_res;
	struct pg_refund *refunds;
	int nrefunds;
	int64_t *orders; /* the orders res holds, sorted */
	int norders;
	struct pg_refund *added;
	size_t nadded, cap_added;
};

static int refund_push(struct pg_refund **list, size_t *n, size_t *cap, int64_t order,
		       const char *amount);
static void refunds_clear(struct pg_refund *list, size_t *n);
static int flush(struct pg_engine *p, int wait);

void pg_prefetch_forget(struct pg_engine *p)
{
	struct pg_prefetched *f = p->pre;
	if (!f)
		return;
	for (size_t i = 0; i < f->nkeys; i++)
		free(f->keys[i].id);
	for (size_t i = 0; i < f->nadded; i++)
		free(f->added[i].amount);
	free(f->keys);
	free(f->rows);
	free(f->by_seq);
	free(f->refunds);
	free(f->orders);
	free(f->added);
	PQclear(f->refunds_res);
	PQclear(f->res);
	free(f);
	p->pre = NULL;
}

static int key_cmp(int ta, const char *a, size_t na, int tb, const char *b, size_t nb)
{
	if (ta != tb)
		return ta < tb ? -1 : 1;
	int c = memcmp(a, b, na < nb ? na : nb);
	return c ? c : na < nb ? -1 : na > nb;
}

static int keys_cmp(const void *x, const void *y)
{
	const struct key *a = x, *b = y;
	return key_cmp(a->type, a->id, a->n, b->type, b->id, b->n);
}

/* Appends `s` as an element of a PostgreSQL array literal. */
static int array_elem(struct strbuf *b, const char *s, size_t n, int first)
{
	int bad = sb_putc(b, first ? '{' : ',') || sb_putc(b, '"');
	for (size_t i = 0; i < n && !bad; i++)
		bad = (s[i] == '"' || s[i] == '\\') && sb_putc(b, '\\') ? 1 : sb_putc(b, s[i]);
	return bad || sb_putc(b, '"');
}

static int seq_rows_cmp(const void *x, const void *y)
{
	const struct seq_row *a = x, *b = y;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int seqs_cmp(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

static int refunds_cmp(const void *x, const void *y)
{
	return seqs_cmp(&((const struct pg_refund *)x)->order,
			&((const struct pg_refund *)y)->order);
}

/* Sorts what prefetch() found by seq, and fetches the stored refunds of
 * the orders among it in one more query. */
static int index_rows(struct pg_engine *p, struct pg_prefetched *f)
{
	struct strbuf list = {0};
	int rc = 0;
	f->by_seq = malloc(((size_t)f->nrows + 1) * sizeof *f->by_seq);
	f->orders = malloc(((size_t)f->nrows + 1) * sizeof *f->orders);
	if (!f->by_seq || !f->orders)
		return st_nomem(p->base.st);
	for (int i = 0; i < f->nrows; i++) {
		f->by_seq[i] = (struct seq_row){pg_int(f->res, i, 0), i};
		if (pg_int(f->res, i, 8) != REFERRAL_EV_ORDER)
			continue;
		int64_t order = pg_int(f->res, i, 0);
		if (sb_printf(&list, "%c%lld", f->norders ? ',' : '{', (long long)order)) {
			sb_free(&list);
			return st_nomem(p->base.st);
		}
		f->orders[f->norders++] = order;
	}
	qsort(f->by_seq, (size_t)f->nrows, sizeof *f->by_seq, seq_rows_cmp);
	if (!f->norders)
		return 0;
	qsort(f->orders, (size_t)f->norders, sizeof *f->orders, seqs_cmp);
	const char *vals[1] = {sb_putc(&list, '}') ? NULL : sb_str(&list)};
	if (!vals[0]) {
		sb_free(&list);
		return st_nomem(p->base.st);
	}
	/* type + 0: never the stream's index (see pg_refunds) */
	p->keep_pending = 1;
	f->refunds_res = pg_exec(p, "SELECT ref1, num FROM events WHERE ref1 = ANY($1::bigint[])"
				    " AND type + 0 = 10 AND " PG_BY_REF(""),
				 1, vals, "reading refunds", &rc);
	sb_free(&list);
	if (!f->refunds_res)
		return rc;
	f->nrefunds = PQntuples(f->refunds_res);
	if (!(f->refunds = malloc(((size_t)f->nrefunds + 1) * sizeof *f->refunds)))
		return st_nomem(p->base.st);
	for (int i = 0; i < f->nrefunds; i++)
		f->refunds[i] = (struct pg_refund){pg_int(f->refunds_res, i, 0),
						      PQgetvalue(f->refunds_res, i, 1)};
	qsort(f->refunds, (size_t)f->nrefunds, sizeof *f->refunds, refunds_cmp);
	return 0;
}

/* The keys the last prefetch() found missing and the batch appended
 * since, while those events are still pending: the next query cannot see
 * them. Takes their ids out of p->pre (sorted as its keys are). */
static struct key *pending_keys(struct pg_engine *p, size_t *n)
{
	struct pg_prefetched *f = p->pre;
	*n = 0;
	if (!f || !p->npending)
		return NULL;
	struct key *k = malloc((f->nkeys + 1) * sizeof *k);
	for (size_t i = 0; k && i < f->nkeys; i++)
		if (f->keys[i].appended) {
			k[(*n)++] = f->keys[i];
			f->keys[i].id = NULL;
		}
	return k;
}

/* Of the keys asked for, those still pending are appended events (1), to
 * be looked up once sent; and the refunds pending are what the stored
 * ones lack. Then sends what is pending, without waiting: the server
 * stores it while the batch checks the chunk. */
static int after_prefetch(struct pg_engine *p, struct key *carried, size_t ncarried)
{
	struct pg_prefetched *f = p->pre;
	for (size_t i = 0; i < ncarried; i++) {
		struct key *asked = bsearch(&carried[i], f->keys, f->nkeys, sizeof *f->keys, keys_cmp);
		if (asked)
			asked->appended = 1;
	}
	/* the pending refunds become the first added: the flush below would
	 * only free them */
	f->added = p->pending_refunds;
	f->nadded = p->npending_refunds;
	f->cap_added = p->cap_pending_refunds;
	p->pending_refunds = NULL;
	p->npending_refunds = p->cap_pending_refunds = 0;
	return flush(p, 0);
}

int pg_prefetch(struct engine *e, const struct prefetch *want)
{
	struct pg_engine *p = pg(e);
	struct strbuf types = {0}, ids = {0};
	int rc = 0, bad = 0;
	size_t ncarried = 0;
	struct key *carried = pending_keys(p, &ncarried);
	if (p->npending && p->pre && !carried)
		return st_nomem(e->st);
	pg_prefetch_forget(p);
	struct pg_prefetched *f = want->n ? calloc(1, sizeof *f) : NULL;
	if (!want->n || !f || !(f->keys = calloc(want->n, sizeof *f->keys))) {
		free(f);
		for (size_t i = 0; i < ncarried; i++)
			free(carried[i].id);
		free(carried);
		return want->n ? st_nomem(e->st) : 0;
	}
	p->pre = f;
	for (size_t i = 0; i < want->n && !bad; i++) {
		struct key *k = &f->keys[f->nkeys++];
		k->type = want->type[i];
		k->n = want->idlen[i];
		bad = !(k->id = malloc(k->n + 1)) ||
		      sb_printf(&types, "%c%d", i ? ',' : '{', want->type[i]) ||
		      array_elem(&ids, want->id[i], want->idlen[i], i == 0);
		if (k->id)
			memcpy(k->id, want->id[i], k->n);
	}
	if (bad || sb_putc(&types, '}') || sb_putc(&ids, '}')) {
		rc = st_nomem(e->st);
		goto out;
	}
	qsort(f->keys, f->nkeys, sizeof *f->keys, keys_cmp);
	size_t kept = 0; /* each key once: its appended flag is then the one */
	for (size_t i = 0; i < f->nkeys; i++) {
		if (kept && !keys_cmp(&f->keys[kept - 1], &f->keys[i]))
			free(f->keys[i].id);
		else
			f->keys[kept++] = f->keys[i];
	}
	f->nkeys = kept;
	const char *vals[2] = {sb_str(&types), sb_str(&ids)};
	p->keep_pending = 1; /* sent after the query: see after_prefetch() */
	/* one probe of the key's index a key: LIMIT keeps the planner from
	 * joining the keys by hashing the whole log, which it does when the
	 * statistics have not caught up with a large first load */
	f->res = pg_exec(p, "SELECT e.seq, e.at, e.booked, e.ref1, e.ref2, e.num, e.txt1, e.txt2,"
			    " e.type, e.id FROM unnest($1::integer[], $2::text[]) AS k(type, id)"
			    " CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.type = k.type"
			    " AND e.id = k.id COLLATE \"C\" LIMIT 1) e",
			 2, vals, "looking up ids", &rc);
	if (!f->res)
		goto out;
	f->nrows = PQntuples(f->res);
	if (!(f->rows = malloc(((size_t)f->nrows + 1) * sizeof *f->rows))) {
		rc = st_nomem(e->st);
		goto out;
	}
	for (int i = 0; i < f->nrows; i++)
		f->rows[i] = (struct key){(int)pg_int(f->res, i, 8), (size_t)PQgetlength(f->res, i, 9),
					  PQgetvalue(f->res, i, 9), i, 0};
	qsort(f->rows, (size_t)f->nrows, sizeof *f->rows, keys_cmp);
	if (!(rc = index_rows(p, f)))
		rc = after_prefetch(p, carried, ncarried);
out:
	for (size_t i = 0; i < ncarried; i++)
		free(carried[i].id);
	free(carried);
	sb_free(&types);
	sb_free(&ids);
	if (rc)
		pg_prefetch_forget(p);
	return rc;
}

/* What prefetch() knows of (type, id): 1 found (row in *out, when out),
 * 0 not in the log, -1 not known. *missing is the key's entry when 0. */
static int prefetched(struct pg_engine *p, int type, const char *id, size_t n, struct ev_row *out,
		      struct key **missing)
{
	struct pg_prefetched *f = p->pre;
	if (!f || !f->res)
		return -1;
	struct key k = {type, n, (char *)id, 0, 0};
	const struct key *hit = bsearch(&k, f->rows, (size_t)f->nrows, sizeof k, keys_cmp);
	if (hit) {
		if (out)
			pg_event_row(f->res, hit->row, out);
		return 1;
	}
	struct key *asked = bsearch(&k, f->keys, f->nkeys, sizeof k, keys_cmp);
	if (!asked || asked->appended)
		return -1;
	if (missing)
		*missing = asked;
	return 0;
}

/* The row of seq that prefetch() found: 1 (in *out) or 0. */
static int prefetched_seq(struct pg_engine *p, int64_t seq, struct ev_row *out)
{
	struct pg_prefetched *f = p->pre;
	struct seq_row k = {seq, 0};
	const struct seq_row *hit =
		f && f->by_seq ? bsearch(&k, f->by_seq, (size_t)f->nrows, sizeof k, seq_rows_cmp) : NULL;
	if (hit)
		pg_event_row(f->res, hit->row, out);
	return hit != NULL;
}

/* Calls cb with the amount of each refund of `order`, when prefetch()
 * knows them all: 1 (with cb's status in *rc) or 0. */
static int prefetched_refunds(struct pg_engine *p, int64_t order,
			      int (*cb)(void *ctx, const char *amount), void *ctx, int *rc)
{
	struct pg_prefetched *f = p->pre;
	if (!f || !f->norders || !bsearch(&order, f->orders, (size_t)f->norders, sizeof order, seqs_cmp))
		return 0;
	struct pg_refund k = {order, NULL};
	const struct pg_refund *r =
		bsearch(&k, f->refunds, (size_t)f->nrefunds, sizeof k, refunds_cmp);
	*rc = 0;
	while (r && r > f->refunds && r[-1].order == order)
		r--;
	for (; r && r < f->refunds + f->nrefunds && r->order == order && !*rc; r++)
		*rc = cb(ctx, r->amount);
	for (size_t i = 0; i < f->nadded && !*rc; i++)
		if (f->added[i].order == order)
			*rc = cb(ctx, f->added[i].amount);
	return 1;
}

/* A refund was appended: prefetch()'s answers about its order include it
 * from now on. 0, or 1 when memory is short. */
static int prefetch_note(struct pg_engine *p, const struct ev_row *r)
{
	struct pg_prefetched *f = p->pre;
	if (!f || r->type != REFERRAL_EV_REFUND || !f->norders)
		return 0;
	return refund_push(&f->added, &f->nadded, &f->cap_added, r->ref1, r->num);
}

/* ---- what the transaction's lookups remember ---------------------------------- */

/* first_by_ref()'s answers by (ref1, type), in an open-addressed table:
 * ingest asks for the same distributor's termination and the same member's
 * sharer line after line. An append of an event updates the entry of its
 * (ref1, type); the table is forgotten at each transaction's start and end. */
struct memo_entry {
	int64_t ref1;
	int type;
	int found; /* 1, 0, or -1: a free slot */
	int64_t at;
};

#define MEMO_SLOTS (1u << 14) /* a power of two */

/* The events of one type by ref1, loaded in one query once a transaction
 * has asked the server TABLE_AFTER times about that type: a batch of the
 * network checks a termination for each of its members and binds, among
 * 100,000 distributors or more, which the memo above cannot hold, and a
 * bind's check asks for the member's binds. Terminations and sharers
 * (their first instant by ref1) and binds are few beside the log, and
 * under the append lock a table, with what the batch appends noted into
 * it, is the log's. With the member's own event from the chunk's
 * prefetch, a bind's check then makes no round trip. */
#define TABLE_AFTER 1024

struct pg_table {
	int loaded;
	unsigned misses;
	struct idmap map; /* ref1 -> index of its last entry in e */
	struct {
		int64_t at, dist; /* dist, months: a bind's */
		int months;
		int32_t prev; /* the entry of the same ref1 before, or -1 */
	} *e;
	size_t n, cap;
};

enum { T_TERMINATIONS, T_SHARERS, T_BINDS, T_TABLES };

struct pg_memo {
	struct memo_entry slot[MEMO_SLOTS];
	size_t used;
	struct pg_table table[T_TABLES]; /* table_of */
};

/* The table of events of `type`, or NULL for a type that has none. */
static struct pg_table *table_of(struct pg_memo *m, int type)
{
	if (!m)
		return NULL;
	switch (type) {
	case REFERRAL_EV_TERMINATE: return &m->table[T_TERMINATIONS];
	case REFERRAL_EV_SHARE_BENEFITS: return &m->table[T_SHARERS];
	case REFERRAL_EV_BIND: return &m->table[T_BINDS];
	default: return NULL;
	}
}

static void table_free(struct pg_table *t)
{
	idmap_free(&t->map);
	free(t->e);
	*t = (struct pg_table){0};
}

/* Adds an event of `type` (ref1, at, and a bind's months and dist): a bind
 * is one entry more of its member, a termination or sharer the ref1's
 * first instant unless an earlier one is known. 0, or -1 when memory is
 * short. */
static int table_note(struct pg_table *t, int type, int64_t ref1, int64_t at, int months,
		      int64_t dist)
{
	int32_t prev = idmap_get(&t->map, ref1);
	if (prev >= 0 && type != REFERRAL_EV_BIND) {
		if (at < t->e[prev].at)
			t->e[prev].at = at;
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 1024;
		void *e = realloc(t->e, cap * sizeof *t->e);
		if (!e)
			return -1;
		t->e = e;
		t->cap = cap;
	}
	if (t->n >= INT32_MAX || idmap_set(&t->map, ref1, (int32_t)t->n))
		return -1;
	t->e[t->n].at = at;
	t->e[t->n].dist = dist;
	t->e[t->n].months = months;
	t->e[t->n++].prev = prev;
	return 0;
}

static size_t memo_hash(int64_t ref1, int type)
{
	uint64_t h = (uint64_t)ref1 * 0x9E3779B97F4A7C15ULL ^ (uint64_t)type * 0xC2B2AE3D27D4EB4FULL;
	return (size_t)(h ^ (h >> 29)) & (MEMO_SLOTS - 1);
}

static void memo_clear(struct pg_memo *m)
{
	for (size_t i = 0; i < MEMO_SLOTS; i++)
		m->slot[i].found = -1;
	m->used = 0;
}

/* Frees the memo and its tables. */
static void memo_free(struct pg_memo *m)
{
	if (!m)
		return;
	for (int k = 0; k < T_TABLES; k++)
		table_free(&m->table[k]);
	free(m);
}

/* The transaction's memo, made when first asked for; NULL when memory is
 * short. */
static struct pg_memo *memo_get(struct pg_engine *p)
{
	struct pg_memo *m = p->memo;
	if (!m && (m = malloc(sizeof *m))) {
		memo_clear(m);
		for (int k = 0; k < T_TABLES; k++)
			m->table[k] = (struct pg_table){0};
		p->memo = m;
	}
	return m;
}

/* The entry of (ref1, type), free (found -1) to be filled when it is new;
 * NULL when memory is short (the lookup then asks the server). A table
 * half full starts over. */
static struct memo_entry *memo_find(struct pg_engine *p, int64_t ref1, int type)
{
	struct pg_memo *m = memo_get(p);
	if (!m)
		return NULL;
	size_t i = memo_hash(ref1, type);
	while (m->slot[i].found >= 0 && (m->slot[i].ref1 != ref1 || m->slot[i].type != type))
		i = (i + 1) & (MEMO_SLOTS - 1);
	if (m->slot[i].found < 0 && 2 * ++m->used > MEMO_SLOTS) {
		memo_clear(m);
		m->used = 1;
		i = memo_hash(ref1, type);
	}
	return &m->slot[i];
}

/* Event `r` was appended: a remembered answer of its (ref1, type) becomes
 * it, unless the first one remembered comes earlier, and a loaded table of
 * its type adds it. 0, or 1 when memory is short. */
static int memo_note(struct pg_engine *p, const struct ev_row *r)
{
	struct pg_memo *m = p->memo;
	int64_t ref1 = r->ref1, at = r->at;
	int type = r->type;
	struct pg_table *t = table_of(m, type);
	if (t && t->loaded && table_note(t, type, ref1, at, r->num ? atoi(r->num) : 0, r->ref2))
		return 1;
	if (!m || !m->used)
		return 0;
	size_t i = memo_hash(ref1, type);
	for (; m->slot[i].found >= 0; i = (i + 1) & (MEMO_SLOTS - 1)) {
		struct memo_entry *x = &m->slot[i];
		if (x->ref1 == ref1 && x->type == type) {
			if (!x->found || at < x->at) /* (at, seq): a later seq ties no earlier */
				*x = (struct memo_entry){ref1, type, 1, at};
			return 0;
		}
	}
	return 0;
}

void pg_lookups_forget(struct pg_engine *p)
{
	pg_prefetch_forget(p);
	memo_free(p->memo);
	p->memo = NULL;
	sb_reset(&p->pending);
	p->npending = 0;
	p->pending_types = 0;
	p->keep_pending = 0;
	refunds_clear(p->pending_refunds, &p->npending_refunds);
	idmap_free(&p->pending_binds);
}

/* ---- lookups -------------------------------------------------------------------- */

int pg_find(struct engine *e, int type, const char *id, size_t n, struct ev_row *out)
{
	struct pg_engine *p = pg(e);
	char tbuf[24];
	int rc = prefetched(p, type, id, n, out, NULL);
	if (rc >= 0)
		return rc;
	char *key = strndup(id, n);
	if (!key)
		return -st_nomem(e->st);
	if ((rc = pg_flush_for(p, 1u << type, 0))) {
		free(key);
		return -rc;
	}
	const char *vals[2] = {pg_itoa(tbuf, type), key};
	PGresult *res = exec_prepared(p, "referral_find", find_sql, 2, vals, "looking up an id", &rc);
	free(key);
	return res ? keep_row(p, res, out) : -rc;
}

int pg_get(struct engine *e, int64_t seq, struct ev_row *out)
{
	struct pg_engine *p = pg(e);
	struct pg_ints iv;
	if (pg_stream_order(p, seq, out) || prefetched_seq(p, seq, out))
		return 1;
	int rc = pg_flush_for(p, 0, seq);
	if (rc)
		return -rc;
	PGresult *res = exec_prepared(p, "referral_get", get_sql, 1, PG_INTS(iv, seq), "reading an event",
				      &rc);
	return res ? keep_row(p, res, out) : -rc;
}

/* ---- appending -------------------------------------------------------------------- */

#define EVENTS_COPY "COPY events(seq, type, id, at, booked, ref1, ref2, num, txt1, txt2) FROM STDIN"

/* Row i of ev_rows `ctx` as a line of COPY text. */
static int put_event(void *ctx, size_t i, struct strbuf *line)
{
	const struct ev_row *r = (const struct ev_row *)ctx + i;
	char ref[2][24];
	int bad = pg_copy_int(line, r->seq, '\t') || pg_copy_int(line, r->type, '\t');
	char *id = bad ? NULL : strndup(r->id, r->idlen);
	if (!id)
		return 1;
	bad = pg_copy_field(line, id, '\t') || pg_copy_int(line, r->at, '\t') ||
	      pg_copy_int(line, r->booked, '\t') ||
	      pg_copy_field(line, r->ref1 ? pg_itoa(ref[0], r->ref1) : NULL, '\t') ||
	      pg_copy_field(line, r->ref2 ? pg_itoa(ref[1], r->ref2) : NULL, '\t') ||
	      pg_copy_field(line, r->num, '\t') || pg_copy_field(line, r->txt1, '\t') ||
	      pg_copy_field(line, r->txt2, '\n');
	free(id);
	return bad;
}

/* Several rows: one COPY under a savepoint, undone when a key is stored. */
static int append_many(struct pg_engine *p, const struct ev_row *rows, size_t n)
{
	int rc = pg_cmd(p, "SAVEPOINT referral_append", "appending events");
	if (rc)
		return rc;
	rc = pg_copy(p, EVENTS_COPY, n, put_event, (void *)rows, "appending events");
	if (rc && !strcmp(p->state, "23505")) {
		if ((rc = pg_cmd(p, "ROLLBACK TO SAVEPOINT referral_append", "appending events")))
			return rc;
		rc = ENGINE_EXISTS;
	}
	if (rc == ENGINE_EXISTS || !rc) {
		int released = pg_cmd(p, "RELEASE SAVEPOINT referral_append", "appending events");
		rc = released ? released : rc;
	}
	return rc;
}

/* the pending COPY text is sent once it reaches this */
#define PENDING_MAX (1u << 20)

/* Sends the pending events, waiting for the server to store them or not. */
static int flush(struct pg_engine *p, int wait)
{
	if (!p->npending)
		return 0;
	p->npending = 0; /* the COPY below runs no pg_flush of its own */
	p->pending_types = 0;
	p->keep_pending = 0;
	refunds_clear(p->pending_refunds, &p->npending_refunds);
	idmap_free(&p->pending_binds);
	int rc = pg_copy_send(p, EVENTS_COPY, p->pending.data, p->pending.len, "appending events");
	sb_reset(&p->pending);
	return !rc && wait ? pg_idle(p) : rc;
}

int pg_flush(struct pg_engine *p) { return flush(p, 1); }

int pg_flush_for(struct pg_engine *p, unsigned types, int64_t seq)
{
	if (!p->npending)
		return 0;
	if ((p->pending_types & types) || (seq && seq >= p->pending_from))
		return pg_flush(p);
	p->keep_pending = 1;
	return 0;
}

/* Adds a copy of (order, amount) to a list: 0, or 1 when memory is short. */
static int refund_push(struct pg_refund **list, size_t *n, size_t *cap, int64_t order,
		       const char *amount)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		struct pg_refund *l = realloc(*list, c * sizeof *l);
		if (!l)
			return 1;
		*list = l;
		*cap = c;
	}
	if (!((*list)[*n].amount = strdup(amount ? amount : "")))
		return 1;
	(*list)[(*n)++].order = order;
	return 0;
}

static void refunds_clear(struct pg_refund *list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free(list[i].amount);
	*n = 0;
}

/* Notes a refund or bind `r` as pending: 0, or 1 when memory is short. */
static int note_pending(struct pg_engine *p, const struct ev_row *r)
{
	if (r->type == REFERRAL_EV_BIND)
		return idmap_set(&p->pending_binds, r->ref1, 0) != 0;
	return r->type == REFERRAL_EV_REFUND &&
	       refund_push(&p->pending_refunds, &p->npending_refunds, &p->cap_pending_refunds, r->ref1,
			   r->num);
}

int pg_append(struct engine *e, const struct ev_row *rows, size_t n)
{
	struct pg_engine *p = pg(e);
	struct key *missing = NULL;
	if (!p->append_locked)
		return st_fail(e->st, REFERRAL_EIO, "storage: an append without the append lock");
	if (n != 1) {
		pg_prefetch_forget(p); /* keys it found missing may be among them */
		int rc = n ? append_many(p, rows, n) : 0;
		for (size_t i = 0; i < n && !rc; i++)
			if (memo_note(p, &rows[i]))
				rc = st_nomem(e->st);
		return rc;
	}
	const struct ev_row *r = rows;
	int known = p->pre ? prefetched(p, r->type, r->id, r->idlen, NULL, &missing) : -1;
	if (known == 1)
		return ENGINE_EXISTS;
	if (known == 0) {
		missing->appended = 1;
		if (put_event((void *)r, 0, &p->pending) || note_pending(p, r) ||
		    prefetch_note(p, r) || memo_note(p, r))
			return st_nomem(e->st);
		if (!p->npending++)
			p->pending_from = r->seq;
		p->pending_types |= 1u << r->type;
		return p->pending.len >= PENDING_MAX ? pg_flush(p) : 0;
	}
	char b[6][24];
	char *id = strndup(r->id, r->idlen);
	if (!id)
		return st_nomem(e->st);
	const char *vals[10] = {pg_itoa(b[0], r->seq), pg_itoa(b[1], r->type), id,
				pg_itoa(b[2], r->at), pg_itoa(b[3], r->booked),
				r->ref1 ? pg_itoa(b[4], r->ref1) : NULL,
				r->ref2 ? pg_itoa(b[5], r->ref2) : NULL, r->num, r->txt1, r->txt2};
	int rc;
	PGresult *res = exec_prepared(p, "referral_insert", insert_sql, 10, vals,
				      "appending an event", &rc);
	free(id);
	if (!res)
		return rc;
	rc = strcmp(PQcmdTuples(res), "1") ? ENGINE_EXISTS : 0;
	PQclear(res);
	if (!rc && (prefetch_note(p, r) || memo_note(p, r)))
		rc = st_nomem(e->st);
	return rc;
}

/* ---- what ingest and points read -------------------------------------------------- */

int pg_count_type(struct engine *e, int type, long *out)
{
	struct pg_ints iv;
	int rc = pg_flush_for(pg(e), 1u << type, 0);
	if (rc)
		return rc;
	PGresult *res = pg_exec(pg(e), "SELECT count(*) FROM events WHERE type = $1", 1, PG_INTS(iv, type),
				"counting ids", &rc);
	if (res)
		*out = (long)pg_int(res, 0, 0);
	PQclear(res);
	return rc;
}

struct ids_ctx {
	int (*cb)(void *ctx, const char *id, size_t n, int64_t seq, int64_t at);
	void *ctx;
};

static int id_row(void *ctx, const PGresult *res, int i)
{
	struct ids_ctx *c = ctx;
	return c->cb(c->ctx, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), pg_int(res, i, 1),
		     pg_int(res, i, 2));
}

/* A batch loads the ids of its caches before it waits for the append lock
 * (ingest.c). Loading millions of ids costs the server and the client
 * about as much as appending as many events, so batches of a brand load
 * one at a time, under a session-level lock of their own: otherwise
 * eight waiting batches would starve the one that appends. */
int pg_ids(struct engine *e, int type, int64_t after,
	   int (*cb)(void *ctx, const char *id, size_t n, int64_t seq, int64_t at), void *ctx)
{
	struct pg_engine *p = pg(e);
	struct pg_ints iv;
	struct ids_ctx c = {cb, ctx};
	int rc = pg_flush_for(p, 1u << type, 0);
	if (!rc && !p->append_locked &&
	    !(rc = pg_run(p, "SELECT pg_catalog.pg_advisory_lock($1::bigint)",
			  pg_lock_key(p, PG_LOCK_LOAD), 0, "waiting for the brand's other loads")))
		p->load_locked = 1;
	/* what a batch adds to its cache is the end of the log: read by seq */
	if (!rc)
		rc = pg_each(p, after ? "SELECT id, seq, at FROM events WHERE seq > $2 AND type + 0 = $1"
				      : "SELECT id, seq, at FROM events WHERE type = $1",
			     after ? 2 : 1, PG_INTS(iv, type, after), id_row, &c, "loading ids");
	if (!rc && p->load_locked) {
		p->load_locked = 0;
		rc = pg_run(p, "SELECT pg_catalog.pg_advisory_unlock($1::bigint)",
			    pg_lock_key(p, PG_LOCK_LOAD), 0, "loading ids");
	}
	return rc; /* a failure rolls back, which releases the lock */
}

struct table_load {
	struct pg_engine *p;
	struct pg_table *t;
	int type;
};

static int table_row(void *ctx, const PGresult *res, int i)
{
	struct table_load *l = ctx;
	const char *months = pg_text_or_null(res, i, 2);
	return table_note(l->t, l->type, pg_int(res, i, 0), pg_int(res, i, 1),
			  months ? atoi(months) : 0, pg_int(res, i, 3))
		       ? st_nomem(l->p->base.st)
		       : 0;
}

/* Counts a lookup of `type` that went to the server, and at the
 * TABLE_AFTER-th loads the table, what is pending sent first: 0 or the
 * failure (the table then stays unloaded and empty). */
static int table_miss(struct pg_engine *p, struct pg_table *t, int type, const char *what)
{
	if (t->loaded || ++t->misses < TABLE_AFTER)
		return 0;
	/* the types spelled out, so that the plan may use a partial index
	 * (events_network, for terminations and binds) */
	const char *sql = type == REFERRAL_EV_TERMINATE
				  ? "SELECT ref1, min(at), NULL, NULL FROM events WHERE type = 5 GROUP BY ref1"
			  : type == REFERRAL_EV_SHARE_BENEFITS
				  ? "SELECT ref1, min(at), NULL, NULL FROM events WHERE type = 8 GROUP BY ref1"
				  : "SELECT ref1, at, num, ref2 FROM events WHERE type = 7";
	struct table_load l = {p, t, type};
	int rc = pg_flush_for(p, 1u << type, 0);
	if (!rc)
		rc = pg_each(p, sql, 0, NULL, table_row, &l, what);
	if (rc) {
		table_free(t);
		return rc;
	}
	t->loaded = 1;
	return 0;
}

/* The instant of the first event of `type` whose ref1 is `ref1`: 1 with
 * it, 0 if none, or a negative status. Remembered for the transaction. */
static int first_by_ref(struct pg_engine *p, int64_t ref1, int type, int64_t *at, const char *what)
{
	struct pg_ints iv;
	struct pg_table *t = table_of(memo_get(p), type);
	if (t && t->loaded) {
		int32_t i = idmap_get(&t->map, ref1);
		if (i >= 0 && at)
			*at = t->e[i].at;
		return i >= 0;
	}
	struct memo_entry *m = memo_find(p, ref1, type);
	if (m && m->found >= 0) {
		if (m->found && at)
			*at = m->at;
		return m->found;
	}
	int rc = t ? table_miss(p, t, type, what) : 0;
	if (rc)
		return -rc;
	if (t && t->loaded)
		return first_by_ref(p, ref1, type, at, what);
	rc = pg_flush_for(p, 1u << type, 0);
	if (rc)
		return -rc;
	PGresult *res = pg_exec(p, "SELECT at FROM events WHERE ref1 = $1 AND type = $2"
				   " AND " PG_BY_REF("") " ORDER BY at, seq LIMIT 1",
				2, PG_INTS(iv, ref1, type), what, &rc);
	if (!res)
		return -rc;
	int found = PQntuples(res) > 0;
	int64_t first = found ? pg_int(res, 0, 0) : 0;
	if (found && at)
		*at = first;
	PQclear(res);
	if (m)
		*m = (struct memo_entry){ref1, type, found, first};
	return found;
}

int pg_termination(struct engine *e, int64_t dist, int64_t *at)
{
	return first_by_ref(pg(e), dist, REFERRAL_EV_TERMINATE, at, "looking up a termination");
}

int pg_has_sharer(struct engine *e, int64_t member)
{
	return first_by_ref(pg(e), member, REFERRAL_EV_SHARE_BENEFITS, NULL, "reading sharers");
}

struct binding_ctx {
	int (*cb)(void *ctx, int64_t at, int months, int64_t dist);
	void *ctx;
};

static int binding_row(void *ctx, const PGresult *res, int i)
{
	struct binding_ctx *c = ctx;
	return c->cb(c->ctx, pg_int(res, i, 0), (int)pg_int(res, i, 1), pg_int(res, i, 2));
}

/* The bindings of `member` without a round trip, when the binds are loaded
 * and the chunk's prefetch holds her own event: 1 answered (status in
 * *rc), 0 not. */
static int bindings_at_hand(struct pg_engine *p, int64_t member,
			    int (*cb)(void *ctx, int64_t at, int months, int64_t dist), void *ctx,
			    int *rc)
{
	struct pg_table *t = &p->memo->table[T_BINDS];
	struct ev_row own;
	if (!t->loaded || !prefetched_seq(p, member, &own) || own.type != REFERRAL_EV_MEMBER)
		return 0;
	*rc = own.ref2 ? cb(ctx, own.at, own.num ? atoi(own.num) : 0, own.ref2) : 0;
	for (int32_t i = idmap_get(&t->map, member); i >= 0 && !*rc; i = t->e[i].prev)
		*rc = cb(ctx, t->e[i].at, t->e[i].months, t->e[i].dist);
	return 1;
}

int pg_bindings(struct engine *e, int64_t member,
		int (*cb)(void *ctx, int64_t at, int months, int64_t dist), void *ctx)
{
	struct pg_ints iv;
	struct binding_ctx c = {cb, ctx};
	struct pg_engine *p = pg(e);
	int rc = 0;
	if (!memo_get(p))
		return st_nomem(e->st);
	if ((rc = table_miss(p, &p->memo->table[T_BINDS], REFERRAL_EV_BIND, "reading bindings")))
		return rc;
	if (bindings_at_hand(p, member, cb, ctx, &rc))
		return rc;
	/* the member's own event (any seq pending) and binds: what is pending
	 * goes first only when it holds either */
	rc = idmap_get(&p->pending_binds, member) >= 0 ? pg_flush(p) : pg_flush_for(p, 0, member);
	if (rc)
		return rc;
	return pg_each(p, "SELECT at, num, ref2 FROM events WHERE seq = $1 AND ref2 IS NOT NULL"
			      " UNION ALL SELECT at, num, ref2 FROM events WHERE ref1 = $1 AND type = 7"
			      " AND " PG_BY_REF(""),
		       1, PG_INTS(iv, member), binding_row, &c, "reading bindings");
}

int pg_last_binding(struct engine *e, int64_t dist, int64_t *at)
{
	struct pg_ints iv;
	int rc = pg_flush_for(pg(e), 1u << REFERRAL_EV_MEMBER | 1u << REFERRAL_EV_BIND, 0);
	if (rc)
		return -rc;
	PGresult *res = pg_exec(pg(e), "SELECT max(at) FROM events WHERE ref2 = $1 AND type IN (6, 7)",
				1, PG_INTS(iv, dist), "reading bindings", &rc);
	if (!res)
		return -rc;
	int found = !PQgetisnull(res, 0, 0);
	if (found)
		*at = pg_int(res, 0, 0);
	PQclear(res);
	return found;
}

struct refund_ctx {
	int (*cb)(void *ctx, const char *amount);
	void *ctx;
};

static int refund_row(void *ctx, const PGresult *res, int i)
{
	struct refund_ctx *c = ctx;
	return c->cb(c->ctx, pg_text(res, i, 0));
}

int pg_refunds(struct engine *e, int64_t order, int (*cb)(void *ctx, const char *amount), void *ctx)
{
	struct pg_ints iv;
	struct refund_ctx c = {cb, ctx};
	struct pg_engine *p = pg(e);
	int mine = 0, rc;
	if (prefetched_refunds(p, order, cb, ctx, &rc))
		return rc;
	for (size_t i = 0; i < p->npending_refunds && !mine; i++)
		mine = p->pending_refunds[i].order == order;
	if ((rc = mine ? pg_flush(p) : pg_flush_for(p, 0, 0)))
		return rc;
	/* type + 0: the stream's index, partial over orders, refunds and
	 * shares, is never the one to look up by order (the planner may take
	 * it while the statistics are behind) */
	return pg_each(p, "SELECT num FROM events WHERE ref1 = $1 AND type + 0 = 10"
			  " AND " PG_BY_REF("") " ORDER BY at, seq",
		       1, PG_INTS(iv, order), refund_row, &c, "reading refunds");
}

struct sharer_ctx {
	int (*cb)(void *ctx, int64_t to, int64_t from, int64_t at);
	void *ctx;
};

static int sharer_row(void *ctx, const PGresult *res, int i)
{
	struct sharer_ctx *c = ctx;
	return c->cb(c->ctx, pg_int(res, i, 0), pg_int(res, i, 1), pg_int(res, i, 2));
}

int pg_sharers(struct engine *e, int64_t from,
	       int (*cb)(void *ctx, int64_t to, int64_t from, int64_t at), void *ctx)
{
	struct pg_ints iv;
	struct sharer_ctx c = {cb, ctx};
	return pg_each(pg(e), from > 0 ? "SELECT ref1, ref2, at FROM events WHERE ref2 = $1 AND type = 8"
					 " ORDER BY seq"
				       : "SELECT ref1, ref2, at FROM events WHERE type = 8 ORDER BY seq",
		       from > 0 ? 1 : 0, PG_INTS(iv, from), sharer_row, &c, "reading sharers");
}

/* Rows: type, at, booked, member (ref1, or the order's member), num, txt1,
 * the order's member, instant and booking period (refunds). */
static const char points_all[] =
	"SELECT e.type, e.at, e.booked, e.ref1, e.num, e.txt1, o.ref1, o.at, o.booked"
	" FROM events e LEFT JOIN events o ON e.type = 10 AND o.seq = e.ref1"
	" WHERE e.type IN (9, 10, 11, 12) ORDER BY e.seq";

/* Her events and those of the members she shares with ($1), up to the
 * instant $2: their orders and member shares, from member_events up to the
 * mark $3 (also when another transaction has moved it since) and from the
 * log after it, their redeems, and the refunds of their orders. The log
 * after the mark is read by seq, the redeems by member and the refunds by
 * their order: type + 0 keeps the key index out of them, which the planner
 * would scan for all of a type while its statistics count few of them. */
static const char points_of_member[] =
	"WITH mem(seq) AS (SELECT $1::bigint UNION SELECT ref1 FROM events WHERE ref2 = $1 AND type = 8),"
	" own(seq) AS (SELECT x.seq FROM mem JOIN member_events x ON x.member = mem.seq"
	" AND x.seq <= $3"
	" UNION ALL SELECT e.seq FROM events e WHERE e.seq > $3 AND e.type + 0 IN (9, 11)"
	" AND e.ref1 IN (SELECT seq FROM mem)"
	" UNION ALL SELECT e.seq FROM mem JOIN events e ON e.ref1 = mem.seq AND e.type + 0 = 12"
	" AND " PG_BY_REF("e.") ") "
	"SELECT * FROM ("
	"SELECT e.seq AS s, e.type, e.at, e.booked, e.ref1, e.num, e.txt1, 0::bigint, 0::bigint, 0"
	" FROM own JOIN events e ON e.seq = own.seq WHERE e.at <= $2"
	" UNION ALL "
	"SELECT r.seq, r.type, r.at, r.booked, o.ref1, r.num, r.txt1, o.ref1, o.at, o.booked"
	" FROM own JOIN events o ON o.seq = own.seq AND o.type + 0 = 9"
	" JOIN events r ON r.ref1 = o.seq AND r.type + 0 = 10 AND " PG_BY_REF("r.")
	" WHERE r.at <= $2) AS x ORDER BY s";

/* The same on a brand of schema version 1, whose (ref1, type) index holds
 * the orders and shares, and which has no member_events. */
static const char points_of_member_v1[] =
	"WITH mem(seq) AS (SELECT $1::bigint UNION SELECT ref1 FROM events WHERE ref2 = $1 AND type = 8) "
	"SELECT * FROM ("
	/* own orders, shares, redeems */
	"SELECT e.seq AS s, e.type, e.at, e.booked, e.ref1, e.num, e.txt1, 0::bigint, 0::bigint, 0"
	" FROM mem JOIN events e ON e.ref1 = mem.seq AND e.type IN (9, 11, 12)"
	" WHERE e.at <= $2"
	" UNION ALL " /* refunds of their orders */
	"SELECT e.seq, e.type, e.at, e.booked, o.ref1, e.num, e.txt1, o.ref1, o.at, o.booked"
	" FROM mem JOIN events o ON o.ref1 = mem.seq AND o.type + 0 = 9"
	" JOIN events e ON e.ref1 = o.seq AND e.type + 0 = 10 WHERE e.at <= $2) AS x ORDER BY s";

struct points_ctx {
	points_cb cb;
	void *ctx;
	int first; /* the column of the type */
};

static int points_row(void *ctx, const PGresult *res, int i)
{
	struct points_ctx *c = ctx;
	int f = c->first;
	const char *txt1 = pg_text_or_null(res, i, f + 5);
	struct points_row r = {
		.type = (int)pg_int(res, i, f),
		.at = pg_int(res, i, f + 1),
		.booked = (int)pg_int(res, i, f + 2),
		.member = pg_int(res, i, f + 3),
		.num = pg_text_or_null(res, i, f + 4),
		.by_member = txt1 && !strcmp(txt1, "member"),
		.order_member = pg_int(res, i, f + 6),
		.order_at = pg_int(res, i, f + 7),
		.order_booked = (int)pg_int(res, i, f + 8),
	};
	return c->cb(c->ctx, &r);
}

/* The mark of member_events into *mark, after adding the orders and member
 * shares the log holds past it when the transaction holds the append lock
 * and they are MEMBER_EVENTS_TAIL or more events. */
static int member_events_mark(struct pg_engine *p, int64_t *mark)
{
	int rc;
	PGresult *res = pg_exec(p, "SELECT (SELECT last_seq FROM member_events_mark),"
				   " (SELECT coalesce(max(seq), 0) FROM events)",
				0, NULL, "reading member_events_mark", &rc);
	if (!res)
		return rc;
	*mark = pg_int(res, 0, 0);
	int64_t last = pg_int(res, 0, 1);
	PQclear(res);
	if (!p->append_locked || last - *mark < MEMBER_EVENTS_TAIL)
		return 0;
	if ((rc = pg_run(p, "INSERT INTO member_events(member, seq) SELECT ref1, seq FROM events"
			    " WHERE seq > $1 AND seq <= $2 AND (type = 9 OR (type = 11 AND txt1 = 'member'))"
			    " ORDER BY ref1, seq", *mark, last, "adding to member_events")) ||
	    (rc = pg_run(p, "UPDATE member_events_mark SET last_seq = $1", last, 0,
			 "adding to member_events")))
		return rc;
	*mark = last;
	return 0;
}

int pg_member_events_check(struct engine *e, int64_t *member, int64_t *seq)
{
	struct pg_engine *p = pg(e);
	if (p->version < 2) /* version 1 has no member_events */
		return 0;
	/* rows the log does not back, rows the log has up to the mark and the
	 * table lacks, and a mark that is not one row */
	return pg_first_row(
		p,
		"(SELECT x.member, x.seq FROM member_events x LEFT JOIN events e USING (seq)"
		"  WHERE e.seq IS NULL OR e.ref1 IS DISTINCT FROM x.member"
		"  OR e.type NOT IN (9, 11) OR (e.type = 11 AND e.txt1 IS DISTINCT FROM 'member')"
		"  OR x.seq > (SELECT max(last_seq) FROM member_events_mark) LIMIT 1)"
		" UNION ALL (SELECT e.ref1, e.seq FROM events e"
		"  WHERE e.seq <= (SELECT max(last_seq) FROM member_events_mark)"
		"  AND (e.type = 9 OR (e.type = 11 AND e.txt1 = 'member')) AND NOT EXISTS"
		"  (SELECT FROM member_events x WHERE x.member = e.ref1 AND x.seq = e.seq) LIMIT 1)"
		" UNION ALL SELECT 0, 0 WHERE (SELECT count(*) FROM member_events_mark) <> 1"
		" LIMIT 1",
		0, NULL, "checking member_events", member, seq);
}

int pg_points_events(struct engine *e, int64_t member, int64_t at_max, points_cb cb, void *ctx)
{
	struct pg_engine *p = pg(e);
	struct pg_ints iv;
	struct points_ctx c = {cb, ctx, member > 0 ? 1 : 0};
	int64_t mark = 0;
	int rc;
	if (member <= 0)
		return pg_each(p, points_all, 0, NULL, points_row, &c, "reading points events");
	if (p->version < 2)
		return pg_each(p, points_of_member_v1, 2, PG_INTS(iv, member, at_max), points_row, &c,
			       "reading points events");
	if ((rc = member_events_mark(p, &mark)))
		return rc;
	return pg_each(p, points_of_member, 3, PG_INTS(iv, member, at_max, mark), points_row, &c,
		       "reading points events");
}

struct events_ctx {
	ev_cb cb;
	void *ctx;
};

static int event_row(void *ctx, const PGresult *res, int i)
{
	struct events_ctx *c = ctx;
	struct ev_row r;
	pg_event_row(res, i, &r);
	return c->cb(c->ctx, &r);
}

int pg_events(struct engine *e, int type, ev_cb cb, void *ctx)
{
	struct pg_ints iv;
	struct events_ctx c = {cb, ctx};
	return pg_each(pg(e), "SELECT " EVENT_COLS " FROM events WHERE type = $1 ORDER BY seq", 1,
		       PG_INTS(iv, type), event_row, &c, "reading events");
}

void pg_id_of(struct engine *e, int64_t seq, char *buf, size_t cap)
{
	struct ev_row row;
	int found = pg_get(e, seq, &row);
	snprintf(buf, cap, "%s", found == 1 ? row.id : "?");
}
