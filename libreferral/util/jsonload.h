/*
 * jsonload.h — JSON text read by jansson, safe from its allocation
 * failures.
 *
 * jansson 2.14 ignores the failure of some allocations while it reads (the
 * buffer of the token being read grows without a check), and then reports
 * bad JSON, or reads a key or a string with a byte missing. A text read
 * by jansson is therefore read twice: two equal results are the text's,
 * two equal faults at the same place are the text's fault, and anything
 * else is an allocation that failed.
 */
#ifndef REFERRAL_JSONLOAD_H
#define REFERRAL_JSONLOAD_H

#include <jansson.h>
#include <stddef.h>

/* json_loadb(text, len, flags, err) read twice: the root (a new
 * reference), or NULL with *err set; json_error_code(err) is
 * json_error_out_of_memory when memory failed, whatever jansson said. */
json_t *json_load_checked(const char *text, size_t len, size_t flags, json_error_t *err);

/* Marks *err as out of memory, as jansson marks its own. */
void json_error_set_nomem(json_error_t *err);

#endif
