/* snapshot.c - freeze a module after init into a sealed memfd that every VM clones.
 *
 * A template VM runs init with its memory in a fresh memfd; its vCPU state is recorded, the
 * template is torn down, and the memfd is sealed against writes and resizing. Clones map it
 * MAP_PRIVATE (vm.c), so pages they only read are one copy in the page cache for all of them,
 * and mem_restore.c puts written pages back from a read-only mapping of the same memfd.
 * Above vm.c (it runs a template VM), below module.c (which decides when to make one). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/arch.h"
#include "vm_internal.h"

#define SNAPSHOT_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

void hp_snapshot_free(struct hp_snapshot *snap)
{
	if (!snap)
		return;
	if (snap->map)
		munmap((void *)snap->map, snap->size);
	if (snap->memfd >= 0)
		close(snap->memfd);
	hp_arch_state_free(snap->arch);
	free(snap);
}

/* Runs init in a template VM whose memory is `memfd`, records what clones start from. */
static int run_template(struct hp_module *mod, struct hp_snapshot *snap, hp_log_fn log,
			void *log_ctx, struct hp_error *err)
{
	int fd = dup(snap->memfd);
	if (fd < 0)
		return hp_fail_errno(err, HP_E_SYSTEM, "dup");
	struct hp_vm *vm;
	if (hp_vm_create_fresh(mod, log, log_ctx, fd, &vm, err))
		return -1;
	snap->dispatch_entry = vm->dispatch_entry;
	int rc = hp_arch_capture(vm, &snap->arch, err);
	/* Tearing the template down drops the last writable mapping: only then can we seal. */
	hp_vm_destroy(vm);
	return rc;
}

static int seal(struct hp_snapshot *snap, struct hp_error *err)
{
	if (fcntl(snap->memfd, F_ADD_SEALS, SNAPSHOT_SEALS) < 0)
		return hp_fail_errno(err, HP_E_SYSTEM, "sealing the snapshot memfd");
	int seals = fcntl(snap->memfd, F_GET_SEALS);
	if (seals < 0 || (seals & SNAPSHOT_SEALS) != SNAPSHOT_SEALS)
		return hp_fail(err, HP_E_SYSTEM, "the snapshot memfd did not keep its seals");
	void *p = mmap(NULL, snap->size, PROT_READ, MAP_SHARED, snap->memfd, 0);
	if (p == MAP_FAILED)
		return hp_fail_errno(err, HP_E_SYSTEM, "mapping the snapshot");
	snap->map = p;
	return 0;
}

int hp_snapshot_create(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_error *err)
{
	struct hp_snapshot *snap = calloc(1, sizeof(*snap));
	if (!snap)
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	snap->size = mod->layout.mem_size;
	snap->memfd = memfd_create("hyperpool-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (snap->memfd < 0) {
		hp_fail_errno(err, HP_E_SYSTEM, "memfd_create");
		hp_snapshot_free(snap);
		return -1;
	}
	if (run_template(mod, snap, log, log_ctx, err) || seal(snap, err)) {
		hp_snapshot_free(snap);
		return -1;
	}
	mod->snap = snap;
	return 0;
}
