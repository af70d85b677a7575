/* canary_x86_64.c - the canary module's x86_64 register probes (canary.c lists them): the
 * x87/SSE/AVX state, CPUID, segment state and privileged instructions at CPL3. */
#include <hyperpool/guest.h>
#include <stdbool.h>
#include <string.h>

#include "canary.h"
#include "canary_arch.h"

/* --- x87/SSE/AVX ------------------------------------------------------------------------ */

uint8_t have_avx; /* read by the stubs below */
static uint64_t cpu_xcr0;
static uint32_t cpuid1_ecx, cpuid7_ebx;
struct fpu_dump fpu_found __attribute__((aligned(64)));

/* The registered functions are these stubs: they save the FPU state the runtime left at the
 * function's entry (nothing compiled runs in between), then jump to the C part with the
 * arguments untouched. fxsave64: x87, MXCSR, xmm0-15; vextractf128: ymm upper halves. */
int fpu_sse_entry(const hp_args *args, hp_out *out);
int fpu_avx_entry(const hp_args *args, hp_out *out);
int fpu_sse_impl(const hp_args *args, hp_out *out);
int fpu_avx_impl(const hp_args *args, hp_out *out);

#define SAVE_FPU_STATE                                                                      \
	"	fxsave64 fpu_found(%rip)\n"                                                   \
	"	cmpb $0, have_avx(%rip)\n"                                                    \
	"	je 1f\n"                                                                      \
	"	vextractf128 $1, %ymm0, fpu_found+512+0*16(%rip)\n"                           \
	"	vextractf128 $1, %ymm1, fpu_found+512+1*16(%rip)\n"                           \
	"	vextractf128 $1, %ymm2, fpu_found+512+2*16(%rip)\n"                           \
	"	vextractf128 $1, %ymm3, fpu_found+512+3*16(%rip)\n"                           \
	"	vextractf128 $1, %ymm4, fpu_found+512+4*16(%rip)\n"                           \
	"	vextractf128 $1, %ymm5, fpu_found+512+5*16(%rip)\n"                           \
	"	vextractf128 $1, %ymm6, fpu_found+512+6*16(%rip)\n"                           \
	"	vextractf128 $1, %ymm7, fpu_found+512+7*16(%rip)\n"                           \
	"	vextractf128 $1, %ymm8, fpu_found+512+8*16(%rip)\n"                           \
	"	vextractf128 $1, %ymm9, fpu_found+512+9*16(%rip)\n"                           \
	"	vextractf128 $1, %ymm10, fpu_found+512+10*16(%rip)\n"                         \
	"	vextractf128 $1, %ymm11, fpu_found+512+11*16(%rip)\n"                         \
	"	vextractf128 $1, %ymm12, fpu_found+512+12*16(%rip)\n"                         \
	"	vextractf128 $1, %ymm13, fpu_found+512+13*16(%rip)\n"                         \
	"	vextractf128 $1, %ymm14, fpu_found+512+14*16(%rip)\n"                         \
	"	vextractf128 $1, %ymm15, fpu_found+512+15*16(%rip)\n"                         \
	"1:\n"

__asm__(".text\n"
	".globl fpu_sse_entry\n"
	".type fpu_sse_entry, @function\n"
	"fpu_sse_entry:\n" SAVE_FPU_STATE "	jmp fpu_sse_impl\n"
	".size fpu_sse_entry, .-fpu_sse_entry\n"
	".globl fpu_avx_entry\n"
	".type fpu_avx_entry, @function\n"
	"fpu_avx_entry:\n" SAVE_FPU_STATE "	jmp fpu_avx_impl\n"
	".size fpu_avx_entry, .-fpu_avx_entry\n");

/* Loads the canary into every register of the state: the last thing before returning. */
__attribute__((noinline)) static void fpu_load_canary(uint64_t c, int avx)
{
	static uint8_t x87_reg[16] __attribute__((aligned(16)));
	memcpy(x87_reg, &c, 8);
	x87_reg[8] = 0xff; /* exponent 0x3fff: a normal number whose mantissa is c */
	x87_reg[9] = 0x3f;
	uint32_t mxcsr = MXCSR_CANARY;
	uint16_t fcw = FCW_CANARY;
	__asm__ volatile("fninit\n"
			 "fldt (%0)\n fldt (%0)\n fldt (%0)\n fldt (%0)\n"
			 "fldt (%0)\n fldt (%0)\n fldt (%0)\n fldt (%0)\n"
			 "fldcw %1\n"
			 : : "r"(x87_reg), "m"(fcw) : "memory", "st", "st(1)", "st(2)", "st(3)",
			   "st(4)", "st(5)", "st(6)", "st(7)");
	if (avx)
		__asm__ volatile("vmovq %0, %%xmm0\n"
				 "vpunpcklqdq %%xmm0, %%xmm0, %%xmm0\n"
				 "vinsertf128 $1, %%xmm0, %%ymm0, %%ymm0\n"
				 "vmovaps %%ymm0, %%ymm1\n vmovaps %%ymm0, %%ymm2\n"
				 "vmovaps %%ymm0, %%ymm3\n vmovaps %%ymm0, %%ymm4\n"
				 "vmovaps %%ymm0, %%ymm5\n vmovaps %%ymm0, %%ymm6\n"
				 "vmovaps %%ymm0, %%ymm7\n vmovaps %%ymm0, %%ymm8\n"
				 "vmovaps %%ymm0, %%ymm9\n vmovaps %%ymm0, %%ymm10\n"
				 "vmovaps %%ymm0, %%ymm11\n vmovaps %%ymm0, %%ymm12\n"
				 "vmovaps %%ymm0, %%ymm13\n vmovaps %%ymm0, %%ymm14\n"
				 "vmovaps %%ymm0, %%ymm15\n"
				 : : "r"(c) : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
				   "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
				   "xmm15");
	else
		/* legacy SSE encodings: the upper ymm halves keep what they had */
		__asm__ volatile("movq %0, %%xmm0\n"
				 "punpcklqdq %%xmm0, %%xmm0\n"
				 "movaps %%xmm0, %%xmm1\n movaps %%xmm0, %%xmm2\n"
				 "movaps %%xmm0, %%xmm3\n movaps %%xmm0, %%xmm4\n"
				 "movaps %%xmm0, %%xmm5\n movaps %%xmm0, %%xmm6\n"
				 "movaps %%xmm0, %%xmm7\n movaps %%xmm0, %%xmm8\n"
				 "movaps %%xmm0, %%xmm9\n movaps %%xmm0, %%xmm10\n"
				 "movaps %%xmm0, %%xmm11\n movaps %%xmm0, %%xmm12\n"
				 "movaps %%xmm0, %%xmm13\n movaps %%xmm0, %%xmm14\n"
				 "movaps %%xmm0, %%xmm15\n"
				 : : "r"(c) : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
				   "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
				   "xmm15");
	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
}

static int fpu_common(const hp_args *args, hp_out *out, int avx)
{
	uint64_t c;
	/* copy first: the result packing below must not see a half-loaded state */
	static struct fpu_dump found;
	memcpy(&found, &fpu_found, sizeof(found));
	found.have_avx = have_avx;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &c);
	if (avx && !have_avx)
		return hp_error(out, "avx: this vCPU has no usable AVX");
	if (hp_ret_bin(out, &found, sizeof(found)) < 0)
		return -1;
	fpu_load_canary(c, avx);
	return 0;
}

int fpu_sse_impl(const hp_args *args, hp_out *out)
{
	return fpu_common(args, out, 0);
}

int fpu_avx_impl(const hp_args *args, hp_out *out)
{
	return fpu_common(args, out, 1);
}

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static void detect_cpu(void)
{
	uint32_t r[4];
	cpuid(0, 0, r);
	uint32_t max_leaf = r[0];
	cpuid(1, 0, r);
	cpuid1_ecx = r[2];
	if (max_leaf >= 7) {
		cpuid(7, 0, r);
		cpuid7_ebx = r[1];
	}
	bool osxsave = cpuid1_ecx & (1u << 27), avx = cpuid1_ecx & (1u << 28);
	if (osxsave) {
		uint32_t lo, hi;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		cpu_xcr0 = (uint64_t)hi << 32 | lo;
	}
	have_avx = osxsave && avx && (cpu_xcr0 & 6) == 6;
}

static int f_cpu(const hp_args *args, hp_out *out)
{
	(void)args;
	msgpack_packer *pk = hp_out_packer(out);
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint64(pk, have_avx);
	msgpack_pack_uint64(pk, cpu_xcr0);
	msgpack_pack_uint64(pk, cpuid1_ecx);
	return msgpack_pack_uint64(pk, cpuid7_ebx);
}

/* --- segments --------------------------------------------------------------------------- */

static volatile uint64_t seg_marker = MARKER;

static int f_fsgs_read(const hp_args *args, hp_out *out)
{
	(void)args;
	uint16_t ds, es, fs, gs, ss, cs;
	uint64_t at_fs, at_gs;
	__asm__ volatile("mov %%ds, %0" : "=r"(ds));
	__asm__ volatile("mov %%es, %0" : "=r"(es));
	__asm__ volatile("mov %%fs, %0" : "=r"(fs));
	__asm__ volatile("mov %%gs, %0" : "=r"(gs));
	__asm__ volatile("mov %%ss, %0" : "=r"(ss));
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	/* base + &seg_marker: the marker itself only when the base is 0 */
	__asm__ volatile("movq %%fs:(%1), %0" : "=r"(at_fs) : "r"(&seg_marker) : "memory");
	__asm__ volatile("movq %%gs:(%1), %0" : "=r"(at_gs) : "r"(&seg_marker) : "memory");
	msgpack_packer *pk = hp_out_packer(out);
	msgpack_pack_array(pk, 8);
	msgpack_pack_uint64(pk, ds);
	msgpack_pack_uint64(pk, es);
	msgpack_pack_uint64(pk, fs);
	msgpack_pack_uint64(pk, gs);
	msgpack_pack_uint64(pk, ss);
	msgpack_pack_uint64(pk, cs);
	msgpack_pack_uint64(pk, at_fs);
	return msgpack_pack_uint64(pk, at_gs);
}

static int f_fsgs_sel(const hp_args *args, hp_out *out)
{
	uint64_t v[4];
	if (hp_args_expect(args, out, "uuuu") < 0)
		return -1;
	for (uint32_t i = 0; i < 4; i++)
		hp_arg_u64(args, i, &v[i]);
	uint16_t ds = (uint16_t)v[0], es = (uint16_t)v[1], fs = (uint16_t)v[2], gs = (uint16_t)v[3];
	/* Results are packed first: nothing compiled after the loads may depend on ds/es. */
	msgpack_packer *pk = hp_out_packer(out);
	msgpack_pack_array(pk, 4);
	__asm__ volatile("mov %0, %%ds" : : "r"(ds));
	__asm__ volatile("mov %0, %%es" : : "r"(es));
	__asm__ volatile("mov %0, %%fs" : : "r"(fs));
	__asm__ volatile("mov %0, %%gs" : : "r"(gs));
	__asm__ volatile("mov %%ds, %0" : "=r"(ds));
	__asm__ volatile("mov %%es, %0" : "=r"(es));
	__asm__ volatile("mov %%fs, %0" : "=r"(fs));
	__asm__ volatile("mov %%gs, %0" : "=r"(gs));
	msgpack_pack_uint64(pk, ds);
	msgpack_pack_uint64(pk, es);
	msgpack_pack_uint64(pk, fs);
	return msgpack_pack_uint64(pk, gs);
}

static int f_fsgs_rdbase(const hp_args *args, hp_out *out)
{
	(void)args;
	uint64_t rf, rg;
	__asm__ volatile("rdfsbase %0" : "=r"(rf));
	__asm__ volatile("rdgsbase %0" : "=r"(rg));
	msgpack_packer *pk = hp_out_packer(out);
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, rf);
	return msgpack_pack_uint64(pk, rg);
}

/* Writes both bases, then answers what reading them back gives. */
static int f_fsgs_wrbase(const hp_args *args, hp_out *out)
{
	uint64_t f, g;
	if (hp_args_expect(args, out, "uu") < 0)
		return -1;
	hp_arg_u64(args, 0, &f);
	hp_arg_u64(args, 1, &g);
	__asm__ volatile("wrfsbase %0" : : "r"(f) : "memory");
	__asm__ volatile("wrgsbase %0" : : "r"(g) : "memory");
	return f_fsgs_rdbase(args, out);
}

/* --- privileged instructions ------------------------------------------------------------ */

static int f_msr_fsbase(const hp_args *args, hp_out *out)
{
	(void)args;
	__asm__ volatile("wrmsr" : : "c"(0xc0000100u), "a"(0x1000u), "d"(0u) : "memory");
	return hp_ret_nil(out);
}

static int f_msr_efer(const hp_args *args, hp_out *out)
{
	(void)args;
	__asm__ volatile("wrmsr" : : "c"(0xc0000080u), "a"(0x0u), "d"(0u) : "memory");
	return hp_ret_nil(out);
}

static int f_cr3_write(const hp_args *args, hp_out *out)
{
	(void)args;
	__asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)0x100000) : "memory");
	return hp_ret_nil(out);
}

static int f_cr0_read(const hp_args *args, hp_out *out)
{
	(void)args;
	uint64_t v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return hp_ret_u64(out, v);
}

static int f_lgdt(const hp_args *args, hp_out *out)
{
	(void)args;
	static struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} gdtr = { 0xfff, 0x10000 };
	__asm__ volatile("lgdt %0" : : "m"(gdtr) : "memory");
	return hp_ret_nil(out);
}

static int f_cli(const hp_args *args, hp_out *out)
{
	(void)args;
	uint64_t before, after;
	__asm__ volatile("pushfq; popq %0; cli; pushfq; popq %1" : "=r"(before), "=r"(after)
			 : : "memory");
	msgpack_packer *pk = hp_out_packer(out);
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, before);
	return msgpack_pack_uint64(pk, after);
}

static int f_hlt(const hp_args *args, hp_out *out)
{
	(void)args;
	__asm__ volatile("hlt" : : : "memory");
	return hp_ret_nil(out);
}

static int f_port_out(const hp_args *args, hp_out *out)
{
	(void)args;
	__asm__ volatile("outb %%al, $0x80" : : "a"(0x42) : "memory");
	return hp_ret_nil(out);
}

static int f_port_in(const hp_args *args, hp_out *out)
{
	(void)args;
	uint8_t v;
	__asm__ volatile("inb $0x80, %%al" : "=a"(v) : : "memory");
	return hp_ret_u64(out, v);
}

void canary_arch_init(void)
{
	detect_cpu();
}

void canary_arch_scribble_fault(uint64_t c)
{
	fpu_load_canary(c, have_avx);
	__asm__ volatile("wrmsr" : : "c"(0xc0000080u), "a"(0x0u), "d"(0u) : "memory");
}

const struct canary_fn canary_arch_fns[] = {
	{ "sse", fpu_sse_entry }, { "avx", fpu_avx_entry }, { "cpu", f_cpu },
	{ "fsgs_read", f_fsgs_read }, { "fsgs_sel", f_fsgs_sel }, { "fsgs_wrbase", f_fsgs_wrbase },
	{ "fsgs_rdbase", f_fsgs_rdbase }, { "msr_fsbase", f_msr_fsbase }, { "msr_efer", f_msr_efer },
	{ "cr3_write", f_cr3_write }, { "cr0_read", f_cr0_read }, { "lgdt", f_lgdt },
	{ "cli", f_cli }, { "hlt", f_hlt }, { "port_out", f_port_out }, { "port_in", f_port_in },
};
const size_t canary_arch_count = sizeof(canary_arch_fns) / sizeof(canary_arch_fns[0]);
