#!/usr/bin/env python3
"""e2e_lifecycle.py - hyperpoold as a service: --help/--version/--check-config, bad
configuration refused naming file and line, a stale socket replaced, a live one not, READY=1
and STATUS= on a NOTIFY_SOCKET we listen on, socket activation through systemd-socket-activate,
and SIGTERM: a running call finishes, a queued one gets shutting_down, the socket is removed,
exit 0."""
import grp
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

from hpdtest import Client, Daemon, args, check, done, is_error, ok, skip_without_kvm

skip_without_kvm()
binary, examples, _ = args()


def run(*argv):
    return subprocess.run([binary, *argv], capture_output=True, text=True, timeout=60)


# command line
r = run("--help")
check(r.returncode == 0 and "--check-config" in r.stdout and "usage: hyperpoold" in r.stdout, "--help")
r = run("--version")
check(r.returncode == 0 and r.stdout.startswith("hyperpoold "), "--version")
r = run("--bogus")
check(r.returncode == 64, f"an unknown option exits 64 ({r.returncode})")

# configuration errors name file, line and reason; --check-config
# hostile has one VM here, so calls queued behind a running one stay queued
modules = {"math": {"pool_min": 1, "pool_max": 2}, "echo": {"pool_min": 1, "pool_max": 1},
           "hostile": {"pool_min": 1, "pool_max": 1, "queue": 8, "timeout_ms": 5000}}
d = Daemon(binary, examples, modules=modules, start=False)
r = run("-c", d.config, "--check-config")
check(r.returncode == 0 and "ok: 3 modules" in r.stdout, f"--check-config on a good file: {r.stdout}{r.stderr}")
# the example configuration we ship parses; its module paths are where meson installs them, so
# --check-config (which also opens every module) is pointed at the built ones
example_conf = os.path.join(os.path.dirname(os.path.dirname(binary)), "units", "hyperpoold.conf")
with open(example_conf) as f:
    text = re.sub(r"^path = .*/(\w+\.elf)$", lambda m: "path = " + os.path.join(examples, m.group(1)),
                  f.read(), flags=re.M)
built_example = os.path.join(d.dir, "example.conf")
with open(built_example, "w") as f:
    f.write(text)
r = run("-c", built_example, "--check-config")
check(r.returncode == 0 and "ok: 4 modules" in r.stdout, f"the shipped example config: {r.stdout}{r.stderr}")
BAD = [
    ("[daemon]\nworkers = many\n", "2: workers = 'many'"),
    ("[daemon]\nworkers = 0x10\n", "2: workers = '0x10'"),
    ("[module f]\npath = /x.elf\ninput_size = 5000\n", "3: input_size = '5000': expected a multiple of 4096"),
    ("[module g]\npath = /nonexistent/g.elf\n", "path /nonexistent/g.elf: No such file"),
    ("[daemon]\nsocket = relative.sock\n", "2: socket"),
    ("[daemon]\nfrobnicate = 1\n", "2: unknown key 'frobnicate'"),
    ("[mystery]\nx = 1\n", "unknown section [mystery]"),
    ("[module a]\npath = /x.elf\n[module a]\npath = /y.elf\n", "[module a] is defined twice"),
    ("[module b]\npool_min = 3\npool_max = 2\npath = /x.elf\n", "pool_min 3 exceeds pool_max 2"),
    ("[module c]\npool_max = 2\n", "has no path"),
    ("[module d]\npath = /x.elf\nallow_users = no-such-user-here\n", "no user named"),
    ("[module e]\npath = /x.elf\nrestore = fastest\n", "restore = 'fastest'"),
    ("not an ini line\n", "1: not a [section]"),
]
for text, needle in BAD:
    path = os.path.join(d.dir, "bad.conf")
    with open(path, "w") as f:
        f.write(text)
    r = run("-c", path, "--check-config")
    check(r.returncode == 78 and path in r.stderr and needle in r.stderr,
          f"bad config {needle!r}: exit {r.returncode}, {r.stderr.strip()}")
# a drop-in directory is read after the main file, in name order
dropin = d.config + ".d"
os.mkdir(dropin)
with open(os.path.join(dropin, "50-extra.conf"), "w") as f:
    f.write(f"[module echo2]\npath = {os.path.join(examples, 'echo.elf')}\n")
with open(os.path.join(dropin, "ignored.txt"), "w") as f:
    f.write("garbage that is not read\n")
r = run("-c", d.config, "--check-config")
check(r.returncode == 0 and "ok: 4 modules" in r.stdout, f"drop-in .conf files are read: {r.stdout}{r.stderr}")
with open(os.path.join(dropin, "60-bad.conf"), "w") as f:
    f.write("[daemon]\nmax_inflight = 0\n")
r = run("-c", d.config, "--check-config")
check(r.returncode == 78 and "60-bad.conf:2" in r.stderr, f"an error in a drop-in names it: {r.stderr.strip()}")
shutil.rmtree(dropin)

# a configuration that cannot fit the file-descriptor limit is refused before any VM exists
prlimit = shutil.which("prlimit")
if check(prlimit is not None, "prlimit exists (util-linux)"):
    r = subprocess.run([prlimit, "--nofile=100:100", binary, "-c", d.config], capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 1 and "file descriptors" in r.stderr and "RLIMIT_NOFILE is 100" in r.stderr,
          f"too few file descriptors: exit {r.returncode}, {r.stderr.strip()[-300:]}")

# READY=1 and STATUS= on a notify socket, a stale socket replaced
ns_path = os.path.join(d.dir, "notify.sock")
ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ns.bind(ns_path)
ns.settimeout(60)
stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
stale.bind(d.socket)
stale.close()  # a socket file nobody listens on
d.env["NOTIFY_SOCKET"] = ns_path
d.start(wait=False)
msg = ns.recv(4096).decode()
check("READY=1" in msg and "STATUS=3 modules" in msg, f"READY=1 with a STATUS line: {msg!r}")
d.wait_ready()
check("removing the stale socket" in d.log(), "the stale socket was replaced")
c = Client(d.socket)
check(ok(c.call("ping"), "pong"), "the daemon answers on the replaced socket")

# SIGHUP: RELOADING=1, then READY=1 again (an unchanged config: every module kept)
d.proc.send_signal(signal.SIGHUP)
msg = ns.recv(4096).decode()
check("RELOADING=1" in msg, f"RELOADING=1 on SIGHUP: {msg!r}")
msg = ns.recv(4096).decode()
check("READY=1" in msg, f"READY=1 after the reload: {msg!r}")
check(ok(c.call("call", "math", "add", [1, 1]), 2), "the daemon serves after the reload")

# a second daemon on a live socket refuses to start
r = run("-c", d.config)
check(r.returncode == 1 and "another daemon is listening" in r.stderr, f"second daemon: {r.stderr.strip()}")

# SIGTERM: the running call finishes, the queued one is told shutting_down, exit 0
slow = Client(d.socket)
sid = slow.request("call", ["hostile", "loop_forever", [], {"timeout_ms": 700}])
time.sleep(0.1)
queued = [slow.request("call", ["hostile", "ok", []]) for _ in range(3)]
time.sleep(0.1)
d.proc.terminate()
resp = slow.wait(sid)
check(is_error(resp, "timeout"), f"the running call finished during the drain: {resp}")
answers = [slow.wait(q) for q in queued]
check(all(is_error(a, "shutting_down", "did not run") for a in answers),
      f"queued calls get shutting_down: {answers}")
d.proc.wait(30)
check(d.proc.returncode == 0, f"exit 0 after SIGTERM ({d.proc.returncode})")
check(not os.path.exists(d.socket), "the socket it created is removed")
msgs = []
ns.settimeout(0.5)
try:
    while True:
        msgs.append(ns.recv(4096).decode())
except (socket.timeout, BlockingIOError):
    pass
check(any("STOPPING=1" in m for m in msgs), f"STOPPING=1 sent: {msgs}")
check("stopped" in d.log(), "logs that it stopped")
ns.close()

# the socket the daemon binds gets the configured mode and group
with Daemon(binary, examples, daemon_keys={"socket_mode": "0640", "socket_group": "nogroup"}) as d2:
    st = os.stat(d2.socket)
    check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640,
          f"socket_mode = 0640: {oct(stat.S_IMODE(st.st_mode))}")
    check(st.st_gid == grp.getgrnam("nogroup").gr_gid, f"socket_group = nogroup: gid {st.st_gid}")

# socket activation: systemd-socket-activate binds and passes the socket (LISTEN_FDS)
activate = shutil.which("systemd-socket-activate")
if check(activate is not None, "systemd-socket-activate exists (package systemd)"):
    sa_dir = tempfile.mkdtemp(prefix="hpd-sa-")
    sa_sock = os.path.join(sa_dir, "activated.sock")
    p = subprocess.Popen([activate, "-l", sa_sock, binary, "-c", d.config],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t0 = time.time()
    while not os.path.exists(sa_sock) and time.time() - t0 < 10:
        time.sleep(0.02)
    c = Client(sa_sock)  # the daemon starts on this first connection
    check(ok(c.call("call", "math", "add", [20, 22]), 42), "a call through a socket-activated daemon")
    c.close()
    p.terminate()
    out = p.communicate(timeout=30)[0].decode("utf-8", "replace")
    check("passed by systemd" in out, f"the daemon used the passed socket: {out[-500:]}")
    check(p.returncode == 0, f"socket-activated daemon exits 0 ({p.returncode})")
done()
