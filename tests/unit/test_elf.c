/* test_elf.c - the ELF loader against a hand-built module and many broken variants of it.
 *
 *   test_elf                      run the unit tests
 *   test_elf FILE...              also parse (and load) each FILE as a real x86_64 module
 *   test_elf --write-seed DIR     write fuzz seed files into DIR and exit
 *
 * The valid module mirrors what ld emits for a static executable: the text segment starts at
 * file offset 0 (it covers the headers), later segments keep vaddr == offset modulo the page
 * size, and each segment starts on a fresh page. */
#include <linux/elf.h> /* not <elf.h>: -Ivmm makes that name vmm/elf.h */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "elf_load.h"
#include "hp_abi.h"

#define IMG HP_GPA_IMAGE

/* Layout of the valid file (file offsets / guest addresses). */
#define TEXT_OFF 0x000u
#define TEXT_SZ 0x180u /* headers + code */
#define CODE_OFF 0x120u
#define RO_OFF 0x180u
#define RO_SZ 0x40u
#define DATA_OFF 0x1c0u
#define DATA_FILESZ 0x20u
#define DATA_MEMSZ 0x1800u
#define FILE_SZ 0x1e0u

#define TEXT_VA (IMG + TEXT_OFF)
#define RO_VA (IMG + 0x1000 + RO_OFF)
#define DATA_VA (IMG + 0x2000 + DATA_OFF)
#define ENTRY (IMG + CODE_OFF)

#define PH_TEXT 0
#define PH_RO 1
#define PH_DATA 2
#define PH_STACK 3
#define NPH 4

struct file {
	size_t size;
	uint8_t b[8192];
};

static const struct hp_elf_rules rules_x86 = {
	.machine = EM_X86_64,
	.region_start = HP_GPA_IMAGE,
	.region_end = HP_GPA_IMAGE + HP_IMAGE_MAX,
};

static const struct hp_elf_rules rules_a64 = {
	.machine = EM_AARCH64,
	.region_start = HP_GPA_IMAGE,
	.region_end = HP_GPA_IMAGE + HP_IMAGE_MAX,
};

/* Headers are accessed with memcpy only: the buffer is a byte array. */
static Elf64_Ehdr get_eh(const struct file *f)
{
	Elf64_Ehdr eh;
	memcpy(&eh, f->b, sizeof(eh));
	return eh;
}

static void put_eh(struct file *f, const Elf64_Ehdr *eh)
{
	memcpy(f->b, eh, sizeof(*eh));
}

static Elf64_Phdr get_ph(const struct file *f, unsigned i)
{
	Elf64_Ehdr eh = get_eh(f);
	Elf64_Phdr ph;
	memcpy(&ph, f->b + eh.e_phoff + i * sizeof(ph), sizeof(ph));
	return ph;
}

static void put_ph(struct file *f, unsigned i, const Elf64_Phdr *ph)
{
	Elf64_Ehdr eh = get_eh(f);
	memcpy(f->b + eh.e_phoff + i * sizeof(*ph), ph, sizeof(*ph));
}

static Elf64_Phdr load(uint64_t off, uint64_t va, uint64_t filesz, uint64_t memsz,
		       uint32_t flags)
{
	return (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = flags, .p_offset = off,
			     .p_vaddr = va, .p_paddr = va, .p_filesz = filesz,
			     .p_memsz = memsz, .p_align = 0x1000 };
}

static void build(struct file *f, uint16_t machine)
{
	memset(f, 0, sizeof(*f));
	f->size = FILE_SZ;

	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB,
			     EV_CURRENT, ELFOSABI_NONE },
		.e_type = ET_EXEC,
		.e_machine = machine,
		.e_version = EV_CURRENT,
		.e_entry = ENTRY,
		.e_phoff = sizeof(Elf64_Ehdr),
		.e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr),
		.e_phnum = NPH,
	};
	put_eh(f, &eh);

	Elf64_Phdr ph[NPH] = {
		[PH_TEXT] = load(TEXT_OFF, TEXT_VA, TEXT_SZ, TEXT_SZ, PF_R | PF_X),
		[PH_RO] = load(RO_OFF, RO_VA, RO_SZ, RO_SZ, PF_R),
		[PH_DATA] = load(DATA_OFF, DATA_VA, DATA_FILESZ, DATA_MEMSZ, PF_R | PF_W),
		[PH_STACK] = { .p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W, .p_align = 16 },
	};
	for (unsigned i = 0; i < NPH; i++)
		put_ph(f, i, &ph[i]);

	/* Recognisable bytes, so the load test can see what went where. */
	for (unsigned i = CODE_OFF; i < TEXT_SZ; i++)
		f->b[i] = (uint8_t)(0x90 + (i & 7));
	for (unsigned i = 0; i < RO_SZ; i++)
		f->b[RO_OFF + i] = (uint8_t)(0x40 + i);
	for (unsigned i = 0; i < DATA_FILESZ; i++)
		f->b[DATA_OFF + i] = (uint8_t)(0xd0 + i);
}

/* ---- the valid file ---------------------------------------------------------------------- */

static void test_valid(void)
{
	struct file f;
	struct hp_elf_image img;
	struct hp_error err;

	build(&f, EM_X86_64);
	hp_error_clear(&err);
	int rc = hp_elf_parse(f.b, f.size, &rules_x86, &img, &err);
	CHECK_MSG(rc == 0, "valid file rejected: %s", err.message);
	CHECK_EQ_U64(img.entry, ENTRY);
	CHECK_EQ_U64(img.nsegs, 3);
	CHECK_EQ_U64(img.lo, IMG);
	CHECK_EQ_U64(img.hi, IMG + 0x4000);

	CHECK_EQ_U64(img.seg[0].vaddr, TEXT_VA);
	CHECK_EQ_U64(img.seg[0].offset, TEXT_OFF);
	CHECK_EQ_U64(img.seg[0].filesz, TEXT_SZ);
	CHECK_EQ_U64(img.seg[0].memsz, TEXT_SZ);
	CHECK_EQ_U64(img.seg[0].flags, HP_SEG_R | HP_SEG_X);

	CHECK_EQ_U64(img.seg[1].vaddr, RO_VA);
	CHECK_EQ_U64(img.seg[1].offset, RO_OFF);
	CHECK_EQ_U64(img.seg[1].filesz, RO_SZ);
	CHECK_EQ_U64(img.seg[1].memsz, RO_SZ);
	CHECK_EQ_U64(img.seg[1].flags, HP_SEG_R);

	CHECK_EQ_U64(img.seg[2].vaddr, DATA_VA);
	CHECK_EQ_U64(img.seg[2].offset, DATA_OFF);
	CHECK_EQ_U64(img.seg[2].filesz, DATA_FILESZ);
	CHECK_EQ_U64(img.seg[2].memsz, DATA_MEMSZ);
	CHECK_EQ_U64(img.seg[2].flags, HP_SEG_R | HP_SEG_W);

	/* Same file at an odd address: the parser must not depend on alignment. */
	static uint8_t odd[FILE_SZ + 1];
	memcpy(odd + 1, f.b, f.size);
	rc = hp_elf_parse(odd + 1, f.size, &rules_x86, &img, &err);
	CHECK_MSG(rc == 0, "unaligned buffer rejected: %s", err.message);
	CHECK_EQ_U64(img.hi, IMG + 0x4000);

	/* A segment ending exactly at the region end is inside it. */
	Elf64_Phdr ph = get_ph(&f, PH_DATA);
	ph.p_memsz = HP_IMAGE_MAX - (DATA_VA - IMG);
	put_ph(&f, PH_DATA, &ph);
	rc = hp_elf_parse(f.b, f.size, &rules_x86, &img, &err);
	CHECK_MSG(rc == 0, "segment ending at the region end rejected: %s", err.message);
	CHECK_EQ_U64(img.hi, IMG + HP_IMAGE_MAX);

	/* Flag bits beyond RWX (OS/processor specific) are dropped, not reported as HP_SEG_*. */
	build(&f, EM_X86_64);
	ph = get_ph(&f, PH_RO);
	ph.p_flags |= 0x00100000u;
	put_ph(&f, PH_RO, &ph);
	rc = hp_elf_parse(f.b, f.size, &rules_x86, &img, &err);
	CHECK_MSG(rc == 0, "extra p_flags bits rejected: %s", err.message);
	CHECK_EQ_U64(img.seg[1].flags, HP_SEG_R);

	/* An empty PT_LOAD (what ld emits for a PHDRS entry no section went into, here in place
	 * of rodata) maps nothing and is skipped, wherever its vaddr points. */
	build(&f, EM_X86_64);
	ph = load(0xe8, 0, 0, 0, PF_R);
	put_ph(&f, PH_RO, &ph);
	rc = hp_elf_parse(f.b, f.size, &rules_x86, &img, &err);
	CHECK_MSG(rc == 0, "empty PT_LOAD rejected: %s", err.message);
	CHECK_EQ_U64(img.nsegs, 2);
	CHECK_EQ_U64(img.seg[0].vaddr, TEXT_VA);
	CHECK_EQ_U64(img.seg[1].vaddr, DATA_VA);

	/* err may be NULL. */
	CHECK(hp_elf_parse(f.b, 10, &rules_x86, &img, NULL) == -1);
}

static void test_load(void)
{
	struct file f;
	struct hp_elf_image img;
	struct hp_error err;

	build(&f, EM_X86_64);
	hp_error_clear(&err);
	CHECK(hp_elf_parse(f.b, f.size, &rules_x86, &img, &err) == 0);

	uint64_t mem_size = img.hi;
	uint8_t *mem = malloc((size_t)mem_size);
	CHECK(mem != NULL);
	if (!mem)
		return;
	memset(mem, 0xaa, (size_t)mem_size);

	int rc = hp_elf_load(&img, f.b, f.size, mem, mem_size, &err);
	CHECK_MSG(rc == 0, "load failed: %s", err.message);

	/* text: the headers and code, byte for byte */
	CHECK(memcmp(mem + TEXT_VA, f.b + TEXT_OFF, TEXT_SZ) == 0);
	CHECK_EQ_U64(mem[TEXT_VA], 0x7f);
	CHECK_EQ_U64(mem[ENTRY], 0x90);
	CHECK_EQ_U64(mem[TEXT_VA + TEXT_SZ - 1], 0x97);
	CHECK_EQ_U64(mem[TEXT_VA + TEXT_SZ], 0xaa); /* untouched after the segment */

	/* rodata */
	CHECK_EQ_U64(mem[RO_VA - 1], 0xaa);
	for (unsigned i = 0; i < RO_SZ; i++)
		CHECK_EQ_U64(mem[RO_VA + i], 0x40 + i);
	CHECK_EQ_U64(mem[RO_VA + RO_SZ], 0xaa);

	/* data: filesz bytes copied, the rest up to memsz zeroed, nothing beyond touched */
	CHECK_EQ_U64(mem[DATA_VA - 1], 0xaa);
	for (unsigned i = 0; i < DATA_FILESZ; i++)
		CHECK_EQ_U64(mem[DATA_VA + i], 0xd0 + i);
	bool zero = true;
	for (uint64_t a = DATA_VA + DATA_FILESZ; a < DATA_VA + DATA_MEMSZ; a++)
		zero = zero && mem[a] == 0;
	CHECK_MSG(zero, "data bss not zero-filled");
	CHECK_EQ_U64(mem[DATA_VA + DATA_MEMSZ], 0xaa);
	CHECK_EQ_U64(mem[img.hi - 1], 0xaa);

	/* Defence in depth: memory too small, file shorter than the image says. */
	rc = hp_elf_load(&img, f.b, f.size, mem, img.hi - 0x1000, &err);
	CHECK(rc == -1);
	CHECK_EQ_U64(err.code, HP_E_INVALID);
	CHECK_STR_CONTAINS(err.message, "guest memory");

	rc = hp_elf_load(&img, f.b, f.size - 1, mem, mem_size, &err);
	CHECK(rc == -1);
	CHECK_EQ_U64(err.code, HP_E_INVALID);
	CHECK_STR_CONTAINS(err.message, "end of the file");

	struct hp_elf_image bad = img;
	bad.seg[1].memsz = UINT64_MAX;
	rc = hp_elf_load(&bad, f.b, f.size, mem, mem_size, &err);
	CHECK(rc == -1);
	CHECK_STR_CONTAINS(err.message, "guest memory");

	free(mem);
}

static void test_aarch64(void)
{
	struct file f;
	struct hp_elf_image img;
	struct hp_error err;

	build(&f, EM_AARCH64);
	hp_error_clear(&err);
	int rc = hp_elf_parse(f.b, f.size, &rules_a64, &img, &err);
	CHECK_MSG(rc == 0, "aarch64 file rejected by aarch64 rules: %s", err.message);
	CHECK_EQ_U64(img.nsegs, 3);
	CHECK_EQ_U64(img.entry, ENTRY);

	/* And the x86_64 file is refused by aarch64 rules, naming both machines. */
	build(&f, EM_X86_64);
	rc = hp_elf_parse(f.b, f.size, &rules_a64, &img, &err);
	CHECK(rc == -1);
	CHECK_EQ_U64(err.code, HP_E_BAD_ELF);
	CHECK_STR_CONTAINS(err.message, "e_machine is 62 (x86_64), expected 183 (aarch64)");
}

static void test_bad_rules(void)
{
	struct file f;
	struct hp_elf_image img;
	struct hp_error err;
	struct hp_elf_rules r = rules_x86;

	build(&f, EM_X86_64);
	r.region_end = r.region_start + 0x123;
	CHECK(hp_elf_parse(f.b, f.size, &r, &img, &err) == -1);
	CHECK_EQ_U64(err.code, HP_E_INVALID);
	r.region_end = r.region_start;
	CHECK(hp_elf_parse(f.b, f.size, &r, &img, &err) == -1);
	CHECK_EQ_U64(err.code, HP_E_INVALID);
}

/* ---- mutations: each starts from the valid file and must be refused ----------------------- */

#define EH_MUT(name, stmt)                                                                     \
	static void name(struct file *f)                                                       \
	{                                                                                      \
		Elf64_Ehdr eh = get_eh(f);                                                     \
		stmt;                                                                          \
		put_eh(f, &eh);                                                                \
	}

#define PH_MUT(name, idx, stmt)                                                                \
	static void name(struct file *f)                                                       \
	{                                                                                      \
		Elf64_Phdr ph = get_ph(f, idx);                                                \
		stmt;                                                                          \
		put_ph(f, idx, &ph);                                                           \
	}

static void m_size0(struct file *f) { f->size = 0; }
static void m_size10(struct file *f) { f->size = 10; }
static void m_cut_ehdr(struct file *f) { f->size = sizeof(Elf64_Ehdr) - 1; }
static void m_cut_phdrs(struct file *f) { f->size = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + 10; }
static void m_cut_data(struct file *f) { f->size = FILE_SZ - 0x10; }
static void m_magic(struct file *f) { f->b[EI_MAG1] = 'X'; }
static void m_magic3(struct file *f) { f->b[EI_MAG3] = 'f'; }
static void m_class32(struct file *f) { f->b[EI_CLASS] = ELFCLASS32; }
static void m_bigendian(struct file *f) { f->b[EI_DATA] = ELFDATA2MSB; }
static void m_ident_version(struct file *f) { f->b[EI_VERSION] = EV_NONE; }
EH_MUT(m_dyn, eh.e_type = ET_DYN)
EH_MUT(m_rel, eh.e_type = ET_REL)
EH_MUT(m_core, eh.e_type = ET_CORE)
EH_MUT(m_machine, eh.e_machine = EM_AARCH64)
EH_MUT(m_machine386, eh.e_machine = EM_386)
EH_MUT(m_version, eh.e_version = 2)
EH_MUT(m_ehsize, eh.e_ehsize = 52)
EH_MUT(m_phentsize, eh.e_phentsize = 32)
EH_MUT(m_phnum0, eh.e_phnum = 0)
EH_MUT(m_phnum_huge, eh.e_phnum = 0xffff)
EH_MUT(m_phnum65, eh.e_phnum = HP_ELF_MAX_PHDRS + 1)
EH_MUT(m_phoff_past, eh.e_phoff = 0x100000)
EH_MUT(m_phoff_end, eh.e_phoff = FILE_SZ - NPH * sizeof(Elf64_Phdr) + 1)
EH_MUT(m_phoff_wrap, eh.e_phoff = UINT64_MAX - 8)
EH_MUT(m_entry_gap, eh.e_entry = IMG + 0x1000)        /* between text and rodata */
EH_MUT(m_entry_text_end, eh.e_entry = TEXT_VA + TEXT_SZ) /* one past the text segment */
EH_MUT(m_entry_far, eh.e_entry = UINT64_MAX)
EH_MUT(m_entry_ro, eh.e_entry = RO_VA + 0x10)
EH_MUT(m_entry_bss, eh.e_entry = DATA_VA + 0x100)
PH_MUT(m_filesz, PH_DATA, ph.p_filesz = DATA_MEMSZ + 1)
PH_MUT(m_memsz0, PH_RO, ph.p_memsz = 0) /* filesz stays 0x40 */
PH_MUT(m_offset_past, PH_RO, ph.p_offset = RO_OFF + 0x1000; ph.p_vaddr = RO_VA)
PH_MUT(m_offset_wrap, PH_DATA, ph.p_offset = UINT64_MAX - 0x10)
PH_MUT(m_below_region, PH_TEXT, ph.p_vaddr = IMG - 0x1000)
PH_MUT(m_zero_vaddr, PH_TEXT, ph.p_vaddr = 0)
PH_MUT(m_past_region, PH_DATA, ph.p_memsz = HP_IMAGE_MAX)
PH_MUT(m_wrap, PH_DATA, ph.p_memsz = UINT64_MAX - 0x100)
PH_MUT(m_misaligned, PH_RO, ph.p_vaddr = RO_VA + 8)
PH_MUT(m_align_npow2, PH_RO, ph.p_align = 0x1800)
PH_MUT(m_align_small, PH_RO, ph.p_align = 0x10)
PH_MUT(m_overlap, PH_TEXT, ph.p_memsz = 0x1181)       /* text's last page is rodata's first */
PH_MUT(m_overlap_page, PH_RO, ph.p_vaddr = IMG + RO_OFF) /* disjoint bytes, same page */
PH_MUT(m_same_vaddr, PH_RO, ph.p_vaddr = TEXT_VA; ph.p_offset = 0)
PH_MUT(m_wx, PH_TEXT, ph.p_flags = PF_R | PF_W | PF_X)
PH_MUT(m_wx_data, PH_DATA, ph.p_flags = PF_W | PF_X)
PH_MUT(m_protnone, PH_RO, ph.p_flags = 0)
PH_MUT(m_writeonly, PH_DATA, ph.p_flags = PF_W)
PH_MUT(m_interp, PH_STACK, ph.p_type = PT_INTERP)
PH_MUT(m_dynamic, PH_STACK, ph.p_type = PT_DYNAMIC)
PH_MUT(m_tls, PH_STACK, ph.p_type = PT_TLS)
PH_MUT(m_shlib, PH_STACK, ph.p_type = PT_SHLIB)
PH_MUT(m_stack_x, PH_STACK, ph.p_flags = PF_R | PF_W | PF_X)
PH_MUT(m_unknown, PH_STACK, ph.p_type = 0x60000001)

static void m_descending(struct file *f)
{
	Elf64_Phdr a = get_ph(f, PH_TEXT), b = get_ph(f, PH_RO);
	put_ph(f, PH_TEXT, &b);
	put_ph(f, PH_RO, &a);
}

static void m_no_load(struct file *f)
{
	for (unsigned i = PH_TEXT; i <= PH_DATA; i++) {
		Elf64_Phdr ph = get_ph(f, i);
		ph.p_type = PT_NOTE;
		put_ph(f, i, &ph);
	}
}

/* 17 PT_LOADs: the table is moved to the end of the file to make room. */
static void m_too_many_loads(struct file *f)
{
	Elf64_Ehdr eh = get_eh(f);
	Elf64_Phdr ph[NPH];
	for (unsigned i = 0; i < NPH; i++)
		ph[i] = get_ph(f, i);
	eh.e_phoff = FILE_SZ;
	eh.e_phnum = NPH + HP_ELF_MAX_SEGMENTS - 2;
	put_eh(f, &eh);
	for (unsigned i = 0; i < NPH; i++)
		put_ph(f, i, &ph[i]);
	for (unsigned i = NPH; i < eh.e_phnum; i++) {
		Elf64_Phdr extra = load(0, IMG + 0x4000 + (i - NPH) * 0x1000ull, 0, 0x10, PF_R);
		put_ph(f, i, &extra);
	}
	f->size = FILE_SZ + eh.e_phnum * sizeof(Elf64_Phdr);
}

struct mutation {
	const char *name;
	void (*apply)(struct file *f);
	const char *expect; /* substring of the error message */
};

#define MUT(fn, expect) { #fn, fn, expect }

static const struct mutation mutations[] = {
	MUT(m_size0, "file size 0"),
	MUT(m_size10, "file size 10"),
	MUT(m_cut_ehdr, "file size 63"),
	MUT(m_cut_phdrs, "e_phoff"),
	MUT(m_cut_data, "p_offset"),
	MUT(m_magic, "magic"),
	MUT(m_magic3, "magic"),
	MUT(m_class32, "EI_CLASS"),
	MUT(m_bigendian, "EI_DATA"),
	MUT(m_ident_version, "EI_VERSION"),
	MUT(m_dyn, "ET_DYN/PIE is not supported"),
	MUT(m_rel, "e_type is 1"),
	MUT(m_core, "e_type is 4"),
	MUT(m_machine, "e_machine is 183 (aarch64), expected 62 (x86_64)"),
	MUT(m_machine386, "e_machine is 3"),
	MUT(m_version, "e_version is 2"),
	MUT(m_ehsize, "e_ehsize is 52"),
	MUT(m_phentsize, "e_phentsize is 32"),
	MUT(m_phnum0, "e_phnum is 0"),
	MUT(m_phnum_huge, "e_phnum is 65535"),
	MUT(m_phnum65, "e_phnum is 65"),
	MUT(m_phoff_past, "e_phoff 0x100000"),
	MUT(m_phoff_end, "e_phoff"),
	MUT(m_phoff_wrap, "e_phoff 0xfffffffffffffff7"),
	MUT(m_entry_gap, "e_entry 0x2001000 is not inside any PT_LOAD"),
	MUT(m_entry_text_end, "e_entry 0x2000180 is not inside any PT_LOAD"),
	MUT(m_entry_far, "e_entry"),
	MUT(m_entry_ro, "e_entry 0x2001190 is in a non-executable"),
	MUT(m_entry_bss, "non-executable"),
	MUT(m_filesz, "p_filesz 0x1801 is larger than p_memsz 0x1800"),
	MUT(m_memsz0, "p_filesz 0x40 is larger than p_memsz 0x0"),
	MUT(m_offset_past, "p_offset 0x1180"),
	MUT(m_offset_wrap, "p_offset 0xffffffffffffffef"),
	MUT(m_below_region, "outside the module region"),
	MUT(m_zero_vaddr, "p_vaddr 0x0"),
	MUT(m_past_region, "outside the module region"),
	MUT(m_wrap, "overflows"),
	MUT(m_misaligned, "modulo the page size"),
	MUT(m_align_npow2, "p_align 0x1800"),
	MUT(m_align_small, "p_align 0x10"),
	MUT(m_overlap, "overlap"),
	MUT(m_overlap_page, "overlap"),
	MUT(m_same_vaddr, "ascending"),
	MUT(m_descending, "ascending"),
	MUT(m_wx, "W^X"),
	MUT(m_wx_data, "W^X"),
	MUT(m_protnone, "neither readable nor executable"),
	MUT(m_writeonly, "neither readable nor executable"),
	MUT(m_interp, "PT_INTERP"),
	MUT(m_dynamic, "PT_DYNAMIC"),
	MUT(m_tls, "PT_TLS"),
	MUT(m_shlib, "p_type 0x5"),
	MUT(m_stack_x, "executable stack"),
	MUT(m_unknown, "p_type 0x60000001"),
	MUT(m_no_load, "no PT_LOAD"),
	MUT(m_too_many_loads, "more than 16 PT_LOAD"),
};

#define NMUT (sizeof(mutations) / sizeof(mutations[0]))

static void test_mutations(void)
{
	for (size_t i = 0; i < NMUT; i++) {
		const struct mutation *m = &mutations[i];
		struct file f;
		struct hp_elf_image img;
		struct hp_error err;

		build(&f, EM_X86_64);
		m->apply(&f);
		hp_error_clear(&err);
		/* Parse from an exact-size heap copy so ASan catches any read past the end. */
		uint8_t *copy = malloc(f.size ? f.size : 1);
		CHECK(copy != NULL);
		if (!copy)
			return;
		memcpy(copy, f.b, f.size);
		int rc = hp_elf_parse(copy, f.size, &rules_x86, &img, &err);
		free(copy);
		CHECK_MSG(rc == -1, "%s: accepted", m->name);
		CHECK_MSG(err.code == HP_E_BAD_ELF, "%s: code %d (%s)", m->name, err.code,
			  err.message);
		CHECK_MSG(strstr(err.message, m->expect) != NULL, "%s: \"%s\" lacks \"%s\"",
			  m->name, err.message, m->expect);
	}
	fprintf(stderr, "%zu mutations\n", NMUT);
}

/* ---- real modules and seeds -------------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *size)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			uint8_t *nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, fp);
		n += got;
		if (got == 0)
			break;
	}
	bool ok = !ferror(fp);
	fclose(fp);
	if (!ok) {
		free(buf);
		return NULL;
	}
	*size = n;
	return buf;
}

static void test_real_module(const char *path)
{
	size_t size = 0;
	uint8_t *file = read_file(path, &size);
	CHECK_MSG(file != NULL, "%s: %s", path, strerror(errno));
	if (!file)
		return;

	struct hp_elf_image img;
	struct hp_error err;
	hp_error_clear(&err);
	int rc = hp_elf_parse(file, size, &rules_x86, &img, &err);
	CHECK_MSG(rc == 0, "%s: %s", path, err.message);
	if (rc == 0) {
		uint8_t *mem = calloc(1, (size_t)img.hi);
		CHECK(mem != NULL);
		if (mem) {
			rc = hp_elf_load(&img, file, size, mem, img.hi, &err);
			CHECK_MSG(rc == 0, "%s: load: %s", path, err.message);
			free(mem);
		}
		fprintf(stderr, "%s: ok, %u segments, [0x%" PRIx64 ", 0x%" PRIx64 "), entry 0x%"
			PRIx64 "\n", path, img.nsegs, img.lo, img.hi, img.entry);
	}
	free(file);
}

static int write_one(const char *dir, const char *name, const struct file *f)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "wb");
	if (!fp || fwrite(f->b, 1, f->size, fp) != f->size) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (fp)
			fclose(fp);
		return 1;
	}
	return fclose(fp) != 0;
}

/* Seeds for tests/fuzz/fuzz_elf.c: small files that reach deep into the parser. */
static int write_seeds(const char *dir)
{
	struct file f;
	int rc = 0;

	build(&f, EM_X86_64);
	rc |= write_one(dir, "valid_x86_64.elf", &f);

	build(&f, EM_AARCH64);
	rc |= write_one(dir, "valid_aarch64.elf", &f);

	/* One R+X segment covering headers and 8 bytes of code: the smallest accepted file. */
	memset(&f, 0, sizeof(f));
	build(&f, EM_X86_64);
	Elf64_Ehdr eh = get_eh(&f);
	uint64_t code = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
	eh.e_phnum = 1;
	eh.e_entry = IMG + code;
	put_eh(&f, &eh);
	Elf64_Phdr ph = load(0, IMG, code + 8, code + 8, PF_R | PF_X);
	put_ph(&f, 0, &ph);
	memset(f.b + code, 0xf4, 8); /* hlt */
	f.size = code + 8;
	rc |= write_one(dir, "minimal.elf", &f);

	/* Seventeen loads: exercises the table-at-end and segment-count paths. */
	build(&f, EM_X86_64);
	m_too_many_loads(&f);
	rc |= write_one(dir, "many_loads.elf", &f);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seed") == 0)
		return write_seeds(argv[2]);

	test_valid();
	test_load();
	test_aarch64();
	test_bad_rules();
	test_mutations();
	for (int i = 1; i < argc; i++)
		test_real_module(argv[i]);
	CHECK_DONE();
}
