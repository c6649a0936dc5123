/*
 * explain_text.c — the explanation of a statement in plain words, from the
 * document explain.c gathers: the same figures, said as a mom or finance
 * would read them. Every amount is printed as the document holds it,
 * exact.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "explain.h"

/* A text field ("" when null or absent). */
static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static long num(const json_t *o, const char *key)
{
	return (long)json_integer_value(json_object_get(o, key));
}

/* An instant without its offset, seconds and the 'T': "2026-01-10 12:00". */
static const char *when(const json_t *o, const char *key, char *buf)
{
	const char *s = str(o, key);
	snprintf(buf, 17, "%s", s);
	if (buf[10] == 'T')
		buf[10] = ' ';
	return buf;
}

struct out {
	struct strbuf *sb;
	int bad;
};

static void say(struct out *W, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct out *W, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	W->bad |= sb_vprintf(W->sb, fmt, ap);
	va_end(ap);
}

/* "(released in 2026-02)" when a line is released after it is booked. */
static void release_note(struct out *W, const json_t *l)
{
	if (strcmp(str(l, "released"), str(l, "booked")))
		say(W, " (held until %s)", str(l, "released"));
}

/* One line of an order, said in words. */
static void line_words(struct out *W, const json_t *l, const char *member)
{
	const char *type = str(l, "type"), *value = str(l, "value");
	char at[20];
	if (!strcmp(type, "commission"))
		say(W, "      commission: %s x %s = %s", str(l, "base"), str(l, "rate"), value);
	else if (!strcmp(type, "commission_reversal"))
		say(W, "      refund %s on %s: -(%s x %s) = %s", str(l, "event"), when(l, "at", at),
		    str(l, "base"), str(l, "rate"), value);
	else if (!strcmp(type, "bounty"))
		say(W, "      bounty: %s became a consuming member (her net spend went from 0 to"
		       " above 0): %s", member, value);
	else if (!strcmp(type, "bounty_reversal"))
		say(W, "      bounty reversed: refund %s on %s brought %s's net spend back to 0: %s",
		    str(l, "event"), when(l, "at", at), member, value);
	else if (!strcmp(type, "override"))
		say(W, "      override: %s x %s = %s", str(l, "base"), str(l, "rate"), value);
	else
		say(W, "      refund %s on %s: -(%s x %s) = %s", str(l, "event"), when(l, "at", at),
		    str(l, "base"), str(l, "rate"), value);
	if (!strcmp(str(l, "booked"), str(l, "released")) && !strcmp(type, "commission")) {
		say(W, "\n");
		return;
	}
	release_note(W, l);
	say(W, "\n");
}

/* The groups of lines: by member (or recruit), then order. */
static void groups_words(struct out *W, const json_t *groups, int recruits, const char *period)
{
	size_t i, j, k;
	json_t *g, *o, *l;
	char at[20];
	if (!json_array_size(groups)) {
		say(W, "  none this month\n");
		return;
	}
	json_array_foreach(groups, i, g) {
		if (recruits)
			say(W, "  Recruit %s\n", str(g, "recruit"));
		else
			say(W, "  Member %s\n", str(g, "member"));
		json_array_foreach(json_object_get(g, "orders"), j, o) {
			if (recruits)
				say(W, "    Order %s of %s, placed %s", str(o, "order"), str(o, "member"),
				    when(o, "placed_at", at));
			else
				say(W, "    Order %s, placed %s", str(o, "order"), when(o, "placed_at", at));
			if (strcmp(str(o, "booked"), period))
				say(W, " (booked in %s)", str(o, "booked"));
			say(W, "\n");
			json_array_foreach(json_object_get(o, "lines"), k, l)
				line_words(W, l, str(g, "member")[0] ? str(g, "member") : str(o, "member"));
		}
	}
}

static void held_words(struct out *W, const json_t *lines, const char *what)
{
	size_t i;
	json_t *l;
	json_array_foreach(lines, i, l)
		say(W, "    %s %s of order %s (%s, booked in %s): %s, released in %s\n", what,
		    str(l, "type"), str(l, "order"), str(l, "member"), str(l, "booked"),
		    str(l, "value"), str(l, "released"));
}

static void grading_words(struct out *W, const json_t *doc)
{
	const json_t *g = json_object_get(doc, "grading");
	size_t i, j;
	json_t *gd, *t;
	static const char *const said[] = {"members", "new consuming members", "sales", "sales",
					   "shares", "shares", "store_rating", "store rating"};
	if (json_is_true(json_object_get(g, "provisional")))
		say(W, "\nGrading (provisional: %s is not closed; this is what its close would\n"
		       "decide from the figures settled so far)\n", str(doc, "period"));
	else
		say(W, "\nGrading when %s closed\n", str(doc, "period"));
	say(W, "  Window %s to %s: new consuming members %ld, sales %s, shares %ld,\n"
	       "  store rating %s at the end of the month\n",
	    str(g, "from"), str(g, "to"), num(g, "members"), str(g, "sales"), num(g, "shares"),
	    str(g, "store_rating"));
	json_array_foreach(json_object_get(g, "grades"), i, gd) {
		say(W, "  Grade %ld: %s\n", num(gd, "grade"),
		    json_is_true(json_object_get(gd, "reached")) ? "reached" : "not reached");
		json_array_foreach(json_object_get(gd, "thresholds"), j, t) {
			const char *metric = str(t, "metric"), *name = metric;
			for (size_t k = 0; k < sizeof said / sizeof *said; k += 2)
				if (!strcmp(said[k], metric))
					name = said[k + 1];
			const json_t *min = json_object_get(t, "min");
			char minb[160];
			if (json_is_integer(min))
				snprintf(minb, sizeof minb, "%lld", (long long)json_integer_value(min));
			else
				snprintf(minb, sizeof minb, "%s", json_string_value(min));
			say(W, "    %-22s at least %-12s %s\n", name, minb,
			    json_is_true(json_object_get(t, "met")) ? "met" : "missed");
		}
	}
	say(W, "  Her grade for the next month: %ld%s\n", num(g, "next_grade"),
	    json_is_true(json_object_get(g, "allow_demotion")) ? ""
							       : " (the plan never demotes)");
}

int explain_words(const json_t *doc, struct strbuf *sb)
{
	struct out W = {sb, 0};
	char at[20];
	const char *period = str(doc, "period");
	say(&W, "Statement of %s for %s (%s)\n", str(doc, "distributor"), period,
	    !strcmp(str(doc, "state"), "closed") ? "closed" : "draft: not closed yet");
	say(&W, "%s at store %s %s (%s)", str(doc, "kind"), str(doc, "store"),
	    str(doc, "store_name"), str(doc, "region"));
	if (str(doc, "recruiter")[0])
		say(&W, ", recruited by %s", str(doc, "recruiter"));
	say(&W, "; joined %s", when(doc, "joined_at", at));
	if (str(doc, "terminated_at")[0])
		say(&W, ", left %s", when(doc, "terminated_at", at));
	say(&W, ".\nGrade %ld this month: commission rate %s, bounty %s for each new consuming"
	        " member.\n",
	    num(doc, "grade"), str(doc, "rate"), str(doc, "bounty_per_member"));

	say(&W, "\nCommission and bounty, by member and order\n");
	groups_words(&W, json_object_get(doc, "members"), 0, period);
	say(&W, "  Commission %s, bounty %s\n", str(doc, "commission"), str(doc, "bounty"));
	say(&W, "\nOverride: %s of the commission of the distributors she recruited\n",
	    str(doc, "override_rate"));
	groups_words(&W, json_object_get(doc, "recruits"), 1, period);
	say(&W, "  Override %s\n", str(doc, "override"));
	say(&W, "\nEarned this month: commission %s + bounty %s + override %s = %s\n",
	    str(doc, "commission"), str(doc, "bounty"), str(doc, "override"), str(doc, "accrued"));

	long hold = num(doc, "hold_days");
	if (hold)
		say(&W, "\nRelease: earnings are held %ld days (the refund window) before they are"
		        " paid\n", hold);
	else
		say(&W, "\nRelease: nothing is held; every line is paid in the month it is booked\n");
	const json_t *earlier = json_object_get(doc, "released_from_earlier");
	if (json_array_size(earlier)) {
		say(&W, "  Held by earlier months and released now:\n");
		held_words(&W, earlier, "");
	}
	say(&W, "  Released this month: %s\n", str(doc, "released"));
	const json_t *held = json_object_get(doc, "held_lines");
	say(&W, "  Held at the end of the month: %s\n", str(doc, "held"));
	held_words(&W, held, "");

	say(&W, "\nPayable\n");
	say(&W, "  Carried from last month: %s\n", str(doc, "opening_carry"));
	say(&W, "  Total: carried %s + released %s = %s\n", str(doc, "opening_carry"),
	    str(doc, "released"), str(doc, "total"));
	const char *rounding = str(doc, "rounding");
	say(&W, "  Rounded to the fen (%s): %s\n",
	    !strcmp(rounding, "half_up") ? "half up, 四舍五入"
	    : !strcmp(rounding, "half_even") ? "half to even" : "down, toward zero",
	    str(doc, "rounded"));
	if (strcmp(str(doc, "payable"), str(doc, "rounded")))
		say(&W, "  Below the minimum payout of %s (or negative): nothing is paid, all is"
		        " carried\n", str(doc, "min_payout"));
	say(&W, "  Payable: %s\n", str(doc, "payable"));
	say(&W, "  Carried to next month: total %s - payable %s = %s\n", str(doc, "total"),
	    str(doc, "payable"), str(doc, "closing_carry"));
	const json_t *w = json_object_get(doc, "withholding");
	if (json_is_object(w) && json_object_get(w, "base")) {
		if (json_object_get(w, "fixed_deduction"))
			say(&W, "  Income tax (劳务报酬): up to %s the base is the payable less %s: %s\n",
			    str(w, "threshold"), str(w, "fixed_deduction"), str(w, "base"));
		else
			say(&W, "  Income tax (劳务报酬): above %s the base is the payable x (1 - %s):"
			        " %s\n", str(w, "threshold"), str(w, "rate_deduction"), str(w, "base"));
		say(&W, "  Withheld: %s; paid to her: %s\n", str(doc, "withheld"), str(doc, "net"));
	}
	grading_words(&W, doc);
	return W.bad ? -1 : 0;
}
