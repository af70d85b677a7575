/* x86_64 inline part of the guest runtime's arch interface (guest/arch_interface.h). */
#ifndef HP_GUEST_ARCH_X86_64_H
#define HP_GUEST_ARCH_X86_64_H

#include <stdint.h>

#include "hp_abi.h"
#include "arch/x86_64/hp_abi_arch.h"

/* A plain 32-bit store to the hypercall page exits to the host (KVM_EXIT_MMIO). A simple
 * `mov` keeps the instruction easy for KVM to decode. The memory clobber makes every call block
 * write before it visible to the host. */
static inline void hp_arch_hypercall(uint32_t nr)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(nr), "r"((uintptr_t)HP_GPA_HYPERCALL) : "memory");
}

/* Never returns: a hlt at CPL3 faults, which the core reports. Used only if the host were to
 * resume a finished call, which it must not. */
static inline _Noreturn void hp_arch_halt(void)
{
	for (;;)
		__asm__ volatile("hlt");
}

#endif
