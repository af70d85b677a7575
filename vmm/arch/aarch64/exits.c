/* exits.c - what a KVM exit of an aarch64 VM means: a hypercall from module code (a 32-bit
 * MMIO store to the hypercall page), a fault the core reported (the same store of HP_HC_FAULT
 * from the core text, ESR/FAR/ELR in x0..x5), an undecodable abort (KVM_EXIT_ARM_NISV), or an
 * error with a message; and whether KVM still has the exit's instruction to complete. */
#include <stdio.h>
#include <string.h>

#include "aarch64.h"
#include "arch/arch.h"
#include "vm_internal.h"

#define ESR_EC(esr) (((esr) >> 26) & 0x3f)
#define ESR_ISS(esr) ((esr) & 0x1ffffff)
#define EC_UNKNOWN   0x00
#define EC_WFX       0x01
#define EC_ILLEGAL   0x0e
#define EC_SVC       0x15
#define EC_SYSREG    0x18
#define EC_SVE       0x19
#define EC_IABT_LOW  0x20
#define EC_IABT_CUR  0x21
#define EC_PC_ALIGN  0x22
#define EC_DABT_LOW  0x24
#define EC_DABT_CUR  0x25
#define EC_SP_ALIGN  0x26
#define EC_FP        0x2c
#define EC_SERROR    0x2f
#define EC_BRK       0x3c

/* The fault status code (DFSC/IFSC) of an abort's ISS, in the words of x86_64's page-fault
 * messages where they mean the same (translation fault: "not mapped", permission fault:
 * "protection violation"), so that a page fault reads alike on both arches. */
static const char *fsc_name(uint64_t fsc)
{
	switch (fsc & 0x3c) {
	case 0x04: return "not mapped";
	case 0x08: return "access flag fault";
	case 0x0c: return "protection violation";
	}
	if (fsc == 0x10)
		return "synchronous external abort";
	if (fsc == 0x35)
		return "unsupported exclusive or atomic access";
	return "abort";
}

struct fault {
	uint64_t esr, far, elr, spsr, sp, slot;
};

#define FSC_ALIGNMENT 0x21

static void decode_abort(const struct hp_vm *vm, const struct fault *f, struct hp_exit *ex)
{
	const struct hp_layout *l = &vm->mod->layout;
	uint64_t iss = ESR_ISS(f->esr), ec = ESR_EC(f->esr), fsc = iss & 0x3f;
	bool data = ec == EC_DABT_LOW || ec == EC_DABT_CUR;
	if (data && f->far >= l->guard && f->far < l->guard + HP_PAGE_SIZE) {
		hp_fail(&ex->error, HP_E_GUEST_FAULT,
			"guest stack overflow (data abort at %#llx in the guard page, pc %#llx)",
			(unsigned long long)f->far, (unsigned long long)f->elr);
		return;
	}
	/* Cache maintenance (CM, bit 8) reports WnR = 1 without being a write. */
	const char *what = !data ? "executing" : (iss & (1u << 6)) && !(iss & (1u << 8)) ? "writing" : "reading";
	if (fsc == FSC_ALIGNMENT) {
		hp_fail(&ex->error, HP_E_GUEST_FAULT, "guest alignment fault %s 0x%llx at pc %#llx (ESR %#llx)",
			what, (unsigned long long)f->far, (unsigned long long)f->elr,
			(unsigned long long)f->esr);
		return;
	}
	/* 0x%llx, not %#llx: the latter prints a null address as "0", not "0x0". */
	hp_fail(&ex->error, HP_E_GUEST_FAULT, "guest page fault %s 0x%llx at pc %#llx (%s; %s abort, ESR %#llx)",
		what, (unsigned long long)f->far, (unsigned long long)f->elr, fsc_name(fsc),
		data ? "data" : "instruction", (unsigned long long)f->esr);
}

static const char *sync_name(uint64_t ec)
{
	switch (ec) {
	case EC_UNKNOWN: return "undefined instruction";
	case EC_WFX: return "wfi/wfe at EL0";
	case EC_ILLEGAL: return "illegal execution state";
	case EC_SVC: return "svc (system call)";
	case EC_SYSREG: return "system register access";
	case EC_SVE: return "SVE instruction";
	case EC_PC_ALIGN: return "PC alignment fault";
	case EC_SP_ALIGN: return "SP alignment fault";
	case EC_FP: return "floating-point exception";
	case EC_SERROR: return "SError";
	case EC_BRK: return "breakpoint (brk)";
	default: return "exception";
	}
}

static void decode_sync(const struct hp_vm *vm, const struct fault *f, struct hp_exit *ex)
{
	uint64_t ec = ESR_EC(f->esr);
	if (ec == EC_DABT_LOW || ec == EC_DABT_CUR || ec == EC_IABT_LOW || ec == EC_IABT_CUR) {
		decode_abort(vm, f, ex);
		return;
	}
	/* An svc's ELR is the instruction after it; every other exception's is its own. */
	uint64_t pc = ec == EC_SVC ? f->elr - 4 : f->elr;
	hp_fail(&ex->error, HP_E_GUEST_FAULT, "guest %s (ESR %#llx) at pc %#llx", sync_name(ec),
		(unsigned long long)f->esr, (unsigned long long)pc);
}

static int read_fault(const struct hp_vm *vm, struct fault *f, struct hp_error *err)
{
	uint64_t *out[] = { &f->esr, &f->far, &f->elr, &f->spsr, &f->sp, &f->slot };
	for (unsigned i = 0; i < 6; i++)
		if (hp_a64_get_reg(vm->vcpu_fd, A64_REG_X(i), out[i], err))
			return -1;
	return 0;
}

static void decode_fault(struct hp_vm *vm, struct hp_exit *ex)
{
	struct fault f;
	ex->kind = HP_EXIT_FAULT;
	if (read_fault(vm, &f, &ex->error)) {
		ex->kind = HP_EXIT_ERROR;
		return;
	}
	if (f.slot < HP_A64_SLOT_LOWER_SYNC) {
		hp_fail(&ex->error, HP_E_VM_EXIT, "the guest core took an exception (slot %llu, ESR %#llx, FAR %#llx) at pc %#llx",
			(unsigned long long)f.slot, (unsigned long long)f.esr,
			(unsigned long long)f.far, (unsigned long long)f.elr);
		ex->kind = HP_EXIT_ERROR;
		return;
	}
	switch (f.slot & 3) {
	case 0:
		decode_sync(vm, &f, ex);
		return;
	case 3:
		hp_fail(&ex->error, HP_E_GUEST_FAULT, "guest SError (ESR %#llx) near pc %#llx",
			(unsigned long long)f.esr, (unsigned long long)f.elr);
		return;
	default:
		hp_fail(&ex->error, HP_E_GUEST_FAULT, "guest took an unexpected %s at pc %#llx",
			(f.slot & 3) == 1 ? "IRQ" : "FIQ", (unsigned long long)f.elr);
		return;
	}
}

static uint64_t guest_pc(const struct hp_vm *vm)
{
	uint64_t pc;
	struct hp_error ignored;
	return hp_a64_get_reg(vm->vcpu_fd, A64_REG_PC, &pc, &ignored) ? ~0ull : pc;
}

static bool pc_in_core(const struct hp_vm *vm, uint64_t pc)
{
	return pc >= HP_GPA_CORE_TEXT && pc < HP_GPA_CORE_TEXT + vm->mod->layout.core_size;
}

/* Hypercalls: a 32-bit store to the start of the hypercall page. HP_HC_FAULT counts as the
 * core's report only from the core text (one ioctl, on that path only). */
static void decode_mmio(struct hp_vm *vm, struct hp_exit *ex)
{
	struct kvm_run *run = vm->run;
	if (run->mmio.phys_addr == HP_GPA_HYPERCALL && run->mmio.is_write && run->mmio.len == 4) {
		memcpy(&ex->nr, run->mmio.data, 4);
		if (ex->nr == HP_HC_FAULT && pc_in_core(vm, guest_pc(vm))) {
			decode_fault(vm, ex);
			return;
		}
		ex->kind = HP_EXIT_HYPERCALL;
		return;
	}
	hp_fail(&ex->error, HP_E_GUEST_FAULT, "guest %s unbacked physical address %#llx (%u bytes) at pc %#llx",
		run->mmio.is_write ? "wrote to" : "read from",
		(unsigned long long)run->mmio.phys_addr, run->mmio.len,
		(unsigned long long)guest_pc(vm));
	ex->kind = HP_EXIT_ERROR;
}

/* A data abort KVM could not decode (no valid syndrome: a load/store pair, a writeback form,
 * an exclusive, SIMD) on an address with no memslot: a guest fault, nothing to complete. */
static void decode_nisv(struct hp_vm *vm, struct hp_exit *ex)
{
	const struct kvm_run *run = vm->run;
	hp_fail(&ex->error, HP_E_GUEST_FAULT, "guest %s unbacked physical address %#llx with an instruction KVM cannot emulate (ESR ISS %#llx) at pc %#llx",
		run->arm_nisv.esr_iss & (1u << 6) ? "wrote to" : "read from",
		(unsigned long long)run->arm_nisv.fault_ipa,
		(unsigned long long)run->arm_nisv.esr_iss, (unsigned long long)guest_pc(vm));
	ex->kind = HP_EXIT_FAULT;
}

/* arm64 KVM retires an MMIO instruction, read or write, only on the next KVM_RUN
 * (kvm_handle_mmio_return: the register write-back and the PC step): so an MMIO exit is never
 * complete, and the generic code runs the completion before the next call sets PC. Nothing
 * else that exits to us leaves work behind (NISV: the PC stays, and the next call sets it). */
bool hp_arch_exit_completed(const struct hp_vm *vm)
{
	const struct kvm_run *run = vm->run;
	return run->exit_reason == KVM_EXIT_ARM_NISV || run->exit_reason == KVM_EXIT_INTR;
}

void hp_arch_decode_exit(struct hp_vm *vm, struct hp_exit *ex)
{
	struct kvm_run *run = vm->run;
	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		decode_mmio(vm, ex);
		return;
	case KVM_EXIT_INTR:
		ex->kind = HP_EXIT_RETRY;
		return;
	case KVM_EXIT_ARM_NISV:
		decode_nisv(vm, ex);
		return;
	case KVM_EXIT_SYSTEM_EVENT:
		hp_fail(&ex->error, HP_E_VM_EXIT, "guest system event %u (PSCI) near pc %#llx",
			run->system_event.type, (unsigned long long)guest_pc(vm));
		break;
	case KVM_EXIT_FAIL_ENTRY:
		hp_fail(&ex->error, HP_E_KVM, "KVM could not enter the guest (reason %#llx)",
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		hp_fail(&ex->error, HP_E_VM_EXIT, "KVM internal error (suberror %u) near pc %#llx",
			run->internal.suberror, (unsigned long long)guest_pc(vm));
		break;
	default:
		hp_fail(&ex->error, HP_E_VM_EXIT, "unexpected KVM exit reason %u", run->exit_reason);
		break;
	}
	ex->kind = HP_EXIT_ERROR;
}
