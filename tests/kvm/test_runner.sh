#!/usr/bin/env bash
# test_runner.sh RUNNER MODULE_DIR - hyperpool-run end to end on real KVM: results as JSON,
# guest output on stderr, exit statuses (0 ok, 1 guest failure, 2 host error, 64 usage).
# Also run by busybox ash (inside the aarch64 suite's emulated machine): its [[ ]] splits
# unquoted words and knows no || inside, so tests use quoted [ ] and plain shell.
set -uo pipefail
RUN=$1
DIR=$2
if [ ! -e /dev/kvm ]; then
    echo "skip: /dev/kvm does not exist on this machine"
    exit 77
fi
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect STATUS STDOUT STDERR_SUBSTRING -- ARGS...
expect() {
    local status=$1 out=$2 err=$3
    shift 4
    local got_out got_status
    got_out=$("$RUN" "$@" 2>"$tmp/err")
    got_status=$?
    # (`a || b && c` is `(a || b) && c` in the shell: each case is grouped on its own.)
    if [ "$got_status" != "$status" ] || [ "$got_out" != "$out" ] ||
       { [ -n "$err" ] && ! grep -qF -- "$err" "$tmp/err"; }; then
        echo "FAIL: hyperpool-run $(printf '%s ' "$@" | head -c 200)"
        echo "  status $got_status (want $status), stdout '$got_out' (want '$out')"
        echo "  stderr: $(head -c 400 "$tmp/err") (want to contain '$err')"
        failures=$((failures + 1))
    fi
}

expect 0 42 "" -- "$DIR/math.elf" add '[40, 2]'
expect 0 '"hello, bob"' "Hello from a KVM micro-VM, bob!" -- "$DIR/hello.elf" hello '["bob"]'
expect 0 '{"$bin":"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="}' "" -- "$DIR/strings.elf" sha256 '[{"$bin":"YWJj"}]'
expect 0 '[1,{"$float":"NaN"},"",null]' "" -- "$DIR/echo.elf" echo '[[1,{"$float":"NaN"},"",null]]'
expect 0 18446744073709551615 "" -- "$DIR/echo.elf" echo '[18446744073709551615]'
expect 0 '"nil"' "" -- "$DIR/echo.elf" type_of '[null]'
expect 0 "$(printf 'ask\ncount\nhello\nnow')" "" -- --list "$DIR/hello.elf"
expect 1 "" "guest_error: add: argument 2 must be a number, got a string" -- "$DIR/math.elf" add '[1, "x"]'
expect 1 "" "no_such_function: no function named 'nope'" -- "$DIR/math.elf" nope '[]'
expect 1 "" "eval:" -- "$DIR/calc.elf" eval '["1 +"]'
expect 2 "" "cannot open module" -- "$tmp/missing.elf" add '[]'
printf 'not an elf' >"$tmp/bad.elf"
expect 2 "" "bad_elf" -- "$tmp/bad.elf" add '[]'
expect 64 "" "JSON error" -- "$DIR/math.elf" add '[1,'
expect 64 "" "must be a JSON array" -- "$DIR/math.elf" add '{"a": 1}'
expect 64 "" "expected MODULE FUNCTION" -- "$DIR/math.elf"
expect 64 "" "invalid size" -- --heap 12x "$DIR/math.elf" add '[1, 2]'
expect 2 "" "heap_size" -- --heap 5000 "$DIR/math.elf" add '[1, 2]'
expect 1 "" "output_overflow" -- --output 4K "$DIR/echo.elf" echo "[\"$(head -c 5000 /dev/zero | tr '\0' a)\"]"
# many calls over a pool of VMs restored to the snapshot: identical results, a summary
expect 0 42 "2000 calls on 4 VMs" -- -n 2000 -p 4 "$DIR/math.elf" add '[40, 2]'
expect 0 '"ABC"' "restore strategy dirtylog-memcpy; all results identical" -- -n 50 --restore dirtylog-memcpy "$DIR/strings.elf" upper '["abc"]'
expect 0 '"ABC"' "restore strategy: pagemap" -- -v -n 3 --restore pagemap-memcpy "$DIR/strings.elf" upper '["abc"]'
expect 64 "" "unknown restore strategy" -- --restore fast "$DIR/math.elf" add '[1, 2]'
expect 64 "" "invalid count" -- -n 0 "$DIR/math.elf" add '[1, 2]'
# a runaway guest stopped at its deadline, a faulting one reported; both exit 1
expect 1 "" "timeout: the call ran past its deadline of 100 ms" -- --timeout 100 "$DIR/hostile.elf" loop_forever
expect 1 "" "guest_fault: guest page fault reading 0x0" -- "$DIR/hostile.elf" null_deref
expect 64 "" "invalid timeout" -- --timeout 0 "$DIR/math.elf" add '[1, 2]'
# the arguments from stdin
got=$(echo '[2, 3]' | "$RUN" "$DIR/math.elf" mul -)
[ "$got" = 6 ] || { echo "FAIL: args from stdin gave '$got'"; failures=$((failures + 1)); }
"$RUN" --help | grep -q "Usage: hyperpool-run" || { echo "FAIL: --help"; failures=$((failures + 1)); }

echo "$failures failures"
[ "$failures" = 0 ]
