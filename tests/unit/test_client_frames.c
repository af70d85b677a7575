/* test_client_frames.c - libhyperpool's reader against crafted byte streams, no daemon: the
 * test holds the other end of a socketpair and plays a (sometimes lying) daemon. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "hp_mpscan.h"
#include "hyperpool.h"

/* --- what the callbacks saw ---------------------------------------------------------------- */

#define MAXREC 64

struct rec {
	int n;
	uint32_t msgid[MAXREC];
	int code[MAXREC];           /* HP_OK for a result */
	char name[MAXREC][HPC_ERROR_NAME_MAX];
	char msg[MAXREC][HPC_ERROR_MSG_MAX];
	int64_t value[MAXREC];      /* an integer result */
	size_t len[MAXREC];         /* the result's length */
	void *ctx[MAXREC];
};

static void record(struct hpc_conn *c, uint32_t msgid, struct hpc_result *res,
		   const struct hpc_error *err, void *ctx)
{
	(void)c;
	struct rec *r = *(struct rec **)ctx;
	if (r->n >= MAXREC)
		return;
	int i = r->n++;
	r->msgid[i] = msgid;
	r->ctx[i] = ctx;
	r->code[i] = err ? err->code : HP_OK;
	snprintf(r->name[i], sizeof(r->name[i]), "%s", err ? err->name : "");
	snprintf(r->msg[i], sizeof(r->msg[i]), "%s", err ? err->message : "");
	CHECK((res == NULL) != (err == NULL));
	if (!res)
		return;
	r->len[i] = res->len;
	msgpack_unpacked up;
	if (hpc_result_unpack(res, &up, NULL) == 0) {
		if (up.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			r->value[i] = (int64_t)up.data.via.u64;
		msgpack_unpacked_destroy(&up);
	}
	hpc_result_free(res);
}

/* --- the fake daemon's side ---------------------------------------------------------------- */

struct pair {
	struct hpc_conn *c;
	int peer;
	struct rec rec;
	struct rec *recp; /* what every call's ctx points to */
};

static void pair_open(struct pair *p, size_t max_frame)
{
	int sv[2];
	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	struct hpc_conn_opts o = { max_frame };
	struct hpc_error err;
	p->c = hpc_conn_from_fd(sv[0], &o, &err);
	CHECK(p->c != NULL);
	p->peer = sv[1];
	p->recp = &p->rec;
}

static void pair_close(struct pair *p)
{
	hpc_close(p->c);
	if (p->peer >= 0)
		close(p->peer);
}

/* Queues math.add(1, 2); returns its msgid. */
static uint32_t queue_call(struct pair *p)
{
	struct hpc_args a;
	msgpack_packer *pk = hpc_args_begin(&a, 2);
	msgpack_pack_int(pk, 1);
	msgpack_pack_int(pk, 2);
	struct hpc_error err;
	int64_t id = hpc_call_async(p->c, "math", "add", hpc_args_data(&a), hpc_args_len(&a), NULL,
				    record, &p->recp, &err);
	hpc_args_free(&a);
	CHECK_MSG(id >= 0, "%s", err.message);
	return (uint32_t)id;
}

static int pump(struct pair *p, struct hpc_error *err)
{
	return hpc_process(p->c, true, true, err);
}

static void peer_send(struct pair *p, const void *b, size_t len)
{
	CHECK(write(p->peer, b, len) == (ssize_t)len);
}

/* Reads what the client sent (non-blocking: what is there now). */
static size_t peer_read(struct pair *p, uint8_t *buf, size_t max)
{
	size_t n = 0;
	while (n < max) {
		ssize_t r = recv(p->peer, buf + n, max - n, MSG_DONTWAIT);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	return n;
}

/* The msgids of the requests the client sent (each checked to be [0, id, method, array]). */
static int peer_requests(struct pair *p, uint32_t *ids, int max, const char *method)
{
	uint8_t buf[1 << 16];
	size_t len = peer_read(p, buf, sizeof(buf)), off = 0;
	int n = 0;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	while (n < max && msgpack_unpack_next(&up, (const char *)buf, len, &off) == MSGPACK_UNPACK_SUCCESS) {
		msgpack_object o = up.data;
		CHECK(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 4);
		if (o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 4)
			break;
		msgpack_object *e = o.via.array.ptr;
		CHECK(e[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER && e[0].via.u64 == 0);
		CHECK(e[2].type == MSGPACK_OBJECT_STR && e[2].via.str.size == strlen(method) &&
		      !memcmp(e[2].via.str.ptr, method, strlen(method)));
		CHECK(e[3].type == MSGPACK_OBJECT_ARRAY);
		ids[n++] = (uint32_t)e[1].via.u64;
	}
	msgpack_unpacked_destroy(&up);
	return n;
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* [1, msgid, nil, value] */
static void send_ok(struct pair *p, uint32_t msgid, uint64_t value)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint32(&pk, msgid);
	msgpack_pack_nil(&pk);
	msgpack_pack_uint64(&pk, value);
	peer_send(p, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* [1, msgid, {"code": code, "message": msg}, nil] */
static void send_err(struct pair *p, uint32_t msgid, const char *code, const char *msg)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint32(&pk, msgid);
	msgpack_pack_map(&pk, 2);
	pack_cstr(&pk, "code");
	pack_cstr(&pk, code);
	pack_cstr(&pk, "message");
	pack_cstr(&pk, msg);
	msgpack_pack_nil(&pk);
	peer_send(p, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* --- the tests ----------------------------------------------------------------------------- */

static void test_out_of_order(void)
{
	struct pair p;
	pair_open(&p, 0);
	uint32_t a = queue_call(&p), b = queue_call(&p), c = queue_call(&p);
	CHECK(a != b && b != c && a != c);
	CHECK(hpc_wants_write(p.c));
	CHECK_EQ_U64(hpc_pending(p.c), 3);
	CHECK(pump(&p, NULL) == 0);
	CHECK(!hpc_wants_write(p.c));
	uint32_t ids[8];
	CHECK_EQ_U64(peer_requests(&p, ids, 8, "call"), 3);
	CHECK(ids[0] == a && ids[1] == b && ids[2] == c);
	send_ok(&p, c, 30);
	send_ok(&p, a, 10);
	send_ok(&p, b, 20);
	CHECK(pump(&p, NULL) == 0);
	CHECK_EQ_U64(p.rec.n, 3);
	CHECK(p.rec.msgid[0] == c && p.rec.value[0] == 30);
	CHECK(p.rec.msgid[1] == a && p.rec.value[1] == 10);
	CHECK(p.rec.msgid[2] == b && p.rec.value[2] == 20);
	CHECK(p.rec.code[0] == HP_OK && p.rec.code[1] == HP_OK && p.rec.code[2] == HP_OK);
	CHECK_EQ_U64(hpc_pending(p.c), 0);
	CHECK(!hpc_broken(p.c, NULL));
	pair_close(&p);
}

/* A response with a 300-byte str (str16 header) and a map, fed one byte per process. */
static void test_byte_by_byte(void)
{
	struct pair p;
	pair_open(&p, 0);
	uint32_t id = queue_call(&p);
	CHECK(pump(&p, NULL) == 0);
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint32(&pk, id);
	msgpack_pack_nil(&pk);
	msgpack_pack_map(&pk, 1);
	pack_cstr(&pk, "s");
	char s[300];
	memset(s, 'x', sizeof(s));
	msgpack_pack_str_with_body(&pk, s, sizeof(s));
	for (size_t i = 0; i < sb.size; i++) {
		CHECK(p.rec.n == 0);
		peer_send(&p, sb.data + i, 1);
		CHECK(pump(&p, NULL) == 0);
	}
	CHECK_EQ_U64(p.rec.n, 1);
	CHECK(p.rec.code[0] == HP_OK && p.rec.msgid[0] == id);
	CHECK_EQ_U64(p.rec.len[0], 1 + 2 + 3 + sizeof(s));
	msgpack_sbuffer_destroy(&sb);
	pair_close(&p);
}

/* The connection is broken with `code`: the pending calls failed with it, new ones fail at
 * once, process keeps saying so. */
static void check_broken(struct pair *p, int code, int pending_before)
{
	struct hpc_error err;
	CHECK(pump(p, &err) < 0);
	CHECK_MSG(err.code == code, "code %d (%s: %s), expected %d", err.code, err.name,
		  err.message, code);
	CHECK(hpc_broken(p->c, NULL));
	CHECK_EQ_U64(p->rec.n, pending_before);
	for (int i = 0; i < p->rec.n; i++)
		CHECK(p->rec.code[i] == code);
	CHECK_EQ_U64(hpc_pending(p->c), 0);
	struct hpc_args a;
	hpc_args_begin(&a, 0);
	struct hpc_error err2;
	CHECK(hpc_call_async(p->c, "m", "f", hpc_args_data(&a), hpc_args_len(&a), NULL, record,
			     &p->recp, &err2) == -1);
	CHECK(err2.code == code);
	struct hpc_result res;
	CHECK(hpc_call(p->c, "m", "f", hpc_args_data(&a), hpc_args_len(&a), NULL, &res, &err2) == -1);
	CHECK(err2.code == code && res.data == NULL);
	hpc_args_free(&a);
	CHECK(!hpc_wants_write(p->c));
	CHECK(pump(p, &err2) < 0 && err2.code == code);
	CHECK_EQ_U64(p->rec.n, pending_before);
}

/* Bytes the daemon sends after two calls were queued, and the code they must break with. */
static void broken_by(const char *what, const void *bytes, size_t len, int code)
{
	fprintf(stderr, "-- %s\n", what);
	struct pair p;
	pair_open(&p, 1u << 20);
	queue_call(&p);
	queue_call(&p);
	CHECK(pump(&p, NULL) == 0);
	if (bytes) {
		peer_send(&p, bytes, len);
	} else {
		close(p.peer);
		p.peer = -1;
	}
	check_broken(&p, code, 2);
	pair_close(&p);
}

#define BYTES(lit) (lit), sizeof(lit) - 1

static void test_hostile_streams(void)
{
	broken_by("a 4 GiB array header", BYTES("\xdd\xff\xff\xff\xff"), HP_E_TOO_LARGE);
	broken_by("a 4 GiB str as a result", BYTES("\x94\x01\x01\xc0\xdb\xff\xff\xff\xff"),
		  HP_E_TOO_LARGE);
	broken_by("garbage (0xc1)", BYTES("\xc1\x00\x00"), HP_E_BAD_REQUEST);
	broken_by("too deep", BYTES("\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
				    "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
				    "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
				    "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
				    "\x91"), HP_E_BAD_REQUEST);
	broken_by("a str, not a frame", BYTES("\xa3" "abc"), HP_E_BAD_REQUEST);
	broken_by("an array of 5", BYTES("\x95\x01\x01\xc0\xc0\xc0"), HP_E_BAD_REQUEST);
	broken_by("type 7", BYTES("\x94\x07\x01\xc0\xc0"), HP_E_BAD_REQUEST);
	broken_by("unknown msgid", BYTES("\x94\x01\xcd\x30\x39\xc0\x01"), HP_E_BAD_REQUEST);
	broken_by("msgid not an int", BYTES("\x94\x01\xa1" "1\xc0\x01"), HP_E_BAD_REQUEST);
	broken_by("msgid over 32 bits", BYTES("\x94\x01\xcf\x00\x00\x00\x01\x00\x00\x00\x01\xc0\x01"),
		  HP_E_BAD_REQUEST);
	broken_by("error an int", BYTES("\x94\x01\x01\x05\xc0"), HP_E_BAD_REQUEST);
	broken_by("error map without code", BYTES("\x94\x01\x01\x81\xa1x\x01\xc0"), HP_E_BAD_REQUEST);
	broken_by("error code an int", BYTES("\x94\x01\x01\x81\xa4" "code\x01\xc0"), HP_E_BAD_REQUEST);
	/* found by fuzz_client_frames: a code name with a NUL reached callers as an empty name */
	broken_by("error code with a NUL", BYTES("\x94\x01\x01\x81\xa4" "code\xa2\x00x\xc0"),
		  HP_E_BAD_REQUEST);
	broken_by("error code empty", BYTES("\x94\x01\x01\x81\xa4" "code\xa0\xc0"), HP_E_BAD_REQUEST);
	broken_by("error code with a space", BYTES("\x94\x01\x01\x81\xa4" "code\xa3" "a b\xc0"),
		  HP_E_BAD_REQUEST);
	broken_by("a request without params", BYTES("\x94\x00\x01\xa1x\xc0"), HP_E_BAD_REQUEST);
	broken_by("the daemon hangs up", NULL, 0, HP_E_SYSTEM);
	/* the 1 MiB frame limit of broken_by: a 2 MiB bin is refused from its header */
	broken_by("over max_frame", BYTES("\x94\x01\x01\xc0\xc6\x00\x20\x00\x00"), HP_E_TOO_LARGE);
}

static void test_hangup_mid_frame(void)
{
	struct pair p;
	pair_open(&p, 0);
	queue_call(&p);
	CHECK(pump(&p, NULL) == 0);
	peer_send(&p, BYTES("\x94\x01"));
	CHECK(pump(&p, NULL) == 0);
	close(p.peer);
	p.peer = -1;
	check_broken(&p, HP_E_SYSTEM, 1);
	CHECK_STR_CONTAINS(p.rec.msg[0], "closed");
	pair_close(&p);
}

static void test_error_responses(void)
{
	struct pair p;
	pair_open(&p, 0);
	uint32_t a = queue_call(&p), b = queue_call(&p), c = queue_call(&p), d = queue_call(&p);
	CHECK(pump(&p, NULL) == 0);
	send_err(&p, a, "guest_error", "add: integer overflow");
	send_err(&p, b, "future_code", "from a newer daemon");
	send_err(&p, c, "timeout", "bad \xff utf-8");
	/* extra keys in the error map are skipped */
	peer_send(&p, BYTES("\x94\x01"));
	uint8_t id = (uint8_t)d;
	peer_send(&p, &id, 1);
	peer_send(&p, BYTES("\x83\xa4" "code\xa4" "busy\xa5" "extra\x92\x01\x02\xa7" "message\xa1m\xc0"));
	CHECK(pump(&p, NULL) == 0);
	CHECK_EQ_U64(p.rec.n, 4);
	CHECK(p.rec.code[0] == HP_E_GUEST_ERROR);
	CHECK(!strcmp(p.rec.name[0], "guest_error"));
	CHECK(!strcmp(p.rec.msg[0], "add: integer overflow"));
	CHECK(p.rec.code[1] == HPC_E_UNKNOWN);
	CHECK(!strcmp(p.rec.name[1], "future_code"));
	CHECK(p.rec.code[2] == HP_E_TIMEOUT);
	CHECK(!strcmp(p.rec.msg[2], "bad \xef\xbf\xbd utf-8"));
	CHECK(p.rec.code[3] == HP_E_BUSY && !strcmp(p.rec.msg[3], "m"));
	CHECK(!hpc_broken(p.c, NULL));
	pair_close(&p);
}

/* Values are at most HP_MP_VALUE_DEPTH deep, where msgpack-c stops: a 32-deep result is
 * delivered and unpacks; a 33-deep one (found by fuzz_client_frames: it was delivered and then
 * failed in hpc_result_unpack) fails its own call, and the connection goes on. */
static void test_deep_results(void)
{
	struct pair p;
	pair_open(&p, 0);
	uint32_t ids[2] = { queue_call(&p), queue_call(&p) };
	CHECK(pump(&p, NULL) == 0);
	for (int i = 0; i < 2; i++) {
		uint8_t frame[64] = { 0x94, 0x01, (uint8_t)ids[i], 0xc0 };
		size_t levels = HP_MP_VALUE_DEPTH + (size_t)i, n = 4;
		memset(frame + n, 0x91, levels - 1);
		n += levels - 1;
		frame[n++] = 0x90; /* the innermost: an empty array, a level too */
		peer_send(&p, frame, n);
	}
	CHECK(pump(&p, NULL) == 0);
	CHECK_EQ_U64(p.rec.n, 2);
	CHECK(p.rec.code[0] == HP_OK && p.rec.len[0] == HP_MP_VALUE_DEPTH);
	CHECK(p.rec.code[1] == HP_E_BAD_REQUEST);
	CHECK_STR_CONTAINS(p.rec.msg[1], "at most 32 levels");
	CHECK(!hpc_broken(p.c, NULL));
	pair_close(&p);
}

/* A request from the daemon gets no_such_method, the connection goes on; a notification is
 * ignored. */
static void test_daemon_request(void)
{
	struct pair p;
	pair_open(&p, 0);
	peer_send(&p, BYTES("\x94\x00\x07\xa9" "host.echo\x91\x01"));
	peer_send(&p, BYTES("\x93\x02\xa4" "note\x90"));
	CHECK(pump(&p, NULL) == 0);
	CHECK(!hpc_broken(p.c, NULL));
	uint8_t buf[512];
	size_t n = peer_read(&p, buf, sizeof(buf));
	msgpack_unpacked up;
	CHECK(hpc_unpack(buf, n, &up, NULL) == 0);
	msgpack_object o = up.data;
	CHECK(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 4);
	if (o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 4) {
		msgpack_object *e = o.via.array.ptr;
		CHECK(e[0].via.u64 == 1 && e[1].via.u64 == 7);
		CHECK(e[3].type == MSGPACK_OBJECT_NIL);
		CHECK(e[2].type == MSGPACK_OBJECT_MAP && e[2].via.map.size == 2);
		if (e[2].type == MSGPACK_OBJECT_MAP && e[2].via.map.size == 2) {
			msgpack_object_kv *kv = e[2].via.map.ptr;
			CHECK(kv[0].val.type == MSGPACK_OBJECT_STR &&
			      kv[0].val.via.str.size == strlen("no_such_method") &&
			      !memcmp(kv[0].val.via.str.ptr, "no_such_method", 14));
			char m[256] = "";
			if (kv[1].val.type == MSGPACK_OBJECT_STR && kv[1].val.via.str.size < sizeof(m))
				memcpy(m, kv[1].val.via.str.ptr, kv[1].val.via.str.size);
			CHECK_STR_CONTAINS(m, "host.echo");
		}
		msgpack_unpacked_destroy(&up);
	}
	/* and calls still work */
	uint32_t id = queue_call(&p);
	CHECK(pump(&p, NULL) == 0);
	send_ok(&p, id, 3);
	CHECK(pump(&p, NULL) == 0);
	CHECK(p.rec.n == 1 && p.rec.value[0] == 3);
	pair_close(&p);
}

static void count_and_answer_nil(struct hpc_conn *c, const uint8_t *args, size_t args_len,
				 struct hpc_answer *answer, void *ctx)
{
	(void)c, (void)args, (void)args_len;
	++*(int *)ctx;
	answer->status = HP_OK;
	answer->bytes = "\xc0";
	answer->len = 1;
}

/* A daemon's request whose params are deeper than a value may be (found by
 * fuzz_client_frames: the function's echo of them made a response msgpack-c cannot unpack) is
 * answered bad_request without calling the function; 32 levels reach it. */
static void test_deep_request(void)
{
	struct pair p;
	pair_open(&p, 0);
	int calls = 0;
	CHECK(hpc_provide(p.c, "f", count_and_answer_nil, &calls, NULL) == 0);
	for (size_t levels = HP_MP_VALUE_DEPTH; levels <= HP_MP_VALUE_DEPTH + 1; levels++) {
		uint8_t frame[64] = { 0x94, 0x00, (uint8_t)levels, 0xa1, 'f' };
		size_t n = 5;
		memset(frame + n, 0x91, levels - 1); /* params, then arrays inside */
		n += levels - 1;
		frame[n++] = 0x90;
		peer_send(&p, frame, n);
		CHECK(pump(&p, NULL) == 0);
		uint8_t buf[512];
		size_t got = peer_read(&p, buf, sizeof(buf));
		bool is_error = got > 4 && buf[3] != 0xc0; /* [1, id, error, result] */
		CHECK_MSG(got > 3 && buf[0] == 0x94 && buf[1] == 0x01 && buf[2] == levels, "%zu levels", levels);
		CHECK_MSG(is_error == (levels > HP_MP_VALUE_DEPTH), "%zu levels: error %d", levels, is_error);
		if (is_error)
			CHECK(memmem(buf, got, "bad_request", 11) != NULL);
	}
	CHECK(calls == 1);
	CHECK(!hpc_broken(p.c, NULL));
	pair_close(&p);
}

static void test_close_with_pending(void)
{
	struct pair p;
	pair_open(&p, 0);
	queue_call(&p);
	queue_call(&p);
	struct rec *r = &p.rec;
	hpc_close(p.c);
	p.c = NULL;
	CHECK_EQ_U64(r->n, 2);
	CHECK(r->code[0] == HP_E_CANCELLED && r->code[1] == HP_E_CANCELLED);
	pair_close(&p);
}

/* The sync call: answered (the answer written before the call: msgids are sequential), and
 * timed out locally (its late answer then dropped without harm). */
static void test_sync(void)
{
	struct pair p;
	pair_open(&p, 0);
	struct hpc_result res;
	struct hpc_error err;
	CHECK(hpc_ping(p.c, 50, &res, &err) == -1 && err.code == HP_E_TIMEOUT); /* msgid 1 */
	CHECK_EQ_U64(hpc_pending(p.c), 0);
	send_ok(&p, 1, 5); /* late: dropped */
	send_ok(&p, 2, 42);
	struct hpc_args a;
	msgpack_pack_int(hpc_args_begin(&a, 1), 1);
	struct hpc_call_opts o = { 1000, 0 };
	CHECK(hpc_call(p.c, "math", "fib", hpc_args_data(&a), hpc_args_len(&a), &o, &res, &err) == 0);
	msgpack_unpacked up;
	CHECK(hpc_result_unpack(&res, &up, &err) == 0);
	CHECK(up.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER && up.data.via.u64 == 42);
	msgpack_unpacked_destroy(&up);
	hpc_result_free(&res);
	CHECK(res.data == NULL);
	uint8_t sent[512];
	CHECK(peer_read(&p, sent, sizeof(sent)) > 0); /* the ping and the call */
	send_err(&p, 3, "no_such_module", "no module 'x'");
	CHECK(hpc_call(p.c, "x", "f", hpc_args_data(&a), hpc_args_len(&a), NULL, &res, &err) == -1);
	CHECK(err.code == HP_E_NO_SUCH_MODULE && !strcmp(err.message, "no module 'x'"));
	/* bad arguments never reach the socket */
	CHECK(hpc_call(p.c, "m", "f", "\x01", 1, NULL, &res, &err) == -1 && err.code == HP_E_INVALID);
	CHECK(hpc_call(p.c, "m", "f", "\x90\x90", 2, NULL, &res, &err) == -1 &&
	      err.code == HP_E_INVALID);
	CHECK(hpc_call(p.c, "m", "f", "\x92\x01", 2, NULL, &res, &err) == -1 &&
	      err.code == HP_E_INVALID);
	CHECK(hpc_call(p.c, NULL, "f", "\x90", 1, NULL, &res, &err) == -1 && err.code == HP_E_INVALID);
	struct hpc_call_opts big = { 86400001, 0 };
	CHECK(hpc_call(p.c, "m", "f", "\x90", 1, &big, &res, &err) == -1 && err.code == HP_E_INVALID);
	CHECK(!hpc_broken(p.c, NULL));
	hpc_args_free(&a);
	pair_close(&p);
}

/* The call request carries module, function, the args bytes as they are, and options. */
static void test_request_shape(void)
{
	struct pair p;
	pair_open(&p, 0);
	struct hpc_call_opts o = { 250, 0 };
	struct hpc_error err;
	CHECK(hpc_call_async(p.c, "echo", "echo", "\x91\xc4\x02\x00\xff", 5, &o, record, &p.recp,
			     &err) >= 0);
	CHECK(pump(&p, NULL) == 0);
	uint8_t buf[256];
	size_t n = peer_read(&p, buf, sizeof(buf));
	static const uint8_t want[] = "\x94\x00\x01\xa4" "call" "\x94\xa4" "echo\xa4" "echo"
				      "\x91\xc4\x02\x00\xff" "\x81\xaa" "timeout_ms\xcc\xfa";
	CHECK_EQ_U64(n, sizeof(want) - 1);
	CHECK(n == sizeof(want) - 1 && !memcmp(buf, want, n));
	pair_close(&p);
}

/* Cancelled calls do not run their callback; their answer is expected and dropped. */
static void test_cancel(void)
{
	struct pair p;
	pair_open(&p, 0);
	uint32_t a = queue_call(&p), b = queue_call(&p);
	CHECK(hpc_cancel(p.c, a) == 0);
	CHECK(hpc_cancel(p.c, a) == -1);
	CHECK(hpc_cancel(p.c, 9999) == -1);
	CHECK_EQ_U64(hpc_pending(p.c), 1);
	CHECK(pump(&p, NULL) == 0);
	send_ok(&p, a, 1);
	send_ok(&p, b, 2);
	CHECK(pump(&p, NULL) == 0);
	CHECK(p.rec.n == 1 && p.rec.msgid[0] == b && p.rec.value[0] == 2);
	CHECK(!hpc_broken(p.c, NULL));
	pair_close(&p);
}

/* A callback may queue the next call; the synchronous functions and hpc_process refuse. */
struct chain {
	struct pair *p;
	int64_t next;
	int sync_code, process_rc;
};

static void chained(struct hpc_conn *c, uint32_t msgid, struct hpc_result *res,
		    const struct hpc_error *err, void *ctx)
{
	(void)msgid;
	(void)err;
	struct chain *ch = ctx;
	hpc_result_free(res);
	struct hpc_error e;
	struct hpc_result r;
	ch->sync_code = hpc_ping(c, 10, &r, &e) == -1 ? e.code : HP_OK;
	ch->process_rc = hpc_process(c, true, true, NULL);
	ch->next = hpc_call_async(c, "math", "add", "\x92\x01\x02", 3, NULL, record, &ch->p->recp, &e);
}

static void test_callback_rules(void)
{
	struct pair p;
	pair_open(&p, 0);
	struct chain ch = { &p, -1, -1, 0 };
	struct hpc_error err;
	int64_t first = hpc_call_async(p.c, "math", "add", "\x92\x01\x02", 3, NULL, chained, &ch, &err);
	CHECK(first >= 0 && pump(&p, NULL) == 0);
	send_ok(&p, (uint32_t)first, 3);
	CHECK(pump(&p, NULL) == 0);
	CHECK(ch.sync_code == HP_E_INVALID);
	CHECK(ch.process_rc == -1);
	CHECK(ch.next > first);
	CHECK_EQ_U64(hpc_pending(p.c), 1);
	CHECK(!hpc_wants_write(p.c)); /* the pump after the callbacks wrote it */
	send_ok(&p, (uint32_t)ch.next, 4);
	CHECK(pump(&p, NULL) == 0);
	CHECK(p.rec.n == 1 && p.rec.value[0] == 4);
	pair_close(&p);
}

int main(void)
{
	test_out_of_order();
	test_byte_by_byte();
	test_hostile_streams();
	test_hangup_mid_frame();
	test_error_responses();
	test_deep_results();
	test_deep_request();
	test_daemon_request();
	test_close_with_pending();
	test_sync();
	test_request_shape();
	test_cancel();
	test_callback_rules();
	CHECK_DONE();
}
