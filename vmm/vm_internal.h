/* vm_internal.h - libhpvmm's internal structures, shared by the generic core and arch code. */
#ifndef HP_VM_INTERNAL_H
#define HP_VM_INTERNAL_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "elf.h"
#include "hp_abi.h"
#include "hpvmm.h"
#include "layout.h"

struct hp_kvm {
	int fd;
	size_t run_mmap_size;
	void *arch; /* arch-private: e.g. the CPUID table to give every vCPU */
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
	char **functions;
	uint32_t nfunctions;
	void *arch; /* arch-private vCPU state */
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

/* Decodes the exit in vm->run. */
void hp_arch_decode_exit(struct hp_vm *vm, struct hp_exit *ex);

#endif
