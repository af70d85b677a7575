#!/usr/bin/env python3
"""same_answers.py - every example function gives the same answers on x86_64 and on arm64.

    same_answers.py CALLS AARCH64_VM CROSS_RUN CROSS_EXAMPLES NATIVE_RUN NATIVE_EXAMPLES

Makes every call of CALLS (tests/aarch64/same_answers.calls) with the native build's
hyperpool-run and modules here, and with the aarch64 cross build's inside the emulated arm64
machine (AARCH64_VM, scripts/aarch64-vm: one boot for all calls), and compares each call's exit
status, result (stdout) and guest output plus messages (stderr) byte for byte, floats included.
It also checks that both builds have the same example modules, that CALLS covers every function
each of them registers, on both arches (the hostile module is left out: its misdeeds are
arch-specific by design).
Exit 0 pass, 1 fail, 77 skip (only when /dev/kvm does not exist here: the native answers need it).
"""
import json
import os
import subprocess
import sys

NOT_COMPARED = {"hostile"}   # its misdeeds differ per arch by design

# Runs: sh -c SCRIPT sh RUN DIR [MODULE FUNCTION ARGS]...; the same script on both sides, so the
# answers are captured the same way (busybox sh inside, /bin/sh here).
SCRIPT = r"""
run=$1; dir=$2; modules=$3; shift 3
for m in $modules; do
    printf '@@LIST %s\n' "$m"; "$run" --list "$dir/$m.elf" 2>&1; printf '\n@@END\n'
done
i=0
while [ $# -ge 3 ]; do
    "$run" "$dir/$1.elf" "$2" "$3" >/tmp/same_answers.out 2>/tmp/same_answers.err
    printf '@@CALL %d %d\n' "$i" "$?"
    cat /tmp/same_answers.out; printf '\n@@ERR\n'; cat /tmp/same_answers.err; printf '\n@@END\n'
    i=$((i + 1)); shift 3
done
rm -f /tmp/same_answers.out /tmp/same_answers.err
printf '@@DONE %d\n' "$i"
"""


def read_calls(path):
    calls = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            by_type = line.startswith("~")
            parts = line.lstrip("~").split(None, 2)
            if len(parts) != 3:
                sys.exit(f"{path}:{n}: want MODULE FUNCTION ARGS")
            json.loads(parts[2])   # a typo in the file is the file's error, not an arch's
            calls.append((parts[0], parts[1], parts[2], by_type, n))
    return calls


def parse(text, modules, ncalls, side):
    """{module: [functions]}, [(status, stdout, stderr)] from SCRIPT's output."""
    lists, answers, pos = {}, [], 0
    for m in modules:
        head = f"@@LIST {m}\n"
        start = text.index(head, pos) + len(head)
        end = text.index("\n@@END\n", start)
        lists[m] = text[start:end].split()
        pos = end
    for i in range(ncalls):
        head = f"@@CALL {i} "
        start = text.find(head, pos)
        if start < 0:
            sys.exit(f"FAIL: {side}: no answer for call {i}; output:\n{text[pos:pos + 2000]}")
        line_end = text.index("\n", start)
        status = int(text[start + len(head):line_end])
        err_at = text.index("\n@@ERR\n", line_end)
        end_at = text.index("\n@@END\n", err_at)
        answers.append((status, text[line_end + 1:err_at], text[err_at + 7:end_at]))
        pos = end_at
    if f"@@DONE {ncalls}\n" not in text[pos:]:
        sys.exit(f"FAIL: {side}: the script did not finish; output:\n{text[pos:pos + 2000]}")
    return lists, answers


def json_type(text):
    try:
        v = json.loads(text)
    except ValueError:
        return "not JSON"
    return type(v).__name__


def example_modules(folder):
    return sorted(n[:-4] for n in os.listdir(folder)
                  if n.endswith(".elf") and n[:-4] not in NOT_COMPARED)


def call_args(calls, run, examples, modules):
    args = [run, examples, " ".join(modules)]
    for m, f, a, _, _ in calls:
        args += [m, f, a]
    return args


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    calls_path, vm, cross_run, cross_dir, native_run, native_dir = sys.argv[1:]
    if not os.path.exists("/dev/kvm"):
        print("skip: /dev/kvm does not exist on this machine (the x86_64 answers need it)")
        return 77
    calls = read_calls(calls_path)
    modules = example_modules(native_dir)
    if example_modules(cross_dir) != modules:
        sys.exit(f"FAIL: the example modules differ: x86_64 {modules}, aarch64 "
                 f"{example_modules(cross_dir)}")
    native = subprocess.run(["/bin/sh", "-c", SCRIPT, "sh"] +
                            call_args(calls, native_run, native_dir, modules),
                            capture_output=True, text=True)
    if native.returncode != 0:
        sys.exit(f"FAIL: the native run exited {native.returncode}: {native.stderr}")
    inside = subprocess.run([vm, "/bin/sh", "-c", SCRIPT, "sh"] +
                            call_args(calls, cross_run, cross_dir, modules),
                            capture_output=True, text=True)
    if inside.returncode != 0:
        sys.exit(f"FAIL: the run inside the emulated machine exited {inside.returncode}:\n"
                 f"{inside.stdout[-3000:]}{inside.stderr[-2000:]}")
    n_lists, n_answers = parse(native.stdout, modules, len(calls), "x86_64")
    a_lists, a_answers = parse(inside.stdout, modules, len(calls), "aarch64")

    failures = 0
    called = {(m, f) for m, f, _, _, _ in calls}
    for m in modules:
        if n_lists[m] != a_lists[m]:
            print(f"FAIL: {m} registers {n_lists[m]} on x86_64 but {a_lists[m]} on aarch64")
            failures += 1
        for f in n_lists[m]:
            if (m, f) not in called:
                print(f"FAIL: {calls_path} makes no call of {m}.{f}: add its argument sets")
                failures += 1
    for (m, f, a, by_type, line), n, x in zip(calls, n_answers, a_answers):
        same = (n[0] == x[0] and json_type(n[1]) == json_type(x[1])) if by_type else n == x
        if not same:
            print(f"FAIL: line {line}: {m} {f} {a}\n  x86_64:  status {n[0]} stdout {n[1]!r} "
                  f"stderr {n[2]!r}\n  aarch64: status {x[0]} stdout {x[1]!r} stderr {x[2]!r}")
            failures += 1
    exact = sum(1 for c in calls if not c[3])
    print(f"{len(calls)} calls of {sum(len(v) for v in n_lists.values())} functions in "
          f"{len(modules)} modules: {exact} compared byte for byte, {len(calls) - exact} by type; "
          f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
