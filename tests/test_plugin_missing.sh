#!/usr/bin/env bash
# test_plugin_missing.sh CGRPO PLUGIN: a plugin missing on an actor's host fails that actor
# with a clear message, not the run. A learner trains on a copy of PLUGIN; the copy is moved
# away before an actor joins (as on a host without it): that actor exits 1 naming the path
# and the learner lives on; with the file back, a second actor joins and training finishes.
# Processes are stopped by PID.
set -euo pipefail
cgrpo=$1
plugin=$2
tmp=$(mktemp -d)
learner=0
actor=0
cleanup() {
    for p in "$actor" "$learner"; do
        [ "$p" -gt 0 ] && kill -9 "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

cp "$plugin" "$tmp/libsim.so"
"$cgrpo" learner --no-progress --run-dir "$tmp/run" --set sim.plugin="$tmp/libsim.so" \
    --set run.iterations=4 --set train.groups=4 --set train.group_size=4 \
    --set train.minibatches=2 --set actor.instances=8 >"$tmp/learner.log" 2>&1 &
learner=$!
for _ in $(seq 100); do
    [ -s "$tmp/run/endpoint" ] && break
    kill -0 "$learner" 2>/dev/null || { cat "$tmp/learner.log"; fail "the learner did not start"; }
    sleep 0.1
done
[ -s "$tmp/run/endpoint" ] || fail "no endpoint file"
endpoint=$(cat "$tmp/run/endpoint")

mv "$tmp/libsim.so" "$tmp/away.so"
rc=0
timeout 60 "$cgrpo" actor --connect "$endpoint" >"$tmp/actor1.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat "$tmp/actor1.log"; fail "the actor without the plugin exited $rc, not 1"; }
grep -q "plugin: $tmp/libsim.so: No such file" "$tmp/actor1.log" ||
    { cat "$tmp/actor1.log"; fail "the actor's message does not name the missing plugin"; }
grep -q "hint:" "$tmp/actor1.log" || fail "no hint in the actor's message"
kill -0 "$learner" 2>/dev/null || { cat "$tmp/learner.log"; fail "the learner died with the actor"; }

mv "$tmp/away.so" "$tmp/libsim.so"
timeout 120 "$cgrpo" actor --connect "$endpoint" >"$tmp/actor2.log" 2>&1 &
actor=$!
rc=0
timeout 120 tail --pid="$learner" -f /dev/null || rc=$?
[ "$rc" -eq 0 ] || fail "the learner did not finish"
wait "$learner" || { cat "$tmp/learner.log"; fail "the learner exited non-zero"; }
learner=0
rows=$(($(wc -l <"$tmp/run/metrics.csv") - 1))
[ "$rows" -eq 4 ] || fail "metrics.csv has $rows rows, not 4"
echo "1 passed, 0 failed"
