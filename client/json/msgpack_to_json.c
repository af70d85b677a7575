/* msgpack_to_json.c - hp_msgpack_to_json: the input is validated whole by the project's one
 * bounded scanner (proto/hp_mpscan.h) first, then walked with hp_mp_token() and written as JSON
 * through json_out.h into one growing buffer (linear in the input, also for big bins). The
 * mapping is in hp_json.h.
 *
 * No length is decoded here by hand and nothing is allocated from a declared count: the
 * scanner has checked that every header, payload and element is there and that nesting stays
 * within MAX_DEPTH before the walk starts, so the walk's recursion is bounded too. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hp_mpscan.h"
#include "json_internal.h"
#include "json_out.h"

/* Output cap, see json_out.h and hp_json.h. */
#define OUT_PER_INPUT_BYTE 64
#define OUT_SLACK 4096

_Static_assert(MAX_DEPTH <= HP_MP_MAX_DEPTH, "the scanner must be able to check our depth");

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

/* Validates the input with the scanner. Returns 0 if it is one object, -1 with the error set
 * if not, or 1 if it is one valid object followed by more bytes: *end is where they start.
 * Those are reported after the walk, as before the scanner, so an object too large as JSON
 * says so first. The messages are this codec's own (they predate the scanner and
 * tests/unit/test_json_msgpack.c asserts them); a reason not mapped here is passed on. */
static int check_input(struct m2j *r, size_t *end)
{
	const struct hp_mp_limits lim = {.max_depth = MAX_DEPTH};
	const char *why = NULL;
	size_t at = 0;
	char what[80];

	if (hp_mp_check_one(r->p, r->len, &lim, &why, &at) == HP_MP_OK)
		return 0;
	if (!why)
		why = "invalid msgpack";
	if (strcmp(why, "bytes after the object") == 0) {
		*end = at;
		return 1;
	}
	if (strcmp(why, "invalid byte 0xc1") == 0)
		snprintf(what, sizeof(what), "invalid type byte 0xc1");
	else if (strcmp(why, "nesting too deep") == 0)
		snprintf(what, sizeof(what), "nesting deeper than %d levels", MAX_DEPTH);
	else
		snprintf(what, sizeof(what), "%s", why);
	return m2j_fail(r, at, what);
}

/* The header at r->off, consumed; its payload (STR/BIN/EXT) too, at *payload. The input was
 * validated, so this fails only if the scanner and hp_mp_token disagree. */
static int next_token(struct m2j *r, struct hp_mp_token *t, const uint8_t **payload)
{
	size_t at = r->off;

	if (hp_mp_token(r->p + at, r->len - at, t) != HP_MP_OK ||
	    t->header_len > r->len - at)
		return m2j_fail(r, at, "internal error: validated msgpack does not decode");
	r->off += t->header_len;
	*payload = NULL;
	if (t->type != HP_MP_STR && t->type != HP_MP_BIN && t->type != HP_MP_EXT)
		return 0;
	if (t->len > r->len - r->off)
		return m2j_fail(r, at, "internal error: validated msgpack does not decode");
	*payload = r->p + r->off;
	r->off += t->len;
	return 0;
}

static int m2j_value(struct m2j *r, struct jout *o);

/* A map key: a str as is, anything else as its JSON text, in a string. */
static int m2j_key(struct m2j *r, struct jout *o)
{
	size_t kat = r->off;
	struct hp_mp_token t;

	if (hp_mp_token(r->p + kat, r->len - kat, &t) == HP_MP_OK && t.type == HP_MP_STR)
		return m2j_value(r, o);

	struct jout k = {.b = &r->budget};

	if (m2j_value(r, &k)) {
		free(k.p);
		return -1;
	}
	int rc = jout_string(o, (const uint8_t *)k.p, k.len);
	free(k.p);
	return rc ? m2j_nomem(r, kat) : 0;
}

/* The count elements (pairs of a map) after the header at `at`. The scanner checked they are
 * all there, so count is never trusted beyond the input. */
static int m2j_container(struct m2j *r, struct jout *o, uint32_t count, bool map, size_t at)
{
	if (jout_put(o, map ? "{" : "[", 1))
		return m2j_nomem(r, at);
	for (uint32_t i = 0; i < count; i++) {
		if (i && jout_put(o, ",", 1))
			return m2j_nomem(r, at);
		if (map && m2j_key(r, o))
			return -1;
		if (map && jout_put(o, ":", 1))
			return m2j_nomem(r, at);
		if (m2j_value(r, o))
			return -1;
	}
	if (jout_put(o, map ? "}" : "]", 1))
		return m2j_nomem(r, at);
	return 0;
}

/* {"$ext":[type,"<base64>"]} */
static int put_ext(struct jout *o, int8_t type, const uint8_t *data, size_t n)
{
	char num[8];

	snprintf(num, sizeof(num), "%d", (int)type);
	return jout_puts(o, "{\"$ext\":[") || jout_puts(o, num) || jout_puts(o, ",") ||
	       jout_base64(o, data, n) || jout_puts(o, "]}");
}

static int m2j_value(struct m2j *r, struct jout *o)
{
	size_t at = r->off;
	struct hp_mp_token t;
	const uint8_t *data;
	char num[32];
	int rc = 0;

	if (next_token(r, &t, &data))
		return -1;
	switch (t.type) {
	case HP_MP_NIL:
		rc = jout_puts(o, "null");
		break;
	case HP_MP_BOOL:
		rc = jout_puts(o, t.v.b ? "true" : "false");
		break;
	case HP_MP_UINT:
		snprintf(num, sizeof(num), "%" PRIu64, t.v.u);
		rc = jout_puts(o, num);
		break;
	case HP_MP_INT:
		snprintf(num, sizeof(num), "%" PRId64, t.v.i);
		rc = jout_puts(o, num);
		break;
	case HP_MP_FLOAT32: /* v.f64 holds its exact value */
	case HP_MP_FLOAT64:
		rc = jout_double(o, t.v.f64);
		break;
	case HP_MP_STR:
		rc = jout_string(o, data, t.len);
		break;
	case HP_MP_BIN:
		rc = jout_puts(o, "{\"$bin\":") || jout_base64(o, data, t.len) || jout_puts(o, "}");
		break;
	case HP_MP_EXT:
		rc = put_ext(o, t.ext_type, data, t.len);
		break;
	case HP_MP_ARRAY:
	case HP_MP_MAP:
		return m2j_container(r, o, t.len, t.type == HP_MP_MAP, at);
	}
	return rc ? m2j_nomem(r, at) : 0;
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
	size_t end = len;

	if (check_input(&r, &end) < 0)
		goto fail;
	r.len = end; /* the walk sees the object only */
	if (m2j_value(&r, &o))
		goto fail;
	if (end != len) {
		char what[80];

		snprintf(what, sizeof(what), "%zu trailing bytes after the object", len - end);
		m2j_fail(&r, end, what);
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
