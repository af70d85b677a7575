/* bench_restore - what snapshot/restore costs, next to the raw floors measured in the same run.
 *
 *   bench_restore DIRTY_MODULE MATH_MODULE [ITERATIONS]
 *
 * DIRTY_MODULE is tests/bench/modules/dirty.c (dirty(n) writes one byte into each of n pages of
 * a 16 MiB bss buffer; nop()). Prints tables (median and p90 in microseconds, n = samples):
 *  1. floors: memcpy of n pages from a page-cache (memfd) mapping into a private one, as the
 *     restore does; madvise(MADV_DONTNEED) of n pages and the host re-touching them; a
 *     PAGEMAP_SCAN over a mapping the size of the guest; KVM_GET_DIRTY_LOG; vCPU register
 *     reset with KVM_SET_REGS vs through kvm_run sync_regs;
 *  2. per restore strategy and n: the call dirty(n) (which pays what the previous restore left
 *     for it: write-protect faults, refaults), hp_vm_restore alone, and both;
 *  3. the same restore in a small and a large guest (heap 1 MiB vs 64 MiB);
 *  4. a warm call + restore (auto strategy) vs the bare CPL3 exit round trip;
 *  5. cloning a VM from the snapshot vs cold create + init.
 * The numbers are for reading side by side, never for asserting: shared machines are noisy. */
#include <stdbool.h>

#define BENCH_NAME "bench_restore"
#include "bench_bare_x86_64.h"
#include "pagemap_scan.h"

#define PAGE 4096ul

static void header(const char *title)
{
	printf("\n### %s\n\n", title);
}

/* "| what | median | p90 | n |" tables */
static void table_head(void)
{
	printf("| %-58s | %9s | %9s | %5s |\n", "what (microseconds)", "median", "p90", "n");
	printf("|%.60s|-----------|-----------|-------|\n",
	       "------------------------------------------------------------");
}

static void row(const char *what, struct stats s)
{
	printf("| %-58s | %9.1f | %9.1f | %5zu |\n", what, s.median, s.p90, s.n);
	bench_json(what, "us", s);
}

/* JSON rows (bench_json) whose name carries a page count: fmt has one %llu. */
static void json_pages(const char *fmt, uint64_t pages, struct stats s)
{
	char name[96];
	snprintf(name, sizeof(name), fmt, (unsigned long long)pages);
	bench_json(name, "us", s);
}

/* --- bare floors (struct bare: bench_common.h; the CPL3 guest: bench_bare_x86_64.h) ------------------------- */

/* The register-reset floors in one bare CPL3 VM: a plain exit round trip, KVM_SET_REGS alone,
 * and a round trip that also loads the registers (and sregs + events, as hyperpool does)
 * through kvm_run sync_regs. */
struct reg_floors {
	struct stats run, set_regs, run_sync_regs, run_sync_all;
};

static struct reg_floors reg_floors(int kvm, double *t, size_t n, size_t guest_size)
{
	struct reg_floors f;
	struct bare b;
	struct kvm_regs r;
	or_die(bare_create(kvm, &b, guest_size, 0, 0));
	or_die(bare_setup_cpl3(&b, &r));
	struct kvm_sregs s;
	struct kvm_vcpu_events ev;
	if (ioctl(b.vcpu, KVM_GET_SREGS, &s) < 0 || ioctl(b.vcpu, KVM_GET_VCPU_EVENTS, &ev) < 0)
		die("KVM_GET_SREGS / KVM_GET_VCPU_EVENTS");
	for (size_t i = 0; i < 10; i++) /* the first entries fault pages in */
		or_die(bare_run(&b, KVM_EXIT_MMIO));
	for (size_t i = 0; i < n; i++) {
		double t0 = now_us();
		or_die(bare_run(&b, KVM_EXIT_MMIO));
		t[i] = now_us() - t0;
	}
	f.run = summarize(t, n);
	for (size_t i = 0; i < n; i++) {
		double t0 = now_us();
		if (ioctl(b.vcpu, KVM_SET_REGS, &r) < 0)
			die("KVM_SET_REGS");
		t[i] = now_us() - t0;
	}
	f.set_regs = summarize(t, n);
	for (size_t i = 0; i < n; i++) {
		double t0 = now_us();
		b.run->s.regs.regs = r;
		b.run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
		or_die(bare_run(&b, KVM_EXIT_MMIO));
		b.run->kvm_dirty_regs = 0;
		t[i] = now_us() - t0;
	}
	f.run_sync_regs = summarize(t, n);
	for (size_t i = 0; i < n; i++) {
		double t0 = now_us();
		b.run->s.regs.regs = r;
		b.run->s.regs.sregs = s;
		b.run->s.regs.events = ev;
		b.run->kvm_dirty_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
		or_die(bare_run(&b, KVM_EXIT_MMIO));
		b.run->kvm_dirty_regs = 0;
		t[i] = now_us() - t0;
	}
	f.run_sync_all = summarize(t, n);
	bare_destroy(&b);
	return f;
}

static struct stats dirty_log_floor(int kvm, double *t, size_t n, size_t guest_size)
{
	struct bare b;
	or_die(bare_create(kvm, &b, guest_size, KVM_MEM_LOG_DIRTY_PAGES, 0));
	uint64_t *bitmap = calloc(guest_size / PAGE / 64 + 1, 8);
	for (size_t i = 0; i < n; i++) {
		struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bitmap };
		double t0 = now_us();
		if (ioctl(b.vm, KVM_GET_DIRTY_LOG, &log) < 0)
			die("KVM_GET_DIRTY_LOG");
		t[i] = now_us() - t0;
	}
	free(bitmap);
	bare_destroy(&b);
	return summarize(t, n);
}

static struct stats bare_create_floor(int kvm, double *t, size_t n, size_t guest_size)
{
	for (size_t i = 0; i < n; i++) {
		struct bare b;
		double t0 = now_us();
		or_die(bare_create(kvm, &b, guest_size, 0, 0));
		t[i] = now_us() - t0;
		bare_destroy(&b);
	}
	return summarize(t, n);
}

/* Page floors: a memfd of the guest's size (the snapshot), a read-only shared mapping of it
 * (the restore's source) and a private mapping (the VM's memory). */
struct page_floors {
	struct stats memcpy, madvise, retouch, scan_sparse, scan_dense;
};

static void touch_write(uint8_t *p, size_t pages)
{
	for (size_t i = 0; i < pages; i++)
		((volatile uint8_t *)p)[i * PAGE] = (uint8_t)(i + 7);
}

static long scan_private(int pagemap, uint8_t *mem, size_t size)
{
	struct page_region regions[64];
	uint64_t base = (uint64_t)(uintptr_t)mem, end = base + size, pos = base;
	long total = 0;
	while (pos < end) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.start = pos,
			.end = end,
			.vec = (uint64_t)(uintptr_t)regions,
			.vec_len = 64,
			.category_inverted = PAGE_IS_FILE,
			.category_mask = PAGE_IS_FILE,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_FILE | PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};
		long n = ioctl(pagemap, PAGEMAP_SCAN, &arg);
		if (n < 0)
			die("PAGEMAP_SCAN");
		for (long i = 0; i < n; i++)
			total += (long)((regions[i].end - regions[i].start) / PAGE);
		if (arg.walk_end <= pos)
			break;
		pos = arg.walk_end;
	}
	return total;
}

static struct page_floors page_floors(size_t pages, size_t guest_size, double *t, size_t n)
{
	struct page_floors f;
	int fd = memfd_create("bench-snapshot", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)guest_size) < 0)
		die("memfd");
	uint8_t *w = mmap(NULL, guest_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w == MAP_FAILED)
		die("mmap");
	for (size_t i = 0; i < guest_size; i += PAGE) /* every page in the page cache */
		w[i] = (uint8_t)(i / PAGE);
	munmap(w, guest_size);
	const uint8_t *src = mmap(NULL, guest_size, PROT_READ, MAP_SHARED, fd, 0);
	uint8_t *dst = mmap(NULL, guest_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (src == MAP_FAILED || dst == MAP_FAILED)
		die("mmap");
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap < 0)
		die("/proc/self/pagemap");
	/* the pages at the middle of the guest, like the dirty module's buffer */
	size_t off = (guest_size / 2) & ~(PAGE - 1);
	if (off + pages * PAGE > guest_size)
		off = guest_size - pages * PAGE;
	volatile uint8_t sink = 0;
	for (size_t i = 0; i < pages; i++)
		sink += src[off + i * PAGE];
	touch_write(dst + off, pages);
	for (size_t i = 0; i < n + 3; i++) {
		double t0 = now_us();
		memcpy(dst + off, src + off, pages * PAGE);
		if (i >= 3)
			t[i - 3] = now_us() - t0;
	}
	f.memcpy = summarize(t, n);
	for (size_t i = 0; i < n; i++) {
		long got;
		double t0 = now_us();
		got = scan_private(pagemap, dst, guest_size);
		t[i] = now_us() - t0;
		if (got != (long)pages) {
			fprintf(stderr, "bench_restore: PAGEMAP_SCAN found %ld private pages, not %zu\n",
				got, pages);
			exit(1);
		}
	}
	f.scan_sparse = summarize(t, n);
	double *t2 = calloc(n, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		double t0 = now_us();
		if (madvise(dst + off, pages * PAGE, MADV_DONTNEED) < 0)
			die("madvise");
		double t1 = now_us();
		touch_write(dst + off, pages);
		t[i] = t1 - t0;
		t2[i] = now_us() - t1;
	}
	f.madvise = summarize(t, n);
	f.retouch = summarize(t2, n);
	/* Every other page of the mapping present (read from the snapshot): the walk's worst case. */
	for (size_t i = 0; i < guest_size; i += PAGE)
		sink += dst[i];
	for (size_t i = 0; i < n; i++) {
		double t0 = now_us();
		scan_private(pagemap, dst, guest_size);
		t[i] = now_us() - t0;
	}
	f.scan_dense = summarize(t, n);
	(void)sink;
	free(t2);
	close(pagemap);
	munmap((void *)src, guest_size);
	munmap(dst, guest_size);
	close(fd);
	return f;
}

/* --- hyperpool ------------------------------------------------------------------------------ */

static struct hp_module *open_module(struct hp_kvm *hk, const char *path, uint64_t heap)
{
	struct hp_module_config cfg = { .heap_size = heap };
	struct hp_module *mod;
	struct hp_error err;
	check(hp_module_open(hk, path, heap ? &cfg : NULL, &mod, &err), &err);
	check(hp_module_snapshot(mod, NULL, NULL, &err), &err);
	return mod;
}

/* msgpack [n] for n < 65536 */
static size_t pack_n(uint8_t *b, uint64_t n)
{
	b[0] = 0x91;
	if (n < 128) {
		b[1] = (uint8_t)n;
		return 2;
	}
	b[1] = 0xcd;
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	return 4;
}

static void call_dirty(struct hp_vm *vm, uint64_t n)
{
	uint8_t args[4];
	size_t len = pack_n(args, n);
	struct hp_call_result res;
	struct hp_error err;
	check(hp_vm_call(vm, "dirty", 5, args, len, &res, &err), &err);
	if (res.status != HP_OK) {
		fprintf(stderr, "bench_restore: dirty(%llu) failed: %.*s\n", (unsigned long long)n,
			(int)res.output_len, (const char *)res.output);
		exit(1);
	}
}

static void call_named(struct hp_vm *vm, const char *name, const uint8_t *args, size_t len)
{
	struct hp_call_result res;
	struct hp_error err;
	check(hp_vm_call(vm, name, strlen(name), args, len, &res, &err), &err);
	if (res.status != HP_OK) {
		fprintf(stderr, "bench_restore: %s failed\n", name);
		exit(1);
	}
}

struct cell {
	struct stats call, restore, both;
	uint64_t pages_restored;
};

/* The restore and call + restore of one cell as JSON rows, e.g. "restore pagemap-memcpy,
 * dirty(16), small guest". */
static void json_cell(const char *strategy, const char *pages, const char *suffix, struct cell c)
{
	char name[128];
	snprintf(name, sizeof(name), "restore %s, dirty(%s)%s", strategy, pages, suffix);
	bench_json(name, "us", c.restore);
	snprintf(name, sizeof(name), "call + restore %s, dirty(%s)%s", strategy, pages, suffix);
	bench_json(name, "us", c.both);
}

/* One fresh VM per cell: with the page-map strategies a page written once stays private (it
 * is copied back, not dropped), so an earlier, larger n would inflate later cells. */
static struct cell measure_cell(struct hp_module *mod, int strategy, uint64_t pages, size_t n,
				double *t)
{
	struct cell c;
	struct hp_vm *vm;
	struct hp_error err;
	check(hp_vm_create_with(mod, strategy, NULL, NULL, &vm, &err), &err);
	double *tr = calloc(n, sizeof(double)), *tb = calloc(n, sizeof(double));
	for (size_t i = 0; i < n + 3; i++) {
		double t0 = now_us();
		if (pages)
			call_dirty(vm, pages);
		else
			call_named(vm, "nop", (const uint8_t[]){ 0x90 }, 1);
		double t1 = now_us();
		check(hp_vm_restore(vm, &err), &err);
		double t2 = now_us();
		if (i >= 3) {
			t[i - 3] = t1 - t0;
			tr[i - 3] = t2 - t1;
			tb[i - 3] = t2 - t0;
		}
	}
	struct hp_vm_memory m;
	check(hp_vm_memory(vm, &m, &err), &err);
	c.pages_restored = m.last_restore_pages;
	c.call = summarize(t, n);
	c.restore = summarize(tr, n);
	c.both = summarize(tb, n);
	free(tr);
	free(tb);
	hp_vm_destroy(vm);
	return c;
}

static size_t iters_for(size_t n, uint64_t pages)
{
	size_t k = pages >= 4096 ? n / 20 : pages >= 256 ? n / 4 : n;
	return k < 7 ? 7 : k;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_restore DIRTY_MODULE MATH_MODULE [ITERATIONS]\n");
		return 64;
	}
	size_t n = argc > 3 ? strtoul(argv[3], NULL, 10) : 200;
	if (n < 20)
		n = 20;
	double *t = calloc(n * 10, sizeof(double));
	int kvm = open_kvm_or_exit();
	struct hp_error err;
	struct hp_kvm *hk;
	check(hp_kvm_open(&hk, &err), &err);
	struct hp_module *dirty = open_module(hk, argv[1], 0);
	struct hp_module *math = open_module(hk, argv[2], 0);
	size_t guest = (size_t)hp_module_snapshot_bytes(dirty);
	static const uint64_t page_counts[] = { 1, 16, 256, 4096 };

	printf("bench_restore: %zu iterations (n/4 for 256 pages, n/20 for 4096); dirty module guest "
	       "memory %.1f MiB, math %.1f MiB\n", n, guest / 1048576.0,
	       hp_module_snapshot_bytes(math) / 1048576.0);

	/* 1. floors */
	header("Floors (bare, no libhpvmm)");
	printf("| %5s | %17s | %17s | %17s | %17s | %17s |\n", "pages", "memcpy",
	       "madvise DONTNEED", "host re-touch", "PAGEMAP_SCAN", "PAGEMAP_SCAN");
	printf("| %5s | %17s | %17s | %17s | %17s | %17s |\n", "", "page cache->priv",
	       "", "(after madvise)", "sparse mapping", "all pages present");
	printf("| %5s | %17s | %17s | %17s | %17s | %17s |\n", "", "us med / p90",
	       "us med / p90", "us med / p90", "us med / p90", "us med / p90");
	printf("|-------|-------------------|-------------------|-------------------|-------------------|-------------------|\n");
	double memcpy_per_page = 0;
	for (size_t k = 0; k < 4; k++) {
		size_t it = iters_for(n, page_counts[k]) * 2;
		struct page_floors f = page_floors(page_counts[k], guest, t, it);
		if (page_counts[k] == 16)
			memcpy_per_page = f.memcpy.median / 16;
		printf("| %5llu | %7.1f / %7.1f | %7.1f / %7.1f | %7.1f / %7.1f | %7.1f / %7.1f | %7.1f / %7.1f |\n",
		       (unsigned long long)page_counts[k], f.memcpy.median, f.memcpy.p90,
		       f.madvise.median, f.madvise.p90, f.retouch.median, f.retouch.p90,
		       f.scan_sparse.median, f.scan_sparse.p90, f.scan_dense.median, f.scan_dense.p90);
		json_pages("floor: memcpy snapshot->private, %llu pages", page_counts[k], f.memcpy);
		json_pages("floor: madvise DONTNEED, %llu pages", page_counts[k], f.madvise);
		json_pages("floor: PAGEMAP_SCAN, %llu private pages, sparse", page_counts[k], f.scan_sparse);
	}
	printf("\n(PAGEMAP_SCAN over a %.1f MiB private mapping of a memfd with `pages` private pages; "
	       "\"sparse\": no other page present, \"all present\": every other page read-mapped.)\n\n",
	       guest / 1048576.0);
	table_head();
	struct reg_floors rf = reg_floors(kvm, t, n * 5, guest);
	row("floor: bare KVM_RUN exit round trip, CPL3 (MMIO)", rf.run);
	row("floor: KVM_SET_REGS ioctl", rf.set_regs);
	row("floor: KVM_RUN round trip + regs via sync_regs", rf.run_sync_regs);
	row("floor: KVM_RUN round trip + regs+sregs+events via sync_regs", rf.run_sync_all);
	char what[128];
	snprintf(what, sizeof(what), "floor: KVM_GET_DIRTY_LOG, %.0f MiB slot, clean", guest / 1048576.0);
	row(what, dirty_log_floor(kvm, t, n * 5, guest));
	snprintf(what, sizeof(what), "floor: bare VM create (VM+slot+vCPU+kvm_run), %.0f MiB", guest / 1048576.0);
	struct stats bare_vm_create = bare_create_floor(kvm, t, n / 2, guest);
	row(what, bare_vm_create);

	/* 2. strategies x pages */
	header("Restore strategies: call dirty(n), then hp_vm_restore (one fresh VM per row)");
	const struct hp_restore_measurement *ms = hp_module_restore_measurements(dirty);
	printf("auto-chosen strategy for the dirty module: %s (load-time measurements of __hp_touch(16)"
	       " + restore:", hp_restore_strategy_name(hp_module_restore_strategy(dirty)));
	for (int s = 1; s < HP_RESTORE_STRATEGIES; s++)
		printf(" %s %.0f us%s", hp_restore_strategy_name(s), ms[s].call_us,
		       s + 1 < HP_RESTORE_STRATEGIES ? ";" : ")\n\n");
	printf("| %-16s | %5s | %19s | %19s | %19s | %8s | %4s |\n", "strategy", "pages",
	       "call dirty(n) us", "restore us", "call+restore us", "restored", "n");
	printf("| %-16s | %5s | %19s | %19s | %19s | %8s | %4s |\n", "", "", "median / p90",
	       "median / p90", "median / p90", "pages", "");
	printf("|------------------|-------|---------------------|---------------------|---------------------|----------|------|\n");
	for (int s = 1; s < HP_RESTORE_STRATEGIES; s++) {
		for (size_t k = 0; k < 5; k++) {
			uint64_t pages = k == 0 ? 0 : page_counts[k - 1];
			size_t it = iters_for(n, pages);
			struct cell c = measure_cell(dirty, s, pages, it, t);
			char pg[16];
			snprintf(pg, sizeof(pg), k == 0 ? "nop" : "%llu", (unsigned long long)pages);
			printf("| %-16s | %5s | %8.1f / %8.1f | %8.1f / %8.1f | %8.1f / %8.1f | %8llu | %4zu |\n",
			       hp_restore_strategy_name(s), pg, c.call.median, c.call.p90,
			       c.restore.median, c.restore.p90, c.both.median, c.both.p90,
			       (unsigned long long)c.pages_restored, it);
			json_cell(hp_restore_strategy_name(s), pg, "", c);
		}
	}
	/* The page-map strategies' private set only grows: a VM that once wrote 4096 pages. */
	{
		struct hp_vm *vm;
		check(hp_vm_create_with(dirty, HP_RESTORE_PAGEMAP_MEMCPY, NULL, NULL, &vm, &err), &err);
		call_dirty(vm, 4096);
		check(hp_vm_restore(vm, &err), &err);
		size_t it = iters_for(n, 256);
		double *tr = calloc(it, sizeof(double));
		for (size_t i = 0; i < it + 3; i++) {
			double t0 = now_us();
			call_dirty(vm, 16);
			double t1 = now_us();
			check(hp_vm_restore(vm, &err), &err);
			if (i >= 3) {
				t[i - 3] = t1 - t0;
				tr[i - 3] = now_us() - t1;
			}
		}
		struct hp_vm_memory m;
		check(hp_vm_memory(vm, &m, &err), &err);
		struct stats sc = summarize(t, it), sr = summarize(tr, it);
		printf("\npagemap-memcpy, dirty(16) in a VM that once ran dirty(4096): call %.1f us, "
		       "restore %.1f us median (p90 %.1f), %llu pages restored per call, n %zu\n",
		       sc.median, sr.median, sr.p90, (unsigned long long)m.last_restore_pages, it);
		free(tr);
		hp_vm_destroy(vm);
	}

	/* 3. small vs large guest */
	header("Guest size: the same dirtied pages in a small and a large guest");
	struct hp_module *small = open_module(hk, argv[1], 1u << 20);
	struct hp_module *large = open_module(hk, argv[1], 64u << 20);
	double small_mb = hp_module_snapshot_bytes(small) / 1048576.0;
	double large_mb = hp_module_snapshot_bytes(large) / 1048576.0;
	printf("small: heap 1 MiB, guest memory %.1f MiB; large: heap 64 MiB, guest memory %.1f MiB "
	       "(the image starts at 32 MiB and holds the 16 MiB buffer)\n\n", small_mb, large_mb);
	printf("| %-16s | %5s | %15s | %15s | %6s | %15s | %15s | %6s |\n", "strategy", "pages",
	       "small restore", "large restore", "ratio", "small call+rst", "large call+rst", "ratio");
	printf("| %-16s | %5s | %15s | %15s | %6s | %15s | %15s | %6s |\n", "", "",
	       "us median", "us median", "L/S", "us median", "us median", "L/S");
	printf("|------------------|-------|-----------------|-----------------|--------|-----------------|-----------------|--------|\n");
	for (int s = 1; s < HP_RESTORE_STRATEGIES; s++) {
		for (size_t k = 1; k <= 2; k++) {
			uint64_t pages = page_counts[k];
			size_t it = iters_for(n, pages);
			struct cell a = measure_cell(small, s, pages, it, t);
			struct cell b = measure_cell(large, s, pages, it, t);
			printf("| %-16s | %5llu | %15.1f | %15.1f | %6.2f | %15.1f | %15.1f | %6.2f |\n",
			       hp_restore_strategy_name(s), (unsigned long long)pages, a.restore.median,
			       b.restore.median, b.restore.median / a.restore.median, a.both.median,
			       b.both.median, b.both.median / a.both.median);
			char pg[16];
			snprintf(pg, sizeof(pg), "%llu", (unsigned long long)pages);
			json_cell(hp_restore_strategy_name(s), pg, ", small guest", a);
			json_cell(hp_restore_strategy_name(s), pg, ", large guest", b);
		}
	}

	/* 4. warm calls */
	header("Warm call + restore (auto strategy) vs the bare CPL3 exit round trip");
	table_head();
	struct cell add = { 0 }, nop;
	{
		static const uint8_t args[] = { 0x92, 0x01, 0x02 };
		struct hp_vm *vm;
		check(hp_vm_create(math, NULL, NULL, &vm, &err), &err);
		double *tc = calloc(n * 5, sizeof(double)), *tr = calloc(n * 5, sizeof(double));
		for (size_t i = 0; i < n * 5 + 10; i++) {
			double t0 = now_us();
			call_named(vm, "add", args, sizeof(args));
			double t1 = now_us();
			check(hp_vm_restore(vm, &err), &err);
			double t2 = now_us();
			if (i >= 10) {
				tc[i - 10] = t1 - t0;
				tr[i - 10] = t2 - t1;
				t[i - 10] = t2 - t0;
			}
		}
		struct hp_vm_memory m;
		check(hp_vm_memory(vm, &m, &err), &err);
		add.call = summarize(tc, n * 5);
		add.restore = summarize(tr, n * 5);
		add.both = summarize(t, n * 5);
		add.pages_restored = m.last_restore_pages;
		free(tc);
		free(tr);
		hp_vm_destroy(vm);
	}
	nop = measure_cell(dirty, HP_RESTORE_AUTO, 0, n * 5, t);
	row("floor: bare KVM_RUN exit round trip, CPL3 (MMIO)", rf.run);
	snprintf(what, sizeof(what), "math.add(1, 2): call (%s)",
		 hp_restore_strategy_name(hp_module_restore_strategy(math)));
	row(what, add.call);
	row("math.add(1, 2): restore", add.restore);
	row("math.add(1, 2): call + restore", add.both);
	snprintf(what, sizeof(what), "dirty.nop(): call (%s)",
		 hp_restore_strategy_name(hp_module_restore_strategy(dirty)));
	row(what, nop.call);
	row("dirty.nop(): restore", nop.restore);
	row("dirty.nop(): call + restore", nop.both);
	double goal_add = 3 * rf.run.median + add.pages_restored * memcpy_per_page;
	double goal_nop = 3 * rf.run.median + nop.pages_restored * memcpy_per_page;
	printf("\npages restored per call: add %llu, nop %llu. Goal 3 x round trip + pages x memcpy floor "
	       "(%.2f us/page): add %.1f us -> %.1f (%s), nop %.1f us -> %.1f (%s); "
	       "call+restore / round trip: add %.2f, nop %.2f\n",
	       (unsigned long long)add.pages_restored, (unsigned long long)nop.pages_restored,
	       memcpy_per_page, goal_add, add.both.median, add.both.median <= goal_add ? "met" : "NOT met",
	       goal_nop, nop.both.median, nop.both.median <= goal_nop ? "met" : "NOT met",
	       add.both.median / rf.run.median, nop.both.median / rf.run.median);

	/* 5. clone vs cold */
	header("Clone from the snapshot vs cold create + init (math module)");
	table_head();
	size_t nv = n / 2;
	double *td = calloc(nv, sizeof(double));
	for (size_t i = 0; i < nv; i++) {
		struct hp_vm *vm;
		double t0 = now_us();
		check(hp_vm_create(math, NULL, NULL, &vm, &err), &err);
		t[i] = now_us() - t0;
		t0 = now_us();
		hp_vm_destroy(vm);
		td[i] = now_us() - t0;
	}
	struct stats clone = summarize(t, nv), clone_destroy = summarize(td, nv);
	for (size_t i = 0; i < nv; i++) {
		struct hp_vm *vm;
		double t0 = now_us();
		check(hp_vm_create_cold(math, NULL, NULL, &vm, &err), &err);
		t[i] = now_us() - t0;
		t0 = now_us();
		hp_vm_destroy(vm);
		td[i] = now_us() - t0;
	}
	struct stats cold = summarize(t, nv), cold_destroy = summarize(td, nv);
	/* clone + first call: what a pool miss costs before the call returns */
	for (size_t i = 0; i < nv; i++) {
		struct hp_vm *vm;
		static const uint8_t args[] = { 0x92, 0x01, 0x02 };
		double t0 = now_us();
		check(hp_vm_create(math, NULL, NULL, &vm, &err), &err);
		call_named(vm, "add", args, sizeof(args));
		t[i] = now_us() - t0;
		hp_vm_destroy(vm);
	}
	struct stats clone_call = summarize(t, nv);
	snprintf(what, sizeof(what), "floor: bare VM create (VM+slot+vCPU+kvm_run), %.0f MiB", guest / 1048576.0);
	row(what, bare_vm_create);
	row("hyperpool: clone from snapshot (hp_vm_create)", clone);
	row("hyperpool: clone + first call math.add", clone_call);
	row("hyperpool: cold create + load + init (hp_vm_create_cold)", cold);
	row("hyperpool: teardown of a clone", clone_destroy);
	row("hyperpool: teardown of a cold VM", cold_destroy);
	printf("\nclone / cold = %.2f; clone / bare create = %.2f\n", clone.median / cold.median,
	       clone.median / bare_vm_create.median);

	free(td);
	hp_module_close(small);
	hp_module_close(large);
	hp_module_close(dirty);
	hp_module_close(math);
	hp_kvm_close(hk);
	close(kvm);
	free(t);
	return 0;
}
