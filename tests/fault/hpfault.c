/* hpfault.so - an LD_PRELOAD shim that makes chosen system calls fail, for fault-injection
 * tests of hyperpoold and libhpvmm (tests/fault/e2e_faults.py). Test-only: never installed.
 *
 *   HP_FAULT="WHAT:AFTER:EVERY:TIMES:ERRNO[,WHAT:...]"
 *
 * WHAT is mmap, munmap, madvise, memfd_create, ftruncate, pread, or a KVM ioctl by name
 * (KVM_RUN, KVM_CREATE_VM, KVM_CREATE_VCPU, KVM_SET_USER_MEMORY_REGION, KVM_SET_REGS,
 * KVM_SET_SREGS, KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG, KVM_SET_FPU) or PAGEMAP_SCAN. Of the
 * calls to WHAT, the first AFTER pass; then every EVERY-th one fails with ERRNO (a number), at
 * most TIMES times; after that all pass again. A rule that cannot be parsed makes the process
 * exit at start with a message (a test must not pass because its faults were never armed).
 * HP_FAULT_LOG names a file that gets one line per injected failure. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_RULES 8

struct rule {
	char what[32];
	unsigned ioc_type, ioc_nr; /* for ioctls: matched by type and number, not size */
	unsigned long after, every, times;
	int err;
	atomic_ulong calls, failed;
};

static struct rule rules[MAX_RULES];
static unsigned nrules;
static int log_fd = -1;

static const struct { const char *name; unsigned type, nr; } ioctls[] = {
	{ "KVM_CREATE_VM", 0xae, 0x01 },	   { "KVM_CREATE_VCPU", 0xae, 0x41 },
	{ "KVM_GET_DIRTY_LOG", 0xae, 0x42 },	   { "KVM_SET_USER_MEMORY_REGION", 0xae, 0x46 },
	{ "KVM_RUN", 0xae, 0x80 },		   { "KVM_SET_REGS", 0xae, 0x82 },
	{ "KVM_SET_SREGS", 0xae, 0x84 },	   { "KVM_SET_FPU", 0xae, 0x8d },
	{ "KVM_CLEAR_DIRTY_LOG", 0xae, 0xc0 },	   { "PAGEMAP_SCAN", 'f', 16 },
};

static void die(const char *spec, const char *why)
{
	fprintf(stderr, "hpfault: HP_FAULT rule '%s': %s\n", spec, why);
	_exit(70);
}

static void parse_rule(char *spec)
{
	if (nrules == MAX_RULES)
		die(spec, "too many rules");
	struct rule *r = &rules[nrules];
	char what[32];
	long err;
	if (sscanf(spec, "%31[^:]:%lu:%lu:%lu:%ld", what, &r->after, &r->every, &r->times, &err) != 5 ||
	    r->every == 0 || err <= 0 || err > 4095)
		die(spec, "expected WHAT:AFTER:EVERY:TIMES:ERRNO with EVERY >= 1 and 1 <= ERRNO < 4096");
	r->err = (int)err;
	snprintf(r->what, sizeof(r->what), "%s", what);
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		if (!strcmp(what, ioctls[i].name)) {
			r->ioc_type = ioctls[i].type;
			r->ioc_nr = ioctls[i].nr;
		}
	static const char *const plain[] = { "mmap", "munmap", "madvise", "memfd_create", "ftruncate",
					     "pread" };
	bool known = r->ioc_type != 0;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		known |= !strcmp(what, plain[i]);
	if (!known)
		die(spec, "unknown WHAT");
	nrules++;
}

__attribute__((constructor)) static void hpfault_init(void)
{
	const char *env = getenv("HP_FAULT");
	if (!env || !*env)
		return;
	char *copy = strdup(env), *save = NULL;
	if (!copy)
		_exit(70);
	for (char *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save))
		parse_rule(s);
	free(copy);
	const char *log = getenv("HP_FAULT_LOG");
	if (log)
		log_fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/* True when this call to the rule's target must fail (and says so in the log). */
static bool hit(struct rule *r)
{
	unsigned long n = atomic_fetch_add(&r->calls, 1) + 1;
	if (n <= r->after || (n - r->after) % r->every)
		return false;
	if (atomic_fetch_add(&r->failed, 1) >= r->times)
		return false;
	if (log_fd >= 0) {
		char line[96];
		int len = snprintf(line, sizeof(line), "%s call %lu failed with errno %d\n", r->what, n, r->err);
		if (len > 0 && write(log_fd, line, (size_t)len) < 0)
			return true;
	}
	return true;
}

static struct rule *rule_named(const char *what)
{
	for (unsigned i = 0; i < nrules; i++)
		if (!strcmp(rules[i].what, what))
			return &rules[i];
	return NULL;
}

static struct rule *rule_for_ioctl(unsigned long req)
{
	for (unsigned i = 0; i < nrules; i++)
		if (rules[i].ioc_type && _IOC_TYPE(req) == rules[i].ioc_type && _IOC_NR(req) == rules[i].ioc_nr)
			return &rules[i];
	return NULL;
}

#define NEXT(fn) ((__typeof__(&fn))dlsym(RTLD_NEXT, #fn))
#define FAIL_IF(match, failval)                   \
	do {                                      \
		struct rule *r_ = (match);        \
		if (r_ && hit(r_)) {              \
			errno = r_->err;          \
			return failval;           \
		}                                 \
	} while (0)

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	FAIL_IF(rule_for_ioctl(req), -1);
	return NEXT(ioctl)(fd, req, arg);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	FAIL_IF(rule_named("mmap"), MAP_FAILED);
	return NEXT(mmap)(addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
	FAIL_IF(rule_named("munmap"), -1);
	return NEXT(munmap)(addr, len);
}

int madvise(void *addr, size_t len, int advice)
{
	FAIL_IF(rule_named("madvise"), -1);
	return NEXT(madvise)(addr, len, advice);
}

int memfd_create(const char *name, unsigned flags)
{
	FAIL_IF(rule_named("memfd_create"), -1);
	return NEXT(memfd_create)(name, flags);
}

int ftruncate(int fd, off_t len)
{
	FAIL_IF(rule_named("ftruncate"), -1);
	return NEXT(ftruncate)(fd, len);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	FAIL_IF(rule_named("pread"), -1);
	return NEXT(pread)(fd, buf, n, off);
}
