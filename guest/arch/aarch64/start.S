/* start.S - the two ways module code is entered (both at EL0, through an eret of the core).
 *  _start:            once, from the core's entry, with SP_EL0 = stack top; runs init.
 *  hp_dispatch_entry: for every call, from the core's call entry, which has already put every
 *                     general and FP/SIMD register, FPCR, FPSR and TPIDR_EL0 in their initial
 *                     state and SP_EL0 at the stack top (it runs at EL1, so a module cannot
 *                     skip it). Guest memory is restored by the host.
 * AAPCS64 wants sp % 16 == 0 at every public interface: align, clear the frame chain, call. */
#include "hp_abi.h"
#include "arch/aarch64/hp_abi_arch.h"

	.section .text.hp_start, "ax"
	.globl _start
	.type _start, %function
_start:
	mov x0, sp
	and x0, x0, #~15
	mov sp, x0
	mov x29, #0
	mov x30, #0
	bl hp_runtime_init
	.inst 0x00000000        /* udf #0: hp_runtime_init does not return */

	.globl hp_dispatch_entry
	.type hp_dispatch_entry, %function
hp_dispatch_entry:
	mov x0, sp
	and x0, x0, #~15
	mov sp, x0
	mov x29, #0
	mov x30, #0
	bl hp_runtime_dispatch
	.inst 0x00000000        /* udf #0 */
