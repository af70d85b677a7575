/* fuzz_elf.c - libFuzzer target for the ELF loader.
 *
 * Anything hp_elf_parse accepts must also load without touching memory outside the region,
 * so accepted inputs go through hp_elf_load into a buffer covering guest physical
 * 0 .. region end (allocated once; the kernel only backs the pages actually written).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iproto -Ivmm \
 *         vmm/elf.c vmm/hp_error.c tests/fuzz/fuzz_elf.c -o fuzz_elf
 *   ./fuzz_elf tests/fuzz/corpus/elf */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE under -std=c17 */

#include <linux/elf.h> /* not <elf.h>: -Ivmm makes that name vmm/elf.h */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "elf_load.h"
#include "hp_abi.h"

#define MEM_SIZE (HP_GPA_IMAGE + HP_IMAGE_MAX)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* mmap rather than malloc: only the pages a segment touches get backed, and ASan does
	 * not have to shadow a 96 MiB heap block. */
	static uint8_t *mem;
	static const struct hp_elf_rules rules = {
		.machine = EM_X86_64,
		.region_start = HP_GPA_IMAGE,
		.region_end = HP_GPA_IMAGE + HP_IMAGE_MAX,
	};

	if (!mem) {
		void *p = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			abort();
		mem = p;
	}

	struct hp_elf_image img;
	struct hp_error err;
	if (hp_elf_parse(data, size, &rules, &img, &err) != 0) {
		if (err.code != HP_E_BAD_ELF || err.message[0] == '\0')
			abort();
		return 0;
	}

	/* Invariants the VMM relies on when it maps the image. */
	if (img.nsegs == 0 || img.nsegs > HP_ELF_MAX_SEGMENTS || img.lo < rules.region_start ||
	    img.hi > rules.region_end || img.lo % HP_PAGE_SIZE || img.hi % HP_PAGE_SIZE)
		abort();
	for (unsigned i = 0; i < img.nsegs; i++) {
		const struct hp_elf_segment *s = &img.seg[i];
		if (s->filesz > s->memsz || s->offset + s->filesz > size ||
		    ((s->flags & HP_SEG_W) && (s->flags & HP_SEG_X)))
			abort();
		if (i > 0 && img.seg[i - 1].vaddr + img.seg[i - 1].memsz > s->vaddr)
			abort();
	}

	if (hp_elf_load(&img, data, size, mem, MEM_SIZE, &err) != 0)
		abort();
	return 0;
}
