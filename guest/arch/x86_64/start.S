/* start.S - the two ways the host enters module code (both at CPL3).
 *  _start:            once, via the core's iretq, with rsp = stack top; runs init.
 *  hp_dispatch_entry: for every call; the host sets rip here, rsp to the stack top, every
 *                     general register to zero and all segment state to the snapshot's. Here we
 *                     reset the x87/SSE/AVX state (the host would need a ~5 us ioctl), so
 *                     nothing of a previous call survives in registers. Guest memory is
 *                     restored by the host.
 * The SysV ABI wants rsp % 16 == 8 at a function's first instruction (after the call's push):
 * align, then `call`. printf's prologue uses movaps on the stack, so this matters. */
#include "hp_abi.h"
#include "arch/x86_64/hp_abi_arch.h"

	.section .text.hp_start, "ax"
	.globl _start
_start:
	andq $-16, %rsp
	xorl %ebp, %ebp
	fninit
	/* Whether xrstor works here, asked of the CPU this code runs on (CPUID.1:ECX.OSXSAVE):
	 * the host's HP_CPU_XSAVE flag comes from KVM's CPUID table, which on a PVM host says
	 * "no XSAVE" while module code runs with the host's XCR0 (AVX on), and fxrstor alone
	 * would leave the upper ymm halves of one call to the next. Once, at init. */
	movl $1, %eax
	cpuid
	btl $27, %ecx
	setc hp_osxsave(%rip)
	call hp_runtime_init
	ud2

	.globl hp_dispatch_entry
hp_dispatch_entry:
	testl $HP_CPU_XSAVE, 0x20000 + HP_CB_CPU_FLAGS_OFF  /* call block at HP_GPA_CONTROL */
	jnz 0f
	cmpb $0, hp_osxsave(%rip)
	jz 1f
0:	movl $-1, %eax          /* every component XCR0 enables: x87, SSE, AVX */
	movl $-1, %edx
	xrstor clean_fpu_state(%rip)
	jmp 2f
1:	fxrstor clean_fpu_state(%rip)
2:	andq $-16, %rsp
	xorl %ebp, %ebp
	call hp_runtime_dispatch
	ud2

	.section .bss.hp_start, "aw", @nobits
hp_osxsave:
	.zero 1

/* An XSAVE image in its init state: legacy area with FCW = 0x37f and MXCSR = 0x1f80 (the
 * reset values), XSTATE_BV = 0 in the header so xrstor puts every component in its initial
 * configuration. fxrstor reads only the 512-byte legacy area. Read-only: module code cannot
 * change it, and guest memory is restored between calls anyway. */
	.section .rodata
	.balign 64
clean_fpu_state:
	.word 0x037f            /* FCW */
	.fill 22, 1, 0
	.long 0x1f80            /* MXCSR at offset 24 */
	.long 0xffff            /* MXCSR_MASK */
	.fill 512 - 32, 1, 0
	.fill 64, 1, 0          /* XSAVE header: XSTATE_BV = XCOMP_BV = 0 */
