/*
 * referral — the command finance runs the month end with. A thin consumer
 * of the public API: every rule lives in the library.
 *
 * Exit codes: 0 success, 2 usage, 3 rejected input, 4 refused by state,
 * 5 storage or I/O failure, 6 verify found a discrepancy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <referral/referral.h>

#define EXIT_USAGE 2

static const char *const usage_text =
	"usage: referral COMMAND ...\n"
	"\n"
	"  init DB --plan PLAN.json          create a store with its first plan\n"
	"  plan DB PLAN.json --from YYYY-MM  add a plan version\n"
	"  ingest DB FILE.jsonl|-            ingest one atomic batch\n"
	"  settle DB YYYY-MM                 draft-settle the earliest open period\n"
	"  close DB YYYY-MM                  settle if needed, freeze, grade, open next\n"
	"  export DB statements|lines|grades|members [--period YYYY-MM] [--format csv|json]\n"
	"  verify DB                         re-derive closed periods, check identities\n"
	"\n"
	"  referral --version | --help | COMMAND --help\n"
	"\n"
	"Exit codes: 0 ok, 2 usage, 3 rejected input, 4 refused by state,\n"
	"5 storage or I/O failure, 6 verify found a discrepancy.\n";

struct command {
	const char *name;
	const char *synopsis;
	const char *help;
	int (*run)(int argc, char **argv);
};

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "referral %s: ", cmd);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see referral %s --help)\n", cmd);
	return EXIT_USAGE;
}

/* Prints the store's message and returns the status as the exit code. */
static int report(referral_store *st, int rc)
{
	if (rc)
		fprintf(stderr, "referral: %s\n", referral_errmsg(st));
	return rc;
}

static void show_progress(void *ctx, const char *phase, long long done, long long total)
{
	(void)total;
	fprintf(stderr, "\r%s: %lld events", phase, done);
	*(int *)ctx = 1;
}

static int progress_shown;

/* Opens a store; long runs show progress when standard error is a terminal. */
static int open_store(const char *path, referral_store **st)
{
	int rc = referral_store_open(st, path);
	if (rc)
		report(*st, rc);
	else if (isatty(STDERR_FILENO))
		referral_set_progress(*st, show_progress, &progress_shown);
	return rc;
}

static void end_progress(void)
{
	if (progress_shown)
		fputc('\n', stderr);
	progress_shown = 0;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	do {
		if (cap - len < 4097) {
			cap = cap ? cap * 2 : 8192;
			char *p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n == 4096);
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* ---- commands ----------------------------------------------------------- */

static int cmd_init(int argc, char **argv)
{
	const char *db = NULL, *plan = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--plan") && i + 1 < argc)
			plan = argv[++i];
		else if (!db && argv[i][0] != '-')
			db = argv[i];
		else
			return usage_error("init", "unexpected argument \"%s\"", argv[i]);
	}
	if (!db || !plan)
		return usage_error("init", "%s", "expected: init DB --plan PLAN.json");
	char *text = read_file(plan);
	if (!text) {
		fprintf(stderr, "referral: plan \"%s\": cannot read: %s\n", plan, strerror(errno));
		return REFERRAL_EIO;
	}
	referral_store *st;
	int rc = referral_store_create(&st, db, text);
	free(text);
	if (rc)
		report(st, rc);
	referral_store_free(st);
	return rc;
}

static int cmd_plan(int argc, char **argv)
{
	const char *db = NULL, *plan = NULL, *from = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--from") && i + 1 < argc)
			from = argv[++i];
		else if (!db && argv[i][0] != '-')
			db = argv[i];
		else if (!plan && argv[i][0] != '-')
			plan = argv[i];
		else
			return usage_error("plan", "unexpected argument \"%s\"", argv[i]);
	}
	if (!db || !plan || !from)
		return usage_error("plan", "%s", "expected: plan DB PLAN.json --from YYYY-MM");
	char *text = read_file(plan);
	if (!text) {
		fprintf(stderr, "referral: plan \"%s\": cannot read: %s\n", plan, strerror(errno));
		return REFERRAL_EIO;
	}
	referral_store *st;
	int rc = open_store(db, &st);
	if (!rc)
		rc = report(st, referral_plan_add(st, text, from));
	free(text);
	referral_store_free(st);
	return rc;
}

static int cmd_ingest(int argc, char **argv)
{
	if (argc != 3)
		return usage_error("ingest", "%s", "expected: ingest DB FILE.jsonl|-");
	const char *path = argv[2];
	int use_stdin = !strcmp(path, "-");
	FILE *f = use_stdin ? stdin : fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "referral: %s: cannot open: %s\n", path, strerror(errno));
		return REFERRAL_EIO;
	}
	referral_store *st;
	referral_batch *b = NULL;
	int rc = open_store(argv[1], &st);
	if (!rc)
		rc = report(st, referral_batch_begin(st, &b, path));
	int progress = isatty(STDERR_FILENO);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	while (!rc && (n = getline(&line, &cap, f)) >= 0) {
		int r = referral_batch_add_json(b, line, (size_t)n, ++lineno);
		if (r == REFERRAL_EIO || r == REFERRAL_EUSAGE)
			rc = report(st, r);
		if (progress && lineno % 100000 == 0)
			fprintf(stderr, "\ringest: %ld lines", lineno);
	}
	if (progress && lineno >= 100000)
		fprintf(stderr, "\n");
	if (!rc && ferror(f)) {
		fprintf(stderr, "referral: %s: read error\n", path);
		rc = REFERRAL_EIO;
	}
	free(line);
	if (!use_stdin)
		fclose(f);
	if (!rc) {
		rc = referral_batch_commit(b);
		if (rc == REFERRAL_EINPUT || rc == REFERRAL_ESTATE) {
			long nerr = referral_batch_error_count(b);
			for (long i = 0; i < nerr && i < 100; i++)
				fprintf(stderr, "%s\n", referral_batch_error(b, i));
			if (nerr > 100)
				fprintf(stderr, "... and %ld more bad lines\n", nerr - 100);
			fprintf(stderr, "referral: %s\n", referral_errmsg(st));
		} else if (rc) {
			report(st, rc);
		} else {
			printf("ingested %ld, duplicates %ld\n", referral_batch_ingested(b),
			       referral_batch_duplicates(b));
		}
	}
	referral_batch_free(b);
	referral_store_free(st);
	return rc;
}

static int period_command(int argc, char **argv, int (*fn)(referral_store *, const char *))
{
	if (argc != 3)
		return usage_error(argv[0], "expected: %s DB YYYY-MM", argv[0]);
	referral_store *st;
	int rc = open_store(argv[1], &st);
	if (!rc) {
		rc = fn(st, argv[2]);
		end_progress();
		report(st, rc);
	}
	referral_store_free(st);
	return rc;
}

static int cmd_settle(int argc, char **argv) { return period_command(argc, argv, referral_settle); }
static int cmd_close(int argc, char **argv) { return period_command(argc, argv, referral_close); }

static int write_stdout(void *ctx, const char *data, size_t len)
{
	return fwrite(data, 1, len, (FILE *)ctx) != len;
}

static int cmd_export(int argc, char **argv)
{
	const char *db = NULL, *table = NULL, *period = NULL, *format = "csv";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--period") && i + 1 < argc)
			period = argv[++i];
		else if (!strcmp(argv[i], "--format") && i + 1 < argc)
			format = argv[++i];
		else if (!db && argv[i][0] != '-')
			db = argv[i];
		else if (!table && argv[i][0] != '-')
			table = argv[i];
		else
			return usage_error("export", "unexpected argument \"%s\"", argv[i]);
	}
	if (!db || !table)
		return usage_error("export", "%s",
				   "expected: export DB statements|lines|grades|members"
				   " [--period YYYY-MM] [--format csv|json]");
	if (strcmp(format, "csv") && strcmp(format, "json"))
		return usage_error("export", "unknown format \"%s\": expected csv or json", format);
	if (period && !strcmp(table, "members"))
		return usage_error("export", "%s", "members takes no --period");
	referral_store *st;
	int rc = open_store(db, &st);
	if (!rc)
		rc = report(st, referral_export(st, table, period, format, write_stdout, stdout));
	if (!rc && fflush(stdout)) {
		fprintf(stderr, "referral: export: cannot write standard output\n");
		rc = REFERRAL_EIO;
	}
	referral_store_free(st);
	return rc;
}

static int cmd_verify(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("verify", "%s", "expected: verify DB");
	referral_store *st;
	int rc = open_store(argv[1], &st);
	if (!rc) {
		rc = referral_verify(st);
		end_progress();
		report(st, rc);
		if (!rc)
			printf("verify: ok\n");
	}
	referral_store_free(st);
	return rc;
}

static const struct command commands[] = {
	{"init", "init DB --plan PLAN.json",
	 "Creates the store DB (a SQLite file) with its first plan. The first open\n"
	 "period is the plan's start_period. Refused (exit 4) if DB is already a store.\n",
	 cmd_init},
	{"plan", "plan DB PLAN.json --from YYYY-MM",
	 "Adds a plan version effective from YYYY-MM, which must not be closed.\n"
	 "A period uses the latest version effective at or before it.\n",
	 cmd_plan},
	{"ingest", "ingest DB FILE.jsonl|-",
	 "Ingests one atomic batch of JSON Lines events (- reads standard input).\n"
	 "Prints \"ingested N, duplicates D\", or every bad line (up to 100) as\n"
	 "FILE:LINE: message on standard error and stores nothing (exit 3; exit 4\n"
	 "when every bad line is a conflicting duplicate).\n",
	 cmd_ingest},
	{"settle", "settle DB YYYY-MM",
	 "Computes the draft statements and lines of the earliest open period,\n"
	 "replacing any earlier draft. Any other period is refused (exit 4).\n",
	 cmd_settle},
	{"close", "close DB YYYY-MM",
	 "Settles the earliest open period from every event ingested, freezes its\n"
	 "lines and statements, grades its distributors and opens the next period,\n"
	 "all in one transaction.\n",
	 cmd_close},
	{"export", "export DB statements|lines|grades|members [--period YYYY-MM] [--format csv|json]",
	 "Writes an export to standard output (CSV by default). Statements and lines\n"
	 "exist for closed periods and the settled draft; grades for closed periods.\n"
	 "Without --period, every period that has them.\n",
	 cmd_export},
	{"verify", "verify DB",
	 "Re-derives every closed period from the events ingested when it closed,\n"
	 "compares with what was frozen and checks that nothing was lost or created.\n"
	 "Exit 6 names the first discrepancy.\n",
	 cmd_verify},
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("referral %s\n", referral_version());
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
		const struct command *c = &commands[i];
		if (strcmp(argv[1], c->name))
			continue;
		for (int k = 2; k < argc; k++) {
			if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
				printf("usage: referral %s\n\n%s", c->synopsis, c->help);
				return 0;
			}
		}
		return c->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "referral: unknown command \"%s\"\n\n%s", argv[1], usage_text);
	return EXIT_USAGE;
}
