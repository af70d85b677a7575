/* fuzz_dispatch.c - libFuzzer target: hyperpoold's frame reader and dispatcher on hostile bytes.
 *
 * Each input is the byte stream of one client connection, fed in chunks whose sizes come from
 * the input itself (the scanner must give the same frames however the bytes arrive), into a
 * real connection (daemon/conn.c) of a daemon context with no modules: every frame goes
 * through the bounded scanner, the envelope parser and the methods that need no VM (ping,
 * modules, stats, calls to unknown modules, bad params, admin methods refused to a non-admin
 * uid). Whatever the daemon writes back must be a stream of valid msgpack objects, each a
 * response [1, msgid, error, result]. Build: see tests/fuzz/meson.build. */
#include <fcntl.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

static struct hpd hd;
static uv_loop_t loop;

static void setup(void)
{
	char err[256];
	hpd_log_setup(HPD_LOG_ERR - 1, false); /* quiet */
	if (hpd_config_parse_text("fuzz", "[daemon]\nmax_output = 64K\n", &hd.cfg, err, sizeof(err))) {
		fprintf(stderr, "fuzz_dispatch: %s\n", err);
		abort();
	}
	uv_loop_init(&loop);
	hd.loop = &loop;
	hd.max_frame = 1 << 16;
	hd.start_ns = hpd_now_ns();
	hd.modules = calloc(1, sizeof(*hd.modules));
	pthread_mutex_init(&hd.lock, NULL);
	pthread_cond_init(&hd.work, NULL);
	pthread_mutex_init(&hd.flush_lock, NULL);
	hpd_conn_flush_setup(&hd);
}

/* Every response must be a valid msgpack object shaped [1, msgid, error, result]. */
static void check_output(int fd)
{
	static uint8_t buf[1 << 17];
	size_t len = 0;
	for (ssize_t n; len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0;)
		len += (size_t)n;
	size_t off = 0;
	while (off < len) {
		msgpack_unpacked u;
		msgpack_unpacked_init(&u);
		size_t at = off;
		int rc = msgpack_unpack_next(&u, (const char *)buf, len, &at);
		if (rc != MSGPACK_UNPACK_SUCCESS) {
			if (rc == MSGPACK_UNPACK_CONTINUE && len == sizeof(buf))
				break; /* cut by our buffer, not by the daemon */
			fprintf(stderr, "fuzz_dispatch: the daemon wrote bytes that are not msgpack\n");
			abort();
		}
		msgpack_object *o = &u.data;
		if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4 ||
		    o->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    o->via.array.ptr[0].via.u64 != 1) {
			fprintf(stderr, "fuzz_dispatch: the daemon wrote something that is not a response\n");
			abort();
		}
		msgpack_unpacked_destroy(&u);
		off = at;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		setup();
		ready = true;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	struct hpd_conn *c = hpd_conn_open(&hd, sv[0]);
	if (!c)
		abort();
	c->uid = 12345; /* not the daemon's own uid: admin methods answer permission_denied */
	size_t chunk = size ? (size_t)data[0] % 97 + 1 : 1;
	for (size_t off = size ? 1 : 0; off < size && !c->closing; off += chunk)
		hpd_conn_feed(c, data + off, size - off < chunk ? size - off : chunk);
	if (!c->closing)
		hpd_conn_close(c, "end of input");
	uv_run(&loop, UV_RUN_NOWAIT); /* flushes, then the close callback frees the connection */
	uv_run(&loop, UV_RUN_NOWAIT);
	check_output(sv[1]);
	close(sv[1]);
	return 0;
}
