/* test_guest_output.c - the host's reading of what a guest leaves: call results (one valid
 * msgpack object, or an error message made valid UTF-8), log records, abort messages and the
 * function list, fed valid and hostile bytes. */
#include <stdlib.h>

#include "check.h"
#include "guest_output.h"
#include "hp_mpscan.h"

#define FFFD "\xef\xbf\xbd"

/* An exact-size heap copy, so ASan sees any read past the end. */
static uint8_t *copy_of(const void *b, size_t n, size_t size)
{
	uint8_t *c = calloc(1, size ? size : 1);
	if (!c)
		abort();
	memcpy(c, b, n);
	return c;
}

/* --- results -------------------------------------------------------------------------------- */

struct result_case {
	const char *name;
	uint32_t status;      /* what the guest writes in the call block */
	const char *bytes;    /* its output */
	size_t len;           /* output_len */
	uint64_t output_size; /* 0: 4096 */
	int rc;
	const char *expect; /* rc 0: the reply's bytes (the sanitized message for errors);
			     * rc -1: a substring of err.message */
	size_t expect_len;
};

#define S(lit) lit, sizeof(lit) - 1
#define PASS(lit) 0, lit, sizeof(lit) - 1
#define REFUSED(msg) -1, msg, 0

static const struct result_case result_cases[] = {
	/* HP_OK: exactly one object within the limits */
	{ "nil", HP_OK, S("\xc0"), 0, PASS("\xc0") },
	{ "[1, \"\xc3\xa9\"]", HP_OK, S("\x92\x01\xa2\xc3\xa9"), 0, PASS("\x92\x01\xa2\xc3\xa9") },
	{ "map", HP_OK, S("\x81\xa1k\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"), 0,
	  PASS("\x81\xa1k\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00") },
	{ "bin with any bytes", HP_OK, S("\xc4\x03\xff\xc1\xd4"), 0, PASS("\xc4\x03\xff\xc1\xd4") },
	{ "two objects", HP_OK, S("\x01\x02"), 0,
	  REFUSED("guest result is not one valid msgpack object: bytes after the object at offset 1") },
	{ "an object and a NUL", HP_OK, S("\xc0\x00"), 0,
	  REFUSED("bytes after the object at offset 1") },
	{ "truncated", HP_OK, S("\x92\x01"), 0, REFUSED("truncated at offset 2") },
	{ "empty", HP_OK, S(""), 0, REFUSED("truncated at offset 0") },
	{ "2^32-1 elements", HP_OK, S("\xdd\xff\xff\xff\xff"), 0,
	  REFUSED("count exceeds the size limit at offset 0") },
	{ "more elements than the buffer", HP_OK, S("\xdc\x10\x00\x01"), 0,
	  REFUSED("count exceeds the size limit at offset 0") },
	{ "100 MiB str", HP_OK, S("\xdb\x06\x40\x00\x00" "abc"), 0,
	  REFUSED("length exceeds the size limit at offset 0") },
	{ "invalid UTF-8", HP_OK, S("\xa2\xc3\x28"), 0, REFUSED("invalid UTF-8 in a str at offset 1") },
	{ "surrogate in a map key", HP_OK, S("\x81\xa3\xed\xa0\x80\x01"), 0,
	  REFUSED("invalid UTF-8 in a str at offset 2") },
	{ "fixext", HP_OK, S("\xd4\x01\x00"), 0, REFUSED("ext not allowed at offset 0") },
	{ "timestamp ext in an array", HP_OK, S("\x91\xd6\xff\x00\x00\x00\x01"), 0,
	  REFUSED("ext not allowed at offset 1") },
	{ "0xc1", HP_OK, S("\xc1"), 0, REFUSED("invalid byte 0xc1 at offset 0") },

	/* errors: the message comes back as valid UTF-8 */
	{ "a message", HP_E_GUEST_ERROR, S("boom"), 0, PASS("boom") },
	{ "an empty message", HP_E_NO_SUCH_FUNCTION, S(""), 0, PASS("") },
	{ "a UTF-8 message", HP_E_BAD_ARGS, S("caf\xc3\xa9 \xf0\x9f\x98\x80"), 0,
	  PASS("caf\xc3\xa9 \xf0\x9f\x98\x80") },
	{ "invalid UTF-8 in a message", HP_E_GUEST_ERROR, S("bad \xff\xfe end \xc0\xaf"), 0,
	  PASS("bad " FFFD FFFD " end " FFFD FFFD) },
	{ "a cut sequence at the end", HP_E_OUT_OF_MEMORY, S("x\xe2\x82"), 0, PASS("x" FFFD FFFD) },
	{ "a NUL in a message", HP_E_OUTPUT_OVERFLOW, S("a\0b"), 0, PASS("a\0b") },
	{ "a message longer than a small buffer", HP_E_GUEST_ERROR, S("0123456789abcdefg"), 16,
	  REFUSED("output length 17 (limit 16)") },

	/* statuses only the host may report */
	{ "status timeout", HP_E_TIMEOUT, S(""), 0, REFUSED("invalid status 19") },
	{ "status guest fault", HP_E_GUEST_FAULT, S(""), 0, REFUSED("invalid status 17") },
	{ "status kvm", HP_E_KVM, S(""), 0, REFUSED("invalid status 34") },
	{ "status 6", 6, S(""), 0, REFUSED("invalid status 6") },
	{ "status 999", 999, S(""), 0, REFUSED("invalid status 999") },
	{ "status UINT32_MAX", UINT32_MAX, S(""), 0, REFUSED("invalid status 4294967295") },
};

/* Runs case c with output_len `len` and the guest's buffer holding bytes[0..len) (at most
 * output_size of them), the rest zero. */
static void run_result(const struct result_case *c, const uint8_t *bytes, size_t len)
{
	uint64_t size = c->output_size ? c->output_size : 4096;
	struct hp_call_block cb = { 0 };
	cb.status = c->status;
	cb.output_len = (uint32_t)len;
	uint8_t *out = copy_of(bytes, len < size ? len : size, size);
	char *msgbuf = malloc(HP_GUEST_MSG_BUF_SIZE);
	struct hp_guest_reply reply = { -1, NULL, 0 };
	struct hp_error err = { 0 };
	int rc = hp_guest_result(&cb, out, size, msgbuf, HP_GUEST_MSG_BUF_SIZE, &reply, &err);
	CHECK_MSG(rc == c->rc, "%s: rc %d (%s)", c->name, rc, rc ? err.message : "ok");
	if (rc == 0 && c->rc == 0) {
		const uint8_t *where = c->status == HP_OK ? out : (const uint8_t *)msgbuf;
		CHECK_MSG(reply.status == (int)c->status && reply.output == where &&
				  reply.output_len == c->expect_len &&
				  !memcmp(reply.output, c->expect, c->expect_len),
			  "%s: status %d, %zu bytes \"%.*s\"", c->name, reply.status, reply.output_len,
			  (int)reply.output_len, (const char *)reply.output);
		CHECK_MSG(c->status == HP_OK || reply.output[reply.output_len] == '\0',
			  "%s: message not NUL-terminated", c->name);
		CHECK_MSG(c->status == HP_OK || hp_utf8_valid(reply.output, reply.output_len),
			  "%s: message is not valid UTF-8", c->name);
	} else if (rc == -1 && c->rc == -1) {
		CHECK_MSG(err.code == HP_E_GUEST_PROTOCOL, "%s: code %d", c->name, err.code);
		CHECK_MSG(strstr(err.message, c->expect), "%s: \"%s\" does not contain \"%s\"",
			  c->name, err.message, c->expect);
	}
	free(msgbuf);
	free(out);
}

/* `levels` nested one-element arrays around a nil. */
static uint8_t *nested(size_t levels)
{
	uint8_t *b = malloc(levels + 1);
	memset(b, 0x91, levels);
	b[levels] = 0xc0;
	return b;
}

static void test_result(void)
{
	for (size_t i = 0; i < sizeof(result_cases) / sizeof(result_cases[0]); i++)
		run_result(&result_cases[i], (const uint8_t *)result_cases[i].bytes, result_cases[i].len);

	/* lengths past the limits, whatever the bytes */
	static const uint8_t zeros[4097];
	struct result_case over = { "longer than the buffer", HP_OK, NULL, 0, 4096, -1,
				    "output length 4097 (limit 4096)", 0 };
	run_result(&over, zeros, 4097);
	over = (struct result_case){ "a message longer than 1 KiB", HP_E_GUEST_ERROR, NULL, 0, 0, -1,
				     "output length 1025 (limit 1024)", 0 };
	run_result(&over, zeros, HP_ABORT_MSG_MAX + 1);

	/* depth: HP_MP_VALUE_DEPTH levels pass, one more and 10,000 do not */
	struct result_case deep = { "32 levels", HP_OK, NULL, 0, 0, 0, NULL, 0 };
	uint8_t *b = nested(HP_MP_VALUE_DEPTH);
	deep.expect = (const char *)b;
	deep.expect_len = HP_MP_VALUE_DEPTH + 1;
	run_result(&deep, b, HP_MP_VALUE_DEPTH + 1);
	free(b);
	_Static_assert(HP_MP_VALUE_DEPTH == 32, "the messages below name 32 levels");
	deep = (struct result_case){ "33 levels", HP_OK, NULL, 0, 0, -1,
				     "nesting too deep at offset 32", 0 };
	b = nested(HP_MP_VALUE_DEPTH + 1);
	run_result(&deep, b, HP_MP_VALUE_DEPTH + 2);
	free(b);
	deep.name = "10,000 levels";
	deep.output_size = 16384;
	b = nested(10000);
	run_result(&deep, b, 10001);
	free(b);

	/* a bin filling the output buffer exactly passes; the buffer is the size limit */
	uint8_t full[4096] = { 0xc5, 0x0f, 0xfd }; /* bin16 of 4093 bytes */
	struct result_case fill = { "a result filling the buffer", HP_OK, NULL, 0, 4096, 0,
				    (const char *)full, sizeof(full) };
	run_result(&fill, full, sizeof(full));
	full[2] = 0xfe; /* one byte more than the buffer: invalid at once, not truncated */
	fill = (struct result_case){ "a bin one byte over the buffer", HP_OK, NULL, 0, 4096, -1,
				     "length exceeds the size limit at offset 0", 0 };
	run_result(&fill, full, sizeof(full));

	/* 1 KiB of bad bytes: every one becomes U+FFFD and the message fits the host buffer */
	char bad[HP_ABORT_MSG_MAX], want[3 * HP_ABORT_MSG_MAX];
	memset(bad, 0xff, sizeof(bad));
	for (size_t i = 0; i < sizeof(bad); i++)
		memcpy(want + 3 * i, FFFD, 3);
	struct result_case worst = { "1 KiB of bad bytes", HP_E_GUEST_ERROR, NULL, 0, 0, 0, want,
				     sizeof(want) };
	run_result(&worst, (const uint8_t *)bad, sizeof(bad));

	/* a small msgbuf cuts the message at a character boundary */
	struct hp_call_block cb = { 0 };
	cb.status = HP_E_GUEST_ERROR;
	cb.output_len = 8;
	char small[8];
	struct hp_guest_reply reply;
	struct hp_error err;
	CHECK(hp_guest_result(&cb, (const uint8_t *)"ab\xc3\xa9\xc3\xa9\xc3\xa9", 4096, small,
			      sizeof(small), &reply, &err) == 0 &&
	      reply.output_len == 6 && !memcmp(small, "ab\xc3\xa9\xc3\xa9", 7));
}

static void test_log(void)
{
	struct hp_call_block cb = { 0 };
	struct hp_error err;
	uint32_t len;
	int stream;
	cb.log_len = HP_LOG_BUF_SIZE;
	cb.log_stream = HP_LOG_STDERR;
	CHECK(hp_guest_log(&cb, &len, &stream, &err) == 0 && len == HP_LOG_BUF_SIZE && stream == HP_LOG_STDERR);
	cb.log_len = HP_LOG_BUF_SIZE + 1;
	CHECK(hp_guest_log(&cb, &len, &stream, &err) == -1);
	cb.log_len = 1;
	cb.log_stream = 3;
	CHECK(hp_guest_log(&cb, &len, &stream, &err) == -1);
	cb.log_stream = 0;
	CHECK(hp_guest_log(&cb, &len, &stream, &err) == -1);
}

/* --- abort messages ------------------------------------------------------------------------- */

static const struct {
	const char *name;
	const char *msg;
	size_t len;
	size_t outsize; /* 0: HP_GUEST_MSG_BUF_SIZE */
	const char *expect;
} abort_cases[] = {
	{ "controls", S("bad\x1b[31m\x01\nend"), 0, "bad?[31m?\nend" },
	{ "tab, DEL and NUL", S("a\tb\x7f" "c\0d"), 0, "a?b?c?d" },
	{ "UTF-8 passes", S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), 0,
	  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
	{ "U+00A0 passes", S("a\xc2\xa0" "b"), 0, "a\xc2\xa0" "b" },
	{ "C1 controls", S("\xc2\x9b" "31m\xc2\x80\xc2\x9f"), 0, "?31m??" },
	{ "invalid UTF-8", S("a\xff" "b\xed\xa0\x80"), 0, "a" FFFD "b" FFFD FFFD FFFD },
	{ "a lone 0xc2 at the end", S("a\xc2"), 0, "a" FFFD },
	{ "cut at a character boundary", S("\xe2\x82\xac\xe2\x82\xac"), 6, "\xe2\x82\xac" },
	{ "cut ASCII", S("abcdef"), 4, "abc" },
	{ "outsize 1", S("abc"), 1, "" },
};

static void test_abort(void)
{
	struct hp_call_block cb = { 0 };
	char out[HP_GUEST_MSG_BUF_SIZE];
	for (size_t i = 0; i < sizeof(abort_cases) / sizeof(abort_cases[0]); i++) {
		memset(&cb, 0, sizeof(cb));
		memcpy(cb.abort_msg, abort_cases[i].msg, abort_cases[i].len);
		cb.abort_len = (uint32_t)abort_cases[i].len;
		size_t outsize = abort_cases[i].outsize ? abort_cases[i].outsize : sizeof(out);
		memset(out, 'X', sizeof(out));
		size_t n = hp_guest_abort_message(&cb, out, outsize);
		CHECK_MSG(n == strlen(abort_cases[i].expect) && !strcmp(out, abort_cases[i].expect),
			  "abort %s: \"%s\"", abort_cases[i].name, out);
		CHECK_MSG(hp_utf8_valid((const uint8_t *)out, n), "abort %s: invalid UTF-8",
			  abort_cases[i].name);
	}
	cb.abort_len = UINT32_MAX; /* cut to the buffer */
	memset(cb.abort_msg, 'a', sizeof(cb.abort_msg));
	CHECK(hp_guest_abort_message(&cb, out, sizeof(out)) == HP_ABORT_MSG_MAX &&
	      strlen(out) == HP_ABORT_MSG_MAX);
	/* every byte bad: 3 KiB of U+FFFD fit HP_GUEST_MSG_BUF_SIZE */
	memset(cb.abort_msg, 0xfe, sizeof(cb.abort_msg));
	CHECK(hp_guest_abort_message(&cb, out, sizeof(out)) == 3 * HP_ABORT_MSG_MAX);
	/* the size vm.c gives it: valid UTF-8 whatever the cut */
	for (size_t i = 0; i < sizeof(cb.abort_msg); i++)
		cb.abort_msg[i] = (char)"\xf0\x9f\x98\x80\xc3\xa9z"[i % 7];
	char vm_size[HP_ERROR_MSG_MAX - sizeof("guest aborted: ") + 1];
	size_t n = hp_guest_abort_message(&cb, vm_size, sizeof(vm_size));
	CHECK(n < sizeof(vm_size) && n + 4 >= sizeof(vm_size) - 1 &&
	      hp_utf8_valid((const uint8_t *)vm_size, n));
	char none = 'X';
	CHECK(hp_guest_abort_message(&cb, &none, 0) == 0 && none == 'X');
}

/* --- the function list ---------------------------------------------------------------------- */

static int parse(const void *buf, size_t len, char ***names, uint32_t *n, struct hp_error *err)
{
	uint8_t *copy = copy_of(buf, len, len);
	int rc = hp_guest_function_list(copy, len, names, n, err);
	free(copy);
	return rc;
}

static void test_function_list(void)
{
	struct hp_error err;
	char **names = NULL;
	uint32_t n = 0;
	/* ["add", "__hp_touch", "mul"]: the runtime's own name is not listed */
	static const uint8_t ok[] = { 0x93, 0xa3, 'a', 'd', 'd', 0xaa, '_', '_', 'h', 'p', '_', 't',
				      'o', 'u', 'c', 'h', 0xd9, 3, 'm', 'u', 'l' };
	CHECK(parse(ok, sizeof(ok), &names, &n, &err) == 0);
	CHECK(n == 2 && names && !strcmp(names[0], "add") && !strcmp(names[1], "mul") && !names[2]);
	hp_guest_function_list_free(names);
	static const uint8_t empty[] = { 0x90 };
	CHECK(parse(empty, 1, &names, &n, &err) == 0 && n == 0 && names && !names[0]);
	hp_guest_function_list_free(names);
	static const uint8_t wide[] = { 0xdc, 0x00, 0x01, 0xda, 0x00, 0x01, 'f' };
	CHECK(parse(wide, sizeof(wide), &names, &n, &err) == 0 && n == 1 && !strcmp(names[0], "f"));
	hp_guest_function_list_free(names);

	static const struct {
		const char *what;
		uint8_t bytes[16];
		size_t len;
		const char *message;
	} bad[] = {
		{ "nothing", { 0 }, 0, "truncated at offset 0" },
		{ "not an array", { 0xa1, 'x' }, 2, "not an array" },
		{ "a map", { 0x81, 0xa1, 'x', 0x01 }, 4, "not an array" },
		{ "array32 claiming 4G names", { 0xdd, 0xff, 0xff, 0xff, 0xff }, 5, "truncated" },
		{ "array16 claiming more than the bytes", { 0xdc, 0x00, 0x10, 0xa1, 'x' }, 5,
		  "truncated" },
		{ "truncated name", { 0x91, 0xa5, 'a', 'b' }, 4, "truncated at offset 4" },
		{ "str32 length past the end", { 0x91, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' }, 7,
		  "truncated" },
		{ "empty name", { 0x91, 0xa0 }, 2, "function name 0 in the init list is invalid" },
		{ "NUL in a name", { 0x92, 0xa1, 'a', 0xa3, 'a', 0, 'b' }, 7,
		  "function name 1 in the init list is invalid" },
		{ "an integer for a name", { 0x91, 0x01 }, 2, "function name 0" },
		{ "a bin for a name", { 0x91, 0xc4, 0x01, 'x' }, 4, "function name 0" },
		{ "an array for a name", { 0x91, 0x91, 0xa1, 'x' }, 4, "nesting too deep at offset 1" },
		{ "0xc1 for a name", { 0x91, 0xc1 }, 2, "invalid byte 0xc1 at offset 1" },
		{ "trailing bytes", { 0x91, 0xa1, 'x', 0xc0 }, 4, "bytes after the object at offset 3" },
		{ "truncated header", { 0xdc, 0x00 }, 2, "truncated at offset 2" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		names = NULL;
		int rc = parse(bad[i].bytes, bad[i].len, &names, &n, &err);
		CHECK_MSG(rc == -1 && err.code == HP_E_GUEST_PROTOCOL && !names, "%s accepted", bad[i].what);
		CHECK_MSG(rc == 0 || strstr(err.message, bad[i].message), "%s: \"%s\"", bad[i].what,
			  err.message);
	}
	/* a name of HP_FUNCTION_NAME_MAX bytes is one too long */
	uint8_t longname[3 + HP_FUNCTION_NAME_MAX] = { 0x91, 0xd9, HP_FUNCTION_NAME_MAX };
	memset(longname + 3, 'a', HP_FUNCTION_NAME_MAX);
	CHECK(parse(longname, sizeof(longname), &names, &n, &err) == -1);
	longname[2] = HP_FUNCTION_NAME_MAX - 1;
	CHECK(parse(longname, sizeof(longname) - 1, &names, &n, &err) == 0 && n == 1);
	hp_guest_function_list_free(names);
	/* HP_FUNCTIONS_MAX names pass, one more does not */
	static uint8_t many[5 + 2 * (HP_FUNCTIONS_MAX + 1)];
	for (uint32_t count = HP_FUNCTIONS_MAX; count <= HP_FUNCTIONS_MAX + 1; count++) {
		many[0] = 0xdd;
		many[1] = (uint8_t)(count >> 24), many[2] = (uint8_t)(count >> 16);
		many[3] = (uint8_t)(count >> 8), many[4] = (uint8_t)count;
		for (uint32_t i = 0; i < count; i++)
			many[5 + 2 * i] = 0xa1, many[6 + 2 * i] = 'f';
		int rc = parse(many, 5 + 2 * (size_t)count, &names, &n, &err);
		if (count == HP_FUNCTIONS_MAX) {
			CHECK(rc == 0 && n == HP_FUNCTIONS_MAX);
			hp_guest_function_list_free(names);
		} else {
			CHECK(rc == -1);
			CHECK_STR_CONTAINS(err.message, "init listed 4097 functions (limit 4096)");
		}
	}
}

int main(void)
{
	test_result();
	test_log();
	test_abort();
	test_function_list();
	CHECK_DONE();
}
