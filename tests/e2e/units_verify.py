#!/usr/bin/env python3
"""units_verify.py - `systemd-analyze verify` on hyperpoold.service and hyperpoold.socket as
meson configured them (ExecStart pointed at the built daemon, since verify checks that the
binary exists). Any complaint about our units fails the test; a machine without
systemd-analyze skips it (77), saying so."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

service, socket_unit, binary = sys.argv[1:4]
analyze = shutil.which("systemd-analyze")
if not analyze:
    print("SKIP: systemd-analyze is not installed (package systemd)")
    sys.exit(77)
tmp = tempfile.mkdtemp(prefix="hpd-units-")
for src in (service, socket_unit):
    with open(src) as f:
        text = f.read()
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={os.path.abspath(binary)}", text, flags=re.M)
    with open(os.path.join(tmp, os.path.basename(src)), "w") as f:
        f.write(text)
units = [os.path.join(tmp, os.path.basename(u)) for u in (service, socket_unit)]
r = subprocess.run([analyze, "verify", "--man=no", *units], capture_output=True, text=True)
out = (r.stdout + r.stderr).strip()
print(out or "(no output)")
ours = [l for l in out.splitlines() if "hyperpoold" in l]
if r.returncode != 0 or ours:
    print(f"FAIL: systemd-analyze verify exit {r.returncode}; about our units: {ours}")
    sys.exit(1)
print("units verified")
