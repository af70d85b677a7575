/* peer_work.h - the work of three guest functions done natively, for the peers of
 * bench_peers.c and its helper process (bench_peer_helper.c):
 *   add     math.add([1, 2])                       examples/math
 *   sha256  strings.sha256([64 KiB of bytes])      examples/strings (sha256.h)
 *   enrich  records.enrich([16 KiB of records])    examples/records (enrich.h)
 * Each decodes the msgpack argument array with msgpack-c (msgpack_unpack_next, as the guest
 * runtime does), runs the very code the module runs (the same headers), and encodes the
 * answer with msgpack-c: what the guest does between the request in its input buffer and the
 * answer in its output buffer. So every peer does the same work as a hyperpool call, only the
 * isolation differs. */
#ifndef PEER_WORK_H
#define PEER_WORK_H

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enrich.h"
#include "sha256.h"

enum peer_kind { PEER_ADD, PEER_SHA256, PEER_ENRICH, PEER_KINDS };

static const char *const peer_kind_names[PEER_KINDS] = { "add", "sha256", "enrich" };

/* A kind by name, or -1. */
static inline int peer_kind_parse(const char *name)
{
	for (int k = 0; k < PEER_KINDS; k++)
		if (!strcmp(name, peer_kind_names[k]))
			return k;
	return -1;
}

static inline int peer_pack(msgpack_packer *pk, enum peer_kind kind, const msgpack_object *a)
{
	switch (kind) {
	case PEER_ADD:
		if (a->via.array.size != 2 || a->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    a->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return -1;
		return msgpack_pack_uint64(pk, a->via.array.ptr[0].via.u64 + a->via.array.ptr[1].via.u64);
	case PEER_SHA256: {
		if (a->via.array.size != 1 || a->via.array.ptr[0].type != MSGPACK_OBJECT_BIN)
			return -1;
		uint8_t digest[32];
		sha256_digest((const uint8_t *)a->via.array.ptr[0].via.bin.ptr,
			      a->via.array.ptr[0].via.bin.size, digest);
		return msgpack_pack_bin_with_body(pk, digest, sizeof(digest));
	}
	case PEER_ENRICH:
		if (a->via.array.size != 1 || enrich_check(&a->via.array.ptr[0]))
			return -1;
		return enrich_records(pk, &a->via.array.ptr[0]);
	default:
		return -1;
	}
}

/* Does `kind` on the msgpack argument array args[0..len): its msgpack answer into out (cap
 * bytes). Returns the answer's length, or 0 when the arguments are not what the function takes
 * or the answer does not fit. */
static inline size_t peer_work(enum peer_kind kind, const uint8_t *args, size_t len, uint8_t *out,
			       size_t cap)
{
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0, n = 0;
	if (msgpack_unpack_next(&u, (const char *)args, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_ARRAY) {
		msgpack_sbuffer sb;
		msgpack_sbuffer_init(&sb);
		msgpack_packer pk;
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		if (peer_pack(&pk, kind, &u.data) == 0 && sb.size <= cap) {
			memcpy(out, sb.data, sb.size);
			n = sb.size;
		}
		msgpack_sbuffer_destroy(&sb);
	}
	msgpack_unpacked_destroy(&u);
	return n;
}

/* The largest answer and argument array of the three (enrich's answer is its input plus a
 * "total" per record). */
#define PEER_MAX_BYTES (256u << 10)

/* The arguments each kind is measured with: [1, 2]; [64 KiB of bytes]; [200 records of
 * about 80 bytes]. malloc'ed into *args (free it). */
static inline size_t peer_args(enum peer_kind kind, uint8_t **args)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, kind == PEER_ADD ? 2 : 1);
	if (kind == PEER_ADD) {
		msgpack_pack_uint8(&pk, 1);
		msgpack_pack_uint8(&pk, 2);
	} else if (kind == PEER_SHA256) {
		static uint8_t bytes[64 << 10];
		for (size_t i = 0; i < sizeof(bytes); i++)
			bytes[i] = (uint8_t)((i * 2654435761u) >> 13);
		msgpack_pack_bin_with_body(&pk, bytes, sizeof(bytes));
	} else {
		msgpack_pack_array(&pk, 200);
		for (int i = 0; i < 200; i++) {
			char name[64];
			int n = snprintf(name, sizeof(name), "item-%03d-abcdefghijklmnopqrstuvwxyz-abcdefghij", i);
			msgpack_pack_map(&pk, 3);
			msgpack_pack_str_with_body(&pk, "name", 4);
			msgpack_pack_str_with_body(&pk, name, (size_t)n);
			msgpack_pack_str_with_body(&pk, "qty", 3);
			msgpack_pack_int(&pk, i);
			msgpack_pack_str_with_body(&pk, "price", 5);
			msgpack_pack_double(&pk, 0.5 + i);
		}
	}
	*args = (uint8_t *)sb.data;
	return sb.size;
}

#endif
