#!/usr/bin/env bash
# setup.sh: installs cgrpo's Debian packages, builds, and runs one of the two main jobs.
#   bash launch/setup.sh train [cgrpo train args...]   default constrained gridworld run
#   bash launch/setup.sh test                          the whole test suite (ctest)
#   bash launch/setup.sh deps                          packages only (test mode's too)
# Idempotent: packages already installed are not touched (no apt-get at all then).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=${1:-train}
[ $# -gt 0 ] && shift

packages=(build-essential cmake pkg-config libzmq3-dev libsodium-dev libprotobuf-c-dev
          protobuf-c-compiler libopenmpi-dev openmpi-bin libcunit1-dev libopenblas-dev
          zlib1g-dev gnuplot-nox)
# Test mode only: Clang and its libFuzzer runtime, for the fuzz build CI runs (build-fuzz/);
# clang-format, for the format test; Python's ZeroMQ, protobuf and numpy and protoc, for the
# soak's hostile client (launch/soak.py) and the Python actors (actor/python/, docs/python.md).
test_packages=(clang libclang-rt-14-dev clang-format python3-zmq python3-protobuf python3-numpy
               protobuf-compiler)

install_deps() { # install_deps [extra packages...]
    local missing=()
    for p in "${packages[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    echo "setup: installing ${missing[*]}"
    "${sudo[@]}" apt-get update
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

build() { # build DIR [cmake args...]; BUILD_TARGET=name builds that target only
    local dir=$1; shift
    cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j "$(nproc)" ${BUILD_TARGET:+--target "$BUILD_TARGET"}
}

case "$mode" in
test | deps) install_deps "${test_packages[@]}" ;;
*) install_deps ;;
esac
case "$mode" in
deps) ;;
train)
    build "$root/build"
    exec "$root/build/launch/cgrpo" train "$@"
    ;;
test)
    # CI fails on any compiler warning (CG_WERROR); a user's build only warns.
    werror=()
    [ "${CI:-false}" = "true" ] && werror=(-DCG_WERROR=ON)
    build "$root/build" "${werror[@]}"
    (cd "$root/build" && ctest --output-on-failure --timeout 600 -j "$(nproc)")
    if [ "${CG_SANITIZE_TESTS:-${CI:-false}}" = "true" ]; then
        # Every build type must build with GCC and Clang: two more, build only (CPU only; the
        # CUDA module was built above).
        build "$root/build-release" -DCMAKE_BUILD_TYPE=Release -DCG_CUDA=OFF "${werror[@]}"
        CC=clang build "$root/build-clang" -DCMAKE_BUILD_TYPE=Debug -DCG_CUDA=OFF "${werror[@]}"
        # The same suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
        build "$root/build-san" -DCG_SANITIZE=ON "${werror[@]}"
        (cd "$root/build-san" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure --timeout 600 -j "$(nproc)")
        # The libFuzzer harnesses (tests/fuzz/, docs/fuzzing.md), 30 s each on their seeds.
        CC=clang BUILD_TARGET=cg_fuzz build "$root/build-fuzz" -DCG_FUZZ=ON "${werror[@]}"
        (cd "$root/build-fuzz" && ctest -L fuzz --output-on-failure -j "$(nproc)")
    fi
    ;;
*)
    echo "usage: bash launch/setup.sh train|test|deps" >&2
    exit 2
    ;;
esac
