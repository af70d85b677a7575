/* exits.c - what a KVM exit of an x86_64 VM means: a hypercall from module code (a 32-bit MMIO
 * store to the hypercall page), a fault the core reported (an `out` from the core text), or an
 * error with a message; and whether KVM still has the exit's instruction to complete. */
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "vm_internal.h"
#include "x86_64.h"

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
