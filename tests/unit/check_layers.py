#!/usr/bin/env python3
"""check_layers.py - libhpvmm calls only downward, and generic code names no arch.

    check_layers.py NM LIBHPVMM.a SOURCE_ROOT

1. Reads the symbol table of libhpvmm.a with nm: every object file's undefined symbols that
   another object of the library defines are a call (or data use) from one file to the other.
   Each file has a layer (LAYERS below, the picture in docs/architecture.md); a use is allowed
   only from a higher layer to a strictly lower one, so the files can be read bottom-up and no
   two of them depend on each other in a circle. A file missing from LAYERS is an error too: a
   new file must be given its place.
2. Greps the generic sources (vmm/*.c, vmm/*.h, vmm/include, proto/*.h, guest/*.c, guest/include)
   for arch names: '#if.*__x86_64__', '__aarch64__', 'x86', 'aarch64' in code, so that an arch
   backend is the only place arch-specific code lives.
Exits 1 and names every offending edge or line."""
import os
import re
import subprocess
import sys

# Lowest first. Files of one layer may not use each other (except inside an arch backend,
# whose files share arch/<arch>/<arch>.h and are one layer to the generic code).
LAYERS = [
    ["hp_error", "core_blob"],
    ["elf_load", "guest_layout", "guest_output", "arch:paging", "arch:tables"],
    ["arch:kvm_setup", "arch:vcpu", "arch:exits"],
    ["kvm", "interrupt", "mem_restore"],
    ["vm", "host_builtins"],
    ["snapshot"],
    ["strategy"],
    ["module"],
    ["pool"],
]


def file_key(member):
    """'.../libhpvmm.a.p/arch_x86_64_vcpu.c.o' -> 'arch:vcpu'."""
    base = os.path.basename(member)
    base = re.sub(r"\.c\.o$", "", base)
    if "core_blob" in base:
        return "core_blob"
    m = re.match(r"arch_(x86_64|aarch64)_(.+)$", base)
    if m:
        return "arch:" + m.group(2)
    return base


def layer_of():
    out = {}
    for i, names in enumerate(LAYERS):
        for n in names:
            out[n] = i
    return out


def symbol_graph(nm, lib):
    text = subprocess.run([nm, "-A", lib], check=True, capture_output=True, text=True).stdout
    defined, used = {}, {}
    for line in text.splitlines():
        # archive:member:value type name   or   archive:member:          U name
        m = re.match(r"^[^:]+:([^:]+):\s*(?:[0-9a-f]+)?\s+([A-Za-z])\s+(\S+)$", line)
        if not m:
            continue
        member, kind, name = file_key(m.group(1)), m.group(2), m.group(3)
        if kind == "U":
            used.setdefault(member, set()).add(name)
        elif kind.isupper():
            defined[name] = member
    edges = set()
    for member, names in used.items():
        for name in names:
            if name in defined and defined[name] != member:
                edges.add((member, defined[name], name))
    return edges, set(defined.values()) | set(used)


ARCH_WORDS = re.compile(r"__x86_64__|__aarch64__|__i386__|\bx86\b|x86_64|aarch64|arm64")


def generic_sources(root):
    for sub in ("vmm", "vmm/include", "proto", "guest", "guest/include/hyperpool"):
        d = os.path.join(root, sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                yield os.path.join(sub, name)


def strip_comments(src):
    """Comments and string literals go: naming an arch in a message or a comment is fine."""
    src = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), src, flags=re.S)
    src = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', src)
    return re.sub(r"//.*", "", src)


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    nm, lib, root = sys.argv[1:]
    errors = []
    layers = layer_of()
    edges, members = symbol_graph(nm, lib)
    for m in sorted(members):
        if m not in layers:
            errors.append(f"{m}: not in check_layers.py's LAYERS (give the new file its layer)")
    for src, dst, sym in sorted(edges):
        if src not in layers or dst not in layers:
            continue
        same_arch = src.startswith("arch:") and dst.startswith("arch:")
        if layers[src] > layers[dst] or (same_arch and layers[src] >= layers[dst]):
            continue
        errors.append(f"{src} (layer {layers[src]}) uses {sym} of {dst} (layer {layers[dst]}): "
                      "calls must go downward")
    print(f"{len(edges)} uses between {len(members)} object files of libhpvmm checked")
    for path in generic_sources(root):
        with open(os.path.join(root, path), encoding="utf-8") as f:
            code = strip_comments(f.read())
        for no, line in enumerate(code.splitlines(), 1):
            # the ABI headers pick the arch header by name: allowed in one form only
            if re.search(r'#include\s+"arch/', line) or "HP_ARCH_NAME" in line:
                continue
            if ARCH_WORDS.search(line):
                errors.append(f"{path}:{no}: arch name in generic code: {line.strip()}")
    for e in errors:
        print("FAIL: " + e)
    if errors:
        return 1
    print("layers ok: every use goes downward; no arch names in generic code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
