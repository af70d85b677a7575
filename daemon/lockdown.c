/* lockdown.c - what a worker process gives up once its pool is built (docs/daemon.md
 * "Least privilege"): no new processes, files or core dumps (rlimits), no privilege gains
 * (no_new_privs). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "daemon.h"

#define FDS_PER_VM 4  /* the VM, its vCPU, the memfd while it is mapped, and a spare */
#define FDS_BASE 64   /* stdio, the socket, /dev/kvm, the snapshot, pagemap, eventfds */

static int limit(int resource, rlim_t value, const char *name, char *err, size_t errlen)
{
	struct rlimit rl = { value, value };
	if (setrlimit(resource, &rl) == 0)
		return 0;
	snprintf(err, errlen, "setrlimit(%s): %s", name, strerror(errno));
	return -1;
}

int hpd_worker_lockdown(unsigned vms, char *err, size_t errlen)
{
	if (limit(RLIMIT_NPROC, 0, "RLIMIT_NPROC", err, errlen) ||
	    limit(RLIMIT_FSIZE, 0, "RLIMIT_FSIZE", err, errlen) ||
	    limit(RLIMIT_CORE, 0, "RLIMIT_CORE", err, errlen) ||
	    limit(RLIMIT_NOFILE, FDS_BASE + (rlim_t)vms * FDS_PER_VM, "RLIMIT_NOFILE", err, errlen))
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	return 0;
}
