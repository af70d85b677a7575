/* base64.c - RFC 4648 base64 (standard alphabet, padded, strict when decoding). */
#include "base64.h"

#include <stdlib.h>

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t hp_b64_encoded_len(size_t n)
{
	return (n / 3 + (n % 3 != 0)) * 4;
}

void hp_b64_encode(const uint8_t *src, size_t n, char *dst)
{
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
		*dst++ = b64_chars[v >> 18];
		*dst++ = b64_chars[(v >> 12) & 63];
		*dst++ = b64_chars[(v >> 6) & 63];
		*dst++ = b64_chars[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)src[i] << 16;
		*dst++ = b64_chars[v >> 18];
		*dst++ = b64_chars[(v >> 12) & 63];
		*dst++ = '=';
		*dst++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
		*dst++ = b64_chars[v >> 18];
		*dst++ = b64_chars[(v >> 12) & 63];
		*dst++ = b64_chars[(v >> 6) & 63];
		*dst++ = '=';
	}
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int hp_b64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len, const char **why)
{
	uint8_t *buf, *p;

	*out = NULL;
	if (n % 4) {
		*why = "base64 length is not a multiple of 4";
		return -1;
	}
	buf = malloc(n / 4 * 3 + 1);
	if (!buf) {
		*why = "out of memory";
		return -1;
	}
	p = buf;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)s[i + (size_t)k];

			if (c == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = b64_value(c);
			if (v[k] < 0 || pad) {
				*why = c == '=' ? "misplaced '=' in base64" : "invalid base64 character";
				free(buf);
				return -1;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff))) {
			*why = "non-zero padding bits in base64";
			free(buf);
			return -1;
		}
		*p++ = (uint8_t)(w >> 16);
		if (pad < 2)
			*p++ = (uint8_t)(w >> 8);
		if (pad < 1)
			*p++ = (uint8_t)w;
	}
	*out = buf;
	*out_len = (size_t)(p - buf);
	return 0;
}
