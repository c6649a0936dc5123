/*
 * linereader.c — lines from a plain or gzip file, BOM skipped.
 *
 * The text is read in chunks into one buffer that grows to hold the
 * longest line; lines are handed out from it in place. The first read
 * decides the kind of input: gzip when it begins with 1F 8B, and from then
 * on the file's bytes go through inflate on their way into the buffer.
 */
#include "linereader.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (128 * 1024)
#define NOTHING_HELD ((size_t)-1)

static int fail(struct linereader *lr, const char *what, const char *detail)
{
	snprintf(lr->msg, sizeof lr->msg, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
	return -1;
}

static int gzip_fail(struct linereader *lr, const char *detail)
{
	return fail(lr, "not a valid gzip stream", detail);
}

int lr_open(struct linereader *lr, const char *path)
{
	memset(lr, 0, sizeof *lr);
	lr->held = NOTHING_HELD;
	int use_stdin = !path || !strcmp(path, "-");
	lr->fd = use_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (lr->fd < 0)
		return -1;
	lr->own_fd = !use_stdin;
	struct stat sb;
	int got = fstat(lr->fd, &sb) == 0;
	if (got && S_ISDIR(sb.st_mode)) {
		if (lr->own_fd)
			close(lr->fd);
		errno = EISDIR;
		return -1;
	}
	lr->size = got && S_ISREG(sb.st_mode) ? (long long)sb.st_size : -1;
	lr->cap = CHUNK;
	if (!(lr->buf = malloc(lr->cap))) {
		if (lr->own_fd)
			close(lr->fd);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Reads up to n bytes of the file into dst: their count, 0 at its end, -1
 * on failure (with the message set). */
static long read_raw(struct linereader *lr, void *dst, size_t n)
{
	ssize_t got;
	do
		got = read(lr->fd, dst, n);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return fail(lr, "cannot read", strerror(errno));
	lr->raw += got;
	return (long)got;
}

/* Turns the reader to gzip: the bytes read so far (the text buffer up to
 * end) become the first compressed input. Returns 0 or -1. */
static int start_gzip(struct linereader *lr)
{
	if (!(lr->in = malloc(CHUNK)))
		return fail(lr, "out of memory", NULL);
	memcpy(lr->in, lr->buf, lr->end);
	lr->z.next_in = lr->in;
	lr->z.avail_in = (unsigned)lr->end;
	lr->end = 0;
	/* 16 + MAX_WBITS: a gzip header and trailer, nothing else */
	int r = inflateInit2(&lr->z, 16 + MAX_WBITS);
	if (r != Z_OK)
		return fail(lr, r == Z_MEM_ERROR ? "out of memory" : "cannot start inflating", NULL);
	lr->z_live = 1;
	lr->gzip = 1;
	return 0;
}

/* Inflates into the text buffer until it holds some more text or the input
 * ends where a gzip member ends. Returns 0 or -1. */
static int fill_gzip(struct linereader *lr)
{
	size_t free_bytes = lr->cap - 1 - lr->end;
	unsigned room = free_bytes > UINT_MAX ? UINT_MAX : (unsigned)free_bytes;
	lr->z.next_out = (unsigned char *)lr->buf + lr->end;
	lr->z.avail_out = room;
	while (lr->z.avail_out == room) {
		if (!lr->z.avail_in) {
			long n = read_raw(lr, lr->in, CHUNK);
			if (n < 0)
				return -1;
			if (n == 0) {
				if (lr->z_end)
					break;
				return gzip_fail(lr, "unexpected end of file");
			}
			lr->z.next_in = lr->in;
			lr->z.avail_in = (unsigned)n;
		}
		if (lr->z_end) { /* another member follows the one that ended */
			inflateReset(&lr->z);
			lr->z_end = 0;
		}
		int r = inflate(&lr->z, Z_NO_FLUSH);
		if (r == Z_STREAM_END) {
			lr->z_end = 1;
			lr->members++;
		}
		else if (r == Z_MEM_ERROR)
			return fail(lr, "out of memory", NULL);
		else if (r != Z_OK && r != Z_BUF_ERROR && lr->members && lr->z.total_in <= 10)
			return gzip_fail(lr, "trailing garbage after the compressed data");
		else if (r != Z_OK && r != Z_BUF_ERROR)
			return gzip_fail(lr, lr->z.msg ? lr->z.msg : "corrupt data");
	}
	size_t got = room - lr->z.avail_out;
	lr->end += got;
	if (!got)
		lr->eof = 1;
	return 0;
}

/* Reads more text into the buffer, after moving what is left to its start
 * and growing it when little room is left. Returns 0 or -1. */
static int fill(struct linereader *lr)
{
	if (lr->start) {
		memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
		lr->end -= lr->start;
		lr->scan -= lr->start;
		lr->start = 0;
	}
	if (lr->cap - 1 - lr->end < CHUNK / 2) {
		if (lr->cap > ((size_t)-1) / 4)
			return fail(lr, "out of memory", NULL);
		char *p = realloc(lr->buf, lr->cap * 2);
		if (!p)
			return fail(lr, "out of memory", NULL);
		lr->buf = p;
		lr->cap *= 2;
	}
	if (lr->gzip)
		return fill_gzip(lr);
	int first = lr->raw == 0;
	long n = read_raw(lr, lr->buf + lr->end, lr->cap - 1 - lr->end);
	if (n < 0)
		return -1;
	lr->end += (size_t)n;
	if (n == 0)
		lr->eof = 1;
	/* the first two bytes decide the kind (a pipe may give them one by one) */
	while (first && !lr->eof && lr->end < 2) {
		if ((n = read_raw(lr, lr->buf + lr->end, lr->cap - 1 - lr->end)) < 0)
			return -1;
		lr->end += (size_t)n;
		lr->eof = n == 0;
	}
	if (first && lr->end >= 2 && (unsigned char)lr->buf[0] == 0x1F &&
	    (unsigned char)lr->buf[1] == 0x8B) {
		lr->eof = 0;
		return start_gzip(lr) ? -1 : fill_gzip(lr);
	}
	return 0;
}

/* Hands out buf[start, stop) as the next line, a NUL in place of the byte
 * after it until the next call. */
static int hand_out(struct linereader *lr, size_t stop, const char **line, size_t *len)
{
	*line = lr->buf + lr->start;
	*len = stop - lr->start;
	lr->held = stop;
	lr->held_byte = lr->buf[stop];
	lr->buf[stop] = '\0';
	lr->consumed += (long long)*len;
	lr->start = lr->scan = stop;
	return 1;
}

int lr_next(struct linereader *lr, const char **line, size_t *len)
{
	if (lr->held != NOTHING_HELD) {
		lr->buf[lr->held] = lr->held_byte;
		lr->held = NOTHING_HELD;
	}
	for (;;) {
		if (!lr->bom_checked && (lr->end - lr->start >= 3 || lr->eof)) {
			if (lr->end - lr->start >= 3 && !memcmp(lr->buf + lr->start, "\xEF\xBB\xBF", 3)) {
				lr->start += 3;
				lr->consumed += 3;
			}
			lr->bom_checked = 1;
			lr->scan = lr->start;
		}
		if (lr->bom_checked) {
			char *nl = memchr(lr->buf + lr->scan, '\n', lr->end - lr->scan);
			if (nl)
				return hand_out(lr, (size_t)(nl - lr->buf) + 1, line, len);
			lr->scan = lr->end;
			if (lr->eof)
				return lr->start < lr->end ? hand_out(lr, lr->end, line, len) : 0;
		}
		if (fill(lr))
			return -1;
	}
}

long long lr_offset(const struct linereader *lr)
{
	return lr->gzip ? lr->raw - (long long)lr->z.avail_in : lr->consumed;
}

const char *lr_error(const struct linereader *lr) { return lr->msg; }

void lr_close(struct linereader *lr)
{
	if (lr->z_live)
		inflateEnd(&lr->z);
	free(lr->in);
	free(lr->buf);
	if (lr->own_fd)
		close(lr->fd);
	lr->z_live = lr->own_fd = 0;
	lr->in = NULL;
	lr->buf = NULL;
}
