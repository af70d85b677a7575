/* test_hostile.c - every misdeed of examples/hostile on a pooled VM: the exact error code and
 * message, then a normal call on the SAME VM that must see the snapshot state. Also deadlines
 * (how far past its deadline a runaway loop stops), cancel from another thread, the log limit.
 *
 *   test_hostile --hostile hostile.elf [...]        exit 77 without /dev/kvm */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "kvmtest.h"

#include "hostile_expect.h"

/* The normal call: 42 means the VM is back at the snapshot (ok() overwrites the state). */
static void check_ok(struct hp_vm *vm, const char *after)
{
	struct kt_call c;
	kt_call0(vm, "ok", &c);
	CHECK_MSG(kt_is_u64(&c, 42), "normal call after %s: %s", after, kt_describe(&c));
	kt_call_free(&c);
}

static void test_misdeeds(struct hp_module *mod)
{
	struct hp_pool *pool;
	struct hp_error err;
	if (hp_pool_create(mod, 1, 1, NULL, NULL, &pool, &err) < 0) {
		CHECK_MSG(0, "hp_pool_create: %s", err.message);
		return;
	}
	struct hp_vm *vm, *first = NULL;
	for (size_t i = 0; i < hostile_nmisdeeds; i++) {
		const struct misdeed *m = &hostile_misdeeds[i];
		CHECK(hp_pool_get(pool, &vm, &err) == 0);
		if (!first)
			first = vm;
		CHECK_MSG(vm == first, "%s: the pool handed out another VM", m->fn);
		struct kt_call c;
		kt_call0(vm, m->fn, &c);
		CHECK_MSG(kt_is_status(&c, m->rc, m->status, m->message), "%s: %s (want %s \"%s\")",
			  m->fn, kt_describe(&c), hp_status_name(m->status), m->message);
		kt_call_free(&c);
		hp_pool_put(pool, vm); /* restores */
		CHECK(hp_pool_get(pool, &vm, &err) == 0);
		CHECK_MSG(vm == first, "%s: the VM was replaced instead of restored", m->fn);
		check_ok(vm, m->fn);
		hp_pool_put(pool, vm);
	}
	/* Instructions the hypervisor answers itself (x86_64: vmmcall, a KVM hypercall from CPL3:
	 * -KVM_EPERM in rax): the call goes on and ends normally; the next call is normal too. */
	for (size_t i = 0; hostile_benign[i]; i++) {
		CHECK(hp_pool_get(pool, &vm, &err) == 0);
		struct kt_call v;
		kt_call0(vm, hostile_benign[i], &v);
		CHECK_CALL(&v, kt_ok(&v) && v.obj.type == MSGPACK_OBJECT_NIL);
		kt_call_free(&v);
		hp_pool_put(pool, vm);
		CHECK(hp_pool_get(pool, &vm, &err) == 0);
		check_ok(vm, hostile_benign[i]);
		hp_pool_put(pool, vm);
	}

	/* A 1 TiB malloc is not an error: malloc says no, the call goes on. */
	CHECK(hp_pool_get(pool, &vm, &err) == 0);
	struct kt_call c;
	kt_call0(vm, "huge_malloc", &c);
	CHECK_CALL(&c, kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_BOOLEAN && !c.obj.via.boolean);
	kt_call_free(&c);
	hp_pool_put(pool, vm);

	struct hp_pool_stats st;
	hp_pool_stats(pool, &st, &err);
	CHECK(st.restore_failures == 0 && st.created == 1 && st.destroyed == 0);
	hp_pool_destroy(pool);
}

/* The misdeeds whose last exit KVM completes on the next KVM_RUN (MMIO reads, string and
 * read-modify-write instructions on MMIO, emulation failures, the core's fault report by port
 * I/O), on a VM of every restore strategy: the next call on the same VM must be normal. */
static void test_exit_completion(struct hp_module *mod)
{
	for (int s = HP_RESTORE_AUTO + 1; s < HP_RESTORE_STRATEGIES; s++) {
		struct hp_vm *vm;
		struct hp_error err;
		if (hp_vm_create_with(mod, s, NULL, NULL, &vm, &err) < 0) {
			CHECK_MSG(0, "hp_vm_create_with(%s): %s", hp_restore_strategy_name(s), err.message);
			continue;
		}
		for (size_t i = 0; i < hostile_nmisdeeds; i++) {
			const struct misdeed *m = &hostile_misdeeds[i];
			if (strncmp(m->fn, "mmio_", 5) && strcmp(m->fn, "div_zero"))
				continue;
			struct kt_call c;
			kt_call0(vm, m->fn, &c);
			CHECK_MSG(kt_is_status(&c, m->rc, m->status, m->message), "%s (%s): %s", m->fn,
				  hp_restore_strategy_name(s), kt_describe(&c));
			kt_call_free(&c);
			char after[96];
			snprintf(after, sizeof(after), "%s (%s)", m->fn, hp_restore_strategy_name(s));
			check_ok(vm, after);
		}
		hp_vm_destroy(vm);
	}
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A loop that never exits is stopped at its deadline; prints how far past it. */
static void test_deadline(struct hp_vm *vm)
{
	static const uint64_t timeouts[] = { 50, 200, 1000 };
	for (size_t i = 0; i < 3; i++) {
		struct hp_call_opts opts = { .timeout_ms = timeouts[i] };
		struct hp_call_result res;
		struct hp_error err;
		double t0 = now_ms();
		int rc = hp_vm_call_opts(vm, "loop_forever", 12, "\x90", 1, &opts, &res, &err);
		double late = now_ms() - t0 - (double)timeouts[i];
		CHECK_MSG(rc == -1 && err.code == HP_E_TIMEOUT, "loop_forever: rc %d %s", rc, err.message);
		CHECK_STR_CONTAINS(err.message, "deadline");
		/* Not a timing assertion: only that it stopped at all, and not before its deadline. */
		CHECK_MSG(late >= 0 && late < 5000, "deadline %llu ms: stopped %.1f ms late",
			  (unsigned long long)timeouts[i], late);
		fprintf(stderr, "deadline %4llu ms: stopped %.2f ms after it\n",
			(unsigned long long)timeouts[i], late);
		check_ok(vm, "a timeout");
	}
	/* A deadline that stops a guest between hypercalls (an exit served, the next one due). */
	struct hp_call_opts storm = { .timeout_ms = 20 };
	struct hp_call_result sres;
	struct hp_error serr;
	int src = hp_vm_call_opts(vm, "hypercall_storm", 15, "\x90", 1, &storm, &sres, &serr);
	CHECK_MSG(src == -1 && serr.code == HP_E_TIMEOUT, "hypercall_storm: rc %d %s", src,
		  serr.message);
	check_ok(vm, "a timeout in a hypercall storm");
	/* The module's default deadline applies too (set to 100 ms by main). */
	struct kt_call c;
	kt_call0(vm, "loop_forever", &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_TIMEOUT, "deadline of 100 ms"));
	kt_call_free(&c);
	/* A call that ends in time is unaffected by a short deadline. */
	struct hp_call_opts opts = { .timeout_ms = 1000 };
	struct hp_call_result res;
	struct hp_error err;
	CHECK(hp_vm_call_opts(vm, "ok", 2, "\x90", 1, &opts, &res, &err) == 0 && res.status == HP_OK);
}

struct canceller {
	struct hp_vm *vm;
	unsigned delay_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;
	usleep(c->delay_ms * 1000);
	hp_vm_cancel(c->vm);
	return NULL;
}

static void test_cancel(struct hp_vm *vm)
{
	for (unsigned delay = 0; delay <= 100; delay += 50) {
		struct canceller c = { vm, delay };
		pthread_t t;
		pthread_create(&t, NULL, cancel_later, &c);
		struct hp_call_opts opts = { .timeout_ms = 20000 };
		struct hp_call_result res;
		struct hp_error err;
		double t0 = now_ms();
		int rc = -1;
		/* a cancel that comes before the call starts is for no call: retry until one lands */
		for (int tries = 0; tries < 100; tries++) {
			rc = hp_vm_call_opts(vm, "loop_forever", 12, "\x90", 1, &opts, &res, &err);
			if (rc == -1 && err.code == HP_E_CANCELLED)
				break;
		}
		pthread_join(t, NULL);
		CHECK_MSG(rc == -1 && err.code == HP_E_CANCELLED, "cancel after %u ms: %s", delay,
			  err.message);
		CHECK(now_ms() - t0 < 15000);
		check_ok(vm, "a cancel");
	}
	/* Cancelling a VM that runs no call does nothing to its next call. */
	hp_vm_cancel(vm);
	check_ok(vm, "a cancel between calls");
}

static void test_log_limit(struct hp_vm *vm, struct kt_log *log)
{
	kt_log_clear(log);
	/* 3 MiB of output, limit 1 MiB. The log limit is under test here, not the deadline of this
	 * VM's module (100 ms): printing 3 MiB takes seconds in an emulated arm64 machine. */
	struct hp_call_opts opts = { .timeout_ms = 600000 };
	struct hp_call_result res;
	struct hp_error err;
	int rc = hp_vm_call_opts(vm, "log_flood", 9, "\x91\x03", 2, &opts, &res, &err);
	CHECK_MSG(rc == 0 && res.status == HP_OK && res.output_len == 1 && res.output[0] == 3,
		  "log_flood: rc %d %s", rc, rc ? err.message : "");
	size_t out = 0, note = 0;
	for (size_t i = 0; i < log->n; i++) {
		if (log->chunks[i].stream == HP_LOG_STDOUT)
			out += log->chunks[i].len;
		else if (memmem(log->chunks[i].bytes, log->chunks[i].len, "bytes of guest output dropped",
				strlen("bytes of guest output dropped")))
			note++;
	}
	CHECK_EQ_U64(out, 1u << 20);
	CHECK_EQ_U64(note, 1);
	check_ok(vm, "a log flood");
}

int main(int argc, char **argv)
{
	kt_parse_args(argc, argv);
	struct hp_kvm *kvm = kt_open_kvm();
	struct hp_module *mod = kt_open_module(kvm, "hostile", NULL);
	test_misdeeds(mod);
	test_exit_completion(mod);

	struct hp_module_config cfg = { .timeout_ms = 100 };
	struct hp_module *fast = kt_open_module(kvm, "hostile", &cfg);
	struct kt_log log = { 0 };
	struct hp_vm *vm = kt_create_vm(fast, &log);
	test_deadline(vm);
	test_cancel(vm);
	test_log_limit(vm, &log);
	hp_vm_destroy(vm);
	kt_log_free(&log);
	hp_module_close(fast);
	hp_module_close(mod);
	hp_kvm_close(kvm);
	CHECK_DONE();
}
