/* strategy.c - which restore strategy a module's clones use: their names, and the measurement
 * at module load that picks the cheapest on this host (above vm.c: it creates clones and calls
 * them; module.c calls it once, after the snapshot exists). */
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

static const char *const strategy_names[HP_RESTORE_STRATEGIES] = {
	[HP_RESTORE_AUTO] = "auto",
	[HP_RESTORE_DIRTYLOG_MEMCPY] = "dirtylog-memcpy",
	[HP_RESTORE_DIRTYLOG_MADVISE] = "dirtylog-madvise",
	[HP_RESTORE_PAGEMAP_MEMCPY] = "pagemap-memcpy",
	[HP_RESTORE_PAGEMAP_MADVISE] = "pagemap-madvise",
};

const char *hp_restore_strategy_name(int strategy)
{
	return strategy >= 0 && strategy < HP_RESTORE_STRATEGIES ? strategy_names[strategy] : "unknown";
}

int hp_restore_strategy_parse(const char *name)
{
	for (int i = 0; i < HP_RESTORE_STRATEGIES; i++)
		if (!strcmp(name, strategy_names[i]))
			return i;
	return -1;
}

/* --- choosing a strategy at module load ----------------------------------------------------- */

#define MEASURE_PAGES 16
#define MEASURE_WARMUP 2
#define MEASURE_ROUNDS 7

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One call that dirties MEASURE_PAGES heap pages, then the restore: what a call costs the
 * host with this strategy, including what the restore makes the next call pay (refaults,
 * write-protect faults). */
static int touch_and_restore(struct hp_vm *vm, struct hp_error *err)
{
	static const uint8_t args[] = { 0x91, MEASURE_PAGES }; /* [16] */
	struct hp_call_result res;
	if (hp_vm_call(vm, HP_TOUCH_FUNCTION, sizeof(HP_TOUCH_FUNCTION) - 1, args, sizeof(args),
		       &res, err))
		return -1;
	if (res.status != HP_OK || res.output_len != 1 || res.output[0] != MEASURE_PAGES)
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "the runtime's " HP_TOUCH_FUNCTION
			       " gave a wrong answer (status %d)", res.status);
	return hp_vm_restore(vm, err);
}

static int measure_one(struct hp_module *mod, int strategy, hp_log_fn log, void *log_ctx,
		       struct hp_restore_measurement *m, struct hp_error *err)
{
	struct hp_vm *vm;
	double t[MEASURE_ROUNDS];
	m->measured = true;
	if (hp_vm_create_clone(mod, strategy, log, log_ctx, &vm, err))
		return -1;
	int rc = 0;
	for (int i = 0; i < MEASURE_WARMUP + MEASURE_ROUNDS && rc == 0; i++) {
		uint64_t t0 = hp_now_ns();
		rc = touch_and_restore(vm, err);
		if (i >= MEASURE_WARMUP)
			t[i - MEASURE_WARMUP] = (double)(hp_now_ns() - t0) / 1e3;
	}
	hp_vm_destroy(vm);
	if (rc)
		return -1;
	qsort(t, MEASURE_ROUNDS, sizeof(double), cmp_double);
	m->usable = true;
	m->call_us = t[MEASURE_ROUNDS / 2];
	return 0;
}

int hp_restore_measure(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_error *err)
{
	int best = -1;
	struct hp_error first = { 0 };
	for (int s = HP_RESTORE_AUTO + 1; s < HP_RESTORE_STRATEGIES; s++) {
		struct hp_restore_measurement *m = &mod->measured[s];
		struct hp_error e;
		if (measure_one(mod, s, log, log_ctx, m, &e)) {
			if (!first.code)
				first = e;
			continue;
		}
		if (best < 0 || m->call_us < mod->measured[best].call_us)
			best = s;
	}
	if (best < 0) {
		if (err)
			*err = first;
		return -1;
	}
	mod->restore = best;
	return 0;
}
