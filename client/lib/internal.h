/* internal.h - what the files of libhyperpool share: the connection, its buffers and its
 * table of pending calls. Nothing here is installed. */
#ifndef HPC_INTERNAL_H
#define HPC_INTERNAL_H

#include <stdarg.h>

#include "hp_mpscan.h"
#include "hp_rpc.h"
#include "hyperpool.h"

/* A growable byte buffer: bytes [off, len) are live (off: already written or consumed). */
struct hpc_buf {
	uint8_t *p;
	size_t off, len, cap;
	bool oom; /* a write through hpc_buf_pack failed: the packed bytes are incomplete */
};

/* A call waiting for its response. cb NULL: abandoned (hpc_cancel, a timed-out sync call):
 * the response is expected and dropped. */
struct hpc_pending {
	uint32_t msgid;
	hpc_callback cb;
	void *ctx;
};

struct hpc_conn {
	int fd;
	size_t max_frame;
	struct hpc_buf out; /* requests and answers not written yet */
	struct hpc_buf in;  /* bytes read: the frame being cut starts at in.off */
	struct hp_mp_scanner scan; /* resumable scan of the frame at in.off */
	bool scanning;
	struct hpc_pending *pending; /* unordered; removal swaps the last in */
	size_t npending, cap_pending;
	size_t nabandoned;
	uint32_t next_msgid;
	bool broken;
	struct hpc_error why;  /* set when broken */
	int in_callback;       /* > 0 while a callback runs: sync calls and hpc_close refuse */
	struct hpc_provided {  /* functions this client provides (hpc_provide) */
		char name[64];
		hpc_function fn;
		void *ctx;
	} provided[HPC_MAX_FUNCTIONS];
	unsigned nprovided;
};

/* error.c */
int hpc_fail(struct hpc_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void hpc_set_wire_error(struct hpc_error *err, const uint8_t *code, size_t code_len,
			const uint8_t *msg, size_t msg_len);

/* buf.c */
int hpc_buf_reserve(struct hpc_buf *b, size_t more);
int hpc_buf_pack(void *data, const char *bytes, size_t len); /* a msgpack_packer writer */
void hpc_buf_compact(struct hpc_buf *b);
void hpc_buf_free(struct hpc_buf *b);

/* pending.c */
int hpc_pending_add(struct hpc_conn *c, hpc_callback cb, void *ctx, uint32_t *msgid);
struct hpc_pending *hpc_pending_find(struct hpc_conn *c, uint32_t msgid);
void hpc_pending_remove(struct hpc_conn *c, struct hpc_pending *p);

/* frame.c: handles every complete frame in c->in; -1 when the connection broke. */
int hpc_frames(struct hpc_conn *c);
/* Marks the connection broken with *why and completes every pending call with it. */
void hpc_break(struct hpc_conn *c, const struct hpc_error *why);
/* Runs cb of a call removed from the table. */
void hpc_complete(struct hpc_conn *c, struct hpc_pending p, struct hpc_result *res,
		  const struct hpc_error *err);

#endif
