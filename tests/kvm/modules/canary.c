/* canary - functions that report the state they find, then leave a canary behind, for the
 * kvm suite's no-leak tests (tests/kvm/test_noleak.c). Each function returns what it found
 * BEFORE writing: a restored VM must show the snapshot's state in every call, never a canary of
 * an earlier call. Canaries are uint64s chosen by the test (it tags them so that any stray copy
 * is recognisable).
 *
 * Init prints INIT_LINE (test_pool counts how often init ran), sets the static of global() to
 * G_INIT and writes the init pattern into dirty()'s buffer.
 *
 *   global(c)          the old value of a static (G_INIT after init); writes c into it
 *   heap(c)            bin: the 64 bytes malloc(64) returned (not freed); then fills it with c;
 *                      and the block's address: [addr, bin]
 *   heap_late(c)       malloc(3 MiB), beyond anything init touched: [addr, words at offsets
 *                      0, 4 KiB, 1 MiB, 2 MiB, 3 MiB - 8, count of nonzero words in the whole
 *                      block]; then fills the block with c (not freed)
 *   stack(c)           bin: 512 words of uninitialised stack (a volatile array in a callee's
 *                      frame, read before written); then fills the array with c
 *   sse(c) / avx(c)    bin: struct fpu_dump (canary.h) as found at function entry (an assembly stub
 *                      saves it before any compiled code of the function runs); then loads c
 *                      into xmm0-15 (and, for avx, the upper halves of ymm0-15), 8 x87 registers
 *                      (mantissa = c), MXCSR = MXCSR_CANARY and FCW = FCW_CANARY
 *   cpu()              [have_avx, xcr0, cpuid(1).ecx, cpuid(7).ebx]
 *   fsgs_read()        [ds, es, fs, gs, ss, cs, word at %fs:marker, word at %gs:marker]: the
 *                      segment-relative reads return MARKER when the FS/GS bases are 0
 *   fsgs_sel(ds,es,fs,gs)  loads these selectors; returns the values read back
 *   fsgs_wrbase(f, g)  wrfsbase f, wrgsbase g (#UD unless CR4.FSGSBASE); returns
 *                      [rdfsbase, rdgsbase] read back
 *   fsgs_rdbase()      [rdfsbase, rdgsbase] (#UD unless CR4.FSGSBASE)
 *   msr_fsbase, msr_efer, cr3_write, cr0_read, lgdt, cli, hlt, port_out, port_in:
 *                      one privileged instruction each (CPL3, IOPL 0: #GP); return nil if it
 *                      did not fault (cli: [RFLAGS before, RFLAGS after])
 *   dirty(n, seed)     checks that all DIRTY_PAGES pages of a static 16 MiB buffer hold the init
 *                      pattern (words 0, 256, 511 of page p = dirty_init(p, w)), then writes pages
 *                      0..n-1 with dirty_seed(seed, p, w); returns [bad pages, first bad page
 *                      or -1, sum of every word read]
 *   scribble_fault(c)  writes c into the static of global(), a malloc(64) block, pages 0-15
 *                      of dirty()'s buffer, stack()'s array and the FPU registers, then
 *                      executes wrmsr (#GP)
 *   oom()              mallocs 1 MiB blocks until NULL, then 4 KiB blocks until NULL, writes a
 *                      word in each; returns [MiB blocks, 4 KiB blocks]
 */

#include <hyperpool/guest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canary.h"

/* --- global ----------------------------------------------------------------------------- */

static volatile uint64_t global_word;

static int f_global(const hp_args *args, hp_out *out)
{
	uint64_t c;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &c);
	uint64_t old = global_word;
	global_word = c;
	return hp_ret_u64(out, old);
}

/* --- heap ------------------------------------------------------------------------------- */

static int f_heap(const hp_args *args, hp_out *out)
{
	uint64_t c;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &c);
	volatile uint64_t *p = malloc(64);
	if (!p)
		return hp_error(out, "heap: malloc(64) failed");
	uint64_t found[8];
	for (int i = 0; i < 8; i++)
		found[i] = p[i];
	for (int i = 0; i < 8; i++)
		p[i] = c;
	msgpack_packer *pk = hp_out_packer(out);
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, (uint64_t)(uintptr_t)p);
	msgpack_pack_bin(pk, sizeof(found));
	return msgpack_pack_bin_body(pk, found, sizeof(found));
}

static int f_heap_late(const hp_args *args, hp_out *out)
{
	uint64_t c;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &c);
	volatile uint64_t *p = malloc(HEAP_LATE_BYTES);
	if (!p)
		return hp_error(out, "heap_late: malloc(%u) failed", HEAP_LATE_BYTES);
	static const uint32_t offs[HEAP_LATE_PROBES] = HEAP_LATE_OFFSETS;
	uint64_t words[HEAP_LATE_PROBES], nonzero = 0;
	for (int i = 0; i < HEAP_LATE_PROBES; i++)
		words[i] = p[offs[i] / 8];
	for (uint32_t i = 0; i < HEAP_LATE_BYTES / 8; i++)
		nonzero += p[i] != 0;
	for (uint32_t i = 0; i < HEAP_LATE_BYTES / 8; i++)
		p[i] = c;
	msgpack_packer *pk = hp_out_packer(out);
	msgpack_pack_array(pk, 2 + HEAP_LATE_PROBES);
	msgpack_pack_uint64(pk, (uint64_t)(uintptr_t)p);
	for (int i = 0; i < HEAP_LATE_PROBES; i++)
		msgpack_pack_uint64(pk, words[i]);
	return msgpack_pack_uint64(pk, nonzero);
}

/* --- stack ------------------------------------------------------------------------------ */

static uint64_t stack_found[STACK_WORDS];

/* Its frame lies below f_stack's: stack that the runtime and f_stack itself left behind. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((noinline)) static void stack_probe(uint64_t c)
{
	volatile uint64_t a[STACK_WORDS];
	for (int i = 0; i < STACK_WORDS; i++)
		stack_found[i] = a[i]; /* uninitialised on purpose: that is what is checked */
	for (int i = 0; i < STACK_WORDS; i++)
		a[i] = c;
}
#pragma GCC diagnostic pop

static int f_stack(const hp_args *args, hp_out *out)
{
	uint64_t c;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &c);
	stack_probe(c);
	return hp_ret_bin(out, stack_found, sizeof(stack_found));
}

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

static int f_fsgs_wrbase(const hp_args *args, hp_out *out)
{
	uint64_t f, g, rf, rg;
	if (hp_args_expect(args, out, "uu") < 0)
		return -1;
	hp_arg_u64(args, 0, &f);
	hp_arg_u64(args, 1, &g);
	__asm__ volatile("wrfsbase %0" : : "r"(f) : "memory");
	__asm__ volatile("wrgsbase %0" : : "r"(g) : "memory");
	__asm__ volatile("rdfsbase %0" : "=r"(rf));
	__asm__ volatile("rdgsbase %0" : "=r"(rg));
	msgpack_packer *pk = hp_out_packer(out);
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, rf);
	return msgpack_pack_uint64(pk, rg);
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

/* --- dirty pages ------------------------------------------------------------------------ */

static volatile uint64_t dirty_buf[DIRTY_PAGES][512] __attribute__((aligned(4096)));

static int f_dirty(const hp_args *args, hp_out *out)
{
	uint64_t n, seed;
	if (hp_args_expect(args, out, "uu") < 0)
		return -1;
	hp_arg_u64(args, 0, &n);
	hp_arg_u64(args, 1, &seed);
	if (n > DIRTY_PAGES)
		return hp_error(out, "dirty: at most %u pages", DIRTY_PAGES);
	static const unsigned words[3] = DIRTY_WORDS;
	uint64_t bad = 0, sum = 0;
	int64_t first_bad = -1;
	for (uint64_t p = 0; p < DIRTY_PAGES; p++) {
		bool ok = true;
		for (int i = 0; i < 3; i++) {
			uint64_t v = dirty_buf[p][words[i]];
			sum += v;
			ok = ok && v == dirty_init(p, words[i]);
		}
		if (!ok) {
			bad++;
			if (first_bad < 0)
				first_bad = (int64_t)p;
		}
	}
	for (uint64_t p = 0; p < n; p++)
		for (int i = 0; i < 3; i++)
			dirty_buf[p][words[i]] = dirty_seed(seed, p, words[i]);
	msgpack_packer *pk = hp_out_packer(out);
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint64(pk, bad);
	msgpack_pack_int64(pk, first_bad);
	return msgpack_pack_uint64(pk, sum);
}

/* --- a call that leaves canaries everywhere, then faults --------------------------------- */

static int f_scribble_fault(const hp_args *args, hp_out *out)
{
	uint64_t c;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &c);
	global_word = c;
	volatile uint64_t *p = malloc(64);
	for (int i = 0; p && i < 8; i++)
		p[i] = c;
	static const unsigned words[3] = DIRTY_WORDS;
	for (uint64_t pg = 0; pg < 16; pg++)
		for (int i = 0; i < 3; i++)
			dirty_buf[pg][words[i]] = dirty_seed(c, pg, words[i]);
	stack_probe(c);
	fpu_load_canary(c, have_avx);
	__asm__ volatile("wrmsr" : : "c"(0xc0000080u), "a"(0x0u), "d"(0u) : "memory");
	return hp_ret_nil(out);
}

/* --- heap exhaustion -------------------------------------------------------------------- */

static int f_oom(const hp_args *args, hp_out *out)
{
	(void)args;
	uint64_t big = 0, small = 0;
	volatile uint64_t *p;
	while ((p = malloc(1u << 20)) != NULL) {
		*p = big++;
	}
	while ((p = malloc(4096)) != NULL) {
		*p = small++;
	}
	msgpack_packer *pk = hp_out_packer(out);
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, big);
	return msgpack_pack_uint64(pk, small);
}

HP_MODULE_INIT()
{
	printf(INIT_LINE);
	global_word = G_INIT;
	for (uint64_t p = 0; p < DIRTY_PAGES; p++) {
		static const unsigned words[3] = DIRTY_WORDS;
		for (int i = 0; i < 3; i++)
			dirty_buf[p][words[i]] = dirty_init(p, words[i]);
	}
	detect_cpu();
	hp_register("global", f_global);
	hp_register("heap", f_heap);
	hp_register("heap_late", f_heap_late);
	hp_register("stack", f_stack);
	hp_register("sse", fpu_sse_entry);
	hp_register("avx", fpu_avx_entry);
	hp_register("cpu", f_cpu);
	hp_register("fsgs_read", f_fsgs_read);
	hp_register("fsgs_sel", f_fsgs_sel);
	hp_register("fsgs_wrbase", f_fsgs_wrbase);
	hp_register("fsgs_rdbase", f_fsgs_rdbase);
	hp_register("msr_fsbase", f_msr_fsbase);
	hp_register("msr_efer", f_msr_efer);
	hp_register("cr3_write", f_cr3_write);
	hp_register("cr0_read", f_cr0_read);
	hp_register("lgdt", f_lgdt);
	hp_register("cli", f_cli);
	hp_register("hlt", f_hlt);
	hp_register("port_out", f_port_out);
	hp_register("port_in", f_port_in);
	hp_register("dirty", f_dirty);
	hp_register("oom", f_oom);
	hp_register("scribble_fault", f_scribble_fault);
}
