/*
 * event_json.c — reading an event's fields from its JSON Lines line: the
 * usual flat line of strings by a small reader of its own, and anything
 * else through jansson (api/ingest.c); and the message of a line with
 * invalid UTF-8.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

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

/* The usual line, read without jansson: a flat object whose keys are "type"
 * and fields of this spec, each once, and whose values are strings of
 * printable ASCII without escapes, or null. Fills the type and the fields
 * of `e` (zeroed) and returns 1; returns 0 for any other line, which jansson
 * then reads, so that every line this declines (bad JSON, escapes, UTF-8,
 * unknown or repeated keys, other value types, an unknown type) gets the
 * handling and the messages it always had. */
int read_plain(const char *s, size_t len, struct event_in *e)
{
	const char *p = skip_space(s, s + len), *end = s + len, *type = NULL;
	size_t ntype = 0;
	unsigned seen = 0;

	if (p == end || *p++ != '{')
		return 0;
	for (;;) {
		const char *key = (p = skip_space(p, end)) + 1, *val = NULL;
		size_t nkey, nval = 0;
		if (p == end || *p != '"' || !(p = plain_string(p + 1, end, &nkey)))
			return 0;
		int f = key_field(key, nkey);
		if (f < 0 || (seen & 1u << f))
			return 0;
		seen |= 1u << f;
		p = skip_space(p, end);
		if (p == end || *p++ != ':')
			return 0;
		p = skip_space(p, end);
		if (p < end && *p == '"') {
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
		} else {
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

