/* json_out.c - JSON text output for msgpack_to_json.c: buffer, string escaping, floats. */
#include "json_out.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

static int reserve(struct jout *o, size_t extra)
{
	size_t cap;
	char *p;

	if (extra > o->b->left) {
		o->b->exceeded = true;
		return -1;
	}
	o->b->left -= extra; /* every caller writes all it reserves */
	if (o->cap - o->len > extra)
		return 0;
	if (extra > SIZE_MAX / 2 - o->len)
		return -1;
	cap = o->cap ? o->cap : 256;
	while (cap - o->len <= extra)
		cap *= 2;
	p = realloc(o->p, cap);
	if (!p)
		return -1;
	o->p = p;
	o->cap = cap;
	return 0;
}

int jout_put(struct jout *o, const char *s, size_t n)
{
	if (reserve(o, n))
		return -1;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	return 0;
}

int jout_puts(struct jout *o, const char *s)
{
	return jout_put(o, s, strlen(s));
}

int jout_base64(struct jout *o, const uint8_t *src, size_t n)
{
	size_t elen = hp_b64_encoded_len(n);

	if (n > SIZE_MAX / 2 || reserve(o, elen + 2))
		return -1;
	o->p[o->len++] = '"';
	hp_b64_encode(src, n, o->p + o->len);
	o->len += elen;
	o->p[o->len++] = '"';
	return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static size_t utf8_seq_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		uint8_t lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		uint8_t lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
				       (s[3] & 0xc0) == 0x80
			       ? 4
			       : 0;
	}
	return 0;
}

/* One byte that needs care at s[0]: an escape, or a UTF-8 sequence (U+FFFD if invalid).
 * Returns the input bytes used, 0 on failure. */
static size_t put_special(struct jout *o, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t c = s[0];

	if (c == '"' || c == '\\') {
		char esc[2] = {'\\', (char)c};

		return jout_put(o, esc, 2) ? 0 : 1;
	}
	if (c < 0x20) {
		char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

		return jout_put(o, esc, 6) ? 0 : 1;
	}
	size_t l = utf8_seq_len(s, n);

	if (l == 0)
		return jout_put(o, "\xef\xbf\xbd", 3) ? 0 : 1; /* U+FFFD */
	return jout_put(o, (const char *)s, l) ? 0 : l;
}

int jout_string(struct jout *o, const uint8_t *s, size_t n)
{
	size_t i = 0;

	/* Worst case 6 output bytes per input byte (\u00XX), reserve as we go. */
	if (jout_put(o, "\"", 1))
		return -1;
	while (i < n) {
		size_t run = i, used;

		while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' &&
		       s[run] != '\\')
			run++;
		if (run > i) {
			if (jout_put(o, (const char *)s + i, run - i))
				return -1;
			i = run;
			continue;
		}
		used = put_special(o, s + i, n - i);
		if (!used)
			return -1;
		i += used;
	}
	return jout_put(o, "\"", 1);
}

int jout_double(struct jout *o, double d)
{
	char s[40];
	int n = 0;

	if (isnan(d))
		return jout_puts(o, "{\"$float\":\"NaN\"}");
	if (isinf(d))
		return jout_puts(o, d > 0 ? "{\"$float\":\"Infinity\"}" : "{\"$float\":\"-Infinity\"}");
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	bool real = false;
	for (int i = 0; i < n; i++) {
		if (s[i] == 'e') {
			real = true;
		} else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-' && s[i] != '+') {
			s[i] = '.'; /* the locale's decimal point */
			real = true;
		}
	}
	if (!real)
		memcpy(s + n, ".0", 3);
	return jout_puts(o, s);
}
