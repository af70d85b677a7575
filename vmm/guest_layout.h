/* guest_layout.h - where everything goes in a module's guest memory (see proto/hp_abi.h). Generic:
 * the arch backends turn the region list into page tables. */
#ifndef HP_GUEST_LAYOUT_H
#define HP_GUEST_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "elf_load.h"
#include "hpvmm.h" /* struct hp_module_config */

struct hp_layout {
	uint64_t core_size;              /* bytes of core text */
	uint64_t input_size, output_size;
	uint64_t image_lo, image_hi;     /* page-aligned span of the module's segments */
	uint64_t heap_start, heap_size;
	uint64_t guard;                  /* the unmapped page below the stack */
	uint64_t stack_base, stack_size;
	uint64_t stack_top;              /* == mem_size */
	uint64_t mem_size;
};

enum {
	HP_MAP_R = 1,
	HP_MAP_W = 2,
	HP_MAP_X = 4,
	HP_MAP_USER = 8,
	HP_MAP_MMIO = 16, /* mapped, but outside guest memory: accesses exit to the host */
};

struct hp_region {
	uint64_t start, size; /* page-aligned */
	unsigned flags;       /* HP_MAP_* */
	const char *name;
};

#define HP_MAX_REGIONS (9 + HP_ELF_MAX_SEGMENTS)

/* Validates the configured sizes (page multiples, within the ABI's bounds) and places heap,
 * guard and stack after the image. */
int hp_layout_compute(const struct hp_module_config *cfg, uint64_t core_size,
		      const struct hp_elf_image *img, struct hp_layout *out, struct hp_error *err);

/* The mapped regions, ascending and disjoint. Returns their number. */
unsigned hp_layout_regions(const struct hp_layout *l, const struct hp_elf_image *img,
			   struct hp_region *out);

/* Is [addr, addr + len) inside one region module code may read (user, readable, not MMIO)? */
bool hp_regions_user_readable(const struct hp_region *r, unsigned n, uint64_t addr, uint64_t len);

#endif
