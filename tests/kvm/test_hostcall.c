/* test_hostcall.c - host functions: a guest calls the host through HP_HC_HOST_CALL and gets
 * the embedder's answer; bad answers, limits, hostile requests and re-entry are refused; the
 * built-ins (time, random, log) work; and after every call the VM is back at its snapshot,
 * including the input-buffer pages the answers were written to, with every restore strategy.
 *
 *   test_hostcall --misc misc.elf [...]        exit 77 without /dev/kvm */
#include <time.h>

#include "kvmtest.h"

struct host {
	struct hp_vm *vm;
	unsigned calls;
	int reentry_rc, reentry_code;
};

/* The embedder's host functions for this test. */
static void test_host(void *ctx, struct hp_vm *vm, const char *name, size_t name_len,
		      const uint8_t *args, size_t args_len, struct hp_host_reply *r)
{
	struct host *h = ctx;
	h->calls++;
	if (hp_host_builtin(HP_HOST_TIME | HP_HOST_RANDOM | HP_HOST_LOG, vm, name, name_len, args,
			    args_len, r))
		return;
	char n[64];
	snprintf(n, sizeof(n), "%.*s", (int)name_len, name);
	static uint8_t big[3 << 20];
	if (!strcmp(n, "echo")) { /* returns its args array */
		r->status = HP_OK;
		r->bytes = args;
		r->len = args_len;
	} else if (!strcmp(n, "fail")) {
		static const char msg[] = "the host says no \xff";
		r->status = HP_E_GUEST_ERROR;
		r->bytes = msg;
		r->len = sizeof(msg) - 1;
	} else if (!strcmp(n, "garbage")) {
		static const uint8_t bad[] = { 0x92, 0x01, 0xc1 };
		r->status = HP_OK;
		r->bytes = bad;
		r->len = sizeof(bad);
	} else if (!strcmp(n, "big")) { /* a 3 MiB bin: more than the input buffer holds */
		big[0] = 0xc6;
		uint32_t len = sizeof(big) - 5;
		big[1] = (uint8_t)(len >> 24), big[2] = (uint8_t)(len >> 16), big[3] = (uint8_t)(len >> 8),
		big[4] = (uint8_t)len;
		r->status = HP_OK;
		r->bytes = big;
		r->len = sizeof(big);
	} else if (!strcmp(n, "fill")) { /* a 1 MiB bin of 0xab: pages the restore must put back */
		static uint8_t fill[(1 << 20) + 5];
		uint32_t len = 1 << 20;
		fill[0] = 0xc6;
		fill[1] = (uint8_t)(len >> 24), fill[2] = (uint8_t)(len >> 16), fill[3] = (uint8_t)(len >> 8),
		fill[4] = (uint8_t)len;
		memset(fill + 5, 0xab, len);
		r->status = HP_OK;
		r->bytes = fill;
		r->len = sizeof(fill);
	} else if (!strcmp(n, "reenter")) {
		struct hp_call_result res;
		struct hp_error err;
		h->reentry_rc = hp_vm_call(vm, "counter", 7, "\x90", 1, &res, &err);
		h->reentry_code = err.code;
		r->status = HP_OK;
		r->bytes = "\xc0";
		r->len = 1;
	} else {
		r->status = HP_E_NO_SUCH_FUNCTION;
		r->bytes = "no such host function";
		r->len = strlen(r->bytes);
	}
}

/* misc.host(name, args) -> [status, result or message] */
static void call_host(struct hp_vm *vm, const char *name, const char *args_json_like, struct kt_call *c)
{
	struct kt_args a;
	msgpack_packer *pk = kt_args_begin(&a, 2);
	kt_pack_cstr(pk, name);
	if (!strcmp(args_json_like, "[]")) {
		msgpack_pack_array(pk, 0);
	} else if (!strcmp(args_json_like, "[16]")) {
		msgpack_pack_array(pk, 1);
		msgpack_pack_uint8(pk, 16);
	} else if (!strcmp(args_json_like, "[\"info\", \"hello\"]")) {
		msgpack_pack_array(pk, 2);
		kt_pack_cstr(pk, "info");
		kt_pack_cstr(pk, "hello");
	} else { /* [1, "two", [3]] */
		msgpack_pack_array(pk, 3);
		msgpack_pack_uint8(pk, 1);
		kt_pack_cstr(pk, "two");
		msgpack_pack_array(pk, 1);
		msgpack_pack_uint8(pk, 3);
	}
	kt_call(vm, "host", &a, c);
}

static bool answer_is(const struct kt_call *c, int status)
{
	return kt_ok(c) && c->obj.type == MSGPACK_OBJECT_ARRAY && c->obj.via.array.size == 2 &&
	       c->obj.via.array.ptr[0].via.i64 == status;
}

static const msgpack_object *answer(const struct kt_call *c)
{
	return &c->obj.via.array.ptr[1];
}

static bool str_is(const msgpack_object *o, const char *s)
{
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	       !memcmp(o->via.str.ptr, s, o->via.str.size);
}

static void check_counter(struct hp_vm *vm, const char *after)
{
	struct kt_call c;
	kt_call0(vm, "counter", &c);
	CHECK_MSG(kt_is_i64(&c, 1), "the call after %s: %s", after, kt_describe(&c));
	kt_call_free(&c);
}

static void test_answers(struct hp_vm *vm, struct host *h)
{
	struct kt_call c;
	call_host(vm, "echo", "[1, \"two\", [3]]", &c);
	CHECK_CALL(&c, answer_is(&c, HP_OK) && answer(&c)->type == MSGPACK_OBJECT_ARRAY &&
			       answer(&c)->via.array.size == 3 && str_is(&answer(&c)->via.array.ptr[1], "two"));
	kt_call_free(&c);
	call_host(vm, "fail", "[]", &c);
	CHECK_CALL(&c, answer_is(&c, HP_E_GUEST_ERROR) && str_is(answer(&c), "the host says no \xef\xbf\xbd"));
	kt_call_free(&c);
	call_host(vm, "nope", "[]", &c);
	CHECK_CALL(&c, answer_is(&c, HP_E_NO_SUCH_FUNCTION));
	kt_call_free(&c);
	call_host(vm, "garbage", "[]", &c);
	CHECK_CALL(&c, answer_is(&c, HP_E_INVALID) && answer(&c)->type == MSGPACK_OBJECT_STR &&
			       memmem(answer(&c)->via.str.ptr, answer(&c)->via.str.size, "0xc1", 4));
	kt_call_free(&c);
	call_host(vm, "big", "[]", &c);
	CHECK_CALL(&c, answer_is(&c, HP_E_LIMIT) &&
			       memmem(answer(&c)->via.str.ptr, answer(&c)->via.str.size, "does not fit", 12));
	kt_call_free(&c);
	call_host(vm, "reenter", "[]", &c);
	CHECK_CALL(&c, answer_is(&c, HP_OK));
	CHECK_MSG(h->reentry_rc == -1 && h->reentry_code == HP_E_INVALID,
		  "a host function calling into its VM is refused (rc %d code %d)", h->reentry_rc,
		  h->reentry_code);
	kt_call_free(&c);
	check_counter(vm, "the answers");
}

static void test_builtins(struct hp_vm *vm, struct kt_log *log)
{
	struct kt_call c;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t before = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	call_host(vm, "time", "[]", &c);
	CHECK_CALL(&c, answer_is(&c, HP_OK) && answer(&c)->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
			       answer(&c)->via.u64 >= before && answer(&c)->via.u64 < before + 60000000000ull);
	kt_call_free(&c);
	call_host(vm, "random", "[16]", &c);
	CHECK_CALL(&c, answer_is(&c, HP_OK) && answer(&c)->type == MSGPACK_OBJECT_BIN &&
			       answer(&c)->via.bin.size == 16);
	kt_call_free(&c);
	call_host(vm, "time", "[16]", &c);
	CHECK_CALL(&c, answer_is(&c, HP_E_BAD_ARGS));
	kt_call_free(&c);
	kt_log_clear(log);
	call_host(vm, "log", "[\"info\", \"hello\"]", &c);
	CHECK_CALL(&c, answer_is(&c, HP_OK) && answer(&c)->type == MSGPACK_OBJECT_NIL);
	kt_call_free(&c);
	bool seen = false;
	for (size_t i = 0; i < log->n; i++)
		seen |= log->chunks[i].stream == HP_LOG_STDERR &&
			memmem(log->chunks[i].bytes, log->chunks[i].len, "[info] hello\n", 13);
	CHECK_MSG(seen, "the log built-in wrote \"[info] hello\" to the VM's log");
	struct kt_args a;
	msgpack_pack_uint64(kt_args_begin(&a, 1), 50);
	kt_call(vm, "host_many", &a, &c);
	CHECK_CALL(&c, kt_is_u64(&c, 50));
	kt_call_free(&c);
	check_counter(vm, "the built-ins");
}

static void test_hostile(struct hp_vm *vm)
{
	static const struct {
		const char *fn;
		int code;
		const char *needle;
	} cases[] = {
		{ "host_bad_addr", HP_E_GUEST_PROTOCOL, "is not in the module's memory" },
		{ "host_huge", HP_E_LIMIT, "host call request of 4294967280 bytes" },
		{ "host_garbage", HP_E_GUEST_PROTOCOL, "not one valid msgpack object" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kt_call c;
		kt_call0(vm, cases[i].fn, &c);
		CHECK_MSG(kt_is_status(&c, -1, cases[i].code, cases[i].needle), "%s: %s", cases[i].fn,
			  kt_describe(&c));
		kt_call_free(&c);
		check_counter(vm, cases[i].fn);
	}
	struct kt_call c;
	struct kt_args a;
	msgpack_pack_uint64(kt_args_begin(&a, 1), 1001);
	kt_call(vm, "host_many", &a, &c); /* one more than HP_DEFAULT_MAX_HOST_CALLS */
	CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_LIMIT, "more than 1000 host calls"));
	kt_call_free(&c);
	check_counter(vm, "a host-call storm");
}

/* An answer of 1 MiB goes into the input buffer: the next call must find it as the snapshot
 * has it (zeros), with every restore strategy. */
static void test_restore(struct hp_module *mod)
{
	for (int s = HP_RESTORE_AUTO + 1; s < HP_RESTORE_STRATEGIES; s++) {
		struct hp_vm *vm;
		struct hp_error err;
		if (hp_vm_create_with(mod, s, NULL, NULL, &vm, &err) < 0) {
			CHECK_MSG(0, "hp_vm_create_with(%s): %s", hp_restore_strategy_name(s), err.message);
			continue;
		}
		struct host h = { .vm = vm };
		hp_vm_set_host(vm, test_host, &h);
		struct kt_call c;
		call_host(vm, "fill", "[]", &c);
		CHECK_CALL(&c, answer_is(&c, HP_OK) && answer(&c)->type == MSGPACK_OBJECT_BIN &&
				       answer(&c)->via.bin.size == 1u << 20 &&
				       ((const uint8_t *)answer(&c)->via.bin.ptr)[12345] == 0xab);
		kt_call_free(&c);
		struct kt_args a;
		msgpack_packer *pk = kt_args_begin(&a, 2);
		msgpack_pack_uint64(pk, 64 << 10); /* well inside where the answer was */
		msgpack_pack_uint64(pk, 64);
		kt_call(vm, "peek_input", &a, &c);
		static const uint8_t zeros[64];
		CHECK_MSG(kt_is_bin(&c, zeros, sizeof(zeros)), "%s: the answer's pages were put back: %s",
			  hp_restore_strategy_name(s), kt_describe(&c));
		kt_call_free(&c);
		hp_vm_destroy(vm);
	}
}

int main(int argc, char **argv)
{
	kt_parse_args(argc, argv);
	struct hp_kvm *kvm = kt_open_kvm();
	struct hp_module *mod = kt_open_module(kvm, "misc", NULL);
	struct kt_log log = { 0 };
	struct hp_vm *vm = kt_create_vm(mod, &log);
	struct host h = { .vm = vm };

	/* no host functions offered: the guest is told so and goes on */
	struct kt_call c;
	call_host(vm, "time", "[]", &c);
	CHECK_CALL(&c, answer_is(&c, HP_E_NO_SUCH_FUNCTION) && str_is(answer(&c), "no host functions are offered to this module"));
	kt_call_free(&c);

	hp_vm_set_host(vm, test_host, &h);
	test_answers(vm, &h);
	test_builtins(vm, &log);
	test_hostile(vm);
	CHECK(h.calls > 50);
	hp_vm_destroy(vm);
	test_restore(mod);
	kt_log_free(&log);
	hp_module_close(mod);
	hp_kvm_close(kvm);
	CHECK_DONE();
}
