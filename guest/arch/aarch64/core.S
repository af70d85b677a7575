/* core.S - the privileged (EL1) core of the aarch64 guest.
 *
 * Built once from guest/, embedded in libhpvmm and loaded by the host at HP_GPA_CORE_TEXT,
 * mapped EL1-only (AP[1] = 0, UXN): module code can neither read nor run it. The host sets
 * the MMU up (TTBR0/TCR/MAIR/SCTLR_EL1), VBAR_EL1 = core_vectors and CPACR_EL1 (FP/SIMD on)
 * before the first instruction. Three ways in:
 *  - core_entry: the first instructions of a new VM, EL1h, x0 = module entry, x1 = module
 *    stack top: invalidate the I-cache (the host has just written the code), eret into module
 *    code at EL0.
 *  - core_call_entry: every call after init (the host sets PC here and PSTATE to EL1h, two
 *    KVM_SET_ONE_REGs): put everything EL0 can change in its initial state (x0-x30, V0-V31,
 *    FPCR, FPSR, TPIDR_EL0, the exclusive monitor, SP_EL0) and eret to the dispatch entry the
 *    host wrote into the core tables page. Doing it here costs no vCPU ioctl per register.
 *  - core_vectors: every exception enters here and is reported to the host with HP_HC_FAULT
 *    stored to the hypercall page, details in x0..x5 (hp_abi_arch.h).
 * It writes no guest memory, so restores never see a page of its. */
#include "hp_abi.h"
#include "arch/aarch64/hp_abi_arch.h"

	.section .text.header, "ax"
	.globl hp_core_header
hp_core_header:
	.long HP_CORE_MAGIC
	.long HP_ABI_VERSION
	.quad core_entry
	.quad core_call_entry
	.quad core_vectors

	.text
core_entry:
	ic iallu                /* the module's code was written by the host just now */
	dsb ish
	isb
	msr elr_el1, x0
	msr sp_el0, x1
	mov x0, #HP_A64_SPSR_EL0
	msr spsr_el1, x0
	mov x0, #0
	mov x1, #0
	eret

core_call_entry:
	mov x0, #HP_GPA_CORE_TABLES
	ldr x1, [x0, #HP_A64_TABLES_DISPATCH]
	ldr x2, [x0, #HP_A64_TABLES_STACK]
	msr elr_el1, x1
	msr sp_el0, x2
	mov x1, #HP_A64_SPSR_EL0
	msr spsr_el1, x1
	msr tpidr_el0, xzr
	msr fpcr, xzr
	msr fpsr, xzr
	clrex
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	movi v\v\().2d, #0
	.endr
	.irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
	mov x\r, #0
	.endr
	eret

/* Every exception: the details into x0..x5 (x5 = slot, set by the vector) for the host. */
core_fault:
	mrs x0, esr_el1
	mrs x1, far_el1
	mrs x2, elr_el1
	mrs x3, spsr_el1
	mrs x4, sp_el0
	mov w6, #HP_HC_FAULT
	mov x7, #HP_GPA_HYPERCALL
	str w6, [x7]
1:	wfi                     /* the host never resumes a faulted call */
	b 1b

/* 16 slots of 0x80 bytes; the slot number tells the host which kind of exception from where. */
	.balign 2048
core_vectors:
	.irp slot, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	.balign 128
	mov x5, #\slot
	b core_fault
	.endr
	.balign 128             /* the table is whole: the host checks it lies in the core */

