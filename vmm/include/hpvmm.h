/* hpvmm.h - libhpvmm: run functions of a guest module in KVM micro-VMs, in-process.
 *
 *	struct hp_kvm *kvm;           hp_kvm_open(&kvm, &err)
 *	struct hp_module *mod;        hp_module_open(kvm, "math.elf", NULL, &mod, &err)
 *	struct hp_vm *vm;             hp_vm_create(mod, &vm, &err)       (creates, loads, runs init)
 *	struct hp_call_result res;    hp_vm_call(vm, "add", 3, args, args_len, &res, &err)
 *
 * Every function returns 0 or -1 with `err` filled in (code from proto/hp_status.h + message).
 * A VM is used by one thread at a time. A module and the hp_kvm handle outlive their VMs.
 * This header and hp_error.h (with proto/hp_status.h) are the whole public API. */
#ifndef HPVMM_H
#define HPVMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hp_error.h"

struct hp_kvm;
struct hp_module;
struct hp_vm;

/* A module's sizes and limits. Sizes are page multiples within the guest ABI's bounds
 * (proto/hp_abi.h: HP_DEFAULT_* and HP_*_MAX); zero fields take the defaults. */
struct hp_module_config {
	uint64_t input_size;  /* 0: HP_DEFAULT_INPUT_SIZE */
	uint64_t output_size; /* 0: HP_DEFAULT_OUTPUT_SIZE */
	uint64_t heap_size;   /* 0: HP_DEFAULT_HEAP_SIZE */
	uint64_t stack_size;  /* 0: HP_DEFAULT_STACK_SIZE */
	int restore;          /* enum hp_restore_strategy, 0 (AUTO): measured at load */
	uint64_t timeout_ms;  /* default deadline of a call (and of init); 0: HP_DEFAULT_TIMEOUT_MS */
	uint64_t max_log_bytes;  /* guest output kept per call; 0: HP_DEFAULT_MAX_LOG_BYTES */
	uint64_t max_hypercalls; /* per call; 0: HP_DEFAULT_MAX_HYPERCALLS */
	uint64_t max_host_calls;      /* host calls per call; 0: HP_DEFAULT_MAX_HOST_CALLS */
	uint64_t max_host_call_bytes; /* one host call's request; 0: HP_DEFAULT_MAX_HOST_CALL_BYTES */
};

#define HP_DEFAULT_TIMEOUT_MS 10000
#define HP_MAX_TIMEOUT_MS (24ull * 3600 * 1000)
#define HP_DEFAULT_MAX_LOG_BYTES (1ull << 20)
#define HP_DEFAULT_MAX_HYPERCALLS 100000
#define HP_DEFAULT_MAX_HOST_CALLS 1000
#define HP_DEFAULT_MAX_HOST_CALL_BYTES (1ull << 20)


/* How a VM cloned from a snapshot is put back after a call: which pages were written is found
 * with KVM's dirty log or with the kernel's page map (pages of the private mapping that stopped
 * being the snapshot's); they are put back by copying from the snapshot (they stay mapped) or
 * with MADV_DONTNEED (dropped, refaulted from the snapshot when touched). Every combination is
 * exact; they differ in cost by host (write-protect faults and refaults are ~20 us per page
 * under PVM, much less on hardware KVM). AUTO measures them at module load. */
enum hp_restore_strategy {
	HP_RESTORE_AUTO = 0,
	HP_RESTORE_DIRTYLOG_MEMCPY,
	HP_RESTORE_DIRTYLOG_MADVISE,
	HP_RESTORE_PAGEMAP_MEMCPY,
	HP_RESTORE_PAGEMAP_MADVISE,
	HP_RESTORE_STRATEGIES
};
const char *hp_restore_strategy_name(int strategy);
int hp_restore_strategy_parse(const char *name); /* -1 if unknown */

struct hp_restore_measurement {
	bool measured, usable;
	double call_us;   /* median of __hp_touch(16) + restore, microseconds */
};

int hp_kvm_open(struct hp_kvm **out, struct hp_error *err);
void hp_kvm_close(struct hp_kvm *kvm);
/* Every ioctl request libhpvmm issues (on /dev/kvm, VM and vCPU fds, /proc/self/pagemap):
 * up to max into out, returns how many. An embedder's seccomp filter allows exactly these. */
size_t hp_kvm_ioctls(unsigned long *out, size_t max);

/* Reads and validates the module ELF. cfg may be NULL for the defaults. */
int hp_module_open(struct hp_kvm *kvm, const char *path, const struct hp_module_config *cfg,
		   struct hp_module **out, struct hp_error *err);
/* The same from bytes in memory (copied). `name` is used in messages. */
int hp_module_open_mem(struct hp_kvm *kvm, const char *name, const void *elf, size_t size,
		       const struct hp_module_config *cfg, struct hp_module **out,
		       struct hp_error *err);
void hp_module_close(struct hp_module *mod);

/* The sizes a module's VMs were laid out with (its config, defaults filled in). */
struct hp_module_info {
	uint64_t input_size, output_size, heap_size, stack_size;
	uint64_t mem_size; /* guest memory of one VM */
	uint64_t timeout_ms, max_log_bytes, max_hypercalls;
};
void hp_module_info(const struct hp_module *mod, struct hp_module_info *info);

/* Guest output (printf to stdout / stderr) as it arrives, in order. */
typedef void (*hp_log_fn)(void *ctx, int stream, const char *bytes, size_t len);

/* Runs the module's init once in a template VM and freezes the result into a sealed memfd
 * snapshot; with HP_RESTORE_AUTO also measures the restore strategies. Idempotent and
 * thread-safe; hp_vm_create calls it when needed. `log` receives init's output. */
int hp_module_snapshot(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_error *err);
int hp_module_restore_strategy(struct hp_module *mod); /* after the snapshot */
const struct hp_restore_measurement *hp_module_restore_measurements(struct hp_module *mod);
uint64_t hp_module_snapshot_bytes(struct hp_module *mod); /* guest memory size of the snapshot */

/* Creates a VM cloned from the module's snapshot (made first if needed): init does not run
 * again, and untouched memory is shared with every other VM of the module. */
int hp_vm_create(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_vm **out,
		 struct hp_error *err);
/* The same with an explicit restore strategy (tests and benchmarks compare them). */
int hp_vm_create_with(struct hp_module *mod, int strategy, hp_log_fn log, void *log_ctx,
		      struct hp_vm **out, struct hp_error *err);
/* A VM that loads the module and runs init itself, with private memory and no snapshot
 * (the cold path; its calls are not restored). */
int hp_vm_create_cold(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_vm **out,
		      struct hp_error *err);
void hp_vm_destroy(struct hp_vm *vm);

/* Puts a cloned VM back to the snapshot now: every page the last calls may have written and
 * the vCPU state. hp_vm_call does it itself before a call when needed; pools do it when a VM
 * is returned. On failure the VM refuses further calls and must be destroyed. */
int hp_vm_restore(struct hp_vm *vm, struct hp_error *err);

struct hp_vm_memory {
	uint64_t guest_bytes;   /* size of guest memory (mostly shared or untouched) */
	uint64_t private_bytes; /* pages this VM holds privately (written since created) */
	uint64_t last_restore_pages;
};
int hp_vm_memory(struct hp_vm *vm, struct hp_vm_memory *m, struct hp_error *err);

/* Where this VM's guest output goes from now on. */
void hp_vm_set_log(struct hp_vm *vm, hp_log_fn log, void *log_ctx);

/* --- host functions: what a guest calls with hp_host_call() --------------------------------- */

/* The answer to one host call: status HP_OK and `bytes` one msgpack object, or an error status
 * (an hp_status code) and `bytes` a message. `bytes` may point into `inline_buf` or into
 * memory of the callback's that stays valid until the callback returns to libhpvmm's caller
 * (libhpvmm copies it into the guest before resuming the vCPU). libhpvmm checks a result with
 * the bounded scanner (one object, UTF-8 strs, no ext) and sanitizes a message to UTF-8. */
#define HP_HOST_REPLY_INLINE 8192
struct hp_host_reply {
	int status;
	const void *bytes;
	size_t len;
	uint8_t inline_buf[HP_HOST_REPLY_INLINE];
};

/* Called on the thread running the call, while the vCPU waits: `name` (name_len bytes, no
 * NUL) and `args` (one msgpack array, already validated) are the guest's. The callback must not
 * call into this VM (libhpvmm refuses re-entry) and should return promptly: the call's
 * deadline is checked only when it returns. */
typedef void (*hp_host_fn)(void *ctx, struct hp_vm *vm, const char *name, size_t name_len,
			   const uint8_t *args, size_t args_len, struct hp_host_reply *reply);

/* The host functions this VM's guest may call from now on (NULL: none; every host call then
 * answers no_such_function). Pools reset it to none when a VM is put back. */
void hp_vm_set_host(struct hp_vm *vm, hp_host_fn fn, void *ctx);

/* Built-in host functions an embedder may offer (HP_HOST_* flags): "time" () -> uint64
 * nanoseconds since the epoch; "random" (n) -> n bytes from getrandom, n <= 4096; "log"
 * (level, message) -> nil, the message to the VM's log stream (stderr) as one line
 * "[level] message". Returns true if `name` is one of `allowed` and filled `reply`; false if it
 * is not a built-in allowed here (the embedder may then serve it itself). */
#define HP_HOST_TIME 1u
#define HP_HOST_RANDOM 2u
#define HP_HOST_LOG 4u
bool hp_host_builtin(unsigned allowed, struct hp_vm *vm, const char *name, size_t name_len,
		     const uint8_t *args, size_t args_len, struct hp_host_reply *reply);
/* "time random log" -> flags; -1 and *bad set to the unknown word. */
int hp_host_builtins_parse(const char *list, unsigned *flags, const char **bad);

/* Functions the module registered, sorted by name (owned by the module). */
uint32_t hp_vm_function_count(const struct hp_vm *vm);
const char *hp_vm_function_name(const struct hp_vm *vm, uint32_t i);

struct hp_call_result {
	int status;             /* HP_OK, or a guest-reported status (HP_E_GUEST_ERROR, ...) */
	const uint8_t *output;  /* HP_OK: exactly one msgpack object (depth <= 64, UTF-8 strs, no
				 * ext); else: a valid UTF-8 message, NUL-terminated */
	size_t output_len;
};

struct hp_call_opts {
	uint64_t timeout_ms; /* 0: the module's default */
	/* A session: this call starts from the memory the VM's last call left (globals, heap), not
	 * from the snapshot; registers and FPU state start fresh as always. hp_vm_restore (or
	 * hp_pool_put) ends the session and puts everything back. */
	bool keep_memory;
};

/* Stops the call running on `vm` in another thread, if any: it ends with HP_E_CANCELLED and
 * the VM is restored before its next call. Safe to call at any time from any thread. */
void hp_vm_cancel(struct hp_vm *vm);

/* The signal libhpvmm uses to kick a vCPU thread out of KVM_RUN (a real-time signal; its
 * handler is installed on first use). Programs embedding libhpvmm must leave it alone. */
int hp_vcpu_signal(void);

/* Calls `name` with `args` (one msgpack array). On a cloned VM the call starts from the
 * snapshot state. The output stays valid until the next call or restore of this VM.
 * Returns 0 when the guest finished the call
 * (res->status says how: the function's result or its error), -1 when the call did not finish
 * normally (abort, fault, protocol violation, KVM failure: err says which). */
int hp_vm_call(struct hp_vm *vm, const char *name, size_t name_len, const void *args,
	       size_t args_len, struct hp_call_result *res, struct hp_error *err);
/* The same with per-call options (deadline). A call past its deadline ends with HP_E_TIMEOUT. */
int hp_vm_call_opts(struct hp_vm *vm, const char *name, size_t name_len, const void *args,
		    size_t args_len, const struct hp_call_opts *opts, struct hp_call_result *res,
		    struct hp_error *err);

/* --- pools: ready VMs of one module ------------------------------------------------------- */

struct hp_pool;

/* A pool of VMs cloned from the module's snapshot: `initial` are created now, at most `max`
 * exist at once. Thread-safe. `log` is each VM's initial log callback. */
int hp_pool_create(struct hp_module *mod, unsigned initial, unsigned max, hp_log_fn log,
		   void *log_ctx, struct hp_pool **out, struct hp_error *err);
/* Every VM must have been put back. */
void hp_pool_destroy(struct hp_pool *pool);

/* A ready VM: an idle one, or a new one while fewer than `max` exist; HP_E_LIMIT when all
 * `max` are busy. */
int hp_pool_get(struct hp_pool *pool, struct hp_vm **vm, struct hp_error *err);
/* Returns a VM: it is restored to the snapshot first; one that fails to restore is destroyed,
 * never handed out again. */
void hp_pool_put(struct hp_pool *pool, struct hp_vm *vm);
/* Grows or shrinks the idle VMs to `idle` (within max). */
int hp_pool_resize(struct hp_pool *pool, unsigned idle, struct hp_error *err);
/* Creates VMs until at least `total` exist, idle and busy counted (within max): after a VM was
 * destroyed, this makes the pool whole again. Takes the lock once when nothing is missing. */
int hp_pool_fill(struct hp_pool *pool, unsigned total, struct hp_error *err);

struct hp_pool_stats {
	unsigned idle, busy, max;
	uint64_t created, destroyed, restore_failures;
	uint64_t snapshot_bytes;      /* guest memory of the snapshot, shared by all VMs */
	uint64_t idle_private_bytes;  /* pages the idle VMs hold privately */
};
int hp_pool_stats(struct hp_pool *pool, struct hp_pool_stats *st, struct hp_error *err);

#endif
