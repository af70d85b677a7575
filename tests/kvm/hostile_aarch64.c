/* hostile_aarch64.c - what each misdeed of examples/hostile does on aarch64 (test_hostile.c).
 * Faults at EL0 are taken by the core at EL1 and reported from ESR_EL1/FAR_EL1/ELR_EL1; the
 * generic misdeeds read as on x86_64 (page faults keep their words). Not here: div_zero (an
 * integer division by zero yields 0 on aarch64, no exception) and hypercall_storm (100000
 * hypercalls of 100-250 us each under TCG outlast the call's deadline; the limit itself is
 * generic code, tested on x86_64), wfe and sp_misaligned (QEMU's TCG, which runs the suite here,
 * neither traps wfe at EL0 nor checks SCTLR_EL1.SA0: both end normally there, and fault on
 * hardware). */
#include "hostile_expect.h"
#include "hp_status.h"

const struct misdeed hostile_misdeeds[] = {
	{ "null_deref", -1, HP_E_GUEST_FAULT, "page fault reading 0x0 " },
	{ "write_text", -1, HP_E_GUEST_FAULT, "page fault writing 0x2" },
	{ "exec_data", -1, HP_E_GUEST_FAULT, "page fault executing 0x2" },
	{ "jump_garbage", -1, HP_E_GUEST_FAULT, "page fault executing 0xdead0000" },
	{ "recurse_forever", -1, HP_E_GUEST_FAULT, "guest stack overflow" },
	{ "abort_long", -1, HP_E_GUEST_ABORT, "guest aborted: long message: xxxx" },
	{ "bad_output_len", -1, HP_E_GUEST_PROTOCOL, "output length 4294967280" },
	{ "bad_log_len", -1, HP_E_GUEST_PROTOCOL, "log hypercall with length 2147483647" },
	{ "bad_status", -1, HP_E_GUEST_PROTOCOL, "invalid status 19" },
	{ "unknown_hypercall", -1, HP_E_GUEST_PROTOCOL, "unknown hypercall 4660" },
	{ "fake_fault", -1, HP_E_GUEST_PROTOCOL, "unknown hypercall 6" },
	{ "touch_page_tables", -1, HP_E_GUEST_FAULT, "page fault writing 0x100000 " },
	{ "touch_core", -1, HP_E_GUEST_FAULT, "page fault reading 0x1000 " },
	{ "write_input", -1, HP_E_GUEST_FAULT, "page fault writing 0x200000 " },
	{ "mmio_elsewhere", -1, HP_E_GUEST_FAULT, "page fault writing 0x30001000" },
	/* MMIO exits: arm64 KVM retires every one (read or write) on the next KVM_RUN. */
	{ "mmio_read", -1, HP_E_GUEST_FAULT, "read from unbacked physical address 0x30000000 (4 bytes)" },
	{ "mmio_read8", -1, HP_E_GUEST_FAULT, "read from unbacked physical address 0x30000000 (1 bytes)" },
	{ "mmio_read64", -1, HP_E_GUEST_FAULT, "read from unbacked physical address 0x30000008 (8 bytes)" },
	{ "mmio_write_wide", -1, HP_E_GUEST_FAULT, "wrote to unbacked physical address 0x30000000 (8 bytes)" },
	{ "mmio_write_offset", -1, HP_E_GUEST_FAULT, "wrote to unbacked physical address 0x30000008 (4 bytes)" },
	{ "mmio_split", -1, HP_E_GUEST_FAULT, "wrote to unbacked physical address 0x30000ffc (8 bytes)" },
	{ "mmio_split_read", -1, HP_E_GUEST_FAULT, "page fault reading 0x2ffffffc" },
	/* Accesses KVM cannot decode (no valid syndrome): KVM_EXIT_ARM_NISV, a guest fault. */
	{ "mmio_stp", -1, HP_E_GUEST_FAULT, "with an instruction KVM cannot emulate" },
	{ "mmio_str_writeback", -1, HP_E_GUEST_FAULT, "with an instruction KVM cannot emulate" },
	{ "mmio_simd", -1, HP_E_GUEST_FAULT, "with an instruction KVM cannot emulate" },
	{ "mmio_ldp", -1, HP_E_GUEST_FAULT, "with an instruction KVM cannot emulate" },
	{ "mmio_exclusive", -1, HP_E_GUEST_FAULT, "guest " },
	{ "mmio_unaligned", -1, HP_E_GUEST_FAULT, "guest " },
	/* Privileged or trapping instructions at EL0: the core reports each. */
	{ "udf", -1, HP_E_GUEST_FAULT, "guest undefined instruction (ESR 0x2000000)" },
	{ "brk", -1, HP_E_GUEST_FAULT, "guest breakpoint (brk) (ESR 0xf2001234)" },
	{ "svc", -1, HP_E_GUEST_FAULT, "guest svc (system call) (ESR 0x56000000)" },
	{ "hvc", -1, HP_E_GUEST_FAULT, "guest undefined instruction" },
	{ "smc", -1, HP_E_GUEST_FAULT, "guest undefined instruction" },
	{ "wfi", -1, HP_E_GUEST_FAULT, "guest wfi/wfe at EL0" },
	{ "msr_sctlr", -1, HP_E_GUEST_FAULT, "guest undefined instruction" },
	{ "ttbr0_write", -1, HP_E_GUEST_FAULT, "guest undefined instruction" },
	{ "vbar_write", -1, HP_E_GUEST_FAULT, "guest undefined instruction" },
	{ "mrs_esr", -1, HP_E_GUEST_FAULT, "guest undefined instruction" },
	{ "daif_mask", -1, HP_E_GUEST_FAULT, "guest system register access" },
	{ "cntvct_read", -1, HP_E_GUEST_FAULT, "guest system register access" },
	{ "cache_clean", -1, HP_E_GUEST_FAULT, "guest system register access" },
	{ "tlbi", -1, HP_E_GUEST_FAULT, "guest undefined instruction" },
	{ "eret", -1, HP_E_GUEST_FAULT, "guest undefined instruction" },
	{ "unaligned_exclusive", -1, HP_E_GUEST_FAULT, "guest alignment fault reading 0x" },
	{ "pc_misaligned", -1, HP_E_GUEST_FAULT, "guest PC alignment fault" },
};
const size_t hostile_nmisdeeds = sizeof(hostile_misdeeds) / sizeof(hostile_misdeeds[0]);
const char *const hostile_benign[] = { NULL };
