/*
 * floor.c — the read floor of a close: a bare C + SQLite program that scans
 * the orders and refunds booked in one period, in the order settlement reads
 * them, and sums something trivial.
 *
 *   bench_floor DB YYYY-MM [REPEAT [TYPES]]
 *
 * Runs the query of libreferral's stream (engines/sqlite_stream.c) over the store
 * file, with the settings the library uses (a 256 MiB page cache, the file
 * memory-mapped for reading, no mutexes), REPEAT times
 * (default 1), and prints the fastest. TYPES is the list of event types
 * scanned, default "9,10" (orders and refunds); "9,10,11" adds the shares,
 * which the library's settlement pass also streams since 41da9a4.
 *
 *   rows=N seconds=S rows_per_s=R checksum=C
 *
 * The layout it relies on is libreferral/engines/sqlite.h's: events(seq, type, at,
 * booked, ref1, ..., num), booked the period as year*12 + month-1, types 9
 * (order) and 10 (refund).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	int y, m, repeat = argc > 3 ? atoi(argv[3]) : 1;
	const char *types = argc > 4 ? argv[4] : "9,10";
	if (argc < 3 || argc > 5 || strspn(types, "0123456789,") != strlen(types) || sscanf(argv[2], "%4d-%2d", &y, &m) != 2 || m < 1 || m > 12 ||
	    repeat < 1) {
		fprintf(stderr, "usage: bench_floor DB YYYY-MM [REPEAT [TYPES]]\n");
		return 2;
	}
	int period = y * 12 + (m - 1);
	sqlite3 *db;
	if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_floor: %s: %s\n", argv[1], sqlite3_errmsg(db));
		return 1;
	}
	sqlite3_exec(db, "PRAGMA cache_size=-262144; PRAGMA mmap_size=17179869184", NULL, NULL, NULL);
	sqlite3_stmt *q;
	char sql[512], cond[128] = "type IN (9, 10, 11)";
	/* the condition of the stream's partial index, as the store's schema
	 * says it (IN in version 3, BETWEEN since version 4), repeated so that
	 * the planner may use the index as settlement does */
	if (sqlite3_prepare_v2(db, "SELECT substr(sql, instr(sql, ' WHERE ') + 7) FROM sqlite_schema"
			       " WHERE name = 'events_stream'", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
		snprintf(cond, sizeof cond, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	/* all three types: the stream's own query, with no filter beyond the
	 * index's condition */
	snprintf(sql, sizeof sql, "SELECT seq, at, ref1, num FROM events"
		 " WHERE booked = ?1 AND %s%s%s%s ORDER BY at, seq", cond,
		 strcmp(types, "9,10,11") ? " AND type IN (" : "",
		 strcmp(types, "9,10,11") ? types : "", strcmp(types, "9,10,11") ? ")" : "");
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_floor: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	double best = 1e30;
	long rows = 0;
	unsigned long long sum = 0;
	for (int r = 0; r < repeat; r++) {
		double t0 = now();
		int step;
		rows = 0;
		sum = 0;
		sqlite3_bind_int(q, 1, period);
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			const unsigned char *num = sqlite3_column_text(q, 3);
			sum += (unsigned long long)sqlite3_column_int64(q, 0) +
			       (unsigned long long)sqlite3_column_int64(q, 1) +
			       (unsigned long long)sqlite3_column_int64(q, 2) + (num ? num[0] : 0);
			rows++;
		}
		sqlite3_reset(q);
		double t = now() - t0;
		if (step != SQLITE_DONE) {
			fprintf(stderr, "bench_floor: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		if (t < best)
			best = t;
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	printf("rows=%ld seconds=%.3f rows_per_s=%.0f checksum=%llu\n", rows, best,
	       (double)rows / best, sum);
	return 0;
}
