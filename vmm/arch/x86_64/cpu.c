/* cpu.c - the x86_64 backend: CPUID, descriptor tables, long-mode vCPU state, exit decoding.
 *
 * The vCPU starts in the core (CPL0) at its entry, which irets to the module at CPL3. After
 * init every call re-enters module code at CPL3 directly: rip/rsp/rflags go in through
 * kvm_run->s.regs (KVM_CAP_SYNC_REGS) in the same KVM_RUN, so a call costs no extra vCPU
 * ioctl (~5 us each on this machine's KVM). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <asm/prctl.h>

#include "arch/x86_64/hp_abi_arch.h"
#include "paging.h"
#include "vm_internal.h"

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

uint16_t hp_arch_elf_machine(void)
{
	return 62; /* EM_X86_64 */
}

void hp_arch_core_image(const uint8_t **bytes, size_t *size)
{
	*bytes = hp_core_x86_64;
	*size = hp_core_x86_64_size;
}

static const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid2 *c, uint32_t fn,
						 uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

int hp_arch_kvm_init(struct hp_kvm *kvm, struct hp_error *err)
{
	struct x86_kvm *x = calloc(1, sizeof(*x));
	if (!x)
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	for (uint32_t n = 64; n <= 4096; n *= 2) {
		free(x->cpuid);
		x->cpuid = calloc(1, sizeof(*x->cpuid) + n * sizeof(struct kvm_cpuid_entry2));
		if (!x->cpuid)
			break;
		x->cpuid->nent = n;
		if (ioctl(kvm->fd, KVM_GET_SUPPORTED_CPUID, x->cpuid) == 0)
			break;
		if (errno != E2BIG) {
			hp_fail_errno(err, HP_E_KVM, "KVM_GET_SUPPORTED_CPUID");
			goto fail;
		}
	}
	if (!x->cpuid) {
		hp_fail(err, HP_E_NO_MEMORY, "out of memory");
		goto fail;
	}
	const struct kvm_cpuid_entry2 *leaf1 = cpuid_find(x->cpuid, 1, 0);
	if (!leaf1 || !(leaf1->edx & (1u << 25)) || !(leaf1->edx & (1u << 26))) {
		hp_fail(err, HP_E_KVM, "KVM's virtual CPU lacks SSE/SSE2, which guest code needs");
		goto fail;
	}
	x->xsave = leaf1->ecx & (1u << 26);
	x->avx = x->xsave && (leaf1->ecx & (1u << 28));
	kvm->arch = x;
	return 0;
fail:
	free(x->cpuid);
	free(x);
	return -1;
}

void hp_arch_kvm_fini(struct hp_kvm *kvm)
{
	struct x86_kvm *x = kvm->arch;
	if (x)
		free(x->cpuid);
	free(x);
	kvm->arch = NULL;
}

/* --- descriptor tables in the core tables page ------------------------------------------- */

static uint64_t seg_desc(uint64_t type, unsigned dpl, bool code)
{
	/* base 0, limit 0xfffff, G=1, P=1, S=1, accessed preset (the CPU need not write). */
	uint64_t d = 0xffffull | (0xfull << 48) | (1ull << 55) | (1ull << 47) | (1ull << 44);
	d |= (type | 1) << 40 | (uint64_t)dpl << 45;
	if (code)
		d |= 1ull << 53; /* L: 64-bit code */
	else
		d |= 1ull << 54; /* D/B */
	return d;
}

static void build_tables(uint8_t *mem, const struct hp_x86_core_header *core)
{
	uint8_t *page = mem + HP_GPA_CORE_TABLES;
	uint64_t *gdt = (uint64_t *)(void *)(page + HP_X86_GDT_OFF);
	memset(page, 0, HP_PAGE_SIZE);
	gdt[0] = 0;
	gdt[1] = seg_desc(0xa, 0, true);  /* 0x08 kernel code: execute/read */
	gdt[2] = seg_desc(0x2, 0, false); /* 0x10 kernel data: read/write */
	gdt[3] = seg_desc(0x2, 3, false); /* 0x18 user data */
	gdt[4] = seg_desc(0xa, 3, true);  /* 0x20 user code */
	/* 0x28: 64-bit TSS, 16 bytes, type 0xb (busy: the host loads TR, no LTR in the guest). */
	uint64_t tss = HP_GPA_CORE_TABLES + HP_X86_TSS_OFF, limit = TSS_LIMIT;
	gdt[5] = limit | (tss & 0xffffff) << 16 | 0xbull << 40 | 1ull << 47 |
		 ((tss >> 24) & 0xff) << 56;
	gdt[6] = tss >> 32;

	/* TSS: RSP0 = top of the first 8 KiB of the core stack, IST1 (double fault, NMI, MC)
	 * = top of the rest, so a fault on a broken stack still has somewhere to go. */
	uint8_t *t = page + HP_X86_TSS_OFF;
	uint64_t rsp0 = HP_GPA_CORE_STACK + HP_CORE_STACK_SIZE / 2;
	uint64_t ist1 = HP_GPA_CORE_STACK + HP_CORE_STACK_SIZE;
	memcpy(t + 4, &rsp0, 8);
	memcpy(t + 0x24, &ist1, 8);
	uint16_t iomap = TSS_IOMAP_NONE;
	memcpy(t + 0x66, &iomap, 2);

	uint64_t *idt = (uint64_t *)(void *)(page + HP_X86_IDT_OFF);
	for (unsigned v = 0; v < 32; v++) {
		uint64_t h = core->vectors + v * core->vector_stride;
		unsigned ist = (v == 2 || v == 8 || v == 18) ? 1 : 0;
		idt[2 * v] = (h & 0xffff) | (uint64_t)HP_X86_SEL_KCODE << 16 | (uint64_t)ist << 32 |
			     0xeull << 40 /* interrupt gate */ | 1ull << 47 |
			     ((h >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = h >> 32;
	}
}

static struct kvm_segment segment(uint16_t sel, uint8_t type, uint8_t dpl, bool code)
{
	return (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = sel,
				     .type = type, .present = 1, .dpl = dpl, .db = code ? 0 : 1,
				     .s = 1, .l = code ? 1 : 0, .g = 1 };
}

static int setup_sregs(struct hp_vm *vm, uint64_t cr3, struct hp_error *err)
{
	struct x86_kvm *x = vm->kvm->arch;
	struct kvm_sregs s;
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_GET_SREGS");
	s.cs = segment(HP_X86_SEL_KCODE, 0xb, 0, true);
	s.ds = s.es = s.ss = segment(HP_X86_SEL_KDATA, 0x3, 0, false);
	s.fs = s.gs = segment(HP_X86_SEL_UDATA, 0x3, 3, false);
	s.tr = (struct kvm_segment){ .base = HP_GPA_CORE_TABLES + HP_X86_TSS_OFF, .limit = TSS_LIMIT,
				     .selector = HP_X86_SEL_TSS, .type = 0xb, .present = 1 };
	s.ldt = (struct kvm_segment){ .type = 0x2, .present = 1, .unusable = 1 };
	s.gdt.base = HP_GPA_CORE_TABLES + HP_X86_GDT_OFF;
	s.gdt.limit = 7 * 8 - 1;
	s.idt.base = HP_GPA_CORE_TABLES + HP_X86_IDT_OFF;
	s.idt.limit = 32 * 16 - 1;
	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	s.cr3 = cr3;
	s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (x->xsave ? CR4_OSXSAVE : 0);
	s.efer = EFER_LME | EFER_LMA | EFER_NXE;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_SET_SREGS (long mode)");
	return 0;
}

static int setup_xcr0(struct hp_vm *vm, struct hp_error *err)
{
	struct x86_kvm *x = vm->kvm->arch;
	if (!x->xsave)
		return 0;
	struct kvm_xcrs xcrs = { .nr_xcrs = 1 };
	xcrs.xcrs[0].xcr = 0;
	xcrs.xcrs[0].value = XCR0_X87 | XCR0_SSE | (x->avx ? XCR0_AVX : 0);
	if (ioctl(vm->vcpu_fd, KVM_SET_XCRS, &xcrs) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_SET_XCRS");
	return 0;
}

static struct x86_vcpu *vcpu_new(struct hp_vm *vm, struct hp_error *err)
{
	struct x86_vcpu *v = calloc(1, sizeof(*v));
	if (!v) {
		hp_fail(err, HP_E_NO_MEMORY, "out of memory");
		return NULL;
	}
	vm->arch = v;
	vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	return v;
}

int hp_arch_vm_setup(struct hp_vm *vm, struct hp_error *err)
{
	struct x86_kvm *x = vm->kvm->arch;
	const struct hp_module *mod = vm->mod;
	struct hp_x86_core_header core;
	memcpy(&core, vm->mem + HP_GPA_CORE_TEXT, sizeof(core));
	uint64_t core_end = HP_GPA_CORE_TEXT + hp_core_x86_64_size;
	if (core.magic != HP_CORE_MAGIC || core.abi_version != HP_ABI_VERSION ||
	    core.entry < HP_GPA_CORE_TEXT || core.entry >= core_end ||
	    core.vectors < HP_GPA_CORE_TEXT || core.vector_stride == 0 ||
	    core.vectors + 32 * core.vector_stride > core_end)
		return hp_fail(err, HP_E_INVALID, "the embedded x86_64 core image is malformed");
	build_tables(vm->mem, &core);

	uint64_t cr3;
	if (hp_x86_build_page_tables(vm->mem, vm->mem_size, mod->regions, mod->nregions, &cr3, err))
		return -1;
	if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, x->cpuid) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_SET_CPUID2");
	if (setup_sregs(vm, cr3, err) || setup_xcr0(vm, err))
		return -1;

	struct kvm_regs regs = { 0 };
	regs.rip = core.entry;
	regs.rsp = HP_GPA_CORE_STACK + HP_CORE_STACK_SIZE / 2;
	regs.rflags = RFLAGS_FIXED;
	regs.rdi = mod->img.entry;
	regs.rsi = mod->layout.stack_top;
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_SET_REGS");

	return vcpu_new(vm, err) ? 0 : -1;
}

uint32_t hp_arch_cpu_flags(const struct hp_kvm *kvm)
{
	const struct x86_kvm *x = kvm->arch;
	return x->xsave ? HP_CPU_XSAVE : 0;
}

int hp_arch_capture(struct hp_vm *vm, void **state, struct hp_error *err)
{
	struct x86_vcpu *v = vm->arch;
	struct x86_state *s = calloc(1, sizeof(*s));
	if (!s)
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	s->sregs = v->user_sregs;
	if (ioctl(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &s->events) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_XSAVE, &s->xsave) < 0) {
		free(s);
		return hp_fail_errno(err, HP_E_KVM, "reading the vCPU state after init");
	}
	*state = s;
	return 0;
}

void hp_arch_state_free(void *state)
{
	free(state);
}

/* A clone starts at CPL3 with the template's segment, control and FPU state; registers come
 * with each call through sync_regs. */
int hp_arch_clone_setup(struct hp_vm *vm, const void *state, struct hp_error *err)
{
	const struct x86_state *s = state;
	struct x86_kvm *x = vm->kvm->arch;
	struct x86_vcpu *v = vcpu_new(vm, err);
	if (!v)
		return -1;
	v->user_sregs = s->sregs;
	v->events = s->events;
	if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, x->cpuid) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_SET_CPUID2");
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s->sregs) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_SET_SREGS (clone)");
	if (setup_xcr0(vm, err))
		return -1;
	if (ioctl(vm->vcpu_fd, KVM_SET_XSAVE, &s->xsave) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_SET_XSAVE (clone)");
	if (ioctl(vm->vcpu_fd, KVM_SET_VCPU_EVENTS, &s->events) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_SET_VCPU_EVENTS (clone)");
	return 0;
}

void hp_arch_vm_fini(struct hp_vm *vm)
{
	free(vm->arch);
	vm->arch = NULL;
}

int hp_arch_after_init(struct hp_vm *vm, struct hp_error *err)
{
	struct x86_vcpu *v = vm->arch;
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &v->user_sregs) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_GET_SREGS after init");
	if (ioctl(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &v->events) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_GET_VCPU_EVENTS after init");
	if ((v->user_sregs.cs.selector & 3) != 3)
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "init finished outside user mode (cs %#x)",
			       v->user_sregs.cs.selector);
	return 0;
}

/* On a PVM host module code runs natively at CPL3 on this thread, and what it loads into
 * ds/es/fs/gs stays in the hardware registers: KVM's segment state (sync_regs, KVM_SET_SREGS)
 * does not reach them. The next call of any VM run by this thread would find them (a channel
 * from one module's call to another's), and they are this process's own selectors. After every
 * KVM_RUN they are put back to 0, what x86_64 Linux threads run with (guest code runs only
 * inside KVM_RUN, so nothing is left for the start of the next call). A
 * selector load also loads the segment's base: fs and gs are reset with arch_prctl, which keeps
 * the thread's FS base (TLS) and GS base. Normally nothing is loaded: four register reads.
 * Runs after every KVM_RUN, however it returned (an EINTR of a deadline included). */
static void reset_host_selectors(void);

void hp_arch_after_run(struct hp_vm *vm)
{
	(void)vm;
	reset_host_selectors();
}

static void reset_host_selectors(void)
{
	uint16_t ds, es, fs, gs;
	__asm__ volatile("mov %%ds, %0" : "=r"(ds));
	__asm__ volatile("mov %%es, %0" : "=r"(es));
	__asm__ volatile("mov %%fs, %0" : "=r"(fs));
	__asm__ volatile("mov %%gs, %0" : "=r"(gs));
	if (ds | es)
		__asm__ volatile("mov %0, %%ds\n\tmov %0, %%es" : : "r"(0) : "memory");
	unsigned long base;
	if (fs && syscall(SYS_arch_prctl, ARCH_GET_FS, &base) == 0)
		syscall(SYS_arch_prctl, ARCH_SET_FS, base);
	if (gs && syscall(SYS_arch_prctl, ARCH_GET_GS, &base) == 0)
		syscall(SYS_arch_prctl, ARCH_SET_GS, base);
}

/* Every call starts from the snapshot's CPL3 state in the same KVM_RUN: general registers,
 * RIP/RSP/RFLAGS, all segment state (selectors and FS/GS bases included: a previous call could
 * have loaded other selectors, and this PVM host runs CPL3 code natively, so nothing is assumed
 * about what user mode cannot reach), control registers and pending events. sync_regs makes it
 * ~1 us instead of three ~5 us ioctls; segment loads in the guest would trap here (~7 us each). */
void hp_arch_prepare_call(struct hp_vm *vm)
{
	struct x86_vcpu *v = vm->arch;
	struct kvm_regs *r = &vm->run->s.regs.regs;
	memset(r, 0, sizeof(*r));
	r->rip = vm->dispatch_entry;
	r->rsp = vm->mod->layout.stack_top;
	r->rflags = RFLAGS_FIXED;
	vm->run->s.regs.sregs = v->user_sregs;
	vm->run->s.regs.events = v->events;
	vm->run->kvm_dirty_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
}

static const char *vector_name(uint64_t v)
{
	static const char *const names[32] = {
		"divide error", "debug exception", "NMI", "breakpoint (int3)", "overflow",
		"bound range exceeded", "invalid opcode", "device not available", "double fault",
		"coprocessor segment overrun", "invalid TSS", "segment not present",
		"stack-segment fault", "general protection fault", "page fault", "reserved (15)",
		"x87 floating-point exception", "alignment check", "machine check",
		"SIMD floating-point exception", "virtualization exception",
		"control protection exception",
	};
	return v < 32 && names[v] ? names[v] : "reserved exception";
}

static void decode_fault(struct hp_vm *vm, struct hp_exit *ex)
{
	const struct kvm_regs *r = &vm->run->s.regs.regs;
	const struct hp_layout *l = &vm->mod->layout;
	uint64_t vec = r->rdi, code = r->rsi, rip = r->r10, cr2 = r->rcx;
	ex->kind = HP_EXIT_FAULT;
	if (vec == 14) {
		if (cr2 >= l->guard && cr2 < l->guard + HP_PAGE_SIZE) {
			hp_fail(&ex->error, HP_E_GUEST_FAULT,
				"guest stack overflow (page fault at %#llx in the guard page, rip %#llx)",
				(unsigned long long)cr2, (unsigned long long)rip);
			return;
		}
		const char *what = code & 16 ? "executing" : code & 2 ? "writing" : "reading";
		/* 0x%llx, not %#llx: the latter prints a null address as "0", not "0x0". */
		hp_fail(&ex->error, HP_E_GUEST_FAULT, "guest page fault %s 0x%llx at rip %#llx (%s)",
			what, (unsigned long long)cr2, (unsigned long long)rip,
			code & 1 ? "protection violation" : "not mapped");
		return;
	}
	hp_fail(&ex->error, HP_E_GUEST_FAULT, "guest %s (vector %llu, error code %#llx) at rip %#llx",
		vector_name(vec), (unsigned long long)vec, (unsigned long long)code,
		(unsigned long long)rip);
}

/* Only the core uses I/O ports (module code has IOPL=0 and no I/O bitmap), and only to report
 * a fault. Anything else is reported, not served. */
static void decode_io(struct hp_vm *vm, struct hp_exit *ex)
{
	struct kvm_run *run = vm->run;
	const struct kvm_regs *r = &run->s.regs.regs;
	uint32_t nr = 0;
	bool from_core = r->rip >= HP_GPA_CORE_TEXT &&
			 r->rip < HP_GPA_CORE_TEXT + vm->mod->layout.core_size;
	bool well_formed = run->io.port == HP_X86_CORE_PORT &&
			   run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4 &&
			   run->io.count == 1 && run->io.data_offset <= vm->kvm->run_mmap_size - 4;
	if (well_formed)
		memcpy(&nr, (uint8_t *)run + run->io.data_offset, 4);
	if (from_core && well_formed && nr == HP_HC_FAULT) {
		decode_fault(vm, ex);
		return;
	}
	hp_fail(&ex->error, HP_E_VM_EXIT, "guest %s I/O port %#x (size %u) at rip %#llx",
		run->io.direction == KVM_EXIT_IO_OUT ? "wrote to" : "read from", run->io.port,
		run->io.size, (unsigned long long)r->rip);
	ex->kind = HP_EXIT_ERROR;
}

/* Module code's hypercalls: a 32-bit store to the hypercall page. */
static void decode_mmio(struct hp_vm *vm, struct hp_exit *ex)
{
	struct kvm_run *run = vm->run;
	if (run->mmio.phys_addr == HP_GPA_HYPERCALL && run->mmio.is_write && run->mmio.len == 4) {
		memcpy(&ex->nr, run->mmio.data, 4);
		ex->kind = HP_EXIT_HYPERCALL;
		return;
	}
	hp_fail(&ex->error, HP_E_GUEST_FAULT, "guest %s unbacked physical address %#llx (%u bytes) at rip %#llx",
		run->mmio.is_write ? "wrote to" : "read from",
		(unsigned long long)run->mmio.phys_addr, run->mmio.len,
		(unsigned long long)run->s.regs.regs.rip);
	ex->kind = HP_EXIT_ERROR;
}

/* An MMIO write is finished before KVM exits (the emulator has written back and advanced rip;
 * its completion only returns), and a hypercall is one: so the normal end of a call needs no
 * extra KVM_RUN. Reads, port I/O and everything else may still be completed. */
bool hp_arch_exit_completed(const struct hp_vm *vm)
{
	const struct kvm_run *run = vm->run;
	return (run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write) ||
	       run->exit_reason == KVM_EXIT_INTR;
}

static const char *internal_error_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION: return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV: return "event delivery failed";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "unexpected exit reason";
	default: return "internal error";
	}
}

void hp_arch_decode_exit(struct hp_vm *vm, struct hp_exit *ex)
{
	struct kvm_run *run = vm->run;
	const struct kvm_regs *r = &run->s.regs.regs;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		decode_io(vm, ex);
		return;
	case KVM_EXIT_INTR:
		ex->kind = HP_EXIT_RETRY;
		return;
	case KVM_EXIT_SHUTDOWN:
		hp_fail(&ex->error, HP_E_GUEST_FAULT, "guest triple fault (shutdown) near rip %#llx",
			(unsigned long long)r->rip);
		break;
	case KVM_EXIT_HLT:
		hp_fail(&ex->error, HP_E_VM_EXIT, "guest halted at rip %#llx", (unsigned long long)r->rip);
		break;
	case KVM_EXIT_MMIO:
		decode_mmio(vm, ex);
		return;
	case KVM_EXIT_FAIL_ENTRY:
		hp_fail(&ex->error, HP_E_KVM, "KVM could not enter the guest (reason %#llx)",
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		hp_fail(&ex->error, HP_E_VM_EXIT, "KVM internal error: %s (suberror %u) near rip %#llx",
			internal_error_name(run->internal.suberror), run->internal.suberror,
			(unsigned long long)r->rip);
		break;
	default:
		hp_fail(&ex->error, HP_E_VM_EXIT, "unexpected KVM exit reason %u", run->exit_reason);
		break;
	}
	ex->kind = HP_EXIT_ERROR;
}
