#include "guest_output.h"

#include <stdlib.h>
#include <string.h>

int hp_guest_result(const volatile struct hp_call_block *cb, uint64_t output_size,
		    int *status, uint32_t *output_len, struct hp_error *err)
{
	uint32_t s = cb->status, len = cb->output_len; /* read once: the guest owns the page */
	switch (s) {
	case HP_OK:
	case HP_E_GUEST_ERROR:
	case HP_E_NO_SUCH_FUNCTION:
	case HP_E_BAD_ARGS:
	case HP_E_OUTPUT_OVERFLOW:
	case HP_E_OUT_OF_MEMORY:
		break;
	default:
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "guest returned invalid status %u", s);
	}
	uint64_t max = s == HP_OK ? output_size : HP_ABORT_MSG_MAX;
	if (max > output_size)
		max = output_size;
	if (len > max)
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "guest returned output length %u (limit %llu)",
			       len, (unsigned long long)max);
	*status = (int)s;
	*output_len = len;
	return 0;
}

int hp_guest_log(const volatile struct hp_call_block *cb, uint32_t *len, int *stream,
		 struct hp_error *err)
{
	uint32_t l = cb->log_len, s = cb->log_stream;
	if (l > HP_LOG_BUF_SIZE || (s != HP_LOG_STDOUT && s != HP_LOG_STDERR))
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "guest log hypercall with length %u stream %u",
			       l, s);
	*len = l;
	*stream = (int)s;
	return 0;
}

void hp_guest_abort_message(const volatile struct hp_call_block *cb, char *out)
{
	uint32_t len = cb->abort_len;
	if (len > HP_ABORT_MSG_MAX)
		len = HP_ABORT_MSG_MAX;
	for (uint32_t i = 0; i < len; i++) {
		char c = cb->abort_msg[i];
		out[i] = (c >= 0x20 && c < 0x7f) || c == '\n' ? c : '?';
	}
	out[len] = '\0';
}

/* --- the function list ------------------------------------------------------------------- */

struct reader {
	const uint8_t *p;
	size_t left;
};

static int take(struct reader *r, size_t n, const uint8_t **out)
{
	if (n > r->left)
		return -1;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

static int read_be(struct reader *r, size_t n, uint32_t *v)
{
	const uint8_t *b;
	if (take(r, n, &b))
		return -1;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | b[i];
	return 0;
}

static int array_header(struct reader *r, uint32_t *n)
{
	const uint8_t *b;
	if (take(r, 1, &b))
		return -1;
	if ((*b & 0xf0) == 0x90) {
		*n = *b & 0x0f;
		return 0;
	}
	if (*b == 0xdc)
		return read_be(r, 2, n);
	if (*b == 0xdd)
		return read_be(r, 4, n);
	return -1;
}

static int str_header(struct reader *r, uint32_t *n)
{
	const uint8_t *b;
	if (take(r, 1, &b))
		return -1;
	if ((*b & 0xe0) == 0xa0) {
		*n = *b & 0x1f;
		return 0;
	}
	if (*b == 0xd9)
		return read_be(r, 1, n);
	if (*b == 0xda)
		return read_be(r, 2, n);
	if (*b == 0xdb)
		return read_be(r, 4, n);
	return -1;
}

void hp_guest_function_list_free(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

int hp_guest_function_list(const uint8_t *buf, size_t len, char ***names, uint32_t *count,
			   struct hp_error *err)
{
	struct reader r = { buf, len };
	uint32_t n;
	if (array_header(&r, &n) || n > HP_FUNCTIONS_MAX || n > r.left)
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "init did not return a valid function list");
	char **list = calloc((size_t)n + 1, sizeof(char *));
	if (!list)
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	uint32_t kept = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t l;
		const uint8_t *s;
		if (str_header(&r, &l) || l == 0 || l >= HP_FUNCTION_NAME_MAX || take(&r, l, &s) ||
		    memchr(s, 0, l)) {
			hp_guest_function_list_free(list);
			return hp_fail(err, HP_E_GUEST_PROTOCOL,
				       "function name %u in the init list is invalid", i);
		}
		if (l >= sizeof(HP_RESERVED_PREFIX) - 1 &&
		    !memcmp(s, HP_RESERVED_PREFIX, sizeof(HP_RESERVED_PREFIX) - 1))
			continue;
		if (!(list[kept] = strndup((const char *)s, l))) {
			hp_guest_function_list_free(list);
			return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
		}
		kept++;
	}
	if (r.left) {
		hp_guest_function_list_free(list);
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "%zu stray bytes after the function list",
			       r.left);
	}
	*names = list;
	*count = kept;
	return 0;
}
