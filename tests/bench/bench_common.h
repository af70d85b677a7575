/* bench_common.h - what the benchmark programs (bench_vm.c, bench_restore.c, bench_memory.c)
 * share: timing and statistics, failing loudly, and a bare KVM VM built by hand without
 * libhpvmm (the "floor" every hyperpool number is read against). Setting a bare vCPU up is
 * arch-specific: bench_bare_<arch>.h.
 *
 * Define BENCH_NAME (the program's name, the prefix of its error messages) before including:
 *
 *   #define BENCH_NAME "bench_vm"
 *   #include "bench_common.h"
 *
 * Everything here is static inline, so each program takes what it uses and nothing is linked.
 *
 * Error convention of the bare VM helpers: they return NULL on success, else a short static
 * string naming the step that failed, with errno set by that step (0 when the failure has no
 * errno, e.g. an unexpected exit). A program that stops on any failure wraps the call in
 * or_die(); one that wants to report failure as a result (bench_memory) keeps the string. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#ifndef BENCH_NAME
#error "define BENCH_NAME (the program's name, for messages) before including bench_common.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hp_abi.h"
#include "hpvmm.h"

/* --- timing and statistics ------------------------------------------------------------------ */

/* Monotonic clock, in microseconds. */
static inline double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* qsort comparator for doubles, ascending. */
static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Order statistics of n samples (microseconds), and n. */
struct stats {
	double median, p90, p99;
	size_t n;
};

/* Sorts v[0..n) in place and returns its median (v[n/2]), p90 and p99; all 0 when n is 0. */
static inline struct stats summarize(double *v, size_t n)
{
	if (!n)
		return (struct stats){ 0, 0, 0, 0 };
	qsort(v, n, sizeof(*v), cmp_double);
	return (struct stats){ v[n / 2], v[n * 90 / 100], v[n * 99 / 100], n };
}

/* Sorts v[0..n) in place and returns its median (v[n/2]); 0 when n is 0. */
static inline double median(double *v, size_t n)
{
	return summarize(v, n).median;
}

/* Machine-readable output: when the environment names a file in HP_BENCH_JSON, every row a
 * program prints is also appended to it as one JSON object on one line (scripts/bench collects
 * them into one table). Opening the file per row keeps no state between rows; a failure to
 * write it is loud, not silent. */
static inline void bench_json(const char *name, const char *unit, struct stats s)
{
	const char *path = getenv("HP_BENCH_JSON");
	if (!path || !*path)
		return;
	FILE *f = fopen(path, "a");
	if (!f) {
		fprintf(stderr, BENCH_NAME ": opening %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fputs("{\"name\": \"", f);
	for (const char *c = name; *c; c++) /* labels are ASCII; escape what JSON needs */
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if ((unsigned char)*c >= 0x20)
			fputc(*c, f);
	int w = fprintf(f, "\", \"unit\": \"%s\", \"value\": %.3f, \"p50\": %.3f, \"p90\": %.3f, "
			"\"p99\": %.3f, \"n\": %zu}\n", unit, s.median, s.median, s.p90, s.p99, s.n);
	if (fclose(f) != 0 || w < 0) {
		fprintf(stderr, BENCH_NAME ": writing %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* A single figure (a rate, a ratio) in the same file: value only, n = 1. */
static inline void bench_json_value(const char *name, const char *unit, double v)
{
	bench_json(name, unit, (struct stats){ v, v, v, 1 });
}

/* One "| what | median | p90 | p99 | n |" table row, what padded to width, also as a JSON row
 * (bench_json). */
static inline void bench_row(int width, const char *what, struct stats s)
{
	printf("| %-*s | %9.1f | %9.1f | %9.1f | %6zu |\n", width, what, s.median, s.p90, s.p99, s.n);
	bench_json(what, "us", s);
}

/* --- failing -------------------------------------------------------------------------------- */

/* Prints "BENCH_NAME: what: strerror(errno)" (without the strerror part when errno is 0) and
 * exits with status 1. */
_Noreturn static inline void die(const char *what)
{
	int e = errno;
	if (e)
		fprintf(stderr, BENCH_NAME ": %s: %s\n", what, strerror(e));
	else
		fprintf(stderr, BENCH_NAME ": %s\n", what);
	exit(1);
}

/* For the helpers below that return an error string: dies when failed is not NULL. */
static inline void or_die(const char *failed)
{
	if (failed)
		die(failed);
}

/* For libhpvmm calls: exits with err's message when rc is not 0. */
static inline void check(int rc, const struct hp_error *err)
{
	if (rc) {
		fprintf(stderr, BENCH_NAME ": %s\n", err->message);
		exit(1);
	}
}

/* Opens /dev/kvm read-write, or exits: with 77 (meson's "skipped") when there is no such
 * device, else with 1. */
static inline int open_kvm_or_exit(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, BENCH_NAME ": /dev/kvm: %s\n", strerror(errno));
		exit(errno == ENOENT ? 77 : 1);
	}
	return kvm;
}

/* --- a bare KVM VM -------------------------------------------------------------------------- */

/* One VM, one memslot (slot 0 at guest physical 0, anonymous private memory), one vCPU with its
 * kvm_run mapped. A member not (yet) set up is -1 (fds) or NULL (mappings), so bare_destroy
 * can undo a bare_create that failed half way. */
struct bare {
	int vm, vcpu;
	uint8_t *mem;
	size_t mem_size;
	struct kvm_run *run;
	size_t run_size;
};

/* Creates b: KVM_CREATE_VM, mem_size bytes of guest memory as slot 0 with slot_flags (0, or
 * e.g. KVM_MEM_LOG_DIRTY_PAGES), KVM_CREATE_VCPU and the mapping of its kvm_run. run_size is
 * KVM_GET_VCPU_MMAP_SIZE when the caller already knows it, or 0 to ask KVM here (after the
 * vCPU is created). Returns NULL, or the failed step (errno set); either way b can be handed
 * to bare_destroy. */
static inline const char *bare_create(int kvm, struct bare *b, size_t mem_size,
				      uint32_t slot_flags, size_t run_size)
{
	memset(b, 0, sizeof(*b));
	b->vm = b->vcpu = -1;
	b->mem_size = mem_size;
	b->vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (b->vm < 0)
		return "KVM_CREATE_VM";
	b->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->mem == MAP_FAILED) {
		b->mem = NULL;
		return "mmap guest memory";
	}
	struct kvm_userspace_memory_region slot = { .flags = slot_flags, .memory_size = mem_size,
						    .userspace_addr = (uint64_t)(uintptr_t)b->mem };
	if (ioctl(b->vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return "KVM_SET_USER_MEMORY_REGION";
	b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0);
	if (b->vcpu < 0)
		return "KVM_CREATE_VCPU";
	b->run_size = run_size ? run_size : (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	b->run = mmap(NULL, b->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, b->vcpu, 0);
	if (b->run == MAP_FAILED) {
		b->run = NULL;
		return "mmap kvm_run";
	}
	return NULL;
}

/* Releases what bare_create set up (all of it, or as far as it got). */
static inline void bare_destroy(struct bare *b)
{
	if (b->run)
		munmap(b->run, b->run_size);
	if (b->vcpu >= 0)
		close(b->vcpu);
	if (b->vm >= 0)
		close(b->vm);
	if (b->mem)
		munmap(b->mem, b->mem_size);
}

/* One KVM_RUN, which must come back with exit reason expect (KVM_EXIT_IO, KVM_EXIT_MMIO...).
 * Nothing is done about the exit: the guest's loop just runs on at the next KVM_RUN. Returns
 * NULL or what failed (errno 0 for an unexpected exit). */
static inline const char *bare_run(struct bare *b, uint32_t expect)
{
	if (ioctl(b->vcpu, KVM_RUN, 0) < 0)
		return "KVM_RUN";
	if (b->run->exit_reason != expect) {
		static char msg[64];
		snprintf(msg, sizeof(msg), "KVM_RUN: exit %u, expected %u", b->run->exit_reason, expect);
		errno = 0;
		return msg;
	}
	return NULL;
}

#endif /* BENCH_COMMON_H */
