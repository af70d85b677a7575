/* fuzz_mpscan.c - libFuzzer target for the bounded msgpack scanner (proto/hp_mpscan.c).
 *
 * The input is the object. Invariants:
 *  - one-shot, byte-by-byte and randomly chunked scans give the same answer (status, length,
 *    reason, offset), under default limits and under limits picked from the input's last byte;
 *    bytes past what is fed are ASan-poisoned, so reading them is a report;
 *  - with depth 32 and no flags the scanner agrees with msgpack-c's msgpack_unpack_next: one
 *    accepts exactly when the other does, with the same length (msgpack-c is only asked when
 *    every header it would size fits the input: it allocates what a header claims);
 *  - an accepted object obeys its limits when walked again with hp_mp_token, and is accepted
 *    again with max_bytes equal to its length but not one byte less;
 *  - a str of the input's bytes is accepted with HP_MP_F_UTF8 exactly when hp_utf8_valid says
 *    so; hp_utf8_sanitize always gives valid UTF-8, the input itself when it was valid.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iproto \
 *         proto/hp_mpscan.c tests/fuzz/fuzz_mpscan.c -lmsgpackc -o fuzz_mpscan
 *   ./fuzz_mpscan tests/fuzz/corpus/mpscan */
#include <msgpack.h>
#include <sanitizer/asan_interface.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hp_mpscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                          \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);             \
			abort();                                                               \
		}                                                                              \
	} while (0)

struct outcome {
	int status;
	size_t obj_len;
	const char *error;
	uint64_t offset;
};

static struct outcome finish(const struct hp_mp_scanner *s, int status, size_t obj_len)
{
	struct outcome o = { status, status == HP_MP_OK ? obj_len : 0, NULL, 0 };
	if (status == HP_MP_INVALID) {
		o.error = s->error;
		o.offset = s->error_offset;
	}
	return o;
}

static struct outcome scan_once(const uint8_t *buf, size_t len, const struct hp_mp_limits *lim)
{
	struct hp_mp_scanner s;
	size_t n = 0;
	hp_mp_scanner_init(&s, lim);
	int rc = hp_mp_scan(&s, buf, len, &n);
	return finish(&s, rc, n);
}

/* Feeds a copy of buf in steps: `step` bytes at a time, or pseudo-random steps of 1..64 when
 * step is 0. The copy's unfed tail is poisoned. */
static struct outcome scan_fed(const uint8_t *buf, size_t len, const struct hp_mp_limits *lim,
			       size_t step)
{
	uint8_t *copy = malloc(len ? len : 1);
	REQUIRE(copy);
	memcpy(copy, buf, len);
	ASAN_POISON_MEMORY_REGION(copy, len);
	struct hp_mp_scanner s;
	hp_mp_scanner_init(&s, lim);
	uint32_t rng = (uint32_t)len * 2654435761u + 1;
	size_t fed = 0, n = 0;
	int rc;
	for (;;) {
		ASAN_UNPOISON_MEMORY_REGION(copy, fed);
		rc = hp_mp_scan(&s, copy, fed, &n);
		if (rc != HP_MP_INCOMPLETE || fed == len)
			break;
		rng = rng * 1103515245u + 12345u;
		size_t k = step ? step : 1 + (rng >> 16) % 64;
		fed = len - fed < k ? len : fed + k;
	}
	ASAN_UNPOISON_MEMORY_REGION(copy, len);
	free(copy);
	return finish(&s, rc, n);
}

static void require_same(const struct outcome *a, const struct outcome *b)
{
	REQUIRE(a->status == b->status);
	REQUIRE(a->obj_len == b->obj_len);
	REQUIRE(a->offset == b->offset);
	REQUIRE(a->error == b->error || (a->error && b->error && !strcmp(a->error, b->error)));
}

/* Walks an accepted object with hp_mp_token and checks what the limits promised. Returns the
 * bytes it took. */
static size_t walk(const uint8_t *p, size_t len, const struct hp_mp_limits *lim, uint32_t depth)
{
	struct hp_mp_token t;
	REQUIRE(hp_mp_token(p, len, &t) == HP_MP_OK);
	size_t used = t.header_len;
	switch (t.type) {
	case HP_MP_STR:
	case HP_MP_BIN:
	case HP_MP_EXT:
		REQUIRE(t.len <= len - used);
		REQUIRE(t.data == p + used);
		if (t.type == HP_MP_STR && (lim->flags & HP_MP_F_UTF8))
			REQUIRE(hp_utf8_valid(t.data, t.len));
		if (t.type == HP_MP_EXT)
			REQUIRE(!(lim->flags & HP_MP_F_NO_EXT));
		return used + t.len;
	case HP_MP_ARRAY:
	case HP_MP_MAP: {
		uint32_t max = lim->max_depth && lim->max_depth < HP_MP_MAX_DEPTH ? lim->max_depth
										  : HP_MP_MAX_DEPTH;
		REQUIRE(depth < max);
		uint64_t n = t.type == HP_MP_MAP ? 2 * (uint64_t)t.len : t.len;
		for (uint64_t i = 0; i < n; i++)
			used += walk(p + used, len - used, lim, depth + 1);
		return used;
	}
	default:
		return used;
	}
}

/* Everything about one set of limits. */
static void check_limits(const uint8_t *data, size_t size, const struct hp_mp_limits *given)
{
	struct outcome one = scan_once(data, size, given); /* given may be NULL: the defaults */
	struct hp_mp_limits defaults = { 0, 0, 0 };
	const struct hp_mp_limits *lim = given ? given : &defaults;
	struct outcome o = scan_fed(data, size, lim, 1);
	require_same(&one, &o);
	o = scan_fed(data, size, lim, 0);
	require_same(&one, &o);

	const char *why = NULL;
	size_t at = 0;
	int rc = hp_mp_check_one(data, size, lim, &why, &at);
	if (one.status == HP_MP_OK)
		REQUIRE(rc == (one.obj_len == size ? HP_MP_OK : HP_MP_INVALID));
	else
		REQUIRE(rc == one.status && at == (one.status == HP_MP_INVALID ? one.offset : size));
	REQUIRE(one.status != HP_MP_INVALID || (one.error && one.offset <= size));
	if (one.status != HP_MP_OK)
		return;

	REQUIRE(one.obj_len >= 1 && one.obj_len <= size);
	REQUIRE(!lim->max_bytes || one.obj_len <= lim->max_bytes);
	REQUIRE(walk(data, one.obj_len, lim, 0) == one.obj_len);
	/* the size limit is exact: the object fits max_bytes == its length, not one byte less */
	struct hp_mp_limits tight = *lim;
	tight.max_bytes = one.obj_len;
	REQUIRE(scan_once(data, size, &tight).status == HP_MP_OK);
	if (one.obj_len > 1) {
		tight.max_bytes = one.obj_len - 1;
		REQUIRE(scan_once(data, size, &tight).status == HP_MP_INVALID);
	}
}

/* msgpack-c must agree with the scanner at depth 32 (its own stack) and no flags. */
static void check_msgpack_c(const uint8_t *data, size_t size)
{
	struct hp_mp_limits lim = { 32, 0, 0 };
	struct outcome mine = scan_once(data, size, &lim);
	/* msgpack-c sizes arrays and maps from their headers before reading them: ask it only
	 * when every header it will meet fits the input, i.e. no size reason under max_bytes. */
	struct hp_mp_limits sized = { 32, size ? size : 1, 0 };
	struct outcome bounded = scan_once(data, size, &sized);
	if (bounded.status == HP_MP_INVALID && strstr(bounded.error, "size limit"))
		return;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	size_t off = 0;
	msgpack_unpack_return r = msgpack_unpack_next(&up, (const char *)data, size, &off);
	if (mine.status == HP_MP_OK) {
		if (r != MSGPACK_UNPACK_SUCCESS || off != mine.obj_len) {
			fprintf(stderr, "scanner: %zu bytes; msgpack-c: %d, %zu bytes\n", mine.obj_len,
				(int)r, off);
			abort();
		}
	} else if (r == MSGPACK_UNPACK_SUCCESS) {
		fprintf(stderr, "scanner: %d (%s at %llu); msgpack-c took %zu bytes\n", mine.status,
			mine.error ? mine.error : "-", (unsigned long long)mine.offset, off);
		abort();
	}
	msgpack_unpacked_destroy(&up);
}

static void check_utf8(const uint8_t *data, size_t size)
{
	bool valid = hp_utf8_valid(data, size);
	size_t cap = HP_UTF8_SANITIZED_SIZE(size);
	char *out = malloc(cap);
	REQUIRE(out);
	size_t w = hp_utf8_sanitize(data, size, out, cap);
	REQUIRE(w < cap && out[w] == '\0');
	REQUIRE(hp_utf8_valid((const uint8_t *)out, w));
	REQUIRE(!valid || (w == size && !memcmp(out, data, size)));
	/* with less room: still valid, and a prefix of the whole answer */
	size_t small = 4 + size % 13;
	char *cut = malloc(small);
	REQUIRE(cut);
	size_t wc = hp_utf8_sanitize(data, size, cut, small);
	REQUIRE(wc < small && cut[wc] == '\0' && wc <= w && !memcmp(cut, out, wc));
	REQUIRE(hp_utf8_valid((const uint8_t *)cut, wc));
	free(cut);
	free(out);

	/* the scanner's str check is the same rule: a str32 of the input */
	uint8_t *str = malloc(size + 5);
	REQUIRE(str);
	str[0] = 0xdb;
	for (int i = 0; i < 4; i++)
		str[1 + i] = (uint8_t)((uint64_t)size >> (24 - 8 * i));
	memcpy(str + 5, data, size);
	struct hp_mp_limits lim = { 0, 0, HP_MP_F_UTF8 };
	struct outcome one = scan_once(str, size + 5, &lim);
	REQUIRE(one.status == (valid ? HP_MP_OK : HP_MP_INVALID));
	struct outcome fed = scan_fed(str, size + 5, &lim, 1);
	require_same(&one, &fed);
	free(str);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_limits(data, size, NULL);
	/* limits from the last byte: flags, a small depth, a size limit around the input's */
	uint8_t p = size ? data[size - 1] : 0;
	struct hp_mp_limits lim = {
		.flags = p & 3u,
		.max_depth = (p >> 2) & 7u,
		.max_bytes = p & 0x20 ? 0 : p & 0x40 ? size : size / 2 + 1,
	};
	check_limits(data, size, &lim);
	check_msgpack_c(data, size);
	check_utf8(data, size);
	return 0;
}
