/* json_internal.h - what the files of libhptools_json share. Not installed, not for its users:
 * they include hp_json.h only. */
#ifndef HP_JSON_INTERNAL_H
#define HP_JSON_INTERNAL_H

#include <stddef.h>

#include "hp_json.h"

#define MAX_DEPTH HP_JSON_MSGPACK_MAX_DEPTH

/* printf into err (nothing if err is NULL or errlen is 0), truncated to errlen-1 bytes. */
void hpj_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
