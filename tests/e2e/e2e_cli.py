"""e2e_cli.py - the hyperpool command against a real daemon: every command with its output and
exit status; call with JSON args and with '-' on stdin; errors and their exit statuses
(1 guest, 2 daemon, 3 no daemon, 64 usage); stats --prometheus parsed line by line; the admin
commands; the bash completion offering module and function names.

Run by meson as e2e_cli.py HYPERPOOLD EXAMPLES_DIR HYPERPOOL COMPLETION_FILE."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from hpdtest import Daemon, check, done, skip_without_kvm

skip_without_kvm()
if len(sys.argv) != 5:
    sys.exit(f"usage: {sys.argv[0]} HYPERPOOLD EXAMPLES_DIR HYPERPOOL COMPLETION_FILE")
binary, examples, cli, completion = (os.path.abspath(a) for a in sys.argv[1:5])


def run(*argv, sock=None, stdin=None, env=None, user=None, timeout=60):
    """hyperpool ARGV (with --socket SOCK first when given): (status, stdout, stderr)."""
    cmd = [cli] + (["--socket", sock] if sock else []) + list(argv)
    if user:
        cmd = [shutil.which("setpriv"), "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + cmd
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    return r.returncode, r.stdout, r.stderr


def expect(what, got, status, out=None, err=None):
    """got = run(...): its status, and stdout equal to out / stderr matching the regex err."""
    rc, o, e = got
    ok = check(rc == status, f"{what}: exit status {rc}, expected {status}; stderr: {e!r}")
    if out is not None:
        ok = check(o == out, f"{what}: stdout {o!r}, expected {out!r}") and ok
    if err is not None:
        ok = check(re.search(err, e) is not None, f"{what}: stderr {e!r} does not match {err!r}") and ok
    return ok


# --- no daemon needed: help, version, usage ------------------------------------------------
rc, out, _ = run("--help")
check(rc == 0 and all(c in out for c in ["call", "modules", "stats", "ping", "load", "unload",
                                           "reload", "--prometheus", "Exit status"]),
      f"--help lists the commands and the exit statuses: {out!r}")
check(all(f"\n  {n} " in out for n in ["0", "1", "2", "3", "64"]), "--help documents statuses 0 1 2 3 64")
for cmd in ["call", "modules", "stats", "ping", "load", "unload", "reload"]:
    rc, out, _ = run(cmd, "--help")
    check(rc == 0 and out.startswith("Usage: hyperpool") and cmd in out, f"{cmd} --help: {rc} {out!r}")
rc, out, _ = run("--version")
check(rc == 0 and re.fullmatch(r"hyperpool \S+ \(libhyperpool \S+\)\n", out) is not None,
      f"--version: {out!r}")

nosock = "/nonexistent/hpd.sock"
for what, argv in [("no command", []), ("unknown command", ["frobnicate"]),
                   ("unknown option", ["--frob", "ping"]), ("--timeout 0", ["--timeout", "0", "ping"]),
                   ("--timeout not a number", ["--timeout", "x", "ping"]),
                   ("--socket without a value", ["--socket"]),
                   ("call without FUNCTION", ["call", "math"]), ("ping with an operand", ["ping", "x"]),
                   ("--prometheus on modules", ["modules", "--prometheus"]),
                   ("stats --json --prometheus", ["stats", "--json", "--prometheus"]),
                   ("load option not KEY=VALUE", ["load", "x", "/x.elf", "pool_max"]),
                   ("a JSON-ARG that is not JSON", ["call", "math", "add", "1", "{oops"])]:
    expect(what, run(*argv, sock=nosock), 64, out="", err=r"^hyperpool: ")

# no daemon: exit 3, the connect error named
expect("ping with no daemon", run("ping", sock=nosock), 3, out="",
       err=r"^hyperpool: system: connect /nonexistent/hpd\.sock: ")
expect("call with no daemon (HYPERPOOL_SOCKET)", run("call", "math", "add", "1", "2",
                                                     env={"HYPERPOOL_SOCKET": nosock}), 3, out="")

# --- against a daemon --------------------------------------------------------------------
math_calls = 0
with Daemon(binary, examples) as d:
    s = d.socket
    expect("ping", run("ping", sock=s), 0, out="pong\n", err="^$")
    expect("--json ping", run("--json", "ping", sock=s), 0, out='"pong"\n')
    expect("ping --json", run("ping", "--json", sock=s), 0, out='"pong"\n')
    expect("ping through $HYPERPOOL_SOCKET", run("ping", env={"HYPERPOOL_SOCKET": s}), 0, out="pong\n")

    # modules: a table, and the raw answer with --json
    rc, out, _ = run("modules", sock=s)
    lines = out.splitlines()
    check(rc == 0 and lines[0].split() == ["MODULE", "IDLE/BUSY/MIN/MAX", "TIMEOUT_MS", "FUNCTIONS"],
          f"modules: a header line: {out!r}")
    rows = {l.split()[0]: l.split() for l in lines[1:]}
    check(set(rows) == {"math", "echo", "hostile"}, f"modules: one row per module: {out!r}")
    check(rows.get("math", [""] * 4)[1:4] == ["1/0/1/2", "10000", "add"], f"modules: math's row: {rows.get('math')}")
    rc, out, _ = run("--json", "modules", sock=s)
    mods = json.loads(out) if rc == 0 else []
    check([m["name"] for m in mods] == ["math", "echo", "hostile"], f"--json modules: {out!r}")
    check(any(m["name"] == "math" and "fib" in m["functions"] for m in mods), "--json modules: math has fib")

    # call: JSON args, one per argument; results as JSON
    expect("call math add 1 2", run("call", "math", "add", "1", "2", sock=s), 0, out="3\n", err="^$")
    expect("call math add with a negative arg", run("call", "math", "add", "-5", "2", sock=s), 0, out="-3\n")
    expect("call math stats [array]", run("call", "math", "stats", "[1, 2.5, 4.5]", sock=s), 0,
           out='{"n":3,"sum":8.0,"mean":2.6666666666666665,"min":1.0,"max":4.5}\n')
    expect("call math div 1.0 0.0: Infinity as the runner maps it", run("call", "math", "div", "1.0", "0.0", sock=s),
           0, out='{"$float":"Infinity"}\n')
    expect("call math sqrt -1.0: NaN", run("call", "math", "sqrt", "-1.0", sock=s), 0, out='{"$float":"NaN"}\n')
    expect("call math add with --timeout", run("--timeout", "5000", "call", "math", "add", "2", "2", sock=s),
           0, out="4\n")
    math_calls += 6
    expect("call echo echo with bytes", run("call", "echo", "echo", '{"$bin": "AAH/"}', sock=s), 0,
           out='{"$bin":"AAH/"}\n')
    expect("call echo echo with a string and a map", run("call", "echo", "echo_all", '"h\\u00e9"', '{"a":[null,true]}', sock=s),
           0, out='["hé",{"a":[null,true]}]\n')
    # '-': the whole array from stdin
    expect("call math add - (stdin)", run("call", "math", "add", "-", sock=s, stdin="[30, 12]\n"), 0, out="42\n")
    # docs/protocol.md's "Calling hyperpoold", as written there
    expect("call math add 40 2", run("call", "math", "add", "40", "2", sock=s), 0, out="42\n", err="^$")
    expect("call math add - with [40, 2]", run("call", "math", "add", "-", sock=s, stdin="[40, 2]\n"), 0,
           out="42\n")
    math_calls += 3
    expect("call - with an empty array", run("call", "echo", "echo_all", "-", sock=s, stdin="[]"), 0, out="[]\n")
    expect("call - with a non-array", run("call", "math", "add", "-", sock=s, stdin='{"a": 1}'), 64,
           out="", err=r"^hyperpool: the arguments on stdin must be a JSON array")
    expect("call - with bad JSON", run("call", "math", "add", "-", sock=s, stdin="[1,"), 64,
           err=r"^hyperpool: the arguments on stdin: JSON error")

    # errors and their exit statuses
    expect("no_such_module -> 2", run("call", "nope", "f", sock=s), 2, out="",
           err=r"^hyperpool: no_such_module: .*nope.*\n$")
    expect("no_such_function -> 1", run("call", "math", "nope", sock=s), 1, out="",
           err=r"^hyperpool: no_such_function: ")
    expect("guest_error -> 1", run("call", "math", "fib", '"x"', sock=s), 1, out="",
           err=r"^hyperpool: guest_error: fib: ")
    math_calls += 2
    expect("a guest fault -> 1", run("call", "hostile", "null_deref", sock=s), 1, out="",
           err=r"^hyperpool: guest_fault: ")
    expect("guest_abort -> 1", run("call", "hostile", "abort_long", sock=s), 1, err=r"^hyperpool: guest_abort: ")
    expect("the call's --timeout -> 1 (timeout)",
           run("--timeout", "300", "call", "hostile", "loop_forever", sock=s), 1,
           err=r"^hyperpool: timeout: ")
    expect("unload of an unknown module -> 2", run("unload", "nope", sock=s), 2,
           err=r"^hyperpool: no_such_module: ")

    # stats: table, JSON, Prometheus
    rc, out, _ = run("stats", sock=s)
    lines = out.splitlines()
    check(rc == 0 and lines[0].startswith("daemon ") and lines[1].split()[:3] == ["MODULE", "CALLS", "ERRORS"],
          f"stats: the daemon line and a header: {out!r}")
    row = next((l.split() for l in lines[2:] if l.split()[0] == "math"), None)
    check(row is not None and row[1] == str(math_calls) and row[2] == "2",
          f"stats: math's row has {math_calls} calls and 2 errors: {row}")
    rc, out, _ = run("stats", "--json", sock=s)
    st = json.loads(out) if rc == 0 else {}
    check(st.get("modules", {}).get("math", {}).get("calls") == math_calls, f"stats --json: math calls {out!r}")

    rc, prom, err = run("stats", "--prometheus", sock=s)
    check(rc == 0 and err == "", f"stats --prometheus: {rc} {err!r}")
    NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
    LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
    SAMPLE = re.compile(rf"^({NAME})(?:\{{({LABEL}(?:,{LABEL})*)\}})? (\S+)$")
    types, helps, samples = {}, set(), {}
    for ln in prom.splitlines():
        if ln.startswith("# HELP "):
            m = re.match(rf"^# HELP ({NAME}) \S.*$", ln)
            check(m is not None, f"prometheus: a well-formed HELP line: {ln!r}")
            if m:
                helps.add(m.group(1))
            continue
        if ln.startswith("# TYPE "):
            m = re.match(rf"^# TYPE ({NAME}) (counter|gauge|summary|histogram|untyped)$", ln)
            if check(m is not None, f"prometheus: a well-formed TYPE line: {ln!r}"):
                check(m.group(1) not in types, f"prometheus: one TYPE for {m.group(1)}")
                check(not any(k[0] == m.group(1) for k in samples), f"prometheus: TYPE {m.group(1)} before its samples")
                types[m.group(1)] = m.group(2)
            continue
        m = SAMPLE.match(ln)
        if not check(m is not None, f"prometheus: a sample line name{{labels}} value: {ln!r}"):
            continue
        name, labels, value = m.groups()
        check(name in types, f"prometheus: {name} has a TYPE line")
        check(re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|NaN|[-+]Inf", value) is not None,
              f"prometheus: a number: {ln!r}")
        key = (name, labels or "")
        check(key not in samples, f"prometheus: one sample per series: {ln!r}")
        samples[key] = float(value)
    check(helps == set(types), f"prometheus: a HELP per family: {sorted(helps)} {sorted(types)}")
    for fam in ["hyperpool_calls_total", "hyperpool_errors_total", "hyperpool_latency_microseconds",
                "hyperpool_vms", "hyperpool_connections", "hyperpool_uptime_seconds", "hyperpool_rss_bytes"]:
        check(fam in types, f"prometheus: family {fam}")
    check(types.get("hyperpool_calls_total") == "counter", "prometheus: calls_total is a counter")
    got = samples.get(("hyperpool_calls_total", 'module="math"'))
    check(got == math_calls, f'prometheus: hyperpool_calls_total{{module="math"}} {got} == {math_calls}')
    check(samples.get(("hyperpool_errors_total", 'module="math",code="guest_error"')) == 1,
          "prometheus: math's guest_error count")
    check(samples.get(("hyperpool_errors_total", 'module="hostile",code="timeout"')) == 1,
          "prometheus: hostile's timeout count")
    for q in ["0.5", "0.99"]:
        check(samples.get(("hyperpool_latency_microseconds", f'module="math",quantile="{q}"'), 0) > 0,
              f"prometheus: math's latency quantile {q}")
    check(samples.get(("hyperpool_vms", 'module="math",state="idle"'), 0) >= 1 and
          ("hyperpool_vms", 'module="math",state="busy"') in samples, "prometheus: math's vms idle and busy")
    check(samples.get(("hyperpool_connections", "")) == 1, "prometheus: one connection (ours)")
    check(samples.get(("hyperpool_rss_bytes", ""), 0) > 1 << 20, "prometheus: rss_bytes")

    # admin commands (this test runs as root, the daemon too)
    math_elf = os.path.join(examples, "math.elf")
    rc, out, err = run("load", "m2", math_elf, "pool_max=1", "timeout_ms=700", sock=s)
    entry = json.loads(out) if rc == 0 else {}
    check(entry.get("name") == "m2" and entry.get("timeout_ms") == 700 and entry.get("pool", {}).get("max") == 1,
          f"load m2 with options: {rc} {out!r} {err!r}")
    expect("call the loaded module", run("call", "m2", "mul", "6", "7", sock=s), 0, out="42\n")
    old = os.getcwd()
    os.chdir(examples)
    rc, out, _ = run("load", "m3", "math.elf", sock=s)
    os.chdir(old)
    check(rc == 0 and json.loads(out).get("path") == math_elf, f"load with a relative path made absolute: {out!r}")
    expect("load with a bad key -> 2 (invalid)", run("load", "m4", math_elf, "no_such_key=1", sock=s), 2,
           err=r"^hyperpool: invalid: .*no_such_key")
    expect("load of a name taken -> 2", run("load", "m2", math_elf, sock=s), 2, err=r"^hyperpool: ")
    expect("unload m2", run("unload", "m2", sock=s), 0, out="true\n")
    expect("call after unload -> 2", run("call", "m2", "add", "1", "1", sock=s), 2, err=r"^hyperpool: no_such_module: ")
    rc, out, _ = run("reload", sock=s)
    rel = json.loads(out) if rc == 0 else {}
    check(sorted(rel.get("kept", [])) == ["echo", "hostile", "math"] and rel.get("unloaded") == ["m3"],
          f"reload: the configured modules kept, m3 (loaded by hand) gone: {out!r}")
    if shutil.which("setpriv"):
        os.chmod(d.dir, 0o755)
        expect("load as nobody -> 2 (permission_denied)", run("load", "x", math_elf, sock=s, user="nobody"), 2,
               err=r"^hyperpool: permission_denied: ")
        expect("call as nobody", run("call", "math", "add", "1", "1", sock=s, user="nobody"), 0, out="2\n")

    # bash completion: module and function names from the daemon
    def complete(words, cword, sock=s):
        script = (f'source {completion}; COMP_WORDS=({words}); COMP_CWORD={cword}; _hyperpool; '
                  'echo "${COMPREPLY[@]}"')
        r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, HYPERPOOL_SOCKET=sock,
                                    PATH=os.path.dirname(cli) + ":" + os.environ["PATH"]))
        return r.stdout.split(), r.stderr
    for words, cword, want in [("hyperpool call m", 2, ["math"]),
                               ("hyperpool call math f", 3, ["fib", "fib_rec"]),
                               ("hyperpool unload e", 2, ["echo"]),
                               ("hyperpool pi", 1, ["ping"]),
                               ("hyperpool --pro", 1, []),
                               ("hyperpool --so", 1, ["--socket"]),
                               ("hyperpool stats --pr", 2, ["--prometheus"]),
                               (f"hyperpool --socket {s} call math ''", 5,
                                ["add", "div", "fib", "fib_rec", "hypot", "mul", "pow", "sqrt", "stats"])]:
        got, err = complete(words, cword)
        check(got == want and err == "", f"completion of {words!r}: {got} {err!r}, expected {want}")
    got, err = complete("hyperpool call m", 2, sock=nosock)
    check(got == [] and err == "", f"completion without a daemon offers nothing, silently: {got} {err!r}")

# --- the daemon going away during a call: exit 3 --------------------------------------------
d = Daemon(binary, examples)
try:
    p = subprocess.Popen([cli, "--socket", d.socket, "--timeout", "60000", "call", "hostile", "loop_forever"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    d.proc.send_signal(signal.SIGKILL)
    out, err = p.communicate(timeout=30)
    check(p.returncode == 3 and out == "" and err.startswith("hyperpool: system: "),
          f"the daemon killed during a call -> 3: {p.returncode} {err!r}")
finally:
    d.stop()
done()
