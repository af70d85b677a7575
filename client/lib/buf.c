/* buf.c - the growable byte buffers of a connection (what is queued out, what was read in). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Room for `more` bytes after len. Returns 0, or -1 when out of memory (or the size would
 * overflow). */
int hpc_buf_reserve(struct hpc_buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return 0;
	if (more > SIZE_MAX / 2 - b->len)
		return -1;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len < more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* msgpack_packer's write callback: appends to the buffer; a failure is remembered in oom so
 * that the packing code checks once at the end. */
int hpc_buf_pack(void *data, const char *bytes, size_t len)
{
	struct hpc_buf *b = data;
	if (b->oom || hpc_buf_reserve(b, len) < 0) {
		b->oom = true;
		return -1;
	}
	memcpy(b->p + b->len, bytes, len);
	b->len += len;
	return 0;
}

/* Moves the live bytes to the front, so that the buffer does not creep forward. */
void hpc_buf_compact(struct hpc_buf *b)
{
	if (b->off == 0)
		return;
	memmove(b->p, b->p + b->off, b->len - b->off);
	b->len -= b->off;
	b->off = 0;
}

void hpc_buf_free(struct hpc_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
