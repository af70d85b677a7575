/* hp_error.h - errors as values: a stable code (enum hp_status) plus a human message. */
#ifndef HP_ERROR_H
#define HP_ERROR_H

#include "hp_status.h"

#define HP_ERROR_MSG_MAX 512

struct hp_error {
	int code; /* enum hp_status */
	char message[HP_ERROR_MSG_MAX];
};

/* Sets err (if not NULL) and returns -1, so callers can write `return hp_fail(err, ...);`. */
int hp_fail(struct hp_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like hp_fail, appending ": strerror(errno)". */
int hp_fail_errno(struct hp_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#ifdef __clang_analyzer__
/* The static analyzer does not follow calls into variadic functions, so it would assume that
 * `return hp_fail(...)` may return 0 and report uses of values the failing path never set.
 * For the analyzer only, say what hp_error.c guarantees: both always return -1. */
#define hp_fail(...) (hp_fail(__VA_ARGS__), -1)
#define hp_fail_errno(...) (hp_fail_errno(__VA_ARGS__), -1)
#endif

static inline void hp_error_clear(struct hp_error *err)
{
	if (err) {
		err->code = 0;
		err->message[0] = '\0';
	}
}

#endif
