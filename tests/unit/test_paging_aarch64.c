/* test_paging_aarch64.c - the aarch64 translation-table builder checked descriptor by
 * descriptor: every page of every region mapped identity with the region's permissions (AP,
 * UXN, PXN, memory attribute), nothing else mapped, the access flag preset. aarch64 only
 * (tests/unit/meson.build). No KVM needed. */
#include <stdbool.h>
#include <stdlib.h>

#include "arch/arch.h"
#include "arch/aarch64/aarch64.h"
#include "check.h"
#include "guest_layout.h"
#include "hp_abi.h"
#include "layout_fixture.h"

#define VALID A64_DESC_VALID
#define EL0 A64_DESC_AP_EL0
#define RO A64_DESC_AP_RO
#define UXN A64_DESC_UXN
#define PXN A64_DESC_PXN

/* Walks levels 1-3 (TCR_EL1.T0SZ = 25); 0 when a level is missing. */
static uint64_t desc(const uint8_t *mem, uint64_t root, uint64_t va)
{
	uint64_t table = root;
	static const int shifts[] = { 30, 21, 12 };
	for (int lvl = 0; lvl < 3; lvl++) {
		uint64_t e;
		memcpy(&e, mem + table + ((va >> shifts[lvl]) & 511) * 8, 8);
		if (lvl == 2)
			return e;
		if (!(e & VALID))
			return 0;
		/* A table descriptor restricts nothing (APTable, UXNTable, PXNTable = 0). */
		CHECK((e & 3) == 3);
		CHECK_EQ_U64(e & ~(A64_DESC_ADDR | 3ull), 0);
		uint64_t next = e & A64_DESC_ADDR;
		CHECK(next >= HP_GPA_PAGE_TABLES && next < HP_GPA_PAGE_TABLES + HP_PAGE_TABLES_MAX);
		table = next;
	}
	return 0;
}

static void check_leaf(uint64_t e, const struct hp_region *r, uint64_t addr)
{
	bool user = r->flags & HP_MAP_USER, x = r->flags & HP_MAP_X;
	CHECK_MSG((e & 3) == 3, "page %#llx of '%s' not mapped", (unsigned long long)addr, r->name);
	CHECK_EQ_U64(e & A64_DESC_ADDR, addr); /* identity */
	CHECK_EQ_U64(!!(e & EL0), user);
	CHECK_EQ_U64(!!(e & RO), !(r->flags & HP_MAP_W));
	/* EL0 runs only user pages marked X; EL1 runs only core pages marked X. */
	CHECK_EQ_U64(!!(e & UXN), !(user && x));
	CHECK_EQ_U64(!!(e & PXN), !(!user && x));
	CHECK(e & A64_DESC_AF);
	CHECK_EQ_U64((e >> 2) & 7, r->flags & HP_MAP_MMIO ? A64_ATTR_DEVICE : A64_ATTR_NORMAL);
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
	uint64_t root = 0;
	CHECK(hp_arch_build_page_tables(mem, l.mem_size, regions, n, &root, &err) == 0);
	CHECK_EQ_U64(root, HP_GPA_PAGE_TABLES);

	uint64_t mapped = 0;
	for (uint64_t va = 0; va < l.mem_size + HP_PAGE_SIZE; va += HP_PAGE_SIZE) {
		uint64_t addr = va < l.mem_size ? va : HP_GPA_HYPERCALL;
		const struct hp_region *r = region_of(regions, n, addr);
		uint64_t e = desc(mem, root, addr);
		if (!r) {
			CHECK_MSG(!(e & VALID), "page %#llx mapped outside every region",
				  (unsigned long long)addr);
			continue;
		}
		mapped++;
		check_leaf(e, r, addr);
	}
	CHECK(mapped > 0);

	/* Spot checks of the policy itself, independent of the region list. */
	CHECK(!(desc(mem, root, 0) & VALID));                  /* null page */
	CHECK(!(desc(mem, root, HP_GPA_PAGE_TABLES) & VALID)); /* tables */
	CHECK(!(desc(mem, root, l.guard) & VALID));            /* guard */
	uint64_t core = desc(mem, root, HP_GPA_CORE_TEXT);
	CHECK((core & VALID) && !(core & EL0) && (core & RO) && !(core & PXN) && (core & UXN));
	uint64_t tables = desc(mem, root, HP_GPA_CORE_TABLES);
	CHECK((tables & VALID) && !(tables & EL0) && (tables & RO) && (tables & PXN));
	uint64_t text = desc(mem, root, HP_GPA_IMAGE + 0x1000);
	CHECK((text & EL0) && (text & RO) && !(text & UXN) && (text & PXN));
	uint64_t data = desc(mem, root, HP_GPA_IMAGE + 0x5000);
	CHECK((data & EL0) && !(data & RO) && (data & UXN) && (data & PXN));
	uint64_t input = desc(mem, root, HP_GPA_INPUT);
	CHECK((input & EL0) && (input & RO) && (input & UXN));
	uint64_t hc = desc(mem, root, HP_GPA_HYPERCALL);
	CHECK((hc & EL0) && !(hc & RO) && (hc & UXN) && ((hc >> 2) & 7) == A64_ATTR_DEVICE);
	CHECK(!(desc(mem, root, l.stack_top) & VALID));        /* past the top */
	free(mem);
}

int main(void)
{
	test_page_tables();
	CHECK_DONE();
}
