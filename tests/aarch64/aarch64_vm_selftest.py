#!/usr/bin/env python3
"""aarch64_vm_selftest.py AARCH64_VM WORKDIR - scripts/aarch64-vm runs programs inside the
emulated machine as if they ran here, and fails loudly when it cannot:

1. output byte for byte (tabs, backslashes, a control byte, no trailing newline; stderr on
   stdout too), the exit status (3), the current directory, the environment meson passes
   (HP_*, MESON_* with spaces and quotes) and the arguments (quotes, empty, newline);
2. exit status 77 passes through (a skip stays a skip); files the command names from outside
   the build (a module under test, a fixture: here one in a temporary folder and one named by
   a relative path and by --opt=PATH) are there inside, with their bytes;
3. a kernel without KVM (kvm-arm.mode=none): status 99 and a message naming /dev/kvm;
4. a program that does not finish: status 124 and a message, after HP_AARCH64_VM_TIMEOUT;
5. qemu failing to start (an impossible -m): status 125 with qemu's reason.
Each case boots the machine (about 3 s). WORKDIR must be inside the cross build.
Exit 0 pass, 1 fail."""
import os
import subprocess
import sys
import tempfile

SCRIPT = r"""printf 'out\tline\\one\001'; printf 'err line\n' >&2
printf '|%s' "$PWD" "$HP_SELFTEST" "$MESON_SELFTEST" "$@"; printf '|'
exit 3"""
ARGS = ["it's", "", "two\nlines", "$HOME"]


def run(vm, cwd, argv, **env):
    full = dict(os.environ, **env)
    p = subprocess.run([vm] + argv, cwd=cwd, env=full, capture_output=True, timeout=900)
    return p.returncode, p.stdout.decode(errors="replace")


def check(name, ok, status, out):
    if ok:
        print(f"ok: {name}")
        return 0
    print(f"FAIL: {name}: status {status}, output:\n{out[-3000:]}")
    return 1


def main():
    vm, work = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(work, exist_ok=True)
    fails = 0

    want = ("out\tline\\one\x01err line\n" + "".join("|" + a for a in
            [work, "a b", "q'uote \"x\""] + ARGS) + "|")
    st, out = run(vm, work, ["/bin/sh", "-c", SCRIPT, "sh"] + ARGS,
                  HP_SELFTEST="a b", MESON_SELFTEST="q'uote \"x\"", NOT_PASSED="x")
    fails += check("output, status, cwd, environment and arguments as here", st == 3 and out == want,
                   st, out + f"\nwanted:\n{want!r}\ngot:\n{out!r}")

    with tempfile.TemporaryDirectory() as outside:
        fixture = os.path.join(outside, "fixture.bin")
        with open(fixture, "wb") as f:
            f.write(b"outside\x00bytes\n")
        with open(os.path.join(work, "local.txt"), "w") as f:
            f.write("local file\n")
        st, out = run(vm, work, ["/bin/sh", "-c", 'cat "$1" "$2"; echo "$3"; exit 77', "sh",
                                 fixture, "local.txt", "--file=" + fixture])
    want = "outside\x00bytes\nlocal file\n--file=" + fixture + "\n"
    fails += check("status 77 passes through, named files are carried inside",
                   st == 77 and out == want, st, out + f"\nwanted {want!r}, got {out!r}")

    st, out = run(vm, work, ["/bin/true"], HP_AARCH64_VM_APPEND="kvm-arm.mode=none")
    fails += check("no /dev/kvm inside: status 99 and a message",
                   st == 99 and "/dev/kvm is missing" in out, st, out)

    st, out = run(vm, work, ["/bin/sleep", "600"], HP_AARCH64_VM_TIMEOUT="15")
    fails += check("a program that does not finish: status 124 and a message",
                   st == 124 and "did not finish within 15" in out, st, out)

    st, out = run(vm, work, ["/bin/true"], HP_AARCH64_VM_MEM="999999999")
    fails += check("qemu failing: status 125 with its reason",
                   st == 125 and "qemu-system-aarch64 exited with status" in out, st, out)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
