/* core.S - the privileged (CPL0) core of the x86_64 guest.
 *
 * Built once from guest/, embedded in libhpvmm and loaded by the host at HP_GPA_CORE_TEXT,
 * mapped supervisor-only: module code can neither read nor change it. It does two things:
 *  - core_entry: the first instructions a new VM runs, at CPL0, with rdi = module entry and
 *    rsi = module stack top: iretq into module code at CPL3 (IOPL=0). Calls after init enter
 *    module code at CPL3 directly: the host sets rip/rsp through kvm_run sync_regs.
 *  - exception stubs: every CPU exception (vectors 0-31) enters here on the core stack (RSP0 /
 *    IST1 from the TSS) and is reported to the host with HP_HC_FAULT, details in registers.
 * It writes no memory: on PVM-backed KVM every CPL0 instruction is emulated, stores are the
 * most expensive ones, and the host reads the registers through kvm_run sync_regs anyway.
 */
#include "hp_abi.h"
#include "arch/x86_64/hp_abi_arch.h"

#define VECTOR_STRIDE 16

	.section .text.header, "ax"
	.globl hp_core_header
hp_core_header:
	.long HP_CORE_MAGIC
	.long HP_ABI_VERSION
	.quad core_entry
	.quad core_vectors
	.quad VECTOR_STRIDE

	.text
core_entry:
	pushq $HP_X86_SEL_UDATA /* ss */
	pushq %rsi              /* rsp */
	pushq $0x0002           /* rflags: IOPL=0, IF=0 */
	pushq $HP_X86_SEL_UCODE /* cs */
	pushq %rdi              /* rip */
	iretq

/* Vectors that push an error code themselves: 8, 10-14, 17, 21, 29, 30. */
.macro stub vec
	.balign VECTOR_STRIDE
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp core_fault
.endm

	.balign VECTOR_STRIDE
core_vectors:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	stub \v
	.endr

/* Stack: vector, error code, rip, cs, rflags, rsp, ss. */
core_fault:
	popq %rdi               /* vector */
	popq %rsi               /* error code */
	movq 0(%rsp), %r10      /* faulting rip */
	movq 8(%rsp), %r8       /* faulting cs */
	movq 24(%rsp), %r9      /* faulting rsp */
	movq %cr2, %rcx         /* fault address (page faults) */
	movl $HP_HC_FAULT, %eax
	movw $HP_X86_CORE_PORT, %dx
	outl %eax, %dx
1:	hlt                     /* the host never resumes a faulted call */
	jmp 1b
