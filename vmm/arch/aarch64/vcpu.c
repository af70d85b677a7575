/* vcpu.c - the aarch64 vCPU: EL1 state at start-up, the state clones start from, the per-call
 * reset.
 *
 * A vCPU is KVM_ARM_VCPU_INIT'ed with the target KVM prefers (every register at its
 * architectural reset value), then given the EL1 system registers of aarch64.h, SP_EL1 and the
 * core's entry: it starts in the core at EL1h, which erets to the module at EL0. Every call
 * after init re-enters the core at its call entry: KVM has no sync_regs for arm64, so the host
 * sets only PC and PSTATE (two KVM_SET_ONE_REGs) and the core itself puts everything EL0 can
 * change (x0-x30, V0-V31, FPCR, FPSR, TPIDR_EL0, SP_EL0, NZCV through SPSR_EL1, the exclusive
 * monitor) in its initial state before the eret: some sixty instructions instead of some
 * seventy register ioctls. What EL0 cannot change (the EL1 system registers, SP_EL1, VBAR)
 * stays as set up. */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "aarch64.h"
#include "arch/arch.h"
#include "vm_internal.h"

int hp_a64_set_reg(int vcpu_fd, uint64_t id, uint64_t value, struct hp_error *err)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&value };
	if (ioctl(vcpu_fd, KVM_SET_ONE_REG, &r) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_SET_ONE_REG %#llx", (unsigned long long)id);
	return 0;
}

int hp_a64_get_reg(int vcpu_fd, uint64_t id, uint64_t *value, struct hp_error *err)
{
	*value = 0;
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)value };
	if (ioctl(vcpu_fd, KVM_GET_ONE_REG, &r) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_GET_ONE_REG %#llx", (unsigned long long)id);
	return 0;
}

int hp_a64_vcpu_init(int vcpu_fd, const struct a64_kvm *k, const struct a64_state *s,
		     struct hp_error *err)
{
	struct kvm_vcpu_init init = k->init;
	if (ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_ARM_VCPU_INIT");
	const struct { uint64_t id, value; } regs[] = {
		{ A64_MAIR_EL1, A64_MAIR_VALUE },
		{ A64_TCR_EL1, A64_TCR_VALUE },
		{ A64_TTBR0_EL1, s->ttbr0 },
		{ A64_TTBR1_EL1, 0 },
		{ A64_CPACR_EL1, A64_CPACR_VALUE },
		{ A64_VBAR_EL1, s->vbar },
		{ A64_CNTKCTL_EL1, 0 }, /* EL0 can neither read nor program the timers */
		{ A64_SCTLR_EL1, A64_SCTLR_VALUE }, /* last: the MMU goes on with the rest in place */
		{ A64_REG_SP_EL1, HP_GPA_CORE_STACK + HP_CORE_STACK_SIZE },
		{ A64_REG_PSTATE, A64_PSTATE_EL1H },
	};
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (hp_a64_set_reg(vcpu_fd, regs[i].id, regs[i].value, err))
			return -1;
	return 0;
}

/* Undecodable data aborts (no valid syndrome, e.g. a store pair or a writeback store to the
 * hypercall page) exit as KVM_EXIT_ARM_NISV instead of failing KVM_RUN with ENOSYS. */
static int enable_nisv(struct hp_vm *vm, struct hp_error *err)
{
	const struct a64_kvm *k = vm->kvm->arch;
	if (!k->nisv_to_user)
		return 0;
	struct kvm_enable_cap cap = { .cap = KVM_CAP_ARM_NISV_TO_USER };
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_ENABLE_CAP(KVM_CAP_ARM_NISV_TO_USER)");
	return 0;
}

static struct a64_vcpu *vcpu_new(struct hp_vm *vm, uint64_t call_entry, struct hp_error *err)
{
	struct a64_vcpu *v = calloc(1, sizeof(*v));
	if (!v) {
		hp_fail(err, HP_E_NO_MEMORY, "out of memory");
		return NULL;
	}
	v->call_entry = call_entry;
	vm->arch = v;
	return v;
}

static int read_core_header(const struct hp_vm *vm, struct hp_a64_core_header *core,
			    struct hp_error *err)
{
	memcpy(core, vm->mem + HP_GPA_CORE_TEXT, sizeof(*core));
	uint64_t end = HP_GPA_CORE_TEXT + hp_core_aarch64_size;
	bool inside = core->entry >= HP_GPA_CORE_TEXT && core->entry < end &&
		      core->call_entry >= HP_GPA_CORE_TEXT && core->call_entry < end &&
		      core->vectors >= HP_GPA_CORE_TEXT && core->vectors + 0x800 <= end;
	if (core->magic != HP_CORE_MAGIC || core->abi_version != HP_ABI_VERSION || !inside ||
	    (core->vectors & 0x7ff) || ((core->entry | core->call_entry) & 3))
		return hp_fail(err, HP_E_INVALID, "the embedded aarch64 core image is malformed");
	return 0;
}

int hp_arch_vm_setup(struct hp_vm *vm, struct hp_error *err)
{
	const struct hp_module *mod = vm->mod;
	struct hp_a64_core_header core;
	if (read_core_header(vm, &core, err))
		return -1;
	struct a64_state s = { .vbar = core.vectors, .call_entry = core.call_entry };
	if (hp_arch_build_page_tables(vm->mem, vm->mem_size, mod->regions, mod->nregions,
				      &s.ttbr0, err))
		return -1;
	/* Until init is done the call entry has nowhere to go: zeroes make it fault. */
	hp_a64_write_tables(vm->mem, 0, 0);
	if (enable_nisv(vm, err) || hp_a64_vcpu_init(vm->vcpu_fd, vm->kvm->arch, &s, err) ||
	    hp_a64_set_reg(vm->vcpu_fd, A64_REG_PC, core.entry, err) ||
	    hp_a64_set_reg(vm->vcpu_fd, A64_REG_X(0), mod->img.entry, err) ||
	    hp_a64_set_reg(vm->vcpu_fd, A64_REG_X(1), mod->layout.stack_top, err))
		return -1;
	return vcpu_new(vm, core.call_entry, err) ? 0 : -1;
}

int hp_arch_capture(struct hp_vm *vm, void **state, struct hp_error *err)
{
	struct a64_vcpu *v = vm->arch;
	struct a64_state *s = calloc(1, sizeof(*s));
	if (!s)
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	s->call_entry = v->call_entry;
	if (hp_a64_get_reg(vm->vcpu_fd, A64_TTBR0_EL1, &s->ttbr0, err) ||
	    hp_a64_get_reg(vm->vcpu_fd, A64_VBAR_EL1, &s->vbar, err)) {
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

void hp_arch_state_free(void *state)
{
	free(state);
}

/* A clone's vCPU gets the template's EL1 state; PC and PSTATE come with each call. */
int hp_arch_clone_setup(struct hp_vm *vm, const void *state, struct hp_error *err)
{
	const struct a64_state *s = state;
	if (!vcpu_new(vm, s->call_entry, err))
		return -1;
	return enable_nisv(vm, err) || hp_a64_vcpu_init(vm->vcpu_fd, vm->kvm->arch, s, err) ? -1 : 0;
}

void hp_arch_vm_fini(struct hp_vm *vm)
{
	free(vm->arch);
	vm->arch = NULL;
}

/* Init ended with a hypercall from EL0; the core's call entry learns where calls start from
 * the core tables page, which the snapshot then carries to every clone. */
int hp_arch_after_init(struct hp_vm *vm, struct hp_error *err)
{
	uint64_t pstate;
	if (hp_a64_get_reg(vm->vcpu_fd, A64_REG_PSTATE, &pstate, err))
		return -1;
	if ((pstate & A64_PSTATE_MODE_MASK) != A64_PSTATE_EL0T)
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "init finished outside EL0 (PSTATE %#llx)",
			       (unsigned long long)pstate);
	hp_a64_write_tables(vm->mem, vm->dispatch_entry, vm->mod->layout.stack_top);
	return 0;
}

/* Nothing of guest code reaches this thread's own CPU state on arm64 KVM (EL0 runs only
 * inside the guest's own context). */
void hp_arch_after_run(struct hp_vm *vm)
{
	(void)vm;
}

int hp_arch_prepare_call(struct hp_vm *vm, struct hp_error *err)
{
	const struct a64_vcpu *v = vm->arch;
	return hp_a64_set_reg(vm->vcpu_fd, A64_REG_PC, v->call_entry, err) ||
	       hp_a64_set_reg(vm->vcpu_fd, A64_REG_PSTATE, A64_PSTATE_EL1H, err) ? -1 : 0;
}
