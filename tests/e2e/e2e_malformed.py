#!/usr/bin/env python3
"""e2e_malformed.py - hostile clients: every malformed frame is answered with the right error
(when a msgid can be read) or a closed connection, a 100 MiB or 4 GiB declared length never
allocates, and a neighbour connection keeps getting right answers throughout."""
import random
import socket
import struct

import msgpack

from hpdtest import Client, Daemon, args, check, done, is_error, ok, skip_without_kvm

skip_without_kvm()
binary, examples, _ = args()


def p(obj):
    return msgpack.packb(obj)


def nested(depth):
    return b"\x91" * depth + b"\xc0"


# (name, bytes, expected: None = closed without a response, or (msgid, code, needle))
CASES = [
    ("not an array", p(5), None),
    ("a map", p({"a": 1}), None),
    ("wrong arity", p([0, 1, "ping"]), None),
    ("arity 5", p([0, 1, "ping", [], 9]), None),
    ("type 7", p([7, 1, "ping", []]), None),
    ("msgid a string", p([0, "x", "ping", []]), None),
    ("msgid negative", p([0, -1, "ping", []]), None),
    ("msgid 2^32", p([0, 2**32, "ping", []]), None),
    ("method an int", p([0, 5, 7, []]), (5, "bad_request", "method")),
    ("method too long", p([0, 6, "x" * 100, []]), (6, "bad_request", "method")),
    ("params a map", p([0, 10, "ping", {}]), (10, "bad_request", "params must be an array")),
    ("100 MiB str header", b"\x94\x00\x07\xdb" + struct.pack(">I", 100 << 20) + b"abc",
     (7, "too_large", "size limit")),
    ("4 GiB array header", b"\x94\x00\x08\xa4call\xdd\xff\xff\xff\xff", (8, "too_large", "size limit")),
    ("4 GiB str as method", b"\x94\x00\x0b\xdb\xff\xff\xff\xff", (11, "too_large", "size limit")),
    ("nesting 100 deep", b"\x94\x00\x09\xa4ping" + nested(100), (9, "bad_request", "nesting")),
    ("the byte 0xc1", b"\x94\x00\x0c\xa4ping\x91\xc1", (12, "bad_request", "0xc1")),
    ("0xc1 first", b"\xc1\xc1\xc1", None),
]

with Daemon(binary, examples, daemon_keys={"max_frame": "1M"}) as d:
    neighbour = Client(d.socket)
    check(ok(neighbour.call("call", "math", "add", [1, 2]), 3), "the neighbour works before")
    for name, data, expect in CASES:
        c = Client(d.socket)
        c.send_raw(data)
        if expect is None:
            check(c.closed(), f"{name}: the connection is closed")
        else:
            msgid, code, needle = expect
            try:
                resp = c.wait(msgid)
                check(is_error(resp, code, needle), f"{name}: {resp}, want {code} '{needle}'")
            except ConnectionError:
                check(False, f"{name}: closed without the {code} response")
            check(c.closed(), f"{name}: closed after the error")
        c.close()
        check(ok(neighbour.call("call", "math", "add", [2, 3]), 5), f"the neighbour works after: {name}")

    # a frame over max_frame (1 MiB) with an honest length: refused without buffering it all
    c = Client(d.socket)
    try:
        c.send_raw(p([0, 13, "call", ["echo", "echo", [b"x" * (2 << 20)]]]))
    except OSError:
        pass
    try:
        check(is_error(c.wait(13), "too_large"), "a 2 MiB frame: too_large")
    except ConnectionError:
        check(False, "a 2 MiB frame: closed without too_large")
    c.close()

    # values are at most 32 levels deep (msgpack-c, in the guest and in libhyperpool, stops
    # there): 32-deep args come back whole from the guest; 33-deep ones are refused at the frame
    def deep(levels):
        v = None
        for _ in range(levels):
            v = [v]
        return v
    c = Client(d.socket)
    args32 = deep(32)
    check(ok(c.call("call", "echo", "echo_all", args32), args32), "32-deep args round-trip")
    c.send_raw(p([0, 15, "call", ["echo", "echo_all", deep(33)]]))
    try:
        check(is_error(c.wait(15), "bad_request", "nesting"), "33-deep args: bad_request")
    except ConnectionError:
        check(False, "33-deep args: closed without bad_request")
    c.close()

    # a truncated stream: half a frame, then the client's end closes
    c = Client(d.socket)
    frame = p([0, 14, "call", ["math", "add", [1, 2]]])
    c.send_raw(frame[: len(frame) // 2])
    c.sock.shutdown(socket.SHUT_WR)
    check(c.closed(), "a truncated stream is closed at the client's EOF")
    c.close()

    # random bytes (fixed seed), several connections
    rng = random.Random(1234)
    for i in range(20):
        c = Client(d.socket)
        try:
            c.send_raw(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096))))
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        check(c.closed(), f"random bytes {i}: the connection ends")
        c.close()

    # good requests split into single bytes still work, pipelined behind each other
    c = Client(d.socket)
    data = b"".join(p([0, 100 + i, "call", ["math", "add", [i, i]]]) for i in range(8))
    for b in data:
        c.send_raw(bytes([b]))
    for i in range(8):
        check(ok(c.wait(100 + i), 2 * i), f"byte-by-byte request {i}")
    c.close()

    err, st = neighbour.call("stats")
    rss = (st or {}).get("daemon", {}).get("rss_bytes", 1 << 40)
    check(rss < 256 << 20, f"no 100 MiB / 4 GiB allocation: daemon RSS {rss >> 20} MiB")
    check(ok(neighbour.call("call", "math", "add", [40, 2]), 42), "the neighbour works at the end")
    neighbour.close()
done()
