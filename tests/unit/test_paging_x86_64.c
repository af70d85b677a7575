/* test_paging_x86_64.c - the x86_64 page-table builder checked entry by entry: every page of
 * every region mapped identity with the region's permissions, nothing else mapped, A/D preset.
 * x86_64 only (tests/unit/meson.build). No KVM needed. */
#include <stdbool.h>
#include <stdlib.h>

#include "arch/arch.h"
#include "arch/x86_64/x86_64.h"
#include "check.h"
#include "guest_layout.h"
#include "hp_abi.h"
#include "layout_fixture.h"

static uint64_t pte(const uint8_t *mem, uint64_t cr3, uint64_t va, int *level_missing)
{
	uint64_t table = cr3;
	static const int shifts[] = { 39, 30, 21, 12 };
	for (int lvl = 0; lvl < 4; lvl++) {
		uint64_t e;
		memcpy(&e, mem + table + ((va >> shifts[lvl]) & 511) * 8, 8);
		if (lvl == 3)
			return e;
		if (!(e & HP_X86_PTE_P)) {
			*level_missing = lvl;
			return 0;
		}
		/* Upper levels allow everything; the leaf decides. */
		CHECK((e & (HP_X86_PTE_RW | HP_X86_PTE_US)) == (HP_X86_PTE_RW | HP_X86_PTE_US));
		CHECK(!(e & HP_X86_PTE_NX));
		CHECK(e & HP_X86_PTE_A);
		uint64_t next = e & HP_X86_PTE_ADDR;
		CHECK(next >= HP_GPA_PAGE_TABLES && next < HP_GPA_PAGE_TABLES + HP_PAGE_TABLES_MAX);
		table = next;
	}
	return 0;
}

static void test_page_tables(void)
{
	struct hp_layout l;
	struct hp_error err;
	struct hp_region regions[HP_MAX_REGIONS];
	unsigned n;
	uint8_t *mem = sample_memory(&l, regions, &n);
	if (!mem)
		return;
	uint64_t cr3 = 0;
	CHECK(hp_arch_build_page_tables(mem, l.mem_size, regions, n, &cr3, &err) == 0);
	CHECK_EQ_U64(cr3, HP_GPA_PAGE_TABLES);

	/* Every page of guest memory, and the hypercall page: mapped exactly as its region says. */
	uint64_t mapped = 0;
	for (uint64_t va = 0; va < l.mem_size + HP_PAGE_SIZE; va += HP_PAGE_SIZE) {
		uint64_t addr = va < l.mem_size ? va : HP_GPA_HYPERCALL;
		const struct hp_region *r = region_of(regions, n, addr);
		int missing = -1;
		uint64_t e = pte(mem, cr3, addr, &missing);
		if (!r) {
			CHECK_MSG(!(e & HP_X86_PTE_P), "page %#llx mapped outside every region",
				  (unsigned long long)addr);
			continue;
		}
		mapped++;
		CHECK_MSG(e & HP_X86_PTE_P, "page %#llx of '%s' not mapped", (unsigned long long)addr, r->name);
		CHECK_EQ_U64(e & HP_X86_PTE_ADDR, addr); /* identity */
		CHECK_EQ_U64(!!(e & HP_X86_PTE_US), !!(r->flags & HP_MAP_USER));
		CHECK_EQ_U64(!!(e & HP_X86_PTE_RW), !!(r->flags & HP_MAP_W));
		CHECK_EQ_U64(!!(e & HP_X86_PTE_NX), !(r->flags & HP_MAP_X));
		CHECK((e & (HP_X86_PTE_A | HP_X86_PTE_D)) == (HP_X86_PTE_A | HP_X86_PTE_D));
	}
	CHECK(mapped > 0);

	/* Spot checks of the policy itself, independent of the region list. */
	int missing = -1;
	CHECK(!(pte(mem, cr3, 0, &missing) & HP_X86_PTE_P));                       /* null page */
	CHECK(!(pte(mem, cr3, HP_GPA_PAGE_TABLES, &missing) & HP_X86_PTE_P));      /* tables */
	CHECK(!(pte(mem, cr3, l.guard, &missing) & HP_X86_PTE_P));                 /* guard */
	uint64_t core = pte(mem, cr3, HP_GPA_CORE_TEXT, &missing);
	CHECK((core & HP_X86_PTE_P) && !(core & HP_X86_PTE_US) && !(core & HP_X86_PTE_NX) &&
	      !(core & HP_X86_PTE_RW));
	uint64_t text = pte(mem, cr3, HP_GPA_IMAGE + 0x1000, &missing);
	CHECK((text & HP_X86_PTE_US) && !(text & HP_X86_PTE_RW) && !(text & HP_X86_PTE_NX));
	uint64_t ro = pte(mem, cr3, HP_GPA_IMAGE + 0x3000, &missing);
	CHECK((ro & HP_X86_PTE_US) && !(ro & HP_X86_PTE_RW) && (ro & HP_X86_PTE_NX));
	uint64_t data = pte(mem, cr3, HP_GPA_IMAGE + 0x5000, &missing);
	CHECK((data & HP_X86_PTE_US) && (data & HP_X86_PTE_RW) && (data & HP_X86_PTE_NX));
	uint64_t input = pte(mem, cr3, HP_GPA_INPUT, &missing);
	CHECK((input & HP_X86_PTE_US) && !(input & HP_X86_PTE_RW) && (input & HP_X86_PTE_NX));
	uint64_t stack = pte(mem, cr3, l.stack_top - HP_PAGE_SIZE, &missing);
	CHECK((stack & HP_X86_PTE_US) && (stack & HP_X86_PTE_RW) && (stack & HP_X86_PTE_NX));
	CHECK(!(pte(mem, cr3, l.stack_top, &missing) & HP_X86_PTE_P));             /* past the top */
	free(mem);
}

int main(void)
{
	test_page_tables();
	CHECK_DONE();
}
