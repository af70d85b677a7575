/* tables.c - the aarch64 core tables page. aarch64 has no descriptor tables in memory (the
 * vector table is code, in the core text): the page holds only what the core's call entry
 * reads, the dispatch entry and the module stack top, written by the host after init (EL1
 * read-only: module code cannot redirect the core). */
#include <string.h>

#include "aarch64.h"
#include "hp_abi.h"
#include "vm_internal.h"

void hp_a64_write_tables(uint8_t *mem, uint64_t dispatch_entry, uint64_t stack_top)
{
	uint8_t *page = mem + HP_GPA_CORE_TABLES;
	memset(page, 0, HP_PAGE_SIZE);
	memcpy(page + HP_A64_TABLES_DISPATCH, &dispatch_entry, 8);
	memcpy(page + HP_A64_TABLES_STACK, &stack_top, 8);
}
