/* error.c - errors as values: codes, their wire names, and the error a daemon sends. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Every code of hp_status.h, for the name -> code direction (hp_status_name is the other). */
static const int known_codes[] = {
	HP_OK, HP_E_GUEST_ERROR, HP_E_NO_SUCH_FUNCTION, HP_E_BAD_ARGS, HP_E_OUTPUT_OVERFLOW,
	HP_E_OUT_OF_MEMORY, HP_E_GUEST_ABORT, HP_E_GUEST_FAULT, HP_E_GUEST_PROTOCOL, HP_E_TIMEOUT,
	HP_E_CANCELLED, HP_E_VM_EXIT, HP_E_LIMIT, HP_E_INVALID, HP_E_BAD_ELF, HP_E_KVM,
	HP_E_SYSTEM, HP_E_NO_MEMORY, HP_E_BUSY, HP_E_NO_SUCH_MODULE, HP_E_NO_SUCH_METHOD,
	HP_E_BAD_REQUEST, HP_E_TOO_LARGE, HP_E_PERMISSION_DENIED, HP_E_SHUTTING_DOWN,
	HP_E_WORKER_LOST,
};

const char *hpc_status_name(int code)
{
	return hp_status_name(code);
}

int hpc_status_from_name(const char *name, size_t len)
{
	if (!name)
		return HPC_E_UNKNOWN;
	for (size_t i = 0; i < sizeof(known_codes) / sizeof(known_codes[0]); i++) {
		const char *n = hp_status_name(known_codes[i]);
		if (strlen(n) == len && !memcmp(n, name, len))
			return known_codes[i];
	}
	return HPC_E_UNKNOWN;
}

/* A local error: code, its name, a formatted message. Returns -1 for `return hpc_fail(...)`. */
int hpc_fail(struct hpc_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return -1;
	err->code = code;
	snprintf(err->name, sizeof(err->name), "%s", hp_status_name(code));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* Bytes from the socket become a C string that is valid UTF-8 whatever they were; a message
 * longer than out can hold is cut at a character boundary (hp_utf8_sanitize stops there). */
static void copy_text(char *out, size_t outsize, const uint8_t *s, size_t len)
{
	char tmp[HP_UTF8_SANITIZED_SIZE(HPC_ERROR_MSG_MAX)];
	if (len > HPC_ERROR_MSG_MAX)
		len = HPC_ERROR_MSG_MAX; /* enough to fill out; the rest is dropped anyway */
	hp_utf8_sanitize(s, len, tmp, sizeof(tmp));
	size_t n = strlen(tmp);
	if (n >= outsize) {
		n = outsize - 1;
		while (n > 0 && ((uint8_t)tmp[n] & 0xc0) == 0x80)
			n--; /* do not split a sequence */
	}
	memcpy(out, tmp, n);
	out[n] = 0;
}

/* The error map {"code", "message"} of a response, its parts already picked out. */
void hpc_set_wire_error(struct hpc_error *err, const uint8_t *code, size_t code_len,
			const uint8_t *msg, size_t msg_len)
{
	err->code = hpc_status_from_name((const char *)code, code_len);
	copy_text(err->name, sizeof(err->name), code, code_len);
	copy_text(err->message, sizeof(err->message), msg, msg_len);
}
