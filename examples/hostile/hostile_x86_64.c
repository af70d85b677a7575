/* hostile_x86_64.c - the hostile module's x86_64-only misdeeds: privileged and I/O
 * instructions at CPL3, string and read-modify-write instructions on the hypercall page, an
 * AVX access KVM's emulator does not know (see hostile.c for the rest). */
#include <hyperpool/guest.h>

#include "hostile.h"

void raw_hypercall(uint32_t nr)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(nr), "r"((uintptr_t)HP_GPA_HYPERCALL) : "memory");
}

static int mmio_xchg(const hp_args *args, hp_out *out)
{
	(void)args;
	uint32_t v = HP_HC_LOG;
	__asm__ volatile("xchg %0, (%1)" : "+r"(v) : "r"(HC) : "memory");
	return hp_ret_u64(out, v);
}

/* rep movsl from the hypercall page: 64 MMIO reads, the first exits. */
static int mmio_rep_movs(const hp_args *args, hp_out *out)
{
	(void)args;
	static uint32_t buf[64];
	void *dst = buf;
	const void *src = (const void *)HC;
	uint64_t n = 64;
	__asm__ volatile("rep movsl" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
	return hp_ret_u64(out, buf[0]);
}

/* rep movsb with rcx = 2^32: a completion per byte until the source leaves the hypercall
 * page (4096 of them), then a page fault. */
static int mmio_rep_movs_huge(const hp_args *args, hp_out *out)
{
	(void)args;
	static uint8_t buf[8192];
	void *dst = buf;
	const void *src = (const void *)HC;
	uint64_t n = 1ull << 32;
	__asm__ volatile("cld; rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
	return hp_ret_u64(out, buf[0]);
}

/* rep stosl of an unknown hypercall number: the first store exits, 63 more are pending. */
static int mmio_rep_stos(const hp_args *args, hp_out *out)
{
	(void)args;
	void *dst = (void *)HC;
	uint64_t n = 64;
	__asm__ volatile("rep stosl" : "+D"(dst), "+c"(n) : "a"(0x1234u) : "memory");
	return hp_ret_nil(out);
}

/* rep stosl of log hypercalls (zero-length records): the first store is a valid hypercall the
 * host serves; KVM then continues the rep, and the second store (4 bytes further on) exits at
 * an address that is no hypercall. */
static int mmio_rep_log(const hp_args *args, hp_out *out)
{
	(void)args;
	CB->log_len = 0;
	CB->log_stream = HP_LOG_STDOUT;
	void *dst = (void *)HC;
	uint64_t n = 64;
	__asm__ volatile("cld; rep stosl" : "+D"(dst), "+c"(n) : "a"(HP_HC_LOG) : "memory");
	return hp_ret_u64(out, n);
}

/* A 32-byte AVX load from the hypercall page: an instruction KVM's emulator does not know. */
static int mmio_avx(const hp_args *args, hp_out *out)
{
	(void)args;
	__asm__ volatile("vmovdqu (%0), %%ymm0" : : "r"(HC) : "memory");
	return hp_ret_nil(out);
}

#define INSN(fn, asm_text)                                         \
	static int fn(const hp_args *args, hp_out *out)            \
	{                                                          \
		(void)args;                                        \
		__asm__ volatile(asm_text); /* basic asm: % is literal */ \
		return hp_ret_nil(out);                            \
	}

INSN(ud2, "ud2")
INSN(int3, "int3")
INSN(hlt, "hlt")
INSN(cli, "cli")
INSN(port_out, "outb %al, $0x80")
INSN(cr3_write, "xor %eax, %eax; mov %rax, %cr3")
INSN(wrmsr_efer, "mov $0xc0000080, %ecx; xor %eax, %eax; xor %edx, %edx; wrmsr")
INSN(lidt, "sub $16, %rsp; movq $0, (%rsp); movq $0, 8(%rsp); lidt (%rsp); add $16, %rsp")
INSN(int80, "int $0x80")
INSN(syscall_insn, "syscall")
INSN(vmcall, "vmcall")
/* vmmcall is not a fault here: KVM emulates it as a KVM hypercall, refused at CPL3 (rax =
 * -KVM_EPERM), and the function returns nil. */
INSN(vmmcall, "vmmcall")
INSN(sysenter, "sysenter")
INSN(port_in, "inb $0x80, %al")
INSN(rdpmc, "xor %ecx, %ecx; rdpmc")
INSN(xsetbv, "xor %ecx, %ecx; mov $1, %eax; xor %edx, %edx; xsetbv")
INSN(wbinvd, "wbinvd")
INSN(invlpg, "invlpg (%rsp)")
INSN(int81, "int $0x81")
INSN(far_jump_kernel, "sub $16, %rsp; leaq 1f(%rip), %rax; movq %rax, (%rsp); movq $8, 8(%rsp); rex64 ljmp *(%rsp); 1: add $16, %rsp")
INSN(load_kernel_ss, "mov $0x10, %eax; mov %eax, %ss")
/* Sets the trap flag: a single-step trap after the next instruction. */
INSN(trap_flag, "pushfq; orq $0x100, (%rsp); popfq; nop")

const struct hostile_fn hostile_arch_fns[] = {
	{ "ud2", ud2 }, { "int3", int3 }, { "hlt", hlt },
	{ "cli", cli }, { "port_out", port_out }, { "cr3_write", cr3_write },
	{ "wrmsr_efer", wrmsr_efer }, { "lidt", lidt }, { "int80", int80 },
	{ "syscall", syscall_insn }, { "mmio_xchg", mmio_xchg },
	{ "mmio_rep_movs", mmio_rep_movs }, { "mmio_rep_stos", mmio_rep_stos },
	{ "mmio_rep_log", mmio_rep_log }, { "mmio_avx", mmio_avx },
	{ "mmio_rep_movs_huge", mmio_rep_movs_huge }, { "vmcall", vmcall },
	{ "vmmcall", vmmcall }, { "sysenter", sysenter }, { "port_in", port_in },
	{ "rdpmc", rdpmc }, { "xsetbv", xsetbv }, { "wbinvd", wbinvd }, { "invlpg", invlpg },
	{ "int81", int81 }, { "far_jump_kernel", far_jump_kernel },
	{ "load_kernel_ss", load_kernel_ss }, { "trap_flag", trap_flag },
};
const size_t hostile_arch_count = sizeof(hostile_arch_fns) / sizeof(hostile_arch_fns[0]);
