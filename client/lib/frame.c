/* frame.c - the reader: cuts frames out of the bytes read and handles each.
 *
 * Frames are cut with the resumable bounded scanner (max_frame bytes, HP_RPC_MAX_DEPTH deep),
 * so nothing is allocated for what a header merely claims; only then is a frame walked, token
 * by token (hp_mp_token), never by msgpack-c. What the daemon may send:
 *   [1, msgid, error, result]  a response: completes the pending call of that msgid
 *   [0, msgid, method, params] a request for a function this client provides (hpc_provide):
 *                              answered by it, or with no_such_method
 *   [2, method, params]        a notification: none is defined; ignored (as the spec says)
 * Anything else breaks the connection: the stream cannot be trusted past it. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* --- completing calls ---------------------------------------------------------------------- */

void hpc_complete(struct hpc_conn *c, struct hpc_pending p, struct hpc_result *res,
		  const struct hpc_error *err)
{
	if (!p.cb) {
		hpc_result_free(res);
		return;
	}
	c->in_callback++;
	p.cb(c, p.msgid, res, err, p.ctx);
	c->in_callback--;
}

void hpc_break(struct hpc_conn *c, const struct hpc_error *why)
{
	if (c->broken)
		return;
	c->broken = true;
	c->why = *why;
	/* The table is taken first: a callback may queue a call, which fails at once now. */
	struct hpc_pending *all = c->pending;
	size_t n = c->npending;
	c->pending = NULL;
	c->npending = c->cap_pending = c->nabandoned = 0;
	for (size_t i = 0; i < n; i++)
		hpc_complete(c, all[i], NULL, why);
	free(all);
}

/* Breaks the connection with a formatted reason; returns -1. */
__attribute__((format(printf, 3, 4)))
static int broken(struct hpc_conn *c, int code, const char *fmt, ...)
{
	struct hpc_error why;
	why.code = code;
	strcpy(why.name, hp_status_name(code));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why.message, sizeof(why.message), fmt, ap);
	va_end(ap);
	hpc_break(c, &why);
	return -1;
}

/* --- responses ----------------------------------------------------------------------------- */

/* A code's wire name: 1..HPC_ERROR_NAME_MAX-1 of [a-z0-9_], as hp_status.h spells them. A
 * newer daemon may send names this library does not know, but never empty or odd ones: those
 * would reach the caller as an empty or garbled hpc_error.name. */
static bool valid_code_name(const uint8_t *s, uint32_t len)
{
	if (len == 0 || len >= HPC_ERROR_NAME_MAX)
		return false;
	for (uint32_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* error is a map with a str "code" and a str "message" (other keys are skipped: a newer
 * daemon may add some). */
static int parse_error_map(struct hp_mp_cursor *cur, uint32_t pairs, struct hpc_error *err)
{
	const uint8_t *code = NULL, *msg = (const uint8_t *)"";
	uint32_t code_len = 0, msg_len = 0;
	for (uint32_t i = 0; i < pairs; i++) {
		const uint8_t *k, *v;
		uint32_t klen;
		size_t skip;
		if (!hp_mp_next_name(cur, &k, &klen))
			return -1;
		if (klen == 4 && !memcmp(k, "code", 4)) {
			if (!hp_mp_next_name(cur, &code, &code_len))
				return -1;
		} else if (klen == 7 && !memcmp(k, "message", 7)) {
			if (!hp_mp_next_name(cur, &msg, &msg_len))
				return -1;
		} else if (!hp_mp_next_object(cur, &v, &skip)) {
			return -1;
		}
	}
	if (!code || !valid_code_name(code, code_len))
		return -1;
	hpc_set_wire_error(err, code, code_len, msg, msg_len);
	return 0;
}

/* [1, msgid, error, result], the array header and the type already read. */
static int handle_response(struct hpc_conn *c, struct hp_mp_cursor *cur)
{
	uint64_t msgid;
	if (!hp_mp_next_uint(cur, &msgid) || msgid > UINT32_MAX)
		return broken(c, HP_E_BAD_REQUEST, "a response from the daemon has no valid msgid");
	struct hpc_pending *slot = hpc_pending_find(c, (uint32_t)msgid);
	if (!slot)
		return broken(c, HP_E_BAD_REQUEST,
			      "the daemon answered msgid %llu, which no call is waiting for",
				      (unsigned long long)msgid);
	struct hp_mp_token e;
	if (!hp_mp_next(cur, &e) || (e.type != HP_MP_NIL && e.type != HP_MP_MAP))
		return broken(c, HP_E_BAD_REQUEST,
			      "the error of response %llu is neither nil nor a map",
				      (unsigned long long)msgid);
	struct hpc_pending p = *slot;
	if (e.type == HP_MP_MAP) {
		struct hpc_error err;
		if (parse_error_map(cur, e.len, &err) < 0)
			return broken(c, HP_E_BAD_REQUEST, "the error of response %llu is not "
				      "{\"code\": name of [a-z0-9_], \"message\": str}",
				      (unsigned long long)msgid);
		hpc_pending_remove(c, slot);
		hpc_complete(c, p, NULL, &err);
		return 0;
	}
	const uint8_t *obj;
	size_t len;
	if (!hp_mp_next_object(cur, &obj, &len))
		return broken(c, HP_E_BAD_REQUEST, "response %llu has no result",
			      (unsigned long long)msgid);
	/* The frame is in sync, only this value is unusable: that call fails, the others go on. */
	const struct hp_mp_limits lim = { HP_MP_VALUE_DEPTH, len, 0 };
	const char *why;
	size_t at;
	if (hp_mp_check_one(obj, len, &lim, &why, &at) != HP_MP_OK) {
		struct hpc_error err;
		hpc_fail(&err, HP_E_BAD_REQUEST, "the result of response %llu is unusable: %s at byte %zu "
			 "(values are at most %d levels deep)", (unsigned long long)msgid, why, at,
			 HP_MP_VALUE_DEPTH);
		hpc_pending_remove(c, slot);
		hpc_complete(c, p, NULL, &err);
		return 0;
	}
	struct hpc_result res = { malloc(len), len };
	if (!res.data)
		return broken(c, HP_E_NO_MEMORY, "no memory for a result of %zu bytes", len);
	memcpy(res.data, obj, len);
	hpc_pending_remove(c, slot);
	hpc_complete(c, p, &res, NULL);
	return 0;
}

/* --- requests from the daemon -------------------------------------------------------------- */

/* Queues [1, msgid, {"code": code, "message": msg}, nil]. */
static int queue_error_response(struct hpc_conn *c, uint32_t msgid, int code, const char *msg)
{
	size_t mark = c->out.len;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &c->out, hpc_buf_pack);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, HP_RPC_RESPONSE);
	msgpack_pack_uint32(&pk, msgid);
	msgpack_pack_map(&pk, 2);
	hpc_pack_cstr(&pk, "code");
	hpc_pack_cstr(&pk, hp_status_name(code));
	hpc_pack_cstr(&pk, "message");
	hpc_pack_cstr(&pk, msg);
	msgpack_pack_nil(&pk);
	if (!c->out.oom)
		return 0;
	c->out.len = mark;
	c->out.oom = false;
	return broken(c, HP_E_NO_MEMORY, "no memory to answer request %u of the daemon", msgid);
}

static struct hpc_provided *provided(struct hpc_conn *c, const uint8_t *name, uint32_t len)
{
	for (unsigned i = 0; i < c->nprovided; i++)
		if (strlen(c->provided[i].name) == len && !memcmp(c->provided[i].name, name, len))
			return &c->provided[i];
	return NULL;
}

/* [1, msgid, nil, result]: a provided function's answer, checked to be one msgpack object
 * that a guest can unpack (at most HP_MP_VALUE_DEPTH deep, UTF-8 strs, no ext). */
static int queue_result_response(struct hpc_conn *c, uint32_t msgid, const void *bytes, size_t len)
{
	const struct hp_mp_limits lim = { HP_MP_VALUE_DEPTH, len, HP_MP_F_UTF8 | HP_MP_F_NO_EXT };
	if (!bytes || hp_mp_check_one(bytes, len, &lim, NULL, NULL) != HP_MP_OK)
		return queue_error_response(c, msgid, HP_E_INVALID,
					    "the client's function answered bytes that are not one valid "
					    "msgpack object of at most 32 levels");
	size_t mark = c->out.len;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &c->out, hpc_buf_pack);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, HP_RPC_RESPONSE);
	msgpack_pack_uint32(&pk, msgid);
	msgpack_pack_nil(&pk);
	hpc_buf_pack(&c->out, bytes, len);
	if (!c->out.oom)
		return 0;
	c->out.len = mark;
	c->out.oom = false;
	return broken(c, HP_E_NO_MEMORY, "no memory to answer request %u of the daemon", msgid);
}

/* [0, msgid, method, params], the array header and the type already read: the daemon asks for
 * a function this client provides (hpc_provide); a name nobody registered gets the answer a
 * msgpack-rpc peer expects, no_such_method. */
static int handle_request(struct hpc_conn *c, struct hp_mp_cursor *cur)
{
	uint64_t msgid;
	const uint8_t *method;
	uint32_t mlen;
	struct hp_mp_token params;
	struct hp_mp_cursor at_params;
	if (!hp_mp_next_uint(cur, &msgid) || msgid > UINT32_MAX || !hp_mp_next_name(cur, &method, &mlen))
		return broken(c, HP_E_BAD_REQUEST,
			      "a request from the daemon is not [0, msgid, method, params]");
	at_params = *cur;
	if (!hp_mp_next(cur, &params) || params.type != HP_MP_ARRAY)
		return broken(c, HP_E_BAD_REQUEST,
			      "a request from the daemon is not [0, msgid, method, params]");
	struct hpc_provided *f = provided(c, method, mlen);
	/* params no deeper than a value may be (msgpack-c, which a function unpacks them with,
	 * stops at 32 levels); params is the frame's last element: it runs to the frame's end */
	const struct hp_mp_limits lim = { HP_MP_VALUE_DEPTH, at_params.left, 0 };
	if (f && hp_mp_check_one(at_params.p, at_params.left, &lim, NULL, NULL) != HP_MP_OK)
		return queue_error_response(c, (uint32_t)msgid, HP_E_BAD_REQUEST,
					    "the request's params are nested deeper than 32 levels");
	if (f) {
		struct hpc_answer a = { .status = HP_E_SYSTEM };
		c->in_callback++;
		f->fn(c, at_params.p, at_params.left, &a, f->ctx);
		c->in_callback--;
		if (a.status == HP_OK)
			return queue_result_response(c, (uint32_t)msgid, a.bytes, a.len);
		char msg[1024];
		hp_utf8_sanitize(a.bytes ? a.bytes : (const void *)"", a.bytes ? a.len : 0, msg, sizeof(msg));
		return queue_error_response(c, (uint32_t)msgid, a.status, msg);
	}
	char msg[128 + HP_RPC_METHOD_MAX];
	char name[HP_RPC_METHOD_MAX + 1];
	size_t n = mlen < HP_RPC_METHOD_MAX ? mlen : HP_RPC_METHOD_MAX;
	hp_utf8_sanitize(method, n, name, sizeof(name));
	snprintf(msg, sizeof(msg), "this client provides no method '%s'", name);
	return queue_error_response(c, (uint32_t)msgid, HP_E_NO_SUCH_METHOD, msg);
}

int hpc_provide(struct hpc_conn *c, const char *name, hpc_function fn, void *ctx,
		struct hpc_error *err)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len >= sizeof(c->provided[0].name))
		return hpc_fail(err, HP_E_INVALID, "a function's name is 1 to 63 bytes");
	struct hpc_provided *f = provided(c, (const uint8_t *)name, (uint32_t)len);
	if (!fn) {
		if (f)
			*f = c->provided[--c->nprovided];
		return 0;
	}
	if (!f) {
		if (c->nprovided == HPC_MAX_FUNCTIONS)
			return hpc_fail(err, HP_E_INVALID, "at most %d functions per connection",
					HPC_MAX_FUNCTIONS);
		f = &c->provided[c->nprovided++];
		memcpy(f->name, name, len + 1);
	}
	f->fn = fn;
	f->ctx = ctx;
	return 0;
}

/* --- frames -------------------------------------------------------------------------------- */

static int handle_frame(struct hpc_conn *c, const uint8_t *f, size_t len)
{
	struct hp_mp_cursor cur = { f, len };
	struct hp_mp_token t;
	uint64_t type;
	if (!hp_mp_next(&cur, &t) || t.type != HP_MP_ARRAY || !hp_mp_next_uint(&cur, &type))
		return broken(c, HP_E_BAD_REQUEST,
			      "the daemon sent a frame that is not a MessagePack-RPC message");
	if (type == HP_RPC_RESPONSE && t.len == 4)
		return handle_response(c, &cur);
	if (type == HP_RPC_REQUEST && t.len == 4)
		return handle_request(c, &cur);
	if (type == HP_RPC_NOTIFICATION && t.len == 3)
		return 0;
	return broken(c, HP_E_BAD_REQUEST, "the daemon sent a frame of type %llu with %u elements",
		      (unsigned long long)type, t.len);
}

int hpc_frames(struct hpc_conn *c)
{
	while (!c->broken && c->in.off < c->in.len) {
		if (!c->scanning) {
			struct hp_mp_limits lim = { HP_RPC_MAX_DEPTH, c->max_frame, 0 };
			hp_mp_scanner_init(&c->scan, &lim);
			c->scanning = true;
		}
		const uint8_t *f = c->in.p + c->in.off;
		size_t n;
		int rc = hp_mp_scan(&c->scan, f, c->in.len - c->in.off, &n);
		if (rc == HP_MP_INCOMPLETE)
			break;
		if (rc == HP_MP_INVALID) {
			bool too_large = strstr(c->scan.error, "size limit") != NULL;
			return broken(c, too_large ? HP_E_TOO_LARGE : HP_E_BAD_REQUEST,
				      "the daemon sent bytes that are not MessagePack within the "
				      "limits (frame limit %zu bytes): %s at byte %llu", c->max_frame,
				      c->scan.error, (unsigned long long)c->scan.error_offset);
		}
		c->scanning = false;
		c->in.off += n;
		if (handle_frame(c, f, n) < 0)
			return -1;
	}
	if (c->broken)
		return -1;
	hpc_buf_compact(&c->in);
	return 0;
}
