/* fuzz_client_frames.c - libFuzzer target: libhyperpool's reader (client/lib/frame.c and the
 * bounded scanner) on the byte stream of a hostile daemon.
 *
 * The client has four calls pending (msgids 1..4) and one function provided ("echo"), so the
 * input can answer calls, answer them twice, answer unknown msgids, send requests for the
 * client's functions, or lie in headers. The first input byte chooses the chunk size the
 * bytes arrive in (the reader must cope with any split). Checks beyond the sanitizers: each
 * callback gets exactly one of result/error, no call completes twice, every pending call has
 * completed once the connection is closed, a broken connection says why with a known local
 * code, and everything the client writes back is valid msgpack: its four requests and then
 * responses [1, msgid, error, result]. Build: see tests/fuzz/meson.build. */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hyperpool.h"

#define CALLS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned completed[CALLS];

static void on_done(struct hpc_conn *c, uint32_t msgid, struct hpc_result *res,
		    const struct hpc_error *err, void *ctx)
{
	(void)c;
	(void)ctx;
	if ((res == NULL) == (err == NULL) || msgid < 1 || msgid > CALLS || completed[msgid - 1]++)
		abort();
	if (err && (!memchr(err->message, '\0', sizeof(err->message)) || !err->name[0]))
		abort();
	if (res) {
		msgpack_unpacked up;
		if (hpc_result_unpack(res, &up, NULL) != 0)
			abort(); /* the reader accepted something that is not one object */
		msgpack_unpacked_destroy(&up);
		hpc_result_free(res);
	}
}

static void echo(struct hpc_conn *c, const uint8_t *args, size_t args_len,
		 struct hpc_answer *answer, void *ctx)
{
	(void)c;
	(void)ctx;
	answer->status = HP_OK;
	answer->bytes = args;
	answer->len = args_len;
}

/* What the client wrote: CALLS requests, then only responses, all valid msgpack. */
static void check_written(int fd)
{
	static char buf[1 << 18];
	size_t len = 0;
	for (ssize_t n; len < sizeof(buf) && (n = recv(fd, buf + len, sizeof(buf) - len, MSG_DONTWAIT)) > 0;)
		len += (size_t)n;
	size_t off = 0;
	for (unsigned i = 0; off < len; i++) {
		msgpack_unpacked u;
		msgpack_unpacked_init(&u);
		int rc = msgpack_unpack_next(&u, buf, len, &off);
		if (rc == MSGPACK_UNPACK_CONTINUE && len == sizeof(buf))
			break;
		if (rc != MSGPACK_UNPACK_SUCCESS)
			abort();
		msgpack_object *o = &u.data;
		uint64_t kind = i < CALLS ? 0 : 1;
		if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4 ||
		    o->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    o->via.array.ptr[0].via.u64 != kind)
			abort();
		msgpack_unpacked_destroy(&u);
	}
}

static void queue_calls(struct hpc_conn *c)
{
	struct hpc_args a;
	msgpack_packer *pk = hpc_args_begin(&a, 2);
	msgpack_pack_int(pk, 1);
	msgpack_pack_int(pk, 2);
	struct hpc_error err;
	for (int i = 0; i < CALLS; i++)
		if (hpc_call_async(c, "math", "add", hpc_args_data(&a), hpc_args_len(&a), NULL, on_done,
				   NULL, &err) != i + 1)
			abort();
	hpc_args_free(&a);
	if (hpc_provide(c, "echo", echo, NULL, &err))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 16)
		return 0;
	size_t chunk = (size_t)data[0] % 64 + 1;
	data++, size--;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	int sndbuf = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	memset(completed, 0, sizeof(completed));
	struct hpc_conn_opts opts = { 4096 };
	struct hpc_error err;
	struct hpc_conn *c = hpc_conn_from_fd(sv[0], &opts, &err);
	if (!c)
		abort();
	queue_calls(c);
	hpc_process(c, false, true, NULL);
	bool broken = false;
	for (size_t off = 0; off < size && !broken; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		if (write(sv[1], data + off, n) != (ssize_t)n)
			abort();
		broken = hpc_process(c, true, true, &err) != 0;
	}
	if (broken != hpc_broken(c, NULL))
		abort();
	if (broken && err.code != HP_E_BAD_REQUEST && err.code != HP_E_TOO_LARGE &&
	    err.code != HP_E_SYSTEM && err.code != HP_E_NO_MEMORY)
		abort();
	check_written(sv[1]);
	hpc_close(c);
	for (int i = 0; i < CALLS; i++)
		if (completed[i] != 1)
			abort();
	close(sv[1]);
	return 0;
}
