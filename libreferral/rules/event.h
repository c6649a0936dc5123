/*
 * event.h — an event on its way into the log: the fields of its line, and
 * the normalised row the checks make of them (rules/ingest_rules.c), for
 * the batch that appends it (api/ingest.c) and the readers of its line
 * (rules/event_json.c).
 */
#ifndef REFERRAL_EVENT_H
#define REFERRAL_EVENT_H

#include <gmp.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

enum field {
	F_ID, F_AT, F_NAME, F_REGION, F_KIND, F_STORE, F_RECRUITER, F_DISTRIBUTOR,
	F_MEMBER, F_FROM, F_TO, F_ORDER, F_AMOUNT, F_RATING, F_POINTS, NFIELDS
};

extern const char *const field_names[NFIELDS];

enum { FS_ABSENT, FS_NULL, FS_STRING, FS_OTHER };

struct fval {
	int state;
	const char *s;
	size_t n;
	json_t *j; /* the JSON value, for messages about a wrong type */
};

/* Where each event type keeps its fields (see core.h). */
struct type_spec {
	int ref1, ref1_type;   /* field and entity type of ref1, or -1 */
	int ref2, ref2_type;   /* likewise for ref2 */
	int ref2_nullable;
	int num, num_money;    /* field of num, or -1; money form or decimal */
	int txt1, txt2;        /* fields of the texts, or -1 */
};


/* One event on its way in: its raw fields, then the normalised row. */
struct event_in {
	int type;
	struct fval f[NFIELDS];
	struct type_spec spec;
	/* normalised */
	int64_t at;
	int booked;
	int64_t ref1, ref2;        /* seqs, 0 = none */
	int64_t ref1_at, ref2_at;  /* instants the referenced entities appear */
	char num[128];             /* canonical decimal, "" = none */
	const char *txt1, *txt2;   /* NUL-terminated copies live in txtbuf */
	char txtbuf[1024];
};

/* What checks a line: the store it is checked against, the message of the
 * last line rejected, scratch values. */
struct checker {
	referral_store *st;
	struct strbuf msg;
	mpq_t a, b;
};

/* Messages of a bad line, starting "type \"id\": "; they return
 * REFERRAL_EINPUT. */
int bad(struct checker *b, const struct event_in *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int bad_field(struct checker *b, const struct event_in *e, int f, const char *expected);
void msg_head(struct checker *b, const struct event_in *e);
/* Appends `field "value"` to the message. */
void explain_ref(struct checker *b, const struct event_in *e, int f);

/* Checks the shape of every field and fills the normalised slots that need
 * no lookup: at, booked, num, texts. 0 or REFERRAL_EINPUT (message set). */
int check_fields(struct checker *b, struct event_in *e);
/* Where events of `type` (1 .. EV_TYPES) keep their fields. */
const struct type_spec *type_spec_of(int type);
/* The rules that need the log, once the references are resolved: 0,
 * REFERRAL_EINPUT (message set), or a storage status. */
int check_rules(struct checker *b, struct event_in *e);
/* Compares with a stored event of the same key: 1 identical, 0 conflicting
 * (message set). */
int compare_stored(struct checker *b, struct event_in *e, const struct ev_row *r);

/* The usual line, read without jansson; 1 when it was (event_json.c). */
int read_plain(const char *s, size_t len, struct event_in *e);
/* The line through jansson (duplicate keys rejected), a number too large
 * for it in an unknown field ignored: the root, or NULL with *err set. */
json_t *load_line(const char *json, size_t len, json_error_t *err);
/* A line jansson rejected for invalid UTF-8 at byte `pos`: the message. */
void bad_utf8(struct checker *b, const char *json, size_t len, size_t pos);

#endif
