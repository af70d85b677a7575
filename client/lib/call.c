/* call.c - requests: queueing them (the async core) and waiting for one (the sync calls). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* The daemon's bounds of a call's timeout_ms (docs/protocol.md). */
#define TIMEOUT_MS_MAX 86400000u

/* Whether bytes[0..len) are exactly one msgpack array: what a call's args and a request's
 * params must be (the daemon would refuse anything else, after the round trip). */
static bool one_array(const void *bytes, size_t len)
{
	struct hp_mp_token t;
	return bytes && hp_mp_check_one(bytes, len, NULL, NULL, NULL) == HP_MP_OK &&
	       hp_mp_token(bytes, len, &t) == HP_MP_OK && t.type == HP_MP_ARRAY;
}

static int fail_broken_copy(struct hpc_conn *c, struct hpc_error *err)
{
	if (err)
		*err = c->why;
	return -1;
}

/* Appends [0, msgid, method, <params packed by fill>] to the output, all or nothing. */
typedef void (*fill_params)(msgpack_packer *pk, const void *arg);

static int64_t queue(struct hpc_conn *c, const char *method, fill_params fill, const void *arg,
		     hpc_callback cb, void *ctx, struct hpc_error *err)
{
	if (c->broken)
		return fail_broken_copy(c, err);
	uint32_t msgid;
	if (hpc_pending_add(c, cb, ctx, &msgid) < 0)
		return hpc_fail(err, HP_E_NO_MEMORY, "no memory for a pending call");
	size_t mark = c->out.len;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &c->out, hpc_buf_pack);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, HP_RPC_REQUEST);
	msgpack_pack_uint32(&pk, msgid);
	hpc_pack_cstr(&pk, method);
	fill(&pk, arg);
	if (c->out.oom) {
		c->out.len = mark;
		c->out.oom = false;
		hpc_pending_remove(c, hpc_pending_find(c, msgid));
		return hpc_fail(err, HP_E_NO_MEMORY, "no memory to queue a request");
	}
	return msgid;
}

struct raw_params {
	const void *bytes;
	size_t len;
};

static void fill_raw(msgpack_packer *pk, const void *arg)
{
	const struct raw_params *p = arg;
	if (p->len)
		msgpack_pack_str_body(pk, p->bytes, p->len); /* raw bytes: the body writer */
	else
		msgpack_pack_array(pk, 0);
}

int64_t hpc_request_async(struct hpc_conn *c, const char *method, const void *params,
			  size_t params_len, hpc_callback cb, void *ctx, struct hpc_error *err)
{
	if (!method || !cb)
		return hpc_fail(err, HP_E_INVALID, "a request needs a method and a callback");
	if (strlen(method) > HP_RPC_METHOD_MAX)
		return hpc_fail(err, HP_E_INVALID, "a method name has at most %u bytes",
				HP_RPC_METHOD_MAX);
	if (params_len && !one_array(params, params_len))
		return hpc_fail(err, HP_E_INVALID, "params must be exactly one msgpack array");
	struct raw_params p = { params, params_len };
	return queue(c, method, fill_raw, &p, cb, ctx, err);
}

struct call_params {
	const char *module, *function;
	const void *args;
	size_t args_len;
	uint32_t timeout_ms;
};

static void fill_call(msgpack_packer *pk, const void *arg)
{
	const struct call_params *p = arg;
	msgpack_pack_array(pk, p->timeout_ms ? 4 : 3);
	hpc_pack_cstr(pk, p->module);
	hpc_pack_cstr(pk, p->function);
	msgpack_pack_str_body(pk, p->args, p->args_len);
	if (!p->timeout_ms)
		return;
	msgpack_pack_map(pk, 1);
	hpc_pack_cstr(pk, "timeout_ms");
	msgpack_pack_uint32(pk, p->timeout_ms);
}

int64_t hpc_call_async(struct hpc_conn *c, const char *module, const char *function,
		       const void *args, size_t args_len, const struct hpc_call_opts *opts,
		       hpc_callback cb, void *ctx, struct hpc_error *err)
{
	if (!module || !function || !cb)
		return hpc_fail(err, HP_E_INVALID, "a call needs a module, a function and a callback");
	if (!one_array(args, args_len))
		return hpc_fail(err, HP_E_INVALID, "the arguments must be exactly one msgpack array "
				"(hpc_args_begin builds one)");
	uint32_t timeout_ms = opts ? opts->timeout_ms : 0;
	if (timeout_ms > TIMEOUT_MS_MAX)
		return hpc_fail(err, HP_E_INVALID, "timeout_ms is at most %u", TIMEOUT_MS_MAX);
	struct call_params p = { module, function, args, args_len, timeout_ms };
	return queue(c, "call", fill_call, &p, cb, ctx, err);
}

int hpc_cancel(struct hpc_conn *c, uint32_t msgid)
{
	struct hpc_pending *p = hpc_pending_find(c, msgid);
	if (!p || !p->cb)
		return -1;
	p->cb = NULL;
	p->ctx = NULL;
	c->nabandoned++;
	return 0;
}

/* --- waiting ------------------------------------------------------------------------------- */

struct waiter {
	bool done;
	int rc;
	struct hpc_result *res;
	struct hpc_error *err;
};

static void wake(struct hpc_conn *c, uint32_t msgid, struct hpc_result *res,
		 const struct hpc_error *err, void *ctx)
{
	(void)c;
	(void)msgid;
	struct waiter *w = ctx;
	w->done = true;
	if (res) {
		*w->res = *res; /* the data is ours now (the callback's to keep) */
		w->rc = 0;
		return;
	}
	if (w->err)
		*w->err = *err;
	w->rc = -1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the connection until the call msgid completes or wait_ms (0: no bound) passes. */
static int wait_for(struct hpc_conn *c, int64_t msgid, struct waiter *w, uint32_t wait_ms)
{
	uint64_t deadline = wait_ms ? now_ms() + wait_ms : 0;
	while (!w->done) {
		int timeout = -1;
		if (deadline) {
			uint64_t now = now_ms();
			if (now >= deadline) {
				hpc_cancel(c, (uint32_t)msgid);
				return hpc_fail(w->err, HP_E_TIMEOUT, "no answer from the daemon "
						"within %u ms", wait_ms);
			}
			timeout = (int)(deadline - now);
		}
		struct pollfd pfd = { c->fd, POLLIN | (hpc_wants_write(c) ? POLLOUT : 0), 0 };
		int n = poll(&pfd, 1, timeout);
		if (n < 0 && errno != EINTR)
			return hpc_fail(w->err, HP_E_SYSTEM, "poll: %s", strerror(errno));
		if (n <= 0)
			continue;
		/* Errors reach w through the callback: a broken connection completes every call. */
		hpc_process(c, pfd.revents & (POLLIN | POLLHUP | POLLERR),
			    pfd.revents & (POLLOUT | POLLERR), NULL);
	}
	return w->rc;
}

static int sync_start(struct hpc_conn *c, struct hpc_result *res, struct hpc_error *err)
{
	if (res)
		*res = (struct hpc_result){ NULL, 0 };
	if (!res)
		return hpc_fail(err, HP_E_INVALID, "a synchronous call needs a result to fill");
	if (c->in_callback)
		return hpc_fail(err, HP_E_INVALID, "synchronous calls cannot be made from a "
				"completion callback");
	return 0;
}

int hpc_call(struct hpc_conn *c, const char *module, const char *function, const void *args,
	     size_t args_len, const struct hpc_call_opts *opts, struct hpc_result *res,
	     struct hpc_error *err)
{
	if (sync_start(c, res, err) < 0)
		return -1;
	struct waiter w = { false, -1, res, err };
	int64_t id = hpc_call_async(c, module, function, args, args_len, opts, wake, &w, err);
	if (id < 0)
		return -1;
	uint32_t wait_ms = opts ? opts->wait_ms : 0;
	if (!wait_ms && opts && opts->timeout_ms)
		wait_ms = opts->timeout_ms + HPC_WAIT_GRACE_MS;
	return wait_for(c, id, &w, wait_ms);
}

int hpc_request(struct hpc_conn *c, const char *method, const void *params, size_t params_len,
		uint32_t wait_ms, struct hpc_result *res, struct hpc_error *err)
{
	if (sync_start(c, res, err) < 0)
		return -1;
	struct waiter w = { false, -1, res, err };
	int64_t id = hpc_request_async(c, method, params, params_len, wake, &w, err);
	if (id < 0)
		return -1;
	return wait_for(c, id, &w, wait_ms);
}

int hpc_ping(struct hpc_conn *c, uint32_t wait_ms, struct hpc_result *res, struct hpc_error *err)
{
	return hpc_request(c, "ping", NULL, 0, wait_ms, res, err);
}

int hpc_modules(struct hpc_conn *c, uint32_t wait_ms, struct hpc_result *res,
		struct hpc_error *err)
{
	return hpc_request(c, "modules", NULL, 0, wait_ms, res, err);
}

int hpc_stats(struct hpc_conn *c, uint32_t wait_ms, struct hpc_result *res, struct hpc_error *err)
{
	return hpc_request(c, "stats", NULL, 0, wait_ms, res, err);
}
