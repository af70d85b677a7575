/* kvm_setup.c - the aarch64 backend's per-/dev/kvm setup: the ELF machine, the core image,
 * the vCPU target KVM prefers, whether undecodable data aborts can exit to us, and the CPU
 * features read from a scratch vCPU's ID registers (detected, never assumed). */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "aarch64.h"
#include "arch/arch.h"
#include "vm_internal.h"

uint16_t hp_arch_elf_machine(void)
{
	return 183; /* EM_AARCH64 */
}

void hp_arch_core_image(const uint8_t **bytes, size_t *size)
{
	*bytes = hp_core_aarch64;
	*size = hp_core_aarch64_size;
}

/* ID registers are per vCPU: a scratch VM with one vCPU answers for every VM of this handle
 * (KVM gives all of them the same sanitised view of the host CPU). */
static int read_id_regs(struct hp_kvm *kvm, struct a64_kvm *a, struct hp_error *err)
{
	int vm = ioctl(kvm->fd, KVM_CREATE_VM, 0);
	if (vm < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_CREATE_VM (reading ID registers)");
	int rc = -1;
	if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &a->init) < 0) {
		hp_fail_errno(err, HP_E_KVM, "KVM_ARM_PREFERRED_TARGET");
		goto out;
	}
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		hp_fail_errno(err, HP_E_KVM, "KVM_CREATE_VCPU (reading ID registers)");
		goto out;
	}
	if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &a->init) < 0)
		hp_fail_errno(err, HP_E_KVM, "KVM_ARM_VCPU_INIT (reading ID registers)");
	else
		rc = hp_a64_get_reg(vcpu, A64_ID_AA64ISAR0_EL1, &a->isar0, err);
	close(vcpu);
out:
	close(vm);
	return rc;
}

/* The arm64 ioctls this backend makes, for a worker's seccomp filter (hp_kvm_ioctls). */
size_t hp_arch_ioctls(unsigned long *out, size_t max)
{
	static const unsigned long ours[] = {
		KVM_ARM_PREFERRED_TARGET, KVM_ARM_VCPU_INIT, KVM_ENABLE_CAP, KVM_GET_ONE_REG,
		KVM_SET_ONE_REG,
	};
	size_t n = 0;
	for (; n < sizeof(ours) / sizeof(ours[0]) && n < max; n++)
		out[n] = ours[n];
	return n;
}

int hp_arch_kvm_init(struct hp_kvm *kvm, struct hp_error *err)
{
	struct a64_kvm *a = calloc(1, sizeof(*a));
	if (!a)
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	if (read_id_regs(kvm, a, err)) {
		free(a);
		return -1;
	}
	a->nisv_to_user = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_NISV_TO_USER) > 0;
	kvm->arch = a;
	return 0;
}

void hp_arch_kvm_fini(struct hp_kvm *kvm)
{
	free(kvm->arch);
	kvm->arch = NULL;
}

/* ID_AA64ISAR0_EL1.Atomic (bits 23:20) = 0b0010: FEAT_LSE. */
uint32_t hp_arch_cpu_flags(const struct hp_kvm *kvm)
{
	const struct a64_kvm *a = kvm->arch;
	return ((a->isar0 >> 20) & 0xf) >= 2 ? HP_CPU_LSE : 0;
}
