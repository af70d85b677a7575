/* x86_64.h - what the files of the x86_64 backend share (vmm/arch/x86_64/ only): architectural
 * constants, the per-kvm and per-vCPU state kept in hp_kvm.arch and hp_vm.arch, and the
 * functions one file offers another. */
#ifndef HP_ARCH_X86_64_H
#define HP_ARCH_X86_64_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/hp_abi_arch.h"

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_OSXSAVE (1ull << 18)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define RFLAGS_FIXED 0x2ull

/* The TSS has no I/O bitmap (its offset points past the limit): with IOPL=0, CPL3 code can use
 * no I/O port at all. */
#define TSS_LIMIT 0x67
#define TSS_IOMAP_NONE 0x68

#define XCR0_X87 1ull
#define XCR0_SSE 2ull
#define XCR0_AVX 4ull

/* Page-table entry bits (paging.c; the unit test walks the tables with them). */
#define HP_X86_PTE_P   (1ull << 0)
#define HP_X86_PTE_RW  (1ull << 1)
#define HP_X86_PTE_US  (1ull << 2)
#define HP_X86_PTE_A   (1ull << 5)
#define HP_X86_PTE_D   (1ull << 6)
#define HP_X86_PTE_NX  (1ull << 63)
#define HP_X86_PTE_ADDR 0x000ffffffffff000ull

extern const uint8_t hp_core_x86_64[];
extern const size_t hp_core_x86_64_size;

struct x86_kvm {
	struct kvm_cpuid2 *cpuid;
	bool xsave, avx;
};

struct x86_vcpu {
	struct kvm_sregs user_sregs; /* CPL3 state captured after init */
	struct kvm_vcpu_events events; /* no pending exception/interrupt/NMI */
};

/* What a clone's vCPU starts from: the template's state after init. */
struct x86_state {
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	struct kvm_xsave xsave; /* the legacy 4 KiB area is enough for x87/SSE/AVX */
};

/* tables.c: the GDT, the TSS and the IDT in the core tables page of mem, for the core whose
 * header is `core`. */
void hp_x86_build_tables(uint8_t *mem, const struct hp_x86_core_header *core);

#endif
