/* kvm_setup.c - the x86_64 backend's per-/dev/kvm setup: the ELF machine, the core image, the
 * CPUID every vCPU gets (KVM's supported set: module code runs with it), and what the call
 * block's cpu_flags tell the guest entry code. */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "vm_internal.h"
#include "x86_64.h"

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

size_t hp_arch_ioctls(unsigned long *out, size_t max)
{
	static const unsigned long ours[] = {
		KVM_GET_SUPPORTED_CPUID, KVM_SET_CPUID2, KVM_GET_SREGS, KVM_SET_SREGS, KVM_SET_REGS,
		KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_XSAVE, KVM_SET_XSAVE, KVM_SET_XCRS,
	};
	size_t n = 0;
	for (; n < sizeof(ours) / sizeof(ours[0]) && n < max; n++)
		out[n] = ours[n];
	return n;
}

int hp_arch_kvm_init(struct hp_kvm *kvm, struct hp_error *err)
{
	/* Every call's registers go in through kvm_run (vcpu.c). */
	if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) <= 0)
		return hp_fail(err, HP_E_KVM, "/dev/kvm lacks KVM_CAP_SYNC_REGS, which hyperpool needs");
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

uint32_t hp_arch_cpu_flags(const struct hp_kvm *kvm)
{
	const struct x86_kvm *x = kvm->arch;
	return x->xsave ? HP_CPU_XSAVE : 0;
}
