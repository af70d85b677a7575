/* args.c - building argument arrays with msgpack-c (no codec of our own). */
#include <string.h>

#include "internal.h"

msgpack_packer *hpc_args_begin(struct hpc_args *a, uint32_t n)
{
	msgpack_sbuffer_init(&a->sb);
	msgpack_packer_init(&a->pk, &a->sb, msgpack_sbuffer_write);
	msgpack_pack_array(&a->pk, n);
	return &a->pk;
}

const void *hpc_args_data(const struct hpc_args *a)
{
	return a->sb.data;
}

size_t hpc_args_len(const struct hpc_args *a)
{
	return a->sb.size;
}

void hpc_args_free(struct hpc_args *a)
{
	msgpack_sbuffer_destroy(&a->sb);
	msgpack_sbuffer_init(&a->sb);
}

int hpc_pack_cstr(msgpack_packer *pk, const char *s)
{
	return msgpack_pack_str_with_body(pk, s, strlen(s));
}
