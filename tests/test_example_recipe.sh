#!/usr/bin/env bash
# test_example_recipe.sh CGRPO SRC: the example plugin's recipe as README.md and
# docs/simulators.md give it, typed from a repository root:
#     make -C actor/sim/examples/cartpole_safe
#     cgrpo train --config configs/cartpole_safe.ini
# run in a copy of the files it uses (so the source tree stays clean), with the build's cgrpo
# and a few iterations. Checks the plugin was built by the Makefile and trained on.
. "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh" "$@"
mkdir -p "$tmp/actor/sim/examples" "$tmp/actor/sim/include" "$tmp/configs"
cp -r "$src/actor/sim/examples/cartpole_safe" "$tmp/actor/sim/examples/"
rm -f "$tmp/actor/sim/examples/cartpole_safe/libcartpole_safe.so"
cp -r "$src/actor/sim/include/cgrpo" "$tmp/actor/sim/include/"
cp "$src/configs/cartpole_safe.ini" "$tmp/configs/"
cd "$tmp"
grep -q 'make -C actor/sim/examples/cartpole_safe' "$src/README.md" || fail "README no longer gives the make line"
grep -q 'cgrpo train --config configs/cartpole_safe.ini' "$src/README.md" || fail "README no longer gives the train line"
make -C actor/sim/examples/cartpole_safe >make.log 2>&1 || { cat make.log; fail "make"; }
[ -f actor/sim/examples/cartpole_safe/libcartpole_safe.so ] || fail "no libcartpole_safe.so"
"$cgrpo" train --config configs/cartpole_safe.ini --no-progress --set run.iterations=3 \
    --run-dir run >train.log 2>&1 || { tail -20 train.log; fail "cgrpo train"; }
rows=$(($(wc -l <run/metrics.csv) - 1))
[ "$rows" -eq 3 ] || fail "metrics.csv has $rows rows, not 3"
head -1 run/metrics.csv | grep -q off_center_rate || fail "no off_center_rate column"
# (a long path continues on indented lines: compare with line breaks and blanks removed)
tr -d ' \n' <run/config.ini | grep -qF "plugin=$tmp/actor/sim/examples/cartpole_safe/libcartpole_safe.so" ||
    fail "config.ini does not name the plugin by its absolute path"
echo "1 passed, 0 failed"
