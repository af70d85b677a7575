/* hostcall.c - calling functions of the host from a guest (hp_host_call, guest.h).
 *
 * The request, the msgpack array [name, args], is built in the heap and its address and length
 * go to the host in the call block with HP_HC_HOST_CALL; the host leaves the answer in the
 * input buffer (read-only to us) and its status, address and length in the call block. Our
 * log buffer is flushed first, so output and host calls reach the host in order. */
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"

static size_t str_header(uint8_t *p, size_t n)
{
	if (n < 32) {
		p[0] = (uint8_t)(0xa0 | n);
		return 1;
	}
	p[0] = 0xd9;
	p[1] = (uint8_t)n;
	return 2;
}

int hp_host_call(const char *name, const void *args, size_t args_len, const uint8_t **reply,
		 size_t *reply_len)
{
	size_t name_len = strlen(name);
	if (name_len == 0 || name_len >= HP_HOST_NAME_MAX || !args || args_len == 0)
		return HP_E_BAD_ARGS;
	size_t len = 1 + 2 + name_len + args_len;
	uint8_t *req = malloc(len);
	if (!req)
		return HP_E_OUT_OF_MEMORY;
	size_t n = 0;
	req[n++] = 0x92; /* [name, args] */
	n += str_header(req + n, name_len);
	memcpy(req + n, name, name_len);
	n += name_len;
	memcpy(req + n, args, args_len);
	n += args_len;
	hp_log_flush();
	HP_CB->host_req_addr = (uint64_t)(uintptr_t)req;
	HP_CB->host_req_len = (uint32_t)n;
	hp_arch_hypercall(HP_HC_HOST_CALL);
	free(req);
	int status = (int)HP_CB->host_status;
	uint64_t addr = HP_CB->host_resp_addr, rlen = HP_CB->host_resp_len;
	/* the host keeps the answer inside the input buffer; trust, but verify */
	if (addr < HP_CB->input_addr || rlen > HP_CB->input_size ||
	    addr - HP_CB->input_addr > HP_CB->input_size - rlen)
		return HP_E_GUEST_PROTOCOL;
	*reply = (const uint8_t *)(uintptr_t)addr;
	*reply_len = (size_t)rlen;
	return status;
}

msgpack_packer *hp_host_args_begin(hp_host_args *a, uint32_t n)
{
	msgpack_sbuffer_init(&a->sb);
	msgpack_packer_init(&a->pk, &a->sb, msgpack_sbuffer_write);
	msgpack_pack_array(&a->pk, n);
	return &a->pk;
}

int hp_host_invoke(const char *name, hp_host_args *a, hp_host_reply *r)
{
	static const char oom[] = "out of memory building the arguments";
	const uint8_t *reply = (const uint8_t *)oom;
	size_t len = sizeof(oom) - 1;
	memset(r, 0, sizeof(*r));
	/* msgpack-c's sbuffer leaves data NULL when it could not allocate */
	r->status = a->sb.data ? hp_host_call(name, a->sb.data, a->sb.size, &reply, &len)
			       : HP_E_OUT_OF_MEMORY;
	msgpack_sbuffer_destroy(&a->sb);
	if (r->status != HP_OK) {
		r->message = (const char *)reply;
		r->message_len = len;
		return r->status;
	}
	/* the host checked the result (one object, within limits): msgpack-c may decode it */
	msgpack_zone_init(&r->zone, 1024);
	r->has_zone = 1;
	size_t off = 0;
	if (msgpack_unpack((const char *)reply, len, &off, &r->zone, &r->result) !=
	    MSGPACK_UNPACK_SUCCESS) {
		static const char bad[] = "the host's answer could not be decoded";
		r->status = HP_E_GUEST_PROTOCOL;
		r->message = bad;
		r->message_len = sizeof(bad) - 1;
	}
	return r->status;
}

void hp_host_reply_free(hp_host_reply *r)
{
	if (r->has_zone)
		msgpack_zone_destroy(&r->zone);
	r->has_zone = 0;
}
