/* elf_load.h - validating ELF64 loader for guest modules (internal to libhpvmm).
 *
 * The module file is hostile input: hp_elf_parse checks every header field, offset and length
 * before anything is copied, and names the offending field in its error message. */
#ifndef HP_ELF_LOAD_H
#define HP_ELF_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "hp_error.h"

#define HP_ELF_MAX_SEGMENTS 16
#define HP_ELF_MAX_PHDRS 64

enum { HP_SEG_R = 4, HP_SEG_W = 2, HP_SEG_X = 1 }; /* same bits as PF_R/PF_W/PF_X */

struct hp_elf_segment {
	uint64_t vaddr;  /* where it goes (guest virtual == guest physical) */
	uint64_t memsz;  /* bytes in memory; memsz >= filesz, the rest is zero */
	uint64_t filesz; /* bytes taken from the file */
	uint64_t offset; /* where they are in the file */
	uint32_t flags;  /* HP_SEG_* */
};

struct hp_elf_image {
	uint64_t entry;
	unsigned nsegs; /* PT_LOAD segments, sorted by vaddr, page ranges disjoint */
	struct hp_elf_segment seg[HP_ELF_MAX_SEGMENTS];
	uint64_t lo, hi; /* page-aligned span of all segments: [lo, hi) */
};

struct hp_elf_rules {
	uint16_t machine;     /* EM_X86_64 or EM_AARCH64 */
	uint64_t region_start;/* every segment must lie inside [region_start, region_end) */
	uint64_t region_end;
};

/* Validates `file` (size bytes) and fills `out`. Returns 0, or -1 with err->code = HP_E_BAD_ELF
 * and a message naming the field ("e_machine is 3, expected 62 (x86_64)"). */
int hp_elf_parse(const void *file, size_t size, const struct hp_elf_rules *rules,
		 struct hp_elf_image *out, struct hp_error *err);

/* Copies the segments of a parsed image into guest memory `mem`, which maps guest physical
 * address 0 .. mem_size. Zero-fills memsz beyond filesz. Re-checks bounds against mem_size. */
int hp_elf_load(const struct hp_elf_image *img, const void *file, size_t size, uint8_t *mem,
		uint64_t mem_size, struct hp_error *err);

#endif
