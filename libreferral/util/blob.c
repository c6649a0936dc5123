/* blob.c — see blob.h. */
#include "blob.h"

#include <string.h>

/* The longest varint of a 128-bit value: ceil(128 / 7) bytes. */
#define VARINT_MAX 19

int blob_in_open(struct blob_in *r, sqlite3 *db, const char *dbname, const char *table,
		 const char *col, int64_t rowid)
{
	r->size = r->off = 0;
	r->p = r->end = r->buf;
	int rc = sqlite3_blob_open(db, dbname, table, col, rowid, 0, &r->blob);
	if (rc != SQLITE_OK) {
		sqlite3_blob_close(r->blob);
		r->blob = NULL;
		return rc;
	}
	r->size = sqlite3_blob_bytes(r->blob);
	return SQLITE_OK;
}

/* Moves what is left to the front and reads the next chunk after it. */
static int refill(struct blob_in *r)
{
	size_t left = (size_t)(r->end - r->p);
	memmove(r->buf, r->p, left);
	int n = r->size - r->off;
	if (n > (int)(sizeof r->buf - left))
		n = (int)(sizeof r->buf - left);
	r->p = r->buf;
	r->end = r->buf + left;
	if (n <= 0)
		return SQLITE_OK;
	int rc = sqlite3_blob_read(r->blob, r->buf + left, n, r->off);
	if (rc != SQLITE_OK)
		return rc;
	r->off += n;
	r->end += n;
	return SQLITE_OK;
}

int blob_in_varint(struct blob_in *r, unsigned __int128 *v)
{
	if (r->end - r->p < VARINT_MAX && r->off < r->size && refill(r) != SQLITE_OK) {
		r->off = -1; /* failed */
		return -1;
	}
	unsigned __int128 x = 0;
	for (int shift = 0; r->p < r->end && shift < 128; shift += 7) {
		unsigned char byte = *r->p++;
		x |= (unsigned __int128)(byte & 0x7F) << shift;
		if (!(byte & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

int blob_in_done(const struct blob_in *r) { return r->off == r->size && r->p == r->end; }

int blob_in_failed(const struct blob_in *r) { return r->off < 0 ? SQLITE_IOERR : SQLITE_OK; }

void blob_in_close(struct blob_in *r)
{
	sqlite3_blob_close(r->blob);
	r->blob = NULL;
}

void blob_out_count(struct blob_out *w)
{
	w->blob = NULL;
	w->len = w->fill = 0;
	w->off = 0;
	w->err = SQLITE_OK;
}

int blob_out_open(struct blob_out *w, sqlite3 *db, const char *dbname, const char *table,
		  const char *col, int64_t rowid)
{
	w->fill = 0;
	w->off = 0;
	w->err = sqlite3_blob_open(db, dbname, table, col, rowid, 1, &w->blob);
	if (w->err != SQLITE_OK) {
		sqlite3_blob_close(w->blob);
		w->blob = NULL;
	}
	return w->err;
}

static void flush(struct blob_out *w)
{
	if (w->fill && w->err == SQLITE_OK)
		w->err = sqlite3_blob_write(w->blob, w->buf, (int)w->fill, w->off);
	w->off += (int)w->fill;
	w->fill = 0;
}

void blob_out_varint(struct blob_out *w, unsigned __int128 v)
{
	unsigned char tmp[VARINT_MAX];
	size_t n = 0;
	do {
		unsigned char byte = v & 0x7F;
		v >>= 7;
		tmp[n++] = (unsigned char)(byte | (v ? 0x80 : 0));
	} while (v);
	if (!w->blob) {
		w->len += n;
		return;
	}
	if (w->fill + n > sizeof w->buf)
		flush(w);
	memcpy(w->buf + w->fill, tmp, n);
	w->fill += n;
}

int blob_out_finish(struct blob_out *w)
{
	flush(w);
	int rc = w->err;
	if (w->blob && sqlite3_blob_close(w->blob) != SQLITE_OK && rc == SQLITE_OK)
		rc = SQLITE_IOERR;
	w->blob = NULL;
	return rc;
}
