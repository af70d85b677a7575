/* kvm.c - the /dev/kvm handle: API version and the capabilities libhpvmm relies on. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <sys/mman.h>

#include "pagemap_scan.h"
#include "arch/arch.h"
#include "vm_internal.h"

static const struct {
	int cap;
	const char *name;
} required_caps[] = { /* every arch; an arch checks its own in hp_arch_kvm_init */
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
};

static int check_caps(int fd, struct hp_error *err)
{
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		int r = ioctl(fd, KVM_CHECK_EXTENSION, required_caps[i].cap);
		if (r <= 0)
			return hp_fail(err, HP_E_KVM, "/dev/kvm lacks %s, which hyperpool needs",
				       required_caps[i].name);
	}
	return 0;
}

/* Finding a VM's written pages through the page map needs /proc/self/pagemap; whether the
 * PAGEMAP_SCAN ioctl (Linux >= 6.7) works is probed once on a scratch mapping. */
static void open_pagemap(struct hp_kvm *kvm)
{
	kvm->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (kvm->pagemap_fd < 0)
		return;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	struct page_region r;
	struct pm_scan_arg arg = { .size = sizeof(arg), .start = (uintptr_t)p,
				   .end = (uintptr_t)p + 4096, .vec = (uintptr_t)&r, .vec_len = 1,
				   .category_anyof_mask = PAGE_IS_PRESENT, .return_mask = PAGE_IS_PRESENT };
	kvm->pagemap_scan = ioctl(kvm->pagemap_fd, PAGEMAP_SCAN, &arg) >= 0;
	munmap(p, 4096);
}

size_t hp_kvm_ioctls(unsigned long *out, size_t max)
{
	static const unsigned long generic[] = {
		KVM_CHECK_EXTENSION, KVM_GET_API_VERSION, KVM_GET_VCPU_MMAP_SIZE, KVM_CREATE_VM,
		KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VCPU, KVM_RUN, KVM_GET_DIRTY_LOG, PAGEMAP_SCAN,
	};
	size_t n = 0;
	for (; n < sizeof(generic) / sizeof(generic[0]) && n < max; n++)
		out[n] = generic[n];
	return n + hp_arch_ioctls(out + n, max - n);
}

int hp_kvm_open(struct hp_kvm **out, struct hp_error *err)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return hp_fail_errno(err, HP_E_KVM, "cannot open /dev/kvm");
	int version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		close(fd);
		return hp_fail(err, HP_E_KVM, "KVM API version is %d, expected %d", version,
			       KVM_API_VERSION);
	}
	if (check_caps(fd, err)) {
		close(fd);
		return -1;
	}
	int size = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run)) {
		close(fd);
		return hp_fail_errno(err, HP_E_KVM, "KVM_GET_VCPU_MMAP_SIZE");
	}
	struct hp_kvm *kvm = calloc(1, sizeof(*kvm));
	if (!kvm) {
		close(fd);
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	}
	kvm->fd = fd;
	kvm->run_mmap_size = (size_t)size;
	open_pagemap(kvm);
	if (hp_arch_kvm_init(kvm, err)) {
		close(fd);
		free(kvm);
		return -1;
	}
	*out = kvm;
	return 0;
}

void hp_kvm_close(struct hp_kvm *kvm)
{
	if (!kvm)
		return;
	hp_arch_kvm_fini(kvm);
	if (kvm->pagemap_fd >= 0)
		close(kvm->pagemap_fd);
	close(kvm->fd);
	free(kvm);
}
