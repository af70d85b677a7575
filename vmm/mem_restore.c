/* mem_restore.c - put a cloned VM's memory back to the snapshot after calls (the lowest layer
 * of restore: pages only; vm.c calls it, strategy.c chooses which way it works).
 *
 * Two ways to find the pages a call may have written:
 *  - KVM's dirty log of the memslot (exact per call; costs a write-protect fault per page per
 *    call), plus the pages the host itself wrote (call block, input): KVM does not log those;
 *  - the kernel's page map of the VM's private mapping: a page that was written is no longer
 *    the snapshot's page-cache page but a private copy (PAGEMAP_SCAN, Linux >= 6.7, or a read of
 *    /proc/self/pagemap). No faults, but a page copied back stays private, so this finds every
 *    page written since the VM was created, not just by the last call.
 * Two ways to put them back:
 *  - memcpy from the snapshot (the page stays mapped: no refault);
 *  - MADV_DONTNEED (the private copy is dropped; the next touch refaults the snapshot page).
 * Which is cheapest depends on the host (docs/benchmarks.md); strategy.c times all four at
 * module load with the runtime's __hp_touch function and keeps the fastest. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pagemap_scan.h"
#include "vm_internal.h"

bool hp_restore_uses_dirty_log(int strategy)
{
	return strategy == HP_RESTORE_DIRTYLOG_MEMCPY || strategy == HP_RESTORE_DIRTYLOG_MADVISE;
}

/* With the page map, a page copied back stays private and is copied again after every later
 * call, so one call that wrote many pages would make every later restore of that VM slow and
 * keep its memory private. When the last restore copied more than this, the next one drops the
 * pages instead (MADV_DONTNEED): the VM shrinks back to what its calls really touch.
 * But if the call after a trim writes that many pages again, the VM's calls are simply big and
 * trimming would make every call refault them all (~11-20 us a page here): then trimming waits
 * TRIM_BACKOFF_FIRST restores, doubling each time it proves useless again. */
#define TRIM_PAGES 1024
#define TRIM_BACKOFF_FIRST 64
#define TRIM_BACKOFF_MAX 65536

static bool copies_back(const struct hp_vm *vm)
{
	if (vm->restore == HP_RESTORE_DIRTYLOG_MEMCPY)
		return true;
	return vm->restore == HP_RESTORE_PAGEMAP_MEMCPY && vm->trim_next == false;
}

/* A visitor of page ranges [start, end) in guest physical addresses. */
typedef int (*range_fn)(struct hp_vm *vm, uint64_t start, uint64_t end, struct hp_error *err);

static int put_back(struct hp_vm *vm, uint64_t start, uint64_t end, struct hp_error *err)
{
	if (start >= end || end > vm->mem_size || (start | end) & (HP_PAGE_SIZE - 1))
		return hp_fail(err, HP_E_SYSTEM, "restore range [%#llx, %#llx) is outside guest memory",
			       (unsigned long long)start, (unsigned long long)end);
	if (copies_back(vm))
		memcpy(vm->mem + start, vm->snap->map + start, end - start);
	else if (madvise(vm->mem + start, end - start, MADV_DONTNEED) < 0)
		return hp_fail_errno(err, HP_E_SYSTEM, "madvise(MADV_DONTNEED) of guest pages");
	vm->pages_restored += (end - start) / HP_PAGE_SIZE;
	return 0;
}

static int count_pages(struct hp_vm *vm, uint64_t start, uint64_t end, struct hp_error *err)
{
	(void)err;
	vm->pages_restored += (end - start) / HP_PAGE_SIZE;
	return 0;
}

/* --- finding pages: KVM dirty log ----------------------------------------------------------- */

static int each_dirty_logged(struct hp_vm *vm, range_fn fn, struct hp_error *err)
{
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = vm->dirty_bitmap };
	if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_GET_DIRTY_LOG");
	uint64_t pages = vm->mem_size / HP_PAGE_SIZE, run = 0;
	for (uint64_t w = 0; w < (pages + 63) / 64; w++) {
		uint64_t bits = vm->dirty_bitmap[w];
		while (bits) {
			uint64_t page = w * 64 + (uint64_t)__builtin_ctzll(bits);
			uint64_t end = page + 1;
			bits &= bits - 1;
			/* coalesce the run of set bits starting here */
			while (end < pages && end % 64 && (bits & (1ull << (end % 64)))) {
				bits &= ~(1ull << (end % 64));
				end++;
			}
			if (fn(vm, page * HP_PAGE_SIZE, end * HP_PAGE_SIZE, err))
				return -1;
			run++;
		}
	}
	(void)run;
	/* KVM logs guest writes only: add what the host wrote itself. */
	if (fn(vm, HP_GPA_CONTROL, HP_GPA_CONTROL + HP_PAGE_SIZE, err))
		return -1;
	if (vm->host_input_len) {
		uint64_t end = HP_GPA_INPUT + ((vm->host_input_len + HP_PAGE_SIZE - 1) & ~(HP_PAGE_SIZE - 1));
		if (fn(vm, HP_GPA_INPUT, end, err))
			return -1;
	}
	return 0;
}

/* --- finding pages: the page map ------------------------------------------------------------ */

/* Linux >= 6.7: the kernel walks the page tables and returns only matching ranges, so the cost
 * follows the pages present, not the size of guest memory. */
static int each_private_scan(struct hp_vm *vm, range_fn fn, struct hp_error *err)
{
	struct page_region regions[64];
	uint64_t base = (uint64_t)(uintptr_t)vm->mem, end = base + vm->mem_size, pos = base;
	while (pos < end) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.start = pos,
			.end = end,
			.vec = (uint64_t)(uintptr_t)regions,
			.vec_len = 64,
			/* written pages: no longer the file's (private copies), present or swapped */
			.category_inverted = PAGE_IS_FILE,
			.category_mask = PAGE_IS_FILE,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_FILE | PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};
		long n = ioctl(vm->kvm->pagemap_fd, PAGEMAP_SCAN, &arg);
		if (n < 0)
			return hp_fail_errno(err, HP_E_SYSTEM, "PAGEMAP_SCAN");
		for (long i = 0; i < n; i++)
			if (regions[i].start < base || regions[i].end > end ||
			    fn(vm, regions[i].start - base, regions[i].end - base, err))
				return regions[i].start < base || regions[i].end > end
					       ? hp_fail(err, HP_E_SYSTEM, "PAGEMAP_SCAN returned a foreign range")
					       : -1;
		if (arg.walk_end <= pos)
			return hp_fail(err, HP_E_SYSTEM, "PAGEMAP_SCAN made no progress");
		pos = arg.walk_end;
	}
	return 0;
}

/* Older kernels: read the 64-bit entries of /proc/self/pagemap (bit 63 present, 62 swapped,
 * 61 file page or shared). Its cost grows with guest memory: a fallback only. */
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE (1ull << 61)

static int each_private_read(struct hp_vm *vm, range_fn fn, struct hp_error *err)
{
	uint64_t entries[512];
	uint64_t base_page = (uint64_t)(uintptr_t)vm->mem / HP_PAGE_SIZE;
	uint64_t pages = vm->mem_size / HP_PAGE_SIZE, run_start = 0;
	bool in_run = false;
	for (uint64_t p = 0; p < pages; p += 512) {
		uint64_t n = pages - p < 512 ? pages - p : 512;
		ssize_t got = pread(vm->kvm->pagemap_fd, entries, n * 8, (off_t)((base_page + p) * 8));
		if (got != (ssize_t)(n * 8))
			return hp_fail_errno(err, HP_E_SYSTEM, "reading /proc/self/pagemap");
		for (uint64_t i = 0; i < n; i++) {
			bool private = (entries[i] & (PM_PRESENT | PM_SWAPPED)) && !(entries[i] & PM_FILE);
			if (private && !in_run) {
				run_start = p + i;
				in_run = true;
			} else if (!private && in_run) {
				in_run = false;
				if (fn(vm, run_start * HP_PAGE_SIZE, (p + i) * HP_PAGE_SIZE, err))
					return -1;
			}
		}
	}
	if (in_run && fn(vm, run_start * HP_PAGE_SIZE, pages * HP_PAGE_SIZE, err))
		return -1;
	return 0;
}

static int each_private(struct hp_vm *vm, range_fn fn, struct hp_error *err)
{
	return vm->kvm->pagemap_scan ? each_private_scan(vm, fn, err) : each_private_read(vm, fn, err);
}

/* --- restore -------------------------------------------------------------------------------- */

/* Decides whether this restore drops pages instead of copying them (see TRIM_PAGES). */
static bool should_trim(struct hp_vm *vm)
{
	bool big = vm->pages_restored > TRIM_PAGES;
	if (vm->trim_next) {
		/* the last restore trimmed: pages_restored is exactly what one call wrote */
		if (big)
			vm->trim_backoff = vm->trim_backoff ? vm->trim_backoff * 2 : TRIM_BACKOFF_FIRST;
		else
			vm->trim_backoff = 0;
		if (vm->trim_backoff > TRIM_BACKOFF_MAX)
			vm->trim_backoff = TRIM_BACKOFF_MAX;
		vm->trim_wait = vm->trim_backoff;
		return false;
	}
	if (vm->trim_wait) {
		vm->trim_wait--;
		return false;
	}
	return big;
}

int hp_restore_pages(struct hp_vm *vm, struct hp_error *err)
{
	vm->trim_next = vm->restore == HP_RESTORE_PAGEMAP_MEMCPY && should_trim(vm);
	vm->pages_restored = 0;
	if (hp_restore_uses_dirty_log(vm->restore))
		return each_dirty_logged(vm, put_back, err);
	return each_private(vm, put_back, err);
}

uint64_t hp_restore_private_pages(struct hp_vm *vm)
{
	uint64_t saved = vm->pages_restored;
	struct hp_error err;
	vm->pages_restored = 0;
	uint64_t n = each_private(vm, count_pages, &err) == 0 ? vm->pages_restored : 0;
	vm->pages_restored = saved;
	return n;
}
