#!/usr/bin/env bash
# test_netns_study.sh SRC CGRPO: docs/performance.md's network-namespace study
# (launch/netns/study.sh) as written, with short settings put in before its `--` (one link, one
# width, 2 actors on 2 node namespaces, relays off and on, 1 update of B = 4), then
# launch/netns/model.py on its summary (and on the committed study, as docs/scaling-model.md): one summary row per relay setting with numbers, the
# plot, the model's table, and no namespace of the study left behind. Skipped (77) where
# network namespaces cannot be made (not root, or a container without CAP_NET_ADMIN).
set -euo pipefail
src=$1
cgrpo=$2
tmp=$(mktemp -d)
probe=cgprobe$$
trap 'ip netns del "$probe" 2>/dev/null || true; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# docs/scaling-model.md's commands on the committed study, which need no namespaces
python3 "$src/launch/netns/model.py" "$src/docs/data/netns-study-2026-12-03.csv" >"$tmp/check" ||
    fail "model.py on the committed study failed"
[[ $(grep -c '^1gbit ' "$tmp/check") == 16 ]] || fail "model.py: not 16 1gbit rows: $(cat "$tmp/check")"
python3 "$src/launch/netns/model.py" --predict --update-s 0.05 | grep -q "broadcast ceiling N_b = 178" ||
    fail "model.py --predict no longer gives docs/scaling-model.md's 178 actors"
if [[ $(id -u) != 0 ]] || ! ip netns add "$probe" 2>/dev/null; then
    echo "skipped: network namespaces need root with CAP_NET_ADMIN"
    exit 77
fi
ip netns del "$probe"
cmd=$(awk '/^ *```/ {code = !code; next}
           code { line = (cont ? line " " : "") $0; cont = sub(/\\$/, "", line)
                  if (!cont) { if (line ~ /launch\/netns\/study.sh /) print line; line = "" } }' \
          "$src/docs/performance.md" | head -1)
[[ -n $cmd ]] || fail "no launch/netns/study.sh command in docs/performance.md"
args=${cmd#*launch/netns/study.sh }
args=${args#* }          # OUT_DIR as documented: ours instead
study=${args%% -- *}
scaling=${args#* -- }
echo "== study.sh OUT $study (+ short settings) -- $scaling (+ short settings)"
# shellcheck disable=SC2086 # the documented arguments, split as a shell would
CGRPO=$cgrpo bash "$src/launch/netns/study.sh" "$tmp/out" $study --rates 1gbit --hidden 64 \
    --actors 2 --nodes 2 -- $scaling --updates 1 --set train.groups=4 --duration 60 \
    --seconds 0.3 --set learner.device=cpu >"$tmp/log" 2>&1 || fail "study.sh: $(tail -30 "$tmp/log")"
summary=$tmp/out/summary.csv
[[ $(grep -c '^1gbit,64,off,2,[0-9]' "$summary") == 1 ]] || fail "no relays-off row: $(cat "$summary")"
[[ $(grep -c '^1gbit,64,on,2,[0-9]' "$summary") == 1 ]] || fail "no relays-on row: $(cat "$summary")"
grep -q "one relay each" "$tmp/out/1gbit-h64-relayon/actors.log" 2>/dev/null ||
    grep -rq "one relay each" "$tmp/out/1gbit-h64-relayon/" || fail "relays were not started"
grep -rq "weights from the relay" "$tmp/out/1gbit-h64-relayon/" || fail "actors did not use the relays"
! grep -qi "warning" "$tmp/log" || fail "warnings: $(grep -i warning "$tmp/log")"
if command -v gnuplot >/dev/null; then
    [[ -s $tmp/out/network-h64.png ]] || fail "no network-h64.png"
fi
! ip netns list | grep -q '^cg[0-9]*[lsn]' || fail "namespaces left behind: $(ip netns list)"
python3 "$src/launch/netns/model.py" "$summary" --nodes 2 >"$tmp/model" || fail "model.py failed"
[[ $(grep -c '^1gbit ' "$tmp/model") == 2 ]] || fail "model.py: not 2 rows: $(cat "$tmp/model")"
python3 "$src/launch/netns/model.py" --predict >"$tmp/predict" || fail "model.py --predict failed"
grep -q "update ceiling" "$tmp/predict" || fail "model.py --predict: $(cat "$tmp/predict")"
echo "passed"
