# scripts/common.sh - shared by scripts/demo and scripts/test (sourced, not run).
# Bootstraps (packages, picolibc, msgpack-c: cached), configures and builds BUILD_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}

say() { printf '[%s] %s\n' "$(basename "$0")" "$*"; }

# configure_build DIR [meson options...]: set up DIR once, then rebuild it.
configure_build() {
    local dir=$1
    shift
    setup_and_build "$dir" meson setup "$dir" "$ROOT" "$@"
}

# configure_cross_aarch64 DIR [meson options...]: the same for an aarch64 cross build whose
# tests run inside an emulated arm64 machine (scripts/cross/setup-aarch64).
configure_cross_aarch64() {
    local dir=$1
    shift
    setup_and_build "$dir" "$ROOT/scripts/cross/setup-aarch64" "$dir" "$@"
}

# setup_and_build DIR SETUP_COMMAND...: run SETUP_COMMAND once (no DIR/build.ninja yet), then
# ninja in DIR; the logs are shown only on failure.
setup_and_build() {
    local dir=$1
    shift
    if [[ ! -f $dir/build.ninja ]]; then
        say "configuring $dir"
        "$@" >"$dir.setup.log" 2>&1 || {
            tail -n 30 "$dir.setup.log"
            say "meson setup failed (log: $dir.setup.log)"
            return 1
        }
        rm -f "$dir.setup.log"
    fi
    say "building $dir"
    ninja -C "$dir" >"$dir.ninja.log" 2>&1 || {
        grep -E 'error|FAILED' "$dir.ninja.log" | head -n 40
        say "build failed (log: $dir.ninja.log)"
        return 1
    }
    rm -f "$dir.ninja.log"
}

bootstrap_and_build() {
    if [[ $(id -u) -ne 0 ]]; then
        say "run as root: setup installs Debian packages and the tests need /dev/kvm"
        exit 1
    fi
    "$ROOT/scripts/bootstrap" "$BUILD_DIR"
    local werror=false
    [[ ${CI:-} == true ]] && werror=true
    configure_build "$BUILD_DIR" -Dwerror="$werror"
}
