/* dispatch.c - MessagePack-RPC requests: the envelope, the methods, the responses.
 *
 * Every frame reaching hpd_dispatch_frame is one complete msgpack object within the frame
 * limits (conn.c ran the scanner); here it is walked token by token with hp_mp_token, never
 * unpacked whole, so the `args` of a call stay the bytes the client sent and go to the guest
 * as they are. A guest's result (validated by libhpvmm: one object, UTF-8 strs, no ext) is
 * spliced into the response the same way, with no re-encode. docs/protocol.md is the spec. */
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "daemon.h"
#include "hp_abi.h"
#include "log.h"

/* --- responses ---------------------------------------------------------------------------- */

static void pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

/* A str key and an unsigned value, in a map. */
static void pack_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
	pack_cstr(pk, key);
	msgpack_pack_uint64(pk, v);
}

static void send_sbuffer(struct hpd_conn *c, msgpack_sbuffer *sb)
{
	struct iovec iov = { sb->data, sb->size };
	hpd_conn_send(c, &iov, 1);
	msgpack_sbuffer_destroy(sb);
}

static void send_error_msg(struct hpd_conn *c, uint32_t msgid, int code, const char *msg,
			   size_t msg_len)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, HP_RPC_RESPONSE);
	msgpack_pack_uint32(&pk, msgid);
	msgpack_pack_map(&pk, 2);
	pack_cstr(&pk, "code");
	pack_cstr(&pk, hp_status_name(code));
	pack_cstr(&pk, "message");
	msgpack_pack_str(&pk, msg_len);
	msgpack_pack_str_body(&pk, msg, msg_len);
	msgpack_pack_nil(&pk);
	send_sbuffer(c, &sb);
}

void hpd_respond_error(struct hpd_conn *c, uint32_t msgid, int code, const char *fmt, ...)
{
	char msg[HP_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
	send_error_msg(c, msgid, code, msg, len);
}

/* [1, msgid, nil, <result>]: the envelope packed here, the result bytes spliced after it. */
static void send_result_raw(struct hpd_conn *c, uint32_t msgid, const uint8_t *result, size_t len)
{
	uint8_t head[16];
	size_t n = 0;
	head[n++] = 0x94;
	head[n++] = HP_RPC_RESPONSE;
	if (msgid < 128) {
		head[n++] = (uint8_t)msgid;
	} else {
		head[n++] = 0xce;
		for (int s = 24; s >= 0; s -= 8)
			head[n++] = (uint8_t)(msgid >> s);
	}
	head[n++] = 0xc0;
	struct iovec iov[2] = { { head, n }, { (void *)result, len } };
	hpd_conn_send(c, iov, 2);
}

static void send_result(struct hpd_conn *c, uint32_t msgid, msgpack_sbuffer *result)
{
	send_result_raw(c, msgid, (const uint8_t *)result->data, result->size);
	msgpack_sbuffer_destroy(result);
}

void hpd_respond_call(struct hpd_conn *c, uint32_t msgid, int rc, const struct hp_call_result *res,
		      const struct hp_error *err)
{
	if (rc < 0) {
		send_error_msg(c, msgid, err->code, err->message, strlen(err->message));
		return;
	}
	if (res->status == HP_OK)
		send_result_raw(c, msgid, res->output, res->output_len);
	else /* the guest's own error: a UTF-8 message (libhpvmm guarantees it) */
		send_error_msg(c, msgid, res->status, (const char *)res->output, res->output_len);
}

/* --- methods ------------------------------------------------------------------------------ */

static void begin_result(msgpack_sbuffer *sb, msgpack_packer *pk)
{
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
}

static void method_ping(struct hpd_conn *c, uint32_t msgid)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	begin_result(&sb, &pk);
	pack_cstr(&pk, "pong");
	send_result(c, msgid, &sb);
}

static void pack_pool(msgpack_packer *pk, struct hpd_module *m)
{
	struct hp_pool_stats st;
	unsigned alive;
	uint64_t restarts;
	hpd_module_pool_stats(m, &st, &alive, &restarts);
	msgpack_pack_map(pk, 4);
	pack_u64(pk, "idle", st.idle);
	pack_u64(pk, "busy", st.busy);
	pack_u64(pk, "min", m->cfg->pool_min);
	pack_u64(pk, "max", m->cfg->pool_max);
}

static void pack_module_entry(msgpack_packer *pk, struct hpd_module *m)
{
	const struct hp_module_info info = m->info;
	msgpack_pack_map(pk, 7);
	pack_cstr(pk, "name");
	pack_cstr(pk, m->name);
	pack_cstr(pk, "path");
	pack_cstr(pk, m->cfg->path);
	pack_cstr(pk, "functions");
	msgpack_pack_array(pk, m->nfunctions);
	for (unsigned f = 0; f < m->nfunctions; f++)
		pack_cstr(pk, m->functions[f]);
	pack_cstr(pk, "pool");
	pack_pool(pk, m);
	pack_u64(pk, "input_size", info.input_size);
	pack_u64(pk, "output_size", info.output_size);
	pack_u64(pk, "timeout_ms", info.timeout_ms);
}

static void method_modules(struct hpd_conn *c, uint32_t msgid)
{
	struct hpd *hd = c->hd;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	begin_result(&sb, &pk);
	msgpack_pack_array(&pk, hd->nmodules);
	for (unsigned i = 0; i < hd->nmodules; i++)
		pack_module_entry(&pk, hd->modules[i]);
	send_result(c, msgid, &sb);
}

/* Resident set size of the daemon, from /proc/self/statm. */
static uint64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long long size, rss = 0;
	if (f) {
		if (fscanf(f, "%llu %llu", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void pack_module_stats(msgpack_packer *pk, struct hpd *hd, struct hpd_module *m)
{
	struct hp_pool_stats st;
	unsigned alive;
	uint64_t restarts;
	hpd_module_pool_stats(m, &st, &alive, &restarts);
	pthread_mutex_lock(&hd->lock);
	unsigned waiting = m->waiting.n, sessions = m->sessions;
	pthread_mutex_unlock(&hd->lock);
	pthread_mutex_lock(&m->stats_lock);
	unsigned codes = 0;
	for (unsigned s = 1; s < HPD_STATUS_SLOTS; s++)
		codes += m->by_status[s] != 0;
	msgpack_pack_map(pk, m->procs ? 8 : 7);
	pack_u64(pk, "calls", m->calls);
	pack_cstr(pk, "errors");
	msgpack_pack_map(pk, codes);
	for (unsigned s = 1; s < HPD_STATUS_SLOTS; s++)
		if (m->by_status[s]) {
			pack_cstr(pk, hp_status_name((int)s));
			msgpack_pack_uint64(pk, m->by_status[s]);
		}
	pack_cstr(pk, "latency_us");
	msgpack_pack_map(pk, 2);
	pack_cstr(pk, "p50");
	msgpack_pack_double(pk, hpd_module_percentile(m, 0.50));
	pack_cstr(pk, "p99");
	msgpack_pack_double(pk, hpd_module_percentile(m, 0.99));
	pthread_mutex_unlock(&m->stats_lock);
	pack_cstr(pk, "vms");
	msgpack_pack_map(pk, 5);
	pack_u64(pk, "idle", st.idle);
	pack_u64(pk, "busy", st.busy);
	pack_u64(pk, "created", st.created);
	pack_u64(pk, "destroyed", st.destroyed);
	pack_u64(pk, "restore_failures", st.restore_failures);
	pack_u64(pk, "queue_depth", waiting);
	pack_u64(pk, "sessions", sessions);
	pack_cstr(pk, "memory");
	msgpack_pack_map(pk, 2);
	pack_u64(pk, "snapshot_bytes", st.snapshot_bytes);
	pack_u64(pk, "idle_private_bytes", st.idle_private_bytes);
	if (!m->procs)
		return;
	pack_cstr(pk, "processes"); /* isolation = process */
	msgpack_pack_map(pk, 3);
	pack_u64(pk, "configured", m->cfg->procs);
	pack_u64(pk, "alive", alive);
	pack_u64(pk, "restarts", restarts);
}

static void method_stats(struct hpd_conn *c, uint32_t msgid)
{
	struct hpd *hd = c->hd;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	begin_result(&sb, &pk);
	msgpack_pack_map(&pk, 2);
	pack_cstr(&pk, "daemon");
	msgpack_pack_map(&pk, 7);
	pack_cstr(&pk, "version");
	pack_cstr(&pk, HPD_VERSION);
	pack_cstr(&pk, "uptime_s");
	msgpack_pack_double(&pk, (double)(hpd_now_ns() - hd->start_ns) / 1e9);
	pack_u64(&pk, "connections", hd->nconns);
	pack_u64(&pk, "connections_total", hd->conns_total);
	pack_u64(&pk, "calls", atomic_load(&hd->calls_total));
	pack_u64(&pk, "workers", hd->nthreads);
	pack_u64(&pk, "rss_bytes", rss_bytes());
	pack_cstr(&pk, "modules");
	msgpack_pack_map(&pk, hd->nmodules);
	for (unsigned i = 0; i < hd->nmodules; i++) {
		pack_cstr(&pk, hd->modules[i]->name);
		pack_module_stats(&pk, hd, hd->modules[i]);
	}
	send_result(c, msgid, &sb);
}

/* call's options: a map of `timeout_ms` (the call's deadline) and `session` (an id). */
static int parse_call_options(struct hpd_conn *c, uint32_t msgid, struct hp_mp_cursor *cur,
			      uint64_t *timeout_ms, uint64_t *session)
{
	struct hp_mp_token t;
	if (!hp_mp_next(cur, &t) || t.type != HP_MP_MAP) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST, "call: options must be a map");
		return -1;
	}
	for (uint32_t i = 0; i < t.len; i++) {
		const uint8_t *key;
		uint32_t klen;
		if (!hp_mp_next_name(cur, &key, &klen)) {
			hpd_respond_error(c, msgid, HP_E_BAD_REQUEST, "call: option names must be strings");
			return -1;
		}
		if (klen == 10 && !memcmp(key, "timeout_ms", 10)) {
			if (!hp_mp_next_uint(cur, timeout_ms) || *timeout_ms == 0 || *timeout_ms > HP_MAX_TIMEOUT_MS) {
				hpd_respond_error(c, msgid, HP_E_BAD_REQUEST,
						  "call: timeout_ms must be an integer from 1 to %llu",
						  (unsigned long long)HP_MAX_TIMEOUT_MS);
				return -1;
			}
			continue;
		}
		if (klen == 7 && !memcmp(key, "session", 7)) {
			if (!hp_mp_next_uint(cur, session) || *session == 0 || *session > UINT32_MAX) {
				hpd_respond_error(c, msgid, HP_E_BAD_REQUEST,
						  "call: session must be an id from session_open");
				return -1;
			}
			continue;
		}
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST, "call: unknown option '%.*s'",
				  (int)(klen > 64 ? 64 : klen), key);
		return -1;
	}
	return 0;
}

/* A call, its module (and session) found and allowed: checked against the module's limits
 * and queued. */
static void submit_call(struct hpd_conn *c, uint32_t msgid, struct hpd_module *m,
			struct hpd_session *session, const uint8_t *fn, uint32_t fn_len,
			const uint8_t *args, size_t args_len, uint64_t timeout_ms, uint64_t arrival)
{
	struct hpd *hd = c->hd;
	if (fn_len == 0 || fn_len >= HP_FUNCTION_NAME_MAX) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST, "call: a function name is 1 to %u bytes",
				  HP_FUNCTION_NAME_MAX - 1);
		return;
	}
	if (fn_len + args_len > m->input_size) {
		hpd_respond_error(c, msgid, HP_E_TOO_LARGE,
				  "call: %zu bytes of arguments exceed module '%s''s input buffer of %llu bytes",
				  args_len, m->name, (unsigned long long)(m->input_size - fn_len));
		return;
	}
	struct hpd_job *job = malloc(sizeof(*job) + fn_len + args_len);
	if (!job) {
		hpd_respond_error(c, msgid, HP_E_NO_MEMORY, "out of memory");
		return;
	}
	memset(job, 0, sizeof(*job));
	job->conn = c;
	job->module = m;
	job->session = session;
	job->msgid = msgid;
	job->arrival_ns = arrival;
	uint64_t t_ms = timeout_ms ? timeout_ms : (m->cfg->vm.timeout_ms ? m->cfg->vm.timeout_ms
								       : HP_DEFAULT_TIMEOUT_MS);
	job->deadline_ns = arrival + t_ms * 1000000ull;
	job->name_len = fn_len;
	job->args_len = (uint32_t)args_len;
	memcpy(job->data, fn, fn_len);
	memcpy(job->data + fn_len, args, args_len);
	atomic_fetch_add(&c->refs, 1);
	hpd_module_ref(m);
	struct hp_error err;
	if (hpd_job_submit(hd, job, &err)) {
		hpd_respond_error(c, msgid, err.code, "%s", err.message);
		hpd_conn_unref(c);
		hpd_module_unref(m);
		free(job);
	}
}

static void method_call(struct hpd_conn *c, uint32_t msgid, struct hp_mp_cursor *params, uint32_t nparams)
{
	struct hpd *hd = c->hd;
	const uint8_t *mod_name, *fn, *args;
	uint32_t mod_len, fn_len;
	size_t args_len;
	struct hp_mp_token t;
	uint64_t arrival = hpd_now_ns();
	if (nparams < 3 || nparams > 4) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST,
				  "call takes [module, function, args] or [module, function, args, options], "
				  "got %u params", nparams);
		return;
	}
	if (!hp_mp_next_name(params, &mod_name, &mod_len) || !hp_mp_next_name(params, &fn, &fn_len)) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST, "call: module and function must be strings");
		return;
	}
	struct hp_mp_cursor peek = *params;
	if (!hp_mp_next(&peek, &t) || t.type != HP_MP_ARRAY || !hp_mp_next_object(params, &args, &args_len)) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST, "call: args must be an array");
		return;
	}
	uint64_t timeout_ms = 0, session_id = 0;
	if (nparams == 4 && parse_call_options(c, msgid, params, &timeout_ms, &session_id))
		return;
	struct hpd_module *m = hpd_module_find(hd, mod_name, mod_len);
	if (!m) {
		hpd_respond_error(c, msgid, HP_E_NO_SUCH_MODULE, "no module named '%.*s'",
				  (int)(mod_len > 64 ? 64 : mod_len), mod_name);
		return;
	}
	if (!hpd_module_allows(m->cfg, c->uid, c->gids, c->ngids)) {
		hpd_respond_error(c, msgid, HP_E_PERMISSION_DENIED, "uid %u may not call module '%s'",
				  (unsigned)c->uid, m->name);
		return;
	}
	struct hpd_session *session = NULL;
	if (session_id && (!(session = hpd_session_find(c, (uint32_t)session_id)) || session->module != m)) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST,
				  "call: no session %llu of module '%s' on this connection",
				  (unsigned long long)session_id, m->name);
		return;
	}
	submit_call(c, msgid, m, session, fn, fn_len, args, args_len, timeout_ms, arrival);
}

/* session_call(id, function, args[, options]): call(...) in the session `id`. */
static void method_session_call(struct hpd_conn *c, uint32_t msgid, struct hp_mp_cursor *params,
				uint32_t nparams)
{
	uint64_t arrival = hpd_now_ns(), id, timeout_ms = 0, session_id = 0;
	const uint8_t *fn, *args;
	uint32_t fn_len;
	size_t args_len;
	struct hp_mp_token t;
	struct hpd_session *session;
	if (nparams < 3 || nparams > 4 || !hp_mp_next_uint(params, &id) || id > UINT32_MAX ||
	    !(session = hpd_session_find(c, (uint32_t)id))) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST,
				  "session_call takes [id, function, args] or [id, function, args, "
				  "options], id a session open on this connection");
		return;
	}
	struct hp_mp_cursor peek;
	if (!hp_mp_next_name(params, &fn, &fn_len) || (peek = *params, !hp_mp_next(&peek, &t)) ||
	    t.type != HP_MP_ARRAY || !hp_mp_next_object(params, &args, &args_len)) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST,
				  "session_call: function must be a string and args an array");
		return;
	}
	if (nparams == 4 && parse_call_options(c, msgid, params, &timeout_ms, &session_id))
		return;
	submit_call(c, msgid, session->module, session, fn, fn_len, args, args_len, timeout_ms, arrival);
}

/* --- sessions: one VM held across calls --------------------------------------------------- */

/* session_open(module) -> {"session": id} */
static void method_session_open(struct hpd_conn *c, uint32_t msgid, struct hp_mp_cursor *params,
				uint32_t nparams)
{
	const uint8_t *name;
	uint32_t len;
	if (nparams != 1 || !hp_mp_next_name(params, &name, &len)) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST, "session_open takes [module]");
		return;
	}
	struct hpd_module *m = hpd_module_find(c->hd, name, len);
	if (!m) {
		hpd_respond_error(c, msgid, HP_E_NO_SUCH_MODULE, "no module named '%.*s'",
				  (int)(len > 64 ? 64 : len), name);
		return;
	}
	if (!hpd_module_allows(m->cfg, c->uid, c->gids, c->ngids)) {
		hpd_respond_error(c, msgid, HP_E_PERMISSION_DENIED, "uid %u may not call module '%s'",
				  (unsigned)c->uid, m->name);
		return;
	}
	uint32_t id;
	struct hp_error err;
	if (hpd_session_open(c, m, &id, &err)) {
		hpd_respond_error(c, msgid, err.code, "%s", err.message);
		return;
	}
	msgpack_sbuffer sb;
	msgpack_packer pk;
	begin_result(&sb, &pk);
	msgpack_pack_map(&pk, 1);
	pack_u64(&pk, "session", id);
	send_result(c, msgid, &sb);
}

static void method_session_close(struct hpd_conn *c, uint32_t msgid, struct hp_mp_cursor *params,
				 uint32_t nparams)
{
	uint64_t id;
	struct hpd_session *s;
	if (nparams != 1 || !hp_mp_next_uint(params, &id) || id > UINT32_MAX ||
	    !(s = hpd_session_find(c, (uint32_t)id))) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST,
				  "session_close takes [id] of a session open on this connection");
		return;
	}
	hpd_session_close(c, s);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	begin_result(&sb, &pk);
	msgpack_pack_true(&pk);
	send_result(c, msgid, &sb);
}

/* --- admin methods: the daemon's own uid or root (SO_PEERCRED) ---------------------------- */

static bool allowed_admin(struct hpd_conn *c, uint32_t msgid, const char *method)
{
	if (c->uid == 0 || c->uid == geteuid())
		return true;
	hpd_respond_error(c, msgid, HP_E_PERMISSION_DENIED,
			  "%s is an admin method: only uid %u (the daemon's) or root may use it, not uid %u",
			  method, (unsigned)geteuid(), (unsigned)c->uid);
	return false;
}

/* A str fit for one line of a config file: no control characters, at most `max` bytes. */
static bool next_line_value(struct hp_mp_cursor *cur, char *out, size_t max)
{
	const uint8_t *s;
	uint32_t len;
	if (!hp_mp_next_name(cur, &s, &len) || len == 0 || len >= max)
		return false;
	for (uint32_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/* load's options map as "key = value" lines of a [module] section, checked by the same code
 * as the configuration file (hpd_config_parse_text). Keys are [a-z_], values integers or
 * one-line strings, so nothing can start another line or section. */
static int options_as_lines(struct hpd_conn *c, uint32_t msgid, struct hp_mp_cursor *cur, char *text,
			    size_t size)
{
	struct hp_mp_token t;
	if (!hp_mp_next(cur, &t) || t.type != HP_MP_MAP || t.len > 32) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST, "load: options must be a map of at most 32 keys");
		return -1;
	}
	size_t n = strlen(text);
	for (uint32_t i = 0; i < t.len; i++) {
		char key[33], value[257];
		uint64_t u;
		struct hp_mp_cursor peek = *cur;
		if (!next_line_value(cur, key, sizeof(key)) || strspn(key, "abcdefghijklmnopqrstuvwxyz_") != strlen(key)) {
			hpd_respond_error(c, msgid, HP_E_BAD_REQUEST, "load: option names are [a-z_], at most 32 bytes");
			return -1;
		}
		peek = *cur;
		if (hp_mp_next_uint(&peek, &u)) {
			*cur = peek;
			snprintf(value, sizeof(value), "%llu", (unsigned long long)u);
		} else if (!next_line_value(cur, value, sizeof(value))) {
			hpd_respond_error(c, msgid, HP_E_BAD_REQUEST,
					  "load: option '%s' must be an integer or a one-line string", key);
			return -1;
		}
		int w = snprintf(text + n, size - n, "%s = %s\n", key, value);
		if (w < 0 || (size_t)w >= size - n) {
			hpd_respond_error(c, msgid, HP_E_TOO_LARGE, "load: options too long");
			return -1;
		}
		n += (size_t)w;
	}
	return 0;
}

/* load(name, path[, options]): options are the keys of a [module] section. */
static void method_load(struct hpd_conn *c, uint32_t msgid, struct hp_mp_cursor *params, uint32_t nparams)
{
	struct hpd *hd = c->hd;
	char name[HP_RPC_MODULE_NAME_MAX], path[1024], text[16384], err[1024];
	if (!allowed_admin(c, msgid, "load"))
		return;
	if (nparams < 2 || nparams > 3 || !next_line_value(params, name, sizeof(name)) ||
	    !next_line_value(params, path, sizeof(path))) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST,
				  "load takes [name, path] or [name, path, options]: strings and a map");
		return;
	}
	snprintf(text, sizeof(text), "[module %s]\npath = %s\n", name, path);
	if (nparams == 3 && options_as_lines(c, msgid, params, text, sizeof(text)))
		return;
	struct hpd_config *cfg;
	if (hpd_config_parse_text("load", text, &cfg, err, sizeof(err))) {
		hpd_respond_error(c, msgid, HP_E_INVALID, "%s", err);
		return;
	}
	if (hpd_module_add(hd, &cfg->modules[0], err, sizeof(err))) {
		hpd_config_free(cfg);
		hpd_respond_error(c, msgid, HP_E_INVALID, "%s", err);
		return;
	}
	hpd_config_free(cfg);
	hpd_log(HPD_LOG_NOTICE, "module %s: loaded by uid %u (pid %d)", name, (unsigned)c->uid, (int)c->pid);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	begin_result(&sb, &pk);
	pack_module_entry(&pk, hd->modules[hd->nmodules - 1]);
	send_result(c, msgid, &sb);
}

static void method_unload(struct hpd_conn *c, uint32_t msgid, struct hp_mp_cursor *params, uint32_t nparams)
{
	char name[HP_RPC_MODULE_NAME_MAX], err[256];
	if (!allowed_admin(c, msgid, "unload"))
		return;
	if (nparams != 1 || !next_line_value(params, name, sizeof(name))) {
		hpd_respond_error(c, msgid, HP_E_BAD_REQUEST, "unload takes [name]");
		return;
	}
	if (hpd_module_remove(c->hd, name, err, sizeof(err))) {
		hpd_respond_error(c, msgid, HP_E_NO_SUCH_MODULE, "%s", err);
		return;
	}
	msgpack_sbuffer sb;
	msgpack_packer pk;
	begin_result(&sb, &pk);
	msgpack_pack_true(&pk);
	send_result(c, msgid, &sb);
}

/* "a, b, c" -> ["a", "b", "c"] */
static void pack_name_list(msgpack_packer *pk, const char *list)
{
	unsigned n = *list ? 1 : 0;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	msgpack_pack_array(pk, n);
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		msgpack_pack_str(pk, len);
		msgpack_pack_str_body(pk, p, len);
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
}

static void method_reload(struct hpd_conn *c, uint32_t msgid)
{
	struct hpd_reload_result r;
	char err[1024];
	if (!allowed_admin(c, msgid, "reload"))
		return;
	if (hpd_daemon_reload(c->hd, &r, err, sizeof(err))) {
		hpd_respond_error(c, msgid, HP_E_INVALID, "%s", err);
		return;
	}
	msgpack_sbuffer sb;
	msgpack_packer pk;
	begin_result(&sb, &pk);
	msgpack_pack_map(&pk, 3);
	pack_cstr(&pk, "loaded");
	pack_name_list(&pk, r.loaded);
	pack_cstr(&pk, "unloaded");
	pack_name_list(&pk, r.unloaded);
	pack_cstr(&pk, "kept");
	pack_name_list(&pk, r.kept);
	send_result(c, msgid, &sb);
}

/* --- the envelope ------------------------------------------------------------------------- */

/* A status code by its wire name (hp_status_name), HP_E_GUEST_ERROR for a name we do not know. */
static int status_by_name(const uint8_t *name, uint32_t len)
{
	for (int code = 1; code < HPD_STATUS_SLOTS; code++) {
		const char *n = hp_status_name(code);
		if (strcmp(n, "unknown") && strlen(n) == len && !memcmp(n, name, len))
			return code;
	}
	return HP_E_GUEST_ERROR;
}

/* [1, msgid, error, result] from the client: the answer to a host call the daemon asked it
 * (host_functions = client). An error is read as {code, message}; anything else in its place
 * is an error without a message. The guest gets the result or the message. */
static int client_answer(struct hpd_conn *c, struct hp_mp_cursor *cur)
{
	uint64_t msgid;
	struct hp_mp_token t;
	if (!hp_mp_next_uint(cur, &msgid) || msgid > UINT32_MAX)
		return -1;
	struct hp_mp_cursor peek = *cur;
	if (!hp_mp_next(&peek, &t))
		return -1;
	if (t.type == HP_MP_NIL) {
		const uint8_t *result;
		size_t len;
		*cur = peek;
		if (!hp_mp_next_object(cur, &result, &len))
			return -1;
		hpd_host_answer(c->hd, c, (uint32_t)msgid, HP_OK, result, len);
		return 0;
	}
	int status = HP_E_GUEST_ERROR;
	const uint8_t *msg = (const uint8_t *)"the client answered with an error";
	uint32_t msg_len = 33;
	if (t.type == HP_MP_MAP) {
		*cur = peek;
		for (uint32_t i = 0; i < t.len; i++) {
			const uint8_t *key, *val;
			uint32_t klen, vlen;
			struct hp_mp_cursor v;
			if (!hp_mp_next_name(cur, &key, &klen))
				return -1;
			v = *cur;
			if (klen == 4 && !memcmp(key, "code", 4) && hp_mp_next_name(&v, &val, &vlen))
				status = status_by_name(val, vlen);
			else if (klen == 7 && !memcmp(key, "message", 7) && hp_mp_next_name(&v, &val, &vlen))
				msg = val, msg_len = vlen;
			const uint8_t *skip;
			size_t skip_len;
			if (!hp_mp_next_object(cur, &skip, &skip_len))
				return -1;
		}
	}
	hpd_host_answer(c->hd, c, (uint32_t)msgid, status == HP_OK ? HP_E_GUEST_ERROR : status, msg,
			msg_len);
	return 0;
}

static bool method_is(const uint8_t *m, uint32_t len, const char *name)
{
	return strlen(name) == len && !memcmp(m, name, len);
}

int hpd_dispatch_frame(struct hpd_conn *c, const uint8_t *frame, size_t len)
{
	struct hp_mp_cursor cur = { frame, len };
	struct hp_mp_token t;
	uint64_t type, msgid = 0;
	if (!hp_mp_next(&cur, &t) || t.type != HP_MP_ARRAY || (t.len != 3 && t.len != 4) ||
	    !hp_mp_next_uint(&cur, &type))
		return -1; /* not an RPC message at all: no msgid to answer */
	if (type == HP_RPC_RESPONSE && t.len == 4)
		return client_answer(c, &cur);
	if (type == HP_RPC_NOTIFICATION && t.len == 3)
		return 0; /* no notification is defined; unknown ones are ignored (spec) */
	if (type != HP_RPC_REQUEST || t.len != 4)
		return -1;
	if (!hp_mp_next_uint(&cur, &msgid) || msgid > UINT32_MAX)
		return -1; /* a msgid we could not echo */
	const uint8_t *method;
	uint32_t mlen;
	struct hp_mp_token p;
	if (!hp_mp_next_name(&cur, &method, &mlen) || mlen > HP_RPC_METHOD_MAX) {
		hpd_respond_error(c, (uint32_t)msgid, HP_E_BAD_REQUEST,
				  "the method must be a string of at most %u bytes", HP_RPC_METHOD_MAX);
		return -1;
	}
	struct hp_mp_cursor params = cur;
	if (!hp_mp_next(&params, &p) || p.type != HP_MP_ARRAY) {
		hpd_respond_error(c, (uint32_t)msgid, HP_E_BAD_REQUEST, "params must be an array");
		return -1;
	}
	uint32_t id = (uint32_t)msgid;
	if (method_is(method, mlen, "call"))
		method_call(c, id, &params, p.len);
	else if (method_is(method, mlen, "ping"))
		method_ping(c, id);
	else if (method_is(method, mlen, "modules"))
		method_modules(c, id);
	else if (method_is(method, mlen, "stats"))
		method_stats(c, id);
	else if (method_is(method, mlen, "session_open"))
		method_session_open(c, id, &params, p.len);
	else if (method_is(method, mlen, "session_call"))
		method_session_call(c, id, &params, p.len);
	else if (method_is(method, mlen, "session_close"))
		method_session_close(c, id, &params, p.len);
	else if (method_is(method, mlen, "load"))
		method_load(c, id, &params, p.len);
	else if (method_is(method, mlen, "unload"))
		method_unload(c, id, &params, p.len);
	else if (method_is(method, mlen, "reload"))
		method_reload(c, id);
	else
		hpd_respond_error(c, id, HP_E_NO_SUCH_METHOD, "no method '%.*s' (methods: call, ping, "
				  "modules, stats, session_open, session_call, session_close, load, unload, reload)", (int)mlen, method);
	return 0;
}

/* The scanner refused the stream at `reason`: if the bytes start like a request, the msgid
 * is read from them to answer once before the connection is closed. */
void hpd_dispatch_bad_stream(struct hpd_conn *c, const uint8_t *buf, size_t len, const char *reason)
{
	struct hp_mp_cursor cur = { buf, len };
	struct hp_mp_token t;
	uint64_t type, msgid;
	if (!hp_mp_next(&cur, &t) || t.type != HP_MP_ARRAY || t.len != 4 || !hp_mp_next_uint(&cur, &type) ||
	    type != HP_RPC_REQUEST || !hp_mp_next_uint(&cur, &msgid) || msgid > UINT32_MAX)
		return;
	/* the scanner's reasons for a frame over max_frame all name the size limit */
	bool too_large = strstr(reason, "size limit") != NULL;
	hpd_respond_error(c, (uint32_t)msgid, too_large ? HP_E_TOO_LARGE : HP_E_BAD_REQUEST,
			  "the request is not valid MessagePack within the limits (frame limit %llu bytes, "
			  "nesting %u): %s; closing the connection",
			  (unsigned long long)c->hd->max_frame, HP_RPC_MAX_DEPTH, reason);
}
