/* blob.c — see blob.h. */
#include "blob.h"

#include <string.h>

/* The longest varint of a 128-bit value: ceil(128 / 7) bytes. */
#define VARINT_MAX 19

void blob_in_init(struct blob_in *r, struct blob_src *src)
{
	r->src = src;
	r->eof = r->failed = 0;
	r->p = r->end = r->buf;
}

/* Moves what is left to the front and reads the next chunk after it. */
static void refill(struct blob_in *r)
{
	size_t left = (size_t)(r->end - r->p), got = 0;
	memmove(r->buf, r->p, left);
	r->p = r->buf;
	r->end = r->buf + left;
	while (!r->eof && !r->failed && (size_t)(r->end - r->buf) < sizeof r->buf) {
		int rc = r->src->read(r->src, (unsigned char *)r->end,
				      sizeof r->buf - (size_t)(r->end - r->buf), &got);
		if (rc)
			r->failed = rc;
		else if (got == 0)
			r->eof = 1;
		r->end += got;
		got = 0;
	}
}

int blob_in_varint(struct blob_in *r, unsigned __int128 *v)
{
	if (r->end - r->p < VARINT_MAX && !r->eof)
		refill(r);
	if (r->failed)
		return -1;
	unsigned __int128 x = 0;
	for (int shift = 0; r->p < r->end && shift < 128; shift += 7) {
		unsigned char byte = *r->p++;
		x |= (unsigned __int128)(byte & 0x7F) << shift;
		if (!(byte & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

int blob_in_bytes(struct blob_in *r, unsigned char *buf, size_t n)
{
	if ((size_t)(r->end - r->p) < n && !r->eof)
		refill(r);
	if (r->failed || (size_t)(r->end - r->p) < n)
		return -1;
	memcpy(buf, r->p, n);
	r->p += n;
	return 0;
}

int blob_in_done(struct blob_in *r)
{
	if (r->p == r->end && !r->eof)
		refill(r);
	return r->eof && !r->failed && r->p == r->end;
}

int blob_in_failed(const struct blob_in *r) { return r->failed; }

void blob_out_count(struct blob_out *w)
{
	w->dst = NULL;
	w->len = w->fill = 0;
	w->err = 0;
}

void blob_out_start(struct blob_out *w, struct blob_dst *dst)
{
	w->dst = dst;
	w->fill = 0;
	w->err = 0;
}

static void flush(struct blob_out *w)
{
	if (w->fill && !w->err)
		w->err = w->dst->write(w->dst, w->buf, w->fill);
	w->fill = 0;
}

void blob_out_varint(struct blob_out *w, unsigned __int128 v)
{
	unsigned char tmp[VARINT_MAX];
	size_t n = 0;
	do {
		unsigned char byte = v & 0x7F;
		v >>= 7;
		tmp[n++] = (unsigned char)(byte | (v ? 0x80 : 0));
	} while (v);
	if (!w->dst) {
		w->len += n;
		return;
	}
	if (w->fill + n > sizeof w->buf)
		flush(w);
	memcpy(w->buf + w->fill, tmp, n);
	w->fill += n;
}

void blob_out_bytes(struct blob_out *w, const void *p, size_t n)
{
	if (!n)
		return;
	if (!w->dst) {
		w->len += n;
		return;
	}
	if (w->fill + n > sizeof w->buf)
		flush(w);
	memcpy(w->buf + w->fill, p, n);
	w->fill += n;
}

int blob_out_finish(struct blob_out *w)
{
	flush(w);
	if (!w->err)
		w->err = w->dst->finish(w->dst);
	return w->err;
}
