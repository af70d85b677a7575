/* add.c - the smallest libhyperpool program: math.add(a, b) on the daemon, synchronously.
 *
 *   cc add.c $(pkg-config --cflags --libs hyperpool) -o add && ./add 40 2
 *
 * The socket: $HYPERPOOL_SOCKET, else /run/hyperpool/hyperpoold.sock. */
#include <hyperpool.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s A B\n", argv[0]);
		return 2;
	}
	struct hpc_error err;
	struct hpc_conn *c = hpc_connect(NULL, NULL, &err);
	if (!c) {
		fprintf(stderr, "%s: %s\n", err.name, err.message);
		return 1;
	}
	struct hpc_args args;
	msgpack_packer *pk = hpc_args_begin(&args, 2);
	msgpack_pack_int64(pk, strtoll(argv[1], NULL, 0));
	msgpack_pack_int64(pk, strtoll(argv[2], NULL, 0));

	struct hpc_call_opts opts = { .timeout_ms = 1000 };
	struct hpc_result res;
	int rc = hpc_call(c, "math", "add", hpc_args_data(&args), hpc_args_len(&args), &opts,
			  &res, &err);
	hpc_args_free(&args);
	if (rc == 0) {
		msgpack_unpacked up;
		rc = hpc_result_unpack(&res, &up, &err);
		hpc_result_free(&res); /* the unpacked object owns its own copy */
		if (rc == 0) {
			msgpack_object_print(stdout, up.data);
			putchar('\n');
			msgpack_unpacked_destroy(&up);
		}
	}
	if (rc < 0)
		fprintf(stderr, "%s (%d): %s\n", err.name, err.code, err.message);
	hpc_close(c);
	return rc < 0 ? 1 : 0;
}
