/*
 * write_floor.c — what SQLite needs, at the least, to store a month of
 * events under a given layout of the log: the write floor that bounds
 * ingest, measured without any checking.
 *
 *   bench_write_floor DB LAYOUT
 *
 * DB is a scratch copy of a store (the benchmark's base.db: the network and
 * one month of orders). The month's orders, refunds and shares (types 9, 10
 * and 11 of the latest booked period) are read into memory; a table per
 * layout is filled, untimed, with every other event of the store; then the
 * month is stored again as new events in one transaction, and that is
 * timed, commit included. LAYOUT is one of
 *
 *   today          one row per event, with the columns and indexes of
 *                  libreferral's schema version 2 (store.c)
 *   today-staged   the same, the month first staged in a TEMP table and
 *                  copied with a single INSERT ... SELECT
 *   rows           one row per event, no index at all
 *   rows-values    the same, 64 events to an INSERT statement
 *   rows-unique    one row per event, only UNIQUE(type, id)
 *   rows-keys      one row per event, no index, plus a (type, id) -> seq
 *                  table written sorted at commit
 *   chunks-keys    256 events packed in a row, plus a (type, id) -> seq
 *                  table written sorted at commit
 *   chunks-keys-members
 *                  the same, plus a (member, type, seq) table of the
 *                  orders, refunds and shares, written sorted at commit
 *
 * Prints one line:
 *
 *   layout=L events=N write_s=W cpu_s=C rows_per_s=R
 *
 * The file is changed: use a copy. See bench/README.md, "The write floor".
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ev {
	int64_t seq, at, booked, ref1, ref2;
	int type;
	char id[32], num[32], txt1[32];
	int has_ref1, has_ref2, has_num, has_txt1;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static sqlite3 *db;

static void die(const char *what)
{
	fprintf(stderr, "bench_write_floor: %s: %s\n", what, sqlite3_errmsg(db));
	exit(1);
}

static void exec(const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die(sql);
}

static sqlite3_stmt *prepare(const char *sql)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		die(sql);
	return s;
}

static void step_done(sqlite3_stmt *s)
{
	if (sqlite3_step(s) != SQLITE_DONE)
		die("insert");
	sqlite3_reset(s);
}

static void copy_text(char *dst, sqlite3_stmt *q, int col, int *has)
{
	const unsigned char *t = sqlite3_column_text(q, col);
	*has = t != NULL;
	snprintf(dst, 32, "%s", t ? (const char *)t : "");
}

/* The month: orders, refunds and shares of the latest booked period. */
static struct ev *read_month(size_t *n, int64_t *period)
{
	sqlite3_stmt *q = prepare("SELECT max(booked) FROM events");
	if (sqlite3_step(q) != SQLITE_ROW)
		die("max(booked)");
	*period = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	q = prepare("SELECT seq, type, id, at, booked, ref1, ref2, num, txt1 FROM events"
		    " WHERE booked = ?1 AND type IN (9, 10, 11) ORDER BY seq");
	sqlite3_bind_int64(q, 1, *period);
	size_t cap = 1 << 20;
	struct ev *e = malloc(cap * sizeof *e);
	*n = 0;
	while (e && sqlite3_step(q) == SQLITE_ROW) {
		if (*n == cap && !(e = realloc(e, (cap *= 2) * sizeof *e)))
			break;
		struct ev *x = &e[(*n)++];
		int has_id;
		x->seq = sqlite3_column_int64(q, 0);
		x->type = sqlite3_column_int(q, 1);
		copy_text(x->id, q, 2, &has_id);
		x->at = sqlite3_column_int64(q, 3);
		x->booked = sqlite3_column_int64(q, 4);
		x->has_ref1 = sqlite3_column_type(q, 5) != SQLITE_NULL;
		x->ref1 = sqlite3_column_int64(q, 5);
		x->has_ref2 = sqlite3_column_type(q, 6) != SQLITE_NULL;
		x->ref2 = sqlite3_column_int64(q, 6);
		copy_text(x->num, q, 7, &x->has_num);
		copy_text(x->txt1, q, 8, &x->has_txt1);
	}
	if (!e) {
		fprintf(stderr, "bench_write_floor: out of memory\n");
		exit(1);
	}
	sqlite3_finalize(q);
	return e;
}

static const char today_ddl[] =
	"CREATE TABLE w_events(seq INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
	" id TEXT NOT NULL, at INTEGER NOT NULL, booked INTEGER NOT NULL,"
	" ref1 INTEGER, ref2 INTEGER, num TEXT, txt1 TEXT, txt2 TEXT, UNIQUE(type, id));"
	"CREATE INDEX w_by_ref ON w_events(ref1, type);"
	"CREATE INDEX w_by_ref2 ON w_events(ref2, type) WHERE ref2 IS NOT NULL;"
	"CREATE INDEX w_by_booking ON w_events(booked, at);"
	"CREATE INDEX w_network ON w_events(type, seq, at, booked, ref1, ref2, num)"
	" WHERE type BETWEEN 2 AND 7;";

/* Binds one row's nine values from parameter `at` + 1 on. */
static void bind_row(sqlite3_stmt *s, const struct ev *x, int64_t seq, int at)
{
	sqlite3_bind_int64(s, at + 1, seq);
	sqlite3_bind_int(s, at + 2, x->type);
	sqlite3_bind_text(s, at + 3, x->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, at + 4, x->at);
	sqlite3_bind_int64(s, at + 5, x->booked);
	if (x->has_ref1)
		sqlite3_bind_int64(s, at + 6, x->ref1);
	else
		sqlite3_bind_null(s, at + 6);
	if (x->has_ref2)
		sqlite3_bind_int64(s, at + 7, x->ref2);
	else
		sqlite3_bind_null(s, at + 7);
	if (x->has_num)
		sqlite3_bind_text(s, at + 8, x->num, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, at + 8);
	if (x->has_txt1)
		sqlite3_bind_text(s, at + 9, x->txt1, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, at + 9);
}

/* One row per event into `table`, in seq order, as ingest inserts them
 * today. */
static void write_rows(const struct ev *e, size_t n, int64_t seq0, const char *table)
{
	char sql[160];
	snprintf(sql, sizeof sql, "INSERT INTO %s(seq, type, id, at, booked, ref1, ref2, num,"
		 " txt1) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", table);
	sqlite3_stmt *s = prepare(sql);
	for (size_t i = 0; i < n; i++) {
		bind_row(s, &e[i], seq0 + (int64_t)i, 0);
		step_done(s);
	}
	sqlite3_finalize(s);
}

#define VALUES_ROWS 64

/* One row per event, VALUES_ROWS of them to a statement: what binding and
 * stepping a statement per row costs. */
static void write_values(const struct ev *e, size_t n, int64_t seq0)
{
	static char sql[64 + VALUES_ROWS * 24];
	int len = snprintf(sql, sizeof sql, "INSERT INTO w_events(seq, type, id, at, booked,"
			   " ref1, ref2, num, txt1) VALUES");
	for (int r = 0; r < VALUES_ROWS; r++)
		len += snprintf(sql + len, sizeof sql - (size_t)len, "%s(?,?,?,?,?,?,?,?,?)",
				r ? "," : "");
	sqlite3_stmt *s = prepare(sql);
	size_t i = 0;
	for (; i + VALUES_ROWS <= n; i += VALUES_ROWS) {
		for (int r = 0; r < VALUES_ROWS; r++)
			bind_row(s, &e[i + (size_t)r], seq0 + (int64_t)i + r, 9 * r);
		step_done(s);
	}
	sqlite3_finalize(s);
	write_rows(e + i, n - i, seq0 + (int64_t)i, "w_events");
}

/* Staged in a TEMP table, then copied in one statement. */
static void write_staged(const struct ev *e, size_t n, int64_t seq0)
{
	exec("CREATE TEMP TABLE w_stage(seq INTEGER PRIMARY KEY, type, id, at, booked, ref1,"
	     " ref2, num, txt1)");
	write_rows(e, n, seq0, "temp.w_stage");
	exec("INSERT INTO w_events(seq, type, id, at, booked, ref1, ref2, num, txt1)"
	     " SELECT * FROM temp.w_stage ORDER BY seq");
}

static unsigned char *put_varint(unsigned char *p, uint64_t v)
{
	for (; v >= 0x80; v >>= 7)
		*p++ = (unsigned char)(v | 0x80);
	*p++ = (unsigned char)v;
	return p;
}

static unsigned char *put_text(unsigned char *p, const char *s)
{
	size_t len = strlen(s);
	p = put_varint(p, len);
	memcpy(p, s, len);
	return p + len;
}

#define CHUNK 256

/* CHUNK events to a row: type, id, at, refs and amount, varint-packed. */
static void write_chunks(const struct ev *e, size_t n, int64_t seq0)
{
	sqlite3_stmt *s = prepare("INSERT INTO w_chunks(first, booked, data) VALUES(?1, ?2, ?3)");
	static unsigned char buf[CHUNK * 160];
	for (size_t i = 0; i < n; i += CHUNK) {
		unsigned char *p = buf;
		for (size_t j = i; j < n && j < i + CHUNK; j++) {
			p = put_varint(p, (uint64_t)e[j].type);
			p = put_text(p, e[j].id);
			p = put_varint(p, (uint64_t)e[j].at);
			p = put_varint(p, (uint64_t)e[j].ref1);
			p = put_varint(p, (uint64_t)e[j].ref2);
			p = put_text(p, e[j].num);
			p = put_text(p, e[j].txt1);
		}
		sqlite3_bind_int64(s, 1, seq0 + (int64_t)i);
		sqlite3_bind_int64(s, 2, e[i].booked);
		sqlite3_bind_blob(s, 3, buf, (int)(p - buf), SQLITE_STATIC);
		step_done(s);
	}
	sqlite3_finalize(s);
}

static int by_key(const void *a, const void *b)
{
	const struct ev *x = *(const struct ev *const *)a, *y = *(const struct ev *const *)b;
	return x->type != y->type ? x->type - y->type : strcmp(x->id, y->id);
}

static int by_member(const void *a, const void *b)
{
	const struct ev *x = *(const struct ev *const *)a, *y = *(const struct ev *const *)b;
	if (x->ref1 != y->ref1)
		return x->ref1 < y->ref1 ? -1 : 1;
	if (x->type != y->type)
		return x->type - y->type;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The key and member tables, sorted first; seq here is the new one. */
static void write_sorted(struct ev *e, size_t n, int members)
{
	const struct ev **ix = malloc(n * sizeof *ix);
	if (!ix) {
		fprintf(stderr, "bench_write_floor: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		ix[i] = &e[i];
	qsort(ix, n, sizeof *ix, by_key);
	sqlite3_stmt *s = prepare("INSERT INTO w_keys(type, id, seq) VALUES(?1, ?2, ?3)");
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int(s, 1, ix[i]->type);
		sqlite3_bind_text(s, 2, ix[i]->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, ix[i]->seq);
		step_done(s);
	}
	sqlite3_finalize(s);
	if (members) {
		qsort(ix, n, sizeof *ix, by_member);
		s = prepare("INSERT INTO w_members(member, type, seq) VALUES(?1, ?2, ?3)");
		for (size_t i = 0; i < n; i++) {
			sqlite3_bind_int64(s, 1, ix[i]->ref1);
			sqlite3_bind_int(s, 2, ix[i]->type);
			sqlite3_bind_int64(s, 3, ix[i]->seq);
			step_done(s);
		}
		sqlite3_finalize(s);
	}
	free(ix);
}

/* Fills `into` with `cols` of the store's events other than the month's,
 * those that also meet `cond`, in the order `order`. */
static void fill_others(const char *into, const char *cols, const char *cond, const char *order,
			int64_t period)
{
	char sql[512];
	snprintf(sql, sizeof sql, "INSERT INTO %s SELECT %s FROM events WHERE %s"
		 " NOT (booked = %lld AND type IN (9, 10, 11)) ORDER BY %s",
		 into, cols, cond, (long long)period, order);
	exec(sql);
}

static void setup(const char *layout, int64_t period)
{
	if (!strncmp(layout, "today", 5))
		exec(today_ddl);
	else if (!strncmp(layout, "rows", 4)) {
		char sql[512];
		snprintf(sql, sizeof sql, "CREATE TABLE w_events(seq INTEGER PRIMARY KEY,"
			 " type INTEGER NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL,"
			 " booked INTEGER NOT NULL, ref1 INTEGER, ref2 INTEGER, num TEXT,"
			 " txt1 TEXT, txt2 TEXT%s)",
			 strcmp(layout, "rows-unique") ? "" : ", UNIQUE(type, id)");
		exec(sql);
	}
	if (strncmp(layout, "chunks", 6)) {
		fill_others("w_events", "*", "", "seq", period);
		if (strcmp(layout, "rows-keys"))
			return;
	} else {
		exec("CREATE TABLE w_chunks(first INTEGER PRIMARY KEY, booked INTEGER NOT NULL,"
		     " data BLOB NOT NULL);"
		     "CREATE INDEX w_chunks_by_booking ON w_chunks(booked, first);");
	}
	exec("CREATE TABLE w_keys(type INTEGER NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,"
	     " PRIMARY KEY(type, id)) WITHOUT ROWID;");
	fill_others("w_keys", "type, id, seq", "", "type, id", period);
	if (strcmp(layout, "chunks-keys-members"))
		return;
	exec("CREATE TABLE w_members(member INTEGER NOT NULL, type INTEGER NOT NULL,"
	     " seq INTEGER NOT NULL, PRIMARY KEY(member, type, seq)) WITHOUT ROWID;");
	fill_others("w_members", "ref1, type, seq", "ref1 IS NOT NULL AND", "1, 2, 3", period);
}

int main(int argc, char **argv)
{
	static const char *const layouts[] = { "today", "today-staged", "rows", "rows-values",
					       "rows-unique", "rows-keys", "chunks-keys",
					       "chunks-keys-members" };
	int known = 0;
	for (size_t i = 0; argc == 3 && i < sizeof layouts / sizeof *layouts; i++)
		known |= !strcmp(argv[2], layouts[i]);
	if (!known) {
		fprintf(stderr, "usage: bench_write_floor DB today|today-staged|rows|rows-values"
				"|rows-unique|rows-keys|chunks-keys|chunks-keys-members\n");
		return 2;
	}
	const char *layout = argv[2];
	if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL)
	    != SQLITE_OK)
		die(argv[1]);
	/* the settings of libreferral's store_open */
	exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-262144;"
	     " PRAGMA temp_store=FILE; PRAGMA mmap_size=17179869184");
	size_t n;
	int64_t period;
	struct ev *e = read_month(&n, &period);
	setup(layout, period);
	exec("PRAGMA wal_checkpoint(TRUNCATE)");

	sqlite3_stmt *q = prepare("SELECT max(seq) FROM events");
	if (sqlite3_step(q) != SQLITE_ROW)
		die("max(seq)");
	int64_t seq0 = sqlite3_column_int64(q, 0) + 1;
	sqlite3_finalize(q);
	/* new ids, so that the month is stored again rather than found */
	for (size_t i = 0; i < n; i++) {
		e[i].seq = seq0 + (int64_t)i;
		size_t len = strlen(e[i].id);
		if (len + 2 < sizeof e[i].id)
			memcpy(e[i].id + len, "+w", 3);
	}

	double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	exec("BEGIN IMMEDIATE");
	if (!strncmp(layout, "chunks", 6)) {
		write_chunks(e, n, seq0);
		write_sorted(e, n, !strcmp(layout, "chunks-keys-members"));
	} else if (!strcmp(layout, "today-staged")) {
		write_staged(e, n, seq0);
	} else if (!strcmp(layout, "rows-values")) {
		write_values(e, n, seq0);
	} else {
		write_rows(e, n, seq0, "w_events");
		if (!strcmp(layout, "rows-keys"))
			write_sorted(e, n, 0);
	}
	exec("COMMIT");
	double wall = clock_s(CLOCK_MONOTONIC) - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	printf("layout=%s events=%zu write_s=%.3f cpu_s=%.3f rows_per_s=%.0f\n", layout, n, wall,
	       cpu, (double)n / wall);
	free(e);
	sqlite3_close(db);
	return 0;
}
