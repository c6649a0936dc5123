/*
 * sqlite_blob.c — bounty snapshots and network caches through SQLite's
 * incremental blob I/O: a row is inserted with a zeroblob of the blob's
 * size, then written a chunk at a time, and read back the same way, so
 * that a blob of many megabytes is never held whole.
 */
#include <stdlib.h>

#include "sqlite.h"

struct sq_blob {
	struct blob_src src;
	struct blob_dst dst;
	struct sqlite_engine *q;
	sqlite3_blob *blob;
	int size, off;
};

static const char *table_of(enum blob_kind kind)
{
	return kind == BLOB_SNAPSHOT ? "snapshots" : kind == BLOB_HOLDS ? "holds" : "networks";
}

static int blob_fail(struct sq_blob *b, int code, const char *what)
{
	return sq_fail_code(b->q, code, what, sqlite3_errstr(code));
}

static int src_read(struct blob_src *src, unsigned char *buf, size_t cap, size_t *got)
{
	struct sq_blob *b = (struct sq_blob *)((char *)src - offsetof(struct sq_blob, src));
	int n = b->size - b->off;
	if ((size_t)n > cap)
		n = (int)cap;
	*got = 0;
	if (n <= 0)
		return 0;
	int code = sqlite3_blob_read(b->blob, buf, n, b->off);
	if (code != SQLITE_OK)
		return blob_fail(b, code, "reading a stored blob");
	b->off += n;
	*got = (size_t)n;
	return 0;
}

static void blob_free(struct sq_blob *b)
{
	if (b)
		sqlite3_blob_close(b->blob);
	free(b);
}

static void src_close(struct blob_src *src)
{
	blob_free((struct sq_blob *)((char *)src - offsetof(struct sq_blob, src)));
}

static int dst_write(struct blob_dst *dst, const unsigned char *buf, size_t n)
{
	struct sq_blob *b = (struct sq_blob *)((char *)dst - offsetof(struct sq_blob, dst));
	if (n > (size_t)(b->size - b->off))
		return st_fail(b->q->base.st, REFERRAL_EIO, "storage: a blob longer than announced");
	int code = sqlite3_blob_write(b->blob, buf, (int)n, b->off);
	if (code != SQLITE_OK)
		return blob_fail(b, code, "writing a blob");
	b->off += (int)n;
	return 0;
}

static int dst_finish(struct blob_dst *dst)
{
	struct sq_blob *b = (struct sq_blob *)((char *)dst - offsetof(struct sq_blob, dst));
	if (b->off != b->size)
		return st_fail(b->q->base.st, REFERRAL_EIO, "storage: a blob shorter than announced");
	int code = sqlite3_blob_close(b->blob);
	b->blob = NULL;
	return code == SQLITE_OK ? 0 : blob_fail(b, code, "writing a blob");
}

static void dst_close(struct blob_dst *dst)
{
	blob_free((struct sq_blob *)((char *)dst - offsetof(struct sq_blob, dst)));
}

static struct sq_blob *blob_new(struct sqlite_engine *q)
{
	struct sq_blob *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->q = q;
	b->src = (struct blob_src){src_read, src_close};
	b->dst = (struct blob_dst){dst_write, dst_finish, dst_close};
	return b;
}

int sq_blob_open(struct engine *e, enum blob_kind kind, int period, struct blob_src **out)
{
	struct sqlite_engine *q = sq(e);
	*out = NULL;
	struct sq_blob *b = blob_new(q);
	if (!b)
		return -st_nomem(e->st);
	int code = sqlite3_blob_open(q->db, "main", table_of(kind), "data", period, 0, &b->blob);
	if (code != SQLITE_OK) {
		/* a missing row is SQLITE_ERROR with the handle's message "no such rowid" */
		int missing = code == SQLITE_ERROR;
		int rc = missing ? 0 : -blob_fail(b, code, "opening a stored blob");
		blob_free(b);
		return rc;
	}
	b->size = sqlite3_blob_bytes(b->blob);
	*out = &b->src;
	return 1;
}

int sq_blob_put(struct engine *e, enum blob_kind kind, int period, int64_t last_seq, size_t size,
		struct blob_dst **out)
{
	struct sqlite_engine *q = sq(e);
	sqlite3_stmt *s;
	*out = NULL;
	if (size > INT32_MAX)
		return st_fail(e->st, REFERRAL_EIO, "storage: the %s blob would exceed 2 GB",
			       table_of(kind));
	int rc = sq_prepare(q, kind == BLOB_SNAPSHOT
				       ? "INSERT INTO snapshots(period, data) VALUES(?1, zeroblob(?3))"
				   : kind == BLOB_HOLDS
				       ? "INSERT INTO holds(period, data) VALUES(?1, zeroblob(?3))"
				       : "INSERT INTO networks(period, last_seq, data)"
					 " VALUES(?1, ?2, zeroblob(?3))",
			    &s);
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, period);
	if (kind == BLOB_NETWORK)
		sqlite3_bind_int64(s, 2, last_seq);
	sqlite3_bind_int(s, 3, (int)size);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = sq_fail(q, "writing a blob");
	sqlite3_finalize(s);
	if (rc)
		return rc;
	struct sq_blob *b = blob_new(q);
	if (!b)
		return st_nomem(e->st);
	int code = sqlite3_blob_open(q->db, "main", table_of(kind), "data", period, 1, &b->blob);
	if (code != SQLITE_OK) {
		rc = blob_fail(b, code, "writing a blob");
		blob_free(b);
		return rc;
	}
	b->size = (int)size;
	*out = &b->dst;
	return 0;
}
