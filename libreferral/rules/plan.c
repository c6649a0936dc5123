/*
 * plan.c — parsing and validating the settlement plan (docs/formats.md,
 * "The plan").
 *
 * The text goes through jansson once (duplicate keys are a JSON error), then
 * each object is checked against the table of its keys: first the keys it
 * must not have (unknown keys, thresholds on grade 1), then the keys it lacks,
 * then every value in the order of the tables below. The first fault wins and
 * becomes the message, always "plan: " followed by the key path of the fault
 * ("grades[1].rate", "member_tiers[0].name"; array indexes count from 0, as
 * in jq) and, for a bad value, what was expected and what was found.
 *
 * Values are parsed into a local plan that is released on any failure, so
 * the caller's plan is only ever zeroed or complete. A zeroed plan is told
 * apart from a parsed one by `tiers`, which is NULL in the first and never in
 * the second (a plan has at least one tier).
 */
#include "plan.h"

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "fen.h"
#include "jsonload.h"
#include "timeutil.h"

#define PATH_MAX_LEN 128 /* longest key path we build, plus room */
#define SHOW_MAX 40      /* bytes of a string or key quoted in a message */
#define MONTHS_MAX 1200

struct ctx {
	char *err;
	size_t cap;
	int stored;   /* a plan read back from a store: limits added later waived */
	int nomem;    /* the failure is one of memory, not of the plan */
};

/* ---- messages ---------------------------------------------------------- */

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "plan: out of memory"; -1, and parse() returns PLAN_NOMEM. */
static int nomem(struct ctx *c)
{
	c->nomem = 1;
	return fail(c, "out of memory");
}

/* Writes "plan: " and the formatted text into the caller's buffer; -1. */
static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->err || !c->cap)
		return -1;
	n = snprintf(c->err, c->cap, "plan: ");
	if (n < 0 || (size_t)n >= c->cap)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->cap - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Room for escape()'s output, and for show()'s. */
#define ESC_BUF (SHOW_MAX * 6 + 4)
#define SHOW_BUF (ESC_BUF + 2)

/*
 * Copies at most SHOW_MAX bytes of s into buf (ESC_BUF bytes) with JSON
 * escapes for '"', '\\' and control characters, and "..." when cut (never
 * inside a UTF-8 sequence).
 */
static void escape(char *buf, const char *s, size_t len)
{
	size_t i, o = 0;
	size_t n = len > SHOW_MAX ? SHOW_MAX : len;

	if (n < len)
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7F) {
			o += (size_t)sprintf(buf + o, "\\u%04x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	if (n < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

/* The shortest "%g" text that reads back as d, with ".0" if it looks whole. */
static void show_real(char *buf, size_t cap, double d)
{
	char *p;
	int prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	for (p = buf; *p; p++)
		if (*p == ',') /* a locale's decimal comma */
			*p = '.';
	if (!strpbrk(buf, ".eEni") && strlen(buf) + 3 <= cap)
		strcat(buf, ".0");
}

/* Describes a JSON value for "got ...": its JSON text, or its kind. */
static const char *show(char *buf, const json_t *v)
{
	char tmp[ESC_BUF];

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		escape(tmp, json_string_value(v), json_string_length(v));
		snprintf(buf, SHOW_BUF, "\"%s\"", tmp);
		return buf;
	case JSON_INTEGER:
		snprintf(buf, SHOW_BUF, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		show_real(buf, SHOW_BUF, json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	default:
		return "null";
	}
}

/* "plan: PATH: expected FORM, got VALUE[ (WHY)]" */
static int bad(struct ctx *c, const char *path, const char *form,
	       const json_t *v, const char *why)
{
	char buf[SHOW_BUF];

	return fail(c, "%s: expected %s, got %s%s%s%s", path, form, show(buf, v),
		    why ? " (" : "", why ? why : "", why ? ")" : "");
}

/* PARENT.KEY into buf (PATH_MAX_LEN bytes); returns buf. Our paths fit. */
static const char *join(char *buf, const char *parent, const char *key)
{
	size_t lp = strlen(parent), lk = strlen(key);

	if (lp + 1 + lk >= PATH_MAX_LEN) {
		buf[0] = '\0';
		return buf;
	}
	memcpy(buf, parent, lp);
	buf[lp] = '.';
	memcpy(buf + lp + 1, key, lk + 1);
	return buf;
}

/* ---- key tables -------------------------------------------------------- */

/* Levenshtein distance of a and b, capped: anything above 2 is reported as 3. */
static int near(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b), i, j;
	int row[40], prev, tmp;

	if (la >= sizeof row / sizeof row[0] || lb >= sizeof row / sizeof row[0] ||
	    (la > lb ? la - lb : lb - la) > 2)
		return 3;
	for (j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			int best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb] > 2 ? 3 : row[lb];
}

static int in_list(const char *key, const char *const *keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(key, keys[i]))
			return 1;
	return 0;
}

/*
 * Checks that v is an object whose keys are all in keys[0..nkeys) and that
 * it has keys[0..nrequired). An unknown key gets a "did you mean" for an
 * absent key (required or optional) that is one or two edits away.
 */
static int check_object(struct ctx *c, const json_t *v, const char *path,
			const char *const *keys, size_t nkeys, size_t nrequired)
{
	const char *key;
	json_t *val;
	size_t i;

	if (!json_is_object(v)) {
		char buf[SHOW_BUF];

		if (!*path)
			return fail(c, "expected a JSON object at the top level, got %s",
				    show(buf, v));
		return fail(c, "%s: expected an object, got %s", path, show(buf, v));
	}
	json_object_foreach((json_t *)v, key, val) {
		char shown[ESC_BUF];
		const char *hint = NULL;
		size_t klen = strlen(key);

		if (in_list(key, keys, nkeys))
			continue;
		for (i = 0; i < nkeys && !hint; i++)
			if (!json_object_get(v, keys[i]) && near(key, klen, keys[i]) <= 2)
				hint = keys[i];
		escape(shown, key, klen);
		return fail(c, "unknown key \"%s%s%s\"%s%s%s", path, *path ? "." : "",
			    shown, hint ? " (did you mean \"" : "", hint ? hint : "",
			    hint ? "\"?)" : "");
	}
	for (i = 0; i < nrequired; i++)
		if (!json_object_get(v, keys[i]))
			return fail(c, "missing key \"%s%s%s\"", path, *path ? "." : "",
				    keys[i]);
	return 0;
}

/* ---- values ------------------------------------------------------------ */

/* A JSON integer in lo..hi, described by `form` when it is not. */
static int get_int(struct ctx *c, const json_t *v, const char *path, long lo,
		   long hi, const char *form, long *out)
{
	json_int_t n;

	if (!json_is_integer(v))
		return bad(c, path, form, v, NULL);
	n = json_integer_value(v);
	if (n < lo || n > hi)
		return bad(c, path, form, v, NULL);
	*out = (long)n;
	return 0;
}

static const char *dec_why(int e)
{
	switch (e) {
	case DEC_EMPTY:
		return "empty";
	case DEC_TOO_MANY_DECIMALS:
		return "more than 2 decimals";
	case DEC_TOO_LONG:
		return "too many digits";
	default:
		return NULL;
	}
}

static int get_money(struct ctx *c, const json_t *v, const char *path, mpq_t out)
{
	int e;

	if (!json_is_string(v))
		return bad(c, path, dec_money_form(), v, NULL);
	e = dec_parse_money(out, json_string_value(v), json_string_length(v));
	if (e != DEC_OK)
		return bad(c, path, dec_money_form(), v, dec_why(e));
	return 0;
}

static int get_decimal(struct ctx *c, const json_t *v, const char *path, mpq_t out)
{
	int e;

	if (!json_is_string(v))
		return bad(c, path, dec_decimal_form(), v, NULL);
	e = dec_parse(out, json_string_value(v), json_string_length(v));
	if (e != DEC_OK)
		return bad(c, path, dec_decimal_form(), v, dec_why(e));
	return 0;
}

/* Whether a bounty exceeds PLAN_MAX_BOUNTY: settlement keeps a standing
 * bounty in 32 bits of fen (settle.c). */
static int above_max_bounty(const mpq_t bounty)
{
	fen_t fen;
	return fen_of(bounty, &fen) || fen > INT32_MAX;
}

/* A decimal string below 1: rates. */
static int get_rate(struct ctx *c, const json_t *v, const char *path, mpq_t out,
		    const char *form)
{
	if (get_decimal(c, v, path, out))
		return -1;
	if (mpq_cmp_ui(out, 1, 1) >= 0)
		return bad(c, path, form, v, NULL);
	return 0;
}

/* A decimal string from 0 to 5: store ratings. */
static int get_rating(struct ctx *c, const json_t *v, const char *path, mpq_t out)
{
	if (get_decimal(c, v, path, out))
		return -1;
	if (mpq_cmp_ui(out, 5, 1) > 0)
		return bad(c, path, "a rating string from 0 to 5, like \"3.5\"", v, NULL);
	return 0;
}

/* ---- the grades -------------------------------------------------------- */

static const char *const grade_keys[] = {
	"grade", "rate", "bounty",
	"min_members", "min_sales", "min_shares", "min_store_rating",
};
#define GRADE_KEYS_BASE 3 /* the keys every grade has; the rest are thresholds */
#define GRADE_KEYS_ALL (sizeof grade_keys / sizeof grade_keys[0])

/*
 * `what` (a key of grade_keys) of grades[i] must not be below that of
 * grades[i-1]; cmp is the comparison of the two values, already made.
 */
static int not_below(struct ctx *c, const json_t *grades, size_t i,
		     const char *what, int cmp, const char *plural)
{
	char path[PATH_MAX_LEN], prev[SHOW_BUF], got[SHOW_BUF];

	if (cmp >= 0)
		return 0;
	snprintf(path, sizeof path, "grades[%zu].%s", i, what);
	show(prev, json_object_get(json_array_get(grades, i - 1), what));
	show(got, json_object_get(json_array_get(grades, i), what));
	return fail(c, "%s: expected at least %s (grades[%zu].%s; %s never decrease with grade), got %s",
		    path, prev, i - 1, what, plural, got);
}

static int parse_grade(struct ctx *c, const json_t *grades, size_t i, plan *p)
{
	const json_t *g = json_array_get(grades, i);
	struct plan_grade *pg = &p->grades[i];
	char at[PATH_MAX_LEN], path[PATH_MAX_LEN], form[64];
	long n;
	size_t k;

	snprintf(at, sizeof at, "grades[%zu]", i);
	if (check_object(c, g, at, grade_keys, GRADE_KEYS_ALL,
			 i == 0 ? GRADE_KEYS_BASE : GRADE_KEYS_ALL))
		return -1;
	if (i == 0)
		for (k = GRADE_KEYS_BASE; k < GRADE_KEYS_ALL; k++)
			if (json_object_get(g, grade_keys[k]))
				return fail(c, "%s: not allowed: grade 1 has no thresholds",
					    join(path, at, grade_keys[k]));

	snprintf(form, sizeof form, "the integer %zu (grades are listed in order 1 to %d)",
		 i + 1, PLAN_GRADES);
	if (get_int(c, json_object_get(g, "grade"), join(path, at, "grade"),
		    (long)i + 1, (long)i + 1, form, &n))
		return -1;
	if (get_rate(c, json_object_get(g, "rate"), join(path, at, "rate"), pg->rate,
		     "a decimal string from 0 up to but not including 1, like \"0.05\""))
		return -1;
	if (get_money(c, json_object_get(g, "bounty"), join(path, at, "bounty"),
		      pg->bounty))
		return -1;
	if (!c->stored && above_max_bounty(pg->bounty))
		return bad(c, join(path, at, "bounty"), "at most \"" PLAN_MAX_BOUNTY "\"",
			   json_object_get(g, "bounty"), NULL);
	if (i > 0) {
		const char *count = "a non-negative integer like 3";

		if (get_int(c, json_object_get(g, "min_members"),
			    join(path, at, "min_members"), 0, LONG_MAX, count,
			    &pg->min_members))
			return -1;
		if (get_money(c, json_object_get(g, "min_sales"),
			      join(path, at, "min_sales"), pg->min_sales))
			return -1;
		if (get_int(c, json_object_get(g, "min_shares"),
			    join(path, at, "min_shares"), 0, LONG_MAX, count,
			    &pg->min_shares))
			return -1;
		if (get_rating(c, json_object_get(g, "min_store_rating"),
			       join(path, at, "min_store_rating"), pg->min_store_rating))
			return -1;
	}
	if (i == 0)
		return 0;

	/* Nothing decreases with grade. Grade 1's thresholds are all zero. */
	if (not_below(c, grades, i, "rate", mpq_cmp(pg->rate, pg[-1].rate), "rates") ||
	    not_below(c, grades, i, "bounty", mpq_cmp(pg->bounty, pg[-1].bounty),
		      "bounties"))
		return -1;
	if (i == 1)
		return 0;
	if (not_below(c, grades, i, "min_members",
		      (pg->min_members > pg[-1].min_members) -
		      (pg->min_members < pg[-1].min_members), "thresholds") ||
	    not_below(c, grades, i, "min_sales",
		      mpq_cmp(pg->min_sales, pg[-1].min_sales), "thresholds") ||
	    not_below(c, grades, i, "min_shares",
		      (pg->min_shares > pg[-1].min_shares) -
		      (pg->min_shares < pg[-1].min_shares), "thresholds") ||
	    not_below(c, grades, i, "min_store_rating",
		      mpq_cmp(pg->min_store_rating, pg[-1].min_store_rating),
		      "thresholds"))
		return -1;
	return 0;
}

static int parse_grades(struct ctx *c, const json_t *v, plan *p)
{
	char buf[SHOW_BUF];
	size_t i;

	if (!json_is_array(v))
		return fail(c, "grades: expected an array of exactly %d grade objects, got %s",
			    PLAN_GRADES, show(buf, v));
	if (json_array_size(v) != PLAN_GRADES)
		return fail(c, "grades: expected exactly %d grades, got %zu",
			    PLAN_GRADES, json_array_size(v));
	for (i = 0; i < PLAN_GRADES; i++)
		if (parse_grade(c, v, i, p))
			return -1;
	return 0;
}

/* ---- grading, points --------------------------------------------------- */

static const char *const grading_keys[] = {
	"window_months", "initial_grade", "allow_demotion",
};

static int parse_grading(struct ctx *c, const json_t *v, plan *p)
{
	const size_t n = sizeof grading_keys / sizeof grading_keys[0];
	const json_t *demote;
	long g;

	if (check_object(c, v, "grading", grading_keys, n, n))
		return -1;
	if (get_int(c, json_object_get(v, "window_months"), "grading.window_months",
		    1, MONTHS_MAX, "an integer from 1 to 1200, like 3",
		    &p->grading_window_months))
		return -1;
	if (get_int(c, json_object_get(v, "initial_grade"), "grading.initial_grade",
		    1, PLAN_GRADES, "an integer from 1 to 4", &g))
		return -1;
	p->initial_grade = (int)g;
	demote = json_object_get(v, "allow_demotion");
	if (!json_is_boolean(demote))
		return bad(c, "grading.allow_demotion", "true or false", demote, NULL);
	p->allow_demotion = json_is_true(demote);
	return 0;
}

static const char *const points_keys[] = { "per_yuan", "per_share" };

static int parse_points(struct ctx *c, const json_t *v, plan *p)
{
	const size_t n = sizeof points_keys / sizeof points_keys[0];

	if (check_object(c, v, "points", points_keys, n, n))
		return -1;
	if (get_decimal(c, json_object_get(v, "per_yuan"), "points.per_yuan", p->per_yuan) ||
	    get_decimal(c, json_object_get(v, "per_share"), "points.per_share",
			p->per_share))
		return -1;
	return 0;
}

/* ---- member tiers ------------------------------------------------------ */

static const char *const tier_keys[] = { "name", "min_points" };

static int tier_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > PLAN_TIER_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

static int parse_tier(struct ctx *c, const json_t *tiers, size_t i, plan *p)
{
	const json_t *t = json_array_get(tiers, i);
	struct plan_tier *pt = &p->tiers[i];
	char at[PATH_MAX_LEN], path[PATH_MAX_LEN], a[SHOW_BUF], b[SHOW_BUF];
	const json_t *name, *points;
	size_t j;

	snprintf(at, sizeof at, "member_tiers[%zu]", i);
	if (check_object(c, t, at, tier_keys, 2, 2))
		return -1;
	name = json_object_get(t, "name");
	join(path, at, "name");
	if (!json_is_string(name) ||
	    !tier_name_ok(json_string_value(name), json_string_length(name)))
		return bad(c, path, "a name of 1 to 32 characters of A-Z, a-z, 0-9, _ and -, like \"gold\"",
			   name, NULL);
	for (j = 0; j < i; j++)
		if (!strcmp(p->tiers[j].name, json_string_value(name)))
			return fail(c, "%s: duplicate tier name %s (also member_tiers[%zu].name)",
				    path, show(a, name), j);
	memcpy(pt->name, json_string_value(name), json_string_length(name) + 1);

	points = json_object_get(t, "min_points");
	join(path, at, "min_points");
	if (get_decimal(c, points, path, pt->min_points))
		return -1;
	if (i == 0 && mpq_sgn(pt->min_points) != 0)
		return bad(c, path, "\"0\" (the first tier starts at 0 points)", points, NULL);
	if (i > 0 && mpq_cmp(pt->min_points, pt[-1].min_points) <= 0) {
		show(a, json_object_get(json_array_get(tiers, i - 1), "min_points"));
		return fail(c, "%s: expected more than %s (member_tiers[%zu].min_points; tiers ascend strictly), got %s",
			    path, a, i - 1, show(b, points));
	}
	return 0;
}

static int parse_tiers(struct ctx *c, const json_t *v, plan *p)
{
	char buf[SHOW_BUF];
	size_t i, n;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return fail(c, "member_tiers: expected a non-empty array of {\"name\", \"min_points\"} objects, got %s",
			    json_is_array(v) ? "[]" : show(buf, v));
	n = json_array_size(v);
	p->tiers = calloc(n, sizeof *p->tiers);
	if (!p->tiers)
		return nomem(c);
	for (i = 0; i < n; i++)
		mpq_init(p->tiers[i].min_points);
	p->ntiers = n;
	for (i = 0; i < n; i++)
		if (parse_tier(c, v, i, p))
			return -1;
	return 0;
}

/* ---- withholding ------------------------------------------------------- */

static const char *const withholding_keys[] = {
	"threshold", "fixed_deduction", "rate_deduction", "brackets",
};
static const char *const bracket_keys[] = { "up_to", "rate", "quick_deduction" };

static void withholding_free(struct plan_withholding *w)
{
	if (!w)
		return;
	mpq_clears(w->threshold, w->fixed_deduction, w->rate_deduction, NULL);
	for (size_t i = 0; i < w->nbrackets; i++)
		mpq_clears(w->brackets[i].up_to, w->brackets[i].rate,
			   w->brackets[i].quick_deduction, NULL);
	free(w->brackets);
	free(w);
}

static int parse_bracket(struct ctx *c, const json_t *list, size_t i, struct plan_withholding *w)
{
	const json_t *b = json_array_get(list, i), *up;
	struct plan_bracket *pb = &w->brackets[i];
	char at[PATH_MAX_LEN], path[PATH_MAX_LEN], prev[SHOW_BUF], got[SHOW_BUF];
	int last = i + 1 == json_array_size(list);

	snprintf(at, sizeof at, "withholding.brackets[%zu]", i);
	if (check_object(c, b, at, bracket_keys, 3, 3))
		return -1;
	up = json_object_get(b, "up_to");
	join(path, at, "up_to");
	if (last && !json_is_null(up))
		return bad(c, path, "null (the last bracket has no upper bound)", up, NULL);
	if (!last && json_is_null(up))
		return bad(c, path, "money like \"20000.00\" (only the last bracket's up_to is null)",
			   up, NULL);
	if (!last) {
		if (get_money(c, up, path, pb->up_to))
			return -1;
		pb->bounded = 1;
		if (i > 0 && mpq_cmp(pb->up_to, pb[-1].up_to) <= 0) {
			show(prev, json_object_get(json_array_get(list, i - 1), "up_to"));
			return fail(c, "%s: expected more than %s (withholding.brackets[%zu].up_to;"
				    " brackets ascend strictly), got %s", path, prev, i - 1,
				    show(got, up));
		}
	}
	if (get_rate(c, json_object_get(b, "rate"), join(path, at, "rate"), pb->rate,
		     "a decimal string from 0 up to but not including 1, like \"0.20\""))
		return -1;
	return get_money(c, json_object_get(b, "quick_deduction"), join(path, at, "quick_deduction"),
			 pb->quick_deduction);
}

static int parse_withholding(struct ctx *c, const json_t *v, plan *p)
{
	const json_t *list;
	char buf[SHOW_BUF];
	struct plan_withholding *w;
	size_t n;

	if (check_object(c, v, "withholding", withholding_keys, 4, 4))
		return -1;
	if (!(w = calloc(1, sizeof *w)))
		return nomem(c);
	mpq_inits(w->threshold, w->fixed_deduction, w->rate_deduction, NULL);
	p->withholding = w;
	if (get_money(c, json_object_get(v, "threshold"), "withholding.threshold", w->threshold) ||
	    get_money(c, json_object_get(v, "fixed_deduction"), "withholding.fixed_deduction",
		      w->fixed_deduction) ||
	    get_rate(c, json_object_get(v, "rate_deduction"), "withholding.rate_deduction",
		     w->rate_deduction,
		     "a decimal string from 0 up to but not including 1, like \"0.20\""))
		return -1;
	list = json_object_get(v, "brackets");
	if (!json_is_array(list) || json_array_size(list) == 0)
		return fail(c, "withholding.brackets: expected a non-empty array of {\"up_to\", \"rate\","
			    " \"quick_deduction\"} objects, got %s",
			    json_is_array(list) ? "[]" : show(buf, list));
	n = json_array_size(list);
	if (n > PLAN_MAX_BRACKETS)
		return fail(c, "withholding.brackets: expected at most %d brackets, got %zu",
			    PLAN_MAX_BRACKETS, n);
	if (!(w->brackets = calloc(n, sizeof *w->brackets)))
		return nomem(c);
	for (size_t i = 0; i < n; i++)
		mpq_inits(w->brackets[i].up_to, w->brackets[i].rate, w->brackets[i].quick_deduction,
			  NULL);
	w->nbrackets = n;
	for (size_t i = 0; i < n; i++)
		if (parse_bracket(c, list, i, w))
			return -1;
	return 0;
}

/* ---- the top level ----------------------------------------------------- */

/* The required keys, then the optional ones. */
static const char *const top_keys[] = {
	"utc_offset", "start_period", "commission_window_months", "grades",
	"grading", "override_rate", "share_bonus_rate", "points", "member_tiers",
	"rounding", "min_payout", "hold_days", "withholding",
};
#define TOP_REQUIRED 11

static const char *const rounding_names[] = {
	[DEC_ROUND_HALF_UP] = "half_up",
	[DEC_ROUND_HALF_EVEN] = "half_even",
	[DEC_ROUND_DOWN] = "down",
};

static int parse_top(struct ctx *c, const json_t *root, plan *p)
{
	const size_t n = sizeof top_keys / sizeof top_keys[0];
	const json_t *v;
	size_t i;

	if (check_object(c, root, "", top_keys, n, TOP_REQUIRED))
		return -1;

	v = json_object_get(root, "utc_offset");
	if (!json_is_string(v) ||
	    utc_offset_parse(json_string_value(v), json_string_length(v), &p->utc_offset_min))
		return bad(c, "utc_offset", "an offset string \"+HH:MM\" or \"-HH:MM\", like \"+08:00\"",
			   v, NULL);
	v = json_object_get(root, "start_period");
	if (!json_is_string(v) ||
	    period_parse(json_string_value(v), json_string_length(v), &p->start_period))
		return bad(c, "start_period", "a period string \"YYYY-MM\", like \"2026-01\"",
			   v, NULL);
	if (get_int(c, json_object_get(root, "commission_window_months"),
		    "commission_window_months", 1, MONTHS_MAX,
		    "an integer from 1 to 1200, like 36", &p->commission_window_months))
		return -1;
	if (parse_grades(c, json_object_get(root, "grades"), p) ||
	    parse_grading(c, json_object_get(root, "grading"), p))
		return -1;
	if (get_rate(c, json_object_get(root, "override_rate"), "override_rate",
		     p->override_rate,
		     "a decimal string from 0 up to but not including 1, like \"0.01\"") ||
	    get_rate(c, json_object_get(root, "share_bonus_rate"), "share_bonus_rate",
		     p->share_bonus_rate,
		     "a decimal string from 0 up to but not including 1, like \"0.25\""))
		return -1;
	if (parse_points(c, json_object_get(root, "points"), p) ||
	    parse_tiers(c, json_object_get(root, "member_tiers"), p))
		return -1;

	v = json_object_get(root, "rounding");
	for (i = 0; i < sizeof rounding_names / sizeof rounding_names[0]; i++)
		if (json_is_string(v) && !strcmp(json_string_value(v), rounding_names[i]))
			break;
	if (i == sizeof rounding_names / sizeof rounding_names[0])
		return bad(c, "rounding", "one of \"half_up\", \"half_even\", \"down\"", v, NULL);
	p->rounding = (int)i;

	if (get_money(c, json_object_get(root, "min_payout"), "min_payout", p->min_payout))
		return -1;
	if ((v = json_object_get(root, "hold_days")) &&
	    get_int(c, v, "hold_days", 0, PLAN_MAX_HOLD_DAYS, "an integer from 0 to 366, like 15",
		    &p->hold_days))
		return -1;
	if ((v = json_object_get(root, "withholding")) && parse_withholding(c, v, p))
		return -1;
	return 0;
}

/* ---- life cycle -------------------------------------------------------- */

static void plan_init(plan *p)
{
	size_t i;

	memset(p, 0, sizeof *p);
	for (i = 0; i < PLAN_GRADES; i++) {
		mpq_init(p->grades[i].rate);
		mpq_init(p->grades[i].bounty);
		mpq_init(p->grades[i].min_sales);
		mpq_init(p->grades[i].min_store_rating);
	}
	mpq_init(p->override_rate);
	mpq_init(p->share_bonus_rate);
	mpq_init(p->per_yuan);
	mpq_init(p->per_share);
	mpq_init(p->min_payout);
}

/* Releases a plan that went through plan_init(), whatever parse reached. */
static void plan_release(plan *p)
{
	size_t i;

	for (i = 0; i < PLAN_GRADES; i++) {
		mpq_clear(p->grades[i].rate);
		mpq_clear(p->grades[i].bounty);
		mpq_clear(p->grades[i].min_sales);
		mpq_clear(p->grades[i].min_store_rating);
	}
	mpq_clear(p->override_rate);
	mpq_clear(p->share_bonus_rate);
	mpq_clear(p->per_yuan);
	mpq_clear(p->per_share);
	mpq_clear(p->min_payout);
	for (i = 0; i < p->ntiers; i++)
		mpq_clear(p->tiers[i].min_points);
	free(p->tiers);
	withholding_free(p->withholding);
	memset(p, 0, sizeof *p);
}

static int parse(plan *out, const char *json, char *err, size_t cap, int stored)
{
	struct ctx c = { err, cap, stored, 0 };
	json_error_t je;
	json_t *root;
	plan p;
	int rc;

	if (err && cap)
		err[0] = '\0';
	if (!out)
		return fail(&c, "no plan to fill in");
	memset(out, 0, sizeof *out);
	if (!json)
		return fail(&c, "no plan text");
	root = json_load_checked(json, strlen(json), JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		if (json_error_code(&je) == json_error_out_of_memory) {
			nomem(&c);
			return PLAN_NOMEM;
		}
		return fail(&c, "invalid JSON at line %d column %d: %s", je.line,
			    je.column, je.text);
	}
	plan_init(&p);
	rc = parse_top(&c, root, &p);
	json_decref(root);
	if (rc) {
		plan_release(&p);
		return c.nomem ? PLAN_NOMEM : -1;
	}
	*out = p;
	return 0;
}

int plan_parse(plan *out, const char *json, char *err, size_t cap)
{
	return parse(out, json, err, cap, 0);
}

int plan_parse_stored(plan *out, const char *json, char *err, size_t cap)
{
	return parse(out, json, err, cap, 1);
}

void plan_clear(plan *p)
{
	if (!p)
		return;
	if (p->tiers) /* else zeroed: see the top of this file */
		plan_release(p);
	else
		memset(p, 0, sizeof *p);
}
