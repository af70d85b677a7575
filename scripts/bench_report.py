#!/usr/bin/python3
"""bench_report.py - turns the JSON rows the bench programs append to one file (HP_BENCH_JSON,
tests/bench/bench_common.h: one object a line, the program's name added by scripts/bench) into
ONE table: our figure, the floor or peer measured in the same run, the ratio; then the goals of
issue 13 item 4, each met / missed / not measured, computed from the same rows. Writes the
table's rows as a JSON array (one object a row: name, unit, value, p50, p99, floor, floor_value,
ratio, n) and, with --plot-data DIR, the data files scripts/bench plots with gnuplot.

    bench_report.py RAW.jsonl OUT.json [--plot-data DIR]
"""
import json
import os
import sys

W = 80  # the width of the table's first column
PAYLOADS = (16, 1024, 16384, 262144, 1048576)  # bench_peers' echo.echo sweep

QUOTED = [  # Hyperlight's published figures (its README / CI), quoted, not measured here
    ("quoted, not measured: Hyperlight KVM guest call", 12.0),
    ("quoted, not measured: Hyperlight call + restore (low)", 62.0),
    ("quoted, not measured: Hyperlight call + restore (high)", 89.0),
]


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows[(r["program"], r["name"])] = r
    return rows


class Table:
    def __init__(self, rows):
        self.rows = rows
        self.out = []

    def get(self, prog, name):
        return self.rows.get((prog, name))

    def add(self, label, ours, floor=None, floor_label=None):
        """A row: ours = (prog, name) (for a peer row: the peer's figure); floor = (prog, name)
        or a number, or a list of (prog, name) summed. The ratio is ours / floor."""
        o = self.get(*ours)
        if o is None:
            self.out.append({"name": label, "missing": True})
            return
        fv, fname = None, floor_label
        if isinstance(floor, list):
            parts = [self.get(*k) for k in floor]
            if all(parts):
                fv = sum(p["value"] for p in parts)
                fname = fname or " + ".join(k[1] for k in floor)
        elif isinstance(floor, tuple):
            f = self.get(*floor)
            if f:
                fv, fname = f["value"], fname or floor[1]
        elif isinstance(floor, (int, float)):
            fv = float(floor)
        ratio = None
        if fv:
            ratio = o["value"] / fv
        self.out.append({"name": label, "unit": o["unit"], "value": o["value"], "p50": o["p50"],
                         "p99": o["p99"], "n": o["n"], "floor": fname, "floor_value": fv,
                         "ratio": ratio,
                         "source": f"{ours[0]}: {ours[1]}"})

    def print(self):
        print(f"| {'row':<{W}} | {'ours':>9} | {'p99':>9} | {'floor/peer':>10} | {'ratio':>6} |")
        print(f"|{'-' * (W + 2)}|{'-' * 11}|{'-' * 11}|{'-' * 12}|{'-' * 8}|")
        for r in self.out:
            if r.get("missing"):
                print(f"| {r['name']:<{W}} | {'(not run)':>9} | {'':>9} | {'':>10} | {'':>6} |")
                continue
            fv = f"{r['floor_value']:.1f}" if r["floor_value"] is not None else "-"
            ra = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
            print(f"| {r['name']:<{W}} | {r['value']:9.1f} | {r['p99']:9.1f} | {fv:>10} | {ra:>6} |")


def goals(t):
    """Issue 13 item 4, each (text, value, limit, 'le'|'ge') or (text, None, why)."""
    g = []
    v = lambda p, n: (t.get(p, n) or {}).get("value")
    d_e2e = t.get("bench_daemon", "hyperpoold: math.add(1, 2), 1 client, back to back")
    sock = v("bench_daemon", "floor: AF_UNIX 64-byte round trip, two processes")
    inproc = v("bench_daemon", "floor: in-process warm call + restore, math.add")
    if d_e2e and sock and inproc:
        g.append(("end-to-end p50 / (socket round trip + in-process call)",
                  d_e2e["p50"] / (sock + inproc), 1.5, "le"))
        g.append(("end-to-end p99 / p50", d_e2e["p99"] / d_e2e["p50"], 3.0, "le"))
    e2e = v("bench_client", "libhyperpool: hpc_call math.add(1, 2)")
    fe = v("bench_peers", "peer: fork + exec of a static helper per call")
    fk = v("bench_peers", "peer: fork() + call + exit per call")
    if e2e and fe:
        g.append(("fork+exec per call / end-to-end (libhyperpool)", fe / e2e, 10.0, "ge"))
    if e2e and fk:
        g.append(("fork() per call / end-to-end (libhyperpool)", fk / e2e, 3.0, "ge"))
    # the call with the restore off its path: a pool VM's call, the restore done in the put
    call = v("bench_peers", "hyperpool in process: the call alone (hp_vm_call)")
    cpl3 = v("bench_vm", "floor: bare KVM_RUN exit round trip, CPL3 (MMIO)")
    if call and cpl3:
        g.append(("in-process call (restore in the pool's put) / bare CPL3 exit round trip",
                  call / cpl3, 1.3, "le"))
    for pages in ("16", "256"):
        s = v("bench_restore", f"restore pagemap-memcpy, dirty({pages}), small guest")
        l = v("bench_restore", f"restore pagemap-memcpy, dirty({pages}), large guest")
        if s and l:
            g.append((f"restore {pages} pages, 64 MiB-heap guest / 1 MiB-heap guest", l / s, 1.2, "le"))
    r = {p: v("bench_restore", f"restore pagemap-memcpy, dirty({p})") for p in ("16", "256", "4096")}
    if all(r.values()):
        slope = (r["256"] - r["16"]) / 240
        pred = r["256"] + slope * (4096 - 256)
        g.append(("restore linear in pages: measured / linear prediction at 4096 pages "
                  "(from 16 and 256)", r["4096"] / pred, 2.0, "le"))
    pipe = v("bench_daemon", "hyperpoold: pipelined throughput, 1 connection")
    ceil = v("bench_daemon", "ceiling: online CPUs / in-process call")
    if pipe and ceil:
        g.append(("pipelined throughput / ceiling", pipe / ceil, 0.7, "ge"))
    ready = v("bench_peers", "hyperpool: a 100-VM pool ready from the snapshot")
    if ready:
        g.append(("100-VM pool ready from the snapshot, ms", ready / 1000, 100.0, "le"))
    g.append(("10,000 idle VMs", None, "bench_memory 10000, run separately (docs/benchmarks.md)"))
    return g


def print_goals(g):
    print("\ngoals (issue 13 item 4), from the rows above:")
    res = []
    for item in g:
        if item[1] is None:
            print(f"  {item[0]}: not measured here ({item[2]})")
            res.append({"goal": item[0], "status": "not measured", "why": item[2]})
            continue
        text, val, lim, op = item
        ok = val <= lim if op == "le" else val >= lim
        sign = "<=" if op == "le" else ">="
        print(f"  {text}: {val:.2f} ({sign} {lim:g}) {'met' if ok else 'MISSED'}")
        res.append({"goal": text, "value": val, "limit": lim, "op": sign,
                    "status": "met" if ok else "missed"})
    return res


def plot_data(rows, d):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "pages.dat"), "w") as f:
        f.write("# pages  call+restore(us)  restore(us)  memcpy-floor(us)  madvise-floor(us)\n")
        for p in ("1", "16", "256", "4096"):
            both = rows.get(("bench_restore", f"call + restore pagemap-memcpy, dirty({p})"))
            rst = rows.get(("bench_restore", f"restore pagemap-memcpy, dirty({p})"))
            mc = rows.get(("bench_restore", f"floor: memcpy snapshot->private, {p} pages"))
            ma = rows.get(("bench_restore", f"floor: madvise DONTNEED, {p} pages"))
            if both and rst and mc and ma:
                f.write(f"{p} {both['value']} {rst['value']} {mc['value']} {ma['value']}\n")


def plot_payload(rows, d):
    with open(os.path.join(d, "payload.dat"), "w") as f:
        f.write("# bytes  in-process-call(us)  end-to-end(us)\n")
        for size in PAYLOADS:
            ip = rows.get(("bench_peers", f"echo.echo in process: the call alone (hp_vm_call), payload {size} bytes"))
            e2e = rows.get(("bench_peers", f"echo.echo end to end: hpc_call through hyperpoold, payload {size} bytes"))
            if ip and e2e:
                f.write(f"{size} {ip['value']} {e2e['value']}\n")


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: bench_report.py RAW.jsonl OUT.json [--plot-data DIR]")
    rows = load(sys.argv[1])
    t = Table(rows)
    V, R, D, C, P = "bench_vm", "bench_restore", "bench_daemon", "bench_client", "bench_peers"
    cpl3 = (V, "floor: bare KVM_RUN exit round trip, CPL3 (MMIO)")
    t.add("floor: bare KVM_RUN exit round trip, CPL3 (module's level)", cpl3)
    t.add("floor: bare KVM_RUN exit round trip, CPL0 (out)", (V, "floor: bare KVM_RUN exit round trip, CPL0 (out)"))
    t.add("floor: KVM_SET_REGS ioctl (register load)", (R, "floor: KVM_SET_REGS ioctl"))
    t.add("floor: exit round trip + regs via sync_regs", (R, "floor: KVM_RUN round trip + regs via sync_regs"),
          (R, "floor: bare KVM_RUN exit round trip, CPL3 (MMIO)"))
    t.add("in-process call math.add, restore inside (bench_vm)", (V, "hyperpool: call math.add(1, 2) in a ready VM"), cpl3)
    t.add("in-process call math.add, pool VM, restore in put", (P, "hyperpool in process: the call alone (hp_vm_call)"), cpl3)
    t.add("in-process pool get + call + put (restore)", (P, "hyperpool in process: pool get + call + put (restore)"), cpl3)
    for p in ("1", "16", "256", "4096"):
        t.add(f"restore pagemap-memcpy after dirty({p})", (R, f"restore pagemap-memcpy, dirty({p})"),
              [(R, f"floor: memcpy snapshot->private, {p} pages"), (R, f"floor: PAGEMAP_SCAN, {p} private pages, sparse")],
              "memcpy + PAGEMAP_SCAN floors")
        t.add(f"floor: madvise DONTNEED, {p} pages", (R, f"floor: madvise DONTNEED, {p} pages"))
    t.add("floor: AF_UNIX round trip, same CPU", (P, "floor: AF_UNIX 64-byte round trip, two processes, same CPU"))
    t.add("floor: AF_UNIX round trip, two CPUs", (P, "floor: AF_UNIX 64-byte round trip, two processes, two CPUs"))
    sock_inproc = [(D, "floor: AF_UNIX 64-byte round trip, two processes"), (D, "floor: in-process warm call + restore, math.add")]
    t.add("end-to-end: hyperpoold math.add, raw socket", (D, "hyperpoold: math.add(1, 2), 1 client, back to back"),
          sock_inproc, "socket + in-process")
    e2e = (C, "libhyperpool: hpc_call math.add(1, 2)")
    t.add("end-to-end: libhyperpool hpc_call math.add", e2e,
          [(C, "floor: AF_UNIX 64-byte round trip, two processes"), (D, "floor: in-process warm call + restore, math.add")],
          "socket + in-process")
    for label, name in (("peer: native call on a worker thread", "peer: native call on a worker thread (no isolation)"),
                        ("peer: fork() + call + exit", "peer: fork() + call + exit per call"),
                        ("peer: fork + exec static helper", "peer: fork + exec of a static helper per call"),
                        ("peer: posix_spawn static helper", "peer: posix_spawn of the static helper per call")):
        t.add(label + " (ratio: peer / ours e2e)", (P, name), e2e, "libhyperpool e2e")
    for label, suffix in (("sha256 of 64 KiB", ", sha256(64 KiB)"), ("enrich 16 KiB records", ", enrich(16 KiB records)")):
        ours = (P, "hyperpool end to end: hpc_call through hyperpoold" + suffix)
        t.add(f"{label}: in-process call (ratio: / native thread)", (P, "hyperpool in process: the call alone (hp_vm_call)" + suffix),
              (P, "peer: native call on a worker thread (no isolation)" + suffix), "native thread")
        t.add(f"{label}: end-to-end hpc_call (ratio: / native thread)", ours,
              (P, "peer: native call on a worker thread (no isolation)" + suffix), "native thread")
        for plabel, name in (("fork() + call + exit", "peer: fork() + call + exit per call"),
                             ("fork + exec static helper", "peer: fork + exec of a static helper per call"),
                             ("posix_spawn static helper", "peer: posix_spawn of the static helper per call")):
            t.add(f"{label}: peer {plabel} (ratio: peer / ours e2e)", (P, name + suffix), ours, "hyperpool e2e")
    for size in PAYLOADS:
        t.add(f"echo.echo of {size} bytes: end-to-end (ratio: / in-process call)",
              (P, f"echo.echo end to end: hpc_call through hyperpoold, payload {size} bytes"),
              (P, f"echo.echo in process: the call alone (hp_vm_call), payload {size} bytes"), "in-process")
    t.add("a 100-VM pool ready from the snapshot (hp_pool_create)", (P, "hyperpool: a 100-VM pool ready from the snapshot"))
    t.add("throughput: 1 connection, 32 in flight (calls/s)", (D, "hyperpoold: pipelined throughput, 1 connection"),
          (D, "ceiling: online CPUs / in-process call"))
    t.print()
    for label, us in QUOTED:
        print(f"| {label:<{W}} | {us:9.1f} | {'':>9} | {'':>10} | {'':>6} |")
    res = print_goals(goals(t))
    with open(sys.argv[2], "w") as f:
        json.dump({"rows": [r for r in t.out if not r.get("missing")],
                   "quoted": [{"name": n, "unit": "us", "value": v} for n, v in QUOTED],
                   "goals": res, "raw": list(rows.values())}, f, indent=1)
    if len(sys.argv) > 4 and sys.argv[3] == "--plot-data":
        plot_data(rows, sys.argv[4])
        plot_payload(rows, sys.argv[4])


if __name__ == "__main__":
    main()
