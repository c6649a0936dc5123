/*
 * blob.h — the blobs settlement keeps (bounty snapshots, network caches):
 * sequences of varints read and written through SQLite's incremental blob
 * I/O a chunk at a time, so that a blob of many megabytes never sits in
 * memory whole. Writing takes two passes over the same encoder: one that
 * only counts the bytes, so that the row can be inserted with a zeroblob
 * of the right size, and one that fills it.
 */
#ifndef REFERRAL_BLOB_H
#define REFERRAL_BLOB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define BLOB_CHUNK 65536

/* A signed value as an unsigned one, small when its magnitude is. */
static inline unsigned __int128 zigzag(__int128 v)
{
	return v < 0 ? ((unsigned __int128)(-(v + 1)) << 1) | 1 : (unsigned __int128)v << 1;
}

static inline __int128 unzigzag(unsigned __int128 u)
{
	return u & 1 ? -(__int128)(u >> 1) - 1 : (__int128)(u >> 1);
}

struct blob_in {
	sqlite3_blob *blob;
	int size, off;                 /* the blob's size; where the next chunk starts */
	const unsigned char *p, *end;  /* what is left of the current chunk */
	unsigned char buf[BLOB_CHUNK];
};

/* Opens column `col` of row `rowid` of `db`.`table` for reading: SQLITE_OK,
 * or SQLite's error code (the row does not exist: SQLITE_ERROR). */
int blob_in_open(struct blob_in *r, sqlite3 *db, const char *dbname, const char *table,
		 const char *col, int64_t rowid);
/* The next varint: 0, or -1 at the end, on a damaged varint or on a read
 * error (blob_in_failed() tells which). */
int blob_in_varint(struct blob_in *r, unsigned __int128 *v);
/* 1 when the whole blob was read. */
int blob_in_done(const struct blob_in *r);
/* SQLite's error code of a failed read, or SQLITE_OK. */
int blob_in_failed(const struct blob_in *r);
void blob_in_close(struct blob_in *r);

struct blob_out {
	sqlite3_blob *blob;    /* NULL while counting */
	size_t len;            /* counting: the bytes so far */
	int off, err;          /* writing: where the next chunk goes; SQLite's error */
	size_t fill;
	unsigned char buf[BLOB_CHUNK];
};

/* Starts the counting pass. */
void blob_out_count(struct blob_out *w);
/* Starts the writing pass into a row inserted with zeroblob(w->len). */
int blob_out_open(struct blob_out *w, sqlite3 *db, const char *dbname, const char *table,
		  const char *col, int64_t rowid);
void blob_out_varint(struct blob_out *w, unsigned __int128 v);
/* Writes what is left and closes: SQLITE_OK, or SQLite's error code. */
int blob_out_finish(struct blob_out *w);

#endif
