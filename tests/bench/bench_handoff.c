/* bench_handoff.c - what the daemon's thread hand-offs cost on this machine (docs/daemon.md).
 *
 *   bench_handoff [ROUNDS]
 *
 * A libuv loop thread and a worker thread, as in hyperpoold: the loop hands a job to the worker
 * through a mutex + condition variable (what hpd_job_submit does), the worker hands it back
 * through uv_async_send (what a worker would do if the loop wrote every response). Measured:
 * loop -> worker (the one hand-off a call pays now) and loop -> worker -> loop (the round trip a
 * "loop writes all responses" design would pay), each with the two threads free to run on
 * different CPUs, as the scheduler places them. Prints a table; asserts nothing. */
#define BENCH_NAME "bench_handoff"
#include "bench_common.h"

#include <pthread.h>
#include <uv.h>

struct handoff {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool job, stop, echo;
	double sent_us, arrived_us;
	uv_async_t back;
	uv_loop_t *loop;
	double *oneway, *roundtrip;
	size_t rounds, done;
};

static void *worker(void *arg)
{
	struct handoff *h = arg;
	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!h->job && !h->stop)
			pthread_cond_wait(&h->cond, &h->lock);
		if (h->stop)
			break;
		h->job = false;
		h->arrived_us = now_us();
		pthread_mutex_unlock(&h->lock);
		uv_async_send(&h->back);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void send_job(struct handoff *h)
{
	pthread_mutex_lock(&h->lock);
	h->sent_us = now_us();
	h->job = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* The loop side: a job came back; record, send the next one. */
static void on_back(uv_async_t *a)
{
	struct handoff *h = a->data;
	double now = now_us();
	pthread_mutex_lock(&h->lock);
	double sent = h->sent_us, arrived = h->arrived_us;
	pthread_mutex_unlock(&h->lock);
	if (h->done >= 100) { /* warm-up */
		h->oneway[h->done - 100] = arrived - sent;
		h->roundtrip[h->done - 100] = now - sent;
	}
	if (++h->done == h->rounds + 100) {
		uv_close((uv_handle_t *)a, NULL);
		return;
	}
	send_job(h);
}

static void row(const char *what, struct stats s)
{
	printf("| %-52s | %9.1f | %9.1f | %9.1f | %6zu |\n", what, s.median, s.p90, s.p99, s.n);
}

int main(int argc, char **argv)
{
	struct handoff h = { .rounds = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 5000 };
	if (h.rounds == 0)
		h.rounds = 5000;
	h.oneway = calloc(h.rounds, sizeof(double));
	h.roundtrip = calloc(h.rounds, sizeof(double));
	uv_loop_t loop;
	uv_loop_init(&loop);
	h.loop = &loop;
	pthread_mutex_init(&h.lock, NULL);
	pthread_cond_init(&h.cond, NULL);
	uv_async_init(&loop, &h.back, on_back);
	h.back.data = &h;
	pthread_t t;
	pthread_create(&t, NULL, worker, &h);
	send_job(&h);
	uv_run(&loop, UV_RUN_DEFAULT);
	pthread_mutex_lock(&h.lock);
	h.stop = true;
	pthread_cond_signal(&h.cond);
	pthread_mutex_unlock(&h.lock);
	pthread_join(t, NULL);
	uv_loop_close(&loop);

	printf("| what (microseconds)                                  |    median |       p90 |       p99 |      n |\n");
	printf("|------------------------------------------------------|-----------|-----------|-----------|--------|\n");
	row("loop -> worker (mutex + condvar wake-up)", summarize(h.oneway, h.rounds));
	row("loop -> worker -> loop (+ uv_async_send back)", summarize(h.roundtrip, h.rounds));
	return 0;
}
