/* test_lockdown.c - the worker processes' seccomp filter (daemon/lockdown.c), as installed by
 * hyperpoold: in a child that installed it, what a worker does still works (its socket, memory,
 * futexes, timers, memfds, getrandom, the ioctl requests libhpvmm lists) and each forbidden
 * syscall kills the child with SIGSYS: open, socket, execve, fork, and an ioctl request that
 * is not libhpvmm's. No KVM needed (the allowed ioctl goes to a bad fd: EBADF, not a kill). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "daemon.h"

static int allowed_things(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) /* before the filter: a worker's own socket */
		return 10;
	char err[256];
	if (hpd_seccomp_install(err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 11;
	}
	char b = 'x';
	if (write(sv[0], &b, 1) != 1 || read(sv[1], &b, 1) != 1)
		return 12;
	void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || madvise(p, 1 << 20, MADV_DONTNEED) || munmap(p, 1 << 20))
		return 13;
	int fd = memfd_create("t", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 4096) || close(fd))
		return 14;
	uint8_t r[8];
	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		return 15;
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return 16;
	if (ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF) /* allowed: the kernel says EBADF */
		return 17;
	return 0;
}

static void forbidden(int what)
{
	char err[256];
	int sv[2];
	struct termios t;
	if (hpd_seccomp_install(err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		_exit(11);
	}
	switch (what) {
	case 0: open("/etc/hostname", O_RDONLY); break;
	case 1: socket(AF_UNIX, SOCK_STREAM, 0); break;
	case 2: execl("/bin/true", "true", (char *)NULL); break;
	case 3: fork(); break;
	case 4: tcgetattr(0, &t); break;            /* TCGETS: not a request libhpvmm issues */
	case 5: socketpair(AF_UNIX, SOCK_STREAM, 0, sv); break;
	}
	_exit(0); /* reached only if the syscall was let through */
}

static int run_child(int what)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (what < 0)
			_exit(allowed_things());
		forbidden(what);
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

int main(void)
{
	int st = run_child(-1);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "what a worker does works under the filter "
		  "(status %#x)", st);
	static const char *const names[] = { "open", "socket", "execve", "fork", "ioctl TCGETS",
					     "socketpair" };
	for (int i = 0; i < 6; i++) {
		st = run_child(i);
		CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s kills with SIGSYS (status %#x)",
			  names[i], st);
	}
	CHECK_DONE();
}
