/* calc - an arithmetic expression evaluator: real parsing work on untrusted text.
 *
 *   eval("2 * (3 + 4) ^ 2 - sqrt(16)")          -> 94.0
 *   eval("x * y + 1", {"x": 2, "y": 20})         -> 41.0
 *
 * Grammar (recursive descent, depth-limited):
 *   expr   = term { ("+" | "-") term }
 *   term   = unary { ("*" | "/" | "%") unary }
 *   unary  = ("-" | "+") unary | power
 *   power  = atom [ "^" unary ]
 *   atom   = number | name [ "(" expr { "," expr } ")" ] | "(" expr ")"
 */
#include <ctype.h>
#include <hyperpool/guest.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 200

struct parser {
	const char *p, *end, *start;
	const msgpack_object_map *vars;
	int depth;
	char error[160];
};

static bool failed(const struct parser *ps)
{
	return ps->error[0] != '\0';
}

static double fail(struct parser *ps, const char *msg)
{
	if (!failed(ps))
		snprintf(ps->error, sizeof(ps->error), "%s at offset %ld", msg, (long)(ps->p - ps->start));
	return NAN;
}

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end && isspace((unsigned char)*ps->p))
		ps->p++;
}

static bool accept(struct parser *ps, char c)
{
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == c) {
		ps->p++;
		return true;
	}
	return false;
}

static double expr(struct parser *ps);
static double unary(struct parser *ps);

static double number(struct parser *ps)
{
	char buf[64];
	size_t n = 0;
	while (ps->p + n < ps->end && n < sizeof(buf) - 1 &&
	       (isdigit((unsigned char)ps->p[n]) || ps->p[n] == '.' || ps->p[n] == 'e' ||
		ps->p[n] == 'E' ||
		((ps->p[n] == '-' || ps->p[n] == '+') && n && (ps->p[n - 1] == 'e' || ps->p[n - 1] == 'E'))))
		n++;
	memcpy(buf, ps->p, n);
	buf[n] = '\0';
	char *endp;
	double v = strtod(buf, &endp);
	if (endp == buf)
		return fail(ps, "bad number");
	ps->p += endp - buf;
	return v;
}

static double variable(struct parser *ps, const char *name, size_t len)
{
	if (len == 2 && !memcmp(name, "pi", 2))
		return M_PI;
	if (len == 1 && name[0] == 'e')
		return M_E;
	for (uint32_t i = 0; ps->vars && i < ps->vars->size; i++) {
		const msgpack_object_kv *kv = &ps->vars->ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != len ||
		    memcmp(kv->key.via.str.ptr, name, len))
			continue;
		hp_args one = { .items = &kv->val, .count = 1 };
		double v;
		if (hp_arg_f64(&one, 0, &v) < 0)
			return fail(ps, "variable is not a number");
		return v;
	}
	return fail(ps, "unknown variable");
}

static double call(struct parser *ps, const char *name, size_t len)
{
	double a[2] = { 0, 0 };
	int n = 0;
	if (!accept(ps, ')')) {
		do {
			if (n == 2)
				return fail(ps, "too many arguments");
			a[n++] = expr(ps);
		} while (accept(ps, ','));
		if (!accept(ps, ')'))
			return fail(ps, "expected ')'");
	}
	static const struct { const char *name; int argc; double (*f1)(double); double (*f2)(double, double); } fns[] = {
		{ "sqrt", 1, sqrt, NULL }, { "abs", 1, fabs, NULL }, { "sin", 1, sin, NULL },
		{ "cos", 1, cos, NULL }, { "exp", 1, exp, NULL }, { "ln", 1, log, NULL },
		{ "floor", 1, floor, NULL }, { "ceil", 1, ceil, NULL }, { "min", 2, NULL, fmin },
		{ "max", 2, NULL, fmax }, { "pow", 2, NULL, pow }, { "hypot", 2, NULL, hypot },
	};
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		if (strlen(fns[i].name) != len || memcmp(fns[i].name, name, len))
			continue;
		if (n != fns[i].argc)
			return fail(ps, "wrong number of arguments");
		return n == 1 ? fns[i].f1(a[0]) : fns[i].f2(a[0], a[1]);
	}
	return fail(ps, "unknown function");
}

static double atom(struct parser *ps)
{
	skip_space(ps);
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of expression");
	if (accept(ps, '(')) {
		double v = expr(ps);
		if (!accept(ps, ')'))
			return fail(ps, "expected ')'");
		return v;
	}
	if (isdigit((unsigned char)*ps->p) || *ps->p == '.')
		return number(ps);
	if (isalpha((unsigned char)*ps->p) || *ps->p == '_') {
		const char *name = ps->p;
		while (ps->p < ps->end && (isalnum((unsigned char)*ps->p) || *ps->p == '_'))
			ps->p++;
		size_t len = (size_t)(ps->p - name);
		if (accept(ps, '('))
			return call(ps, name, len);
		return variable(ps, name, len);
	}
	return fail(ps, "unexpected character");
}

static double power(struct parser *ps)
{
	double base = atom(ps);
	if (accept(ps, '^'))
		return pow(base, unary(ps));
	return base;
}

static double unary(struct parser *ps)
{
	if (++ps->depth > MAX_DEPTH)
		return fail(ps, "expression nested too deeply");
	double v = accept(ps, '-') ? -unary(ps) : accept(ps, '+') ? unary(ps) : power(ps);
	ps->depth--;
	return v;
}

static double term(struct parser *ps)
{
	double v = unary(ps);
	for (;;) {
		if (accept(ps, '*'))
			v *= unary(ps);
		else if (accept(ps, '/'))
			v /= unary(ps);
		else if (accept(ps, '%'))
			v = fmod(v, unary(ps));
		else
			return v;
	}
}

static double expr(struct parser *ps)
{
	if (++ps->depth > MAX_DEPTH)
		return fail(ps, "expression nested too deeply");
	double v = term(ps);
	while (!failed(ps)) {
		if (accept(ps, '+'))
			v += term(ps);
		else if (accept(ps, '-'))
			v -= term(ps);
		else
			break;
	}
	ps->depth--;
	return v;
}

/* eval(expression [, {name: number}]) -> float */
static int eval(const hp_args *args, hp_out *out)
{
	const char *s;
	size_t n;
	if (hp_args_expect(args, out, "s?m") < 0)
		return -1;
	hp_arg_str(args, 0, &s, &n);
	struct parser ps = { .p = s, .end = s + n, .start = s };
	if (args->count == 2)
		ps.vars = &hp_arg(args, 1)->via.map;
	double v = expr(&ps);
	skip_space(&ps);
	if (!failed(&ps) && ps.p != ps.end)
		fail(&ps, "unexpected trailing input");
	if (failed(&ps))
		return hp_error(out, "eval: %s", ps.error);
	return hp_ret_f64(out, v);
}

HP_MODULE_INIT()
{
	hp_register("eval", eval);
}
