#!/usr/bin/env python3
"""interop_pynvim.py - a third-party MessagePack-RPC client, unmodified: Neovim's Python
client (Debian's python3-pynvim, its generic msgpack_rpc session) talks to hyperpoold. It
sends a notification of its own at connect (nvim_set_client_info), which the daemon must
ignore, pipelines nothing special, and maps error responses to exceptions."""
from pynvim.msgpack_rpc import ErrorResponse, socket_session

from hpdtest import Daemon, args, check, done, skip_without_kvm

skip_without_kvm()
binary, examples, _ = args()


def text(v):
    return v.decode() if isinstance(v, bytes) else v


with Daemon(binary, examples) as d:
    s = socket_session(d.socket)
    s.error_wrapper = ErrorResponse  # what pynvim's Nvim object sets on its session
    check(text(s.request("ping")) == "pong", "pynvim: ping")
    check(s.request("call", "math", "add", [40, 2]) == 42, "pynvim: math.add(40, 2)")
    check(s.request("call", "math", "fib", [90]) == 2880067194370816120, "pynvim: math.fib(90)")
    blob = bytes(range(256))
    check(s.request("call", "echo", "echo", [blob]) == blob, "pynvim: bytes round trip")
    mods = s.request("modules")
    names = sorted(text(m[b"name"] if b"name" in m else m["name"]) for m in mods)
    check(names == ["echo", "hostile", "math"], f"pynvim: modules {names}")
    for method, params, code in [("call", ["math", "nope", []], "no_such_function"),
                                 ("call", ["hostile", "null_deref", []], "guest_fault"),
                                 ("frobnicate", [], "no_such_method")]:
        try:
            s.request(method, *params)
            check(False, f"pynvim: {method} {params} should fail with {code}")
        except ErrorResponse as e:
            err = e.args[0]
            got = text(err.get(b"code", err.get("code"))) if isinstance(err, dict) else str(err)
            check(got == code, f"pynvim: {method} {params}: {err}")
    check(s.request("call", "hostile", "ok", []) == 42, "pynvim: the VM after a fault")
    s.close()
done()
