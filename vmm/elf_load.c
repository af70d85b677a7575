/* elf_load.c - validating ELF64 loader for guest modules.
 *
 * The file is hostile: it may be truncated, unaligned, or crafted so that offsets and sizes
 * wrap around 2^64. So headers are memcpy'd out of the buffer (never dereferenced in place),
 * every sum goes through __builtin_add_overflow, and nothing is copied into guest memory
 * until the whole file has been checked. Only what a static, non-PIE bare-metal executable
 * needs is accepted; everything else is refused with a message naming the field. */
#include "elf_load.h"

/* Not <elf.h>: with -Ivmm on the command line that name resolves to this directory's elf.h.
 * The Linux uapi header has the same Elf64_* layouts and constants, and a KVM program always
 * has it. Its integer typedefs are __u64 (unsigned long long), so the fields are copied into
 * the fixed-width structs below before use; that also keeps printf formats honest. */
#include <linux/elf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifndef PT_GNU_PROPERTY
#define PT_GNU_PROPERTY 0x6474e553 /* older uapi headers lack it */
#endif

#define PAGE 4096ull

/* The header fields we use, in host types. */
struct ehdr {
	unsigned char ident[EI_NIDENT];
	uint16_t type, machine, ehsize, phentsize, phnum;
	uint32_t version;
	uint64_t entry, phoff;
};

struct phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, filesz, memsz, align;
};

/* The only two places that read the file's header layout; memcpy because `p` may be
 * unaligned. The caller has checked that the bytes are inside the file. */
static struct ehdr read_ehdr(const uint8_t *p)
{
	Elf64_Ehdr e;
	memcpy(&e, p, sizeof(e));
	struct ehdr h = {
		.type = e.e_type,
		.machine = e.e_machine,
		.ehsize = e.e_ehsize,
		.phentsize = e.e_phentsize,
		.phnum = e.e_phnum,
		.version = e.e_version,
		.entry = e.e_entry,
		.phoff = e.e_phoff,
	};
	memcpy(h.ident, e.e_ident, sizeof(h.ident));
	return h;
}

static struct phdr read_phdr(const uint8_t *p)
{
	Elf64_Phdr e;
	memcpy(&e, p, sizeof(e));
	return (struct phdr){
		.type = e.p_type,
		.flags = e.p_flags,
		.offset = e.p_offset,
		.vaddr = e.p_vaddr,
		.filesz = e.p_filesz,
		.memsz = e.p_memsz,
		.align = e.p_align,
	};
}

static uint64_t page_floor(uint64_t x)
{
	return x & ~(PAGE - 1);
}

/* Callers guarantee x <= region_end, which is page aligned, so this cannot wrap. */
static uint64_t page_ceil(uint64_t x)
{
	return (x + PAGE - 1) & ~(PAGE - 1);
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static const char *machine_name(unsigned m)
{
	switch (m) {
	case EM_X86_64: return "x86_64";
	case EM_AARCH64: return "aarch64";
	case EM_386: return "i386";
	case EM_ARM: return "arm";
	case EM_RISCV: return "riscv";
	default: return "unknown";
	}
}

/* All parse failures share one code; this keeps the call sites short. The code already says
 * "bad ELF", so the message starts with the field name. */
static int __attribute__((format(printf, 2, 3))) bad(struct hp_error *err, const char *fmt, ...)
{
	char msg[HP_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return hp_fail(err, HP_E_BAD_ELF, "%s", msg);
}

static int check_ident(const unsigned char *id, struct hp_error *err)
{
	if (id[EI_MAG0] != ELFMAG0 || id[EI_MAG1] != ELFMAG1 || id[EI_MAG2] != ELFMAG2 ||
	    id[EI_MAG3] != ELFMAG3)
		return bad(err, "e_ident magic is %02x %02x %02x %02x, expected 7f 45 4c 46 (\\x7fELF)",
			   id[EI_MAG0], id[EI_MAG1], id[EI_MAG2], id[EI_MAG3]);
	if (id[EI_CLASS] != ELFCLASS64)
		return bad(err, "e_ident[EI_CLASS] is %u, expected %u (ELFCLASS64)", id[EI_CLASS],
			   ELFCLASS64);
	if (id[EI_DATA] != ELFDATA2LSB)
		return bad(err, "e_ident[EI_DATA] is %u, expected %u (ELFDATA2LSB, little endian)",
			   id[EI_DATA], ELFDATA2LSB);
	if (id[EI_VERSION] != EV_CURRENT)
		return bad(err, "e_ident[EI_VERSION] is %u, expected %u (EV_CURRENT)",
			   id[EI_VERSION], EV_CURRENT);
	/* EI_OSABI is not checked: toolchains emit NONE or GNU, and both mean the same here. */
	return 0;
}

static int check_ehdr(const struct ehdr *eh, uint64_t fsize, const struct hp_elf_rules *rules,
		      struct hp_error *err)
{
	if (check_ident(eh->ident, err))
		return -1;
	if (eh->type == ET_DYN)
		return bad(err, "e_type is %u (ET_DYN): ET_DYN/PIE is not supported, link the "
			   "module as a static ET_EXEC", eh->type);
	if (eh->type != ET_EXEC)
		return bad(err, "e_type is %u, expected %u (ET_EXEC)", eh->type, ET_EXEC);
	if (eh->machine != rules->machine)
		return bad(err, "e_machine is %u (%s), expected %u (%s)", eh->machine,
			   machine_name(eh->machine), rules->machine,
			   machine_name(rules->machine));
	if (eh->version != EV_CURRENT)
		return bad(err, "e_version is %" PRIu32 ", expected %u (EV_CURRENT)", eh->version,
			   EV_CURRENT);
	if (eh->ehsize != sizeof(Elf64_Ehdr))
		return bad(err, "e_ehsize is %u, expected %zu", eh->ehsize, sizeof(Elf64_Ehdr));
	if (eh->phentsize != sizeof(Elf64_Phdr))
		return bad(err, "e_phentsize is %u, expected %zu", eh->phentsize,
			   sizeof(Elf64_Phdr));
	if (eh->phnum == 0 || eh->phnum > HP_ELF_MAX_PHDRS)
		return bad(err, "e_phnum is %u, expected 1..%d", eh->phnum, HP_ELF_MAX_PHDRS);

	/* e_phnum <= 64 and e_phentsize == 56, so the product cannot overflow; the sum can. */
	uint64_t table = (uint64_t)eh->phnum * sizeof(Elf64_Phdr), end;
	if (__builtin_add_overflow(eh->phoff, table, &end) || end > fsize)
		return bad(err, "e_phoff 0x%" PRIx64 " + %" PRIu64 " bytes of program headers is "
			   "past the end of the file (%" PRIu64 " bytes)", eh->phoff, table, fsize);
	return 0;
}

/* Non-PT_LOAD headers: only the ones that need no loader support pass. */
static int check_other(const struct phdr *ph, unsigned i, struct hp_error *err)
{
	switch (ph->type) {
	case PT_INTERP:
		return bad(err, "phdr %u: p_type PT_INTERP: the module must be static, "
			   "not dynamically linked", i);
	case PT_DYNAMIC:
		return bad(err, "phdr %u: p_type PT_DYNAMIC: the module must be static, "
			   "no dynamic section or relocations", i);
	case PT_TLS:
		return bad(err, "phdr %u: p_type PT_TLS: thread-local storage is not supported "
			   "in the guest", i);
	case PT_GNU_STACK:
		/* The guest stack is always NX; a module asking for more was built wrong. */
		if (ph->flags & PF_X)
			return bad(err, "phdr %u: PT_GNU_STACK p_flags 0x%" PRIx32 " asks for an "
				   "executable stack, which is not allowed", i, ph->flags);
		return 0;
	case PT_NULL:
	case PT_NOTE:
	case PT_PHDR:
	case PT_GNU_PROPERTY:
	case PT_GNU_EH_FRAME:
	case PT_GNU_RELRO: /* the data segment stays RW: there is no relocation to protect */
		return 0;
	default:
		return bad(err, "phdr %u: p_type 0x%" PRIx32 " is not supported", i, ph->type);
	}
}

static int check_load(const struct phdr *ph, unsigned i, uint64_t fsize,
		      const struct hp_elf_rules *rules, struct hp_error *err)
{
	uint64_t fend, mend;

	if (ph->filesz > ph->memsz)
		return bad(err, "phdr %u: p_filesz 0x%" PRIx64 " is larger than p_memsz 0x%" PRIx64,
			   i, ph->filesz, ph->memsz);
	if (__builtin_add_overflow(ph->offset, ph->filesz, &fend) || fend > fsize)
		return bad(err, "phdr %u: p_offset 0x%" PRIx64 " + p_filesz 0x%" PRIx64 " is past "
			   "the end of the file (%" PRIu64 " bytes)", i, ph->offset, ph->filesz,
			   fsize);
	/* Segments are mapped page by page, so anything coarser than 1 page is fine and
	 * anything finer (or not a power of two) cannot be honoured. */
	if (ph->align != 0 && (!is_pow2(ph->align) || ph->align < PAGE))
		return bad(err, "phdr %u: p_align 0x%" PRIx64 " must be 0 or a power of two "
			   ">= 0x1000", i, ph->align);
	if (ph->vaddr % PAGE != ph->offset % PAGE)
		return bad(err, "phdr %u: p_vaddr 0x%" PRIx64 " and p_offset 0x%" PRIx64 " differ "
			   "modulo the page size", i, ph->vaddr, ph->offset);
	if (__builtin_add_overflow(ph->vaddr, ph->memsz, &mend))
		return bad(err, "phdr %u: p_vaddr 0x%" PRIx64 " + p_memsz 0x%" PRIx64 " overflows",
			   i, ph->vaddr, ph->memsz);
	if (ph->vaddr < rules->region_start || mend > rules->region_end)
		return bad(err, "phdr %u: p_vaddr 0x%" PRIx64 " + p_memsz 0x%" PRIx64 " is outside "
			   "the module region [0x%" PRIx64 ", 0x%" PRIx64 ")", i, ph->vaddr,
			   ph->memsz, rules->region_start, rules->region_end);
	if ((ph->flags & PF_W) && (ph->flags & PF_X))
		return bad(err, "phdr %u: p_flags 0x%" PRIx32 " is both writable and executable "
			   "(W^X)", i, ph->flags);
	if (!(ph->flags & (PF_R | PF_X)))
		return bad(err, "phdr %u: p_flags 0x%" PRIx32 " is neither readable nor executable",
			   i, ph->flags);
	return 0;
}

/* Appends a checked PT_LOAD, enforcing order and page-disjointness against the previous one:
 * each page gets exactly one set of permissions. */
static int add_segment(struct hp_elf_image *out, const struct phdr *ph, unsigned i,
		       struct hp_error *err)
{
	if (out->nsegs == HP_ELF_MAX_SEGMENTS)
		return bad(err, "phdr %u: more than %d PT_LOAD segments", i, HP_ELF_MAX_SEGMENTS);
	if (out->nsegs > 0) {
		const struct hp_elf_segment *prev = &out->seg[out->nsegs - 1];
		uint64_t prev_end = page_ceil(prev->vaddr + prev->memsz);
		if (ph->vaddr <= prev->vaddr)
			return bad(err, "phdr %u: p_vaddr 0x%" PRIx64 " is not in ascending order "
				   "(previous PT_LOAD at 0x%" PRIx64 ")", i, ph->vaddr, prev->vaddr);
		if (page_floor(ph->vaddr) < prev_end)
			return bad(err, "phdr %u: p_vaddr 0x%" PRIx64 " shares a page with the "
				   "previous PT_LOAD, whose pages end at 0x%" PRIx64 " (segments must "
				   "not overlap at page granularity)", i, ph->vaddr, prev_end);
	}
	out->seg[out->nsegs++] = (struct hp_elf_segment){
		.vaddr = ph->vaddr,
		.memsz = ph->memsz,
		.filesz = ph->filesz,
		.offset = ph->offset,
		.flags = ph->flags & (PF_R | PF_W | PF_X),
	};
	return 0;
}

static int check_entry(const struct hp_elf_image *img, struct hp_error *err)
{
	for (unsigned i = 0; i < img->nsegs; i++) {
		const struct hp_elf_segment *s = &img->seg[i];
		if (img->entry < s->vaddr || img->entry - s->vaddr >= s->memsz)
			continue;
		if (!(s->flags & HP_SEG_X))
			return bad(err, "e_entry 0x%" PRIx64 " is in a non-executable PT_LOAD "
				   "(p_vaddr 0x%" PRIx64 ", p_flags 0x%" PRIx32 ")", img->entry,
				   s->vaddr, s->flags);
		return 0;
	}
	return bad(err, "e_entry 0x%" PRIx64 " is not inside any PT_LOAD segment", img->entry);
}

int hp_elf_parse(const void *file, size_t size, const struct hp_elf_rules *rules,
		 struct hp_elf_image *out, struct hp_error *err)
{
	const uint8_t *buf = file;
	uint64_t fsize = size;

	/* Page alignment of the region is what makes page_ceil() safe and the rounded ranges
	 * stay inside it; it is a host-side contract, not a property of the file. */
	if (!rules || rules->region_start >= rules->region_end ||
	    rules->region_start % PAGE || rules->region_end % PAGE)
		return hp_fail(err, HP_E_INVALID, "ELF rules: region must be non-empty and page "
			       "aligned");
	if (!file && size)
		return hp_fail(err, HP_E_INVALID, "ELF file is NULL");
	memset(out, 0, sizeof(*out));

	if (fsize < sizeof(Elf64_Ehdr))
		return bad(err, "file size %" PRIu64 " is smaller than the ELF header (%zu bytes)",
			   fsize, sizeof(Elf64_Ehdr));
	struct ehdr eh = read_ehdr(buf);
	if (check_ehdr(&eh, fsize, rules, err))
		return -1;

	for (unsigned i = 0; i < eh.phnum; i++) {
		struct phdr ph = read_phdr(buf + (size_t)eh.phoff + i * sizeof(Elf64_Phdr));
		if (ph.type != PT_LOAD) {
			if (check_other(&ph, i, err))
				return -1;
			continue;
		}
		/* GNU ld emits every PHDRS-declared segment even when no section lands in it
		 * (a module without rodata gets a PT_LOAD at vaddr 0 with sizes 0). It maps
		 * nothing, so it is skipped rather than refused. */
		if (ph.memsz == 0 && ph.filesz == 0)
			continue;
		if (check_load(&ph, i, fsize, rules, err) || add_segment(out, &ph, i, err))
			return -1;
	}
	if (out->nsegs == 0)
		return bad(err, "no PT_LOAD segment");

	out->entry = eh.entry;
	if (check_entry(out, err))
		return -1;

	const struct hp_elf_segment *last = &out->seg[out->nsegs - 1];
	out->lo = page_floor(out->seg[0].vaddr);
	out->hi = page_ceil(last->vaddr + last->memsz);
	return 0;
}

int hp_elf_load(const struct hp_elf_image *img, const void *file, size_t size, uint8_t *mem,
		uint64_t mem_size, struct hp_error *err)
{
	const uint8_t *buf = file;

	/* Parse already checked all of this; checking again is cheap and keeps a mismatched
	 * (img, file, mem) triple from the caller from becoming a host memory write. */
	if (img->nsegs > HP_ELF_MAX_SEGMENTS)
		return hp_fail(err, HP_E_INVALID, "ELF image has %u segments, max %d", img->nsegs,
			       HP_ELF_MAX_SEGMENTS);
	for (unsigned i = 0; i < img->nsegs; i++) {
		const struct hp_elf_segment *s = &img->seg[i];
		uint64_t mend, fend;
		if (s->filesz > s->memsz)
			return hp_fail(err, HP_E_INVALID, "segment %u: filesz 0x%" PRIx64
				       " > memsz 0x%" PRIx64, i, s->filesz, s->memsz);
		if (__builtin_add_overflow(s->vaddr, s->memsz, &mend) || mend > mem_size)
			return hp_fail(err, HP_E_INVALID, "segment %u: [0x%" PRIx64 ", +0x%" PRIx64
				       ") does not fit guest memory of 0x%" PRIx64 " bytes", i,
				       s->vaddr, s->memsz, mem_size);
		if (__builtin_add_overflow(s->offset, s->filesz, &fend) || fend > size)
			return hp_fail(err, HP_E_INVALID, "segment %u: file range [0x%" PRIx64
				       ", +0x%" PRIx64 ") is past the end of the file (%zu bytes)",
				       i, s->offset, s->filesz, size);
	}
	for (unsigned i = 0; i < img->nsegs; i++) {
		const struct hp_elf_segment *s = &img->seg[i];
		uint8_t *dst = mem + (size_t)s->vaddr;
		if (s->filesz)
			memcpy(dst, buf + (size_t)s->offset, (size_t)s->filesz);
		memset(dst + (size_t)s->filesz, 0, (size_t)(s->memsz - s->filesz));
	}
	return 0;
}
