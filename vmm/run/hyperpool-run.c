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

#include "hpvmm.h"
#include "json_msgpack.h"

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
	bool list, quiet;
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

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_HEAP = 256, OPT_STACK, OPT_INPUT, OPT_OUTPUT };
	static const struct option longopts[] = {
		{ "list", no_argument, NULL, 'l' },       { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },       { "heap", required_argument, NULL, OPT_HEAP },
		{ "stack", required_argument, NULL, OPT_STACK },
		{ "input", required_argument, NULL, OPT_INPUT },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "lqh", longopts, NULL)) != -1) {
		uint64_t *size = NULL;
		switch (c) {
		case 'l': o->list = true; continue;
		case 'q': o->quiet = true; continue;
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

static char *read_stdin(size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, stdin);
		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	*len = n;
	return buf;
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

static int print_result(const struct hp_call_result *res, const char *function)
{
	if (res->status != HP_OK) {
		fprintf(stderr, "hyperpool-run: %s: %.*s\n", hp_status_name(res->status),
			(int)res->output_len, (const char *)res->output);
		return EXIT_GUEST;
	}
	char *json, msg[256];
	if (hp_msgpack_to_json(res->output, res->output_len, &json, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "hyperpool-run: result of %s is not valid msgpack: %s\n", function, msg);
		return EXIT_GUEST;
	}
	puts(json);
	free(json);
	return 0;
}

static int run(const struct options *o, struct hp_vm *vm)
{
	if (o->list) {
		for (uint32_t i = 0; i < hp_vm_function_count(vm); i++)
			puts(hp_vm_function_name(vm, i));
		return 0;
	}
	size_t json_len = strlen(o->args);
	char *owned = NULL;
	const char *json = o->args;
	if (!strcmp(o->args, "-")) {
		json = owned = read_stdin(&json_len);
		if (!owned) {
			fprintf(stderr, "hyperpool-run: cannot read arguments from stdin\n");
			return EXIT_HOST;
		}
	}
	uint8_t *args;
	size_t args_len;
	char msg[256];
	int rc = hp_json_to_msgpack(json, json_len, &args, &args_len, msg, sizeof(msg));
	free(owned);
	if (rc < 0) {
		fprintf(stderr, "hyperpool-run: ARGS: %s\n", msg);
		return EXIT_USAGE;
	}
	if (args_len == 0 || (args[0] != 0xdc && args[0] != 0xdd && (args[0] & 0xf0) != 0x90)) {
		fprintf(stderr, "hyperpool-run: ARGS must be a JSON array, e.g. '[1, 2]'\n");
		free(args);
		return EXIT_USAGE;
	}
	struct hp_call_result res;
	struct hp_error err;
	rc = hp_vm_call(vm, o->function, strlen(o->function), args, args_len, &res, &err);
	free(args);
	fflush(stderr);
	return rc < 0 ? host_error(&err) : print_result(&res, o->function);
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
	struct hp_vm *vm = NULL;
	int rc;
	if (hp_kvm_open(&kvm, &err) || hp_module_open(kvm, o.module, &o.cfg, &mod, &err) ||
	    hp_vm_create(mod, copy_log, &o.quiet, &vm, &err))
		rc = host_error(&err);
	else
		rc = run(&o, vm);
	hp_vm_destroy(vm);
	hp_module_close(mod);
	hp_kvm_close(kvm);
	return rc;
}
