/* layout_fixture.h - a small module image shared by the layout and page-table unit tests. */
#ifndef LAYOUT_FIXTURE_H
#define LAYOUT_FIXTURE_H

#include "elf_load.h"
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

#endif
