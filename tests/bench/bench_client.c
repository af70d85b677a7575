/* bench_client.c - the client side of hyperpool: libhyperpool and the hyperpool CLI against a
 * real daemon, next to the floors measured in the same run.
 *
 *   bench_client HYPERPOOLD HYPERPOOL-CLI EXAMPLES-DIR [CALLS]
 *
 * One daemon is started here on a temporary socket with the example modules math and hello
 * (EXAMPLES-DIR/math.elf, EXAMPLES-DIR/hello.elf; hello with host_functions = time client).
 * Measured, each as median/p90/p99 over CALLS samples after 100 warm-up ones:
 *  - floor: a 64-byte AF_UNIX round trip between two processes (as bench_daemon);
 *  - math.add(1, 2) with a hand-packed request on a plain socket (as bench_daemon's sequential);
 *  - math.add(1, 2) by hpc_call on one libhyperpool connection;
 *  - `hyperpool call math add 1 2`, one process per call (fork + exec, stdout to /dev/null),
 *    CALLS / 10 samples (at least 50), next to the same process doing no call
 *    (`hyperpool --version`), a fork + exec of /bin/true, and hpc_connect + hpc_call +
 *    hpc_close in this process (the CLI's call without its process);
 *  - through libhyperpool: hello.hello("x"), hello.now() (one built-in host call, "time") and
 *    hello.ask("f", []) (one host call the daemon forwards to this client, answered by the
 *    function registered with hpc_provide).
 * Rows compared by a ratio (raw / lib; the three processes; hello / now / ask) are measured in
 * blocks taken in turn (see BLOCK, PROC_BLOCK), so that the load of this machine at the time
 * weighs on both sides. Prints one table and the ratios; asserts nothing (benchmarks never
 * do). */
#define BENCH_NAME "bench_client"
#include "bench_common.h"
#include "bench_hpd.h"

#include <limits.h>
#include <stdbool.h>
#include <msgpack.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "hyperpool.h"

#define WARMUP 100

static char sock_path[108];
static char dir_path[64];

/* --- floor -------------------------------------------------------------------------------- */


/* --- the daemon --------------------------------------------------------------------------- */

static pid_t start_daemon(const char *binary, const char *examples, unsigned pool)
{
	snprintf(dir_path, sizeof(dir_path), "/tmp/bench-hpc-XXXXXX");
	if (!mkdtemp(dir_path))
		die("mkdtemp");
	snprintf(sock_path, sizeof(sock_path), "%s/hpd.sock", dir_path);
	char conf[160];
	snprintf(conf, sizeof(conf), "%s/hyperpoold.conf", dir_path);
	FILE *f = fopen(conf, "w");
	if (!f)
		die("writing the config");
	fprintf(f, "[daemon]\nsocket = %s\nlog_level = warning\n\n"
		   "[module math]\npath = %s/math.elf\npool_min = %u\npool_max = %u\nqueue = 4096\n\n"
		   "[module hello]\npath = %s/hello.elf\npool_min = %u\npool_max = %u\nqueue = 4096\n"
		   "host_functions = time client\n",
		sock_path, examples, pool, pool, examples, pool, pool);
	fclose(f);
	return bench_start_daemon(binary, conf, sock_path);
}

/* --- raw socket: math.add(1, 2), hand-packed ---------------------------------------------- */

/* Reads one response and checks it is [1, id, nil, 3]. */
static void read_response(int fd, msgpack_unpacker *up)
{
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	for (;;) {
		int rc = msgpack_unpacker_next(up, &u);
		if (rc == MSGPACK_UNPACK_SUCCESS)
			break;
		if (rc != MSGPACK_UNPACK_CONTINUE)
			die("a response that is not msgpack");
		msgpack_unpacker_reserve_buffer(up, 65536);
		ssize_t n = read(fd, msgpack_unpacker_buffer(up), 65536);
		if (n <= 0)
			die("the daemon closed the connection");
		msgpack_unpacker_buffer_consumed(up, (size_t)n);
	}
	msgpack_object *o = &u.data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4 ||
	    o->via.array.ptr[2].type != MSGPACK_OBJECT_NIL ||
	    o->via.array.ptr[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->via.array.ptr[3].via.u64 != 3) {
		errno = 0;
		die("a wrong answer from the daemon");
	}
	msgpack_unpacked_destroy(&u);
}

/* A plain socket connection to the daemon. */
struct raw {
	int fd;
	uint32_t id;
	msgpack_unpacker up;
};

static void raw_open(struct raw *r)
{
	r->fd = bench_connect(sock_path);
	r->id = 0;
	msgpack_unpacker_init(&r->up, 65536);
}

static void raw_close(struct raw *r)
{
	close(r->fd);
	msgpack_unpacker_destroy(&r->up);
}

/* One math.add(1, 2) on r: its latency. */
static double raw_call(struct raw *r)
{
	uint8_t req[64];
	size_t len = bench_pack_add(req, r->id++);
	double t0 = now_us();
	if (write(r->fd, req, len) != (ssize_t)len)
		die("write");
	read_response(r->fd, &r->up);
	return now_us() - t0;
}

/* --- libhyperpool ------------------------------------------------------------------------- */

/* ask's "f": answers nil, counting its calls. */
static void provided_f(struct hpc_conn *c, const uint8_t *args, size_t args_len,
		       struct hpc_answer *answer, void *ctx)
{
	(void)c, (void)args, (void)args_len;
	static const uint8_t nil = 0xc0;
	++*(size_t *)ctx;
	answer->status = HP_OK;
	answer->bytes = &nil;
	answer->len = 1;
}

/* One call through libhyperpool, as the table names it. */
struct lib_call {
	const char *module, *function;
	const uint8_t *args;
	size_t args_len;
	msgpack_object_type expect; /* the answer's type, checked on the first call */
	double *t;
};

/* One hpc_call of k on c: its latency. The run stops on an error or, on the first call
 * (check), an answer of another type. */
static double lib_call(struct hpc_conn *c, const struct lib_call *k, bool check)
{
	struct hpc_result res;
	struct hpc_error err;
	double t0 = now_us();
	if (hpc_call(c, k->module, k->function, k->args, k->args_len, NULL, &res, &err) < 0) {
		fprintf(stderr, BENCH_NAME ": %s.%s: %s\n", k->module, k->function, err.message);
		exit(1);
	}
	double dt = now_us() - t0;
	if (check) {
		msgpack_unpacked up;
		if (hpc_result_unpack(&res, &up, &err) < 0 || up.data.type != k->expect) {
			fprintf(stderr, BENCH_NAME ": %s.%s: an unexpected answer\n", k->module,
				k->function);
			exit(1);
		}
		msgpack_unpacked_destroy(&up);
	}
	hpc_result_free(&res);
	return dt;
}

/* Calls compared by a ratio are measured in blocks of BLOCK back-to-back calls of one kind,
 * the kinds in turn until each has n: every kind sees the same share of this (noisy) machine's
 * load, yet a block is a steady stream of one call, as a client sending one kind would make.
 * (Alternating call by call instead makes every call slower, the host-call ones most: a VM
 * then never runs the same code twice in a row.) */
#define BLOCK 200

/* The calls of ks[0..k) in blocks on c, after WARMUP calls of each: n latencies into each
 * ks[j].t[0..n). */
static void lib_rounds(struct hpc_conn *c, struct lib_call *ks, size_t k, size_t n)
{
	for (size_t j = 0; j < k; j++)
		for (size_t i = 0; i < WARMUP; i++)
			lib_call(c, &ks[j], i == 0);
	for (size_t done = 0; done < n; done += BLOCK)
		for (size_t j = 0; j < k; j++)
			for (size_t i = done; i < n && i < done + BLOCK; i++)
				ks[j].t[i] = lib_call(c, &ks[j], false);
}

/* hpc_connect + hpc_call math.add(1, 2) + hpc_close, n times after WARMUP: what the CLI does
 * for a call, without its process. */
static struct stats lib_connect_calls(double *t, size_t n)
{
	static const uint8_t add_args[] = { 0x92, 0x01, 0x02 };
	for (size_t i = 0; i < n + WARMUP; i++) {
		struct hpc_result res;
		struct hpc_error err;
		double t0 = now_us();
		struct hpc_conn *c = hpc_connect(sock_path, NULL, &err);
		if (!c || hpc_call(c, "math", "add", add_args, sizeof(add_args), NULL, &res, &err) < 0) {
			fprintf(stderr, BENCH_NAME ": connect + call: %s\n", err.message);
			exit(1);
		}
		hpc_close(c);
		double dt = now_us() - t0;
		hpc_result_free(&res);
		if (i >= WARMUP)
			t[i - WARMUP] = dt;
	}
	return summarize(t, n);
}

/* --- the CLI ------------------------------------------------------------------------------ */

/* fork + exec of argv (stdout to /dev/null) + waitpid: its time. The process must exit 0. */
static double process(char *const *argv)
{
	double t0 = now_us();
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int dn = open("/dev/null", O_WRONLY);
		if (dn < 0 || dup2(dn, 1) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	double dt = now_us() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, BENCH_NAME ": %s exited with status %d\n", argv[0],
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		exit(1);
	}
	return dt;
}

/* The commands of argvs[0..k), 10 warm-up runs each, then n runs each in blocks of
 * PROC_BLOCK taken in turn (as lib_rounds): times into t[j * n .. (j + 1) * n). */
#define PROC_BLOCK 20
static void process_rounds(char *const *const *argvs, size_t k, double *t, size_t n)
{
	for (size_t j = 0; j < k; j++)
		for (size_t i = 0; i < 10; i++)
			process(argvs[j]);
	for (size_t done = 0; done < n; done += PROC_BLOCK)
		for (size_t j = 0; j < k; j++)
			for (size_t i = done; i < n && i < done + PROC_BLOCK; i++)
				t[j * n + i] = process(argvs[j]);
}

/* --- main --------------------------------------------------------------------------------- */

static void row(const char *what, struct stats s)
{
	bench_row(52, what, s);
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: bench_client HYPERPOOLD HYPERPOOL-CLI EXAMPLES-DIR [CALLS]\n");
		return 64;
	}
	close(open_kvm_or_exit());
	size_t n = argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 2000;
	if (n < 10)
		n = 10;
	size_t n_cli = n / 10 < 50 ? 50 : n / 10;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double *t = calloc(n > n_cli ? n : n_cli, sizeof(double));
	if (!t)
		die("calloc");

	struct stats sock = bench_socket_floor(t, n, WARMUP, -1, -1);
	char examples[4096]; /* the daemon wants absolute module paths */
	if (!realpath(argv[3], examples))
		die(argv[3]);
	pid_t daemon = start_daemon(argv[1], examples, (unsigned)(cpus > 0 ? cpus : 1));

	struct hpc_error err;
	struct hpc_conn *c = hpc_connect(sock_path, NULL, &err);
	if (!c) {
		fprintf(stderr, BENCH_NAME ": hpc_connect: %s\n", err.message);
		return 1;
	}
	size_t asked = 0;
	if (hpc_provide(c, "f", provided_f, &asked, &err) < 0) {
		fprintf(stderr, BENCH_NAME ": hpc_provide: %s\n", err.message);
		return 1;
	}
	static const uint8_t add_args[] = { 0x92, 0x01, 0x02 };      /* [1, 2] */
	static const uint8_t hello_args[] = { 0x91, 0xa1, 'x' };     /* ["x"] */
	static const uint8_t now_args[] = { 0x90 };                  /* [] */
	static const uint8_t ask_args[] = { 0x92, 0xa1, 'f', 0x90 }; /* ["f", []] */
	double *tr = calloc(n, sizeof(double)), *tl = calloc(n, sizeof(double));
	double *th = calloc(n, sizeof(double)), *tn = calloc(n, sizeof(double));
	double *ta = calloc(n, sizeof(double));
	if (!tr || !tl || !th || !tn || !ta)
		die("calloc");

	/* math.add: the raw socket and hpc_call, blocks in turn. */
	struct lib_call add = { "math", "add", add_args, sizeof(add_args),
				MSGPACK_OBJECT_POSITIVE_INTEGER, tl };
	struct raw r;
	raw_open(&r);
	for (size_t i = 0; i < WARMUP; i++)
		raw_call(&r), lib_call(c, &add, i == 0);
	for (size_t done = 0; done < n; done += BLOCK) {
		for (size_t i = done; i < n && i < done + BLOCK; i++)
			tr[i] = raw_call(&r);
		for (size_t i = done; i < n && i < done + BLOCK; i++)
			tl[i] = lib_call(c, &add, false);
	}
	raw_close(&r);
	struct stats raw = summarize(tr, n), lib = summarize(tl, n);

	/* hello: the plain call and the two host calls, blocks in turn. */
	struct lib_call hk[] = {
		{ "hello", "hello", hello_args, sizeof(hello_args), MSGPACK_OBJECT_STR, th },
		{ "hello", "now", now_args, sizeof(now_args), MSGPACK_OBJECT_POSITIVE_INTEGER, tn },
		{ "hello", "ask", ask_args, sizeof(ask_args), MSGPACK_OBJECT_NIL, ta },
	};
	lib_rounds(c, hk, 3, n);
	struct stats hello = summarize(th, n), now = summarize(tn, n), ask = summarize(ta, n);
	hpc_close(c);
	free(tr), free(tl), free(th), free(tn), free(ta);
	struct stats conn = lib_connect_calls(t, n);

	setenv("HYPERPOOL_SOCKET", sock_path, 1);
	char *cli_call[] = { argv[2], "call", "math", "add", "1", "2", NULL };
	char *cli_version[] = { argv[2], "--version", NULL };
	char *bin_true[] = { "/bin/true", NULL };
	char *const *argvs[] = { cli_call, cli_version, bin_true };
	size_t nproc = access(bin_true[0], X_OK) == 0 ? 3 : 2;
	double *tp = calloc(3 * n_cli, sizeof(double));
	if (!tp)
		die("calloc");
	process_rounds(argvs, nproc, tp, n_cli);
	struct stats cli = summarize(tp, n_cli), cli_ver = summarize(tp + n_cli, n_cli);
	struct stats truep = nproc == 3 ? summarize(tp + 2 * n_cli, n_cli) : (struct stats){ 0 };
	free(tp);

	kill(daemon, SIGTERM);
	int status;
	waitpid(daemon, &status, 0);
	char conf[160];
	snprintf(conf, sizeof(conf), "%s/hyperpoold.conf", dir_path);
	unlink(conf);
	unlink(sock_path);
	rmdir(dir_path);
	free(t);

	printf("| what (microseconds)                                  |    median |       p90 |       p99 |      n |\n");
	printf("|------------------------------------------------------|-----------|-----------|-----------|--------|\n");
	row("floor: AF_UNIX 64-byte round trip, two processes", sock);
	row("raw socket: math.add(1, 2), hand-packed request", raw);
	row("libhyperpool: hpc_call math.add(1, 2)", lib);
	row("CLI: `hyperpool call math add 1 2`, a process/call", cli);
	row("  libhyperpool: connect + call + close, no process", conn);
	row("  its process alone: `hyperpool --version`", cli_ver);
	row("  floor: fork + exec + wait of /bin/true", truep);
	row("libhyperpool: hello.hello(\"x\")", hello);
	row("libhyperpool: hello.now(), 1 built-in host call", now);
	row("libhyperpool: hello.ask(\"f\", []), 1 client callback", ask);
	printf("\nratios (medians): lib / raw = %.2f; CLI / lib = %.1f; now / hello = %.2f "
	       "(+%.1f us per built-in host call); ask / hello = %.2f (+%.1f us per client "
	       "callback)\n",
	       lib.median / raw.median, cli.median / lib.median, now.median / hello.median,
	       now.median - hello.median, ask.median / hello.median, ask.median - hello.median);
	printf("client callbacks answered: %zu; daemon exit status %d\n", asked,
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
