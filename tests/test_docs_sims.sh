#!/usr/bin/env bash
# test_docs_sims.sh CGRPO SRC: docs/config.md's simulator key tables are exactly what
# `cgrpo sims --markdown` prints from the simulators' own tables (so neither can drift), and
# `cgrpo sims` names every built-in simulator.
set -euo pipefail
cgrpo=$1
src=$2
doc="$src/docs/config.md"
want=$(mktemp)
have=$(mktemp)
trap 'rm -f "$want" "$have"' EXIT
"$cgrpo" sims --markdown >"$want"
sed -n '/<!-- cgrpo sims --markdown: begin -->/,/<!-- cgrpo sims --markdown: end -->/p' "$doc" |
    sed '1d;$d' >"$have"
[ -s "$have" ] || { echo "FAIL: $doc has no 'cgrpo sims --markdown' block"; exit 1; }
if ! diff -u "$have" "$want"; then
    echo "FAIL: $doc's simulator tables differ from 'cgrpo sims --markdown' (regenerate the block)"
    exit 1
fi
for sim in $("$cgrpo" sims --markdown | sed -n 's/^### `\[\(.*\)\]`$/\1/p'); do
    "$cgrpo" sims | grep -q "^$sim (" || { echo "FAIL: cgrpo sims does not list $sim"; exit 1; }
done
echo "1 passed, 0 failed"
