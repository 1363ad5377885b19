#!/usr/bin/env bash
# test_docs_instruct_long.sh CGRPO SRC: docs/results-instruct.md's long, strict variant as
# written (cgrpo train --config configs/instruct-long.ini, 3 iterations here, then cgrpo eval
# --greedy): it trains, its run carries horizon 64, 26 letters and strict = true, and the
# held-out evaluation runs on it.
set -euo pipefail
cgrpo=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
grep -qF 'cgrpo train --config configs/instruct-long.ini' "$src/docs/results-instruct.md" ||
    fail "docs/results-instruct.md no longer gives the command"
(cd "$src" && "$cgrpo" train --config configs/instruct-long.ini --no-progress \
    --set run.iterations=3 --run-dir "$tmp/run") >"$tmp/train.log" 2>&1 ||
    { tail -n 20 "$tmp/train.log"; fail "training failed"; }
for kv in "horizon = 64" "letters = 26" "strict = true"; do
    grep -qx "$kv" "$tmp/run/config.ini" || fail "the run's config.ini lacks '$kv'"
done
"$cgrpo" eval "$tmp/run" --greedy --episodes 50 --json >"$tmp/eval.json" 2>"$tmp/eval.log" ||
    { cat "$tmp/eval.log"; fail "cgrpo eval failed"; }
grep -q '"hsr":[0-9]' "$tmp/eval.json" || fail "eval.json has no hsr: $(cat "$tmp/eval.json")"
echo "ok"
