/* test_runtime.c - what the guest runtime gives a module: printf/fprintf output that arrives
 * intact and in order through the log callback, large results, malloc, a deep stack, libm and
 * SSE math.
 *
 *   test_runtime --hello hello.elf --math math.elf --misc misc.elf [...]
 *
 * Exit 0: all checks passed; 1: some failed (each is printed); 77: no /dev/kvm. */
#include <float.h>

#include "kvmtest.h"

#define LONG_LINE 20000 /* tests/kvm/modules/misc.c */

static void check_log_shape(const struct kt_log *log, const char *what)
{
	CHECK_MSG(!log->bad_stream, "%s: a log callback with an unknown stream", what);
	CHECK_MSG(log->max_chunk <= HP_LOG_BUF_SIZE, "%s: a log chunk of %zu bytes", what,
		  log->max_chunk);
	for (size_t i = 0; i < log->n; i++)
		CHECK_MSG(log->chunks[i].len > 0, "%s: empty log chunk %zu", what, i);
}

/* hello.count(n): lines 1..n, odd ones on stderr, even ones on stdout */
static void test_count(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "hello", NULL);
	struct kt_log log = { 0 };
	struct hp_vm *vm = kt_create_vm(mod, &log);
	static const int ns[] = { 50, 0, 1, 2, 3000, 50 };
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		struct kt_expect e = { 0 };
		for (int i = 1; i <= ns[k]; i++) {
			char line[32];
			int len = snprintf(line, sizeof(line), "line %d\n", i);
			kt_expect_add(&e, i % 2 ? HP_LOG_STDERR : HP_LOG_STDOUT, line, (size_t)len);
		}
		kt_log_clear(&log);
		struct kt_call c;
		kt_call_i(vm, "count", ns[k], &c);
		CHECK_MSG(kt_is_i64(&c, ns[k]), "count(%d): %s", ns[k], kt_describe(&c));
		kt_call_free(&c);
		CHECK_MSG(kt_log_equals(&log, &e), "count(%d): output differs", ns[k]);
		/* Lines alternate streams, so every line is its own chunk. */
		CHECK_MSG(log.n == (size_t)ns[k], "count(%d): %zu chunks", ns[k], log.n);
		check_log_shape(&log, "count");
		kt_expect_free(&e);
	}
	/* a VM without a log callback runs the same code fine */
	struct hp_vm *quiet = kt_create_vm(mod, NULL);
	struct kt_call c;
	kt_call_i(quiet, "count", 100, &c);
	CHECK_CALL(&c, kt_is_i64(&c, 100));
	kt_call_free(&c);
	hp_vm_destroy(quiet);
	hp_vm_destroy(vm);
	hp_module_close(mod);
	kt_log_free(&log);
}

/* misc.printf_mix(n): alternating lines, then a line longer than the log buffer */
static void test_printf_mix(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "misc", NULL);
	struct kt_log log = { 0 };
	struct hp_vm *vm = kt_create_vm(mod, &log);
	char *long_line = malloc(LONG_LINE + 1);
	for (int i = 0; i < LONG_LINE; i++)
		long_line[i] = (char)('a' + i % 26);
	long_line[LONG_LINE] = '\n';

	static const int ns[] = { 0, 1, 2, 7, 100, 2001, 5 };
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		struct kt_expect e = { 0 };
		for (int i = 0; i < ns[k]; i++) {
			char line[40];
			int len = snprintf(line, sizeof(line), "line %d %s\n", i, i % 2 ? "err" : "out");
			kt_expect_add(&e, i % 2 ? HP_LOG_STDERR : HP_LOG_STDOUT, line, (size_t)len);
		}
		kt_expect_add(&e, HP_LOG_STDOUT, long_line, LONG_LINE + 1);
		kt_log_clear(&log);
		struct kt_call c;
		kt_call_i(vm, "printf_mix", ns[k], &c);
		CHECK_MSG(kt_is_i64(&c, ns[k]), "printf_mix(%d): %s", ns[k], kt_describe(&c));
		kt_call_free(&c);
		CHECK_MSG(kt_log_equals(&log, &e), "printf_mix(%d): output differs", ns[k]);
		check_log_shape(&log, "printf_mix");
		/* The long line cannot fit one buffer: it needs at least two stdout chunks. */
		size_t tail_chunks = 0;
		for (size_t i = log.n; i > 0 && log.chunks[i - 1].stream == HP_LOG_STDOUT; i--)
			tail_chunks++;
		CHECK_MSG(tail_chunks >= 2, "printf_mix(%d): long line in %zu chunk(s)", ns[k],
			  tail_chunks);
		kt_expect_free(&e);
	}
	free(long_line);
	hp_vm_destroy(vm);
	hp_module_close(mod);
	kt_log_free(&log);
}

static void test_big_output(struct hp_vm *vm)
{
	static const uint64_t ns[] = { 0, 1, 16, 4095, 4096, 4097, 65535, 65536, 1u << 20 };
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		struct kt_args a;
		struct kt_call c;
		msgpack_pack_uint64(kt_args_begin(&a, 1), ns[k]);
		kt_call(vm, "big_output", &a, &c);
		bool ok = kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_BIN && c.obj.via.bin.size == ns[k];
		uint64_t bad_at = UINT64_MAX;
		for (uint64_t i = 0; ok && i < ns[k]; i++)
			if ((uint8_t)c.obj.via.bin.ptr[i] != (uint8_t)((i * 7 + 3) & 0xff)) {
				ok = false;
				bad_at = i;
			}
		CHECK_MSG(ok, "big_output(%" PRIu64 "): byte %" PRIu64 " wrong or %s", ns[k], bad_at,
			  kt_describe(&c));
		kt_call_free(&c);
	}
}

static uint64_t expected_malloc_sum(uint64_t n, uint64_t k)
{
	uint64_t sum = 0;
	for (uint64_t b = 0; b < n; b++)
		for (uint64_t j = 0; j < k; j++)
			sum += (b + j) & 0xff;
	return sum;
}

static void test_malloc(struct hp_vm *vm)
{
	static const uint64_t cases[][2] = { { 0, 0 }, { 1, 0 }, { 1, 10 }, { 1000, 100 },
					     { 100000, 16 }, { 10, 1u << 20 }, { 3, 4u << 20 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kt_args a;
		struct kt_call c;
		msgpack_packer *pk = kt_args_begin(&a, 2);
		msgpack_pack_uint64(pk, cases[i][0]);
		msgpack_pack_uint64(pk, cases[i][1]);
		kt_call(vm, "malloc_many", &a, &c);
		uint64_t want = expected_malloc_sum(cases[i][0], cases[i][1]);
		CHECK_MSG(kt_is_u64(&c, want), "malloc_many(%" PRIu64 ", %" PRIu64 ") expected %" PRIu64
			  ": %s", cases[i][0], cases[i][1], want, kt_describe(&c));
		kt_call_free(&c);
	}
}

static void test_stack_and_math(struct hp_vm *vm)
{
	static const int64_t depths[] = { 0, 1, 2, 100, 1000, 2000 };
	for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		struct kt_call c;
		kt_call_i(vm, "recurse", depths[i], &c);
		CHECK_MSG(kt_is_u64(&c, (uint64_t)depths[i]), "recurse(%" PRId64 "): %s", depths[i],
			  kt_describe(&c));
		kt_call_free(&c);
	}
	/* sqrt is exact; sin may differ from glibc's in the last bit */
	static const double xs[] = { 0.0, 1.0, 2.0, 4.0, 0.5, 100.0, 1e-300 };
	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
		struct kt_args a;
		struct kt_call c;
		msgpack_pack_double(kt_args_begin(&a, 1), xs[i]);
		kt_call(vm, "sse", &a, &c);
		double want = sqrt(xs[i]) + sin(xs[i]);
		CHECK_MSG(kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_FLOAT64 &&
				  fabs(c.obj.via.f64 - want) <= 4 * DBL_EPSILON * fabs(want),
			  "sse(%g) expected %.17g: %s", xs[i], want, kt_describe(&c));
		kt_call_free(&c);
	}
	struct kt_call c;
	kt_call_i(vm, "sse", 0, &c);
	CHECK_CALL(&c, kt_is_f64(&c, 0.0));
	kt_call_free(&c);
	kt_call_i(vm, "sse", -1, &c);
	CHECK_CALL(&c, kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_FLOAT64 && isnan(c.obj.via.f64));
	kt_call_free(&c);
}

int main(int argc, char **argv)
{
	kt_parse_args(argc, argv);
	struct hp_kvm *kvm = kt_open_kvm();
	test_count(kvm);
	test_printf_mix(kvm);
	struct hp_module *mod = kt_open_module(kvm, "misc", NULL);
	struct hp_vm *vm = kt_create_vm(mod, NULL);
	test_big_output(vm);
	test_malloc(vm);
	test_stack_and_math(vm);
	/* the whole set again in the same VM: results do not depend on earlier calls */
	test_big_output(vm);
	test_malloc(vm);
	test_stack_and_math(vm);
	hp_vm_destroy(vm);
	hp_module_close(mod);
	hp_kvm_close(kvm);
	CHECK_DONE();
}
