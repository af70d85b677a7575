/* json_out.h - JSON text into one growing buffer, under an output budget.
 *
 * The budget is shared by the result and the buffers of non-string map keys. A key's JSON
 * text is escaped into a string, so keys nested in keys double their backslashes per level:
 * without a cap a few hundred input bytes could ask for 2^64 bytes of output. */
#ifndef HP_JSON_OUT_H
#define HP_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jout_budget {
	size_t left;
	bool exceeded; /* a write failed because of the budget, not because malloc did */
};

struct jout {
	char *p;
	size_t len, cap;
	struct jout_budget *b;
};

/* Each returns 0, or -1 if the budget is exceeded or memory runs out (o->b->exceeded says
 * which). */
int jout_put(struct jout *o, const char *s, size_t n);
int jout_puts(struct jout *o, const char *s);
/* "<base64 of src>" */
int jout_base64(struct jout *o, const uint8_t *src, size_t n);
/* A JSON string: RFC 8259 escapes, invalid UTF-8 replaced by U+FFFD per offending byte. */
int jout_string(struct jout *o, const uint8_t *s, size_t n);
/* A number that reads back to d, always with '.' or an exponent; NaN and infinities as
 * {"$float": ...}. */
int jout_double(struct jout *o, double d);

#endif
