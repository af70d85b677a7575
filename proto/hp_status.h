/* hp_status.h - stable status / error codes shared by guest, vmm, daemon and clients.
 *
 * The numeric values are part of both contracts (guest ABI and wire protocol): never renumber,
 * only append. hp_status_name() gives the stable machine-readable name used on the wire. */
#ifndef HP_STATUS_H
#define HP_STATUS_H

enum hp_status {
	HP_OK = 0,

	/* Reported by the guest runtime in the call block. */
	HP_E_GUEST_ERROR = 1,     /* the function returned an error; message is the output */
	HP_E_NO_SUCH_FUNCTION = 2,/* no function registered under that name */
	HP_E_BAD_ARGS = 3,        /* the arguments are not a msgpack array */
	HP_E_OUTPUT_OVERFLOW = 4, /* the result did not fit the output buffer */
	HP_E_OUT_OF_MEMORY = 5,   /* the guest heap is exhausted */

	/* Detected by the host. */
	HP_E_GUEST_ABORT = 16,    /* abort(), assert() or hp_panic() in the guest */
	HP_E_GUEST_FAULT = 17,    /* a CPU exception in the guest */
	HP_E_GUEST_PROTOCOL = 18, /* the guest broke the ABI (bad length, bad status, ...) */
	HP_E_TIMEOUT = 19,        /* the call ran past its deadline */
	HP_E_CANCELLED = 20,      /* the call was stopped by the host */
	HP_E_VM_EXIT = 21,        /* KVM reported an exit we do not serve */
	HP_E_LIMIT = 22,          /* a per-call limit was exceeded */

	/* Host-side failures. */
	HP_E_INVALID = 32,        /* bad argument from the host caller (size, name, ...) */
	HP_E_BAD_ELF = 33,        /* the module file is not an acceptable ELF */
	HP_E_KVM = 34,            /* a KVM ioctl failed or a capability is missing */
	HP_E_SYSTEM = 35,         /* an OS call failed (memfd, mmap, open, ...) */
	HP_E_NO_MEMORY = 36,      /* the host ran out of memory */

	/* The daemon and its wire protocol (docs/protocol.md). */
	HP_E_BUSY = 48,              /* the module's pool and queue are full: try again later */
	HP_E_NO_SUCH_MODULE = 49,    /* no module of that name is loaded */
	HP_E_NO_SUCH_METHOD = 50,    /* the RPC method is unknown */
	HP_E_BAD_REQUEST = 51,       /* not a valid MessagePack-RPC request, or bad params */
	HP_E_TOO_LARGE = 52,         /* a frame or argument over the configured limit */
	HP_E_PERMISSION_DENIED = 53, /* the caller's uid/gid may not do this */
	HP_E_SHUTTING_DOWN = 54,     /* the daemon is stopping (or the module unloading) */
	HP_E_WORKER_LOST = 55,       /* the module's worker process died during the call */
};

static inline const char *hp_status_name(int status)
{
	switch (status) {
	case HP_OK: return "ok";
	case HP_E_GUEST_ERROR: return "guest_error";
	case HP_E_NO_SUCH_FUNCTION: return "no_such_function";
	case HP_E_BAD_ARGS: return "bad_args";
	case HP_E_OUTPUT_OVERFLOW: return "output_overflow";
	case HP_E_OUT_OF_MEMORY: return "guest_out_of_memory";
	case HP_E_GUEST_ABORT: return "guest_abort";
	case HP_E_GUEST_FAULT: return "guest_fault";
	case HP_E_GUEST_PROTOCOL: return "guest_protocol";
	case HP_E_TIMEOUT: return "timeout";
	case HP_E_CANCELLED: return "cancelled";
	case HP_E_VM_EXIT: return "vm_exit";
	case HP_E_LIMIT: return "limit";
	case HP_E_INVALID: return "invalid";
	case HP_E_BAD_ELF: return "bad_elf";
	case HP_E_KVM: return "kvm";
	case HP_E_SYSTEM: return "system";
	case HP_E_NO_MEMORY: return "no_memory";
	case HP_E_BUSY: return "busy";
	case HP_E_NO_SUCH_MODULE: return "no_such_module";
	case HP_E_NO_SUCH_METHOD: return "no_such_method";
	case HP_E_BAD_REQUEST: return "bad_request";
	case HP_E_TOO_LARGE: return "too_large";
	case HP_E_PERMISSION_DENIED: return "permission_denied";
	case HP_E_SHUTTING_DOWN: return "shutting_down";
	case HP_E_WORKER_LOST: return "worker_lost";
	default: return "unknown";
	}
}

#endif
