/*
 * ingest_api.c — ingest through the C API, timed.
 *
 *   bench_ingest DB FILE.jsonl
 *
 * Reads FILE (JSON Lines as bench_gen writes them: flat objects whose values
 * are strings without escapes, or null) into referral_event structs, all
 * before the clock starts. Then times one batch: referral_batch_begin, one
 * referral_batch_add_event per line, referral_batch_commit. Prints one line
 *
 *   events=N add_s=A commit_s=C total_s=T cpu_s=U events_per_s=E
 *
 * where E = N / T and T covers begin, every add and the commit (wall time;
 * U is the process CPU time over the same region). Exits 3 if
 * the batch is rejected (printing the first bad lines), 1 on other failures.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <referral/referral.h>

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static const char *const type_names[] = {
	"", "store", "store_rating", "distributor", "store_change", "terminate", "member",
	"bind", "share_benefits", "order", "refund", "share", "redeem"
};

/* Where each JSON key goes in a referral_event. */
static const char **slot(referral_event *ev, const char *key)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{"id", offsetof(referral_event, id)},
		{"at", offsetof(referral_event, at)},
		{"name", offsetof(referral_event, name)},
		{"region", offsetof(referral_event, region)},
		{"kind", offsetof(referral_event, kind)},
		{"store", offsetof(referral_event, store)},
		{"recruiter", offsetof(referral_event, recruiter)},
		{"distributor", offsetof(referral_event, distributor)},
		{"member", offsetof(referral_event, member)},
		{"from", offsetof(referral_event, from)},
		{"to", offsetof(referral_event, to)},
		{"order", offsetof(referral_event, order)},
		{"amount", offsetof(referral_event, amount)},
		{"rating", offsetof(referral_event, rating)},
		{"points", offsetof(referral_event, points)},
	};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		if (!strcmp(keys[i].key, key))
			return (const char **)((char *)ev + keys[i].off);
	return NULL;
}

/* Reads a string starting after its opening quote, in place: NUL-terminates
 * it and returns the position after the closing quote, or NULL. */
static char *read_string(char *p, char **out)
{
	*out = p;
	while (*p && *p != '"') {
		if (*p == '\\' || *p == '\n')
			return NULL; /* escapes are not produced by bench_gen */
		p++;
	}
	if (*p != '"')
		return NULL;
	*p = '\0';
	return p + 1;
}

/* Parses one line (NUL-terminated, without its newline) into ev. 0 or -1. */
static int parse_line(char *p, referral_event *ev)
{
	memset(ev, 0, sizeof *ev);
	if (*p++ != '{')
		return -1;
	for (;;) {
		char *key, *val;
		if (*p++ != '"' || !(p = read_string(p, &key)) || *p++ != ':')
			return -1;
		if (*p == '"') {
			if (!(p = read_string(p + 1, &val)))
				return -1;
		} else if (!strncmp(p, "null", 4)) {
			val = NULL;
			p += 4;
		} else {
			return -1;
		}
		if (!strcmp(key, "type")) {
			for (int t = 1; t <= REFERRAL_EV_REDEEM; t++)
				if (val && !strcmp(val, type_names[t]))
					ev->type = t;
		} else {
			const char **s = slot(ev, key);
			if (s)
				*s = val;
		}
		if (*p == '}')
			return ev->type ? 0 : -1;
		if (*p++ != ',')
			return -1;
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_ingest DB FILE.jsonl\n");
		return 2;
	}
	FILE *f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)size + 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "bench_ingest: cannot read %s\n", argv[2]);
		return 1;
	}
	fclose(f);
	buf[size] = '\0';

	size_t n = 0, cap = 1 << 16;
	referral_event *evs = malloc(cap * sizeof *evs);
	for (char *p = buf, *end = buf + size, *next; p < end; p = next) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		next = nl ? nl + 1 : end;
		if (nl)
			*nl = '\0';
		if (!*p)
			continue;
		if (n == cap && !(evs = realloc(evs, (cap *= 2) * sizeof *evs)))
			return 1;
		if (parse_line(p, &evs[n])) {
			fprintf(stderr, "bench_ingest: %s: line %zu: cannot parse\n", argv[2], n + 1);
			return 1;
		}
		n++;
	}

	referral_store *st;
	int rc = referral_store_open(&st, argv[1]);
	if (rc) {
		fprintf(stderr, "bench_ingest: %s\n", referral_errmsg(st));
		referral_store_free(st);
		return 1;
	}
	referral_batch *b;
	double c0 = cpu(), t0 = now();
	if ((rc = referral_batch_begin(st, &b, argv[2]))) {
		fprintf(stderr, "bench_ingest: %s\n", referral_errmsg(st));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		int r = referral_batch_add_event(b, &evs[i], (long)i + 1);
		if (r == REFERRAL_EIO || r == REFERRAL_EUSAGE) {
			fprintf(stderr, "bench_ingest: line %zu: %s\n", i + 1, referral_errmsg(st));
			return 1;
		}
	}
	double t1 = now();
	rc = referral_batch_commit(b);
	double t2 = now(), c2 = cpu();
	if (rc) {
		long ne = referral_batch_error_count(b);
		for (long i = 0; i < ne && i < 10; i++)
			fprintf(stderr, "%s\n", referral_batch_error(b, i));
		fprintf(stderr, "bench_ingest: %s\n", referral_errmsg(st));
		referral_batch_free(b);
		referral_store_free(st);
		return 3;
	}
	long ingested = referral_batch_ingested(b);
	referral_batch_free(b);
	referral_store_free(st);
	printf("events=%ld add_s=%.3f commit_s=%.3f total_s=%.3f cpu_s=%.3f events_per_s=%.0f\n",
	       ingested, t1 - t0, t2 - t1, t2 - t0, c2 - c0, (double)ingested / (t2 - t0));
	free(evs);
	free(buf);
	return 0;
}
