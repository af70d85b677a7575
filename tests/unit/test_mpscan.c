/* test_mpscan.c - the bounded msgpack scanner (proto/hp_mpscan.c): every type and width, the
 * limits, UTF-8, and the promise that chunked feeding gives the one-shot answer. Every table
 * entry is scanned one-shot, byte by byte and in other chunk sizes; every proper prefix of an
 * accepted object must be INCOMPLETE. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "hp_mpscan.h"

#define MiB (1ull << 20)

/* --- scans: the table ---------------------------------------------------------------------- */

struct scan_case {
	const char *name;
	const uint8_t *bytes;
	size_t len;
	struct hp_mp_limits lim;
	int status;
	size_t obj_len;     /* HP_MP_OK: the object's length (may be < len: more bytes follow) */
	const char *reason; /* HP_MP_INVALID: a substring of the reason ... */
	uint64_t offset;    /* ... and where */
};

#define B(lit) (const uint8_t *)(lit), sizeof(lit) - 1
#define ANY { 0, 0, 0 }
#define UTF8 { 0, 0, HP_MP_F_UTF8 }
#define NOEXT { 0, 0, HP_MP_F_NO_EXT }
#define OK(n) HP_MP_OK, (n), NULL, 0
#define MORE HP_MP_INCOMPLETE, 0, NULL, 0
#define BAD(why, at) HP_MP_INVALID, 0, (why), (at)

static const struct scan_case cases[] = {
	/* every type and encoding width */
	{ "positive fixint 0", B("\x00"), ANY, OK(1) },
	{ "positive fixint 127", B("\x7f"), ANY, OK(1) },
	{ "negative fixint -32", B("\xe0"), ANY, OK(1) },
	{ "negative fixint -1", B("\xff"), ANY, OK(1) },
	{ "nil", B("\xc0"), ANY, OK(1) },
	{ "false", B("\xc2"), ANY, OK(1) },
	{ "true", B("\xc3"), ANY, OK(1) },
	{ "uint8", B("\xcc\xff"), ANY, OK(2) },
	{ "uint16", B("\xcd\xff\xff"), ANY, OK(3) },
	{ "uint32", B("\xce\xff\xff\xff\xff"), ANY, OK(5) },
	{ "uint64", B("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), ANY, OK(9) },
	{ "int8", B("\xd0\x80"), ANY, OK(2) },
	{ "int16", B("\xd1\x80\x00"), ANY, OK(3) },
	{ "int32", B("\xd2\x80\x00\x00\x00"), ANY, OK(5) },
	{ "int64", B("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), ANY, OK(9) },
	{ "float32", B("\xca\x3f\xc0\x00\x00"), ANY, OK(5) },
	{ "float64", B("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"), ANY, OK(9) },
	{ "fixstr empty", B("\xa0"), UTF8, OK(1) },
	{ "fixstr", B("\xa3" "abc"), UTF8, OK(4) },
	{ "fixstr 31", B("\xbf" "0123456789012345678901234567890"), UTF8, OK(32) },
	{ "str8", B("\xd9\x03" "abc"), UTF8, OK(5) },
	{ "str16", B("\xda\x00\x03" "abc"), UTF8, OK(6) },
	{ "str32", B("\xdb\x00\x00\x00\x03" "abc"), UTF8, OK(8) },
	{ "bin8", B("\xc4\x02\xff\x00"), UTF8, OK(4) },
	{ "bin16", B("\xc5\x00\x01\xff"), UTF8, OK(4) },
	{ "bin32", B("\xc6\x00\x00\x00\x01\xc1"), UTF8, OK(6) },
	{ "bin8 empty", B("\xc4\x00"), ANY, OK(2) },
	{ "fixext1", B("\xd4\x01\xaa"), ANY, OK(3) },
	{ "fixext2", B("\xd5\xff\xaa\xbb"), ANY, OK(4) },
	{ "fixext4", B("\xd6\x01\x00\x00\x00\x00"), ANY, OK(6) },
	{ "fixext8 (timestamp)", B("\xd7\xff\x00\x00\x00\x01\x00\x00\x00\x02"), ANY, OK(10) },
	{ "fixext16", B("\xd8\x05" "0123456789abcdef"), ANY, OK(18) },
	{ "ext8", B("\xc7\x02\x07\xaa\xbb"), ANY, OK(5) },
	{ "ext8 empty", B("\xc7\x00\x07"), ANY, OK(3) },
	{ "ext16", B("\xc8\x00\x01\x80\xaa"), ANY, OK(5) },
	{ "ext32", B("\xc9\x00\x00\x00\x01\x7f\xaa"), ANY, OK(7) },
	{ "fixarray empty", B("\x90"), ANY, OK(1) },
	{ "fixarray", B("\x93\x01\xa1x\xc0"), ANY, OK(5) },
	{ "array16", B("\xdc\x00\x02\x01\x02"), ANY, OK(5) },
	{ "array16 empty", B("\xdc\x00\x00"), ANY, OK(3) },
	{ "array32", B("\xdd\x00\x00\x00\x02\x01\x02"), ANY, OK(7) },
	{ "array32 empty", B("\xdd\x00\x00\x00\x00"), ANY, OK(5) },
	{ "fixmap empty", B("\x80"), ANY, OK(1) },
	{ "fixmap", B("\x82\xa1k\x01\x02\x92\xc0\xc0"), ANY, OK(8) },
	{ "map16", B("\xde\x00\x01\x01\x02"), ANY, OK(5) },
	{ "map32", B("\xdf\x00\x00\x00\x01\x01\x02"), ANY, OK(7) },
	{ "map with a container key", B("\x81\x91\x01\x80"), ANY, OK(4) },
	{ "nested containers closing together", B("\x92\x91\x91\x01\x81\x90\x90"), ANY, OK(7) },

	/* 0xc1 and truncation */
	{ "0xc1", B("\xc1"), ANY, BAD("0xc1", 0) },
	{ "0xc1 in an array", B("\x92\x01\xc1"), ANY, BAD("0xc1", 2) },
	{ "0xc1 as a map key", B("\x81\xc1\x01"), ANY, BAD("0xc1", 1) },
	{ "0xc1 inside a bin is data", B("\xc4\x01\xc1"), ANY, OK(3) },
	{ "nothing", B(""), ANY, MORE },
	{ "truncated array", B("\x92\x01"), ANY, MORE },
	{ "truncated uint16", B("\xcd\x01"), ANY, MORE },
	{ "truncated str", B("\xa3" "ab"), ANY, MORE },
	{ "truncated ext32 header", B("\xc9\x00\x00\x00\x01"), ANY, MORE },
	{ "truncated map value", B("\x81\x01"), ANY, MORE },

	/* more bytes after the object: the scanner stops at its end */
	{ "two objects", B("\x01\x02"), ANY, OK(1) },
	{ "two arrays", B("\x91\x01\x90"), ANY, OK(2) },
	{ "a str and a stray byte", B("\xa1x\xc1"), UTF8, OK(2) },

	/* depth: every array/map is a level, an empty one too */
	{ "depth 1 at max_depth 1", B("\x91\x01"), { 1, 0, 0 }, OK(2) },
	{ "depth 2 at max_depth 1", B("\x91\x91\x01"), { 1, 0, 0 }, BAD("nesting too deep", 1) },
	{ "empty array one level too deep", B("\x91\x90"), { 1, 0, 0 }, BAD("nesting too deep", 1) },
	{ "empty map one level too deep", B("\x81\x01\x80"), { 1, 0, 0 }, BAD("nesting too deep", 2) },
	{ "map key one level too deep", B("\x81\x90\x01"), { 1, 0, 0 }, BAD("nesting too deep", 1) },
	{ "siblings at max_depth", B("\x93\x90\x80\x91\x01"), { 2, 0, 0 }, OK(5) },
	{ "too deep before the header is whole", B("\x91\xdc"), { 1, 0, 0 },
	  BAD("nesting too deep", 1) },

	/* max_bytes */
	{ "exactly max_bytes", B("\x92\x01\x02"), { 0, 3, 0 }, OK(3) },
	{ "one byte over max_bytes", B("\x92\x01\xcc\x02"), { 0, 3, 0 },
	  BAD("object exceeds the size limit", 2) },
	{ "count over max_bytes", B("\x93\x01\x02"), { 0, 3, 0 }, BAD("count exceeds the size limit", 0) },
	{ "map pairs count twice", B("\x82\x01\x02"), { 0, 4, 0 }, BAD("count exceeds the size limit", 0) },
	{ "map pairs at max_bytes", B("\x82\x01\x02\x03\x04"), { 0, 5, 0 }, OK(5) },
	{ "str length over max_bytes", B("\xa5" "abc"), { 0, 5, 0 },
	  BAD("length exceeds the size limit", 0) },
	{ "str length at max_bytes", B("\xa5" "abc"), { 0, 6, 0 }, MORE },
	{ "float64 header over max_bytes", B("\xcb"), { 0, 8, 0 },
	  BAD("object exceeds the size limit", 0) },
	/* [array16 of 16, x]: at least 1 + 3 + 16 + 1 bytes */
	{ "siblings count against max_bytes", B("\x92\xdc\x00\x10"), { 0, 20, 0 },
	  BAD("count exceeds the size limit", 1) },
	{ "siblings at max_bytes", B("\x92\xdc\x00\x10"), { 0, 21, 0 }, MORE },
	{ "str after its siblings' minimum", B("\x93\xa3"), { 0, 6, 0 },
	  BAD("length exceeds the size limit", 1) },
	{ "bytes after the object do not count", B("\x01\x02\x03"), { 0, 1, 0 }, OK(1) },

	/* huge headers: invalid at once under a size limit, only incomplete without one */
	{ "2^32-1 array, no max_bytes", B("\xdd\xff\xff\xff\xff"), ANY, MORE },
	{ "2^32-1 array under 1 MiB", B("\xdd\xff\xff\xff\xff"), { 0, MiB, 0 },
	  BAD("count exceeds the size limit", 0) },
	{ "2^32-1 array in an array under 1 MiB", B("\x91\xdd\xff\xff\xff\xff\x01"), { 0, MiB, 0 },
	  BAD("count exceeds the size limit", 1) },
	{ "2^32-1 map under 1 MiB", B("\xdf\xff\xff\xff\xff"), { 0, MiB, 0 },
	  BAD("count exceeds the size limit", 0) },
	{ "2^31 pairs under 4 GiB", B("\xdf\x80\x00\x00\x00"), { 0, 4096 * MiB, 0 },
	  BAD("count exceeds the size limit", 0) },
	{ "2^31 pairs under 4 GiB + 5", B("\xdf\x80\x00\x00\x00"), { 0, 4096 * MiB + 5, 0 }, MORE },
	{ "100 MiB str, no max_bytes", B("\xdb\x06\x40\x00\x00" "abc"), UTF8, MORE },
	{ "100 MiB str under 1 MiB", B("\xdb\x06\x40\x00\x00" "abc"), { 0, MiB, 0 },
	  BAD("length exceeds the size limit", 0) },
	{ "4 GiB str under 1 MiB", B("\xdb\xff\xff\xff\xff"), { 0, MiB, 0 },
	  BAD("length exceeds the size limit", 0) },
	{ "4 GiB bin, no max_bytes", B("\xc6\xff\xff\xff\xff\x00"), ANY, MORE },
	{ "4 GiB ext under 1 MiB", B("\xc9\xff\xff\xff\xff\x01"), { 0, MiB, 0 },
	  BAD("length exceeds the size limit", 0) },

	/* NO_EXT */
	{ "fixext refused", B("\xd4\x01\x00"), NOEXT, BAD("ext not allowed", 0) },
	{ "ext8 refused before its header is whole", B("\xc7"), NOEXT, BAD("ext not allowed", 0) },
	{ "ext32 in a map refused", B("\x81\xa1k\xc9\x00\x00\x00\x00\x01"), NOEXT,
	  BAD("ext not allowed", 3) },
	{ "bin allowed with NO_EXT", B("\xc4\x01\xd4"), NOEXT, OK(3) },

	/* UTF-8: valid edges */
	{ "2-byte U+00E9", B("\xa2\xc3\xa9"), UTF8, OK(3) },
	{ "2-byte U+0080", B("\xa2\xc2\x80"), UTF8, OK(3) },
	{ "3-byte U+0800", B("\xa3\xe0\xa0\x80"), UTF8, OK(4) },
	{ "3-byte U+20AC", B("\xa3\xe2\x82\xac"), UTF8, OK(4) },
	{ "3-byte U+D7FF", B("\xa3\xed\x9f\xbf"), UTF8, OK(4) },
	{ "3-byte U+E000", B("\xa3\xee\x80\x80"), UTF8, OK(4) },
	{ "3-byte U+FFFF", B("\xa3\xef\xbf\xbf"), UTF8, OK(4) },
	{ "4-byte U+10000", B("\xa4\xf0\x90\x80\x80"), UTF8, OK(5) },
	{ "4-byte U+1F600", B("\xa4\xf0\x9f\x98\x80"), UTF8, OK(5) },
	{ "4-byte U+10FFFF", B("\xa4\xf4\x8f\xbf\xbf"), UTF8, OK(5) },
	{ "NUL is valid UTF-8", B("\xa1\x00"), UTF8, OK(2) },
	{ "truncated multibyte str", B("\xa4\xf0\x9f\x98"), UTF8, MORE },

	/* UTF-8: invalid */
	{ "lone continuation", B("\xa3" "a\x80z"), UTF8, BAD("invalid UTF-8", 2) },
	{ "lone continuation 0xbf", B("\xa1\xbf"), UTF8, BAD("invalid UTF-8", 1) },
	{ "overlong 0xc0 0x80", B("\xa2\xc0\x80"), UTF8, BAD("invalid UTF-8", 1) },
	{ "overlong 0xc1 0xbf", B("\xa2\xc1\xbf"), UTF8, BAD("invalid UTF-8", 1) },
	{ "overlong 3-byte U+007F", B("\xa3\xe0\x81\xbf"), UTF8, BAD("invalid UTF-8", 1) },
	{ "overlong 3-byte U+07FF", B("\xa3\xe0\x9f\xbf"), UTF8, BAD("invalid UTF-8", 1) },
	{ "overlong 4-byte U+FFFF", B("\xa4\xf0\x8f\xbf\xbf"), UTF8, BAD("invalid UTF-8", 1) },
	{ "overlong 4-byte NUL", B("\xa4\xf0\x80\x80\x80"), UTF8, BAD("invalid UTF-8", 1) },
	{ "surrogate U+D800", B("\xa3\xed\xa0\x80"), UTF8, BAD("invalid UTF-8", 1) },
	{ "surrogate U+DFFF", B("\xa3\xed\xbf\xbf"), UTF8, BAD("invalid UTF-8", 1) },
	{ "above U+10FFFF", B("\xa4\xf4\x90\x80\x80"), UTF8, BAD("invalid UTF-8", 1) },
	{ "lead 0xf5", B("\xa4\xf5\x80\x80\x80"), UTF8, BAD("invalid UTF-8", 1) },
	{ "lead 0xff", B("\xa1\xff"), UTF8, BAD("invalid UTF-8", 1) },
	{ "sequence cut by the str's end", B("\xa2\xe2\x82"), UTF8, BAD("invalid UTF-8", 1) },
	{ "sequence cut by the str's end, more follows", B("\x92\xa1\xc3\xa9"), UTF8,
	  BAD("invalid UTF-8", 2) },
	{ "sequence cut by the str's end before it is fed", B("\xa2" "a\xf0"), UTF8,
	  BAD("invalid UTF-8", 2) },
	{ "non-continuation inside a sequence", B("\xa3\xe2" "ab"), UTF8, BAD("invalid UTF-8", 1) },
	{ "bad last byte of 4", B("\xa4\xf0\x9f\x98" "a"), UTF8, BAD("invalid UTF-8", 1) },
	{ "invalid UTF-8 in a map key", B("\x81\xa1\xff\x01"), UTF8, BAD("invalid UTF-8", 2) },
	{ "invalid UTF-8 in str8", B("\xd9\x02" "a\xff"), UTF8, BAD("invalid UTF-8", 3) },
	{ "invalid UTF-8 without the flag", B("\xa2\xed\xa0"), ANY, OK(3) },
};

/* An exact-size heap copy, so ASan sees any read past the end. */
static uint8_t *copy_of(const uint8_t *b, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	if (!c)
		abort();
	memcpy(c, b, n);
	return c;
}

struct outcome {
	int status;
	size_t obj_len;
	const char *error;
	uint64_t offset;
};

/* Feeds buf in pieces of `chunk` bytes (0: all at once); each call sees everything so far. */
static struct outcome scan_chunked(const uint8_t *buf, size_t len, const struct hp_mp_limits *lim,
				   size_t chunk)
{
	struct hp_mp_scanner s;
	struct outcome o = { HP_MP_INCOMPLETE, 0, NULL, 0 };
	hp_mp_scanner_init(&s, lim);
	size_t fed = chunk ? 0 : len;
	for (;;) {
		/* a copy of exactly what is fed so far: reading further is a bug ASan reports */
		uint8_t *part = copy_of(buf, fed);
		o.status = hp_mp_scan(&s, part, fed, &o.obj_len);
		free(part);
		if (o.status != HP_MP_INCOMPLETE || fed == len)
			break;
		fed = len - fed < chunk ? len : fed + chunk;
	}
	if (o.status == HP_MP_INVALID) {
		o.error = s.error;
		o.offset = s.error_offset;
	}
	return o;
}

static bool same_outcome(const struct outcome *a, const struct outcome *b)
{
	if (a->status != b->status)
		return false;
	if (a->status == HP_MP_OK)
		return a->obj_len == b->obj_len;
	if (a->status == HP_MP_INVALID)
		return a->offset == b->offset && a->error && b->error && !strcmp(a->error, b->error);
	return true;
}

static void check_case(const struct scan_case *c)
{
	struct outcome one = scan_chunked(c->bytes, c->len, &c->lim, 0);
	CHECK_MSG(one.status == c->status, "%s: status %d, expected %d (%s at %" PRIu64 ")",
		  c->name, one.status, c->status, one.error ? one.error : "-", one.offset);
	if (c->status == HP_MP_OK)
		CHECK_MSG(one.obj_len == c->obj_len, "%s: length %zu, expected %zu", c->name,
			  one.obj_len, c->obj_len);
	if (c->status == HP_MP_INVALID) {
		CHECK_MSG(one.error && strstr(one.error, c->reason), "%s: reason \"%s\", expected \"%s\"",
			  c->name, one.error ? one.error : "(none)", c->reason);
		CHECK_MSG(one.offset == c->offset, "%s: offset %" PRIu64 ", expected %" PRIu64,
			  c->name, one.offset, c->offset);
	}

	/* chunked feeding gives the one-shot answer */
	static const size_t chunks[] = { 1, 2, 3, 7 };
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct outcome o = scan_chunked(c->bytes, c->len, &c->lim, chunks[i]);
		CHECK_MSG(same_outcome(&o, &one), "%s: fed %zu bytes at a time: status %d (%s)",
			  c->name, chunks[i], o.status, o.error ? o.error : "-");
	}

	/* hp_mp_check_one: OK only when the object is the whole buffer */
	const char *why = NULL;
	size_t at = 0;
	int rc = hp_mp_check_one(c->bytes, c->len, &c->lim, &why, &at);
	if (one.status == HP_MP_OK && one.obj_len == c->len) {
		CHECK_MSG(rc == HP_MP_OK, "%s: check_one %d", c->name, rc);
	} else if (one.status == HP_MP_OK) {
		CHECK_MSG(rc == HP_MP_INVALID && why && !strcmp(why, "bytes after the object") &&
				  at == one.obj_len,
			  "%s: check_one %d \"%s\" at %zu", c->name, rc, why ? why : "-", at);
	} else if (one.status == HP_MP_INCOMPLETE) {
		CHECK_MSG(rc == HP_MP_INCOMPLETE && why && !strcmp(why, "truncated") && at == c->len,
			  "%s: check_one %d \"%s\" at %zu", c->name, rc, why ? why : "-", at);
	} else {
		CHECK_MSG(rc == HP_MP_INVALID && why == one.error && at == one.offset,
			  "%s: check_one %d \"%s\" at %zu", c->name, rc, why ? why : "-", at);
	}

	/* every proper prefix of an accepted object can still become it: INCOMPLETE */
	if (one.status != HP_MP_OK)
		return;
	for (size_t n = 0; n < one.obj_len; n++) {
		uint8_t *part = copy_of(c->bytes, n);
		rc = hp_mp_check_one(part, n, &c->lim, &why, &at);
		free(part);
		CHECK_MSG(rc == HP_MP_INCOMPLETE, "%s: prefix of %zu bytes: %d (%s)", c->name, n, rc,
			  rc == HP_MP_INVALID ? why : "-");
	}
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
}

/* --- generated objects --------------------------------------------------------------------- */

/* n nested one-element arrays around a nil: depth n, n + 1 bytes. */
static uint8_t *nested(size_t n)
{
	uint8_t *b = malloc(n + 1);
	if (!b)
		abort();
	memset(b, 0x91, n);
	b[n] = 0xc0;
	return b;
}

static void test_depth(void)
{
	struct {
		size_t levels;
		uint32_t max_depth;
		int status;
	} t[] = {
		{ HP_MP_MAX_DEPTH, 0, HP_MP_OK },          /* 0: the default, HP_MP_MAX_DEPTH */
		{ HP_MP_MAX_DEPTH + 1, 0, HP_MP_INVALID },
		{ HP_MP_MAX_DEPTH, HP_MP_MAX_DEPTH, HP_MP_OK },
		{ HP_MP_MAX_DEPTH + 1, HP_MP_MAX_DEPTH, HP_MP_INVALID },
		{ HP_MP_MAX_DEPTH + 1, 1000, HP_MP_INVALID }, /* clamped to HP_MP_MAX_DEPTH */
		{ 32, 32, HP_MP_OK },
		{ 33, 32, HP_MP_INVALID },
		{ 10000, 0, HP_MP_INVALID },
		{ 10000, 1, HP_MP_INVALID },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t *b = nested(t[i].levels);
		struct hp_mp_limits lim = { t[i].max_depth, 0, 0 };
		uint32_t max = t[i].max_depth && t[i].max_depth < HP_MP_MAX_DEPTH ? t[i].max_depth
										  : HP_MP_MAX_DEPTH;
		struct scan_case c = { "nested arrays", b, t[i].levels + 1, lim, t[i].status,
				       t[i].levels + 1, "nesting too deep", max };
		if (t[i].levels <= 100) {
			check_case(&c); /* includes every chunking and every prefix */
		} else {
			const char *why = NULL;
			size_t at = 0;
			int rc = hp_mp_check_one(b, t[i].levels + 1, &lim, &why, &at);
			CHECK_MSG(rc == HP_MP_INVALID && why && !strcmp(why, "nesting too deep") &&
					  at == max,
				  "%zu levels, max_depth %u: %d %s at %zu", t[i].levels,
				  t[i].max_depth, rc, why ? why : "-", at);
			struct outcome o = scan_chunked(b, t[i].levels + 1, &lim, 1);
			CHECK(o.status == HP_MP_INVALID && o.offset == max);
		}
		free(b);
	}
}

/* Appends a header of `type_byte` with a big-endian value of `width` bytes. */
static size_t put_header(uint8_t *p, uint8_t type_byte, uint64_t v, unsigned width)
{
	p[0] = type_byte;
	for (unsigned i = 0; i < width; i++)
		p[1 + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
	return 1 + width;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Byte-at-a-time feeding of a large object costs about as much as one call: the scanner never
 * rescans. A quadratic scanner would take hours here, a linear one well under a second. */
static void check_linear(const char *what, const uint8_t *b, size_t n, uint32_t flags)
{
	struct hp_mp_limits lim = { 0, n, flags };
	struct hp_mp_scanner s;
	size_t obj_len = 0;
	int rc = HP_MP_INCOMPLETE;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	hp_mp_scanner_init(&s, &lim);
	size_t fed = 0;
	while (rc == HP_MP_INCOMPLETE && fed < n)
		rc = hp_mp_scan(&s, b, ++fed, &obj_len);
	double dt = seconds_since(&t0);
	fprintf(stderr, "%s: %zu bytes fed one at a time in %.3f s\n", what, n, dt);
	CHECK_MSG(rc == HP_MP_OK && obj_len == n && fed == n, "%s: %d after %zu bytes (%s)", what,
		  rc, fed, rc == HP_MP_INVALID ? s.error : "-");
	CHECK_MSG(dt < 20.0, "%s: %.1f s for %zu one-byte feeds", what, dt, n);
	CHECK(hp_mp_check_one(b, n, &lim, NULL, NULL) == HP_MP_OK);
}

static void test_linear(void)
{
	/* one 8 MiB str of 2-, 3- and 4-byte sequences and ASCII */
	size_t body = 8 * MiB;
	uint8_t *b = malloc(body + 5);
	size_t n = put_header(b, 0xdb, body, 4);
	static const char pattern[] = "\xc3\xa9" "a" "\xe2\x82\xac" "\xf0\x9f\x98\x80"; /* 10 bytes */
	for (size_t i = 0; i < body; i++)
		b[n + i] = (uint8_t)(i < body - body % 10 ? pattern[i % 10] : 'z');
	check_linear("8 MiB str", b, n + body, HP_MP_F_UTF8);
	free(b);

	/* an array of a million small mixed elements, nested maps and strs among them */
	size_t count = 1000000, cap = count * 16 + 5;
	b = malloc(cap);
	n = put_header(b, 0xdd, count, 4);
	for (size_t i = 0; i < count; i++) {
		switch (i % 5) {
		case 0: n += put_header(b + n, 0xcd, i & 0xffff, 2); break;
		case 1: n += put_header(b + n, 0xcf, i, 8); break;
		case 2: memcpy(b + n, "\xa3\xe2\x82\xac", 4); n += 4; break;
		case 3: memcpy(b + n, "\x81\xa1k\x91\xc4\x01\x00", 7); n += 7; break;
		default: memcpy(b + n, "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", 9); n += 9; break;
		}
	}
	check_linear("1M mixed elements", b, n, HP_MP_F_UTF8 | HP_MP_F_NO_EXT);
	free(b);
}

/* --- hp_mp_token ----------------------------------------------------------------------------- */

static void test_token(void)
{
	struct hp_mp_token t;
	CHECK(hp_mp_token(B("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), &t) == HP_MP_OK &&
	      t.type == HP_MP_UINT && t.v.u == UINT64_MAX && t.header_len == 9);
	CHECK(hp_mp_token(B("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), &t) == HP_MP_OK &&
	      t.type == HP_MP_INT && t.v.i == INT64_MIN);
	CHECK(hp_mp_token(B("\xd3\xff\xff\xff\xff\xff\xff\xff\xfe"), &t) == HP_MP_OK && t.v.i == -2);
	CHECK(hp_mp_token(B("\xd3\x7f\xff\xff\xff\xff\xff\xff\xff"), &t) == HP_MP_OK &&
	      t.v.i == INT64_MAX);
	CHECK(hp_mp_token(B("\xd0\x80"), &t) == HP_MP_OK && t.type == HP_MP_INT && t.v.i == -128);
	CHECK(hp_mp_token(B("\xd0\x05"), &t) == HP_MP_OK && t.type == HP_MP_INT && t.v.i == 5);
	CHECK(hp_mp_token(B("\xd1\x80\x00"), &t) == HP_MP_OK && t.v.i == -32768);
	CHECK(hp_mp_token(B("\xd2\xff\xff\xff\xff"), &t) == HP_MP_OK && t.v.i == -1);
	CHECK(hp_mp_token(B("\xe0"), &t) == HP_MP_OK && t.type == HP_MP_INT && t.v.i == -32);
	CHECK(hp_mp_token(B("\x7f"), &t) == HP_MP_OK && t.type == HP_MP_UINT && t.v.u == 127);
	CHECK(hp_mp_token(B("\xcd\x12\x34"), &t) == HP_MP_OK && t.v.u == 0x1234);
	CHECK(hp_mp_token(B("\xca\x3f\xc0\x00\x00"), &t) == HP_MP_OK && t.type == HP_MP_FLOAT32 &&
	      t.v.f64 == 1.5);
	CHECK(hp_mp_token(B("\xcb\xc0\x04\x00\x00\x00\x00\x00\x00"), &t) == HP_MP_OK &&
	      t.type == HP_MP_FLOAT64 && t.v.f64 == -2.5);
	CHECK(hp_mp_token(B("\xc3"), &t) == HP_MP_OK && t.type == HP_MP_BOOL && t.v.b);
	CHECK(hp_mp_token(B("\xc2"), &t) == HP_MP_OK && t.type == HP_MP_BOOL && !t.v.b);
	CHECK(hp_mp_token(B("\xc0"), &t) == HP_MP_OK && t.type == HP_MP_NIL);
	static const uint8_t str[] = "\xd9\x05hello";
	CHECK(hp_mp_token(str, 3, &t) == HP_MP_OK && t.type == HP_MP_STR && t.len == 5 &&
	      t.header_len == 2 && t.data == str + 2); /* the payload need not be there */
	CHECK(hp_mp_token(B("\xdb\xff\xff\xff\xff"), &t) == HP_MP_OK && t.len == UINT32_MAX);
	CHECK(hp_mp_token(B("\xc8\x01\x00\xfe"), &t) == HP_MP_OK && t.type == HP_MP_EXT &&
	      t.len == 256 && t.ext_type == -2 && t.header_len == 4);
	CHECK(hp_mp_token(B("\xd8\x7f"), &t) == HP_MP_OK && t.type == HP_MP_EXT && t.len == 16 &&
	      t.ext_type == 127 && t.header_len == 2);
	CHECK(hp_mp_token(B("\xde\x00\x03"), &t) == HP_MP_OK && t.type == HP_MP_MAP && t.len == 3);
	CHECK(hp_mp_token(B("\x9f"), &t) == HP_MP_OK && t.type == HP_MP_ARRAY && t.len == 15);
	CHECK(hp_mp_token(B("\xc6\x00\x00\x01\x00"), &t) == HP_MP_OK && t.type == HP_MP_BIN &&
	      t.len == 256);
	/* incomplete headers say how long they are */
	CHECK(hp_mp_token(B("\xcb\x00"), &t) == HP_MP_INCOMPLETE && t.type == HP_MP_FLOAT64 &&
	      t.header_len == 9);
	CHECK(hp_mp_token(B("\xc9\x00\x00\x00\x00"), &t) == HP_MP_INCOMPLETE && t.type == HP_MP_EXT &&
	      t.header_len == 6);
	CHECK(hp_mp_token(NULL, 0, &t) == HP_MP_INCOMPLETE && t.header_len == 1);
	CHECK(hp_mp_token(B("\xc1"), &t) == HP_MP_INVALID);
}

/* --- scanner API edges ----------------------------------------------------------------------- */

static void test_scanner_api(void)
{
	struct hp_mp_scanner s;
	size_t n = 0;
	static const uint8_t two[] = { 0x92, 0x01, 0x02, 0xff };
	hp_mp_scanner_init(&s, NULL);
	CHECK(hp_mp_scan(&s, NULL, 0, &n) == HP_MP_INCOMPLETE);
	CHECK(hp_mp_scan(&s, two, 2, &n) == HP_MP_INCOMPLETE);
	CHECK(hp_mp_scan(&s, two, 4, &n) == HP_MP_OK && n == 3);
	CHECK(hp_mp_scan(&s, two, 4, &n) == HP_MP_OK && n == 3); /* done stays done */
	/* a buffer shorter than before is the caller's bug: refused, and final */
	hp_mp_scanner_init(&s, NULL);
	CHECK(hp_mp_scan(&s, two, 2, &n) == HP_MP_INCOMPLETE);
	CHECK(hp_mp_scan(&s, two, 1, &n) == HP_MP_INVALID && s.error);
	CHECK(hp_mp_scan(&s, two, 4, &n) == HP_MP_INVALID);
	/* invalid stays invalid */
	hp_mp_scanner_init(&s, NULL);
	CHECK(hp_mp_scan(&s, (const uint8_t *)"\x91\xc1", 2, &n) == HP_MP_INVALID);
	CHECK(hp_mp_scan(&s, (const uint8_t *)"\x91\xc1", 2, &n) == HP_MP_INVALID &&
	      s.error_offset == 1);
	/* check_one leaves error and offset alone on success, takes NULLs */
	const char *why = "untouched";
	size_t at = 77;
	CHECK(hp_mp_check_one(two, 3, NULL, &why, &at) == HP_MP_OK && !strcmp(why, "untouched") &&
	      at == 77);
	CHECK(hp_mp_check_one(two, 4, NULL, NULL, NULL) == HP_MP_INVALID);
	CHECK(hp_mp_check_one(two, 4, NULL, &why, &at) == HP_MP_INVALID &&
	      !strcmp(why, "bytes after the object") && at == 3 && 4 - at == 1);
	CHECK(hp_mp_check_one(NULL, 0, NULL, &why, &at) == HP_MP_INCOMPLETE && at == 0);
}

/* --- UTF-8 --------------------------------------------------------------------------------- */

/* An independent reference: decode the code point, then ask whether it is a scalar value
 * encoded in the shortest form. */
static bool ref_utf8_valid(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t b = s[i];
		size_t len = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3
				       : (b & 0xf8) == 0xf0 ? 4 : 0;
		if (!len || len > n - i)
			return false;
		uint32_t cp = len == 1 ? b : b & (0x7f >> len);
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
		if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static void test_utf8_exhaustive(void)
{
	/* every input of 1, 2 and 3 bytes; 4-byte inputs with every first two bytes */
	size_t mismatches = 0, invalid_sanitized = 0;
	uint8_t in[4];
	char out[HP_UTF8_SANITIZED_SIZE(4)];
	for (uint32_t v = 0; v < (1u << 24) + (1u << 16) + (1u << 8); v++) {
		size_t n = v < 256 ? 1 : v < 256 + 65536 ? 2 : 3;
		uint32_t x = n == 1 ? v : n == 2 ? v - 256 : v - 256 - 65536;
		for (size_t k = 0; k < n; k++)
			in[k] = (uint8_t)(x >> (8 * (n - 1 - k)));
		if (hp_utf8_valid(in, n) != ref_utf8_valid(in, n))
			mismatches++;
		if (n < 3 || in[0] >= 0x80) {
			size_t w = hp_utf8_sanitize(in, n, out, sizeof(out));
			if (!hp_utf8_valid((const uint8_t *)out, w) || out[w] != '\0')
				invalid_sanitized++;
		}
	}
	static const uint8_t tails[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
					 0xc0, 0xf4, 0xff };
	for (uint32_t v = 0; v < 65536; v++) {
		in[0] = (uint8_t)(v >> 8), in[1] = (uint8_t)v;
		for (size_t a = 0; a < sizeof(tails); a++) {
			for (size_t b = 0; b < sizeof(tails); b++) {
				in[2] = tails[a], in[3] = tails[b];
				if (hp_utf8_valid(in, 4) != ref_utf8_valid(in, 4))
					mismatches++;
				size_t w = hp_utf8_sanitize(in, 4, out, sizeof(out));
				if (!hp_utf8_valid((const uint8_t *)out, w))
					invalid_sanitized++;
			}
		}
	}
	CHECK_MSG(mismatches == 0, "hp_utf8_valid differs from the reference on %zu inputs", mismatches);
	CHECK_MSG(invalid_sanitized == 0, "%zu sanitized outputs are not valid UTF-8", invalid_sanitized);
}

struct sanitize_case {
	const char *name;
	const char *in;
	size_t in_len;
	size_t outsize;
	const char *out; /* expected, NUL-terminated */
	size_t out_len;
};

#define S(lit) lit, sizeof(lit) - 1
#define FFFD "\xef\xbf\xbd"

static const struct sanitize_case sanitize_cases[] = {
	{ "ASCII", S("hello"), 64, S("hello") },
	{ "valid multibyte", S("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"), 64,
	  S("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80") },
	{ "empty", S(""), 4, S("") },
	{ "a bad byte", S("a\xff" "b"), 64, S("a" FFFD "b") },
	{ "each bad byte alone", S("\x80\x80"), 64, S(FFFD FFFD) },
	{ "a cut sequence: each byte", S("\xe2\x82"), 64, S(FFFD FFFD) },
	{ "a cut sequence then ASCII", S("\xe2\x82" "x"), 64, S(FFFD FFFD "x") },
	{ "a bad byte before a valid sequence", S("\xe2\xc3\xa9"), 64, S(FFFD "\xc3\xa9") },
	{ "overlong", S("\xc0\xaf"), 64, S(FFFD FFFD) },
	{ "surrogate", S("\xed\xa0\x80"), 64, S(FFFD FFFD FFFD) },
	{ "above U+10FFFF", S("\xf4\x90\x80\x80"), 64, S(FFFD FFFD FFFD FFFD) },
	{ "NUL is kept", S("a\0b"), 64, "a\0b", 3 },
	{ "U+FFFD itself", S(FFFD), 64, S(FFFD) },
	{ "cut to the room left", S("abcdef"), 4, S("abc") },
	{ "no room for a 2-byte sequence", S("ab\xc3\xa9"), 4, S("ab") },
	{ "room for exactly a replacement", S("\xff"), 4, S(FFFD) },
	{ "no room for a replacement", S("a\xff"), 4, S("a") },
	{ "outsize 1", S("abc"), 1, S("") },
	{ "4-byte sequence at the end of the room", S("\xf0\x9f\x98\x80" "a"), 5,
	  S("\xf0\x9f\x98\x80") },
	{ "all bad at 3x + 1", S("\xff\xfe\xfd"), 10, S(FFFD FFFD FFFD) },
};

static void test_sanitize(void)
{
	for (size_t i = 0; i < sizeof(sanitize_cases) / sizeof(sanitize_cases[0]); i++) {
		const struct sanitize_case *c = &sanitize_cases[i];
		uint8_t *in = copy_of((const uint8_t *)c->in, c->in_len);
		char *out = malloc(c->outsize);
		memset(out, 'X', c->outsize);
		size_t w = hp_utf8_sanitize(in, c->in_len, out, c->outsize);
		CHECK_MSG(w == c->out_len && !memcmp(out, c->out, w) && out[w] == '\0',
			  "sanitize %s: %zu bytes \"%.*s\"", c->name, w, (int)w, out);
		CHECK_MSG(hp_utf8_valid((const uint8_t *)out, w), "sanitize %s: output invalid", c->name);
		free(out);
		free(in);
	}
	/* outsize 0: nothing written */
	char none = 'X';
	CHECK(hp_utf8_sanitize((const uint8_t *)"a", 1, &none, 0) == 0 && none == 'X');
	/* 1024 bad bytes fit HP_UTF8_SANITIZED_SIZE(1024) whole */
	uint8_t bad[1024];
	memset(bad, 0xff, sizeof(bad));
	char out[HP_UTF8_SANITIZED_SIZE(sizeof(bad))];
	CHECK(hp_utf8_sanitize(bad, sizeof(bad), out, sizeof(out)) == 3 * sizeof(bad));
	/* valid input comes back unchanged */
	static const char valid[] = "ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	CHECK(hp_utf8_valid((const uint8_t *)valid, sizeof(valid) - 1));
	CHECK(hp_utf8_sanitize((const uint8_t *)valid, sizeof(valid) - 1, out, sizeof(out)) ==
		      sizeof(valid) - 1 &&
	      !strcmp(out, valid));
}

int main(void)
{
	test_table();
	test_depth();
	test_token();
	test_scanner_api();
	test_utf8_exhaustive();
	test_sanitize();
	test_linear();
	CHECK_DONE();
}
