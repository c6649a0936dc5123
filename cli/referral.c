/*
 * referral — the command finance runs the month end with. A thin consumer
 * of the public API: every rule lives in the library.
 *
 * Exit codes: 0 success, 2 usage, 3 rejected input, 4 refused by state,
 * 5 storage or I/O failure, 6 verify found a discrepancy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <referral/referral.h>

#define EXIT_USAGE 2

static const char *const usage_text =
	"usage: referral COMMAND ...\n"
	"\n"
	"  init DB --plan PLAN.json          create a store with its first plan\n"
	"  plan DB PLAN.json --from YYYY-MM  add a plan version\n"
	"  ingest DB FILE.jsonl|-            ingest one atomic batch (plain or gzip)\n"
	"  settle DB YYYY-MM                 draft-settle the earliest open period\n"
	"  close DB YYYY-MM                  settle if needed, freeze, grade, open next\n"
	"  export DB TABLE [--period YYYY-MM] [--format csv|json|dot] [--distributor ID]... [--bom]\n"
	"                                    write an export: statements, lines, grades,\n"
	"                                    members, payouts, stores, distributors, tree\n"
	"  explain DB ID --period YYYY-MM    how one distributor's statement came about\n"
	"  report DB --period YYYY-MM [--output FILE.html]\n"
	"                                    the month end as a page to open, print, send\n"
	"  verify DB                         re-derive closed periods, check identities\n"
	"\n"
	"  referral --version | --help | COMMAND --help\n"
	"\n"
	"DB is a SQLite file, or a PostgreSQL URI postgresql://...?brand=NAME.\n"
	"\"--\" ends the options. Exit codes: 0 ok, 2 usage, 3 rejected input,\n"
	"4 refused by state, 5 storage or I/O failure, 6 verify found a discrepancy.\n"
	"The manual: man referral.\n";

/* ---- messages ----------------------------------------------------------- */

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "referral %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
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

/* ---- progress on a terminal --------------------------------------------- */

/*
 * The library reports often; the line on standard error is redrawn at most
 * every REDRAW_MS, in place ("\r", the text, erase to the end of the line).
 * A phase that ends at its first report (a short run) draws nothing.
 */
#define REDRAW_MS 100

struct progress {
	int drawn;            /* a progress line is on the terminal */
	int pending;          /* the last report is not drawn yet */
	char phase[16];
	long long done, total;
	struct timespec last; /* when the line was last drawn */
	char text[200];       /* what it shows */
};

static struct progress progress;

/* Writes v with a comma between thousands: 1,200,000. */
static void grouped(char *out, size_t cap, long long v)
{
	char digits[32];
	int n = snprintf(digits, sizeof digits, "%lld", v < 0 ? 0 : v);
	size_t k = 0;
	for (int i = 0; i < n && k + 2 < cap; i++) {
		if (i && (n - i) % 3 == 0)
			out[k++] = ',';
		out[k++] = digits[i];
	}
	out[k] = '\0';
}

/* Writes `v` bytes in the unit that shows `scale` bytes with at most
 * three digits before the point: "324 MB", and one decimal below 100 of
 * the unit: "4.7 MB". */
static void bytes_shown(char *out, size_t cap, long long v, long long scale)
{
	static const char *const names[] = {"bytes", "kB", "MB", "GB", "TB"};
	long long unit = 1;
	int u = 0;
	while (u < 4 && scale / unit >= 1000) {
		unit *= 1000;
		u++;
	}
	char whole[32];
	grouped(whole, sizeof whole, v / unit);
	if (u && scale / unit < 100)
		snprintf(out, cap, "%s.%lld %s", whole, v % unit * 10 / unit, names[u]);
	else
		snprintf(out, cap, "%s %s", whole, names[u]);
}

static void format_progress(const struct progress *p, char *out, size_t cap)
{
	int bytes = !strcmp(p->phase, "ingest");
	long long scale = p->total >= 0 ? p->total : p->done;
	char done[48], total[48];
	if (bytes) {
		bytes_shown(done, sizeof done, p->done, scale);
		bytes_shown(total, sizeof total, p->total, scale);
	} else {
		grouped(done, sizeof done, p->done);
		grouped(total, sizeof total, p->total);
	}
	if (p->total < 0) {
		snprintf(out, cap, "%s: %s%s", p->phase, done, bytes ? " read" : " events");
		return;
	}
	long long pct = p->total > 0 ? (long long)((double)p->done * 100 / (double)p->total) : 100;
	if (pct > 100)
		pct = 100;
	snprintf(out, cap, "%s: %lld%% (%s of %s%s)", p->phase, pct, done, total,
		 bytes ? "" : " events");
}

static void draw_progress(struct progress *p, const struct timespec *now)
{
	char text[sizeof p->text];
	format_progress(p, text, sizeof text);
	if (!p->drawn || strcmp(text, p->text))
		fprintf(stderr, "\r%s\033[K", text);
	memcpy(p->text, text, sizeof text);
	p->drawn = 1;
	p->pending = 0;
	p->last = *now;
}

static void show_progress(void *ctx, const char *phase, long long done, long long total)
{
	struct progress *p = ctx;
	snprintf(p->phase, sizeof p->phase, "%s", phase);
	p->done = done;
	p->total = total;
	p->pending = 1;
	if (!p->drawn && done == total)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (now.tv_sec - p->last.tv_sec) * 1000LL +
		       (now.tv_nsec - p->last.tv_nsec) / 1000000;
	if (!p->drawn || ms >= REDRAW_MS)
		draw_progress(p, &now);
}

/* Draws the last report if it was held back, and ends the line, if a
 * progress line was drawn at all. */
static void end_progress(void)
{
	if (!progress.drawn)
		return;
	if (progress.pending) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		draw_progress(&progress, &now);
	}
	fputc('\n', stderr);
	memset(&progress, 0, sizeof progress);
}

/* Opens a store; long runs show progress when standard error is a terminal. */
static int open_store(const char *path, referral_store **st)
{
	int rc = referral_store_open(st, path);
	if (rc)
		report(*st, rc);
	else if (isatty(STDERR_FILENO))
		referral_set_progress(*st, show_progress, &progress);
	return rc;
}

/* The whole of a file, NUL-terminated; NULL with errno set if it cannot
 * be read. A NUL inside it would end the text early: *nul is its offset,
 * or -1. */
static char *read_file(const char *path, long *nul)
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
	char *first = memchr(buf, '\0', len);
	*nul = first ? (long)(first - buf) : -1;
	return buf;
}

/* The text of the plan file `path`, or NULL after a message. */
static char *read_plan(const char *path, int *rc)
{
	long nul;
	char *text = read_file(path, &nul);
	if (!text) {
		fprintf(stderr, "referral: plan \"%s\": cannot read: %s\n", path, strerror(errno));
		*rc = REFERRAL_EIO;
	} else if (nul >= 0) {
		fprintf(stderr, "referral: plan \"%s\": a NUL byte at offset %ld: a plan is JSON text\n",
			path, nul);
		free(text);
		text = NULL;
		*rc = REFERRAL_EINPUT;
	}
	return text;
}

/* ---- arguments ---------------------------------------------------------- */

#define MAX_OPERANDS 2
#define MAX_OPTIONS 5
#define HELP_SHOWN (-1)

/* How a long option of a command is given. */
enum option_kind {
	OPT_VALUE,    /* --name VALUE, at most once (the last one counts) */
	OPT_LIST,     /* --name VALUE, as often as wanted: every value kept */
	OPT_FLAG      /* --name alone */
};

struct option_spec {
	const char *name;   /* "--period" */
	int required;
	enum option_kind kind;
};

/* A command's arguments, sorted: its operands, the value of each option
 * (NULL if not given; "" for a flag given), and the values of its list
 * option in order. */
struct args {
	char *operand[MAX_OPERANDS];
	const char *value[MAX_OPTIONS];
	const char **list;
	int nlist;
};

struct command {
	const char *name;
	const char *synopsis;
	const char *help;
	int operands;                         /* exactly this many */
	struct option_spec options[MAX_OPTIONS]; /* a NULL name ends the list */
	int (*run)(struct args *a);
};

/*
 * Sorts the arguments of command `c` (argv[0 .. argc), after its name) into
 * its operands and the values of its options, as GNU programs do: an option
 * is "--name VALUE" or "--name=VALUE" anywhere among the operands (a flag is
 * "--name" alone), "--" ends the options, "-" alone is an operand; --help or
 * -h prints the command's help. Returns 0, HELP_SHOWN, or EXIT_USAGE after a
 * message naming the argument at fault. `args->list` has room for argc
 * values.
 */
static int parse_args(const struct command *c, int argc, char **argv, struct args *args)
{
	char **operand = args->operand;
	const char **value = args->value;
	int n = 0, options_end = 0;
	for (int i = 0; i < argc; i++) {
		char *a = argv[i];
		if (options_end || a[0] != '-' || !a[1]) {
			if (n == c->operands)
				return usage_error(c->name, "unexpected argument \"%s\"", a);
			operand[n++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			options_end = 1;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("usage: referral %s\n\n%s", c->synopsis, c->help);
			return HELP_SHOWN;
		}
		size_t len = strcspn(a, "=");
		int k = 0;
		while (k < MAX_OPTIONS && c->options[k].name &&
		       (strlen(c->options[k].name) != len || memcmp(c->options[k].name, a, len)))
			k++;
		if (k == MAX_OPTIONS || !c->options[k].name)
			return usage_error(c->name, "unknown option \"%.*s\"", (int)len, a);
		if (c->options[k].kind == OPT_FLAG) {
			if (a[len] == '=')
				return usage_error(c->name, "option \"%.*s\" takes no value", (int)len, a);
			value[k] = "";
			continue;
		}
		if (a[len] == '=')
			value[k] = a + len + 1;
		else if (i + 1 < argc)
			value[k] = argv[++i];
		else
			return usage_error(c->name, "option \"%s\" needs a value", a);
		if (c->options[k].kind == OPT_LIST)
			args->list[args->nlist++] = value[k];
	}
	int missing = n < c->operands;
	for (int k = 0; k < MAX_OPTIONS && c->options[k].name; k++)
		missing |= c->options[k].required && !value[k];
	if (missing)
		return usage_error(c->name, "expected: %s", c->synopsis);
	return 0;
}

/* ---- commands ----------------------------------------------------------- */

static int cmd_init(struct args *a)
{
	const char *db = a->operand[0];
	int rc;
	char *text = read_plan(a->value[0], &rc);
	if (!text)
		return rc;
	referral_store *st;
	rc = referral_store_create(&st, db, text);
	free(text);
	if (rc)
		report(st, rc);
	referral_store_free(st);
	return rc;
}

static int cmd_plan(struct args *a)
{
	const char *db = a->operand[0], *from = a->value[0];
	int rc;
	char *text = read_plan(a->operand[1], &rc);
	if (!text)
		return rc;
	referral_store *st;
	rc = open_store(db, &st);
	if (!rc)
		rc = report(st, referral_plan_add(st, text, from));
	free(text);
	referral_store_free(st);
	return rc;
}

/* Prints the bad lines of a rejected batch, up to 100, then how many more. */
static void print_bad_lines(referral_batch *b)
{
	long nerr = referral_batch_error_count(b);
	for (long i = 0; i < nerr && i < 100; i++)
		fprintf(stderr, "%s\n", referral_batch_error(b, i));
	if (nerr > 100)
		fprintf(stderr, "... and %ld more bad lines\n", nerr - 100);
}

static int cmd_ingest(struct args *a)
{
	const char *path = a->operand[1];
	referral_store *st;
	referral_batch *b = NULL;
	int rc = open_store(a->operand[0], &st);
	if (!rc)
		rc = report(st, referral_batch_begin(st, &b, path));
	if (!rc) {
		rc = referral_batch_add_file(b, path);
		end_progress();
		report(st, rc);
	}
	if (!rc) {
		rc = referral_batch_commit(b);
		if (rc == REFERRAL_EINPUT || rc == REFERRAL_ESTATE)
			print_bad_lines(b);
		if (rc)
			report(st, rc);
		else
			printf("ingested %ld, duplicates %ld\n", referral_batch_ingested(b),
			       referral_batch_duplicates(b));
	}
	referral_batch_free(b);
	referral_store_free(st);
	return rc;
}

static int period_command(const char *db, const char *period,
			  int (*fn)(referral_store *, const char *))
{
	referral_store *st;
	int rc = open_store(db, &st);
	if (!rc) {
		rc = fn(st, period);
		end_progress();
		report(st, rc);
	}
	referral_store_free(st);
	return rc;
}

static int cmd_settle(struct args *a)
{
	return period_command(a->operand[0], a->operand[1], referral_settle);
}

static int cmd_close(struct args *a)
{
	return period_command(a->operand[0], a->operand[1], referral_close);
}

/* Writes a piece of an export; the progress line of the lines' settlement
 * passes is ended before the first. */
static int write_stdout(void *ctx, const char *data, size_t len)
{
	end_progress();
	return fwrite(data, 1, len, (FILE *)ctx) != len;
}

/* The tables an export names, and what applies to them. */
static int has_period(const char *table)
{
	return !strcmp(table, "statements") || !strcmp(table, "lines") || !strcmp(table, "grades") ||
	       !strcmp(table, "payouts");
}

static int cmd_export(struct args *a)
{
	const char *db = a->operand[0], *table = a->operand[1], *period = a->value[0];
	const char *format = a->value[1] ? a->value[1] : "csv";
	int tree = !strcmp(table, "tree");
	if (strcmp(format, "csv") && strcmp(format, "json") && !(tree && !strcmp(format, "dot")))
		return usage_error("export", "unknown format \"%s\": expected csv or json%s", format,
				   tree ? " or dot" : "");
	if (period && !has_period(table) &&
	    (!strcmp(table, "members") || !strcmp(table, "stores") ||
	     !strcmp(table, "distributors") || tree))
		return usage_error("export", "%s takes no --period", table);
	if (a->nlist && (!strcmp(table, "members") || !strcmp(table, "stores")))
		return usage_error("export", "%s takes no --distributor", table);
	referral_export_options o = REFERRAL_EXPORT_OPTIONS_INIT;
	o.period = period;
	o.format = format;
	o.distributors = a->list;
	o.ndistributors = (size_t)a->nlist;
	o.bom = a->value[3] != NULL;
	referral_store *st;
	int rc = open_store(db, &st);
	if (!rc) {
		rc = referral_export_ext(st, table, &o, write_stdout, stdout);
		end_progress();
		report(st, rc);
	}
	if (!rc && fflush(stdout)) {
		fprintf(stderr, "referral: export: cannot write standard output\n");
		rc = REFERRAL_EIO;
	}
	referral_store_free(st);
	return rc;
}

static int cmd_explain(struct args *a)
{
	const char *db = a->operand[0], *id = a->operand[1], *period = a->value[0];
	const char *format = a->value[1] ? a->value[1] : "text";
	if (strcmp(format, "text") && strcmp(format, "json"))
		return usage_error("explain", "unknown format \"%s\": expected text or json", format);
	referral_store *st;
	int rc = open_store(db, &st);
	if (!rc) {
		rc = referral_explain(st, id, period, format, write_stdout, stdout);
		end_progress();
		report(st, rc);
	}
	if (!rc && fflush(stdout)) {
		fprintf(stderr, "referral: explain: cannot write standard output\n");
		rc = REFERRAL_EIO;
	}
	referral_store_free(st);
	return rc;
}

static int write_file(void *ctx, const char *data, size_t len)
{
	return fwrite(data, 1, len, (FILE *)ctx) != len;
}

static int cmd_report(struct args *a)
{
	const char *db = a->operand[0], *period = a->value[0], *output = a->value[1];
	FILE *f = stdout;
	referral_store *st;
	int rc = open_store(db, &st);
	if (!rc && output && !(f = fopen(output, "wb"))) {
		fprintf(stderr, "referral: report \"%s\": cannot write: %s\n", output, strerror(errno));
		rc = REFERRAL_EIO;
	}
	if (!rc) {
		rc = referral_report(st, period, f == stdout ? write_stdout : write_file, f);
		end_progress();
		report(st, rc);
	}
	if (!rc && (f == stdout ? fflush(f) : ferror(f))) {
		fprintf(stderr, "referral: report: cannot write %s\n", output ? output : "standard output");
		rc = REFERRAL_EIO;
	}
	if (f && f != stdout && fclose(f) && !rc) {
		fprintf(stderr, "referral: report \"%s\": cannot write: %s\n", output, strerror(errno));
		rc = REFERRAL_EIO;
	}
	if (rc && output && f != stdout)
		remove(output); /* no half page left behind */
	if (!rc && output)
		printf("report: %s\n", output);
	referral_store_free(st);
	return rc;
}

static int cmd_verify(struct args *a)
{
	referral_store *st;
	int rc = open_store(a->operand[0], &st);
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
	 "Creates the store DB with its first plan. The first open period is the\n"
	 "plan's start_period. Refused (exit 4) if DB is already a store.\n"
	 "DB is a SQLite file (created), or a PostgreSQL URI\n"
	 "postgresql://USER@HOST/DATABASE?brand=NAME naming the brand's store.\n",
	 1, {{"--plan", 1, OPT_VALUE}}, cmd_init},
	{"plan", "plan DB PLAN.json --from YYYY-MM",
	 "Adds a plan version effective from YYYY-MM, which must not be closed.\n"
	 "A period uses the latest version effective at or before it.\n",
	 2, {{"--from", 1, OPT_VALUE}}, cmd_plan},
	{"ingest", "ingest DB FILE.jsonl|-",
	 "Ingests one atomic batch of JSON Lines events (- reads standard input),\n"
	 "plain or gzip-compressed (known by its first bytes, whatever its name);\n"
	 "a UTF-8 byte order mark at its start is skipped.\n"
	 "Prints \"ingested N, duplicates D\", or every bad line (up to 100) as\n"
	 "FILE:LINE: message on standard error and stores nothing (exit 3; exit 4\n"
	 "when every bad line is a conflicting duplicate). A file that cannot be\n"
	 "read, or a corrupt gzip stream, stores nothing (exit 5).\n"
	 "Use -- before a file name that starts with -.\n",
	 2, {{NULL, 0, OPT_VALUE}}, cmd_ingest},
	{"settle", "settle DB YYYY-MM",
	 "Computes the draft statements and lines of the earliest open period,\n"
	 "replacing any earlier draft. Any other period is refused (exit 4).\n",
	 2, {{NULL, 0, OPT_VALUE}}, cmd_settle},
	{"close", "close DB YYYY-MM",
	 "Settles the earliest open period from every event ingested, freezes its\n"
	 "lines and statements, grades its distributors and opens the next period,\n"
	 "all in one transaction.\n",
	 2, {{NULL, 0, OPT_VALUE}}, cmd_close},
	{"export",
	 "export DB statements|lines|grades|members|payouts|stores|distributors|tree"
	 " [--period YYYY-MM] [--format csv|json|dot] [--distributor ID]... [--bom]",
	 "Writes an export to standard output (CSV by default):\n"
	 "  statements, lines, payouts  closed periods and the settled draft\n"
	 "  grades                      closed periods\n"
	 "  members                     points and tiers, as of every event ingested\n"
	 "  stores                      store, name, region, latest rating\n"
	 "  distributors                kind, store, recruiter, joined and left,\n"
	 "                              grade, bound members\n"
	 "  tree                        the recruitment tree (--format dot: Graphviz)\n"
	 "Stores, distributors and the tree are as of the end of the latest period\n"
	 "settled (the draft, else the latest closed one).\n"
	 "--period YYYY-MM   only that period (statements, lines, grades, payouts);\n"
	 "                   without it, every period that has them\n"
	 "--distributor ID   only her rows (the tree: her and her downline); repeatable;\n"
	 "                   not for stores and members\n"
	 "--bom              a UTF-8 byte order mark first, for spreadsheets\n",
	 2, {{"--period", 0, OPT_VALUE}, {"--format", 0, OPT_VALUE},
	     {"--distributor", 0, OPT_LIST}, {"--bom", 0, OPT_FLAG}}, cmd_export},
	{"explain", "explain DB ID --period YYYY-MM [--format text|json]",
	 "Explains how every figure of distributor ID's statement of YYYY-MM came\n"
	 "about: her lines by member and order (base x rate), the bounties earned and\n"
	 "reversed, the overrides by recruit, what is held and when it is released,\n"
	 "the carry, the rounding and the carry left, the tax withheld, and her grade\n"
	 "with the thresholds met and missed. The period must be closed or the\n"
	 "settled draft. --format json gives the same as a JSON document.\n",
	 2, {{"--period", 1, OPT_VALUE}, {"--format", 0, OPT_VALUE}}, cmd_explain},
	{"report", "report DB --period YYYY-MM [--output FILE.html]",
	 "Writes the month end of YYYY-MM as one self-contained HTML page (no script,\n"
	 "nothing fetched, made to print): totals and the conservation check, sales\n"
	 "and earnings per region and store, the team PK rankings of distributors\n"
	 "and stores, grade moves, the last 12 months as charts, late adjustments and\n"
	 "the payouts. To standard output, or to FILE.html with --output (then its\n"
	 "name is printed). The period must be closed or the settled draft.\n",
	 1, {{"--period", 1, OPT_VALUE}, {"--output", 0, OPT_VALUE}}, cmd_report},
	{"verify", "verify DB",
	 "Re-derives every closed period from the events ingested when it closed,\n"
	 "compares with what was frozen and checks that nothing was lost or created.\n"
	 "Exit 6 names the first discrepancy.\n",
	 1, {{NULL, 0, OPT_VALUE}}, cmd_verify},
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
		struct args args = {0};
		args.list = calloc((size_t)argc, sizeof *args.list);
		if (!args.list) {
			fprintf(stderr, "referral: out of memory\n");
			return REFERRAL_EIO;
		}
		int rc = parse_args(c, argc - 2, argv + 2, &args);
		if (rc == HELP_SHOWN)
			rc = 0;
		else if (!rc)
			rc = c->run(&args);
		free(args.list);
		return rc;
	}
	fprintf(stderr, "referral: unknown command \"%s\"\n\n%s", argv[1], usage_text);
	return EXIT_USAGE;
}
