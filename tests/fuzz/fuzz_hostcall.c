/* fuzz_hostcall.c - libFuzzer target: a guest's host call as libhpvmm reads and serves it.
 *
 * The input is the request a guest leaves in its memory ([name, args]): it goes through
 * hp_guest_host_request (vmm/guest_output.c) and, when accepted, to the built-in host
 * functions (vmm/host_builtins.c: time, random, log) with every one allowed, as the runner and
 * the daemon serve them. Checks beyond the sanitizers: a refusal is guest_protocol with a
 * message; an accepted request's name and args lie inside the input; a built-in either answers
 * one valid msgpack object that passes the check every reply goes through before it enters the
 * guest (hp_host_reply_check), or an error (bad_args) with a short message; a log line is one
 * bounded line. The input also goes to hp_host_reply_check itself, as an embedder's reply
 * would. Build: see tests/fuzz/meson.build. */
#include <stdlib.h>
#include <string.h>

#include "guest_output.h"
#include "vm_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_log_line(void *ctx, int stream, const char *bytes, size_t len)
{
	(void)ctx;
	if (stream != HP_LOG_STDERR || len == 0 || len >= 1100 || bytes[len - 1] != '\n')
		abort();
}

static void serve(const struct hp_host_request *req, const uint8_t *data, size_t size)
{
	if (req->name_len == 0 || req->name_len >= HP_HOST_NAME_MAX ||
	    (const uint8_t *)req->name < data || (const uint8_t *)req->name + req->name_len > data + size ||
	    req->args < data || req->args + req->args_len != data + size)
		abort();
	struct hp_vm vm;
	memset(&vm, 0, sizeof(vm));
	vm.log = check_log_line;
	struct hp_host_reply reply;
	memset(&reply, 0, sizeof(reply));
	if (!hp_host_builtin(HP_HOST_TIME | HP_HOST_RANDOM | HP_HOST_LOG, &vm, req->name, req->name_len,
			     req->args, req->args_len, &reply))
		return; /* not a built-in: the embedder's function or no_such_function */
	struct hp_error err;
	if (reply.status == HP_OK) {
		if (hp_host_reply_check(reply.bytes, reply.len, 1 << 20, &err))
			abort();
	} else if (reply.status != HP_E_BAD_ARGS || reply.len == 0 ||
		   reply.len > sizeof(reply.inline_buf)) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hp_error err;
	struct hp_host_request req;
	if (hp_guest_host_request(data, size, &req, &err) == 0)
		serve(&req, data, size);
	else if (err.code != HP_E_GUEST_PROTOCOL || !err.message[0])
		abort();
	if (hp_host_reply_check(data, size, 1 << 20, &err) != 0 &&
	    (err.code != HP_E_INVALID && err.code != HP_E_LIMIT))
		abort();
	return 0;
}
