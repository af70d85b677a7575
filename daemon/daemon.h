/* daemon.h - hyperpoold's top-level context and what its files offer each other.
 *
 * Threads (docs/daemon.md says why): one libuv loop thread owns the listening sockets, every
 * connection's reads, frame parsing, timers and signals; it never runs a guest. Worker threads
 * (one per online CPU by default) take calls from a run queue, run them on a VM of the
 * module's pool, write the response themselves when the connection's output is idle (no
 * second hand-off back to the loop), and only then restore the VM. The boundary between the
 * two sides is a job: bytes in (function name, msgpack args), bytes out (a response frame).
 *
 * Locks, outermost first: hpd.lock (the run queue, every module's wait queue and counters,
 * every job's state and every connection's job list), then a connection's out_lock. Module
 * stats have their own stats_lock, taken alone. */
#ifndef HPD_DAEMON_H
#define HPD_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <uv.h>

#include "config.h"
#include "hp_mpscan.h"
#include "hp_rpc.h"
#include "hp_status.h"
#include "hpvmm.h"

#define HPD_MAX_GROUPS 64
#define HPD_STATUS_SLOTS 64  /* hp_status codes counted per module (all are < 64) */
#define HPD_LATENCY_BUCKETS 160

struct hpd;
struct hpd_conn;

/* --- modules (modules.c) ------------------------------------------------------------------ */

struct hpd_job;

struct hpd_job_list {
	struct hpd_job *head, *tail;
	unsigned n;
};

struct hpd_module {
	atomic_int refs;           /* the registry's, while listed, and one per job */
	bool draining;             /* unloaded or replaced: finishes its calls, takes no new ones */
	struct hpd_module_cfg own_cfg;
	const struct hpd_module_cfg *cfg; /* &own_cfg */
	char *name;                /* own_cfg.name */
	struct stat elf;           /* the ELF file as loaded: a reload reloads a changed file */
	struct hp_module *mod;     /* isolation = thread; NULL with worker processes */
	struct hp_pool *pool;
	struct hpd_procs *procs;   /* isolation = process (procs.c); NULL in thread mode */
	struct hp_module_info info;
	int restore;               /* the restore strategy in use (enum hp_restore_strategy) */
	char **functions;          /* names the module registered, sorted, NULL-terminated */
	unsigned nfunctions;
	uint64_t input_size;
	/* under hpd.lock */
	unsigned running;          /* jobs in the run queue or on a worker: <= pool_max */
	unsigned sessions;         /* VMs held by sessions: running + sessions <= pool_max */
	struct hpd_job_list waiting; /* jobs waiting for one of those places: <= queue */
	/* under stats_lock */
	pthread_mutex_t stats_lock;
	uint64_t calls, errors;
	uint64_t by_status[HPD_STATUS_SLOTS];
	uint64_t latency[HPD_LATENCY_BUCKETS]; /* log-scale histogram of arrival -> response */
};

/* What a reload did (names, comma-separated, for the log and the `reload` result). */
struct hpd_reload_result {
	char loaded[1024], unloaded[1024], kept[1024];
};

/* The configured modules at start: every one loaded and warm, or -1 with err. */
int hpd_modules_load(struct hpd *hd, char *err, size_t errlen);
/* At exit, once no job is left. */
void hpd_modules_free(struct hpd *hd);
/* A listed (not draining) module by name, or NULL. */
struct hpd_module *hpd_module_find(struct hpd *hd, const uint8_t *name, size_t len);
void hpd_module_ref(struct hpd_module *m);
/* The last reference frees the module: its pool (every VM), its snapshot. Any thread. */
void hpd_module_unref(struct hpd_module *m);
/* Loads a module from cfg (snapshot, warm pool) and lists it; its name must be free. */
int hpd_module_add(struct hpd *hd, const struct hpd_module_cfg *cfg, char *err, size_t errlen);
/* Unlists a module: it drains (its calls finish) and goes. */
int hpd_module_remove(struct hpd *hd, const char *name, char *err, size_t errlen);
/* Re-reads the configuration: new and changed modules are loaded first (all or none), then
 * listed in place of the old; removed and replaced ones drain and go. A bad configuration is
 * refused and the old one keeps serving. */
int hpd_reload(struct hpd *hd, struct hpd_reload_result *res, char *err, size_t errlen);
void hpd_module_count(struct hpd_module *m, int status, uint64_t latency_ns);
/* Latency percentile p (0..1) in microseconds from the histogram (under stats_lock). */
double hpd_module_percentile(const struct hpd_module *m, double p);

/* --- jobs and workers (workers.c) --------------------------------------------------------- */

enum hpd_job_state { JOB_WAITING, JOB_QUEUED, JOB_RUNNING };

/* A session: one VM of a module held for one connection across calls, whose memory carries
 * from call to call; closing it (or the connection) restores the VM and gives it back. */
#define HPD_MAX_SESSIONS 16 /* per connection */
#define HPD_SESSION_QUEUE 16 /* calls waiting for a session's VM; beyond: busy */
struct hpd_session {
	uint32_t id;
	struct hpd_job_list waiting; /* its calls behind the running one (under hpd.lock) */
	struct hpd_module *module; /* holds a reference */
	struct hp_vm *vm;          /* isolation = thread */
	struct hpd_proc *proc;     /* isolation = process: the worker holding its VM, */
	uint64_t gen;              /* ... while that process is the one started then, */
	uint32_t wid;              /* ... under this id there */
	bool busy;                 /* a call runs on it (under hpd.lock) */
	bool closing;              /* closed while busy: the worker gives the VM back */
	uint64_t last_used_ns;     /* its last call's arrival (or the opening), for the idle timeout */
	struct hpd_session *next;
};

struct hpd_job {
	struct hpd_job *next, *prev;          /* in the run queue or the module's waiting list */
	struct hpd_job *conn_next, *conn_prev; /* in the connection's jobs */
	enum hpd_job_state state;
	struct hpd_conn *conn;                /* holds a reference */
	struct hpd_module *module;
	struct hp_vm *vm;                     /* while running: for a cancel */
	struct hpd_proc *proc;                /* ... or the worker process running it, */
	uint32_t tag;                         /* ... under this tag (under hpd.lock) */
	struct hpd_session *session;          /* a call in a session: its VM, no queue */
	bool cancelled;
	uint32_t msgid;
	uint64_t arrival_ns, deadline_ns;
	/* a host call the client answers (host_functions = client), under hpd.lock */
	uint32_t host_msgid;                  /* our request's id on the connection; 0: none */
	bool host_done;
	int host_status;
	uint8_t *host_bytes;                  /* the answer (malloc'd): result or message */
	size_t host_len;
	uint32_t name_len;
	uint32_t args_len;
	uint8_t data[];                       /* name, then args (one msgpack array) */
};

int hpd_workers_start(struct hpd *hd, char *err, size_t errlen);
/* Stops the workers after the jobs they run; queued jobs must have been answered. */
void hpd_workers_stop(struct hpd *hd);
/* Queues a call (loop thread). 0, or -1 with err (busy, shutting_down) and no job kept. */
int hpd_job_submit(struct hpd *hd, struct hpd_job *job, struct hp_error *err);
/* A connection went away: drop its queued jobs, interrupt its running ones (loop thread). */
void hpd_jobs_cancel_conn(struct hpd *hd, struct hpd_conn *conn);
/* Sessions (loop thread). */
int hpd_session_open(struct hpd_conn *c, struct hpd_module *m, uint32_t *id, struct hp_error *err);
struct hpd_session *hpd_session_find(struct hpd_conn *c, uint32_t id);
void hpd_session_close(struct hpd_conn *c, struct hpd_session *s);
/* Closes every session idle past its module's session_idle_ms (a timer of main.c). */
void hpd_sessions_expire(struct hpd *hd);
/* Shutdown: answer every queued job with shutting_down; returns how many still run. */
unsigned hpd_jobs_drain(struct hpd *hd);
/* Interrupts every running job (the drain's bound has passed). */
void hpd_jobs_cancel_running(struct hpd *hd);
/* The client answered host call `host_msgid` (loop thread): hands the answer to the job that
 * waits for it; an answer nobody waits for any more is dropped. */
void hpd_host_answer(struct hpd *hd, struct hpd_conn *c, uint32_t host_msgid, int status,
		     const uint8_t *bytes, size_t len);

/* A host call's answer as a message; the refusal of a host function the module may not call. */
void hpd_host_reply_text(struct hp_host_reply *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void hpd_host_refuse(struct hp_host_reply *r, const char *module, const char *name, size_t len);
/* host_functions = client: asks the job's client, waits until its answer or the deadline. */
void hpd_job_ask_client(struct hpd_job *j, const char *name, size_t name_len, const uint8_t *args,
			size_t args_len, struct hp_host_reply *r);

/* --- worker processes (procs.c) ----------------------------------------------------------- */

struct hpd_procs;
struct hpd_proc;
struct hpd_wire_ready;

/* Starts module m's worker processes (isolation = process) and waits until each is ready;
 * the first one's W_READY gives m its functions and sizes (hpd_module_set_info). */
int hpd_procs_start(struct hpd_module *m, char *err, size_t errlen);
/* When the module goes: every process is told to exit and reaped. */
void hpd_procs_stop(struct hpd_procs *ps);
/* Runs job j in a worker process (a front worker thread), like hp_vm_call_opts; the result's
 * bytes are in *buf (free it after the response). */
int hpd_proc_call(struct hpd *hd, struct hpd_job *j, uint64_t timeout_ms,
		  struct hp_call_result *res, struct hp_error *err, uint8_t **buf);
/* Interrupts job j running in a worker process (any thread). */
void hpd_proc_cancel(struct hpd_job *j);
int hpd_proc_session_open(struct hpd_module *m, struct hpd_session *s, struct hp_error *err);
void hpd_proc_session_close(struct hpd_session *s);
/* The pools of every live process, summed. */
void hpd_procs_stats(struct hpd_module *m, struct hp_pool_stats *st, unsigned *alive,
		     uint64_t *restarts);
/* A module's pool numbers in either mode (alive/restarts: 0 in thread mode). */
void hpd_module_pool_stats(struct hpd_module *m, struct hp_pool_stats *st, unsigned *alive,
			   uint64_t *restarts);
int hpd_module_set_info(struct hpd_module *m, const struct hpd_wire_ready *r, const char *names,
			size_t len, char *err, size_t errlen);
/* The worker process's lock-down once its pool is built (lockdown.c). */
int hpd_worker_lockdown(unsigned vms, char *err, size_t errlen);
/* The worker's seccomp filter alone (the lock-down's last step; test_lockdown). */
int hpd_seccomp_install(char *err, size_t errlen);

/* --- connections (conn.c) ----------------------------------------------------------------- */

struct hpd_conn {
	uv_pipe_t pipe;
	struct hpd *hd;
	atomic_int refs;
	int fd;
	uid_t uid;
	pid_t pid;
	gid_t gids[HPD_MAX_GROUPS];
	unsigned ngids;
	struct hpd_conn *next, *prev;         /* hd->conns (loop thread) */
	/* input (loop thread) */
	uint8_t *in;
	size_t in_len, in_cap, frame_start;
	struct hp_mp_scanner scan;
	bool closing;
	/* under hd->lock */
	struct hpd_job *jobs;
	unsigned inflight;
	uint32_t next_host_msgid;             /* ids of the daemon's own requests to this client */
	struct hpd_session *sessions;         /* (loop thread; busy/closing under hd->lock) */
	unsigned nsessions;
	uint32_t next_session_id;
	/* output (any thread, under out_lock) */
	pthread_mutex_t out_lock;
	uint8_t *out;
	size_t out_len, out_cap;
	bool writing;        /* a uv_write of wbuf is in flight */
	bool flush_queued;   /* on hd->flush list */
	bool dead;           /* closed or failed: writes are dropped */
	struct hpd_conn *flush_next;
	uv_write_t wreq;
	uint8_t *wbuf;
};

int hpd_listen_start(struct hpd *hd, char *err, size_t errlen);
void hpd_listen_stop(struct hpd *hd);
/* Sends one or more buffers as one response, from any thread: written at once when the
 * connection's output is idle, else buffered and flushed by the loop. */
void hpd_conn_send(struct hpd_conn *c, const struct iovec *iov, int iovcnt);
void hpd_conn_unref(struct hpd_conn *c);
/* A connection on an fd that is already connected (the fuzz target's socketpair), read by the
 * caller through hpd_conn_feed instead of the loop: bytes are processed as if read. */
struct hpd_conn *hpd_conn_open(struct hpd *hd, int fd);
/* The loop's side of output flushing (hpd_listen_start calls it). */
void hpd_conn_flush_setup(struct hpd *hd);
void hpd_conn_feed(struct hpd_conn *c, const uint8_t *bytes, size_t len);
void hpd_conn_close(struct hpd_conn *c, const char *why);
void hpd_conns_close_all(struct hpd *hd);

/* --- requests (dispatch.c) ---------------------------------------------------------------- */

/* One complete, scanner-validated frame from c. Returns -1 when c must be closed. */
int hpd_dispatch_frame(struct hpd_conn *c, const uint8_t *frame, size_t len);
/* A frame the scanner refused: one error response if a msgid can be read. */
void hpd_dispatch_bad_stream(struct hpd_conn *c, const uint8_t *buf, size_t len,
			     const char *reason);
/* Packs and sends the response to a finished call (worker thread). */
void hpd_respond_call(struct hpd_conn *c, uint32_t msgid, int rc, const struct hp_call_result *res,
		      const struct hp_error *err);
void hpd_respond_error(struct hpd_conn *c, uint32_t msgid, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* --- systemd (notify.c) ------------------------------------------------------------------- */

/* Socket activation: adopts the listening sockets systemd passed (LISTEN_FDS). Returns how
 * many (0: none passed, bind the path), or -1 with err. */
int hpd_systemd_listeners(struct hpd *hd, char *err, size_t errlen);
void hpd_notify_ready(struct hpd *hd);
void hpd_notify_status(struct hpd *hd);
void hpd_notify_stopping(void);
void hpd_notify_reloading(void);
int hpd_notify_watchdog_start(struct hpd *hd);

/* --- the top-level context ---------------------------------------------------------------- */

struct hpd {
	uv_loop_t *loop;
	struct hpd_config *cfg;
	const char *config_path;
	struct hp_kvm *kvm;
	uint64_t max_frame;
	uint64_t start_ns;

	const char *conf_dir;      /* --conf-dir, or NULL: <config>.d */
	struct hpd_module **modules; /* listed modules (loop thread; workers hold references) */
	unsigned nmodules;

	/* listening */
	uv_pipe_t listeners[8];
	unsigned nlisteners;
	bool socket_created;       /* we bound the path (not socket-activated): unlink at exit */

	/* connections (loop thread) */
	struct hpd_conn *conns;
	unsigned nconns;
	uint64_t conns_total;

	/* output flushing: workers queue connections, the loop writes */
	pthread_mutex_t flush_lock;
	struct hpd_conn *flush;
	uv_async_t flush_async;

	/* scheduling (hd->lock) */
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_cond_t host_answered;  /* a client answered a host call (CLOCK_MONOTONIC) */
	struct hpd_job_list runq;
	unsigned running;          /* jobs on workers */
	bool stopping;             /* no new calls; workers exit when the run queue is empty */
	pthread_t *threads;
	unsigned nthreads;

	/* signals and timers */
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t drain_timer, watchdog_timer, status_timer, session_timer;
	bool shutting_down;
	uint64_t shutdown_deadline_ns;
	uint64_t status_calls;     /* calls at the last STATUS= line, for calls/s */
	uint64_t status_ns;
	atomic_uint_fast64_t calls_total;
	int exit_code;
};

uint64_t hpd_now_ns(void);
/* Reload with systemd told (RELOADING=1, then READY=1) and the outcome logged (main.c). */
int hpd_daemon_reload(struct hpd *hd, struct hpd_reload_result *res, char *err, size_t errlen);

#endif
