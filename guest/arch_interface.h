/* arch_interface.h - what an architecture backend provides to the generic guest runtime.
 *
 * The generic runtime (the .c files in guest/, and guest/include/) is the same on every arch:
 * it has no arch names and no assembly. Everything that differs lives behind this interface,
 * in guest/arch/<arch>/ and proto/arch/<arch>/hp_abi_arch.h. A backend for <arch> provides
 * these files, with these names (guest/meson.build and scripts/bootstrap use them):
 *
 *   guest/arch/<arch>/arch_guest.h   the inline functions declared below (C only)
 *   guest/arch/<arch>/start.S        _start and hp_dispatch_entry, below (part of libhpguest)
 *   guest/arch/<arch>/module.ld      the linker script of every module: ENTRY(_start), image at
 *                                    HP_GPA_IMAGE, .text.hp_start first, page-aligned PT_LOAD
 *                                    segments text RX / rodata R / data+bss RW (the host maps
 *                                    each page with its segment's rights and refuses W+X), and
 *                                    the constructor array symbols below
 *   guest/arch/<arch>/core.S         the privileged core (CPL0 / EL1): only the host enters it,
 *                                    never the generic runtime; assembled without libc and
 *                                    embedded into libhpvmm as hp_core_<arch> (scripts/bin2c.py)
 *   guest/arch/<arch>/core.ld        links the core as a flat binary at HP_GPA_CORE_TEXT
 *   guest/flags/<arch>.txt           code generation flags for picolibc and all guest code
 *   proto/arch/<arch>/hp_abi_arch.h  the arch's ABI values shared with the host: the HP_CPU_*
 *                                    bits of the call block's cpu_flags, the core's header, how
 *                                    the core reports a fault (HP_HC_FAULT)
 *
 * Only the generic runtime includes this header (through runtime_internal.h); modules see
 * hyperpool/guest.h alone.
 */
#ifndef HP_GUEST_ARCH_INTERFACE_H
#define HP_GUEST_ARCH_INTERFACE_H

#include <stdint.h>

/* --- arch_guest.h: static inline, defined there with exactly these signatures (a different
 *     one is an error, "conflicting types"; a missing one a warning, "declared 'static' but
 *     never defined", and then an undefined symbol at link time) --- */

/* Makes hypercall `nr` (HP_HC_*) from module code: a 32-bit store of nr at HP_GPA_HYPERCALL
 * that exits to the host. Every write made before it (call block, log buffer, output buffer)
 * is visible to the host when it exits (at least a compiler memory barrier). Returns when the
 * host resumes the vCPU, as it does after HP_HC_LOG (after INIT_DONE, CALL_DONE and ABORT it
 * does not). */
static inline void hp_arch_hypercall(uint32_t nr);

/* Never returns, at module privilege; reached only after a hypercall that ends the call or
 * init, i.e. only if the host resumed a finished call, which it must not. */
static inline _Noreturn void hp_arch_halt(void);

/* --- start.S --- */

/* The module's ELF entry, entered once (through the core) at module privilege with the stack
 * pointer at the stack top: does the arch's one-time setup, aligns the stack as the C ABI
 * requires and calls hp_runtime_init(), which does not return. */
void _start(void);

/* The entry of every call after init (hp_runtime_init reports it in the call block's
 * dispatch_entry): the host sets the program counter here, the stack pointer to the stack top
 * and the general registers to zero. It puts the FP/SIMD registers in their initial state (the
 * call block's arch-defined cpu_flags say what the CPU allows), aligns the stack and calls
 * hp_runtime_dispatch(), which does not return. */
void hp_dispatch_entry(void);

/* --- the generic runtime, called by start.S (runtime.c); neither returns --- */
void hp_runtime_init(void);
void hp_runtime_dispatch(void);

/* --- module.ld: the constructor arrays hp_runtime_init runs, preinit first, in order --- */
extern void (*__preinit_array_start[])(void);
extern void (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

#include "arch_guest.h" /* from guest/arch/<arch>/ (on the include path of guest code) */

#endif
