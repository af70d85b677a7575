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
	if (hp_args_expect(args, out, "") < 0)
		return -1;
	hp_host_args a;
	hp_host_args_begin(&a, 0); /* [] */
	hp_host_reply r;
	if (hp_host_invoke("time", &a, &r) != 0) {
		hp_host_reply_free(&r);
		return hp_error(out, "now: the host's time: %.*s", (int)r.message_len, r.message);
	}
	int rc = hp_ret_object(out, &r.result);
	hp_host_reply_free(&r);
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
	const msgpack_object *list = hp_arg(args, 1);
	hp_host_args a;
	msgpack_packer *pk = hp_host_args_begin(&a, list->via.array.size);
	for (uint32_t i = 0; i < list->via.array.size; i++)
		msgpack_pack_object(pk, list->via.array.ptr[i]);
	hp_host_reply r;
	if (hp_host_invoke(cname, &a, &r) != 0) {
		hp_host_reply_free(&r);
		return hp_error(out, "ask: %s: %.*s", cname, (int)r.message_len, r.message);
	}
	int rc = hp_ret_object(out, &r.result);
	hp_host_reply_free(&r);
	return rc;
}

HP_MODULE_INIT()
{
	hp_register("hello", hello);
	hp_register("count", count);
	hp_register("now", now);
	hp_register("ask", ask);
}
