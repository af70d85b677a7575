/* kvmtest.h - shared helpers of the kvm test programs: module paths from the command line,
 * the /dev/kvm skip rule, msgpack argument building, calls with decoded results, a log
 * collector for guest output, and tables of calls with their expected outcomes (KT_RUN_CASES).
 * Everything is static inline: each test is one .c file. */
#ifndef HP_KVMTEST_H
#define HP_KVMTEST_H

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "hp_abi.h"
#include "hpvmm.h"

/* --- command line: --NAME PATH pairs ------------------------------------------------------ */

#define KT_MAX_MODULES 16
static const char *kt_mod_names[KT_MAX_MODULES];
static const char *kt_mod_paths[KT_MAX_MODULES];
static int kt_nmods;

static inline void kt_parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc || kt_nmods == KT_MAX_MODULES) {
			fprintf(stderr, "usage: %s --NAME MODULE.elf ...\n", argv[0]);
			exit(2);
		}
		kt_mod_names[kt_nmods] = argv[i] + 2;
		kt_mod_paths[kt_nmods++] = argv[++i];
	}
}

static inline const char *kt_module_path(const char *name)
{
	for (int i = 0; i < kt_nmods; i++)
		if (strcmp(kt_mod_names[i], name) == 0)
			return kt_mod_paths[i];
	fprintf(stderr, "no --%s MODULE.elf on the command line\n", name);
	exit(2);
}

/* Exits 77 (skip) when there is no /dev/kvm at all. If it exists but cannot be opened or used,
 * that is a failure: the machine claims KVM and it does not work. */
static inline struct hp_kvm *kt_open_kvm(void)
{
	struct stat st;
	if (stat("/dev/kvm", &st) < 0 && errno == ENOENT) {
		fprintf(stderr, "SKIP: /dev/kvm does not exist (no KVM on this machine)\n");
		exit(77);
	}
	struct hp_kvm *kvm = NULL;
	struct hp_error err;
	if (hp_kvm_open(&kvm, &err) < 0) {
		fprintf(stderr, "FAIL: /dev/kvm exists but hp_kvm_open failed: %s (%s)\n",
			err.message, hp_status_name(err.code));
		exit(1);
	}
	return kvm;
}

/* --- guest output ------------------------------------------------------------------------- */

struct kt_chunk {
	int stream;
	char *bytes;
	size_t len;
};

struct kt_log {
	struct kt_chunk *chunks;
	size_t n, cap;
	size_t max_chunk; /* the largest single callback */
	bool bad_stream;  /* a callback with a stream other than HP_LOG_STDOUT/STDERR */
};

static inline void kt_log_fn(void *ctx, int stream, const char *bytes, size_t len)
{
	struct kt_log *log = ctx;
	if (stream != HP_LOG_STDOUT && stream != HP_LOG_STDERR)
		log->bad_stream = true;
	if (len > log->max_chunk)
		log->max_chunk = len;
	if (log->n == log->cap) {
		log->cap = log->cap ? log->cap * 2 : 16;
		log->chunks = realloc(log->chunks, log->cap * sizeof(*log->chunks));
		if (!log->chunks)
			abort();
	}
	char *copy = malloc(len ? len : 1);
	if (!copy)
		abort();
	memcpy(copy, bytes, len);
	log->chunks[log->n++] = (struct kt_chunk){ stream, copy, len };
}

static inline void kt_log_clear(struct kt_log *log)
{
	for (size_t i = 0; i < log->n; i++)
		free(log->chunks[i].bytes);
	log->n = 0;
	log->max_chunk = 0;
	log->bad_stream = false;
}

static inline void kt_log_free(struct kt_log *log)
{
	kt_log_clear(log);
	free(log->chunks);
	log->chunks = NULL;
	log->cap = 0;
}

/* The expected output: a list of (stream, bytes) runs. Chunk boundaries are the runtime's
 * business (buffer size), but the order of bytes and the stream of each byte are not. */
struct kt_expect {
	struct kt_chunk *runs;
	size_t n, cap;
};

static inline void kt_expect_add(struct kt_expect *e, int stream, const char *bytes, size_t len)
{
	if (e->n && e->runs[e->n - 1].stream == stream) {
		struct kt_chunk *r = &e->runs[e->n - 1];
		r->bytes = realloc(r->bytes, r->len + len + 1);
		if (!r->bytes)
			abort();
		memcpy(r->bytes + r->len, bytes, len);
		r->len += len;
		return;
	}
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 16;
		e->runs = realloc(e->runs, e->cap * sizeof(*e->runs));
		if (!e->runs)
			abort();
	}
	char *copy = malloc(len + 1);
	if (!copy)
		abort();
	memcpy(copy, bytes, len);
	e->runs[e->n++] = (struct kt_chunk){ stream, copy, len };
}

static inline void kt_expect_free(struct kt_expect *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->runs[i].bytes);
	free(e->runs);
	*e = (struct kt_expect){ 0 };
}

/* True when the log, with adjacent chunks of one stream merged, equals the expected runs.
 * Prints the first difference otherwise. */
static inline bool kt_log_equals(const struct kt_log *log, const struct kt_expect *e)
{
	struct kt_expect got = { 0 };
	for (size_t i = 0; i < log->n; i++)
		kt_expect_add(&got, log->chunks[i].stream, log->chunks[i].bytes, log->chunks[i].len);
	bool ok = got.n == e->n;
	if (!ok)
		fprintf(stderr, "  log: %zu stream runs, expected %zu\n", got.n, e->n);
	for (size_t i = 0; ok && i < e->n; i++) {
		const struct kt_chunk *g = &got.runs[i], *x = &e->runs[i];
		if (g->stream != x->stream || g->len != x->len || memcmp(g->bytes, x->bytes, x->len)) {
			fprintf(stderr, "  log run %zu: stream %d, %zu bytes \"%.60s\"; expected stream %d, "
				"%zu bytes \"%.60s\"\n", i, g->stream, g->len, g->bytes, x->stream,
				x->len, x->bytes);
			ok = false;
		}
	}
	kt_expect_free(&got);
	return ok;
}

/* --- arguments ---------------------------------------------------------------------------- */

struct kt_args {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

/* Starts an argument array of n items: pack them with msgpack_pack_* on &a->pk. */
static inline msgpack_packer *kt_args_begin(struct kt_args *a, uint32_t n)
{
	msgpack_sbuffer_init(&a->sb);
	msgpack_packer_init(&a->pk, &a->sb, msgpack_sbuffer_write);
	msgpack_pack_array(&a->pk, n);
	return &a->pk;
}

static inline void kt_args_free(struct kt_args *a)
{
	msgpack_sbuffer_destroy(&a->sb);
}

static inline void kt_pack_cstr(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* --- calls -------------------------------------------------------------------------------- */

/* One call and its outcome. On rc 0 and status HP_OK, `obj` is the decoded result (decoded
 * completely: exactly one object filling output_len, else `decoded` is false). On any other
 * status `msg` is the message as a NUL-terminated string; on rc -1 it is err.message. */
struct kt_call {
	int rc;
	int status;       /* res.status when rc == 0, err.code when rc == -1 */
	bool decoded;
	msgpack_object obj;
	msgpack_unpacked up;
	char *msg;
	const uint8_t *output; /* the raw result bytes: valid until the next call on the VM */
	size_t output_len;
	struct hp_error err;
};

static inline void kt_call_free(struct kt_call *c)
{
	msgpack_unpacked_destroy(&c->up);
	free(c->msg);
	c->msg = NULL;
}

static inline void kt_call_raw(struct hp_vm *vm, const char *name, size_t name_len,
			       const void *args, size_t args_len, struct kt_call *c)
{
	struct hp_call_result res = { 0 };
	memset(c, 0, sizeof(*c));
	msgpack_unpacked_init(&c->up);
	c->status = -1;
	c->rc = hp_vm_call(vm, name, name_len, args, args_len, &res, &c->err);
	if (c->rc < 0) {
		c->status = c->err.code;
		c->msg = strdup(c->err.message);
		return;
	}
	c->status = res.status;
	c->output = res.output;
	c->output_len = res.output_len;
	if (res.status != HP_OK) {
		c->msg = malloc(res.output_len + 1);
		if (!c->msg)
			abort();
		memcpy(c->msg, res.output, res.output_len);
		c->msg[res.output_len] = '\0';
		return;
	}
	size_t off = 0;
	if (msgpack_unpack_next(&c->up, (const char *)res.output, res.output_len, &off) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    off == res.output_len) {
		c->decoded = true;
		c->obj = c->up.data;
	}
}

/* Calls name with the packed arguments (and frees them). */
static inline void kt_call(struct hp_vm *vm, const char *name, struct kt_args *a, struct kt_call *c)
{
	kt_call_raw(vm, name, strlen(name), a->sb.data, a->sb.size, c);
	kt_args_free(a);
}

/* Calls name with no arguments. */
static inline void kt_call0(struct hp_vm *vm, const char *name, struct kt_call *c)
{
	struct kt_args a;
	kt_args_begin(&a, 0);
	kt_call(vm, name, &a, c);
}

static inline void kt_call_i(struct hp_vm *vm, const char *name, int64_t v, struct kt_call *c)
{
	struct kt_args a;
	msgpack_pack_int64(kt_args_begin(&a, 1), v);
	kt_call(vm, name, &a, c);
}

static inline void kt_call_s(struct hp_vm *vm, const char *name, const char *s, struct kt_call *c)
{
	struct kt_args a;
	kt_pack_cstr(kt_args_begin(&a, 1), s);
	kt_call(vm, name, &a, c);
}

static inline void kt_call_ff(struct hp_vm *vm, const char *name, double x, double y,
			      struct kt_call *c)
{
	struct kt_args a;
	msgpack_packer *pk = kt_args_begin(&a, 2);
	msgpack_pack_double(pk, x);
	msgpack_pack_double(pk, y);
	kt_call(vm, name, &a, c);
}

static inline void kt_call_ii(struct hp_vm *vm, const char *name, int64_t x, int64_t y,
			      struct kt_call *c)
{
	struct kt_args a;
	msgpack_packer *pk = kt_args_begin(&a, 2);
	msgpack_pack_int64(pk, x);
	msgpack_pack_int64(pk, y);
	kt_call(vm, name, &a, c);
}

/* Result predicates: true when the call succeeded with exactly that value. */
static inline bool kt_ok(const struct kt_call *c)
{
	return c->rc == 0 && c->status == HP_OK && c->decoded;
}

static inline bool kt_is_i64(const struct kt_call *c, int64_t v)
{
	if (!kt_ok(c))
		return false;
	if (c->obj.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return v >= 0 && c->obj.via.u64 == (uint64_t)v;
	return c->obj.type == MSGPACK_OBJECT_NEGATIVE_INTEGER && c->obj.via.i64 == v;
}

static inline bool kt_is_u64(const struct kt_call *c, uint64_t v)
{
	return kt_ok(c) && c->obj.type == MSGPACK_OBJECT_POSITIVE_INTEGER && c->obj.via.u64 == v;
}

/* A float64 result, bit for bit (so -0.0 and NaN payloads count). */
static inline bool kt_is_f64_bits(const struct kt_call *c, double v)
{
	if (!kt_ok(c) || c->obj.type != MSGPACK_OBJECT_FLOAT64)
		return false;
	return memcmp(&c->obj.via.f64, &v, sizeof(v)) == 0;
}

static inline bool kt_is_f64(const struct kt_call *c, double v)
{
	return kt_ok(c) && c->obj.type == MSGPACK_OBJECT_FLOAT64 &&
	       (c->obj.via.f64 == v || (isnan(v) && isnan(c->obj.via.f64)));
}

static inline bool kt_is_str(const struct kt_call *c, const char *s, size_t len)
{
	return kt_ok(c) && c->obj.type == MSGPACK_OBJECT_STR && c->obj.via.str.size == len &&
	       (len == 0 || memcmp(c->obj.via.str.ptr, s, len) == 0);
}

static inline bool kt_is_cstr(const struct kt_call *c, const char *s)
{
	return kt_is_str(c, s, strlen(s));
}

static inline bool kt_is_bin(const struct kt_call *c, const void *p, size_t len)
{
	return kt_ok(c) && c->obj.type == MSGPACK_OBJECT_BIN && c->obj.via.bin.size == len &&
	       (len == 0 || memcmp(c->obj.via.bin.ptr, p, len) == 0);
}

/* The raw result bytes equal the given msgpack encoding. */
static inline bool kt_output_is(const struct kt_call *c, const void *p, size_t len)
{
	return c->rc == 0 && c->status == HP_OK && c->output_len == len &&
	       memcmp(c->output, p, len) == 0;
}

/* The value of key `key` (a string) in a map, or NULL. */
static inline const msgpack_object *kt_map_get(const msgpack_object *map, const char *key)
{
	if (map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
		    (kv->key.via.str.size == 0 || memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0))
			return &kv->val;
	}
	return NULL;
}

/* The call finished (rc 0) with a guest status and a message containing `needle`. */
static inline bool kt_is_status(const struct kt_call *c, int rc, int status, const char *needle)
{
	return c->rc == rc && c->status == status && c->msg && strstr(c->msg, needle);
}

/* Prints what a call returned, for failure messages. */
static inline const char *kt_describe(const struct kt_call *c)
{
	static char buf[600];
	if (c->rc < 0 || c->status != HP_OK) {
		snprintf(buf, sizeof(buf), "rc %d status %s: \"%.500s\"", c->rc,
			 hp_status_name(c->status), c->msg ? c->msg : "");
		return buf;
	}
	if (!c->decoded) {
		snprintf(buf, sizeof(buf), "ok but %zu bytes of output are not one msgpack object",
			 c->output_len);
		return buf;
	}
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	if (!f)
		return "?";
	fputs("ok: ", f);
	msgpack_object_print(f, c->obj);
	fclose(f);
	buf[sizeof(buf) - 1] = '\0';
	return buf;
}

/* CHECK that a call's outcome satisfies `pred`, printing the outcome otherwise. */
#define CHECK_CALL(c, pred) CHECK_MSG(pred, "%s", kt_describe(c))

/* --- table-driven calls ------------------------------------------------------------------- */

/* A test that makes many calls of one shape lists them as rows of a table and runs them with
 * KT_RUN_CASES: each row is a function name, its arguments and the expected outcome, e.g.
 *
 *	static const struct kt_case add_cases[] = {
 *		KT_CASE("add", KT_ARGS(KT_INT(1), KT_INT(2)), KT_IS_I64(3)),
 *		KT_CASE("add", KT_ARGS(KT_STR("x"), KT_INT(1)),
 *			KT_GUEST_ERROR("add: argument 1 must be a number, got a string")),
 *		KT_CASE("add", KT_NOARGS, KT_GUEST_ERROR("add: expected 2 arguments, got 0")),
 *	};
 *	KT_RUN_CASES(vm, add_cases);
 *
 * Every row is one call and one CHECK (two with KT_CASE2); a failure names the row and the
 * KT_RUN_CASES line, the call with its arguments, what came back and what was expected. */

/* One argument. The kinds say how it is packed; KT_ARG_END (0) ends an argument list. */
enum kt_arg_kind {
	KT_ARG_END,
	KT_ARG_NIL,
	KT_ARG_TRUE,
	KT_ARG_FALSE,
	KT_ARG_INT,  /* i, msgpack_pack_int64 (the smallest encoding of the value) */
	KT_ARG_UINT, /* u, msgpack_pack_uint64 */
	KT_ARG_F64,  /* f, msgpack_pack_double */
	KT_ARG_F32,  /* f, msgpack_pack_float((float)f) */
	KT_ARG_STR,  /* p, NUL-terminated: msgpack_pack_str_with_body(p, strlen(p)) */
	KT_ARG_BIN,  /* p, len: msgpack_pack_bin_with_body */
	KT_ARG_RAW,  /* p, len: bytes of msgpack written as they are (e.g. "\x80", an empty map) */
};

struct kt_arg {
	enum kt_arg_kind kind;
	int64_t i;
	uint64_t u;
	double f;
	const void *p; /* STR: a NUL-terminated string; BIN, RAW: len bytes */
	size_t len;
};

#define KT_NIL { .kind = KT_ARG_NIL }
#define KT_TRUE { .kind = KT_ARG_TRUE }
#define KT_FALSE { .kind = KT_ARG_FALSE }
#define KT_INT(v) { .kind = KT_ARG_INT, .i = (v) }
#define KT_UINT(v) { .kind = KT_ARG_UINT, .u = (v) }
#define KT_F64(v) { .kind = KT_ARG_F64, .f = (v) }
#define KT_F32(v) { .kind = KT_ARG_F32, .f = (v) }
#define KT_STR(s) { .kind = KT_ARG_STR, .p = (s) }
#define KT_BIN(b, n) { .kind = KT_ARG_BIN, .p = (b), .len = (n) }
#define KT_RAW(b, n) { .kind = KT_ARG_RAW, .p = (b), .len = (n) }

#define KT_MAX_ARGS 4
/* A row's argument list: up to KT_MAX_ARGS of the above, or none. */
#define KT_ARGS(...) { __VA_ARGS__ }
#define KT_NOARGS { { .kind = KT_ARG_END } }

static inline void kt_pack_arg(msgpack_packer *pk, const struct kt_arg *x)
{
	switch (x->kind) {
	case KT_ARG_END:
		break;
	case KT_ARG_NIL:
		msgpack_pack_nil(pk);
		break;
	case KT_ARG_TRUE:
		msgpack_pack_true(pk);
		break;
	case KT_ARG_FALSE:
		msgpack_pack_false(pk);
		break;
	case KT_ARG_INT:
		msgpack_pack_int64(pk, x->i);
		break;
	case KT_ARG_UINT:
		msgpack_pack_uint64(pk, x->u);
		break;
	case KT_ARG_F64:
		msgpack_pack_double(pk, x->f);
		break;
	case KT_ARG_F32:
		msgpack_pack_float(pk, (float)x->f);
		break;
	case KT_ARG_STR:
		kt_pack_cstr(pk, x->p);
		break;
	case KT_ARG_BIN:
		msgpack_pack_bin_with_body(pk, x->p, x->len);
		break;
	case KT_ARG_RAW:
		pk->callback(pk->data, x->p, x->len);
		break;
	}
}

/* The number of arguments in a list of KT_MAX_ARGS: up to the first KT_ARG_END. */
static inline uint32_t kt_nargs(const struct kt_arg *args)
{
	uint32_t n = 0;
	while (n < KT_MAX_ARGS && args[n].kind != KT_ARG_END)
		n++;
	return n;
}

/* Calls name with the arguments in args: an array of KT_MAX_ARGS (a row's KT_ARGS), used up to
 * its first KT_ARG_END. */
static inline void kt_call_args(struct hp_vm *vm, const char *name, const struct kt_arg *args,
				struct kt_call *c)
{
	struct kt_args a;
	uint32_t n = kt_nargs(args);
	msgpack_packer *pk = kt_args_begin(&a, n);
	for (uint32_t i = 0; i < n; i++)
		kt_pack_arg(pk, &args[i]);
	kt_call(vm, name, &a, c);
}

static inline void kt_print_arg(FILE *f, const struct kt_arg *x)
{
	switch (x->kind) {
	case KT_ARG_END:
		break;
	case KT_ARG_NIL:
		fputs("nil", f);
		break;
	case KT_ARG_TRUE:
		fputs("true", f);
		break;
	case KT_ARG_FALSE:
		fputs("false", f);
		break;
	case KT_ARG_INT:
		fprintf(f, "%" PRId64, x->i);
		break;
	case KT_ARG_UINT:
		fprintf(f, "%" PRIu64 "u", x->u);
		break;
	case KT_ARG_F64:
		fprintf(f, "%.17g", x->f);
		break;
	case KT_ARG_F32:
		fprintf(f, "%.9gf", (double)(float)x->f);
		break;
	case KT_ARG_STR:
		fprintf(f, "\"%.60s\"%s", (const char *)x->p, strlen(x->p) > 60 ? "..." : "");
		break;
	case KT_ARG_BIN:
		fprintf(f, "bin(%zu bytes)", x->len);
		break;
	case KT_ARG_RAW:
		fputs("msgpack(", f);
		for (size_t i = 0; i < x->len && i < 16; i++)
			fprintf(f, "%s%02x", i ? " " : "", ((const uint8_t *)x->p)[i]);
		fputs(x->len > 16 ? " ...)" : ")", f);
		break;
	}
}

/* One expected outcome: the kinds are the kt_is_* predicates above. */
enum kt_want_kind {
	KT_WANT_NONE,     /* nothing (KT_CASE's unused second expectation) */
	KT_WANT_I64,      /* kt_is_i64(i) */
	KT_WANT_U64,      /* kt_is_u64(u) */
	KT_WANT_F64,      /* kt_is_f64(f): equal, or both NaN */
	KT_WANT_F64_BITS, /* kt_is_f64_bits(f): bit for bit */
	KT_WANT_STR,      /* kt_is_cstr(p) */
	KT_WANT_BIN,      /* kt_is_bin(p, len) */
	KT_WANT_STATUS,   /* kt_is_status(rc, status, p): a message containing p */
	KT_WANT_MSG,      /* rc, status and a message equal to p */
};

struct kt_want {
	enum kt_want_kind kind;
	int64_t i;
	uint64_t u;
	double f;
	const void *p; /* STR: a NUL-terminated string; BIN: len bytes; STATUS, MSG: the message */
	size_t len;
	int rc, status;
};

#define KT_IS_I64(v) { .kind = KT_WANT_I64, .i = (v) }
#define KT_IS_U64(v) { .kind = KT_WANT_U64, .u = (v) }
#define KT_IS_F64(v) { .kind = KT_WANT_F64, .f = (v) }
#define KT_IS_F64_BITS(v) { .kind = KT_WANT_F64_BITS, .f = (v) }
#define KT_IS_CSTR(s) { .kind = KT_WANT_STR, .p = (s) }
#define KT_IS_BIN(b, n) { .kind = KT_WANT_BIN, .p = (b), .len = (n) }
#define KT_IS_STATUS(rc_, status_, needle) \
	{ .kind = KT_WANT_STATUS, .rc = (rc_), .status = (status_), .p = (needle) }
#define KT_IS_MSG(rc_, status_, msg) \
	{ .kind = KT_WANT_MSG, .rc = (rc_), .status = (status_), .p = (msg) }
/* The commonest failure: the module's own error (rc 0, HP_E_GUEST_ERROR) containing needle. */
#define KT_GUEST_ERROR(needle) KT_IS_STATUS(0, HP_E_GUEST_ERROR, needle)

static inline bool kt_want_met(const struct kt_call *c, const struct kt_want *w)
{
	switch (w->kind) {
	case KT_WANT_NONE:
		return true;
	case KT_WANT_I64:
		return kt_is_i64(c, w->i);
	case KT_WANT_U64:
		return kt_is_u64(c, w->u);
	case KT_WANT_F64:
		return kt_is_f64(c, w->f);
	case KT_WANT_F64_BITS:
		return kt_is_f64_bits(c, w->f);
	case KT_WANT_STR:
		return kt_is_cstr(c, w->p);
	case KT_WANT_BIN:
		return kt_is_bin(c, w->p, w->len);
	case KT_WANT_STATUS:
		return kt_is_status(c, w->rc, w->status, w->p);
	case KT_WANT_MSG:
		return c->rc == w->rc && c->status == w->status && c->msg &&
		       strcmp(c->msg, w->p) == 0;
	}
	return false;
}

static inline void kt_print_want(FILE *f, const struct kt_want *w)
{
	switch (w->kind) {
	case KT_WANT_NONE:
		fputs("anything", f);
		break;
	case KT_WANT_I64:
		fprintf(f, "%" PRId64, w->i);
		break;
	case KT_WANT_U64:
		fprintf(f, "%" PRIu64, w->u);
		break;
	case KT_WANT_F64:
		fprintf(f, "float64 %.17g", w->f);
		break;
	case KT_WANT_F64_BITS:
		fprintf(f, "float64 %a, bit for bit", w->f);
		break;
	case KT_WANT_STR:
		fprintf(f, "\"%.200s\"", (const char *)w->p);
		break;
	case KT_WANT_BIN:
		fprintf(f, "bin of %zu bytes", w->len);
		break;
	case KT_WANT_STATUS:
	case KT_WANT_MSG:
		fprintf(f, "rc %d status %s: %s \"%.300s\"", w->rc, hp_status_name(w->status),
			w->kind == KT_WANT_MSG ? "exactly" : "containing", (const char *)w->p);
		break;
	}
}

/* One row: a call and what it must return; `also`, when set (KT_CASE2), is checked by a second
 * CHECK on the same call. */
struct kt_case {
	const char *fn;
	struct kt_arg args[KT_MAX_ARGS];
	struct kt_want want, also;
};

#define KT_CASE(fn_, args_, want_) { .fn = (fn_), .args = args_, .want = want_ }
#define KT_CASE2(fn_, args_, want_, also_) \
	{ .fn = (fn_), .args = args_, .want = want_, .also = also_ }

/* "fn(arg, arg): <outcome>; expected <want>", for a failed row. */
static inline const char *kt_describe_case(const struct kt_case *k, const struct kt_call *c,
					   const struct kt_want *w)
{
	static char buf[1400];
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	if (!f)
		return "?";
	fprintf(f, "%s(", k->fn);
	for (uint32_t i = 0; i < kt_nargs(k->args); i++) {
		fputs(i ? ", " : "", f);
		kt_print_arg(f, &k->args[i]);
	}
	fprintf(f, "): %s; expected ", kt_describe(c));
	kt_print_want(f, w);
	fclose(f);
	buf[sizeof(buf) - 1] = '\0';
	return buf;
}

/* Runs the rows in order on one VM: per row one call, a CHECK of `want` and, if set, a CHECK
 * of `also`. A failure names the row (table[index]) and where the table was run: use
 * KT_RUN_CASES. */
static inline void kt_run_cases(struct hp_vm *vm, const char *table, const char *file, int line,
				const struct kt_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct kt_case *k = &cases[i];
		struct kt_call c;
		kt_call_args(vm, k->fn, k->args, &c);
		CHECK_MSG(kt_want_met(&c, &k->want), "%s[%zu], run at %s:%d: %s", table, i, file,
			  line, kt_describe_case(k, &c, &k->want));
		if (k->also.kind != KT_WANT_NONE)
			CHECK_MSG(kt_want_met(&c, &k->also), "%s[%zu], run at %s:%d: %s", table, i,
				  file, line, kt_describe_case(k, &c, &k->also));
		kt_call_free(&c);
	}
}

#define KT_RUN_CASES(vm, cases) \
	kt_run_cases(vm, #cases, __FILE__, __LINE__, cases, sizeof(cases) / sizeof((cases)[0]))

/* --- setup -------------------------------------------------------------------------------- */

static inline struct hp_module *kt_open_module(struct hp_kvm *kvm, const char *name,
					       const struct hp_module_config *cfg)
{
	struct hp_module *mod = NULL;
	struct hp_error err;
	if (hp_module_open(kvm, kt_module_path(name), cfg, &mod, &err) < 0) {
		fprintf(stderr, "FAIL: hp_module_open(%s): %s (%s)\n", kt_module_path(name),
			err.message, hp_status_name(err.code));
		exit(1);
	}
	return mod;
}

static inline uint64_t kt_mem_size(const struct hp_module *mod)
{
	struct hp_module_info info;
	hp_module_info(mod, &info);
	return info.mem_size;
}

static inline struct hp_vm *kt_create_vm(struct hp_module *mod, struct kt_log *log)
{
	struct hp_vm *vm = NULL;
	struct hp_error err;
	if (hp_vm_create(mod, log ? kt_log_fn : NULL, log, &vm, &err) < 0) {
		fprintf(stderr, "FAIL: hp_vm_create: %s (%s)\n", err.message, hp_status_name(err.code));
		exit(1);
	}
	return vm;
}

#endif
