#!/usr/bin/env bash
# test_docs_recipe: runs the plugin recipe of docs/simulators.md word for word, so the doc
# cannot drift. The recipe is the fenced blocks each right after a marker line:
#     <!-- recipe: plugin FILE -->   the block is written to FILE
#     <!-- recipe: plugin -->        the block's shell commands are run, in document order
# in an empty temporary directory, with this build installed to a temporary prefix on PATH
# and PKG_CONFIG_PATH (as the doc's install step leaves them). Then the run the recipe
# trained must have a non-empty metrics.csv and a summary.json. Temporary files are removed.
# usage: test_docs_recipe.sh CMAKE BUILD_DIR SOURCE_DIR
set -euo pipefail

cmake=$1
build=$2
src=$3
doc=$src/docs/simulators.md
if ! command -v pkg-config >/dev/null || ! command -v cc >/dev/null; then
    echo "SKIP: needs pkg-config and cc"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cgrpo-docs-recipe.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

# Extract: files into $tmp/work, commands into $tmp/recipe.sh.
work=$tmp/work
mkdir -p "$work"
awk -v work="$work" -v script="$tmp/recipe.sh" '
    /^<!-- recipe: plugin( [A-Za-z0-9_.-]+)? -->$/ {
        target = ($4 == "-->") ? script : work "/" $4; armed = 1; next
    }
    armed && /^```/ { armed = 0; inside = 1; blocks++; next }
    inside && /^```/ { inside = 0; close(target); next }
    inside { print >> target }
    END { if (inside) { print "unclosed recipe block" > "/dev/stderr"; exit 1 }
          if (blocks == 0) exit 2 }
' "$doc" || fail "could not extract the recipe from $doc (markers: <!-- recipe: plugin ... -->)"
[ -s "$tmp/recipe.sh" ] || fail "$doc has no shell block marked <!-- recipe: plugin -->"
# The recipe is the documented one: the cc line against pkg-config, and a plugin path.
# shellcheck disable=SC2016 # a literal $(...) in the doc
grep -q 'cc -shared -fPIC .*\$(pkg-config --cflags cgrpo)' "$tmp/recipe.sh" ||
    fail "the recipe lacks the cc line with \$(pkg-config --cflags cgrpo)"
grep -q 'cgrpo train .*--set sim.plugin=' "$tmp/recipe.sh" ||
    fail "the recipe lacks cgrpo train --set sim.plugin=..."
echo "recipe files: $(cd "$work" && find . -type f | tr '\n' ' ')"
echo "recipe commands:"
sed 's/^/    /' "$tmp/recipe.sh"

prefix=$tmp/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install $build --prefix $prefix"; }
pc=$(find "$prefix" -name cgrpo.pc | head -n 1)
[ -n "$pc" ] || fail "no cgrpo.pc in the prefix"

if ! (cd "$work" && PATH="$prefix/bin:$PATH" PKG_CONFIG_PATH="$(dirname "$pc")" \
    bash -euo pipefail "$tmp/recipe.sh") >"$tmp/recipe.log" 2>&1; then
    tail -n 30 "$tmp/recipe.log"
    fail "the recipe of $doc failed"
fi
m=$(find "$work" -name metrics.csv | head -n 1)
if [ -z "$m" ] || [ "$(wc -l <"$m")" -lt 2 ]; then
    fail "the recipe's run wrote no metrics rows"
fi
[ -s "$(dirname "$m")/summary.json" ] || fail "the recipe's run wrote no summary.json"
echo "PASS: the recipe of docs/simulators.md ran ($(($(wc -l <"$m") - 1)) iterations logged)"
