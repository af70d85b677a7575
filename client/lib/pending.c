/* pending.c - the calls of a connection that wait for their response, by msgid.
 * An unordered array searched linearly: the daemon allows max_inflight (256 by default) calls
 * per connection, and a scan of a few hundred entries costs less than the response's read. */
#include <stdlib.h>

#include "internal.h"

struct hpc_pending *hpc_pending_find(struct hpc_conn *c, uint32_t msgid)
{
	for (size_t i = 0; i < c->npending; i++)
		if (c->pending[i].msgid == msgid)
			return &c->pending[i];
	return NULL;
}

/* A fresh msgid: the next one that no pending call holds (msgids wrap after 2^32 calls). */
static uint32_t fresh_msgid(struct hpc_conn *c)
{
	while (hpc_pending_find(c, c->next_msgid))
		c->next_msgid++;
	return c->next_msgid++;
}

int hpc_pending_add(struct hpc_conn *c, hpc_callback cb, void *ctx, uint32_t *msgid)
{
	if (c->npending == c->cap_pending) {
		size_t cap = c->cap_pending ? 2 * c->cap_pending : 16;
		struct hpc_pending *p = realloc(c->pending, cap * sizeof(*p));
		if (!p)
			return -1;
		c->pending = p;
		c->cap_pending = cap;
	}
	*msgid = fresh_msgid(c);
	c->pending[c->npending++] = (struct hpc_pending){ *msgid, cb, ctx };
	return 0;
}

void hpc_pending_remove(struct hpc_conn *c, struct hpc_pending *p)
{
	if (!p->cb)
		c->nabandoned--;
	*p = c->pending[--c->npending];
}
