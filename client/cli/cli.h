/* cli.h - what the files of the hyperpool command share: the exit statuses and the readers of
 * the daemon's answers (msgpack objects unpacked by hpc_result_unpack). */
#ifndef HYPERPOOL_CLI_H
#define HYPERPOOL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

/* Exit statuses: the error classes of --help and hyperpool(1). */
enum {
	EXIT_OK = 0,
	EXIT_GUEST = 1,   /* the call itself failed: guest_error, guest_fault, timeout, ... */
	EXIT_DAEMON = 2,  /* the daemon refused or failed: busy, no_such_module, invalid, ... */
	EXIT_REACH = 3,   /* no daemon to talk to: connect failed, hang-up, no answer */
	EXIT_USAGE = 64,  /* bad command line (sysexits.h EX_USAGE) */
};

/* The value of key `key` in map `map`, or NULL (also when map is not a map). */
const msgpack_object *cli_map_get(const msgpack_object *map, const char *key);
/* Whether o is a str equal to s. */
bool cli_str_eq(const msgpack_object *o, const char *s);
/* The number in o (an int or a float), or 0 when o is NULL or not a number. */
double cli_num(const msgpack_object *o);
/* Prints o as a number: integers exactly, floats the shortest way that reads back; 0 for
 * NULL or a non-number. */
void cli_print_num(FILE *f, const msgpack_object *o);

/* Renders the answer of stats() (a map) as a table, or in the Prometheus text format. Return
 * 0, or -1 when the answer lacks the shape of docs/protocol.md. */
int cli_stats_table(FILE *f, const msgpack_object *stats);
int cli_stats_prometheus(FILE *f, const msgpack_object *stats);
/* Renders the answer of modules() (an array of maps) as a table. */
int cli_modules_table(FILE *f, const msgpack_object *modules);

#endif
