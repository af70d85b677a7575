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
#include "hp_abi.h"
#include "x86_64.h"

struct pt_alloc {
	uint8_t *mem;
	uint64_t next, end;
};

static uint64_t *table_at(struct pt_alloc *a, uint64_t gpa)
{
	return (uint64_t *)(void *)(a->mem + gpa);
}

static int alloc_table(struct pt_alloc *a, uint64_t *gpa, struct hp_error *err)
{
	if (a->next >= a->end)
		return hp_fail(err, HP_E_INVALID, "page tables need more than %llu KiB",
			       (unsigned long long)(HP_PAGE_TABLES_MAX >> 10));
	*gpa = a->next;
	memset(a->mem + a->next, 0, HP_PAGE_SIZE);
	a->next += HP_PAGE_SIZE;
	return 0;
}

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
	if (mem_size < HP_GPA_PAGE_TABLES + HP_PAGE_SIZE)
		return hp_fail(err, HP_E_INVALID, "guest memory too small for page tables");
	uint64_t end = HP_GPA_PAGE_TABLES + HP_PAGE_TABLES_MAX;
	struct pt_alloc a = { mem, HP_GPA_PAGE_TABLES, end < mem_size ? end : mem_size };
	uint64_t pml4;
	if (alloc_table(&a, &pml4, err))
		return -1;
	for (unsigned i = 0; i < nregions; i++) {
		const struct hp_region *r = &regions[i];
		bool inside = r->size <= mem_size && r->start <= mem_size - r->size;
		if ((r->start | r->size) & (HP_PAGE_SIZE - 1) || !(r->flags & HP_MAP_MMIO) != inside ||
		    r->start + r->size < r->start || r->start + r->size > (1ull << 47))
			return hp_fail(err, HP_E_INVALID, "region '%s' [%#llx, +%#llx) is misplaced (MMIO outside guest memory, the rest inside)",
				       r->name, (unsigned long long)r->start,
				       (unsigned long long)r->size);
		if (r->start < a.end && r->start + r->size > HP_GPA_PAGE_TABLES)
			return hp_fail(err, HP_E_INVALID, "region '%s' overlaps the page tables",
				       r->name);
		uint64_t bits = leaf_bits(r->flags);
		for (uint64_t va = r->start; va < r->start + r->size; va += HP_PAGE_SIZE)
			if (map_page(&a, pml4, va, bits, r->name, err))
				return -1;
	}
	*cr3 = pml4;
	return 0;
}
