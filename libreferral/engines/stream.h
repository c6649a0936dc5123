/*
 * stream.h — the orders, refunds and shares booked in a period, in (at,
 * seq) order, as settlement reads them (settle.c), a batch at a time.
 *
 * Where it can, the stream is read by a thread of its own on a second,
 * read-only connection to the store, up to 131,072 rows ahead of the
 * settlement that consumes them: SQLite's share of the pass then runs on
 * the other core. The rows are those with seq <= the limit, which fixes
 * what both connections see: the log is append-only. When a second
 * connection or a thread cannot be had (an in-memory store, no threads
 * left), the caller's connection reads the rows itself, with the same
 * result.
 */
#ifndef REFERRAL_STREAM_H
#define REFERRAL_STREAM_H

#include "core.h"
#include "fen.h"

#define STREAM_BATCH 256

struct stream_row {
	int64_t seq, at, ref1;
	fen_t amount;      /* orders and refunds */
	int type, by_dist; /* a share by a distributor */
};

struct stream;

/* Opens the stream of `period` up to `limit`: 0, or a status (message set). */
int stream_open(referral_store *st, int period, int64_t limit, struct stream **out);
/* The next batch of rows, *n of them, 0 at the end: 0, or a status
 * (message set). */
int stream_next(struct stream *s, const struct stream_row **rows, int *n);
void stream_close(struct stream *s);

/* 0 makes settlement run on the caller's thread alone: every stream read
 * on the caller's connection, the statements' texts made inline (tests
 * compare the two ways). */
extern int stream_use_thread;

#endif
