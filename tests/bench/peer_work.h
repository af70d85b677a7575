/* peer_work.h - the work of math.add (examples/math) done natively, for the peers of
 * bench_peers.c and its helper process (bench_peer_helper.c): decode the msgpack argument
 * array [a, b] with msgpack-c, add, encode the answer. That is what the guest module does
 * between the request written into its input buffer and the answer in its output buffer, so
 * every peer does the same work as a hyperpool call, only the isolation differs. */
#ifndef PEER_WORK_H
#define PEER_WORK_H

#include <msgpack.h>
#include <stdint.h>
#include <string.h>

/* Writes the msgpack answer of add(args) into out (cap bytes); returns its length, or 0 when
 * args is not an array of two integers or the answer does not fit. */
static inline size_t peer_add(const uint8_t *args, size_t len, uint8_t *out, size_t cap)
{
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0, n = 0;
	if (msgpack_unpack_next(&u, (const char *)args, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 2 &&
	    u.data.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    u.data.via.array.ptr[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		msgpack_sbuffer sb;
		msgpack_sbuffer_init(&sb);
		msgpack_packer pk;
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_uint64(&pk, u.data.via.array.ptr[0].via.u64 + u.data.via.array.ptr[1].via.u64);
		if (sb.size <= cap) {
			memcpy(out, sb.data, sb.size);
			n = sb.size;
		}
		msgpack_sbuffer_destroy(&sb);
	}
	msgpack_unpacked_destroy(&u);
	return n;
}

#endif
