/* aarch64.h - what the files of the aarch64 backend share (vmm/arch/aarch64/ only): register
 * ids, the EL1 system register values and why, descriptor bits, the per-kvm and per-vCPU
 * state kept in hp_kvm.arch and hp_vm.arch, and the functions one file offers another. */
#ifndef HP_ARCH_AARCH64_H
#define HP_ARCH_AARCH64_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/aarch64/hp_abi_arch.h"
#include "hp_error.h"

/* KVM_{GET,SET}_ONE_REG ids. Core registers are addressed by their offset in struct kvm_regs
 * in 32-bit units; FPSR and FPCR are 32-bit registers with ids of their own (the offsets of
 * fp_regs.fpsr and fp_regs.fpcr differ by 4, so do the ids). */
#define A64_CORE_REG(field, size) \
	(KVM_REG_ARM64 | (size) | KVM_REG_ARM_CORE | (offsetof(struct kvm_regs, field) / 4))
#define A64_REG_X(n)   A64_CORE_REG(regs.regs[n], KVM_REG_SIZE_U64)
#define A64_REG_SP_EL0 A64_CORE_REG(regs.sp, KVM_REG_SIZE_U64)
#define A64_REG_PC     A64_CORE_REG(regs.pc, KVM_REG_SIZE_U64)
#define A64_REG_PSTATE A64_CORE_REG(regs.pstate, KVM_REG_SIZE_U64)
#define A64_REG_SP_EL1 A64_CORE_REG(sp_el1, KVM_REG_SIZE_U64)
#define A64_REG_V(n)   A64_CORE_REG(fp_regs.vregs[n], KVM_REG_SIZE_U128)
#define A64_REG_FPSR   A64_CORE_REG(fp_regs.fpsr, KVM_REG_SIZE_U32)
#define A64_REG_FPCR   A64_CORE_REG(fp_regs.fpcr, KVM_REG_SIZE_U32)

#define A64_SYS_REG(op0, op1, crn, crm, op2) ARM64_SYS_REG(op0, op1, crn, crm, op2)
#define A64_SCTLR_EL1   A64_SYS_REG(3, 0, 1, 0, 0)
#define A64_CPACR_EL1   A64_SYS_REG(3, 0, 1, 0, 2)
#define A64_TTBR0_EL1   A64_SYS_REG(3, 0, 2, 0, 0)
#define A64_TTBR1_EL1   A64_SYS_REG(3, 0, 2, 0, 1)
#define A64_TCR_EL1     A64_SYS_REG(3, 0, 2, 0, 2)
#define A64_MAIR_EL1    A64_SYS_REG(3, 0, 10, 2, 0)
#define A64_VBAR_EL1    A64_SYS_REG(3, 0, 12, 0, 0)
#define A64_CNTKCTL_EL1 A64_SYS_REG(3, 0, 14, 1, 0)
#define A64_TPIDR_EL0   A64_SYS_REG(3, 3, 13, 0, 2)
#define A64_ID_AA64ISAR0_EL1 A64_SYS_REG(3, 0, 0, 6, 0)

/* PSTATE of the core's entries: EL1h (SP_EL1), D, A, I, F masked. */
#define A64_PSTATE_EL1H 0x3c5ull
#define A64_PSTATE_MODE_MASK 0xfull
#define A64_PSTATE_EL0T 0x0ull

/* SCTLR_EL1: M (MMU), C and I (caches), SA and SA0 (stack alignment checks at EL1 and EL0),
 * EOS/EIS (exception entry and return synchronise), DZE (EL0 may `dc zva`, which picolibc's
 * memset uses), UCT (EL0 may read CTR_EL0, which string routines read), WXN (a writable page
 * is never executable, whatever its descriptor says), SPAN (PSTATE.PAN unchanged on entry) and
 * the ARMv8.0 RES1 bits 20, 28, 29. Left 0 on purpose: A (unaligned accesses to normal memory
 * are fine, as on x86_64; exclusives and device memory still fault), nTWI/nTWE (wfi and wfe
 * at EL0 trap to the core and are reported), UCI (EL0 cache maintenance traps), UMA (EL0
 * cannot touch DAIF), E0E/EE (little-endian). Hyperlight's 0x30D0_1805 is the same without
 * SA, SA0, DZE, UCT and WXN. */
#define A64_SCTLR_VALUE 0x30d8d81dull
/* TCR_EL1: T0SZ = 25 (39-bit VA: three levels from level 1, enough for HP_GUEST_MEM_MAX and
 * the hypercall page), IRGN0/ORGN0 = write-back write-allocate, SH0 = inner shareable,
 * TG0 = 4 KiB, EPD1 (no TTBR1 walks: nothing lives in the upper half), TG1 = 4 KiB (a valid
 * value although unused), IPS = 0 (32-bit physical: every GPA is below 4 GiB, and every CPU
 * supports it). HA/HD = 0: the MMU never writes a descriptor (access flags are preset), so
 * the tables stay identical to the snapshot. Hyperlight's 0x5_8010_3510 uses a 48-bit VA,
 * four levels and a 48-bit IPS. */
#define A64_TCR_VALUE 0x80803519ull
/* MAIR_EL1: attribute 0 = normal memory, inner/outer write-back non-transient read/write
 * allocate (0xff, as Hyperlight); attribute 1 = Device-nGnRE (0x04) for the hypercall page, so
 * that an unaligned or exclusive access to it faults in the guest instead of reaching KVM. */
#define A64_MAIR_VALUE 0x04ffull
#define A64_ATTR_NORMAL 0
#define A64_ATTR_DEVICE 1
/* CPACR_EL1.FPEN = 0b11: FP/SIMD does not trap at EL0 or EL1 (0x30_0000, as Hyperlight);
 * ZEN = 0: SVE is not offered (no KVM_ARM_VCPU_SVE) and would trap anyway. */
#define A64_CPACR_VALUE 0x300000ull

/* Stage-1 descriptors, 4 KiB granule. */
#define A64_DESC_VALID (1ull << 0)
#define A64_DESC_TABLE (1ull << 1) /* at levels 1-2: a table; at level 3: a page */
#define A64_DESC_ATTR(i) ((uint64_t)(i) << 2)
#define A64_DESC_AP_EL0 (1ull << 6) /* AP[1]: EL0 may access */
#define A64_DESC_AP_RO  (1ull << 7) /* AP[2]: read-only at every EL */
#define A64_DESC_SH_INNER (3ull << 8)
#define A64_DESC_AF  (1ull << 10)
#define A64_DESC_PXN (1ull << 53)
#define A64_DESC_UXN (1ull << 54)
#define A64_DESC_ADDR 0x0000fffffffff000ull
#define A64_VA_BITS 39

extern const uint8_t hp_core_aarch64[];
extern const size_t hp_core_aarch64_size;

struct a64_kvm {
	struct kvm_vcpu_init init; /* KVM_ARM_PREFERRED_TARGET: what every vCPU is initialised as */
	bool nisv_to_user;         /* KVM_CAP_ARM_NISV_TO_USER: undecodable aborts exit to us */
	uint64_t isar0;            /* ID_AA64ISAR0_EL1 of a vCPU */
};

struct a64_vcpu {
	uint64_t call_entry; /* the core's per-call entry (its header) */
};

/* What a clone's vCPU starts from: the template's system registers (the same constants for
 * every VM of a module) and the core's entries. */
struct a64_state {
	uint64_t ttbr0, vbar, call_entry;
};

/* vcpu.c: one register through KVM_{GET,SET}_ONE_REG. */
int hp_a64_set_reg(int vcpu_fd, uint64_t id, uint64_t value, struct hp_error *err);
int hp_a64_get_reg(int vcpu_fd, uint64_t id, uint64_t *value, struct hp_error *err);
/* vcpu.c: KVM_ARM_VCPU_INIT with the preferred target and the EL1 system registers. */
int hp_a64_vcpu_init(int vcpu_fd, const struct a64_kvm *k, const struct a64_state *s,
		     struct hp_error *err);
/* tables.c: the core tables page of mem (HP_GPA_CORE_TABLES) for the core's call entry. */
void hp_a64_write_tables(uint8_t *mem, uint64_t dispatch_entry, uint64_t stack_top);

#endif
