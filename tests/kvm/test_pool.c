/* test_pool.c - the pool API (hp_pool_*) and module snapshots: sizes and limits, statistics,
 * VMs that faulted going back into service, independent snapshots of two modules, an
 * idempotent and thread-safe hp_module_snapshot, and two threads sharing one pool.
 *
 *   test_pool --canary canary.elf --misc misc.elf [...]
 *
 * Exit 0: all checks passed; 1: some failed (each is printed); 77: no /dev/kvm. */
#include <pthread.h>

#include "kvmtest.h"
#include "canary_expect.h"
#include "modules/canary.h"

#define CANARY_BASE 0xca9a000000000000ull

static struct hp_pool_stats stats(struct hp_pool *pool, const char *when)
{
	struct hp_pool_stats st;
	struct hp_error err;
	memset(&st, 0xff, sizeof(st));
	CHECK_MSG(hp_pool_stats(pool, &st, &err) == 0, "%s: hp_pool_stats: %s", when, err.message);
	/* every VM the pool made is idle, busy or destroyed */
	CHECK_MSG(st.created - st.destroyed == (uint64_t)st.idle + st.busy && st.idle + st.busy <= st.max,
		  "%s: stats do not balance: created %" PRIu64 " destroyed %" PRIu64 " idle %u busy %u "
		  "max %u", when, st.created, st.destroyed, st.idle, st.busy, st.max);
	return st;
}

#define CHECK_STATS(st, when, idle_, busy_, created_, destroyed_)                               \
	CHECK_MSG((st).idle == (idle_) && (st).busy == (busy_) && (st).created == (created_) &&      \
			  (st).destroyed == (destroyed_),                                            \
		  "%s: idle %u busy %u created %" PRIu64 " destroyed %" PRIu64 "; expected %u %u %u %u", \
		  when, (st).idle, (st).busy, (st).created, (st).destroyed, (unsigned)(idle_),         \
		  (unsigned)(busy_), (unsigned)(created_), (unsigned)(destroyed_))

/* global(c) returns the static's value after init, whatever earlier calls wrote */
static bool global_ok(struct hp_vm *vm, uint64_t canary, const char *when)
{
	struct kt_call c;
	struct kt_args a;
	msgpack_pack_uint64(kt_args_begin(&a, 1), canary);
	kt_call(vm, "global", &a, &c);
	bool ok = kt_is_u64(&c, G_INIT);
	CHECK_MSG(ok, "%s: global: %s", when, kt_describe(&c));
	kt_call_free(&c);
	return ok;
}

static void oom_mib(struct hp_vm *vm, uint64_t *mib)
{
	struct kt_call c;
	kt_call0(vm, "oom", &c);
	*mib = UINT64_MAX;
	if (kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_ARRAY && c.obj.via.array.size == 2)
		*mib = c.obj.via.array.ptr[0].via.u64;
	CHECK_CALL(&c, *mib != UINT64_MAX);
	kt_call_free(&c);
}

/* --- sizes, limits, statistics ------------------------------------------------------------ */

/* A pool of (2, 4) with its 2 idle VMs: 4 gets (the 2 idle ones, then 2 new ones), a 5th that
 * is refused, every VM answering from the snapshot, all put back: 4 idle. */
static void pool_get_all(struct hp_pool *pool)
{
	struct hp_error err;
	struct hp_pool_stats st;
	struct hp_vm *vms[4] = { 0 };
	for (int i = 0; i < 4; i++)
		CHECK_MSG(hp_pool_get(pool, &vms[i], &err) == 0 && vms[i], "get %d of 4: %s", i + 1,
			  err.message);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < i; j++)
			CHECK_MSG(vms[i] != vms[j], "get handed out VM %d twice", j + 1);
	st = stats(pool, "4 busy");
	CHECK_STATS(st, "4 busy", 0, 4, 4, 0);

	/* the 5th: every VM is busy */
	struct hp_vm *fifth = NULL;
	memset(&err, 0, sizeof(err));
	int rc = hp_pool_get(pool, &fifth, &err);
	CHECK_MSG(rc == -1 && err.code == HP_E_LIMIT, "5th get of max 4: rc %d, %s (%s)", rc,
		  hp_status_name(err.code), err.message);
	st = stats(pool, "after the 5th get");
	CHECK_STATS(st, "after the 5th get", 0, 4, 4, 0);

	/* every pooled VM answers, from the snapshot: call twice, the second sees no canary */
	for (int i = 0; i < 4; i++) {
		char when[64];
		snprintf(when, sizeof(when), "pooled VM %d", i + 1);
		global_ok(vms[i], CANARY_BASE + 10 + i, when);
		global_ok(vms[i], CANARY_BASE + 20 + i, when);
	}

	for (int i = 0; i < 4; i++)
		hp_pool_put(pool, vms[i]);
	st = stats(pool, "all put back");
	CHECK_STATS(st, "all put back", 4, 0, 4, 0);
	CHECK_MSG(st.restore_failures == 0, "restore failures %" PRIu64, st.restore_failures);
}

/* From 4 idle VMs (4 created): shrink, grow within max, stop at max, and shrink to the one VM
 * that pool_faulted uses. */
static void pool_resizes(struct hp_pool *pool)
{
	static const struct {
		unsigned size;
		const char *when;
		unsigned idle, created, destroyed; /* afterwards, none busy */
	} steps[] = {
		{ 1, "resize(1)", 1, 4, 3 },          /* shrink: idle 1, 3 destroyed */
		{ 3, "resize(3)", 3, 6, 3 },          /* grow again within max */
		{ 9, "resize(9) of max 4", 4, 7, 3 }, /* beyond max: stops at max */
		{ 1, "resize(1) again", 1, 7, 6 },
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct hp_error err;
		CHECK_MSG(hp_pool_resize(pool, steps[i].size, &err) == 0, "%s: %s", steps[i].when,
			  err.message);
		struct hp_pool_stats st = stats(pool, steps[i].when);
		CHECK_STATS(st, steps[i].when, steps[i].idle, 0, steps[i].created, steps[i].destroyed);
	}
}

/* A VM whose call faulted goes back and still serves, restored: with one VM in the pool (7
 * created, 6 destroyed), the next get must hand that one out again. */
static void pool_faulted(struct hp_pool *pool)
{
	struct hp_error err;
	struct hp_pool_stats st;
	struct hp_vm *vm, *again;
	CHECK(hp_pool_get(pool, &vm, &err) == 0);
	global_ok(vm, CANARY_BASE + 40, "before the fault");
	struct kt_call c;
	struct kt_args a;
	msgpack_pack_uint64(kt_args_begin(&a, 1), CANARY_BASE + 41);
	kt_call(vm, "scribble_fault", &a, &c); /* writes canaries everywhere, then faults */
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_FAULT, canary_fault_message));
	kt_call_free(&c);
	hp_pool_put(pool, vm);
	st = stats(pool, "faulted VM put back");
	CHECK_STATS(st, "faulted VM put back", 1, 0, 7, 6);
	CHECK_MSG(st.restore_failures == 0, "restore failures %" PRIu64, st.restore_failures);
	CHECK(hp_pool_get(pool, &again, &err) == 0);
	CHECK_MSG(again == vm, "the faulted VM was not handed out again");
	global_ok(again, CANARY_BASE + 42, "the faulted VM's next call");
	msgpack_packer *pk = kt_args_begin(&a, 2);
	msgpack_pack_uint64(pk, 1);
	msgpack_pack_uint64(pk, CANARY_BASE + 43);
	kt_call(again, "dirty", &a, &c);
	CHECK_CALL(&c, kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_ARRAY && c.obj.via.array.size == 3 &&
			       c.obj.via.array.ptr[0].via.u64 == 0);
	kt_call_free(&c);
	hp_pool_put(pool, again);

	/* a VM whose faulted call is the last before the put */
	CHECK(hp_pool_get(pool, &vm, &err) == 0);
	kt_call0(vm, canary_privileged_fn, &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_FAULT, canary_fault_message));
	kt_call_free(&c);
	hp_pool_put(pool, vm);
	CHECK(hp_pool_get(pool, &again, &err) == 0);
	CHECK_MSG(again == vm, "the faulted VM was not handed out again");
	global_ok(again, CANARY_BASE + 44, "after a put that followed a fault");
	hp_pool_put(pool, again);
	st = stats(pool, "the end");
	CHECK_STATS(st, "the end", 1, 0, 7, 6);
	CHECK_MSG(st.restore_failures == 0, "restore failures %" PRIu64, st.restore_failures);
}

/* hp_pool_fill counts busy VMs with the idle ones, creates only what is missing, stops at max.
 * Starts where pool_faulted ended (1 idle, 7 created, 6 destroyed) and ends there again. */
static void pool_fills(struct hp_pool *pool)
{
	struct hp_error err;
	struct hp_vm *vm;
	CHECK(hp_pool_get(pool, &vm, &err) == 0);
	CHECK_MSG(hp_pool_fill(pool, 3, &err) == 0, "fill(3): %s", err.message);
	struct hp_pool_stats st = stats(pool, "fill(3) with 1 busy");
	CHECK_STATS(st, "fill(3) with 1 busy", 2, 1, 9, 6);
	CHECK(hp_pool_fill(pool, 2, &err) == 0);
	st = stats(pool, "fill(2): nothing missing");
	CHECK_STATS(st, "fill(2): nothing missing", 2, 1, 9, 6);
	CHECK(hp_pool_fill(pool, 10, &err) == 0);
	st = stats(pool, "fill(10) stops at max 4");
	CHECK_STATS(st, "fill(10) stops at max 4", 3, 1, 10, 6);
	global_ok(vm, CANARY_BASE + 45, "the busy VM during the fills");
	hp_pool_put(pool, vm);
	CHECK(hp_pool_resize(pool, 1, &err) == 0);
	st = stats(pool, "back to 1 idle");
	CHECK_STATS(st, "back to 1 idle", 1, 0, 10, 9);
}

static void pool_basics(struct hp_module *mod)
{
	struct hp_pool *pool;
	struct hp_error err;
	if (hp_pool_create(mod, 2, 4, NULL, NULL, &pool, &err) < 0) {
		CHECK_MSG(0, "hp_pool_create(2, 4): %s", err.message);
		return;
	}
	struct hp_pool_stats st = stats(pool, "created (2, 4)");
	CHECK_STATS(st, "created (2, 4)", 2, 0, 2, 0);
	CHECK_MSG(st.max == 4 && st.restore_failures == 0, "max %u restore failures %" PRIu64, st.max,
		  st.restore_failures);
	CHECK_MSG(st.snapshot_bytes > 0 && st.snapshot_bytes == hp_module_snapshot_bytes(mod) &&
			  st.snapshot_bytes == kt_mem_size(mod),
		  "snapshot_bytes %" PRIu64 ", module %" PRIu64 ", layout %" PRIu64, st.snapshot_bytes,
		  hp_module_snapshot_bytes(mod), kt_mem_size(mod));
	CHECK_MSG(st.idle_private_bytes <= st.idle * st.snapshot_bytes, "idle_private_bytes %" PRIu64,
		  st.idle_private_bytes);

	/* one pool through all three, each continuing from the state the last one left */
	pool_get_all(pool);
	pool_resizes(pool);
	pool_faulted(pool);
	pool_fills(pool);
	hp_pool_destroy(pool);

	/* invalid sizes */
	memset(&err, 0, sizeof(err));
	CHECK_MSG(hp_pool_create(mod, 3, 2, NULL, NULL, &pool, &err) == -1 && err.code == HP_E_INVALID,
		  "create(3, 2): %s", err.message);
	CHECK_MSG(hp_pool_create(mod, 0, 0, NULL, NULL, &pool, &err) == -1 && err.code == HP_E_INVALID,
		  "create(0, 0): %s", err.message);
}

/* hp_pool_put restores the VM itself (not only the next call): with a madvise strategy the
 * pages a call wrote are gone from the idle VM at once */
static void put_restores(struct hp_kvm *kvm)
{
	struct hp_module_config cfg = { .restore = HP_RESTORE_PAGEMAP_MADVISE };
	struct hp_module *mod = kt_open_module(kvm, "canary", &cfg);
	struct hp_pool *pool;
	struct hp_error err;
	if (hp_pool_create(mod, 1, 1, NULL, NULL, &pool, &err) < 0) {
		CHECK_MSG(0, "hp_pool_create(1, 1): %s", err.message);
		hp_module_close(mod);
		return;
	}
	struct hp_vm *vm;
	CHECK(hp_pool_get(pool, &vm, &err) == 0);
	struct kt_call c;
	struct kt_args a;
	msgpack_packer *pk = kt_args_begin(&a, 2);
	msgpack_pack_uint64(pk, 256);
	msgpack_pack_uint64(pk, CANARY_BASE + 50);
	kt_call(vm, "dirty", &a, &c);
	CHECK_CALL(&c, kt_ok(&c));
	kt_call_free(&c);
	struct hp_vm_memory m;
	CHECK(hp_vm_memory(vm, &m, &err) == 0);
	CHECK_MSG(m.private_bytes >= 256 * HP_PAGE_SIZE, "busy VM after dirty(256): %" PRIu64
		  " private bytes", m.private_bytes);
	hp_pool_put(pool, vm);
	struct hp_pool_stats st = stats(pool, "put after dirty(256)");
	CHECK_MSG(st.idle == 1 && st.idle_private_bytes <= 16 * HP_PAGE_SIZE,
		  "after put: idle %u, idle_private_bytes %" PRIu64 " (the put did not restore?)",
		  st.idle, st.idle_private_bytes);
	hp_pool_destroy(pool);
	hp_module_close(mod);
}

/* --- snapshots ------------------------------------------------------------------------------ */

static void snapshots(struct hp_kvm *kvm)
{
	struct hp_error err;
	/* the same ELF as two modules, the second with half the heap: each has its own snapshot
	 * and layout */
	struct hp_module *a = kt_open_module(kvm, "canary", NULL);
	struct hp_module_config half = { .heap_size = 8u << 20 };
	struct hp_module *b = kt_open_module(kvm, "canary", &half);
	struct hp_module *m = kt_open_module(kvm, "misc", NULL);
	struct hp_pool *pa, *pb;
	CHECK(hp_pool_create(a, 1, 2, NULL, NULL, &pa, &err) == 0);
	CHECK(hp_pool_create(b, 1, 2, NULL, NULL, &pb, &err) == 0);
	struct hp_vm *va, *vb, *vm_misc = kt_create_vm(m, NULL);
	CHECK(hp_pool_get(pa, &va, &err) == 0);
	CHECK(hp_pool_get(pb, &vb, &err) == 0);
	CHECK_MSG(hp_module_snapshot_bytes(a) == hp_module_snapshot_bytes(b) + (8u << 20),
		  "snapshot bytes %" PRIu64 " and %" PRIu64 ": the heaps differ by 8 MiB",
		  hp_module_snapshot_bytes(a), hp_module_snapshot_bytes(b));
	uint64_t mib_a, mib_b;
	for (int i = 0; i < 50; i++) {
		/* interleaved: what one module's VM writes is not seen by the other's */
		global_ok(va, CANARY_BASE + 100 + i, "module A");
		global_ok(vb, CANARY_BASE + 200 + i, "module B");
		struct kt_call c;
		kt_call0(vm_misc, "counter", &c);
		CHECK_CALL(&c, kt_is_i64(&c, 1));
		kt_call_free(&c);
	}
	oom_mib(va, &mib_a);
	oom_mib(vb, &mib_b);
	CHECK_MSG(mib_a >= 14 && mib_b >= 6 && mib_b <= 8 && mib_a > mib_b,
		  "oom: module A (16 MiB heap) got %" PRIu64 " MiB, B (8 MiB) %" PRIu64, mib_a, mib_b);
	/* A goes away; B and misc keep working */
	hp_pool_put(pa, va);
	hp_pool_destroy(pa);
	hp_module_close(a);
	global_ok(vb, CANARY_BASE + 300, "module B after A closed");
	oom_mib(vb, &mib_a);
	CHECK_MSG(mib_a == mib_b, "module B: oom %" PRIu64 " MiB, before %" PRIu64, mib_a, mib_b);
	struct kt_call c;
	kt_call0(vm_misc, "counter", &c);
	CHECK_CALL(&c, kt_is_i64(&c, 1));
	kt_call_free(&c);
	hp_pool_put(pb, vb);
	hp_pool_destroy(pb);
	hp_module_close(b);
	hp_vm_destroy(vm_misc);
	hp_module_close(m);
}

/* init runs once per module, however often and from however many threads the snapshot is
 * asked for */
struct snap_thread {
	struct hp_module *mod;
	struct kt_log *log;
	int rc;
	struct hp_error err;
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static void locked_log(void *ctx, int stream, const char *bytes, size_t len)
{
	pthread_mutex_lock(&log_lock);
	kt_log_fn(ctx, stream, bytes, len);
	pthread_mutex_unlock(&log_lock);
}

static void *snap_thread(void *p)
{
	struct snap_thread *t = p;
	t->rc = hp_module_snapshot(t->mod, locked_log, t->log, &t->err);
	return NULL;
}

static size_t init_lines(const struct kt_log *log)
{
	size_t n = 0;
	for (size_t i = 0; i < log->n; i++) {
		const char *p = log->chunks[i].bytes, *end = p + log->chunks[i].len;
		size_t k = strlen(INIT_LINE);
		for (; p + k <= end; p++)
			if (!memcmp(p, INIT_LINE, k))
				n++;
	}
	return n;
}

static void snapshot_idempotent(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "canary", NULL);
	struct kt_log log = { 0 };
	struct hp_error err;
	CHECK_MSG(hp_module_snapshot_bytes(mod) == 0, "a module has a snapshot before the first "
		  "hp_module_snapshot: %" PRIu64 " bytes", hp_module_snapshot_bytes(mod));
	CHECK_MSG(hp_module_snapshot(mod, kt_log_fn, &log, &err) == 0, "snapshot: %s", err.message);
	uint64_t bytes = hp_module_snapshot_bytes(mod);
	int strategy = hp_module_restore_strategy(mod);
	CHECK_MSG(init_lines(&log) == 1, "the first snapshot ran init %zu times", init_lines(&log));
	for (int i = 0; i < 3; i++)
		CHECK_MSG(hp_module_snapshot(mod, kt_log_fn, &log, &err) == 0, "snapshot again: %s",
			  err.message);
	CHECK_MSG(init_lines(&log) == 1, "hp_module_snapshot x 4 ran init %zu times",
		  init_lines(&log));
	CHECK_MSG(hp_module_snapshot_bytes(mod) == bytes && hp_module_restore_strategy(mod) == strategy,
		  "a repeated snapshot changed the size or strategy");
	struct hp_vm *vm = kt_create_vm(mod, &log);
	global_ok(vm, CANARY_BASE + 400, "VM after repeated snapshots");
	CHECK_MSG(init_lines(&log) == 1, "creating a VM ran init again");
	hp_vm_destroy(vm);
	hp_module_close(mod);
	kt_log_free(&log);

	/* two threads ask a fresh module for its snapshot at once */
	mod = kt_open_module(kvm, "canary", NULL);
	struct snap_thread t[2] = { { mod, &log, 0, { 0 } }, { mod, &log, 0, { 0 } } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, snap_thread, &t[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK_MSG(t[0].rc == 0 && t[1].rc == 0, "concurrent snapshots: %s / %s", t[0].err.message,
		  t[1].err.message);
	CHECK_MSG(init_lines(&log) == 1, "two concurrent hp_module_snapshot ran init %zu times",
		  init_lines(&log));
	vm = kt_create_vm(mod, NULL);
	global_ok(vm, CANARY_BASE + 401, "VM after concurrent snapshots");
	hp_vm_destroy(vm);
	hp_module_close(mod);
	kt_log_free(&log);
}

/* --- two threads, one pool -------------------------------------------------------------------- */

#define THREAD_CALLS 2500

struct worker {
	struct hp_pool *pool;
	int id;
	long ok, wrong, limit, failed_get, faults;
};

static void *worker(void *p)
{
	struct worker *w = p;
	for (long i = 0; i < THREAD_CALLS; i++) {
		struct hp_vm *vm;
		struct hp_error err;
		if (hp_pool_get(w->pool, &vm, &err) < 0) {
			if (err.code == HP_E_LIMIT)
				w->limit++;
			else
				w->failed_get++;
			continue;
		}
		uint64_t canary = CANARY_BASE | (uint64_t)w->id << 40 | (uint64_t)i;
		struct kt_call c;
		struct kt_args a;
		if (i % 50 == 49) {
			/* now and then a call that leaves canaries and faults */
			msgpack_pack_uint64(kt_args_begin(&a, 1), canary);
			kt_call(vm, "scribble_fault", &a, &c);
			if (kt_is_status(&c, -1, HP_E_GUEST_FAULT, canary_fault_message))
				w->faults++;
			else
				w->wrong++;
		} else if (i % 10 == 9) {
			msgpack_packer *pk = kt_args_begin(&a, 2);
			msgpack_pack_uint64(pk, 16);
			msgpack_pack_uint64(pk, canary);
			kt_call(vm, "dirty", &a, &c);
			bool good = kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_ARRAY &&
				    c.obj.via.array.size == 3 && c.obj.via.array.ptr[0].via.u64 == 0;
			good ? w->ok++ : w->wrong++;
		} else {
			msgpack_pack_uint64(kt_args_begin(&a, 1), canary);
			kt_call(vm, "global", &a, &c);
			kt_is_u64(&c, G_INIT) ? w->ok++ : w->wrong++;
		}
		kt_call_free(&c);
		hp_pool_put(w->pool, vm);
	}
	return NULL;
}

static void threads(struct hp_module *mod)
{
	struct hp_pool *pool;
	struct hp_error err;
	if (hp_pool_create(mod, 1, 3, NULL, NULL, &pool, &err) < 0) {
		CHECK_MSG(0, "hp_pool_create(1, 3): %s", err.message);
		return;
	}
	struct worker w[2] = { { pool, 1, 0, 0, 0, 0, 0 }, { pool, 2, 0, 0, 0, 0, 0 } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, worker, &w[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		long expect_faults = THREAD_CALLS / 50;
		CHECK_MSG(w[i].ok == THREAD_CALLS - expect_faults && w[i].faults == expect_faults &&
				  w[i].wrong == 0 && w[i].limit == 0 && w[i].failed_get == 0,
			  "thread %d: %ld right, %ld faults as planned, %ld wrong, %ld HP_E_LIMIT, %ld "
			  "failed gets", i + 1, w[i].ok, w[i].faults, w[i].wrong, w[i].limit,
			  w[i].failed_get);
	}
	struct hp_pool_stats st = stats(pool, "after the threads");
	/* 2 threads never need more than 2 VMs at once */
	CHECK_MSG(st.busy == 0 && st.idle >= 1 && st.idle <= 2 && st.created == st.idle &&
			  st.destroyed == 0 && st.restore_failures == 0,
		  "after the threads: idle %u busy %u created %" PRIu64 " destroyed %" PRIu64
		  " restore failures %" PRIu64, st.idle, st.busy, st.created, st.destroyed,
		  st.restore_failures);
	printf("2 threads x %d calls through one pool: %ld + %ld right, %u VMs\n", THREAD_CALLS,
	       w[0].ok + w[0].faults, w[1].ok + w[1].faults, st.idle);
	hp_pool_destroy(pool);
}

int main(int argc, char **argv)
{
	kt_parse_args(argc, argv);
	struct hp_kvm *kvm = kt_open_kvm();
	struct hp_module *mod = kt_open_module(kvm, "canary", NULL);
	pool_basics(mod);
	put_restores(kvm);
	snapshots(kvm);
	snapshot_idempotent(kvm);
	threads(mod);
	hp_module_close(mod);
	hp_kvm_close(kvm);
	CHECK_DONE();
}
