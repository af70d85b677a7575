/* test_noleak_aarch64.c - no register state of one call reaches the next on aarch64, on a VM
 * of every restore strategy: the canary module's regs(c) reports V0-V31, FPCR, FPSR, TPIDR_EL0
 * and NZCV as found at its entry, then leaves c (and the canaries of canary.h) in them; the
 * next call on the same VM must find none of it, also after a call that left them and faulted
 * (scribble_fault), and memory (global, stack) must be the snapshot's. The core's call entry
 * is what resets them (guest/arch/aarch64/core.S).
 *
 *   test_noleak_aarch64 --canary canary.elf [...]        exit 77 without /dev/kvm */
#include "kvmtest.h"
#include "modules/canary.h"

#define CALLS 6

static uint64_t canary(int strategy, int i)
{
	return 0xca7a000000000000ull | (uint64_t)strategy << 32 | (uint64_t)i << 8 | 0x5a;
}

static void call_u(struct hp_vm *vm, const char *name, uint64_t v, struct kt_call *c)
{
	struct kt_args a;
	msgpack_pack_uint64(kt_args_begin(&a, 1), v);
	kt_call(vm, name, &a, c);
}

/* Counts the 8-byte words of the dump's V registers whose value is `c`. */
static unsigned words_equal(const struct a64_regs_dump *d, uint64_t c)
{
	unsigned n = 0;
	for (unsigned i = 0; i < 64; i++) {
		uint64_t w;
		memcpy(&w, (const uint8_t *)d->v + 8 * i, 8);
		n += w == c;
	}
	return n;
}

/* One regs call: the state it found must hold nothing of `previous`; leaves `next`. */
static void check_regs(struct hp_vm *vm, uint64_t previous, uint64_t next, const char *when)
{
	struct kt_call c;
	call_u(vm, "regs", next, &c);
	struct a64_regs_dump d;
	bool got = kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_BIN && c.obj.via.bin.size == sizeof(d);
	CHECK_MSG(got, "regs %s: %s", when, kt_describe(&c));
	if (got) {
		memcpy(&d, c.obj.via.bin.ptr, sizeof(d));
		CHECK_MSG(!previous || words_equal(&d, previous) == 0, "regs %s: %u V-register words hold the previous call's canary %#llx",
			  when, words_equal(&d, previous), (unsigned long long)previous);
		CHECK_MSG(d.fpcr == 0, "regs %s: FPCR %#llx", when, (unsigned long long)d.fpcr);
		CHECK_MSG((d.fpsr & A64_FPSR_CANARY) != A64_FPSR_CANARY, "regs %s: FPSR %#llx",
			  when, (unsigned long long)d.fpsr);
		CHECK_MSG(d.tpidr_el0 == 0, "regs %s: TPIDR_EL0 %#llx", when,
			  (unsigned long long)d.tpidr_el0);
	}
	kt_call_free(&c);
}

static void check_global(struct hp_vm *vm, uint64_t c, const char *when)
{
	struct kt_call k;
	call_u(vm, "global", c, &k);
	CHECK_MSG(kt_is_u64(&k, G_INIT), "global %s: %s", when, kt_describe(&k));
	kt_call_free(&k);
}

static void strategy(struct hp_module *mod, int s)
{
	struct hp_vm *vm;
	struct hp_error err;
	if (hp_vm_create_with(mod, s, NULL, NULL, &vm, &err) < 0) {
		CHECK_MSG(0, "hp_vm_create_with(%s): %s", hp_restore_strategy_name(s), err.message);
		return;
	}
	const char *name = hp_restore_strategy_name(s);
	uint64_t prev = 0;
	for (int i = 0; i < CALLS; i++) {
		uint64_t c = canary(s, i);
		check_regs(vm, prev, c, name);
		check_global(vm, c, name);
		prev = c;
	}
	/* A call that leaves every canary and faults: the next call finds none of them. */
	uint64_t f = canary(s, 0xff);
	struct kt_call k;
	call_u(vm, "scribble_fault", f, &k);
	CHECK_MSG(kt_is_status(&k, -1, HP_E_GUEST_FAULT, "undefined instruction"),
		  "scribble_fault (%s): %s", name, kt_describe(&k));
	kt_call_free(&k);
	check_regs(vm, f, canary(s, 0xfe), "after scribble_fault");
	check_global(vm, f, "after scribble_fault");
	hp_vm_destroy(vm);
}

int main(int argc, char **argv)
{
	kt_parse_args(argc, argv);
	struct hp_kvm *kvm = kt_open_kvm();
	struct hp_module *mod = kt_open_module(kvm, "canary", NULL);
	for (int s = HP_RESTORE_AUTO + 1; s < HP_RESTORE_STRATEGIES; s++)
		strategy(mod, s);
	hp_module_close(mod);
	hp_kvm_close(kvm);
	CHECK_DONE();
}
