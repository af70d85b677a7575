/* echo - returns its arguments unchanged: any msgpack value round-trips through the VM. */
#include <hyperpool/guest.h>

/* echo(x) -> x */
static int echo(const hp_args *args, hp_out *out)
{
	if (hp_args_expect(args, out, "*") < 0)
		return -1;
	return hp_ret_object(out, hp_arg(args, 0));
}

/* echo_all(...) -> [...]: the whole argument array. */
static int echo_all(const hp_args *args, hp_out *out)
{
	msgpack_packer *pk = hp_out_packer(out);
	if (msgpack_pack_array(pk, args->count) < 0)
		return -1;
	for (uint32_t i = 0; i < args->count; i++)
		if (msgpack_pack_object(pk, args->items[i]) < 0)
			return -1;
	return 0;
}

/* type_of(x) -> the msgpack type name of x. */
static int type_of(const hp_args *args, hp_out *out)
{
	static const char *const names[] = {
		[MSGPACK_OBJECT_NIL] = "nil", [MSGPACK_OBJECT_BOOLEAN] = "bool",
		[MSGPACK_OBJECT_POSITIVE_INTEGER] = "uint", [MSGPACK_OBJECT_NEGATIVE_INTEGER] = "int",
		[MSGPACK_OBJECT_FLOAT32] = "float32", [MSGPACK_OBJECT_FLOAT64] = "float64",
		[MSGPACK_OBJECT_STR] = "str", [MSGPACK_OBJECT_ARRAY] = "array",
		[MSGPACK_OBJECT_MAP] = "map", [MSGPACK_OBJECT_BIN] = "bin", [MSGPACK_OBJECT_EXT] = "ext",
	};
	if (hp_args_expect(args, out, "*") < 0)
		return -1;
	unsigned t = hp_arg(args, 0)->type;
	return hp_ret_cstr(out, t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : "?");
}

HP_MODULE_INIT()
{
	hp_register("echo", echo);
	hp_register("echo_all", echo_all);
	hp_register("type_of", type_of);
}
