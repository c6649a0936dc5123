/*
 * strbuf.h — a growable byte buffer, NUL-terminated at all times.
 *
 * Appends return 0, or -1 when memory runs out (the buffer then keeps what it
 * had, and `failed` is set until the next reset: a text built by many
 * appends is checked once, at its end). A zeroed struct strbuf is an empty
 * buffer.
 */
#ifndef REFERRAL_STRBUF_H
#define REFERRAL_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *data; /* NULL while nothing was ever appended */
	size_t len, cap;
	int failed; /* an append failed since the last reset */
};

int sb_append(struct strbuf *sb, const char *s, size_t n);
int sb_puts(struct strbuf *sb, const char *s);
int sb_putc(struct strbuf *sb, char c);
int sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap);
/* The text ("" while empty). Lent. */
const char *sb_str(const struct strbuf *sb);
void sb_reset(struct strbuf *sb);   /* empties, keeps memory */
void sb_free(struct strbuf *sb);    /* releases memory */

#endif
