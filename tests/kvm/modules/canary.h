/* canary.h - what the canary guest module (canary.c) and its host tests (test_noleak.c,
 * test_pool.c) share: one source of the expected values. The guest module includes it too, so it
 * stays freestanding: <stdint.h> only, constants, one struct and static inline functions. */
#ifndef HP_KVMTEST_CANARY_H
#define HP_KVMTEST_CANARY_H

#include <stdint.h>

#define G_INIT 0x676c6f62616c0001ull       /* the static of global() after init */
#define INIT_LINE "canary: init\n"         /* init prints this once per snapshot */
#define MARKER 0x4d41524b45520001ull       /* what %fs:/%gs: reads find when the bases are 0 */
#define MXCSR_CANARY 0xff80u               /* round toward zero, flush to zero, all masked */
#define FCW_CANARY 0x027fu                 /* 53-bit precision, all exceptions masked */
#define MXCSR_RESET 0x1f80u
#define FCW_RESET 0x037fu
#define HEAP_LATE_BYTES (3u << 20)
#define HEAP_LATE_PROBES 5
#define HEAP_LATE_OFFSETS { 0, 4096, 1u << 20, 2u << 20, (3u << 20) - 8 }
#define STACK_WORDS 512
#define DIRTY_PAGES 4096
#define DIRTY_WORDS { 0, 256, 511 }

static inline uint64_t dirty_init(uint64_t page, unsigned word)
{
	return 0x1d1d000000000000ull ^ page << 16 ^ word;
}

static inline uint64_t dirty_seed(uint64_t seed, uint64_t page, unsigned word)
{
	return seed ^ page << 16 ^ word;
}

/* What sse/avx return: the fxsave64 image (FCW at 0, FSW 2, abridged FTW 4, MXCSR 24,
 * st0-7 at 32 + 16 i, xmm0-15 at 160 + 16 i) and the upper halves of ymm0-15. */
struct fpu_dump {
	uint8_t fx[512];
	uint8_t ymmh[16][16];
	uint32_t have_avx;
	uint32_t pad[15];
};
/* What aarch64's regs returns: the FP/SIMD registers and what else EL0 can write, as found at
 * the function's entry (an assembly stub saves them before any compiled code runs). */
#define A64_FPCR_CANARY 0x03c00000u /* RMode toward zero, FZ, DN */
#define A64_FPSR_CANARY 0x0800009fu /* QC and every cumulative exception flag */
#define A64_NZCV_CANARY 0xf0000000u
struct a64_regs_dump {
	uint8_t v[32][16];
	uint64_t fpcr, fpsr, tpidr_el0, nzcv;
};

#endif
