#!/usr/bin/env python3
"""hpd-call.py - a small MessagePack-RPC client for hyperpoold, for scripts/demo (the
`hyperpool` CLI of the client issue replaces it). Arguments are JSON; the result is printed as
JSON (bytes as {"$bin": "<base64>"}). Exit status 0 on a result, 1 on an error response.

    hpd-call.py SOCKET METHOD [JSON-PARAM...]
    hpd-call.py /run/hyperpool/hyperpoold.sock call '"math"' '"add"' '[40, 2]'"""
import base64
import json
import socket
import sys

import msgpack


def to_json(v):
    if isinstance(v, bytes):
        return {"$bin": base64.b64encode(v).decode()}
    if isinstance(v, dict):
        return {str(k): to_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    return v


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[-2].strip(), file=sys.stderr)
        return 64
    path, method = sys.argv[1], sys.argv[2]
    try:
        params = [json.loads(a) for a in sys.argv[3:]]
    except json.JSONDecodeError as e:
        print(f"hpd-call: a parameter is not JSON: {e}", file=sys.stderr)
        return 64
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(msgpack.packb([0, 1, method, params]))
    up = msgpack.Unpacker(raw=False, strict_map_key=False)
    while True:
        data = s.recv(1 << 16)
        if not data:
            print("hpd-call: the daemon closed the connection", file=sys.stderr)
            return 1
        up.feed(data)
        for msg in up:
            _, _, err, result = msg
            if err is not None:
                print(f"error {err.get('code')}: {err.get('message')}")
                return 1
            print(json.dumps(to_json(result), ensure_ascii=False))
            return 0


if __name__ == "__main__":
    sys.exit(main())
