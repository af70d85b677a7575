/* arch/arch.h - what every arch backend of libhpvmm provides (vmm/arch/<arch>/).
 *
 * Generic code (the .c files of vmm/) calls only these functions for anything that depends on the CPU: the
 * ELF machine, the privileged core's image, KVM capabilities and CPUID-like setup, page tables
 * and CPU tables, the vCPU's state at start-up and at every call, and what an exit means. Each
 * backend fills the same files under the same names (docs/architecture.md):
 *   kvm_setup.c  hp_arch_elf_machine, hp_arch_core_image, hp_arch_kvm_init/fini, hp_arch_cpu_flags,
 *                hp_arch_ioctls
 *   paging.c     hp_arch_build_page_tables
 *   tables.c     the CPU's own tables in the core tables page (x86_64: GDT, TSS, IDT)
 *   vcpu.c       hp_arch_vm_setup/fini, hp_arch_after_init, hp_arch_capture, hp_arch_clone_setup,
 *                hp_arch_state_free, hp_arch_prepare_call, hp_arch_after_run
 *   exits.c      hp_arch_decode_exit, hp_arch_exit_completed
 * and an arch-private header, <arch>.h, shared by those files only. */
#ifndef HP_ARCH_H
#define HP_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_layout.h"
#include "hp_error.h"

struct hp_kvm;
struct hp_vm;

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

/* --- kvm_setup.c ---------------------------------------------------------------------- */

/* The e_machine every module ELF must have (EM_X86_64, EM_AARCH64). */
uint16_t hp_arch_elf_machine(void);
/* The privileged core, assembled from guest/arch/<arch>/core.S: loaded at HP_GPA_CORE_TEXT. */
void hp_arch_core_image(const uint8_t **bytes, size_t *size);
/* Once per /dev/kvm handle: check the arch's capabilities, read what every vCPU is given
 * (x86_64: the supported CPUID), keep it in kvm->arch. */
int hp_arch_kvm_init(struct hp_kvm *kvm, struct hp_error *err);
void hp_arch_kvm_fini(struct hp_kvm *kvm);
/* The arch-defined cpu_flags of the call block: what the guest's entry code may use. */
uint32_t hp_arch_cpu_flags(const struct hp_kvm *kvm);
/* The arch's own ioctl requests (vCPU and VM setup, state at every call): up to max into out,
 * returns how many (hp_kvm_ioctls). */
size_t hp_arch_ioctls(unsigned long *out, size_t max);

/* --- paging.c --------------------------------------------------------------------------- */

/* Maps every region identity (virtual == physical) at 4 KiB granularity with permissions from
 * its HP_MAP_* flags, in tables allocated from HP_GPA_PAGE_TABLES in mem (guest physical
 * 0..mem_size), which itself is not mapped. *root is what the MMU starts from (CR3, TTBR0).
 * Refuses regions that overlap, leave memory, are unaligned, or cover the tables. */
int hp_arch_build_page_tables(uint8_t *mem, uint64_t mem_size, const struct hp_region *regions,
			      unsigned nregions, uint64_t *root, struct hp_error *err);

/* --- vcpu.c ----------------------------------------------------------------------------- */

/* A fresh VM: page tables and CPU tables in vm->mem, the vCPU set up to start the core's entry
 * with the module's entry point and stack (init runs from there). */
int hp_arch_vm_setup(struct hp_vm *vm, struct hp_error *err);
/* Frees vm->arch (any VM, fresh or clone, set up or not). */
void hp_arch_vm_fini(struct hp_vm *vm);
/* After init: record the user-mode (CPL3/EL0) state every call starts from. */
int hp_arch_after_init(struct hp_vm *vm, struct hp_error *err);
/* The state after init of a template, for clones: capture / set a clone's vCPU up from it /
 * free it. */
int hp_arch_capture(struct hp_vm *vm, void **state, struct hp_error *err);
int hp_arch_clone_setup(struct hp_vm *vm, const void *state, struct hp_error *err);
void hp_arch_state_free(void *state);
/* Before a call: point the vCPU at the dispatch entry with a fresh stack and the recorded
 * user-mode state, without a vCPU ioctl where KVM allows (x86_64: sync_regs; aarch64 has none
 * and sets PC and PSTATE, which can fail). */
int hp_arch_prepare_call(struct hp_vm *vm, struct hp_error *err);
/* Right after every KVM_RUN, whatever it returned: undo what guest code may have left in this
 * thread's own CPU state (x86_64 on PVM: segment selectors). */
void hp_arch_after_run(struct hp_vm *vm);

/* --- exits.c ---------------------------------------------------------------------------- */

/* Decodes the exit in vm->run: a hypercall (number), a fault the core reported, an error. */
void hp_arch_decode_exit(struct hp_vm *vm, struct hp_exit *ex);
/* True when KVM has already finished the instruction behind the exit in vm->run, so the next
 * KVM_RUN completes nothing that touches guest state. When in doubt false: the generic code
 * then completes the exit with one more KVM_RUN (immediate_exit) before the next call. */
bool hp_arch_exit_completed(const struct hp_vm *vm);

#endif
