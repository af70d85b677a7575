/* hostile_x86_64.c - what each misdeed of examples/hostile does on x86_64 (test_hostile.c). */
#include "hostile_expect.h"
#include "hp_status.h"

const struct misdeed hostile_misdeeds[] = {
	{ "div_zero", -1, HP_E_GUEST_FAULT, "guest divide error (vector 0" },
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
	{ "hypercall_storm", -1, HP_E_LIMIT, "more than 100000 hypercalls" },
	{ "touch_page_tables", -1, HP_E_GUEST_FAULT, "page fault writing 0x100000 " },
	{ "touch_core", -1, HP_E_GUEST_FAULT, "page fault reading 0x1000 " },
	{ "write_input", -1, HP_E_GUEST_FAULT, "page fault writing 0x200000 " },
	{ "mmio_elsewhere", -1, HP_E_GUEST_FAULT, "page fault writing 0x30001000" },
	{ "ud2", -1, HP_E_GUEST_FAULT, "invalid opcode (vector 6" },
	{ "int3", -1, HP_E_GUEST_FAULT, "breakpoint (int3) (vector 3" },
	{ "hlt", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13" },
	{ "cli", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13" },
	{ "port_out", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13" },
	{ "cr3_write", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13" },
	{ "wrmsr_efer", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13" },
	{ "lidt", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13" },
	/* int $0x80 has no IDT entry: architecturally #GP; PVM reports #UD. Either is a fault. */
	{ "int80", -1, HP_E_GUEST_FAULT, "guest " },
	/* syscall jumps to LSTAR, which is 0 and unmapped: a fault either way */
	{ "syscall", -1, HP_E_GUEST_FAULT, "guest " },
	/* Exits KVM completes on the next KVM_RUN: the next call must not see the completion. */
	{ "mmio_read", -1, HP_E_GUEST_FAULT, "read from unbacked physical address 0x30000000 (4 bytes)" },
	{ "mmio_read8", -1, HP_E_GUEST_FAULT, "read from unbacked physical address 0x30000000 (1 bytes)" },
	{ "mmio_read64", -1, HP_E_GUEST_FAULT, "read from unbacked physical address 0x30000008 (8 bytes)" },
	{ "mmio_write_wide", -1, HP_E_GUEST_FAULT, "wrote to unbacked physical address 0x30000000 (8 bytes)" },
	{ "mmio_write_offset", -1, HP_E_GUEST_FAULT, "wrote to unbacked physical address 0x30000008 (4 bytes)" },
	{ "mmio_xchg", -1, HP_E_GUEST_FAULT, "read from unbacked physical address 0x30000000 (4 bytes)" },
	{ "mmio_rep_movs", -1, HP_E_GUEST_FAULT, "read from unbacked physical address 0x30000000 (4 bytes)" },
	{ "mmio_rep_stos", -1, HP_E_GUEST_PROTOCOL, "unknown hypercall 4660" },
	{ "mmio_rep_log", -1, HP_E_GUEST_FAULT, "wrote to unbacked physical address 0x30000004 (4 bytes)" },
	{ "mmio_rep_movs_huge", -1, HP_E_GUEST_FAULT, "read from unbacked physical address 0x30000000 (1 bytes)" },
	{ "mmio_split", -1, HP_E_GUEST_FAULT, "page fault writing 0x30001000" },
	{ "mmio_split_read", -1, HP_E_GUEST_FAULT, "page fault reading 0x2ffffffc" },
	{ "mmio_avx", -1, HP_E_VM_EXIT, "KVM internal error: instruction emulation failed" },
	/* Instructions that exit to the hypervisor or need privilege: a fault at CPL3, never an
	 * exit the host would serve (vmmcall is the exception: KVM answers it itself). */
	{ "vmcall", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13" },
	{ "sysenter", -1, HP_E_GUEST_FAULT, "guest " },
	{ "port_in", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13" },
	{ "rdpmc", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13" },
	{ "xsetbv", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13" },
	{ "wbinvd", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13" },
	{ "invlpg", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13" },
	/* no IDT entry past 31: architecturally #GP; PVM reports #UD, as for int $0x80 */
	{ "int81", -1, HP_E_GUEST_FAULT, "guest " },
	{ "far_jump_kernel", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13, error code 0x8)" },
	{ "load_kernel_ss", -1, HP_E_GUEST_FAULT, "general protection fault (vector 13, error code 0x10)" },
	{ "trap_flag", -1, HP_E_GUEST_FAULT, "debug exception (vector 1" },
};
const size_t hostile_nmisdeeds = sizeof(hostile_misdeeds) / sizeof(hostile_misdeeds[0]);
const char *const hostile_benign[] = { "vmmcall", NULL };
