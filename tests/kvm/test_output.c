/* test_output.c - what the host accepts as a call's result, through real VMs. misc.raw_result
 * writes crafted bytes straight into the output buffer and ends the call with status OK: each
 * malformed result must be HP_E_GUEST_PROTOCOL with the scanner's reason and offset, error and
 * abort messages must come back as valid UTF-8 (exact bytes), and after each the same cloned
 * VM must answer normal calls correctly.
 *
 *   test_output --misc misc.elf [...]        exit 77 without /dev/kvm */
#include "kvmtest.h"

#define FFFD "\xef\xbf\xbd"
#define NOT_ONE "guest result is not one valid msgpack object: "

static const struct {
	const char *name;
	const char *message;
} refused[] = {
	{ "two_objects", NOT_ONE "bytes after the object at offset 1" },
	{ "truncated", NOT_ONE "truncated at offset 2" },
	{ "huge_array", NOT_ONE "count exceeds the size limit at offset 0" },
	{ "huge_str", NOT_ONE "length exceeds the size limit at offset 0" },
	{ "deep", NOT_ONE "nesting too deep at offset 32" },
	{ "deep33", NOT_ONE "nesting too deep at offset 32" },
	{ "bad_utf8", NOT_ONE "invalid UTF-8 in a str at offset 2" },
	{ "ext", NOT_ONE "ext not allowed at offset 0" },
};

/* Normal calls: counter() is 1 when the VM was put back to its snapshot, and a valid raw
 * result passes unchanged. */
static void check_alive(struct hp_vm *vm, const char *after)
{
	struct kt_call c;
	kt_call0(vm, "counter", &c);
	CHECK_MSG(kt_is_i64(&c, 1), "counter after %s: %s", after, kt_describe(&c));
	kt_call_free(&c);
	kt_call_s(vm, "raw_result", "valid", &c);
	CHECK_MSG(kt_output_is(&c, "\x92\x01\xa2\xc3\xa9", 5), "valid raw result after %s: %s",
		  after, kt_describe(&c));
	kt_call_free(&c);
}

static void test_refused(struct hp_vm *vm)
{
	struct kt_call c;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		kt_call_s(vm, "raw_result", refused[i].name, &c);
		CHECK_MSG(c.rc == -1 && c.status == HP_E_GUEST_PROTOCOL && c.msg &&
				  strcmp(c.msg, refused[i].message) == 0,
			  "raw_result(%s): %s", refused[i].name, kt_describe(&c));
		kt_call_free(&c);
		check_alive(vm, refused[i].name);
	}
	/* the deepest result the host passes on: 32 levels (HP_MP_VALUE_DEPTH), as deep as
	 * msgpack-c, which callers unpack with, goes */
	kt_call_s(vm, "raw_result", "deep32", &c);
	CHECK_CALL(&c, c.rc == 0 && c.status == HP_OK && c.output_len == 33 &&
			       c.output[0] == 0x91 && c.output[31] == 0x91 && c.output[32] == 0xc0);
	kt_call_free(&c);
	check_alive(vm, "a 32-level result");
}

static void test_messages(struct hp_vm *vm)
{
	struct kt_call c;
	/* an error message: each byte that is not UTF-8 becomes U+FFFD */
	static const char want[] = "bad " FFFD FFFD " end " FFFD FFFD;
	kt_call0(vm, "bad_message", &c);
	CHECK_CALL(&c, c.rc == 0 && c.status == HP_E_GUEST_ERROR &&
			       c.output_len == sizeof(want) - 1 &&
			       memcmp(c.output, want, sizeof(want) - 1) == 0 &&
			       c.output[c.output_len] == '\0');
	kt_call_free(&c);
	check_alive(vm, "an invalid UTF-8 error message");

	/* an abort message: UTF-8 passes, a bad byte becomes U+FFFD, ESC becomes '?' */
	kt_call0(vm, "bad_panic", &c);
	CHECK_CALL(&c, c.rc == -1 && c.status == HP_E_GUEST_ABORT && c.msg &&
			       strcmp(c.msg, "guest aborted: caf\xc3\xa9 " FFFD " ?[0m") == 0);
	kt_call_free(&c);
	check_alive(vm, "an abort message with a bad byte");
}

int main(int argc, char **argv)
{
	kt_parse_args(argc, argv);
	struct hp_kvm *kvm = kt_open_kvm();
	struct hp_module *mod = kt_open_module(kvm, "misc", NULL);
	struct hp_vm *vm = kt_create_vm(mod, NULL);
	check_alive(vm, "init");
	test_refused(vm);
	test_messages(vm);
	/* everything again in a row, on the same VM */
	test_refused(vm);
	hp_vm_destroy(vm);
	hp_module_close(mod);
	hp_kvm_close(kvm);
	CHECK_DONE();
}
