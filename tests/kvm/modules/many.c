/* many - a module that registers 101 functions: f000..f099 (each returns its own index) and
 * count_args (returns how many arguments it got). Tests registration and lookup at scale. */
#include <hyperpool/guest.h>

#define F(n)                                                                                   \
	static int f##n(const hp_args *args, hp_out *out)                                      \
	{                                                                                      \
		(void)args;                                                                    \
		return hp_ret_i64(out, 1##n - 1000);                                           \
	}
#define F10(d) F(d##0) F(d##1) F(d##2) F(d##3) F(d##4) F(d##5) F(d##6) F(d##7) F(d##8) F(d##9)
F10(00) F10(01) F10(02) F10(03) F10(04) F10(05) F10(06) F10(07) F10(08) F10(09)

#define R(n) hp_register("f" #n, f##n);
#define R10(d) R(d##0) R(d##1) R(d##2) R(d##3) R(d##4) R(d##5) R(d##6) R(d##7) R(d##8) R(d##9)

static int count_args(const hp_args *args, hp_out *out)
{
	return hp_ret_i64(out, args->count);
}

HP_MODULE_INIT()
{
	/* Registered in reverse order so the runtime's sort is exercised. */
	hp_register("count_args", count_args);
	R10(09) R10(08) R10(07) R10(06) R10(05) R10(04) R10(03) R10(02) R10(01) R10(00)
}
