/* pool.c - ready VMs of one module, cloned from its snapshot, restored when put back.
 *
 * No event loop here (the daemon brings libuv): a mutex-protected stack of idle VMs. VM
 * creation and restore run outside the lock, so one slow clone does not stall other threads. */
#include <stdlib.h>

#include "vm_internal.h"

struct hp_pool {
	struct hp_module *mod;
	hp_log_fn log;
	void *log_ctx;
	pthread_mutex_t lock;
	struct hp_vm **idle; /* capacity max */
	unsigned nidle, busy, creating, max;
	uint64_t created, destroyed, restore_failures;
};

static int new_vm(struct hp_pool *pool, struct hp_vm **vm, struct hp_error *err)
{
	int rc = hp_vm_create(pool->mod, pool->log, pool->log_ctx, vm, err);
	pthread_mutex_lock(&pool->lock);
	pool->creating--;
	if (rc == 0)
		pool->created++;
	pthread_mutex_unlock(&pool->lock);
	return rc;
}

static void push_idle(struct hp_pool *pool, struct hp_vm *vm)
{
	pthread_mutex_lock(&pool->lock);
	pool->idle[pool->nidle++] = vm;
	pthread_mutex_unlock(&pool->lock);
}

int hp_pool_create(struct hp_module *mod, unsigned initial, unsigned max, hp_log_fn log,
		   void *log_ctx, struct hp_pool **out, struct hp_error *err)
{
	if (max == 0 || initial > max)
		return hp_fail(err, HP_E_INVALID, "pool sizes: need 0 <= initial (%u) <= max (%u), max > 0",
			       initial, max);
	if (hp_module_snapshot(mod, log, log_ctx, err))
		return -1;
	struct hp_pool *pool = calloc(1, sizeof(*pool));
	if (!pool || !(pool->idle = calloc(max, sizeof(struct hp_vm *)))) {
		free(pool);
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	}
	pool->mod = mod;
	pool->log = log;
	pool->log_ctx = log_ctx;
	pool->max = max;
	pthread_mutex_init(&pool->lock, NULL);
	if (hp_pool_resize(pool, initial, err)) {
		hp_pool_destroy(pool);
		return -1;
	}
	*out = pool;
	return 0;
}

void hp_pool_destroy(struct hp_pool *pool)
{
	if (!pool)
		return;
	for (unsigned i = 0; i < pool->nidle; i++)
		hp_vm_destroy(pool->idle[i]);
	pthread_mutex_destroy(&pool->lock);
	free(pool->idle);
	free(pool);
}

int hp_pool_get(struct hp_pool *pool, struct hp_vm **vm, struct hp_error *err)
{
	pthread_mutex_lock(&pool->lock);
	if (pool->nidle) {
		*vm = pool->idle[--pool->nidle];
		pool->busy++;
		pthread_mutex_unlock(&pool->lock);
		return 0;
	}
	if (pool->busy + pool->creating >= pool->max) {
		unsigned max = pool->max;
		pthread_mutex_unlock(&pool->lock);
		return hp_fail(err, HP_E_LIMIT, "all %u VMs of the pool are busy", max);
	}
	pool->creating++;
	pthread_mutex_unlock(&pool->lock);
	if (new_vm(pool, vm, err))
		return -1;
	pthread_mutex_lock(&pool->lock);
	pool->busy++;
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

void hp_pool_put(struct hp_pool *pool, struct hp_vm *vm)
{
	struct hp_error err;
	hp_vm_set_log(vm, pool->log, pool->log_ctx);
	hp_vm_set_host(vm, NULL, NULL); /* the next user brings its own */
	bool ok = hp_vm_restore(vm, &err) == 0;
	if (!ok)
		hp_vm_destroy(vm);
	pthread_mutex_lock(&pool->lock);
	pool->busy--;
	if (ok) {
		pool->idle[pool->nidle++] = vm;
	} else {
		pool->restore_failures++;
		pool->destroyed++;
	}
	pthread_mutex_unlock(&pool->lock);
}

/* Called with the lock held and pool->creating already counted: creates one VM outside the
 * lock and pushes it idle. Returns with the lock released. */
static int grow_one(struct hp_pool *pool, struct hp_error *err)
{
	pthread_mutex_unlock(&pool->lock);
	struct hp_vm *vm;
	if (new_vm(pool, &vm, err))
		return -1;
	push_idle(pool, vm);
	return 0;
}

int hp_pool_fill(struct hp_pool *pool, unsigned total, struct hp_error *err)
{
	for (;;) {
		pthread_mutex_lock(&pool->lock);
		unsigned have = pool->nidle + pool->creating + pool->busy;
		if (have >= total || have >= pool->max) {
			pthread_mutex_unlock(&pool->lock);
			return 0;
		}
		pool->creating++;
		if (grow_one(pool, err))
			return -1;
	}
}

int hp_pool_resize(struct hp_pool *pool, unsigned idle, struct hp_error *err)
{
	for (;;) {
		pthread_mutex_lock(&pool->lock);
		unsigned have = pool->nidle + pool->creating, total = have + pool->busy;
		if (have < idle && total < pool->max) {
			pool->creating++;
			if (grow_one(pool, err))
				return -1;
			continue;
		}
		if (pool->nidle > idle) {
			struct hp_vm *vm = pool->idle[--pool->nidle];
			pool->destroyed++;
			pthread_mutex_unlock(&pool->lock);
			hp_vm_destroy(vm);
			continue;
		}
		pthread_mutex_unlock(&pool->lock);
		return 0;
	}
}

int hp_pool_stats(struct hp_pool *pool, struct hp_pool_stats *st, struct hp_error *err)
{
	(void)err;
	pthread_mutex_lock(&pool->lock);
	*st = (struct hp_pool_stats){
		.idle = pool->nidle, .busy = pool->busy, .max = pool->max,
		.created = pool->created, .destroyed = pool->destroyed,
		.restore_failures = pool->restore_failures,
		.snapshot_bytes = hp_module_snapshot_bytes(pool->mod),
	};
	for (unsigned i = 0; i < pool->nidle; i++)
		st->idle_private_bytes += hp_restore_private_pages(pool->idle[i]) * HP_PAGE_SIZE;
	pthread_mutex_unlock(&pool->lock);
	return 0;
}
