"""hpdtest.py - what the e2e tests share: a real hyperpoold on a temporary socket, and a small
MessagePack-RPC client over a raw Unix socket (python3-msgpack only, so that the tests see
exactly the bytes on the wire).

Every test program is run by meson as
    e2e_X.py HYPERPOOLD EXAMPLES_DIR [TEST_MODULES_DIR]
and exits 0 (pass), 1 (fail) or 77 (skip: only when /dev/kvm does not exist)."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import msgpack

FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL: " + what, flush=True)
    return cond


def done():
    if FAILURES:
        print(f"{len(FAILURES)} of {CHECKS[0]} checks failed", flush=True)
        sys.exit(1)
    print(f"all {CHECKS[0]} checks passed", flush=True)
    sys.exit(0)


def skip_without_kvm():
    if not os.path.exists("/dev/kvm"):
        print("SKIP: /dev/kvm does not exist on this machine", flush=True)
        sys.exit(77)


def args():
    if len(sys.argv) < 3:
        print(f"usage: {sys.argv[0]} HYPERPOOLD EXAMPLES_DIR [TEST_MODULES_DIR]", file=sys.stderr)
        sys.exit(2)
    return sys.argv[1], sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else None)


# HP_ISOLATION=process runs every module of a test in worker processes (meson runs the e2e
# tests once per mode); a module's own `isolation` key wins.
ISOLATION = os.environ.get("HP_ISOLATION", "")

DEFAULT_MODULES = {
    "math": {"pool_min": 1, "pool_max": 2},
    "echo": {"pool_min": 1, "pool_max": 2},
    "hostile": {"pool_min": 1, "pool_max": 2, "timeout_ms": 2000},
}


class Daemon:
    """hyperpoold on a socket in a fresh temporary directory, with a generated config."""

    def __init__(self, binary, examples, modules=None, daemon_keys=None, extra_conf="",
                 env=None, start=True):
        self.dir = tempfile.mkdtemp(prefix="hpd-e2e-")
        self.socket = os.path.join(self.dir, "hpd.sock")
        self.config = os.path.join(self.dir, "hyperpoold.conf")
        self.log_path = os.path.join(self.dir, "daemon.log")
        keys = dict({"workers": 2}, **(daemon_keys or {}))
        lines = ["[daemon]", f"socket = {self.socket}", "socket_mode = 0666"]
        for k, v in keys.items():
            lines.append(f"{k} = {v}")
        for name, keys in (modules if modules is not None else DEFAULT_MODULES).items():
            lines += ["", f"[module {name}]", f"path = {os.path.join(examples, keys.get('elf', name + '.elf'))}"]
            lines += [f"{k} = {v}" for k, v in keys.items() if k != "elf"]
            if ISOLATION and "isolation" not in keys:
                lines.append(f"isolation = {ISOLATION}")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n" + extra_conf)
        self.binary = binary
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        if start:
            self.start()

    def start(self, extra_args=(), wait=True):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-c", self.config, *extra_args],
                                     stdout=self.logf, stderr=self.logf, env=self.env)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=60):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hyperpoold exited with {self.proc.returncode}:\n{self.log()}")
            try:
                c = Client(self.socket)
                c.close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("hyperpoold did not start listening:\n" + self.log())

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        code = self.stop()
        if exc[0] is None:
            check(code == 0, f"hyperpoold exits 0 on SIGTERM (got {code}); log:\n{self.log()[-3000:]}")


class Client:
    """A MessagePack-RPC client: requests with ids, responses matched by id (any order)."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        self.next_id = 1
        self.responses = {}

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, method, params):
        msgid = self.next_id
        self.next_id += 1
        self.send_raw(msgpack.packb([0, msgid, method, params]))
        return msgid

    def read_one(self):
        """The next response from the stream (None at EOF)."""
        while True:
            for msg in self.unpacker:
                return msg
            data = self.sock.recv(1 << 16)
            if not data:
                return None
            self.unpacker.feed(data)

    def wait(self, msgid):
        while msgid not in self.responses:
            msg = self.read_one()
            if msg is None:
                raise ConnectionError(f"connection closed before the response to {msgid}")
            assert msg[0] == 1 and len(msg) == 4, f"not a response: {msg!r}"
            self.responses[msg[1]] = (msg[2], msg[3])
        return self.responses.pop(msgid)

    def call(self, method, *params):
        return self.wait(self.request(method, list(params)))

    def closed(self, timeout=10):
        """True when the daemon closes the connection (reads until EOF)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    return True
                self.unpacker.feed(data)
        except socket.timeout:  # an OSError too: it must come first, or a timeout would pass
            return False
        except OSError:
            return True


def ok(resp, expect=None):
    err, result = resp
    return err is None and (expect is None or result == expect)


def is_error(resp, code, needle=""):
    err, result = resp
    return (isinstance(err, dict) and err.get("code") == code and needle in err.get("message", "")
            and result is None)
