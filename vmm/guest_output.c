#include "guest_output.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hp_mpscan.h"

static bool guest_status(uint32_t s)
{
	switch (s) {
	case HP_OK:
	case HP_E_GUEST_ERROR:
	case HP_E_NO_SUCH_FUNCTION:
	case HP_E_BAD_ARGS:
	case HP_E_OUTPUT_OVERFLOW:
	case HP_E_OUT_OF_MEMORY:
		return true;
	default:
		return false;
	}
}

/* What the host passes on as a result: one object every reader after us can take as it is.
 * Depth: msgpack-c, the JSON writer and clients recurse. UTF-8: JSON and most clients' str
 * types require it. No ext: clients' decoders reject some ext types (the timestamp, -1, with
 * a bad length) and JSON has no ext of its own. */
static int check_result(const uint8_t *output, uint32_t len, uint64_t output_size,
			struct hp_error *err)
{
	const struct hp_mp_limits lim = {
		.max_depth = HP_MP_VALUE_DEPTH,
		.max_bytes = output_size,
		.flags = HP_MP_F_UTF8 | HP_MP_F_NO_EXT,
	};
	const char *why;
	size_t at;
	if (hp_mp_check_one(output, len, &lim, &why, &at) != HP_MP_OK)
		return hp_fail(err, HP_E_GUEST_PROTOCOL,
			       "guest result is not one valid msgpack object: %s at offset %zu", why,
			       at);
	return 0;
}

int hp_guest_result(const volatile struct hp_call_block *cb, const uint8_t *output,
		    uint64_t output_size, char *msgbuf, size_t msgbuf_size,
		    struct hp_guest_reply *reply, struct hp_error *err)
{
	uint32_t s = cb->status, len = cb->output_len; /* read once: the guest owns the page */
	if (!guest_status(s))
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "guest returned invalid status %u", s);
	uint64_t max = s == HP_OK ? output_size : HP_ABORT_MSG_MAX;
	if (max > output_size)
		max = output_size;
	if (len > max)
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "guest returned output length %u (limit %llu)",
			       len, (unsigned long long)max);
	reply->status = (int)s;
	if (s == HP_OK) {
		if (check_result(output, len, output_size, err))
			return -1;
		reply->output = output;
		reply->output_len = len;
		return 0;
	}
	reply->output = (const uint8_t *)msgbuf;
	reply->output_len = hp_utf8_sanitize(output, len, msgbuf, msgbuf_size);
	return 0;
}

int hp_guest_log(const volatile struct hp_call_block *cb, uint32_t *len, int *stream,
		 struct hp_error *err)
{
	uint32_t l = cb->log_len, s = cb->log_stream;
	if (l > HP_LOG_BUF_SIZE || (s != HP_LOG_STDOUT && s != HP_LOG_STDERR))
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "guest log hypercall with length %u stream %u",
			       l, s);
	*len = l;
	*stream = (int)s;
	return 0;
}

/* Replaces what a terminal would act on in valid UTF-8 s[0..n): C0 controls but '\n', DEL, and
 * C1 controls (U+0080..U+009F, which some terminals take as ESC sequences), each by one '?'.
 * The result stays valid UTF-8 and is NUL-terminated. Returns its length. */
static size_t replace_controls(char *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c == 0xc2 && i + 1 < n && (uint8_t)s[i + 1] < 0xa0) {
			s[w++] = '?';
			i++;
			continue;
		}
		s[w++] = (c < 0x20 && c != '\n') || c == 0x7f ? '?' : (char)c;
	}
	s[w] = '\0';
	return w;
}

size_t hp_guest_abort_message(const volatile struct hp_call_block *cb, char *out, size_t outsize)
{
	uint8_t raw[HP_ABORT_MSG_MAX];
	uint32_t len = cb->abort_len; /* read once, then copy once: the guest owns the page */
	if (len > HP_ABORT_MSG_MAX)
		len = HP_ABORT_MSG_MAX;
	for (uint32_t i = 0; i < len; i++)
		raw[i] = (uint8_t)cb->abort_msg[i];
	if (outsize == 0)
		return 0;
	return replace_controls(out, hp_utf8_sanitize(raw, len, out, outsize));
}

/* --- the function list ------------------------------------------------------------------- */

void hp_guest_function_list_free(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

static bool valid_name(const struct hp_mp_token *t)
{
	return t->type == HP_MP_STR && t->len > 0 && t->len < HP_FUNCTION_NAME_MAX &&
	       !memchr(t->data, 0, t->len);
}

static bool reserved_name(const struct hp_mp_token *t)
{
	size_t n = sizeof(HP_RESERVED_PREFIX) - 1;
	return t->len >= n && !memcmp(t->data, HP_RESERVED_PREFIX, n);
}

/* The header of buf[0..len): one array of at most HP_FUNCTIONS_MAX items (of depth 1), whole. */
static int list_header(const uint8_t *buf, size_t len, struct hp_mp_token *t, struct hp_error *err)
{
	static const struct hp_mp_limits lim = { .max_depth = 1 };
	const char *why;
	size_t at;
	if (hp_mp_check_one(buf, len, &lim, &why, &at) != HP_MP_OK)
		return hp_fail(err, HP_E_GUEST_PROTOCOL,
			       "init did not return a valid function list: %s at offset %zu", why, at);
	if (hp_mp_token(buf, len, t) != HP_MP_OK || t->type != HP_MP_ARRAY)
		return hp_fail(err, HP_E_GUEST_PROTOCOL,
			       "init did not return a valid function list: not an array");
	if (t->len > HP_FUNCTIONS_MAX)
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "init listed %u functions (limit %u)", t->len,
			       HP_FUNCTIONS_MAX);
	return 0;
}

int hp_guest_function_list(const uint8_t *buf, size_t len, char ***names, uint32_t *count,
			   struct hp_error *err)
{
	struct hp_mp_token t;
	if (list_header(buf, len, &t, err))
		return -1;
	/* t.len <= len: the scanner counted a byte per element */
	char **list = calloc((size_t)t.len + 1, sizeof(char *));
	if (!list)
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	size_t pos = t.header_len;
	uint32_t kept = 0;
	for (uint32_t i = 0; i < t.len; i++) {
		struct hp_mp_token name;
		/* checked above to be whole: the first two tests guard only against a scanner bug */
		if (hp_mp_token(buf + pos, len - pos, &name) != HP_MP_OK ||
		    name.len > len - pos - name.header_len || !valid_name(&name)) {
			hp_guest_function_list_free(list);
			return hp_fail(err, HP_E_GUEST_PROTOCOL,
				       "function name %u in the init list is invalid", i);
		}
		pos += name.header_len + name.len;
		if (reserved_name(&name))
			continue;
		if (!(list[kept] = strndup((const char *)name.data, name.len))) {
			hp_guest_function_list_free(list);
			return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
		}
		kept++;
	}
	*names = list;
	*count = kept;
	return 0;
}

/* --- host calls ------------------------------------------------------------------------------ */

int hp_guest_host_request(const uint8_t *req, size_t len, struct hp_host_request *out,
			  struct hp_error *err)
{
	const struct hp_mp_limits lim = { .max_depth = HP_MP_VALUE_DEPTH, .max_bytes = len };
	const char *why;
	size_t at;
	if (hp_mp_check_one(req, len, &lim, &why, &at) != HP_MP_OK)
		return hp_fail(err, HP_E_GUEST_PROTOCOL,
			       "host call request is not one valid msgpack object: %s at offset %zu", why,
			       at);
	struct hp_mp_token t;
	size_t pos = 0;
	if (hp_mp_token(req, len, &t) != HP_MP_OK || t.type != HP_MP_ARRAY || t.len != 2)
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "a host call request is [name, args]");
	pos += t.header_len;
	if (hp_mp_token(req + pos, len - pos, &t) != HP_MP_OK || t.type != HP_MP_STR || t.len == 0 ||
	    t.len >= HP_HOST_NAME_MAX || memchr(t.data, 0, t.len))
		return hp_fail(err, HP_E_GUEST_PROTOCOL,
			       "a host function's name is a str of 1 to %u bytes without NUL",
			       HP_HOST_NAME_MAX - 1);
	out->name = (const char *)t.data;
	out->name_len = t.len;
	pos += t.header_len + t.len;
	if (hp_mp_token(req + pos, len - pos, &t) != HP_MP_OK || t.type != HP_MP_ARRAY)
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "a host call's args must be an array");
	out->args = req + pos; /* the rest: check_one proved it is exactly one object */
	out->args_len = len - pos;
	return 0;
}

int hp_host_reply_check(const void *bytes, size_t len, uint64_t max, struct hp_error *err)
{
	if (len > max)
		return hp_fail(err, HP_E_LIMIT, "the host function's result of %zu bytes does not fit "
			       "the %llu bytes free in the input buffer", len, (unsigned long long)max);
	const struct hp_mp_limits lim = {
		.max_depth = HP_MP_VALUE_DEPTH,
		.max_bytes = len,
		.flags = HP_MP_F_UTF8 | HP_MP_F_NO_EXT,
	};
	const char *why;
	size_t at;
	if (hp_mp_check_one(bytes, len, &lim, &why, &at) != HP_MP_OK)
		return hp_fail(err, HP_E_INVALID,
			       "the host function's result is not one valid msgpack object: %s at offset %zu",
			       why, at);
	return 0;
}
