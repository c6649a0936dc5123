/* strbuf.c — see strbuf.h. */
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sb_reserve(struct strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;
	if (need <= sb->cap)
		return 0;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap *= 2;
	char *p = realloc(sb->data, cap);
	if (!p) {
		sb->failed = 1;
		return -1;
	}
	sb->data = p;
	sb->cap = cap;
	return 0;
}

int sb_append(struct strbuf *sb, const char *s, size_t n)
{
	if (sb_reserve(sb, n))
		return -1;
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
	return 0;
}

int sb_puts(struct strbuf *sb, const char *s) { return sb_append(sb, s, strlen(s)); }

int sb_putc(struct strbuf *sb, char c) { return sb_append(sb, &c, 1); }

int sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0) {
		sb->failed = 1;
		return -1;
	}
	if (sb_reserve(sb, (size_t)n))
		return -1;
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
	return 0;
}

int sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = sb_vprintf(sb, fmt, ap);
	va_end(ap);
	return rc;
}

const char *sb_str(const struct strbuf *sb) { return sb->data ? sb->data : ""; }

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->failed = 0;
	if (sb->data)
		sb->data[0] = '\0';
}

void sb_free(struct strbuf *sb)
{
	free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
	sb->failed = 0;
}
