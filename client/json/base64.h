/* base64.h - RFC 4648 base64, standard alphabet, '=' padding, for {"$bin"} and {"$ext"}. */
#ifndef HP_JSON_BASE64_H
#define HP_JSON_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters hp_b64_encode writes for n bytes. */
size_t hp_b64_encoded_len(size_t n);

/* Writes hp_b64_encoded_len(n) characters to dst (no NUL). */
void hp_b64_encode(const uint8_t *src, size_t n, char *dst);

/* Strict decoding: length a multiple of 4, '=' only as the last one or two characters, unused
 * bits zero (so each byte string has exactly one spelling). Returns 0, or -1 with *why set to
 * a static reason; *out is malloc'd (at least 1 byte, so an empty result is not NULL). */
int hp_b64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len, const char **why);

#endif
