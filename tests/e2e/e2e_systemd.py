#!/usr/bin/env python3
"""e2e_systemd.py - hyperpoold started from its units by a real systemd, in a Debian 12 root of
its own (never the machine's own root: a booting systemd's tmpfiles would wipe the real /tmp).

    e2e_systemd.py BUILD_DIR

The root is made once with debootstrap (minbase + systemd + the daemon's runtime libraries,
~35 s, cached in BUILD_DIR/systemd/root); the mirror is the machine's own apt source. Every run
installs the build into it with `meson install --destdir`, creates the users of our sysusers.d
file offline, enables hyperpoold.socket, and boots it with systemd-nspawn with a /dev/kvm node
for the container's kvm group and /run/hyperpool bound to a host folder, so that this test
talks to the socket-activated daemon from outside. Checks: activation on first connect,
calls, Type=notify STATUS=, the service's user, journal priorities, `systemctl reload`,
a SIGKILL of the daemon (its client sees the end; a connection made while it is dead waits in
the socket unit's backlog and the restarted daemon serves it), `systemctl stop` (exit 0) and
activation again. Skips (77) only when the machine cannot run
it: no /dev/kvm, no debootstrap/systemd-nspawn, or no way to make the device node."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from hpdtest import FAILURES, Client, check, done, ok

PACKAGES = "systemd,systemd-sysv,dbus,libuv1,libinih1,libmsgpackc2,libsystemd0"
build = os.path.abspath(sys.argv[1])
work = os.path.join(build, "systemd")
root = os.path.join(work, "root")


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(77)


if not os.path.exists("/dev/kvm"):
    skip("/dev/kvm does not exist on this machine")
for tool in ("debootstrap", "systemd-nspawn", "systemd-sysusers", "systemctl"):
    if not shutil.which(tool):
        skip(f"{tool} is not installed (scripts/bootstrap installs debootstrap and systemd-container)")


def mirror():
    """The machine's own Debian mirror, from its apt sources (deb822 or one-line)."""
    uris = []
    for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
        with open(path) as f:
            uris += re.findall(r"^URIs:\s*(\S+)", f.read(), flags=re.M)
    if os.path.exists("/etc/apt/sources.list"):
        with open("/etc/apt/sources.list") as f:
            uris += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", f.read(), flags=re.M)
    for u in uris:
        if "security" not in u:
            return u
    return None


def make_root():
    stamp = os.path.join(work, "root.ok")
    if os.path.exists(stamp) and open(stamp).read() == PACKAGES:
        return
    url = mirror()
    if not url:
        skip("no Debian mirror in the machine's apt sources")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    print(f"debootstrap bookworm into {root} (once; cached)", flush=True)
    r = subprocess.run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm", root, url],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        print(r.stdout[-2000:], r.stderr[-2000:])
        check(False, "debootstrap of the container root")
        done()
    with open(stamp, "w") as f:
        f.write(PACKAGES)


def install():
    r = subprocess.run(["meson", "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", root],
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"meson install --destdir: {r.stderr[-1000:]}")
    r = subprocess.run(["systemd-sysusers", f"--root={root}"], capture_output=True, text=True)
    check(r.returncode == 0, f"systemd-sysusers --root: {r.stderr}")
    r = subprocess.run(["systemctl", f"--root={root}", "enable", "hyperpoold.socket"],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"systemctl --root enable hyperpoold.socket: {r.stderr}")


def kvm_gid():
    with open(os.path.join(root, "etc", "group")) as f:
        for line in f:
            parts = line.split(":")
            if parts[0] == "kvm":
                return int(parts[2])
    return None


make_root()
install()
gid = kvm_gid()
check(gid is not None, "our sysusers.d entry created the kvm group in the container")
node = os.path.join(work, "kvm")
if os.path.exists(node):
    os.unlink(node)
try:
    os.mknod(node, 0o660 | 0o020000, os.makedev(10, 232))  # S_IFCHR, the misc device of /dev/kvm
    os.chown(node, 0, gid or 0)
    os.chmod(node, 0o660)
except OSError as e:
    skip(f"cannot make a /dev/kvm node for the container: {e}")
run = tempfile.mkdtemp(prefix="hpd-systemd-run-")
nspawn = subprocess.Popen(["systemd-nspawn", "-q", "-D", root, "--register=no", "--keep-unit", "--boot",
                           "--console=passive", f"--bind={node}:/dev/kvm", f"--bind={run}:/run/hyperpool"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def leader():
    r = subprocess.run(["pgrep", "-P", str(nspawn.pid)], capture_output=True, text=True)
    pids = r.stdout.split()
    return int(pids[0]) if pids else None


def inside(*cmd):
    pid = leader()
    return subprocess.run(["nsenter", "-t", str(pid), "-m", "-u", "-i", "-p", *cmd],
                          capture_output=True, text=True, timeout=120)


def journal():
    r = inside("journalctl", "-u", "hyperpoold.service", "-o", "json", "--no-pager")
    out = []
    for line in r.stdout.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e.get("MESSAGE"), str):
            out.append((int(e.get("PRIORITY", -1)), e["MESSAGE"]))
    return out


sock = os.path.join(run, "hyperpoold.sock")
try:
    t0 = time.time()
    while not os.path.exists(sock) and time.time() - t0 < 120 and nspawn.poll() is None:
        time.sleep(0.1)
    if not check(os.path.exists(sock), "systemd booted and hyperpoold.socket created the socket"):
        raise RuntimeError("no socket")
    c = Client(sock, timeout=60)  # the first connection starts the service
    check(ok(c.call("ping"), "pong"), "ping through the socket-activated daemon")
    check(ok(c.call("call", "math", "add", [40, 2]), 42), "math.add(40, 2) under systemd")
    names = sorted(m["name"] for m in (c.call("modules")[1] or []))
    check(names == ["calc", "echo", "math", "strings"], f"the example config's modules: {names}")
    c.close()
    r = inside("systemctl", "show", "-p", "ActiveState", "-p", "User", "-p", "StatusText", "-p", "Type",
               "hyperpoold.service")
    props = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
    check(props.get("ActiveState") == "active" and props.get("Type") == "notify" and
          props.get("User") == "hyperpool", f"the service runs Type=notify as hyperpool: {props}")
    check(props.get("StatusText", "").startswith("4 modules"), f"STATUS= reached systemd: {props}")
    entries = journal()
    check(any(p == 6 and m.startswith("module math:") for p, m in entries),
          "journal: info lines at priority 6, the <6> prefix consumed")
    check(any(p == 5 and m.startswith("ready:") for p, m in entries), "journal: ready at priority 5 (notice)")
    r = inside("systemctl", "reload", "hyperpoold.service")
    check(r.returncode == 0, f"systemctl reload: {r.stderr}")
    time.sleep(0.5)
    check(any(m.startswith("reloaded ") and "kept [math, echo, strings, calc]" in m for _, m in journal()),
          "the reload kept every unchanged module")
    # SIGKILL of the daemon: its clients see the connection end; the socket unit keeps the
    # listening socket, so connections made while the service is dead wait in its backlog
    # and the restarted daemon (Restart=on-failure) serves them; no stale-socket problem.
    r = inside("systemctl", "show", "-p", "MainPID", "-p", "NRestarts", "hyperpoold.service")
    before = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
    old = Client(sock, timeout=60)
    check(ok(old.call("ping"), "pong"), "a connection before the kill")
    r = inside("systemctl", "kill", "-s", "SIGKILL", "hyperpoold.service")
    check(r.returncode == 0, f"systemctl kill -s SIGKILL: {r.stderr}")
    check(old.closed(), "the killed daemon's client sees its connection end")
    old.close()
    queued = Client(sock, timeout=60)  # the daemon is dead now: this waits in the backlog
    check(ok(queued.call("call", "math", "add", [2, 3]), 5),
          "a connection made while the service was dead is served by the restarted daemon")
    queued.close()
    r = inside("systemctl", "show", "-p", "MainPID", "-p", "NRestarts", "-p", "ActiveState",
               "hyperpoold.service")
    after = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
    check(after.get("ActiveState") == "active" and after.get("MainPID") != before.get("MainPID") and
          int(after.get("NRestarts", 0)) == int(before.get("NRestarts", 0)) + 1,
          f"systemd restarted the service once: {before} -> {after}")
    r = inside("systemctl", "stop", "hyperpoold.service")
    check(r.returncode == 0, f"systemctl stop: {r.stderr}")
    r = inside("systemctl", "show", "-p", "Result", "-p", "ExecMainStatus", "hyperpoold.service")
    props = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
    check(props.get("Result") == "success" and props.get("ExecMainStatus") == "0",
          f"stopped cleanly (exit 0): {props}")
    c = Client(sock, timeout=60)  # activation again
    check(ok(c.call("call", "strings", "upper", ["abc"]), "ABC"), "socket activation after a stop")
    c.close()
except (OSError, RuntimeError, ValueError) as e:
    check(False, f"under systemd: {e!r}")
finally:
    if leader():
        inside("systemctl", "poweroff")
    try:
        nspawn.wait(60)
    except subprocess.TimeoutExpired:
        pid = leader()
        nspawn.kill()
        if pid:
            os.kill(pid, signal.SIGKILL)  # the container's systemd, ours only
        nspawn.wait()
    shutil.rmtree(run, ignore_errors=True)
    if FAILURES:
        for p, m in (journal() if leader() else []):
            print(f"journal <{p}> {m}")
        print("container console (last lines):")
        print(nspawn.stdout.read().decode("utf-8", "replace")[-3000:])
done()
