/* guest_output.h - reading what a guest leaves for the host: the call block's guest fields,
 * the abort message, the function list. Pure functions over bytes (no KVM), so they can be
 * fuzzed: every byte is hostile. */
#ifndef HP_GUEST_OUTPUT_H
#define HP_GUEST_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "hp_abi.h"
#include "hp_error.h"

/* What a finished call leaves for the caller. */
struct hp_guest_reply {
	int status;            /* HP_OK, or an error status the guest may report */
	const uint8_t *output; /* HP_OK: the result, in the guest's output buffer; else: msgbuf */
	size_t output_len;
};

/* Holds any guest message whole once made valid UTF-8: each byte may become U+FFFD. */
#define HP_GUEST_MSG_BUF_SIZE (3 * HP_ABORT_MSG_MAX + 1)

/* The call's result. The status must be one a guest may report and the length must fit the
 * output buffer (and HP_ABORT_MSG_MAX for an error message). An HP_OK result must be exactly
 * one msgpack object, nested at most HP_MP_MAX_DEPTH deep, with valid UTF-8 in every str and
 * no ext, so every reader after this one (msgpack-c, JSON, a client) can take it as it is;
 * reply->output then points into `output`, the guest's output buffer of output_size bytes.
 * An error message is copied to msgbuf (msgbuf_size >= 4; HP_GUEST_MSG_BUF_SIZE holds any
 * message whole) as valid UTF-8, NUL-terminated, each byte that is not UTF-8 replaced by
 * U+FFFD, and reply->output points there. Both stay valid until the guest runs again. */
int hp_guest_result(const volatile struct hp_call_block *cb, const uint8_t *output,
		    uint64_t output_size, char *msgbuf, size_t msgbuf_size,
		    struct hp_guest_reply *reply, struct hp_error *err);

/* A log record: length within the log buffer, stream stdout or stderr. */
int hp_guest_log(const volatile struct hp_call_block *cb, uint32_t *len, int *stream,
		 struct hp_error *err);

/* The abort message, cut to HP_ABORT_MSG_MAX bytes, made valid UTF-8 (each byte that is not
 * becomes U+FFFD) and cleaned of terminal controls (it reaches logs and terminals of people
 * who did not write the guest): each byte below 0x20 but '\n', 0x7f, and each C1 control
 * U+0080..U+009F becomes '?'. Cut further, at a character boundary, to fit `out` (outsize
 * >= 1, with its NUL; HP_GUEST_MSG_BUF_SIZE holds any message whole). Returns its length. */
size_t hp_guest_abort_message(const volatile struct hp_call_block *cb, char *out, size_t outsize);

/* The function list init leaves in the output buffer: one msgpack array of 0..HP_FUNCTIONS_MAX
 * strings of 1..HP_FUNCTION_NAME_MAX-1 bytes without NUL, and nothing after it. Names with the
 * runtime's reserved prefix are skipped. Checked by the bounded scanner (hp_mpscan.h), then
 * walked, rather than read with msgpack-c, whose unpacker allocates what a container header
 * claims before checking the bytes exist. On success *names (NULL-terminated, malloc'd) and
 * *count are set. */
int hp_guest_function_list(const uint8_t *buf, size_t len, char ***names, uint32_t *count,
			   struct hp_error *err);
void hp_guest_function_list_free(char **names);

/* A host call's request, the msgpack array [name, args] the guest left in its own memory:
 * exactly one object within limits, a name of 1..HP_HOST_NAME_MAX-1 bytes without NUL, args an
 * array. The pointers point into req. */
struct hp_host_request {
	const char *name;
	uint32_t name_len;
	const uint8_t *args;
	size_t args_len;
};
int hp_guest_host_request(const uint8_t *req, size_t len, struct hp_host_request *out,
			  struct hp_error *err);

/* What an embedder's host function answers, before it goes into the guest: at most `max`
 * bytes, exactly one msgpack object, UTF-8 strs, no ext (the embedder may relay a client's
 * bytes). */
int hp_host_reply_check(const void *bytes, size_t len, uint64_t max, struct hp_error *err);

#endif
