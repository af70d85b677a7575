/* jansson_compat.c - jansson plus integers up to UINT64_MAX; why and how in jansson_compat.h. */
#include "jansson_compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_internal.h"

#define MAX_BIG_UINTS 1024 /* integers above INT64_MAX per JSON document (one jansson pass each) */
#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* Integers above INT64_MAX are replaced, in a copy of the input, by a JSON string of the same
 * length whose value is MARK followed by the index and '#' padding. The shortest such number
 * has 19 digits, so the string has 17 characters between the quotes: 10 for the escaped mark,
 * up to 4 for the index (< MAX_BIG_UINTS), the rest '#'. */
#define MARK_SRC "\\u0000u64#" /* as written in the JSON text */
#define MARK_VAL "\0u64#"      /* as jansson returns it */
#define MARK_VAL_LEN 5
#define MIN_BIG_DIGITS 19

struct big_state {
	char *work;      /* private copy of the input, NULL until the first replacement */
	uint64_t *vals;  /* values of the replaced integers */
	size_t *ends;    /* end offsets of the replaced tokens */
	size_t n;
};

/* If s is one of our markers, returns its index (maybe out of range); else -1. */
static long marker_index(const char *s, size_t len)
{
	size_t i = MARK_VAL_LEN;
	long idx = 0;

	if (len < MARK_VAL_LEN + 1 || memcmp(s, MARK_VAL, MARK_VAL_LEN) != 0)
		return -1;
	if (s[i] < '0' || s[i] > '9')
		return -1;
	while (i < len && s[i] >= '0' && s[i] <= '9' && idx < 100000)
		idx = idx * 10 + (s[i++] - '0');
	while (i < len && s[i] == '#')
		i++;
	return i == len ? idx : -1;
}

/* The token of [start, end) as a uint64; -1 (err set) if it is above UINT64_MAX. */
static int parse_big(const char *text, size_t start, size_t end, const json_error_t *e,
		     uint64_t *val, char *err, size_t errlen)
{
	char digits[32];
	char *endp = NULL;

	errno = 0;
	*val = 0;
	if (end - start < sizeof(digits)) {
		memcpy(digits, text + start, end - start);
		digits[end - start] = '\0';
		*val = strtoull(digits, &endp, 10);
	}
	if (!endp || *endp || errno == ERANGE) {
		hpj_set_err(err, errlen,
			    "JSON error at line %d column %d: integer above 18446744073709551615",
			    e->line, e->column);
		return -1;
	}
	return 0;
}

/* Overwrites [start, end) of the private copy with marker number b->n and records val. */
static int add_marker(struct big_state *b, const char *json, size_t len, size_t start,
		      size_t end, uint64_t val, char *err, size_t errlen)
{
	if (!b->work) {
		b->work = malloc(len);
		if (!b->work)
			goto oom;
		memcpy(b->work, json, len);
	}
	uint64_t *vals = realloc(b->vals, (b->n + 1) * sizeof(*vals));
	if (vals)
		b->vals = vals;
	size_t *ends = realloc(b->ends, (b->n + 1) * sizeof(*ends));
	if (ends)
		b->ends = ends;
	if (!vals || !ends)
		goto oom;

	/* "\u0000u64#<index>###..." with the same length as the digits. */
	char mark[40];
	size_t mlen = end - start;
	int w = snprintf(mark, sizeof(mark), "\"" MARK_SRC "%zu", b->n);
	memset(mark + w, '#', mlen - 1 - (size_t)w);
	mark[mlen - 1] = '"';
	memcpy(b->work + start, mark, mlen);

	b->vals[b->n] = val;
	b->ends[b->n] = end;
	b->n++;
	return 0;
oom:
	hpj_set_err(err, errlen, "out of memory");
	return -1;
}

/* jansson failed with a numeric overflow at byte offset e->position (just past the token).
 * Replace the token by a marker if it is a non-negative integer that fits uint64. Returns 1 if
 * replaced (parse again), 0 if the plain jansson error should be reported, -1 if err was set. */
static int replace_big_uint(struct big_state *b, const char *json, size_t len,
			    const json_error_t *e, char *err, size_t errlen)
{
	const char *text = b->work ? b->work : json;
	size_t end, start;
	uint64_t val;

	if (e->position <= 0 || (size_t)e->position > len)
		return 0;
	end = (size_t)e->position;
	start = end;
	while (start > 0 && text[start - 1] >= '0' && text[start - 1] <= '9')
		start--;
	if (start == end || text[start] == '0')
		return 0;
	/* Digits of a fraction or exponent: a real that overflowed, not ours. */
	if (start > 0 && memchr("eE.+", text[start - 1], 4))
		return 0;
	if (start > 1 && text[start - 1] == '-' && memchr("eE", text[start - 2], 2))
		return 0;
	if (start > 0 && text[start - 1] == '-') {
		hpj_set_err(err, errlen,
			    "JSON error at line %d column %d: integer below -9223372036854775808",
			    e->line, e->column);
		return -1;
	}
	if (end - start < MIN_BIG_DIGITS)
		return 0; /* not ours: the token must be longer */
	if (parse_big(text, start, end, e, &val, err, errlen))
		return -1;
	if (b->n >= MAX_BIG_UINTS) {
		hpj_set_err(err, errlen,
			    "JSON error at line %d column %d: more than %d integers above "
			    "9223372036854775807",
			    e->line, e->column, MAX_BIG_UINTS);
		return -1;
	}
	if (add_marker(b, json, len, start, end, val, err, errlen))
		return -1;
	return 1;
}

/* The message for a parse that failed for good. */
static void load_error(const struct big_state *b, const json_error_t *e, char *err,
		       size_t errlen)
{
	if (json_error_code(e) == json_error_null_byte_in_key) {
		/* A marker we put where a key belongs: {18446744073709551615: 1}. */
		for (size_t i = 0; i < b->n; i++) {
			if ((size_t)e->position == b->ends[i]) {
				hpj_set_err(err, errlen,
					    "JSON error at line %d column %d: object key must be "
					    "a string",
					    e->line, e->column);
				return;
			}
		}
	}
	hpj_set_err(err, errlen, "JSON error at line %d column %d: %s", e->line, e->column,
		    e->text);
}

int hp_jansson_load(const char *json, size_t len, struct hp_jansson_doc *doc, char *err,
		    size_t errlen)
{
	struct big_state big = {0};
	json_error_t e;
	int r;

	memset(doc, 0, sizeof(*doc));
	for (;;) {
		doc->root = json_loadb(big.work ? big.work : json, len, LOAD_FLAGS, &e);
		if (doc->root)
			break;
		r = 0;
		if (json_error_code(&e) == json_error_numeric_overflow)
			r = replace_big_uint(&big, json, len, &e, err, errlen);
		if (r > 0)
			continue;
		if (r == 0)
			load_error(&big, &e, err, errlen);
		break;
	}
	free(big.work);
	free(big.ends);
	if (!doc->root) {
		free(big.vals);
		return -1;
	}
	doc->big = big.vals;
	doc->nbig = big.n;
	return 0;
}

int hp_jansson_big_uint(struct hp_jansson_doc *doc, const char *s, size_t len, uint64_t *v,
			char *err, size_t errlen)
{
	long idx = doc->nbig ? marker_index(s, len) : -1;

	if (idx < 0)
		return 0;
	if ((size_t)idx != doc->next_big) {
		hpj_set_err(err, errlen,
			    "JSON error: a string in the input has the value reserved for "
			    "integers above 9223372036854775807");
		return -1;
	}
	*v = doc->big[doc->next_big++];
	return 1;
}

int hp_jansson_all_big_used(const struct hp_jansson_doc *doc, char *err, size_t errlen)
{
	if (doc->next_big == doc->nbig)
		return 0;
	hpj_set_err(err, errlen, "JSON error: internal marker for an integer above "
				 "9223372036854775807 was lost");
	return -1;
}

void hp_jansson_doc_free(struct hp_jansson_doc *doc)
{
	json_decref(doc->root);
	free(doc->big);
	memset(doc, 0, sizeof(*doc));
}
