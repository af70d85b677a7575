/* start.S - the two ways the host enters module code (both at CPL3).
 *  _start:            once, via the core's iretq, with rsp = stack top; runs init.
 *  hp_dispatch_entry: for every call; the host sets rip here and rsp to the stack top.
 * The SysV ABI wants rsp % 16 == 8 at a function's first instruction (after the call's push):
 * align, then `call`. printf's prologue uses movaps on the stack, so this matters. */
	.section .text.hp_start, "ax"
	.globl _start
_start:
	andq $-16, %rsp
	xorl %ebp, %ebp
	fninit
	call hp_runtime_init
	ud2

	.globl hp_dispatch_entry
hp_dispatch_entry:
	andq $-16, %rsp
	xorl %ebp, %ebp
	call hp_runtime_dispatch
	ud2
