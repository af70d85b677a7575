/* notify.c - what hyperpoold tells systemd and takes from it (libsystemd's sd-daemon): the
 * listening sockets of socket activation, READY=1 once every pool is warm, a one-line STATUS=,
 * STOPPING=1, and WATCHDOG=1 at half the WatchdogSec= interval. Without systemd
 * (no NOTIFY_SOCKET, no LISTEN_FDS) every call here is a no-op. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"

int hpd_systemd_listeners(struct hpd *hd, char *err, size_t errlen)
{
	int n = sd_listen_fds(1);
	if (n < 0) {
		snprintf(err, errlen, "socket activation (LISTEN_FDS): %s", strerror(-n));
		return -1;
	}
	if (n > (int)(sizeof(hd->listeners) / sizeof(hd->listeners[0]))) {
		snprintf(err, errlen, "socket activation passed %d sockets; at most %zu are served", n,
			 sizeof(hd->listeners) / sizeof(hd->listeners[0]));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			snprintf(err, errlen, "socket activation: fd %d is not a listening Unix stream "
				 "socket (ListenStream= a path in the .socket unit)", fd);
			return -1;
		}
		uv_pipe_t *l = &hd->listeners[hd->nlisteners];
		uv_pipe_init(hd->loop, l, 0);
		l->data = hd;
		hd->nlisteners++;
		int rc = uv_pipe_open(l, fd);
		if (rc < 0) {
			snprintf(err, errlen, "socket activation: fd %d: %s", fd, uv_strerror(rc));
			return -1;
		}
	}
	return n;
}

static unsigned ready_vms(struct hpd *hd, unsigned *busy)
{
	unsigned idle = 0;
	*busy = 0;
	for (unsigned i = 0; i < hd->nmodules; i++) {
		struct hp_pool_stats st;
		unsigned alive;
		uint64_t restarts;
		hpd_module_pool_stats(hd->modules[i], &st, &alive, &restarts);
		idle += st.idle;
		*busy += st.busy;
	}
	return idle;
}

static void status_line(struct hpd *hd, char *buf, size_t len)
{
	uint64_t now = hpd_now_ns(), calls = atomic_load(&hd->calls_total);
	double secs = (double)(now - hd->status_ns) / 1e9;
	double rate = secs > 0 ? (double)(calls - hd->status_calls) / secs : 0;
	hd->status_calls = calls;
	hd->status_ns = now;
	unsigned busy, idle = ready_vms(hd, &busy);
	snprintf(buf, len, "%u modules, %u VMs idle, %u busy, %u connections, %.0f calls/s",
		 hd->nmodules, idle, busy, hd->nconns, rate);
}

void hpd_notify_ready(struct hpd *hd)
{
	char status[200], msg[240];
	status_line(hd, status, sizeof(status));
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	sd_notify(0, msg);
	hpd_log(HPD_LOG_NOTICE, "ready: %s", status);
}

void hpd_notify_status(struct hpd *hd)
{
	char status[200], msg[220];
	status_line(hd, status, sizeof(status));
	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	sd_notify(0, msg);
}

void hpd_notify_reloading(void)
{
	sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
}

void hpd_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	sd_notify(0, "WATCHDOG=1");
}

int hpd_notify_watchdog_start(struct hpd *hd)
{
	uint64_t usec = 0;
	int rc = sd_watchdog_enabled(0, &usec);
	if (rc <= 0 || usec == 0)
		return 0;
	uint64_t every_ms = usec / 2000 ? usec / 2000 : 1;
	uv_timer_init(hd->loop, &hd->watchdog_timer);
	uv_timer_start(&hd->watchdog_timer, on_watchdog, every_ms, every_ms);
	hpd_log(HPD_LOG_INFO, "watchdog: WATCHDOG=1 every %llu ms", (unsigned long long)every_ms);
	return 1;
}
