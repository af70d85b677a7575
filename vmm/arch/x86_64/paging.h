/* paging.h - x86_64 4-level page tables for a guest layout, built by the host. */
#ifndef HP_X86_PAGING_H
#define HP_X86_PAGING_H

#include <stdint.h>

#include "hp_error.h"
#include "layout.h"

#define HP_X86_PTE_P   (1ull << 0)
#define HP_X86_PTE_RW  (1ull << 1)
#define HP_X86_PTE_US  (1ull << 2)
#define HP_X86_PTE_A   (1ull << 5)
#define HP_X86_PTE_D   (1ull << 6)
#define HP_X86_PTE_NX  (1ull << 63)
#define HP_X86_PTE_ADDR 0x000ffffffffff000ull

/* Maps every region 4 KiB page by page, identity (virtual == physical), with leaf permissions
 * from the region flags: user bit only for HP_MAP_USER, RW only for HP_MAP_W, NX unless
 * HP_MAP_X. Intermediate levels allow everything so that the leaf alone decides. Accessed and
 * dirty bits are preset so the MMU never writes to the tables (they stay identical to the
 * snapshot, and a CPL0 write would be emulated on PVM). Tables are allocated from
 * HP_GPA_PAGE_TABLES in mem (which maps guest physical 0..mem_size); the region is not mapped.
 * Returns the PML4's guest physical address in *cr3. */
int hp_x86_build_page_tables(uint8_t *mem, uint64_t mem_size, const struct hp_region *regions,
			     unsigned nregions, uint64_t *cr3, struct hp_error *err);

#endif
