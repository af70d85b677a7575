/* conn.c - a connection: connect, close, and the non-blocking I/O of hpc_process. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

/* How much is read per read(): a larger frame takes several. */
#define READ_CHUNK (64u << 10)
#define READ_ROUNDS 64

const char *hpc_version(void)
{
	return HYPERPOOL_VERSION_STRING;
}

struct hpc_conn *hpc_conn_from_fd(int fd, const struct hpc_conn_opts *opts, struct hpc_error *err)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		hpc_fail(err, HP_E_SYSTEM, "fcntl(O_NONBLOCK) on fd %d: %s", fd, strerror(errno));
		close(fd);
		return NULL;
	}
	struct hpc_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		hpc_fail(err, HP_E_NO_MEMORY, "no memory for a connection");
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->max_frame = opts && opts->max_frame ? opts->max_frame : HPC_DEFAULT_MAX_FRAME;
	c->next_msgid = 1;
	return c;
}

static const char *socket_path(const char *path)
{
	if (path)
		return path;
	const char *env = getenv("HYPERPOOL_SOCKET");
	return env && *env ? env : HP_RPC_DEFAULT_SOCKET;
}

struct hpc_conn *hpc_connect(const char *path, const struct hpc_conn_opts *opts,
			     struct hpc_error *err)
{
	path = socket_path(path);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		hpc_fail(err, HP_E_INVALID, "socket path too long (%zu bytes, at most %zu): %.64s...",
			 strlen(path), sizeof(sa.sun_path) - 1, path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		hpc_fail(err, HP_E_SYSTEM, "socket(AF_UNIX): %s", strerror(errno));
		return NULL;
	}
	/* A blocking connect: a Unix socket connects at once or fails (a full backlog aside). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		hpc_fail(err, HP_E_SYSTEM, "connect %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	return hpc_conn_from_fd(fd, opts, err);
}

void hpc_close(struct hpc_conn *c)
{
	if (!c)
		return;
	struct hpc_error why;
	hpc_fail(&why, HP_E_CANCELLED, "the connection was closed with the call pending");
	hpc_break(c, &why);
	close(c->fd);
	hpc_buf_free(&c->in);
	hpc_buf_free(&c->out);
	free(c->pending);
	free(c);
}

int hpc_fd(const struct hpc_conn *c)
{
	return c->fd;
}

bool hpc_wants_write(const struct hpc_conn *c)
{
	return !c->broken && c->out.off < c->out.len;
}

size_t hpc_pending(const struct hpc_conn *c)
{
	return c->npending - c->nabandoned;
}

bool hpc_broken(const struct hpc_conn *c, struct hpc_error *err)
{
	if (c->broken && err)
		*err = c->why;
	return c->broken;
}

static int fail_broken(struct hpc_conn *c, struct hpc_error *err)
{
	if (err)
		*err = c->why;
	return -1;
}

/* Breaks the connection because of an I/O failure: errno, or EOF when errno_ is 0. */
static void io_failed(struct hpc_conn *c, const char *what, int errno_)
{
	struct hpc_error why;
	if (errno_ == ECONNRESET || errno_ == EPIPE)
		hpc_fail(&why, HP_E_SYSTEM, "the daemon closed the connection (%s)", strerror(errno_));
	else if (errno_)
		hpc_fail(&why, HP_E_SYSTEM, "%s the daemon's socket: %s", what, strerror(errno_));
	else
		hpc_fail(&why, HP_E_SYSTEM, "the daemon closed the connection");
	hpc_break(c, &why);
}

/* Writes what the socket takes now. MSG_NOSIGNAL: a daemon gone is an error, not SIGPIPE. */
static void write_some(struct hpc_conn *c)
{
	while (!c->broken && c->out.off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out.off, c->out.len - c->out.off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			io_failed(c, "writing to", errno);
			return;
		}
		c->out.off += (size_t)n;
	}
	if (c->out.off == c->out.len)
		c->out.off = c->out.len = 0;
	else if (c->out.off > c->out.cap / 2)
		hpc_buf_compact(&c->out);
}

/* Reads until EAGAIN (or READ_ROUNDS chunks: a peer that never stops sending does not keep
 * the caller's loop here), handling the frames of each chunk before reading the next, so that
 * the input buffer holds at most one frame (max_frame) and one chunk. */
static void read_some(struct hpc_conn *c)
{
	for (int round = 0; round < READ_ROUNDS && !c->broken; round++) {
		if (hpc_buf_reserve(&c->in, READ_CHUNK) < 0) {
			struct hpc_error why;
			hpc_fail(&why, HP_E_NO_MEMORY, "no memory for the input buffer");
			hpc_break(c, &why);
			return;
		}
		ssize_t n = recv(c->fd, c->in.p + c->in.len, READ_CHUNK, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			io_failed(c, "reading from", n < 0 ? errno : 0);
			return;
		}
		c->in.len += (size_t)n;
		if (hpc_frames(c) < 0)
			return;
	}
}

int hpc_process(struct hpc_conn *c, bool readable, bool writable, struct hpc_error *err)
{
	if (c->in_callback)
		return hpc_fail(err, HP_E_INVALID, "hpc_process called from a completion callback");
	if (writable)
		write_some(c);
	if (readable)
		read_some(c);
	/* Answers queued while reading (to the daemon's requests) go out without waiting. */
	if (writable && !c->broken)
		write_some(c);
	return c->broken ? fail_broken(c, err) : 0;
}
