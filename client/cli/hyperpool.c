/* hyperpool - the command line of hyperpoold: calls, modules, stats and the admin methods
 * through libhyperpool, with JSON in and out (client/json, the codec hyperpool-run uses).
 * docs/man/hyperpool.1.scd is its manual; keep --help, that page and exit_classes in step. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "hp_json.h"
#include "hp_mpscan.h"
#include "hp_rpc.h"
#include "hyperpool.h"

/* How long ping, modules and stats wait for their answer when --timeout is not given: they
 * do no work worth waiting for, so a daemon silent this long is as good as absent. */
#define CLI_QUERY_WAIT_MS 30000u

static const char usage_text[] =
	"Usage: hyperpool [--socket PATH] [--timeout MS] [--json] COMMAND [ARGS...]\n"
	"\n"
	"Talks to hyperpoold over its Unix socket (MessagePack-RPC). Results are printed as\n"
	"JSON on stdout; types JSON lacks are written {\"$bin\": \"<base64>\"} and\n"
	"{\"$float\": \"NaN\"} (docs/json-mapping.md). Errors go to stderr as\n"
	"'hyperpool: CODE: MESSAGE'.\n"
	"\n"
	"Commands:\n"
	"  call MODULE FUNCTION [JSON-ARG...]  call a function; each JSON-ARG is one argument,\n"
	"                                      '-' reads the whole argument array from stdin\n"
	"  modules                             list the loaded modules\n"
	"  stats [--prometheus]                the daemon's counters (a table; --prometheus:\n"
	"                                      the Prometheus text format)\n"
	"  ping                                check that the daemon answers\n"
	"  load NAME PATH [KEY=VALUE...]       load a module (admin); KEY=VALUE as in a\n"
	"                                      [module] section of hyperpoold.conf(5)\n"
	"  unload NAME                         unload a module (admin)\n"
	"  reload                              re-read the daemon's configuration (admin)\n"
	"'hyperpool COMMAND --help' describes one command.\n"
	"\n"
	"Options:\n"
	"  -s, --socket PATH   the daemon's socket (default: $HYPERPOOL_SOCKET, else\n"
	"                      " HP_RPC_DEFAULT_SOCKET ")\n"
	"  -t, --timeout MS    the call's deadline, sent to the daemon (1 to 86400000); for\n"
	"                      the other commands how long to wait for the answer\n"
	"  -j, --json          print the raw answer of modules, stats and ping as JSON\n"
	"      --prometheus    (stats) print the Prometheus text exposition format\n"
	"  -h, --help          show this help (after a command: that command's help)\n"
	"  -V, --version       show the version\n"
	"\n"
	"Exit status:\n"
	"  0   success\n"
	"  1   the call failed in the guest: guest_error, guest_fault, guest_abort, timeout,\n"
	"      no_such_function, bad_args, ... (the statuses a call itself produces)\n"
	"  2   the daemon refused or failed: busy, no_such_module, permission_denied,\n"
	"      shutting_down, invalid, bad_request, too_large, ...\n"
	"  3   the daemon cannot be reached: no socket, connection refused or closed, no answer\n"
	"  64  bad usage\n";

struct options {
	const char *socket;
	uint32_t timeout_ms; /* 0: not given */
	bool json, prometheus;
};

struct command {
	const char *name;
	int min_args, max_args; /* max -1: any number */
	/* Builds the request's params from the operands before anything connects, so that bad
	 * usage is told as such (64) with or without a daemon. NULL: no params. */
	int (*build)(int argc, char **argv, struct hpc_args *params);
	int (*run)(struct hpc_conn *c, const struct options *o, char **argv,
		   const struct hpc_args *params);
	const char *usage, *help;
	bool json_opt, prometheus_opt;
};

/* --- errors and exit statuses --------------------------------------------------------------- */

/* The one table of exit statuses by error code (docs/man/hyperpool.1.scd says the same).
 * Codes the table lacks (one from a newer daemon) are the daemon's: EXIT_DAEMON. What failed
 * on this side of the socket is EXIT_REACH: see fail(). */
static const struct {
	int code;
	int status;
} exit_classes[] = {
	{ HP_E_GUEST_ERROR, EXIT_GUEST },      { HP_E_NO_SUCH_FUNCTION, EXIT_GUEST },
	{ HP_E_BAD_ARGS, EXIT_GUEST },         { HP_E_OUTPUT_OVERFLOW, EXIT_GUEST },
	{ HP_E_OUT_OF_MEMORY, EXIT_GUEST },    { HP_E_GUEST_ABORT, EXIT_GUEST },
	{ HP_E_GUEST_FAULT, EXIT_GUEST },      { HP_E_GUEST_PROTOCOL, EXIT_GUEST },
	{ HP_E_TIMEOUT, EXIT_GUEST },          { HP_E_CANCELLED, EXIT_GUEST },
	{ HP_E_VM_EXIT, EXIT_GUEST },          { HP_E_LIMIT, EXIT_GUEST },
	{ HP_E_INVALID, EXIT_DAEMON },         { HP_E_BAD_ELF, EXIT_DAEMON },
	{ HP_E_KVM, EXIT_DAEMON },             { HP_E_SYSTEM, EXIT_DAEMON },
	{ HP_E_NO_MEMORY, EXIT_DAEMON },       { HP_E_BUSY, EXIT_DAEMON },
	{ HP_E_NO_SUCH_MODULE, EXIT_DAEMON },  { HP_E_NO_SUCH_METHOD, EXIT_DAEMON },
	{ HP_E_BAD_REQUEST, EXIT_DAEMON },     { HP_E_TOO_LARGE, EXIT_DAEMON },
	{ HP_E_PERMISSION_DENIED, EXIT_DAEMON }, { HP_E_SHUTTING_DOWN, EXIT_DAEMON },
	{ HP_E_WORKER_LOST, EXIT_DAEMON },
};

static int exit_class(int code)
{
	for (size_t i = 0; i < sizeof(exit_classes) / sizeof(exit_classes[0]); i++)
		if (exit_classes[i].code == code)
			return exit_classes[i].status;
	return EXIT_DAEMON;
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("hyperpool: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\nTry 'hyperpool --help'.\n", stderr);
	va_end(ap);
	return EXIT_USAGE;
}

static void print_error(const struct hpc_error *err)
{
	fprintf(stderr, "hyperpool: %s: %s\n", err->name[0] ? err->name : hpc_status_name(err->code),
		err->message);
}

/* Reports a failed request. A broken connection (the daemon hung up, sent garbage) and a
 * local wait that ran out are about reaching the daemon, whatever their code says; everything
 * else is an answer of the daemon, classed by exit_classes. */
static int fail(struct hpc_conn *c, const struct hpc_error *err, bool waited_out)
{
	print_error(err);
	if (hpc_broken(c, NULL) || waited_out)
		return EXIT_REACH;
	return exit_class(err->code);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- output ---------------------------------------------------------------------------------- */

static int print_json(const struct hpc_result *res)
{
	char *json, msg[256];
	if (hp_msgpack_to_json(res->data, res->len, &json, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "hyperpool: the answer has no JSON form: %s\n", msg);
		return EXIT_DAEMON;
	}
	puts(json);
	free(json);
	return EXIT_OK;
}

/* Prints a result as --json asks, or through render (a table). */
static int print_result(const struct options *o, const struct hpc_result *res,
			int (*render)(FILE *f, const msgpack_object *obj))
{
	if (o->json || !render)
		return print_json(res);
	msgpack_unpacked up;
	struct hpc_error err;
	if (hpc_result_unpack(res, &up, &err) < 0) {
		print_error(&err);
		return EXIT_DAEMON;
	}
	int rc = render(stdout, &up.data);
	msgpack_unpacked_destroy(&up);
	if (rc < 0) {
		fputs("hyperpool: the daemon's answer does not have the expected shape "
		      "(try --json)\n", stderr);
		return EXIT_DAEMON;
	}
	return EXIT_OK;
}

/* A method with params (NULL: none), its answer printed by print_result. */
static int request(struct hpc_conn *c, const struct options *o, const char *method,
		   const struct hpc_args *params, uint32_t default_wait,
		   int (*render)(FILE *f, const msgpack_object *obj))
{
	struct hpc_result res;
	struct hpc_error err;
	uint32_t wait = o->timeout_ms ? o->timeout_ms : default_wait;
	if (hpc_request(c, method, params ? hpc_args_data(params) : NULL,
			params ? hpc_args_len(params) : 0, wait, &res, &err) < 0)
		/* None of these methods makes the daemon answer "timeout": that one is ours. */
		return fail(c, &err, err.code == HP_E_TIMEOUT);
	int rc = print_result(o, &res, render);
	hpc_result_free(&res);
	return rc;
}

/* --- call ----------------------------------------------------------------------------------- */

/* One JSON text to msgpack, appended to the packer's buffer; what names it in an error. */
static int append_json(msgpack_sbuffer *sb, const char *json, size_t len, const char *what,
		       bool want_array)
{
	uint8_t *mp;
	size_t mp_len;
	char msg[256];
	if (hp_json_to_msgpack(json, len, &mp, &mp_len, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "hyperpool: %s: %s\n", what, msg);
		return EXIT_USAGE;
	}
	/* The codec packed it, so its first header says what it is. */
	struct hp_mp_token t;
	if (want_array && (hp_mp_token(mp, mp_len, &t) != HP_MP_OK || t.type != HP_MP_ARRAY)) {
		fprintf(stderr, "hyperpool: %s must be a JSON array, e.g. '[1, 2]'\n", what);
		free(mp);
		return EXIT_USAGE;
	}
	msgpack_sbuffer_write(sb, (const char *)mp, mp_len);
	free(mp);
	return EXIT_OK;
}

/* The arguments: the array on stdin ('-') as it is (a->sb is empty: main initialised it), or
 * one array of the JSON-ARGs. */
static int build_call_args(int argc, char **argv, struct hpc_args *a)
{
	if (argc == 1 && !strcmp(argv[0], "-")) {
		size_t len;
		char *json = hp_json_read_all(stdin, &len);
		if (!json) {
			fputs("hyperpool: cannot read the arguments from stdin\n", stderr);
			return EXIT_USAGE;
		}
		int rc = append_json(&a->sb, json, len, "the arguments on stdin", true);
		free(json);
		return rc;
	}
	hpc_args_begin(a, (uint32_t)argc);
	for (int i = 0; i < argc; i++) {
		char what[32];
		snprintf(what, sizeof(what), "argument %d", i + 1);
		int rc = append_json(&a->sb, argv[i], strlen(argv[i]), what, false);
		if (rc)
			return rc;
	}
	return EXIT_OK;
}

static int build_call(int argc, char **argv, struct hpc_args *a)
{
	return build_call_args(argc - 2, argv + 2, a);
}

static int cmd_call(struct hpc_conn *c, const struct options *o, char **argv,
		    const struct hpc_args *a)
{
	int rc;
	struct hpc_call_opts copts = { .timeout_ms = o->timeout_ms };
	struct hpc_result res;
	struct hpc_error err;
	uint64_t t0 = now_ms();
	if (hpc_call(c, argv[0], argv[1], hpc_args_data(a), hpc_args_len(a), &copts, &res,
		     &err) < 0) {
		/* The daemon's own timeout answers before our bound (timeout + grace) runs out. */
		bool ours = err.code == HP_E_TIMEOUT && o->timeout_ms &&
			    now_ms() - t0 >= (uint64_t)o->timeout_ms + HPC_WAIT_GRACE_MS;
		rc = fail(c, &err, ours);
	} else {
		rc = print_json(&res);
		hpc_result_free(&res);
	}
	return rc;
}

/* --- the other commands --------------------------------------------------------------------- */

static int cmd_ping(struct hpc_conn *c, const struct options *o, char **argv,
		    const struct hpc_args *params)
{
	(void)argv, (void)params;
	struct hpc_result res;
	struct hpc_error err;
	uint32_t wait = o->timeout_ms ? o->timeout_ms : CLI_QUERY_WAIT_MS;
	if (hpc_ping(c, wait, &res, &err) < 0)
		return fail(c, &err, err.code == HP_E_TIMEOUT);
	int rc = o->json ? print_json(&res) : (puts("pong"), EXIT_OK);
	hpc_result_free(&res);
	return rc;
}

static int cmd_modules(struct hpc_conn *c, const struct options *o, char **argv,
		       const struct hpc_args *params)
{
	(void)argv, (void)params;
	return request(c, o, "modules", NULL, CLI_QUERY_WAIT_MS, cli_modules_table);
}

static int cmd_stats(struct hpc_conn *c, const struct options *o, char **argv,
		     const struct hpc_args *params)
{
	(void)argv, (void)params;
	return request(c, o, "stats", NULL, CLI_QUERY_WAIT_MS,
		       o->prometheus ? cli_stats_prometheus : cli_stats_table);
}

/* VALUE of KEY=VALUE: an integer when it is all one (the daemon wants pool_max = 4 as an
 * integer), else a str. */
static void pack_option_value(msgpack_packer *pk, const char *v)
{
	char *end;
	errno = 0;
	if (*v == '-') {
		long long n = strtoll(v, &end, 10);
		if (!errno && end != v && !*end) {
			msgpack_pack_int64(pk, n);
			return;
		}
	} else if (*v >= '0' && *v <= '9') {
		unsigned long long n = strtoull(v, &end, 10);
		if (!errno && !*end) {
			msgpack_pack_uint64(pk, n);
			return;
		}
	}
	hpc_pack_cstr(pk, v);
}

static int build_load(int argc, char **argv, struct hpc_args *a)
{
	for (int i = 2; i < argc; i++)
		if (!strchr(argv[i], '=') || argv[i][0] == '=')
			return usage_error("load: '%s' is not KEY=VALUE", argv[i]);
	/* The daemon wants an absolute path, and it does not share our working directory. */
	char abs[PATH_MAX];
	const char *path = realpath(argv[1], abs) ? abs : argv[1];
	msgpack_packer *pk = hpc_args_begin(a, argc > 2 ? 3 : 2);
	hpc_pack_cstr(pk, argv[0]);
	hpc_pack_cstr(pk, path);
	if (argc > 2) {
		msgpack_pack_map(pk, (size_t)(argc - 2));
		for (int i = 2; i < argc; i++) {
			const char *eq = strchr(argv[i], '=');
			msgpack_pack_str_with_body(pk, argv[i], (size_t)(eq - argv[i]));
			pack_option_value(pk, eq + 1);
		}
	}
	return EXIT_OK;
}

static int cmd_load(struct hpc_conn *c, const struct options *o, char **argv,
		    const struct hpc_args *params)
{
	(void)argv;
	return request(c, o, "load", params, 0, NULL);
}

static int build_unload(int argc, char **argv, struct hpc_args *a)
{
	(void)argc;
	hpc_pack_cstr(hpc_args_begin(a, 1), argv[0]);
	return EXIT_OK;
}

static int cmd_unload(struct hpc_conn *c, const struct options *o, char **argv,
		      const struct hpc_args *params)
{
	(void)argv;
	return request(c, o, "unload", params, 0, NULL);
}

static int cmd_reload(struct hpc_conn *c, const struct options *o, char **argv,
		      const struct hpc_args *params)
{
	(void)argv, (void)params;
	return request(c, o, "reload", NULL, 0, NULL);
}

static const struct command commands[] = {
	{ "call", 2, -1, build_call, cmd_call, "call MODULE FUNCTION [JSON-ARG...]\n"
	  "       hyperpool call MODULE FUNCTION - < ARGS.json",
	  "Calls FUNCTION of MODULE and prints its result as JSON. Each JSON-ARG is one argument\n"
	  "(1, '\"text\"', '[1,2]', '{\"$bin\": \"AAE=\"}'); '-' alone reads the whole argument\n"
	  "array as one JSON array from stdin. --timeout MS is sent as the call's deadline.\n"
	  "Options end at MODULE, so a JSON-ARG may start with '-' (-1).\n", false, false },
	{ "modules", 0, 0, NULL, cmd_modules, "modules [--json]",
	  "Lists the loaded modules: pool counts, timeout and functions (--json: the raw answer).\n",
	  true, false },
	{ "stats", 0, 0, NULL, cmd_stats, "stats [--json | --prometheus]",
	  "Prints the daemon's counters as a table, as JSON (--json) or in the Prometheus text\n"
	  "exposition format (--prometheus): hyperpool_calls_total, hyperpool_errors_total,\n"
	  "hyperpool_latency_microseconds, hyperpool_vms, hyperpool_connections, ...\n", true, true },
	{ "ping", 0, 0, NULL, cmd_ping, "ping [--json]",
	  "Checks that the daemon answers: prints pong (--json: \"pong\").\n", true, false },
	{ "load", 2, -1, build_load, cmd_load, "load NAME PATH [KEY=VALUE...]",
	  "Loads the module ELF at PATH under NAME (admin: root or the daemon's uid). KEY=VALUE\n"
	  "are keys of a [module] section of hyperpoold.conf(5) (pool_max=4, timeout_ms=500);\n"
	  "a VALUE that is an integer is sent as one. Prints the module's modules() entry.\n",
	  false, false },
	{ "unload", 1, 1, build_unload, cmd_unload, "unload NAME",
	  "Unloads module NAME (admin): calls in flight finish, new ones get no_such_module.\n",
	  false, false },
	{ "reload", 0, 0, NULL, cmd_reload, "reload",
	  "Re-reads the daemon's configuration (admin), as SIGHUP does, and prints what was\n"
	  "loaded, unloaded and kept.\n", false, false },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* --- the command line ------------------------------------------------------------------------- */

static int parse_timeout(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v == 0 || v > 86400000ul)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

enum { OPT_PROMETHEUS = 256 };

/* The options before COMMAND. Returns the index of COMMAND, or -1 after printing why not
 * (or -2 after --help/--version: exit 0). */
static int parse_global(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' }, { "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },         { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },      { 0 },
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:s:t:jhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 't':
			if (parse_timeout(optarg, &o->timeout_ms) < 0)
				return usage_error("invalid timeout '%s' (1 to 86400000 ms)", optarg), -1;
			break;
		case 'j': o->json = true; break;
		case 'h': fputs(usage_text, stdout); return -2;
		case 'V':
			printf("hyperpool %s (libhyperpool %s)\n", HYPERPOOL_VERSION_STRING, hpc_version());
			return -2;
		case ':': return usage_error("option '%s' needs a value", argv[optind - 1]), -1;
		default: return usage_error("unknown option '%s'", argv[optind - 1]), -1;
		}
	}
	if (optind >= argc)
		return usage_error("no command given"), -1;
	return optind;
}

static void command_help(const struct command *cmd, FILE *f)
{
	fprintf(f, "Usage: hyperpool [GLOBAL OPTIONS] %s\n\n%s\nSee 'hyperpool --help' for the "
		"global options and the exit statuses.\n", cmd->usage, cmd->help);
}

/* The command's own options (--help, --json, --prometheus), then its operands. Returns the
 * index of the first operand, -1 on bad usage, -2 after --help. */
static int parse_command(const struct command *cmd, int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' }, { "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, OPT_PROMETHEUS }, { 0 },
	};
	int c;
	optind = 1;
	/* '+': the first operand ends the options, so that call's "-1" is an argument. */
	while ((c = getopt_long(argc, argv, "+hj", longopts, NULL)) != -1) {
		if (c == 'h') {
			command_help(cmd, stdout);
			return -2;
		}
		if (c == 'j' && cmd->json_opt)
			o->json = true;
		else if (c == OPT_PROMETHEUS && cmd->prometheus_opt)
			o->prometheus = true;
		else
			return usage_error("unknown option '%s' (see 'hyperpool COMMAND --help')",
					   argv[optind - 1]), -1;
	}
	int n = argc - optind;
	if (n < cmd->min_args || (cmd->max_args >= 0 && n > cmd->max_args)) {
		fprintf(stderr, "hyperpool: %s: wrong number of arguments\n", cmd->name);
		command_help(cmd, stderr);
		return -1;
	}
	if (o->json && o->prometheus)
		return usage_error("%s: --json and --prometheus exclude each other", cmd->name), -1;
	return optind;
}

static int connect_and_run(const struct command *cmd, const struct options *o, char **argv,
			   const struct hpc_args *params)
{
	struct hpc_error err;
	struct hpc_conn *c = hpc_connect(o->socket, NULL, &err);
	if (!c) {
		print_error(&err);
		/* Only a socket path too long for sun_path is invalid here: a usage error. */
		return err.code == HP_E_INVALID ? EXIT_USAGE : EXIT_REACH;
	}
	int rc = cmd->run(c, o, argv, params);
	hpc_close(c);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	int i = parse_global(argc, argv, &o);
	if (i < 0)
		return i == -2 ? EXIT_OK : EXIT_USAGE;
	const struct command *cmd = find_command(argv[i]);
	if (!cmd)
		return usage_error("unknown command '%s'", argv[i]);
	int cargc = argc - i;
	char **cargv = argv + i;
	int first = parse_command(cmd, cargc, cargv, &o);
	if (first < 0)
		return first == -2 ? EXIT_OK : EXIT_USAGE;
	struct hpc_args params;
	msgpack_sbuffer_init(&params.sb); /* hpc_args_free works on it whatever build did */
	int rc = cmd->build ? cmd->build(cargc - first, cargv + first, &params) : EXIT_OK;
	if (rc == EXIT_OK)
		rc = connect_and_run(cmd, &o, cargv + first, &params);
	hpc_args_free(&params);
	return rc;
}
