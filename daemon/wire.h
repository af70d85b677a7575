/* wire.h - the frames between the front process and a module's worker process
 * (isolation = process, docs/daemon.md): a fixed header, then `len` payload bytes. A call's
 * name and msgpack args go to the worker, and its result or message comes back, as the bytes
 * they are: never decoded or re-encoded on the way. Both ends are the same executable
 * (/proc/self/exe), so the header is a plain struct; its payload is still hostile to the
 * front (a worker may have been breached by its guest) and bounded by max_payload. */
#ifndef HPD_WIRE_H
#define HPD_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "config.h"
#include "hpvmm.h"

#define HPD_WORKER_FD 3 /* the worker's end of its socketpair */

enum hpd_wire_type {
	/* front -> worker */
	W_INIT = 1,      /* payload: struct hpd_wire_init, name, path, ELF bytes */
	W_CALL,          /* tag, a: session id (0: none), c: name length, b: timeout ms; name+args */
	W_CANCEL,        /* tag */
	W_HOST_REPLY,    /* tag, c: status; payload: the result object or a message */
	W_SESSION_OPEN,  /* tag, a: session id */
	W_SESSION_CLOSE, /* a: session id (never while a call runs in it) */
	W_STATS,         /* tag */
	/* worker -> front */
	W_READY = 32,    /* payload: struct hpd_wire_ready, then the function names, NUL-ended */
	W_FAILED,        /* c: status; payload: message (the module did not load) */
	W_RESULT,        /* tag, a: 0 the guest finished (c: its status) or 1 failed (c: code);
			  * payload: output or message */
	W_HOST,          /* tag, c: name length; payload: name+args (a host call for the client) */
	W_REPLY,         /* tag, c: status (0: ok); payload: message, or hp_pool_stats (W_STATS) */
};

struct hpd_wire {
	uint32_t len;
	uint8_t type;
	uint8_t pad[3];
	uint32_t tag;
	uint32_t a, c;
	uint64_t b;
};

struct hpd_wire_init {
	struct hpd_module_cfg cfg; /* its pointers are meaningless here: strings follow */
	unsigned pool_min, pool_max, index;
	int log_level;
	uint32_t name_len, path_len;
	uint64_t elf_len;
};

struct hpd_wire_ready {
	struct hp_module_info info;
	int restore;
	uint32_t nfunctions;
};

/* Writes the header and payload pieces whole (retrying partial writes). 0, or -1 (errno). */
int hpd_wire_send(int fd, const struct hpd_wire *h, const struct iovec *iov, int iovcnt);
/* Reads exactly n bytes. 0; -1 on error or end of file (errno 0 for a clean end). */
int hpd_wire_read(int fd, void *buf, size_t n);
/* Reads one frame: the header, and its payload into *payload (malloc'd, NUL-terminated one
 * byte past len) when len <= max_payload. -1: end, error or a frame over the bound. */
int hpd_wire_recv(int fd, struct hpd_wire *h, uint8_t **payload, uint64_t max_payload);

/* The worker process: `hyperpoold --worker` with its socketpair on HPD_WORKER_FD. */
int hpd_worker_main(void);

#endif
