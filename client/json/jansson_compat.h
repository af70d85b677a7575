/* jansson_compat.h - the one place that works around what jansson cannot do for hp_json.h.
 *
 *  - Integers above INT64_MAX: jansson stores integers as json_int_t (int64) and fails such a
 *    document with "too big integer". hp_jansson_load then converts the token jansson's error
 *    position points at with strtoull, overwrites it in a private copy of the input with a
 *    marker string of the same length ("\u0000u64#<index>###"), and parses again: one more
 *    pass per integer, so at most 1024 per document. Error positions stay exact because the
 *    marker has the number's length. When packing, hp_jansson_big_uint turns each marker back
 *    into its value.
 *  - NUL in object keys: jansson hands keys out as C strings and refuses a key containing
 *    U+0000 even with JSON_ALLOW_NUL ("NUL byte in object key not supported"), so a key's
 *    length is strlen() (hp_jansson_key_len). A marker put where a key belongs
 *    ({18446744073709551615: 1}) would hit that same refusal: it is reported as the
 *    non-string key it is. */
#ifndef HP_JSON_JANSSON_COMPAT_H
#define HP_JSON_JANSSON_COMPAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct hp_jansson_doc {
	json_t *root;
	uint64_t *big;   /* values of the integers above INT64_MAX, in input order */
	size_t nbig;
	size_t next_big; /* the next marker hp_jansson_big_uint expects (jansson keeps order) */
};

/* Parses json[0..len) as any JSON value, duplicate keys refused, "\u0000" allowed in strings.
 * Returns 0 with doc filled (free it with hp_jansson_doc_free), or -1 with err set, e.g.
 * "JSON error at line 1 column 5: ..."; doc then needs no freeing. */
int hp_jansson_load(const char *json, size_t len, struct hp_jansson_doc *doc, char *err,
		    size_t errlen);

/* A string value s (len bytes) of doc, as the packer meets them in document order: returns 1
 * with *v set if it is the marker of an integer above INT64_MAX, 0 if it is a plain string,
 * -1 with err set if it is a string of the input that spells a marker. */
int hp_jansson_big_uint(struct hp_jansson_doc *doc, const char *s, size_t len, uint64_t *v,
			char *err, size_t errlen);

/* After packing: 0 if every marker was met, else -1 with err set. */
int hp_jansson_all_big_used(const struct hp_jansson_doc *doc, char *err, size_t errlen);

void hp_jansson_doc_free(struct hp_jansson_doc *doc);

/* Length of an object key: jansson refuses keys containing NUL, so this is all of it. */
static inline size_t hp_jansson_key_len(const char *key)
{
	return strlen(key);
}

#endif
