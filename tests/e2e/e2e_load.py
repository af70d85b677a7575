#!/usr/bin/env python3
"""e2e_load.py - concurrency through the socket: 64 requests pipelined on one connection and
answered out of order, 32 connections at once, a long call that does not hold up another
connection's short one, `busy` at the queue bound, deadlines counted from arrival (queue time
included), and a client hanging up mid-call (its VM interrupted, restored and reused)."""
import threading
import time

import msgpack

from hpdtest import Client, Daemon, args, check, done, is_error, ok, skip_without_kvm

skip_without_kvm()
binary, examples, _ = args()

modules = {
    "math": {"pool_min": 2, "pool_max": 2, "queue": 1024},  # room for 32 x 16 at once
    "hostile": {"pool_min": 1, "pool_max": 1, "queue": 1, "timeout_ms": 5000},
    "echo": {"pool_min": 1, "pool_max": 2, "queue": 256},
}

with Daemon(binary, examples, modules=modules,
            daemon_keys={"max_output": "1M", "max_connections": 40}) as d:
    # 64 pipelined requests, slow and fast mixed: all answered, the fast ones not behind the slow
    c = Client(d.socket)
    ids = {}
    for i in range(64):
        if i % 16 == 0:
            ids[c.request("call", ["math", "fib_rec", [32]])] = ("slow", 2178309)
        else:
            ids[c.request("call", ["math", "add", [i, 1000]])] = ("fast", i + 1000)
    order = []
    while len(order) < 64:
        msg = c.read_one()
        if not check(msg is not None, "the pipelined connection stays open"):
            break
        kind, want = ids[msg[1]]
        check(msg[2] is None and msg[3] == want, f"pipelined {msg[1]} ({kind}): {msg[2:]}")
        order.append(msg[1])
    check(sorted(order) == sorted(ids), "every pipelined request answered once")
    check(order != sorted(order), "answers came out of order (fast calls passed the slow ones)")
    c.close()

    # a long call on one connection does not hold up a short call on another
    long_c, short_c = Client(d.socket), Client(d.socket)
    lid = long_c.request("call", ["hostile", "loop_forever", [], {"timeout_ms": 1500}])
    time.sleep(0.1)  # the long call is running
    sid = short_c.request("call", ["math", "add", [2, 2]])
    first = None
    short_c.sock.settimeout(10)
    resp = short_c.wait(sid)
    check(ok(resp, 4), f"the short call's answer: {resp}")
    long_c.sock.settimeout(0)
    try:
        long_c.unpacker.feed(long_c.sock.recv(1 << 16))
        first = "long"
    except BlockingIOError:
        first = "short"
    check(first == "short", "the short call on another connection answered before the long one")
    long_c.sock.settimeout(10)
    check(is_error(long_c.wait(lid), "timeout"), "the long call ends at its deadline")
    long_c.close()
    short_c.close()

    # busy: hostile has 1 VM and a queue of 1; a third call is refused at once
    a, b, e = Client(d.socket), Client(d.socket), Client(d.socket)
    aid = a.request("call", ["hostile", "loop_forever", [], {"timeout_ms": 800}])
    time.sleep(0.1)
    bid = b.request("call", ["hostile", "ok", [], {"timeout_ms": 300}])
    time.sleep(0.05)
    t0 = time.time()
    resp = e.call("call", "hostile", "ok", [])
    check(is_error(resp, "busy", "busy"), f"the call beyond the queue bound: {resp}")
    check(time.time() - t0 < 5, "busy comes at once, not after the queue drains")
    # the queued one waited behind an 800 ms call with a 300 ms deadline: timeout, not a run
    resp = b.wait(bid)
    check(is_error(resp, "timeout", "queue"), f"deadline counted from arrival: {resp}")
    check(is_error(a.wait(aid), "timeout"), "the running one ends at its deadline")
    check(ok(e.call("call", "hostile", "ok", []), 42), "the pool serves again after busy")
    for x in (a, b, e):
        x.close()

    # hang-up mid-call: the VM is interrupted, restored and reused
    h = Client(d.socket)
    h.request("call", ["hostile", "loop_forever", [], {"timeout_ms": 60000}])
    time.sleep(0.2)
    t0 = time.time()
    h.close()
    c = Client(d.socket)
    resp = c.call("call", "hostile", "ok", [], {"timeout_ms": 20000})
    check(ok(resp, 42), f"after a hang-up the VM answers from its snapshot: {resp}")
    check(time.time() - t0 < 10, "the hung-up call was interrupted, not run to its 60 s deadline")
    # the VM is restored after its response is sent: wait (bounded) for it to be back
    for _ in range(200):
        err, st = c.call("stats")
        vms = (st or {}).get("modules", {}).get("hostile", {}).get("vms", {})
        if vms.get("busy") == 0:
            break
        time.sleep(0.01)
    check(vms.get("created") == 1 and vms.get("destroyed") == 0 and vms.get("busy") == 0,
          f"the same VM was restored and reused: {vms}")
    c.close()

    # a client that never reads: its responses are buffered up to max_output (1 MiB), then it
    # is disconnected with a log line; a neighbour is not affected
    slow = Client(d.socket)
    blob = b"s" * (64 << 10)
    for i in range(64):  # 4 MiB of responses
        try:
            slow.request("call", ["echo", "echo", [blob]])
        except OSError:
            break
    for _ in range(500):
        if "responses unread" in d.log():
            break
        time.sleep(0.01)
    check("more than 1048576 bytes of responses unread, closing it" in d.log(),
          "a slow reader is disconnected at max_output, with a log line")
    check(slow.closed(), "the slow reader's connection is closed")
    slow.close()
    n = Client(d.socket)
    check(ok(n.call("call", "echo", "echo", ["still here"]), "still here"), "a neighbour after the slow reader")
    n.close()

    # max_connections (40): the 41st connection is closed at once; after one leaves, a new one works
    conns = [Client(d.socket) for _ in range(40)]
    check(ok(conns[-1].call("ping"), "pong"), "the 40th connection works")
    extra = Client(d.socket)
    check(extra.closed(), "the 41st connection is closed (max_connections)")
    extra.close()
    conns.pop().close()
    time.sleep(0.1)
    again = Client(d.socket)
    check(ok(again.call("ping"), "pong"), "a connection works again once one left")
    again.close()
    for x in conns:
        x.close()
    time.sleep(0.1)

    # 32 connections at once, each pipelining 16 calls, from threads
    results = {}

    def client(n):
        cc = Client(d.socket)
        mine = [cc.request("call", ["math", "mul", [n, k]]) for k in range(16)]
        results[n] = [cc.wait(m) for m in mine]
        cc.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for n in range(32):
        got = results.get(n)
        check(got is not None and all(ok(r, n * k) for k, r in enumerate(got)),
              f"connection {n} of 32: {got and got[:2]}")
done()
