/* aarch64 values of the guest ABI.
 *
 * Module code runs at EL0, the core at EL1 (guest/arch/aarch64/core.S). Module code makes
 * hypercalls through the hypercall page (a 32-bit MMIO store, see hp_abi.h). The core reports
 * a CPU exception with the same store of HP_HC_FAULT, the details in x0..x5: the host trusts
 * such a report only when the vCPU's PC lies in the core text (a module can store
 * HP_HC_FAULT too; that is an unknown hypercall, as on x86_64). */
#ifndef HP_ABI_ARCH_AARCH64_H
#define HP_ABI_ARCH_AARCH64_H

/* Bits of the call block's cpu_flags (arch-defined, see hp_abi.h), from the vCPU's ID
 * registers (KVM_GET_ONE_REG of ID_AA64ISAR0_EL1): informative, guest code is built for
 * baseline armv8-a and needs none of them. */
#define HP_CPU_LSE 1 /* FEAT_LSE: the LSE atomic instructions (cas, ldadd, swp) */

/* The core image starts with this header so the host finds its entry points without symbols. */
#define HP_CORE_MAGIC 0x45524f43 /* "CORE" */

/* The core tables page (HP_GPA_CORE_TABLES, EL1 read-only) holds what the core's call entry
 * needs, written by the host after init: the dispatch entry and the module stack top. */
#define HP_A64_TABLES_DISPATCH 0x00
#define HP_A64_TABLES_STACK    0x08

/* The PSTATE module code runs with: EL0t, interrupts (I, F) and debug (D) masked, SError (A)
 * unmasked so that an SError is taken and reported. */
#define HP_A64_SPSR_EL0 0x2c0

/* Vector table slots (VBAR_EL1 + 0x80 * slot): 0-3 current EL with SP_EL0, 4-7 current EL
 * with SP_EL1, 8-11 lower EL (AArch64), 12-15 lower EL (AArch32); within each group
 * synchronous, IRQ, FIQ, SError. */
#define HP_A64_SLOT_LOWER_SYNC   8
#define HP_A64_SLOT_LOWER_SERROR 11

#ifndef __ASSEMBLER__
#include <stdint.h>

struct hp_a64_core_header {
	uint32_t magic;
	uint32_t abi_version;
	uint64_t entry;      /* EL1h start: x0 = module entry, x1 = module stack top; eret to EL0 */
	uint64_t call_entry; /* EL1h, every call: resets what EL0 can change, eret to dispatch */
	uint64_t vectors;    /* VBAR_EL1: 2 KiB aligned */
};
#endif

/* At HP_HC_FAULT the core leaves the details in registers: x0 = ESR_EL1, x1 = FAR_EL1,
 * x2 = ELR_EL1, x3 = SPSR_EL1, x4 = SP_EL0, x5 = vector slot. */

#endif
