/* hp_json.h - JSON <-> MessagePack codec of the command-line tools (libhptools_json).
 *
 * Its users are the tools that take and print JSON: hyperpool-run (vmm/run/) today, the
 * hyperpool CLI (client/) later. libhpvmm itself never links it, and neither will the daemon or
 * libhyperpool: they pass msgpack through. That keeps jansson, which only this library uses,
 * out of everything but the tools, and proto/ down to the contracts.
 *
 * Both functions return 0 on success and -1 on failure with a one-line message in err (err may
 * be NULL or errlen 0; the message is truncated to errlen-1 bytes). No globals, no exit(), the
 * functions are reentrant. docs/json-mapping.md has the same rules with examples.
 *
 * JSON -> msgpack (hp_json_to_msgpack, parsed with jansson):
 *   null, true, false          -> nil, bool
 *   string                     -> str (UTF-8 as given; "\u0000" is allowed inside strings)
 *   array                      -> array
 *   object                     -> map with str keys, in input order. Duplicate keys are an
 *                                 error, and so is a key containing U+0000 (jansson refuses it).
 *   integer < 0                -> int (smallest encoding), down to -9223372036854775808;
 *                                 below that: error
 *   integer >= 0               -> uint (smallest encoding), up to 18446744073709551615
 *                                 (UINT64_MAX); above that: error. jansson stores integers as
 *                                 int64, so an integer above INT64_MAX makes it fail with
 *                                 "too big integer"; the codec then takes the token jansson
 *                                 points at (the error position), converts it with strtoull,
 *                                 overwrites it in a private copy of the input with a marker
 *                                 string of the same length and parses again. Each such integer
 *                                 costs one more jansson pass, so at most 1024 of them are
 *                                 accepted per document (error beyond). Error positions stay
 *                                 right since the marker has the same length as the number.
 *   "-0"                       -> uint 0 (an integer; write -0.0 for a negative zero float)
 *   real (has '.', 'e' or 'E') -> float64
 *   {"$bin": "<base64>"}       -> bin (standard alphabet, '=' padding required, strict)
 *   {"$float": "NaN" | "Infinity" | "-Infinity"}  -> float64
 *   {"$ext": [type, "<base64>"]}                  -> ext, type an integer -128..127
 *   An object whose only key is "$bin", "$float" or "$ext" is always read as that special
 *   form, and a malformed one is an error (message starts 'invalid "$bin" object'). An object
 *   with any other key, or with more than one key, is a normal map.
 *   Nesting: at most 64 arrays/maps deep (special objects do not count); deeper is an error.
 *
 * msgpack -> JSON (hp_msgpack_to_json, input validated by the bounded scanner of
 * proto/hp_mpscan.h; exactly one object, trailing bytes are an error; output is compact, no
 * whitespace):
 *   nil, bool, str, array      -> null, true/false, string, array
 *   map                        -> object in msgpack order. A str key is used as is; any other key
 *                                 becomes the JSON text of that key, as a string: 1 -> "1",
 *                                 nil -> "null", [1,2] -> "[1,2]". Duplicate keys are written as
 *                                 they come (the result may then not read back).
 *   positive / negative int    -> integer (any encoding: uint8..64, int8..64, fixints)
 *   float32, float64           -> the shortest of %.15g / %.16g / %.17g that reads back to the
 *                                 same double, with ".0" appended when that has no '.' or
 *                                 exponent (2.0 -> "2.0", -0.0 -> "-0.0"). A float32 is printed as
 *                                 its (exact) double value and reads back as float64.
 *   NaN, +Inf, -Inf            -> {"$float": "NaN"}, {"$float": "Infinity"}, {"$float": "-Infinity"}
 *   bin                        -> {"$bin": "<base64>"}
 *   ext                        -> {"$ext": [type, "<base64>"]}
 *   Strings are escaped per RFC 8259: '"' and '\' with a backslash, every byte < 0x20 as \u00XX;
 *   other characters are written as UTF-8. Invalid UTF-8 (bad, overlong or truncated sequences,
 *   surrogates, > U+10FFFF) is replaced by U+FFFD, one per offending byte.
 *   Nesting: at most 64 arrays/maps deep, counting maps used as keys; deeper is an error.
 *   Output size: at most 64 bytes per input byte + 4 KiB, else the error "JSON output too
 *   large". Ordinary data stays under 10; only keys nested in keys come near, as each level
 *   doubles the backslashes (40 levels of map-in-key would be 2^40 bytes from 83 input bytes).
 *   Lengths in the msgpack are never trusted: hp_mp_check_one checks the whole input (every
 *   length against the bytes left, the nesting, byte 0xc1) before any of it is converted, and
 *   nothing is allocated from a declared count (msgpack-c's msgpack_unpack_next is not used:
 *   it allocates count * 24 bytes up front for a declared array, so 5 bytes can ask for 96 GiB,
 *   and it fails nesting deeper than 32). Errors found by that check come before any in the
 *   conversion (such as the output size), except trailing bytes, reported last; a truncated
 *   input is reported at its end ("msgpack error at offset <len>: truncated").
 *   Floats are formatted with snprintf: LC_NUMERIC must have a one-byte decimal point (the C
 *   locale does; any other single byte is replaced by '.').
 *
 * Round trip: msgpack -> JSON -> msgpack -> JSON gives the same JSON text, except where the
 * msgpack has no JSON spelling: duplicate map keys, keys containing NUL, maps that look like a
 * malformed special object ({"$bin": 1}); these fail on the way back with an error. Types may
 * widen on the way (float32 -> float64, int8 5 -> uint 5, map keys -> str) but values do not
 * change. */
#ifndef HP_JSON_H
#define HP_JSON_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* Maximum nesting of arrays/maps accepted in both directions: hyperpool's value depth
 * (HP_MP_VALUE_DEPTH in proto/hp_mpscan.h), so that what the tools encode a guest can unpack. */
#define HP_JSON_MSGPACK_MAX_DEPTH 32

/* JSON text (len bytes, need not be NUL-terminated) -> msgpack bytes. On success *out is a
 * malloc'd buffer of *out_len bytes (free() it). On failure *out is NULL and err holds e.g.
 * "JSON error at line 1 column 5: ...". */
int hp_json_to_msgpack(const char *json, size_t len, uint8_t **out, size_t *out_len, char *err,
		       size_t errlen);

/* msgpack bytes (exactly one object, no trailing bytes) -> NUL-terminated JSON text in a
 * malloc'd *out (free() it). On failure *out is NULL and err holds e.g.
 * "msgpack error at offset 3: truncated". */
int hp_msgpack_to_json(const uint8_t *buf, size_t len, char **out, char *err, size_t errlen);

/* Reads all of f (a tool's stdin with the JSON arguments) into a malloc'd buffer (free() it),
 * at most 64 MiB; NULL when out of memory or over that. *len is the byte count. */
char *hp_json_read_all(FILE *f, size_t *len);

#endif
