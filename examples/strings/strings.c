/* strings - text and bytes functions: upper, lower, reverse, length, crc32, sha256. */
#include <ctype.h>
#include <hyperpool/guest.h>
#include <stdlib.h>
#include <string.h>

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

/* sha256(bytes) -> 32 bytes of digest (FIPS 180-4). */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n) { return x >> n | x << (32 - n); }

static void sha256_block(uint32_t h[8], const uint8_t *b)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
		       (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c));
		hh = g; g = f; f = e; e = d + t1; d = c; c = bb; bb = a; a = t1 + t2;
	}
	h[0] += a; h[1] += bb; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static int sha256(const hp_args *args, hp_out *out)
{
	const uint8_t *p;
	size_t n;
	if (args->count != 1 || bytes_arg(args, out, &p, &n) < 0)
		return hp_args_expect(args, out, "b");
	uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	size_t full = n / 64 * 64;
	for (size_t i = 0; i < full; i += 64)
		sha256_block(h, p + i);
	uint8_t tail[128] = { 0 };
	size_t rem = n - full;
	memcpy(tail, p + full, rem);
	tail[rem] = 0x80;
	size_t tlen = rem < 56 ? 64 : 128;
	uint64_t bits = (uint64_t)n * 8;
	for (int i = 0; i < 8; i++)
		tail[tlen - 1 - i] = (uint8_t)(bits >> (8 * i));
	for (size_t i = 0; i < tlen; i += 64)
		sha256_block(h, tail + i);
	uint8_t digest[32];
	for (int i = 0; i < 8; i++)
		for (int k = 0; k < 4; k++)
			digest[4 * i + k] = (uint8_t)(h[i] >> (24 - 8 * k));
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
