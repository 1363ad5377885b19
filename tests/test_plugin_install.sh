#!/usr/bin/env bash
# test_plugin_install: a simulator plugin as a user builds one. Installs this build to a
# temporary prefix (cmake --install), builds the example plugin cartpole_safe out of the tree,
# from a copy of its one .c file, with the documented cc line against the installed header
# (pkg-config), and trains it 3 iterations with the installed cgrpo and
# configs/cartpole_safe.ini: metrics.csv has 3 rows and the off_center_rate and survival
# columns, summary.json exists. The temporary directories are removed at exit.
# usage: test_plugin_install.sh CMAKE BUILD_DIR SOURCE_DIR
set -euo pipefail

cmake=$1
build=$2
src=$3
if ! command -v pkg-config >/dev/null || ! command -v cc >/dev/null; then
    echo "SKIP: needs pkg-config and cc"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cgrpo-plugin-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

prefix=$tmp/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install $build --prefix $prefix"; }
[ -x "$prefix/bin/cgrpo" ] || fail "no bin/cgrpo in the prefix"
[ -f "$prefix/include/cgrpo/sim.h" ] || fail "no include/cgrpo/sim.h in the prefix"
pc=$(find "$prefix" -name cgrpo.pc | head -n 1)
[ -n "$pc" ] || fail "no cgrpo.pc in the prefix"
pcdir=$(dirname "$pc")
cflags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags cgrpo) || fail "pkg-config --cflags cgrpo"
echo "installed to $prefix; pkg-config --cflags cgrpo: $cflags"

# Out of the tree: a directory holding only the plugin's source.
dir=$tmp/plugin
mkdir -p "$dir"
cp "$src/actor/sim/examples/cartpole_safe/cartpole_safe.c" "$dir/"
# shellcheck disable=SC2046 # the documented line: pkg-config's flags split into words
(cd "$dir" && cc -shared -fPIC cartpole_safe.c $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags cgrpo) -o libcartpole_safe.so) ||
    fail "the plugin does not build against the installed header"

run=$tmp/run
if ! (cd "$tmp" && "$prefix/bin/cgrpo" train --no-progress --config "$src/configs/cartpole_safe.ini" \
    --set "sim.plugin=$dir/libcartpole_safe.so" --set run.iterations=3 --run-dir "$run") \
    >"$tmp/train.log" 2>&1; then
    tail -n 30 "$tmp/train.log"
    fail "cgrpo train with the installed cgrpo and the plugin"
fi
m=$run/metrics.csv
[ -s "$m" ] || { tail -n 30 "$tmp/train.log"; fail "no metrics.csv in $run"; }
rows=$(($(wc -l <"$m") - 1))
[ "$rows" -eq 3 ] || fail "metrics.csv has $rows rows, expected 3"
header=$(head -n 1 "$m")
for col in off_center_rate survival goal_rate; do
    case ",$header," in
    *",$col,"*) ;;
    *) fail "metrics.csv has no $col column: $header" ;;
    esac
done
[ -s "$run/summary.json" ] || fail "no summary.json in $run"
grep -q '"off_center"' "$run/summary.json" || fail "summary.json does not name off_center"
echo "PASS: trained 3 iterations of the out-of-tree plugin with the installed cgrpo"
