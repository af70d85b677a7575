/* hyperpool/guest.h - the API a guest module is written against.
 *
 * A module registers functions by name in HP_MODULE_INIT. For each call the runtime decodes the
 * msgpack argument array, runs the function, and sends back exactly one msgpack object (or an
 * error message). Example:
 *
 *	static int add(const hp_args *args, hp_out *out)
 *	{
 *		int64_t a, b;
 *		if (hp_args_expect(args, out, "ii") < 0)
 *			return -1;
 *		hp_arg_i64(args, 0, &a);
 *		hp_arg_i64(args, 1, &b);
 *		return hp_ret_i64(out, a + b);
 *	}
 *
 *	HP_MODULE_INIT()
 *	{
 *		hp_register("add", add);
 *	}
 *
 * printf and friends work: output is buffered and sent to the host with the call's result.
 * abort(), assert() and hp_panic() stop the call and report their message to the caller.
 * Every call starts from the state right after init: the host puts memory and registers back
 * to a snapshot taken after HP_MODULE_INIT, so globals, the heap and the stack written by one
 * call are never seen by the next (freeing memory is optional, but a call must fit the heap).
 */
#ifndef HYPERPOOL_GUEST_H
#define HYPERPOOL_GUEST_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hp_args {
	const msgpack_object *items;
	uint32_t count;
} hp_args;

typedef struct hp_out hp_out;

/* A function returns 0 after writing its result with one hp_ret_* call (or one object through
 * hp_out_packer), or -1 after hp_error(). Returning 0 without a result sends nil. */
typedef int (*hp_function)(const hp_args *args, hp_out *out);

/* Registers `fn` under `name` (1..HP_FUNCTION_NAME_MAX-1 bytes, not starting with "__hp_",
 * which the runtime keeps for itself). Call it from HP_MODULE_INIT or a constructor. Returns 0,
 * or -1 if the name is invalid, reserved, taken, or the table is full. */
int hp_register(const char *name, hp_function fn);

/* The module's init function, run once before the VM is snapshotted. */
#define HP_MODULE_INIT() void hp_module_init(void)
void hp_module_init(void);

/* --- arguments ------------------------------------------------------------------------- */

/* Checks the argument count and types against `spec`, one letter per argument:
 *   i integer (fits int64)  u unsigned integer  f number (float or integer)  s string
 *   b bytes (bin)  t boolean  a array  m map  n nil  * anything
 * A trailing '?' after a letter makes the rest optional. On mismatch writes a clear error
 * ("add: argument 2 must be an integer, got a string") and returns -1. */
int hp_args_expect(const hp_args *args, hp_out *out, const char *spec);

/* Each returns 0, or -1 (leaving *v untouched) if argument i is missing or of another type. */
int hp_arg_i64(const hp_args *args, uint32_t i, int64_t *v);
int hp_arg_u64(const hp_args *args, uint32_t i, uint64_t *v);
int hp_arg_f64(const hp_args *args, uint32_t i, double *v); /* accepts integers too */
int hp_arg_bool(const hp_args *args, uint32_t i, bool *v);
int hp_arg_str(const hp_args *args, uint32_t i, const char **s, size_t *len); /* not NUL-terminated */
int hp_arg_bin(const hp_args *args, uint32_t i, const uint8_t **p, size_t *len);
const msgpack_object *hp_arg(const hp_args *args, uint32_t i); /* NULL if missing */

/* --- results ---------------------------------------------------------------------------- */
int hp_ret_nil(hp_out *out);
int hp_ret_bool(hp_out *out, bool v);
int hp_ret_i64(hp_out *out, int64_t v);
int hp_ret_u64(hp_out *out, uint64_t v);
int hp_ret_f64(hp_out *out, double v);
int hp_ret_str(hp_out *out, const char *s, size_t len);
int hp_ret_cstr(hp_out *out, const char *s);
int hp_ret_bin(hp_out *out, const void *p, size_t len);
int hp_ret_object(hp_out *out, const msgpack_object *obj);

/* For arrays and maps: pack exactly one object (e.g. msgpack_pack_array then its items). */
msgpack_packer *hp_out_packer(hp_out *out);

/* Ends the call with an error: the message (printf format) goes to the caller. Returns -1. */
int hp_error(hp_out *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- host functions ------------------------------------------------------------------------ */

/* Calls the host function `name` (1..63 bytes) with `args`, the bytes of one msgpack array
 * (build them with msgpack-c, e.g. a msgpack_sbuffer). Returns HP_OK (0) with *reply pointing
 * at the result, one msgpack object of *reply_len bytes; or an hp_status code (> 0) with *reply
 * the host's UTF-8 message (HP_E_NO_SUCH_FUNCTION when the host offers no such function).
 * *reply stays valid until the next host call or the end of the call. Which host functions
 * exist is the embedder's choice: hyperpoold offers "time", "random" and "log" to modules
 * whose configuration allows them (hyperpoold.conf: host_functions). A request that breaks the
 * limits (size, count per call) ends the call. Not available in HP_MODULE_INIT. */
int hp_host_call(const char *name, const void *args, size_t args_len, const uint8_t **reply,
		 size_t *reply_len);

/* The same, the pleasant way: build the args with a packer, get the answer decoded.
 *
 *	hp_host_args a;
 *	msgpack_pack_uint64(hp_host_args_begin(&a, 1), 16);   // [16]
 *	hp_host_reply r;
 *	if (hp_host_invoke("random", &a, &r) != 0)
 *		return hp_error(out, "random: %.*s", (int)r.message_len, r.message);
 *	... r.result is a msgpack_object (valid until hp_host_reply_free) ...
 *	hp_host_reply_free(&r);
 *
 * hp_host_invoke frees the args, returns the status (HP_OK or an hp_status code) and fills the
 * reply: result (decoded, on HP_OK) or message (the host's, otherwise). */
typedef struct hp_host_args {
	msgpack_sbuffer sb;
	msgpack_packer pk;
} hp_host_args;
typedef struct hp_host_reply {
	int status;
	msgpack_object result;
	const char *message;
	size_t message_len;
	msgpack_zone zone;
	int has_zone;
} hp_host_reply;
/* Starts the args: an array of n elements; pack the n elements with the returned packer. */
msgpack_packer *hp_host_args_begin(hp_host_args *a, uint32_t n);
int hp_host_invoke(const char *name, hp_host_args *a, hp_host_reply *r);
void hp_host_reply_free(hp_host_reply *r);

/* Stops the call at once and reports the message to the caller as a guest abort. */
_Noreturn void hp_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
