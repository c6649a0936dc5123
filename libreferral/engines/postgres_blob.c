/*
 * postgres_blob.c — bounty snapshots, holds and network caches on
 * PostgreSQL: a blob is kept as rows (period, part, data bytea) of at most
 * PART bytes each, written as the bytes come and read back one part at a
 * time, so that a blob of many megabytes is never held whole (nor
 * rewritten, as appending to one bytea value would). Parts travel in
 * libpq's binary format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

#define PART (1u << 20)

struct pg_blob {
	struct blob_src src;
	struct blob_dst dst;
	struct pg_engine *p;
	enum blob_kind kind;
	int period, part, nparts;
	int64_t last_seq;
	size_t size, done;   /* announced and written (dst) */
	unsigned char *buf;  /* dst: the part being filled */
	size_t len;
	PGresult *res;       /* src: the part being read */
	size_t off;
};

static const char *table_of(enum blob_kind kind)
{
	return kind == BLOB_SNAPSHOT ? "snapshots" : kind == BLOB_HOLDS ? "holds" : "networks";
}

/* Writes the part being filled as row `part`. */
static int flush_part(struct pg_blob *b)
{
	char per[24], part[24], seq[24];
	const char *vals[4] = {pg_itoa(per, b->period), pg_itoa(part, b->part), (const char *)b->buf,
			       pg_itoa(seq, b->last_seq)};
	int lens[4] = {0, 0, (int)b->len, 0}, fmts[4] = {0, 0, 1, 0};
	const char *sql = b->kind == BLOB_SNAPSHOT
				  ? "INSERT INTO snapshots(period, part, data) VALUES ($1, $2, $3)"
			  : b->kind == BLOB_HOLDS
				  ? "INSERT INTO holds(period, part, data) VALUES ($1, $2, $3)"
				  : "INSERT INTO networks(period, part, data, last_seq)"
				    " VALUES ($1, $2, $3, $4)";
	static const unsigned char none[1];
	int rc = b->p->npending ? pg_flush(b->p) : 0;
	if (rc)
		return rc;
	if (!b->buf)
		vals[2] = (const char *)none;
	if ((rc = pg_idle(b->p)))
		return rc;
	b->p->sql = sql;
	PGresult *res = PQexecParams(b->p->conn, sql, b->kind == BLOB_NETWORK ? 4 : 3, NULL, vals,
				     lens, fmts, 0);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_fail(b->p, res, "writing a blob");
	PQclear(res);
	b->part++;
	b->len = 0;
	return 0;
}

static int dst_write(struct blob_dst *dst, const unsigned char *data, size_t n)
{
	struct pg_blob *b = (struct pg_blob *)((char *)dst - offsetof(struct pg_blob, dst));
	if (n > b->size - b->done)
		return st_fail(b->p->base.st, REFERRAL_EIO, "storage: a blob longer than announced");
	while (n) {
		if (!b->buf && !(b->buf = malloc(PART)))
			return st_nomem(b->p->base.st);
		size_t take = PART - b->len < n ? PART - b->len : n;
		memcpy(b->buf + b->len, data, take);
		b->len += take;
		b->done += take;
		data += take;
		n -= take;
		int rc = b->len == PART ? flush_part(b) : 0;
		if (rc)
			return rc;
	}
	return 0;
}

static int dst_finish(struct blob_dst *dst)
{
	struct pg_blob *b = (struct pg_blob *)((char *)dst - offsetof(struct pg_blob, dst));
	if (b->done != b->size)
		return st_fail(b->p->base.st, REFERRAL_EIO, "storage: a blob shorter than announced");
	/* part 0 is there even for an empty blob: it says the blob is */
	return b->len || b->part == 0 ? flush_part(b) : 0;
}

static void blob_free(struct pg_blob *b)
{
	if (!b)
		return;
	free(b->buf);
	PQclear(b->res);
	free(b);
}

static void dst_close(struct blob_dst *dst)
{
	blob_free((struct pg_blob *)((char *)dst - offsetof(struct pg_blob, dst)));
}

/* Reads part `b->part` into b->res. */
static int fetch_part(struct pg_blob *b)
{
	char sql[96];
	struct pg_ints iv;
	snprintf(sql, sizeof sql, "SELECT data FROM %s WHERE period = $1 AND part = $2",
		 table_of(b->kind));
	PQclear(b->res);
	b->res = NULL;
	int rc = b->p->npending ? pg_flush(b->p) : 0;
	if (rc)
		return rc;
	if ((rc = pg_idle(b->p)))
		return rc;
	b->p->sql = sql;
	PGresult *res = PQexecParams(b->p->conn, sql, 2, NULL, PG_INTS(iv, b->period, b->part), NULL,
				     NULL, 1);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(b->p, res, "reading a stored blob");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return st_fail(b->p->base.st, REFERRAL_EIO, "storage: a part of the %s blob of %d is missing",
			       table_of(b->kind), b->period);
	}
	b->res = res;
	b->off = 0;
	b->part++;
	return 0;
}

static int src_read(struct blob_src *src, unsigned char *buf, size_t cap, size_t *got)
{
	struct pg_blob *b = (struct pg_blob *)((char *)src - offsetof(struct pg_blob, src));
	*got = 0;
	while (*got < cap) {
		size_t have = b->res ? (size_t)PQgetlength(b->res, 0, 0) - b->off : 0;
		if (!have) {
			if (b->part >= b->nparts)
				return 0;
			int rc = fetch_part(b);
			if (rc)
				return rc;
			continue;
		}
		size_t take = have < cap - *got ? have : cap - *got;
		memcpy(buf + *got, PQgetvalue(b->res, 0, 0) + b->off, take);
		b->off += take;
		*got += take;
	}
	return 0;
}

static void src_close(struct blob_src *src)
{
	blob_free((struct pg_blob *)((char *)src - offsetof(struct pg_blob, src)));
}

static struct pg_blob *blob_new(struct pg_engine *p, enum blob_kind kind, int period)
{
	struct pg_blob *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->p = p;
	b->kind = kind;
	b->period = period;
	b->src = (struct blob_src){src_read, src_close};
	b->dst = (struct blob_dst){dst_write, dst_finish, dst_close};
	return b;
}

int pg_blob_open(struct engine *e, enum blob_kind kind, int period, struct blob_src **out)
{
	struct pg_engine *p = pg(e);
	char sql[80];
	struct pg_ints iv;
	int rc;
	*out = NULL;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE period = $1", table_of(kind));
	PGresult *res = pg_exec(p, sql, 1, PG_INTS(iv, period), "opening a stored blob", &rc);
	if (!res)
		return -rc;
	int nparts = (int)pg_int(res, 0, 0);
	PQclear(res);
	if (!nparts)
		return 0;
	struct pg_blob *b = blob_new(p, kind, period);
	if (!b)
		return -st_nomem(e->st);
	b->nparts = nparts;
	*out = &b->src;
	return 1;
}

int pg_blob_put(struct engine *e, enum blob_kind kind, int period, int64_t last_seq, size_t size,
		struct blob_dst **out)
{
	struct pg_blob *b = blob_new(pg(e), kind, period);
	*out = NULL;
	if (!b)
		return st_nomem(e->st);
	b->last_seq = last_seq;
	b->size = size;
	*out = &b->dst;
	return 0;
}
