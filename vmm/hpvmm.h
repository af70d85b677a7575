/* hpvmm.h - libhpvmm: run functions of a guest module in KVM micro-VMs, in-process.
 *
 *	struct hp_kvm *kvm;           hp_kvm_open(&kvm, &err)
 *	struct hp_module *mod;        hp_module_open(kvm, "math.elf", NULL, &mod, &err)
 *	struct hp_vm *vm;             hp_vm_create(mod, &vm, &err)       (creates, loads, runs init)
 *	struct hp_call_result res;    hp_vm_call(vm, "add", 3, args, args_len, &res, &err)
 *
 * Every function returns 0 or -1 with `err` filled in (code from proto/hp_status.h + message).
 * A VM is used by one thread at a time. A module and the hp_kvm handle outlive their VMs. */
#ifndef HPVMM_H
#define HPVMM_H

#include <stddef.h>
#include <stdint.h>

#include "hp_error.h"
#include "layout.h"

struct hp_kvm;
struct hp_module;
struct hp_vm;

int hp_kvm_open(struct hp_kvm **out, struct hp_error *err);
void hp_kvm_close(struct hp_kvm *kvm);

/* Reads and validates the module ELF. cfg may be NULL for the defaults. */
int hp_module_open(struct hp_kvm *kvm, const char *path, const struct hp_module_config *cfg,
		   struct hp_module **out, struct hp_error *err);
/* The same from bytes in memory (copied). `name` is used in messages. */
int hp_module_open_mem(struct hp_kvm *kvm, const char *name, const void *elf, size_t size,
		       const struct hp_module_config *cfg, struct hp_module **out,
		       struct hp_error *err);
void hp_module_close(struct hp_module *mod);
const struct hp_layout *hp_module_layout(const struct hp_module *mod);

/* Guest output (printf to stdout / stderr) as it arrives, in order. */
typedef void (*hp_log_fn)(void *ctx, int stream, const char *bytes, size_t len);

/* Creates a VM of the module, loads it and runs the module's init to completion. */
int hp_vm_create(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_vm **out,
		 struct hp_error *err);
void hp_vm_destroy(struct hp_vm *vm);

/* Functions the module registered, sorted by name (strings owned by the VM). */
uint32_t hp_vm_function_count(const struct hp_vm *vm);
const char *hp_vm_function_name(const struct hp_vm *vm, uint32_t i);

struct hp_call_result {
	int status;             /* HP_OK, or a guest-reported status (HP_E_GUEST_ERROR, ...) */
	const uint8_t *output;  /* HP_OK: one msgpack object; else: a UTF-8 message */
	size_t output_len;      /* valid until the next call on this VM */
};

/* Calls `name` with `args` (one msgpack array). Returns 0 when the guest finished the call
 * (res->status says how: the function's result or its error), -1 when the call did not finish
 * normally (abort, fault, protocol violation, KVM failure: err says which). */
int hp_vm_call(struct hp_vm *vm, const char *name, size_t name_len, const void *args,
	       size_t args_len, struct hp_call_result *res, struct hp_error *err);

#endif
