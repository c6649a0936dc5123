/* jsonload.c — see jsonload.h. */
#include "jsonload.h"

#include <stdio.h>
#include <string.h>

void json_error_set_nomem(json_error_t *err)
{
	snprintf(err->text, sizeof err->text, "out of memory");
	/* json_error_code() reads the last byte of the text */
	err->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)json_error_out_of_memory;
}

json_t *json_load_checked(const char *text, size_t len, size_t flags, json_error_t *err)
{
	json_t *a = json_loadb(text, len, flags, err);
	/* the first allocation failing leaves the error as it was set up */
	if (!a && (!err->text[0] || json_error_code(err) == json_error_out_of_memory)) {
		json_error_set_nomem(err);
		return NULL;
	}
	json_error_t again;
	json_t *b = json_loadb(text, len, flags, &again);
	if (a && b && json_equal(a, b)) {
		json_decref(b);
		return a;
	}
	if (!a && !b && again.position == err->position && !strcmp(again.text, err->text))
		return NULL;
	json_decref(a);
	json_decref(b);
	json_error_set_nomem(err);
	return NULL;
}
