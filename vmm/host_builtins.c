/* host_builtins.c - the host functions libhpvmm offers embedders ready-made: time, random
 * bytes, a log line. The runner and the daemon offer them to modules whose configuration
 * allows them (hpvmm.h: hp_host_builtin). Arguments are the guest's: checked like any. */
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "hp_mpscan.h"
#include "vm_internal.h"

#define RANDOM_MAX 4096

static const struct {
	const char *name;
	unsigned flag;
} builtins[] = {
	{ "time", HP_HOST_TIME },
	{ "random", HP_HOST_RANDOM },
	{ "log", HP_HOST_LOG },
};

int hp_host_builtins_parse(const char *list, unsigned *flags, const char **bad)
{
	static _Thread_local char word[32];
	*flags = 0;
	for (const char *p = list; *p;) {
		p += strspn(p, " ,\t");
		size_t n = strcspn(p, " ,\t");
		if (!n)
			break;
		unsigned found = 0;
		for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
			if (strlen(builtins[i].name) == n && !memcmp(builtins[i].name, p, n))
				found = builtins[i].flag;
		if (!found) {
			snprintf(word, sizeof(word), "%.*s", (int)(n < 31 ? n : 31), p);
			*bad = word;
			return -1;
		}
		*flags |= found;
		p += n;
	}
	return 0;
}

static void reply_error(struct hp_host_reply *r, int status, const char *msg)
{
	size_t n = strlen(msg);
	if (n > sizeof(r->inline_buf))
		n = sizeof(r->inline_buf);
	memcpy(r->inline_buf, msg, n);
	r->status = status;
	r->bytes = r->inline_buf;
	r->len = n;
}

/* A packer writing into the reply's inline buffer. */
struct inline_writer {
	struct hp_host_reply *r;
	bool overflow;
};

static int inline_write(void *data, const char *buf, size_t len)
{
	struct inline_writer *w = data;
	if (w->r->len + len > sizeof(w->r->inline_buf)) {
		w->overflow = true;
		return -1;
	}
	memcpy(w->r->inline_buf + w->r->len, buf, len);
	w->r->len += len;
	return 0;
}

static void begin(struct hp_host_reply *r, struct inline_writer *w, msgpack_packer *pk)
{
	r->status = HP_OK;
	r->bytes = r->inline_buf;
	r->len = 0;
	w->r = r;
	w->overflow = false;
	msgpack_packer_init(pk, w, inline_write);
}

/* The args array's elements, walked with the scanner's tokenizer (validated by libhpvmm). */
static bool args_header(const uint8_t *args, size_t len, uint32_t *count, size_t *pos)
{
	struct hp_mp_token t;
	if (hp_mp_token(args, len, &t) != HP_MP_OK || t.type != HP_MP_ARRAY)
		return false;
	*count = t.len;
	*pos = t.header_len;
	return true;
}

static void builtin_time(const uint8_t *args, size_t len, struct hp_host_reply *r)
{
	uint32_t n;
	size_t pos;
	if (!args_header(args, len, &n, &pos) || n != 0)
		{
		reply_error(r, HP_E_BAD_ARGS, "time() takes no arguments");
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct inline_writer w;
	msgpack_packer pk;
	begin(r, &w, &pk);
	msgpack_pack_uint64(&pk, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

static void builtin_random(const uint8_t *args, size_t len, struct hp_host_reply *r)
{
	uint32_t n;
	size_t pos;
	struct hp_mp_token t;
	if (!args_header(args, len, &n, &pos) || n != 1 ||
	    hp_mp_token(args + pos, len - pos, &t) != HP_MP_OK || t.type != HP_MP_UINT ||
	    t.v.u > RANDOM_MAX)
		{
		reply_error(r, HP_E_BAD_ARGS, "random(n) takes one integer from 0 to 4096");
		return;
	}
	uint8_t bytes[RANDOM_MAX];
	size_t got = 0;
	while (got < t.v.u) {
		ssize_t k = getrandom(bytes + got, t.v.u - got, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			{
		reply_error(r, HP_E_SYSTEM, "getrandom failed");
		return;
	}
		got += (size_t)k;
	}
	struct inline_writer w;
	msgpack_packer pk;
	begin(r, &w, &pk);
	msgpack_pack_bin(&pk, got);
	msgpack_pack_bin_body(&pk, bytes, got);
}

static bool next_str(const uint8_t *args, size_t len, size_t *pos, const uint8_t **s, uint32_t *n)
{
	struct hp_mp_token t;
	if (hp_mp_token(args + *pos, len - *pos, &t) != HP_MP_OK || t.type != HP_MP_STR)
		return false;
	*s = t.data;
	*n = t.len;
	*pos += t.header_len + t.len;
	return true;
}

static void builtin_log(struct hp_vm *vm, const uint8_t *args, size_t len, struct hp_host_reply *r)
{
	uint32_t n, level_len, msg_len;
	size_t pos;
	const uint8_t *level, *msg;
	if (!args_header(args, len, &n, &pos) || n != 2 || !next_str(args, len, &pos, &level, &level_len) ||
	    !next_str(args, len, &pos, &msg, &msg_len) || level_len > 16)
		{
		reply_error(r, HP_E_BAD_ARGS, "log(level, message) takes two strings");
		return;
	}
	if (vm->log) {
		char line[1100];
		int k = snprintf(line, sizeof(line), "[%.*s] %.*s\n", (int)level_len, (const char *)level,
				 (int)(msg_len > 1024 ? 1024 : msg_len), (const char *)msg);
		vm->log(vm->log_ctx, HP_LOG_STDERR, line, (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1);
	}
	struct inline_writer w;
	msgpack_packer pk;
	begin(r, &w, &pk);
	msgpack_pack_nil(&pk);
}

bool hp_host_builtin(unsigned allowed, struct hp_vm *vm, const char *name, size_t name_len,
		     const uint8_t *args, size_t args_len, struct hp_host_reply *reply)
{
	unsigned flag = 0;
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strlen(builtins[i].name) == name_len && !memcmp(builtins[i].name, name, name_len))
			flag = builtins[i].flag;
	if (!(flag & allowed))
		return false;
	if (flag == HP_HOST_TIME)
		builtin_time(args, args_len, reply);
	else if (flag == HP_HOST_RANDOM)
		builtin_random(args, args_len, reply);
	else
		builtin_log(vm, args, args_len, reply);
	return true;
}
