/* procs.c - the front's side of worker processes (isolation = process; docs/daemon.md
 * "Worker processes"). A module with `workers = N` has N processes, each holding its own pool
 * of pool_max/N VMs (rounded up). A call still takes its place in the front's queues and a
 * front worker thread, which hands the call's bytes to the least loaded live process and waits
 * for the result bytes, answering host calls for the client on the way. Each process has a
 * supervisor thread here that reads its frames and, when it dies, answers its in-flight calls
 * with worker_lost and starts it again after a backoff (100 ms doubling to 30 s, back to 100 ms
 * once a process has lived RESET_AFTER_MS). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "hp_abi.h"
#include "log.h"
#include "wire.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define RESET_AFTER_MS 10000  /* a process that lived this long starts the backoff again */
#define REQUEST_MS 5000       /* stats and session_open answers */
#define GRACE_MS 2000         /* past a call's deadline: the process is stuck, kill it */
#define ELF_MAX (256ull << 20)

extern char **environ;

struct hpd_pending {
	struct hpd_pending *next;
	uint32_t tag;
	bool done, host;          /* under ps->lock */
	struct hpd_wire h;        /* the answer (h.type 0: the process died) or the host call */
	uint8_t *payload;
};

struct hpd_proc {
	struct hpd_procs *set;
	unsigned index;
	pthread_mutex_t wlock;    /* writes to fd */
	pthread_t reader;
	bool reader_started;
	/* under set->lock */
	pid_t pid;
	int fd;
	bool alive;
	uint64_t gen;             /* +1 per start: sessions of an older one are lost */
	unsigned load;            /* calls running and sessions held */
	uint64_t started_ns, backoff_ms;
	struct hpd_pending *pending;
};

struct hpd_procs {
	struct hpd_module *m;
	uint8_t *elf;             /* the module as loaded: a restart runs the same code */
	size_t elf_len;
	unsigned pool_min, pool_max; /* each process's share */
	uint64_t max_payload;
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* answers, deaths, closing (CLOCK_MONOTONIC) */
	bool closing;
	uint32_t next_tag, next_session;
	uint64_t restarts;
	unsigned n;
	struct hpd_proc p[];
};

/* --- spawning ------------------------------------------------------------------------------ */

static int read_elf(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rbe");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
		n += r;
		if (n == cap && cap < ELF_MAX) {
			uint8_t *bigger = realloc(buf, cap *= 2);
			if (!bigger)
				free(buf);
			buf = bigger;
		} else if (n == cap) {
			break;
		}
	}
	fclose(f);
	if (!buf || n >= ELF_MAX) {
		free(buf);
		snprintf(err, errlen, "%s: %s", path, buf ? "over 256 MiB" : "out of memory");
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int spawn(struct hpd_proc *p, pid_t *pid, int *fd, char *err, size_t errlen)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], HPD_WORKER_FD);
	posix_spawnattr_init(&at);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	char *argv[] = { "hyperpoold", "--worker", p->set->m->name, NULL };
	int rc = posix_spawn(pid, "/proc/self/exe", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	if (rc) {
		close(sv[0]);
		snprintf(err, errlen, "starting a worker process: %s", strerror(rc));
		return -1;
	}
	*fd = sv[0];
	return 0;
}

static int send_init(struct hpd_proc *p, int fd)
{
	struct hpd_procs *ps = p->set;
	const struct hpd_module_cfg *cfg = ps->m->cfg;
	struct hpd_wire_init in = { .cfg = *cfg, .pool_min = ps->pool_min, .pool_max = ps->pool_max,
				    .index = p->index, .log_level = hpd_log_level(),
				    .name_len = (uint32_t)strlen(cfg->name),
				    .path_len = (uint32_t)strlen(cfg->path), .elf_len = ps->elf_len };
	struct hpd_wire h = { .len = (uint32_t)(sizeof(in) + in.name_len + in.path_len + in.elf_len),
			      .type = W_INIT };
	struct iovec iov[4] = { { &in, sizeof(in) }, { cfg->name, in.name_len },
				{ cfg->path, in.path_len }, { ps->elf, ps->elf_len } };
	return hpd_wire_send(fd, &h, iov, 4);
}

/* The process's first frame: W_READY (functions and sizes) or W_FAILED, within the module's
 * init deadline and a margin. */
static int await_ready(struct hpd_proc *p, int fd, char *err, size_t errlen)
{
	struct hpd_module *m = p->set->m;
	uint64_t init_ms = m->cfg->vm.timeout_ms ? m->cfg->vm.timeout_ms : HP_DEFAULT_TIMEOUT_MS;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int ready;
	do
		ready = poll(&pfd, 1, (int)(init_ms + 30000));
	while (ready < 0 && errno == EINTR);
	struct hpd_wire h;
	uint8_t *pl = NULL;
	if (ready <= 0 || hpd_wire_recv(fd, &h, &pl, p->set->max_payload + ELF_MAX)) {
		snprintf(err, errlen, "worker process %u did not start", p->index);
		return -1;
	}
	int rc = -1;
	if (h.type == W_FAILED) {
		snprintf(err, errlen, "%s: %s", hp_status_name((int)h.c), (const char *)pl);
	} else if (h.type != W_READY || h.len < sizeof(struct hpd_wire_ready)) {
		snprintf(err, errlen, "worker process %u sent a bad first frame", p->index);
	} else if (m->functions) {
		rc = 0; /* a restart: the module's functions are known */
	} else {
		rc = hpd_module_set_info(m, (const struct hpd_wire_ready *)pl,
					 (const char *)pl + sizeof(struct hpd_wire_ready),
					 h.len - sizeof(struct hpd_wire_ready), err, errlen);
	}
	free(pl);
	return rc;
}

static void reap(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

/* Spawns process p and waits until it is ready: then it takes calls. */
static int start_proc(struct hpd_proc *p, char *err, size_t errlen)
{
	pid_t pid;
	int fd, status;
	if (spawn(p, &pid, &fd, err, errlen))
		return -1;
	if (send_init(p, fd) || await_ready(p, fd, err, errlen)) {
		if (!err[0])
			snprintf(err, errlen, "worker process %u did not start", p->index);
		kill(pid, SIGKILL);
		reap(pid, &status);
		close(fd);
		return -1;
	}
	struct hpd_procs *ps = p->set;
	pthread_mutex_lock(&ps->lock);
	p->pid = pid;
	p->fd = fd;
	p->alive = true;
	p->gen++;
	p->load = 0;
	p->started_ns = hpd_now_ns();
	if (ps->closing) /* hpd_procs_stop came while it started: its supervisor reads the end */
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&ps->lock);
	return 0;
}

/* --- supervision (one thread per process) ----------------------------------------------- */

static struct hpd_pending *take_pending(struct hpd_proc *p, uint32_t tag, bool keep)
{
	for (struct hpd_pending **q = &p->pending; *q; q = &(*q)->next)
		if ((*q)->tag == tag) {
			struct hpd_pending *w = *q;
			if (!keep)
				*q = w->next;
			return w;
		}
	return NULL;
}

/* Frames until the process's end: each answer goes to the thread waiting for it. */
static void read_frames(struct hpd_proc *p, int fd)
{
	struct hpd_procs *ps = p->set;
	for (;;) {
		struct hpd_wire h;
		uint8_t *pl;
		if (hpd_wire_recv(fd, &h, &pl, ps->max_payload))
			return;
		bool host = h.type == W_HOST;
		if (!host && h.type != W_RESULT && h.type != W_REPLY) {
			free(pl);
			return; /* not a frame a worker sends: treat it as broken */
		}
		pthread_mutex_lock(&ps->lock);
		struct hpd_pending *w = take_pending(p, h.tag, host);
		if (w && !w->host && !w->done) {
			w->h = h;
			w->payload = pl;
			pl = NULL;
			if (host)
				w->host = true;
			else
				w->done = true;
			pthread_cond_broadcast(&ps->cond);
		}
		pthread_mutex_unlock(&ps->lock);
		free(pl); /* an answer nobody waits for any more */
	}
}

/* The process ended: its calls are answered (worker_lost), its sessions are lost. */
static void buried(struct hpd_proc *p, int fd)
{
	struct hpd_procs *ps = p->set;
	int status = 0;
	pthread_mutex_lock(&ps->lock);
	p->alive = false;
	pid_t pid = p->pid;
	p->fd = -1;
	for (struct hpd_pending *w; (w = p->pending);) {
		p->pending = w->next;
		memset(&w->h, 0, sizeof(w->h));
		w->done = true;
	}
	pthread_cond_broadcast(&ps->cond);
	bool closing = ps->closing;
	uint64_t lived_ms = (hpd_now_ns() - p->started_ns) / 1000000;
	pthread_mutex_unlock(&ps->lock);
	close(fd);
	if (!closing)
		kill(pid, SIGKILL); /* it broke the protocol, or is dying anyway */
	reap(pid, &status);
	if (closing)
		return;
	p->backoff_ms = lived_ms >= RESET_AFTER_MS || !p->backoff_ms ? BACKOFF_MIN_MS
		       : p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
	char how[64];
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
	hpd_log(HPD_LOG_WARNING, "module %s: worker process %u (pid %d) %s after %llu ms; "
		"restarting it in %llu ms", ps->m->name, p->index, (int)pid, how,
		(unsigned long long)lived_ms, (unsigned long long)p->backoff_ms);
}

/* CLOCK_MONOTONIC, ms from now (ps->cond's clock). */
static void deadline_in(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	uint64_t ns = (uint64_t)ts->tv_nsec + ms * 1000000ull;
	ts->tv_sec += (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
}

/* Waits up to ms for *flag (under ps->lock) to become true; returns it. */
static bool wait_for(struct hpd_procs *ps, const bool *flag, uint64_t ms)
{
	struct timespec until;
	deadline_in(&until, ms);
	pthread_mutex_lock(&ps->lock);
	int rc = 0;
	while (!*flag && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&ps->cond, &ps->lock, &until);
	bool set = *flag;
	pthread_mutex_unlock(&ps->lock);
	return set;
}

/* Sleeps the backoff; true when the module is going away instead. */
static bool backoff(struct hpd_proc *p)
{
	return wait_for(p->set, &p->set->closing, p->backoff_ms);
}

static void *supervise(void *arg)
{
	struct hpd_proc *p = arg;
	struct hpd_procs *ps = p->set;
	for (;;) {
		pthread_mutex_lock(&ps->lock);
		int fd = p->fd;
		pthread_mutex_unlock(&ps->lock);
		if (fd >= 0) {
			read_frames(p, fd);
			buried(p, fd);
		}
		if (backoff(p))
			return NULL;
		char err[1024] = "";
		if (start_proc(p, err, sizeof(err))) {
			hpd_log(HPD_LOG_ERR, "module %s: cannot restart worker process %u: %s",
				ps->m->name, p->index, err);
			p->backoff_ms = p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
			continue;
		}
		pthread_mutex_lock(&ps->lock);
		ps->restarts++;
		pthread_mutex_unlock(&ps->lock);
		hpd_log(HPD_LOG_NOTICE, "module %s: worker process %u restarted (pid %d)", ps->m->name,
			p->index, (int)p->pid);
	}
}

/* --- start and stop ------------------------------------------------------------------------ */

int hpd_procs_start(struct hpd_module *m, char *err, size_t errlen)
{
	unsigned n = m->cfg->procs ? m->cfg->procs : 1;
	struct hpd_procs *ps = calloc(1, sizeof(*ps) + n * sizeof(struct hpd_proc));
	if (!ps) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ps->m = m;
	ps->n = n;
	ps->pool_min = (m->cfg->pool_min + n - 1) / n;
	ps->pool_max = (m->cfg->pool_max + n - 1) / n;
	pthread_mutex_init(&ps->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ps->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned i = 0; i < n; i++) {
		ps->p[i] = (struct hpd_proc){ .set = ps, .index = i, .fd = -1, .pid = -1 };
		pthread_mutex_init(&ps->p[i].wlock, NULL);
	}
	m->procs = ps;
	if (read_elf(m->cfg->path, &ps->elf, &ps->elf_len, err, errlen))
		return -1;
	ps->max_payload = 1 << 20; /* until W_READY says the module's sizes */
	for (unsigned i = 0; i < n; i++) {
		if (start_proc(&ps->p[i], err, errlen))
			return -1;
		if (i == 0)
			ps->max_payload = m->info.output_size + m->info.input_size + HP_ERROR_MSG_MAX +
					  (m->cfg->vm.max_host_call_bytes ? m->cfg->vm.max_host_call_bytes
									  : HP_DEFAULT_MAX_HOST_CALL_BYTES) +
					  65536;
	}
	/* Supervisors take no signals: the loop thread handles them (libuv). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < n; i++) {
		int rc = pthread_create(&ps->p[i].reader, NULL, supervise, &ps->p[i]);
		if (rc) {
			snprintf(err, errlen, "starting a supervisor thread: %s", strerror(rc));
			break;
		}
		ps->p[i].reader_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ps->p[n - 1].reader_started ? 0 : -1;
}

void hpd_procs_stop(struct hpd_procs *ps)
{
	if (!ps)
		return;
	pthread_mutex_lock(&ps->lock);
	ps->closing = true;
	pthread_cond_broadcast(&ps->cond);
	for (unsigned i = 0; i < ps->n; i++)
		if (ps->p[i].fd >= 0) /* its supervisor reads the end, reaps it and returns */
			shutdown(ps->p[i].fd, SHUT_RDWR);
	pthread_mutex_unlock(&ps->lock);
	for (unsigned i = 0; i < ps->n; i++) {
		struct hpd_proc *p = &ps->p[i];
		if (p->reader_started) {
			pthread_join(p->reader, NULL);
		} else if (p->fd >= 0) { /* started, never supervised (a failed start) */
			int status;
			close(p->fd);
			reap(p->pid, &status);
		}
		pthread_mutex_destroy(&p->wlock);
	}
	pthread_cond_destroy(&ps->cond);
	pthread_mutex_destroy(&ps->lock);
	free(ps->elf);
	free(ps);
}

/* --- requests ------------------------------------------------------------------------------ */

/* Sends a frame to p if it is the live process of generation gen (0: any). */
static int send_to(struct hpd_proc *p, uint64_t gen, struct hpd_wire *h, const struct iovec *iov,
		   int iovcnt)
{
	struct hpd_procs *ps = p->set;
	pthread_mutex_lock(&ps->lock);
	int fd = p->alive && (!gen || gen == p->gen) ? p->fd : -1;
	pthread_mutex_unlock(&ps->lock);
	if (fd < 0)
		return -1;
	pthread_mutex_lock(&p->wlock);
	int rc = hpd_wire_send(fd, h, iov, iovcnt); /* a dead process: its supervisor cleans up */
	pthread_mutex_unlock(&p->wlock);
	return rc;
}

/* Under ps->lock: registers w for the answer to a new tag. */
static void expect(struct hpd_proc *p, struct hpd_pending *w)
{
	struct hpd_procs *ps = p->set;
	if (++ps->next_tag == 0)
		ps->next_tag = 1;
	*w = (struct hpd_pending){ .tag = ps->next_tag, .next = p->pending };
	p->pending = w;
}

static void unexpect(struct hpd_proc *p, struct hpd_pending *w)
{
	pthread_mutex_lock(&p->set->lock);
	if (!w->done)
		take_pending(p, w->tag, false);
	pthread_mutex_unlock(&p->set->lock);
}

/* A request answered by W_REPLY within REQUEST_MS: 0 and *w filled (free w->payload). */
static int request(struct hpd_proc *p, uint8_t type, uint32_t a, struct hpd_pending *w)
{
	struct hpd_procs *ps = p->set;
	pthread_mutex_lock(&ps->lock);
	expect(p, w);
	pthread_mutex_unlock(&ps->lock);
	struct hpd_wire h = { .type = type, .tag = w->tag, .a = a };
	if (send_to(p, 0, &h, NULL, 0)) {
		unexpect(p, w);
		return -1;
	}
	bool done = wait_for(ps, &w->done, REQUEST_MS);
	if (!done)
		unexpect(p, w); /* from here on the reader thread no longer touches *w */
	if (done && w->h.type == W_REPLY)
		return 0;
	/* A reply that landed between the timeout and unexpect is ours to free too. Callers
	 * must not look at *w after a failure (scan-build found a caller that did). */
	free(w->payload);
	w->payload = NULL;
	return -1;
}

void hpd_procs_stats(struct hpd_module *m, struct hp_pool_stats *st, unsigned *alive,
		     uint64_t *restarts)
{
	struct hpd_procs *ps = m->procs;
	memset(st, 0, sizeof(*st));
	*alive = 0;
	for (unsigned i = 0; i < ps->n; i++) {
		struct hpd_pending w;
		struct hp_pool_stats one;
		if (request(&ps->p[i], W_STATS, 0, &w))
			continue;
		bool ok = w.h.len == sizeof(one);
		if (ok)
			memcpy(&one, w.payload, sizeof(one));
		free(w.payload);
		if (!ok)
			continue;
		++*alive;
		st->idle += one.idle;
		st->busy += one.busy;
		st->max += one.max;
		st->created += one.created;
		st->destroyed += one.destroyed;
		st->restore_failures += one.restore_failures;
		st->snapshot_bytes += one.snapshot_bytes;
		st->idle_private_bytes += one.idle_private_bytes;
	}
	pthread_mutex_lock(&ps->lock);
	*restarts = ps->restarts;
	pthread_mutex_unlock(&ps->lock);
}

/* Under ps->lock: the live process with the fewest calls and sessions. */
static struct hpd_proc *least_loaded(struct hpd_procs *ps)
{
	struct hpd_proc *best = NULL;
	for (unsigned i = 0; i < ps->n; i++)
		if (ps->p[i].alive && (!best || ps->p[i].load < best->load))
			best = &ps->p[i];
	return best;
}

int hpd_proc_session_open(struct hpd_module *m, struct hpd_session *s, struct hp_error *err)
{
	struct hpd_procs *ps = m->procs;
	pthread_mutex_lock(&ps->lock);
	struct hpd_proc *p = least_loaded(ps);
	if (p) {
		p->load++;
		s->proc = p;
		s->gen = p->gen;
		if (++ps->next_session == 0)
			ps->next_session = 1;
		s->wid = ps->next_session;
	}
	pthread_mutex_unlock(&ps->lock);
	if (!p)
		return hp_fail(err, HP_E_WORKER_LOST, "module '%s' has no live worker process (restarting)",
			       m->name);
	struct hpd_pending w;
	int rc = request(p, W_SESSION_OPEN, s->wid, &w);
	if (rc == 0 && w.h.c == 0) {
		free(w.payload);
		return 0;
	}
	pthread_mutex_lock(&ps->lock);
	p->load--;
	pthread_mutex_unlock(&ps->lock);
	if (rc == 0) { /* the worker's own refusal: its code, its words (NUL-terminated) */
		hp_fail(err, (int)w.h.c, "%s", (char *)w.payload);
		free(w.payload);
		return -1;
	}
	return hp_fail(err, HP_E_WORKER_LOST, "module '%s': its worker process did not open the session",
		       m->name);
}

void hpd_proc_session_close(struct hpd_session *s)
{
	struct hpd_procs *ps = s->module->procs;
	struct hpd_wire h = { .type = W_SESSION_CLOSE, .a = s->wid };
	send_to(s->proc, s->gen, &h, NULL, 0); /* a dead process took the VM with it */
	pthread_mutex_lock(&ps->lock);
	if (s->gen == s->proc->gen)
		s->proc->load--;
	pthread_mutex_unlock(&ps->lock);
}

/* --- calls (a front worker thread) ------------------------------------------------------- */

/* The guest asked for a host function the client answers: ask it, tell the worker. */
static void serve_host(struct hpd_job *j, struct hpd_proc *p, uint64_t gen,
		       const struct hpd_wire *req, uint8_t *bytes)
{
	struct hp_host_reply r;
	uint32_t name_len = req->c;
	if (name_len == 0 || name_len >= HP_HOST_NAME_MAX || name_len > req->len)
		hpd_host_reply_text(&r, HP_E_INVALID, "bad host call from the worker process");
	else
		hpd_job_ask_client(j, (const char *)bytes, name_len, bytes + name_len,
				   req->len - name_len, &r);
	struct hpd_wire h = { .len = (uint32_t)r.len, .type = W_HOST_REPLY, .tag = req->tag,
			      .c = (uint32_t)r.status };
	struct iovec iov = { (void *)r.bytes, r.len };
	send_to(p, gen, &h, &iov, 1);
	free(bytes);
}

/* Waits for the call's answer, serving its host calls; a process that outlives the call's
 * deadline by GRACE_MS is stuck: it is killed (its supervisor answers worker_lost). */
static void await_result(struct hpd_job *j, struct hpd_proc *p, uint64_t gen, struct hpd_pending *w)
{
	struct hpd_procs *ps = p->set;
	uint64_t wait_ns = j->deadline_ns + GRACE_MS * 1000000ull;
	struct timespec until = { .tv_sec = (time_t)(wait_ns / 1000000000ull),
				  .tv_nsec = (long)(wait_ns % 1000000000ull) };
	pthread_mutex_lock(&ps->lock);
	for (int rc = 0; !w->done;) {
		if (w->host) { /* taken out of w: the result may arrive while we serve it */
			struct hpd_wire req = w->h;
			uint8_t *bytes = w->payload;
			w->host = false;
			w->payload = NULL;
			pthread_mutex_unlock(&ps->lock);
			serve_host(j, p, gen, &req, bytes);
			pthread_mutex_lock(&ps->lock);
			continue;
		}
		rc = pthread_cond_timedwait(&ps->cond, &ps->lock, &until);
		if (rc == ETIMEDOUT && p->alive && p->gen == gen) {
			hpd_log(HPD_LOG_ERR, "module %s: worker process %u (pid %d) ran a call %d ms past "
				"its deadline: killing it", ps->m->name, p->index, (int)p->pid, GRACE_MS);
			kill(p->pid, SIGKILL);
			until.tv_sec += 3600;
		}
	}
	pthread_mutex_unlock(&ps->lock);
}

/* A worker's answer as a call result. Its bytes are hostile: a result must be one valid
 * object (it is spliced into the client's stream as it is), a message valid UTF-8. */
static int to_result(struct hpd_module *m, const struct hpd_wire *h, const uint8_t *pl,
		     struct hp_call_result *res, struct hp_error *err)
{
	if (h->type == 0 || !pl)
		return hp_fail(err, HP_E_WORKER_LOST, "the worker process of module '%s' running the "
			       "call died; it is being restarted", m->name);
	static const struct hp_mp_limits lim = { .flags = HP_MP_F_UTF8 | HP_MP_F_NO_EXT };
	bool ok_status = h->a == 0 && h->c == HP_OK;
	if ((ok_status && hp_mp_check_one(pl, h->len, &lim, NULL, NULL) != HP_MP_OK) ||
	    (!ok_status && !hp_utf8_valid(pl, h->len)) || h->c >= HPD_STATUS_SLOTS)
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "the worker process of module '%s' sent a "
			       "malformed result", m->name);
	if (h->a) {
		hp_fail(err, (int)h->c, "%.*s", (int)h->len, (const char *)pl);
		return -1;
	}
	res->status = (int)h->c;
	res->output = pl;
	res->output_len = h->len;
	return 0;
}

/* Picks the process: the session's, or the least loaded. NULL: none is live (err set). */
static struct hpd_proc *pick(struct hpd_job *j, uint64_t *gen, struct hp_error *err)
{
	struct hpd_module *m = j->module;
	struct hpd_procs *ps = m->procs;
	struct hpd_session *s = j->session;
	pthread_mutex_lock(&ps->lock);
	struct hpd_proc *p = s ? s->proc : least_loaded(ps);
	bool live = p && p->alive && (!s || s->gen == p->gen);
	if (live && !s)
		p->load++;
	*gen = live ? p->gen : 0;
	pthread_mutex_unlock(&ps->lock);
	if (live)
		return p;
	if (s)
		hp_fail(err, HP_E_WORKER_LOST, "the worker process holding session %u of module '%s' "
			"died: the session's memory is gone, close it", s->id, m->name);
	else
		hp_fail(err, HP_E_WORKER_LOST, "module '%s' has no live worker process (restarting)",
			m->name);
	return NULL;
}

int hpd_proc_call(struct hpd *hd, struct hpd_job *j, uint64_t timeout_ms,
		  struct hp_call_result *res, struct hp_error *err, uint8_t **buf)
{
	uint64_t gen;
	struct hpd_proc *p = pick(j, &gen, err);
	*buf = NULL;
	if (!p)
		return -1;
	struct hpd_procs *ps = p->set;
	struct hpd_pending w;
	pthread_mutex_lock(&ps->lock);
	expect(p, &w);
	pthread_mutex_unlock(&ps->lock);
	pthread_mutex_lock(&hd->lock);
	j->proc = p;
	j->tag = w.tag;
	pthread_mutex_unlock(&hd->lock);
	struct hpd_wire h = { .len = j->name_len + j->args_len, .type = W_CALL, .tag = w.tag,
			      .a = j->session ? j->session->wid : 0, .c = j->name_len, .b = timeout_ms };
	struct iovec iov = { j->data, h.len };
	if (send_to(p, gen, &h, &iov, 1) == 0) {
		pthread_mutex_lock(&hd->lock);
		bool cancelled = j->cancelled; /* a cancel sent before the call would be lost */
		pthread_mutex_unlock(&hd->lock);
		if (cancelled)
			hpd_proc_cancel(j);
		await_result(j, p, gen, &w);
	} else {
		unexpect(p, &w);
		memset(&w.h, 0, sizeof(w.h));
		w.payload = NULL;
	}
	pthread_mutex_lock(&hd->lock);
	j->proc = NULL;
	pthread_mutex_unlock(&hd->lock);
	if (!j->session) {
		pthread_mutex_lock(&ps->lock);
		if (p->gen == gen)
			p->load--;
		pthread_mutex_unlock(&ps->lock);
	}
	*buf = w.payload;
	return to_result(j->module, &w.h, w.payload, res, err);
}

void hpd_proc_cancel(struct hpd_job *j)
{
	struct hpd_wire h = { .type = W_CANCEL, .tag = j->tag };
	if (j->proc)
		send_to(j->proc, 0, &h, NULL, 0);
}
