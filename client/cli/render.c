/* render.c - the human and Prometheus renderings of modules() and stats() (shapes:
 * docs/protocol.md). Keys that are missing print as 0: an older or newer daemon still gives a
 * table, and the JSON (--json) stays the exact answer. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const msgpack_object *cli_map_get(const msgpack_object *map, const char *key)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (cli_str_eq(&map->via.map.ptr[i].key, key))
			return &map->via.map.ptr[i].val;
	return NULL;
}

bool cli_str_eq(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       !memcmp(o->via.str.ptr, s, n);
}

double cli_num(const msgpack_object *o)
{
	if (!o)
		return 0;
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER: return (double)o->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return (double)o->via.i64;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return o->via.f64;
	default: return 0;
	}
}

/* A float as Prometheus spells it: NaN, +Inf, -Inf, else the shortest %g that reads back
 * the same (0.074, not 0.073999999999999996). */
static void print_float(FILE *f, double v)
{
	if (isnan(v)) {
		fputs("NaN", f);
		return;
	}
	if (isinf(v)) {
		fputs(v > 0 ? "+Inf" : "-Inf", f);
		return;
	}
	char buf[32];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

void cli_print_num(FILE *f, const msgpack_object *o)
{
	if (!o) {
		fputs("0", f);
		return;
	}
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%" PRIu64, o->via.u64); return;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%" PRId64, o->via.i64); return;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: print_float(f, o->via.f64); return;
	default: fputs("0", f); return;
	}
}

/* A str as it is, for the tables (names come from the daemon's config: no escaping). */
static void print_str(FILE *f, const msgpack_object *o)
{
	if (o && o->type == MSGPACK_OBJECT_STR)
		fwrite(o->via.str.ptr, 1, o->via.str.size, f);
	else
		fputs("?", f);
}

static int str_width(const msgpack_object *o)
{
	return o && o->type == MSGPACK_OBJECT_STR ? (int)o->via.str.size : 1;
}

/* --- the tables ------------------------------------------------------------------------- */

static uint64_t error_sum(const msgpack_object *errors)
{
	uint64_t n = 0;
	if (errors && errors->type == MSGPACK_OBJECT_MAP)
		for (uint32_t i = 0; i < errors->via.map.size; i++)
			n += (uint64_t)cli_num(&errors->via.map.ptr[i].val);
	return n;
}

static int name_column(const msgpack_object_kv *kv, uint32_t n)
{
	int w = 6; /* "MODULE" */
	for (uint32_t i = 0; i < n; i++)
		if (str_width(&kv[i].key) > w)
			w = str_width(&kv[i].key);
	return w;
}

int cli_stats_table(FILE *f, const msgpack_object *stats)
{
	const msgpack_object *d = cli_map_get(stats, "daemon"), *mods = cli_map_get(stats, "modules");
	if (!d || !mods || mods->type != MSGPACK_OBJECT_MAP)
		return -1;
	fputs("daemon ", f);
	print_str(f, cli_map_get(d, "version"));
	fprintf(f, ": up %.0f s, %.0f connections (%.0f total), %.0f calls, %.0f workers, "
		"rss %.1f MiB\n", cli_num(cli_map_get(d, "uptime_s")),
		cli_num(cli_map_get(d, "connections")), cli_num(cli_map_get(d, "connections_total")),
		cli_num(cli_map_get(d, "calls")), cli_num(cli_map_get(d, "workers")),
		cli_num(cli_map_get(d, "rss_bytes")) / (1 << 20));
	const msgpack_object_kv *kv = mods->via.map.ptr;
	int w = name_column(kv, mods->via.map.size);
	fprintf(f, "%-*s %10s %8s %9s %9s %5s %5s %6s\n", w, "MODULE", "CALLS", "ERRORS",
		"P50_US", "P99_US", "IDLE", "BUSY", "QUEUE");
	for (uint32_t i = 0; i < mods->via.map.size; i++) {
		const msgpack_object *m = &kv[i].val, *lat = cli_map_get(m, "latency_us"),
				     *vms = cli_map_get(m, "vms");
		print_str(f, &kv[i].key);
		fprintf(f, "%*s %10.0f %8" PRIu64 " %9.0f %9.0f %5.0f %5.0f %6.0f\n",
			w - str_width(&kv[i].key), "", cli_num(cli_map_get(m, "calls")),
			error_sum(cli_map_get(m, "errors")), cli_num(cli_map_get(lat, "p50")),
			cli_num(cli_map_get(lat, "p99")), cli_num(cli_map_get(vms, "idle")),
			cli_num(cli_map_get(vms, "busy")), cli_num(cli_map_get(m, "queue_depth")));
	}
	return 0;
}

static void print_functions(FILE *f, const msgpack_object *fns)
{
	if (!fns || fns->type != MSGPACK_OBJECT_ARRAY)
		return;
	for (uint32_t i = 0; i < fns->via.array.size; i++) {
		if (i)
			fputc(' ', f);
		print_str(f, &fns->via.array.ptr[i]);
	}
}

int cli_modules_table(FILE *f, const msgpack_object *modules)
{
	if (modules->type != MSGPACK_OBJECT_ARRAY)
		return -1;
	int w = 6;
	for (uint32_t i = 0; i < modules->via.array.size; i++) {
		int n = str_width(cli_map_get(&modules->via.array.ptr[i], "name"));
		w = n > w ? n : w;
	}
	fprintf(f, "%-*s %-15s %10s  %s\n", w, "MODULE", "IDLE/BUSY/MIN/MAX", "TIMEOUT_MS",
		"FUNCTIONS");
	for (uint32_t i = 0; i < modules->via.array.size; i++) {
		const msgpack_object *m = &modules->via.array.ptr[i], *name = cli_map_get(m, "name"),
				     *pool = cli_map_get(m, "pool");
		char counts[64];
		snprintf(counts, sizeof(counts), "%.0f/%.0f/%.0f/%.0f", cli_num(cli_map_get(pool, "idle")),
			 cli_num(cli_map_get(pool, "busy")), cli_num(cli_map_get(pool, "min")),
			 cli_num(cli_map_get(pool, "max")));
		print_str(f, name);
		fprintf(f, "%*s %-15s %10.0f  ", w - str_width(name), "", counts,
			cli_num(cli_map_get(m, "timeout_ms")));
		print_functions(f, cli_map_get(m, "functions"));
		fputc('\n', f);
	}
	return 0;
}

/* --- Prometheus text exposition format ------------------------------------------------------ */

/* A label value: backslash, double quote and newline escaped, as the format requires. */
static void print_label(FILE *f, const msgpack_object *o)
{
	fputc('"', f);
	for (uint32_t i = 0; o && o->type == MSGPACK_OBJECT_STR && i < o->via.str.size; i++) {
		char c = o->via.str.ptr[i];
		if (c == '\\' || c == '"')
			fputc('\\', f);
		if (c == '\n')
			fputs("\\n", f);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{module="M"[,extra="V"]} value */
static void sample(FILE *f, const char *name, const msgpack_object *module, const char *extra,
		   const msgpack_object *extra_val, const msgpack_object *value)
{
	fputs(name, f);
	if (module) {
		fputs("{module=", f);
		print_label(f, module);
		if (extra) {
			fprintf(f, ",%s=", extra);
			print_label(f, extra_val);
		}
		fputc('}', f);
	}
	fputc(' ', f);
	cli_print_num(f, value);
	fputc('\n', f);
}

static void daemon_metric(FILE *f, const msgpack_object *d, const char *key, const char *name,
			  const char *type, const char *help)
{
	family(f, name, type, help);
	sample(f, name, NULL, NULL, NULL, cli_map_get(d, key));
}

/* One family over all modules: each module's value at path key[/sub], or for a map at key
 * (sub NULL, label set) one sample per entry. */
static void module_family(FILE *f, const msgpack_object *mods, const char *name, const char *type,
			  const char *help, const char *key, const char *label,
			  const char *const *subs, const char *const *label_vals)
{
	family(f, name, type, help);
	for (uint32_t i = 0; i < mods->via.map.size; i++) {
		const msgpack_object *mod = &mods->via.map.ptr[i].key, *v = cli_map_get(&mods->via.map.ptr[i].val, key);
		if (!label) {
			sample(f, name, mod, NULL, NULL, v);
		} else if (subs) {
			for (int j = 0; subs[j]; j++) {
				msgpack_object lv = { .type = MSGPACK_OBJECT_STR,
					.via.str = { (uint32_t)strlen(label_vals[j]), label_vals[j] } };
				sample(f, name, mod, label, &lv, cli_map_get(v, subs[j]));
			}
		} else if (v && v->type == MSGPACK_OBJECT_MAP) {
			for (uint32_t j = 0; j < v->via.map.size; j++)
				sample(f, name, mod, label, &v->via.map.ptr[j].key, &v->via.map.ptr[j].val);
		}
	}
}

int cli_stats_prometheus(FILE *f, const msgpack_object *stats)
{
	const msgpack_object *d = cli_map_get(stats, "daemon"), *mods = cli_map_get(stats, "modules");
	if (!d || !mods || mods->type != MSGPACK_OBJECT_MAP)
		return -1;
	static const char *const quantile_keys[] = { "p50", "p99", NULL },
			       *const quantiles[] = { "0.5", "0.99" },
			       *const vm_keys[] = { "idle", "busy", NULL };
	daemon_metric(f, d, "uptime_s", "hyperpool_uptime_seconds", "gauge",
		      "Seconds since the daemon started.");
	daemon_metric(f, d, "connections", "hyperpool_connections", "gauge",
		      "Client connections open now.");
	daemon_metric(f, d, "connections_total", "hyperpool_connections_total", "counter",
		      "Client connections accepted since the start.");
	daemon_metric(f, d, "rss_bytes", "hyperpool_rss_bytes", "gauge",
		      "Resident set size of the daemon.");
	module_family(f, mods, "hyperpool_calls_total", "counter", "Calls answered, per module.",
		      "calls", NULL, NULL, NULL);
	module_family(f, mods, "hyperpool_errors_total", "counter",
		      "Calls answered with an error, per module and error code.", "errors", "code",
		      NULL, NULL);
	/* A gauge, not a summary: the daemon has no sum and count of latencies to give. */
	module_family(f, mods, "hyperpool_latency_microseconds", "gauge",
		      "Call latency percentiles, arrival to response.", "latency_us", "quantile",
		      quantile_keys, quantiles);
	module_family(f, mods, "hyperpool_vms", "gauge", "VMs of the module's pool, by state.",
		      "vms", "state", vm_keys, vm_keys);
	module_family(f, mods, "hyperpool_queue_depth", "gauge", "Calls waiting for a VM.",
		      "queue_depth", NULL, NULL, NULL);
	return 0;
}
