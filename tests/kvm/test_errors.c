/* test_errors.c - how calls fail: bad names, bad argument encodings, wrong argument types,
 * guest errors, aborts, asserts, panics, CPU faults, output overflow and input limits. After
 * every failure the same VM must answer a normal call correctly.
 *
 *   test_errors --math math.elf --echo echo.elf --misc misc.elf [...]
 *
 * Exit 0: all checks passed; 1: some failed (each is printed); 77: no /dev/kvm. */
#include "kvmtest.h"

static uint8_t pattern_byte(uint64_t i)
{
	return (uint8_t)((i * 7 + 3) & 0xff);
}

/* misc.big_output(n) returns exactly the pattern: the VM is alive and its output path works. */
static bool big_output_ok(struct hp_vm *vm, uint64_t n)
{
	struct kt_call c;
	struct kt_args a;
	msgpack_pack_uint64(kt_args_begin(&a, 1), n);
	kt_call(vm, "big_output", &a, &c);
	bool ok = kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_BIN && c.obj.via.bin.size == n;
	for (uint64_t i = 0; ok && i < n; i++)
		ok = (uint8_t)c.obj.via.bin.ptr[i] == pattern_byte(i);
	if (!ok)
		fprintf(stderr, "  big_output(%" PRIu64 "): %s\n", n, kt_describe(&c));
	kt_call_free(&c);
	return ok;
}

#define CHECK_ALIVE(vm, what) CHECK_MSG(big_output_ok(vm, 16), "VM not usable after %s", what)

/* --- names and argument encodings (math) ---------------------------------------------------- */

static void add_ok(struct hp_vm *vm, const char *after)
{
	struct kt_call c;
	kt_call_ii(vm, "add", 20, 22, &c);
	CHECK_MSG(kt_is_i64(&c, 42), "math.add after %s: %s", after, kt_describe(&c));
	kt_call_free(&c);
}

static void raw_args(struct hp_vm *vm, const char *name, const void *args, size_t len,
		     struct kt_call *c)
{
	kt_call_raw(vm, name, strlen(name), args, len, c);
}

/* unknown names: the guest answers, naming the function */
static const struct kt_case near_miss_cases[] = {
	KT_CASE("ADD", KT_NOARGS, KT_IS_STATUS(0, HP_E_NO_SUCH_FUNCTION, "'ADD'")),
	KT_CASE("ad", KT_NOARGS, KT_IS_STATUS(0, HP_E_NO_SUCH_FUNCTION, "'ad'")),
	KT_CASE("addd", KT_NOARGS, KT_IS_STATUS(0, HP_E_NO_SUCH_FUNCTION, "'addd'")),
};

/* Unknown names, a name with a NUL inside, and the limits of a name's length. */
static void bad_names(struct hp_vm *vm)
{
	struct kt_call c;
	struct kt_args a;

	kt_call0(vm, "nope", &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_NO_SUCH_FUNCTION, "nope"));
	CHECK(c.msg && strcmp(c.msg, "no function named 'nope'") == 0);
	kt_call_free(&c);
	add_ok(vm, "an unknown name");
	KT_RUN_CASES(vm, near_miss_cases);
	/* a name with a NUL inside is not "add" */
	kt_args_begin(&a, 0);
	kt_call_raw(vm, "add\0x", 5, a.sb.data, a.sb.size, &c);
	kt_args_free(&a);
	CHECK_CALL(&c, c.rc == 0 && c.status == HP_E_NO_SUCH_FUNCTION);
	kt_call_free(&c);

	/* the longest valid name (127 bytes) reaches the guest; 128 bytes and empty do not */
	char name[HP_FUNCTION_NAME_MAX + 1];
	memset(name, 'z', sizeof(name));
	kt_args_begin(&a, 0);
	kt_call_raw(vm, name, HP_FUNCTION_NAME_MAX - 1, a.sb.data, a.sb.size, &c);
	CHECK_CALL(&c, c.rc == 0 && c.status == HP_E_NO_SUCH_FUNCTION && c.msg &&
			       strlen(c.msg) == strlen("no function named ''") + HP_FUNCTION_NAME_MAX - 1);
	kt_call_free(&c);
	kt_call_raw(vm, name, HP_FUNCTION_NAME_MAX, a.sb.data, a.sb.size, &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_INVALID, "function name must be 1 to 127 bytes"));
	kt_call_free(&c);
	kt_call_raw(vm, name, 100000, a.sb.data, a.sb.size, &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_INVALID, "function name"));
	kt_call_free(&c);
	kt_call_raw(vm, "", 0, a.sb.data, a.sb.size, &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_INVALID, "function name"));
	kt_call_free(&c);
	kt_args_free(&a);
	add_ok(vm, "invalid names");
}

/* Arguments that are not one msgpack array: HP_E_BAD_ARGS from the guest. */
static void bad_encodings(struct hp_vm *vm)
{
	struct kt_call c;
	static const struct {
		const char *what;
		const char *bytes;
		size_t len;
	} bad[] = {
		{ "an int", "\x05", 1 },
		{ "nothing", "", 0 },
		{ "nil", "\xc0", 1 },
		{ "a string", "\xa2hi", 3 },
		{ "a map", "\x81\x01\x02", 3 },
		{ "a truncated array", "\x92\x01", 2 },
		{ "an array and trailing bytes", "\x92\x01\x02\x03", 4 },
		{ "two arrays", "\x90\x90", 2 },
		{ "the never-used byte 0xc1", "\xc1", 1 },
		{ "an array holding 0xc1", "\x91\xc1", 2 },
		{ "a str32 longer than the input", "\x91\xdb\x00\x10\x00\x00zz", 8 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_args(vm, "add", bad[i].bytes, bad[i].len, &c);
		CHECK_MSG(kt_is_status(&c, 0, HP_E_BAD_ARGS, "arguments must be one msgpack array"),
			  "args %s: %s", bad[i].what, kt_describe(&c));
		kt_call_free(&c);
		add_ok(vm, bad[i].what);
	}
	/* 6 bytes claiming 2^32-1 items: msgpack-c sizes the array before reading it, so the guest
	 * reports its heap exhausted (a status, not a crash) */
	raw_args(vm, "add", "\xdd\xff\xff\xff\xff\x01", 6, &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_OUT_OF_MEMORY, "out of memory decoding the arguments"));
	kt_call_free(&c);
	add_ok(vm, "a huge array header");

	/* unknown function wins over bad arguments (the name is looked up first) */
	raw_args(vm, "nope", "\x05", 1, &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_NO_SUCH_FUNCTION, "nope"));
	kt_call_free(&c);
}

/* wrong types and counts: the module's own message, exactly */
static const struct kt_case wrong_arg_cases[] = {
	KT_CASE("add", KT_ARGS(KT_STR("x"), KT_INT(1)),
		KT_IS_MSG(0, HP_E_GUEST_ERROR, "add: argument 1 must be a number, got a string")),
	KT_CASE("add", KT_ARGS(KT_INT(1), KT_RAW("\x80", 1) /* {} */),
		KT_IS_MSG(0, HP_E_GUEST_ERROR, "add: argument 2 must be a number, got a map")),
	KT_CASE("fib", KT_ARGS(KT_BIN("x", 1)),
		KT_IS_MSG(0, HP_E_GUEST_ERROR,
			  "fib: argument 1 must be a non-negative integer, got bytes")),
	KT_CASE("add", KT_ARGS(KT_INT(1)),
		KT_IS_MSG(0, HP_E_GUEST_ERROR, "add: expected 2 arguments, got 1")),
	KT_CASE("fib", KT_ARGS(KT_INT(1), KT_INT(2), KT_INT(3)),
		KT_IS_MSG(0, HP_E_GUEST_ERROR, "fib: expected 1 argument, got 3")),
};

static void test_names_and_args(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "math", NULL);
	struct hp_vm *vm = kt_create_vm(mod, NULL);

	bad_names(vm);
	bad_encodings(vm);
	KT_RUN_CASES(vm, wrong_arg_cases);
	add_ok(vm, "argument errors");

	hp_vm_destroy(vm);
	hp_module_close(mod);
}

/* --- input and output limits (echo, misc) --------------------------------------------------- */

/* echo(bin of n bytes): args are 0x91, bin32 header (5 bytes), body */
static void echo_bin(struct hp_vm *vm, size_t n, struct kt_call *c, uint8_t **body)
{
	struct kt_args a;
	*body = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++)
		(*body)[i] = (uint8_t)(i ^ (i >> 9));
	msgpack_pack_bin_with_body(kt_args_begin(&a, 1), *body, n);
	kt_call(vm, "echo", &a, c);
}

static void test_limits(struct hp_kvm *kvm)
{
	struct hp_module *echo_mod = kt_open_module(kvm, "echo", NULL);
	struct hp_vm *vm = kt_create_vm(echo_mod, NULL);
	struct hp_module_info info, *l = &info;
	hp_module_info(echo_mod, l);
	CHECK_EQ_U64(l->input_size, HP_DEFAULT_INPUT_SIZE);
	CHECK_EQ_U64(l->output_size, HP_DEFAULT_OUTPUT_SIZE);
	struct kt_call c;
	uint8_t *body;

	/* exactly filling the input buffer: name (4) + 0x91 + bin32 header (5) + body */
	size_t fit = (size_t)l->input_size - 4 - 6;
	echo_bin(vm, fit, &c, &body);
	CHECK_CALL(&c, kt_is_bin(&c, body, fit));
	kt_call_free(&c);
	free(body);
	/* one byte more: the host refuses before running anything */
	echo_bin(vm, fit + 1, &c, &body);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_LIMIT, "exceed the input buffer"));
	kt_call_free(&c);
	free(body);
	echo_bin(vm, 8u << 20, &c, &body);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_LIMIT, "exceed the input buffer"));
	kt_call_free(&c);
	free(body);
	echo_bin(vm, 5, &c, &body);
	CHECK_CALL(&c, kt_is_bin(&c, body, 5));
	kt_call_free(&c);
	free(body);
	hp_vm_destroy(vm);
	hp_module_close(echo_mod);

	/* output: misc.big_output at, and just past, the output buffer's size */
	struct hp_module *misc = kt_open_module(kvm, "misc", NULL);
	vm = kt_create_vm(misc, NULL);
	hp_module_info(misc, l);
	uint64_t out_fit = l->output_size - 5; /* bin32 header */
	CHECK(big_output_ok(vm, out_fit));
	struct kt_args a;
	msgpack_pack_uint64(kt_args_begin(&a, 1), out_fit + 1);
	kt_call(vm, "big_output", &a, &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_OUTPUT_OVERFLOW,
				    "'big_output': result does not fit the output buffer"));
	kt_call_free(&c);
	CHECK_ALIVE(vm, "an output overflow");
	msgpack_pack_uint64(kt_args_begin(&a, 1), 3u << 20);
	kt_call(vm, "big_output", &a, &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_OUTPUT_OVERFLOW, "does not fit the output buffer"));
	kt_call_free(&c);
	CHECK_ALIVE(vm, "an output overflow");
	hp_vm_destroy(vm);
	hp_module_close(misc);

	/* a module with small buffers */
	struct hp_module_config cfg = { .input_size = 0x4000, .output_size = 0x2000 };
	misc = kt_open_module(kvm, "misc", &cfg);
	vm = kt_create_vm(misc, NULL);
	CHECK(big_output_ok(vm, 0x2000 - 3)); /* bin16 header: 3 bytes */
	msgpack_pack_uint64(kt_args_begin(&a, 1), 0x2000 - 2);
	kt_call(vm, "big_output", &a, &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_OUTPUT_OVERFLOW, "(8192 bytes)"));
	kt_call_free(&c);
	char s[0x4000];
	memset(s, 'q', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	kt_call_s(vm, "fail", s, &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_LIMIT, "exceed the input buffer"));
	kt_call_free(&c);
	/* a long error message is cut to the ABI's limit, not past the buffer */
	s[3000] = '\0';
	kt_call_s(vm, "fail", s, &c);
	CHECK_CALL(&c, c.rc == 0 && c.status == HP_E_GUEST_ERROR && c.msg &&
			       strlen(c.msg) == HP_ABORT_MSG_MAX - 1 && strncmp(c.msg, "fail: qqq", 9) == 0);
	kt_call_free(&c);
	CHECK_ALIVE(vm, "a long error message");
	hp_vm_destroy(vm);
	hp_module_close(misc);

	/* invalid configurations are refused when the module is opened */
	struct hp_module *bad = NULL;
	struct hp_error err;
	struct hp_module_config bad_cfg = { .input_size = 0x1001 };
	CHECK(hp_module_open(kvm, kt_module_path("misc"), &bad_cfg, &bad, &err) == -1 &&
	      err.code == HP_E_INVALID && strstr(err.message, "input_size"));
	bad_cfg = (struct hp_module_config){ .output_size = HP_OUTPUT_MAX + HP_PAGE_SIZE };
	CHECK(hp_module_open(kvm, kt_module_path("misc"), &bad_cfg, &bad, &err) == -1 &&
	      err.code == HP_E_INVALID && strstr(err.message, "output_size"));
	CHECK(hp_module_open(kvm, "/nonexistent/module.elf", NULL, &bad, &err) == -1 &&
	      err.code != HP_OK && strstr(err.message, "/nonexistent/module.elf"));
}

/* --- guest failures (misc) ----------------------------------------------------------------- */

static void test_guest_failures(struct hp_kvm *kvm)
{
	struct hp_module *mod = kt_open_module(kvm, "misc", NULL);
	struct kt_log log = { 0 };
	struct hp_vm *vm = kt_create_vm(mod, &log);
	struct kt_call c;

	CHECK_ALIVE(vm, "init");

	kt_call_s(vm, "fail", "boom", &c);
	CHECK_CALL(&c, c.rc == 0 && c.status == HP_E_GUEST_ERROR && c.msg &&
			       strcmp(c.msg, "fail: boom") == 0);
	kt_call_free(&c);
	CHECK_ALIVE(vm, "hp_error");
	kt_call_s(vm, "fail", "", &c);
	CHECK_CALL(&c, c.rc == 0 && c.status == HP_E_GUEST_ERROR && c.msg && strcmp(c.msg, "fail: ") == 0);
	kt_call_free(&c);

	kt_call0(vm, "do_abort", &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_ABORT, "abort()"));
	kt_call_free(&c);
	CHECK_ALIVE(vm, "abort()");

	kt_call_i(vm, "do_assert", 0, &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_ABORT, "assertion failed"));
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_ABORT, "v == 1"));
	kt_call_free(&c);
	CHECK_ALIVE(vm, "assert()");
	kt_call_i(vm, "do_assert", 1, &c);
	CHECK_CALL(&c, kt_is_i64(&c, 1));
	kt_call_free(&c);

	kt_call0(vm, "panic", &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_ABORT, "panic: 42"));
	kt_call_free(&c);
	CHECK_ALIVE(vm, "hp_panic()");

	kt_call0(vm, "null_read", &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_FAULT, "page fault"));
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_FAULT, "reading 0x0 "));
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_FAULT, "not mapped"));
	kt_call_free(&c);
	CHECK_ALIVE(vm, "a null read");

	kt_call0(vm, "write_text", &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_FAULT, "page fault writing"));
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_FAULT, "protection violation"));
	kt_call_free(&c);
	CHECK_ALIVE(vm, "a write to text");

	/* stack overflow: far past the 1 MiB stack, caught by the guard page */
	kt_call_i(vm, "recurse", 100000, &c);
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_FAULT, "stack overflow"));
	kt_call_free(&c);
	CHECK_ALIVE(vm, "a stack overflow");

	/* heap exhaustion is an error the module reports (malloc returns NULL) */
	struct kt_args a;
	msgpack_packer *pk = kt_args_begin(&a, 2);
	msgpack_pack_uint64(pk, 64);
	msgpack_pack_uint64(pk, 1u << 20);
	kt_call(vm, "malloc_many", &a, &c);
	CHECK_CALL(&c, kt_is_status(&c, 0, HP_E_GUEST_ERROR, "malloc_many: out of memory at block"));
	kt_call_free(&c);
	CHECK_ALIVE(vm, "heap exhaustion");

	/* every failure in a row, then normal calls: nothing sticks */
	for (int i = 0; i < 20; i++) {
		static const char *const fns[] = { "do_abort", "panic", "null_read", "write_text" };
		kt_call0(vm, fns[i % 4], &c);
		CHECK_MSG(c.rc == -1 && (c.status == HP_E_GUEST_ABORT || c.status == HP_E_GUEST_FAULT),
			  "%s: %s", fns[i % 4], kt_describe(&c));
		kt_call_free(&c);
		CHECK_ALIVE(vm, fns[i % 4]);
	}

	hp_vm_destroy(vm);
	hp_module_close(mod);
	kt_log_free(&log);
}

int main(int argc, char **argv)
{
	kt_parse_args(argc, argv);
	struct hp_kvm *kvm = kt_open_kvm();
	test_names_and_args(kvm);
	test_limits(kvm);
	test_guest_failures(kvm);
	hp_kvm_close(kvm);
	CHECK_DONE();
}
