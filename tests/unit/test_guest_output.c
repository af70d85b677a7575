/* test_guest_output.c - the host's reading of what a guest leaves: call result fields, log
 * records, abort messages and the hand-read function list, fed valid and hostile bytes. */
#include <stdlib.h>

#include "check.h"
#include "guest_output.h"

static void test_result(void)
{
	struct hp_call_block cb = { 0 };
	struct hp_error err;
	int status = -1;
	uint32_t len = 0;
	cb.status = HP_OK;
	cb.output_len = 4096;
	CHECK(hp_guest_result(&cb, 4096, &status, &len, &err) == 0 && status == HP_OK && len == 4096);
	cb.output_len = 4097;
	CHECK(hp_guest_result(&cb, 4096, &status, &len, &err) == -1 && err.code == HP_E_GUEST_PROTOCOL);
	CHECK_STR_CONTAINS(err.message, "output length 4097");
	cb.status = HP_E_GUEST_ERROR;
	cb.output_len = HP_ABORT_MSG_MAX;
	CHECK(hp_guest_result(&cb, 1 << 20, &status, &len, &err) == 0 && status == HP_E_GUEST_ERROR);
	cb.output_len = HP_ABORT_MSG_MAX + 1; /* error messages are short */
	CHECK(hp_guest_result(&cb, 1 << 20, &status, &len, &err) == -1);
	static const uint32_t forged[] = { HP_E_TIMEOUT, HP_E_GUEST_FAULT, HP_E_KVM, 6, 999, UINT32_MAX };
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		cb.status = forged[i];
		cb.output_len = 0;
		CHECK(hp_guest_result(&cb, 4096, &status, &len, &err) == -1);
		CHECK_STR_CONTAINS(err.message, "invalid status");
	}
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

static void test_abort(void)
{
	struct hp_call_block cb = { 0 };
	char out[HP_ABORT_MSG_MAX + 1];
	memcpy(cb.abort_msg, "bad\x1b[31m\x01\nend", 13);
	cb.abort_len = 13;
	hp_guest_abort_message(&cb, out);
	CHECK(!strcmp(out, "bad?[31m?\nend"));
	cb.abort_len = UINT32_MAX; /* cut to the buffer */
	memset(cb.abort_msg, 'a', sizeof(cb.abort_msg));
	hp_guest_abort_message(&cb, out);
	CHECK(strlen(out) == HP_ABORT_MSG_MAX);
}

static int parse(const void *buf, size_t len, char ***names, uint32_t *n, struct hp_error *err)
{
	/* an exact-size heap copy, so ASan sees any read past the end */
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, buf, len);
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
	CHECK(parse(empty, 1, &names, &n, &err) == 0 && n == 0);
	hp_guest_function_list_free(names);

	static const struct { const char *what; uint8_t bytes[16]; size_t len; } bad[] = {
		{ "nothing", { 0 }, 0 },
		{ "not an array", { 0xa1, 'x' }, 2 },
		{ "array32 claiming 4G names", { 0xdd, 0xff, 0xff, 0xff, 0xff }, 5 },
		{ "array16 claiming more than the bytes", { 0xdc, 0x00, 0x10, 0xa1, 'x' }, 5 },
		{ "truncated name", { 0x91, 0xa5, 'a', 'b' }, 4 },
		{ "str32 length past the end", { 0x91, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' }, 7 },
		{ "empty name", { 0x91, 0xa0 }, 2 },
		{ "NUL in a name", { 0x91, 0xa3, 'a', 0, 'b' }, 5 },
		{ "an integer for a name", { 0x91, 0x01 }, 2 },
		{ "trailing bytes", { 0x91, 0xa1, 'x', 0xc0 }, 4 },
		{ "truncated header", { 0xdc, 0x00 }, 2 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		names = NULL;
		int rc = parse(bad[i].bytes, bad[i].len, &names, &n, &err);
		CHECK_MSG(rc == -1 && err.code == HP_E_GUEST_PROTOCOL && !names, "%s accepted", bad[i].what);
	}
	/* a name of HP_FUNCTION_NAME_MAX bytes is one too long */
	uint8_t longname[3 + HP_FUNCTION_NAME_MAX] = { 0x91, 0xd9, HP_FUNCTION_NAME_MAX };
	memset(longname + 3, 'a', HP_FUNCTION_NAME_MAX);
	CHECK(parse(longname, sizeof(longname), &names, &n, &err) == -1);
	longname[2] = HP_FUNCTION_NAME_MAX - 1;
	CHECK(parse(longname, sizeof(longname) - 1, &names, &n, &err) == 0 && n == 1);
	hp_guest_function_list_free(names);
	/* more than HP_FUNCTIONS_MAX names */
	uint8_t many[5 + 2 * (HP_FUNCTIONS_MAX + 1)];
	many[0] = 0xdd;
	uint32_t count = HP_FUNCTIONS_MAX + 1;
	many[1] = (uint8_t)(count >> 24), many[2] = (uint8_t)(count >> 16);
	many[3] = (uint8_t)(count >> 8), many[4] = (uint8_t)count;
	for (uint32_t i = 0; i < count; i++)
		many[5 + 2 * i] = 0xa1, many[6 + 2 * i] = 'f';
	CHECK(parse(many, sizeof(many), &names, &n, &err) == -1);
}

int main(void)
{
	test_result();
	test_log();
	test_abort();
	test_function_list();
	CHECK_DONE();
}
