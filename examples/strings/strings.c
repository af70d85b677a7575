/* strings - text and bytes functions: upper, lower, reverse, length, crc32, sha256. */
#include <ctype.h>
#include <hyperpool/guest.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

/* Applies f to each byte of a string argument and returns the new string. */
static int map_bytes(const hp_args *args, hp_out *out, int (*f)(int))
{
	const char *s;
	size_t n;
	if (hp_args_expect(args, out, "s") < 0)
		return -1;
	hp_arg_str(args, 0, &s, &n);
	char *buf = malloc(n ? n : 1);
	if (!buf)
		return hp_error(out, "out of memory for %zu bytes", n);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)f((unsigned char)s[i]);
	int rc = hp_ret_str(out, buf, n);
	free(buf);
	return rc;
}

static int upper(const hp_args *args, hp_out *out) { return map_bytes(args, out, toupper); }
static int lower(const hp_args *args, hp_out *out) { return map_bytes(args, out, tolower); }

/* reverse(s) -> s reversed by UTF-8 code point (bytes of invalid sequences stay as bytes). */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	size_t n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 1;
	if (n > left)
		return 1;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

static int reverse(const hp_args *args, hp_out *out)
{
	const char *s;
	size_t n;
	if (hp_args_expect(args, out, "s") < 0)
		return -1;
	hp_arg_str(args, 0, &s, &n);
	char *buf = malloc(n ? n : 1);
	if (!buf)
		return hp_error(out, "out of memory for %zu bytes", n);
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len((const unsigned char *)s + i, n - i);
		memcpy(buf + n - i - k, s + i, k);
		i += k;
	}
	int rc = hp_ret_str(out, buf, n);
	free(buf);
	return rc;
}

/* Both strings and bytes are accepted where a function works on bytes. */
static int bytes_arg(const hp_args *args, hp_out *out, const uint8_t **p, size_t *n)
{
	const char *s;
	if (hp_arg_bin(args, 0, p, n) == 0)
		return 0;
	if (hp_arg_str(args, 0, &s, n) == 0) {
		*p = (const uint8_t *)s;
		return 0;
	}
	return hp_args_expect(args, out, "b");
}

/* crc32(bytes) -> the IEEE 802.3 CRC-32 (as zlib's crc32). */
static int crc32(const hp_args *args, hp_out *out)
{
	const uint8_t *p;
	size_t n;
	if (args->count != 1 || bytes_arg(args, out, &p, &n) < 0)
		return hp_args_expect(args, out, "b");
	uint32_t table[256];
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return hp_ret_u64(out, crc ^ 0xffffffffu);
}

/* sha256(bytes) -> 32 bytes of digest (FIPS 180-4; sha256.h). */
static int sha256(const hp_args *args, hp_out *out)
{
	const uint8_t *p;
	size_t n;
	if (args->count != 1 || bytes_arg(args, out, &p, &n) < 0)
		return hp_args_expect(args, out, "b");
	uint8_t digest[32];
	sha256_digest(p, n, digest);
	return hp_ret_bin(out, digest, sizeof(digest));
}

/* length(s) -> number of bytes of a string or bytes value. */
static int length(const hp_args *args, hp_out *out)
{
	const uint8_t *p;
	size_t n;
	if (args->count != 1 || bytes_arg(args, out, &p, &n) < 0)
		return hp_args_expect(args, out, "s");
	return hp_ret_u64(out, n);
}

HP_MODULE_INIT()
{
	hp_register("upper", upper);
	hp_register("lower", lower);
	hp_register("reverse", reverse);
	hp_register("crc32", crc32);
	hp_register("sha256", sha256);
	hp_register("length", length);
}
