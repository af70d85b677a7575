/* fuzz_guest_output.c - libFuzzer target for the host's reading of what a guest leaves behind
 * (vmm/guest_output.c): the first sizeof(struct hp_call_block) bytes of the input are the call
 * block, the rest the output buffer. Every reader must either accept or fail with
 * HP_E_GUEST_PROTOCOL, and what it accepts must respect the ABI's limits: an OK result is one
 * msgpack object within the host's limits, every message is valid UTF-8 and an abort message
 * has no terminal controls.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iproto -Ivmm \
 *         vmm/guest_output.c vmm/hp_error.c proto/hp_mpscan.c tests/fuzz/fuzz_guest_output.c \
 *         -o fuzz_guest_output
 *   ./fuzz_guest_output tests/fuzz/corpus/guest_output */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest_output.h"
#include "hp_mpscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_result(const struct hp_call_block *cb, const uint8_t *out, size_t out_len)
{
	char msgbuf[HP_GUEST_MSG_BUF_SIZE];
	struct hp_guest_reply reply;
	struct hp_error err;
	if (hp_guest_result(cb, out, out_len, msgbuf, sizeof(msgbuf), &reply, &err) != 0) {
		if (err.code != HP_E_GUEST_PROTOCOL)
			abort();
		return;
	}
	if (reply.status == HP_OK) {
		const struct hp_mp_limits lim = { HP_MP_MAX_DEPTH, out_len,
						  HP_MP_F_UTF8 | HP_MP_F_NO_EXT };
		if (reply.output != out || reply.output_len > out_len ||
		    hp_mp_check_one(out, reply.output_len, &lim, NULL, NULL) != HP_MP_OK)
			abort();
		return;
	}
	size_t raw_len = cb->output_len;
	if (reply.output != (const uint8_t *)msgbuf || raw_len > HP_ABORT_MSG_MAX ||
	    raw_len > out_len || reply.output_len >= sizeof(msgbuf) ||
	    msgbuf[reply.output_len] != '\0' || !hp_utf8_valid(reply.output, reply.output_len))
		abort();
	if (hp_utf8_valid(out, raw_len) &&
	    (reply.output_len != raw_len || memcmp(reply.output, out, raw_len)))
		abort();
}

/* Valid UTF-8 and nothing a terminal acts on: C0 (but newline), DEL, C1. */
static void check_abort_message(const struct hp_call_block *cb, size_t outsize)
{
	char msg[HP_GUEST_MSG_BUF_SIZE];
	size_t n = hp_guest_abort_message(cb, msg, outsize);
	if (n >= outsize || msg[n] != '\0' || !hp_utf8_valid((const uint8_t *)msg, n))
		abort();
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)msg[i];
		if ((c < 0x20 && c != '\n') || c == 0x7f ||
		    (c == 0xc2 && i + 1 < n && (uint8_t)msg[i + 1] < 0xa0))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hp_call_block cb;
	memset(&cb, 0, sizeof(cb));
	size_t head = size < sizeof(cb) ? size : sizeof(cb);
	memcpy(&cb, data, head);
	const uint8_t *out = data + head;
	size_t out_len = size - head;
	struct hp_error err;

	check_result(&cb, out, out_len);

	uint32_t len;
	int stream;
	if (hp_guest_log(&cb, &len, &stream, &err) == 0) {
		if (len > HP_LOG_BUF_SIZE || (stream != HP_LOG_STDOUT && stream != HP_LOG_STDERR))
			abort();
	} else if (err.code != HP_E_GUEST_PROTOCOL) {
		abort();
	}

	check_abort_message(&cb, HP_GUEST_MSG_BUF_SIZE);
	check_abort_message(&cb, 1 + size % 600); /* cut short: still valid */

	char **names;
	uint32_t n;
	/* an exact-size copy, so ASan sees any read past the end */
	uint8_t *copy = malloc(out_len ? out_len : 1);
	memcpy(copy, out, out_len);
	if (hp_guest_function_list(copy, out_len, &names, &n, &err) == 0) {
		if (n > HP_FUNCTIONS_MAX || names[n])
			abort();
		for (uint32_t i = 0; i < n; i++) {
			size_t l = strlen(names[i]);
			if (l == 0 || l >= HP_FUNCTION_NAME_MAX ||
			    !strncmp(names[i], HP_RESERVED_PREFIX, strlen(HP_RESERVED_PREFIX)))
				abort();
		}
		hp_guest_function_list_free(names);
	} else if (err.code != HP_E_GUEST_PROTOCOL && err.code != HP_E_NO_MEMORY) {
		abort();
	}
	free(copy);
	return 0;
}
