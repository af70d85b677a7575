/* workers.c - the run queue and the worker threads that run calls.
 *
 * A module has at most pool_max calls in the run queue or running (`running`); more wait in
 * the module's own FIFO up to its `queue` bound, and beyond that the caller is told `busy` at
 * once. A worker that finishes a call of a module with waiting calls takes the next one
 * itself, so a busy module's queue drains without a wake-up per call. The response is written
 * by the worker (conn.c), and only then is the VM restored (hp_pool_put): the restore costs the
 * caller nothing. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "hp_abi.h"
#include "log.h"

uint64_t hpd_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void list_push(struct hpd_job_list *l, struct hpd_job *j)
{
	j->next = NULL;
	j->prev = l->tail;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static void list_remove(struct hpd_job_list *l, struct hpd_job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		l->tail = j->prev;
	j->next = j->prev = NULL;
	l->n--;
}

static struct hpd_job *list_pop(struct hpd_job_list *l)
{
	struct hpd_job *j = l->head;
	if (j)
		list_remove(l, j);
	return j;
}

static void conn_link(struct hpd_conn *c, struct hpd_job *j)
{
	j->conn_prev = NULL;
	j->conn_next = c->jobs;
	if (c->jobs)
		c->jobs->conn_prev = j;
	c->jobs = j;
	c->inflight++;
}

static void conn_unlink(struct hpd_conn *c, struct hpd_job *j)
{
	if (j->conn_prev)
		j->conn_prev->conn_next = j->conn_next;
	else
		c->jobs = j->conn_next;
	if (j->conn_next)
		j->conn_next->conn_prev = j->conn_prev;
	c->inflight--;
}

/* Under hd->lock: the job leaves the daemon's books (not yet freed). */
static void job_forget(struct hpd_job *j)
{
	conn_unlink(j->conn, j);
}

static void job_free(struct hpd_job *j)
{
	free(j->host_bytes);
	hpd_conn_unref(j->conn);
	hpd_module_unref(j->module); /* may free a module that was unloaded meanwhile */
	free(j);
}

/* Under hd->lock: moves the module's next waiting job (if any) into the run queue, in the
 * place of one that left. */
static void promote_waiting(struct hpd *hd, struct hpd_module *m)
{
	struct hpd_job *next = list_pop(&m->waiting);
	if (!next) {
		m->running--;
		return;
	}
	next->state = JOB_QUEUED;
	list_push(&hd->runq, next);
}

/* Under hd->lock: a place of the module became free (a session closed): the next waiting job
 * takes it. */
static void promote_waiting_place(struct hpd *hd, struct hpd_module *m)
{
	if (!m->waiting.head || m->running + m->sessions >= m->cfg->pool_max)
		return;
	struct hpd_job *next = list_pop(&m->waiting);
	next->state = JOB_QUEUED;
	m->running++;
	list_push(&hd->runq, next);
	pthread_cond_signal(&hd->work);
}

static void session_free(struct hpd *hd, struct hpd_session *s);

int hpd_job_submit(struct hpd *hd, struct hpd_job *job, struct hp_error *err)
{
	struct hpd_module *m = job->module;
	pthread_mutex_lock(&hd->lock);
	if (hd->stopping) {
		pthread_mutex_unlock(&hd->lock);
		return hp_fail(err, HP_E_SHUTTING_DOWN, "the daemon is shutting down");
	}
	if (job->conn->inflight >= hd->cfg->max_inflight) {
		pthread_mutex_unlock(&hd->lock);
		return hp_fail(err, HP_E_BUSY, "this connection has %u calls in flight, the limit",
			       hd->cfg->max_inflight);
	}
	struct hpd_session *ses = job->session;
	if (ses)
		ses->last_used_ns = job->arrival_ns;
	if (ses && ses->busy) { /* its own VM, one call at a time: the next ones wait their turn */
		if (ses->waiting.n >= HPD_SESSION_QUEUE) {
			pthread_mutex_unlock(&hd->lock);
			return hp_fail(err, HP_E_BUSY, "session %u has a call running and %d waiting",
				       ses->id, HPD_SESSION_QUEUE);
		}
		job->state = JOB_WAITING;
		list_push(&ses->waiting, job);
	} else if (ses) {
		ses->busy = true;
		job->state = JOB_QUEUED;
		list_push(&hd->runq, job);
		pthread_cond_signal(&hd->work);
	} else if (m->running + m->sessions < m->cfg->pool_max) {
		m->running++;
		job->state = JOB_QUEUED;
		list_push(&hd->runq, job);
		pthread_cond_signal(&hd->work);
	} else if (m->waiting.n < m->cfg->queue) {
		job->state = JOB_WAITING;
		list_push(&m->waiting, job);
	} else {
		unsigned max = m->cfg->pool_max, q = m->cfg->queue;
		pthread_mutex_unlock(&hd->lock);
		return hp_fail(err, HP_E_BUSY, "module '%s' is busy: %u calls running and %u waiting",
			       m->name, max, q);
	}
	conn_link(job->conn, job);
	pthread_mutex_unlock(&hd->lock);
	return 0;
}

/* --- running one job ---------------------------------------------------------------------- */

static void finish(struct hpd *hd, struct hpd_job *j, int rc, const struct hp_call_result *res,
		   const struct hp_error *err)
{
	/* counted first: a client that sees the response then asks for stats finds it counted */
	int status = rc == 0 ? res->status : err->code;
	hpd_module_count(j->module, status, hpd_now_ns() - j->arrival_ns);
	atomic_fetch_add(&hd->calls_total, 1);
	hpd_respond_call(j->conn, j->msgid, rc, res, err);
}

void hpd_host_reply_text(struct hp_host_reply *r, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf((char *)r->inline_buf, sizeof(r->inline_buf), fmt, ap);
	va_end(ap);
	r->status = status;
	r->bytes = r->inline_buf;
	r->len = n < 0 ? 0 : (size_t)n < sizeof(r->inline_buf) ? (size_t)n : sizeof(r->inline_buf) - 1;
}

/* host_functions = client: the daemon asks the calling client, on the same connection, with a
 * request [0, id, name, args] of its own, and waits (the vCPU is stopped meanwhile) until the
 * loop hands over the answer, the client hangs up, or the call's deadline passes; then the
 * guest resumes with the answer (and a call past its deadline ends with timeout). */
void hpd_job_ask_client(struct hpd_job *j, const char *name, size_t name_len, const uint8_t *args,
			size_t args_len, struct hp_host_reply *r)
{
	struct hpd *hd = j->conn->hd;
	pthread_mutex_lock(&hd->lock);
	free(j->host_bytes);
	j->host_bytes = NULL;
	if (++j->conn->next_host_msgid == 0)
		j->conn->next_host_msgid = 1;
	j->host_msgid = j->conn->next_host_msgid;
	j->host_done = false;
	uint32_t id = j->host_msgid;
	pthread_mutex_unlock(&hd->lock);

	uint8_t head[16 + HP_HOST_NAME_MAX];
	size_t n = 0;
	head[n++] = 0x94;
	head[n++] = HP_RPC_REQUEST;
	head[n++] = 0xce;
	for (int s = 24; s >= 0; s -= 8)
		head[n++] = (uint8_t)(id >> s);
	if (name_len < 32) { /* name_len < HP_HOST_NAME_MAX: a fixstr or a str8 */
		head[n++] = (uint8_t)(0xa0 | name_len);
	} else {
		head[n++] = 0xd9;
		head[n++] = (uint8_t)name_len;
	}
	memcpy(head + n, name, name_len);
	n += name_len;
	struct iovec iov[2] = { { head, n }, { (void *)args, args_len } };
	hpd_conn_send(j->conn, iov, 2);

	struct timespec until = { .tv_sec = (time_t)(j->deadline_ns / 1000000000ull),
				  .tv_nsec = (long)(j->deadline_ns % 1000000000ull) };
	pthread_mutex_lock(&hd->lock);
	int rc = 0;
	while (!j->host_done && !j->cancelled && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&hd->host_answered, &hd->lock, &until);
	bool done = j->host_done, cancelled = j->cancelled;
	j->host_msgid = 0;
	pthread_mutex_unlock(&hd->lock);
	if (done) {
		r->status = j->host_status;
		r->bytes = j->host_bytes; /* freed at the next host call or with the job */
		r->len = j->host_len;
	} else if (cancelled) {
		hpd_host_reply_text(r, HP_E_CANCELLED, "the client hung up during host function '%.*s'",
			   (int)name_len, name);
	} else {
		hpd_host_reply_text(r, HP_E_TIMEOUT, "the client did not answer host function '%.*s' before "
			   "the call's deadline", (int)name_len, name);
	}
}

/* The host functions a module's guests may call: the built-ins its configuration allows, and
 * with `client` the calling client's own. */
static void job_host(void *ctx, struct hp_vm *vm, const char *name, size_t name_len,
		     const uint8_t *args, size_t args_len, struct hp_host_reply *r)
{
	struct hpd_job *j = ctx;
	const struct hpd_module *m = j->module;
	if (hp_host_builtin(m->cfg->host_functions, vm, name, name_len, args, args_len, r))
		return;
	if (m->cfg->host_functions & HPD_HOST_CLIENT) {
		hpd_job_ask_client(j, name, name_len, args, args_len, r);
		return;
	}
	hpd_host_refuse(r, m->name, name, name_len);
}

void hpd_host_refuse(struct hp_host_reply *r, const char *module, const char *name, size_t len)
{
	hpd_host_reply_text(r, HP_E_NO_SUCH_FUNCTION,
			    "module %s may call no host function '%.*s' (hyperpoold.conf: host_functions)",
			    module, (int)(len > 64 ? 64 : len), name);
}

void hpd_host_answer(struct hpd *hd, struct hpd_conn *c, uint32_t host_msgid, int status,
		     const uint8_t *bytes, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return; /* the call then times out, as if the answer never came */
	memcpy(copy, bytes, len);
	pthread_mutex_lock(&hd->lock);
	for (struct hpd_job *j = c->jobs; j; j = j->conn_next) {
		if (j->state != JOB_RUNNING || j->host_msgid != host_msgid || j->host_done)
			continue;
		j->host_status = status;
		j->host_bytes = copy;
		j->host_len = len;
		j->host_done = true;
		copy = NULL;
		pthread_cond_broadcast(&hd->host_answered);
		break;
	}
	pthread_mutex_unlock(&hd->lock);
	free(copy);
}

/* A session's VM goes back to its pool: here, or in its worker process. */
static void session_vm_put(struct hpd_session *s)
{
	if (s->module->procs)
		hpd_proc_session_close(s);
	else
		hp_pool_put(s->module->pool, s->vm);
}

/* A session's call is done: its next waiting call gets the VM, or the session is free again.
 * Returns true when the session was closed meanwhile: the caller gives the VM back. */
static bool session_release(struct hpd *hd, struct hpd_job *j)
{
	struct hpd_session *s = j->session;
	pthread_mutex_lock(&hd->lock);
	j->vm = NULL;
	bool give_back = s->closing;
	if (!s->closing && s->waiting.head) { /* the session's next call, on the same VM */
		struct hpd_job *next = list_pop(&s->waiting);
		next->state = JOB_QUEUED;
		list_push(&hd->runq, next);
		pthread_cond_signal(&hd->work);
	} else {
		s->busy = false;
	}
	pthread_mutex_unlock(&hd->lock);
	return give_back;
}

/* Answers a session's call: released first (so a client that reads the answer finds the
 * session free), with the result copied out of the VM, which its next call may now use. */
static void finish_session(struct hpd *hd, struct hpd_job *j, int rc, struct hp_call_result *res,
			   const struct hp_error *err, bool answer)
{
	struct hpd_session *s = j->session;
	uint8_t *copy = NULL;
	if (answer && rc == 0 && res->output_len) {
		copy = malloc(res->output_len);
		if (!copy) {
			struct hp_error oom;
			hp_fail(&oom, HP_E_NO_MEMORY, "out of memory copying a session's result");
			answer = false;
			finish(hd, j, -1, res, &oom);
		} else {
			memcpy(copy, res->output, res->output_len);
			res->output = copy;
		}
	}
	bool give_back = session_release(hd, j);
	if (answer)
		finish(hd, j, rc, res, err);
	free(copy);
	if (give_back) {
		session_vm_put(s);
		session_free(hd, s);
	}
}

/* libhpvmm was given what was left of the deadline: say the deadline the client asked for. */
static void timeout_message(const struct hpd_job *j, uint64_t started_ns, struct hp_error *err)
{
	hp_fail(err, HP_E_TIMEOUT, "the call ran past its deadline of %llu ms (%llu ms of it waiting in the queue)",
		(unsigned long long)((j->deadline_ns - j->arrival_ns) / 1000000),
		(unsigned long long)((started_ns - j->arrival_ns) / 1000000));
}

/* A VM whose restore failed was destroyed: make the pool whole again (pool_min VMs) here,
 * after the response, rather than on the next call's path. */
static void refill_pool(struct hpd_module *m)
{
	struct hp_error err;
	if (hp_pool_fill(m->pool, m->cfg->pool_min, &err))
		hpd_log(HPD_LOG_WARNING, "module %s: cannot refill its pool to %u VMs: %s", m->name,
			m->cfg->pool_min, err.message);
}

/* isolation = process: the call runs in one of the module's worker processes. */
static void run_remote(struct hpd *hd, struct hpd_job *j, uint64_t now)
{
	struct hp_error err = { 0 };
	struct hp_call_result res = { 0 };
	uint8_t *buf;
	uint64_t left_ms = (j->deadline_ns - now + 999999) / 1000000;
	int rc = hpd_proc_call(hd, j, left_ms ? left_ms : 1, &res, &err, &buf);
	if (rc && err.code == HP_E_TIMEOUT)
		timeout_message(j, now, &err);
	if (j->session)
		finish_session(hd, j, rc, &res, &err, true);
	else
		finish(hd, j, rc, &res, &err);
	free(buf);
}

static void run_job(struct hpd *hd, struct hpd_job *j)
{
	struct hpd_module *m = j->module;
	struct hp_error err = { 0 };
	struct hp_call_result res = { 0 };
	uint64_t now = hpd_now_ns();
	if (now >= j->deadline_ns) {
		hp_fail(&err, HP_E_TIMEOUT, "the call waited past its deadline of %llu ms in the queue",
			(unsigned long long)((j->deadline_ns - j->arrival_ns) / 1000000));
		if (j->session)
			finish_session(hd, j, -1, &res, &err, true);
		else
			finish(hd, j, -1, &res, &err);
		return;
	}
	if (m->procs) {
		run_remote(hd, j, now);
		return;
	}
	struct hp_vm *vm;
	if (j->session) {
		vm = j->session->vm;
	} else if (hp_pool_get(m->pool, &vm, &err)) {
		finish(hd, j, -1, &res, &err);
		return;
	}
	hp_vm_set_host(vm, job_host, j);
	pthread_mutex_lock(&hd->lock);
	j->vm = vm;
	bool cancelled = j->cancelled;
	pthread_mutex_unlock(&hd->lock);
	int rc = -1;
	if (cancelled) {
		hp_fail(&err, HP_E_CANCELLED, "the client hung up");
	} else {
		/* the deadline counts from arrival: queue time included */
		uint64_t left_ms = (j->deadline_ns - now + 999999) / 1000000;
		struct hp_call_opts opts = { .timeout_ms = left_ms ? left_ms : 1,
					     .keep_memory = j->session != NULL };
		rc = hp_vm_call_opts(vm, (const char *)j->data, j->name_len, j->data + j->name_len,
				     j->args_len, &opts, &res, &err);
		if (rc && err.code == HP_E_TIMEOUT)
			timeout_message(j, now, &err);
	}
	if (j->session) {
		finish_session(hd, j, rc, &res, &err, !cancelled);
		return; /* the session keeps its VM, state and all, for its next call */
	}
	if (!cancelled)
		finish(hd, j, rc, &res, &err); /* the output stays valid until the restore below */
	pthread_mutex_lock(&hd->lock);
	j->vm = NULL;
	pthread_mutex_unlock(&hd->lock);
	hp_pool_put(m->pool, vm); /* restore, after the response is on its way */
	refill_pool(m);
}

static void *worker_main(void *arg)
{
	struct hpd *hd = arg;
	pthread_mutex_lock(&hd->lock);
	for (;;) {
		struct hpd_job *j = list_pop(&hd->runq);
		if (!j) {
			if (hd->stopping)
				break;
			pthread_cond_wait(&hd->work, &hd->lock);
			continue;
		}
		j->state = JOB_RUNNING;
		hd->running++;
		pthread_mutex_unlock(&hd->lock);
		run_job(hd, j);
		pthread_mutex_lock(&hd->lock);
		hd->running--;
		if (!j->session)
			promote_waiting(hd, j->module);
		job_forget(j);
		pthread_mutex_unlock(&hd->lock);
		job_free(j);
		pthread_mutex_lock(&hd->lock);
	}
	pthread_mutex_unlock(&hd->lock);
	return NULL;
}

int hpd_workers_start(struct hpd *hd, char *err, size_t errlen)
{
	unsigned n = hd->cfg->workers;
	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? (unsigned)cpus : 1;
	}
	hd->threads = calloc(n, sizeof(pthread_t));
	if (!hd->threads) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Workers take no signals but libhpvmm's own vCPU kick (hp_vcpu_signal, unblocked by
	 * libhpvmm per thread): the loop thread handles SIGTERM/SIGHUP through libuv. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < n; i++) {
		int rc = pthread_create(&hd->threads[i], NULL, worker_main, hd);
		if (rc) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			snprintf(err, errlen, "starting worker thread %u: %s", i + 1, strerror(rc));
			hpd_workers_stop(hd);
			return -1;
		}
		hd->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

void hpd_workers_stop(struct hpd *hd)
{
	pthread_mutex_lock(&hd->lock);
	hd->stopping = true;
	pthread_cond_broadcast(&hd->work);
	pthread_mutex_unlock(&hd->lock);
	for (unsigned i = 0; i < hd->nthreads; i++)
		pthread_join(hd->threads[i], NULL);
	hd->nthreads = 0;
	free(hd->threads);
	hd->threads = NULL;
}

/* --- sessions (loop thread) ------------------------------------------------------------------- */

/* A session's VM is back in its pool: its place counts again, its module may go. */
static void session_free(struct hpd *hd, struct hpd_session *s)
{
	pthread_mutex_lock(&hd->lock);
	s->module->sessions--;
	promote_waiting_place(hd, s->module);
	pthread_mutex_unlock(&hd->lock);
	hpd_module_unref(s->module);
	free(s);
}

int hpd_session_open(struct hpd_conn *c, struct hpd_module *m, uint32_t *id, struct hp_error *err)
{
	struct hpd *hd = c->hd;
	if (c->nsessions >= HPD_MAX_SESSIONS)
		return hp_fail(err, HP_E_LIMIT, "this connection has %d sessions open, the limit",
			       HPD_MAX_SESSIONS);
	unsigned max = m->cfg->max_sessions ? m->cfg->max_sessions : m->cfg->pool_max;
	pthread_mutex_lock(&hd->lock);
	bool room = m->running + m->sessions < m->cfg->pool_max, allowed = m->sessions < max;
	if (room && allowed)
		m->sessions++;
	pthread_mutex_unlock(&hd->lock);
	if (!room)
		return hp_fail(err, HP_E_BUSY, "module '%s' has all %u VMs in use", m->name,
			       m->cfg->pool_max);
	if (!allowed)
		return hp_fail(err, HP_E_LIMIT, "module '%s' has %u sessions open, its max_sessions",
			       m->name, max);
	struct hpd_session *s = calloc(1, sizeof(*s));
	if (s)
		s->module = m;
	if (!s || (m->procs ? hpd_proc_session_open(m, s, err) : hp_pool_get(m->pool, &s->vm, err))) {
		if (!s)
			hp_fail(err, HP_E_NO_MEMORY, "out of memory");
		free(s);
		pthread_mutex_lock(&hd->lock);
		m->sessions--;
		pthread_mutex_unlock(&hd->lock);
		return -1;
	}
	hpd_module_ref(m);
	s->module = m;
	if (++c->next_session_id == 0)
		c->next_session_id = 1;
	s->id = *id = c->next_session_id;
	s->last_used_ns = hpd_now_ns();
	s->next = c->sessions;
	c->sessions = s;
	c->nsessions++;
	return 0;
}

struct hpd_session *hpd_session_find(struct hpd_conn *c, uint32_t id)
{
	for (struct hpd_session *s = c->sessions; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

void hpd_session_close(struct hpd_conn *c, struct hpd_session *s)
{
	struct hpd *hd = c->hd;
	for (struct hpd_session **p = &c->sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			c->nsessions--;
			break;
		}
	struct hpd_job *gone = NULL;
	pthread_mutex_lock(&hd->lock);
	for (struct hpd_job *j; (j = list_pop(&s->waiting));) { /* calls it would have run */
		job_forget(j);
		j->next = gone;
		gone = j;
	}
	bool busy = s->busy;
	if (busy)
		s->closing = true; /* its worker gives the VM back when the call is done */
	pthread_mutex_unlock(&hd->lock);
	while (gone) {
		struct hpd_job *next = gone->next;
		hpd_respond_error(gone->conn, gone->msgid, HP_E_CANCELLED,
				  "session %u was closed before the call ran", s->id);
		job_free(gone);
		gone = next;
	}
	if (busy)
		return;
	session_vm_put(s);
	session_free(hd, s);
}

void hpd_sessions_expire(struct hpd *hd)
{
	uint64_t now = hpd_now_ns();
	for (struct hpd_conn *c = hd->conns; c; c = c->next)
		for (struct hpd_session *s = c->sessions, *next; s; s = next) {
			next = s->next;
			pthread_mutex_lock(&hd->lock);
			bool idle = !s->busy && now - s->last_used_ns >
						      s->module->cfg->session_idle_ms * 1000000ull;
			pthread_mutex_unlock(&hd->lock);
			if (!idle)
				continue;
			hpd_log(HPD_LOG_INFO, "session %u of module %s (pid %d) idle for %llu ms: closed",
				s->id, s->module->name, (int)c->pid,
				(unsigned long long)s->module->cfg->session_idle_ms);
			hpd_session_close(c, s);
		}
}

/* --- cancel and drain (loop thread) ------------------------------------------------------- */

/* Under hd->lock: stops a running job where it runs (a VM here, or a worker process). */
static void job_interrupt(struct hpd_job *j)
{
	if (j->vm)
		hp_vm_cancel(j->vm);
	else if (j->proc)
		hpd_proc_cancel(j);
}

/* Under hd->lock: takes a queued or waiting job off its list. */
static void unqueue(struct hpd *hd, struct hpd_job *j)
{
	struct hpd_module *m = j->module;
	if (j->state == JOB_WAITING) {
		list_remove(j->session ? &j->session->waiting : &m->waiting, j);
	} else {
		list_remove(&hd->runq, j);
		if (j->session)
			j->session->busy = false; /* closed meanwhile: see orphaned_session */
		else
			promote_waiting(hd, m);
	}
	job_forget(j);
}

/* A job dropped from the queue of a session that was closed while it waited: nobody else
 * will give that session's VM back. Called without hd->lock, before the job is freed. */
static void orphaned_session(struct hpd *hd, struct hpd_job *j)
{
	struct hpd_session *s = j->session;
	if (!s)
		return;
	pthread_mutex_lock(&hd->lock);
	bool orphan = s->closing && !s->busy;
	pthread_mutex_unlock(&hd->lock);
	if (!orphan)
		return;
	session_vm_put(s);
	session_free(hd, s);
}

void hpd_jobs_cancel_conn(struct hpd *hd, struct hpd_conn *conn)
{
	struct hpd_job *gone = NULL;
	pthread_mutex_lock(&hd->lock);
	for (struct hpd_job *j = conn->jobs, *next; j; j = next) {
		next = j->conn_next;
		if (j->state == JOB_RUNNING) {
			j->cancelled = true;
			job_interrupt(j);
			pthread_cond_broadcast(&hd->host_answered); /* one may wait for this client */
			continue;
		}
		unqueue(hd, j);
		j->next = gone;
		gone = j;
	}
	pthread_mutex_unlock(&hd->lock);
	while (gone) {
		struct hpd_job *next = gone->next;
		orphaned_session(hd, gone);
		job_free(gone);
		gone = next;
	}
}

unsigned hpd_jobs_drain(struct hpd *hd)
{
	struct hpd_job *gone = NULL;
	pthread_mutex_lock(&hd->lock);
	hd->stopping = true; /* no new calls; idle workers exit once the run queue is empty */
	pthread_cond_broadcast(&hd->work);
	for (unsigned i = 0; i < hd->nmodules; i++)
		for (struct hpd_job *j; (j = hd->modules[i]->waiting.head);) {
			unqueue(hd, j);
			j->next = gone;
			gone = j;
		}
	for (struct hpd_job *j; (j = hd->runq.head);) {
		unqueue(hd, j);
		j->next = gone;
		gone = j;
	}
	unsigned running = hd->running;
	pthread_mutex_unlock(&hd->lock);
	while (gone) {
		struct hpd_job *next = gone->next;
		hpd_respond_error(gone->conn, gone->msgid, HP_E_SHUTTING_DOWN,
				  "the daemon is shutting down; the call did not run");
		orphaned_session(hd, gone);
		job_free(gone);
		gone = next;
	}
	return running;
}

void hpd_jobs_cancel_running(struct hpd *hd)
{
	pthread_mutex_lock(&hd->lock);
	for (struct hpd_conn *c = hd->conns; c; c = c->next)
		for (struct hpd_job *j = c->jobs; j; j = j->conn_next)
			if (j->state == JOB_RUNNING)
				job_interrupt(j);
	pthread_mutex_unlock(&hd->lock);
}
