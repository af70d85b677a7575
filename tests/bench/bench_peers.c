/* bench_peers - the same call, math.add(1, 2) on msgpack arguments (peer_work.h), run by every
 * other way of running a function next to hyperpool's in-process call, in the same run:
 *
 *   bench_peers MATH.ELF HELPER [CALLS]
 *
 * HELPER is bench_peer_helper (static). Rows: the AF_UNIX 64-byte round trip between two
 * processes pinned to the same CPU and to two CPUs (sched_setaffinity); a worker thread doing
 * the call natively (the no-isolation floor: one hand-off there and back); fork() + call +
 * exit per call; fork + exec of HELPER per call; posix_spawn of HELPER per call; hyperpool's
 * in-process call through a libhpvmm pool (get + call + put, the put restoring the VM), and
 * the call alone; and a 100-VM pool made ready from the snapshot. The end-to-end call through
 * hyperpoold is bench_client's and bench_daemon's.
 * Asserts nothing (benchmarks never do); a wrong answer stops the run. */
#define BENCH_NAME "bench_peers"
#include "bench_common.h"
#include "bench_hpd.h"
#include "peer_work.h"

#include <pthread.h>
#include <spawn.h>
#include <stdbool.h>

extern char **environ;

static const uint8_t add_args[] = { 0x92, 0x01, 0x02 }; /* [1, 2] */

static void check_answer(const uint8_t *out, size_t n)
{
	if (n != 1 || out[0] != 3) {
		errno = 0;
		die("add(1, 2) gave a wrong answer");
	}
}

static void row(const char *what, struct stats s)
{
	bench_row(58, what, s);
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

/* --- a worker thread calling natively ------------------------------------------------------- */

struct worker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool pending, quit;
	uint8_t out[64];
	size_t out_len;
	pthread_t th;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->pending && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->quit)
			break;
		w->out_len = peer_add(add_args, sizeof(add_args), w->out, sizeof(w->out));
		w->pending = false;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static double thread_call(void *ctx)
{
	struct worker *w = ctx;
	double t0 = now_us();
	pthread_mutex_lock(&w->mu);
	w->pending = true;
	pthread_cond_broadcast(&w->cv);
	while (w->pending)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	double dt = now_us() - t0;
	check_answer(w->out, w->out_len);
	return dt;
}

static struct stats peer_thread(double *t, size_t n)
{
	struct worker w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	if (pthread_create(&w.th, NULL, worker_main, &w))
		die("pthread_create");
	struct stats s = measure(thread_call, &w, t, n);
	pthread_mutex_lock(&w.mu);
	w.quit = true;
	pthread_cond_broadcast(&w.cv);
	pthread_mutex_unlock(&w.mu);
	pthread_join(w.th, NULL);
	return s;
}

/* --- a process per call ------------------------------------------------------------------- */

/* Reads the child's answer from fd until EOF, waits for pid; checks both. */
static void collect(int fd, pid_t pid)
{
	uint8_t out[64];
	size_t n = 0;
	ssize_t r;
	while ((r = read(fd, out + n, sizeof(out) - n)) > 0)
		n += (size_t)r;
	close(fd);
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		errno = 0;
		die("a peer process failed");
	}
	check_answer(out, n);
}

static double fork_call(void *ctx)
{
	(void)ctx;
	double t0 = now_us();
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		uint8_t out[64];
		size_t n = peer_add(add_args, sizeof(add_args), out, sizeof(out));
		_exit(n && write(p[1], out, n) == (ssize_t)n ? 0 : 1);
	}
	close(p[1]);
	collect(p[0], pid);
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

static void spawned_finish(struct spawned *s, pid_t pid)
{
	close(s->in[0]);
	close(s->out[1]);
	if (write(s->in[1], add_args, sizeof(add_args)) != (ssize_t)sizeof(add_args))
		die("write to the helper");
	close(s->in[1]);
	collect(s->out[0], pid);
}

static double fork_exec_call(void *ctx)
{
	const char *helper = ctx;
	double t0 = now_us();
	struct spawned s;
	spawned_pipes(&s);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (dup2(s.in[0], 0) < 0 || dup2(s.out[1], 1) < 0)
			_exit(126);
		execl(helper, helper, (char *)NULL);
		_exit(127);
	}
	spawned_finish(&s, pid);
	return now_us() - t0;
}

static double spawn_call(void *ctx)
{
	const char *helper = ctx;
	double t0 = now_us();
	struct spawned s;
	spawned_pipes(&s);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, s.in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, s.out[1], 1);
	pid_t pid;
	char *const argv[] = { (char *)helper, NULL };
	errno = posix_spawn(&pid, helper, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (errno)
		die("posix_spawn");
	spawned_finish(&s, pid);
	return now_us() - t0;
}

/* --- hyperpool in process: a libhpvmm pool ------------------------------------------------ */

struct in_process {
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
	check(hp_vm_call(vm, "add", 3, add_args, sizeof(add_args), &res, &err), &err);
	ip->call_us = now_us() - t1;
	if (res.status != HP_OK)
		die("add failed in the guest");
	check_answer(res.output, res.output_len);
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
	bench_row(58, what, (struct stats){ ready, ready, ready, 1 });
	snprintf(what, sizeof(what), "hyperpool: a %u-VM pool destroyed", vms);
	bench_row(58, what, (struct stats){ gone, gone, gone, 1 });
}

static void peer_in_process(const char *elf, double *t, size_t n)
{
	struct hp_kvm *hk;
	struct hp_module *mod;
	struct hp_error err;
	struct in_process ip;
	check(hp_kvm_open(&hk, &err), &err);
	check(hp_module_open(hk, elf, NULL, &mod, &err), &err);
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
	row("hyperpool in process: pool get + call + put (restore)", summarize(t, n));
	row("hyperpool in process: the call alone (hp_vm_call)", summarize(calls, n));
	free(calls);
	hp_pool_destroy(ip.pool);
	hp_module_close(mod);
	hp_kvm_close(hk);
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: bench_peers MATH.ELF HELPER [CALLS]\n");
		return 64;
	}
	close(open_kvm_or_exit());
	size_t n = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 2000;
	if (n < 20)
		n = 20;
	size_t n_proc = n / 10 < 20 ? 20 : n / 10;
	double *t = calloc(n, sizeof(double));
	if (!t)
		die("calloc");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	printf("| %-58s | %9s | %9s | %9s | %6s |\n", "what (microseconds)", "median", "p90", "p99", "n");
	printf("|------------------------------------------------------------|-----------|-----------|-----------|--------|\n");
	/* the AF_UNIX floors, both processes pinned (bench_hpd.h) */
	row("floor: AF_UNIX 64-byte round trip, two processes, same CPU",
	    bench_socket_floor(t, n, n / 10, 0, 0));
	if (cpus > 1)
		row("floor: AF_UNIX 64-byte round trip, two processes, two CPUs",
		    bench_socket_floor(t, n, n / 10, 0, 1));
	row("peer: native call on a worker thread (no isolation)", peer_thread(t, n));
	row("peer: fork() + call + exit per call", measure(fork_call, NULL, t, n_proc));
	row("peer: fork + exec of a static helper per call", measure(fork_exec_call, argv[2], t, n_proc));
	row("peer: posix_spawn of the static helper per call", measure(spawn_call, argv[2], t, n_proc));
	peer_in_process(argv[1], t, n);
	free(t);
	return 0;
}
