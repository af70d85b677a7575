/* registry.c - functions registered by name at init, found by binary search at call time. */
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"

struct entry {
	const char *name;
	size_t len;
	hp_function fn;
};

static struct entry *entries;
static size_t count, capacity;
static bool sealed;

static int compare(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int entry_cmp(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;
	return compare(a->name, a->len, b->name, b->len);
}

static struct entry *lookup(const char *name, size_t len)
{
	size_t lo = 0, hi = count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = compare(name, len, entries[mid].name, entries[mid].len);
		if (c == 0)
			return &entries[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int hp_register(const char *name, hp_function fn)
{
	if (name && !strncmp(name, HP_RESERVED_PREFIX, sizeof(HP_RESERVED_PREFIX) - 1))
		return -1;
	return hp_registry_add(name, fn);
}

int hp_registry_add(const char *name, hp_function fn)
{
	size_t len = name ? strnlen(name, HP_FUNCTION_NAME_MAX) : 0;
	if (sealed || !fn || len == 0 || len >= HP_FUNCTION_NAME_MAX || count >= HP_FUNCTIONS_MAX)
		return -1;
	for (size_t i = 0; i < count; i++) /* init-time only: linear is fine */
		if (compare(name, len, entries[i].name, entries[i].len) == 0)
			return -1;
	if (count == capacity) {
		size_t ncap = capacity ? capacity * 2 : 32;
		struct entry *n = realloc(entries, ncap * sizeof(*n));
		if (!n)
			return -1;
		entries = n;
		capacity = ncap;
	}
	char *copy = malloc(len); /* the caller's buffer need not outlive init */
	if (!copy)
		return -1;
	memcpy(copy, name, len);
	entries[count++] = (struct entry){ .name = copy, .len = len, .fn = fn };
	return 0;
}

void hp_registry_seal(void)
{
	if (count)
		qsort(entries, count, sizeof(*entries), entry_cmp);
	sealed = true;
}

hp_function hp_registry_find(const char *name, size_t len)
{
	struct entry *e = lookup(name, len);
	return e ? e->fn : NULL;
}

int hp_registry_pack_names(msgpack_packer *pk)
{
	if (msgpack_pack_array(pk, count) < 0)
		return -1;
	for (size_t i = 0; i < count; i++)
		if (msgpack_pack_str_with_body(pk, entries[i].name, entries[i].len) < 0)
			return -1;
	return 0;
}
