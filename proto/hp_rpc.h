/* hp_rpc.h - the wire protocol of hyperpoold: MessagePack-RPC over a SOCK_STREAM Unix socket.
 *
 * Frames are MessagePack objects back to back, no length prefix (the MessagePack-RPC spec):
 *   request       [0, msgid, method, params]     msgid: uint32, method: str (or bin)
 *   response      [1, msgid, error, result]      error nil and result, or error a map
 *   notification  [2, method, params]            no response; unknown methods are ignored
 * Many requests may be in flight on one connection; responses come as calls finish, in any
 * order. An error is a map {"code": <stable name>, "message": <text>}, the code one of the
 * names of hp_status.h (hp_status_name): the same codes libhpvmm and the C client use.
 * docs/protocol.md lists the methods, their params and results, and every limit. */
#ifndef HP_RPC_H
#define HP_RPC_H

#define HP_RPC_REQUEST 0
#define HP_RPC_RESPONSE 1
#define HP_RPC_NOTIFICATION 2

/* The default socket of the packaged units (units/hyperpoold.socket). */
#define HP_RPC_DEFAULT_SOCKET "/run/hyperpool/hyperpoold.sock"

/* Nesting accepted in a frame (arrays/maps), the envelope included: a value of
 * HP_MP_VALUE_DEPTH (32, hp_mpscan.h) levels inside a call's [0, msgid, "call", [module,
 * function, args]] or a response's [1, msgid, nil, result]. A guest answers args deeper than 32
 * with bad_args (msgpack-c cannot unpack them). */
#define HP_RPC_MAX_DEPTH 34
/* A frame may be this much larger than the largest module input (the envelope, names, options). */
#define HP_RPC_FRAME_OVERHEAD (64u << 10)
#define HP_RPC_METHOD_MAX 64u
#define HP_RPC_MODULE_NAME_MAX 64u

#endif
