/* hyperpool-run - run one function of a guest module in a KVM micro-VM, in-process.
 *
 * libhpvmm used as a library, the way Hyperlight is embedded: no daemon, no socket. Prints the
 * result as JSON on stdout and the guest's own output on stderr. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hp_json.h"
#include "hp_mpscan.h"
#include "hpvmm.h"

enum { EXIT_GUEST = 1, EXIT_HOST = 2, EXIT_USAGE = 64 };

static const char usage_text[] =
	"Usage: hyperpool-run [OPTIONS] MODULE FUNCTION [ARGS]\n"
	"       hyperpool-run --list MODULE\n"
	"\n"
	"Runs FUNCTION of the guest module MODULE (a static ELF built against libhpguest) in a\n"
	"fresh KVM micro-VM and prints its result as JSON. ARGS is a JSON array of arguments\n"
	"(default []); '-' reads it from standard input. Types JSON lacks are written as\n"
	"{\"$bin\": \"<base64>\"} and {\"$float\": \"NaN\"} (see docs/json-mapping.md).\n"
	"The guest's stdout and stderr are copied to stderr.\n"
	"\n"
	"Options:\n"
	"  -l, --list           list the functions MODULE registers\n"
	"  -q, --quiet          do not copy the guest's output\n"
	"  -n, --calls N        make the call N times (default 1): every result must be the\n"
	"                       same bytes; prints it once and a timing summary on stderr\n"
	"  -p, --pool N         spread the calls over a pool of N VMs cloned from the\n"
	"                       module's snapshot (default 1)\n"
	"      --restore NAME   how VMs are put back after a call: auto (measure at load,\n"
	"                       default), dirtylog-memcpy, dirtylog-madvise, pagemap-memcpy,\n"
	"                       pagemap-madvise\n"
	"  -v, --verbose        print the restore strategies measured and chosen\n"
	"  -t, --timeout MS     deadline of each call and of the module's init (default 10000)\n"
	"      --heap SIZE      guest heap size (default 16M)\n"
	"      --stack SIZE     guest stack size (default 1M)\n"
	"      --input SIZE     input buffer size, limits the arguments (default 2M)\n"
	"      --output SIZE    output buffer size, limits the result (default 2M)\n"
	"  -h, --help           show this help\n"
	"SIZE takes a K, M or G suffix and must be a multiple of 4K.\n"
	"\n"
	"Exit status: 0 success, 1 the guest failed (error, abort, fault), 2 a host error\n"
	"(bad module, KVM unavailable, ...), 64 bad usage.\n";

struct options {
	bool list, quiet, verbose;
	unsigned long calls, pool;
	struct hp_module_config cfg;
	const char *module, *function, *args;
};

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_count(const char *s, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v == 0 || v > 100000000ul)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_HEAP = 256, OPT_STACK, OPT_INPUT, OPT_OUTPUT, OPT_RESTORE };
	static const struct option longopts[] = {
		{ "list", no_argument, NULL, 'l' },       { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },       { "heap", required_argument, NULL, OPT_HEAP },
		{ "stack", required_argument, NULL, OPT_STACK },
		{ "input", required_argument, NULL, OPT_INPUT },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "calls", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "pool", required_argument, NULL, 'p' },
		{ "restore", required_argument, NULL, OPT_RESTORE },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 },
	};
	int c;
	o->calls = o->pool = 1;
	while ((c = getopt_long(argc, argv, "lqhvn:p:t:", longopts, NULL)) != -1) {
		uint64_t *size = NULL;
		switch (c) {
		case 'l': o->list = true; continue;
		case 'q': o->quiet = true; continue;
		case 'v': o->verbose = true; continue;
		case 'n':
		case 'p':
			if (parse_count(optarg, c == 'n' ? &o->calls : &o->pool) < 0) {
				fprintf(stderr, "hyperpool-run: invalid count '%s' (1 to 100000000)\n", optarg);
				return -1;
			}
			continue;
		case 't': {
			unsigned long ms;
			if (parse_count(optarg, &ms) < 0 || ms > 86400000ul) {
				fprintf(stderr, "hyperpool-run: invalid timeout '%s' (1 to 86400000 ms)\n", optarg);
				return -1;
			}
			o->cfg.timeout_ms = ms;
			continue;
		}
		case OPT_RESTORE:
			o->cfg.restore = hp_restore_strategy_parse(optarg);
			if (o->cfg.restore < 0) {
				fprintf(stderr, "hyperpool-run: unknown restore strategy '%s'\n", optarg);
				return -1;
			}
			continue;
		case 'h': fputs(usage_text, stdout); exit(0);
		case OPT_HEAP: size = &o->cfg.heap_size; break;
		case OPT_STACK: size = &o->cfg.stack_size; break;
		case OPT_INPUT: size = &o->cfg.input_size; break;
		case OPT_OUTPUT: size = &o->cfg.output_size; break;
		default: return -1;
		}
		if (parse_size(optarg, size) < 0 || *size == 0) {
			fprintf(stderr, "hyperpool-run: invalid size '%s'\n", optarg);
			return -1;
		}
	}
	int need = o->list ? 1 : 2;
	if (argc - optind < need || argc - optind > need + (o->list ? 0 : 1)) {
		fprintf(stderr, "hyperpool-run: expected %s\n",
			o->list ? "MODULE" : "MODULE FUNCTION [ARGS]");
		return -1;
	}
	o->module = argv[optind];
	if (!o->list) {
		o->function = argv[optind + 1];
		o->args = optind + 2 < argc ? argv[optind + 2] : "[]";
	}
	return 0;
}

static void copy_log(void *ctx, int stream, const char *bytes, size_t len)
{
	(void)stream;
	if (!*(bool *)ctx)
		fwrite(bytes, 1, len, stderr);
}

static int host_error(const struct hp_error *err)
{
	fprintf(stderr, "hyperpool-run: %s: %s\n", hp_status_name(err->code), err->message);
	return err->code >= HP_E_GUEST_ABORT && err->code < HP_E_INVALID ? EXIT_GUEST : EXIT_HOST;
}

/* The arguments as one msgpack array, from the command line or stdin. */
static int read_call_args(const struct options *o, uint8_t **args, size_t *args_len)
{
	size_t json_len = strlen(o->args);
	char *owned = NULL;
	const char *json = o->args;
	if (!strcmp(o->args, "-")) {
		json = owned = hp_json_read_all(stdin, &json_len);
		if (!owned) {
			fprintf(stderr, "hyperpool-run: cannot read arguments from stdin\n");
			return EXIT_HOST;
		}
	}
	char msg[256];
	int rc = hp_json_to_msgpack(json, json_len, args, args_len, msg, sizeof(msg));
	free(owned);
	if (rc < 0) {
		fprintf(stderr, "hyperpool-run: ARGS: %s\n", msg);
		return EXIT_USAGE;
	}
	/* The codec packed it, so its first header says what it is. */
	struct hp_mp_token t;
	if (hp_mp_token(*args, *args_len, &t) != HP_MP_OK || t.type != HP_MP_ARRAY) {
		fprintf(stderr, "hyperpool-run: ARGS must be a JSON array, e.g. '[1, 2]'\n");
		free(*args);
		*args = NULL; /* the caller frees *args whatever we return */
		return EXIT_USAGE;
	}
	return 0;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct run_state {
	const struct options *o;
	const uint8_t *args;
	size_t args_len;
	uint8_t *first;      /* the first call's output, to compare the others with */
	size_t first_len;
	int first_status;
	double *times;       /* call + restore of each call */
	unsigned long done;
};

/* One call on a pooled VM, its output checked against the first call's. */
static int one_call(struct run_state *st, struct hp_vm *vm)
{
	struct hp_call_result res;
	struct hp_error err;
	double t0 = now_us();
	int rc = hp_vm_call(vm, st->o->function, strlen(st->o->function), st->args, st->args_len,
			    &res, &err);
	if (rc < 0)
		return host_error(&err);
	if (!st->first) {
		st->first = malloc(res.output_len ? res.output_len : 1);
		if (!st->first) {
			fprintf(stderr, "hyperpool-run: out of memory\n");
			return EXIT_HOST;
		}
		memcpy(st->first, res.output, res.output_len);
		st->first_len = res.output_len;
		st->first_status = res.status;
	} else if (res.status != st->first_status || res.output_len != st->first_len ||
		   memcmp(res.output, st->first, st->first_len)) {
		fprintf(stderr, "hyperpool-run: call %lu gave a different result than call 1\n",
			st->done + 1);
		return EXIT_GUEST;
	}
	if (hp_vm_restore(vm, &err) < 0)
		return host_error(&err);
	st->times[st->done++] = now_us() - t0;
	return 0;
}

/* The calls, spread over the pool in rounds: every VM of the pool serves one call per round. */
/* The host functions the runner offers every module: libhpvmm's built-ins (time, random, log:
 * hpvmm.h), so a module's host calls can be tried without the daemon. */
static void runner_host(void *ctx, struct hp_vm *vm, const char *name, size_t name_len,
			const uint8_t *args, size_t args_len, struct hp_host_reply *r)
{
	(void)ctx;
	if (hp_host_builtin(HP_HOST_TIME | HP_HOST_RANDOM | HP_HOST_LOG, vm, name, name_len, args,
			    args_len, r))
		return;
	int n = snprintf((char *)r->inline_buf, sizeof(r->inline_buf),
			 "hyperpool-run offers no host function '%.*s' (only time, random, log)",
			 (int)(name_len > 64 ? 64 : name_len), name);
	r->status = HP_E_NO_SUCH_FUNCTION;
	r->bytes = r->inline_buf;
	r->len = n > 0 ? (size_t)n : 0;
}

static int run_calls(struct run_state *st, struct hp_pool *pool)
{
	unsigned long n = st->o->pool;
	struct hp_vm **vms = calloc(n, sizeof(*vms));
	if (!vms)
		return EXIT_HOST;
	int rc = 0;
	while (rc == 0 && st->done < st->o->calls) {
		unsigned long round = st->o->calls - st->done < n ? st->o->calls - st->done : n, got = 0;
		struct hp_error err;
		for (; got < round; got++)
			if (hp_pool_get(pool, &vms[got], &err) < 0) {
				rc = host_error(&err);
				break;
			}
		for (unsigned long i = 0; i < got && rc == 0; i++) {
			hp_vm_set_host(vms[i], runner_host, NULL);
			rc = one_call(st, vms[i]);
		}
		for (unsigned long i = 0; i < got; i++)
			hp_pool_put(pool, vms[i]);
	}
	free(vms);
	return rc;
}

static void print_summary(const struct run_state *st, struct hp_module *mod)
{
	if (st->done < 2)
		return;
	double *t = st->times;
	qsort(t, st->done, sizeof(double), cmp_double);
	fprintf(stderr, "hyperpool-run: %lu calls on %lu VM%s: call + restore median %.1f us, "
		"p99 %.1f us; restore strategy %s; all results identical\n",
		st->done, st->o->pool, st->o->pool == 1 ? "" : "s", t[st->done / 2],
		t[st->done * 99 / 100], hp_restore_strategy_name(hp_module_restore_strategy(mod)));
}

static void print_strategies(struct hp_module *mod)
{
	const struct hp_restore_measurement *m = hp_module_restore_measurements(mod);
	for (int s = HP_RESTORE_AUTO + 1; s < HP_RESTORE_STRATEGIES; s++) {
		if (!m[s].measured)
			continue;
		if (m[s].usable)
			fprintf(stderr, "hyperpool-run: restore %-17s %7.1f us per call dirtying 16 pages\n",
				hp_restore_strategy_name(s), m[s].call_us);
		else
			fprintf(stderr, "hyperpool-run: restore %-17s unusable on this host\n",
				hp_restore_strategy_name(s));
	}
	fprintf(stderr, "hyperpool-run: restore strategy: %s\n",
		hp_restore_strategy_name(hp_module_restore_strategy(mod)));
}

static int run(const struct options *o, struct hp_module *mod)
{
	struct hp_error err;
	struct hp_pool *pool;
	bool quiet = o->quiet;
	if (hp_pool_create(mod, o->list ? 1 : (unsigned)o->pool, (unsigned)o->pool, copy_log,
			   &quiet, &pool, &err))
		return host_error(&err);
	if (o->verbose)
		print_strategies(mod);
	int rc = 0;
	if (o->list) {
		struct hp_vm *vm;
		if (hp_pool_get(pool, &vm, &err) < 0) {
			rc = host_error(&err);
		} else {
			for (uint32_t i = 0; i < hp_vm_function_count(vm); i++)
				puts(hp_vm_function_name(vm, i));
			hp_pool_put(pool, vm);
		}
		hp_pool_destroy(pool);
		return rc;
	}
	struct run_state st = { .o = o };
	uint8_t *args = NULL;
	rc = read_call_args(o, &args, &st.args_len);
	st.args = args;
	st.times = rc ? NULL : calloc(o->calls, sizeof(double));
	if (rc == 0 && !st.times)
		rc = EXIT_HOST;
	if (rc == 0)
		rc = run_calls(&st, pool);
	fflush(stderr);
	if (rc == 0 && st.first_status != HP_OK) {
		fprintf(stderr, "hyperpool-run: %s: %.*s\n", hp_status_name(st.first_status),
			(int)st.first_len, (const char *)st.first);
		rc = EXIT_GUEST;
	} else if (rc == 0) {
		/* The guest's bytes are checked once, by the converter (hp_mp_check_one, then
		 * the walk): no check of our own before it. */
		char *json, msg[256];
		if (hp_msgpack_to_json(st.first, st.first_len, &json, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "hyperpool-run: result of %s is not valid msgpack: %s\n",
				o->function, msg);
			rc = EXIT_GUEST;
		} else {
			puts(json);
			fflush(stdout); /* the result before the summary, also through a pipe */
			free(json);
			print_summary(&st, mod);
		}
	}
	free(args);
	free(st.first);
	free(st.times);
	hp_pool_destroy(pool);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	if (parse_args(argc, argv, &o) < 0) {
		fputs("Try 'hyperpool-run --help'.\n", stderr);
		return EXIT_USAGE;
	}
	struct hp_error err;
	struct hp_kvm *kvm = NULL;
	struct hp_module *mod = NULL;
	int rc;
	if (hp_kvm_open(&kvm, &err) || hp_module_open(kvm, o.module, &o.cfg, &mod, &err))
		rc = host_error(&err);
	else
		rc = run(&o, mod);
	hp_module_close(mod);
	hp_kvm_close(kvm);
	return rc;
}
