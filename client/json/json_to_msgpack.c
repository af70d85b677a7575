/* json_to_msgpack.c - hp_json_to_msgpack: parse with jansson (through jansson_compat.h, which
 * adds integers up to UINT64_MAX), pack with msgpack-c. The mapping is in hp_json.h. */
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "jansson_compat.h"
#include "json_internal.h"

struct j2m {
	msgpack_packer pk;
	struct hp_jansson_doc *doc;
	char *err;
	size_t errlen;
};

/* {"$bin": "<base64>"} and {"$ext": [type, "<base64>"]}: *why set if malformed. */
static int pack_bin(struct j2m *c, json_t *val, const char **why)
{
	uint8_t *bytes = NULL;
	size_t n = 0;
	int rc = 0;

	if (!json_is_string(val))
		*why = "value must be a base64 string";
	else if (hp_b64_decode(json_string_value(val), json_string_length(val), &bytes, &n,
			       why) == 0)
		rc = msgpack_pack_bin(&c->pk, n) | msgpack_pack_bin_body(&c->pk, bytes, n);
	free(bytes);
	return rc;
}

static int pack_ext(struct j2m *c, json_t *val, const char **why)
{
	json_t *t = json_array_get(val, 0), *d = json_array_get(val, 1);
	uint8_t *bytes = NULL;
	size_t n = 0;
	int rc = 0;

	if (!json_is_array(val) || json_array_size(val) != 2 || !json_is_integer(t) ||
	    !json_is_string(d))
		*why = "value must be [type, \"<base64>\"]";
	else if (json_integer_value(t) < -128 || json_integer_value(t) > 127)
		*why = "type must be -128..127";
	else if (hp_b64_decode(json_string_value(d), json_string_length(d), &bytes, &n, why) == 0)
		rc = msgpack_pack_ext(&c->pk, n, (int8_t)json_integer_value(t)) |
		     msgpack_pack_ext_body(&c->pk, bytes, n);
	free(bytes);
	return rc;
}

static int pack_float(struct j2m *c, json_t *val, const char **why)
{
	const char *s = json_is_string(val) ? json_string_value(val) : "";
	size_t len = json_is_string(val) ? json_string_length(val) : 0;

	if (len == 3 && memcmp(s, "NaN", 3) == 0)
		return msgpack_pack_double(&c->pk, NAN);
	if (len == 8 && memcmp(s, "Infinity", 8) == 0)
		return msgpack_pack_double(&c->pk, INFINITY);
	if (len == 9 && memcmp(s, "-Infinity", 9) == 0)
		return msgpack_pack_double(&c->pk, -INFINITY);
	*why = "value must be \"NaN\", \"Infinity\" or \"-Infinity\"";
	return 0;
}

/* A one-key object: packs it if the key is "$bin", "$float" or "$ext" (*handled), else leaves
 * it to the caller as a normal map. */
static int pack_special(struct j2m *c, const char *key, json_t *val, bool *handled)
{
	const char *why = NULL;
	int rc;

	*handled = true;
	if (strcmp(key, "$bin") == 0)
		rc = pack_bin(c, val, &why);
	else if (strcmp(key, "$float") == 0)
		rc = pack_float(c, val, &why);
	else if (strcmp(key, "$ext") == 0)
		rc = pack_ext(c, val, &why);
	else {
		*handled = false;
		return 0;
	}
	if (why) {
		hpj_set_err(c->err, c->errlen, "JSON error: invalid \"%s\" object: %s", key, why);
		return -1;
	}
	if (rc) {
		hpj_set_err(c->err, c->errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int j2m_value(struct j2m *c, json_t *v, int depth);

/* msgpack-c could not grow its buffer. */
static int nomem(struct j2m *c)
{
	hpj_set_err(c->err, c->errlen, "out of memory");
	return -1;
}

static int too_deep(struct j2m *c)
{
	hpj_set_err(c->err, c->errlen, "JSON error: nesting deeper than %d levels", MAX_DEPTH);
	return -1;
}

static int pack_string(struct j2m *c, json_t *v)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	uint64_t u;
	int big = hp_jansson_big_uint(c->doc, s, len, &u, c->err, c->errlen);

	if (big < 0)
		return -1;
	if (big ? msgpack_pack_uint64(&c->pk, u)
		: msgpack_pack_str(&c->pk, len) || msgpack_pack_str_body(&c->pk, s, len))
		return nomem(c);
	return 0;
}

static int pack_array(struct j2m *c, json_t *v, int depth)
{
	size_t n = json_array_size(v);

	if (depth >= MAX_DEPTH)
		return too_deep(c);
	if (msgpack_pack_array(&c->pk, n))
		return nomem(c);
	for (size_t i = 0; i < n; i++)
		if (j2m_value(c, json_array_get(v, i), depth + 1))
			return -1;
	return 0;
}

static int pack_object(struct j2m *c, json_t *v, int depth)
{
	const char *key;
	json_t *val;

	if (json_object_size(v) == 1) {
		bool handled;
		void *it = json_object_iter(v);

		if (pack_special(c, json_object_iter_key(it), json_object_iter_value(it), &handled))
			return -1;
		if (handled)
			return 0;
	}
	if (depth >= MAX_DEPTH)
		return too_deep(c);
	if (msgpack_pack_map(&c->pk, json_object_size(v)))
		return nomem(c);
	json_object_foreach(v, key, val) {
		size_t klen = hp_jansson_key_len(key);

		if (msgpack_pack_str(&c->pk, klen) || msgpack_pack_str_body(&c->pk, key, klen))
			return nomem(c);
		if (j2m_value(c, val, depth + 1))
			return -1;
	}
	return 0;
}

/* 0, or -1 with err set. */
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
	case JSON_STRING:
		return pack_string(c, v);
	case JSON_ARRAY:
		return pack_array(c, v, depth);
	case JSON_OBJECT:
		return pack_object(c, v, depth);
	}
	return rc ? nomem(c) : 0;
}

int hp_json_to_msgpack(const char *json, size_t len, uint8_t **out, size_t *out_len, char *err,
		       size_t errlen)
{
	struct hp_jansson_doc doc;
	msgpack_sbuffer sb;
	int ret = -1;

	if (out)
		*out = NULL;
	if (out_len)
		*out_len = 0;
	if (!json || !out || !out_len) {
		hpj_set_err(err, errlen, "invalid argument");
		return -1;
	}
	if (hp_jansson_load(json, len, &doc, err, errlen))
		return -1;

	struct j2m c = {.doc = &doc, .err = err, .errlen = errlen};

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&c.pk, &sb, msgpack_sbuffer_write);
	if (j2m_value(&c, doc.root, 0) == 0 && hp_jansson_all_big_used(&doc, err, errlen) == 0) {
		*out_len = sb.size;
		*out = (uint8_t *)msgpack_sbuffer_release(&sb);
		ret = 0;
	}
	msgpack_sbuffer_destroy(&sb);
	hp_jansson_doc_free(&doc);
	return ret;
}
