#!/usr/bin/env bash
# run-fuzzer.sh FUZZER CORPUS SECONDS - one time-boxed libFuzzer run for the `fuzz` suite.
# libFuzzer adds what it finds to its first corpus folder, so it works on a copy of the
# repository's seeds; crashes are kept in the meson log folder for reproduction.
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus/." "$work/"
artifacts=${MESON_BUILD_ROOT:-$PWD}/fuzz-artifacts/$(basename "$fuzzer")/
mkdir -p "$artifacts"
# libFuzzer exits 77 on a finding by default, which meson would count as a skip: make it 1.
exec "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts" \
    -error_exitcode=1 -timeout_exitcode=1 \
    -rss_limit_mb=2048 -timeout=10 "$work"
