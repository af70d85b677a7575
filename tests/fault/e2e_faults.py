#!/usr/bin/env python3
"""e2e_faults.py HYPERPOOLD EXAMPLES_DIR HPFAULT_SO - injected failures of the system calls
under a call (tests/fault/hpfault.c, an LD_PRELOAD shim), and a file-descriptor limit. In every
case the affected call gets a clean error or its right answer, the daemon stays up, the pool
heals (its VM count comes back) and the next calls succeed. docs/reliability.md lists them."""
import os
import resource
import subprocess
import sys
import tempfile
import time

from hpdtest import Client, Daemon, args, check, done, is_error, ok, skip_without_kvm

skip_without_kvm()
binary, examples, shim = args()
if os.environ.get("HP_SANITIZE", "none") != "none":
    # An LD_PRELOAD library ahead of ASan's runtime makes ASan refuse to start.
    print("SKIP: LD_PRELOAD fault injection does not combine with a sanitizer build")
    sys.exit(77)

ALLOWED = {"system", "kvm", "vm_exit", "internal", "busy", "no_memory"}


def faulty(rules, modules, start=True):
    log = tempfile.mktemp(prefix="hpfault-", suffix=".log")
    env = {"LD_PRELOAD": os.path.abspath(shim), "HP_FAULT": rules, "HP_FAULT_LOG": log}
    return Daemon(binary, examples, modules=modules, env=env, start=start), log


def injected(log):
    try:
        with open(log) as f:
            return f.read().splitlines()
    except OSError:
        return []


def vms(c, module):
    err, st = c.call("stats")
    v = st["modules"][module]["vms"]
    return v


def add_calls(c, n, what):
    """n calls of math.add: (wrong answers, {error code: count}); errors must be clean ones."""
    wrong, codes = 0, {}
    for i in range(n):
        err, res = c.call("call", "math", "add", [i, 1000])
        if err is None:
            wrong += res != i + 1000
        else:
            codes[err.get("code")] = codes.get(err.get("code"), 0) + 1
            check(err.get("code") in ALLOWED and err.get("message"), f"{what}: a clean error: {err}")
    return wrong, codes


def heals(c, what, pool):
    wrong, codes = add_calls(c, 100, what + " (after)")
    check(wrong == 0 and not codes, f"{what}: the 100 calls after the faults all succeed: {codes}")
    v = vms(c, "math")
    check(v["idle"] + v["busy"] == pool, f"{what}: the pool is back to {pool} VMs: {v}")
    return v


# 1. KVM_RUN fails (EFAULT) five times, every 10th run after the first 200.
d, log = faulty("KVM_RUN:200:10:5:14", {"math": {"pool_min": 2, "pool_max": 2}})
with d:
    c = Client(d.socket)
    wrong, codes = add_calls(c, 400, "KVM_RUN fails")
    lines = injected(log)
    check(len(lines) == 5, f"KVM_RUN: five failures injected: {lines}")
    check(wrong == 0, f"KVM_RUN fails: no wrong answer ({wrong})")
    check(1 <= sum(codes.values()) <= 5, f"KVM_RUN fails: each failure costs at most one call: {codes}")
    heals(c, "KVM_RUN fails", 2)
    c.close()

# 2. PAGEMAP_SCAN (how the restore finds the pages a call wrote) fails four times: the answers
#    were sent before the restore, so every call is right; each failed restore costs its VM,
#    which the pool replaces.
d, log = faulty("PAGEMAP_SCAN:20:3:4:12", {"strings": {"pool_min": 2, "pool_max": 2}})
with d:
    c = Client(d.socket)
    bad = 0
    for i in range(200):
        s = "x" * (i * 97 % 20000)   # the output and heap pages it dirties vary
        bad += not ok(c.call("call", "strings", "upper", [s]), s.upper())
    lines = injected(log)
    check(len(lines) == 4, f"PAGEMAP_SCAN: four failures injected: {lines}")
    check(bad == 0, f"PAGEMAP_SCAN fails: all 200 answers right ({bad} not)")
    time.sleep(0.2)  # the last restore runs after its response was sent
    err, st = c.call("stats")
    v = st["modules"]["strings"]["vms"]
    check(v["restore_failures"] == 4 and v["destroyed"] == 4 and v["idle"] + v["busy"] == 2,
          f"PAGEMAP_SCAN fails: 4 restore failures, 4 VMs replaced, the pool back to 2 VMs: {v}")
    c.close()

# 3. KVM_CREATE_VCPU fails twice while the pool grows (the template's and the first clone's
#    pass): the calls that needed a new VM get a clean error or wait for one, none is wrong.
d, log = faulty("KVM_CREATE_VCPU:2:1:2:24", {"math": {"pool_min": 1, "pool_max": 4}})
with d:
    c = Client(d.socket)
    ids = [c.request("call", ["math", "add", [i, 1]]) for i in range(32)]
    wrong, errors = 0, {}
    for i, msgid in enumerate(ids):
        err, res = c.wait(msgid)
        if err is None:
            wrong += res != i + 1
        else:
            errors[err.get("code")] = errors.get(err.get("code"), 0) + 1
            check(err.get("code") in ALLOWED, f"KVM_CREATE_VCPU fails: a clean error: {err}")
    print(f"KVM_CREATE_VCPU fails: injected {injected(log)}, errors {errors}")
    check(wrong == 0, "KVM_CREATE_VCPU fails: no wrong answer")
    check(len(injected(log)) == 2, f"KVM_CREATE_VCPU: two failures injected: {injected(log)}")
    wrong, codes = add_calls(c, 50, "KVM_CREATE_VCPU fails (after)")
    check(wrong == 0 and not codes, f"KVM_CREATE_VCPU fails: the calls after succeed: {codes}")
    c.close()

# 4. memfd_create or mmap failing at start-up: the daemon refuses to start, saying what failed.
for rule, needle in [("memfd_create:0:1:1000:24", "memfd"), ("mmap:0:1:1000:12", "mmap")]:
    d, log = faulty(rule, {"math": {"pool_min": 1, "pool_max": 1}}, start=False)
    try:
        d.start()
        check(False, f"{rule}: the daemon should not have started")
        d.stop()
    except RuntimeError as e:
        code = d.proc.returncode
        check(code is not None and code > 0, f"{rule}: a clean exit status, not a signal ({code})")
        check(needle in str(e), f"{rule}: the log says what failed: {str(e)[-400:]}")

# 5. RLIMIT_NOFILE: too low for the configuration, the daemon refuses to start and says why;
#    enough for it, connections beyond max_connections are turned away while the ones it has
#    are served, and new ones are taken once others closed.
def start_limited(nofile, daemon_keys=None):
    d = Daemon(binary, examples, modules={"math": {"pool_min": 2, "pool_max": 2}},
               daemon_keys=daemon_keys, start=False)
    d.logf = open(d.log_path, "ab")  # started by hand: the Daemon helper has no preexec hook
    d.proc = subprocess.Popen([d.binary, "-c", d.config], stdout=d.logf, stderr=d.logf, env=d.env,
                              preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile)))
    return d


d = start_limited(96)
try:
    d.wait_ready()
    check(False, "RLIMIT_NOFILE 96 with max_connections 1024: the daemon should refuse to start")
    d.stop()
except RuntimeError as e:
    check(d.proc.returncode not in (None, 0) and "RLIMIT_NOFILE is 96" in str(e),
          f"RLIMIT_NOFILE 96: refused at start, naming the limit: {str(e)[-300:]}")

d = start_limited(96, {"max_connections": 16})
d.wait_ready()
with d:
    first = Client(d.socket)
    check(ok(first.call("call", "math", "add", [1, 2]), 3), "max_connections: a call on the first connection")
    extra, answered = [], 0
    for i in range(60):
        try:
            extra.append(Client(d.socket, timeout=2))
        except OSError:
            pass
    for cl in extra:
        try:
            answered += ok(cl.call("call", "math", "add", [2, 2]), 4)
        except (OSError, ConnectionError):
            pass
    print(f"RLIMIT_NOFILE 96, max_connections 16: {len(extra)} connects, {answered} answered")
    check(answered == 15, f"max_connections 16: 15 more connections served ({answered})")
    check(ok(first.call("call", "math", "add", [3, 4]), 7), "max_connections: the first connection still works")
    for cl in extra:
        cl.close()
    time.sleep(0.5)
    again = Client(d.socket)
    check(ok(again.call("call", "math", "add", [5, 6]), 11), "max_connections: a new connection once others closed")
    again.close()
    first.close()
done()
