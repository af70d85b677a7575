/* misc - functions that misbehave on purpose (errors, aborts, faults) and functions that stress
 * the runtime (output, heap, stack, libm), for the kvm test suite.
 *
 *   fail(s)               error "fail: S"
 *   do_abort()            abort()
 *   do_assert(i)          assert(i == 1), returns i
 *   panic()               hp_panic("panic: 42")
 *   null_read()           reads address 0
 *   write_text()          writes into its own code
 *   printf_mix(n)         n lines "line I out|err" alternating stdout (even I) / stderr (odd I)
 *                         with printf/fprintf, then one stdout line of LONG_LINE (20000) bytes,
 *                         byte i = 'a' + i % 26, and "\n" (longer than the log buffer, so it is
 *                         flushed in pieces); returns n
 *   big_output(n)         bin of n bytes, byte i = (i * 7 + 3) & 0xff
 *   malloc_many(n, k)     n blocks of k bytes, block b filled with (b + j) & 0xff; returns the
 *                         sum of every byte
 *   recurse(n)            recursion of depth n with a 256-byte local array per frame; returns n
 *   sse(x)                sqrt(x) + sin(x) as a float (libm, SSE registers)
 *   print_fault()         printf("before fault\n") (still buffered) then reads address 0
 *   counter()             increments a static counter and returns it: 1 on every call if the
 *                         VM is reset to its post-init state between calls
 *   leak(k)               mallocs k bytes, never frees them, returns k
 */
#include <assert.h>
#include <hyperpool/guest.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const hp_args *args, hp_out *out)
{
	const char *s;
	size_t n;
	if (hp_args_expect(args, out, "s") < 0)
		return -1;
	hp_arg_str(args, 0, &s, &n);
	return hp_error(out, "fail: %.*s", (int)n, s);
}

static int do_abort(const hp_args *args, hp_out *out)
{
	(void)args;
	(void)out;
	abort();
}

static int do_assert(const hp_args *args, hp_out *out)
{
	int64_t v;
	if (hp_args_expect(args, out, "i") < 0)
		return -1;
	hp_arg_i64(args, 0, &v);
	assert(v == 1);
	return hp_ret_i64(out, v);
}

static int panic(const hp_args *args, hp_out *out)
{
	(void)args;
	(void)out;
	hp_panic("panic: %d", 42);
}

/* Through a volatile so the compiler cannot see the null pointer and emit a trap instead. */
static volatile uintptr_t null_addr = 0;

static int null_read(const hp_args *args, hp_out *out)
{
	(void)args;
	return hp_ret_i64(out, *(volatile int *)null_addr);
}

static int write_text(const hp_args *args, hp_out *out)
{
	(void)args;
	volatile unsigned char *p = (volatile unsigned char *)(uintptr_t)write_text;
	*p = 0xc3;
	return hp_ret_nil(out);
}

#define LONG_LINE 20000

static int printf_mix(const hp_args *args, hp_out *out)
{
	int64_t n;
	if (hp_args_expect(args, out, "i") < 0)
		return -1;
	hp_arg_i64(args, 0, &n);
	if (n < 0 || n > 100000)
		return hp_error(out, "printf_mix: n must be in 0..100000");
	for (int64_t i = 0; i < n; i++) {
		if (i % 2 == 0)
			printf("line %lld out\n", (long long)i);
		else
			fprintf(stderr, "line %lld err\n", (long long)i);
	}
	static char line[LONG_LINE + 1];
	for (int i = 0; i < LONG_LINE; i++)
		line[i] = (char)('a' + i % 26);
	line[LONG_LINE] = '\0';
	printf("%s\n", line);
	return hp_ret_i64(out, n);
}

static int big_output(const hp_args *args, hp_out *out)
{
	uint64_t n;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &n);
	if (n > 64u << 20)
		return hp_error(out, "big_output: n must be at most 64 MiB");
	/* Packed piecewise so the payload need not fit the heap; the output buffer bounds it. */
	msgpack_packer *pk = hp_out_packer(out);
	if (msgpack_pack_bin(pk, n) < 0)
		return -1;
	unsigned char chunk[4096];
	for (uint64_t off = 0; off < n; off += sizeof(chunk)) {
		size_t k = n - off < sizeof(chunk) ? (size_t)(n - off) : sizeof(chunk);
		for (size_t i = 0; i < k; i++)
			chunk[i] = (unsigned char)(((off + i) * 7 + 3) & 0xff);
		if (msgpack_pack_bin_body(pk, chunk, k) < 0)
			return -1;
	}
	return 0;
}

static int malloc_many(const hp_args *args, hp_out *out)
{
	uint64_t n, k;
	if (hp_args_expect(args, out, "uu") < 0)
		return -1;
	hp_arg_u64(args, 0, &n);
	hp_arg_u64(args, 1, &k);
	if (n > 1000000 || k > (64u << 20))
		return hp_error(out, "malloc_many: n or k too large");
	unsigned char **blocks = malloc((n ? n : 1) * sizeof(*blocks));
	if (!blocks)
		return hp_error(out, "malloc_many: out of memory for the block table");
	for (uint64_t b = 0; b < n; b++) {
		blocks[b] = malloc(k ? k : 1);
		if (!blocks[b])
			return hp_error(out, "malloc_many: out of memory at block %llu",
					(unsigned long long)b);
		for (uint64_t j = 0; j < k; j++)
			blocks[b][j] = (unsigned char)((b + j) & 0xff);
	}
	uint64_t sum = 0;
	for (uint64_t b = 0; b < n; b++) {
		for (uint64_t j = 0; j < k; j++)
			sum += blocks[b][j];
		free(blocks[b]);
	}
	free(blocks);
	return hp_ret_u64(out, sum);
}

static __attribute__((noinline)) uint64_t rec(uint64_t n, volatile unsigned char *prev)
{
	volatile unsigned char local[256];
	for (size_t i = 0; i < sizeof(local); i++)
		local[i] = (unsigned char)(n + i);
	if (prev)
		local[0] ^= prev[0];
	if (n <= 1)
		return 1 + (local[255] & 0);
	return 1 + rec(n - 1, local);
}

static int recurse(const hp_args *args, hp_out *out)
{
	uint64_t n;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &n);
	if (n == 0)
		return hp_ret_u64(out, 0);
	return hp_ret_u64(out, rec(n, NULL));
}

static int sse(const hp_args *args, hp_out *out)
{
	double x;
	if (hp_args_expect(args, out, "f") < 0)
		return -1;
	hp_arg_f64(args, 0, &x);
	return hp_ret_f64(out, sqrt(x) + sin(x));
}

static int print_fault(const hp_args *args, hp_out *out)
{
	(void)args;
	printf("before fault\n");
	return hp_ret_i64(out, *(volatile int *)null_addr);
}

static int count;

static int counter(const hp_args *args, hp_out *out)
{
	(void)args;
	return hp_ret_i64(out, ++count);
}

static int leak(const hp_args *args, hp_out *out)
{
	uint64_t k;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &k);
	unsigned char *p = malloc(k ? k : 1);
	if (!p)
		return hp_error(out, "leak: out of memory for %llu bytes", (unsigned long long)k);
	memset(p, 0xab, k);
	return hp_ret_u64(out, k);
}

HP_MODULE_INIT()
{
	hp_register("fail", fail);
	hp_register("do_abort", do_abort);
	hp_register("do_assert", do_assert);
	hp_register("panic", panic);
	hp_register("null_read", null_read);
	hp_register("write_text", write_text);
	hp_register("printf_mix", printf_mix);
	hp_register("big_output", big_output);
	hp_register("malloc_many", malloc_many);
	hp_register("recurse", recurse);
	hp_register("sse", sse);
	hp_register("print_fault", print_fault);
	hp_register("counter", counter);
	hp_register("leak", leak);
}
