/*
 * blob.h — the blobs settlement keeps (bounty snapshots, network caches):
 * sequences of varints read and written a chunk at a time through the
 * store's engine (engine.h: blob_src, blob_dst), so that a blob of many
 * megabytes never sits in memory whole. Writing takes two passes over the
 * same encoder: one that only counts the bytes, so that the engine knows
 * the blob's size before it is written, and one that writes them.
 */
#ifndef REFERRAL_BLOB_H
#define REFERRAL_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

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
	struct blob_src *src;
	int eof, failed;               /* the source is drained; a read failed (its status) */
	const unsigned char *p, *end;  /* what is left of the current chunk */
	unsigned char buf[BLOB_CHUNK];
};

/* Starts reading from `src`, which stays the caller's. */
void blob_in_init(struct blob_in *r, struct blob_src *src);
/* The next varint: 0, or -1 at the end, on a damaged varint or on a read
 * failure (blob_in_failed() tells which). */
int blob_in_varint(struct blob_in *r, unsigned __int128 *v);
/* The next n bytes into buf: 0, or -1 (as blob_in_varint). n <= BLOB_CHUNK / 2. */
int blob_in_bytes(struct blob_in *r, unsigned char *buf, size_t n);
/* 1 when the whole blob was read. */
int blob_in_done(struct blob_in *r);
/* The status of a failed read, or 0. */
int blob_in_failed(const struct blob_in *r);

struct blob_out {
	struct blob_dst *dst;  /* NULL while counting */
	size_t len;            /* counting: the bytes so far */
	int err;               /* writing: the first failure's status */
	size_t fill;
	unsigned char buf[BLOB_CHUNK];
};

/* Starts the counting pass. */
void blob_out_count(struct blob_out *w);
/* Starts the writing pass into `dst` (of w->len bytes), which stays the caller's. */
void blob_out_start(struct blob_out *w, struct blob_dst *dst);
void blob_out_varint(struct blob_out *w, unsigned __int128 v);
/* n bytes as they are (n <= BLOB_CHUNK). */
void blob_out_bytes(struct blob_out *w, const void *p, size_t n);
/* Writes what is left and finishes the blob: 0, or a status. */
int blob_out_finish(struct blob_out *w);

#endif
