/* read_all.c - what the tools read their JSON arguments with (hp_json.h). */
#include <stdlib.h>

#include "hp_json.h"

#define READ_ALL_MAX (64u << 20)

char *hp_json_read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			char *nb = cap < READ_ALL_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	*len = n;
	return buf;
}
