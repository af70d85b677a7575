#!/usr/bin/env python3
"""e2e_workers.py - supervision of worker processes (isolation = process): a worker SIGKILLed
mid-call answers that call worker_lost while a call on another module (its own worker, and
one in the front's threads) is unaffected; the next call on the module succeeds once the
worker is back; a crash loop is bounded by the backoff (100 ms doubling); stats count the
restarts; a forbidden syscall (the test-only trigger of a hyperpoold built with
-Dtest_hooks) kills the worker and it is restarted."""
import os
import re
import signal
import subprocess
import threading
import time

from hpdtest import Client, Daemon, args, check, done, is_error, ok, skip_without_kvm

skip_without_kvm()
binary, examples, _ = args()

modules = {
    "hostile": {"pool_min": 1, "pool_max": 2, "isolation": "process", "workers": 1,
                "timeout_ms": 10000},
    "math": {"pool_min": 1, "pool_max": 2, "isolation": "process", "workers": 2},
    "echo": {"pool_min": 1, "pool_max": 2, "isolation": "thread"},
}


def workers_of(d, module):
    out = subprocess.run(["ps", "--ppid", str(d.proc.pid), "-o", "pid=,args="],
                         capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines()
            if line.split()[1:] == ["hyperpoold", "--worker", module]]


def wait_workers(d, module, n, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        pids = workers_of(d, module)
        if len(pids) == n:
            return pids
        time.sleep(0.02)
    return workers_of(d, module)


def processes(c, module):
    err, st = c.call("stats")
    return st["modules"][module].get("processes") if err is None else None


with Daemon(binary, examples, modules=modules) as d:
    c = Client(d.socket)
    check(len(wait_workers(d, "math", 2)) == 2, "math has its 2 worker processes")
    check(len(wait_workers(d, "hostile", 1)) == 1, "hostile has its worker process")
    check(workers_of(d, "echo") == [], "echo (isolation = thread) has none")
    p = processes(c, "math")
    check(p == {"configured": 2, "alive": 2, "restarts": 0}, f"stats: math's processes {p}")
    err, mods = c.call("modules")
    check(err is None and "add" in next(m for m in mods if m["name"] == "math")["functions"],
          "modules lists the functions a worker process reported")

    # what a worker kept: its socket to the front and KVM; seccomp, no_new_privs, rlimits
    w = wait_workers(d, "math", 2)[0]
    with open(f"/proc/{w}/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    check(status.get("Seccomp") == "2" and status.get("NoNewPrivs") == "1",
          f"the worker runs under a seccomp filter with no_new_privs: {status.get('Seccomp')} {status.get('NoNewPrivs')}")
    with open(f"/proc/{w}/limits") as f:
        limits = f.read()
    check(re.search(r"Max processes\s+0\s+0", limits) and re.search(r"Max core file size\s+0\s+0", limits),
          f"rlimits: no processes, no cores:\n{limits}")
    links = [os.readlink(f"/proc/{w}/fd/{n}") for n in os.listdir(f"/proc/{w}/fd") if int(n) > 2]
    sockets = [l for l in links if l.startswith("socket:")]
    check(len(sockets) == 1, f"one socket only (to the front), no listener: {links}")
    check(not any(l.startswith("/") and not l.startswith(("/dev/", "/memfd:", "/proc/"))
                  for l in links), f"no file of the front's past stdio: {links}")

    # a worker SIGKILLed mid-call
    victim = wait_workers(d, "hostile", 1)[0]
    long_call = c.request("call", ["hostile", "loop_forever", [], {"timeout_ms": 8000}])
    time.sleep(0.3)
    other = Client(d.socket)
    os.kill(victim, signal.SIGKILL)
    t0 = time.time()
    r = c.wait(long_call)
    check(is_error(r, "worker_lost", "hostile"), f"the call in the killed worker: worker_lost ({r})")
    check(time.time() - t0 < 2, "... at once, not at its deadline")
    check(ok(other.call("call", "math", "add", [40, 2]), 42), "a call on math (its own workers) is unaffected")
    check(ok(other.call("call", "echo", "echo", ["x"]), "x"), "a call on echo (threads) is unaffected")
    back = wait_workers(d, "hostile", 1)
    check(len(back) == 1 and back[0] != victim, f"hostile's worker was restarted ({victim} -> {back})")
    r = None
    for _ in range(200):  # the new worker takes calls once it said W_READY
        r = c.call("call", "hostile", "loop_forever", [], {"timeout_ms": 50})
        if not is_error(r, "worker_lost"):
            break
        time.sleep(0.02)
    check(is_error(r, "timeout"), f"the next call on hostile runs in the new worker ({r})")
    p = processes(c, "hostile")
    check(p is not None and p["restarts"] == 1 and p["alive"] == 1, f"stats count the restart: {p}")
    check(ok(c.call("call", "math", "add", [1, 2]), 3), "the connection that lost a call still works")

    # a crash loop is bounded: each restart waits twice as long as the last
    for i in range(4):  # each time the worker is back (ready: restarts counted), kill it again
        for _ in range(1000):
            p = processes(c, "hostile")
            if p["restarts"] == 1 + i and p["alive"] == 1:
                break
            time.sleep(0.01)
        pids = wait_workers(d, "hostile", 1)
        if pids:
            os.kill(pids[0], signal.SIGKILL)
    time.sleep(0.2)
    waits = [int(w) for w in re.findall(r"worker process 0 \(pid \d+\) was killed by signal 9 "
                                        r"\(Killed\) after \d+ ms; restarting it in (\d+) ms",
                                        d.log())]
    check(waits == [100, 200, 400, 800, 1600], f"restarts back off 100 ms doubling: {waits}")
    check(len(wait_workers(d, "hostile", 1, timeout=15)) == 1, "after the loop it is back")
    check(ok(c.call("call", "math", "mul", [6, 7]), 42), "math never noticed")

    # death by SIGSYS, as the seccomp filter kills (tests/unit/test_lockdown.c shows the filter
    # kills so; no production path lets a test make a worker issue a forbidden syscall)
    for _ in range(1000):
        p = processes(c, "math")
        if p["alive"] == 2:
            break
        time.sleep(0.01)
    w = wait_workers(d, "math", 2)[0]
    os.kill(w, signal.SIGSYS)
    for _ in range(1000):
        p = processes(c, "math")
        if p["restarts"] == 1 and p["alive"] == 2:
            break
        time.sleep(0.01)
    check(p["restarts"] == 1 and p["alive"] == 2, f"a worker killed by SIGSYS is restarted: {p}")
    check(f"(pid {w}) was killed by signal 31 (Bad system call)" in d.log(), "... and the death logged")
    check(ok(c.call("call", "math", "mul", [6, 7]), 42), "math serves on")
    c.close()
    other.close()

done()
