/* layout_fixture.h - a small module image shared by the layout and page-table unit tests. */
#ifndef LAYOUT_FIXTURE_H
#define LAYOUT_FIXTURE_H

#include <stdlib.h>

#include "check.h"
#include "elf_load.h"
#include "guest_layout.h"
#include "hp_abi.h"

/* Three segments (text, rodata, data with bss) in 6 pages at the start of the image region. */
static inline struct hp_elf_image sample_image(void)
{
	struct hp_elf_image img = { .entry = HP_GPA_IMAGE + 0x10, .nsegs = 3 };
	img.seg[0] = (struct hp_elf_segment){ HP_GPA_IMAGE, 0x2345, 0x2345, 0x1000, HP_SEG_R | HP_SEG_X };
	img.seg[1] = (struct hp_elf_segment){ HP_GPA_IMAGE + 0x3000, 0x800, 0x800, 0x4000, HP_SEG_R };
	img.seg[2] = (struct hp_elf_segment){ HP_GPA_IMAGE + 0x4000, 0x1800, 0x100, 0x5000, HP_SEG_R | HP_SEG_W };
	img.lo = HP_GPA_IMAGE;
	img.hi = HP_GPA_IMAGE + 0x6000;
	return img;
}

/* The sample image laid out with a 256 KiB heap and a 64 KiB stack, its 12 regions (3 core +
 * control + input + output + 3 segments + heap + stack + hypercall) in regions[], and zeroed
 * guest memory for a page-table builder (free() it; NULL when out of memory). */
static inline uint8_t *sample_memory(struct hp_layout *l, struct hp_region *regions, unsigned *n)
{
	struct hp_elf_image img = sample_image();
	struct hp_module_config cfg = { .heap_size = 0x40000, .stack_size = 0x10000 };
	struct hp_error err;
	CHECK(hp_layout_compute(&cfg, 0x300, &img, l, &err) == 0);
	*n = hp_layout_regions(l, &img, regions);
	CHECK(*n == 12);
	uint8_t *mem = calloc(1, l->mem_size);
	CHECK(mem != NULL);
	return mem;
}

/* The region of a sample layout that holds va, or NULL (the paging tests). */
static inline const struct hp_region *region_of(const struct hp_region *r, unsigned n, uint64_t va)
{
	for (unsigned i = 0; i < n; i++)
		if (va >= r[i].start && va - r[i].start < r[i].size)
			return &r[i];
	return NULL;
}

#endif
