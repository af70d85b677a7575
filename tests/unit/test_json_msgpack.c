/* test_json_msgpack.c - the tools' JSON <-> msgpack codec (client/json/, hp_json.h): byte-level
 * encodings, round trips for every type and edge case, and the error paths.
 *
 *   gcc -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -fsanitize=address,undefined \
 *       -Iclient/json -Iproto -Itests/common client/json/json_to_msgpack.c \
 *       client/json/msgpack_to_json.c client/json/json_out.c client/json/base64.c \
 *       client/json/jansson_compat.c client/json/json_err.c proto/hp_mpscan.c \
 *       tests/unit/test_json_msgpack.c -lmsgpackc -ljansson */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "hp_json.h"

static char err[256];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hexdump(const uint8_t *p, size_t n, char *dst, size_t cap)
{
	size_t o = 0;

	dst[0] = '\0';
	for (size_t i = 0; i < n && o + 4 < cap; i++)
		o += (size_t)snprintf(dst + o, cap - o, "%s%02x", i ? " " : "", p[i]);
}

/* JSON -> msgpack must give exactly these bytes (hex, space separated). */
static void check_bytes_at(const char *json, const char *hex, int line)
{
	uint8_t *out = NULL;
	size_t n = 0;
	char got[512];

	err[0] = '\0';
	int rc = hp_json_to_msgpack(json, strlen(json), &out, &n, err, sizeof(err));
	CHECK_MSG(rc == 0, "line %d: %s: %s", line, json, err);
	if (rc == 0) {
		hexdump(out, n, got, sizeof(got));
		CHECK_MSG(strcmp(got, hex) == 0, "line %d: %s -> %s, expected %s", line, json, got,
			  hex);
	}
	free(out);
}
#define check_bytes(j, h) check_bytes_at(j, h, __LINE__)

/* JSON -> msgpack -> JSON must give `expect` (NULL: the input itself). */
static void check_rt_at(const char *json, size_t len, const char *expect, int line)
{
	uint8_t *mp = NULL;
	size_t n = 0;
	char *back = NULL;

	if (!expect)
		expect = json;
	err[0] = '\0';
	int rc = hp_json_to_msgpack(json, len, &mp, &n, err, sizeof(err));
	CHECK_MSG(rc == 0, "line %d: to msgpack: %s: %s", line, json, err);
	if (rc == 0) {
		rc = hp_msgpack_to_json(mp, n, &back, err, sizeof(err));
		CHECK_MSG(rc == 0, "line %d: to JSON: %s: %s", line, json, err);
		if (rc == 0)
			CHECK_MSG(strcmp(back, expect) == 0, "line %d: %s -> %s, expected %s", line,
				  json, back, expect);
	}
	free(mp);
	free(back);
}
#define check_rt(j) check_rt_at(j, strlen(j), NULL, __LINE__)
#define check_rt_as(j, e) check_rt_at(j, strlen(j), e, __LINE__)

/* msgpack bytes -> JSON must give `expect`. */
static void check_m2j_at(const uint8_t *mp, size_t n, const char *expect, int line)
{
	char *out = NULL;

	err[0] = '\0';
	int rc = hp_msgpack_to_json(mp, n, &out, err, sizeof(err));
	CHECK_MSG(rc == 0, "line %d: %s", line, err);
	if (rc == 0)
		CHECK_MSG(strcmp(out, expect) == 0, "line %d: got %s, expected %s", line, out,
			  expect);
	free(out);
}
#define check_m2j(expect, ...)                                                                 \
	do {                                                                                   \
		static const uint8_t mp_[] = {__VA_ARGS__};                                    \
		check_m2j_at(mp_, sizeof(mp_), expect, __LINE__);                              \
	} while (0)

/* JSON -> msgpack must fail with a message containing `needle`. */
static void check_j2m_err_at(const char *json, size_t len, const char *needle, int line)
{
	uint8_t *out = (uint8_t *)1;
	size_t n = 1;

	err[0] = '\0';
	int rc = hp_json_to_msgpack(json, len, &out, &n, err, sizeof(err));
	CHECK_MSG(rc == -1, "line %d: %.60s accepted", line, json);
	CHECK_MSG(out == NULL && n == 0, "line %d: outputs not cleared", line);
	CHECK_MSG(strstr(err, needle), "line %d: %.60s: \"%s\" lacks \"%s\"", line, json, err,
		  needle);
	if (rc == 0)
		free(out);
}
#define check_j2m_err(j, needle) check_j2m_err_at(j, strlen(j), needle, __LINE__)

static void check_m2j_err_at(const uint8_t *mp, size_t n, const char *needle, int line)
{
	char *out = (char *)1;

	err[0] = '\0';
	int rc = hp_msgpack_to_json(mp, n, &out, err, sizeof(err));
	CHECK_MSG(rc == -1, "line %d: accepted: %s", line, rc == 0 ? out : "");
	CHECK_MSG(out == NULL || rc == 0, "line %d: output not cleared", line);
	CHECK_MSG(strstr(err, needle), "line %d: \"%s\" lacks \"%s\"", line, err, needle);
	if (rc == 0)
		free(out);
}
#define check_m2j_err(needle, ...)                                                             \
	do {                                                                                   \
		static const uint8_t mp_[] = {__VA_ARGS__};                                    \
		check_m2j_err_at(mp_, sizeof(mp_), needle, __LINE__);                          \
	} while (0)

static void test_bytes(void)
{
	check_bytes("[1,-1,\"a\"]", "93 01 ff a1 61");
	check_bytes("null", "c0");
	check_bytes("true", "c3");
	check_bytes("false", "c2");
	check_bytes("\"\"", "a0");
	check_bytes("[]", "90");
	check_bytes("{}", "80");
	check_bytes("{\"a\":[]}", "81 a1 61 90");
	check_bytes("0", "00");
	check_bytes("-0", "00");
	check_bytes("127", "7f");
	check_bytes("128", "cc 80");
	check_bytes("65535", "cd ff ff");
	check_bytes("65536", "ce 00 01 00 00");
	check_bytes("-32", "e0");
	check_bytes("-33", "d0 df");
	check_bytes("-129", "d1 ff 7f");
	check_bytes("-9223372036854775808", "d3 80 00 00 00 00 00 00 00");
	check_bytes("9223372036854775807", "cf 7f ff ff ff ff ff ff ff");
	check_bytes("9223372036854775808", "cf 80 00 00 00 00 00 00 00");
	check_bytes("18446744073709551615", "cf ff ff ff ff ff ff ff ff");
	check_bytes("1.5", "cb 3f f8 00 00 00 00 00 00");
	check_bytes("-0.0", "cb 80 00 00 00 00 00 00 00");
	check_bytes("1e0", "cb 3f f0 00 00 00 00 00 00");
	check_bytes("{\"$float\":\"Infinity\"}", "cb 7f f0 00 00 00 00 00 00");
	check_bytes("{\"$float\":\"-Infinity\"}", "cb ff f0 00 00 00 00 00 00");
	check_bytes("{\"$bin\":\"\"}", "c4 00");
	check_bytes("{\"$bin\":\"AAEC\"}", "c4 03 00 01 02");
	check_bytes("{\"$bin\":\"/w==\"}", "c4 01 ff");
	check_bytes("{\"$ext\":[5,\"AQI=\"]}", "d5 05 01 02");
	check_bytes("{\"$ext\":[-1,\"AAAAAA==\"]}", "d6 ff 00 00 00 00");
	check_bytes("{\"$ext\":[127,\"\"]}", "c7 00 7f");
	check_bytes("\"a\\u0000b\"", "a3 61 00 62");
	check_bytes("\"\\u00e9\"", "a2 c3 a9");
	check_bytes("\"\\ud83d\\ude00\"", "a4 f0 9f 98 80");
	/* Objects keep input order; {"$bin"} with a second key is a normal map. */
	check_bytes("{\"b\":1,\"a\":2}", "82 a1 62 01 a1 61 02");
	check_bytes("{\"$bin\":\"AA==\",\"x\":1}", "82 a4 24 62 69 6e a4 41 41 3d 3d a1 78 01");
	check_bytes("{\"$other\":1}", "81 a6 24 6f 74 68 65 72 01");
	/* NaN: any quiet NaN is fine, check exponent and mantissa bits. */
	{
		uint8_t *out = NULL;
		size_t n = 0;
		double d;
		uint64_t u = 0;

		CHECK(hp_json_to_msgpack("{\"$float\":\"NaN\"}", 16, &out, &n, err, sizeof(err)) ==
		      0);
		CHECK(n == 9 && out && out[0] == 0xcb);
		if (n == 9) {
			for (int i = 1; i < 9; i++)
				u = u << 8 | out[i];
			memcpy(&d, &u, sizeof(d));
			CHECK(isnan(d));
		}
		free(out);
	}
}

static void test_round_trips(void)
{
	check_rt("null");
	check_rt("true");
	check_rt("false");
	check_rt("\"\"");
	check_rt("[]");
	check_rt("{}");
	check_rt("[[],{},[{}],{\"\":[]}]");
	check_rt("[[[[[[[[[[1]]]]]]]]]]");
	check_rt("0");
	check_rt("-1");
	check_rt("-9223372036854775808");
	check_rt("9223372036854775807");
	check_rt("9223372036854775808");
	check_rt("18446744073709551615");
	check_rt("[18446744073709551615,1,{\"k\":9223372036854775808},-5,12345678901234567890]");
	check_rt("-0.0");
	check_rt("0.0");
	check_rt("0.1");
	check_rt("2.0");
	check_rt("-2.5");
	check_rt("1e+300");
	check_rt("-1e-300");
	check_rt("1.7976931348623157e+308");
	check_rt_as("4.9406564584124654e-324", "4.94065645841247e-324"); /* subnormal */
	check_rt("0.30000000000000004");
	check_rt("1e+21");
	check_rt("123456789012.5");
	check_rt("{\"$float\":\"NaN\"}");
	check_rt("{\"$float\":\"Infinity\"}");
	check_rt("{\"$float\":\"-Infinity\"}");
	check_rt("[{\"$float\":\"NaN\"},1.5]");
	check_rt("{\"$bin\":\"\"}");
	check_rt("{\"$bin\":\"AAECAwQ=\"}");
	check_rt("{\"$ext\":[-128,\"\"]}");
	check_rt("{\"$ext\":[0,\"AQIDBAUGBwgJCgsMDQ4PEA==\"]}");
	check_rt("\"é😀\"");
	check_rt("\"a\\u0000b\"");
	check_rt("\"\\u0001\\u001f\\\"\\\\/\x7f\"");
	check_rt("{\"b\":1,\"a\":2,\"c\":{\"z\":null,\"y\":[true,false]}}");
	check_rt("{\"$bin\":\"AA==\",\"x\":1}");
	check_rt("{\"$binx\":\"!\"}");
	check_rt("{\"é\":\"😀\"}");

	/* Other spellings of the same values. */
	check_rt_as(" [ 1 , 2 ]\n", "[1,2]");
	check_rt_as("\"\\u00e9\\ud83d\\ude00\"", "\"é😀\"");
	check_rt_as("\"\\n\\t\\r\\b\\f\"", "\"\\u000a\\u0009\\u000d\\u0008\\u000c\"");
	check_rt_as("\"\\/\"", "\"/\"");
	check_rt_as("1E2", "100.0");
	check_rt_as("1e300", "1e+300");
	check_rt_as("100.000", "100.0");
	check_rt_as("-0", "0");
	check_rt_as("0.1e1", "1.0");
	check_rt_as("18446744073709551615.0", "1.8446744073709552e+19");

	/* A JSON text need not be NUL-terminated. */
	check_rt_at("[1,2]garbage", 5, "[1,2]", __LINE__);

	/* Negative zero keeps its sign. */
	{
		uint8_t *mp = NULL;
		size_t n = 0;

		CHECK(hp_json_to_msgpack("-0.0", 4, &mp, &n, err, sizeof(err)) == 0);
		CHECK(n == 9 && mp && mp[1] == 0x80);
		free(mp);
	}

	/* 10 deep, and the limit: HP_JSON_MSGPACK_MAX_DEPTH deep works both ways. */
	{
		char deep[200];
		size_t o = 0;

		for (int i = 0; i < HP_JSON_MSGPACK_MAX_DEPTH; i++)
			deep[o++] = '[';
		deep[o++] = '1';
		for (int i = 0; i < HP_JSON_MSGPACK_MAX_DEPTH; i++)
			deep[o++] = ']';
		deep[o] = '\0';
		check_rt(deep);

		o = 0;
		for (int i = 0; i < HP_JSON_MSGPACK_MAX_DEPTH; i++)
			o += (size_t)sprintf(deep + o, "%s", i % 2 ? "[" : "{\"\":");
		deep[o] = '\0';
		/* the limit's levels alternating map/array, innermost value 1 */
		char full[400];
		o = (size_t)sprintf(full, "%s1", deep);
		for (int i = HP_JSON_MSGPACK_MAX_DEPTH - 1; i >= 0; i--)
			full[o++] = i % 2 ? ']' : '}';
		full[o] = '\0';
		check_rt(full);
	}
}

static void test_msgpack_to_json(void)
{
	/* Encodings the JSON side never produces. */
	check_m2j("5", 0xd0, 0x05);
	check_m2j("-128", 0xd0, 0x80);
	check_m2j("-32768", 0xd1, 0x80, 0x00);
	check_m2j("-2147483648", 0xd2, 0x80, 0x00, 0x00, 0x00);
	check_m2j("-9223372036854775808", 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0);
	check_m2j("9223372036854775807", 0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
	check_m2j("4294967295", 0xce, 0xff, 0xff, 0xff, 0xff);
	check_m2j("18446744073709551615", 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
	check_m2j("-1", 0xff);
	check_m2j("1.5", 0xca, 0x3f, 0xc0, 0x00, 0x00);
	check_m2j("0.10000000149011612", 0xca, 0x3d, 0xcc, 0xcc, 0xcd); /* 0.1f */
	check_m2j("2.0", 0xca, 0x40, 0x00, 0x00, 0x00);
	check_m2j("-0.0", 0xca, 0x80, 0x00, 0x00, 0x00);
	check_m2j("{\"$float\":\"NaN\"}", 0xca, 0x7f, 0xc0, 0x00, 0x00);
	check_m2j("{\"$float\":\"-Infinity\"}", 0xca, 0xff, 0x80, 0x00, 0x00);
	check_m2j("{\"$float\":\"NaN\"}", 0xcb, 0xff, 0xf8, 0, 0, 0, 0, 0, 1);
	check_m2j("2.0", 0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0);
	check_m2j("1e+100", 0xcb, 0x54, 0xb2, 0x49, 0xad, 0x25, 0x94, 0xc3, 0x7d);
	check_m2j("\"ab\"", 0xd9, 0x02, 'a', 'b');
	check_m2j("\"ab\"", 0xda, 0x00, 0x02, 'a', 'b');
	check_m2j("\"ab\"", 0xdb, 0x00, 0x00, 0x00, 0x02, 'a', 'b');
	check_m2j("[1]", 0xdc, 0x00, 0x01, 0x01);
	check_m2j("[]", 0xdd, 0x00, 0x00, 0x00, 0x00);
	check_m2j("{\"a\":1}", 0xde, 0x00, 0x01, 0xa1, 'a', 0x01);
	check_m2j("{}", 0xdf, 0x00, 0x00, 0x00, 0x00);
	check_m2j("{\"$bin\":\"AQ==\"}", 0xc5, 0x00, 0x01, 0x01);
	check_m2j("{\"$bin\":\"AQI=\"}", 0xc6, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02);
	check_m2j("{\"$ext\":[1,\"Ag==\"]}", 0xd4, 0x01, 0x02);
	check_m2j("{\"$ext\":[-1,\"AAAAAAAAAAA=\"]}", 0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0);
	check_m2j("{\"$ext\":[2,\"AQID\"]}", 0xc8, 0x00, 0x03, 0x02, 1, 2, 3);
	check_m2j("{\"$ext\":[3,\"\"]}", 0xc9, 0x00, 0x00, 0x00, 0x00, 0x03);
	check_m2j("{\"$ext\":[4,\"AAAAAAAAAAAAAAAAAAAAAA==\"]}", 0xd8, 0x04, 0, 0, 0, 0, 0, 0, 0,
		  0, 0, 0, 0, 0, 0, 0, 0, 0);

	/* Non-string keys become their JSON text. */
	check_m2j("{\"1\":2}", 0x81, 0x01, 0x02);
	check_m2j("{\"-1\":2}", 0x81, 0xff, 0x02);
	check_m2j("{\"null\":true}", 0x81, 0xc0, 0xc3);
	check_m2j("{\"1.5\":0}", 0x81, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x00);
	check_m2j("{\"[1,\\\"a\\\"]\":null}", 0x81, 0x92, 0x01, 0xa1, 'a', 0xc0);
	check_m2j("{\"{\\\"$bin\\\":\\\"/w==\\\"}\":1}", 0x81, 0xc4, 0x01, 0xff, 0x01);
	check_m2j("{\"1\":1,\"1\":2}", 0x82, 0x01, 0x01, 0xa1, '1', 0x02); /* kept as is */

	/* Strings: escapes and invalid UTF-8. */
	check_m2j("\"\\u0000\\u001f\\\"\\\\\x7f\"", 0xa5, 0x00, 0x1f, '"', '\\', 0x7f);
	check_m2j("\"\xef\xbf\xbd" "A\"", 0xa2, 0xff, 'A');
	check_m2j("\"\xef\xbf\xbd\xef\xbf\xbd\"", 0xa2, 0xc0, 0x80);                 /* overlong */
	check_m2j("\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", 0xa3, 0xed, 0xa0, 0x80); /* surrogate */
	check_m2j("\"\xef\xbf\xbd\xef\xbf\xbd\"", 0xa2, 0xe2, 0x82);                 /* truncated */
	check_m2j("\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", 0xa4, 0xf4, 0x90, 0x80,
		  0x80); /* > U+10FFFF */
	check_m2j("\"\xf4\x8f\xbf\xbf\"", 0xa4, 0xf4, 0x8f, 0xbf, 0xbf); /* U+10FFFF is fine */
	check_m2j("\"\xe2\x82\xac\"", 0xa3, 0xe2, 0x82, 0xac);
	check_m2j("{\"\xef\xbf\xbd\":1}", 0x81, 0xa1, 0x80, 0x01);
}

static void test_big_bin(void)
{
	const size_t n = 1u << 20;
	uint8_t *mp = malloc(n + 5), *back = NULL;
	char *json = NULL;
	size_t back_len = 0;
	double t0, t1, t2;

	if (!mp) {
		CHECK(mp != NULL);
		return;
	}
	mp[0] = 0xc6;
	mp[1] = 0x00;
	mp[2] = 0x10;
	mp[3] = 0x00;
	mp[4] = 0x00;
	for (size_t i = 0; i < n; i++)
		mp[5 + i] = (uint8_t)(i * 7 + (i >> 8));

	t0 = now();
	CHECK_MSG(hp_msgpack_to_json(mp, n + 5, &json, err, sizeof(err)) == 0, "%s", err);
	t1 = now();
	if (json) {
		size_t jl = strlen(json);

		CHECK_EQ_U64(jl, strlen("{\"$bin\":\"\"}") + (n + 2) / 3 * 4);
		CHECK(strncmp(json, "{\"$bin\":\"", 9) == 0);
		CHECK_MSG(hp_json_to_msgpack(json, jl, &back, &back_len, err, sizeof(err)) == 0,
			  "%s", err);
		t2 = now();
		CHECK_EQ_U64(back_len, n + 5);
		CHECK(back && back_len == n + 5 && memcmp(back, mp, n + 5) == 0);
		fprintf(stderr, "1 MiB bin: to JSON %.3f s, back %.3f s\n", t1 - t0, t2 - t1);
		CHECK(t1 - t0 < 2.0);
	}
	free(json);
	free(back);

	/* And a 1 MiB string as an argument. */
	char *s = malloc(n + 3);
	uint8_t *smp = NULL;
	size_t smp_len = 0;
	char *sjson = NULL;

	if (s) {
		s[0] = '"';
		for (size_t i = 0; i < n; i++)
			s[1 + i] = (char)('a' + i % 26);
		s[n + 1] = '"';
		s[n + 2] = '\0';
		CHECK(hp_json_to_msgpack(s, n + 2, &smp, &smp_len, err, sizeof(err)) == 0);
		CHECK_EQ_U64(smp_len, n + 5);
		CHECK(hp_msgpack_to_json(smp, smp_len, &sjson, err, sizeof(err)) == 0);
		CHECK(sjson && strcmp(sjson, s) == 0);
	}
	free(s);
	free(smp);
	free(sjson);
	free(mp);
}

static void test_json_errors(void)
{
	check_j2m_err("[1,2", "JSON error at line 1 column 4");
	check_j2m_err("[1,\n  2,,]", "line 2 column 5");
	check_j2m_err("{\"a\":}", "line 1 column 6");
	check_j2m_err("[1] x", "line 1 column 5");
	check_j2m_err("[1] x", "end of file expected");
	check_j2m_err("", "JSON error at line 1");
	check_j2m_err("[01]", "JSON error");
	check_j2m_err("[NaN]", "JSON error");
	check_j2m_err("\"\xff\"", "JSON error"); /* invalid UTF-8 */
	check_j2m_err("1e400", "JSON error");
	check_j2m_err("{\"a\":1,\"a\":2}", "duplicate object key");
	check_j2m_err("{\"\\u0000\":1}", "NUL byte in object key");

	/* Integer ranges. */
	check_j2m_err("-9223372036854775809", "integer below -9223372036854775808");
	check_j2m_err("[1, 18446744073709551616]", "line 1 column 24: integer above 18446744073709551615");
	check_j2m_err("99999999999999999999999999999", "integer above 18446744073709551615");
	check_j2m_err("1e99999999999999999999", "real number overflow");
	check_j2m_err("-1.5e99999999999999999999", "real number overflow");
	check_j2m_err("[1E+18446744073709551615]", "real number overflow");
	check_j2m_err("[1.18446744073709551615e999]", "real number overflow");
	check_rt_as("1e-99999999999999999999", "0.0");
	check_j2m_err("{18446744073709551615:1}", "object key must be a string");
	check_j2m_err("[18446744073709551615 1]", "line 1 column 23");
	check_j2m_err("[\"\\u0000u64#0\", 18446744073709551615]", "reserved");
	check_j2m_err("[18446744073709551615, \"\\u0000u64#0\"]", "reserved");
	check_rt("[\"\\u0000u64#0\",1]"); /* no big integer: an ordinary string */

	/* Special objects. */
	check_j2m_err("{\"$bin\":\"AAE\"}", "invalid \"$bin\" object: base64 length");
	check_j2m_err("{\"$bin\":\"A===\"}", "invalid \"$bin\" object");
	check_j2m_err("{\"$bin\":\"AB==\"}", "non-zero padding bits");
	check_j2m_err("{\"$bin\":\"AAB=\"}", "non-zero padding bits");
	check_j2m_err("{\"$bin\":\"!!!!\"}", "invalid base64 character");
	check_j2m_err("{\"$bin\":\"AA==AAAA\"}", "invalid \"$bin\" object");
	check_j2m_err("{\"$bin\":\"A=AA\"}", "invalid \"$bin\" object");
	check_j2m_err("{\"$bin\":\"AA\\nA\"}", "invalid base64 character");
	check_j2m_err("{\"$bin\":5}", "invalid \"$bin\" object: value must be a base64 string");
	check_j2m_err("[{\"$float\":\"nan\"}]", "invalid \"$float\" object");
	check_j2m_err("{\"$float\":1.0}", "invalid \"$float\" object");
	check_j2m_err("{\"$ext\":[200,\"\"]}", "invalid \"$ext\" object: type must be -128..127");
	check_j2m_err("{\"$ext\":[1]}", "invalid \"$ext\" object");
	check_j2m_err("{\"$ext\":[1.0,\"\"]}", "invalid \"$ext\" object");
	check_j2m_err("{\"$ext\":[1,\"A\"]}", "invalid \"$ext\" object: base64");

	/* One level past the limit. */
	{
		char deep[400], msg[64];
		size_t o = 0;
		snprintf(msg, sizeof(msg), "nesting deeper than %d levels", HP_JSON_MSGPACK_MAX_DEPTH);

		for (int i = 0; i < HP_JSON_MSGPACK_MAX_DEPTH + 1; i++)
			deep[o++] = '[';
		for (int i = 0; i < HP_JSON_MSGPACK_MAX_DEPTH + 1; i++)
			deep[o++] = ']';
		deep[o] = '\0';
		check_j2m_err(deep, msg);
		o = 0;
		for (int i = 0; i < HP_JSON_MSGPACK_MAX_DEPTH + 1; i++)
			o += (size_t)sprintf(deep + o, "{\"\":");
		deep[o++] = '0';
		for (int i = 0; i < HP_JSON_MSGPACK_MAX_DEPTH + 1; i++)
			deep[o++] = '}';
		deep[o] = '\0';
		check_j2m_err(deep, msg);
	}

	/* Many integers above INT64_MAX: 1024 work, 1025 do not. */
	{
		size_t cap = 1025 * 22 + 8, o = 0;
		char *big = malloc(cap);

		if (big) {
			big[o++] = '[';
			for (int i = 0; i < 1024; i++)
				o += (size_t)sprintf(big + o, "%s18446744073709551615", i ? "," : "");
			big[o++] = ']';
			big[o] = '\0';
			uint8_t *mp = NULL;
			size_t n = 0;
			CHECK_MSG(hp_json_to_msgpack(big, o, &mp, &n, err, sizeof(err)) == 0, "%s",
				  err);
			CHECK_EQ_U64(n, 3 + 1024 * 9);
			CHECK(mp && n > 12 && mp[3] == 0xcf && mp[n - 1] == 0xff);
			free(mp);
			strcpy(big + o - 1, ",9223372036854775808]");
			check_j2m_err_at(big, strlen(big), "more than 1024 integers", __LINE__);
			free(big);
		}
	}

	/* Bad arguments and error buffers. */
	{
		uint8_t *mp = NULL;
		size_t n = 0;
		char small[8];

		CHECK(hp_json_to_msgpack(NULL, 0, &mp, &n, err, sizeof(err)) == -1);
		CHECK(hp_json_to_msgpack("[", 1, &mp, &n, NULL, 0) == -1);
		CHECK(hp_json_to_msgpack("[", 1, &mp, &n, small, sizeof(small)) == -1);
		CHECK(strlen(small) == sizeof(small) - 1);
		CHECK(hp_json_to_msgpack("[", 1, NULL, &n, err, sizeof(err)) == -1);
	}
}

static void test_msgpack_errors(void)
{
	char *out = NULL;

	CHECK(hp_msgpack_to_json((const uint8_t *)"", 0, &out, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "msgpack error at offset 0: truncated");
	CHECK(hp_msgpack_to_json(NULL, 0, &out, err, sizeof(err)) == -1);
	CHECK(hp_msgpack_to_json(NULL, 1, &out, err, sizeof(err)) == -1);
	CHECK(hp_msgpack_to_json((const uint8_t *)"\x01", 1, NULL, err, sizeof(err)) == -1);

	check_m2j_err("offset 3: truncated", 0x93, 0x01, 0x02);
	check_m2j_err("truncated", 0xa3, 'a', 'b');
	check_m2j_err("truncated", 0xd9);
	check_m2j_err("truncated", 0xcd, 0x01);
	check_m2j_err("truncated", 0xcb, 0, 0, 0);
	check_m2j_err("truncated", 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00);
	check_m2j_err("truncated", 0xc7, 0x01);
	check_m2j_err("truncated", 0xd8, 0x01, 0x00);
	check_m2j_err("truncated", 0x81, 0x01);
	check_m2j_err("truncated", 0x81);
	check_m2j_err("truncated", 0x81, 0x92, 0x01);
	/* Declared counts far beyond the input: no allocation from them, just "truncated". */
	check_m2j_err("truncated", 0xdd, 0xff, 0xff, 0xff, 0xff);
	check_m2j_err("truncated", 0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0);
	check_m2j_err("offset 1: 1 trailing bytes", 0x01, 0x02);
	check_m2j_err("offset 2: 3 trailing bytes", 0x91, 0xc0, 0xc0, 0xc0, 0xc0);
	check_m2j_err("offset 1: invalid type byte 0xc1", 0x91, 0xc1);

	/* Depth: the limit's nested arrays work, one more does not; maps used as keys count too. */
	{
		enum { D = HP_JSON_MSGPACK_MAX_DEPTH };
		uint8_t deep[D + 6];
		char msg[80];

		memset(deep, 0x91, D + 1);
		deep[D + 1] = 0xc0;
		snprintf(msg, sizeof(msg), "offset %d: nesting deeper than %d levels", D, D);
		check_m2j_err_at(deep, D + 2, msg, __LINE__);
		char *j = NULL;
		CHECK(hp_msgpack_to_json(deep + 1, D + 1, &j, err, sizeof(err)) == 0);
		CHECK(j && strlen(j) == D * 2 + 4);
		free(j);

		/* D - 1 arrays, then a map whose key is an array: the key is level D + 1. */
		memset(deep, 0x91, D - 1);
		deep[D - 1] = 0x81;
		deep[D] = 0x91;
		deep[D + 1] = 0xc0;
		deep[D + 2] = 0xc0;
		snprintf(msg, sizeof(msg), "nesting deeper than %d levels", D);
		check_m2j_err_at(deep, D + 3, msg, __LINE__);
	}

	/* Maps as keys of maps as keys ...: every level doubles the backslashes. 30 levels (within
	 * the depth limit) would be 2^30 bytes of JSON from 63 bytes of msgpack; the output budget
	 * stops it. */
	{
		uint8_t nest[100];
		size_t o = 0;
		double t0 = now();

		for (int i = 0; i < 30; i++)
			nest[o++] = 0x81;
		nest[o++] = 0xa1;
		nest[o++] = '"';
		for (int i = 0; i < 31; i++)
			nest[o++] = 0xc0;
		check_m2j_err_at(nest, o, "JSON output too large", __LINE__);
		CHECK(now() - t0 < 1.0);
		/* Three levels are fine. */
		check_m2j("{\"{\\\"{\\\\\\\"\\\\\\\\\\\\\\\"\\\\\\\":null}\\\":null}\":null}", 0x81, 0x81,
			  0x81, 0xa1, '"', 0xc0, 0xc0, 0xc0);
	}
}

int main(void)
{
	test_bytes();
	test_round_trips();
	test_msgpack_to_json();
	test_big_bin();
	test_json_errors();
	test_msgpack_errors();
	CHECK_DONE();
}
