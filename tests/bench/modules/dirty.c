/* dirty - a benchmark module for snapshot/restore (tests/bench/bench_restore.c).
 *
 *   dirty(n)   writes one byte into each of the first n pages (n <= 4096) of a static 16 MiB
 *              bss buffer; returns n
 *   nop()      returns nil: the smallest call there is
 */
#include <hyperpool/guest.h>
#include <stdint.h>

#define DIRTY_PAGES 4096
#define PAGE 4096

static uint8_t buffer[DIRTY_PAGES * PAGE] __attribute__((aligned(PAGE)));

static int dirty(const hp_args *args, hp_out *out)
{
	uint64_t n;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &n);
	if (n > DIRTY_PAGES)
		return hp_error(out, "dirty: at most %d pages", DIRTY_PAGES);
	volatile uint8_t *p = buffer;
	for (uint64_t i = 0; i < n; i++)
		p[i * PAGE] = (uint8_t)(i + 1);
	return hp_ret_u64(out, n);
}

static int nop(const hp_args *args, hp_out *out)
{
	(void)args;
	return hp_ret_nil(out);
}

HP_MODULE_INIT()
{
	hp_register("dirty", dirty);
	hp_register("nop", nop);
}
