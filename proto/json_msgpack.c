/* json_msgpack.c - JSON <-> MessagePack codec; the mapping rules are in json_msgpack.h and
 * docs/json-mapping.md.
 *
 * JSON -> msgpack parses with jansson and packs with msgpack-c. msgpack -> JSON is a small
 * recursive reader that checks every length against the bytes left and writes into one growing
 * buffer (linear in the input, also for big bins). */
#include "json_msgpack.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH HP_JSON_MSGPACK_MAX_DEPTH
#define MAX_BIG_UINTS 1024 /* integers above INT64_MAX per JSON document (one jansson pass each) */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------------------------------------
 * base64 (RFC 4648, standard alphabet, padded)
 */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encoded_len(size_t n)
{
	return (n / 3 + (n % 3 != 0)) * 4;
}

/* Writes b64_encoded_len(n) characters to dst (no NUL). */
static void b64_encode(const uint8_t *src, size_t n, char *dst)
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

/* Strict decoding: length a multiple of 4, '=' only as the last one or two characters, unused
 * bits zero (so each byte string has exactly one spelling). Returns 0, or -1 with *why set;
 * *out is malloc'd (at least 1 byte, so an empty result is not NULL). */
static int b64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len, const char **why)
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

/* ---------------------------------------------------------------------------------------------
 * JSON -> msgpack
 */

/* Integers above INT64_MAX are replaced, in a copy of the input, by a JSON string of the same
 * length whose value is MARK followed by the index and '#' padding. The shortest such number
 * has 19 digits, so the string has 17 characters between the quotes: 10 for the escaped mark,
 * up to 4 for the index (< MAX_BIG_UINTS), the rest '#'. */
#define MARK_SRC "\\u0000u64#" /* as written in the JSON text */
#define MARK_VAL "\0u64#"      /* as jansson returns it */
#define MARK_VAL_LEN 5
#define MIN_BIG_DIGITS 19

struct j2m {
	msgpack_packer pk;
	const uint64_t *big; /* values of the replaced integers, in input order */
	size_t nbig;
	size_t next_big; /* jansson keeps input order, so markers come in index order */
	char *err;
	size_t errlen;
};

/* If s is one of our markers, returns its index (maybe out of range); else -1. */
static long marker_index(const char *s, size_t len)
{
	size_t i = MARK_VAL_LEN;
	long idx = 0;

	if (len < MARK_VAL_LEN + 1 || memcmp(s, MARK_VAL, MARK_VAL_LEN) != 0)
		return -1;
	if (s[i] < '0' || s[i] > '9')
		return -1;
	while (i < len && s[i] >= '0' && s[i] <= '9' && idx < 100000)
		idx = idx * 10 + (s[i++] - '0');
	while (i < len && s[i] == '#')
		i++;
	return i == len ? idx : -1;
}

static int pack_special(struct j2m *c, const char *key, json_t *val, bool *handled)
{
	const char *why = NULL;
	uint8_t *bytes = NULL;
	size_t n = 0;
	int rc = 0;

	*handled = true;
	if (strcmp(key, "$bin") == 0) {
		if (!json_is_string(val)) {
			why = "value must be a base64 string";
		} else if (b64_decode(json_string_value(val), json_string_length(val), &bytes, &n,
				      &why) == 0) {
			rc = msgpack_pack_bin(&c->pk, n) | msgpack_pack_bin_body(&c->pk, bytes, n);
		}
	} else if (strcmp(key, "$float") == 0) {
		const char *s = json_is_string(val) ? json_string_value(val) : "";
		size_t len = json_is_string(val) ? json_string_length(val) : 0;

		if (len == 3 && memcmp(s, "NaN", 3) == 0)
			rc = msgpack_pack_double(&c->pk, NAN);
		else if (len == 8 && memcmp(s, "Infinity", 8) == 0)
			rc = msgpack_pack_double(&c->pk, INFINITY);
		else if (len == 9 && memcmp(s, "-Infinity", 9) == 0)
			rc = msgpack_pack_double(&c->pk, -INFINITY);
		else
			why = "value must be \"NaN\", \"Infinity\" or \"-Infinity\"";
	} else if (strcmp(key, "$ext") == 0) {
		json_t *t = json_array_get(val, 0), *d = json_array_get(val, 1);

		if (!json_is_array(val) || json_array_size(val) != 2 || !json_is_integer(t) ||
		    !json_is_string(d)) {
			why = "value must be [type, \"<base64>\"]";
		} else if (json_integer_value(t) < -128 || json_integer_value(t) > 127) {
			why = "type must be -128..127";
		} else if (b64_decode(json_string_value(d), json_string_length(d), &bytes, &n,
				      &why) == 0) {
			rc = msgpack_pack_ext(&c->pk, n, (int8_t)json_integer_value(t)) |
			     msgpack_pack_ext_body(&c->pk, bytes, n);
		}
	} else {
		*handled = false;
	}
	free(bytes);
	if (why) {
		set_err(c->err, c->errlen, "JSON error: invalid \"%s\" object: %s", key, why);
		return -1;
	}
	if (rc) {
		set_err(c->err, c->errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int j2m_value(struct j2m *c, json_t *v, int depth)
{
	int rc = 0;

	switch (json_typeof(v)) {
	case JSON_NULL:
		rc = msgpack_pack_nil(&c->pk);
		break;
	case JSON_TRUE:
		rc = msgpack_pack_true(&c->pk);
		break;
	case JSON_FALSE:
		rc = msgpack_pack_false(&c->pk);
		break;
	case JSON_INTEGER: {
		json_int_t i = json_integer_value(v);

		rc = i < 0 ? msgpack_pack_int64(&c->pk, (int64_t)i)
			   : msgpack_pack_uint64(&c->pk, (uint64_t)i);
		break;
	}
	case JSON_REAL:
		rc = msgpack_pack_double(&c->pk, json_real_value(v));
		break;
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		long idx = c->nbig ? marker_index(s, len) : -1;

		if (idx >= 0) {
			if ((size_t)idx != c->next_big) {
				set_err(c->err, c->errlen,
					"JSON error: a string in the input has the value reserved for "
					"integers above 9223372036854775807");
				return -1;
			}
			rc = msgpack_pack_uint64(&c->pk, c->big[c->next_big++]);
			break;
		}
		rc = msgpack_pack_str(&c->pk, len) | msgpack_pack_str_body(&c->pk, s, len);
		break;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(v);

		if (depth >= MAX_DEPTH) {
			set_err(c->err, c->errlen, "JSON error: nesting deeper than %d levels",
				MAX_DEPTH);
			return -1;
		}
		rc = msgpack_pack_array(&c->pk, n);
		if (rc)
			break;
		for (size_t i = 0; i < n; i++)
			if (j2m_value(c, json_array_get(v, i), depth + 1))
				return -1;
		break;
	}
	case JSON_OBJECT: {
		const char *key;
		json_t *val;

		if (json_object_size(v) == 1) {
			bool handled;
			void *it = json_object_iter(v);

			if (pack_special(c, json_object_iter_key(it), json_object_iter_value(it),
					 &handled))
				return -1;
			if (handled)
				return 0;
		}
		if (depth >= MAX_DEPTH) {
			set_err(c->err, c->errlen, "JSON error: nesting deeper than %d levels",
				MAX_DEPTH);
			return -1;
		}
		rc = msgpack_pack_map(&c->pk, json_object_size(v));
		if (rc)
			break;
		json_object_foreach(v, key, val) {
			size_t klen = strlen(key); /* jansson refuses keys containing NUL */

			if (msgpack_pack_str(&c->pk, klen) || msgpack_pack_str_body(&c->pk, key, klen)) {
				rc = -1;
				break;
			}
			if (j2m_value(c, val, depth + 1))
				return -1;
		}
		break;
	}
	}
	if (rc) {
		set_err(c->err, c->errlen, "out of memory");
		return -1;
	}
	return 0;
}

struct big_state {
	char *work;      /* private copy of the input, NULL until the first replacement */
	uint64_t *vals;  /* values of the replaced integers */
	size_t *ends;    /* end offsets of the replaced tokens */
	size_t n;
};

/* jansson failed with a numeric overflow at byte offset e->position (just past the token).
 * Replace the token by a marker if it is a non-negative integer that fits uint64. Returns 1 if
 * replaced (parse again), 0 if the plain jansson error should be reported, -1 if err was set. */
static int replace_big_uint(struct big_state *b, const char *json, size_t len,
			    const json_error_t *e, char *err, size_t errlen)
{
	const char *text = b->work ? b->work : json;
	size_t end, start;
	char digits[32];
	uint64_t val;
	char *endp;

	if (e->position <= 0 || (size_t)e->position > len)
		return 0;
	end = (size_t)e->position;
	start = end;
	while (start > 0 && text[start - 1] >= '0' && text[start - 1] <= '9')
		start--;
	if (start == end || text[start] == '0')
		return 0;
	/* Digits of a fraction or exponent: a real that overflowed, not ours. */
	if (start > 0 && memchr("eE.+", text[start - 1], 4))
		return 0;
	if (start > 1 && text[start - 1] == '-' && memchr("eE", text[start - 2], 2))
		return 0;
	if (start > 0 && text[start - 1] == '-') {
		set_err(err, errlen,
			"JSON error at line %d column %d: integer below -9223372036854775808",
			e->line, e->column);
		return -1;
	}
	if (end - start < MIN_BIG_DIGITS)
		return 0; /* not ours: the token must be longer */
	errno = 0;
	val = 0;
	endp = NULL;
	if (end - start < sizeof(digits)) {
		memcpy(digits, text + start, end - start);
		digits[end - start] = '\0';
		val = strtoull(digits, &endp, 10);
	}
	if (!endp || *endp || errno == ERANGE) {
		set_err(err, errlen,
			"JSON error at line %d column %d: integer above 18446744073709551615",
			e->line, e->column);
		return -1;
	}
	if (b->n >= MAX_BIG_UINTS) {
		set_err(err, errlen,
			"JSON error at line %d column %d: more than %d integers above "
			"9223372036854775807",
			e->line, e->column, MAX_BIG_UINTS);
		return -1;
	}
	if (!b->work) {
		b->work = malloc(len);
		if (!b->work) {
			set_err(err, errlen, "out of memory");
			return -1;
		}
		memcpy(b->work, json, len);
	}
	uint64_t *vals = realloc(b->vals, (b->n + 1) * sizeof(*vals));
	if (vals)
		b->vals = vals;
	size_t *ends = realloc(b->ends, (b->n + 1) * sizeof(*ends));
	if (ends)
		b->ends = ends;
	if (!vals || !ends) {
		set_err(err, errlen, "out of memory");
		return -1;
	}

	/* "\u0000u64#<index>###..." with the same length as the digits. */
	char mark[40];
	size_t mlen = end - start;
	int w = snprintf(mark, sizeof(mark), "\"" MARK_SRC "%zu", b->n);
	memset(mark + w, '#', mlen - 1 - (size_t)w);
	mark[mlen - 1] = '"';
	memcpy(b->work + start, mark, mlen);

	b->vals[b->n] = val;
	b->ends[b->n] = end;
	b->n++;
	return 1;
}

int hp_json_to_msgpack(const char *json, size_t len, uint8_t **out, size_t *out_len, char *err,
		       size_t errlen)
{
	struct big_state big = {0};
	json_t *root = NULL;
	json_error_t e;
	int ret = -1;

	if (out)
		*out = NULL;
	if (out_len)
		*out_len = 0;
	if (!json || !out || !out_len) {
		set_err(err, errlen, "invalid argument");
		return -1;
	}

	for (;;) {
		int r;

		root = json_loadb(big.work ? big.work : json, len,
				  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
		if (root)
			break;
		if (json_error_code(&e) == json_error_numeric_overflow) {
			r = replace_big_uint(&big, json, len, &e, err, errlen);
			if (r > 0)
				continue;
			if (r < 0)
				goto out;
		}
		if (json_error_code(&e) == json_error_null_byte_in_key) {
			/* A marker we put where a key belongs: {18446744073709551615: 1}. */
			for (size_t i = 0; i < big.n; i++) {
				if ((size_t)e.position == big.ends[i]) {
					set_err(err, errlen,
						"JSON error at line %d column %d: object key must be "
						"a string",
						e.line, e.column);
					goto out;
				}
			}
		}
		set_err(err, errlen, "JSON error at line %d column %d: %s", e.line, e.column,
			e.text);
		goto out;
	}

	msgpack_sbuffer sb;
	struct j2m c = {.big = big.vals, .nbig = big.n, .err = err, .errlen = errlen};

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&c.pk, &sb, msgpack_sbuffer_write);
	if (j2m_value(&c, root, 0) == 0) {
		if (c.next_big != c.nbig) {
			set_err(err, errlen, "JSON error: internal marker for an integer above "
					     "9223372036854775807 was lost");
		} else {
			*out_len = sb.size;
			*out = (uint8_t *)msgpack_sbuffer_release(&sb);
			ret = 0;
		}
	}
	msgpack_sbuffer_destroy(&sb);
out:
	json_decref(root);
	free(big.work);
	free(big.vals);
	free(big.ends);
	return ret;
}

/* ---------------------------------------------------------------------------------------------
 * msgpack -> JSON
 */

/* Output budget shared by the result and the buffers of non-string keys. A key's JSON text is
 * escaped into a string, so keys nested in keys double their backslashes per level: without a
 * cap a few hundred input bytes could ask for 2^64 bytes of output. */
#define OUT_PER_INPUT_BYTE 64
#define OUT_SLACK 4096

struct budget {
	size_t left;
	bool exceeded;
};

struct obuf {
	char *p;
	size_t len, cap;
	struct budget *b;
};

static int ob_reserve(struct obuf *o, size_t extra)
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

static int ob_put(struct obuf *o, const char *s, size_t n)
{
	if (ob_reserve(o, n))
		return -1;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	return 0;
}

static int ob_puts(struct obuf *o, const char *s)
{
	return ob_put(o, s, strlen(s));
}

static int ob_base64(struct obuf *o, const uint8_t *src, size_t n)
{
	size_t elen = b64_encoded_len(n);

	if (n > SIZE_MAX / 2 || ob_reserve(o, elen + 2))
		return -1;
	o->p[o->len++] = '"';
	b64_encode(src, n, o->p + o->len);
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

static int ob_string(struct obuf *o, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	/* Worst case 6 output bytes per input byte (\u00XX), reserve as we go. */
	if (ob_put(o, "\"", 1))
		return -1;
	while (i < n) {
		size_t run = i;

		while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' &&
		       s[run] != '\\')
			run++;
		if (run > i) {
			if (ob_put(o, (const char *)s + i, run - i))
				return -1;
			i = run;
			continue;
		}
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};

			if (ob_put(o, esc, 2))
				return -1;
			i++;
		} else if (c < 0x20) {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

			if (ob_put(o, esc, 6))
				return -1;
			i++;
		} else {
			size_t l = utf8_seq_len(s + i, n - i);

			if (l == 0) {
				if (ob_put(o, "\xef\xbf\xbd", 3)) /* U+FFFD */
					return -1;
				i++;
			} else {
				if (ob_put(o, (const char *)s + i, l))
					return -1;
				i += l;
			}
		}
	}
	return ob_put(o, "\"", 1);
}

static int ob_double(struct obuf *o, double d)
{
	char s[40];
	int n = 0;

	if (isnan(d))
		return ob_puts(o, "{\"$float\":\"NaN\"}");
	if (isinf(d))
		return ob_puts(o, d > 0 ? "{\"$float\":\"Infinity\"}" : "{\"$float\":\"-Infinity\"}");
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
	return ob_puts(o, s);
}

struct m2j {
	const uint8_t *p;
	size_t len, off;
	struct budget budget;
	char *err;
	size_t errlen;
};

static int m2j_fail(struct m2j *r, size_t at, const char *what)
{
	set_err(r->err, r->errlen, "msgpack error at offset %zu: %s", at, what);
	return -1;
}

static int m2j_nomem(struct m2j *r, size_t at)
{
	if (r->budget.exceeded) {
		char what[80];

		snprintf(what, sizeof(what), "JSON output too large (over %d bytes per input byte)",
			 OUT_PER_INPUT_BYTE);
		return m2j_fail(r, at, what);
	}
	return m2j_fail(r, at, "out of memory");
}

/* Takes n bytes; NULL (error set) if fewer are left. */
static const uint8_t *take(struct m2j *r, size_t n, size_t at)
{
	const uint8_t *s;

	if (n > r->len - r->off) {
		m2j_fail(r, at, "truncated");
		return NULL;
	}
	s = r->p + r->off;
	r->off += n;
	return s;
}

static int take_be(struct m2j *r, size_t n, size_t at, uint64_t *v)
{
	const uint8_t *s = take(r, n, at);

	if (!s)
		return -1;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | s[i];
	return 0;
}

static int m2j_value(struct m2j *r, struct obuf *o, int depth);

static int m2j_container(struct m2j *r, struct obuf *o, int depth, uint64_t count, bool map,
			 size_t at)
{
	if (depth >= MAX_DEPTH) {
		char what[64];

		snprintf(what, sizeof(what), "nesting deeper than %d levels", MAX_DEPTH);
		return m2j_fail(r, at, what);
	}
	/* No allocation from count: each element needs at least one byte, and running out of
	 * bytes ends the loop with "truncated". */
	if (ob_put(o, map ? "{" : "[", 1))
		goto oom;
	for (uint64_t i = 0; i < count; i++) {
		if (i && ob_put(o, ",", 1))
			goto oom;
		if (map) {
			size_t kat = r->off;

			if (kat >= r->len)
				return m2j_fail(r, kat, "truncated");
			uint8_t b = r->p[kat];
			if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) {
				if (m2j_value(r, o, depth + 1))
					return -1;
			} else {
				/* Non-string key: its JSON text, as a string. */
				struct obuf k = {.b = &r->budget};
				if (m2j_value(r, &k, depth + 1)) {
					free(k.p);
					return -1;
				}
				int rc = ob_string(o, (const uint8_t *)k.p, k.len);
				free(k.p);
				if (rc)
					return m2j_nomem(r, kat);
			}
			if (ob_put(o, ":", 1))
				goto oom;
		}
		if (m2j_value(r, o, depth + 1))
			return -1;
	}
	if (ob_put(o, map ? "}" : "]", 1))
		goto oom;
	return 0;
oom:
	return m2j_nomem(r, at);
}

static int m2j_value(struct m2j *r, struct obuf *o, int depth)
{
	size_t at = r->off;
	const uint8_t *s;
	uint64_t n;
	char num[32];
	int rc;

	if (!(s = take(r, 1, at)))
		return -1;
	uint8_t b = *s;

	if (b <= 0x7f) {
		snprintf(num, sizeof(num), "%u", (unsigned)b);
		rc = ob_puts(o, num);
	} else if (b >= 0xe0) {
		snprintf(num, sizeof(num), "%d", (int)(int8_t)b);
		rc = ob_puts(o, num);
	} else if (b <= 0x8f) {
		return m2j_container(r, o, depth, b & 0x0fu, true, at);
	} else if (b <= 0x9f) {
		return m2j_container(r, o, depth, b & 0x0fu, false, at);
	} else if (b <= 0xbf) {
		n = b & 0x1fu;
		goto str;
	} else {
		switch (b) {
		case 0xc0:
			rc = ob_puts(o, "null");
			break;
		case 0xc2:
			rc = ob_puts(o, "false");
			break;
		case 0xc3:
			rc = ob_puts(o, "true");
			break;
		case 0xc4: /* bin 8/16/32 */
		case 0xc5:
		case 0xc6:
			if (take_be(r, 1u << (b - 0xc4), at, &n) || !(s = take(r, (size_t)n, at)))
				return -1;
			rc = ob_puts(o, "{\"$bin\":") || ob_base64(o, s, (size_t)n) ||
			     ob_puts(o, "}");
			break;
		case 0xc7: /* ext 8/16/32: length, type, data */
		case 0xc8:
		case 0xc9:
			if (take_be(r, 1u << (b - 0xc7), at, &n))
				return -1;
			goto ext;
		case 0xd4: /* fixext 1/2/4/8/16: type, data */
		case 0xd5:
		case 0xd6:
		case 0xd7:
		case 0xd8:
			n = 1u << (b - 0xd4);
			goto ext;
		case 0xca: {
			uint64_t v;
			float f;
			uint32_t u;

			if (take_be(r, 4, at, &v))
				return -1;
			u = (uint32_t)v;
			memcpy(&f, &u, sizeof(f));
			rc = ob_double(o, (double)f);
			break;
		}
		case 0xcb: {
			uint64_t v;
			double d;

			if (take_be(r, 8, at, &v))
				return -1;
			memcpy(&d, &v, sizeof(d));
			rc = ob_double(o, d);
			break;
		}
		case 0xcc: /* uint 8/16/32/64 */
		case 0xcd:
		case 0xce:
		case 0xcf:
			if (take_be(r, 1u << (b - 0xcc), at, &n))
				return -1;
			snprintf(num, sizeof(num), "%" PRIu64, n);
			rc = ob_puts(o, num);
			break;
		case 0xd0: /* int 8/16/32/64 */
		case 0xd1:
		case 0xd2:
		case 0xd3: {
			unsigned bytes = 1u << (b - 0xd0);
			int64_t v;

			if (take_be(r, bytes, at, &n))
				return -1;
			if (bytes < 8 && (n >> (bytes * 8 - 1)))
				n |= ~(uint64_t)0 << (bytes * 8); /* sign-extend */
			memcpy(&v, &n, sizeof(v));
			snprintf(num, sizeof(num), "%" PRId64, v);
			rc = ob_puts(o, num);
			break;
		}
		case 0xd9: /* str 8/16/32 */
		case 0xda:
		case 0xdb:
			if (take_be(r, 1u << (b - 0xd9), at, &n))
				return -1;
			goto str;
		case 0xdc:
		case 0xdd:
			if (take_be(r, b == 0xdc ? 2 : 4, at, &n))
				return -1;
			return m2j_container(r, o, depth, n, false, at);
		case 0xde:
		case 0xdf:
			if (take_be(r, b == 0xde ? 2 : 4, at, &n))
				return -1;
			return m2j_container(r, o, depth, n, true, at);
		default: /* 0xc1 */
			return m2j_fail(r, at, "invalid type byte 0xc1");
		}
	}
	if (rc)
		return m2j_nomem(r, at);
	return 0;

str:
	if (!(s = take(r, (size_t)n, at)))
		return -1;
	if (ob_string(o, s, (size_t)n))
		return m2j_nomem(r, at);
	return 0;

ext: {
	const uint8_t *t = take(r, 1, at);

	if (!t || !(s = take(r, (size_t)n, at)))
		return -1;
	snprintf(num, sizeof(num), "%d", (int)(int8_t)*t);
	if (ob_puts(o, "{\"$ext\":[") || ob_puts(o, num) || ob_puts(o, ",") ||
	    ob_base64(o, s, (size_t)n) || ob_puts(o, "]}"))
		return m2j_nomem(r, at);
	return 0;
}
}

int hp_msgpack_to_json(const uint8_t *buf, size_t len, char **out, char *err, size_t errlen)
{
	struct m2j r = {.p = buf, .len = len, .err = err, .errlen = errlen};
	struct obuf o = {.b = &r.budget};

	r.budget.left = len > (SIZE_MAX - OUT_SLACK) / OUT_PER_INPUT_BYTE
				? SIZE_MAX
				: len * OUT_PER_INPUT_BYTE + OUT_SLACK;

	if (out)
		*out = NULL;
	if ((!buf && len) || !out) {
		set_err(err, errlen, "invalid argument");
		return -1;
	}
	if (m2j_value(&r, &o, 0))
		goto fail;
	if (r.off != len) {
		char what[80];

		snprintf(what, sizeof(what), "%zu trailing bytes after the object", len - r.off);
		m2j_fail(&r, r.off, what);
		goto fail;
	}
	if (ob_put(&o, "", 1)) {
		m2j_nomem(&r, len);
		goto fail;
	}
	*out = o.p;
	return 0;
fail:
	free(o.p);
	return -1;
}
