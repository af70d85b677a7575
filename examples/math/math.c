/* math - integer and floating-point functions. */
#include <hyperpool/guest.h>
#include <math.h>

/* add(a, b) -> a + b for integers (error on int64 overflow), or a float if either is a float. */
static int add(const hp_args *args, hp_out *out)
{
	if (hp_args_expect(args, out, "ff") < 0)
		return -1;
	int64_t a, b, r;
	if (hp_arg_i64(args, 0, &a) == 0 && hp_arg_i64(args, 1, &b) == 0) {
		if (__builtin_add_overflow(a, b, &r))
			return hp_error(out, "add: integer overflow");
		return hp_ret_i64(out, r);
	}
	double x, y;
	hp_arg_f64(args, 0, &x);
	hp_arg_f64(args, 1, &y);
	return hp_ret_f64(out, x + y);
}

/* mul(a, b) -> a * b (integers, checked for overflow). */
static int mul(const hp_args *args, hp_out *out)
{
	int64_t a, b, r;
	if (hp_args_expect(args, out, "ii") < 0)
		return -1;
	hp_arg_i64(args, 0, &a);
	hp_arg_i64(args, 1, &b);
	if (__builtin_mul_overflow(a, b, &r))
		return hp_error(out, "mul: integer overflow");
	return hp_ret_i64(out, r);
}

/* fib(n) -> the n-th Fibonacci number as uint64 (n <= 93), computed iteratively. */
static int fib(const hp_args *args, hp_out *out)
{
	uint64_t n;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &n);
	if (n > 93)
		return hp_error(out, "fib: n must be at most 93 (fib(94) overflows uint64)");
	uint64_t a = 0, b = 1;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t = a + b;
		a = b;
		b = t;
	}
	return hp_ret_u64(out, a);
}

/* fib_rec(n) -> fib(n) computed recursively: real CPU work, n <= 35. */
static uint64_t fib_r(unsigned n)
{
	return n < 2 ? n : fib_r(n - 1) + fib_r(n - 2);
}

static int fib_rec(const hp_args *args, hp_out *out)
{
	uint64_t n;
	if (hp_args_expect(args, out, "u") < 0)
		return -1;
	hp_arg_u64(args, 0, &n);
	if (n > 35)
		return hp_error(out, "fib_rec: n must be at most 35");
	return hp_ret_u64(out, fib_r((unsigned)n));
}

/* sqrt(x), hypot(x, y), pow(x, y), div(x, y): float operations; NaN and infinities pass through. */
static int f_sqrt(const hp_args *args, hp_out *out)
{
	double x;
	if (hp_args_expect(args, out, "f") < 0)
		return -1;
	hp_arg_f64(args, 0, &x);
	return hp_ret_f64(out, sqrt(x));
}

static int f_hypot(const hp_args *args, hp_out *out)
{
	double x, y;
	if (hp_args_expect(args, out, "ff") < 0)
		return -1;
	hp_arg_f64(args, 0, &x);
	hp_arg_f64(args, 1, &y);
	return hp_ret_f64(out, hypot(x, y));
}

static int f_pow(const hp_args *args, hp_out *out)
{
	double x, y;
	if (hp_args_expect(args, out, "ff") < 0)
		return -1;
	hp_arg_f64(args, 0, &x);
	hp_arg_f64(args, 1, &y);
	return hp_ret_f64(out, pow(x, y));
}

static int f_div(const hp_args *args, hp_out *out)
{
	double x, y;
	if (hp_args_expect(args, out, "ff") < 0)
		return -1;
	hp_arg_f64(args, 0, &x);
	hp_arg_f64(args, 1, &y);
	return hp_ret_f64(out, x / y);
}

/* sum(array of numbers) -> float sum; mean and min/max as a map {sum, mean, min, max, n}. */
static int stats(const hp_args *args, hp_out *out)
{
	if (hp_args_expect(args, out, "a") < 0)
		return -1;
	const msgpack_object_array *a = &hp_arg(args, 0)->via.array;
	double sum = 0, mn = INFINITY, mx = -INFINITY;
	for (uint32_t i = 0; i < a->size; i++) {
		hp_args one = { .items = &a->ptr[i], .count = 1 };
		double v;
		if (hp_arg_f64(&one, 0, &v) < 0)
			return hp_error(out, "stats: element %u is not a number", i + 1);
		sum += v;
		mn = fmin(mn, v);
		mx = fmax(mx, v);
	}
	msgpack_packer *pk = hp_out_packer(out);
	msgpack_pack_map(pk, 5);
	msgpack_pack_str_with_body(pk, "n", 1);
	msgpack_pack_uint32(pk, a->size);
	msgpack_pack_str_with_body(pk, "sum", 3);
	msgpack_pack_double(pk, sum);
	msgpack_pack_str_with_body(pk, "mean", 4);
	msgpack_pack_double(pk, a->size ? sum / a->size : NAN);
	msgpack_pack_str_with_body(pk, "min", 3);
	msgpack_pack_double(pk, mn);
	msgpack_pack_str_with_body(pk, "max", 3);
	return msgpack_pack_double(pk, mx);
}

HP_MODULE_INIT()
{
	hp_register("add", add);
	hp_register("mul", mul);
	hp_register("fib", fib);
	hp_register("fib_rec", fib_rec);
	hp_register("sqrt", f_sqrt);
	hp_register("hypot", f_hypot);
	hp_register("pow", f_pow);
	hp_register("div", f_div);
	hp_register("stats", stats);
}
