/* runtime_internal.h - shared between the files of the guest runtime (not for modules). */
#ifndef HP_GUEST_RUNTIME_INTERNAL_H
#define HP_GUEST_RUNTIME_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "arch_interface.h" /* what each guest/arch/<arch>/ provides */
#include "hp_abi.h"
#include "hp_status.h"
#include "hyperpool/guest.h"

/* The call block the host shares with us, at a fixed address. */
#define HP_CB ((volatile struct hp_call_block *)HP_GPA_CONTROL)

struct hp_out {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int overflow;
	int error; /* hp_error was called: buf holds the message */
	msgpack_packer pk;
};

/* stdio.c */
void hp_log_flush(void);

/* heap.c */
void hp_heap_init(uintptr_t start, size_t size);

/* registry.c */
int hp_registry_add(const char *name, hp_function fn); /* no reserved-prefix check */
hp_function hp_registry_find(const char *name, size_t len);
void hp_registry_seal(void);
int hp_registry_pack_names(msgpack_packer *pk);

#endif
