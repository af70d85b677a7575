/* wire.c - reading and writing the front <-> worker frames of wire.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wire.h"

int hpd_wire_send(int fd, const struct hpd_wire *h, const struct iovec *iov, int iovcnt)
{
	struct iovec v[8];
	if (iovcnt > 7) {
		errno = EINVAL;
		return -1;
	}
	v[0] = (struct iovec){ (void *)h, sizeof(*h) };
	if (iovcnt > 0) /* iov may be NULL with no parts: memcpy must not see NULL */
		memcpy(v + 1, iov, (size_t)iovcnt * sizeof(*iov));
	int n = iovcnt + 1, i = 0;
	while (i < n) {
		ssize_t w = writev(fd, v + i, n - i);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		size_t left = (size_t)w;
		for (; i < n && left >= v[i].iov_len; i++)
			left -= v[i].iov_len;
		if (i < n) { /* a partial write ended inside v[i] */
			v[i].iov_base = (uint8_t *)v[i].iov_base + left;
			v[i].iov_len -= left;
		}
	}
	return 0;
}

int hpd_wire_read(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (uint8_t *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = 0;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int hpd_wire_recv(int fd, struct hpd_wire *h, uint8_t **payload, uint64_t max_payload)
{
	*payload = NULL;
	if (hpd_wire_read(fd, h, sizeof(*h)))
		return -1;
	if (h->len > max_payload) {
		errno = EMSGSIZE;
		return -1;
	}
	uint8_t *p = malloc((size_t)h->len + 1);
	if (!p)
		return -1;
	if (hpd_wire_read(fd, p, h->len)) {
		free(p);
		return -1;
	}
	p[h->len] = '\0';
	*payload = p;
	return 0;
}
