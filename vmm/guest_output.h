/* guest_output.h - reading what a guest leaves for the host: the call block's guest fields,
 * the abort message, the function list. Pure functions over bytes (no KVM), so they can be
 * fuzzed: every byte is hostile. */
#ifndef HP_GUEST_OUTPUT_H
#define HP_GUEST_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "hp_abi.h"
#include "hp_error.h"

/* The call's result: status must be one a guest may report, the length must fit the output
 * buffer (and 1 KiB for an error message). */
int hp_guest_result(const volatile struct hp_call_block *cb, uint64_t output_size,
		    int *status, uint32_t *output_len, struct hp_error *err);

/* A log record: length within the log buffer, stream stdout or stderr. */
int hp_guest_log(const volatile struct hp_call_block *cb, uint32_t *len, int *stream,
		 struct hp_error *err);

/* The abort message, cut to HP_ABORT_MSG_MAX and cleaned to printable ASCII (it reaches logs
 * and terminals of people who did not write the guest). `out` holds HP_ABORT_MSG_MAX + 1. */
void hp_guest_abort_message(const volatile struct hp_call_block *cb, char *out);

/* The function list init leaves in the output buffer: one msgpack array of 0..HP_FUNCTIONS_MAX
 * strings of 1..HP_FUNCTION_NAME_MAX-1 bytes without NUL, and nothing after it. Names with the
 * runtime's reserved prefix are skipped. Read by hand rather than with msgpack-c, whose
 * unpacker allocates what a container header claims before checking the bytes exist. On
 * success *names (NULL-terminated, malloc'd) and *count are set. */
int hp_guest_function_list(const uint8_t *buf, size_t len, char ***names, uint32_t *count,
			   struct hp_error *err);
void hp_guest_function_list_free(char **names);

#endif
