#!/usr/bin/env bash
# test_docs_python.sh CGRPO SRC PYTHON: runs docs/python.md's recipe word for word: the shell
# blocks each right after a line <!-- recipe: python -->, in document order, in an empty
# temporary directory holding links to the tree's configs/, actor/ and proto/, with this
# build's cgrpo first on PATH and PYTHON as python3. The run must then have a summary.json.
# The directory is removed after, and what the recipe started is stopped with it.
set -euo pipefail
cgrpo=$1
src=$2
python=$3
doc=$src/docs/python.md
"$python" -c 'import numpy, zmq, google.protobuf' 2>/dev/null || {
    echo "SKIP: needs python3-numpy, python3-zmq and python3-protobuf"
    exit 77
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cgrpo-docs-python.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -- "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
awk '/^<!-- recipe: python -->$/ { armed = 1; next }
     armed && /^```/ { armed = 0; inside = 1; blocks++; next }
     inside && /^```/ { inside = 0; next }
     inside { print }
     END { if (blocks == 0) exit 2 }' "$doc" >"$tmp/recipe.sh" || {
    echo "FAIL: $doc has no block marked <!-- recipe: python -->"
    exit 1
}
mkdir -p "$tmp/work" "$tmp/bin"
ln -s "$src/configs" "$tmp/work/configs"
ln -s "$src/actor" "$tmp/work/actor"
ln -s "$src/proto" "$tmp/work/proto"
ln -s "$cgrpo" "$tmp/bin/cgrpo"
ln -s "$python" "$tmp/bin/python3"
echo "--- the recipe:"
cat "$tmp/recipe.sh"
# In a process group of its own, so that whatever the recipe starts in the background is
# stopped with it (by the group's id) if it fails.
(cd "$tmp/work" && PATH="$tmp/bin:$PATH" exec setsid bash -e "$tmp/recipe.sh") &
pids=("-$!")
for _ in $(seq 2400); do
    kill -0 "${pids[0]#-}" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "${pids[0]#-}" 2>/dev/null; then
    echo "FAIL: the recipe did not finish within 240 s"
    exit 1
fi
wait "${pids[0]#-}" || { echo "FAIL: the recipe failed"; exit 1; }
summary=$(find "$tmp/work/runs" -name summary.json | head -1)
[ -n "$summary" ] || { echo "FAIL: the recipe's run wrote no summary.json"; exit 1; }
cat "$summary"
echo
echo "1 passed, 0 failed"
