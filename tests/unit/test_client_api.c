/* test_client_api.c - libhyperpool without a socket: the args helpers build the bytes msgpack
 * says, hpc_unpack refuses what the scanner refuses, codes map to names and back, and the
 * version macros match the library. */
#include "check.h"
#include "hyperpool.h"

static void test_args(void)
{
	struct hpc_args a;
	msgpack_packer *pk = hpc_args_begin(&a, 3);
	CHECK(pk == &a.pk);
	msgpack_pack_int(pk, -1);
	CHECK(hpc_pack_cstr(pk, "hi") == 0);
	msgpack_pack_bin_with_body(pk, "\x00\xff", 2);
	static const uint8_t want[] = "\x93\xff\xa2hi\xc4\x02\x00\xff";
	CHECK_EQ_U64(hpc_args_len(&a), sizeof(want) - 1);
	CHECK(!memcmp(hpc_args_data(&a), want, sizeof(want) - 1));
	hpc_args_free(&a);
	CHECK_EQ_U64(hpc_args_len(&a), 0);
	hpc_args_free(&a); /* twice is harmless */
	hpc_args_begin(&a, 0);
	CHECK_EQ_U64(hpc_args_len(&a), 1);
	CHECK(*(const uint8_t *)hpc_args_data(&a) == 0x90);
	hpc_args_free(&a);
}

static void test_unpack(void)
{
	msgpack_unpacked up;
	struct hpc_error err;
	CHECK(hpc_unpack("\x92\x01\xa1x", 4, &up, &err) == 0);
	CHECK(up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size == 2);
	msgpack_unpacked_destroy(&up);
	/* what msgpack-c would allocate 96 GiB for is refused by the scanner first */
	CHECK(hpc_unpack("\xdd\xff\xff\xff\xff", 5, &up, &err) == -1);
	CHECK(err.code == HP_E_BAD_REQUEST && !strcmp(err.name, "bad_request"));
	CHECK_STR_CONTAINS(err.message, "size limit");
	CHECK(hpc_unpack("\x92\x01", 2, &up, &err) == -1 && err.code == HP_E_BAD_REQUEST);
	CHECK(hpc_unpack("\x01\x02", 2, &up, &err) == -1 && err.code == HP_E_BAD_REQUEST);
	CHECK(hpc_unpack("\xc1", 1, &up, &err) == -1 && err.code == HP_E_BAD_REQUEST);
	CHECK(hpc_unpack(NULL, 0, &up, &err) == -1 && err.code == HP_E_BAD_REQUEST);
	/* the object owns its bytes: the input may go at once */
	uint8_t *buf = malloc(6);
	memcpy(buf, "\x91\xc4\x03" "abc", 6);
	CHECK(hpc_unpack(buf, 6, &up, &err) == 0);
	memset(buf, 0, 6);
	free(buf);
	msgpack_object bin = up.data.via.array.ptr[0];
	CHECK(bin.type == MSGPACK_OBJECT_BIN && bin.via.bin.size == 3 &&
	      !memcmp(bin.via.bin.ptr, "abc", 3));
	msgpack_unpacked_destroy(&up);
	struct hpc_result res = { NULL, 0 };
	CHECK(hpc_result_unpack(&res, &up, &err) == -1);
	hpc_result_free(&res);
	hpc_result_free(NULL);
}

/* Every code of hp_status.h round-trips through its name; unknown ones are HPC_E_UNKNOWN. */
static void test_codes(void)
{
	int known = 0;
	for (int code = 0; code < 256; code++) {
		const char *n = hpc_status_name(code);
		if (!strcmp(n, "unknown"))
			continue;
		known++;
		CHECK_MSG(hpc_status_from_name(n, strlen(n)) == code, "%s", n);
	}
	CHECK_EQ_U64(known, 26); /* worker_lost (55) included */
	CHECK(hpc_status_from_name("guest_error", 11) == HP_E_GUEST_ERROR);
	CHECK(hpc_status_from_name("guest_errorx", 11) == HP_E_GUEST_ERROR); /* len counts */
	CHECK(hpc_status_from_name("guest_erro", 10) == HPC_E_UNKNOWN);
	CHECK(hpc_status_from_name("unknown", 7) == HPC_E_UNKNOWN);
	CHECK(hpc_status_from_name(NULL, 0) == HPC_E_UNKNOWN);
	CHECK(!strcmp(hpc_status_name(HP_E_NO_SUCH_METHOD), "no_such_method"));
}

static void test_connect_errors(void)
{
	struct hpc_error err;
	CHECK(hpc_connect("/nonexistent/hpd.sock", NULL, &err) == NULL);
	CHECK(err.code == HP_E_SYSTEM);
	CHECK_STR_CONTAINS(err.message, "/nonexistent/hpd.sock");
	char longpath[200];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	CHECK(hpc_connect(longpath, NULL, &err) == NULL && err.code == HP_E_INVALID);
	setenv("HYPERPOOL_SOCKET", "/nonexistent/from-env.sock", 1);
	CHECK(hpc_connect(NULL, NULL, &err) == NULL);
	CHECK_STR_CONTAINS(err.message, "from-env.sock");
	setenv("HYPERPOOL_SOCKET", "", 1);
	CHECK(hpc_connect(NULL, NULL, &err) == NULL);
	CHECK_STR_CONTAINS(err.message, "/run/hyperpool/hyperpoold.sock");
	unsetenv("HYPERPOOL_SOCKET");
}

static void test_version(void)
{
	char v[64];
	snprintf(v, sizeof(v), "%d.%d.%d", HYPERPOOL_VERSION_MAJOR, HYPERPOOL_VERSION_MINOR,
		 HYPERPOOL_VERSION_PATCH);
	CHECK(!strcmp(v, HYPERPOOL_VERSION_STRING));
	CHECK(!strcmp(hpc_version(), HYPERPOOL_VERSION_STRING));
}

int main(void)
{
	test_args();
	test_unpack();
	test_codes();
	test_connect_errors();
	test_version();
	CHECK_DONE();
}
