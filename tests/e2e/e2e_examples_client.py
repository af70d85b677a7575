#!/usr/bin/env python3
"""e2e_examples_client.py - the client examples of examples/client/ against a real daemon, their
output checked: async_add.c (libhyperpool's async API in a poll loop), as meson builds it and
built standalone with `cc async_add.c $(pkg-config --cflags --libs hyperpool)` on the build
tree's uninstalled hyperpool.pc; and call.py (python3-msgpack on a raw socket: a call, pipelined
calls, and a host-function request from the daemon that it answers); and the Python block of
docs/protocol.md's "Calling hyperpoold", as written there.

    e2e_examples_client.py HYPERPOOLD EXAMPLES_DIR ASYNC_ADD CALL_PY ASYNC_ADD_C BUILD_ROOT PROTOCOL_MD"""
import os
import shutil
import subprocess
import sys
import tempfile

from hpdtest import Daemon, check, done, skip_without_kvm

skip_without_kvm()
if len(sys.argv) != 8:
    print(f"usage: {sys.argv[0]} HYPERPOOLD EXAMPLES_DIR ASYNC_ADD CALL_PY ASYNC_ADD_C BUILD_ROOT "
          "PROTOCOL_MD", file=sys.stderr)
    sys.exit(2)
binary, examples, async_add, call_py, async_add_c, build_root, protocol_md = sys.argv[1:]


def run(cmd, env=None, timeout=60):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def expect_async(out, n):
    return out == "".join(f"add({i}, {i}) = {2 * i}\n" for i in range(n))


modules = {"math": {"pool_min": 1, "pool_max": 2, "queue": 256},  # 200 in flight: no busy
           "hello": {"pool_min": 1, "pool_max": 1, "host_functions": "client", "timeout_ms": 5000}}
with Daemon(binary, examples, modules=modules) as d:
    env = dict(os.environ, HYPERPOOL_SOCKET=d.socket)

    # async_add: 1 call, the default 8, then 200 pipelined on one connection
    for args, n in [(["1"], 1), ([], 8), (["200"], 200)]:
        rc, out, err = run([async_add, *args], env=env)
        check(rc == 0 and expect_async(out, n), f"async_add {args}: rc {rc}, out {out[:300]!r}, err {err!r}")
    rc, out, err = run([async_add, "0"], env=env)
    check(rc == 2 and "usage" in err, f"async_add 0: usage (rc {rc})")
    rc, out, err = run([async_add, "3"], env=dict(env, HYPERPOOL_SOCKET=d.socket + ".nope"))
    check(rc == 1 and "system" in err, f"async_add without a daemon: rc {rc}, err {err!r}")

    # the same source, built standalone as its header comment says
    cc, pkgconf = shutil.which("cc"), shutil.which("pkg-config")
    if cc and pkgconf:
        penv = dict(os.environ, PKG_CONFIG_PATH=os.path.join(build_root, "meson-uninstalled"))
        rc, flags, err = run([pkgconf, "--cflags", "--libs", "hyperpool"], env=penv)
        check(rc == 0, f"pkg-config hyperpool (uninstalled): {err}")
        tmp = tempfile.mkdtemp(prefix="hpd-async-add-")
        exe = os.path.join(tmp, "async_add")
        # a sanitizer build's libhyperpool needs the program built with the same sanitizers
        sanitize = os.environ.get("HP_SANITIZE", "none")
        san = [] if sanitize in ("", "none") else ["-fsanitize=" + sanitize]
        rc, out, err = run([cc, async_add_c, *san, *flags.split(), "-o", exe], timeout=120)
        check(rc == 0, f"cc async_add.c $(pkg-config --cflags --libs hyperpool): {err}")
        if rc == 0:
            libdir = os.path.join(build_root, "client")
            rc, out, err = run([exe, "5"], env=dict(env, LD_LIBRARY_PATH=libdir))
            check(rc == 0 and expect_async(out, 5), f"the standalone async_add: rc {rc}, {out!r} {err!r}")
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("note: no cc or pkg-config: the standalone build is not tried", flush=True)

    # call.py: the socket as its argument, and from $HYPERPOOL_SOCKET
    want = ("math.add(40, 2) = 42\n"
            + "".join(f"math.add({i}, {i}) = {2 * i}\n" for i in range(5))
            + "hello.ask(greeting, [python]) = hello from Python, python!\n")
    for argv, e in [([call_py, d.socket], os.environ), ([call_py], env)]:
        rc, out, err = run([sys.executable, *argv], env=e)
        check(rc == 0 and out == want, f"call.py {argv[1:]}: rc {rc}, out {out!r}, err {err!r}")

    # docs/protocol.md's Python example, run as it is written there
    with open(protocol_md) as f:
        doc = f.read()
    section = doc[doc.index("## Calling hyperpoold"):]
    block = section[section.index("```python\n") + 10:]
    block = block[:block.index("```")]
    prog = f"path = {d.socket!r}\n" + block
    rc, out, err = run([sys.executable, "-c", prog])
    check(rc == 0 and out == "42\n", f"docs/protocol.md's Python example: rc {rc}, {out!r} {err!r}")
done()
