/* tables.c - the x86_64 CPU tables in the core tables page: a GDT with kernel and user code and
 * data segments and a 64-bit TSS, the TSS (RSP0, IST1, no I/O bitmap), and an IDT of interrupt
 * gates into the core's 32 exception stubs. Built by the host once per template; the guest never
 * writes them (the page is supervisor read-only). */
#include <stdbool.h>
#include <string.h>

#include "hp_abi.h"
#include "x86_64.h"

static uint64_t seg_desc(uint64_t type, unsigned dpl, bool code)
{
	/* base 0, limit 0xfffff, G=1, P=1, S=1, accessed preset (the CPU need not write). */
	uint64_t d = 0xffffull | (0xfull << 48) | (1ull << 55) | (1ull << 47) | (1ull << 44);
	d |= (type | 1) << 40 | (uint64_t)dpl << 45;
	if (code)
		d |= 1ull << 53; /* L: 64-bit code */
	else
		d |= 1ull << 54; /* D/B */
	return d;
}

void hp_x86_build_tables(uint8_t *mem, const struct hp_x86_core_header *core)
{
	uint8_t *page = mem + HP_GPA_CORE_TABLES;
	uint64_t *gdt = (uint64_t *)(void *)(page + HP_X86_GDT_OFF);
	memset(page, 0, HP_PAGE_SIZE);
	gdt[0] = 0;
	gdt[1] = seg_desc(0xa, 0, true);  /* 0x08 kernel code: execute/read */
	gdt[2] = seg_desc(0x2, 0, false); /* 0x10 kernel data: read/write */
	gdt[3] = seg_desc(0x2, 3, false); /* 0x18 user data */
	gdt[4] = seg_desc(0xa, 3, true);  /* 0x20 user code */
	/* 0x28: 64-bit TSS, 16 bytes, type 0xb (busy: the host loads TR, no LTR in the guest). */
	uint64_t tss = HP_GPA_CORE_TABLES + HP_X86_TSS_OFF, limit = TSS_LIMIT;
	gdt[5] = limit | (tss & 0xffffff) << 16 | 0xbull << 40 | 1ull << 47 |
		 ((tss >> 24) & 0xff) << 56;
	gdt[6] = tss >> 32;

	/* TSS: RSP0 = top of the first 8 KiB of the core stack, IST1 (double fault, NMI, MC)
	 * = top of the rest, so a fault on a broken stack still has somewhere to go. */
	uint8_t *t = page + HP_X86_TSS_OFF;
	uint64_t rsp0 = HP_GPA_CORE_STACK + HP_CORE_STACK_SIZE / 2;
	uint64_t ist1 = HP_GPA_CORE_STACK + HP_CORE_STACK_SIZE;
	memcpy(t + 4, &rsp0, 8);
	memcpy(t + 0x24, &ist1, 8);
	uint16_t iomap = TSS_IOMAP_NONE;
	memcpy(t + 0x66, &iomap, 2);

	uint64_t *idt = (uint64_t *)(void *)(page + HP_X86_IDT_OFF);
	for (unsigned v = 0; v < 32; v++) {
		uint64_t h = core->vectors + v * core->vector_stride;
		unsigned ist = (v == 2 || v == 8 || v == 18) ? 1 : 0;
		idt[2 * v] = (h & 0xffff) | (uint64_t)HP_X86_SEL_KCODE << 16 | (uint64_t)ist << 32 |
			     0xeull << 40 /* interrupt gate */ | 1ull << 47 |
			     ((h >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = h >> 32;
	}
}
