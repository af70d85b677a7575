/* hello - the smallest module: printf from inside a micro-VM. */
#include <hyperpool/guest.h>
#include <stdio.h>
#include <string.h>

/* hello([name]) -> "hello, NAME"; also prints a greeting to stdout. */
static int hello(const hp_args *args, hp_out *out)
{
	const char *name = "world";
	size_t len = 5;
	if (hp_args_expect(args, out, "?s") < 0)
		return -1;
	if (args->count == 1)
		hp_arg_str(args, 0, &name, &len);
	printf("Hello from a KVM micro-VM, %.*s!\n", (int)len, name);
	char buf[160];
	int n = snprintf(buf, sizeof(buf), "hello, %.*s", (int)(len > 128 ? 128 : len), name);
	return hp_ret_str(out, buf, (size_t)n);
}

/* count(n) -> n; prints lines 1..n to stdout, odd ones to stderr, to show ordering. */
static int count(const hp_args *args, hp_out *out)
{
	int64_t n;
	if (hp_args_expect(args, out, "i") < 0)
		return -1;
	hp_arg_i64(args, 0, &n);
	if (n < 0 || n > 100000)
		return hp_error(out, "count: n must be in 0..100000");
	for (int64_t i = 1; i <= n; i++)
		fprintf(i % 2 ? stderr : stdout, "line %lld\n", (long long)i);
	return hp_ret_i64(out, n);
}

/* now() -> the host's clock in nanoseconds since the epoch: a host function call (the host
 * must offer "time": hyperpoold.conf host_functions = time). The guest has no clock of its own
 * that the snapshot would not freeze. */
static int now(const hp_args *args, hp_out *out)
{
	static const uint8_t no_args[] = { 0x90 }; /* [] */
	const uint8_t *reply;
	size_t len;
	if (hp_args_expect(args, out, "") < 0)
		return -1;
	int status = hp_host_call("time", no_args, sizeof(no_args), &reply, &len);
	if (status != 0)
		return hp_error(out, "now: the host's time: %.*s", (int)len, (const char *)reply);
	msgpack_zone zone;
	msgpack_zone_init(&zone, 256);
	msgpack_object obj;
	size_t off = 0;
	int rc = msgpack_unpack((const char *)reply, len, &off, &zone, &obj) == MSGPACK_UNPACK_SUCCESS
			 ? hp_ret_object(out, &obj)
			 : hp_error(out, "now: the host's answer is not msgpack");
	msgpack_zone_destroy(&zone);
	return rc;
}

/* ask(name, args) -> what the host function `name` answers for `args` (an array): with
 * hyperpoold's host_functions = client, the calling client's own function. */
static int ask(const hp_args *args, hp_out *out)
{
	const char *name;
	size_t name_len;
	if (hp_args_expect(args, out, "sa") < 0)
		return -1;
	hp_arg_str(args, 0, &name, &name_len);
	char cname[64];
	if (name_len == 0 || name_len >= sizeof(cname))
		return hp_error(out, "ask: a host function's name is 1 to 63 bytes");
	memcpy(cname, name, name_len);
	cname[name_len] = 0;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, *hp_arg(args, 1));
	const uint8_t *reply;
	size_t len;
	int status = hp_host_call(cname, sb.data, sb.size, &reply, &len);
	msgpack_sbuffer_destroy(&sb);
	if (status != 0)
		return hp_error(out, "ask: %s: %.*s", cname, (int)len, (const char *)reply);
	msgpack_zone zone;
	msgpack_zone_init(&zone, 1024);
	msgpack_object obj;
	size_t off = 0;
	int rc = msgpack_unpack((const char *)reply, len, &off, &zone, &obj) == MSGPACK_UNPACK_SUCCESS
			 ? hp_ret_object(out, &obj)
			 : hp_error(out, "ask: the host's answer is not msgpack");
	msgpack_zone_destroy(&zone);
	return rc;
}

HP_MODULE_INIT()
{
	hp_register("hello", hello);
	hp_register("count", count);
	hp_register("now", now);
	hp_register("ask", ask);
}
