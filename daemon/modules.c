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
#include "wire.h"

#define FDS_PER_VM 2      /* the VM and its vCPU (the memfd is closed once mapped) */
#define FDS_SPARE 64      /* listeners, pagemap, stdio, libuv's own */
#define SLOW_VMS 1000     /* VMs in one process past which creating more gets slow */

/* Guest output (printf) of a module's calls goes to the daemon's log at debug level. */
static void guest_log(void *ctx, int stream, const char *bytes, size_t len)
{
	struct hpd_module *m = ctx;
	if (!hpd_log_enabled(HPD_LOG_DEBUG))
		return;
	hpd_log(HPD_LOG_DEBUG, "module %s: %s: %.*s", m->name, stream == HP_LOG_STDERR ? "stderr" : "stdout",
		(int)(len > 900 ? 900 : len), bytes);
}

/* The file descriptors a module costs this process: 2 per VM of its pool, or with
 * isolation = process one socket per worker process (the VMs' fds are the workers'). */
static uint64_t module_fds(const struct hpd_module_cfg *m)
{
	return m->isolate ? m->procs : (uint64_t)m->pool_max * FDS_PER_VM;
}

/* The soft RLIMIT_NOFILE is raised to the hard one; a configuration whose pools and
 * connections cannot fit is refused before any VM exists. `extra_fds` counts modules outside
 * cfg (kept ones during a reload are in cfg too). */
static int check_fd_budget(struct hpd *hd, const struct hpd_config *cfg, uint64_t extra_fds,
			   char *err, size_t errlen)
{
	uint64_t fds = extra_fds;
	for (unsigned i = 0; i < cfg->nmodules; i++)
		fds += module_fds(&cfg->modules[i]);
	uint64_t vms = fds / FDS_PER_VM; /* at most: the VMs in this one process */
	uint64_t need = FDS_SPARE + hd->cfg->max_connections + fds;
	/* measured (docs/benchmarks.md): a clone's first call + restore takes 0.97 ms alone, 1.76 ms
	 * with 1,000 VMs in the process and 49 ms with 10,000 (KVM's MMU notifiers) */
	if (vms > SLOW_VMS)
		hpd_log(HPD_LOG_WARNING, "the pools may hold %llu VMs in this one process: creating VMs "
			"slows down past ~%d (docs/daemon.md); consider smaller pool_max",
			(unsigned long long)vms, SLOW_VMS);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
		snprintf(err, errlen, "the configuration needs up to %llu file descriptors (%d per VM "
			 "of every pool_max in this process, 1 per worker process, plus max_connections %u and "
			 "%d spare) but RLIMIT_NOFILE is "
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

static void module_free(struct hpd_module *m)
{
	hpd_procs_stop(m->procs);
	if (m->pool)
		hp_pool_destroy(m->pool);
	if (m->mod)
		hp_module_close(m->mod);
	for (unsigned f = 0; m->functions && f < m->nfunctions; f++)
		free(m->functions[f]);
	free(m->functions);
	pthread_mutex_destroy(&m->stats_lock);
	hpd_module_cfg_clear(&m->own_cfg);
	free(m);
}

int hpd_module_set_info(struct hpd_module *m, const struct hpd_wire_ready *r, const char *names,
			size_t len, char *err, size_t errlen)
{
	m->info = r->info;
	m->restore = r->restore;
	if (r->nfunctions > 65536 || !(m->functions = calloc((size_t)r->nfunctions + 1, sizeof(char *)))) {
		snprintf(err, errlen, "bad function list from the worker process");
		return -1;
	}
	const char *p = names, *end = names + len;
	for (uint32_t i = 0; i < r->nfunctions; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		if (!nul || nul == p || !(m->functions[i] = strdup(p))) {
			snprintf(err, errlen, "bad function list from the worker process");
			return -1;
		}
		m->nfunctions++;
		p = nul + 1;
	}
	return 0;
}

void hpd_module_pool_stats(struct hpd_module *m, struct hp_pool_stats *st, unsigned *alive,
			   uint64_t *restarts)
{
	struct hp_error err;
	*alive = 0;
	*restarts = 0;
	if (m->procs) {
		hpd_procs_stats(m, st, alive, restarts);
		return;
	}
	memset(st, 0, sizeof(*st));
	hp_pool_stats(m->pool, st, &err);
}

void hpd_module_ref(struct hpd_module *m)
{
	atomic_fetch_add(&m->refs, 1);
}

void hpd_module_unref(struct hpd_module *m)
{
	if (atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	hpd_log(HPD_LOG_INFO, "module %s: unloaded", m->name);
	module_free(m);
}

/* Opens, snapshots and warms one module (not listed yet: one reference, the caller's). */
static struct hpd_module *module_new(struct hpd *hd, const struct hpd_module_cfg *cfg, char *err,
				     size_t errlen)
{
	struct hpd_module *m = calloc(1, sizeof(*m));
	if (!m || hpd_module_cfg_copy(&m->own_cfg, cfg)) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	atomic_init(&m->refs, 1);
	m->cfg = &m->own_cfg;
	m->name = m->own_cfg.name;
	pthread_mutex_init(&m->stats_lock, NULL);
	struct hp_error e;
	uint64_t t0 = hpd_now_ns();
	if (stat(cfg->path, &m->elf) < 0) {
		snprintf(err, errlen, "%s: module %s: %s: %s", cfg->where, cfg->name, cfg->path,
			 strerror(errno));
		module_free(m);
		return NULL;
	}
	if (cfg->isolate) {
		char why[768];
		if (hpd_procs_start(m, why, sizeof(why))) {
			snprintf(err, errlen, "%s: module %s (%s): %s", cfg->where, cfg->name, cfg->path, why);
			module_free(m);
			return NULL;
		}
	} else if (hp_module_open(hd->kvm, cfg->path, &cfg->vm, &m->mod, &e) ||
		   hp_pool_create(m->mod, cfg->pool_min, cfg->pool_max, guest_log, m, &m->pool, &e) ||
		   read_functions(m, &e)) {
		snprintf(err, errlen, "%s: module %s (%s): %s: %s", cfg->where, cfg->name, cfg->path,
			 hp_status_name(e.code), e.message);
		module_free(m);
		return NULL;
	} else {
		hp_module_info(m->mod, &m->info);
		m->restore = hp_module_restore_strategy(m->mod);
	}
	m->input_size = m->info.input_size;
	hpd_log(HPD_LOG_INFO, "module %s: %u functions, %u VMs ready (max %u), restore %s, %s, %.1f ms",
		m->name, m->nfunctions, cfg->pool_min, cfg->pool_max,
		hp_restore_strategy_name(m->restore),
		cfg->isolate ? "in worker processes" : "in this process",
		(double)(hpd_now_ns() - t0) / 1e6);
	return m;
}

/* The frame limit follows the largest module input unless the config sets it. */
static void update_frame_limit(struct hpd *hd)
{
	uint64_t biggest = 0;
	for (unsigned i = 0; i < hd->nmodules; i++)
		if (hd->modules[i]->input_size > biggest)
			biggest = hd->modules[i]->input_size;
	hd->max_frame = hd->cfg->max_frame ? hd->cfg->max_frame
					   : (biggest ? biggest : HP_DEFAULT_INPUT_SIZE) + HP_RPC_FRAME_OVERHEAD;
}

int hpd_modules_load(struct hpd *hd, char *err, size_t errlen)
{
	if (check_fd_budget(hd, hd->cfg, 0, err, errlen))
		return -1;
	hd->modules = calloc(HPD_MAX_MODULES, sizeof(*hd->modules));
	if (!hd->modules) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < hd->cfg->nmodules; i++) {
		struct hpd_module *m = module_new(hd, &hd->cfg->modules[i], err, errlen);
		if (!m)
			return -1;
		hd->modules[hd->nmodules++] = m;
	}
	update_frame_limit(hd);
	return 0;
}

void hpd_modules_free(struct hpd *hd)
{
	for (unsigned i = 0; i < hd->nmodules; i++)
		hpd_module_unref(hd->modules[i]);
	free(hd->modules);
	hd->modules = NULL;
	hd->nmodules = 0;
}

struct hpd_module *hpd_module_find(struct hpd *hd, const uint8_t *name, size_t len)
{
	for (unsigned i = 0; i < hd->nmodules; i++)
		if (strlen(hd->modules[i]->name) == len && !memcmp(hd->modules[i]->name, name, len))
			return hd->modules[i];
	return NULL;
}

/* Unlisted: no new calls reach it; its queued and running calls finish, then it goes. */
static void retire(struct hpd_module *m)
{
	m->draining = true;
	hpd_module_unref(m);
}

int hpd_module_add(struct hpd *hd, const struct hpd_module_cfg *cfg, char *err, size_t errlen)
{
	if (hpd_module_find(hd, (const uint8_t *)cfg->name, strlen(cfg->name))) {
		snprintf(err, errlen, "a module named '%s' is already loaded", cfg->name);
		return -1;
	}
	if (hd->nmodules >= HPD_MAX_MODULES) {
		snprintf(err, errlen, "%d modules are loaded, the limit", HPD_MAX_MODULES);
		return -1;
	}
	struct hpd_config one = { .modules = (struct hpd_module_cfg *)cfg, .nmodules = 1 };
	uint64_t fds = 0;
	for (unsigned i = 0; i < hd->nmodules; i++)
		fds += module_fds(hd->modules[i]->cfg);
	if (check_fd_budget(hd, &one, fds, err, errlen))
		return -1;
	struct hpd_module *m = module_new(hd, cfg, err, errlen);
	if (!m)
		return -1;
	hd->modules[hd->nmodules++] = m;
	update_frame_limit(hd);
	return 0;
}

int hpd_module_remove(struct hpd *hd, const char *name, char *err, size_t errlen)
{
	for (unsigned i = 0; i < hd->nmodules; i++) {
		struct hpd_module *m = hd->modules[i];
		if (strcmp(m->name, name))
			continue;
		memmove(&hd->modules[i], &hd->modules[i + 1],
			(hd->nmodules - i - 1) * sizeof(*hd->modules));
		hd->nmodules--;
		hpd_log(HPD_LOG_NOTICE, "module %s: unloading (its calls finish first)", name);
		retire(m);
		update_frame_limit(hd);
		return 0;
	}
	snprintf(err, errlen, "no module named '%s'", name);
	return -1;
}

static void append_name(char *list, size_t size, const char *name)
{
	size_t n = strlen(list);
	snprintf(list + n, size - n, "%s%s", n ? ", " : "", name);
}

/* An unchanged module (same configuration, same ELF file) is kept as it is. */
static struct hpd_module *unchanged(struct hpd *hd, const struct hpd_module_cfg *cfg)
{
	struct hpd_module *m = hpd_module_find(hd, (const uint8_t *)cfg->name, strlen(cfg->name));
	struct stat st;
	if (!m || !hpd_module_cfg_equal(m->cfg, cfg) || stat(cfg->path, &st) < 0)
		return NULL;
	if (st.st_dev != m->elf.st_dev || st.st_ino != m->elf.st_ino || st.st_size != m->elf.st_size ||
	    st.st_mtim.tv_sec != m->elf.st_mtim.tv_sec || st.st_mtim.tv_nsec != m->elf.st_mtim.tv_nsec)
		return NULL;
	return m;
}

int hpd_reload(struct hpd *hd, struct hpd_reload_result *res, char *err, size_t errlen)
{
	struct hpd_config *cfg;
	memset(res, 0, sizeof(*res));
	if (hpd_config_load(hd->config_path, hd->conf_dir, &cfg, err, errlen))
		return -1;
	struct hpd_module **next = calloc(HPD_MAX_MODULES, sizeof(*next));
	unsigned n = 0;
	int rc = next ? check_fd_budget(hd, cfg, 0, err, errlen) : -1;
	if (!next)
		snprintf(err, errlen, "out of memory");
	for (unsigned i = 0; rc == 0 && i < cfg->nmodules; i++) {
		struct hpd_module *m = unchanged(hd, &cfg->modules[i]);
		if (m) {
			hpd_module_ref(m);
			append_name(res->kept, sizeof(res->kept), m->name);
		} else if ((m = module_new(hd, &cfg->modules[i], err, errlen))) {
			append_name(res->loaded, sizeof(res->loaded), m->name);
		} else {
			rc = -1;
			break;
		}
		next[n++] = m;
	}
	if (rc) { /* all or none: the old modules keep serving */
		for (unsigned i = 0; i < n; i++)
			hpd_module_unref(next[i]);
		free(next);
		hpd_config_free(cfg);
		return -1;
	}
	for (unsigned i = 0; i < hd->nmodules; i++) {
		struct hpd_module *old = hd->modules[i];
		bool kept = false;
		for (unsigned j = 0; j < n && !kept; j++)
			kept = next[j] == old;
		if (kept) {
			hpd_module_unref(old); /* the old listing's reference; the new one holds its own */
			continue;
		}
		append_name(res->unloaded, sizeof(res->unloaded), old->name);
		hpd_log(HPD_LOG_NOTICE, "module %s: unloading (its calls finish first)", old->name);
		retire(old);
	}
	free(hd->modules);
	hd->modules = next;
	hd->nmodules = n;
	update_frame_limit(hd);
	hpd_config_free(cfg); /* [daemon] settings apply at the next start only */
	return 0;
}

int hpd_daemon_reload(struct hpd *hd, struct hpd_reload_result *res, char *err, size_t errlen)
{
	if (hd->shutting_down) {
		snprintf(err, errlen, "the daemon is shutting down");
		return -1;
	}
	hpd_notify_reloading();
	int rc = hpd_reload(hd, res, err, errlen);
	if (rc)
		hpd_log(HPD_LOG_ERR, "reload refused, the running configuration stays: %s", err);
	else
		hpd_log(HPD_LOG_NOTICE, "reloaded %s: loaded [%s], unloaded [%s], kept [%s]",
			hd->config_path, res->loaded, res->unloaded, res->kept);
	hpd_notify_ready(hd);
	return rc;
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
