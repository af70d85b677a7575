/* fuzz_guest_output.c - libFuzzer target for the host's reading of what a guest leaves behind
 * (vmm/guest_output.c): the first sizeof(struct hp_call_block) bytes of the input are the call
 * block, the rest the output buffer. Every reader must either accept or fail with
 * HP_E_GUEST_PROTOCOL, and what it accepts must respect the ABI's limits.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iproto -Ivmm \
 *         vmm/guest_output.c vmm/hp_error.c tests/fuzz/fuzz_guest_output.c -o fuzz_guest_output
 *   ./fuzz_guest_output tests/fuzz/corpus/guest_output */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest_output.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hp_call_block cb;
	memset(&cb, 0, sizeof(cb));
	size_t head = size < sizeof(cb) ? size : sizeof(cb);
	memcpy(&cb, data, head);
	const uint8_t *out = data + head;
	size_t out_len = size - head;
	struct hp_error err;

	int status;
	uint32_t len;
	if (hp_guest_result(&cb, out_len, &status, &len, &err) == 0) {
		if (len > out_len || (status != HP_OK && len > HP_ABORT_MSG_MAX))
			abort();
	} else if (err.code != HP_E_GUEST_PROTOCOL) {
		abort();
	}

	int stream;
	if (hp_guest_log(&cb, &len, &stream, &err) == 0) {
		if (len > HP_LOG_BUF_SIZE || (stream != HP_LOG_STDOUT && stream != HP_LOG_STDERR))
			abort();
	} else if (err.code != HP_E_GUEST_PROTOCOL) {
		abort();
	}

	char msg[HP_ABORT_MSG_MAX + 1];
	hp_guest_abort_message(&cb, msg);
	for (size_t i = 0; msg[i]; i++)
		if ((msg[i] < 0x20 && msg[i] != '\n') || msg[i] == 0x7f || i >= HP_ABORT_MSG_MAX)
			abort();

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
