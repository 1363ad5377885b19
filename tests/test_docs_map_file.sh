#!/usr/bin/env bash
# test_docs_map_file.sh CGRPO SRC: docs/simulators.md's map_file recipe as written
# (cgrpo train --config configs/gridworld_map_file.ini, 2 iterations here): the map comes from
# configs/maps/wall_of_lava.map, relative to the config file, and the run's config.ini carries
# its rows as [gridworld] map (no map_file), so a resume or a remote actor needs no file.
. "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh" "$@"
grep -qF 'cgrpo train --config configs/gridworld_map_file.ini' "$src/docs/simulators.md" ||
    fail "docs/simulators.md no longer gives the command"
(cd "$src" && "$cgrpo" train --config configs/gridworld_map_file.ini --no-progress \
    --set run.iterations=2 --run-dir "$tmp/run") >"$tmp/out" 2>&1 || fail "train: $(cat "$tmp/out")"
ini="$tmp/run/config.ini"
for row in '#S..L..G#' '#...L...#' '#.......#'; do
    grep -qxF "    $row" "$ini" || fail "config.ini lacks the map row $row"
done
! grep -q '^map_file' "$ini" || fail "config.ini still names map_file"
[ "$(wc -l <"$tmp/run/metrics.csv")" -eq 3 ] || fail "metrics.csv has not 2 rows"
# run from elsewhere: the map path is the config file's, not the working directory's
(cd "$tmp" && "$cgrpo" train --config "$src/configs/gridworld_map_file.ini" --no-progress \
    --set run.iterations=1 --run-dir "$tmp/run2") >"$tmp/out2" 2>&1 || fail "train from elsewhere: $(cat "$tmp/out2")"
echo "1 passed, 0 failed"
