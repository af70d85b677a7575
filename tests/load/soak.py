#!/usr/bin/env python3
"""soak.py - hyperpoold under load with hostile guests among the callers (docs/reliability.md).

    soak.py HYPERPOOLD EXAMPLES_DIR CANARY_ELF [--clients N] [--calls N] [--seconds S]
            [--window W] [--hostile-share F] [--seed N] [--json FILE]

N client processes, each on a connection of its own, keep W calls in flight until together they
have made --calls calls or --seconds have passed. A share F of the calls (default 0.1) are
misdeeds of examples/hostile (faults, loops past their deadline, stack overflow, log floods,
malformed and oversized output, forged statuses, hypercall storms), each of which must come back
as its own error code; the others are normal calls whose answers are checked exactly: math.add,
strings.upper and sha256, echo.echo of random values, and the canary module, which must never
see a value another call left (pooled calls always find the snapshot's, session calls only what
the same session wrote before).

Every pool has pool_min = pool_max, so after a warm-up the number of VMs is fixed: RSS and fd
count of the daemon and of every process it started, and the VM count of every module, are
sampled after the warm-up and at the end, and must stay flat. Prints a report; exits 1 on any
wrong answer, unexpected error code, leak or lost call, 77 without /dev/kvm."""
import argparse
import hashlib
import json
import multiprocessing
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from hpdtest import Client, Daemon, skip_without_kvm  # noqa: E402

G_INIT = 0x676C6F62616C0001          # tests/kvm/modules/canary.h: global() after init
CANARY_TAG = 0xCA9A_0000_0000_0000   # the top 16 bits of every canary value this test writes
OUTPUT_SIZE = 64 << 10               # echo's output buffer: a larger echo overflows it

# name -> (args, options, the error codes it may end with, text the message must contain).
# A hypercall storm ends at max_hypercalls or, on a loaded machine, at its deadline: both stop it.
MISDEEDS = {
    "null_deref": ([], None, ("guest_fault",), "page fault reading 0x0"),
    "write_text": ([], None, ("guest_fault",), "page fault writing"),
    "exec_data": ([], None, ("guest_fault",), "page fault executing"),
    "recurse_forever": ([], None, ("guest_fault",), "stack overflow"),
    "abort_long": ([], None, ("guest_abort",), "long message"),
    "bad_output_len": ([], None, ("guest_protocol",), "output length"),
    "bad_log_len": ([], None, ("guest_protocol",), "log hypercall"),
    "bad_status": ([], None, ("guest_protocol",), "invalid status"),
    "unknown_hypercall": ([], None, ("guest_protocol",), "unknown hypercall"),
    "hypercall_storm": ([], None, ("limit", "timeout"), ""),
    "loop_forever": ([], {"timeout_ms": 20}, ("timeout",), "deadline of 20 ms"),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("hyperpoold")
    p.add_argument("examples")
    p.add_argument("canary")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--calls", type=int, default=20000, help="calls in all (default 20000)")
    p.add_argument("--seconds", type=float, default=600, help="stop after this long (default 600)")
    p.add_argument("--window", type=int, default=8, help="calls in flight per client (default 8)")
    p.add_argument("--hostile-share", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="also write the report here")
    a = p.parse_args()
    if a.clients < 1 or a.calls < a.clients or a.window < 1 or not 0 <= a.hostile_share <= 1:
        p.error("need --clients >= 1, --calls >= --clients, --window >= 1, 0 <= --hostile-share <= 1")
    a.examples, a.canary = os.path.abspath(a.examples), os.path.abspath(a.canary)  # the config wants them
    return a


def modules_config(examples, canary):
    fixed = lambda n: {"pool_min": n, "pool_max": n, "queue": 1024}  # noqa: E731
    return {
        "math": fixed(2),
        "strings": fixed(2),
        "echo": dict(fixed(2), output_size=OUTPUT_SIZE),
        # at most 2 hostile calls run at once (its pool), on 2 of the daemon's 4 workers
        "hostile": dict(fixed(2), timeout_ms=5000, max_hypercalls=5000),
        "canary": dict(fixed(2), elf=canary),
        "canary_sessions": dict(fixed(2), elf=canary, max_sessions=2),
    }


# --- the calls ------------------------------------------------------------------------------

def random_value(rng, depth=0):
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return rng.randrange(-2**63, 2**64)
    if kind == 1:
        return rng.choice([0.5, -1.25, 1e300, 3.141592653589793])
    if kind == 2:
        return "".join(rng.choice("abcXYZ é€") for _ in range(rng.randrange(40)))
    if kind == 3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    if kind == 4:
        return rng.choice([None, True, False])
    if kind == 5:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {f"k{i}": random_value(rng, depth + 1) for i in range(rng.randrange(4))}


class Caller:
    """Picks calls and knows each one's right answer."""

    def __init__(self, index, seed, hostile_share, session):
        self.rng = random.Random(seed * 1000003 + index)
        self.hostile_share = hostile_share
        self.session = session       # canary_sessions session id, or None
        self.session_last = G_INIT   # what the session's global() must return next

    def next_call(self):
        """(request params, checker(err, result) -> None if right, else what is wrong, kind)."""
        rng = self.rng
        if rng.random() < self.hostile_share:
            fn = rng.choice(sorted(MISDEEDS) + ["echo_overflow"])
            if fn == "echo_overflow":
                s = "x" * (OUTPUT_SIZE + 100)
                return ["echo", "echo", [s]], expect_error(("output_overflow",), "output"), fn
            fargs, opts, code, needle = MISDEEDS[fn]
            params = ["hostile", fn, fargs] + ([opts] if opts else [])
            return params, expect_error(code, needle), fn
        pick = rng.randrange(6)
        if pick == 0:
            a, b = rng.randrange(-2**40, 2**40), rng.randrange(-2**40, 2**40)
            return ["math", "add", [a, b]], expect_result(a + b), "math.add"
        if pick == 1:
            s = "".join(rng.choice("abcdefXYZ09 ") for _ in range(rng.randrange(1, 200)))
            return ["strings", "upper", [s]], expect_result(s.upper()), "strings.upper"
        if pick == 2:
            data = os.urandom(rng.randrange(0, 4096))
            return ["strings", "sha256", [data]], expect_result(hashlib.sha256(data).digest()), "strings.sha256"
        if pick == 3:
            v = random_value(rng)
            return ["echo", "echo", [v]], expect_result(v), "echo.echo"
        canary = CANARY_TAG | rng.randrange(2**48)
        if pick == 4:
            return ["canary", "global", [canary]], expect_result(G_INIT), "canary.global"
        return ["canary", "heap", [canary]], check_heap, "canary.heap"

    def session_call(self):
        canary = CANARY_TAG | self.rng.randrange(2**48)
        want = self.session_last
        self.session_last = canary
        return [self.session, "global", [canary]], expect_result(want), "session.global"


def expect_result(want):
    def check(err, result):
        if err is not None:
            return f"error {err}"
        if result != want:
            return f"result {str(result)[:200]}, want {str(want)[:200]}"
        return None
    return check


def expect_error(codes, needle):
    def check(err, result):
        if not isinstance(err, dict) or err.get("code") not in codes or needle not in err.get("message", ""):
            return f"got {str(err)[:200]} / {str(result)[:80]}, want {'/'.join(codes)} '{needle}'"
        return None
    return check


def check_heap(err, result):
    """The 64 bytes malloc returns must hold nothing a call wrote: no canary tag in them."""
    if err is not None or not isinstance(result, list) or len(result) != 2 or len(result[1]) != 64:
        return f"heap: {err} {str(result)[:120]}"
    words = [int.from_bytes(result[1][i:i + 8], "little") for i in range(0, 64, 8)]
    leaked = [hex(w) for w in words if w >> 48 == CANARY_TAG >> 48]
    return f"heap holds another call's canary {leaked}" if leaked else None


# --- one client process ---------------------------------------------------------------------

def client_main(index, opts, socket_path, quota, deadline, out):
    c = Client(socket_path, timeout=60)
    session = None
    if index < 2:  # two clients drive canary_sessions' two sessions, one each
        err, res = c.call("session_open", "canary_sessions")
        if err is not None:
            out.put({"index": index, "fatal": f"session_open: {err}"})
            return
        session = res["session"]
    caller = Caller(index, opts.seed, opts.hostile_share, session)
    inflight = {}
    stats = {"index": index, "done": 0, "wrong": [], "nwrong": 0, "codes": {}, "kinds": {},
             "latency_us": []}
    sent = 0
    session_busy = False
    while stats["done"] < quota:
        while sent < quota and len(inflight) < opts.window and time.monotonic() < deadline:
            if session is not None and not session_busy and caller.rng.random() < 0.2:
                params, checker, kind = caller.session_call()
                method, session_busy = "session_call", True  # one at a time: their order matters
            else:
                (params, checker, kind), method = caller.next_call(), "call"
            msgid = c.request(method, params)
            inflight[msgid] = (checker, kind, time.monotonic())
            sent += 1
        if not inflight:
            break
        msg = c.read_one()
        if msg is None:
            stats["fatal"] = f"connection closed with {len(inflight)} calls in flight"
            break
        _, msgid, err, result = msg
        checker, kind, t0 = inflight.pop(msgid)
        if kind == "session.global":
            session_busy = False
        stats["done"] += 1
        stats["kinds"][kind] = stats["kinds"].get(kind, 0) + 1
        code = err.get("code") if isinstance(err, dict) else "ok"
        stats["codes"][code] = stats["codes"].get(code, 0) + 1
        if kind not in MISDEEDS and kind != "echo_overflow" and err is None:
            stats["latency_us"].append((time.monotonic() - t0) * 1e6)
        why = checker(err, result)
        if why:
            stats["nwrong"] += 1
            if len(stats["wrong"]) < 5:
                stats["wrong"].append(f"{kind}: {why}")
    stats["sent"] = sent
    if session is not None:
        c.call("session_close", session)
    c.close()
    out.put(stats)


# --- the daemon's processes and VMs ----------------------------------------------------------

def process_tree(pid):
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in os.listdir(f"/proc/{p}/task"):
            try:
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(x) for x in f.read().split()]
            except OSError:
                pass
    return pids


def sample(daemon):
    procs = {}
    for pid in process_tree(daemon.proc.pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
            fds = {}
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    fds[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    pass
            procs[pid] = {"name": status["Name"].strip(),
                          "rss_kib": int(status["VmRSS"].split()[0]), "fds": len(fds), "fd_targets": fds}
        except (OSError, KeyError):
            pass
    c = Client(daemon.socket)
    err, st = c.call("stats")
    c.close()
    vms = {name: m["vms"]["idle"] + m["vms"]["busy"] for name, m in st["modules"].items()}
    live = {name: m["vms"]["created"] - m["vms"]["destroyed"] for name, m in st["modules"].items()}
    return {"processes": procs, "vms": vms, "vms_live": live, "stats": st}


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class RssSampler(threading.Thread):
    """The RSS of the daemon's processes every `period` s while the clients run: a leak grows
    steadily, while an allocator warming up (per-thread arenas, the histograms) levels off."""

    def __init__(self, daemon, period):
        super().__init__(daemon=True)
        self.pid, self.period, self.stop, self.samples = daemon.proc.pid, period, threading.Event(), []

    def run(self):
        t0 = time.monotonic()
        while True:
            self.samples.append((round(time.monotonic() - t0, 1),
                                 {str(p): rss_kib(p) for p in process_tree(self.pid)}))
            if self.stop.wait(self.period):
                return


def rss_trend(samples):
    """For each process: its RSS at the start, middle and end of the run (KiB)."""
    out = {}
    if not samples:
        return out
    for pid in samples[0][1]:
        series = [s[1].get(pid) for s in samples if s[1].get(pid) is not None]
        if series:
            out[pid] = {"start": series[0], "middle": series[len(series) // 2], "end": series[-1],
                        "max": max(series), "samples": len(series)}
    return out


def wait_idle(daemon, timeout=30):
    """A sample once the daemon is quiet; if it never gets quiet, the last one (and a note)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        s = sample(daemon)
        # no VM busy, and no connection but the one asking (clients that left are closed)
        if s["stats"]["daemon"]["connections"] == 1 and all(
                m["vms"]["busy"] == 0 for m in s["stats"]["modules"].values()):
            return s
        time.sleep(0.1)
    print(f"note: the daemon was not quiet after {timeout} s: {s['stats']['daemon']}")
    return sample(daemon)


def percentile(xs, q):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def run_clients(opts, socket_path, calls, seconds):
    out = multiprocessing.Queue()
    deadline = time.monotonic() + seconds
    quotas = [calls // opts.clients + (1 if i < calls % opts.clients else 0) for i in range(opts.clients)]
    procs = [multiprocessing.Process(target=client_main, args=(i, opts, socket_path, q, deadline, out))
             for i, q in enumerate(quotas)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    return results, time.monotonic() - t0


def main():
    opts = parse_args()
    skip_without_kvm()
    failures = []
    # More workers than the hostile module has VMs: its calls, however long, never hold every
    # worker, so the other modules' calls go on (docs/reliability.md).
    with Daemon(opts.hyperpoold, opts.examples, modules=modules_config(opts.examples, opts.canary),
                daemon_keys={"workers": 4}) as d:
        warm = max(opts.clients * 50, min(2000, opts.calls // 10))
        run_clients(opts, d.socket, warm, 120)  # fills the pools, the allocator, the histograms
        before = wait_idle(d)
        sampler = RssSampler(d, period=max(1.0, min(30.0, opts.calls / 20000)))
        sampler.start()
        results, elapsed = run_clients(opts, d.socket, opts.calls, opts.seconds)
        sampler.stop.set()
        sampler.join()
        after = wait_idle(d)
        report = summarize(opts, results, elapsed, before, after, failures)
        report["rss_trend_kib"] = rss_trend(sampler.samples)
    report["daemon_exit_ok"] = d.proc.returncode == 0
    if not report["daemon_exit_ok"]:
        failures.append(f"hyperpoold exited with {d.proc.returncode}")
    print_report(report, failures)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(report, f, indent=1)
    sys.exit(1 if failures else 0)


def summarize(opts, results, elapsed, before, after, failures):
    done = sum(r.get("done", 0) for r in results)
    sent = sum(r.get("sent", 0) for r in results)
    wrong = sum(r.get("nwrong", 0) for r in results)
    codes, kinds, lat = {}, {}, []
    for r in results:
        if "fatal" in r:
            failures.append(f"client {r['index']}: {r['fatal']}")
        for k, v in r.get("codes", {}).items():
            codes[k] = codes.get(k, 0) + v
        for k, v in r.get("kinds", {}).items():
            kinds[k] = kinds.get(k, 0) + v
        lat += r.get("latency_us", [])
        for w in r.get("wrong", []):
            failures.append(f"client {r['index']}: wrong answer: {w}")
    if wrong:
        failures.append(f"{wrong} wrong answers")
    if done != sent:
        failures.append(f"{sent - done} calls sent but never answered")
    # Every answer was checked against its own call above; in sum: as many errors as misdeeds.
    misdeeds = sum(v for k, v in kinds.items() if k in MISDEEDS or k == "echo_overflow")
    errors = sum(v for k, v in codes.items() if k != "ok")
    if errors != misdeeds or codes.get("ok", 0) != done - misdeeds:
        failures.append(f"{errors} errors ({codes}) for {misdeeds} misdeeds in {done} calls")
    for pid, b in before["processes"].items():
        a = after["processes"].get(pid)
        if a is None:
            failures.append(f"process {pid} ({b['name']}) is gone")
            continue
        if a["fds"] != b["fds"]:
            gone = {k: v for k, v in b["fd_targets"].items() if a["fd_targets"].get(k) != v}
            new = {k: v for k, v in a["fd_targets"].items() if b["fd_targets"].get(k) != v}
            failures.append(f"process {pid} ({b['name']}): {b['fds']} fds before, {a['fds']} after "
                            f"(only before: {gone}; only after: {new})")
        # (ASan's quarantine holds freed memory by design: under a sanitizer RSS is only shown.)
        if a["rss_kib"] > b["rss_kib"] * 1.25 + 16384 and os.environ.get("HP_SANITIZE", "none") == "none":
            failures.append(f"process {pid} ({b['name']}): RSS {b['rss_kib']} KiB before, {a['rss_kib']} after")
    for pid in set(after["processes"]) - set(before["processes"]):
        failures.append(f"a new process {pid} ({after['processes'][pid]['name']}) appeared")
    if before["vms"] != after["vms"] or after["vms"] != after["vms_live"]:
        failures.append(f"VMs before {before['vms']}, after {after['vms']}, live {after['vms_live']}")
    return {"clients": opts.clients, "window": opts.window, "hostile_share": opts.hostile_share,
            "calls": done, "seconds": round(elapsed, 2), "calls_per_s": round(done / elapsed, 1),
            "wrong": wrong, "codes": codes, "kinds": kinds,
            "normal_latency_us": {"p50": round(percentile(lat, 0.5), 1),
                                  "p99": round(percentile(lat, 0.99), 1), "n": len(lat)},
            "before": {k: before[k] for k in ("processes", "vms")},
            "after": {k: after[k] for k in ("processes", "vms")}}


def print_report(r, failures):
    print(f"calls: {r['calls']} in {r['seconds']} s ({r['calls_per_s']}/s), {r['clients']} clients "
          f"x {r['window']} in flight, hostile share {r['hostile_share']}")
    print(f"wrong answers: {r['wrong']}")
    print("results by code: " + ", ".join(f"{k} {v}" for k, v in sorted(r["codes"].items())))
    print("calls by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(r["kinds"].items())))
    lat = r["normal_latency_us"]
    print(f"normal calls (window included): p50 {lat['p50']} us, p99 {lat['p99']} us (n {lat['n']})")
    for pid, b in r["before"]["processes"].items():
        a = r["after"]["processes"].get(pid, {})
        print(f"process {pid} {b['name']}: RSS {b['rss_kib']} -> {a.get('rss_kib')} KiB, "
              f"fds {b['fds']} -> {a.get('fds')}")
    for pid, t in r.get("rss_trend_kib", {}).items():
        print(f"process {pid} RSS during the run ({t['samples']} samples): start {t['start']}, "
              f"middle {t['middle']}, end {t['end']}, max {t['max']} KiB")
    print(f"VMs: {r['before']['vms']} -> {r['after']['vms']}")
    for f in failures:
        print("FAIL: " + f)
    print("soak: " + ("FAILED" if failures else "passed"))


if __name__ == "__main__":
    main()
