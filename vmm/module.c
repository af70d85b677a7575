/* module.c - a guest module: its validated ELF and the layout of its guest memory, and, made
 * on first need, its snapshot and the restore strategy its clones use. The top of libhpvmm
 * below the pool: it calls snapshot.c and strategy.c, which call vm.c (docs/architecture.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_output.h"
#include "arch/arch.h"
#include "vm_internal.h"

#define HP_MODULE_FILE_MAX (64u << 20)

static int read_file(const char *path, uint8_t **data, size_t *size, struct hp_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hp_fail_errno(err, HP_E_INVALID, "cannot open module '%s'", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return hp_fail_errno(err, HP_E_SYSTEM, "cannot stat '%s'", path);
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > HP_MODULE_FILE_MAX) {
		close(fd);
		return hp_fail(err, HP_E_BAD_ELF, "module '%s' is not a regular file of 1 byte to %u MiB",
			       path, HP_MODULE_FILE_MAX >> 20);
	}
	size_t n = (size_t)st.st_size, got = 0;
	uint8_t *buf = malloc(n);
	if (!buf) {
		close(fd);
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory reading '%s'", path);
	}
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			hp_fail_errno(err, HP_E_SYSTEM, "cannot read '%s'", path);
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	*data = buf;
	*size = n;
	return 0;
}

static int module_init(struct hp_module *mod, const struct hp_module_config *cfg,
		       struct hp_error *err)
{
	static const struct hp_module_config defaults;
	const uint8_t *core;
	size_t core_size;
	hp_arch_core_image(&core, &core_size);
	struct hp_elf_rules rules = { .machine = hp_arch_elf_machine(),
				      .region_start = HP_GPA_IMAGE,
				      .region_end = HP_GPA_IMAGE + HP_IMAGE_MAX };
	if (hp_elf_parse(mod->file, mod->file_size, &rules, &mod->img, err)) {
		char msg[HP_ERROR_MSG_MAX];
		memcpy(msg, err->message, sizeof(msg));
		return hp_fail(err, HP_E_BAD_ELF, "%s: %.400s", mod->name, msg);
	}
	if (!cfg)
		cfg = &defaults;
	if (cfg->restore < 0 || cfg->restore >= HP_RESTORE_STRATEGIES)
		return hp_fail(err, HP_E_INVALID, "unknown restore strategy %d", cfg->restore);
	mod->restore_config = cfg->restore;
	if (cfg->timeout_ms > HP_MAX_TIMEOUT_MS)
		return hp_fail(err, HP_E_INVALID, "timeout of %llu ms exceeds %llu ms",
			       (unsigned long long)cfg->timeout_ms, (unsigned long long)HP_MAX_TIMEOUT_MS);
	mod->timeout_ns = (cfg->timeout_ms ? cfg->timeout_ms : HP_DEFAULT_TIMEOUT_MS) * 1000000ull;
	mod->max_log_bytes = cfg->max_log_bytes ? cfg->max_log_bytes : HP_DEFAULT_MAX_LOG_BYTES;
	mod->max_hypercalls = cfg->max_hypercalls ? cfg->max_hypercalls : HP_DEFAULT_MAX_HYPERCALLS;
	mod->max_host_calls = cfg->max_host_calls ? cfg->max_host_calls : HP_DEFAULT_MAX_HOST_CALLS;
	mod->max_host_call_bytes = cfg->max_host_call_bytes ? cfg->max_host_call_bytes
							    : HP_DEFAULT_MAX_HOST_CALL_BYTES;
	if (hp_layout_compute(cfg, core_size, &mod->img, &mod->layout, err))
		return -1;
	mod->nregions = hp_layout_regions(&mod->layout, &mod->img, mod->regions);
	return 0;
}

static int module_new(struct hp_kvm *kvm, const char *name, uint8_t *file, size_t size,
		      const struct hp_module_config *cfg, struct hp_module **out,
		      struct hp_error *err)
{
	struct hp_module *mod = calloc(1, sizeof(*mod));
	char *copy = strdup(name);
	if (!mod || !copy) {
		free(mod);
		free(copy);
		free(file);
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	}
	mod->kvm = kvm;
	mod->name = copy;
	pthread_mutex_init(&mod->lock, NULL);
	pthread_mutex_init(&mod->snap_lock, NULL);
	mod->file = file;
	mod->file_size = size;
	if (module_init(mod, cfg, err)) {
		hp_module_close(mod);
		return -1;
	}
	*out = mod;
	return 0;
}

int hp_module_open(struct hp_kvm *kvm, const char *path, const struct hp_module_config *cfg,
		   struct hp_module **out, struct hp_error *err)
{
	uint8_t *file = NULL;
	size_t size = 0;
	if (read_file(path, &file, &size, err))
		return -1;
	return module_new(kvm, path, file, size, cfg, out, err);
}

int hp_module_open_mem(struct hp_kvm *kvm, const char *name, const void *elf, size_t size,
		       const struct hp_module_config *cfg, struct hp_module **out,
		       struct hp_error *err)
{
	if (size == 0 || size > HP_MODULE_FILE_MAX)
		return hp_fail(err, HP_E_BAD_ELF, "%s: module size %zu is outside 1 byte to %u MiB",
			       name, size, HP_MODULE_FILE_MAX >> 20);
	uint8_t *file = malloc(size);
	if (!file)
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	memcpy(file, elf, size);
	return module_new(kvm, name, file, size, cfg, out, err);
}

void hp_module_close(struct hp_module *mod)
{
	if (!mod)
		return;
	hp_snapshot_free(mod->snap);
	hp_guest_function_list_free(mod->functions);
	pthread_mutex_destroy(&mod->lock);
	pthread_mutex_destroy(&mod->snap_lock);
	free(mod->file);
	free(mod->name);
	free(mod);
}

void hp_module_info(const struct hp_module *mod, struct hp_module_info *info)
{
	const struct hp_layout *l = &mod->layout;
	*info = (struct hp_module_info){
		.input_size = l->input_size, .output_size = l->output_size,
		.heap_size = l->heap_size, .stack_size = l->stack_size, .mem_size = l->mem_size,
		.timeout_ms = mod->timeout_ns / 1000000, .max_log_bytes = mod->max_log_bytes,
		.max_hypercalls = mod->max_hypercalls,
	};
}

/* --- the snapshot and the VMs cloned from it ---------------------------------------------- */

int hp_module_snapshot(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_error *err)
{
	int rc = 0;
	pthread_mutex_lock(&mod->snap_lock);
	if (!mod->snap) {
		rc = hp_snapshot_create(mod, log, log_ctx, err);
		if (rc == 0 && mod->restore_config == HP_RESTORE_AUTO)
			rc = hp_restore_measure(mod, log, log_ctx, err);
		else if (rc == 0)
			mod->restore = mod->restore_config;
		if (rc) {
			hp_snapshot_free(mod->snap);
			mod->snap = NULL;
		}
	}
	pthread_mutex_unlock(&mod->snap_lock);
	return rc;
}

int hp_module_restore_strategy(struct hp_module *mod)
{
	pthread_mutex_lock(&mod->snap_lock);
	int s = mod->restore;
	pthread_mutex_unlock(&mod->snap_lock);
	return s;
}

const struct hp_restore_measurement *hp_module_restore_measurements(struct hp_module *mod)
{
	return mod->measured;
}

uint64_t hp_module_snapshot_bytes(struct hp_module *mod)
{
	return mod->snap ? mod->snap->size : 0;
}

int hp_vm_create_with(struct hp_module *mod, int strategy, hp_log_fn log, void *log_ctx,
		      struct hp_vm **out, struct hp_error *err)
{
	if (strategy < 0 || strategy >= HP_RESTORE_STRATEGIES)
		return hp_fail(err, HP_E_INVALID, "unknown restore strategy %d", strategy);
	if (hp_module_snapshot(mod, log, log_ctx, err))
		return -1;
	if (strategy == HP_RESTORE_AUTO)
		strategy = hp_module_restore_strategy(mod);
	return hp_vm_create_clone(mod, strategy, log, log_ctx, out, err);
}

int hp_vm_create(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_vm **out,
		 struct hp_error *err)
{
	return hp_vm_create_with(mod, HP_RESTORE_AUTO, log, log_ctx, out, err);
}
