/* paging.c - aarch64 stage-1 translation tables (4 KiB granule, 39-bit VA: levels 1-3) for a
 * guest layout, built by the host.
 *
 * Maps every region 4 KiB page by page, identity (virtual == physical). Leaf permissions come
 * from the region flags: HP_MAP_USER pages are EL0-accessible (AP[1]) and never executable at
 * EL1 (PXN), the rest EL1-only and never executable at EL0 (UXN); read-only unless HP_MAP_W
 * (AP[2]); not executable at their own level unless HP_MAP_X. MMIO regions (the hypercall
 * page) are Device-nGnRE, everything else normal write-back memory. Table descriptors restrict
 * nothing so that the leaf alone decides. The access flag is preset and hardware updates are
 * off (TCR_EL1.HA/HD = 0): the MMU never writes to the tables, they stay identical to the
 * snapshot. Tables are allocated from HP_GPA_PAGE_TABLES in mem, which is not mapped. The
 * level-1 table's guest physical address is the root (TTBR0_EL1). */
#include <stdbool.h>
#include <string.h>

#include "aarch64.h"
#include "arch/arch.h"
#include "arch/page_tables.h"
#include "hp_abi.h"

/* Returns the next-level table that entry `idx` of `table` points to, creating it. */
static int descend(struct pt_alloc *a, uint64_t table, unsigned idx, uint64_t *next,
		   struct hp_error *err)
{
	uint64_t *e = &table_at(a, table)[idx];
	if (*e & A64_DESC_VALID) {
		*next = *e & A64_DESC_ADDR;
		return 0;
	}
	if (alloc_table(a, next, err))
		return -1;
	*e = *next | A64_DESC_VALID | A64_DESC_TABLE;
	return 0;
}

static uint64_t leaf_bits(unsigned flags)
{
	uint64_t v = A64_DESC_VALID | A64_DESC_TABLE | A64_DESC_AF | A64_DESC_SH_INNER;
	v |= A64_DESC_ATTR(flags & HP_MAP_MMIO ? A64_ATTR_DEVICE : A64_ATTR_NORMAL);
	if (!(flags & HP_MAP_W))
		v |= A64_DESC_AP_RO;
	if (flags & HP_MAP_USER) {
		v |= A64_DESC_AP_EL0 | A64_DESC_PXN;
		if (!(flags & HP_MAP_X))
			v |= A64_DESC_UXN;
	} else {
		v |= A64_DESC_UXN;
		if (!(flags & HP_MAP_X))
			v |= A64_DESC_PXN;
	}
	return v;
}

static int map_page(struct pt_alloc *a, uint64_t l1, uint64_t va, uint64_t bits,
		    const char *name, struct hp_error *err)
{
	uint64_t l2 = 0, l3 = 0;
	if (descend(a, l1, (va >> 30) & 511, &l2, err) || descend(a, l2, (va >> 21) & 511, &l3, err))
		return -1;
	uint64_t *e = &table_at(a, l3)[(va >> 12) & 511];
	if (*e & A64_DESC_VALID)
		return hp_fail(err, HP_E_INVALID, "region '%s' overlaps another at %#llx", name,
			       (unsigned long long)va);
	*e = va | bits;
	return 0;
}

int hp_arch_build_page_tables(uint8_t *mem, uint64_t mem_size, const struct hp_region *regions,
			      unsigned nregions, uint64_t *root, struct hp_error *err)
{
	struct pt_alloc a = { 0 };
	if (pt_alloc_init(&a, mem, mem_size, err))
		return -1;
	uint64_t l1;
	if (alloc_table(&a, &l1, err))
		return -1;
	for (unsigned i = 0; i < nregions; i++) {
		const struct hp_region *r = &regions[i];
		if (pt_check_region(&a, mem_size, (1ull << A64_VA_BITS), r, err))
			return -1;
		if ((r->flags & HP_MAP_W) && (r->flags & HP_MAP_X))
			return hp_fail(err, HP_E_INVALID, "region '%s' is writable and executable",
				       r->name);
		uint64_t bits = leaf_bits(r->flags);
		for (uint64_t va = r->start; va < r->start + r->size; va += HP_PAGE_SIZE)
			if (map_page(&a, l1, va, bits, r->name, err))
				return -1;
	}
	*root = l1;
	return 0;
}
