/* fuzz_msgpack_json.c - libFuzzer target for the tools' JSON <-> msgpack codec (client/json/).
 *
 * The input is msgpack. Whatever hp_msgpack_to_json accepts must read back with
 * hp_json_to_msgpack and print again as the very same JSON text. Reading back may only fail for
 * the msgpack the header documents as having no JSON spelling (duplicate keys, keys with NUL,
 * maps that look like a malformed special object, a string equal to the big-integer marker).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iclient/json -Iproto \
 *         client/json/json_to_msgpack.c client/json/msgpack_to_json.c \
 *         client/json/json_out.c client/json/base64.c client/json/jansson_compat.c \
 *         client/json/json_err.c proto/hp_mpscan.c tests/fuzz/fuzz_msgpack_json.c \
 *         -lmsgpackc -ljansson -o fuzz_msgpack_json
 *   ./fuzz_msgpack_json tests/fuzz/corpus/msgpack_json */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hp_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int allowed_failure(const char *err)
{
	return strstr(err, "duplicate object key") || strstr(err, "NUL byte in object key") ||
	       strstr(err, "invalid \"$") || strstr(err, "reserved for integers");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	char *json1 = NULL, *json2 = NULL;
	uint8_t *mp = NULL;
	size_t mp_len = 0;

	if (hp_msgpack_to_json(data, size, &json1, err, sizeof(err)) != 0) {
		if (json1 || !err[0])
			abort();
		return 0;
	}
	if (hp_json_to_msgpack(json1, strlen(json1), &mp, &mp_len, err, sizeof(err)) != 0) {
		if (mp || !allowed_failure(err)) {
			fprintf(stderr, "JSON did not read back: %s\nJSON: %.500s\n", err, json1);
			abort();
		}
		free(json1);
		return 0;
	}
	if (hp_msgpack_to_json(mp, mp_len, &json2, err, sizeof(err)) != 0) {
		fprintf(stderr, "re-encoded msgpack rejected: %s\nJSON: %.500s\n", err, json1);
		abort();
	}
	if (strcmp(json1, json2) != 0) {
		fprintf(stderr, "round trip changed the JSON:\n1: %.500s\n2: %.500s\n", json1, json2);
		abort();
	}
	free(json1);
	free(json2);
	free(mp);
	return 0;
}
