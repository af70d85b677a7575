/* msgpack_to_json.c - hp_msgpack_to_json: a small recursive reader that checks every length
 * against the bytes left and writes JSON through json_out.h into one growing buffer (linear in
 * the input, also for big bins). The mapping is in hp_json.h. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"
#include "json_out.h"

/* Output cap, see json_out.h and hp_json.h. */
#define OUT_PER_INPUT_BYTE 64
#define OUT_SLACK 4096

struct m2j {
	const uint8_t *p;
	size_t len, off;
	struct jout_budget budget;
	char *err;
	size_t errlen;
};

static int m2j_fail(struct m2j *r, size_t at, const char *what)
{
	hpj_set_err(r->err, r->errlen, "msgpack error at offset %zu: %s", at, what);
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

static int m2j_value(struct m2j *r, struct jout *o, int depth);

static int m2j_container(struct m2j *r, struct jout *o, int depth, uint64_t count, bool map,
			 size_t at)
{
	if (depth >= MAX_DEPTH) {
		char what[64];

		snprintf(what, sizeof(what), "nesting deeper than %d levels", MAX_DEPTH);
		return m2j_fail(r, at, what);
	}
	/* No allocation from count: each element needs at least one byte, and running out of
	 * bytes ends the loop with "truncated". */
	if (jout_put(o, map ? "{" : "[", 1))
		goto oom;
	for (uint64_t i = 0; i < count; i++) {
		if (i && jout_put(o, ",", 1))
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
				struct jout k = {.b = &r->budget};
				if (m2j_value(r, &k, depth + 1)) {
					free(k.p);
					return -1;
				}
				int rc = jout_string(o, (const uint8_t *)k.p, k.len);
				free(k.p);
				if (rc)
					return m2j_nomem(r, kat);
			}
			if (jout_put(o, ":", 1))
				goto oom;
		}
		if (m2j_value(r, o, depth + 1))
			return -1;
	}
	if (jout_put(o, map ? "}" : "]", 1))
		goto oom;
	return 0;
oom:
	return m2j_nomem(r, at);
}

static int m2j_value(struct m2j *r, struct jout *o, int depth)
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
		rc = jout_puts(o, num);
	} else if (b >= 0xe0) {
		snprintf(num, sizeof(num), "%d", (int)(int8_t)b);
		rc = jout_puts(o, num);
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
			rc = jout_puts(o, "null");
			break;
		case 0xc2:
			rc = jout_puts(o, "false");
			break;
		case 0xc3:
			rc = jout_puts(o, "true");
			break;
		case 0xc4: /* bin 8/16/32 */
		case 0xc5:
		case 0xc6:
			if (take_be(r, 1u << (b - 0xc4), at, &n) || !(s = take(r, (size_t)n, at)))
				return -1;
			rc = jout_puts(o, "{\"$bin\":") || jout_base64(o, s, (size_t)n) ||
			     jout_puts(o, "}");
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
			rc = jout_double(o, (double)f);
			break;
		}
		case 0xcb: {
			uint64_t v;
			double d;

			if (take_be(r, 8, at, &v))
				return -1;
			memcpy(&d, &v, sizeof(d));
			rc = jout_double(o, d);
			break;
		}
		case 0xcc: /* uint 8/16/32/64 */
		case 0xcd:
		case 0xce:
		case 0xcf:
			if (take_be(r, 1u << (b - 0xcc), at, &n))
				return -1;
			snprintf(num, sizeof(num), "%" PRIu64, n);
			rc = jout_puts(o, num);
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
			rc = jout_puts(o, num);
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
	if (jout_string(o, s, (size_t)n))
		return m2j_nomem(r, at);
	return 0;

ext: {
	const uint8_t *t = take(r, 1, at);

	if (!t || !(s = take(r, (size_t)n, at)))
		return -1;
	snprintf(num, sizeof(num), "%d", (int)(int8_t)*t);
	if (jout_puts(o, "{\"$ext\":[") || jout_puts(o, num) || jout_puts(o, ",") ||
	    jout_base64(o, s, (size_t)n) || jout_puts(o, "]}"))
		return m2j_nomem(r, at);
	return 0;
}
}

int hp_msgpack_to_json(const uint8_t *buf, size_t len, char **out, char *err, size_t errlen)
{
	struct m2j r = {.p = buf, .len = len, .err = err, .errlen = errlen};
	struct jout o = {.b = &r.budget};

	r.budget.left = len > (SIZE_MAX - OUT_SLACK) / OUT_PER_INPUT_BYTE
				? SIZE_MAX
				: len * OUT_PER_INPUT_BYTE + OUT_SLACK;

	if (out)
		*out = NULL;
	if ((!buf && len) || !out) {
		hpj_set_err(err, errlen, "invalid argument");
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
	if (jout_put(&o, "", 1)) {
		m2j_nomem(&r, len);
		goto fail;
	}
	*out = o.p;
	return 0;
fail:
	free(o.p);
	return -1;
}
