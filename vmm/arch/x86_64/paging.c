/* paging.c - x86_64 4-level page tables for a guest layout, built by the host.
 *
 * Maps every region 4 KiB page by page, identity (virtual == physical), with leaf permissions
 * from the region flags: user bit only for HP_MAP_USER, RW only for HP_MAP_W, NX unless
 * HP_MAP_X. Intermediate levels allow everything so that the leaf alone decides. Accessed and
 * dirty bits are preset so the MMU never writes to the tables (they stay identical to the
 * snapshot, and a CPL0 write would be emulated on PVM). Tables are allocated from
 * HP_GPA_PAGE_TABLES in mem (which maps guest physical 0..mem_size); the region is not mapped.
 * The PML4's guest physical address is the root (CR3). */
#include <stdbool.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/page_tables.h"
#include "hp_abi.h"
#include "x86_64.h"

/* Returns the next-level table that entry `idx` of `table` points to, creating it. */
static int descend(struct pt_alloc *a, uint64_t table, unsigned idx, uint64_t *next,
		   struct hp_error *err)
{
	uint64_t *e = &table_at(a, table)[idx];
	if (*e & HP_X86_PTE_P) {
		*next = *e & HP_X86_PTE_ADDR;
		return 0;
	}
	if (alloc_table(a, next, err))
		return -1;
	*e = *next | HP_X86_PTE_P | HP_X86_PTE_RW | HP_X86_PTE_US | HP_X86_PTE_A;
	return 0;
}

static uint64_t leaf_bits(unsigned flags)
{
	uint64_t v = HP_X86_PTE_P | HP_X86_PTE_A | HP_X86_PTE_D;
	if (flags & HP_MAP_W)
		v |= HP_X86_PTE_RW;
	if (flags & HP_MAP_USER)
		v |= HP_X86_PTE_US;
	if (!(flags & HP_MAP_X))
		v |= HP_X86_PTE_NX;
	return v;
}

static int map_page(struct pt_alloc *a, uint64_t pml4, uint64_t va, uint64_t bits,
		    const char *name, struct hp_error *err)
{
	uint64_t pdpt, pd, pt;
	if (descend(a, pml4, (va >> 39) & 511, &pdpt, err) ||
	    descend(a, pdpt, (va >> 30) & 511, &pd, err) ||
	    descend(a, pd, (va >> 21) & 511, &pt, err))
		return -1;
	uint64_t *e = &table_at(a, pt)[(va >> 12) & 511];
	if (*e & HP_X86_PTE_P)
		return hp_fail(err, HP_E_INVALID, "region '%s' overlaps another at %#llx", name,
			       (unsigned long long)va);
	*e = va | bits;
	return 0;
}

int hp_arch_build_page_tables(uint8_t *mem, uint64_t mem_size, const struct hp_region *regions,
			     unsigned nregions, uint64_t *cr3, struct hp_error *err)
{
	struct pt_alloc a = { 0 };
	if (pt_alloc_init(&a, mem, mem_size, err))
		return -1;
	uint64_t pml4;
	if (alloc_table(&a, &pml4, err))
		return -1;
	for (unsigned i = 0; i < nregions; i++) {
		const struct hp_region *r = &regions[i];
		if (pt_check_region(&a, mem_size, (1ull << 47), r, err))
			return -1;
		uint64_t bits = leaf_bits(r->flags);
		for (uint64_t va = r->start; va < r->start + r->size; va += HP_PAGE_SIZE)
			if (map_page(&a, pml4, va, bits, r->name, err))
				return -1;
	}
	*cr3 = pml4;
	return 0;
}
