/*
 * linereader.h — lines from a plain or gzip file, BOM skipped.
 *
 * The input is a path or standard input. It is gzip when its first two
 * bytes are 1F 8B, whatever its name, and is then inflated as it is read
 * (several gzip members one after the other read as one text). A UTF-8 byte
 * order mark (EF BB BF) at the very start of the text is skipped; anywhere
 * else it is left in the line. Lines keep their newline, have no length
 * limit, and the last one may lack its newline.
 *
 *   struct linereader lr;
 *   if (lr_open(&lr, path))            -- errno tells why
 *       ...;
 *   while ((r = lr_next(&lr, &line, &len)) == 1)
 *       use line[0 .. len);
 *   if (r < 0) use lr_error(&lr);
 *   lr_close(&lr);
 */
#ifndef REFERRAL_LINEREADER_H
#define REFERRAL_LINEREADER_H

#include <stddef.h>
#include <zlib.h>

struct linereader {
	int fd, own_fd;       /* own_fd: opened here, closed by lr_close */
	long long size;       /* of a regular file; -1 for a pipe or terminal */
	long long raw;        /* bytes read from fd so far */
	long long consumed;   /* bytes of text handed out as lines, BOM included */
	int gzip, z_live, z_end; /* gzip input; inflate set up; at a member's end */
	long members;         /* gzip members read to their end */
	z_stream z;
	unsigned char *in;    /* gzip only: compressed bytes [z.next_in, +avail_in) */
	char *buf;            /* text: [start, end) not yet handed out */
	size_t cap, start, end, scan; /* scan: no newline in [start, scan) */
	int eof, bom_checked;
	size_t held;          /* where a NUL replaces a byte of the next line */
	char held_byte;
	char msg[256];
};

/* Opens `path` ("-" or NULL: standard input, which is not closed later).
 * Returns 0, or -1 with errno set and nothing to close. */
int lr_open(struct linereader *lr, const char *path);

/* The next line in *line, *len bytes with its newline, followed by a NUL;
 * lent until the next call. Returns 1 for a line, 0 at the end of the input,
 * -1 on a read error, out of memory or a corrupt gzip stream (lr_error()
 * says which); after -1 the reader only is to be closed. */
int lr_next(struct linereader *lr, const char **line, size_t *len);

/* How far into the file the lines handed out reach, in bytes of the file:
 * compressed bytes for gzip. */
long long lr_offset(const struct linereader *lr);

/* The message of the last failure of lr_next(), e.g. "not a valid gzip
 * stream: incorrect header check". Lent by the reader. */
const char *lr_error(const struct linereader *lr);

/* Frees what the reader holds and closes the file it opened. */
void lr_close(struct linereader *lr);

#endif
