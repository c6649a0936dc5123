/*
 * explain.h — how one distributor's statement of a period came about
 * (referral_explain()): explain.c gathers it into a JSON document,
 * explain_text.c words that document for people. The document's keys are
 * described in docs/formats.md, "Explain".
 */
#ifndef REFERRAL_EXPLAIN_H
#define REFERRAL_EXPLAIN_H

#include <jansson.h>

#include "core.h"

/* Words the explanation of `doc` into sb. 0, or -1 out of memory. */
int explain_words(const json_t *doc, struct strbuf *sb);

#endif
