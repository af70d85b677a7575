/* hp_abi.h - the guest ABI: the contract between libhpvmm (host) and libhpguest (guest).
 *
 * Freestanding: included by the guest runtime (picolibc, no libc headers beyond <stdint.h>)
 * and by the host. Everything here is the same on every architecture; the few arch values
 * (how a hypercall leaves the guest) live in arch/<arch>/hp_abi_arch.h.
 * docs/guest-abi.md explains the why of each choice.
 *
 * Guest physical memory is one contiguous region starting at guest physical 0, identity
 * mapped (guest virtual == guest physical). Regions, low to high:
 *
 *   0x0000_0000  null page                   unmapped: catches null dereferences
 *   0x0000_1000  core text                   supervisor RX  (the CPL0/EL1 core, loaded by the host)
 *   0x0001_0000  core tables                 supervisor R   (GDT, TSS, IDT / vector data)
 *   0x0001_1000  guard                       unmapped
 *   0x0001_2000  core stack                  supervisor RW NX (exception entry runs here)
 *   0x0002_0000  control                     user RW NX     (call block + log buffer)
 *   0x0010_0000  page tables                 not mapped at all (only the MMU walks them)
 *   0x0020_0000  input buffer                user R NX      (request bytes written by the host)
 *   0x0110_0000  output buffer               user RW NX     (result bytes written by the guest)
 *   0x0200_0000  module image                per ELF segment: text RX, rodata R, data RW NX
 *   image end    heap                        user RW NX     (heap_size)
 *   heap end     guard page                  unmapped: stack overflow faults here
 *   + 1 page     stack                       user RW NX     (stack_size), top = end of memory
 *
 *   0x3000_0000  hypercall page              user RW NX, but no memory behind it: a 32-bit store
 *                                            of a hypercall number there exits to the host
 *                                            (KVM_EXIT_MMIO) straight from module code.
 */
#ifndef HP_ABI_H
#define HP_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

#define HP_ABI_VERSION 2 /* 2: host calls */
#define HP_PAGE_SIZE 0x1000ull

/* Fixed guest physical (== virtual) addresses. */
#define HP_GPA_CORE_TEXT   0x00001000ull
#define HP_CORE_TEXT_MAX   (HP_GPA_CORE_TABLES - HP_GPA_CORE_TEXT)
#define HP_GPA_CORE_TABLES 0x00010000ull
#define HP_GPA_CORE_STACK  0x00012000ull
#define HP_CORE_STACK_SIZE 0x00004000ull
#define HP_GPA_CONTROL     0x00020000ull
#define HP_CONTROL_SIZE    0x00004000ull /* page 0: call block; pages 1..3: log buffer */
#define HP_GPA_LOG         (HP_GPA_CONTROL + HP_PAGE_SIZE)
#define HP_LOG_BUF_SIZE    (HP_CONTROL_SIZE - HP_PAGE_SIZE)
#define HP_GPA_PAGE_TABLES 0x00100000ull
#define HP_PAGE_TABLES_MAX 0x00100000ull
#define HP_GPA_INPUT       0x00200000ull
#define HP_INPUT_MAX       0x00f00000ull /* 15 MiB */
#define HP_GPA_OUTPUT      0x01100000ull
#define HP_OUTPUT_MAX      0x00f00000ull /* 15 MiB */
#define HP_GPA_IMAGE       0x02000000ull
#define HP_IMAGE_MAX       0x04000000ull /* 64 MiB of PT_LOAD span */
#define HP_GUEST_MEM_MAX   0x20000000ull /* 512 MiB: what the page-table region can map */
#define HP_GPA_HYPERCALL   0x30000000ull /* outside guest memory, see above */

/* Per-module sizes: defaults and bounds (the host validates a module's request). */
#define HP_DEFAULT_INPUT_SIZE  0x00200000ull /* 2 MiB */
#define HP_DEFAULT_OUTPUT_SIZE 0x00200000ull /* 2 MiB */
#define HP_DEFAULT_HEAP_SIZE   0x01000000ull /* 16 MiB */
#define HP_DEFAULT_STACK_SIZE  0x00100000ull /* 1 MiB */
#define HP_MIN_STACK_SIZE      0x00004000ull
#define HP_MIN_HEAP_SIZE       0x00010000ull

/* Hypercall numbers: the same on every arch. Module code makes a hypercall by storing the number
 * (32 bits) at HP_GPA_HYPERCALL; arguments travel in the call block. Only the privileged core
 * uses the arch's own mechanism (x86_64: an I/O port), for HP_HC_FAULT. */
#define HP_HC_INIT_DONE 1 /* init finished: dispatch_entry set, function names in output */
#define HP_HC_CALL_DONE 2 /* call finished: status, output_len */
#define HP_HC_HOST_CALL 3 /* a call to a host function: [name, args] at host_req_addr */
#define HP_HC_LOG       4 /* log_len bytes of stream log_stream are in the log buffer */
#define HP_HC_ABORT     5 /* abort_len bytes of message are in abort_msg */
#define HP_HC_FAULT     6 /* core only: a CPU exception; details in registers (arch) */

/* The call block's cpu_flags hold arch-defined bits (HP_CPU_* in arch/<arch>/hp_abi_arch.h):
 * what the guest's entry code may use to reset CPU state. Its offset is needed by assembly
 * entry code, hence a literal, checked below. */
#define HP_CB_CPU_FLAGS_OFF 80

/* A function every runtime registers, used by the host to measure restore strategies at module
 * load: __hp_touch(n) writes one byte in each of n distinct heap pages. Module functions may
 * not use the "__hp_" prefix. */
#define HP_TOUCH_FUNCTION "__hp_touch"
#define HP_RESERVED_PREFIX "__hp_"

#define HP_LOG_STDOUT 1
#define HP_LOG_STDERR 2

#define HP_CALL_BLOCK_MAGIC 0x4c4f4f50 /* "POOL" */
#define HP_ABORT_MSG_MAX 1024u
#define HP_FUNCTION_NAME_MAX 128u
#define HP_FUNCTIONS_MAX 4096u
#define HP_HOST_NAME_MAX 64u /* a host function's name: 1..63 bytes */

#ifndef __ASSEMBLER__
/* The call block lives at HP_GPA_CONTROL. The host writes the "host" fields, the guest the
 * "guest" fields; the host reads every guest field once and validates it before use. */
struct hp_call_block {
	/* host -> guest, written before init */
	uint32_t magic;
	uint32_t abi_version;
	uint64_t input_addr, input_size;
	uint64_t output_addr, output_size;
	uint64_t heap_start, heap_size;
	uint64_t stack_top;
	uint64_t log_addr, log_size;
	uint32_t cpu_flags; /* arch-defined HP_CPU_* bits (arch/<arch>/hp_abi_arch.h) */
	uint32_t reserved1;

	/* guest -> host at HP_HC_INIT_DONE */
	uint64_t dispatch_entry;

	/* host -> guest, per call: name at input_addr, args (a msgpack array) right after it */
	uint32_t name_len;
	uint32_t args_len;

	/* guest -> host, per call */
	uint32_t status;     /* enum hp_status, guest range only */
	uint32_t output_len; /* bytes at output_addr: msgpack result, or error message string */

	/* guest -> host at HP_HC_LOG */
	uint32_t log_len;
	uint32_t log_stream; /* HP_LOG_STDOUT or HP_LOG_STDERR */

	/* guest -> host at HP_HC_ABORT */
	uint32_t abort_len;
	uint32_t reserved0;
	char abort_msg[HP_ABORT_MSG_MAX];

	/* guest -> host at HP_HC_HOST_CALL: the msgpack array [name, args] in user-readable guest
	 * memory (heap, stack, data or output buffer), host_req_len bytes */
	uint64_t host_req_addr;
	uint32_t host_req_len;
	/* host -> guest, the answer: HP_OK and one msgpack object, or an error status and a UTF-8
	 * message; host_resp_len bytes at host_resp_addr, inside the input buffer after the call's
	 * own name and arguments (valid until the next host call) */
	uint32_t host_status;
	uint64_t host_resp_addr;
	uint32_t host_resp_len;
	uint32_t reserved2;
};

_Static_assert(sizeof(struct hp_call_block) <= HP_PAGE_SIZE, "call block must fit one page");
_Static_assert(__builtin_offsetof(struct hp_call_block, cpu_flags) == HP_CB_CPU_FLAGS_OFF,
	       "HP_CB_CPU_FLAGS_OFF must match the call block");
#endif /* __ASSEMBLER__ */

#endif
