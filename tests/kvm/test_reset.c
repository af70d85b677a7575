/* test_reset.c - the contract of hyperpool/guest.h: "Memory from malloc lives for the call (the
 * VM is reset to its post-init state between calls)". Static variables, the heap and the
 * runtime's own state (the log buffer) must not carry over from one call to the next, also
 * when a call ends in a fault.
 *
 *   test_reset --misc misc.elf --math math.elf [...]
 *
 * Exit 0: all checks passed; 1: some failed (each is printed); 77: no /dev/kvm. */
#include "kvmtest.h"

int main(int argc, char **argv)
{
	kt_parse_args(argc, argv);
	struct hp_kvm *kvm = kt_open_kvm();
	struct hp_module *mod = kt_open_module(kvm, "misc", NULL);
	struct kt_log log = { 0 };
	struct hp_vm *vm = kt_create_vm(mod, &log);
	struct kt_call c;

	/* a static counter starts from its post-init value in every call */
	for (int i = 0; i < 5; i++) {
		kt_call0(vm, "counter", &c);
		CHECK_MSG(kt_is_i64(&c, 1), "counter call %d: %s", i + 1, kt_describe(&c));
		kt_call_free(&c);
	}

	/* memory malloc'ed and never freed is gone after the call: 64 x 1 MiB fits a 16 MiB heap
	 * only if each call starts with the post-init heap */
	struct hp_module_info info, *l = &info;
	hp_module_info(mod, l);
	uint64_t leak = 1u << 20, calls = 4 * (l->heap_size / leak);
	int failed = 0;
	for (uint64_t i = 0; i < calls; i++) {
		struct kt_args a;
		msgpack_pack_uint64(kt_args_begin(&a, 1), leak);
		kt_call(vm, "leak", &a, &c);
		if (!kt_is_u64(&c, leak) && failed++ == 0)
			CHECK_MSG(0, "leak call %" PRIu64 " of %" PRIu64 ": %s", i + 1, calls,
				  kt_describe(&c));
		kt_call_free(&c);
	}
	CHECK_MSG(failed == 0, "%d of %" PRIu64 " leak(1 MiB) calls failed", failed, calls);

	/* output buffered when a call faulted does not show up in the next call */
	kt_call0(vm, "print_fault", &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_FAULT, "page fault"));
	kt_call_free(&c);
	kt_log_clear(&log);
	kt_call0(vm, "counter", &c);
	CHECK_CALL(&c, kt_is_i64(&c, 1));
	kt_call_free(&c);
	CHECK_MSG(log.n == 0, "a call that prints nothing delivered %zu log chunks (first: \"%.*s\")",
		  log.n, log.n ? (int)log.chunks[0].len : 0, log.n ? log.chunks[0].bytes : "");

	hp_vm_destroy(vm);
	hp_module_close(mod);
	kt_log_free(&log);

	/* The runtime does not free a call's decoded arguments (it relies on the reset), so
	 * without the reset every call leaks heap: 20000 small calls must all work. */
	mod = kt_open_module(kvm, "math", NULL);
	vm = kt_create_vm(mod, NULL);
	failed = 0;
	for (int i = 0; i < 20000; i++) {
		kt_call_ii(vm, "add", i, 1, &c);
		if (!kt_is_i64(&c, i + 1) && failed++ == 0)
			CHECK_MSG(0, "add call %d of 20000: %s", i + 1, kt_describe(&c));
		kt_call_free(&c);
	}
	CHECK_MSG(failed == 0, "%d of 20000 add calls failed", failed);
	hp_vm_destroy(vm);
	hp_module_close(mod);
	hp_kvm_close(kvm);
	CHECK_DONE();
}
