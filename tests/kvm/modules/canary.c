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
 * The register probes below (sse ... port_in) are x86_64's, in canary_x86_64.c; aarch64's
 * (regs, ...) are in canary_aarch64.c. scribble_fault leaves the arch's register canaries and
 * faults the arch's way.
 *
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
#include "canary_arch.h"

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
	canary_arch_scribble_fault(c);
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
	canary_arch_init();
	hp_register("global", f_global);
	hp_register("heap", f_heap);
	hp_register("heap_late", f_heap_late);
	hp_register("stack", f_stack);
	for (size_t i = 0; i < canary_arch_count; i++)
		hp_register(canary_arch_fns[i].name, canary_arch_fns[i].fn);
	hp_register("dirty", f_dirty);
	hp_register("oom", f_oom);
	hp_register("scribble_fault", f_scribble_fault);
}
