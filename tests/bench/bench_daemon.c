/* bench_daemon.c - hyperpoold end to end, next to its floors measured in the same run.
 *
 *   bench_daemon HYPERPOOLD MATH.ELF [CALLS]
 *
 * Floors: a 64-byte AF_UNIX round trip between two processes (the client and a forked echo
 * server: the same placement as a client and the daemon), and the in-process warm call +
 * restore of math.add through libhpvmm. Then, through a real daemon started here on a
 * temporary socket: one client calling add(1, 2) back to back (latency p50/p99), N client
 * processes at once, and one connection keeping 32 calls in flight (throughput); each once on
 * module math (isolation = thread: its VMs in the daemon) and once on module mprc, the same ELF
 * in a worker process (isolation = process), in the same run: the worker hop's cost. Prints one
 * table and the goal ratios of the daemon issue; asserts nothing (benchmarks never do). */
#define BENCH_NAME "bench_daemon"
#include "bench_common.h"
#include "bench_hpd.h"

#include <msgpack.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#define PIPELINE 32

static char sock_path[108];
static char dir_path[64];
static const char *module = "math"; /* the module called: "math" or "mprc" (4 bytes) */

/* bench_pack_add's request with the module name patched (both are 4-byte fixstrs). */
static size_t pack_add(uint8_t *buf, uint32_t id)
{
	size_t n = bench_pack_add(buf, id);
	memcpy(buf + 14, module, 4); /* after 0x94 0x00 0xce id(4) 0xa4 "call" 0x93 0xa4 */
	return n;
}

/* --- floors ------------------------------------------------------------------------------- */


static struct stats floor_in_process(const char *elf, size_t n)
{
	struct hp_kvm *kvm;
	struct hp_module *mod;
	struct hp_vm *vm;
	struct hp_error err;
	check(hp_kvm_open(&kvm, &err), &err);
	check(hp_module_open(kvm, elf, NULL, &mod, &err), &err);
	check(hp_vm_create(mod, NULL, NULL, &vm, &err), &err);
	static const uint8_t args[] = { 0x92, 0x01, 0x02 };
	double *t = calloc(n, sizeof(double));
	for (size_t i = 0; i < n + 100; i++) {
		struct hp_call_result res;
		double t0 = now_us();
		check(hp_vm_call(vm, "add", 3, args, sizeof(args), &res, &err), &err);
		check(hp_vm_restore(vm, &err), &err);
		if (i >= 100)
			t[i - 100] = now_us() - t0;
	}
	hp_vm_destroy(vm);
	hp_module_close(mod);
	hp_kvm_close(kvm);
	struct stats s = summarize(t, n);
	free(t);
	return s;
}

/* --- the daemon --------------------------------------------------------------------------- */

static pid_t start_daemon(const char *binary, const char *elf, unsigned pool)
{
	snprintf(dir_path, sizeof(dir_path), "/tmp/bench-hpd-XXXXXX");
	if (!mkdtemp(dir_path))
		die("mkdtemp");
	snprintf(sock_path, sizeof(sock_path), "%s/hpd.sock", dir_path);
	char conf[160];
	snprintf(conf, sizeof(conf), "%s/hyperpoold.conf", dir_path);
	FILE *f = fopen(conf, "w");
	if (!f)
		die("writing the config");
	fprintf(f, "[daemon]\nsocket = %s\nlog_level = warning\n\n[module math]\npath = %s\n"
		   "pool_min = %u\npool_max = %u\nqueue = 4096\n\n[module mprc]\npath = %s\n"
		   "pool_min = %u\npool_max = %u\nqueue = 4096\nisolation = process\nworkers = 1\n",
		sock_path, elf, pool, pool, elf, pool, pool);
	fclose(f);
	return bench_start_daemon(binary, conf, sock_path);
}

/* Reads one response; checks it is [1, id, nil, 3] with any id, returns the id. */
struct reader {
	int fd;
	msgpack_unpacker up;
};

static uint32_t read_response(struct reader *r)
{
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	for (;;) {
		int rc = msgpack_unpacker_next(&r->up, &u);
		if (rc == MSGPACK_UNPACK_SUCCESS)
			break;
		if (rc != MSGPACK_UNPACK_CONTINUE)
			die("a response that is not msgpack");
		msgpack_unpacker_reserve_buffer(&r->up, 65536);
		ssize_t n = read(r->fd, msgpack_unpacker_buffer(&r->up), 65536);
		if (n <= 0)
			die("the daemon closed the connection");
		msgpack_unpacker_buffer_consumed(&r->up, (size_t)n);
	}
	msgpack_object *o = &u.data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4 ||
	    o->via.array.ptr[2].type != MSGPACK_OBJECT_NIL ||
	    o->via.array.ptr[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->via.array.ptr[3].via.u64 != 3)
		die("a wrong answer from the daemon");
	uint32_t id = (uint32_t)o->via.array.ptr[1].via.u64;
	msgpack_unpacked_destroy(&u);
	return id;
}

static void reader_init(struct reader *r, int fd)
{
	r->fd = fd;
	msgpack_unpacker_init(&r->up, 65536);
}

/* One connection, one call at a time: latencies into t[0..n). */
static void sequential(double *t, size_t n)
{
	struct reader r;
	reader_init(&r, bench_connect(sock_path));
	uint8_t req[64];
	for (size_t i = 0; i < n + 100; i++) {
		size_t len = pack_add(req, (uint32_t)i);
		double t0 = now_us();
		if (write(r.fd, req, len) != (ssize_t)len)
			die("write");
		read_response(&r);
		if (i >= 100)
			t[i - 100] = now_us() - t0;
	}
	close(r.fd);
	msgpack_unpacker_destroy(&r.up);
}

/* `clients` processes calling back to back: every latency, and calls per second overall. */
static struct stats concurrent(unsigned clients, size_t n, double *calls_per_s)
{
	double *all = mmap(NULL, sizeof(double) * n * clients, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (all == MAP_FAILED)
		die("mmap");
	double t0 = now_us();
	for (unsigned c = 0; c < clients; c++)
		if (fork() == 0) {
			sequential(all + c * n, n);
			_exit(0);
		}
	for (unsigned c = 0; c < clients; c++)
		wait(NULL);
	double secs = (now_us() - t0) / 1e6;
	*calls_per_s = (double)((n + 100) * clients) / secs;
	struct stats s = summarize(all, n * clients);
	munmap(all, sizeof(double) * n * clients);
	return s;
}

/* One connection with PIPELINE calls in flight: calls per second. */
static double pipelined(size_t n)
{
	struct reader r;
	reader_init(&r, bench_connect(sock_path));
	uint8_t req[64];
	size_t sent = 0, got = 0;
	double t0 = now_us();
	while (got < n) {
		while (sent < n && sent - got < PIPELINE) {
			size_t len = pack_add(req, (uint32_t)sent);
			if (write(r.fd, req, len) != (ssize_t)len)
				die("write");
			sent++;
		}
		read_response(&r);
		got++;
	}
	double secs = (now_us() - t0) / 1e6;
	close(r.fd);
	msgpack_unpacker_destroy(&r.up);
	return (double)n / secs;
}

static void row(const char *what, struct stats s)
{
	bench_row(58, what, s);
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: bench_daemon HYPERPOOLD MATH.ELF [CALLS]\n");
		return 64;
	}
	close(open_kvm_or_exit());
	size_t n = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 2000;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned clients = (unsigned)(cpus > 1 ? cpus * 2 : 2);

	double *ts = calloc(n, sizeof(double));
	if (!ts)
		die("calloc");
	struct stats sock = bench_socket_floor(ts, n, 100, -1, -1);
	free(ts);
	struct stats inproc = floor_in_process(argv[2], n);
	pid_t daemon = start_daemon(argv[1], argv[2], (unsigned)(cpus > 0 ? cpus : 1));
	double *t = calloc(n, sizeof(double));
	sequential(t, n);
	struct stats one = summarize(t, n);
	double conc_rate;
	struct stats many = concurrent(clients, n / 2, &conc_rate);
	double pipe_rate = pipelined(n * 4);
	module = "mprc";
	sequential(t, n);
	struct stats one_p = summarize(t, n);
	free(t);
	double conc_rate_p;
	struct stats many_p = concurrent(clients, n / 2, &conc_rate_p);
	double pipe_rate_p = pipelined(n * 4);
	kill(daemon, SIGTERM);
	int status;
	waitpid(daemon, &status, 0);
	rmdir(dir_path);

	printf("| what (microseconds)                                        |    median |       p90 |       p99 |      n |\n");
	printf("|------------------------------------------------------------|-----------|-----------|-----------|--------|\n");
	row("floor: AF_UNIX 64-byte round trip, two processes", sock);
	row("floor: in-process warm call + restore, math.add", inproc);
	row("hyperpoold: math.add(1, 2), 1 client, back to back", one);
	char what[80];
	snprintf(what, sizeof(what), "hyperpoold: math.add(1, 2), %u clients at once", clients);
	row(what, many);
	row("process: math.add(1, 2), 1 client, back to back", one_p);
	snprintf(what, sizeof(what), "process: math.add(1, 2), %u clients at once", clients);
	row(what, many_p);
	double ceiling = (double)cpus / (inproc.median / 1e6);
	printf("\nthroughput: %u clients %.0f calls/s; 1 connection, %d in flight, %.0f calls/s; "
	       "ceiling (%ld CPUs / in-process call) %.0f calls/s\n",
	       clients, conc_rate, PIPELINE, pipe_rate, cpus, ceiling);
	bench_json_value("hyperpoold: pipelined throughput, 1 connection", "calls/s", pipe_rate);
	bench_json_value("hyperpoold: throughput, clients at once", "calls/s", conc_rate);
	bench_json_value("ceiling: online CPUs / in-process call", "calls/s", ceiling);
	printf("isolation = process: %u clients %.0f calls/s; 1 connection, %d in flight, %.0f calls/s; "
	       "worker hop at p50: +%.1f us (%.2fx of isolation = thread)\n", clients, conc_rate_p,
	       PIPELINE, pipe_rate_p, one_p.median - one.median, one_p.median / one.median);
	bench_json_value("isolation = process: pipelined throughput, 1 connection", "calls/s", pipe_rate_p);
	bench_json_value("isolation = process: throughput, clients at once", "calls/s", conc_rate_p);
	printf("goals: p50 / (socket + in-process) = %.2f (<= 1.5); p99 / p50 = %.2f (<= 3); "
	       "pipelined / ceiling = %.2f (>= 0.7)\n",
	       one.median / (sock.median + inproc.median), one.p99 / one.median, pipe_rate / ceiling);
	printf("daemon exit status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
