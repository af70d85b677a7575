/* bench_memory - what an idle VM costs in memory and file descriptors, next to a bare KVM VM.
 *
 *   bench_memory MODULE [N]
 *
 * Two phases, each in its own child process so that one does not inherit the other's memory:
 *  - bare: N VMs built by hand without libhpvmm (KVM_CREATE_VM, one memslot the size of the
 *    module's guest memory backed by anonymous memory, one vCPU, kvm_run mmapped, a long-mode
 *    CPL3 guest run to its first exit): what KVM itself needs per VM and vCPU;
 *  - hyperpool: N VMs of MODULE cloned from one snapshot, each having served one call
 *    (add(1, 2) if the module has it, else its first function with no arguments) and been
 *    restored, as idle VMs in a pool are.
 * For each it reports the deltas of /proc/self/status (user memory of this process), of
 * /proc/meminfo (kernel memory of the machine: other processes add noise) and of the open file
 * descriptors, total and per VM. Creation stops early when MemAvailable drops below 4 GiB or
 * when creating fails (the errno is reported). RLIMIT_NOFILE is raised to the hard limit first,
 * and the hard limit to what N needs when the process may (root). Not for asserting. */
#include <dirent.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define BENCH_NAME "bench_memory"
#include "bench_bare_x86_64.h"

#define STOP_AVAILABLE_KIB (4ull << 20) /* 4 GiB */

/* --- what is measured ------------------------------------------------------------------- */

enum { SRC_STATUS, SRC_MEMINFO, SRC_FDS };

static const struct metric {
	const char *name;
	int src;
} metrics[] = {
	{ "VmRSS", SRC_STATUS },        { "RssAnon", SRC_STATUS },
	{ "RssFile", SRC_STATUS },      { "RssShmem", SRC_STATUS },
	{ "VmPTE", SRC_STATUS },        { "MemAvailable", SRC_MEMINFO },
	{ "MemFree", SRC_MEMINFO },     { "Slab", SRC_MEMINFO },
	{ "SReclaimable", SRC_MEMINFO },{ "SUnreclaim", SRC_MEMINFO },
	{ "KernelStack", SRC_MEMINFO }, { "PageTables", SRC_MEMINFO },
	{ "SecPageTables", SRC_MEMINFO },{ "VmallocUsed", SRC_MEMINFO },
	{ "Percpu", SRC_MEMINFO },      { "Shmem", SRC_MEMINFO },
	{ "Committed_AS", SRC_MEMINFO },{ "open fds", SRC_FDS },
};
#define NMETRICS (sizeof(metrics) / sizeof(metrics[0]))

struct sample {
	long long v[NMETRICS];
	bool present[NMETRICS];
};

static void read_file_metrics(const char *path, int src, struct sample *s)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		for (size_t i = 0; i < NMETRICS; i++)
			if (metrics[i].src == src && !strcmp(line, metrics[i].name)) {
				s->v[i] = strtoll(colon + 1, NULL, 10);
				s->present[i] = true;
			}
	}
	fclose(f);
}

static long long count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	long long n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", "..", the directory's own fd */
}

static void take_sample(struct sample *s)
{
	memset(s, 0, sizeof(*s));
	read_file_metrics("/proc/self/status", SRC_STATUS, s);
	read_file_metrics("/proc/meminfo", SRC_MEMINFO, s);
	for (size_t i = 0; i < NMETRICS; i++)
		if (metrics[i].src == SRC_FDS) {
			s->v[i] = count_fds();
			s->present[i] = true;
		}
}

static long long mem_available_kib(void)
{
	struct sample s;
	memset(&s, 0, sizeof(s));
	read_file_metrics("/proc/meminfo", SRC_MEMINFO, &s);
	return s.v[5];
}

/* What a phase reports back to the parent (in shared memory). */
struct phase {
	const char *name;
	long requested, created;
	int stop_errno;      /* creation failed with this errno (0: did not fail) */
	char stop_what[128]; /* which step failed, or why creation stopped */
	struct sample before, after;
	double create_s, destroy_s;
	double create_first_us, create_last_us; /* median create time of the first / last 10% */
	double run_alone_us, run_crowd_us;       /* median round trip of VM 0 alone / with all */
	uint64_t private_bytes, guest_bytes; /* hyperpool: one VM's hp_vm_memory */
};

/* --- bare VMs (struct bare: bench_common.h; the CPL3 guest: bench_bare_x86_64.h) ---------------------------- */

static bool should_stop(struct phase *ph, long i)
{
	if (i % 8)
		return false;
	long long avail = mem_available_kib();
	if (avail > 0 && (unsigned long long)avail < STOP_AVAILABLE_KIB) {
		snprintf(ph->stop_what, sizeof(ph->stop_what),
			 "stopped: MemAvailable %lld MiB < 4 GiB", avail >> 10);
		return true;
	}
	return false;
}

/* Median create time of the first and of the last 10% of the VMs created. */
static void create_spread(struct phase *ph, double *t)
{
	size_t k = (size_t)ph->created / 10;
	if (k == 0)
		k = (size_t)ph->created;
	double *tail = malloc(k * sizeof(double));
	memcpy(tail, t + ph->created - (long)k, k * sizeof(double));
	ph->create_first_us = median(t, k);
	ph->create_last_us = median(tail, k);
	free(tail);
}

/* A few fds kept aside so that /proc can still be read once VM creation hits the fd limit. */
#define RESERVE_FDS 8
static int reserve[RESERVE_FDS];

static void reserve_fds(void)
{
	for (int i = 0; i < RESERVE_FDS; i++)
		reserve[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void release_fds(void)
{
	for (int i = 0; i < RESERVE_FDS; i++)
		if (reserve[i] >= 0)
			close(reserve[i]);
}

#define ROUND_TRIPS 200

static void settle(void)
{
	usleep(300 * 1000);
}

static void phase_bare(struct phase *ph, uint64_t mem_size)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		ph->stop_errno = errno;
		snprintf(ph->stop_what, sizeof(ph->stop_what), "/dev/kvm");
		return;
	}
	size_t run_size = (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct bare *vms = calloc((size_t)ph->requested, sizeof(*vms));
	double *tc = calloc((size_t)ph->requested, sizeof(double)), rt[ROUND_TRIPS];
	reserve_fds();
	settle();
	take_sample(&ph->before);
	double t0 = now_us();
	long created = 0; /* a local: plainly unchanged by the calls below that take parts of ph */
	for (long i = 0; i < ph->requested; i++) {
		if (should_stop(ph, i))
			break;
		double t1 = now_us();
		const char *failed = bare_create(kvm, &vms[i], mem_size, 0, run_size);
		if (!failed) /* long mode at CPL3, run to its first (MMIO) exit */
			failed = bare_setup_cpl3(&vms[i], NULL);
		if (!failed)
			failed = bare_run(&vms[i], KVM_EXIT_MMIO);
		tc[i] = now_us() - t1;
		if (!failed && i == 0) { /* VM 0's exit round trip while it is alone */
			for (int j = 0; j < ROUND_TRIPS; j++) {
				double t2 = now_us();
				if (bare_run(&vms[0], KVM_EXIT_MMIO))
					break;
				rt[j] = now_us() - t2;
			}
			ph->run_alone_us = median(rt, ROUND_TRIPS);
		}
		if (failed) {
			ph->stop_errno = errno;
			snprintf(ph->stop_what, sizeof(ph->stop_what), "%.90s failed at VM %ld", failed, i);
			bare_destroy(&vms[i]);
			break;
		}
		created = i + 1;
	}
	ph->created = created;
	ph->create_s = (now_us() - t0) / 1e6;
	release_fds();
	settle();
	take_sample(&ph->after);
	create_spread(ph, tc);
	for (int j = 0; created && j < ROUND_TRIPS; j++) {
		double t2 = now_us();
		if (bare_run(&vms[0], KVM_EXIT_MMIO))
			break;
		rt[j] = now_us() - t2;
	}
	ph->run_crowd_us = ph->created ? median(rt, ROUND_TRIPS) : 0;
	free(tc);
	t0 = now_us();
	for (long i = 0; i < ph->created; i++)
		bare_destroy(&vms[i]);
	ph->destroy_s = (now_us() - t0) / 1e6;
	free(vms);
	close(kvm);
}

/* --- hyperpool VMs ------------------------------------------------------------------------- */

static double call_restore(struct hp_vm *vm, const char *fn, const uint8_t *args, size_t len,
			   double *rt)
{
	struct hp_call_result res;
	struct hp_error err;
	for (int j = 0; j < ROUND_TRIPS; j++) {
		double t = now_us();
		if (hp_vm_call(vm, fn, strlen(fn), args, len, &res, &err) || hp_vm_restore(vm, &err))
			return 0;
		rt[j] = now_us() - t;
	}
	return median(rt, ROUND_TRIPS);
}

static void phase_hyperpool(struct phase *ph, const char *path)
{
	struct hp_error err;
	struct hp_kvm *hk;
	struct hp_module *mod;
	if (hp_kvm_open(&hk, &err) || hp_module_open(hk, path, NULL, &mod, &err) ||
	    hp_module_snapshot(mod, NULL, NULL, &err)) {
		snprintf(ph->stop_what, sizeof(ph->stop_what), "setup: %.100s", err.message);
		return;
	}
	/* add(1, 2) when the module has it; else its first function without arguments */
	const char *fn = "add";
	static const uint8_t add_args[] = { 0x92, 0x01, 0x02 }, no_args[] = { 0x90 };
	const uint8_t *args = add_args;
	size_t args_len = sizeof(add_args);
	struct hp_vm **vms = calloc((size_t)ph->requested, sizeof(*vms));
	struct hp_vm *probe;
	if (hp_vm_create(mod, NULL, NULL, &probe, &err)) {
		snprintf(ph->stop_what, sizeof(ph->stop_what), "create: %.100s", err.message);
		return;
	}
	bool has_add = false;
	for (uint32_t i = 0; i < hp_vm_function_count(probe); i++)
		has_add |= !strcmp(hp_vm_function_name(probe, i), "add");
	if (!has_add) {
		fn = hp_vm_function_name(probe, 0);
		args = no_args;
		args_len = sizeof(no_args);
	}
	hp_vm_destroy(probe);
	double *tc = calloc((size_t)ph->requested, sizeof(double)), rt[ROUND_TRIPS];
	reserve_fds();
	settle();
	take_sample(&ph->before);
	double t0 = now_us();
	for (long i = 0; i < ph->requested; i++) {
		if (should_stop(ph, i))
			break;
		struct hp_vm *vm;
		struct hp_call_result res;
		double t1 = now_us();
		if (hp_vm_create(mod, NULL, NULL, &vm, &err)) {
			ph->stop_errno = err.code == HP_E_KVM || err.code == HP_E_SYSTEM ? errno : 0;
			snprintf(ph->stop_what, sizeof(ph->stop_what), "VM %ld: %.90s", i, err.message);
			break;
		}
		if (hp_vm_call(vm, fn, strlen(fn), args, args_len, &res, &err) ||
		    hp_vm_restore(vm, &err)) {
			snprintf(ph->stop_what, sizeof(ph->stop_what), "VM %ld call: %.90s", i, err.message);
			hp_vm_destroy(vm);
			break;
		}
		tc[i] = now_us() - t1;
		vms[i] = vm;
		ph->created = i + 1;
		if (i == 0) /* VM 0's call + restore while it is alone */
			ph->run_alone_us = call_restore(vm, fn, args, args_len, rt);
	}
	ph->create_s = (now_us() - t0) / 1e6;
	release_fds();
	settle();
	take_sample(&ph->after);
	create_spread(ph, tc);
	if (ph->created)
		ph->run_crowd_us = call_restore(vms[0], fn, args, args_len, rt);
	free(tc);
	if (ph->created) {
		struct hp_vm_memory m;
		if (hp_vm_memory(vms[0], &m, &err) == 0) {
			ph->private_bytes = m.private_bytes;
			ph->guest_bytes = m.guest_bytes;
		}
	}
	t0 = now_us();
	for (long i = 0; i < ph->created; i++)
		hp_vm_destroy(vms[i]);
	ph->destroy_s = (now_us() - t0) / 1e6;
	free(vms);
	hp_module_close(mod);
	hp_kvm_close(hk);
}

/* --- driver -------------------------------------------------------------------------------- */

static long long delta(const struct phase *ph, size_t i)
{
	return ph->after.v[i] - ph->before.v[i];
}

static double per_vm(const struct phase *ph, size_t i)
{
	return ph->created ? (double)delta(ph, i) / (double)ph->created : 0;
}

static uint64_t module_mem_size(const char *path)
{
	struct hp_error err;
	struct hp_kvm *hk;
	struct hp_module *mod;
	if (hp_kvm_open(&hk, &err) || hp_module_open(hk, path, NULL, &mod, &err)) {
		fprintf(stderr, "bench_memory: %s\n", err.message);
		exit(errno == ENOENT ? 77 : 1);
	}
	struct hp_module_info info;
	hp_module_info(mod, &info);
	uint64_t size = info.mem_size;
	hp_module_close(mod);
	hp_kvm_close(hk);
	return size;
}

static void run_phase(struct phase *ph, const char *path, uint64_t mem_size, bool bare)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		if (bare)
			phase_bare(ph, mem_size);
		else
			phase_hyperpool(ph, path);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "bench_memory: the %s phase died (status %#x)\n", ph->name, status);
		exit(1);
	}
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_memory MODULE [N]\n");
		return 64;
	}
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
	if (n < 1)
		n = 1;
	if (access("/dev/kvm", R_OK | W_OK) < 0) {
		fprintf(stderr, "bench_memory: /dev/kvm: %s\n", strerror(errno));
		return errno == ENOENT ? 77 : 1;
	}

	/* file descriptors: 2 per VM (VM + vCPU) plus a few */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rlim_t soft0 = rl.rlim_cur, hard0 = rl.rlim_max;
	long nr_open = read_long("/proc/sys/fs/nr_open");
	rlim_t want = (rlim_t)(2 * n + 64);
	bool raised_hard = false;
	if (want > rl.rlim_max && nr_open > 0) {
		struct rlimit r2 = { want < (rlim_t)nr_open ? want : (rlim_t)nr_open,
				     want < (rlim_t)nr_open ? want : (rlim_t)nr_open };
		if (setrlimit(RLIMIT_NOFILE, &r2) == 0)
			raised_hard = true;
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);

	uint64_t mem_size = module_mem_size(argv[1]);
	printf("bench_memory: N = %ld VMs of %s (guest memory %.1f MiB each)\n", n, argv[1],
	       mem_size / 1048576.0);
	printf("RLIMIT_NOFILE: was %llu soft / %llu hard; now %llu soft / %llu hard%s; "
	       "fs.nr_open %ld; vm.max_map_count %ld\n",
	       (unsigned long long)soft0, (unsigned long long)hard0,
	       (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
	       raised_hard ? " (hard limit raised: this process may)" : "", nr_open,
	       read_long("/proc/sys/vm/max_map_count"));

	struct phase *ph = mmap(NULL, 2 * sizeof(*ph), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ph == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(ph, 0, 2 * sizeof(*ph));
	ph[0].name = "bare KVM";
	ph[1].name = "hyperpool";
	ph[0].requested = ph[1].requested = n;
	run_phase(&ph[0], argv[1], mem_size, true);
	run_phase(&ph[1], argv[1], mem_size, false);

	for (int p = 0; p < 2; p++) {
		printf("%s: created %ld of %ld VMs in %.2f s (%.0f us each), destroyed in %.2f s; %s%s%s%s\n",
		       ph[p].name, ph[p].created, ph[p].requested, ph[p].create_s,
		       ph[p].created ? ph[p].create_s * 1e6 / (double)ph[p].created : 0, ph[p].destroy_s,
		       ph[p].stop_what[0] ? ph[p].stop_what : "no failure",
		       ph[p].stop_errno ? " (" : "", ph[p].stop_errno ? strerror(ph[p].stop_errno) : "",
		       ph[p].stop_errno ? ")" : "");
	}
	printf("create (median): first 10%% %.0f us, last 10%% %.0f us (bare: KVM_CREATE_VM..first exit; "
	       "hyperpool: clone + call + restore)\n",
	       ph[0].create_first_us, ph[0].create_last_us);
	printf("  hyperpool: first 10%% %.0f us, last 10%% %.0f us\n", ph[1].create_first_us,
	       ph[1].create_last_us);
	printf("VM 0 alone vs with all VMs alive (median of %d): bare KVM_RUN exit round trip %.1f -> %.1f us; "
	       "hyperpool call + restore %.1f -> %.1f us\n", ROUND_TRIPS, ph[0].run_alone_us,
	       ph[0].run_crowd_us, ph[1].run_alone_us, ph[1].run_crowd_us);
	if (ph[1].guest_bytes)
		printf("one hyperpool VM after its call and restore: %llu KiB private of %llu KiB guest memory\n",
		       (unsigned long long)(ph[1].private_bytes >> 10),
		       (unsigned long long)(ph[1].guest_bytes >> 10));

	printf("\n| %-22s | %12s | %10s | %12s | %10s | %10s |\n", "metric (KiB; fds)",
	       "bare total", "bare /VM", "hp total", "hp /VM", "hp - bare");
	printf("|------------------------|--------------|------------|--------------|------------|------------|\n");
	for (size_t i = 0; i < NMETRICS; i++) {
		if (!ph[0].after.present[i] && !ph[1].after.present[i])
			continue;
		const char *src = metrics[i].src == SRC_STATUS ? "status" :
				  metrics[i].src == SRC_MEMINFO ? "meminfo" : "";
		char name[40];
		snprintf(name, sizeof(name), "%s%s%s%s", metrics[i].name, *src ? " (" : "", src,
			 *src ? ")" : "");
		double a = per_vm(&ph[0], i), b = per_vm(&ph[1], i);
		printf("| %-22s | %12lld | %10.1f | %12lld | %10.1f | %10.1f |\n", name,
		       delta(&ph[0], i), a, delta(&ph[1], i), b, b - a);
	}
	/* The headline: memory a VM really holds. MemAvailable is machine-wide (other processes
	 * move it by tens of MiB), so also the sum of the counters that are this VM's: user
	 * anonymous memory + slab + kernel stacks + page tables + KVM's secondary (shadow) page
	 * tables + vmalloc + percpu. RssFile/RssShmem are not in it: the snapshot's pages are
	 * shared by every VM, counted once per mapping. */
	static const char *const own[] = { "RssAnon", "Slab", "KernelStack", "PageTables",
					   "SecPageTables", "VmallocUsed", "Percpu" };
	double sum[2] = { 0, 0 };
	for (int p = 0; p < 2; p++)
		for (size_t i = 0; i < NMETRICS; i++)
			for (size_t j = 0; j < sizeof(own) / sizeof(own[0]); j++)
				if (!strcmp(metrics[i].name, own[j]))
					sum[p] += per_vm(&ph[p], i);
	double bare_kib = -per_vm(&ph[0], 5), hp_kib = -per_vm(&ph[1], 5);
	printf("\nper VM, sum of RssAnon + Slab + KernelStack + PageTables + SecPageTables + VmallocUsed + "
	       "Percpu: bare KVM %.1f KiB, hyperpool %.1f KiB, hyperpool over bare %.1f KiB (goal <= 64 KiB)\n",
	       sum[0], sum[1], sum[1] - sum[0]);
	printf("per VM, drop of MemAvailable (machine-wide, noisy): bare KVM %.1f KiB, hyperpool %.1f KiB, "
	       "over bare %.1f KiB\n", bare_kib, hp_kib, hp_kib - bare_kib);
	return 0;
}
