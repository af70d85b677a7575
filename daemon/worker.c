/* worker.c - a module's worker process (isolation = process; docs/daemon.md "Worker
 * processes"): `hyperpoold --worker`, spawned by the front with its socketpair on
 * HPD_WORKER_FD. It is given one module (configuration and ELF bytes, W_INIT), builds that
 * module's pool, says W_READY, locks itself down (lockdown.c) and then runs calls: its main
 * thread reads frames, runner threads (one per VM it may hold) run the calls and write their
 * results. Host functions the module may call as built-ins run here; `client` ones go to the
 * front, which asks the client. When the front goes away (end of file, or its death: the
 * parent-death signal) the worker exits and the kernel frees its VMs. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

#include "daemon.h"
#include "hp_abi.h"
#include "log.h"
#include "wire.h"

#define INIT_MAX (256ull << 20) /* the configuration and the ELF */

struct wk;

struct wk_call {
	struct wk_call *next;
	struct wk *w;
	uint32_t tag, session, name_len;
	uint64_t timeout_ms;
	uint8_t *data; /* name, then args: the frame's payload */
	size_t len;
	/* under w->lock */
	struct hp_vm *vm;
	bool cancelled, host_wait, host_done;
	int host_status;
	uint8_t *host_bytes;
	size_t host_len;
};

struct wk_session {
	uint32_t id;
	struct hp_vm *vm;
	bool busy, closing; /* under w->lock */
	struct wk_session *next;
};

struct wk {
	int fd;
	pthread_mutex_t wlock; /* writes to fd */
	struct hpd_module_cfg cfg;
	unsigned index, pool_min, pool_max;
	uint64_t max_payload;
	struct hp_kvm *kvm;
	struct hp_module *mod;
	struct hp_pool *pool;
	pthread_t *threads;
	unsigned nthreads;
	pthread_mutex_t lock;
	pthread_cond_t work, host, idle; /* idle: a session's call let go of its VM */
	struct wk_call *q_head, *q_tail, *running;
	struct wk_session *sessions;
	bool stop;
};

static void wk_send(struct wk *w, const struct hpd_wire *h, const void *a, size_t alen,
		    const void *b, size_t blen)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	pthread_mutex_lock(&w->wlock);
	int rc = hpd_wire_send(w->fd, h, iov, 2);
	pthread_mutex_unlock(&w->wlock);
	if (rc) /* the front is gone: nothing is left to do */
		_exit(0);
}

static void wk_reply(struct wk *w, uint32_t tag, int status, const void *bytes, size_t len)
{
	struct hpd_wire h = { .len = (uint32_t)len, .type = W_REPLY, .tag = tag,
			      .c = (uint32_t)status };
	wk_send(w, &h, bytes, len, NULL, 0);
}

static void guest_log(void *ctx, int stream, const char *bytes, size_t len)
{
	struct wk *w = ctx;
	if (hpd_log_enabled(HPD_LOG_DEBUG))
		hpd_log(HPD_LOG_DEBUG, "module %s: %s: %.*s", w->cfg.name,
			stream == HP_LOG_STDERR ? "stderr" : "stdout", (int)(len > 900 ? 900 : len), bytes);
}

/* --- start: the module from W_INIT, then W_READY --------------------------------------- */

static int fail_init(struct wk *w, const struct hp_error *e)
{
	struct hpd_wire h = { .len = (uint32_t)strlen(e->message), .type = W_FAILED,
			      .c = (uint32_t)e->code };
	wk_send(w, &h, e->message, h.len, NULL, 0);
	return 1;
}

static int send_ready(struct wk *w, struct hp_error *e)
{
	struct hp_vm *vm;
	if (hp_pool_get(w->pool, &vm, e))
		return -1;
	struct hpd_wire_ready r = { .nfunctions = hp_vm_function_count(vm),
				    .restore = hp_module_restore_strategy(w->mod) };
	hp_module_info(w->mod, &r.info);
	size_t len = 0;
	for (uint32_t i = 0; i < r.nfunctions; i++)
		len += strlen(hp_vm_function_name(vm, i)) + 1;
	char *names = malloc(len ? len : 1), *p = names;
	if (!names) {
		hp_pool_put(w->pool, vm);
		return hp_fail(e, HP_E_NO_MEMORY, "out of memory");
	}
	for (uint32_t i = 0; i < r.nfunctions; i++)
		p = stpcpy(p, hp_vm_function_name(vm, i)) + 1;
	hp_pool_put(w->pool, vm);
	struct hpd_wire h = { .len = (uint32_t)(sizeof(r) + len), .type = W_READY };
	wk_send(w, &h, &r, sizeof(r), names, len);
	free(names);
	return 0;
}

static int wk_init(struct wk *w)
{
	struct hpd_wire h;
	uint8_t *p;
	struct hp_error e;
	if (hpd_wire_recv(w->fd, &h, &p, INIT_MAX))
		return 1;
	struct hpd_wire_init in;
	if (h.type != W_INIT || h.len < sizeof(in)) {
		free(p);
		return 1;
	}
	memcpy(&in, p, sizeof(in));
	if ((uint64_t)in.name_len + in.path_len + in.elf_len != h.len - sizeof(in)) {
		free(p);
		return 1;
	}
	w->cfg = in.cfg;
	w->cfg.name = strndup((const char *)p + sizeof(in), in.name_len);
	w->cfg.path = strndup((const char *)p + sizeof(in) + in.name_len, in.path_len);
	w->cfg.where = NULL;
	w->index = in.index;
	w->pool_min = in.pool_min;
	w->pool_max = in.pool_max;
	hpd_log_setup(in.log_level, getenv("JOURNAL_STREAM") != NULL);
	const uint8_t *elf = p + sizeof(in) + in.name_len + in.path_len;
	int rc = hp_kvm_open(&w->kvm, &e) ||
		 hp_module_open_mem(w->kvm, w->cfg.path, elf, in.elf_len, &w->cfg.vm, &w->mod, &e) ||
		 hp_pool_create(w->mod, w->pool_min, w->pool_max, guest_log, w, &w->pool, &e) ||
		 send_ready(w, &e);
	free(p);
	if (rc)
		return fail_init(w, &e);
	struct hp_module_info info;
	hp_module_info(w->mod, &info);
	w->max_payload = info.input_size + info.output_size + HP_FUNCTION_NAME_MAX +
			 (w->cfg.vm.max_host_call_bytes ? w->cfg.vm.max_host_call_bytes
							 : HP_DEFAULT_MAX_HOST_CALL_BYTES) + 65536;
	return 0;
}

/* --- calls (runner threads) ----------------------------------------------------------------- */

static void send_result(struct wk *w, uint32_t tag, int rc, const struct hp_call_result *res,
			const struct hp_error *err)
{
	struct hpd_wire h = { .type = W_RESULT, .tag = tag };
	const void *bytes;
	if (rc == 0) {
		h.c = (uint32_t)res->status;
		h.len = (uint32_t)res->output_len;
		bytes = res->output;
	} else {
		h.a = 1;
		h.c = (uint32_t)err->code;
		h.len = (uint32_t)strlen(err->message);
		bytes = err->message;
	}
	wk_send(w, &h, bytes, h.len, NULL, 0);
}

/* A host call of the guest: the built-ins the module may use run here; with `client` the rest
 * go to the front (W_HOST), which asks the calling client and answers with W_HOST_REPLY. */
static void wk_host(void *ctx, struct hp_vm *vm, const char *name, size_t name_len,
		    const uint8_t *args, size_t args_len, struct hp_host_reply *r)
{
	struct wk_call *c = ctx;
	struct wk *w = c->w;
	if (hp_host_builtin(w->cfg.host_functions, vm, name, name_len, args, args_len, r))
		return;
	if (!(w->cfg.host_functions & HPD_HOST_CLIENT)) {
		hpd_host_refuse(r, w->cfg.name, name, name_len);
		return;
	}
	pthread_mutex_lock(&w->lock);
	free(c->host_bytes); /* the previous host call's answer */
	c->host_bytes = NULL;
	c->host_done = false;
	c->host_wait = true;
	pthread_mutex_unlock(&w->lock);
	struct hpd_wire h = { .len = (uint32_t)(name_len + args_len), .type = W_HOST, .tag = c->tag,
			      .c = (uint32_t)name_len };
	wk_send(w, &h, name, name_len, args, args_len);
	pthread_mutex_lock(&w->lock);
	while (!c->host_done && !c->cancelled && !w->stop)
		pthread_cond_wait(&w->host, &w->lock);
	c->host_wait = false;
	if (c->host_done) {
		r->status = c->host_status;
		r->bytes = c->host_bytes; /* freed at the next host call or with the call */
		r->len = c->host_len;
	} else {
		hpd_host_reply_text(r, HP_E_CANCELLED, "the call was cancelled during host function '%.*s'",
				    (int)name_len, name);
	}
	pthread_mutex_unlock(&w->lock);
}

static struct wk_session *find_session(struct wk *w, uint32_t id)
{
	for (struct wk_session *s = w->sessions; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void unlink_session(struct wk *w, struct wk_session *s)
{
	for (struct wk_session **p = &w->sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			return;
		}
}

/* The VM a call runs on: its session's (busy until the call ends) or one from the pool. */
static struct hp_vm *call_vm(struct wk *w, struct wk_call *c, struct wk_session **sp,
			     struct hp_error *err)
{
	struct hp_vm *vm = NULL;
	*sp = NULL;
	if (!c->session)
		return hp_pool_get(w->pool, &vm, err) ? NULL : vm;
	pthread_mutex_lock(&w->lock);
	struct wk_session *s = find_session(w, c->session);
	/* The front sends a session's next call once the last one answered, which may be just
	 * before that call's runner let go of the VM: wait for it. */
	while (s && s->busy) {
		pthread_cond_wait(&w->idle, &w->lock);
		s = find_session(w, c->session);
	}
	if (s) {
		s->busy = true;
		*sp = s;
		vm = s->vm;
	}
	pthread_mutex_unlock(&w->lock);
	if (!vm)
		hp_fail(err, HP_E_INVALID, "worker %u has no session %u", w->index, c->session);
	return vm;
}

static void run_call(struct wk *w, struct wk_call *c)
{
	struct hp_error err = { 0 };
	struct hp_call_result res = { 0 };
	struct wk_session *s;
	struct hp_vm *vm = call_vm(w, c, &s, &err);
	int rc = -1;
	if (vm) {
		hp_vm_set_host(vm, wk_host, c);
		pthread_mutex_lock(&w->lock);
		c->vm = vm;
		bool cancelled = c->cancelled;
		pthread_mutex_unlock(&w->lock);
		struct hp_call_opts opts = { .timeout_ms = c->timeout_ms, .keep_memory = s != NULL };
		if (cancelled)
			hp_fail(&err, HP_E_CANCELLED, "the client hung up");
		else
			rc = hp_vm_call_opts(vm, (const char *)c->data, c->name_len, c->data + c->name_len,
					     c->len - c->name_len, &opts, &res, &err);
	}
	send_result(w, c->tag, rc, &res, &err); /* the output stays valid until the restore */
	pthread_mutex_lock(&w->lock);
	c->vm = NULL;
	bool close = s && s->closing;
	if (s) {
		s->busy = false;
		pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->lock);
	if (s) {
		if (close) {
			hp_pool_put(w->pool, s->vm);
			free(s);
		}
		return;
	}
	if (vm) {
		hp_pool_put(w->pool, vm);
		if (hp_pool_fill(w->pool, w->pool_min, &err))
			hpd_log(HPD_LOG_WARNING, "module %s worker %u: cannot refill its pool: %s",
				w->cfg.name, w->index, err.message);
	}
}

static void *runner(void *arg)
{
	struct wk *w = arg;
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		struct wk_call *c = w->q_head;
		if (!c) {
			pthread_cond_wait(&w->work, &w->lock);
			continue;
		}
		if (!(w->q_head = c->next))
			w->q_tail = NULL;
		c->next = w->running;
		w->running = c;
		pthread_mutex_unlock(&w->lock);
		run_call(w, c);
		pthread_mutex_lock(&w->lock);
		for (struct wk_call **p = &w->running; *p; p = &(*p)->next)
			if (*p == c) {
				*p = c->next;
				break;
			}
		pthread_mutex_unlock(&w->lock);
		free(c->host_bytes);
		free(c->data);
		free(c);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* --- frames from the front (main thread) ---------------------------------------------------- */

static void on_call(struct wk *w, const struct hpd_wire *h, uint8_t **payload)
{
	struct wk_call *c = calloc(1, sizeof(*c));
	if (!c || h->c == 0 || h->c >= HP_FUNCTION_NAME_MAX || h->c > h->len) {
		struct hp_error e;
		hp_fail(&e, c ? HP_E_INVALID : HP_E_NO_MEMORY, c ? "bad call frame" : "out of memory");
		send_result(w, h->tag, -1, NULL, &e);
		free(c);
		return;
	}
	*c = (struct wk_call){ .w = w, .tag = h->tag, .session = h->a, .name_len = h->c,
			       .timeout_ms = h->b, .data = *payload, .len = h->len };
	*payload = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->q_tail)
		w->q_tail->next = c;
	else
		w->q_head = c;
	w->q_tail = c;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
}

static struct wk_call *find_call(struct wk_call *list, uint32_t tag)
{
	for (; list; list = list->next)
		if (list->tag == tag)
			return list;
	return NULL;
}

static void on_cancel(struct wk *w, uint32_t tag)
{
	pthread_mutex_lock(&w->lock);
	struct wk_call *c = find_call(w->running, tag);
	if (!c)
		c = find_call(w->q_head, tag);
	if (c) {
		c->cancelled = true;
		if (c->vm)
			hp_vm_cancel(c->vm);
		pthread_cond_broadcast(&w->host);
	}
	pthread_mutex_unlock(&w->lock);
}

static void on_host_reply(struct wk *w, const struct hpd_wire *h, uint8_t **payload)
{
	pthread_mutex_lock(&w->lock);
	struct wk_call *c = find_call(w->running, h->tag);
	if (c && c->host_wait && !c->host_done) {
		c->host_status = (int)h->c;
		c->host_bytes = *payload;
		c->host_len = h->len;
		c->host_done = true;
		*payload = NULL;
		pthread_cond_broadcast(&w->host);
	}
	pthread_mutex_unlock(&w->lock);
}

static void on_session_open(struct wk *w, const struct hpd_wire *h)
{
	struct hp_error e;
	struct wk_session *s = calloc(1, sizeof(*s));
	if (!s) {
		hp_fail(&e, HP_E_NO_MEMORY, "out of memory");
	} else if (hp_pool_get(w->pool, &s->vm, &e) == 0) {
		s->id = h->a;
		pthread_mutex_lock(&w->lock);
		s->next = w->sessions;
		w->sessions = s;
		pthread_mutex_unlock(&w->lock);
		wk_reply(w, h->tag, 0, NULL, 0);
		return;
	}
	free(s);
	wk_reply(w, h->tag, e.code, e.message, strlen(e.message));
}

static void on_session_close(struct wk *w, uint32_t id)
{
	pthread_mutex_lock(&w->lock);
	struct wk_session *s = find_session(w, id);
	bool now = s && !s->busy;
	if (s) {
		unlink_session(w, s);
		s->closing = true; /* busy: its runner gives the VM back */
	}
	pthread_mutex_unlock(&w->lock);
	if (now) {
		hp_pool_put(w->pool, s->vm);
		free(s);
	}
}

static void on_stats(struct wk *w, uint32_t tag)
{
	struct hp_pool_stats st = { 0 };
	struct hp_error e;
	hp_pool_stats(w->pool, &st, &e);
	wk_reply(w, tag, 0, &st, sizeof(st));
}

static void serve(struct wk *w)
{
	for (;;) {
		struct hpd_wire h;
		uint8_t *p;
		if (hpd_wire_recv(w->fd, &h, &p, w->max_payload))
			return;
		switch (h.type) {
		case W_CALL: on_call(w, &h, &p); break;
		case W_CANCEL: on_cancel(w, h.tag); break;
		case W_HOST_REPLY: on_host_reply(w, &h, &p); break;
		case W_SESSION_OPEN: on_session_open(w, &h); break;
		case W_SESSION_CLOSE: on_session_close(w, h.a); break;
		case W_STATS: on_stats(w, h.tag); break;
		default: break;
		}
		free(p);
	}
}

static int start_runners(struct wk *w)
{
	w->threads = calloc(w->pool_max, sizeof(pthread_t));
	if (!w->threads)
		return -1;
	for (; w->nthreads < w->pool_max; w->nthreads++)
		if (pthread_create(&w->threads[w->nthreads], NULL, runner, w))
			return -1;
	return 0;
}

int hpd_worker_main(void)
{
	/* Nothing of the front's but stdio and our socket: close the rest before opening KVM. */
	close_range(HPD_WORKER_FD + 1, ~0u, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 1; /* the front died before the parent-death signal was set */
	signal(SIGPIPE, SIG_IGN);
	struct wk w = { .fd = HPD_WORKER_FD };
	pthread_mutex_init(&w.wlock, NULL);
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.work, NULL);
	pthread_cond_init(&w.host, NULL);
	pthread_cond_init(&w.idle, NULL);
	if (wk_init(&w))
		return 1;
	char err[256];
	if (start_runners(&w) || hpd_worker_lockdown(w.pool_max, err, sizeof(err))) {
		hpd_log(HPD_LOG_ERR, "module %s worker %u: cannot start: %s", w.cfg.name, w.index,
			w.nthreads < w.pool_max ? "threads" : err);
		return 1;
	}
	serve(&w);
	/* The front closed our socket (unload, shutdown) or died: the kernel frees the VMs. */
	_exit(0);
}
