/* test_examples.c - every function of the example modules (hello, math, echo, strings, calc,
 * records)
 * and of the many-functions test module, with exact expected values, run in KVM micro-VMs.
 *
 *   test_examples --hello hello.elf --math math.elf --echo echo.elf --strings strings.elf \
 *                 --calc calc.elf --records records.elf --many many.elf [--misc misc.elf]
 *
 * Exit 0: all checks passed; 1: some failed (each is printed); 77: no /dev/kvm. */
#include <float.h>
#include <limits.h>

#include "kvmtest.h"

/* --- a small SHA-256 (FIPS 180-4) for the expected digests, checked against the standard
 * vectors below so it cannot agree with a wrong guest by accident ------------------------- */

static uint32_t ror32(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

static void host_sha256(const uint8_t *p, size_t n, uint8_t digest[32])
{
	static const uint32_t k[64] = {
		0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
		0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
		0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
		0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
		0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
		0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
		0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
		0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
		0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
		0xc67178f2,
	};
	uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	/* Message + 0x80 + zeros + 64-bit length, processed block by block. */
	size_t total = (n + 9 + 63) / 64 * 64;
	for (size_t off = 0; off < total; off += 64) {
		uint8_t b[64];
		for (size_t i = 0; i < 64; i++) {
			size_t j = off + i;
			b[i] = j < n ? p[j] : j == n ? 0x80 : 0;
			if (j >= total - 8)
				b[i] = (uint8_t)(((uint64_t)n * 8) >> (8 * (total - 1 - j)));
		}
		uint32_t w[64];
		for (int i = 0; i < 16; i++)
			w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
			       (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
		for (int i = 16; i < 64; i++)
			w[i] = w[i - 16] + (ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
			       w[i - 7] + (ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10));
		uint32_t v[8];
		memcpy(v, h, sizeof(v));
		for (int i = 0; i < 64; i++) {
			uint32_t t1 = v[7] + (ror32(v[4], 6) ^ ror32(v[4], 11) ^ ror32(v[4], 25)) +
				      ((v[4] & v[5]) ^ (~v[4] & v[6])) + k[i] + w[i];
			uint32_t t2 = (ror32(v[0], 2) ^ ror32(v[0], 13) ^ ror32(v[0], 22)) +
				      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
			memmove(v + 1, v, 7 * sizeof(uint32_t));
			v[4] += t1;
			v[0] = t1 + t2;
		}
		for (int i = 0; i < 8; i++)
			h[i] += v[i];
	}
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 4; j++)
			digest[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

static void hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* Published digests (FIPS 180-2 appendix B.1, and of the empty message). */
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_448 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"

static void test_host_sha256(void)
{
	uint8_t want[32], got[32];
	hex_to_bytes(SHA256_ABC, want, 32);
	host_sha256((const uint8_t *)"abc", 3, got);
	CHECK(memcmp(got, want, 32) == 0);
	hex_to_bytes(SHA256_EMPTY, want, 32);
	host_sha256(NULL, 0, got);
	CHECK(memcmp(got, want, 32) == 0);
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	hex_to_bytes(SHA256_448, want, 32);
	host_sha256((const uint8_t *)m, strlen(m), got);
	CHECK(memcmp(got, want, 32) == 0);
}

/* --- hello ---------------------------------------------------------------------------------- */

static void test_hello(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "hello", NULL);
	struct kt_log log = { 0 };
	struct hp_vm *vm = kt_create_vm(mod, &log);
	struct kt_call c;
	struct kt_expect e = { 0 };

	CHECK_EQ_U64(hp_vm_function_count(vm), 4);
	CHECK(strcmp(hp_vm_function_name(vm, 0), "ask") == 0);
	CHECK(strcmp(hp_vm_function_name(vm, 1), "count") == 0);
	CHECK(strcmp(hp_vm_function_name(vm, 2), "hello") == 0);
	CHECK(strcmp(hp_vm_function_name(vm, 3), "now") == 0);
	CHECK(hp_vm_function_name(vm, 4) == NULL);

	/* now() needs the host's "time": this VM is offered no host functions */
	kt_call0(vm, "now", &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_GUEST_ERROR,
				    "now: the host's time: no host functions are offered to this module"));
	kt_call_free(&c);

	kt_log_clear(&log);
	kt_call0(vm, "hello", &c);
	CHECK_CALL(&c, kt_is_cstr(&c, "hello, world"));
	kt_call_free(&c);
	const char *w = "Hello from a KVM micro-VM, world!\n";
	kt_expect_add(&e, HP_LOG_STDOUT, w, strlen(w));
	CHECK(kt_log_equals(&log, &e));
	kt_expect_free(&e);

	kt_log_clear(&log);
	kt_call_s(vm, "hello", "bob", &c);
	CHECK_CALL(&c, kt_is_cstr(&c, "hello, bob"));
	kt_call_free(&c);
	/* Exactly one callback with exactly these bytes: the runtime flushes once at the end. */
	const char *b = "Hello from a KVM micro-VM, bob!\n";
	CHECK_EQ_U64(log.n, 1);
	CHECK(log.n == 1 && log.chunks[0].stream == HP_LOG_STDOUT &&
	      log.chunks[0].len == strlen(b) && memcmp(log.chunks[0].bytes, b, strlen(b)) == 0);

	/* The result is cut at 128 bytes of name; the printed line is not. */
	char name[300];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	kt_log_clear(&log);
	kt_call_s(vm, "hello", name, &c);
	char want[200];
	snprintf(want, sizeof(want), "hello, %.128s", name);
	CHECK_CALL(&c, kt_is_cstr(&c, want));
	kt_call_free(&c);
	char line[400];
	snprintf(line, sizeof(line), "Hello from a KVM micro-VM, %s!\n", name);
	kt_expect_add(&e, HP_LOG_STDOUT, line, strlen(line));
	CHECK(kt_log_equals(&log, &e));
	kt_expect_free(&e);

	/* Type and count errors. */
	kt_call_i(vm, "hello", 5, &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_GUEST_ERROR,
				    "hello: argument 1 must be a string, got an integer"));
	kt_call_free(&c);
	struct kt_args a;
	msgpack_packer *pk = kt_args_begin(&a, 2);
	kt_pack_cstr(pk, "a");
	kt_pack_cstr(pk, "b");
	kt_call(vm, "hello", &a, &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_GUEST_ERROR,
				    "hello: expected 0 to 1 arguments, got 2"));
	kt_call_free(&c);
	kt_call_i(vm, "count", -1, &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_GUEST_ERROR, "count: n must be in 0..100000"));
	kt_call_free(&c);

	hp_vm_destroy(vm);
	hp_module_close(mod);
	kt_log_free(&log);
}

/* --- math ----------------------------------------------------------------------------------- */

static void check_stats(const struct kt_call *c, uint64_t n, double sum, double mean, double mn,
			double mx)
{
	CHECK_CALL(c, kt_ok(c) && c->obj.type == MSGPACK_OBJECT_MAP && c->obj.via.map.size == 5);
	if (!kt_ok(c))
		return;
	const msgpack_object *o;
	o = kt_map_get(&c->obj, "n");
	CHECK(o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 == n);
	const char *keys[] = { "sum", "mean", "min", "max" };
	double want[] = { sum, mean, mn, mx };
	for (int i = 0; i < 4; i++) {
		o = kt_map_get(&c->obj, keys[i]);
		CHECK_MSG(o && o->type == MSGPACK_OBJECT_FLOAT64 &&
				  (o->via.f64 == want[i] || (isnan(want[i]) && isnan(o->via.f64))),
			  "stats %s: got %g, expected %g", keys[i], o ? o->via.f64 : -1.0, want[i]);
	}
}

/* add: int64 sums exactly, overflow an error rather than a wrap, floats and mixed numbers by the
 * float path, and the module's exact argument messages */
static const struct kt_case math_add_cases[] = {
	KT_CASE("add", KT_ARGS(KT_INT(1), KT_INT(2)), KT_IS_I64(3)),
	KT_CASE("add", KT_ARGS(KT_INT(0), KT_INT(0)), KT_IS_I64(0)),
	KT_CASE("add", KT_ARGS(KT_INT(-5), KT_INT(3)), KT_IS_I64(-2)),
	KT_CASE("add", KT_ARGS(KT_INT(-5), KT_INT(-7)), KT_IS_I64(-12)),
	KT_CASE("add", KT_ARGS(KT_INT(40), KT_INT(-2)), KT_IS_I64(38)),
	KT_CASE("add", KT_ARGS(KT_INT(INT64_MAX), KT_INT(0)), KT_IS_I64(INT64_MAX)),
	KT_CASE("add", KT_ARGS(KT_INT(INT64_MIN), KT_INT(0)), KT_IS_I64(INT64_MIN)),
	KT_CASE("add", KT_ARGS(KT_INT(INT64_MAX), KT_INT(INT64_MIN)), KT_IS_I64(-1)),
	KT_CASE("add", KT_ARGS(KT_INT(INT64_MAX - 1), KT_INT(1)), KT_IS_I64(INT64_MAX)),
	KT_CASE("add", KT_ARGS(KT_INT(INT64_MIN + 1), KT_INT(-1)), KT_IS_I64(INT64_MIN)),
	KT_CASE("add", KT_ARGS(KT_INT(4294967295), KT_INT(1)), KT_IS_I64(4294967296)),
	KT_CASE("add", KT_ARGS(KT_INT(-2147483648), KT_INT(-1)), KT_IS_I64(-2147483649)),
	/* int64 overflow both ways is an error, not a wrap */
	KT_CASE2("add", KT_ARGS(KT_INT(INT64_MAX), KT_INT(1)),
		 KT_GUEST_ERROR("add: integer overflow"),
		 KT_IS_MSG(0, HP_E_GUEST_ERROR, "add: integer overflow")),
	KT_CASE("add", KT_ARGS(KT_INT(INT64_MIN), KT_INT(-1)),
		KT_GUEST_ERROR("add: integer overflow")),
	/* a uint64 above INT64_MAX is not an int64: the float path */
	KT_CASE("add", KT_ARGS(KT_UINT(UINT64_MAX), KT_INT(1)),
		KT_IS_F64((double)UINT64_MAX + 1.0)),
	/* floats and mixed */
	KT_CASE("add", KT_ARGS(KT_F64(1.5), KT_F64(2.25)), KT_IS_F64(3.75)),
	KT_CASE("add", KT_ARGS(KT_F64(0.1), KT_F64(0.2)), KT_IS_F64(0.1 + 0.2)),
	KT_CASE("add", KT_ARGS(KT_F64(-0.0), KT_F64(-0.0)), KT_IS_F64_BITS(-0.0)),
	KT_CASE("add", KT_ARGS(KT_F64(INFINITY), KT_F64(-INFINITY)), KT_IS_F64(NAN)),
	KT_CASE("add", KT_ARGS(KT_INT(1), KT_F64(0.5)), KT_IS_F64(1.5)),
	KT_CASE("add", KT_ARGS(KT_F32(0.25f), KT_INT(-3)), KT_IS_F64(-2.75)),
	/* argument errors with the module's exact message */
	KT_CASE2("add", KT_ARGS(KT_STR("x"), KT_INT(1)),
		 KT_GUEST_ERROR("add: argument 1 must be a number, got a string"),
		 KT_IS_MSG(0, HP_E_GUEST_ERROR, "add: argument 1 must be a number, got a string")),
	KT_CASE("add", KT_ARGS(KT_INT(1), KT_NIL),
		KT_GUEST_ERROR("add: argument 2 must be a number, got nil")),
	KT_CASE("add", KT_ARGS(KT_TRUE, KT_INT(1)),
		KT_GUEST_ERROR("add: argument 1 must be a number, got a boolean")),
	KT_CASE("add", KT_ARGS(KT_INT(1)), KT_GUEST_ERROR("add: expected 2 arguments, got 1")),
	KT_CASE("add", KT_NOARGS, KT_GUEST_ERROR("add: expected 2 arguments, got 0")),
	KT_CASE("add", KT_ARGS(KT_INT(0), KT_INT(1), KT_INT(2)),
		KT_GUEST_ERROR("add: expected 2 arguments, got 3")),
};

static const struct kt_case math_int_cases[] = {
	KT_CASE("mul", KT_ARGS(KT_INT(6), KT_INT(7)), KT_IS_I64(42)),
	KT_CASE("mul", KT_ARGS(KT_INT(-3), KT_INT(5)), KT_IS_I64(-15)),
	KT_CASE("mul", KT_ARGS(KT_INT(INT64_MAX), KT_INT(2)),
		KT_GUEST_ERROR("mul: integer overflow")),
	KT_CASE("mul", KT_ARGS(KT_F64(1.5), KT_F64(2)),
		KT_GUEST_ERROR("mul: argument 1 must be an integer, got a float")),
	/* fib: uint64 results up to the largest that fits */
	KT_CASE("fib", KT_ARGS(KT_INT(0)), KT_IS_U64(0)),
	KT_CASE("fib", KT_ARGS(KT_INT(1)), KT_IS_U64(1)),
	KT_CASE("fib", KT_ARGS(KT_INT(2)), KT_IS_U64(1)),
	KT_CASE("fib", KT_ARGS(KT_INT(10)), KT_IS_U64(55)),
	KT_CASE("fib", KT_ARGS(KT_INT(50)), KT_IS_U64(12586269025ull)),
	KT_CASE("fib", KT_ARGS(KT_INT(92)), KT_IS_U64(7540113804746346429ull)),
	KT_CASE("fib", KT_ARGS(KT_INT(93)), KT_IS_U64(12200160415121876738ull)),
	KT_CASE("fib", KT_ARGS(KT_INT(94)), KT_GUEST_ERROR("fib: n must be at most 93")),
	KT_CASE("fib", KT_ARGS(KT_INT(-1)),
		KT_GUEST_ERROR("fib: argument 1 must be a non-negative integer, got an integer")),
	KT_CASE("fib_rec", KT_ARGS(KT_INT(20)), KT_IS_U64(6765)),
	KT_CASE("fib_rec", KT_ARGS(KT_INT(0)), KT_IS_U64(0)),
	KT_CASE("fib_rec", KT_ARGS(KT_INT(25)), KT_IS_U64(75025)),
	KT_CASE("fib_rec", KT_ARGS(KT_INT(36)), KT_GUEST_ERROR("fib_rec: n must be at most 35")),
};

/* float functions: IEEE results (sqrt is correctly rounded everywhere). kt_is_f64 of NaN means
 * "a float64 NaN", of INFINITY "a float64 +inf". */
static void math_floats(struct hp_vm *vm)
{
	/* not static: sqrt(2.0) is not a constant expression */
	const struct kt_case math_float_cases[] = {
		KT_CASE2("sqrt", KT_ARGS(KT_F64(2.0)), KT_IS_F64(sqrt(2.0)),
			 KT_IS_F64(1.4142135623730951)),
		KT_CASE("sqrt", KT_ARGS(KT_INT(144)), KT_IS_F64(12.0)),
		KT_CASE("sqrt", KT_ARGS(KT_INT(-1)), KT_IS_F64(NAN)),
		KT_CASE("div", KT_ARGS(KT_F64(1), KT_F64(0)), KT_IS_F64(INFINITY)),
		KT_CASE("div", KT_ARGS(KT_F64(-1), KT_F64(0)), KT_IS_F64(-INFINITY)),
		KT_CASE("div", KT_ARGS(KT_F64(0), KT_F64(0)), KT_IS_F64(NAN)),
		KT_CASE("div", KT_ARGS(KT_INT(7), KT_INT(2)), KT_IS_F64(3.5)),
		KT_CASE("pow", KT_ARGS(KT_F64(2), KT_F64(0.5)), KT_IS_F64(1.4142135623730951)),
		KT_CASE("pow", KT_ARGS(KT_F64(2), KT_F64(10)), KT_IS_F64(1024.0)),
		KT_CASE("pow", KT_ARGS(KT_F64(2), KT_F64(-1)), KT_IS_F64(0.5)),
		KT_CASE("hypot", KT_ARGS(KT_F64(3), KT_F64(4)), KT_IS_F64(5.0)),
		KT_CASE("hypot", KT_ARGS(KT_F64(INFINITY), KT_F64(NAN)), KT_IS_F64(INFINITY)),
	};
	KT_RUN_CASES(vm, math_float_cases);
}

/* stats([numbers]): a map of n, sum, mean, min and max */
static void math_stats(struct hp_vm *vm)
{
	struct kt_call c;
	struct kt_args a;
	msgpack_packer *pk;

	pk = kt_args_begin(&a, 1);
	msgpack_pack_array(pk, 4);
	for (int i = 1; i <= 4; i++)
		msgpack_pack_int64(pk, i);
	kt_call(vm, "stats", &a, &c);
	check_stats(&c, 4, 10, 2.5, 1, 4);
	kt_call_free(&c);
	pk = kt_args_begin(&a, 1);
	msgpack_pack_array(pk, 3);
	msgpack_pack_double(pk, -1.5);
	msgpack_pack_int64(pk, 10);
	msgpack_pack_float(pk, 0.5f);
	kt_call(vm, "stats", &a, &c);
	check_stats(&c, 3, 9, 3, -1.5, 10);
	kt_call_free(&c);
	pk = kt_args_begin(&a, 1);
	msgpack_pack_array(pk, 0);
	kt_call(vm, "stats", &a, &c);
	check_stats(&c, 0, 0, NAN, INFINITY, -INFINITY);
	kt_call_free(&c);
	static const struct kt_case math_stats_errors[] = {
		KT_CASE("stats", KT_ARGS(KT_RAW("\x92\x01\xa1x", 4) /* [1, "x"] */),
			KT_GUEST_ERROR("stats: element 2 is not a number")),
		KT_CASE("stats", KT_ARGS(KT_INT(1)),
			KT_GUEST_ERROR("stats: argument 1 must be an array, got an integer")),
	};
	KT_RUN_CASES(vm, math_stats_errors);
}

static void test_math(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "math", NULL);
	struct hp_vm *vm = kt_create_vm(mod, NULL);

	static const char *const names[] = { "add", "div", "fib", "fib_rec", "hypot",
					     "mul", "pow", "sqrt", "stats" };
	CHECK_EQ_U64(hp_vm_function_count(vm), 9);
	for (uint32_t i = 0; i < 9; i++)
		CHECK_MSG(hp_vm_function_name(vm, i) && strcmp(hp_vm_function_name(vm, i), names[i]) == 0,
			  "function %u is %s, expected %s", i, hp_vm_function_name(vm, i), names[i]);

	KT_RUN_CASES(vm, math_add_cases);
	KT_RUN_CASES(vm, math_int_cases);
	math_floats(vm);
	math_stats(vm);

	hp_vm_destroy(vm);
	hp_module_close(mod);
}

/* --- echo ----------------------------------------------------------------------------------- */

/* Packs one value with `pack`, echoes it, and checks the result is the same bytes and an equal
 * object. */
typedef void (*pack_fn)(msgpack_packer *pk, const void *ctx);

static void echo_roundtrip(struct hp_vm *vm, const char *what, pack_fn pack, const void *ctx,
			   const char *type)
{
	msgpack_sbuffer val;
	msgpack_sbuffer_init(&val);
	msgpack_packer vpk;
	msgpack_packer_init(&vpk, &val, msgpack_sbuffer_write);
	pack(&vpk, ctx);

	struct kt_args a;
	pack(kt_args_begin(&a, 1), ctx);
	struct kt_call c;
	kt_call(vm, "echo", &a, &c);
	CHECK_MSG(kt_output_is(&c, val.data, val.size), "echo(%s): %zu bytes back, %zu sent: %s",
		  what, c.output_len, val.size, kt_describe(&c));
	kt_call_free(&c);

	pack(kt_args_begin(&a, 1), ctx);
	kt_call(vm, "type_of", &a, &c);
	CHECK_MSG(kt_is_cstr(&c, type), "type_of(%s) expected %s: %s", what, type, kt_describe(&c));
	kt_call_free(&c);
	msgpack_sbuffer_destroy(&val);
}

/* ctx is a struct kt_arg */
static void p_arg(msgpack_packer *pk, const void *ctx) { kt_pack_arg(pk, ctx); }

static void p_nested(msgpack_packer *pk, const void *ctx)
{
	int depth = *(const int *)ctx;
	for (int i = 0; i < depth; i++) {
		msgpack_pack_array(pk, 2);
		msgpack_pack_int64(pk, i);
	}
	kt_pack_cstr(pk, "bottom");
}

static void p_map(msgpack_packer *pk, const void *ctx)
{
	(void)ctx;
	msgpack_pack_map(pk, 6);
	msgpack_pack_int64(pk, 1);
	kt_pack_cstr(pk, "one");
	kt_pack_cstr(pk, "two");
	msgpack_pack_int64(pk, 2);
	msgpack_pack_nil(pk);
	msgpack_pack_array(pk, 1);
	msgpack_pack_true(pk);
	msgpack_pack_int64(pk, -5);
	msgpack_pack_double(pk, 1.5);
	msgpack_pack_bin_with_body(pk, "\x00\xff", 2);
	msgpack_pack_false(pk);
	msgpack_pack_map(pk, 1);
	kt_pack_cstr(pk, "k");
	kt_pack_cstr(pk, "v");
	msgpack_pack_uint64(pk, UINT64_MAX);
}

static void p_ext(msgpack_packer *pk, const void *ctx)
{
	(void)ctx;
	msgpack_pack_ext_with_body(pk, "\x01\x02\x03\x04\x05", 5, 42);
}

static void p_ext_neg(msgpack_packer *pk, const void *ctx)
{
	(void)ctx;
	/* type -1 is the msgpack timestamp: 8 bytes */
	msgpack_pack_ext_with_body(pk, "\x00\x00\x00\x01\x00\x00\x00\x02", 8, -1);
}

/* One value for echo_roundtrip: packed as `v`, type_of names it `type`. */
struct echo_value {
	const char *what;
	struct kt_arg v;
	const char *type;
};

/* Scalars, strings and bytes in each of their encodings. */
static void echo_values(struct hp_vm *vm)
{
	/* A quiet NaN with a payload: the bytes must come back unchanged. */
	uint64_t nan_bits = 0x7ff8000000000123ull;
	double nan_payload;
	memcpy(&nan_payload, &nan_bits, sizeof(nan_payload));
	char s300[301];
	memset(s300, 's', 300);
	s300[300] = '\0';
	/* not static: the NaN and the long string are made at run time */
	const struct echo_value values[] = {
		{ "nil", KT_NIL, "nil" },
		{ "true", KT_TRUE, "bool" },
		{ "false", KT_FALSE, "bool" },
		{ "0", KT_INT(0), "uint" },
		{ "1", KT_INT(1), "uint" },
		{ "127", KT_INT(127), "uint" },
		{ "128", KT_INT(128), "uint" },
		{ "255", KT_INT(255), "uint" },
		{ "256", KT_INT(256), "uint" },
		{ "65535", KT_INT(65535), "uint" },
		{ "65536", KT_INT(65536), "uint" },
		{ "INT32_MAX", KT_INT(INT32_MAX), "uint" },
		{ "INT64_MAX", KT_INT(INT64_MAX), "uint" },
		{ "-1", KT_INT(-1), "int" },
		{ "-32", KT_INT(-32), "int" },
		{ "-33", KT_INT(-33), "int" },
		{ "-128", KT_INT(-128), "int" },
		{ "-129", KT_INT(-129), "int" },
		{ "-32768", KT_INT(-32768), "int" },
		{ "-32769", KT_INT(-32769), "int" },
		{ "INT32_MIN", KT_INT(INT32_MIN), "int" },
		{ "INT64_MIN", KT_INT(INT64_MIN), "int" },
		{ "UINT64_MAX", KT_UINT(UINT64_MAX), "uint" },
		{ "1.5", KT_F64(1.5), "float64" },
		{ "-0.0", KT_F64(-0.0), "float64" },
		{ "-inf", KT_F64(-INFINITY), "float64" },
		{ "DBL_TRUE_MIN", KT_F64(DBL_TRUE_MIN), "float64" },
		{ "NaN with payload", KT_F64(nan_payload), "float64" },
		{ "0.25f", KT_F32(0.25f), "float32" },
		{ "empty string", KT_STR(""), "str" },
		{ "utf-8 string", KT_STR("h\xc3\xa9llo \xf0\x9f\x98\x80"), "str" },
		{ "300-byte string", KT_STR(s300), "str" },
		{ "empty bytes", KT_BIN("", 0), "bin" },
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		echo_roundtrip(vm, values[i].what, p_arg, &values[i].v, values[i].type);

	/* the NaN decodes as a NaN, and as that NaN bit for bit */
	struct kt_args a;
	struct kt_call c;
	msgpack_pack_double(kt_args_begin(&a, 1), nan_payload);
	kt_call(vm, "echo", &a, &c);
	CHECK_CALL(&c, kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_FLOAT64 && isnan(c.obj.via.f64));
	CHECK_CALL(&c, kt_is_f64_bits(&c, nan_payload));
	kt_call_free(&c);
}

/* 1 MiB of bytes: every byte compared (kt_output_is compares the whole encoding). */
static void echo_big(struct hp_vm *vm)
{
	size_t big_n = 1u << 20;
	uint8_t *big = malloc(big_n);
	for (size_t i = 0; i < big_n; i++)
		big[i] = (uint8_t)(i * 131 + (i >> 8) * 7 + 1);
	struct kt_arg bigb = KT_BIN(big, big_n);
	echo_roundtrip(vm, "1 MiB bytes", p_arg, &bigb, "bin");
	struct kt_args a;
	struct kt_call c;
	msgpack_pack_bin_with_body(kt_args_begin(&a, 1), big, big_n);
	kt_call(vm, "echo", &a, &c);
	CHECK_CALL(&c, kt_is_bin(&c, big, big_n));
	kt_call_free(&c);
	free(big);
}

/* Nested arrays, a map with keys of every type, ext types. */
static void echo_structured(struct hp_vm *vm)
{
	static const int depth = 20;
	static const struct {
		const char *what;
		pack_fn pack;
		const void *ctx;
		const char *type;
	} values[] = {
		{ "arrays 20 deep", p_nested, &depth, "array" },
		{ "map with mixed keys", p_map, NULL, "map" },
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		echo_roundtrip(vm, values[i].what, values[i].pack, values[i].ctx, values[i].type);
	/* ext reaches a function as an argument, but the host passes no ext on in a result */
	static const pack_fn exts[] = { p_ext, p_ext_neg };
	struct kt_args a;
	struct kt_call c;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		exts[i](kt_args_begin(&a, 1), NULL);
		kt_call(vm, "echo", &a, &c);
		CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_PROTOCOL,
					    "guest result is not one valid msgpack object: ext not "
					    "allowed at offset 0"));
		kt_call_free(&c);
		exts[i](kt_args_begin(&a, 1), NULL);
		kt_call(vm, "type_of", &a, &c);
		CHECK_CALL(&c, kt_is_cstr(&c, "ext"));
		kt_call_free(&c);
	}

	/* The decoded nested value really is 20 arrays deep. */
	p_nested(kt_args_begin(&a, 1), &depth);
	kt_call(vm, "echo", &a, &c);
	const msgpack_object *o = kt_ok(&c) ? &c.obj : NULL;
	int levels = 0;
	while (o && o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 2) {
		CHECK(o->via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		      o->via.array.ptr[0].via.u64 == (uint64_t)levels);
		o = &o->via.array.ptr[1];
		levels++;
	}
	CHECK_EQ_U64(levels, 20);
	CHECK(o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == 6 &&
	      memcmp(o->via.str.ptr, "bottom", 6) == 0);
	kt_call_free(&c);
}

/* echo_all: the argument array itself */
static void echo_all(struct hp_vm *vm)
{
	struct kt_call c;
	struct kt_args a;
	msgpack_packer *pk;

	kt_args_begin(&a, 0);
	kt_call(vm, "echo_all", &a, &c);
	CHECK_CALL(&c, kt_output_is(&c, "\x90", 1));
	kt_call_free(&c);
	pk = kt_args_begin(&a, 5);
	msgpack_pack_nil(pk);
	msgpack_pack_int64(pk, -7);
	kt_pack_cstr(pk, "five");
	msgpack_pack_double(pk, 2.5);
	msgpack_pack_array(pk, 1);
	msgpack_pack_false(pk);
	msgpack_sbuffer copy;
	msgpack_sbuffer_init(&copy);
	msgpack_sbuffer_write(&copy, a.sb.data, a.sb.size);
	kt_call(vm, "echo_all", &a, &c);
	CHECK_CALL(&c, kt_output_is(&c, copy.data, copy.size));
	CHECK_CALL(&c, kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_ARRAY && c.obj.via.array.size == 5);
	kt_call_free(&c);
	msgpack_sbuffer_destroy(&copy);
}

static void test_echo(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "echo", NULL);
	struct hp_vm *vm = kt_create_vm(mod, NULL);

	echo_values(vm);
	echo_big(vm);
	echo_structured(vm);
	echo_all(vm);
	/* argument count errors */
	static const struct kt_case echo_count_errors[] = {
		KT_CASE("echo", KT_NOARGS, KT_GUEST_ERROR("echo: expected 1 argument, got 0")),
		KT_CASE("type_of", KT_ARGS(KT_INT(1), KT_INT(2)),
			KT_GUEST_ERROR("type_of: expected 1 argument, got 2")),
	};
	KT_RUN_CASES(vm, echo_count_errors);

	hp_vm_destroy(vm);
	hp_module_close(mod);
}

/* --- strings -------------------------------------------------------------------------------- */

/* length: bytes of a string or bin; crc32: the standard check value */
static const struct kt_case strings_cases[] = {
	KT_CASE("length", KT_ARGS(KT_STR("h\xc3\xa9llo\xf0\x9f\x98\x80")), KT_IS_U64(10)),
	KT_CASE("length", KT_ARGS(KT_STR("")), KT_IS_U64(0)),
	KT_CASE("length", KT_ARGS(KT_BIN("\0\0\0", 3)), KT_IS_U64(3)),
	KT_CASE("length", KT_ARGS(KT_INT(5)),
		KT_GUEST_ERROR("length: argument 1 must be a string, got an integer")),
	KT_CASE("upper", KT_ARGS(KT_INT(5)),
		KT_GUEST_ERROR("upper: argument 1 must be a string, got an integer")),
	KT_CASE("crc32", KT_ARGS(KT_STR("123456789")), KT_IS_U64(0xCBF43926u)),
	KT_CASE("crc32", KT_ARGS(KT_STR("")), KT_IS_U64(0)),
	KT_CASE("crc32", KT_ARGS(KT_STR("The quick brown fox jumps over the lazy dog")),
		KT_IS_U64(0x414FA339u)),
	KT_CASE("crc32", KT_NOARGS, KT_GUEST_ERROR("crc32: expected 1 argument, got 0")),
};

/* sha256: standard vectors, then sizes around the padding boundary and 1 MiB, all against the
 * host implementation */
static void strings_sha256(struct hp_vm *vm)
{
	struct kt_call c;
	struct kt_args a;
	uint8_t want[32];

	static const struct {
		struct kt_arg args[KT_MAX_ARGS];
		const char *digest;
	} vectors[] = {
		{ KT_ARGS(KT_STR("abc")), SHA256_ABC },
		{ KT_ARGS(KT_STR("")), SHA256_EMPTY },
		{ KT_ARGS(KT_BIN("", 0)), SHA256_EMPTY },
	};
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		hex_to_bytes(vectors[i].digest, want, 32);
		kt_call_args(vm, "sha256", vectors[i].args, &c);
		CHECK_CALL(&c, kt_is_bin(&c, want, 32));
		kt_call_free(&c);
	}

	size_t big_n = 1u << 20;
	uint8_t *big = malloc(big_n);
	for (size_t i = 0; i < big_n; i++)
		big[i] = (uint8_t)((i * 2654435761u) >> 13);
	static const size_t sizes[] = { 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 4097,
					1u << 20 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		host_sha256(big, sizes[i], want);
		msgpack_pack_bin_with_body(kt_args_begin(&a, 1), big, sizes[i]);
		kt_call(vm, "sha256", &a, &c);
		CHECK_MSG(kt_is_bin(&c, want, 32), "sha256 of %zu bytes: %s", sizes[i], kt_describe(&c));
		kt_call_free(&c);
	}
	free(big);
}

static void test_strings(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "strings", NULL);
	struct hp_vm *vm = kt_create_vm(mod, NULL);
	struct kt_call c;

	static const char *const cases[][4] = {
		/* input, upper, lower, reverse */
		{ "Hello, World!", "HELLO, WORLD!", "hello, world!", "!dlroW ,olleH" },
		{ "", "", "", "" },
		{ "a", "A", "a", "a" },
		{ "abc123XYZ", "ABC123XYZ", "abc123xyz", "ZYX321cba" },
		/* UTF-8: upper/lower touch ASCII only; reverse keeps each code point's bytes */
		{ "h\xc3\xa9llo\xf0\x9f\x98\x80", "H\xc3\xa9LLO\xf0\x9f\x98\x80",
		  "h\xc3\xa9llo\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80oll\xc3\xa9h" },
		{ "\xc3\x89T\xc3\x89", "\xc3\x89T\xc3\x89", "\xc3\x89t\xc3\x89", "\xc3\x89T\xc3\x89" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static const char *const fns[] = { "upper", "lower", "reverse" };
		for (int k = 0; k < 3; k++) {
			kt_call_s(vm, fns[k], cases[i][0], &c);
			CHECK_MSG(kt_is_cstr(&c, cases[i][k + 1]), "%s(case %zu): %s", fns[k], i,
				  kt_describe(&c));
			kt_call_free(&c);
		}
	}
	/* an invalid sequence (lone continuation byte) stays as bytes in the guest, so the result
	 * is a str that is not UTF-8: the host refuses it */
	for (int k = 0; k < 3; k++) {
		static const char *const fns[] = { "upper", "lower", "reverse" };
		kt_call_s(vm, fns[k], "a\x80z", &c);
		CHECK_MSG(kt_is_status(&c, -1, HP_E_GUEST_PROTOCOL, "invalid UTF-8 in a str at offset 2"),
			  "%s(a\\x80z): %s", fns[k], kt_describe(&c));
		kt_call_free(&c);
	}
	kt_call_s(vm, "upper", "ok", &c);
	CHECK_CALL(&c, kt_is_cstr(&c, "OK"));
	kt_call_free(&c);
	KT_RUN_CASES(vm, strings_cases);
	strings_sha256(vm);

	hp_vm_destroy(vm);
	hp_module_close(mod);
}

/* --- records ------------------------------------------------------------------------------ */

static void pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	kt_pack_cstr(pk, k);
	kt_pack_cstr(pk, v);
}

/* enrich: the expected bytes are packed by hand here, not by examples/records/enrich.h. */
static void records_enrich(struct hp_vm *vm)
{
	struct kt_args a;
	struct kt_call c;
	msgpack_packer *pk = kt_args_begin(&a, 1);
	msgpack_pack_array(pk, 4);
	msgpack_pack_map(pk, 3); /* name, qty (uint), price (float) */
	pack_kv_str(pk, "name", "ab c-\xc3\xa9");
	kt_pack_cstr(pk, "qty"), msgpack_pack_int(pk, 2);
	kt_pack_cstr(pk, "price"), msgpack_pack_double(pk, 1.25);
	msgpack_pack_map(pk, 2); /* no price: no total */
	pack_kv_str(pk, "name", "x");
	kt_pack_cstr(pk, "qty"), msgpack_pack_int(pk, 3);
	msgpack_pack_map(pk, 3); /* a negative qty, an integer price, a name that is not a str */
	kt_pack_cstr(pk, "name"), msgpack_pack_int(pk, 9);
	kt_pack_cstr(pk, "qty"), msgpack_pack_int(pk, -4);
	kt_pack_cstr(pk, "price"), msgpack_pack_int(pk, 5);
	msgpack_pack_map(pk, 0);

	struct kt_args w;
	msgpack_packer *wp = kt_args_begin(&w, 4);
	msgpack_pack_map(wp, 4);
	pack_kv_str(wp, "name", "AB C-\xc3\xa9");
	kt_pack_cstr(wp, "qty"), msgpack_pack_int(wp, 2);
	kt_pack_cstr(wp, "price"), msgpack_pack_double(wp, 1.25);
	kt_pack_cstr(wp, "total"), msgpack_pack_double(wp, 2.5);
	msgpack_pack_map(wp, 2);
	pack_kv_str(wp, "name", "X");
	kt_pack_cstr(wp, "qty"), msgpack_pack_int(wp, 3);
	msgpack_pack_map(wp, 4);
	kt_pack_cstr(wp, "name"), msgpack_pack_int(wp, 9);
	kt_pack_cstr(wp, "qty"), msgpack_pack_int(wp, -4);
	kt_pack_cstr(wp, "price"), msgpack_pack_int(wp, 5);
	kt_pack_cstr(wp, "total"), msgpack_pack_double(wp, -20.0);
	msgpack_pack_map(wp, 0);

	kt_call(vm, "enrich", &a, &c);
	CHECK_CALL(&c, kt_output_is(&c, w.sb.data, w.sb.size));
	kt_call_free(&c);
	msgpack_sbuffer_destroy(&w.sb);

	/* the benchmark's size: 16 KiB of records in, every one enriched */
	pk = kt_args_begin(&a, 1);
	msgpack_pack_array(pk, 200);
	for (int i = 0; i < 200; i++) {
		char name[64];
		snprintf(name, sizeof(name), "item-%03d-abcdefghijklmnopqrstuvwxyz-abcdefghij", i);
		msgpack_pack_map(pk, 3);
		pack_kv_str(pk, "name", name);
		kt_pack_cstr(pk, "qty"), msgpack_pack_int(pk, i);
		kt_pack_cstr(pk, "price"), msgpack_pack_double(pk, 0.5);
	}
	size_t in_len = a.sb.size;
	CHECK(in_len > 12000 && in_len < 20000);
	kt_call(vm, "enrich", &a, &c);
	CHECK_CALL(&c, c.rc == 0 && c.status == HP_OK && c.output_len > in_len);
	kt_call_free(&c);
}

static const struct kt_case records_cases[] = {
	KT_CASE("enrich", KT_ARGS(KT_INT(5)),
		KT_GUEST_ERROR("enrich: argument 1 must be an array, got an integer")),
	KT_CASE("enrich", KT_NOARGS, KT_GUEST_ERROR("enrich: expected 1 argument, got 0")),
};

static void test_records(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "records", NULL);
	struct hp_vm *vm = kt_create_vm(mod, NULL);
	records_enrich(vm);
	KT_RUN_CASES(vm, records_cases);
	/* an array of something else than maps */
	struct kt_args a;
	struct kt_call c;
	msgpack_packer *pk = kt_args_begin(&a, 1);
	msgpack_pack_array(pk, 2);
	msgpack_pack_map(pk, 0);
	msgpack_pack_int(pk, 1);
	kt_call(vm, "enrich", &a, &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_GUEST_ERROR, "enrich: every record must be a map"));
	kt_call_free(&c);
	hp_vm_destroy(vm);
	hp_module_close(mod);
}

/* --- calc ----------------------------------------------------------------------------------- */

static void eval_ok(struct hp_vm *vm, const char *expr, double want)
{
	struct kt_call c;
	kt_call_s(vm, "eval", expr, &c);
	CHECK_MSG(kt_is_f64(&c, want), "eval(\"%s\") expected %.17g: %s", expr, want, kt_describe(&c));
	kt_call_free(&c);
}

static void eval_err(struct hp_vm *vm, const char *expr, const char *msg)
{
	struct kt_call c;
	kt_call_s(vm, "eval", expr, &c);
	CHECK_MSG(kt_is_status(&c, 0, HP_E_GUEST_ERROR, "eval: ") &&
			  kt_is_status(&c, 0, HP_E_GUEST_ERROR, msg),
		  "eval(\"%s\") expected error \"%s\": %s", expr, msg, kt_describe(&c));
	kt_call_free(&c);
}

/* expressions and their values */
static const struct {
	const char *expr;
	double want;
} calc_values[] = {
	{ "1 + 2", 3.0 },
	{ "2 * (3 + 4) ^ 2 - sqrt(16)", 94.0 },
	{ "1 / 4", 0.25 },
	{ "1 / 3", 1.0 / 3.0 },
	{ "0.1 + 0.2", 0.1 + 0.2 },
	{ "7 % 3", 1.0 },
	{ "-2 ^ 2", -4.0 },
	{ "2 ^ 3 ^ 2", 512.0 },
	{ "--3", 3.0 },
	{ "+5 - -5", 10.0 },
	{ "2e3 + 1.5e-1", 2000.15 },
	{ ".5 * 4", 2.0 },
	{ "max(3, 7) + min(1, 2)", 8.0 },
	{ "abs(-2.5) + floor(1.9) + ceil(1.1)", 5.5 },
	{ "hypot(5, 12)", 13.0 },
	{ "pow(2, 10)", 1024.0 },
	{ "pi", M_PI },
	{ "e", M_E },
	{ "ln(1) + exp(0) + sin(0) + cos(0)", 2.0 },
	{ "1 / 0", INFINITY },
	{ "  ( ( 42 ) )  ", 42.0 },
};

/* syntax errors: GUEST_ERROR with "eval: " and the reason (and offset) */
static const struct {
	const char *expr;
	const char *msg;
} calc_errors[] = {
	{ "", "unexpected end of expression at offset 0" },
	{ "1 +", "unexpected end of expression at offset 3" },
	{ "(1", "expected ')'" },
	{ "1 2", "unexpected trailing input at offset 2" },
	{ "1 $ 2", "unexpected trailing input" },
	{ "$", "unexpected character at offset 0" },
	{ "foo", "unknown variable" },
	{ "foo(1)", "unknown function" },
	{ "sqrt(1, 2)", "wrong number of arguments" },
	{ "max(1, 2, 3)", "too many arguments" },
};

/* variables from a map */
static void calc_variables(struct hp_vm *vm)
{
	struct kt_call c;
	struct kt_args a;
	msgpack_packer *pk;

	pk = kt_args_begin(&a, 2);
	kt_pack_cstr(pk, "x * y + 1");
	msgpack_pack_map(pk, 2);
	kt_pack_cstr(pk, "x");
	msgpack_pack_int64(pk, 2);
	kt_pack_cstr(pk, "y");
	msgpack_pack_int64(pk, 20);
	kt_call(vm, "eval", &a, &c);
	CHECK_CALL(&c, kt_is_f64(&c, 41.0));
	kt_call_free(&c);
	pk = kt_args_begin(&a, 2);
	kt_pack_cstr(pk, "rate * hours - tax_1");
	msgpack_pack_map(pk, 3);
	kt_pack_cstr(pk, "rate");
	msgpack_pack_double(pk, 12.5);
	kt_pack_cstr(pk, "hours");
	msgpack_pack_int64(pk, -4);
	kt_pack_cstr(pk, "tax_1");
	msgpack_pack_float(pk, 0.5f);
	kt_call(vm, "eval", &a, &c);
	CHECK_CALL(&c, kt_is_f64(&c, -50.5));
	kt_call_free(&c);
	pk = kt_args_begin(&a, 2);
	kt_pack_cstr(pk, "x + 1");
	msgpack_pack_map(pk, 1);
	kt_pack_cstr(pk, "x");
	kt_pack_cstr(pk, "two");
	kt_call(vm, "eval", &a, &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_GUEST_ERROR, "eval: variable is not a number"));
	kt_call_free(&c);
}

static void test_calc(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "calc", NULL);
	struct hp_vm *vm = kt_create_vm(mod, NULL);
	struct kt_call c;

	for (size_t i = 0; i < sizeof(calc_values) / sizeof(calc_values[0]); i++)
		eval_ok(vm, calc_values[i].expr, calc_values[i].want);
	calc_variables(vm);
	for (size_t i = 0; i < sizeof(calc_errors) / sizeof(calc_errors[0]); i++)
		eval_err(vm, calc_errors[i].expr, calc_errors[i].msg);
	char deep[1000];
	size_t n = 0;
	for (int i = 0; i < 300; i++)
		deep[n++] = '(';
	deep[n++] = '1';
	for (int i = 0; i < 300; i++)
		deep[n++] = ')';
	deep[n] = '\0';
	eval_err(vm, deep, "expression nested too deeply");
	kt_call_i(vm, "eval", 1, &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_GUEST_ERROR,
				    "eval: argument 1 must be a string, got an integer"));
	kt_call_free(&c);
	/* still fine after all the errors */
	eval_ok(vm, "6 * 7", 42.0);

	hp_vm_destroy(vm);
	hp_module_close(mod);
}

/* --- many: 100 + 1 functions ---------------------------------------------------------------- */

static void test_many(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "many", NULL);
	struct hp_vm *vm = kt_create_vm(mod, NULL);
	struct kt_call c;
	struct kt_args a;

	CHECK_EQ_U64(hp_vm_function_count(vm), 101);
	CHECK(hp_vm_function_name(vm, 0) && strcmp(hp_vm_function_name(vm, 0), "count_args") == 0);
	for (uint32_t i = 1; i < hp_vm_function_count(vm); i++) {
		const char *prev = hp_vm_function_name(vm, i - 1), *cur = hp_vm_function_name(vm, i);
		CHECK_MSG(prev && cur && strcmp(prev, cur) < 0, "names %u, %u not sorted: %s, %s",
			  i - 1, i, prev, cur);
		char want[16];
		snprintf(want, sizeof(want), "f%03u", i - 1);
		CHECK_MSG(cur && strcmp(cur, want) == 0, "name %u is %s, expected %s", i, cur, want);
	}
	CHECK(hp_vm_function_name(vm, 101) == NULL);
	for (int i = 0; i < 100; i++) {
		char name[8];
		snprintf(name, sizeof(name), "f%03d", i);
		kt_call0(vm, name, &c);
		CHECK_MSG(kt_is_i64(&c, i), "%s: %s", name, kt_describe(&c));
		kt_call_free(&c);
	}
	/* and in a scattered order */
	for (int i = 0; i < 300; i++) {
		int k = (i * 37 + 11) % 100;
		char name[8];
		snprintf(name, sizeof(name), "f%03d", k);
		kt_call0(vm, name, &c);
		CHECK_MSG(kt_is_i64(&c, k), "%s: %s", name, kt_describe(&c));
		kt_call_free(&c);
	}
	static const uint32_t counts[] = { 0, 1, 3, 100, 70000 };
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		msgpack_packer *pk = kt_args_begin(&a, counts[i]);
		for (uint32_t k = 0; k < counts[i]; k++)
			msgpack_pack_uint32(pk, k);
		kt_call(vm, "count_args", &a, &c);
		CHECK_MSG(kt_is_i64(&c, counts[i]), "count_args(%u args): %s", counts[i], kt_describe(&c));
		kt_call_free(&c);
	}
	/* near misses of registered names */
	static const char *const misses[] = { "f100", "f00", "f0000", "F000", "count_arg", "count_argss" };
	for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
		kt_call0(vm, misses[i], &c);
		char want[64];
		snprintf(want, sizeof(want), "no function named '%s'", misses[i]);
		CHECK_MSG(kt_is_status(&c, 0, HP_E_NO_SUCH_FUNCTION, want), "%s: %s", misses[i],
			  kt_describe(&c));
		kt_call_free(&c);
	}

	hp_vm_destroy(vm);
	hp_module_close(mod);
}

/* --- many calls in one VM ------------------------------------------------------------------- */

static void test_many_calls(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "math", NULL);
	struct hp_vm *vm = kt_create_vm(mod, NULL);
	struct kt_call c;
	int bad = 0;
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 1000; i++) {
		/* xorshift values spread over int32, so the sum never overflows int64 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int64_t p = (int32_t)(uint32_t)x, q = (int32_t)(uint32_t)(x >> 32);
		if (i % 3 == 0)
			q = -q;
		kt_call_ii(vm, "add", p, q, &c);
		if (!kt_is_i64(&c, p + q)) {
			if (bad++ < 5)
				CHECK_MSG(0, "call %d: add(%" PRId64 ", %" PRId64 "): %s", i, p, q,
					  kt_describe(&c));
		}
		kt_call_free(&c);
	}
	CHECK_MSG(bad == 0, "%d of 1000 calls wrong", bad);

	/* Alternate functions and floats in the same VM too. */
	bad = 0;
	for (int i = 0; i < 200; i++) {
		kt_call_ff(vm, "add", i * 0.5, 0.25, &c);
		bad += !kt_is_f64(&c, i * 0.5 + 0.25);
		kt_call_free(&c);
		kt_call_i(vm, "fib", i % 94, &c);
		bad += !kt_ok(&c);
		kt_call_free(&c);
	}
	CHECK_MSG(bad == 0, "%d of 400 mixed calls wrong", bad);
	hp_vm_destroy(vm);
	hp_module_close(mod);
}

int main(int argc, char **argv)
{
	kt_parse_args(argc, argv);
	test_host_sha256();
	struct hp_kvm *kvm = kt_open_kvm();
	test_hello(kvm);
	test_math(kvm);
	test_echo(kvm);
	test_strings(kvm);
	test_calc(kvm);
	test_records(kvm);
	test_many(kvm);
	test_many_calls(kvm);
	hp_kvm_close(kvm);
	CHECK_DONE();
}
