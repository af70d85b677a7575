/* aarch64 inline part of the guest runtime's arch interface (guest/arch_interface.h). */
#ifndef HP_GUEST_ARCH_AARCH64_H
#define HP_GUEST_ARCH_AARCH64_H

#include <stdint.h>

#include "hp_abi.h"
#include "arch/aarch64/hp_abi_arch.h"

/* A plain 32-bit `str` to the hypercall page exits to the host (KVM_EXIT_MMIO): a single
 * register store without writeback is what gives KVM a valid syndrome (ISV) to decode. The
 * `dmb ishst` orders every earlier store (call block, log, output) before it; the memory
 * clobber keeps the compiler from sinking them past it. */
static inline void hp_arch_hypercall(uint32_t nr)
{
	__asm__ volatile("dmb ishst\n\tstr %w0, [%1]"
			 : : "r"(nr), "r"((uintptr_t)HP_GPA_HYPERCALL) : "memory");
}

/* Never returns: wfi at EL0 traps to the core (SCTLR_EL1.nTWI = 0), which reports it. Used
 * only if the host were to resume a finished call, which it must not. */
static inline _Noreturn void hp_arch_halt(void)
{
	for (;;)
		__asm__ volatile("wfi");
}

#endif
