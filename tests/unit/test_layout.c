/* test_layout.c - the guest memory layout, the region list, what every arch's page-table
 * builder refuses, and the ABI's status names. No KVM needed. (The x86_64 tables are checked
 * entry by entry in test_paging_x86_64.c.) */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "check.h"
#include "guest_layout.h"
#include "hp_abi.h"
#include "layout_fixture.h"

static void test_layout(void)
{
	struct hp_elf_image img = sample_image();
	struct hp_module_config cfg = { 0 };
	struct hp_layout l;
	struct hp_error err;
	CHECK(hp_layout_compute(&cfg, 0x300, &img, &l, &err) == 0);
	CHECK_EQ_U64(l.core_size, HP_PAGE_SIZE);
	CHECK_EQ_U64(l.input_size, HP_DEFAULT_INPUT_SIZE);
	CHECK_EQ_U64(l.output_size, HP_DEFAULT_OUTPUT_SIZE);
	CHECK_EQ_U64(l.heap_start, HP_GPA_IMAGE + 0x6000);
	CHECK_EQ_U64(l.heap_size, HP_DEFAULT_HEAP_SIZE);
	CHECK_EQ_U64(l.guard, l.heap_start + l.heap_size);
	CHECK_EQ_U64(l.stack_base, l.guard + HP_PAGE_SIZE);
	CHECK_EQ_U64(l.stack_top, l.stack_base + HP_DEFAULT_STACK_SIZE);
	CHECK_EQ_U64(l.mem_size, l.stack_top);

	struct { struct hp_module_config cfg; const char *field; } bad[] = {
		{ { .input_size = 0x1001 }, "input_size" },
		{ { .input_size = HP_INPUT_MAX + HP_PAGE_SIZE }, "input_size" },
		{ { .output_size = 0x800 }, "output_size" },
		{ { .heap_size = HP_PAGE_SIZE }, "heap_size" },
		{ { .stack_size = HP_PAGE_SIZE }, "stack_size" },
		{ { .heap_size = HP_GUEST_MEM_MAX }, "exceeds" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(hp_layout_compute(&bad[i].cfg, 0x300, &img, &l, &err) == -1);
		CHECK(err.code == HP_E_INVALID);
		CHECK_STR_CONTAINS(err.message, bad[i].field);
	}
	CHECK(hp_layout_compute(&cfg, HP_CORE_TEXT_MAX + 1, &img, &l, &err) == -1);
	CHECK_STR_CONTAINS(err.message, "core image");
	struct hp_elf_image low = img;
	low.lo = HP_GPA_IMAGE - HP_PAGE_SIZE;
	CHECK(hp_layout_compute(&cfg, 0x300, &low, &l, &err) == -1);
	CHECK(err.code == HP_E_BAD_ELF);
}

static void test_page_table_refusals(void)
{
	struct hp_layout l;
	struct hp_error err;
	struct hp_region regions[HP_MAX_REGIONS];
	unsigned n;
	uint8_t *mem = sample_memory(&l, regions, &n);
	if (!mem)
		return;
	uint64_t root = 0;
	/* Overlapping regions, misplaced regions and unaligned ones are refused. */
	struct hp_region twice[2] = { regions[3], regions[3] };
	CHECK(hp_arch_build_page_tables(mem, l.mem_size, twice, 2, &root, &err) == -1);
	CHECK_STR_CONTAINS(err.message, "overlaps");
	struct hp_region out = { l.mem_size, HP_PAGE_SIZE, HP_MAP_R, "outside" };
	CHECK(hp_arch_build_page_tables(mem, l.mem_size, &out, 1, &root, &err) == -1);
	CHECK_STR_CONTAINS(err.message, "misplaced");
	struct hp_region mmio_inside = { HP_GPA_CONTROL, HP_PAGE_SIZE, HP_MAP_MMIO, "mmio" };
	CHECK(hp_arch_build_page_tables(mem, l.mem_size, &mmio_inside, 1, &root, &err) == -1);
	struct hp_region odd = { HP_GPA_CONTROL + 8, HP_PAGE_SIZE, HP_MAP_R, "odd" };
	CHECK(hp_arch_build_page_tables(mem, l.mem_size, &odd, 1, &root, &err) == -1);
	struct hp_region on_tables = { HP_GPA_PAGE_TABLES, HP_PAGE_SIZE, HP_MAP_R, "tables" };
	CHECK(hp_arch_build_page_tables(mem, l.mem_size, &on_tables, 1, &root, &err) == -1);
	CHECK_STR_CONTAINS(err.message, "page tables");
	free(mem);
}


static void test_status_names(void)
{
	CHECK(!strcmp(hp_status_name(HP_OK), "ok"));
	CHECK(!strcmp(hp_status_name(HP_E_NO_SUCH_FUNCTION), "no_such_function"));
	CHECK(!strcmp(hp_status_name(HP_E_GUEST_FAULT), "guest_fault"));
	CHECK(!strcmp(hp_status_name(12345), "unknown"));
	/* Every defined code has its own name. */
	for (int a = 0; a < 64; a++)
		for (int b = a + 1; b < 64; b++)
			if (strcmp(hp_status_name(a), "unknown"))
				CHECK_MSG(strcmp(hp_status_name(a), hp_status_name(b)), "%d and %d share a name", a, b);
	CHECK(sizeof(struct hp_call_block) <= HP_PAGE_SIZE);
	CHECK(HP_GPA_HYPERCALL >= HP_GUEST_MEM_MAX);
}

int main(void)
{
	test_layout();
	test_page_table_refusals();
	test_status_names();
	CHECK_DONE();
}
