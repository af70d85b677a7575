/* hp_mpscan.h - the one bounded MessagePack reader of the host side.
 *
 * Every host reader of untrusted msgpack (a guest's result and function list, a client's
 * frames in the daemon, a daemon's responses in the client, the tools' msgpack -> JSON) first
 * asks this scanner: is there one complete object here, how long is it, is it within limits?
 * Only then does anything else (msgpack-c's unpacker, the JSON writer, a splice into a frame)
 * look at the bytes. msgpack-c's unpacker allocates what a header claims before checking that
 * the bytes exist (`dd ff ff ff ff` asks it for 96 GiB); the scanner allocates nothing at all.
 *
 * Two layers:
 *  - hp_mp_token(): decodes the one header at the front of a buffer (type, value or length,
 *    payload pointer). Readers that walk validated bytes use it instead of a hand decoder.
 *  - hp_mp_scanner: validates one object, resumable. The caller keeps the object's bytes
 *    contiguous from its first byte and calls hp_mp_scan() again with the longer buffer each
 *    time more bytes arrive; the scanner continues where it stopped (no rescans: linear in the
 *    object's size however it is chunked). It answers complete (with the object's length),
 *    incomplete (need more bytes), or invalid (with the offset and a reason).
 *
 * Limits: nesting depth, total bytes of the object, and (always) every declared count of
 * elements must fit in the bytes that remain under max_bytes: each element takes at least one
 * byte, so a 4 GiB array header in a 1 MiB frame is invalid at once, not "incomplete". The
 * bound counts every element still expected at every open level, so HP_MP_INCOMPLETE means
 * exactly: some continuation of these bytes is one valid object within the limits.
 * With max_bytes 0 (no size limit) nothing bounds a declared count or length but the header's
 * own width: `dd ff ff ff ff` or a 4 GiB str header is then a valid prefix, INCOMPLETE, never
 * INVALID. A caller that knows how many bytes can ever arrive (a buffer, a frame limit) passes
 * that as max_bytes to get INVALID instead of waiting for bytes that cannot come.
 * Pure functions over bytes, no globals, no allocation: fuzzed (tests/fuzz/fuzz_mpscan.c). */
#ifndef HP_MPSCAN_H
#define HP_MPSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HP_MP_MAX_DEPTH 64 /* the deepest nesting any limits may ask for */
/* The deepest value hyperpool passes anywhere: a call's args, a result, a host call and its
 * reply. msgpack-c, which the guest runtime and libhyperpool unpack values with (and most C
 * clients), fails on anything deeper (MSGPACK_EMBED_STACK_SIZE is 32): a deeper value accepted
 * at one end would fail to unpack at the other. */
#define HP_MP_VALUE_DEPTH 32

enum hp_mp_type {
	HP_MP_NIL,
	HP_MP_BOOL,
	HP_MP_UINT,    /* positive fixint, uint 8..64: v.u */
	HP_MP_INT,     /* negative fixint, int 8..64 (also non-negative int encodings): v.i */
	HP_MP_FLOAT32, /* v.f64 holds the exact value */
	HP_MP_FLOAT64,
	HP_MP_STR,     /* len bytes at data */
	HP_MP_BIN,
	HP_MP_EXT,     /* ext_type, len bytes at data (fixext included) */
	HP_MP_ARRAY,   /* len elements follow */
	HP_MP_MAP,     /* len key/value pairs follow */
};

enum hp_mp_status {
	HP_MP_OK = 0,
	HP_MP_INCOMPLETE = 1, /* the buffer ends inside the object: feed more bytes */
	HP_MP_INVALID = -1,   /* never a valid object within the limits: reason and offset set */
};

struct hp_mp_token {
	enum hp_mp_type type;
	uint32_t header_len; /* bytes of the header (type byte + length/value bytes) */
	uint32_t len;        /* STR/BIN/EXT: payload bytes; ARRAY: elements; MAP: pairs */
	int8_t ext_type;
	union {
		bool b;
		uint64_t u;
		int64_t i;
		double f64;
	} v;
	const uint8_t *data; /* STR/BIN/EXT payload (may extend past the buffer: check len) */
};

/* Decodes the header at buf[0..len). HP_MP_OK: *t is filled (the payload of STR/BIN/EXT may
 * still be incomplete: hp_mp_token checks only the header). HP_MP_INCOMPLETE: fewer bytes than
 * the header needs; t->type and t->header_len (what the first byte says) are set, nothing else
 * (len == 0: header_len 1). HP_MP_INVALID: the byte 0xc1, which msgpack never uses. */
int hp_mp_token(const uint8_t *buf, size_t len, struct hp_mp_token *t);

/* What an object may be. Zero-initialised limits mean: depth HP_MP_MAX_DEPTH, no size limit
 * beyond the buffer, any type. */
struct hp_mp_limits {
	uint32_t max_depth;  /* arrays/maps nested (an empty one counts, as in msgpack-c);
			      * 0: HP_MP_MAX_DEPTH; values above it are clamped */
	uint64_t max_bytes;  /* the whole object; 0: no limit (see the top of this file) */
	uint32_t flags;      /* HP_MP_F_* */
};
#define HP_MP_F_UTF8   1u /* every str (keys included) must be valid UTF-8 (no overlongs,
			   * no surrogates, nothing above U+10FFFF) */
#define HP_MP_F_NO_EXT 2u /* ext types are refused (clients' decoders reject some of them) */

/* Scanner state: read only error and error_offset; the rest is private. */
struct hp_mp_scanner {
	struct hp_mp_limits lim;
	uint64_t pos;                        /* bytes of the object validated so far */
	uint32_t depth;                      /* open arrays/maps */
	uint64_t left[HP_MP_MAX_DEPTH + 1];  /* elements still expected at each open level
					      * (left[0]: the object itself) */
	uint64_t payload_left;               /* bytes of the current str/bin/ext still to come */
	bool payload_utf8;                   /* ... and they are a str to check as UTF-8 */
	uint64_t need;                       /* fewest bytes that can still finish the object:
					      * payload_left + every left[] */
	bool done;
	/* after HP_MP_INVALID */
	uint64_t error_offset;
	const char *error; /* static string: "nesting too deep", "invalid UTF-8 in a str", ... */
};

/* Starts a scan of a new object (lim may be NULL for the defaults; it is copied). */
void hp_mp_scanner_init(struct hp_mp_scanner *s, const struct hp_mp_limits *lim);

/* buf[0..len) holds the object's bytes from its first byte, at least as many as in the
 * previous call of this scan (more may follow the object: they are not looked at).
 * HP_MP_OK: the object is complete and *obj_len is its length. HP_MP_INCOMPLETE: len bytes
 * are a valid prefix within the limits. HP_MP_INVALID: s->error and s->error_offset say why;
 * the scanner stays invalid. */
int hp_mp_scan(struct hp_mp_scanner *s, const uint8_t *buf, size_t len, size_t *obj_len);

/* One-shot: is buf[0..len) exactly one complete object within lim? Returns HP_MP_OK,
 * HP_MP_INCOMPLETE (truncated: *error "truncated", *offset len) or HP_MP_INVALID (also when
 * bytes follow the object: *error "bytes after the object", *offset where they start, so
 * len - *offset of them); on failure *error and *offset (either may be NULL) say why and
 * where, on success they are left alone. */
int hp_mp_check_one(const uint8_t *buf, size_t len, const struct hp_mp_limits *lim,
		    const char **error, size_t *offset);

/* A cursor over bytes the scanner accepted: each step reads one header (a str/bin/ext payload
 * is stepped over too) and checks it fits what is left, so a walk never reads past the object
 * even if the bytes were not validated. The daemon, libhyperpool and libhpvmm's built-ins
 * read their envelopes with it. */
struct hp_mp_cursor {
	const uint8_t *p;
	size_t left;
};
bool hp_mp_next(struct hp_mp_cursor *c, struct hp_mp_token *t);
/* One whole object (with everything nested), its span returned. */
bool hp_mp_next_object(struct hp_mp_cursor *c, const uint8_t **start, size_t *len);
/* An unsigned integer (or a non-negative int encoding). */
bool hp_mp_next_uint(struct hp_mp_cursor *c, uint64_t *v);
/* A str, or a bin (some clients send names as bin). */
bool hp_mp_next_name(struct hp_mp_cursor *c, const uint8_t **s, uint32_t *len);

/* UTF-8 */
bool hp_utf8_valid(const uint8_t *s, size_t len);
/* Every byte may become U+FFFD (3 bytes): this holds any len bytes of input whole. */
#define HP_UTF8_SANITIZED_SIZE(len) (3 * (len) + 1)
/* Copies s to out (capacity outsize >= 4) as valid UTF-8: each byte that does not start a
 * valid sequence becomes U+FFFD; stops before a sequence that would not fit, and NUL
 * terminates. Returns the bytes written, without the NUL. */
size_t hp_utf8_sanitize(const uint8_t *s, size_t len, char *out, size_t outsize);

#endif
