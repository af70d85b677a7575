/* runtime.c - the guest runtime's two entry points: init (once) and dispatch (every call). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"

__attribute__((weak)) void hp_module_init(void)
{
}

static void run_constructors(void)
{
	for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; f++)
		(*f)();
	for (void (**f)(void) = __init_array_start; f < __init_array_end; f++)
		(*f)();
}

static int out_write(void *data, const char *bytes, size_t len)
{
	struct hp_out *out = data;
	if (len > out->cap - out->len) {
		out->overflow = 1;
		return -1;
	}
	memcpy(out->buf + out->len, bytes, len);
	out->len += len;
	return 0;
}

static void out_init(struct hp_out *out)
{
	out->buf = (uint8_t *)(uintptr_t)HP_CB->output_addr;
	out->cap = (size_t)HP_CB->output_size;
	out->len = 0;
	out->overflow = 0;
	out->error = 0;
	msgpack_packer_init(&out->pk, out, out_write);
}

/* Ends the call: status + output length in the call block, log flushed first so the host sees
 * output in order. */
static _Noreturn void finish(uint32_t hypercall, uint32_t status, size_t output_len)
{
	hp_log_flush();
	HP_CB->status = status;
	HP_CB->output_len = (uint32_t)output_len;
	hp_arch_hypercall(hypercall);
	hp_arch_halt();
}

static _Noreturn void finish_error(uint32_t status, struct hp_out *out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static _Noreturn void finish_error(uint32_t status, struct hp_out *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t cap = out->cap < HP_ABORT_MSG_MAX ? out->cap : HP_ABORT_MSG_MAX;
	int n = vsnprintf((char *)out->buf, cap, fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
	finish(HP_HC_CALL_DONE, status, len);
}

/* __hp_touch(n): dirties n distinct heap pages, for the host's restore measurements. */
static int touch_pages(const hp_args *args, hp_out *out)
{
	uint64_t n;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &n);
	if (n > 4096)
		return hp_error(out, HP_TOUCH_FUNCTION ": at most 4096 pages");
	volatile uint8_t *p = malloc(n * 4096 + 4096);
	if (!p)
		return hp_error(out, HP_TOUCH_FUNCTION ": out of memory");
	for (uint64_t i = 0; i < n; i++)
		p[i * 4096] = (uint8_t)i;
	free((void *)p);
	return hp_ret_u64(out, n);
}

void hp_runtime_init(void)
{
	if (HP_CB->magic != HP_CALL_BLOCK_MAGIC || HP_CB->abi_version != HP_ABI_VERSION)
		hp_panic("guest runtime: call block magic/ABI version mismatch (ABI %d)",
			 HP_ABI_VERSION);
	hp_heap_init((uintptr_t)HP_CB->heap_start, (size_t)HP_CB->heap_size);
	hp_registry_add(HP_TOUCH_FUNCTION, touch_pages);
	run_constructors();
	hp_module_init();
	hp_registry_seal();

	struct hp_out out;
	out_init(&out);
	if (hp_registry_pack_names(&out.pk) < 0)
		hp_panic("guest runtime: function list does not fit the output buffer");
	HP_CB->dispatch_entry = (uint64_t)(uintptr_t)hp_dispatch_entry;
	finish(HP_HC_INIT_DONE, HP_OK, out.len);
}

void hp_runtime_dispatch(void)
{
	struct hp_out out;
	out_init(&out);

	uint32_t name_len = HP_CB->name_len, args_len = HP_CB->args_len;
	uint64_t in_size = HP_CB->input_size;
	const char *in = (const char *)(uintptr_t)HP_CB->input_addr;
	if (name_len == 0 || name_len >= HP_FUNCTION_NAME_MAX || args_len > in_size - name_len)
		finish_error(HP_E_BAD_ARGS, &out, "call block: bad name/args length");

	hp_function fn = hp_registry_find(in, name_len);
	if (!fn)
		finish_error(HP_E_NO_SUCH_FUNCTION, &out, "no function named '%.*s'", (int)name_len,
			     in);

	msgpack_unpacked msg;
	msgpack_unpacked_init(&msg);
	size_t off = 0;
	msgpack_unpack_return r = msgpack_unpack_next(&msg, in + name_len, args_len, &off);
	bool is_array = r == MSGPACK_UNPACK_SUCCESS && off == args_len &&
			msg.data.type == MSGPACK_OBJECT_ARRAY;
	int rc = 0;
	if (is_array) {
		hp_args args = { .items = msg.data.via.array.ptr, .count = msg.data.via.array.size };
		rc = fn(&args, &out);
	}
	/* Free the decoded arguments: the VM may serve many calls without being reset. */
	msgpack_unpacked_destroy(&msg);
	if (r == MSGPACK_UNPACK_NOMEM_ERROR)
		finish_error(HP_E_OUT_OF_MEMORY, &out, "out of memory decoding the arguments");
	if (!is_array)
		finish_error(HP_E_BAD_ARGS, &out, "arguments must be one msgpack array");

	if (out.overflow)
		finish_error(HP_E_OUTPUT_OVERFLOW, &out,
			     "'%.*s': result does not fit the output buffer (%zu bytes)",
			     (int)name_len, in, out.cap);
	if (out.error || rc < 0) {
		if (!out.error)
			finish_error(HP_E_GUEST_ERROR, &out, "'%.*s' failed", (int)name_len, in);
		finish(HP_HC_CALL_DONE, HP_E_GUEST_ERROR, out.len);
	}
	if (out.len == 0)
		msgpack_pack_nil(&out.pk);
	finish(HP_HC_CALL_DONE, HP_OK, out.len);
}

/* --- results ------------------------------------------------------------------------------ */

msgpack_packer *hp_out_packer(hp_out *out)
{
	return &out->pk;
}

static int ret_status(hp_out *out, int rc)
{
	return rc < 0 || out->overflow ? -1 : 0;
}

int hp_ret_nil(hp_out *out) { return ret_status(out, msgpack_pack_nil(&out->pk)); }
int hp_ret_bool(hp_out *out, bool v)
{
	return ret_status(out, v ? msgpack_pack_true(&out->pk) : msgpack_pack_false(&out->pk));
}
int hp_ret_i64(hp_out *out, int64_t v) { return ret_status(out, msgpack_pack_int64(&out->pk, v)); }
int hp_ret_u64(hp_out *out, uint64_t v) { return ret_status(out, msgpack_pack_uint64(&out->pk, v)); }
int hp_ret_f64(hp_out *out, double v) { return ret_status(out, msgpack_pack_double(&out->pk, v)); }

int hp_ret_str(hp_out *out, const char *s, size_t len)
{
	if (msgpack_pack_str(&out->pk, len) < 0)
		return -1;
	return ret_status(out, msgpack_pack_str_body(&out->pk, s, len));
}

int hp_ret_cstr(hp_out *out, const char *s)
{
	return hp_ret_str(out, s, strlen(s));
}

int hp_ret_bin(hp_out *out, const void *p, size_t len)
{
	if (msgpack_pack_bin(&out->pk, len) < 0)
		return -1;
	return ret_status(out, msgpack_pack_bin_body(&out->pk, p, len));
}

int hp_ret_object(hp_out *out, const msgpack_object *obj)
{
	return ret_status(out, msgpack_pack_object(&out->pk, *obj));
}

int hp_error(hp_out *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t cap = out->cap < HP_ABORT_MSG_MAX ? out->cap : HP_ABORT_MSG_MAX;
	int n = vsnprintf((char *)out->buf, cap, fmt, ap);
	va_end(ap);
	out->len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
	out->error = 1;
	out->overflow = 0;
	return -1;
}
