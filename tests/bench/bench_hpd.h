/* bench_hpd.h - what the benchmarks that talk to a real hyperpoold share (bench_daemon.c,
 * bench_client.c): the echo server of the AF_UNIX floor, connecting to a socket path,
 * starting the daemon and waiting for its socket, and the hand-packed math.add request. Include
 * after bench_common.h (it uses die()). */
#ifndef BENCH_HPD_H
#define BENCH_HPD_H

#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The other end of the floor's round trip: echoes 64-byte messages until EOF. */
static inline void echo_server(int fd)
{
	char buf[64];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0 || write(fd, buf, (size_t)n) != n)
			_exit(0);
	}
}

/* Pins the calling process to cpu; -1 leaves it where the scheduler puts it. */
static inline void bench_pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity");
}

/* Lets the calling process run on every online CPU again. */
static inline void bench_unpin(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	for (long c = 0, cpus = sysconf(_SC_NPROCESSORS_ONLN); c < cpus; c++)
		CPU_SET(c, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity");
}

/* The AF_UNIX floor: n 64-byte round trips (after `warmup` untimed) into t[0..n) between this
 * process, on CPU `here`, and a forked echo server on CPU `there` (-1: wherever the scheduler
 * puts them, as it places a client and the daemon). */
static inline struct stats bench_socket_floor(double *t, size_t n, size_t warmup, int here, int there)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(sv[0]);
		bench_pin(there);
		echo_server(sv[1]);
	}
	close(sv[1]);
	bench_pin(here);
	char buf[64] = { 1 };
	for (size_t i = 0; i < n + warmup; i++) {
		double t0 = now_us();
		if (write(sv[0], buf, 64) != 64 || read(sv[0], buf, 64) != 64)
			die("socket round trip");
		if (i >= warmup)
			t[i - warmup] = now_us() - t0;
	}
	if (here >= 0)
		bench_unpin();
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return summarize(t, n);
}

/* A connected socket to path, or -1 (errno set). */
static inline int bench_try_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static inline int bench_connect(const char *path)
{
	int fd = bench_try_connect(path);
	if (fd < 0)
		die("connect");
	return fd;
}

/* Starts `binary -c conf` and waits (30 s at most) until it accepts on sock. */
static inline pid_t bench_start_daemon(const char *binary, const char *conf, const char *sock)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl(binary, binary, "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 3000; i++) {
		int fd = bench_try_connect(sock);
		if (fd >= 0) {
			close(fd);
			return pid;
		}
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			errno = 0;
			die("the daemon exited at start");
		}
		usleep(10000);
	}
	die("the daemon did not start");
}

/* [0, id, "call", ["math", "add", [1, 2]]] into buf (at least 32 bytes); returns its length. */
static inline size_t bench_pack_add(uint8_t *buf, uint32_t id)
{
	static const uint8_t tail[] = { 0xa4, 'c', 'a', 'l', 'l', 0x93, 0xa4, 'm', 'a', 't', 'h',
					0xa3, 'a', 'd', 'd', 0x92, 0x01, 0x02 };
	size_t n = 0;
	buf[n++] = 0x94;
	buf[n++] = 0x00;
	buf[n++] = 0xce;
	for (int s = 24; s >= 0; s -= 8)
		buf[n++] = (uint8_t)(id >> s);
	memcpy(buf + n, tail, sizeof(tail));
	return n + sizeof(tail);
}

#endif
