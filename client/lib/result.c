/* result.c - results: freeing them, and unpacking them with msgpack-c only after the bounded
 * scanner said they are one object within limits (msgpack-c allocates what headers claim). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void hpc_result_free(struct hpc_result *res)
{
	if (!res)
		return;
	free(res->data);
	res->data = NULL;
	res->len = 0;
}

int hpc_unpack(const void *data, size_t len, msgpack_unpacked *up, struct hpc_error *err)
{
	msgpack_unpacked_init(up);
	const char *why = "no bytes";
	size_t at = 0;
	struct hp_mp_limits lim = { HP_MP_VALUE_DEPTH, len, 0 };
	if (!data || hp_mp_check_one(data, len, &lim, &why, &at) != HP_MP_OK) {
		msgpack_unpacked_destroy(up);
		return hpc_fail(err, HP_E_BAD_REQUEST, "not one msgpack object: %s at byte %zu",
				why, at);
	}
	/* msgpack-c points strs, bins and exts into the bytes it unpacks: unpacking a copy made
	 * in the zone makes the object self-contained (the caller may free data at once). */
	msgpack_zone *z = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
	void *copy = z ? msgpack_zone_malloc(z, len) : NULL;
	if (!copy) {
		msgpack_zone_free(z);
		return hpc_fail(err, HP_E_NO_MEMORY, "no memory to unpack %zu bytes", len);
	}
	memcpy(copy, data, len);
	size_t off = 0;
	msgpack_unpack_return rc = msgpack_unpack(copy, len, &off, z, &up->data);
	if (rc == MSGPACK_UNPACK_SUCCESS && off == len) {
		up->zone = z;
		return 0;
	}
	msgpack_zone_free(z);
	msgpack_unpacked_init(up);
	if (rc == MSGPACK_UNPACK_NOMEM_ERROR)
		return hpc_fail(err, HP_E_NO_MEMORY, "no memory to unpack %zu bytes", len);
	return hpc_fail(err, HP_E_BAD_REQUEST, "msgpack-c could not unpack the object (%d)",
			(int)rc);
}

int hpc_result_unpack(const struct hpc_result *res, msgpack_unpacked *up, struct hpc_error *err)
{
	return hpc_unpack(res ? res->data : NULL, res ? res->len : 0, up, err);
}
