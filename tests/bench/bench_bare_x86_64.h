/* bench_bare_x86_64.h - the x86_64 part of the bare VMs of the benchmarks: a vCPU in long mode
 * at CPL3 in a loop of MMIO exits, built by hand (page tables from libhpvmm's builder, the rest
 * here) so that its exit round trip is the floor module code is read against. */
#ifndef BENCH_BARE_X86_64_H
#define BENCH_BARE_X86_64_H

#include "arch/arch.h"
#include "bench_common.h"

/* Puts the vCPU in long mode at CPL3 on `mov %eax, (%rbx); jmp .-2` at HP_GPA_IMAGE, with rbx
 * = HP_GPA_HYPERCALL, a page mapped in the guest page tables but backed by no memslot: each
 * KVM_RUN then returns with one KVM_EXIT_MMIO. The guest memory must reach past
 * HP_GPA_IMAGE + 2 pages (code, stack) and hold the page tables. When regs is not NULL it
 * receives the general registers set (for resetting them later). Returns NULL or the failed
 * step. */
static inline const char *bare_setup_cpl3(struct bare *b, struct kvm_regs *regs)
{
	static const uint8_t code[] = { 0x89, 0x03, 0xeb, 0xfc };
	uint64_t code_gpa = HP_GPA_IMAGE;
	memcpy(b->mem + code_gpa, code, sizeof(code));
	struct hp_region regions[] = {
		{ code_gpa, HP_PAGE_SIZE, HP_MAP_R | HP_MAP_X | HP_MAP_USER, "code" },
		{ code_gpa + HP_PAGE_SIZE, HP_PAGE_SIZE, HP_MAP_R | HP_MAP_W | HP_MAP_USER, "stack" },
		{ HP_GPA_HYPERCALL, HP_PAGE_SIZE, HP_MAP_W | HP_MAP_USER | HP_MAP_MMIO, "mmio" },
	};
	uint64_t cr3;
	struct hp_error err;
	if (hp_arch_build_page_tables(b->mem, b->mem_size, regions,
				      sizeof(regions) / sizeof(regions[0]), &cr3, &err)) {
		static char msg[160];
		snprintf(msg, sizeof(msg), "building page tables: %.120s", err.message);
		errno = 0;
		return msg;
	}
	/* A GDT with user code/data, so the state is architecturally sane. */
	uint64_t gdt_gpa = 0x1000;
	uint64_t gdt[5] = { 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull,
			    0x00cff3000000ffffull, 0x00affb000000ffffull };
	memcpy(b->mem + gdt_gpa, gdt, sizeof(gdt));
	struct kvm_sregs s;
	if (ioctl(b->vcpu, KVM_GET_SREGS, &s) < 0)
		return "KVM_GET_SREGS";
	struct kvm_segment ucode = { .limit = 0xffffffff, .selector = 0x23, .type = 0xb, .present = 1,
				     .dpl = 3, .s = 1, .l = 1, .g = 1 };
	struct kvm_segment udata = { .limit = 0xffffffff, .selector = 0x1b, .type = 0x3, .present = 1,
				     .dpl = 3, .db = 1, .s = 1, .g = 1 };
	s.cs = ucode;
	s.ds = s.es = s.fs = s.gs = s.ss = udata;
	s.gdt.base = gdt_gpa;
	s.gdt.limit = sizeof(gdt) - 1;
	s.cr0 = 0x80050033; /* PG WP NE ET MP PE */
	s.cr3 = cr3;
	s.cr4 = 0x620;      /* PAE OSFXSR OSXMMEXCPT */
	s.efer = 0xd00;     /* NXE LMA LME */
	if (ioctl(b->vcpu, KVM_SET_SREGS, &s) < 0)
		return "KVM_SET_SREGS (long mode)";
	struct kvm_regs r = { .rip = code_gpa, .rsp = code_gpa + 2 * HP_PAGE_SIZE, .rflags = 2,
			      .rbx = HP_GPA_HYPERCALL };
	if (ioctl(b->vcpu, KVM_SET_REGS, &r) < 0)
		return "KVM_SET_REGS";
	if (regs)
		*regs = r;
	return NULL;
}

#endif
