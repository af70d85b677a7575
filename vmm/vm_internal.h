/* vm_internal.h - libhpvmm's internal structures, shared by the generic core and arch code. */
#ifndef HP_VM_INTERNAL_H
#define HP_VM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "elf.h"
#include "hp_abi.h"
#include "hpvmm.h"
#include "layout.h"

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
	void *arch; /* arch-private vCPU state */

	/* Restore: only for VMs cloned from a snapshot. */
	const struct hp_snapshot *snap;
	int restore;            /* enum hp_restore_strategy */
	bool needs_restore;     /* a call ran since the last restore */
	bool broken;            /* a restore failed: the VM must be destroyed */
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
	uint64_t log_bytes, log_dropped, hypercalls;
	bool trim_next;         /* this restore drops pages instead of copying (restore.c) */
	uint32_t trim_backoff, trim_wait;
	uint64_t calls;
	/* The last call's error message as valid UTF-8 (each bad byte may become the 3 bytes of
	 * U+FFFD): what hp_call_result.output points to when the status is not HP_OK. */
	char errmsg[3 * HP_ABORT_MSG_MAX + 1];
};

/* What the arch made of a KVM exit. */
enum hp_exit_kind {
	HP_EXIT_HYPERCALL, /* nr: an HP_HC_* number from module code */
	HP_EXIT_FAULT,     /* a CPU exception reported by the core: message filled */
	HP_EXIT_ERROR,     /* anything else: code + message filled */
	HP_EXIT_RETRY,     /* nothing to do, run again */
};

struct hp_exit {
	enum hp_exit_kind kind;
	uint32_t nr;
	struct hp_error error;
};

/* --- the arch interface (vmm/arch/<arch>/) ------------------------------------------------ */

uint16_t hp_arch_elf_machine(void);
void hp_arch_core_image(const uint8_t **bytes, size_t *size);
int hp_arch_kvm_init(struct hp_kvm *kvm, struct hp_error *err);
void hp_arch_kvm_fini(struct hp_kvm *kvm);

/* Builds page tables and CPU tables in vm->mem and sets the vCPU up to start the core entry
 * with the module's entry point and stack. */
int hp_arch_vm_setup(struct hp_vm *vm, struct hp_error *err);
void hp_arch_vm_fini(struct hp_vm *vm);

/* After init: remember the CPL3/EL0 state to return to. */
int hp_arch_after_init(struct hp_vm *vm, struct hp_error *err);

/* Point the vCPU at the dispatch entry with a fresh stack, without a vCPU ioctl. */
void hp_arch_prepare_call(struct hp_vm *vm);

/* Right after every KVM_RUN, whatever it returned: undo what guest code may have left in this
 * thread's own CPU state (x86_64 on PVM: segment selectors). */
void hp_arch_after_run(struct hp_vm *vm);

/* Decodes the exit in vm->run. */
void hp_arch_decode_exit(struct hp_vm *vm, struct hp_exit *ex);

/* HP_CPU_* flags for the call block: what the guest's entry code may use. */
uint32_t hp_arch_cpu_flags(const struct hp_kvm *kvm);

/* Snapshot support: record the vCPU state after init / start a clone's vCPU from it. */
int hp_arch_capture(struct hp_vm *vm, void **state, struct hp_error *err);
int hp_arch_clone_setup(struct hp_vm *vm, const void *state, struct hp_error *err);
void hp_arch_state_free(void *state);

/* --- generic internals --------------------------------------------------------------------- */

/* vm.c */
int hp_vm_create_fresh(struct hp_module *mod, hp_log_fn log, void *log_ctx, int memfd,
		       struct hp_vm **out, struct hp_error *err);
int hp_vm_create_clone(struct hp_module *mod, int restore, hp_log_fn log, void *log_ctx,
		       struct hp_vm **out, struct hp_error *err);
void hp_vm_release_memory(struct hp_vm *vm); /* for the template: drops the guest mapping */

/* snapshot.c */
int hp_snapshot_create(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_error *err);
void hp_snapshot_free(struct hp_snapshot *snap);

/* interrupt.c */
uint64_t hp_now_ns(void);
int hp_call_begin(struct hp_vm *vm, uint64_t timeout_ns, struct hp_error *err);
int hp_call_check(struct hp_vm *vm, struct hp_error *err);
void hp_call_end(struct hp_vm *vm);

/* restore.c */
int hp_restore_pages(struct hp_vm *vm, struct hp_error *err);
uint64_t hp_restore_private_pages(struct hp_vm *vm);
bool hp_restore_uses_dirty_log(int strategy);
int hp_restore_measure(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_error *err);

#endif
