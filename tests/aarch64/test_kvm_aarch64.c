/* test_kvm_aarch64.c - the emulated arm64 machine of the aarch64 suite offers a working KVM:
 * it creates a VM and a vCPU (KVM_ARM_PREFERRED_TARGET + KVM_ARM_VCPU_INIT), runs four
 * instructions at EL1 and sees the store to an address with no memslot come out as
 * KVM_EXIT_MMIO with the right address, width and data, 100 times. Independent of
 * libhpvmm on purpose: when the backend's tests fail inside, this one says whether the
 * machine itself is at fault.
 * Exit 0 pass, 1 fail, 77 skip (only when /dev/kvm does not exist). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_BASE 0x10000u
#define MEM_SIZE 0x10000u
#define MMIO_ADDR 0x20000000u
#define MMIO_DATA 0x1234u

/* movz x1, #0x2000, lsl #16; movz x0, #0x1234; str x0, [x1]; b . */
static const uint32_t guest_code[] = { 0xD2A40001u, 0xD2824680u, 0xF9000020u, 0x14000000u };

#define CORE_REG(field) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
	(offsetof(struct kvm_regs, field) / sizeof(uint32_t)))

static int fail(const char *what)
{
	printf("FAIL: %s: %s\n", what, strerror(errno));
	return 1;
}

static int set_reg(int vcpu, uint64_t id, uint64_t value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)&value };
	return ioctl(vcpu, KVM_SET_ONE_REG, &reg);
}

/* One run from the first instruction: the exit must be the 8-byte MMIO store. */
static int run_once(int vcpu, struct kvm_run *run)
{
	if (set_reg(vcpu, CORE_REG(regs.pc), MEM_BASE) < 0)
		return fail("KVM_SET_ONE_REG pc");
	if (set_reg(vcpu, CORE_REG(regs.pstate), 0x3c5) < 0)   /* EL1h, DAIF masked */
		return fail("KVM_SET_ONE_REG pstate");
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return fail("KVM_RUN");
	if (run->exit_reason != KVM_EXIT_MMIO) {
		printf("FAIL: exit reason %u, want KVM_EXIT_MMIO (%d)\n", run->exit_reason, KVM_EXIT_MMIO);
		return 1;
	}
	uint64_t data = 0;
	memcpy(&data, run->mmio.data, sizeof(data));
	if (run->mmio.phys_addr != MMIO_ADDR || run->mmio.len != 8 || !run->mmio.is_write ||
	    data != MMIO_DATA) {
		printf("FAIL: MMIO exit addr 0x%llx len %u write %u data 0x%llx, want 0x%x 8 1 0x%x\n",
		       (unsigned long long)run->mmio.phys_addr, run->mmio.len, run->mmio.is_write,
		       (unsigned long long)data, MMIO_ADDR, MMIO_DATA);
		return 1;
	}
	return 0;
}

static int setup_memory(int vm)
{
	void *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap");
	memcpy(mem, guest_code, sizeof(guest_code));
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = MEM_BASE, .memory_size = MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	return 0;
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0 && errno == ENOENT) {
		printf("skip: /dev/kvm does not exist on this machine\n");
		return 77;
	}
	if (kvm < 0)
		return fail("open /dev/kvm");
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	if (setup_memory(vm))
		return 1;
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	struct kvm_vcpu_init init;
	if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		return fail("KVM_ARM_PREFERRED_TARGET");
	if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) < 0)
		return fail("KVM_ARM_VCPU_INIT");
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail("mmap kvm_run");
	for (int i = 0; i < 100; i++)
		if (run_once(vcpu, run))
			return 1;
	printf("ok: 100 runs, each ended by an 8-byte MMIO store to 0x%x (target %u)\n", MMIO_ADDR,
	       init.target);
	return 0;
}
