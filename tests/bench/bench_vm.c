/* bench_vm - what a VM and a call cost, next to the raw KVM floors measured in the same run.
 *
 *   bench_vm MATH_MODULE [ITERATIONS]
 *
 * Prints one table (median, p90, p99 in microseconds). The floors are bare VMs built here by
 * hand, without libhpvmm: a CPL0 (real mode) loop of `out`, and a CPL3 (long mode) loop of
 * MMIO stores, each exit served by an immediate KVM_RUN; and a bare VM create+teardown. The
 * numbers are for reading side by side, never for asserting: shared machines are noisy. */
#include <stdbool.h>

#define BENCH_NAME "bench_vm"
#include "bench_bare_x86_64.h"

static void row(const char *what, struct stats s)
{
	bench_row(52, what, s);
}

/* --- bare floors (struct bare: bench_common.h; the CPL3 guest: bench_bare_x86_64.h) ------------------------- */

/* Real mode at CPL0: `out %al, $0x10; jmp .-2` at 0x1000. Returns NULL or the failed step. */
static const char *bare_setup_cpl0(struct bare *b)
{
	static const uint8_t code[] = { 0xe6, 0x10, 0xeb, 0xfc };
	memcpy(b->mem + 0x1000, code, sizeof(code));
	struct kvm_sregs s;
	if (ioctl(b->vcpu, KVM_GET_SREGS, &s) < 0)
		return "KVM_GET_SREGS";
	s.cs.base = 0;
	s.cs.selector = 0;
	if (ioctl(b->vcpu, KVM_SET_SREGS, &s) < 0)
		return "KVM_SET_SREGS";
	struct kvm_regs r = { .rip = 0x1000, .rflags = 2 };
	if (ioctl(b->vcpu, KVM_SET_REGS, &r) < 0)
		return "KVM_SET_REGS";
	return NULL;
}

static struct stats bare_roundtrip(int kvm, bool cpl3, double *t, size_t n, uint32_t expect)
{
	struct bare b;
	or_die(bare_create(kvm, &b, 64u << 20, 0, 0));
	or_die(cpl3 ? bare_setup_cpl3(&b, NULL) : bare_setup_cpl0(&b));
	for (size_t i = 0; i < n + 10; i++) {
		double t0 = now_us();
		const char *failed = bare_run(&b, expect);
		double dt = now_us() - t0;
		or_die(failed);
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
		or_die(bare_create(kvm, &b, 64u << 20, 0, 0));
		or_die(bare_setup_cpl0(&b));
		or_die(bare_run(&b, KVM_EXIT_IO));
		bare_destroy(&b);
		t[i] = now_us() - t0;
	}
	return summarize(t, n);
}

static struct stats ioctl_cost(int kvm, double *t, size_t n)
{
	struct bare b;
	or_die(bare_create(kvm, &b, 1u << 20, 0, 0));
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
	int kvm = open_kvm_or_exit();

	struct hp_error err;
	struct hp_kvm *hk;
	struct hp_module *mod;
	check(hp_kvm_open(&hk, &err), &err);
	check(hp_module_open(hk, argv[1], NULL, &mod, &err), &err);

	printf("| %-52s | %9s | %9s | %9s | %6s |\n", "what (microseconds)", "median", "p90", "p99", "n");
	printf("|%.54s|%.11s|%.11s|%.11s|%.8s|\n", "------------------------------------------------------",
	       "-----------", "-----------", "-----------", "--------");

	struct stats floor0 = bare_roundtrip(kvm, false, t, n, KVM_EXIT_IO);
	row("floor: bare KVM_RUN exit round trip, CPL0 (out)", floor0);
	struct stats floor3 = bare_roundtrip(kvm, true, t, n, KVM_EXIT_MMIO);
	row("floor: bare KVM_RUN exit round trip, CPL3 (MMIO)", floor3);
	row("floor: one vCPU ioctl (KVM_GET_REGS)", ioctl_cost(kvm, t, n));
	struct stats bare_vm = bare_lifecycle(kvm, t, n_vm);
	row("floor: bare VM create + first exit + teardown", bare_vm);

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
	row("hyperpool: VM create + load + init (ready to call)", cold);
	row("hyperpool: VM teardown", summarize(t2, n_vm));

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
	row("hyperpool: call math.add(1, 2) in a ready VM", warm);
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
