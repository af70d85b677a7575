/* vcpu.c - the x86_64 vCPU: long-mode state at start-up, the state clones start from, the
 * per-call reset, and the host-thread cleanup after every KVM_RUN.
 *
 * The vCPU starts in the core (CPL0) at its entry, which irets to the module at CPL3. After
 * init every call re-enters module code at CPL3 directly: rip/rsp/rflags go in through
 * kvm_run->s.regs (KVM_CAP_SYNC_REGS) in the same KVM_RUN, so a call costs no extra vCPU
 * ioctl (~5 us each on this machine's KVM). */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <asm/prctl.h>

#include "arch/arch.h"
#include "vm_internal.h"
#include "x86_64.h"

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
	hp_x86_build_tables(vm->mem, &core);

	uint64_t cr3;
	if (hp_arch_build_page_tables(vm->mem, vm->mem_size, mod->regions, mod->nregions, &cr3, err))
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
int hp_arch_prepare_call(struct hp_vm *vm, struct hp_error *err)
{
	(void)err;
	struct x86_vcpu *v = vm->arch;
	struct kvm_regs *r = &vm->run->s.regs.regs;
	memset(r, 0, sizeof(*r));
	r->rip = vm->dispatch_entry;
	r->rsp = vm->mod->layout.stack_top;
	r->rflags = RFLAGS_FIXED;
	vm->run->s.regs.sregs = v->user_sregs;
	vm->run->s.regs.events = v->events;
	vm->run->kvm_dirty_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
	return 0;
}
