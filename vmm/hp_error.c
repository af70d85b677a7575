#include "hp_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int vfail(struct hp_error *err, int code, int errnum, const char *fmt, va_list ap)
{
	if (!err)
		return -1;
	err->code = code;
	int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(err->message))
		snprintf(err->message + n, sizeof(err->message) - (size_t)n, ": %s", strerror(errnum));
	return -1;
}

int hp_fail(struct hp_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(err, code, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int hp_fail_errno(struct hp_error *err, int code, const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;
	va_start(ap, fmt);
	vfail(err, code, errnum, fmt, ap);
	va_end(ap);
	return -1;
}
