/* async_add.c - libhyperpool's asynchronous API in a poll(2) loop: N calls math.add(i, i) are
 * queued at once on one connection (pipelined: all in flight together), then one loop polls
 * the socket and lets hpc_process() send the requests and run a callback per answer. Answers
 * come in any order; each callback records its own, and the program prints them in order:
 *
 *   add(0, 0) = 0
 *   add(1, 1) = 2
 *   ...
 *
 * Built with the project (meson: hyperpool-example-async-add), or on its own against an
 * installed libhyperpool:
 *
 *   cc async_add.c $(pkg-config --cflags --libs hyperpool) -o async_add && ./async_add 8
 *
 * The socket: $HYPERPOOL_SOCKET, else /run/hyperpool/hyperpoold.sock. Exit 0 when every call
 * succeeded, 1 otherwise. Calls beyond what the module's VMs and queue hold (pool_max + queue,
 * 2 + 64 by default) are answered `busy` at once: they are printed as such. */
#include <errno.h>
#include <hyperpool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_CALLS 1000

struct answer {
	int done;       /* the callback ran */
	int ok;         /* it got a result, not an error */
	int64_t value;  /* the result */
	char error[HPC_ERROR_MSG_MAX + HPC_ERROR_NAME_MAX + 4];
};

/* Runs from hpc_process() once per call, with exactly one of res and err. */
static void on_answer(struct hpc_conn *c, uint32_t msgid, struct hpc_result *res,
		      const struct hpc_error *err, void *ctx)
{
	(void)c;
	(void)msgid;
	struct answer *a = ctx;
	a->done = 1;
	if (err) {
		snprintf(a->error, sizeof(a->error), "%s: %s", err->name, err->message);
		return;
	}
	msgpack_unpacked up;
	struct hpc_error uerr;
	if (hpc_result_unpack(res, &up, &uerr) == 0) {
		if (up.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			a->ok = 1;
			a->value = (int64_t)up.data.via.u64;
		} else if (up.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
			a->ok = 1;
			a->value = up.data.via.i64;
		} else {
			snprintf(a->error, sizeof(a->error), "not an integer");
		}
		msgpack_unpacked_destroy(&up);
	} else {
		snprintf(a->error, sizeof(a->error), "%s", uerr.message);
	}
	hpc_result_free(res); /* the result's bytes are the callback's to free */
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 8;
	if (argc > 2 || n < 1 || n > MAX_CALLS) {
		fprintf(stderr, "usage: %s [N (1..%d, default 8)]\n", argv[0], MAX_CALLS);
		return 2;
	}
	static struct answer answers[MAX_CALLS];
	struct hpc_error err;
	struct hpc_conn *c = hpc_connect(NULL, NULL, &err);
	if (!c) {
		fprintf(stderr, "%s: %s\n", err.name, err.message);
		return 1;
	}

	/* Queue every call: no I/O yet, the requests wait in the connection's buffer. */
	struct hpc_call_opts opts = { .timeout_ms = 5000 };
	for (int i = 0; i < n; i++) {
		struct hpc_args args;
		msgpack_packer *pk = hpc_args_begin(&args, 2);
		msgpack_pack_int64(pk, i);
		msgpack_pack_int64(pk, i);
		int64_t id = hpc_call_async(c, "math", "add", hpc_args_data(&args),
					    hpc_args_len(&args), &opts, on_answer, &answers[i], &err);
		hpc_args_free(&args); /* copied by hpc_call_async */
		if (id < 0) {
			fprintf(stderr, "call %d: %s: %s\n", i, err.name, err.message);
			hpc_close(c);
			return 1;
		}
	}

	/* The event loop: read always, write while requests wait to be sent. */
	while (hpc_pending(c) > 0) {
		struct pollfd p = { .fd = hpc_fd(c), .events = POLLIN };
		if (hpc_wants_write(c))
			p.events |= POLLOUT;
		if (poll(&p, 1, 10000) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			break;
		}
		if (p.revents == 0) {
			fprintf(stderr, "no answer for 10 s\n");
			break;
		}
		/* On a broken connection every pending call has completed with the error. */
		if (hpc_process(c, p.revents & (POLLIN | POLLHUP | POLLERR),
				p.revents & (POLLOUT | POLLERR), &err) < 0) {
			fprintf(stderr, "connection: %s: %s\n", err.name, err.message);
			break;
		}
	}
	hpc_close(c); /* calls still pending (none, normally) complete with cancelled */

	int failed = 0;
	for (int i = 0; i < n; i++) {
		if (answers[i].ok) {
			printf("add(%d, %d) = %lld\n", i, i, (long long)answers[i].value);
		} else {
			printf("add(%d, %d): %s\n", i, i, answers[i].done ? answers[i].error : "no answer");
			failed++;
		}
	}
	return failed ? 1 : 0;
}
