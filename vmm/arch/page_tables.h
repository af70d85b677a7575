/* page_tables.h - what every arch's paging.c shares (static inline, no arch in it): the
 * allocator of table pages from HP_GPA_PAGE_TABLES and the check of one region against guest
 * memory, the tables and the arch's virtual address space. Only vmm/arch/<arch>/paging.c
 * includes it. */
#ifndef HP_ARCH_PAGE_TABLES_H
#define HP_ARCH_PAGE_TABLES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "guest_layout.h"
#include "hp_abi.h"
#include "hp_error.h"

struct pt_alloc {
	uint8_t *mem;
	uint64_t next, end;
};

/* Table pages come from HP_GPA_PAGE_TABLES, at most HP_PAGE_TABLES_MAX and inside mem. */
static inline int pt_alloc_init(struct pt_alloc *a, uint8_t *mem, uint64_t mem_size,
				struct hp_error *err)
{
	if (mem_size < HP_GPA_PAGE_TABLES + HP_PAGE_SIZE)
		return hp_fail(err, HP_E_INVALID, "guest memory too small for page tables");
	uint64_t end = HP_GPA_PAGE_TABLES + HP_PAGE_TABLES_MAX;
	*a = (struct pt_alloc){ mem, HP_GPA_PAGE_TABLES, end < mem_size ? end : mem_size };
	return 0;
}

static inline uint64_t *table_at(struct pt_alloc *a, uint64_t gpa)
{
	return (uint64_t *)(void *)(a->mem + gpa);
}

static inline int alloc_table(struct pt_alloc *a, uint64_t *gpa, struct hp_error *err)
{
	if (a->next >= a->end)
		return hp_fail(err, HP_E_INVALID, "page tables need more than %llu KiB",
			       (unsigned long long)(HP_PAGE_TABLES_MAX >> 10));
	*gpa = a->next;
	memset(a->mem + a->next, 0, HP_PAGE_SIZE);
	a->next += HP_PAGE_SIZE;
	return 0;
}

/* A region must be page-aligned, inside guest memory unless MMIO (and outside it if MMIO),
 * below va_limit, and clear of the tables. */
static inline int pt_check_region(const struct pt_alloc *a, uint64_t mem_size, uint64_t va_limit,
				  const struct hp_region *r, struct hp_error *err)
{
	bool inside = r->size <= mem_size && r->start <= mem_size - r->size;
	if ((r->start | r->size) & (HP_PAGE_SIZE - 1) || !(r->flags & HP_MAP_MMIO) != inside ||
	    r->start + r->size < r->start || r->start + r->size > va_limit)
		return hp_fail(err, HP_E_INVALID, "region '%s' [%#llx, +%#llx) is misplaced (MMIO outside guest memory, the rest inside)",
			       r->name, (unsigned long long)r->start, (unsigned long long)r->size);
	if (r->start < a->end && r->start + r->size > HP_GPA_PAGE_TABLES)
		return hp_fail(err, HP_E_INVALID, "region '%s' overlaps the page tables", r->name);
	return 0;
}

#endif
