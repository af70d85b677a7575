#!/usr/bin/env python3
"""e2e_client_functions.py - host functions the calling client provides (host_functions =
client): the daemon sends a MessagePack-RPC request back on the same connection while the
guest waits, and resumes the guest with the answer. Answers, errors, an answer to another
connection's call never reaching it, a client that does not answer (the call's deadline), and
one that hangs up mid host call (the VM is restored and reused)."""
import time

import msgpack

from hpdtest import Client, Daemon, args, check, done, is_error, ok, skip_without_kvm

skip_without_kvm()
binary, examples, _ = args()


def serve(c, msgid, answer):
    """Reads frames until the response to msgid; answers every daemon request with answer()."""
    seen = []
    while True:
        msg = c.read_one()
        if msg is None:
            raise ConnectionError("closed")
        if msg[0] == 0:  # the daemon asks us
            _, rid, method, params = msg
            seen.append((method, params))
            err, res = answer(method, params)
            c.send_raw(msgpack.packb([1, rid, err, res]))
        elif msg[0] == 1 and msg[1] == msgid:
            return (msg[2], msg[3]), seen


modules = {"hello": {"pool_min": 1, "pool_max": 1, "queue": 4, "host_functions": "client time",
                     "timeout_ms": 2000},
           "plain": {"elf": "hello.elf", "pool_min": 1, "pool_max": 1}}
with Daemon(binary, examples, modules=modules) as d:
    c = Client(d.socket)
    mid = c.request("call", ["hello", "ask", ["greeting", ["bob"]]])
    resp, seen = serve(c, mid, lambda m, p: (None, "hello, " + p[0] + "!"))
    check(ok(resp, "hello, bob!"), f"the guest got the client's answer: {resp}")
    check(seen == [("greeting", ["bob"])], f"the daemon asked the client greeting(['bob']): {seen}")

    mid = c.request("call", ["hello", "ask", ["thing", [{"a": [1, 2]}]]])
    resp, _ = serve(c, mid, lambda m, p: (None, {"got": p, "bin": b"\x00\xff"}))
    check(ok(resp, {"got": [{"a": [1, 2]}], "bin": b"\x00\xff"}), f"structured answers: {resp}")

    mid = c.request("call", ["hello", "ask", ["thing", []]])
    resp, _ = serve(c, mid, lambda m, p: ({"code": "no_such_function", "message": "not here"}, None))
    check(is_error(resp, "guest_error", "ask: thing: not here"), f"the client's error reaches the guest: {resp}")

    # an answer the guest must not get (an ext type, which libhpvmm refuses in a result)
    mid = c.request("call", ["hello", "ask", ["thing", []]])
    resp, _ = serve(c, mid, lambda m, p: (None, msgpack.ExtType(5, b"xyz")))
    check(is_error(resp, "guest_error", "not one valid msgpack object: ext not allowed"),
          f"a client's answer that is no valid result reaches the guest as an error: {resp}")
    check(ok(c.call("call", "hello", "hello", ["after"]), "hello, after"), "the VM after a bad answer")

    # built-ins still go to the host, not to the client
    mid = c.request("call", ["hello", "now", []])
    resp, seen = serve(c, mid, lambda m, p: (None, 0))
    check(resp[0] is None and resp[1] > 10**18 and seen == [], f"time is the host's: {resp} {seen}")

    # a module without host_functions = client never asks
    check(is_error(c.call("call", "plain", "ask", ["greeting", ["x"]]), "guest_error", "host_functions"),
          "a module not allowed to ask clients is refused")

    # a client that never answers: the call ends at its deadline; the VM serves again
    mid = c.request("call", ["hello", "ask", ["slow", []], {"timeout_ms": 300}])
    t0 = time.time()
    msg = c.read_one()
    check(msg[0] == 0 and msg[2] == "slow", f"asked: {msg}")
    msg = c.read_one()
    check(msg[0] == 1 and msg[1] == mid and isinstance(msg[2], dict) and msg[2].get("code") == "timeout",
          f"no answer: the call times out: {msg}")
    check(time.time() - t0 < 5, "the timeout came at the deadline")
    c.send_raw(msgpack.packb([1, msg[1] + 1000, None, 1]))  # a stray answer is dropped
    mid = c.request("call", ["hello", "ask", ["greeting", ["again"]]])
    resp, _ = serve(c, mid, lambda m, p: (None, "ok " + p[0]))
    check(ok(resp, "ok again"), f"the VM serves after a timeout: {resp}")

    # a hang-up while the daemon waits for our answer: the VM is interrupted and reused
    h = Client(d.socket)
    h.request("call", ["hello", "ask", ["never", []], {"timeout_ms": 60000}])
    msg = h.read_one()
    check(msg[0] == 0 and msg[2] == "never", f"asked the client that will hang up: {msg}")
    t0 = time.time()
    h.close()
    mid = c.request("call", ["hello", "ask", ["greeting", ["after"]], {"timeout_ms": 20000}])
    resp, _ = serve(c, mid, lambda m, p: (None, "still " + p[0]))
    check(ok(resp, "still after"), f"after a hang-up mid host call: {resp}")
    check(time.time() - t0 < 10, "the hung-up call was interrupted, not waited out")
    for _ in range(200):
        vms = c.call("stats")[1]["modules"]["hello"]["vms"]
        if vms["busy"] == 0:
            break
        time.sleep(0.01)
    check(vms["created"] == 1 and vms["destroyed"] == 0, f"one VM served it all: {vms}")
    c.close()
done()
