#!/usr/bin/env python3
"""e2e_methods.py - every method of hyperpoold through its socket: ping, modules, stats, call
(results, guest errors, bytes and nesting round trips, options), unknown methods and modules,
bad params, method names as bin, notifications ignored. A real daemon, real VMs."""
import msgpack

import time

from hpdtest import DEFAULT_MODULES, Client, Daemon, args, check, done, is_error, ok, skip_without_kvm

skip_without_kvm()
binary, examples, _ = args()

modules = dict(DEFAULT_MODULES)
modules["hello"] = {"pool_min": 1, "pool_max": 1}
modules["hello2"] = {"elf": "hello.elf", "pool_min": 1, "pool_max": 1, "host_functions": "time log"}
with Daemon(binary, examples, modules=modules) as d:
    c = Client(d.socket)
    check(ok(c.call("ping"), "pong"), "ping answers pong")

    err, mods = c.call("modules")
    check(err is None and isinstance(mods, list), f"modules: {err}")
    by_name = {m["name"]: m for m in mods or []}
    check(set(by_name) == {"math", "echo", "hostile", "hello", "hello2"},
          f"modules lists the configured five: {sorted(by_name)}")
    math = by_name.get("math", {})
    check("add" in math.get("functions", []) and "fib" in math.get("functions", []),
          f"modules: math's functions {math.get('functions')}")
    check(not any(f.startswith("__hp_") for f in math.get("functions", [])), "reserved names hidden")
    check(math.get("pool", {}).get("max") == 2 and math.get("pool", {}).get("min") == 1,
          f"modules: math's pool {math.get('pool')}")

    # call: results
    check(ok(c.call("call", "math", "add", [40, 2]), 42), "math.add(40, 2) = 42")
    check(ok(c.call("call", "math", "fib", [90]), 2880067194370816120), "math.fib(90)")
    check(ok(c.call("call", "math", "add", [1.5, 2]), 3.5), "math.add(1.5, 2) = 3.5")
    blob = bytes(range(256)) * 64
    check(ok(c.call("call", "echo", "echo", [blob]), blob), "echo of 16 KiB of bytes")
    nested = {"a": [1, {"b": [None, True, -7, "ü"]}], "c": 2.25}
    check(ok(c.call("call", "echo", "echo", [nested]), nested), "echo of a nested map")
    check(ok(c.call("call", "echo", "echo_all", []), []), "echo_all() = []")
    # call: guest errors keep their codes and messages
    check(is_error(c.call("call", "math", "add", [2**63 - 1, 1]), "guest_error", "add: integer overflow"),
          "a guest error comes back with its code and message")
    check(is_error(c.call("call", "math", "nope", []), "no_such_function"), "no_such_function")
    check(is_error(c.call("call", "math", "add", ["x", 1]), "guest_error", "argument 1"),
          "the guest's argument check")
    # call: the daemon's own checks
    check(is_error(c.call("call", "nomodule", "add", [1, 2]), "no_such_module", "nomodule"), "no_such_module")
    check(is_error(c.call("call", "math", "add"), "bad_request", "params"), "call with 2 params")
    check(is_error(c.call("call", "math", "add", 5), "bad_request", "args must be an array"), "args not an array")
    check(is_error(c.call("call", 7, "add", [1, 2]), "bad_request", "strings"), "module not a string")
    check(is_error(c.call("call", "math", "", []), "bad_request", "function name"), "empty function name")
    check(is_error(c.call("call", "math", "add", [1, 2], {"bogus": 1}), "bad_request", "unknown option 'bogus'"),
          "unknown call option")
    check(is_error(c.call("call", "math", "add", [1, 2], {"timeout_ms": 0}), "bad_request", "timeout_ms"),
          "timeout_ms 0 refused")
    check(ok(c.call("call", "math", "add", [1, 2], {"timeout_ms": 500}), 3), "a call with timeout_ms")
    check(is_error(c.call("call", "hostile", "loop_forever", [], {"timeout_ms": 100}), "timeout", "deadline"),
          "a call past its timeout_ms ends with timeout")
    check(ok(c.call("call", "hostile", "ok", []), 42), "the hostile module's VM is back at its snapshot")
    check(is_error(c.call("frobnicate", 1), "no_such_method", "frobnicate"), "unknown method")
    # host functions: hello.now() calls the host's "time", which only "hello2" may use
    check(is_error(c.call("call", "hello", "now", []), "guest_error", "host_functions"),
          "a host function the module's config does not allow is refused, naming the key")
    t0 = time.time_ns()
    err, t = c.call("call", "hello2", "now", [])
    check(err is None and t0 <= t <= time.time_ns(), f"hello2.now() from the host's clock: {err} {t}")

    # method and names as bin (some clients send bytes), and a notification that is ignored
    c.send_raw(msgpack.packb([2, "nvim_subscribe", ["x"]]))
    c.send_raw(msgpack.packb([2, b"call", ["math", "add", [1, 2]]]))
    c.send_raw(msgpack.packb([0, 900, b"call", [b"math", b"add", [20, 22]]]))
    check(ok(c.wait(900), 42), "method, module and function names as bin")
    check(ok(c.call("ping"), "pong"), "the connection still works after notifications")

    # stats after all that
    err, st = c.call("stats")
    check(err is None, f"stats: {err}")
    dm = (st or {}).get("daemon", {})
    check(dm.get("connections") == 1 and dm.get("rss_bytes", 0) > 0 and dm.get("calls") == 15,
          f"stats.daemon: {dm}")
    ms = (st or {}).get("modules", {}).get("math", {})
    check(ms.get("calls") == 8, f"stats: math calls {ms.get('calls')}")
    check(ms.get("errors", {}).get("guest_error") == 2 and ms.get("errors", {}).get("no_such_function") == 1,
          f"stats: math errors by code {ms.get('errors')}")
    lat = ms.get("latency_us", {})
    check(0 < lat.get("p50", 0) <= lat.get("p99", 0), f"stats: latency {lat}")
    # a VM is restored after its response is sent, so the last call's VM may still be busy
    for _ in range(200):
        vms = c.call("stats")[1]["modules"]["math"]["vms"]
        if vms.get("busy") == 0:
            break
        time.sleep(0.01)
    check(vms.get("busy") == 0 and vms.get("idle", 0) >= 1, f"stats: math VMs {vms}")
    hs = (st or {}).get("modules", {}).get("hostile", {})
    check(hs.get("errors", {}).get("timeout") == 1, f"stats: hostile timeouts {hs.get('errors')}")
    c.close()

# A guest's printf reaches the daemon's log (at debug level): its control bytes must not reach
# the terminal of whoever reads the log (an escape sequence could retitle or clear it).
with Daemon(binary, examples, modules={"hello": {"pool_min": 1, "pool_max": 1}},
            daemon_keys={"log_level": "debug"}) as d:
    c = Client(d.socket)
    evil = "\x1b]0;owned\x07\x1b[2J\x7f\x08x"
    check(ok(c.call("call", "hello", "hello", [evil])), "hello with control bytes in the name")
    c.close()
    d.stop()
    with open(d.log_path, "rb") as f:
        log = f.read()
    check(b"Hello from a KVM micro-VM, ?]0;owned??[2J??x!" in log,
          "the guest's printf is logged with its control bytes as '?'")
    check(not any(ch in log for ch in b"\x1b\x07\x7f\x08"), "no control byte in the daemon's log")
done()
