/* json_err.c - the one-line error messages of both directions. */
#include <stdarg.h>
#include <stdio.h>

#include "json_internal.h"

void hpj_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
