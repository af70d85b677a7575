/* x86_64 values of the guest ABI.
 *
 * Module code (CPL3) makes hypercalls through the hypercall page (an MMIO store, see hp_abi.h),
 * with IOPL=0 and no I/O bitmap: it can use no I/O port at all. (PVM-backed KVM does not
 * emulate `out` from CPL3 even with IOPL=3: it raises #GP.) The core (CPL0) reports faults
 * with `outl %eax, %dx`, dx = HP_X86_CORE_PORT, eax = HP_HC_FAULT: an I/O exit therefore always
 * comes from the core, never from module code. */
#ifndef HP_ABI_ARCH_X86_64_H
#define HP_ABI_ARCH_X86_64_H

#define HP_X86_CORE_PORT 0x0e9f

/* Bits of the call block's cpu_flags (arch-defined, see hp_abi.h). */
#define HP_CPU_XSAVE 1 /* XSAVE is enabled (CR4.OSXSAVE): the entry code may use xrstor */

/* Segment selectors of the GDT the host builds in the core tables page. */
#define HP_X86_SEL_KCODE 0x08
#define HP_X86_SEL_KDATA 0x10
#define HP_X86_SEL_UDATA 0x1b /* 0x18 | RPL3 */
#define HP_X86_SEL_UCODE 0x23 /* 0x20 | RPL3 */
#define HP_X86_SEL_TSS   0x28

/* The core tables page: GDT at +0, TSS at +0x100, IDT at +0x800 (256 * 16 bytes). */
#define HP_X86_GDT_OFF 0x000
#define HP_X86_TSS_OFF 0x100
#define HP_X86_IDT_OFF 0x800

/* The core image starts with this header so the host finds its entry points without symbols. */
#define HP_CORE_MAGIC 0x45524f43 /* "CORE" */
#ifndef __ASSEMBLER__
#include <stdint.h>

struct hp_x86_core_header {
	uint32_t magic;
	uint32_t abi_version;
	uint64_t entry;        /* CPL0 start: rdi = user entry, rsi = user stack top; iretq to CPL3 */
	uint64_t vectors;      /* address of the 32 exception stubs */
	uint64_t vector_stride;/* bytes between stubs */
};
#endif

/* At HP_HC_FAULT the core leaves the details in registers. */
/* rdi = vector, rsi = error code, r10 = faulting rip, rcx = cr2 (page faults), r8 = faulting cs,
 * r9 = faulting rsp. The host trusts these only when the exit rip lies in the core text. */

#endif
