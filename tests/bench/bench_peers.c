/* bench_peers - three calls, each run by every other way of running a function next to
 * hyperpool's, in the same run:
 *
 *   bench_peers EXAMPLES-DIR HELPER HYPERPOOLD [CALLS]
 *
 * The calls (peer_work.h): math.add([1, 2]); strings.sha256 of 64 KiB; records.enrich of 16 KiB
 * of records (a JSON-ish transform). Every peer runs the very code the module runs and must
 * give the same answer bytes as the native call, or the run stops. HELPER is
 * bench_peer_helper (static). Rows: the AF_UNIX 64-byte round trip between two processes pinned
 * to the same CPU and to two CPUs (sched_setaffinity); then per call: a worker thread doing it
 * natively (the no-isolation floor: one hand-off there and back); fork() + call + exit; fork +
 * exec of HELPER; posix_spawn of HELPER; hyperpool's in-process call through a libhpvmm pool
 * (get + call + put, the put restoring the VM) and the call alone; and the call end to end,
 * hpc_call through a hyperpoold started here with the three modules. Plus a 100-VM pool made
 * ready from math's snapshot. Row names of add carry no suffix (scripts/bench_report.py reads
 * them); the others end with the call's label.
 * Asserts nothing (benchmarks never do); a wrong answer stops the run. */
#define BENCH_NAME "bench_peers"
#include "bench_common.h"
#include "bench_hpd.h"
#include "peer_work.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>

#include "hyperpool.h"

extern char **environ;

struct workload {
	enum peer_kind kind;
	const char *label; /* "" for add, else ", sha256(64 KiB)" ... */
	const char *module, *function;
	uint8_t *args;
	size_t args_len;
	uint8_t *want; /* the native answer: every peer's must be these bytes */
	size_t want_len;
	const char *helper;
};

static void check_answer(const struct workload *w, const uint8_t *out, size_t n)
{
	if (n != w->want_len || memcmp(out, w->want, n)) {
		errno = 0;
		fprintf(stderr, BENCH_NAME ": %s.%s: a peer gave another answer (%zu bytes, want %zu)\n",
			w->module, w->function, n, w->want_len);
		exit(1);
	}
}

static void row(const struct workload *w, const char *what, struct stats s)
{
	char name[128];
	snprintf(name, sizeof(name), "%s%s", what, w ? w->label : "");
	bench_row(80, name, s);
}

/* n timed runs of fn(ctx) after n/10 untimed ones. */
static struct stats measure(double (*fn)(void *), void *ctx, double *t, size_t n)
{
	for (size_t i = 0; i < n / 10; i++)
		fn(ctx);
	for (size_t i = 0; i < n; i++)
		t[i] = fn(ctx);
	return summarize(t, n);
}

static void write_all(int fd, const uint8_t *p, size_t n, const char *what)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			die(what);
		p += w, n -= (size_t)w;
	}
}

/* --- a worker thread calling natively ------------------------------------------------------- */

struct worker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool pending, quit;
	const struct workload *w;
	uint8_t *out;
	size_t out_len;
	pthread_t th;
};

static void *worker_main(void *arg)
{
	struct worker *k = arg;
	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (!k->pending && !k->quit)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->quit)
			break;
		k->out_len = peer_work(k->w->kind, k->w->args, k->w->args_len, k->out, PEER_MAX_BYTES);
		k->pending = false;
		pthread_cond_broadcast(&k->cv);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

static double thread_call(void *ctx)
{
	struct worker *k = ctx;
	double t0 = now_us();
	pthread_mutex_lock(&k->mu);
	k->pending = true;
	pthread_cond_broadcast(&k->cv);
	while (k->pending)
		pthread_cond_wait(&k->cv, &k->mu);
	pthread_mutex_unlock(&k->mu);
	double dt = now_us() - t0;
	check_answer(k->w, k->out, k->out_len);
	return dt;
}

static struct stats peer_thread(const struct workload *w, double *t, size_t n)
{
	struct worker k = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .w = w };
	if (!(k.out = malloc(PEER_MAX_BYTES)))
		die("malloc");
	if (pthread_create(&k.th, NULL, worker_main, &k))
		die("pthread_create");
	struct stats s = measure(thread_call, &k, t, n);
	pthread_mutex_lock(&k.mu);
	k.quit = true;
	pthread_cond_broadcast(&k.cv);
	pthread_mutex_unlock(&k.mu);
	pthread_join(k.th, NULL);
	free(k.out);
	return s;
}

/* --- a process per call ------------------------------------------------------------------- */

/* Reads the child's answer from fd until EOF, waits for pid; checks both. */
static void collect(const struct workload *w, int fd, pid_t pid)
{
	static uint8_t out[PEER_MAX_BYTES];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(out) && (r = read(fd, out + n, sizeof(out) - n)) > 0)
		n += (size_t)r;
	close(fd);
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		errno = 0;
		die("a peer process failed");
	}
	check_answer(w, out, n);
}

static double fork_call(void *ctx)
{
	const struct workload *w = ctx;
	double t0 = now_us();
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		static uint8_t out[PEER_MAX_BYTES];
		size_t n = peer_work(w->kind, w->args, w->args_len, out, sizeof(out));
		if (n)
			write_all(p[1], out, n, "write the answer");
		_exit(n ? 0 : 1);
	}
	close(p[1]);
	collect(w, p[0], pid);
	return now_us() - t0;
}

/* The helper's stdin and stdout pipes; the arguments are written once it runs. */
struct spawned {
	int in[2], out[2];
};

static void spawned_pipes(struct spawned *s)
{
	if (pipe2(s->in, O_CLOEXEC) < 0 || pipe2(s->out, O_CLOEXEC) < 0)
		die("pipe");
}

/* The helper reads all its input before it answers, and an answer fits a pipe's buffer: so
 * writing everything, then reading, cannot deadlock. */
static void spawned_finish(const struct workload *w, struct spawned *s, pid_t pid)
{
	close(s->in[0]);
	close(s->out[1]);
	write_all(s->in[1], w->args, w->args_len, "write to the helper");
	close(s->in[1]);
	collect(w, s->out[0], pid);
}

static double fork_exec_call(void *ctx)
{
	const struct workload *w = ctx;
	double t0 = now_us();
	struct spawned s;
	spawned_pipes(&s);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (dup2(s.in[0], 0) < 0 || dup2(s.out[1], 1) < 0)
			_exit(126);
		execl(w->helper, w->helper, peer_kind_names[w->kind], (char *)NULL);
		_exit(127);
	}
	spawned_finish(w, &s, pid);
	return now_us() - t0;
}

static double spawn_call(void *ctx)
{
	const struct workload *w = ctx;
	double t0 = now_us();
	struct spawned s;
	spawned_pipes(&s);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, s.in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, s.out[1], 1);
	pid_t pid;
	char *const argv[] = { (char *)w->helper, (char *)peer_kind_names[w->kind], NULL };
	errno = posix_spawn(&pid, w->helper, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (errno)
		die("posix_spawn");
	spawned_finish(w, &s, pid);
	return now_us() - t0;
}

/* --- hyperpool in process: a libhpvmm pool ------------------------------------------------ */

struct in_process {
	const struct workload *w;
	struct hp_pool *pool;
	double call_us; /* the call alone, of the last pool_call */
};

static double pool_call(void *ctx)
{
	struct in_process *ip = ctx;
	struct hp_error err;
	struct hp_vm *vm;
	struct hp_call_result res;
	double t0 = now_us();
	check(hp_pool_get(ip->pool, &vm, &err), &err);
	double t1 = now_us();
	check(hp_vm_call(vm, ip->w->function, strlen(ip->w->function), ip->w->args, ip->w->args_len,
			 &res, &err), &err);
	ip->call_us = now_us() - t1;
	if (res.status != HP_OK)
		die("the call failed in the guest");
	check_answer(ip->w, res.output, res.output_len);
	hp_pool_put(ip->pool, vm);
	return now_us() - t0;
}

/* How long a pool of `vms` VMs takes to be ready from the module's snapshot (hp_pool_create
 * clones them all), and to go again. One sample: it is a cold path. */
static void pool_ready(struct hp_module *mod, unsigned vms)
{
	struct hp_error err;
	struct hp_pool *pool;
	double t0 = now_us();
	check(hp_pool_create(mod, vms, vms, NULL, NULL, &pool, &err), &err);
	double ready = now_us() - t0;
	t0 = now_us();
	hp_pool_destroy(pool);
	double gone = now_us() - t0;
	char what[96];
	snprintf(what, sizeof(what), "hyperpool: a %u-VM pool ready from the snapshot", vms);
	row(NULL, what, (struct stats){ ready, ready, ready, 1 });
	snprintf(what, sizeof(what), "hyperpool: a %u-VM pool destroyed", vms);
	row(NULL, what, (struct stats){ gone, gone, gone, 1 });
}

static void peer_in_process(struct hp_kvm *hk, const char *examples, const struct workload *w,
			    double *t, size_t n)
{
	char elf[PATH_MAX + 64];
	snprintf(elf, sizeof(elf), "%s/%s.elf", examples, w->module);
	struct hp_module *mod;
	struct hp_error err;
	struct in_process ip = { .w = w };
	check(hp_module_open(hk, elf, NULL, &mod, &err), &err);
	if (w->kind == PEER_ADD)
		pool_ready(mod, 100);
	check(hp_pool_create(mod, 1, 1, NULL, NULL, &ip.pool, &err), &err);
	double *calls = calloc(n, sizeof(double));
	if (!calls)
		die("calloc");
	for (size_t i = 0; i < n / 10; i++)
		pool_call(&ip);
	for (size_t i = 0; i < n; i++) {
		t[i] = pool_call(&ip);
		calls[i] = ip.call_us;
	}
	row(w, "hyperpool in process: pool get + call + put (restore)", summarize(t, n));
	row(w, "hyperpool in process: the call alone (hp_vm_call)", summarize(calls, n));
	free(calls);
	hp_pool_destroy(ip.pool);
	hp_module_close(mod);
}

/* --- hyperpool end to end: hpc_call through hyperpoold -------------------------------------- */

struct daemon {
	char dir[64], sock[108], conf[128];
	pid_t pid;
};

static void daemon_start(struct daemon *d, const char *binary, const char *examples)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/bench-peers-XXXXXX");
	if (!mkdtemp(d->dir))
		die("mkdtemp");
	snprintf(d->sock, sizeof(d->sock), "%s/hpd.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/hyperpoold.conf", d->dir);
	FILE *f = fopen(d->conf, "w");
	if (!f)
		die("writing the config");
	fprintf(f, "[daemon]\nsocket = %s\nlog_level = warning\n", d->sock);
	static const char *const modules[] = { "math", "strings", "records", "echo" };
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
		fprintf(f, "\n[module %s]\npath = %s/%s.elf\npool_min = 2\npool_max = 2\n", modules[i],
			examples, modules[i]);
	fclose(f);
	d->pid = bench_start_daemon(binary, d->conf, d->sock);
}

static void daemon_stop(struct daemon *d)
{
	kill(d->pid, SIGTERM);
	waitpid(d->pid, NULL, 0);
	unlink(d->conf);
	unlink(d->sock);
	rmdir(d->dir);
}

struct e2e {
	const struct workload *w;
	struct hpc_conn *c;
};

static double e2e_call(void *ctx)
{
	struct e2e *e = ctx;
	struct hpc_result res;
	struct hpc_error err;
	double t0 = now_us();
	if (hpc_call(e->c, e->w->module, e->w->function, e->w->args, e->w->args_len, NULL, &res, &err)) {
		fprintf(stderr, BENCH_NAME ": %s.%s: %s\n", e->w->module, e->w->function, err.message);
		exit(1);
	}
	double dt = now_us() - t0;
	check_answer(e->w, res.data, res.len);
	hpc_result_free(&res);
	return dt;
}

static struct stats peer_e2e(const struct daemon *d, const struct workload *w, double *t, size_t n)
{
	struct hpc_error err;
	struct e2e e = { w, hpc_connect(d->sock, NULL, &err) };
	if (!e.c) {
		fprintf(stderr, BENCH_NAME ": hpc_connect: %s\n", err.message);
		exit(1);
	}
	struct stats s = measure(e2e_call, &e, t, n);
	hpc_close(e.c);
	return s;
}

/* --- latency vs payload: echo.echo of a bin of N bytes ------------------------------------- */

/* In process (the call alone, through a pool VM) and end to end, for each size; the native
 * answer of echo is its argument, so the check is against the args' own bytes. */
static void payload_sweep(struct hp_kvm *hk, const char *examples, const struct daemon *d,
			  double *t, size_t n)
{
	static const size_t sizes[] = { 16, 1024, 16 << 10, 256 << 10, 1 << 20 };
	char elf[PATH_MAX + 64];
	snprintf(elf, sizeof(elf), "%s/echo.elf", examples);
	struct hp_module *mod;
	struct hp_error err;
	check(hp_module_open(hk, elf, NULL, &mod, &err), &err);
	struct in_process ip;
	check(hp_pool_create(mod, 1, 1, NULL, NULL, &ip.pool, &err), &err);
	uint8_t *bytes = malloc(sizes[4]);
	if (!bytes)
		die("malloc");
	for (size_t i = 0; i < sizes[4]; i++)
		bytes[i] = (uint8_t)(i * 7);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		msgpack_sbuffer sb;
		msgpack_sbuffer_init(&sb);
		msgpack_packer pk;
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_array(&pk, 1);
		msgpack_pack_bin_with_body(&pk, bytes, sizes[k]);
		char label[48];
		snprintf(label, sizeof(label), ", payload %zu bytes", sizes[k]);
		struct workload w = { .kind = PEER_KINDS, .label = label, .module = "echo",
				      .function = "echo", .args = (uint8_t *)sb.data, .args_len = sb.size,
				      .want = (uint8_t *)sb.data + 1, .want_len = sb.size - 1 };
		ip.w = &w;
		size_t m = sizes[k] >= (256 << 10) ? n / 10 + 20 : n;
		for (size_t i = 0; i < m / 10; i++)
			pool_call(&ip);
		for (size_t i = 0; i < m; i++) {
			pool_call(&ip);
			t[i] = ip.call_us;
		}
		row(&w, "echo.echo in process: the call alone (hp_vm_call)", summarize(t, m));
		row(&w, "echo.echo end to end: hpc_call through hyperpoold", peer_e2e(d, &w, t, m));
		msgpack_sbuffer_destroy(&sb);
	}
	free(bytes);
	hp_pool_destroy(ip.pool);
	hp_module_close(mod);
}

/* --- the calls ---------------------------------------------------------------------------- */

static void workload_init(struct workload *w, enum peer_kind kind, const char *helper)
{
	static const struct { const char *label, *module, *function; } calls[PEER_KINDS] = {
		[PEER_ADD] = { "", "math", "add" },
		[PEER_SHA256] = { ", sha256(64 KiB)", "strings", "sha256" },
		[PEER_ENRICH] = { ", enrich(16 KiB records)", "records", "enrich" },
	};
	*w = (struct workload){ .kind = kind, .label = calls[kind].label, .module = calls[kind].module,
				.function = calls[kind].function, .helper = helper };
	w->args_len = peer_args(kind, &w->args);
	if (!(w->want = malloc(PEER_MAX_BYTES)))
		die("malloc");
	w->want_len = peer_work(kind, w->args, w->args_len, w->want, PEER_MAX_BYTES);
	if (!w->want_len) {
		errno = 0;
		die("the native call failed");
	}
}

static void run_workload(const struct workload *w, struct hp_kvm *hk, const char *examples,
			 const struct daemon *d, double *t, size_t n, size_t n_proc)
{
	row(w, "peer: native call on a worker thread (no isolation)", peer_thread(w, t, n));
	row(w, "peer: fork() + call + exit per call", measure(fork_call, (void *)w, t, n_proc));
	row(w, "peer: fork + exec of a static helper per call",
	    measure(fork_exec_call, (void *)w, t, n_proc));
	row(w, "peer: posix_spawn of the static helper per call",
	    measure(spawn_call, (void *)w, t, n_proc));
	peer_in_process(hk, examples, w, t, n);
	row(w, "hyperpool end to end: hpc_call through hyperpoold", peer_e2e(d, w, t, n));
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: bench_peers EXAMPLES-DIR HELPER HYPERPOOLD [CALLS]\n");
		return 64;
	}
	close(open_kvm_or_exit());
	size_t n = argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 2000;
	if (n < 20)
		n = 20;
	size_t n_proc = n / 10 < 20 ? 20 : n / 10;
	char examples[PATH_MAX]; /* the daemon wants absolute module paths */
	if (!realpath(argv[1], examples))
		die(argv[1]);
	double *t = calloc(n, sizeof(double));
	if (!t)
		die("calloc");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct workload w[PEER_KINDS];
	for (int k = 0; k < PEER_KINDS; k++)
		workload_init(&w[k], (enum peer_kind)k, argv[2]);

	printf("| %-80s | %9s | %9s | %9s | %6s |\n", "what (microseconds)", "median", "p90", "p99", "n");
	printf("|%.82s|-----------|-----------|-----------|--------|\n",
	       "----------------------------------------------------------------------------------");
	/* the AF_UNIX floors, both processes pinned (bench_hpd.h) */
	row(NULL, "floor: AF_UNIX 64-byte round trip, two processes, same CPU",
	    bench_socket_floor(t, n, n / 10, 0, 0));
	if (cpus > 1)
		row(NULL, "floor: AF_UNIX 64-byte round trip, two processes, two CPUs",
		    bench_socket_floor(t, n, n / 10, 0, 1));
	struct hp_kvm *hk;
	struct hp_error err;
	check(hp_kvm_open(&hk, &err), &err);
	struct daemon d;
	daemon_start(&d, argv[3], examples);
	for (int k = 0; k < PEER_KINDS; k++) {
		run_workload(&w[k], hk, examples, &d, t, n, n_proc);
		free(w[k].args);
		free(w[k].want);
	}
	payload_sweep(hk, examples, &d, t, n);
	daemon_stop(&d);
	hp_kvm_close(hk);
	free(t);
	return 0;
}
