#!/usr/bin/env python3
"""e2e_sessions.py - sessions: a VM held for one connection across calls, its memory carried
from call to call (hostile.ok returns the state the last call left: 42 from the snapshot, then
0xbad), one call at a time, counted against pool_max, restored and given back on
session_close or hang-up."""
import time

from hpdtest import Client, Daemon, args, check, done, is_error, ok, skip_without_kvm

skip_without_kvm()
binary, examples, _ = args()
BAD = 0xBAD

modules = {"hostile": {"pool_min": 2, "pool_max": 2, "queue": 4, "timeout_ms": 3000},
           "math": {"pool_min": 1, "pool_max": 1},
           "idle": {"elf": "hostile.elf", "pool_min": 1, "pool_max": 3, "max_sessions": 2,
                    "session_idle_ms": 300}}
with Daemon(binary, examples, modules=modules) as d:
    c = Client(d.socket)
    err, r = c.call("session_open", "hostile")
    check(err is None and isinstance(r.get("session"), int), f"session_open: {err} {r}")
    sid = r["session"]
    opts = {"session": sid}
    check(ok(c.call("call", "hostile", "ok", [], opts), 42), "the first call in a session starts at the snapshot")
    check(ok(c.call("call", "hostile", "ok", [], opts), BAD), "the next one sees what the last left")
    check(ok(c.call("call", "hostile", "ok", []), 42), "a call outside the session starts at the snapshot")
    check(is_error(c.call("call", "hostile", "null_deref", [], opts), "guest_fault"), "a fault in a session")
    check(ok(c.call("call", "hostile", "ok", [], opts), BAD), "the session goes on after a fault")
    check(is_error(c.call("call", "math", "add", [1, 2], opts), "bad_request", "no session"),
          "a session belongs to its module")
    check(is_error(c.call("call", "hostile", "ok", [], {"session": 999}), "bad_request", "no session 999"),
          "an unknown session")
    # one call at a time per session: the next ones wait their turn, up to 16
    slow = c.request("call", ["hostile", "loop_forever", [], {"session": sid, "timeout_ms": 400}])
    time.sleep(0.1)
    queued = [c.request("call", ["hostile", "ok", [], opts]) for _ in range(16)]
    check(is_error(c.call("call", "hostile", "ok", [], opts), "busy", "16 waiting"),
          "the 17th call waiting for a session is refused")
    check(is_error(c.wait(slow), "timeout"), "the session's long call ends at its deadline")
    check(all(ok(c.wait(q), BAD) for q in queued), "the waiting calls ran after it, in the session")
    check(ok(c.call("call", "hostile", "ok", [], opts), BAD), "the session after a timeout")
    check(ok(c.call("session_close", sid), True), "session_close")
    check(is_error(c.call("session_close", sid), "bad_request"), "closing twice")

    # sessions count against pool_max (2): the third waits, and runs when one closes
    s1 = c.call("session_open", "hostile")[1]["session"]
    s2 = c.call("session_open", "hostile")[1]["session"]
    check(is_error(c.call("session_open", "hostile"), "busy", "VMs in use"), "no third session")
    waiting = c.request("call", ["hostile", "ok", []])
    time.sleep(0.1)
    check(waiting not in c.responses, "a plain call waits while both VMs are held")
    check(ok(c.call("session_close", s1), True), "close one session")
    check(ok(c.wait(waiting), 42), "the waiting call ran on the VM given back, restored")
    check(ok(c.call("call", "hostile", "ok", [], {"session": s2}), 42), "the other session")
    check(c.call("stats")[1]["modules"]["hostile"]["sessions"] == 1, "stats counts the open session")
    c.close()  # hang-up with a session open

    c = Client(d.socket)
    for _ in range(200):
        vms = c.call("stats")[1]["modules"]["hostile"]["vms"]
        if vms["idle"] == 2:
            break
        time.sleep(0.01)
    check(vms["idle"] == 2 and vms["busy"] == 0 and vms["created"] == 2 and vms["destroyed"] == 0,
          f"after the hang-up both VMs are back, none lost or replaced: {vms}")
    check(ok(c.call("call", "hostile", "ok", []), 42), "restored when the session ended")
    check(ok(c.call("call", "hostile", "ok", []), 42), "both VMs restored")

    # session_call, max_sessions (2 of idle's 3 VMs) and the idle timeout (300 ms)
    a = c.call("session_open", "idle")[1]["session"]
    check(ok(c.call("session_call", a, "ok", []), 42) and ok(c.call("session_call", a, "ok", []), BAD),
          "session_call keeps state like call with the session option")
    check(is_error(c.call("session_call", 999, "ok", []), "bad_request"), "session_call of no session")
    b = c.call("session_open", "idle")[1]["session"]
    check(is_error(c.call("session_open", "idle"), "limit", "max_sessions"), "max_sessions")
    for _ in range(6):  # keep a alive past b's idle timeout
        time.sleep(0.1)
        c.call("session_call", a, "ok", [])
    time.sleep(0.25)
    check(is_error(c.call("session_call", b, "ok", []), "bad_request"), "an idle session is closed")
    check("idle for 300 ms: closed" in d.log(), "the idle close is logged")
    c.close()
done()
