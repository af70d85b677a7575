#!/usr/bin/env python3
"""e2e_kills.py HYPERPOOLD EXAMPLES_DIR HYPERPOOL_CLI - processes killed at the worst moments.

Clients SIGKILLed with calls in flight (a loop running in a VM, pipelined calls, a host call
waiting for the client's answer) and in the middle of a frame: the daemon stays up, frees what
the connection held (its fd, its buffers, the VMs its calls ran in once their deadline ends
them) and serves everyone else. The daemon SIGKILLed with a call in flight: the client (the
CLI, through libhyperpool) gets a clean error; a new daemon on the same path replaces the stale
socket and serves. (The same under socket activation, where connections made while the
daemon is dead wait for its restart: e2e_systemd.) docs/reliability.md lists them."""
import os
import signal
import subprocess
import sys
import time

from hpdtest import Client, Daemon, check, done, is_error, ok, skip_without_kvm

skip_without_kvm()
if len(sys.argv) != 4:
    sys.exit("usage: e2e_kills.py HYPERPOOLD EXAMPLES_DIR HYPERPOOL_CLI")
binary, examples, cli = sys.argv[1:]
HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(HERE, "..", "e2e")

# A client process: connects, sends what it is told, says "sent" and waits to be killed.
CLIENT = r"""
import sys, time, msgpack
sys.path.insert(0, sys.argv[1])
from hpdtest import Client
c = Client(sys.argv[2])
what = sys.argv[3]
if what == "loop":
    c.request("call", ["hostile", "loop_forever", [], {"timeout_ms": 400}])
elif what == "pipelined":
    for i in range(64):
        c.request("call", ["math", "add", [i, i]])
elif what == "host_call":
    c.request("call", ["hello", "ask", ["f", []], {"timeout_ms": 400}])
    while not c.read_one():
        pass  # the daemon's request for f: the call now waits for this client
elif what == "half_frame":
    frame = msgpack.packb([0, 1, "call", ["echo", "echo", [b"x" * (512 << 10)]]])
    c.send_raw(frame[: len(frame) // 2])
print("sent", flush=True)
time.sleep(60)
"""

MODULES = {
    "math": {"pool_min": 2, "pool_max": 2},
    "echo": {"pool_min": 1, "pool_max": 1},
    "hostile": {"pool_min": 1, "pool_max": 1, "timeout_ms": 2000},
    "hello": {"pool_min": 1, "pool_max": 1, "host_functions": "client"},
}


def daemon_fds(d):
    return len(os.listdir(f"/proc/{d.proc.pid}/fd"))


def quiet(c, timeout=10):
    """Stats once only our connection is left and no VM is busy (or the last ones)."""
    t0 = time.time()
    while True:
        st = c.call("stats")[1]
        busy = sum(m["vms"]["busy"] for m in st["modules"].values())
        if (st["daemon"]["connections"] == 1 and busy == 0) or time.time() - t0 > timeout:
            return st
        time.sleep(0.05)


def kill_client(d, what):
    p = subprocess.Popen([sys.executable, "-c", CLIENT, E2E, d.socket, what],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    check(line == "sent", f"{what}: the client sent its bytes ({line!r})")
    time.sleep(0.05)  # let the daemon read them and start the calls
    p.kill()
    p.wait()
    p.stdout.close()


with Daemon(binary, examples, modules=MODULES) as d:
    c = Client(d.socket)
    check(ok(c.call("call", "math", "add", [1, 2]), 3), "the daemon serves")
    base = quiet(c)
    fds = daemon_fds(d)
    for what in ("loop", "pipelined", "host_call", "half_frame"):
        kill_client(d, what)
        st = quiet(c)
        check(st["daemon"]["connections"] == 1, f"{what}: the killed client's connection is gone: {st['daemon']}")
        for name, m in st["modules"].items():
            want = base["modules"][name]["vms"]
            check(m["vms"]["busy"] == 0 and m["vms"]["idle"] == want["idle"],
                  f"{what}: module {name}'s VMs are all back: {m['vms']} (before {want})")
        check(daemon_fds(d) == fds, f"{what}: the daemon holds {daemon_fds(d)} fds, as before ({fds})")
        check(ok(c.call("call", "math", "add", [2, 3]), 5), f"{what}: math serves after the kill")
        check(is_error(c.call("call", "hostile", "loop_forever", [], {"timeout_ms": 50}), "timeout"),
              f"{what}: hostile's VM serves after the kill")
        check(ok(c.call("call", "echo", "echo", ["x"]), "x"), f"{what}: echo serves after the kill")
    # twenty more, killed at whatever point they reached
    procs = [subprocess.Popen([sys.executable, "-c", CLIENT, E2E, d.socket, w],
                              stdout=subprocess.DEVNULL)
             for w in ["pipelined", "loop", "half_frame", "pipelined"] * 5]
    time.sleep(0.3)
    for p in procs:
        p.kill()
        p.wait()
    st = quiet(c)
    check(st["daemon"]["connections"] == 1 and daemon_fds(d) == fds,
          f"20 clients killed at random points: connections {st['daemon']['connections']}, "
          f"fds {daemon_fds(d)} (before {fds})")
    check(all(m["vms"]["busy"] == 0 for m in st["modules"].values()), "no VM left busy")
    c.close()
    check(d.proc.poll() is None, "the daemon never stopped")

# The daemon SIGKILLed with a call in flight: the CLI (libhyperpool) reports it cleanly.
d = Daemon(binary, examples, modules=MODULES)
env = dict(os.environ, HYPERPOOL_SOCKET=d.socket)
cli_call = subprocess.Popen([cli, "--timeout", "5000", "call", "hostile", "loop_forever"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
time.sleep(0.5)
d.proc.send_signal(signal.SIGKILL)
d.proc.wait()
out, err = cli_call.communicate(timeout=30)
check(cli_call.returncode not in (0, None) and err.strip() and "Traceback" not in err,
      f"the CLI's call in flight ends with a clean error (exit {cli_call.returncode}): {err.strip()}")
check(os.path.exists(d.socket), "the killed daemon left its socket file behind")
r = subprocess.run([cli, "ping"], capture_output=True, text=True, env=env, timeout=30)
check(r.returncode != 0 and r.stderr.strip(), f"a new call to the dead daemon fails cleanly: {r.stderr.strip()}")
d.start()  # a new daemon, same config and socket path
check("removing the stale socket" in d.log(), "the new daemon replaced the stale socket")
r = subprocess.run([cli, "call", "math", "add", "20", "22"], capture_output=True, text=True, env=env,
                   timeout=30)
check(r.returncode == 0 and r.stdout.strip() == "42", f"the CLI reconnects to the new daemon: {r.stdout}{r.stderr}")
d.stop()
done()
