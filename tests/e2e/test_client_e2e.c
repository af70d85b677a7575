/* test_client_e2e.c - libhyperpool against a real hyperpoold: started here on a socket in a
 * fresh temporary folder with a generated config (as tests/e2e/hpdtest.py does), real VMs.
 *
 *   test_client_e2e HYPERPOOLD EXAMPLES_DIR [EXAMPLE_PROGRAM]
 *
 * Exit 0 pass, 1 fail, 77 skip (only when /dev/kvm does not exist). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "hyperpool.h"

struct daemon {
	char dir[64];
	char sock[128];
	char conf[128];
	char log[128];
	pid_t pid;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void print_log(const struct daemon *d)
{
	FILE *f = fopen(d->log, "r");
	if (!f)
		return;
	char line[1024];
	fprintf(stderr, "--- daemon log\n");
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

static int write_config(struct daemon *d, const char *examples)
{
	FILE *f = fopen(d->conf, "w");
	if (!f)
		return -1;
	fprintf(f, "[daemon]\nsocket = %s\nsocket_mode = 0600\nworkers = 2\n\n", d->sock);
	fprintf(f, "[module math]\npath = %s/math.elf\npool_min = 2\npool_max = 2\n\n", examples);
	fprintf(f, "[module hello]\npath = %s/hello.elf\npool_min = 1\npool_max = 1\n"
		   "host_functions = client\n\n", examples);
	fprintf(f, "[module echo]\npath = %s/echo.elf\npool_min = 1\npool_max = 2\n\n", examples);
	fprintf(f, "[module hostile]\npath = %s/hostile.elf\npool_min = 1\npool_max = 2\n"
		   "timeout_ms = 2000\n", examples);
	return fclose(f);
}

/* Starts hyperpoold on the config and socket of *d (made by daemon_start) and waits (60 s at
 * most) until it accepts a connection. */
static int daemon_spawn(struct daemon *d, const char *binary)
{
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(binary, binary, "-c", d->conf, (char *)NULL);
		_exit(127);
	}
	uint64_t t0 = now_ms();
	while (now_ms() - t0 < 60000) {
		int status;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			fprintf(stderr, "hyperpoold exited early (status %d)\n", status);
			d->pid = 0;
			print_log(d);
			return -1;
		}
		struct hpc_conn *c = hpc_connect(d->sock, NULL, NULL);
		if (c) {
			hpc_close(c);
			return 0;
		}
		usleep(20000);
	}
	fprintf(stderr, "hyperpoold did not start listening\n");
	print_log(d);
	return -1;
}

/* A fresh temporary folder and config, and hyperpoold started on them (daemon_spawn). */
static int daemon_start(struct daemon *d, const char *binary, const char *examples)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/hpc-e2e-XXXXXX");
	if (!mkdtemp(d->dir))
		return -1;
	snprintf(d->sock, sizeof(d->sock), "%s/hpd.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/hyperpoold.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
	if (write_config(d, examples) < 0)
		return -1;
	return daemon_spawn(d, binary);
}

/* Stops the daemon (sig), returns its wait status, and removes the temporary folder. */
static int daemon_stop(struct daemon *d, int sig)
{
	int status = -1;
	if (d->pid > 0) {
		kill(d->pid, sig);
		waitpid(d->pid, &status, 0);
		d->pid = 0;
	}
	unlink(d->sock);
	unlink(d->conf);
	unlink(d->log);
	rmdir(d->dir);
	return status;
}

/* --- helpers ------------------------------------------------------------------------------- */

/* module.function(args) synchronously; *up is the result (destroy it) when it returns 0. */
static int call(struct hpc_conn *c, const char *module, const char *fn, struct hpc_args *a,
		const struct hpc_call_opts *o, msgpack_unpacked *up, struct hpc_error *err)
{
	struct hpc_result res;
	int rc = hpc_call(c, module, fn, hpc_args_data(a), hpc_args_len(a), o, &res, err);
	hpc_args_free(a);
	if (rc < 0)
		return -1;
	rc = hpc_result_unpack(&res, up, err);
	hpc_result_free(&res);
	return rc;
}

static bool is_str(msgpack_object o, const char *s)
{
	return o.type == MSGPACK_OBJECT_STR && o.via.str.size == strlen(s) &&
	       !memcmp(o.via.str.ptr, s, o.via.str.size);
}

/* The value of key in a map object, or NULL. */
static const msgpack_object *map_get(msgpack_object m, const char *key)
{
	if (m.type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < m.via.map.size; i++)
		if (is_str(m.via.map.ptr[i].key, key))
			return &m.via.map.ptr[i].val;
	return NULL;
}

/* --- the tests ----------------------------------------------------------------------------- */

static void test_sync_calls(struct hpc_conn *c)
{
	struct hpc_args a;
	msgpack_unpacked up;
	struct hpc_error err;
	msgpack_packer *pk = hpc_args_begin(&a, 2);
	msgpack_pack_int(pk, 40);
	msgpack_pack_int(pk, 2);
	CHECK_MSG(call(c, "math", "add", &a, NULL, &up, &err) == 0, "%s", err.message);
	CHECK(up.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER && up.data.via.u64 == 42);
	msgpack_unpacked_destroy(&up);

	/* bytes round-trip through the VM exactly */
	uint8_t bytes[1000];
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7);
	msgpack_pack_bin_with_body(hpc_args_begin(&a, 1), bytes, sizeof(bytes));
	CHECK_MSG(call(c, "echo", "echo", &a, NULL, &up, &err) == 0, "%s", err.message);
	CHECK(up.data.type == MSGPACK_OBJECT_BIN && up.data.via.bin.size == sizeof(bytes) &&
	      !memcmp(up.data.via.bin.ptr, bytes, sizeof(bytes)));
	msgpack_unpacked_destroy(&up);

	hpc_pack_cstr(hpc_args_begin(&a, 1), "héllo");
	CHECK(call(c, "echo", "echo", &a, NULL, &up, &err) == 0 && is_str(up.data, "héllo"));
	msgpack_unpacked_destroy(&up);
}

/* A function this client provides: greeting([name]) -> "hi, NAME" (packed into ctx's buffer). */
static void greeting(struct hpc_conn *c, const uint8_t *args, size_t args_len,
		     struct hpc_answer *answer, void *ctx)
{
	(void)c;
	static char out[128];
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	size_t off = 0;
	unsigned *calls = ctx;
	(*calls)++;
	if (msgpack_unpack_next(&up, (const char *)args, args_len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    up.data.type != MSGPACK_OBJECT_ARRAY || up.data.via.array.size != 1 ||
	    up.data.via.array.ptr[0].type != MSGPACK_OBJECT_STR) {
		msgpack_unpacked_destroy(&up);
		answer->status = HP_E_BAD_ARGS;
		answer->bytes = "greeting takes one name";
		answer->len = strlen(answer->bytes);
		return;
	}
	msgpack_object_str s = up.data.via.array.ptr[0].via.str;
	int n = snprintf(out + 1, sizeof(out) - 1, "hi, %.*s", (int)(s.size > 100 ? 100 : s.size), s.ptr);
	out[0] = (char)(0xa0 | n); /* a fixstr: n < 32 for the names below */
	msgpack_unpacked_destroy(&up);
	answer->status = HP_OK;
	answer->bytes = out;
	answer->len = (size_t)n + 1;
}

/* The guest calls the client back (hello.ask with host_functions = client) while a sync call
 * waits: the registered function answers; an unregistered one gets no_such_method. */
static void test_provided(struct hpc_conn *c)
{
	unsigned calls = 0;
	struct hpc_error err;
	CHECK(hpc_provide(c, "greeting", greeting, &calls, &err) == 0);
	struct hpc_args a;
	msgpack_unpacked up;
	msgpack_packer *pk = hpc_args_begin(&a, 2);
	hpc_pack_cstr(pk, "greeting");
	msgpack_pack_array(pk, 1);
	hpc_pack_cstr(pk, "bob");
	CHECK_MSG(call(c, "hello", "ask", &a, NULL, &up, &err) == 0, "%s", err.message);
	CHECK(is_str(up.data, "hi, bob") && calls == 1);
	msgpack_unpacked_destroy(&up);

	pk = hpc_args_begin(&a, 2);
	hpc_pack_cstr(pk, "greeting");
	msgpack_pack_array(pk, 0);
	CHECK(call(c, "hello", "ask", &a, NULL, &up, &err) == -1 && err.code == HP_E_GUEST_ERROR &&
	      strstr(err.message, "greeting takes one name"));

	pk = hpc_args_begin(&a, 2);
	hpc_pack_cstr(pk, "farewell");
	msgpack_pack_array(pk, 0);
	CHECK(call(c, "hello", "ask", &a, NULL, &up, &err) == -1 && err.code == HP_E_GUEST_ERROR &&
	      strstr(err.message, "provides no method 'farewell'"));

	CHECK(hpc_provide(c, "greeting", NULL, NULL, &err) == 0); /* removed */
	pk = hpc_args_begin(&a, 2);
	hpc_pack_cstr(pk, "greeting");
	msgpack_pack_array(pk, 1);
	hpc_pack_cstr(pk, "bob");
	CHECK(call(c, "hello", "ask", &a, NULL, &up, &err) == -1 && strstr(err.message, "no method"));
	CHECK(calls == 2);
	CHECK(hpc_provide(c, "", greeting, NULL, &err) == -1 && err.code == HP_E_INVALID);
}

/* Guest and daemon errors reach the caller with their codes and messages. */
static void expect_error(struct hpc_conn *c, const char *module, const char *fn,
			 struct hpc_args *a, const struct hpc_call_opts *o, int code,
			 const char *needle)
{
	msgpack_unpacked up;
	struct hpc_error err;
	int rc = call(c, module, fn, a, o, &up, &err);
	CHECK_MSG(rc == -1, "%s.%s succeeded", module, fn);
	if (rc == 0) {
		msgpack_unpacked_destroy(&up);
		return;
	}
	CHECK_MSG(err.code == code, "%s.%s: %d %s (%s), expected %s", module, fn, err.code,
		  err.name, err.message, hpc_status_name(code));
	CHECK(!strcmp(err.name, hpc_status_name(code)));
	CHECK_STR_CONTAINS(err.message, needle);
}

static void test_errors(struct hpc_conn *c)
{
	struct hpc_args a;
	msgpack_packer *pk = hpc_args_begin(&a, 2);
	msgpack_pack_int64(pk, INT64_MAX);
	msgpack_pack_int(pk, 1);
	expect_error(c, "math", "add", &a, NULL, HP_E_GUEST_ERROR, "overflow");
	hpc_args_begin(&a, 0);
	expect_error(c, "math", "nope", &a, NULL, HP_E_NO_SUCH_FUNCTION, "nope");
	hpc_pack_cstr(hpc_args_begin(&a, 2), "x");
	msgpack_pack_int(&a.pk, 1);
	expect_error(c, "math", "add", &a, NULL, HP_E_GUEST_ERROR, "must be a number");
	msgpack_pack_int(hpc_args_begin(&a, 1), 1);
	expect_error(c, "math", "add", &a, NULL, HP_E_GUEST_ERROR, "");
	hpc_args_begin(&a, 0);
	expect_error(c, "nosuchmodule", "f", &a, NULL, HP_E_NO_SUCH_MODULE, "nosuchmodule");
	hpc_args_begin(&a, 0);
	/* a fault on every arch (aarch64 divides by zero without one) */
	expect_error(c, "hostile", "null_deref", &a, NULL, HP_E_GUEST_FAULT, "page fault");
	hpc_args_begin(&a, 0);
	expect_error(c, "hostile", "abort_long", &a, NULL, HP_E_GUEST_ABORT, "");

	/* the timeout option: the daemon stops the call at 100 ms, long before the module's 2 s */
	struct hpc_call_opts o = { 100, 0 };
	uint64_t t0 = now_ms();
	hpc_args_begin(&a, 0);
	expect_error(c, "hostile", "loop_forever", &a, &o, HP_E_TIMEOUT, "");
	uint64_t took = now_ms() - t0;
	CHECK_MSG(took < 1500, "a 100 ms timeout took %llu ms", (unsigned long long)took);

	/* a method the daemon does not have */
	struct hpc_result res;
	struct hpc_error err;
	CHECK(hpc_request(c, "frobnicate", NULL, 0, 5000, &res, &err) == -1);
	CHECK(err.code == HP_E_NO_SUCH_METHOD);
	CHECK(!hpc_broken(c, NULL));
}

static void test_admin_methods(struct hpc_conn *c)
{
	struct hpc_result res;
	struct hpc_error err;
	msgpack_unpacked up;
	CHECK(hpc_ping(c, 5000, &res, &err) == 0);
	CHECK(hpc_result_unpack(&res, &up, &err) == 0 && is_str(up.data, "pong"));
	msgpack_unpacked_destroy(&up);
	hpc_result_free(&res);

	CHECK(hpc_modules(c, 5000, &res, &err) == 0);
	CHECK(hpc_result_unpack(&res, &up, &err) == 0);
	CHECK(up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size == 4); /* math, hello, echo, hostile */
	bool saw_math = false;
	for (uint32_t i = 0; up.data.type == MSGPACK_OBJECT_ARRAY && i < up.data.via.array.size; i++) {
		const msgpack_object *name = map_get(up.data.via.array.ptr[i], "name");
		if (name && is_str(*name, "math"))
			saw_math = map_get(up.data.via.array.ptr[i], "functions") != NULL;
	}
	CHECK(saw_math);
	msgpack_unpacked_destroy(&up);
	hpc_result_free(&res);

	CHECK(hpc_stats(c, 5000, &res, &err) == 0);
	CHECK(hpc_result_unpack(&res, &up, &err) == 0);
	const msgpack_object *daemon = map_get(up.data, "daemon");
	const msgpack_object *calls = daemon ? map_get(*daemon, "calls") : NULL;
	CHECK(calls && calls->type == MSGPACK_OBJECT_POSITIVE_INTEGER && calls->via.u64 > 0);
	CHECK(map_get(up.data, "modules") != NULL);
	msgpack_unpacked_destroy(&up);
	hpc_result_free(&res);
}

/* --- pipelining ---------------------------------------------------------------------------- */

#define NCALLS 64
#define SLOW_N 35u /* math.fib_rec(SLOW_N): the slow call among fast ones */

struct slot {
	int order;      /* when it completed: 0 first; -1 not yet */
	int code;
	uint64_t value;
	int *counter;
};

static void on_done(struct hpc_conn *c, uint32_t msgid, struct hpc_result *res,
		    const struct hpc_error *err, void *ctx)
{
	(void)c;
	(void)msgid;
	struct slot *s = ctx;
	s->order = (*s->counter)++;
	s->code = err ? err->code : HP_OK;
	if (!res)
		return;
	msgpack_unpacked up;
	if (hpc_result_unpack(res, &up, NULL) == 0) {
		if (up.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			s->value = up.data.via.u64;
		msgpack_unpacked_destroy(&up);
	}
	hpc_result_free(res);
}

static int fail_timeout(struct hpc_error *err, uint32_t max_ms)
{
	err->code = HP_E_TIMEOUT;
	snprintf(err->name, sizeof(err->name), "%s", hpc_status_name(HP_E_TIMEOUT));
	snprintf(err->message, sizeof(err->message), "calls still pending after %u ms", max_ms);
	return -1;
}

/* An event loop of the simplest kind: poll the fd, process, until nothing is pending. */
static int run_until_idle(struct hpc_conn *c, uint32_t max_ms, struct hpc_error *err)
{
	uint64_t t0 = now_ms();
	while (hpc_pending(c) > 0) {
		if (now_ms() - t0 > max_ms)
			return fail_timeout(err, max_ms);
		struct pollfd p = { hpc_fd(c), POLLIN | (hpc_wants_write(c) ? POLLOUT : 0), 0 };
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			return -1;
		if (hpc_process(c, p.revents & (POLLIN | POLLHUP | POLLERR),
				p.revents & (POLLOUT | POLLERR), err) < 0)
			return -1;
	}
	return 0;
}

static uint64_t fib(unsigned n)
{
	uint64_t a = 0, b = 1;
	while (n--) {
		uint64_t t = a + b;
		a = b;
		b = t;
	}
	return a;
}

/* 64 calls on one connection, the slow fib_rec(SLOW_N) first: the fast ones overtake it. */
static void test_pipelined(struct hpc_conn *c)
{
	struct slot slots[NCALLS];
	int counter = 0;
	struct hpc_error err;
	for (int i = 0; i < NCALLS; i++) {
		slots[i] = (struct slot){ -1, -1, 0, &counter };
		struct hpc_args a;
		msgpack_pack_uint32(hpc_args_begin(&a, 1), i == 0 ? SLOW_N : (unsigned)i);
		int64_t id = hpc_call_async(c, "math", i == 0 ? "fib_rec" : "fib", hpc_args_data(&a),
					    hpc_args_len(&a), NULL, on_done, &slots[i], &err);
		hpc_args_free(&a);
		CHECK_MSG(id >= 0, "%s", err.message);
	}
	CHECK_EQ_U64(hpc_pending(c), NCALLS);
	uint64_t t0 = now_ms();
	CHECK_MSG(run_until_idle(c, 30000, &err) == 0, "%s", err.message);
	for (int i = 0; i < NCALLS; i++) {
		CHECK_MSG(slots[i].code == HP_OK, "call %d: %d", i, slots[i].code);
		CHECK_MSG(slots[i].value == fib(i == 0 ? SLOW_N : (unsigned)i), "call %d: %llu", i,
			  (unsigned long long)slots[i].value);
	}
	CHECK_MSG(slots[0].order > 0, "fib_rec(%u), sent first, completed at %d", SLOW_N, slots[0].order);
	fprintf(stderr, "pipelined: fib_rec(%u) completed as number %d of %d, all in %llu ms\n",
		SLOW_N, slots[0].order + 1, NCALLS, (unsigned long long)(now_ms() - t0));
}

/* The daemon dies with calls in flight: each completes with an error, at once, none hangs. */
static void test_daemon_gone(struct hpc_conn *c, struct daemon *d)
{
	struct slot slots[4];
	int counter = 0;
	struct hpc_error err;
	for (int i = 0; i < 4; i++) {
		slots[i] = (struct slot){ -1, -1, 0, &counter };
		struct hpc_args a;
		hpc_args_begin(&a, 0);
		CHECK(hpc_call_async(c, "hostile", "loop_forever", hpc_args_data(&a), hpc_args_len(&a),
				     NULL, on_done, &slots[i], &err) >= 0);
		hpc_args_free(&a);
	}
	CHECK(hpc_process(c, false, true, &err) == 0);
	usleep(200000); /* the calls are running or queued in the daemon */
	CHECK(hpc_process(c, true, false, &err) == 0);
	CHECK_EQ_U64(counter, 0);
	kill(d->pid, SIGKILL);
	uint64_t t0 = now_ms();
	CHECK(run_until_idle(c, 10000, &err) == -1);
	CHECK_MSG(now_ms() - t0 < 5000, "the error took %llu ms", (unsigned long long)(now_ms() - t0));
	CHECK_EQ_U64(counter, 4);
	for (int i = 0; i < 4; i++)
		CHECK(slots[i].code == HP_E_SYSTEM);
	CHECK(err.code == HP_E_SYSTEM);
	CHECK_STR_CONTAINS(err.message, "closed");
	CHECK(hpc_broken(c, NULL));
	struct hpc_result res;
	CHECK(hpc_ping(c, 1000, &res, &err) == -1 && err.code == HP_E_SYSTEM);
}

/* After test_daemon_gone: a new daemon on the same socket path (the killed one left its socket
 * file behind; the new one removes it as stale). A new connection works, calls included; the
 * old one stays broken and keeps failing at once with its error, without reconnecting. */
static void test_reconnect(struct hpc_conn *old, struct daemon *d, const char *binary)
{
	int status;
	waitpid(d->pid, &status, 0); /* test_daemon_gone SIGKILLed it */
	d->pid = 0;
	CHECK_MSG(daemon_spawn(d, binary) == 0, "a new daemon on %s", d->sock);
	struct hpc_error err;
	struct hpc_conn *c = hpc_connect(d->sock, NULL, &err);
	CHECK_MSG(c != NULL, "reconnect: %s", err.message);
	if (c) {
		struct hpc_args a;
		msgpack_unpacked up;
		msgpack_packer *pk = hpc_args_begin(&a, 2);
		msgpack_pack_int(pk, 40);
		msgpack_pack_int(pk, 2);
		CHECK_MSG(call(c, "math", "add", &a, NULL, &up, &err) == 0, "%s", err.message);
		CHECK(up.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER && up.data.via.u64 == 42);
		msgpack_unpacked_destroy(&up);
		test_pipelined(c); /* async calls on the new connection too */
		CHECK(!hpc_broken(c, NULL));
		hpc_close(c);
	}
	/* the old connection: broken for good, every use fails at once with HP_E_SYSTEM */
	CHECK(hpc_broken(old, &err) && err.code == HP_E_SYSTEM);
	struct hpc_result res;
	uint64_t t0 = now_ms();
	CHECK(hpc_ping(old, 1000, &res, &err) == -1 && err.code == HP_E_SYSTEM);
	struct hpc_args a;
	hpc_args_begin(&a, 0);
	CHECK(hpc_call_async(old, "math", "add", hpc_args_data(&a), hpc_args_len(&a), NULL, on_done,
			     NULL, &err) == -1 && err.code == HP_E_SYSTEM);
	hpc_args_free(&a);
	CHECK(hpc_process(old, true, true, &err) == -1 && err.code == HP_E_SYSTEM);
	CHECK_EQ_U64(hpc_pending(old), 0);
	CHECK_MSG(now_ms() - t0 < 500, "the old connection failed in %llu ms",
		  (unsigned long long)(now_ms() - t0));
}

/* The example of docs/client.md prints math.add's result. */
static void test_example(const char *example)
{
	int fds[2];
	if (pipe(fds) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		execl(example, example, "40", "2", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char out[64] = "";
	ssize_t n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_MSG(n == 3 && !memcmp(out, "42\n", 3), "the example printed '%s'", out);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s HYPERPOOLD EXAMPLES_DIR\n", argv[0]);
		return 2;
	}
	if (access("/dev/kvm", F_OK) != 0) {
		fprintf(stderr, "SKIP: /dev/kvm does not exist on this machine\n");
		return 77;
	}
	struct daemon d = { 0 };
	if (daemon_start(&d, argv[1], argv[2]) < 0) {
		daemon_stop(&d, SIGKILL);
		return 1;
	}
	struct hpc_error err;
	struct hpc_conn *c = hpc_connect(d.sock, NULL, &err);
	CHECK_MSG(c != NULL, "%s", err.message);
	if (c) {
		test_sync_calls(c);
		test_errors(c);
		test_admin_methods(c);
		test_pipelined(c);
		test_provided(c);
	}
	/* $HYPERPOOL_SOCKET is where a NULL path goes */
	setenv("HYPERPOOL_SOCKET", d.sock, 1);
	struct hpc_conn *c2 = hpc_connect(NULL, NULL, &err);
	CHECK_MSG(c2 != NULL, "%s", err.message);
	struct hpc_result res;
	CHECK(c2 && hpc_ping(c2, 5000, &res, &err) == 0);
	hpc_result_free(&res);
	hpc_close(c2);
	if (argc > 3)
		test_example(argv[3]);
	if (c) {
		test_daemon_gone(c, &d);
		test_reconnect(c, &d, argv[1]);
	}
	hpc_close(c);
	if (check_failures)
		print_log(&d);
	int status = daemon_stop(&d, SIGKILL);
	CHECK(WIFSIGNALED(status) || WIFEXITED(status));
	CHECK_DONE();
}
