/* hostile_aarch64.c - the hostile module's aarch64-only misdeeds: privileged and trapping
 * instructions at EL0, and accesses to the hypercall page that KVM cannot decode (no valid
 * syndrome: pairs, writeback forms, exclusives, SIMD) or that device memory refuses (see
 * hostile.c for the rest). */
#include <hyperpool/guest.h>

#include "hostile.h"

void raw_hypercall(uint32_t nr)
{
	__asm__ volatile("str %w0, [%1]" : : "r"(nr), "r"(HC) : "memory");
}

#define INSN(fn, asm_text)                                         \
	static int fn(const hp_args *args, hp_out *out)            \
	{                                                          \
		(void)args;                                        \
		__asm__ volatile(asm_text ::: "x0", "x1", "x2", "memory"); \
		return hp_ret_nil(out);                            \
	}

INSN(udf, ".inst 0x00000000")
INSN(brk, "brk #0x1234")
INSN(svc, "svc #0")
INSN(hvc, "hvc #0")
INSN(smc, "smc #0")
INSN(wfi, "wfi")
INSN(wfe, "wfe")
INSN(msr_sctlr, "msr sctlr_el1, xzr")
INSN(ttbr0_write, "msr ttbr0_el1, xzr")
INSN(vbar_write, "msr vbar_el1, xzr")
INSN(mrs_esr, "mrs x0, esr_el1")
INSN(daif_mask, "msr daifset, #0xf")
INSN(cntvct_read, "mrs x0, cntvct_el0")
INSN(cache_clean, "mov x0, sp; dc civac, x0")
INSN(tlbi, "tlbi vmalle1")
INSN(eret, "eret")
/* ldxr on an address that is not 8-byte aligned: an alignment fault whatever SCTLR_EL1.A. */
INSN(unaligned_exclusive, "sub sp, sp, #16; add x0, sp, #1; ldxr x1, [x0]; add sp, sp, #16")
/* sp not 16-byte aligned used as a base: SP alignment fault (SCTLR_EL1.SA0). */
INSN(sp_misaligned, "mov x0, sp; sub sp, sp, #8; ldr x1, [sp]; mov sp, x0")
/* A branch to an address that is not 4-byte aligned: PC alignment fault. */
INSN(pc_misaligned, "adr x0, 1f; add x0, x0, #2; br x0; 1: nop")

/* Accesses to the hypercall page KVM cannot decode: store pair, post-index writeback, SIMD. */
INSN(mmio_stp, "mov x0, #0x30000000; mov x1, #2; stp x1, x1, [x0]")
INSN(mmio_str_writeback, "mov x0, #0x30000000; mov w1, #2; str w1, [x0], #4")
INSN(mmio_simd, "mov x0, #0x30000000; str q0, [x0]")
INSN(mmio_ldp, "mov x0, #0x30000000; ldp x1, x2, [x0]")
/* An exclusive on the hypercall page (device memory, no memslot). */
INSN(mmio_exclusive, "mov x0, #0x30000000; ldxr w1, [x0]")
/* A 32-bit store at offset 2: unaligned on device memory, faults in the guest. */
INSN(mmio_unaligned, "mov x0, #0x30000000; mov w1, #2; str w1, [x0, #2]")

const struct hostile_fn hostile_arch_fns[] = {
	{ "udf", udf }, { "brk", brk }, { "svc", svc }, { "hvc", hvc }, { "smc", smc },
	{ "wfi", wfi }, { "wfe", wfe }, { "msr_sctlr", msr_sctlr }, { "ttbr0_write", ttbr0_write },
	{ "vbar_write", vbar_write }, { "mrs_esr", mrs_esr }, { "daif_mask", daif_mask },
	{ "cntvct_read", cntvct_read }, { "cache_clean", cache_clean }, { "tlbi", tlbi },
	{ "eret", eret }, { "unaligned_exclusive", unaligned_exclusive },
	{ "sp_misaligned", sp_misaligned }, { "pc_misaligned", pc_misaligned },
	{ "mmio_stp", mmio_stp }, { "mmio_str_writeback", mmio_str_writeback },
	{ "mmio_simd", mmio_simd }, { "mmio_ldp", mmio_ldp }, { "mmio_exclusive", mmio_exclusive },
	{ "mmio_unaligned", mmio_unaligned },
};
const size_t hostile_arch_count = sizeof(hostile_arch_fns) / sizeof(hostile_arch_fns[0]);
