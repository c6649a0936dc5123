/*
 * settle.c — one settlement pass over a period (the rules of attribution,
 * commission, bounty, override, refunds and statements: docs/formats.md).
 *
 * The pass loads the network as of the event limit (network.c): the
 * distributors, their recruiters, terminations and stores, and every
 * member's bindings, each with the seq of the event that made it. It reads
 * the grades frozen when the previous period closed and the bounty state
 * it left, then streams the orders, refunds and shares booked in the
 * period in (at, seq) order (commission.c), and writes the statements
 * (statements.c), the bounty state at the end of the period and, when the
 * one used is stale, a network cache.
 *
 * State carried across periods: the bounty state of every binding (its net
 * commissionable spend and the bounty that stands), kept as one compact
 * snapshot per period.
 *
 * The pass reads the store through its engine and writes through the
 * output it is given (core.h: struct settle_out): the store's own rows, or
 * verify's comparison, or an export's scratch lines.
 */
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "hugemem.h"
#include "settle.h"
#include "timeutil.h"

int stream_use_thread = 1;

/* The exact values of distributor di, made on first use. */
struct exact *exact_of(struct settle *s, int32_t di)
{
	struct dist *d = &s->d[di];
	if (d->ex >= 0)
		return &s->ex[d->ex];
	if (s->nex == s->capex) {
		size_t cap = s->capex ? s->capex * 2 : 256;
		struct exact *n = realloc(s->ex, cap * sizeof *n);
		if (!n)
			return NULL;
		s->ex = n;
		s->capex = cap;
	}
	struct exact *e = &s->ex[s->nex];
	mpq_inits(e->commission, e->override, e->line_sum[0], e->line_sum[1],
		  e->line_sum[2], e->line_held, NULL);
	e->isum[0] = e->isum[1] = e->isum[2] = e->iheld = 0;
	d->ex = (int32_t)s->nex++;
	return e;
}

/* The net spend of a binding. */
fen_t net_of(const struct settle *s, const struct binding *b)
{
	return b->net != NET_WIDE ? b->net : s->wide_net[idmap_get(&s->wide, b - s->b + 1)];
}

int net_set(struct settle *s, struct binding *b, fen_t v)
{
	if (b->net != NET_WIDE && v > INT64_MIN && v <= INT64_MAX) {
		b->net = (int64_t)v;
		return 0;
	}
	int32_t i = b->net == NET_WIDE ? idmap_get(&s->wide, b - s->b + 1) : -1;
	if (i < 0) {
		if (s->nwide == s->capwide) {
			size_t cap = s->capwide ? s->capwide * 2 : 16;
			fen_t *n = realloc(s->wide_net, cap * sizeof *n);
			if (!n)
				return fail_nomem(s);
			s->wide_net = n;
			s->capwide = cap;
		}
		if (idmap_put(&s->wide, b - s->b + 1, (int32_t)s->nwide))
			return fail_nomem(s);
		i = (int32_t)s->nwide++;
		b->net = NET_WIDE;
	}
	s->wide_net[i] = v;
	return 0;
}

/* ---- before the period ------------------------------------------------------ */

static int put_grade(void *ctx, int64_t dist, int next_grade)
{
	struct settle *s = ctx;
	int32_t di = dist_of(s, dist);
	if (di >= 0)
		s->d[di].grade = next_grade;
	return 0;
}

static int put_close(void *ctx, int p, int64_t last_seq)
{
	struct settle *s = ctx;
	if (p >= s->period)
		return 0;
	if (!s->nclosed)
		s->first_closed = p;
	int64_t *n = realloc(s->close_seq, (size_t)(p - s->first_closed + 1) * sizeof *n);
	if (!n)
		return fail_nomem(s);
	s->close_seq = n;
	while (s->nclosed < p - s->first_closed)
		s->close_seq[s->nclosed++] = 0;
	s->close_seq[s->nclosed++] = last_seq;
	return 0;
}

/* grade(D, P) from the close of P-1, and the close limits of earlier
 * periods (for refunds of their orders). */
static int load_previous(struct settle *s)
{
	int rc = ENG(s->st, next_grades, s->period - 1, put_grade, s);
	return rc ? rc : ENG(s->st, closes, put_close, s);
}

/* The snapshot: for every binding with a spend or a standing bounty, in
 * ascending binding seq: the seq's increase, the net spend in fen
 * (zigzag), and 0 or 1 + the standing bounty in fen; all as varints. */
static int load_snapshot(struct settle *s)
{
	struct blob_src *src = NULL;
	int found = ENG(s->st, blob_open, BLOB_SNAPSHOT, s->period - 1, &src);
	if (found <= 0)
		return -found;
	struct blob_in *in = malloc(sizeof *in);
	if (!in) {
		src->close(src);
		return fail_nomem(s);
	}
	blob_in_init(in, src);
	int rc = 0;
	int64_t seq = 0;
	while (!rc && !blob_in_done(in)) {
		unsigned __int128 dseq, net, bounty;
		int32_t bi = -1;
		if (!blob_in_varint(in, &dseq) && !blob_in_varint(in, &net) &&
		    !blob_in_varint(in, &bounty) && dseq <= (unsigned __int128)s->limit)
			bi = binding_of(s, seq += (int64_t)dseq);
		if (bi < 0)
			rc = blob_in_failed(in) ? blob_in_failed(in)
						: st_fail(s->st, REFERRAL_EIO,
							  "storage: a damaged entry in the bounty snapshot");
		else if (bounty > (unsigned __int128)INT32_MAX + 1)
			rc = fail_overflow(s);
		else if (!(rc = net_set(s, &s->b[bi], unzigzag(net))))
			s->b[bi].bounty = (int32_t)((int64_t)bounty - 1); /* 0 (none) -> -1 */
	}
	if (!rc && blob_in_failed(in))
		rc = blob_in_failed(in);
	src->close(src);
	free(in);
	return rc;
}

static void encode_snapshot(struct settle *s, struct blob_out *w)
{
	int64_t prev = 0;
	/* in ascending binding seq: the index by seq gives that order */
	for (int64_t seq = 1; seq <= s->limit; seq++) {
		int32_t bi = binding_of(s, seq);
		if (bi < 0)
			continue;
		const struct binding *b = &s->b[bi];
		fen_t net = net_of(s, b);
		if (net == 0 && b->bounty < 0)
			continue;
		blob_out_varint(w, (unsigned __int128)(seq - prev));
		blob_out_varint(w, zigzag(net));
		blob_out_varint(w, (unsigned __int128)((int64_t)b->bounty + 1)); /* none: 0 */
		prev = seq;
	}
}

/* ---- the period ------------------------------------------------------------------- */

/* Settles the period's events as the stream yields them (opened by the
 * caller before the network was loaded, so that its reader is ahead). */
static int stream_period(struct settle *s, struct ev_stream *in)
{
	const struct stream_row *rows;
	const char *phase = s->st->phase ? s->st->phase : "settle";
	int rc, n;
	while (!(rc = s->st->eng->ops->stream_next(in, &rows, &n)) && n > 0) {
		if ((rc = settle_rows(s, rows, n)))
			return rc;
		if (s->st->progress && ((s->progress + n) >> 16) != (s->progress >> 16))
			s->st->progress(s->st->progress_ctx, phase, s->progress + n, s->total);
		s->progress += n;
	}
	if (!rc)
		st_progress_end(s->st, phase, s->progress);
	return rc ? rc : s->mode == SETTLE_LINES && s->out->lines ? flush_lines(s) : 0;
}

/* Writes what the statements are written beside: the bounty snapshot and
 * the network cache. */
static int write_blobs(struct settle *s)
{
	int rc = write_blob(s, BLOB_SNAPSHOT, encode_snapshot);
	if (!rc)
		rc = write_blob(s, BLOB_HOLDS, encode_holds);
	return rc ? rc : update_cache(s);
}

static void settle_free(struct settle *s)
{
	for (size_t i = 0; i < s->nex; i++)
		mpq_clears(s->ex[i].commission, s->ex[i].override, s->ex[i].line_sum[0],
			   s->ex[i].line_sum[1], s->ex[i].line_sum[2], s->ex[i].line_held, NULL);
	free(s->ex);
	huge_free(s->d, s->capd * sizeof *s->d);
	huge_free(s->b, s->capb * sizeof *s->b);
	free(s->bmember);
	free(s->wide_net);
	idmap_free(&s->wide);
	idmap_free(&s->next);
	huge_free(s->ix, ix_bytes(s));
	for (size_t k = 0; k < s->nog; k++)
		idmap_free(&s->og[k].map);
	free(s->og);
	free(s->close_seq);
	free(s->lines);
	sb_free(&s->line_text);
	holds_free(s);
	mpq_clears(s->x, s->y, NULL);
}

int settle_period(referral_store *st, int period, int64_t limit, const struct settle_out *out,
		  int mode, struct figures *figs)
{
	struct settle s;
	int rc = 0;

	memset(&s, 0, sizeof s);
	s.st = st;
	s.period = period;
	s.mode = mode & SETTLE_LINES;
	s.from_log = !!(mode & SETTLE_FROM_LOG);
	s.lines_on = s.mode == SETTLE_LINES || (mode & SETTLE_CHECK);
	check_init(&s);
	s.limit = limit;
	s.out = out;
	s.pl = st_plan_for(st, period);
	s.period_end = period_start(period + 1, s.pl->utc_offset_min);
	s.release_cut = s.period_end - s.pl->hold_days * 86400000000LL;
	s.total = -1;
	mpq_inits(s.x, s.y, NULL);

	/* the period's events are counted only for a progress callback */
	if (st->progress)
		rc = ENG(st, stream_count, period, limit, &s.total);
	/* the stream's reader starts now, and reads while the network loads */
	struct ev_stream *in = NULL;
	if (!rc && !(rc = ENG(st, stream_open, period, limit, &in)) && !(rc = load_network(&s)) &&
	    !(rc = load_previous(&s)) && !(rc = load_snapshot(&s)) && !(rc = load_holds(&s)) &&
	    !(rc = stream_period(&s, in)) && !(rc = gather_overrides(&s)) &&
	    !(rc = settle_holds(&s))) {
		if (s.lines_on)
			rc = check_lines(&s);
		if (!rc && s.mode == SETTLE_STATEMENTS && !(rc = write_statements(&s, write_blobs)) &&
		    figs)
			rc = hand_over(&s, figs);
	}
	if (in)
		st->eng->ops->stream_close(in);
	settle_free(&s);
	return rc;
}
