#!/usr/bin/env python3
"""interop_pynvim.py - a third-party MessagePack-RPC client, unmodified: Neovim's Python
client (Debian's python3-pynvim, its generic msgpack_rpc session) talks to hyperpoold. It
sends a notification of its own at connect (nvim_set_client_info), which the daemon must
ignore, and maps error responses to exceptions.

It also serves the daemon's requests (a module with host_functions = client asks the calling
client) and pipelines, both the way pynvim's own plugin host does: Session.run(request_cb,
notification_cb, setup_cb) runs the event loop; inside it, each Session.request() made on a
greenlet sends its request and yields until its answer, so requests made on several greenlets
are in flight together, and requests from the peer go to request_cb meanwhile. (Outside run(),
Session.request() blocks and only queues the peer's requests, unanswered: a host call would
then wait out the call's deadline. `async_=True` sends a notification, not a request.)"""
import greenlet
from pynvim.msgpack_rpc import ErrorResponse, socket_session

from hpdtest import DEFAULT_MODULES, Daemon, args, check, done, skip_without_kvm

skip_without_kvm()
binary, examples, _ = args()


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def run_greenlets(s, jobs, request_cb):
    """Runs each job (a function of no arguments making Session.request calls) on a greenlet of
    its own inside Session.run, so that their requests are in flight together; request_cb
    answers the daemon's requests meanwhile. Returns [(order, result or ErrorResponse)], the
    order being when each job finished (0 first)."""
    out = [None] * len(jobs)
    finished = [0]

    def start():
        for i, job in enumerate(jobs):
            def body(i=i, job=job):
                try:
                    r = job()
                except ErrorResponse as e:
                    r = e
                out[i] = (finished[0], r)
                finished[0] += 1
                if finished[0] == len(jobs):
                    s.stop()
            greenlet.greenlet(body).switch()  # sends its request, yields back here

    s.run(request_cb, lambda name, a: None, start)
    return out


modules = dict(DEFAULT_MODULES, hello={"pool_min": 1, "pool_max": 2, "host_functions": "client",
                                       "timeout_ms": 5000})
with Daemon(binary, examples, modules=modules) as d:
    s = socket_session(d.socket)
    s.error_wrapper = ErrorResponse  # what pynvim's Nvim object sets on its session
    check(text(s.request("ping")) == "pong", "pynvim: ping")
    check(s.request("call", "math", "add", [40, 2]) == 42, "pynvim: math.add(40, 2)")
    check(s.request("call", "math", "fib", [90]) == 2880067194370816120, "pynvim: math.fib(90)")
    blob = bytes(range(256))
    check(s.request("call", "echo", "echo", [blob]) == blob, "pynvim: bytes round trip")
    mods = s.request("modules")
    names = sorted(text(m[b"name"] if b"name" in m else m["name"]) for m in mods)
    check(names == ["echo", "hello", "hostile", "math"], f"pynvim: modules {names}")
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

    # The daemon asks pynvim: hello.ask("greeting", ["x"]) calls the client's greeting(["x"]).
    asked = []

    def answer(name, a):
        name = text(name)
        asked.append((name, [text(v) for v in a]))
        if name == "greeting":
            return "hello, " + text(a[0]) + "!"
        raise ErrorResponse({"code": "no_such_method", "message": f"pynvim provides no {name}"})

    [(_, r)] = run_greenlets(s, [lambda: s.request("call", "hello", "ask", ["greeting", ["x"]])],
                             answer)
    check(text(r) == "hello, x!", f"pynvim answers the daemon's host-function request: {r!r}")
    check(asked == [("greeting", ["x"])], f"pynvim was asked greeting(['x']): {asked}")
    [(_, r)] = run_greenlets(s, [lambda: s.request("call", "hello", "ask", ["farewell", []])],
                             answer)
    err = r.args[0] if isinstance(r, ErrorResponse) else {}
    check(isinstance(r, ErrorResponse) and "pynvim provides no farewell" in text(err.get("message", "")),
          f"pynvim's ErrorResponse reaches the guest as its error: {r!r}")

    # Pipelining: a slow call first, fast ones after, each on a greenlet: all in flight at once,
    # the fast ones overtake the slow one; a host-function call among them is answered too.
    jobs = [lambda: s.request("call", "math", "fib_rec", [35])]
    jobs += [lambda n=n: s.request("call", "math", "add", [n, n]) for n in range(1, 9)]
    jobs += [lambda: s.request("call", "hello", "ask", ["greeting", ["pipelined"]])]
    out = run_greenlets(s, jobs, answer)
    check(out[0][1] == 9227465, f"pynvim pipelined: fib_rec(35) {out[0]}")
    check([r for _, r in out[1:9]] == [2 * n for n in range(1, 9)], f"pynvim pipelined: adds {out}")
    check(text(out[9][1]) == "hello, pipelined!", f"pynvim pipelined: ask {out[9]}")
    check(out[0][0] > 0, f"pynvim pipelined: the slow call, sent first, finished as number {out[0][0]}")

    # and the blocking API still works after the loop ran
    check(s.request("call", "math", "add", [1, 2]) == 3, "pynvim: a blocking request after run()")
    s.close()
done()
