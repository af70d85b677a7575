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

static inline void hp_error_clear(struct hp_error *err)
{
	if (err) {
		err->code = 0;
		err->message[0] = '\0';
	}
}

#endif
