/* heap.c - the heap region of the layout, handed to picolibc's malloc through sbrk(). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime_internal.h"

static uintptr_t heap_cur, heap_end;

void hp_heap_init(uintptr_t start, size_t size)
{
	heap_cur = start;
	heap_end = start + size;
}

void *sbrk(ptrdiff_t incr)
{
	uintptr_t old = heap_cur;
	if (incr < 0 ? (uintptr_t)-incr > heap_cur : (uintptr_t)incr > heap_end - heap_cur) {
		errno = ENOMEM;
		return (void *)-1;
	}
	heap_cur += (uintptr_t)incr;
	return (void *)old;
}
