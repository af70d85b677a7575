/* args.c - typed access to a call's msgpack arguments. */
#include <string.h>

#include "runtime_internal.h"

const msgpack_object *hp_arg(const hp_args *args, uint32_t i)
{
	return i < args->count ? &args->items[i] : NULL;
}

int hp_arg_i64(const hp_args *args, uint32_t i, int64_t *v)
{
	const msgpack_object *o = hp_arg(args, i);
	if (!o)
		return -1;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
		*v = (int64_t)o->via.u64;
		return 0;
	}
	return -1;
}

int hp_arg_u64(const hp_args *args, uint32_t i, uint64_t *v)
{
	const msgpack_object *o = hp_arg(args, i);
	if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	*v = o->via.u64;
	return 0;
}

int hp_arg_f64(const hp_args *args, uint32_t i, double *v)
{
	const msgpack_object *o = hp_arg(args, i);
	if (!o)
		return -1;
	switch (o->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*v = o->via.f64;
		return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*v = (double)o->via.u64;
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*v = (double)o->via.i64;
		return 0;
	default:
		return -1;
	}
}

int hp_arg_bool(const hp_args *args, uint32_t i, bool *v)
{
	const msgpack_object *o = hp_arg(args, i);
	if (!o || o->type != MSGPACK_OBJECT_BOOLEAN)
		return -1;
	*v = o->via.boolean;
	return 0;
}

int hp_arg_str(const hp_args *args, uint32_t i, const char **s, size_t *len)
{
	const msgpack_object *o = hp_arg(args, i);
	if (!o || o->type != MSGPACK_OBJECT_STR)
		return -1;
	*s = o->via.str.ptr;
	*len = o->via.str.size;
	return 0;
}

int hp_arg_bin(const hp_args *args, uint32_t i, const uint8_t **p, size_t *len)
{
	const msgpack_object *o = hp_arg(args, i);
	if (!o || o->type != MSGPACK_OBJECT_BIN)
		return -1;
	*p = (const uint8_t *)o->via.bin.ptr;
	*len = o->via.bin.size;
	return 0;
}

static const char *type_name(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return "nil";
	case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return "a float";
	case MSGPACK_OBJECT_STR: return "a string";
	case MSGPACK_OBJECT_BIN: return "bytes";
	case MSGPACK_OBJECT_ARRAY: return "an array";
	case MSGPACK_OBJECT_MAP: return "a map";
	case MSGPACK_OBJECT_EXT: return "an ext value";
	default: return "an unknown type";
	}
}

static const char *spec_name(char c)
{
	switch (c) {
	case 'i': return "an integer";
	case 'u': return "a non-negative integer";
	case 'f': return "a number";
	case 's': return "a string";
	case 'b': return "bytes";
	case 't': return "a boolean";
	case 'a': return "an array";
	case 'm': return "a map";
	case 'n': return "nil";
	default: return "anything";
	}
}

static bool matches(char c, const msgpack_object *o)
{
	switch (c) {
	case 'i':
		return o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
		       (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX);
	case 'u': return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
	case 'f':
		return o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64 ||
		       o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
		       o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
	case 's': return o->type == MSGPACK_OBJECT_STR;
	case 'b': return o->type == MSGPACK_OBJECT_BIN;
	case 't': return o->type == MSGPACK_OBJECT_BOOLEAN;
	case 'a': return o->type == MSGPACK_OBJECT_ARRAY;
	case 'm': return o->type == MSGPACK_OBJECT_MAP;
	case 'n': return o->type == MSGPACK_OBJECT_NIL;
	default: return true;
	}
}

int hp_args_expect(const hp_args *args, hp_out *out, const char *spec)
{
	uint32_t required = 0, total = 0;
	bool optional = false;
	for (const char *p = spec; *p; p++) {
		if (*p == '?') {
			optional = true;
			continue;
		}
		total++;
		if (!optional)
			required++;
	}
	const char *fn = (const char *)(uintptr_t)HP_CB->input_addr;
	int fn_len = (int)HP_CB->name_len;
	if (args->count < required || args->count > total) {
		if (required == total)
			return hp_error(out, "%.*s: expected %u argument%s, got %u", fn_len, fn,
					total, total == 1 ? "" : "s", args->count);
		return hp_error(out, "%.*s: expected %u to %u arguments, got %u", fn_len, fn,
				required, total, args->count);
	}
	uint32_t i = 0;
	for (const char *p = spec; *p && i < args->count; p++) {
		if (*p == '?')
			continue;
		if (!matches(*p, &args->items[i]))
			return hp_error(out, "%.*s: argument %u must be %s, got %s", fn_len, fn,
					i + 1, spec_name(*p), type_name(&args->items[i]));
		i++;
	}
	return 0;
}
