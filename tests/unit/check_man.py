#!/usr/bin/env python3
"""check_man.py GROFF HYPERPOOLD CONFIG_C PAGE.8 PAGE.5

The man pages against groff and against the daemon they describe:
  - each page renders with `groff -man -Tutf8 -ww -z` without one warning or error;
  - hyperpoold(8) names every --long option that `hyperpoold --help` lists;
  - hyperpoold.conf(5) names every key that daemon/config.c accepts (its
    `!strcmp(key, "...")` tests).
Names are looked for in the rendered text (no hyphenation, a wide line), so a name that is only
in a roff comment or mangled by the formatting does not count."""
import re
import subprocess
import sys


def groff_warnings(groff, page):
    r = subprocess.run([groff, '-man', '-Tutf8', '-ww', '-z', page], capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip()
    return out if out or r.returncode else None


def rendered(groff, page):
    r = subprocess.run([groff, '-man', '-Tutf8', '-rLL=400n', '-rHY=0', '-P-cbou', page],
                       capture_output=True, text=True, check=True)
    return r.stdout


def help_options(daemon):
    r = subprocess.run([daemon, '--help'], capture_output=True, text=True, check=True)
    opts = sorted(set(re.findall(r'(?<![\w-])--[a-z][a-z0-9-]*', r.stdout)))
    if len(opts) < 3:
        sys.exit(f'{daemon} --help lists only {opts}: the option parser here needs a look')
    return opts


def config_keys(config_c):
    keys = sorted(set(re.findall(r'!strcmp\(key, "([^"]+)"\)', open(config_c).read())))
    if len(keys) < 10:
        sys.exit(f'{config_c} has only the keys {keys}: the key parser here needs a look')
    return keys


def main():
    groff, daemon, config_c, page8, page5 = sys.argv[1:]
    opts, keys = help_options(daemon), config_keys(config_c)
    failures = []
    for page, names in [(page8, opts), (page5, keys)]:
        w = groff_warnings(groff, page)
        if w is not None:
            failures.append(f'{page}: groff -ww says:\n{w}')
        text = rendered(groff, page)
        for name in names:
            if not re.search(r'(?<![\w-])' + re.escape(name) + r'(?![\w-])', text):
                failures.append(f'{page}: does not mention {name}')
    for f in failures:
        print('FAIL', f)
    print(f'checked groff -ww on both pages, {len(opts)} options ({" ".join(opts)}) in {page8} '
          f'and {len(keys)} keys in {page5}: {"FAILED" if failures else "ok"}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
