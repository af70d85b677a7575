/* main.c - hyperpoold: start-up, the loop, shutdown.
 *
 * Start: configuration (refused whole on any error), /dev/kvm, every module's snapshot and warm
 * pool, the worker threads, the listening socket (systemd's, or our own path), then READY=1.
 * Stop (SIGTERM, SIGINT): stop accepting, answer queued calls with shutting_down, let running
 * calls finish within shutdown_timeout_ms (then interrupt them), flush what the clients have
 * not read yet, free every VM, remove the socket we created, exit 0. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "wire.h"

#define DEFAULT_CONFIG "/etc/hyperpool/hyperpoold.conf"
#define STATUS_EVERY_MS 5000
#define DRAIN_POLL_MS 10
#define SESSION_CHECK_MS 100 /* idle sessions are closed within this of their timeout */


static void usage(FILE *f)
{
	fprintf(f,
		"usage: hyperpoold [options]\n"
		"\n"
		"Runs function calls of guest modules in pools of KVM micro-VMs and serves them over\n"
		"a Unix socket (MessagePack-RPC). See hyperpoold(8) and hyperpoold.conf(5).\n"
		"\n"
		"  -c, --config FILE        configuration file (default " DEFAULT_CONFIG ")\n"
		"      --conf-dir DIR       drop-in directory of *.conf files (default: FILE.d)\n"
		"  -s, --socket PATH        listen on PATH (overrides [daemon] socket)\n"
		"      --check-config       read and check the configuration, then exit\n"
		"  -v, --verbose            log debug lines too (guest output included)\n"
		"  -h, --help               this help\n"
		"      --version            print the version\n"
		"\n"
		"Exit status: 0 stopped cleanly, 1 failed to start, 64 bad usage, 78 bad configuration.\n");
}

struct options {
	const char *config, *conf_dir, *socket;
	bool check, verbose;
};

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_CHECK = 256, OPT_VERSION, OPT_CONF_DIR };
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "conf-dir", required_argument, NULL, OPT_CONF_DIR },
		{ "socket", required_argument, NULL, 's' },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	o->config = DEFAULT_CONFIG;
	for (int ch; (ch = getopt_long(argc, argv, "c:s:vh", longs, NULL)) != -1;) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case OPT_CONF_DIR: o->conf_dir = optarg; break;
		case 's': o->socket = optarg; break;
		case OPT_CHECK: o->check = true; break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); exit(0);
		case OPT_VERSION: printf("hyperpoold " HPD_VERSION "\n"); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hyperpoold: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* --- shutdown ----------------------------------------------------------------------------- */

static bool output_pending(struct hpd *hd)
{
	for (struct hpd_conn *c = hd->conns; c; c = c->next) {
		pthread_mutex_lock(&c->out_lock);
		bool pending = !c->dead && (c->writing || c->out_len);
		pthread_mutex_unlock(&c->out_lock);
		if (pending)
			return true;
	}
	return false;
}

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Every call is answered and out: close the connections and every handle; uv_run returns. */
static void finish_shutdown(struct hpd *hd)
{
	hpd_conns_close_all(hd);
	uv_walk(hd->loop, close_handle, NULL);
}

/* Every DRAIN_POLL_MS while stopping: done when no call runs and every response is out (or
 * the bound has passed: then running calls are interrupted and we wait for them). */
static void on_drain_tick(uv_timer_t *t)
{
	struct hpd *hd = t->data;
	pthread_mutex_lock(&hd->lock);
	unsigned running = hd->running;
	pthread_mutex_unlock(&hd->lock);
	bool late = hpd_now_ns() >= hd->shutdown_deadline_ns;
	if (running && late)
		hpd_jobs_cancel_running(hd);
	if (running || (output_pending(hd) && !late))
		return;
	finish_shutdown(hd);
}

static void begin_shutdown(struct hpd *hd, const char *why)
{
	if (hd->shutting_down)
		return;
	hd->shutting_down = true;
	hpd_log(HPD_LOG_NOTICE, "%s: stopping (running calls get %llu ms to finish)", why,
		(unsigned long long)hd->cfg->shutdown_timeout_ms);
	hpd_notify_stopping();
	hpd_listen_stop(hd);
	unsigned running = hpd_jobs_drain(hd);
	if (running)
		hpd_log(HPD_LOG_INFO, "waiting for %u running calls", running);
	hd->shutdown_deadline_ns = hpd_now_ns() + hd->cfg->shutdown_timeout_ms * 1000000ull;
	uv_timer_start(&hd->drain_timer, on_drain_tick, 0, DRAIN_POLL_MS);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct hpd *hd = s->data;
	if (signum == SIGHUP) {
		struct hpd_reload_result res;
		char err[1024];
		hpd_log(HPD_LOG_NOTICE, "SIGHUP: reloading %s", hd->config_path);
		hpd_daemon_reload(hd, &res, err, sizeof(err));
		return;
	}
	begin_shutdown(hd, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_status_tick(uv_timer_t *t)
{
	hpd_notify_status(t->data);
}

static void on_session_tick(uv_timer_t *t)
{
	hpd_sessions_expire(t->data);
}

/* --- start-up ----------------------------------------------------------------------------- */

static int setup_loop(struct hpd *hd)
{
	uv_signal_t *sigs[] = { &hd->sigterm, &hd->sigint, &hd->sighup };
	int nums[] = { SIGTERM, SIGINT, SIGHUP };
	for (int i = 0; i < 3; i++) {
		uv_signal_init(hd->loop, sigs[i]);
		sigs[i]->data = hd;
		if (uv_signal_start(sigs[i], on_signal, nums[i]) < 0)
			return -1;
	}
	uv_timer_init(hd->loop, &hd->drain_timer);
	hd->drain_timer.data = hd;
	uv_timer_init(hd->loop, &hd->status_timer);
	hd->status_timer.data = hd;
	uv_timer_start(&hd->status_timer, on_status_tick, STATUS_EVERY_MS, STATUS_EVERY_MS);
	uv_timer_init(hd->loop, &hd->session_timer);
	hd->session_timer.data = hd;
	uv_timer_start(&hd->session_timer, on_session_tick, SESSION_CHECK_MS, SESSION_CHECK_MS);
	hpd_notify_watchdog_start(hd);
	return 0;
}

static int start(struct hpd *hd, char *err, size_t errlen)
{
	struct hp_error e;
	if (hp_kvm_open(&hd->kvm, &e)) {
		snprintf(err, errlen, "%s", e.message);
		return -1;
	}
	if (hpd_modules_load(hd, err, errlen) || hpd_workers_start(hd, err, errlen) ||
	    setup_loop(hd) || hpd_listen_start(hd, err, errlen))
		return -1;
	return 0;
}


int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--worker")) /* spawned by ourselves: procs.c */
		return hpd_worker_main();
	struct options o = { 0 };
	if (parse_args(argc, argv, &o))
		return 64;
	hpd_log_setup(o.verbose ? HPD_LOG_DEBUG : HPD_LOG_INFO, getenv("JOURNAL_STREAM") != NULL);
	char err[1024];
	struct hpd hd = { .config_path = o.config, .conf_dir = o.conf_dir, .exit_code = 0 };
	if (hpd_config_load(o.config, o.conf_dir, &hd.cfg, err, sizeof(err))) {
		hpd_log(HPD_LOG_ERR, "bad configuration: %s", err);
		return 78;
	}
	if (o.socket) {
		free(hd.cfg->socket_path);
		hd.cfg->socket_path = strdup(o.socket);
	}
	if (o.check) {
		if (hpd_config_check_files(hd.cfg, err, sizeof(err))) {
			hpd_log(HPD_LOG_ERR, "bad configuration: %s", err);
			hpd_config_free(hd.cfg);
			return 78;
		}
		printf("%s: ok: %u modules, socket %s\n", o.config, hd.cfg->nmodules, hd.cfg->socket_path);
		hpd_config_free(hd.cfg);
		return 0;
	}
	if (!o.verbose)
		hpd_log_setup(hd.cfg->log_level, getenv("JOURNAL_STREAM") != NULL);
	signal(SIGPIPE, SIG_IGN);
	uv_loop_t loop;
	uv_loop_init(&loop);
	hd.loop = &loop;
	hd.start_ns = hd.status_ns = hpd_now_ns();
	pthread_mutex_init(&hd.lock, NULL);
	pthread_cond_init(&hd.work, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are CLOCK_MONOTONIC */
	pthread_cond_init(&hd.host_answered, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&hd.flush_lock, NULL);
	int code = 0;
	if (start(&hd, err, sizeof(err))) {
		hpd_log(HPD_LOG_ERR, "cannot start: %s", err);
		code = 1;
		hd.shutting_down = true;
		hpd_jobs_drain(&hd);
		uv_walk(&loop, close_handle, NULL);
	} else {
		hpd_notify_ready(&hd);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	if (hd.nthreads)
		hpd_workers_stop(&hd);
	hpd_listen_stop(&hd);
	uv_walk(&loop, close_handle, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		hpd_log(HPD_LOG_WARNING, "the event loop still had open handles at exit");
	hpd_modules_free(&hd);
	hp_kvm_close(hd.kvm);
	hpd_config_free(hd.cfg);
	pthread_mutex_destroy(&hd.flush_lock);
	pthread_cond_destroy(&hd.work);
	pthread_cond_destroy(&hd.host_answered);
	pthread_mutex_destroy(&hd.lock);
	if (code == 0)
		hpd_log(HPD_LOG_NOTICE, "stopped");
	return code;
}
