/* lockdown.c - what a worker process gives up once its pool is built (docs/daemon.md "Least
 * privilege"): no new processes, no file writes, no core dumps (rlimits), no privilege gains
 * (no_new_privs), and then every syscall but the few a worker makes (a seccomp filter,
 * libseccomp): reading and writing its socket, memory, futexes, signals and timers of the call
 * deadlines, memfds of new VMs, and only the ioctl requests libhpvmm issues (hp_kvm_ioctls; the
 * kernel cannot tell a filter which fd an ioctl is on). Anything else kills the process
 * (SIGSYS); its supervisor restarts it. No open() is allowed: a breached worker cannot reach a
 * file, and its only way out is the socket to the front. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "daemon.h"

#define FDS_PER_VM 4  /* the VM, its vCPU, the memfd while it is mapped, and a spare */
#define FDS_BASE 64   /* stdio, the socket, /dev/kvm, the snapshot, pagemap, eventfds */
#define MAX_IOCTLS 64

/* What a worker's threads call once running (glibc's names; one missing on an arch is
 * skipped). */
static const char *const allowed[] = {
	"read", "write", "writev", "pread64", "close", "lseek", "fstat", "newfstatat",
	"futex", "sched_yield", "nanosleep", "clock_nanosleep", "clock_gettime", "gettimeofday",
	"mmap", "munmap", "mprotect", "madvise", "mremap", "brk",
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "tgkill", "tkill",
	"gettid", "getpid", "restart_syscall", "exit", "exit_group",
	"timer_create", "timer_settime", "timer_gettime", "timer_delete",
	"memfd_create", "ftruncate", "fcntl", "getrandom", "arch_prctl",
};

static int limit(int resource, rlim_t value, const char *name, char *err, size_t errlen)
{
	struct rlimit rl = { value, value };
	if (setrlimit(resource, &rl) == 0)
		return 0;
	snprintf(err, errlen, "setrlimit(%s): %s", name, strerror(errno));
	return -1;
}

static int add_rules(scmp_filter_ctx f, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		int rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
		if (rc) {
			snprintf(err, errlen, "seccomp: allowing %s: %s", allowed[i], strerror(-rc));
			return -1;
		}
	}
	unsigned long req[MAX_IOCTLS];
	size_t n = hp_kvm_ioctls(req, MAX_IOCTLS);
	for (size_t i = 0; i < n; i++) {
		int rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					  SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)req[i]));
		if (rc) {
			snprintf(err, errlen, "seccomp: allowing ioctl %#lx: %s", req[i], strerror(-rc));
			return -1;
		}
	}
	return 0;
}

int hpd_seccomp_install(char *err, size_t errlen)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!f) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	int rc = add_rules(f, err, errlen);
	if (rc == 0 && (rc = seccomp_load(f)))
		snprintf(err, errlen, "seccomp_load: %s", strerror(-rc));
	seccomp_release(f);
	return rc ? -1 : 0;
}

int hpd_worker_lockdown(unsigned vms, char *err, size_t errlen)
{
	/* No RLIMIT_FSIZE: the worker's stderr is the daemon's, which may be a regular file (a log
	 * file rather than the journal), and a write past the limit is SIGXFSZ: a guest's printf
	 * at log_level debug killed the worker. Files it cannot create anyway (no open in the
	 * filter); the only ones it holds are stdio. */
	if (limit(RLIMIT_NPROC, 0, "RLIMIT_NPROC", err, errlen) ||
	    limit(RLIMIT_CORE, 0, "RLIMIT_CORE", err, errlen) ||
	    limit(RLIMIT_NOFILE, FDS_BASE + (rlim_t)vms * FDS_PER_VM, "RLIMIT_NOFILE", err, errlen))
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	return hpd_seccomp_install(err, errlen);
}
