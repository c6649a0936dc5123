/*
 * statements.c — each distributor's statement of the period: the exact
 * commission, bounty and override from the pass's sums, the opening carry,
 * the total, the payable rounded once by the plan's rule (or carried when
 * below the minimum payout), and the closing carry, exact.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "resize.h"
#include "settle.h"
#include "timeutil.h"


/* Gathers each distributor's override sums on her recruiter, by the
 * recruit's grade: the override is then exact in one product per grade. */
int gather_overrides(struct settle *s)
{
	for (size_t i = 0; i < s->nd; i++) {
		const struct dist *d = &s->d[i];
		if (d->ov_fen && d->recruiter >= 0 &&
		    fen_add(&s->d[d->recruiter].ov_by_grade[d->grade - 1], d->ov_fen))
			return fail_overflow(s);
	}
	return 0;
}

/* A distributor's exact commission, bounty and override in P; `tmp` is
 * scratch. Reads `s` only: the statements' texts are made by a thread of
 * their own. */
void value_of(const struct settle *s, int grade, fen_t com_fen, fen_t bounty_fen,
	      const fen_t *ov_by_grade, const mpq_t *com_x, const mpq_t *ov_x, mpq_t com,
	      mpq_t bounty, mpq_t ovr, mpq_t tmp)
{
	fen_to_mpq(com, com_fen);
	mpq_mul(com, com, s->pl->grades[grade - 1].rate);
	if (com_x)
		mpq_add(com, com, *com_x);
	fen_to_mpq(bounty, bounty_fen);
	mpq_set_ui(ovr, 0, 1);
	for (int g = 0; g < PLAN_GRADES; g++) {
		if (!ov_by_grade[g])
			continue;
		fen_to_mpq(tmp, ov_by_grade[g]);
		mpq_mul(tmp, tmp, s->pl->grades[g].rate);
		mpq_add(ovr, ovr, tmp);
	}
	mpq_mul(ovr, ovr, s->pl->override_rate);
	if (ov_x)
		mpq_add(ovr, ovr, *ov_x);
}

/* A distributor's exact commission, bounty and override in P. Reads `s`
 * only: the statements' texts are made by a thread of their own. */
static void totals(const struct settle *s, const struct dist *d, mpq_t com, mpq_t bounty,
		   mpq_t ovr, mpq_t tmp)
{
	const struct exact *e = d->ex >= 0 ? &s->ex[d->ex] : NULL;
	value_of(s, d->grade, d->com_fen, d->bounty_fen, d->ov_by_grade,
		 e ? (const mpq_t *)&e->commission : NULL, e ? (const mpq_t *)&e->override : NULL,
		 com, bounty, ovr, tmp);
}

/* LINES mode: the lines of each distributor must add up to her sums. */
int check_lines(struct settle *s)
{
	mpq_t com, bounty, ovr, zero, sum[4];
	int rc = 0;
	mpq_inits(com, bounty, ovr, zero, sum[0], sum[1], sum[2], sum[3], NULL);
	for (size_t i = 0; i < s->nd && !rc; i++) {
		struct dist *d = &s->d[i];
		totals(s, d, com, bounty, ovr, s->x);
		check_sums(s, d->ex >= 0 ? &s->ex[d->ex] : NULL, sum);
		const char *what = NULL;
		if (!mpq_equal(sum[0], com))
			what = "commission";
		else if (!mpq_equal(sum[1], bounty))
			what = "bounty";
		else if (!mpq_equal(sum[2], ovr))
			what = "override";
		else if (!mpq_equal(sum[3], d->held >= 0 ? s->held[d->held].fresh : zero))
			what = "held";
		if (!what)
			continue;
		char p[8], id[80];
		period_format(s->period, p);
		ENG(s->st, id_of, d->seq, id, sizeof id);
		rc = st_fail(s->st, REFERRAL_EVERIFY,
			     "verify: period %s: the %s lines of distributor %s do not add up"
			     " to her statement", p, what, id);
	}
	mpq_clears(com, bounty, ovr, zero, sum[0], sum[1], sum[2], sum[3], NULL);
	return rc;
}

/* The opening carries: the closing carries of P-1 that are not zero, read
 * before the statements are written (a cursor on the table being written
 * would be saved and sought again at every insert) and then walked
 * alongside the distributors, both in seq order. */
struct carries {
	referral_store *st;
	int64_t *dist;
	size_t *at;              /* offsets of their texts in `text` */
	size_t n, cap, next;
	struct strbuf text;
};

static int put_carry(void *ctx, int64_t dist, const char *t)
{
	struct carries *c = ctx;
	if (c->n == c->cap) {
		size_t cap = grown(c->cap, 1024);
		if (array_resize(&c->dist, cap, sizeof *c->dist) ||
		    array_resize(&c->at, cap, sizeof *c->at))
			return st_nomem(c->st);
		c->cap = cap;
	}
	c->dist[c->n] = dist;
	c->at[c->n] = c->text.len;
	if (sb_append(&c->text, t, strlen(t) + 1))
		return st_nomem(c->st);
	c->n++;
	return 0;
}

static int load_carries(struct settle *s, struct carries *c)
{
	c->st = s->st;
	return ENG(s->st, carries, s->period - 1, put_carry, c);
}

static void free_carries(struct carries *c)
{
	free(c->dist);
	free(c->at);
	sb_free(&c->text);
}

/* Sets `opening` (and its canonical text) to the carry of distributor
 * `seq`, or zero. Called in ascending seq. 0, or -1 if the stored carry is
 * not a decimal. */
static int opening_of(struct carries *c, int64_t seq, mpq_t opening, char *text, size_t cap)
{
	while (c->next < c->n && c->dist[c->next] < seq)
		c->next++;
	const char *t = c->next < c->n && c->dist[c->next] == seq ? c->text.data + c->at[c->next]
								  : NULL;
	if (!t) { /* the canonical zero */
		mpq_set_ui(opening, 0, 1);
		snprintf(text, cap, "0.00");
	} else if (strlen(t) >= cap || dec_parse_signed(opening, t)) {
		return -1;
	} else {
		memcpy(text, t, strlen(t) + 1); /* stored in canonical form */
	}
	return 0;
}

/*
 * The texts of the statements. Making them (exact arithmetic, rounding,
 * decimal text: about 1.6 µs a distributor) and inserting them (about 2
 * µs) take about as long, so a thread of its own makes the texts, a chunk
 * of distributors at a time, while the settlement writes the bounty
 * snapshot and then inserts the statements as their chunks are done. The
 * thread reads the settlement's state and writes only its chunks; the
 * opening carries are read before it starts. Without a thread, the
 * chunks are made inline, one before it is inserted.
 */
#define TEXT_CHUNK 1024 /* distributors */
#define STATEMENT_TEXTS 11

enum { TEXT_OK, TEXT_NOMEM, TEXT_BAD_CARRY };

/* The distributors of chunk k: [k * TEXT_CHUNK, chunk_end(s, k)). */
static size_t chunk_end(const struct settle *s, size_t k)
{
	return (k + 1) * TEXT_CHUNK < s->nd ? (k + 1) * TEXT_CHUNK : s->nd;
}

/* For each distributor of the chunk that has a statement, her nine texts
 * one after another, each ending in its NUL. */
struct text_chunk {
	struct strbuf text;
	int failed;
};

struct texts {
	const struct settle *s;
	struct carries c;
	struct text_chunk *chunk;
	size_t nchunk;
	mpq_t v[10], tmp;
	int threaded, stop;
	size_t ready;            /* chunks made */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void make_chunk(struct texts *T, size_t k)
{
	const struct settle *s = T->s;
	struct text_chunk *ch = &T->chunk[k];
	/* opening, commission, bounty, override, accrued, total, payable, carry,
	 * released, held */
	mpq_t *v = T->v;
	char txt[160];
	for (size_t i = k * TEXT_CHUNK; i < chunk_end(s, k) && !ch->failed; i++) {
		const struct dist *d = &s->d[i];
		if (!has_statement(s, d))
			continue;
		if (opening_of(&T->c, d->seq, v[0], txt, sizeof txt)) {
			ch->failed = TEXT_BAD_CARRY;
			break;
		}
		int bad = sb_append(&ch->text, txt, strlen(txt) + 1);
		totals(s, d, v[1], v[2], v[3], T->tmp);
		mpq_add(v[4], v[1], v[2]);
		mpq_add(v[4], v[4], v[3]);
		/* released: what accrued, less what it holds past P, plus what
		 * earlier periods held for P (release.c); held: what is held
		 * past P */
		const struct held *h = d->held >= 0 ? &s->held[d->held] : NULL;
		mpq_set(v[8], v[4]);
		if (h) {
			mpq_sub(v[8], v[8], h->fresh);
			mpq_add(v[8], v[8], h->due);
			mpq_set(v[9], h->total);
		} else {
			mpq_set_ui(v[9], 0, 1);
		}
		mpq_add(v[5], v[0], v[8]);
		dec_round_fen(v[6], v[5], s->pl->rounding);
		if (mpq_sgn(v[6]) < 0 || mpq_cmp(v[6], s->pl->min_payout) < 0)
			mpq_set_ui(v[6], 0, 1);
		mpq_sub(v[7], v[5], v[6]);
		for (int t = 1; t < STATEMENT_TEXTS; t++) {
			if (t == 2) /* the bounty, whole fen */
				fen_format(txt, d->bounty_fen);
			else if (t == 8)
				fen_format(txt, d->sales_fen);
			else if (t >= 9) /* released, held */
				dec_format(txt, sizeof txt, v[t - 1]);
			else if (mpq_sgn(v[t]) == 0)
				strcpy(txt, "0.00");
			else
				dec_format(txt, sizeof txt, v[t]);
			bad |= sb_append(&ch->text, txt, strlen(txt) + 1);
		}
		if (bad)
			ch->failed = TEXT_NOMEM;
	}
}

static void *texts_thread(void *arg)
{
	struct texts *T = arg;
	for (size_t k = 0; k < T->nchunk; k++) {
		pthread_mutex_lock(&T->mu);
		int stop = T->stop;
		pthread_mutex_unlock(&T->mu);
		if (stop)
			break;
		make_chunk(T, k);
		pthread_mutex_lock(&T->mu);
		T->ready = k + 1;
		pthread_cond_broadcast(&T->cv);
		pthread_mutex_unlock(&T->mu);
		if (T->chunk[k].failed)
			break;
	}
	return NULL;
}

/* Reads the opening carries and starts making the texts. */
static int texts_start(struct settle *s, struct texts *T)
{
	memset(T, 0, sizeof *T);
	T->s = s;
	for (int k = 0; k < 10; k++)
		mpq_init(T->v[k]);
	mpq_init(T->tmp);
	int rc = load_carries(s, &T->c);
	if (rc)
		return rc;
	size_t nchunk = (s->nd + TEXT_CHUNK - 1) / TEXT_CHUNK;
	if (nchunk && !(T->chunk = calloc(nchunk, sizeof *T->chunk)))
		return fail_nomem(s);
	T->nchunk = nchunk;
	if (!stream_use_thread || T->nchunk < 2)
		return 0;
	if (pthread_mutex_init(&T->mu, NULL))
		return 0;
	if (pthread_cond_init(&T->cv, NULL)) {
		pthread_mutex_destroy(&T->mu);
		return 0;
	}
	if (pthread_create(&T->thread, NULL, texts_thread, T)) {
		pthread_cond_destroy(&T->cv);
		pthread_mutex_destroy(&T->mu);
		return 0;
	}
	T->threaded = 1;
	return 0;
}

/* Chunk k, made: by the thread (waited for) or here. */
static struct text_chunk *texts_chunk(struct texts *T, size_t k)
{
	if (!T->threaded) {
		make_chunk(T, k);
		return &T->chunk[k];
	}
	pthread_mutex_lock(&T->mu);
	while (T->ready <= k)
		pthread_cond_wait(&T->cv, &T->mu);
	pthread_mutex_unlock(&T->mu);
	return &T->chunk[k];
}

static void texts_end(struct texts *T)
{
	if (T->threaded) {
		pthread_mutex_lock(&T->mu);
		T->stop = 1;
		pthread_mutex_unlock(&T->mu);
		pthread_join(T->thread, NULL);
		pthread_cond_destroy(&T->cv);
		pthread_mutex_destroy(&T->mu);
	}
	for (size_t k = 0; k < T->nchunk; k++)
		sb_free(&T->chunk[k].text);
	free(T->chunk);
	free_carries(&T->c);
	for (int k = 0; k < 10; k++)
		mpq_clear(T->v[k]);
	mpq_clear(T->tmp);
}

/* Writes the statements chunk by chunk as their texts are made. */
static int put_statements(struct settle *s, struct texts *T)
{
	struct statement_row *rows = malloc(TEXT_CHUNK * sizeof *rows);
	int rc = rows ? 0 : fail_nomem(s);
	for (size_t k = 0; k < T->nchunk && !rc; k++) {
		struct text_chunk *ch = texts_chunk(T, k);
		if (ch->failed) {
			rc = ch->failed == TEXT_NOMEM
				     ? fail_nomem(s)
				     : st_fail(s->st, REFERRAL_EIO,
					       "storage: a stored carry is not a decimal");
			break;
		}
		const char *p = ch->text.data;
		size_t n = 0;
		for (size_t i = k * TEXT_CHUNK; i < chunk_end(s, k); i++) {
			const struct dist *d = &s->d[i];
			if (!has_statement(s, d))
				continue;
			const char *txt[STATEMENT_TEXTS];
			for (int t = 0; t < STATEMENT_TEXTS; t++) {
				txt[t] = p;
				p += strlen(p) + 1;
			}
			rows[n++] = (struct statement_row){
				.period = s->period,
				.dist = d->seq,
				.store = d->store,
				.grade = d->grade,
				.opening_carry = txt[0],
				.commission = txt[1],
				.bounty = txt[2],
				.override = txt[3],
				.accrued = txt[4],
				.total = txt[5],
				.payable = txt[6],
				.closing_carry = txt[7],
				.members = d->members,
				.sales = txt[8],
				.released = txt[9],
				.held = txt[10],
				.shares = d->shares,
			};
		}
		if (n)
			rc = s->out->statements(s->out->ctx, rows, n);
		/* done with: its memory serves the chunks still to be made */
		sb_free(&T->chunk[k].text);
	}
	free(rows);
	return rc;
}

int write_statements(struct settle *s, int (*meanwhile)(struct settle *))
{
	struct texts T;
	int rc = texts_start(s, &T);
	if (!rc && !(rc = meanwhile(s)))
		rc = put_statements(s, &T);
	texts_end(&T);
	return rc;
}

/* The figures grading sums, of every distributor with a statement. */
int hand_over(struct settle *s, struct figures *figs)
{
	if (!(figs->g = malloc((s->nd ? s->nd : 1) * sizeof *figs->g)))
		return fail_nomem(s);
	for (size_t i = 0; i < s->nd; i++) {
		const struct dist *d = &s->d[i];
		if (has_statement(s, d))
			figs->g[figs->n++] = (struct graded){d->seq, d->store, d->grade, d->members,
							     d->shares, d->sales_fen, -1};
	}
	return 0;
}

void figures_free(struct figures *figs)
{
	free(figs->g);
	figs->g = NULL;
	figs->n = 0;
}

