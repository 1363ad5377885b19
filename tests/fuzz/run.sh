#!/usr/bin/env bash
# run.sh: runs the libFuzzer harnesses of tests/fuzz/ for a given time each (docs/fuzzing.md).
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     default 60 s; targets msg config ckpt map
# Builds build-fuzz/ (CC=clang, -DCG_FUZZ=ON, target cg_fuzz) unless CG_FUZZ_BUILD_DIR names
# an existing fuzz build. Each target runs on a temporary copy of its committed seeds
# (tests/fuzz/corpus/<target>/ is never written), then one line per target: executions,
# exec/s, coverage (cov: and ft: of libFuzzer's last stats line), corpus size, crashes.
# Exit 1 if any target crashed, leaked, timed out or ran out of memory; the reproducer's
# path and the command that replays it are printed, and its work directory is kept.
# CG_FUZZ_KEEP=1 keeps every work directory (the grown corpora are in <work>/corpus).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
all_targets=(msg config ckpt map)

seconds=${1:-60}
[ $# -gt 0 ] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: tests/fuzz/run.sh [SECONDS] [TARGET...]   (targets: ${all_targets[*]})" >&2
    exit 2
fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
    if [ ! -d "$here/corpus/$t" ]; then
        echo "run.sh: unknown target '$t' (targets: ${all_targets[*]})" >&2
        exit 2
    fi
done

build=${CG_FUZZ_BUILD_DIR:-}
if [ -z "$build" ]; then
    build=$root/build-fuzz
    if ! command -v "${CC:-clang}" >/dev/null || ! "${CC:-clang}" --version | grep -q clang; then
        echo "run.sh: needs clang (hint: apt-get install clang libclang-rt-14-dev, or" \
             "bash launch/setup.sh deps)" >&2
        exit 2
    fi
    CC=${CC:-clang} cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCG_FUZZ=ON \
        >/dev/null
    cmake --build "$build" --target cg_fuzz -j "$(nproc)" >/dev/null
fi
for t in "${targets[@]}"; do
    if [ ! -x "$build/tests/fuzz/fuzz_$t" ]; then
        echo "run.sh: $build/tests/fuzz/fuzz_$t is missing (hint: a Clang build with" \
             "-DCG_FUZZ=ON: cmake --build $build --target cg_fuzz)" >&2
        exit 2
    fi
done

# The value of "stat::NAME:" in a log, or "?".
stat_of() {
    local v
    v=$(grep -a "^stat::$2:" "$1" | tail -1 | awk '{print $2}')
    echo "${v:-?}"
}

# FIELD (cov, ft, corp) of the last stats line of a log, or "?".
field() {
    local v
    v=$(grep -a -o " $2: [0-9/a-zA-Z]*" "$1" | tail -1 | awk '{print $2}')
    echo "${v:-?}"
}

echo "cgrpo fuzz: ${seconds} s per target, $(date -u '+%Y-%m-%d %H:%M UTC'), build $build"
printf '%-7s %8s %12s %9s %6s %7s %10s %8s\n' target seconds executions exec/s cov ft corpus crashes
failed=()
for t in "${targets[@]}"; do
    work=$(mktemp -d "${TMPDIR:-/tmp}/cgrpo-fuzz-$t.XXXXXX")
    mkdir -p "$work/corpus" "$work/artifacts"
    cp "$here/corpus/$t/"* "$work/corpus/"
    args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=25 -malloc_limit_mb=256
          -artifact_prefix="$work/artifacts/")
    [ -f "$here/$t.dict" ] && args+=(-dict="$here/$t.dict")
    start=$(date +%s)
    rc=0
    "$build/tests/fuzz/fuzz_$t" "${args[@]}" "$work/corpus" >"$work/log" 2>&1 || rc=$?
    took=$(($(date +%s) - start))
    found=$(find "$work/artifacts" -type f | sort)
    n_found=$(printf '%s' "$found" | grep -c . || true)
    if [ "$rc" -ne 0 ] && [ "$n_found" -eq 0 ]; then
        n_found=1 # died without writing a reproducer (e.g. killed): still a failure
    fi
    printf '%-7s %8s %12s %9s %6s %7s %10s %8s\n' "$t" "$took" \
        "$(stat_of "$work/log" number_of_executed_units)" "$(stat_of "$work/log" average_exec_per_sec)" \
        "$(field "$work/log" cov)" "$(field "$work/log" ft)" "$(field "$work/log" corp)" "$n_found"
    if [ "$rc" -ne 0 ]; then
        failed+=("$t")
        echo "  fuzz_$t failed (exit $rc); its log: $work/log"
        grep -a -m 4 -E "^(==[0-9]+== ?ERROR|SUMMARY|fuzz_[a-z]+: |.*runtime error)" "$work/log" | sed 's/^/  /' || true
        for f in $found; do
            echo "  reproducer: $f"
            echo "  replay:     $build/tests/fuzz/fuzz_$t $f"
        done
    elif [ "${CG_FUZZ_KEEP:-0}" = 1 ]; then
        echo "  kept: $work"
    else
        rm -rf "$work"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "cgrpo fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
