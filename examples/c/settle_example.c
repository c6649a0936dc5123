/*
 * settle_example — linking libreferral from C, out of tree.
 *
 * Creates a store in a temporary directory with the reference plan, ingests
 * one small batch (JSON lines, plus one event given as C strings), closes
 * January 2026, verifies, and prints January's statements as CSV on standard
 * output. The library's version goes to standard error.
 *
 * Build:  cc settle_example.c $(pkg-config --cflags --libs referral)
 *    or:  find_package(referral) + target_link_libraries(... referral::referral)
 *
 * The figures, by hand (grade 1: rate 0.05, bounty 20.00; override 0.01;
 * half_up to the fen):
 *   D1: commission 1288.88 x 0.05 = 64.444 and 99.90 x 0.05 = 4.995, so 69.439;
 *       bounty 20.00; total 89.439 -> payable 89.44, carry -0.001
 *   R1: override 0.01 x 64.444 = 0.64444 and 0.01 x 4.995 = 0.04995, so
 *       0.69439 -> payable 0.69, carry 0.00439
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <referral/referral.h>

/* The reference plan (docs/formats.md, "The plan"). */
static const char plan_json[] =
	"{\"utc_offset\": \"+08:00\", \"start_period\": \"2026-01\",\n"
	" \"commission_window_months\": 36,\n"
	" \"grades\": [\n"
	"  {\"grade\": 1, \"rate\": \"0.05\", \"bounty\": \"20.00\"},\n"
	"  {\"grade\": 2, \"rate\": \"0.08\", \"bounty\": \"20.00\", \"min_members\": 3,\n"
	"   \"min_sales\": \"3000.00\", \"min_shares\": 5, \"min_store_rating\": \"3.0\"},\n"
	"  {\"grade\": 3, \"rate\": \"0.10\", \"bounty\": \"30.00\", \"min_members\": 10,\n"
	"   \"min_sales\": \"15000.00\", \"min_shares\": 20, \"min_store_rating\": \"3.5\"},\n"
	"  {\"grade\": 4, \"rate\": \"0.12\", \"bounty\": \"50.00\", \"min_members\": 30,\n"
	"   \"min_sales\": \"60000.00\", \"min_shares\": 60, \"min_store_rating\": \"4.0\"}],\n"
	" \"grading\": {\"window_months\": 3, \"initial_grade\": 1, \"allow_demotion\": true},\n"
	" \"override_rate\": \"0.01\", \"share_bonus_rate\": \"0.25\",\n"
	" \"points\": {\"per_yuan\": \"1\", \"per_share\": \"5\"},\n"
	" \"member_tiers\": [{\"name\": \"bronze\", \"min_points\": \"0\"},\n"
	"  {\"name\": \"silver\", \"min_points\": \"2000\"},\n"
	"  {\"name\": \"gold\", \"min_points\": \"10000\"},\n"
	"  {\"name\": \"platinum\", \"min_points\": \"30000\"},\n"
	"  {\"name\": \"diamond\", \"min_points\": \"80000\"}],\n"
	" \"rounding\": \"half_up\", \"min_payout\": \"0.01\"}\n";

/* January's events as JSON Lines, one object per line. */
static const char *const events[] = {
	"{\"type\":\"store\",\"id\":\"s1\",\"at\":\"2026-01-01T09:00:00+08:00\","
	"\"name\":\"Example Store\",\"region\":\"east\"}",
	"{\"type\":\"distributor\",\"id\":\"R1\",\"at\":\"2026-01-02T09:00:00+08:00\","
	"\"kind\":\"mom\",\"store\":\"s1\",\"recruiter\":null}",
	"{\"type\":\"distributor\",\"id\":\"D1\",\"at\":\"2026-01-03T09:00:00+08:00\","
	"\"kind\":\"doctor\",\"store\":\"s1\",\"recruiter\":\"R1\"}",
	"{\"type\":\"member\",\"id\":\"m1\",\"at\":\"2026-01-04T09:00:00+08:00\",\"distributor\":\"D1\"}",
	"{\"type\":\"order\",\"id\":\"o1\",\"at\":\"2026-01-10T12:00:00+08:00\","
	"\"member\":\"m1\",\"amount\":\"1288.88\"}",
};

/* Prints the store's message for a failed call and returns 1. */
static int fail(referral_store *st, const char *what, int rc)
{
	fprintf(stderr, "settle_example: %s: %s (%s)\n", what, referral_errmsg(st),
	        referral_status_name(rc));
	return 1;
}

static int ingest(referral_store *st)
{
	referral_batch *b = NULL;
	int rc = referral_batch_begin(st, &b, "settle_example");
	if (rc)
		return fail(st, "batch_begin", rc);
	long line = 0;
	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
		referral_batch_add_json(b, events[i], strlen(events[i]), ++line);

	/* The same kind of event, given as C strings instead of JSON. */
	referral_event ev = {0};
	ev.type = REFERRAL_EV_ORDER;
	ev.id = "o2";
	ev.at = "2026-01-15T18:30:00+08:00";
	ev.member = "m1";
	ev.amount = "99.90";
	referral_batch_add_event(b, &ev, ++line);

	rc = referral_batch_commit(b);
	if (rc) {
		/* Every bad line, as "FILE:LINE: message". */
		for (long i = 0; referral_batch_error(b, i); i++)
			fprintf(stderr, "%s\n", referral_batch_error(b, i));
		referral_batch_free(b);
		return fail(st, "batch_commit", rc);
	}
	printf("ingested %ld events\n", referral_batch_ingested(b));
	referral_batch_free(b);
	return 0;
}

static int print_statements(referral_store *st, const char *period)
{
	referral_rows *rows = NULL;
	int rc = referral_rows_open(st, &rows, "statements", period);
	if (rc)
		return fail(st, "rows_open", rc);
	int n = referral_rows_columns(rows);
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", referral_rows_column(rows, i));
	printf("\n");
	while ((rc = referral_rows_next(rows)) == 1) {
		for (int i = 0; i < n; i++)
			printf("%s%s", i ? "," : "", referral_rows_value(rows, i));
		printf("\n");
	}
	referral_rows_free(rows);
	return rc < 0 ? fail(st, "rows_next", -rc) : 0;
}

static int run(const char *path)
{
	referral_store *st = NULL;
	int rc = referral_store_create(&st, path, plan_json);
	int failed = 0;
	char open_period[8];
	if (rc) {
		failed = fail(st, "store_create", rc);
		goto out;
	}
	if ((failed = ingest(st)))
		goto out;
	if ((rc = referral_close(st, "2026-01"))) {
		failed = fail(st, "close 2026-01", rc);
		goto out;
	}
	if ((rc = referral_open_period(st, open_period, sizeof open_period))) {
		failed = fail(st, "open_period", rc);
		goto out;
	}
	printf("closed 2026-01; open period now %s\n", open_period);
	if ((rc = referral_verify(st))) {
		failed = fail(st, "verify", rc);
		goto out;
	}
	failed = print_statements(st, "2026-01");
out:
	referral_store_free(st);
	return failed;
}

/*
 * Whether the library loaded can serve a program compiled against this header
 * (docs/versioning.md): while the major version is 0, only the same minor
 * version can; from 1.0 on, the same major version of at least this minor.
 */
static int compatible(int loaded)
{
	if (REFERRAL_VERSION_MAJOR == 0)
		return loaded / 100 == REFERRAL_VERSION_NUMBER / 100;
	return loaded / 10000 == REFERRAL_VERSION_MAJOR && loaded / 100 >= REFERRAL_VERSION_NUMBER / 100;
}

int main(void)
{
	/* The header this was compiled with should match the library loaded. */
	fprintf(stderr, "libreferral %s (compiled against %s)\n", referral_version(), REFERRAL_VERSION);
	if (!compatible(referral_version_number())) {
		fprintf(stderr, "settle_example: incompatible libreferral %s\n", referral_version());
		return 1;
	}

	const char *tmp = getenv("TMPDIR");
	char dir[4096], path[4200], side[4300];
	snprintf(dir, sizeof dir, "%s/settle_example.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("settle_example: mkdtemp");
		return 1;
	}
	snprintf(path, sizeof path, "%s/example.db", dir);

	int failed = run(path);

	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		snprintf(side, sizeof side, "%s%s", path, suffixes[i]);
		unlink(side);
	}
	rmdir(dir);
	return failed;
}
