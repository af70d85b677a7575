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
 *   raw_result(s)         ends the call with status OK and the output bytes of case s, as they
 *                         are (the host must check them): "two_objects" 01 02, "truncated"
 *                         92 01, "huge_array" dd ff ff ff ff, "huge_str" a str32 header of
 *                         100 MiB and 3 bytes, "deep" 10,000 x 91 then c0, "deep32" and
 *                         "deep33" 32 and 33 x 91 then c0, "bad_utf8" a3 61 ff 62, "ext" d4 01 00, "valid" [1, "é"]
 *   bad_message()         error "bad \xff\xfe end \xc0\xaf" (not UTF-8)
 *   bad_panic()           hp_panic("caf\xc3\xa9 \xff \x1b[0m") (UTF-8, a bad byte, ESC)
 */
#include <assert.h>
#include <hyperpool/guest.h>
#include "arch_guest.h" /* hp_arch_hypercall: guest/arch/<arch>/, on the guest include path */
#include "hp_abi.h"
#include "hp_status.h"
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

/* Appends bytes as they are: msgpack_pack_bin_body writes its argument without a header. */
static int put_raw(hp_out *out, const void *bytes, size_t n)
{
	return msgpack_pack_bin_body(hp_out_packer(out), bytes, n) < 0 ? -1 : 0;
}

static int put_nested(hp_out *out, int levels)
{
	for (int i = 0; i < levels; i++)
		if (put_raw(out, "\x91", 1) < 0)
			return -1;
	return put_raw(out, "\xc0", 1);
}

static int raw_result(const hp_args *args, hp_out *out)
{
	static const struct {
		const char *name;
		const char *bytes;
		size_t len;
	} crafted[] = {
		{ "two_objects", "\x01\x02", 2 },
		{ "truncated", "\x92\x01", 2 },
		{ "huge_array", "\xdd\xff\xff\xff\xff", 5 },
		{ "huge_str", "\xdb\x06\x40\x00\x00" "abc", 8 },
		{ "bad_utf8", "\xa3" "a\xff" "b", 4 },
		{ "ext", "\xd4\x01\x00", 3 },
		{ "valid", "\x92\x01\xa2\xc3\xa9", 5 },
	};
	const char *s;
	size_t n;
	if (hp_args_expect(args, out, "s") < 0)
		return -1;
	hp_arg_str(args, 0, &s, &n);
	if (n == 4 && !memcmp(s, "deep", 4))
		return put_nested(out, 10000);
	if (n == 6 && !memcmp(s, "deep32", 6))
		return put_nested(out, 32);
	if (n == 6 && !memcmp(s, "deep33", 6))
		return put_nested(out, 33);
	for (size_t i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++)
		if (strlen(crafted[i].name) == n && !memcmp(s, crafted[i].name, n))
			return put_raw(out, crafted[i].bytes, crafted[i].len);
	return hp_error(out, "raw_result: no case '%.*s'", (int)n, s);
}

static int bad_message(const hp_args *args, hp_out *out)
{
	(void)args;
	return hp_error(out, "%s", "bad \xff\xfe end \xc0\xaf");
}

static int bad_panic(const hp_args *args, hp_out *out)
{
	(void)args;
	(void)out;
	hp_panic("%s", "caf\xc3\xa9 \xff \x1b[0m");
}

/* --- host calls (tests/kvm/test_hostcall.c) --------------------------------------------------- */

#define HCB ((volatile struct hp_call_block *)HP_GPA_CONTROL)

/* The runtime's own hypercall (arch_guest.h, on every guest include path): the store only. */
static void raw_hostcall(void)
{
	hp_arch_hypercall(HP_HC_HOST_CALL);
}

/* host(name, args) -> [status, result or message]: the host function's answer as it came. */
static int host(const hp_args *args, hp_out *out)
{
	const char *name;
	size_t name_len;
	if (hp_args_expect(args, out, "sa") < 0)
		return -1;
	hp_arg_str(args, 0, &name, &name_len);
	char cname[64];
	if (name_len >= sizeof(cname))
		return hp_error(out, "host: name too long");
	memcpy(cname, name, name_len);
	cname[name_len] = 0;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, *hp_arg(args, 1));
	const uint8_t *reply;
	size_t len;
	int status = hp_host_call(cname, sb.data, sb.size, &reply, &len);
	msgpack_sbuffer_destroy(&sb);
	msgpack_packer *o = hp_out_packer(out);
	msgpack_pack_array(o, 2);
	msgpack_pack_int(o, status);
	if (status != HP_OK) {
		msgpack_pack_str(o, len);
		return msgpack_pack_str_body(o, reply, len);
	}
	msgpack_zone zone;
	msgpack_zone_init(&zone, 2048);
	msgpack_object obj;
	size_t off = 0;
	if (msgpack_unpack((const char *)reply, len, &off, &zone, &obj) != MSGPACK_UNPACK_SUCCESS) {
		msgpack_zone_destroy(&zone);
		return hp_error(out, "host: the host's result is not msgpack");
	}
	int rc = msgpack_pack_object(o, obj);
	msgpack_zone_destroy(&zone);
	return rc;
}

/* host_many(n): n host calls of "time" in one call. */
static int host_many(const hp_args *args, hp_out *out)
{
	uint64_t n;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &n);
	static const uint8_t none[] = { 0x90 };
	uint64_t ok = 0;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *reply;
		size_t len;
		ok += hp_host_call("time", none, 1, &reply, &len) == HP_OK;
	}
	return hp_ret_u64(out, ok);
}

/* Hostile host calls made by hand. */
static int host_bad_addr(const hp_args *args, hp_out *out)
{
	(void)args;
	(void)out;
	HCB->host_req_addr = HP_GPA_CORE_TEXT; /* supervisor memory */
	HCB->host_req_len = 16;
	raw_hostcall();
	return hp_ret_nil(out);
}

static int host_huge(const hp_args *args, hp_out *out)
{
	(void)args;
	HCB->host_req_addr = HP_GPA_INPUT;
	HCB->host_req_len = 0xfffffff0u;
	raw_hostcall();
	return hp_ret_nil(out);
}

static int host_garbage(const hp_args *args, hp_out *out)
{
	(void)args;
	static uint8_t req[8] = { 0x92, 0xa1, 'x', 0xc1 };
	HCB->host_req_addr = (uint64_t)(uintptr_t)req;
	HCB->host_req_len = sizeof(req);
	raw_hostcall();
	return hp_ret_nil(out);
}

/* peek_input(offset, n): n bytes of the input buffer (what a host call's answer left there). */
static int peek_input(const hp_args *args, hp_out *out)
{
	uint64_t off, n;
	if (hp_args_expect(args, out, "uu") < 0)
		return -1;
	hp_arg_u64(args, 0, &off);
	hp_arg_u64(args, 1, &n);
	if (off > HCB->input_size || n > HCB->input_size - off)
		return hp_error(out, "peek_input: outside the input buffer");
	return hp_ret_bin(out, (const void *)(uintptr_t)(HP_GPA_INPUT + off), n);
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
	hp_register("raw_result", raw_result);
	hp_register("bad_message", bad_message);
	hp_register("bad_panic", bad_panic);
	hp_register("host", host);
	hp_register("host_many", host_many);
	hp_register("host_bad_addr", host_bad_addr);
	hp_register("host_huge", host_huge);
	hp_register("host_garbage", host_garbage);
	hp_register("peek_input", peek_input);
}
