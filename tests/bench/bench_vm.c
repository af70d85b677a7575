/* bench_vm - what a VM and a call cost, next to the raw KVM floors measured in the same run.
 *
 *   bench_vm MATH_MODULE [ITERATIONS]
 *
 * Prints one table (median, p90, p99 in microseconds). The floors are bare VMs built here by
 * hand, without libhpvmm: a CPL0 (real mode) loop of `out`, and a CPL3 (long mode) loop of
 * MMIO stores, each exit served by an immediate KVM_RUN; and a bare VM create+teardown. The
 * numbers are for reading side by side, never for asserting: shared machines are noisy. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/paging.h"
#include "hp_abi.h"
#include "hpvmm.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct stats {
	double median, p90, p99;
};

static struct stats summarize(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return (struct stats){ v[n / 2], v[n * 90 / 100], v[n * 99 / 100] };
}

static void row(const char *what, struct stats s, size_t n)
{
	printf("| %-52s | %9.1f | %9.1f | %9.1f | %6zu |\n", what, s.median, s.p90, s.p99, n);
}

static void die(const char *what)
{
	fprintf(stderr, "bench_vm: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* --- bare floors ------------------------------------------------------------------------ */

struct bare {
	int vm, vcpu;
	uint8_t *mem;
	size_t mem_size;
	struct kvm_run *run;
	size_t run_size;
};

static void bare_create(int kvm, struct bare *b, size_t mem_size)
{
	b->mem_size = mem_size;
	b->vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (b->vm < 0)
		die("KVM_CREATE_VM");
	b->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->mem == MAP_FAILED)
		die("mmap");
	struct kvm_userspace_memory_region slot = { .memory_size = mem_size,
						    .userspace_addr = (uint64_t)(uintptr_t)b->mem };
	if (ioctl(b->vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0);
	if (b->vcpu < 0)
		die("KVM_CREATE_VCPU");
	b->run_size = (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	b->run = mmap(NULL, b->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, b->vcpu, 0);
	if (b->run == MAP_FAILED)
		die("mmap kvm_run");
}

static void bare_destroy(struct bare *b)
{
	munmap(b->run, b->run_size);
	close(b->vcpu);
	close(b->vm);
	munmap(b->mem, b->mem_size);
}

/* Real mode at CPL0: `out %al, $0x10; jmp .-2` at 0x1000. */
static void bare_setup_cpl0(struct bare *b)
{
	static const uint8_t code[] = { 0xe6, 0x10, 0xeb, 0xfc };
	memcpy(b->mem + 0x1000, code, sizeof(code));
	struct kvm_sregs s;
	if (ioctl(b->vcpu, KVM_GET_SREGS, &s) < 0)
		die("KVM_GET_SREGS");
	s.cs.base = 0;
	s.cs.selector = 0;
	if (ioctl(b->vcpu, KVM_SET_SREGS, &s) < 0)
		die("KVM_SET_SREGS");
	struct kvm_regs r = { .rip = 0x1000, .rflags = 2 };
	if (ioctl(b->vcpu, KVM_SET_REGS, &r) < 0)
		die("KVM_SET_REGS");
}

/* Long mode at CPL3: `mov %eax, (%rbx); jmp .-2` with rbx = an unbacked page. */
static void bare_setup_cpl3(struct bare *b)
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
	if (hp_x86_build_page_tables(b->mem, b->mem_size, regions, 3, &cr3, &err)) {
		fprintf(stderr, "bench_vm: %s\n", err.message);
		exit(1);
	}
	/* A GDT with user code/data, so the state is architecturally sane. */
	uint64_t gdt_gpa = 0x1000;
	uint64_t gdt[5] = { 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull,
			    0x00cff3000000ffffull, 0x00affb000000ffffull };
	memcpy(b->mem + gdt_gpa, gdt, sizeof(gdt));
	struct kvm_sregs s;
	if (ioctl(b->vcpu, KVM_GET_SREGS, &s) < 0)
		die("KVM_GET_SREGS");
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
		die("KVM_SET_SREGS (long mode)");
	struct kvm_regs r = { .rip = code_gpa, .rsp = code_gpa + 2 * HP_PAGE_SIZE, .rflags = 2,
			      .rbx = HP_GPA_HYPERCALL };
	if (ioctl(b->vcpu, KVM_SET_REGS, &r) < 0)
		die("KVM_SET_REGS");
}

static struct stats bare_roundtrip(int kvm, bool cpl3, double *t, size_t n, uint32_t expect)
{
	struct bare b;
	bare_create(kvm, &b, 64u << 20);
	if (cpl3)
		bare_setup_cpl3(&b);
	else
		bare_setup_cpl0(&b);
	for (size_t i = 0; i < n + 10; i++) {
		double t0 = now_us();
		if (ioctl(b.vcpu, KVM_RUN, 0) < 0)
			die("KVM_RUN");
		double dt = now_us() - t0;
		if (b.run->exit_reason != expect) {
			fprintf(stderr, "bench_vm: bare %s VM: exit %u, expected %u\n",
				cpl3 ? "CPL3" : "CPL0", b.run->exit_reason, expect);
			exit(1);
		}
		if (i >= 10) /* the first entries fault pages in */
			t[i - 10] = dt;
	}
	bare_destroy(&b);
	return summarize(t, n);
}

static struct stats bare_lifecycle(int kvm, double *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double t0 = now_us();
		struct bare b;
		bare_create(kvm, &b, 64u << 20);
		bare_setup_cpl0(&b);
		if (ioctl(b.vcpu, KVM_RUN, 0) < 0)
			die("KVM_RUN");
		bare_destroy(&b);
		t[i] = now_us() - t0;
	}
	return summarize(t, n);
}

static struct stats ioctl_cost(int kvm, double *t, size_t n)
{
	struct bare b;
	bare_create(kvm, &b, 1u << 20);
	struct kvm_regs r;
	for (size_t i = 0; i < n; i++) {
		double t0 = now_us();
		if (ioctl(b.vcpu, KVM_GET_REGS, &r) < 0)
			die("KVM_GET_REGS");
		t[i] = now_us() - t0;
	}
	bare_destroy(&b);
	return summarize(t, n);
}

/* --- hyperpool ------------------------------------------------------------------------------ */

static void check(int rc, const struct hp_error *err)
{
	if (rc) {
		fprintf(stderr, "bench_vm: %s\n", err->message);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_vm MATH_MODULE [ITERATIONS]\n");
		return 64;
	}
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
	if (n < 100)
		n = 100;
	size_t n_vm = n / 10;
	double *t = calloc(n, sizeof(double));
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "bench_vm: /dev/kvm: %s\n", strerror(errno));
		return errno == ENOENT ? 77 : 1;
	}

	struct hp_error err;
	struct hp_kvm *hk;
	struct hp_module *mod;
	check(hp_kvm_open(&hk, &err), &err);
	check(hp_module_open(hk, argv[1], NULL, &mod, &err), &err);

	printf("| %-52s | %9s | %9s | %9s | %6s |\n", "what (microseconds)", "median", "p90", "p99", "n");
	printf("|%.54s|%.11s|%.11s|%.11s|%.8s|\n", "------------------------------------------------------",
	       "-----------", "-----------", "-----------", "--------");

	struct stats floor0 = bare_roundtrip(kvm, false, t, n, KVM_EXIT_IO);
	row("floor: bare KVM_RUN exit round trip, CPL0 (out)", floor0, n);
	struct stats floor3 = bare_roundtrip(kvm, true, t, n, KVM_EXIT_MMIO);
	row("floor: bare KVM_RUN exit round trip, CPL3 (MMIO)", floor3, n);
	row("floor: one vCPU ioctl (KVM_GET_REGS)", ioctl_cost(kvm, t, n), n);
	struct stats bare_vm = bare_lifecycle(kvm, t, n_vm);
	row("floor: bare VM create + first exit + teardown", bare_vm, n_vm);

	/* Cold: a VM from nothing to ready to call (KVM create + load + init), then teardown. */
	double *t2 = calloc(n_vm, sizeof(double));
	for (size_t i = 0; i < n_vm; i++) {
		struct hp_vm *vm;
		double t0 = now_us();
		check(hp_vm_create(mod, NULL, NULL, &vm, &err), &err);
		t[i] = now_us() - t0;
		t0 = now_us();
		hp_vm_destroy(vm);
		t2[i] = now_us() - t0;
	}
	struct stats cold = summarize(t, n_vm);
	row("hyperpool: VM create + load + init (ready to call)", cold, n_vm);
	row("hyperpool: VM teardown", summarize(t2, n_vm), n_vm);

	/* Warm: calls in an initialised VM. */
	struct hp_vm *vm;
	check(hp_vm_create(mod, NULL, NULL, &vm, &err), &err);
	const uint8_t args[] = { 0x92, 0x01, 0x02 }; /* [1, 2] */
	struct hp_call_result res;
	for (size_t i = 0; i < n + 10; i++) {
		double t0 = now_us();
		check(hp_vm_call(vm, "add", 3, args, sizeof(args), &res, &err), &err);
		double dt = now_us() - t0;
		if (res.status != HP_OK || res.output_len != 1 || res.output[0] != 3) {
			fprintf(stderr, "bench_vm: add(1, 2) gave a wrong answer\n");
			return 1;
		}
		if (i >= 10)
			t[i - 10] = dt;
	}
	struct stats warm = summarize(t, n);
	row("hyperpool: call math.add(1, 2) in a ready VM", warm, n);
	hp_vm_destroy(vm);

	printf("\nratios (medians): call / CPL3 exit floor = %.2f; create+init / bare VM lifecycle = %.2f\n",
	       warm.median / floor3.median, cold.median / bare_vm.median);
	hp_module_close(mod);
	hp_kvm_close(hk);
	close(kvm);
	free(t);
	free(t2);
	return 0;
}
