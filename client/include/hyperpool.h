/* hyperpool.h - libhyperpool, the thin C client of hyperpoold (docs/client.md).
 *
 * A connection speaks MessagePack-RPC (docs/protocol.md) over the daemon's Unix socket. Calls
 * are pipelined: many may be in flight on one connection, answered in any order, matched by
 * msgid. Two ways to use it:
 *  - synchronous: hpc_call(), hpc_ping(), hpc_modules(), hpc_stats() block (with a bound) until
 *    their answer arrives;
 *  - asynchronous, in any event loop: watch hpc_fd() for reading (and for writing while
 *    hpc_wants_write()), queue calls with hpc_call_async(), and call hpc_process() when the fd
 *    is ready; it does non-blocking I/O and runs the completion callbacks.
 *
 * Errors are values: every function that can fail fills a struct hpc_error (code + message).
 * The codes are those of hp_status.h, the names the daemon sends on the wire. Failures found
 * on this side have their own codes:
 *   HP_E_SYSTEM       the socket failed: connect, read or write error, or the daemon closed it
 *   HP_E_BAD_REQUEST  the daemon sent something that is not a valid MessagePack-RPC frame (not
 *                     msgpack, not [1, msgid, error, result], an unknown msgid, a bad error map)
 *   HP_E_TOO_LARGE    a frame from the daemon over the connection's max_frame
 *   HP_E_TIMEOUT      a synchronous call waited longer than its local bound (wait_ms)
 *   HP_E_CANCELLED    the call was still pending when the connection was closed (hpc_close)
 *   HP_E_INVALID      a bad argument to this library (NULL name, args not one msgpack array...)
 *   HP_E_NO_MEMORY    an allocation failed
 *   HPC_E_UNKNOWN     the daemon sent an error code this library has no number for (a newer
 *                     daemon): the name it sent is in hpc_error.name
 * After HP_E_SYSTEM, HP_E_BAD_REQUEST or HP_E_TOO_LARGE from the connection itself, it is
 * broken: every pending call completes with that error and later calls fail at once with it.
 *
 * Every byte from the socket is treated as hostile: frames are validated by the bounded
 * scanner (proto/hp_mpscan.h) before anything else reads them, and no frame may exceed
 * max_frame bytes (64 MiB by default), so a lying header allocates nothing.
 *
 * Threads: the library has no global state. A connection, and everything it hands out while
 * a call is pending, belongs to one thread at a time (use one connection per thread, or a
 * lock around every use of a shared one). Different connections may be used by different
 * threads at once. Completion callbacks run on the thread that called hpc_process() (or the
 * synchronous function that waits). */
#ifndef HYPERPOOL_H
#define HYPERPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "hp_status.h"
#include "hyperpool_version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(HPC_BUILDING_LIBRARY)
#define HPC_API __attribute__((visibility("default")))
#else
#define HPC_API
#endif

/* The frame limit of a connection when none is given: the daemon's largest default answer
 * (its max_output) fits. */
#define HPC_DEFAULT_MAX_FRAME (64u << 20)
/* How much longer than its timeout_ms a synchronous call waits for the daemon's answer (the
 * daemon's own timeout answers first; this bounds a daemon that never answers). */
#define HPC_WAIT_GRACE_MS 5000u
/* An error code the daemon sent that hp_status.h does not know. */
#define HPC_E_UNKNOWN (-1)
#define HPC_ERROR_MSG_MAX 512
#define HPC_ERROR_NAME_MAX 32

/* An error: filled by every function that fails. */
struct hpc_error {
	int code;                        /* an enum hp_status value, or HPC_E_UNKNOWN */
	char name[HPC_ERROR_NAME_MAX];   /* its wire name ("timeout", ...), NUL-terminated */
	char message[HPC_ERROR_MSG_MAX]; /* for people: valid UTF-8, NUL-terminated, maybe cut */
};

/* A result: one msgpack object, as the daemon sent it (validated). `data` is malloc'ed and
 * owned by whoever holds the struct: release it with hpc_result_free(). */
struct hpc_result {
	uint8_t *data;
	size_t len;
};

struct hpc_conn;

struct hpc_conn_opts {
	size_t max_frame; /* the largest frame accepted from the daemon; 0: HPC_DEFAULT_MAX_FRAME */
};

struct hpc_call_opts {
	uint32_t timeout_ms; /* sent to the daemon as the call's timeout_ms (1 .. 86,400,000);
			      * 0: the module's own timeout (no option is sent) */
	uint32_t wait_ms;    /* synchronous calls only: how long to wait for the answer here;
			      * 0: timeout_ms + HPC_WAIT_GRACE_MS, or no local bound when
			      * timeout_ms is 0 too (the daemon's module timeout answers) */
};

/* --- version ------------------------------------------------------------------------------ */

/* The version of the library actually linked ("0.1.0"): static string. Compare it with
 * HYPERPOOL_VERSION_STRING to see whether headers and library match. */
HPC_API const char *hpc_version(void);

/* --- connections -------------------------------------------------------------------------- */

/* Connects to the daemon's socket: `path`, else $HYPERPOOL_SOCKET when set and not empty,
 * else HP_RPC_DEFAULT_SOCKET. opts may be NULL. Returns the connection (free it with
 * hpc_close), or NULL with *err set: HP_E_INVALID (a path too long for a Unix socket),
 * HP_E_SYSTEM (socket or connect failed: the message names the path and errno),
 * HP_E_NO_MEMORY. */
HPC_API struct hpc_conn *hpc_connect(const char *path, const struct hpc_conn_opts *opts,
				     struct hpc_error *err);

/* Makes a connection of an already connected SOCK_STREAM socket (a socketpair, a socket
 * passed by systemd...). The connection owns fd from then on, also on failure (it is closed).
 * The fd is set non-blocking. Errors as hpc_connect. */
HPC_API struct hpc_conn *hpc_conn_from_fd(int fd, const struct hpc_conn_opts *opts,
					  struct hpc_error *err);

/* Closes the socket and frees the connection. Calls still pending complete first, each with
 * HP_E_CANCELLED (so that their callbacks can free their contexts). NULL is a no-op. Not from
 * inside a completion callback. */
HPC_API void hpc_close(struct hpc_conn *c);

/* The socket, for an event loop: watch it for reading always, for writing while
 * hpc_wants_write(). Still owned by the connection: do not read, write or close it. */
HPC_API int hpc_fd(const struct hpc_conn *c);

/* Whether queued request bytes wait for the socket to be writable. */
HPC_API bool hpc_wants_write(const struct hpc_conn *c);

/* How many calls wait for their answer (calls abandoned by hpc_cancel not counted). */
HPC_API size_t hpc_pending(const struct hpc_conn *c);

/* Whether the connection is broken; if so and err is not NULL, *err is why. */
HPC_API bool hpc_broken(const struct hpc_conn *c, struct hpc_error *err);

/* --- asynchronous calls ------------------------------------------------------------------- */

/* Runs once per call, from hpc_process() (or a synchronous wait, or hpc_close). Exactly one
 * of res and err is non-NULL. res->data belongs to the callback: keep it and free it later
 * with hpc_result_free(), or free it now; *res itself and *err live only during the callback.
 * A callback may queue more calls (hpc_call_async, hpc_request_async) and hpc_cancel; it must
 * not call the synchronous functions, hpc_process or hpc_close on its connection. */
typedef void (*hpc_callback)(struct hpc_conn *c, uint32_t msgid, struct hpc_result *res,
			     const struct hpc_error *err, void *ctx);

/* Queues call(module, function, args[, options]) and returns its msgid (>= 0), or -1 with *err
 * set (HP_E_INVALID: a NULL name or args that are not exactly one msgpack array; the error of
 * the connection when it is broken; HP_E_NO_MEMORY). args: args_len bytes of one msgpack
 * array, copied (see hpc_args_begin). opts may be NULL. No I/O happens here: the request is
 * sent by the next hpc_process() that finds the socket writable (hpc_wants_write() is true
 * now). cb runs exactly once for a queued call, unless it is cancelled. */
HPC_API int64_t hpc_call_async(struct hpc_conn *c, const char *module, const char *function,
			       const void *args, size_t args_len, const struct hpc_call_opts *opts,
			       hpc_callback cb, void *ctx, struct hpc_error *err);

/* Queues any method with params (params_len bytes of one msgpack array; NULL/0: no params):
 * what hpc_call_async does for "call". Errors as hpc_call_async. */
HPC_API int64_t hpc_request_async(struct hpc_conn *c, const char *method, const void *params,
				  size_t params_len, hpc_callback cb, void *ctx,
				  struct hpc_error *err);

/* Forgets a pending call: its callback will not run, and its answer is dropped when it comes
 * (the daemon still runs it). Returns 0, or -1 when no such call is pending. */
HPC_API int hpc_cancel(struct hpc_conn *c, uint32_t msgid);

/* Does what the socket allows without blocking: writes queued requests when `writable`,
 * reads and handles every complete frame when `readable` (callbacks run here). Passing true
 * for a direction that is not ready is harmless (EAGAIN). Requests from the daemon
 * ([0, msgid, method, params]) are answered: no method is registered yet, so with
 * no_such_method. Returns 0, or -1 with *err set (err may be NULL) when the connection is or
 * becomes broken; every pending call has then completed with that error. */
HPC_API int hpc_process(struct hpc_conn *c, bool readable, bool writable, struct hpc_error *err);

/* --- synchronous calls -------------------------------------------------------------------- */

/* call(module, function, args[, options]) and waits for its answer (running the callbacks of
 * other calls that complete meanwhile). Returns 0 with *res filled (free it with
 * hpc_result_free), or -1 with *err set: the daemon's error (guest_error, timeout, ...), a
 * local one (see the top of this file), or HP_E_TIMEOUT after opts->wait_ms (the call is then
 * cancelled here: its late answer is dropped). opts may be NULL. */
HPC_API int hpc_call(struct hpc_conn *c, const char *module, const char *function,
		     const void *args, size_t args_len, const struct hpc_call_opts *opts,
		     struct hpc_result *res, struct hpc_error *err);

/* Any method, synchronously; wait_ms 0: no local bound. Otherwise as hpc_call. */
HPC_API int hpc_request(struct hpc_conn *c, const char *method, const void *params,
			size_t params_len, uint32_t wait_ms, struct hpc_result *res,
			struct hpc_error *err);

/* ping(): *res is the str "pong". modules(): an array of maps; stats(): a map (their shapes:
 * docs/protocol.md). wait_ms as hpc_request. */
HPC_API int hpc_ping(struct hpc_conn *c, uint32_t wait_ms, struct hpc_result *res,
		     struct hpc_error *err);
HPC_API int hpc_modules(struct hpc_conn *c, uint32_t wait_ms, struct hpc_result *res,
			struct hpc_error *err);
HPC_API int hpc_stats(struct hpc_conn *c, uint32_t wait_ms, struct hpc_result *res,
		      struct hpc_error *err);

/* --- results ------------------------------------------------------------------------------ */

/* Frees res->data and empties *res. NULL and an empty result are no-ops. */
HPC_API void hpc_result_free(struct hpc_result *res);

/* Unpacks data[0..len) (exactly one msgpack object, at most HP_RPC_MAX_DEPTH deep) into *up,
 * after the bounded scanner has checked it: *up must not be initialised yet; on success
 * up->data is the object and up->zone owns all its memory (strs and bins included: data may
 * be freed at once): release it with msgpack_unpacked_destroy(up). Returns 0, or -1 with *err set (HP_E_BAD_REQUEST: not one
 * valid object; HP_E_NO_MEMORY) and *up left destroyed (nothing to free). */
HPC_API int hpc_unpack(const void *data, size_t len, msgpack_unpacked *up, struct hpc_error *err);

/* hpc_unpack() of a result. */
HPC_API int hpc_result_unpack(const struct hpc_result *res, msgpack_unpacked *up,
			      struct hpc_error *err);

/* --- building arguments (msgpack-c underneath) ---------------------------------------------- */

/* An argument array being built: pack its items with msgpack_pack_* on the packer that
 * hpc_args_begin returns; then pass hpc_args_data() / hpc_args_len() to a call. */
struct hpc_args {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

/* Starts an array of n items (the caller packs exactly n). Returns &a->pk. */
HPC_API msgpack_packer *hpc_args_begin(struct hpc_args *a, uint32_t n);
/* The bytes so far: owned by *a, valid until the next pack or hpc_args_free. */
HPC_API const void *hpc_args_data(const struct hpc_args *a);
HPC_API size_t hpc_args_len(const struct hpc_args *a);
/* Frees the bytes; *a may be begun again. */
HPC_API void hpc_args_free(struct hpc_args *a);
/* Packs a NUL-terminated string as a msgpack str. Returns msgpack-c's 0 / -1. */
HPC_API int hpc_pack_cstr(msgpack_packer *pk, const char *s);

/* --- errors ------------------------------------------------------------------------------- */

/* The wire name of a code ("guest_error", ...); "unknown" for a code hp_status.h lacks. */
HPC_API const char *hpc_status_name(int code);
/* The code of a wire name (len bytes, no NUL needed), or HPC_E_UNKNOWN. */
HPC_API int hpc_status_from_name(const char *name, size_t len);

#ifdef __cplusplus
}
#endif

/* --- functions this client provides ---------------------------------------------------------
 *
 * A module configured with `host_functions = client` (hyperpoold.conf(5)) may call functions of
 * the client that made the call: the daemon then sends a request on this connection, and
 * libhyperpool answers it from the function registered here under that name, while it
 * processes the connection (hpc_process, or any synchronous call waiting for its answer).
 * A name nobody registered is answered no_such_method. */

struct hpc_answer {
	int status;        /* HP_OK: bytes is the result (one msgpack object); else an error code */
	const void *bytes; /* HP_OK: the result; else the message (UTF-8), or NULL */
	size_t len;
};

/* Called with the guest's args (the bytes of one msgpack array, valid during the call). It
 * fills *answer; its bytes must stay valid until it returns (libhyperpool copies them). It may
 * queue calls (hpc_call_async) but not make synchronous ones. */
typedef void (*hpc_function)(struct hpc_conn *c, const uint8_t *args, size_t args_len,
			     struct hpc_answer *answer, void *ctx);

/* Registers (or replaces, or with fn NULL removes) the function `name` (1..63 bytes) on this
 * connection; at most HPC_MAX_FUNCTIONS. 0, or -1 with err. */
#define HPC_MAX_FUNCTIONS 64
HPC_API int hpc_provide(struct hpc_conn *c, const char *name, hpc_function fn, void *ctx,
			struct hpc_error *err);

#endif
