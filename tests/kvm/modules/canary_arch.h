/* canary_arch.h - what the canary module's generic part (canary.c) and its arch part
 * (canary_<arch>.c: the register probes, and the fault of scribble_fault) share. */
#ifndef HP_KVMTEST_CANARY_ARCH_H
#define HP_KVMTEST_CANARY_ARCH_H

#include <hyperpool/guest.h>
#include <stddef.h>
#include <stdint.h>

struct canary_fn {
	const char *name;
	hp_function fn;
};

extern const struct canary_fn canary_arch_fns[];
extern const size_t canary_arch_count;
/* Once at init: what the arch part needs to know of the CPU. */
void canary_arch_init(void);
/* Loads c into every register the arch's probes check, then faults; does not return. */
void canary_arch_scribble_fault(uint64_t c);

#endif
