/* conn.c - listening sockets and connections: accept, peer credentials, reading frames through
 * the bounded scanner, and output that any thread may send.
 *
 * Input: bytes accumulate in c->in; the scanner (proto/hp_mpscan.h) is resumed on every read
 * and says where one frame ends, so a frame is parsed once, whole, and only after it is known
 * to be one complete object within the frame limit (a 4 GiB header is refused at once: the
 * scanner bounds declared counts by the limit, nothing is allocated from them).
 *
 * Output: hpd_conn_send may be called by a worker thread. When nothing is buffered and no
 * uv_write is in flight it writes straight to the socket (non-blocking): the common case costs
 * no hand-off to the loop. What does not fit is buffered (up to max_output, then the reader is
 * too slow and the connection is closed) and the loop writes it with uv_write. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

#define READ_CHUNK (64u << 10)

static void conn_free(struct hpd_conn *c)
{
	pthread_mutex_destroy(&c->out_lock);
	free(c->in);
	free(c->out);
	free(c->wbuf);
	free(c);
}

void hpd_conn_unref(struct hpd_conn *c)
{
	if (atomic_fetch_sub(&c->refs, 1) == 1)
		conn_free(c);
}

/* --- output ------------------------------------------------------------------------------- */

static int buffer_append(struct hpd_conn *c, const uint8_t *p, size_t n)
{
	if (c->out_len + n > c->hd->cfg->max_output)
		return -1;
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + n)
			cap *= 2;
		uint8_t *b = realloc(c->out, cap);
		if (!b)
			return -1;
		c->out = b;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

/* Under out_lock: asks the loop to flush c (once). */
static void request_flush(struct hpd_conn *c)
{
	struct hpd *hd = c->hd;
	if (c->flush_queued)
		return;
	c->flush_queued = true;
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_lock(&hd->flush_lock);
	c->flush_next = hd->flush;
	hd->flush = c;
	pthread_mutex_unlock(&hd->flush_lock);
	uv_async_send(&hd->flush_async);
}

void hpd_conn_send(struct hpd_conn *c, const struct iovec *iov, int iovcnt)
{
	size_t done = 0;
	pthread_mutex_lock(&c->out_lock);
	if (c->dead) {
		pthread_mutex_unlock(&c->out_lock);
		return;
	}
	if (!c->writing && c->out_len == 0) {
		struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
		ssize_t n = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			done = (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			c->dead = true; /* the peer is gone; the loop sees it on read */
	}
	bool overflow = false;
	size_t skip = done;
	for (int i = 0; i < iovcnt && !c->dead && !overflow; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t n = iov[i].iov_len;
		if (skip >= n) {
			skip -= n;
			continue;
		}
		overflow = buffer_append(c, p + skip, n - skip) < 0;
		skip = 0;
	}
	if (overflow) {
		c->dead = true;
		hpd_log(HPD_LOG_WARNING, "connection of pid %d (uid %u): more than %llu bytes of "
			"responses unread, closing it", (int)c->pid, (unsigned)c->uid,
			(unsigned long long)c->hd->cfg->max_output);
	}
	if (c->dead || c->out_len)
		request_flush(c); /* the loop closes a dead connection or writes the rest */
	pthread_mutex_unlock(&c->out_lock);
}

static void start_write(struct hpd_conn *c);

static void on_written(uv_write_t *req, int status)
{
	struct hpd_conn *c = req->data;
	pthread_mutex_lock(&c->out_lock);
	free(c->wbuf);
	c->wbuf = NULL;
	c->writing = false;
	if (status < 0)
		c->dead = true;
	bool more = c->out_len && !c->dead;
	bool dead = c->dead;
	pthread_mutex_unlock(&c->out_lock);
	if (dead && !c->closing)
		hpd_conn_close(c, status < 0 ? uv_strerror(status) : "output overflow");
	else if (more)
		start_write(c);
	hpd_conn_unref(c);
}

/* Loop thread: hands the buffered output to libuv. */
static void start_write(struct hpd_conn *c)
{
	pthread_mutex_lock(&c->out_lock);
	if (c->writing || !c->out_len || c->dead || c->closing) {
		pthread_mutex_unlock(&c->out_lock);
		return;
	}
	c->wbuf = c->out;
	uv_buf_t buf = uv_buf_init((char *)c->wbuf, (unsigned)c->out_len);
	c->out = NULL;
	c->out_len = c->out_cap = 0;
	c->writing = true;
	pthread_mutex_unlock(&c->out_lock);
	atomic_fetch_add(&c->refs, 1);
	c->wreq.data = c;
	int rc = uv_write(&c->wreq, (uv_stream_t *)&c->pipe, &buf, 1, on_written);
	if (rc < 0) {
		c->wreq.data = c;
		on_written(&c->wreq, rc);
	}
}

static void on_flush(uv_async_t *a)
{
	struct hpd *hd = a->data;
	pthread_mutex_lock(&hd->flush_lock);
	struct hpd_conn *list = hd->flush;
	hd->flush = NULL;
	pthread_mutex_unlock(&hd->flush_lock);
	while (list) {
		struct hpd_conn *c = list, *next = c->flush_next;
		pthread_mutex_lock(&c->out_lock);
		c->flush_queued = false;
		bool dead = c->dead;
		pthread_mutex_unlock(&c->out_lock);
		if (dead && !c->closing)
			hpd_conn_close(c, "the peer stopped reading or went away");
		else
			start_write(c);
		hpd_conn_unref(c);
		list = next;
	}
}

/* --- closing ------------------------------------------------------------------------------ */

static void on_closed(uv_handle_t *h)
{
	struct hpd_conn *c = h->data;
	hpd_conn_unref(c); /* the loop's own reference */
}

void hpd_conn_close(struct hpd_conn *c, const char *why)
{
	struct hpd *hd = c->hd;
	if (c->closing)
		return;
	c->closing = true;
	hpd_log(HPD_LOG_DEBUG, "connection of pid %d (uid %u) closed: %s", (int)c->pid,
		(unsigned)c->uid, why);
	pthread_mutex_lock(&c->out_lock);
	c->dead = true;
	pthread_mutex_unlock(&c->out_lock);
	hpd_jobs_cancel_conn(hd, c);
	while (c->sessions) /* their VMs go back to the pools, restored */
		hpd_session_close(c, c->sessions);
	if (c->prev)
		c->prev->next = c->next;
	else
		hd->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	hd->nconns--;
	uv_close((uv_handle_t *)&c->pipe, on_closed);
}

void hpd_conns_close_all(struct hpd *hd)
{
	while (hd->conns)
		hpd_conn_close(hd->conns, "the daemon is stopping");
}

/* --- input -------------------------------------------------------------------------------- */

static void scanner_reset(struct hpd_conn *c)
{
	struct hp_mp_limits lim = { .max_depth = HP_RPC_MAX_DEPTH, .max_bytes = c->hd->max_frame };
	hp_mp_scanner_init(&c->scan, &lim);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct hpd_conn *c = h->data;
	(void)suggested;
	if (c->in_cap - c->in_len < READ_CHUNK) {
		size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK * 2;
		while (cap - c->in_len < READ_CHUNK)
			cap *= 2;
		uint8_t *b = realloc(c->in, cap);
		if (!b) {
			*buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
			return;
		}
		c->in = b;
		c->in_cap = cap;
	}
	*buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

/* Parses every complete frame in c->in; keeps the incomplete rest at the front. */
static void process_input(struct hpd_conn *c)
{
	while (!c->closing && c->frame_start < c->in_len) {
		const uint8_t *frame = c->in + c->frame_start;
		size_t avail = c->in_len - c->frame_start, len;
		int rc = hp_mp_scan(&c->scan, frame, avail, &len);
		if (rc == HP_MP_INCOMPLETE)
			break;
		if (rc == HP_MP_INVALID) {
			hpd_dispatch_bad_stream(c, frame, avail, c->scan.error);
			hpd_conn_close(c, c->scan.error);
			return;
		}
		c->frame_start += len;
		scanner_reset(c);
		if (hpd_dispatch_frame(c, frame, len) < 0) {
			hpd_conn_close(c, "malformed request");
			return;
		}
	}
	if (c->frame_start) {
		memmove(c->in, c->in + c->frame_start, c->in_len - c->frame_start);
		c->in_len -= c->frame_start;
		c->frame_start = 0;
	}
	/* a big frame done: give its memory back */
	if (c->in_len == 0 && c->in_cap > 4 * READ_CHUNK) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct hpd_conn *c = s->data;
	(void)buf;
	if (nread < 0) {
		hpd_conn_close(c, nread == UV_EOF ? "end of stream" : uv_strerror((int)nread));
		return;
	}
	c->in_len += (size_t)nread;
	process_input(c);
}

/* --- accepting ---------------------------------------------------------------------------- */

static void read_peer(struct hpd_conn *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		c->uid = cred.uid;
		c->pid = cred.pid;
		c->gids[0] = cred.gid;
		c->ngids = 1;
	} else {
		c->uid = (uid_t)-1; /* matches no allow list, and is never the daemon's uid */
		c->pid = 0;
	}
#ifdef SO_PEERGROUPS
	gid_t groups[HPD_MAX_GROUPS - 1];
	len = sizeof(groups);
	if (c->ngids && getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
		for (unsigned i = 0; i < len / sizeof(gid_t) && c->ngids < HPD_MAX_GROUPS; i++)
			c->gids[c->ngids++] = groups[i];
#endif
}

static struct hpd_conn *conn_alloc(struct hpd *hd)
{
	struct hpd_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		hpd_log(HPD_LOG_ERR, "out of memory accepting a connection");
		return NULL;
	}
	c->hd = hd;
	atomic_init(&c->refs, 1);
	pthread_mutex_init(&c->out_lock, NULL);
	uv_pipe_init(hd->loop, &c->pipe, 0);
	c->pipe.data = c;
	return c;
}

/* A connection with its handle set up: listed, its peer read, ready to read frames. Returns
 * false when it was refused (closed). */
static bool conn_start(struct hpd_conn *c)
{
	struct hpd *hd = c->hd;
	uv_os_fd_t fd;
	uv_fileno((uv_handle_t *)&c->pipe, &fd);
	c->fd = fd;
	read_peer(c);
	c->next = hd->conns;
	if (hd->conns)
		hd->conns->prev = c;
	hd->conns = c;
	hd->nconns++;
	hd->conns_total++;
	if (hd->nconns > hd->cfg->max_connections || hd->shutting_down) {
		hpd_log(HPD_LOG_WARNING, "refusing a connection of pid %d (uid %u): %s", (int)c->pid,
			(unsigned)c->uid, hd->shutting_down ? "shutting down" : "max_connections reached");
		hpd_conn_close(c, "refused");
		return false;
	}
	scanner_reset(c);
	return true;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct hpd *hd = server->data;
	if (status < 0) {
		hpd_log(HPD_LOG_WARNING, "accept: %s", uv_strerror(status));
		return;
	}
	struct hpd_conn *c = conn_alloc(hd);
	if (!c)
		return;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		uv_close((uv_handle_t *)&c->pipe, on_closed);
		return;
	}
	if (conn_start(c))
		uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

struct hpd_conn *hpd_conn_open(struct hpd *hd, int fd)
{
	struct hpd_conn *c = conn_alloc(hd);
	if (!c)
		return NULL;
	if (uv_pipe_open(&c->pipe, fd) < 0) {
		uv_close((uv_handle_t *)&c->pipe, on_closed);
		return NULL;
	}
	return conn_start(c) ? c : NULL;
}

void hpd_conn_feed(struct hpd_conn *c, const uint8_t *bytes, size_t len)
{
	while (len && !c->closing) {
		uv_buf_t buf;
		on_alloc((uv_handle_t *)&c->pipe, len, &buf);
		if (!buf.base)
			return;
		size_t n = len < buf.len ? len : buf.len;
		memcpy(buf.base, bytes, n);
		c->in_len += n;
		bytes += n;
		len -= n;
		process_input(c);
	}
}

/* --- the listening socket: socket activation, or our own bound path ----------------------- */

/* Is something answering on path? A socket file nobody listens on is stale (a daemon that
 * was killed): it may be replaced. */
static bool socket_in_use(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	bool used = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return used;
}

static int bind_path(struct hpd *hd, char *err, size_t errlen)
{
	const struct hpd_config *cfg = hd->cfg;
	const char *path = cfg->socket_path;
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", path);
			return -1;
		}
		if (socket_in_use(path)) {
			snprintf(err, errlen, "%s: another daemon is listening there", path);
			return -1;
		}
		hpd_log(HPD_LOG_NOTICE, "removing the stale socket %s", path);
		unlink(path);
	}
	uv_pipe_t *l = &hd->listeners[0];
	uv_pipe_init(hd->loop, l, 0);
	l->data = hd;
	hd->nlisteners = 1;
	mode_t old = umask(0777 & ~cfg->socket_mode);
	int rc = uv_pipe_bind(l, path);
	umask(old);
	if (rc < 0) {
		snprintf(err, errlen, "bind %s: %s", path, uv_strerror(rc));
		return -1;
	}
	hd->socket_created = true;
	if (chmod(path, cfg->socket_mode) < 0 ||
	    (cfg->socket_group_set && chown(path, (uid_t)-1, cfg->socket_group) < 0)) {
		snprintf(err, errlen, "setting the mode/group of %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

void hpd_conn_flush_setup(struct hpd *hd)
{
	hd->flush_async.data = hd;
	uv_async_init(hd->loop, &hd->flush_async, on_flush);
}

int hpd_listen_start(struct hpd *hd, char *err, size_t errlen)
{
	hpd_conn_flush_setup(hd);
	int n = hpd_systemd_listeners(hd, err, errlen);
	if (n < 0 || (n == 0 && bind_path(hd, err, errlen)))
		return -1;
	for (unsigned i = 0; i < hd->nlisteners; i++) {
		int rc = uv_listen((uv_stream_t *)&hd->listeners[i], 128, on_connection);
		if (rc < 0) {
			snprintf(err, errlen, "listen: %s", uv_strerror(rc));
			return -1;
		}
	}
	if (n > 0)
		hpd_log(HPD_LOG_INFO, "listening on %d socket(s) passed by systemd", n);
	else
		hpd_log(HPD_LOG_INFO, "listening on %s", hd->cfg->socket_path);
	return 0;
}

void hpd_listen_stop(struct hpd *hd)
{
	for (unsigned i = 0; i < hd->nlisteners; i++)
		if (!uv_is_closing((uv_handle_t *)&hd->listeners[i]))
			uv_close((uv_handle_t *)&hd->listeners[i], NULL);
	if (hd->socket_created) {
		unlink(hd->cfg->socket_path);
		hd->socket_created = false;
	}
}
