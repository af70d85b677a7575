#!/usr/bin/env python3
"""check_man.py GROFF HYPERPOOLD CONFIG_C PAGE.8 PAGE.5 [HYPERPOOL PAGE.1]

The man pages against groff and against the programs they describe:
  - each page renders with `groff -man -Tutf8 -ww -z` without one warning or error;
  - hyperpoold(8) names every --long option that `hyperpoold --help` lists;
  - hyperpoold.conf(5) names every key that daemon/config.c accepts (its
    `!strcmp(key, "...")` tests);
  - hyperpool(1), when given, names every --long option that `hyperpool --help` lists.
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
    if len(sys.argv) not in (6, 8):
        sys.exit(__doc__.splitlines()[0])
    groff, daemon, config_c, page8, page5 = sys.argv[1:6]
    opts, keys = help_options(daemon), config_keys(config_c)
    pages = [(page8, opts), (page5, keys)]
    cli_opts = []
    if len(sys.argv) == 8:
        cli, page1 = sys.argv[6:8]
        cli_opts = help_options(cli)
        pages.append((page1, cli_opts))
    failures = []
    for page, names in pages:
        w = groff_warnings(groff, page)
        if w is not None:
            failures.append(f'{page}: groff -ww says:\n{w}')
        text = rendered(groff, page)
        for name in names:
            if not re.search(r'(?<![\w-])' + re.escape(name) + r'(?![\w-])', text):
                failures.append(f'{page}: does not mention {name}')
    for f in failures:
        print('FAIL', f)
    cli = f', {len(cli_opts)} options ({" ".join(cli_opts)}) in {pages[2][0]}' if cli_opts else ''
    print(f'checked groff -ww on {len(pages)} pages, {len(opts)} options ({" ".join(opts)}) in '
          f'{page8}, {len(keys)} keys in {page5}{cli}: {"FAILED" if failures else "ok"}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
