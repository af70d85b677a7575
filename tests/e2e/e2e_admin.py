#!/usr/bin/env python3
"""e2e_admin.py - admin methods and reload: load/unload/reload refused to another uid (a
client run as nobody through setpriv) and allowed to the daemon's own; per-module allow lists;
load with options checked by the config parser; unload while a call runs (it finishes, new
calls are refused); SIGHUP reload with new, changed and removed modules while a call is in
flight; a bad new config refused with a log line while the old one keeps serving."""
import json
import os
import shutil
import signal
import subprocess
import time

from hpdtest import Client, Daemon, args, check, done, is_error, ok, skip_without_kvm

skip_without_kvm()
binary, examples, _ = args()

# What a client run as nobody sees: one JSON line per request, (error, result).
AS_NOBODY = r'''
import json, sys
sys.path.insert(0, sys.argv[2])
from hpdtest import Client
c = Client(sys.argv[1])
out = []
for method, params in json.loads(sys.argv[3]):
    err, res = c.call(method, *params)
    out.append([err, res])
print(json.dumps(out))
'''


def as_nobody(sock, requests):
    setpriv = shutil.which("setpriv")
    r = subprocess.run([setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        "/usr/bin/python3", "-c", AS_NOBODY, sock, os.path.dirname(__file__),
                        json.dumps(requests)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return None, r.stderr
    return json.loads(r.stdout), r.stderr


modules = {
    "math": {"pool_min": 1, "pool_max": 2},
    "echo": {"pool_min": 1, "pool_max": 1, "allow_users": "root"},
    "hostile": {"pool_min": 1, "pool_max": 1, "queue": 4, "timeout_ms": 5000},
}
with Daemon(binary, examples, modules=modules) as d:
    os.chmod(d.dir, 0o755)  # nobody must reach the socket (mode 0666) inside the test dir
    c = Client(d.socket)

    # another uid: calls allowed by default, admin methods and restricted modules refused
    answers, errs = as_nobody(d.socket, [["call", ["math", "add", [1, 2]]],
                                         ["call", ["echo", "echo", [1]]],
                                         ["load", ["x", "/nonexistent.elf"]],
                                         ["unload", ["math"]],
                                         ["reload", []]])
    if check(answers is not None, f"the client as nobody ran: {errs}"):
        check(answers[0] == [None, 3], f"nobody may call math: {answers[0]}")
        for i, what in [(1, "echo (allow_users = root)"), (2, "load"), (3, "unload"), (4, "reload")]:
            err = answers[i][0] or {}
            check(err.get("code") == "permission_denied", f"nobody: {what}: {answers[i]}")
    check(ok(c.call("call", "echo", "echo", [1]), 1), "root may call echo")

    # load, with options checked like the config file
    r = c.call("load", "echo2", os.path.join(examples, "echo.elf"), {"pool_max": 1, "timeout_ms": 500})
    check(r[0] is None and r[1]["name"] == "echo2" and r[1]["pool"]["max"] == 1 and
          r[1]["timeout_ms"] == 500, f"load echo2: {r}")
    check(ok(c.call("call", "echo2", "echo", ["hi"]), "hi"), "a call on the loaded module")
    check(is_error(c.call("load", "echo2", os.path.join(examples, "echo.elf")), "invalid", "already loaded"),
          "load of a name in use")
    check(is_error(c.call("load", "bad", os.path.join(examples, "echo.elf"), {"pool_max": "lots"}),
                   "invalid", "pool_max = 'lots'"), "load with a bad option value")
    check(is_error(c.call("load", "bad", os.path.join(examples, "echo.elf"), {"frobnicate": 1}),
                   "invalid", "unknown key 'frobnicate'"), "load with an unknown option")
    check(is_error(c.call("load", "bad", os.path.join(examples, "echo.elf"), {"x\ny": 1}),
                   "bad_request", "option names"), "an option name that would start a new line")
    check(is_error(c.call("load", "bad", "/nonexistent/x.elf"), "invalid", "No such file"),
          "load of a missing file")
    check(is_error(c.call("load", "bad", "relative.elf"), "invalid", "absolute path"), "load of a relative path")
    names = sorted(m["name"] for m in c.call("modules")[1])
    check(names == ["echo", "echo2", "hostile", "math"], f"modules after load: {names}")

    # unload while a call runs on it: the call finishes, new calls are refused
    check(ok(c.call("load", "h2", os.path.join(examples, "hostile.elf"), {"pool_max": 1})), "load h2")
    busy = Client(d.socket)
    bid = busy.request("call", ["h2", "loop_forever", [], {"timeout_ms": 600}])
    time.sleep(0.15)
    check(ok(c.call("unload", "h2"), True), "unload h2 while it runs a call")
    check(is_error(c.call("call", "h2", "ok", []), "no_such_module"), "h2 takes no new calls")
    check(is_error(busy.wait(bid), "timeout", "deadline of 600 ms"), "the running call on h2 finished")
    check(is_error(c.call("unload", "h2"), "no_such_module"), "unload of an unloaded module")
    time.sleep(0.1)
    check("module h2: unloaded" in d.log(), "h2 was freed once its call was done")
    busy.close()

    # SIGHUP: math changed (pool_max), hostile removed, strings added; a hostile call in flight
    with open(d.config) as f:
        old_conf = f.read()
    new_conf = old_conf.replace("[module hostile]", "[module strings]").replace(
        "hostile.elf", "strings.elf")
    new_conf = new_conf.replace("[module math]\npath = %s\npool_min = 1\npool_max = 2" %
                                os.path.join(examples, "math.elf"),
                                "[module math]\npath = %s\npool_min = 1\npool_max = 3" %
                                os.path.join(examples, "math.elf"))
    check(new_conf != old_conf and "pool_max = 3" in new_conf, "the new config differs")
    inflight = Client(d.socket)
    iid = inflight.request("call", ["hostile", "loop_forever", [], {"timeout_ms": 800}])
    time.sleep(0.15)
    with open(d.config, "w") as f:
        f.write(new_conf)
    d.proc.send_signal(signal.SIGHUP)
    for _ in range(500):
        names = sorted(m["name"] for m in c.call("modules")[1])
        if "strings" in names:
            break
        time.sleep(0.01)
    check(names == ["echo", "math", "strings"], f"modules after SIGHUP: {names}")
    pools = {m["name"]: m["pool"]["max"] for m in c.call("modules")[1]}
    check(pools.get("math") == 3, f"math's changed pool_max took effect: {pools}")
    r = inflight.wait(iid)
    check(is_error(r, "timeout", "deadline of 800 ms"),
          f"the in-flight call on the removed module finished on its VM: {r}")
    check(is_error(c.call("call", "hostile", "ok", []), "no_such_module"), "the removed module is gone")
    check(ok(c.call("call", "strings", "upper", ["abc"]), "ABC"), "the added module serves")
    check("reloaded" in d.log() and "loaded [math, strings]" in d.log() and "kept [echo]" in d.log(),
          "the reload was logged with what it did")
    inflight.close()

    # a bad config is refused with a log line; the old one keeps serving
    with open(d.config, "w") as f:
        f.write(new_conf + "\n[module broken]\npool_max = many\n")
    d.proc.send_signal(signal.SIGHUP)
    for _ in range(500):
        if "reload refused" in d.log():
            break
        time.sleep(0.01)
    check("reload refused" in d.log() and "pool_max = 'many'" in d.log(), "a bad config is refused, logged")
    check(ok(c.call("call", "strings", "upper", ["x"]), "X"), "the old config keeps serving")
    check(is_error(c.call("reload"), "invalid", "pool_max = 'many'"), "the reload method reports the error")

    # the reload method, back to the first config: strings goes, hostile comes back
    with open(d.config, "w") as f:
        f.write(old_conf)
    err, r = c.call("reload")
    # math changed back (pool_max 3 -> 2): a new math is loaded and the old one drains
    check(err is None and sorted(r["loaded"]) == ["hostile", "math"] and
          sorted(r["unloaded"]) == ["math", "strings"] and r["kept"] == ["echo"],
          f"reload result: {err} {r}")
    check(ok(c.call("call", "hostile", "ok", []), 42), "hostile serves again after the reload")
    c.close()
done()
