/* canary_aarch64.c - the canary module's aarch64 register probes (canary.c lists the rest):
 *
 *   regs(c)   bin: struct a64_regs_dump (canary.h) as found at function entry: V0-V31, FPCR,
 *             FPSR, TPIDR_EL0, NZCV (saved by an assembly stub before any compiled code of
 *             the function runs); then loads c into V0-V31 and TPIDR_EL0 and the canaries of
 *             canary.h into FPCR, FPSR and NZCV: the last thing before returning
 *   msr_sctlr, ttbr0_write, hvc, smc, wfi: one privileged or trapping instruction each at EL0
 *             (undefined or trapped: a fault); return nil if it did not fault
 * scribble_fault loads the same canaries, then executes `udf`. */
#include <hyperpool/guest.h>
#include <string.h>

#include "canary.h"
#include "canary_arch.h"

struct a64_regs_dump regs_found __attribute__((aligned(16)));

int regs_entry(const hp_args *args, hp_out *out);
int regs_impl(const hp_args *args, hp_out *out);

/* x0/x1 (the arguments) stay untouched; x9/x10 are scratch at a call boundary (AAPCS64). */
__asm__(".text\n"
	".globl regs_entry\n"
	".type regs_entry, %function\n"
	"regs_entry:\n"
	"	adrp x9, regs_found\n"
	"	add x9, x9, :lo12:regs_found\n"
	"	stp q0, q1, [x9, #0]\n	stp q2, q3, [x9, #32]\n"
	"	stp q4, q5, [x9, #64]\n	stp q6, q7, [x9, #96]\n"
	"	stp q8, q9, [x9, #128]\n	stp q10, q11, [x9, #160]\n"
	"	stp q12, q13, [x9, #192]\n	stp q14, q15, [x9, #224]\n"
	"	stp q16, q17, [x9, #256]\n	stp q18, q19, [x9, #288]\n"
	"	stp q20, q21, [x9, #320]\n	stp q22, q23, [x9, #352]\n"
	"	stp q24, q25, [x9, #384]\n	stp q26, q27, [x9, #416]\n"
	"	stp q28, q29, [x9, #448]\n	stp q30, q31, [x9, #480]\n"
	"	mrs x10, fpcr\n	str x10, [x9, #512]\n"
	"	mrs x10, fpsr\n	str x10, [x9, #520]\n"
	"	mrs x10, tpidr_el0\n	str x10, [x9, #528]\n"
	"	mrs x10, nzcv\n	str x10, [x9, #536]\n"
	"	b regs_impl\n"
	".size regs_entry, .-regs_entry\n");

/* Loads the canaries: the last thing before returning. */
__attribute__((noinline)) static void regs_load_canary(uint64_t c)
{
	__asm__ volatile("dup v0.2d, %0\n"
			 ".irp r, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
			 "mov v\\r\\().16b, v0.16b\n"
			 ".endr\n"
			 "msr tpidr_el0, %0\n"
			 "msr fpcr, %1\n"
			 "msr fpsr, %2\n"
			 "msr nzcv, %3\n"
			 : : "r"(c), "r"((uint64_t)A64_FPCR_CANARY), "r"((uint64_t)A64_FPSR_CANARY),
			   "r"((uint64_t)A64_NZCV_CANARY)
			 : "memory", "cc", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9",
			   "v10", "v11", "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20",
			   "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31");
}

int regs_impl(const hp_args *args, hp_out *out)
{
	uint64_t c;
	/* copy first: the result packing below must not see a half-loaded state */
	static struct a64_regs_dump found;
	memcpy(&found, &regs_found, sizeof(found));
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &c);
	if (hp_ret_bin(out, &found, sizeof(found)) < 0)
		return -1;
	regs_load_canary(c);
	return 0;
}

#define INSN(fn, text)                                      \
	static int fn(const hp_args *args, hp_out *out)     \
	{                                                   \
		(void)args;                                 \
		__asm__ volatile(text ::: "memory");        \
		return hp_ret_nil(out);                     \
	}

INSN(f_msr_sctlr, "msr sctlr_el1, xzr")
INSN(f_ttbr0_write, "msr ttbr0_el1, xzr")
INSN(f_hvc, "hvc #0")
INSN(f_smc, "smc #0")
INSN(f_wfi, "wfi")

void canary_arch_init(void)
{
}

void canary_arch_scribble_fault(uint64_t c)
{
	regs_load_canary(c);
	__asm__ volatile(".inst 0x00000000" ::: "memory"); /* udf #0 */
}

const struct canary_fn canary_arch_fns[] = {
	{ "regs", regs_entry }, { "msr_sctlr", f_msr_sctlr }, { "ttbr0_write", f_ttbr0_write },
	{ "hvc", f_hvc }, { "smc", f_smc }, { "wfi", f_wfi },
};
const size_t canary_arch_count = sizeof(canary_arch_fns) / sizeof(canary_arch_fns[0]);
