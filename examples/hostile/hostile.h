/* hostile.h - what the generic part of the hostile module (hostile.c) and its arch part
 * (hostile_<arch>.c: the misdeeds only one CPU has) share. */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <hyperpool/guest.h>
#include <stddef.h>
#include <stdint.h>

#include "hp_abi.h"

#define CB ((volatile struct hp_call_block *)HP_GPA_CONTROL)
#define HC ((uintptr_t)HP_GPA_HYPERCALL)

struct hostile_fn {
	const char *name;
	hp_function fn;
};

/* hostile_<arch>.c: a hypercall made without the runtime (a plain 32-bit store to HC), and
 * the arch's own misdeeds, registered after the generic ones. */
void raw_hypercall(uint32_t nr);
extern const struct hostile_fn hostile_arch_fns[];
extern const size_t hostile_arch_count;

#endif
