/* modules.c - the configured modules: each opened, snapshotted and given a warm pool at start,
 * and the per-module counters behind the `stats` method. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "daemon.h"
#include "hp_abi.h"
#include "log.h"

#define FDS_PER_VM 2      /* the VM and its vCPU (the memfd is closed once mapped) */
#define FDS_SPARE 64      /* listeners, pagemap, stdio, libuv's own */

/* Guest output (printf) of a module's calls goes to the daemon's log at debug level. */
static void guest_log(void *ctx, int stream, const char *bytes, size_t len)
{
	struct hpd_module *m = ctx;
	if (!hpd_log_enabled(HPD_LOG_DEBUG))
		return;
	hpd_log(HPD_LOG_DEBUG, "module %s: %s: %.*s", m->name, stream == HP_LOG_STDERR ? "stderr" : "stdout",
		(int)(len > 900 ? 900 : len), bytes);
}

/* The soft RLIMIT_NOFILE is raised to the hard one; a config whose pools and connections
 * cannot fit is refused before any VM exists. */
static int check_fd_budget(struct hpd *hd, char *err, size_t errlen)
{
	uint64_t need = FDS_SPARE + hd->cfg->max_connections;
	for (unsigned i = 0; i < hd->cfg->nmodules; i++)
		need += (uint64_t)hd->cfg->modules[i].pool_max * FDS_PER_VM;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
		snprintf(err, errlen, "the configuration needs up to %llu file descriptors (%d per VM "
			 "of every pool_max, plus max_connections %u and %d spare) but RLIMIT_NOFILE is "
			 "%llu: lower pool_max or max_connections, or raise LimitNOFILE=",
			 (unsigned long long)need, FDS_PER_VM, hd->cfg->max_connections, FDS_SPARE,
			 (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

static int read_functions(struct hpd_module *m, struct hp_error *err)
{
	struct hp_vm *vm;
	if (hp_pool_get(m->pool, &vm, err))
		return -1;
	uint32_t n = hp_vm_function_count(vm);
	m->functions = calloc((size_t)n + 1, sizeof(char *));
	int rc = m->functions ? 0 : hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		if (!(m->functions[i] = strdup(hp_vm_function_name(vm, i))))
			rc = hp_fail(err, HP_E_NO_MEMORY, "out of memory");
		else
			m->nfunctions++;
	}
	hp_pool_put(m->pool, vm);
	return rc;
}

static int load_one(struct hpd *hd, struct hpd_module *m, const struct hpd_module_cfg *cfg,
		    char *err, size_t errlen)
{
	struct hp_error e;
	uint64_t t0 = hpd_now_ns();
	m->cfg = cfg;
	m->name = cfg->name;
	pthread_mutex_init(&m->stats_lock, NULL);
	if (hp_module_open(hd->kvm, cfg->path, &cfg->vm, &m->mod, &e) ||
	    hp_pool_create(m->mod, cfg->pool_min, cfg->pool_max, guest_log, m, &m->pool, &e) ||
	    read_functions(m, &e)) {
		snprintf(err, errlen, "%s: module %s (%s): %s: %s", cfg->where, cfg->name, cfg->path,
			 hp_status_name(e.code), e.message);
		return -1;
	}
	struct hp_module_info info;
	hp_module_info(m->mod, &info);
	m->input_size = info.input_size;
	hpd_log(HPD_LOG_INFO, "module %s: %u functions, %u VMs ready (max %u), restore %s, %.1f ms",
		m->name, m->nfunctions, cfg->pool_min, cfg->pool_max,
		hp_restore_strategy_name(hp_module_restore_strategy(m->mod)),
		(double)(hpd_now_ns() - t0) / 1e6);
	return 0;
}

int hpd_modules_load(struct hpd *hd, char *err, size_t errlen)
{
	if (check_fd_budget(hd, err, errlen))
		return -1;
	hd->modules = calloc(hd->cfg->nmodules ? hd->cfg->nmodules : 1, sizeof(*hd->modules));
	if (!hd->modules) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	uint64_t biggest = 0;
	for (unsigned i = 0; i < hd->cfg->nmodules; i++) {
		hd->nmodules++;
		if (load_one(hd, &hd->modules[i], &hd->cfg->modules[i], err, errlen))
			return -1;
		if (hd->modules[i].input_size > biggest)
			biggest = hd->modules[i].input_size;
	}
	hd->max_frame = hd->cfg->max_frame ? hd->cfg->max_frame
					   : (biggest ? biggest : HP_DEFAULT_INPUT_SIZE) + HP_RPC_FRAME_OVERHEAD;
	return 0;
}

void hpd_modules_free(struct hpd *hd)
{
	for (unsigned i = 0; i < hd->nmodules; i++) {
		struct hpd_module *m = &hd->modules[i];
		hp_pool_destroy(m->pool);
		hp_module_close(m->mod);
		for (unsigned f = 0; m->functions && f < m->nfunctions; f++)
			free(m->functions[f]);
		free(m->functions);
		pthread_mutex_destroy(&m->stats_lock);
	}
	free(hd->modules);
	hd->modules = NULL;
	hd->nmodules = 0;
}

struct hpd_module *hpd_module_find(struct hpd *hd, const uint8_t *name, size_t len)
{
	for (unsigned i = 0; i < hd->nmodules; i++)
		if (strlen(hd->modules[i].name) == len && !memcmp(hd->modules[i].name, name, len))
			return &hd->modules[i];
	return NULL;
}

/* Four buckets per doubling of microseconds: bucket 0 is under 1 us. */
static unsigned latency_bucket(uint64_t ns)
{
	double us = (double)ns / 1e3;
	if (us < 1)
		return 0;
	unsigned b = 1 + (unsigned)(4 * log2(us));
	return b < HPD_LATENCY_BUCKETS ? b : HPD_LATENCY_BUCKETS - 1;
}

void hpd_module_count(struct hpd_module *m, int status, uint64_t latency_ns)
{
	pthread_mutex_lock(&m->stats_lock);
	m->calls++;
	if (status != HP_OK)
		m->errors++;
	m->by_status[status >= 0 && status < HPD_STATUS_SLOTS ? status : HPD_STATUS_SLOTS - 1]++;
	m->latency[latency_bucket(latency_ns)]++;
	pthread_mutex_unlock(&m->stats_lock);
}

double hpd_module_percentile(const struct hpd_module *m, double p)
{
	uint64_t total = 0, seen = 0;
	for (unsigned b = 0; b < HPD_LATENCY_BUCKETS; b++)
		total += m->latency[b];
	if (!total)
		return 0;
	uint64_t want = (uint64_t)ceil(p * (double)total);
	for (unsigned b = 0; b < HPD_LATENCY_BUCKETS; b++) {
		seen += m->latency[b];
		if (seen >= want && m->latency[b])
			return b == 0 ? 0.5 : exp2(((double)b - 0.5) / 4); /* the bucket's middle */
	}
	return 0;
}
