/* vm_internal.h - libhpvmm's internal structures, shared by the generic core and arch code,
 * and the functions each generic layer offers the layers above it. Not installed. */
#ifndef HP_VM_INTERNAL_H
#define HP_VM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "elf_load.h"
#include "hp_abi.h"
#include "hpvmm.h"
#include "guest_layout.h"

struct hp_kvm {
	int fd;
	size_t run_mmap_size;
	int pagemap_fd;      /* /proc/self/pagemap, for finding a VM's private pages */
	bool pagemap_scan;   /* the PAGEMAP_SCAN ioctl works (Linux >= 6.7) */
	void *arch; /* arch-private: e.g. the CPUID table to give every vCPU */
};

/* The frozen state of a module after init, shared by every VM cloned from it. */
struct hp_snapshot {
	int memfd;          /* sealed: F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL */
	const uint8_t *map; /* read-only shared mapping of it: the source for restores */
	uint64_t size;
	uint64_t dispatch_entry;
	void *arch;         /* arch vCPU state to start every clone with */
};

struct hp_module {
	struct hp_kvm *kvm;
	char *name;
	uint8_t *file;
	size_t file_size;
	struct hp_elf_image img;
	struct hp_layout layout;
	struct hp_region regions[HP_MAX_REGIONS];
	unsigned nregions;
	int restore_config; /* enum hp_restore_strategy from the config (AUTO: measure) */
	uint64_t timeout_ns, max_log_bytes, max_hypercalls;
	uint64_t max_host_calls, max_host_call_bytes;

	pthread_mutex_t lock; /* guards the function list */
	char **functions;     /* from the first init, sorted */
	uint32_t nfunctions;
	pthread_mutex_t snap_lock; /* guards the snapshot and the strategy */
	struct hp_snapshot *snap;
	int restore;          /* the strategy clones use */
	struct hp_restore_measurement measured[HP_RESTORE_STRATEGIES];
};

struct hp_vm {
	const struct hp_module *mod;
	struct hp_kvm *kvm;
	int vm_fd, vcpu_fd, mem_fd;
	uint8_t *mem; /* guest physical 0 .. mem_size */
	uint64_t mem_size;
	struct kvm_run *run;
	volatile struct hp_call_block *cb;
	uint64_t dispatch_entry;
	hp_log_fn log;
	void *log_ctx;
	hp_host_fn host_fn;     /* host functions the guest may call (NULL: none) */
	void *host_ctx;
	bool in_host_call;      /* a host function runs: the VM takes no call (no re-entry) */
	void *arch; /* arch-private vCPU state */

	/* Restore: only for VMs cloned from a snapshot. */
	const struct hp_snapshot *snap;
	int restore;            /* enum hp_restore_strategy */
	bool needs_restore;     /* a call ran since the last restore */
	bool broken;            /* a restore failed: the VM must be destroyed */
	bool exit_pending;      /* KVM completes the last exit on the next KVM_RUN (vm.c) */
	uint64_t host_input_len;/* bytes the host wrote into the input buffer since the restore */
	uint64_t *dirty_bitmap; /* KVM_GET_DIRTY_LOG buffer (dirty-log strategies) */
	uint64_t pages_restored;/* by the last restore */

	/* Stopping a call (interrupt.c). */
	pthread_mutex_t cancel_lock;
	pthread_t thread;       /* running the current call */
	bool in_call;
	_Atomic bool cancel;
	uint64_t deadline_ns, timeout_ns;
	/* Per-call limits on what the guest produces. */
	uint64_t log_bytes, log_dropped, hypercalls, host_calls;
	bool trim_next;         /* this restore drops pages instead of copying (restore.c) */
	uint32_t trim_backoff, trim_wait;
	uint64_t calls;
	/* The last call's error message as valid UTF-8 (each bad byte may become the 3 bytes of
	 * U+FFFD): what hp_call_result.output points to when the status is not HP_OK. */
	char errmsg[3 * HP_ABORT_MSG_MAX + 1];
};

/* --- generic internals, by layer, lowest first (docs/architecture.md) ------------------ */

/* interrupt.c: deadlines and cancel of the call running on a VM */
uint64_t hp_now_ns(void);
int hp_call_begin(struct hp_vm *vm, uint64_t timeout_ns, struct hp_error *err);
int hp_call_check(struct hp_vm *vm, struct hp_error *err);
void hp_call_end(struct hp_vm *vm);

/* mem_restore.c: finding and putting back the pages a clone wrote */
int hp_restore_pages(struct hp_vm *vm, struct hp_error *err);
uint64_t hp_restore_private_pages(struct hp_vm *vm);
bool hp_restore_uses_dirty_log(int strategy);

/* vm.c: one VM (memory, vCPU, run loop, calls) */
int hp_vm_create_fresh(struct hp_module *mod, hp_log_fn log, void *log_ctx, int memfd,
		       struct hp_vm **out, struct hp_error *err);
int hp_vm_create_clone(struct hp_module *mod, int restore, hp_log_fn log, void *log_ctx,
		       struct hp_vm **out, struct hp_error *err);

/* snapshot.c: a template VM's memory after init, sealed */
int hp_snapshot_create(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_error *err);
void hp_snapshot_free(struct hp_snapshot *snap);

/* strategy.c: the restore strategy of a module's clones, measured at load */
int hp_restore_measure(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_error *err);

#endif
