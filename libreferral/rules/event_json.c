/*
 * event_json.c — reading an event's fields from its JSON Lines line: the
 * usual flat line of strings by a small reader of its own, and anything
 * else through jansson (api/ingest.c); and the message of a line with
 * invalid UTF-8.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "jsonload.h"

/* The name of the JSON key whose string value holds byte `pos`, found by
 * walking back over `"key" : "...` from it; NULL if the layout is
 * unexpected. The name is copied into buf. */
static const char *key_before(const char *s, size_t pos, char *buf, size_t cap)
{
	size_t i = pos < 1 ? 0 : pos;
	while (i > 0 && !(s[i - 1] == '"' && (i < 2 || s[i - 2] != '\\')))
		i--; /* to the opening quote of the value */
	if (i == 0)
		return NULL;
	i--;
	while (i > 0 && strchr(" \t", s[i - 1]))
		i--;
	if (i == 0 || s[i - 1] != ':')
		return NULL;
	i--;
	while (i > 0 && strchr(" \t", s[i - 1]))
		i--;
	if (i == 0 || s[i - 1] != '"')
		return NULL;
	size_t end = --i;
	while (i > 0 && s[i - 1] != '"')
		i--;
	if (i == 0 || end - i >= cap)
		return NULL;
	memcpy(buf, s + i, end - i);
	buf[end - i] = '\0';
	return buf;
}

/* A line with invalid UTF-8: names the field, and the event when the rest
 * of the line parses once the bad bytes are masked. */
void bad_utf8(struct checker *b, const char *json, size_t len, size_t pos)
{
	char key[64];
	struct event_in e;
	memset(&e, 0, offsetof(struct event_in, num));
	char *copy = malloc(len);
	json_t *root = NULL;
	if (copy) {
		/* mask every byte outside ASCII: enough to read type and id */
		for (size_t i = 0; i < len; i++)
			copy[i] = (unsigned char)json[i] >= 0x80 ? '?' : json[i];
		root = json_loadb(copy, len, 0, NULL);
	}
	json_t *type = root ? json_object_get(root, "type") : NULL;
	json_t *id = root ? json_object_get(root, "id") : NULL;
	for (int t = 1; json_is_string(type) && t <= EV_TYPES; t++)
		if (!strcmp(json_string_value(type), ev_type_names[t]))
			e.type = t;
	if (e.type && json_is_string(id)) {
		e.f[F_ID].state = FS_STRING;
		e.f[F_ID].s = json_string_value(id);
		e.f[F_ID].n = json_string_length(id);
	}
	const char *field = key_before(json, pos, key, sizeof key);
	if (field)
		bad(b, &e, "field \"%s\": expected a UTF-8 string, got invalid UTF-8 at byte %zu",
		    field, pos + 1);
	else
		bad(b, &e, "invalid UTF-8 at byte %zu", pos + 1);
	json_decref(root);
	free(copy);
}

/* The field a JSON key names: 0 .. NFIELDS-1, NFIELDS for "type", -1 for
 * any other key. */
static int key_field(const char *k, size_t n)
{
	if (n == 4 && !memcmp(k, "type", 4))
		return NFIELDS;
	for (int f = 0; f < NFIELDS; f++)
		if (strlen(field_names[f]) == n && !memcmp(field_names[f], k, n))
			return f;
	return -1;
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* A string of printable ASCII without escapes, from after its opening
 * quote: its length in *n, and the position after its closing quote; NULL
 * for anything else. */
static const char *plain_string(const char *p, const char *end, size_t *n)
{
	const char *start = p;
	while (p < end && *p != '"') {
		if (*p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80)
			return NULL;
		p++;
	}
	if (p == end)
		return NULL;
	*n = (size_t)(p - start);
	return p + 1;
}

/* The deepest nesting of an unknown field's value that the plain reader
 * skips, and the most keys an object of the line may have for it; a line
 * beyond either goes to jansson. */
#define SKIP_DEPTH 16
#define MAX_KEYS 32

/* A JSON number, validated by its grammar and not converted: the position
 * after it, or NULL if it is not one. */
static const char *skip_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (p < end && *p == '.') {
		const char *digits = ++p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == digits)
			return NULL;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		const char *digits = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == digits)
			return NULL;
	}
	/* a number runs into a letter or a point: jansson's "invalid token" */
	if (p < end && (!*p || !strchr(" \t\r\n,]}", *p)))
		return NULL;
	return p;
}

/* A string of printable ASCII from after its opening quote, in which the
 * escapes \" \\ \/ \b \f \n \r \t may appear: the position after its
 * closing quote, or NULL for anything else (\u escapes among it). */
static const char *skip_string(const char *p, const char *end)
{
	while (p < end && *p != '"') {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80)
			return NULL;
		if (*p == '\\') {
			if (++p == end || !*p || !strchr("\"\\/bfnrt", *p))
				return NULL;
		}
		p++;
	}
	return p < end ? p + 1 : NULL;
}

/* Whether key k (n bytes, without escapes) is among the `nkeys` in keys;
 * if not, it is added. 1 when it was there or there is no room (the line
 * is declined either way). */
static int key_repeated(const char **keys, size_t *lens, int *nkeys, const char *k, size_t n)
{
	for (int i = 0; i < *nkeys; i++)
		if (lens[i] == n && !memcmp(keys[i], k, n))
			return 1;
	if (*nkeys == MAX_KEYS)
		return 1;
	keys[*nkeys] = k;
	lens[(*nkeys)++] = n;
	return 0;
}

/* The value of a key this spec does not define, skipped without being
 * converted: a number, true, false, null, a string, or an array or object
 * of them, each checked against the JSON grammar. Returns the position
 * after it, or NULL when the reader is not sure jansson would read the
 * value the same way (escapes it does not handle, non-ASCII, a key given
 * twice, deep nesting, bad JSON), so that the line goes to jansson. */
static const char *skip_value(const char *p, const char *end, int depth)
{
	if (p == end)
		return NULL;
	if (*p == '"')
		return skip_string(p + 1, end);
	if (*p == '-' || (*p >= '0' && *p <= '9'))
		return skip_number(p, end);
	static const char *const literals[] = {"true", "false", "null"};
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(literals[i]);
		if ((size_t)(end - p) >= n && !memcmp(p, literals[i], n))
			return p + n;
	}
	if ((*p != '[' && *p != '{') || depth == SKIP_DEPTH)
		return NULL;
	char close = *p == '[' ? ']' : '}';
	const char *keys[MAX_KEYS];
	size_t lens[MAX_KEYS];
	int nkeys = 0;
	p = skip_space(p + 1, end);
	if (p < end && *p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			const char *key = p + 1;
			size_t nkey;
			if (p == end || *p != '"' || !(p = plain_string(p + 1, end, &nkey)) ||
			    key_repeated(keys, lens, &nkeys, key, nkey))
				return NULL;
			p = skip_space(p, end);
			if (p == end || *p++ != ':')
				return NULL;
			p = skip_space(p, end);
		}
		if (!(p = skip_value(p, end, depth + 1)))
			return NULL;
		p = skip_space(p, end);
		if (p < end && *p == ',') {
			p = skip_space(p + 1, end);
			continue;
		}
		return p < end && *p == close ? p + 1 : NULL;
	}
}

/* The usual line, read without jansson: a flat object whose keys are "type"
 * and fields of this spec, each once, and whose values are strings of
 * printable ASCII without escapes, or null, with any other keys, whose
 * values are skipped unconverted (skip_value). Fills the type and the
 * fields of `e` (zeroed) and returns 1; returns 0 for any other line,
 * which jansson then reads, so that every line this declines (bad JSON,
 * escapes, UTF-8, repeated keys, other value types in a field, an unknown
 * type) gets the handling and the messages it always had. */
int read_plain(const char *s, size_t len, struct event_in *e)
{
	const char *p = skip_space(s, s + len), *end = s + len, *type = NULL;
	const char *others[MAX_KEYS];
	size_t ntype = 0, other_lens[MAX_KEYS];
	int nothers = 0;
	unsigned seen = 0;

	if (p == end || *p++ != '{')
		return 0;
	for (;;) {
		const char *key = (p = skip_space(p, end)) + 1, *val = NULL;
		size_t nkey, nval = 0;
		if (p == end || *p != '"' || !(p = plain_string(p + 1, end, &nkey)))
			return 0;
		int f = key_field(key, nkey);
		if (f < 0 ? key_repeated(others, other_lens, &nothers, key, nkey) : !!(seen & 1u << f))
			return 0;
		if (f >= 0)
			seen |= 1u << f;
		p = skip_space(p, end);
		if (p == end || *p++ != ':')
			return 0;
		p = skip_space(p, end);
		if (f < 0) {
			if (!(p = skip_value(p, end, 0)))
				return 0;
		} else if (p < end && *p == '"') {
			val = p + 1;
			if (!(p = plain_string(p + 1, end, &nval)))
				return 0;
		} else if (end - p >= 4 && !memcmp(p, "null", 4) && f < NFIELDS) {
			p += 4;
		} else {
			return 0;
		}
		if (f == NFIELDS) {
			type = val;
			ntype = nval;
		} else if (f >= 0) {
			e->f[f].state = val ? FS_STRING : FS_NULL;
			e->f[f].s = val;
			e->f[f].n = nval;
		}
		p = skip_space(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p == end || *p++ != '}')
			return 0;
		break;
	}
	if (skip_space(p, end) != end || !type)
		return 0;
	for (int t = 1; t <= EV_TYPES; t++)
		if (strlen(ev_type_names[t]) == ntype && !memcmp(ev_type_names[t], type, ntype))
			e->type = t;
	return e->type != 0;
}

/* The top-level key whose value holds byte `pos` of a line that is valid
 * JSON up to it: 1 with the key's raw bytes (escapes undecoded), 0 when
 * the byte is not inside the value of a key of a top-level object. */
static int key_at(const char *s, size_t pos, const char **key, size_t *n)
{
	int depth = 0, in_string = 0;
	const char *last = NULL, *cur = NULL;
	size_t last_n = 0, cur_n = 0;
	for (size_t i = 0; i < pos; i++) {
		char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"') {
				in_string = 0;
				last_n = (size_t)(s + i - last);
			}
		} else if (c == '"') {
			in_string = 1;
			last = s + i + 1;
		} else if (c == ':' && depth == 1) {
			cur = last;
			cur_n = last_n;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == ',' && depth == 1) {
			cur = NULL;
		}
	}
	if (depth < 1 || !cur)
		return 0;
	*key = cur;
	*n = cur_n;
	return 1;
}

/* jansson converts every number, and refuses one it cannot hold ("too big
 * integer", "real number overflow") wherever it is. A number in a key this
 * spec does not define is ignored like the rest of that key's value, so it
 * is rewritten as 0, padded with spaces to the same length, and the line
 * read again; a number in a field of the spec keeps jansson's message. */
json_t *load_line(const char *json, size_t len, json_error_t *err)
{
	json_t *root = json_load_checked(json, len, JSON_REJECT_DUPLICATES, err);
	char *copy = NULL;
	/* each pass rewrites one number; a line has fewer than len numbers */
	for (size_t pass = 0; !root && pass < len; pass++) {
		if (json_error_code(err) != json_error_numeric_overflow || err->position <= 0 ||
		    (size_t)err->position > len)
			break;
		const char *src = copy ? copy : json;
		size_t stop = (size_t)err->position, start = stop, n;
		while (start > 0 && src[start - 1] && strchr("0123456789+-.eE", src[start - 1]))
			start--;
		const char *key;
		if (start == stop || !key_at(src, start, &key, &n) || memchr(key, '\\', n) ||
		    key_field(key, n) >= 0)
			break; /* the number is a field's own value, or its place is unclear */
		if (!copy) {
			if (!(copy = malloc(len))) {
				json_error_set_nomem(err);
				break;
			}
			memcpy(copy, json, len);
		}
		copy[start] = '0';
		memset(copy + start + 1, ' ', stop - start - 1);
		/* the same length: a later error keeps its column */
		root = json_load_checked(copy, len, JSON_REJECT_DUPLICATES, err);
	}
	free(copy);
	return root;
}
