#!/usr/bin/env bash
# test_docs_instruct.sh CGRPO SRC: docs/results-instruct.md's commands for the long, strict
# variant and the paper-faithful profile as written (fewer iterations here), from a directory
# laid out as the repository's root: configs/instruct-long.ini trains with horizon 64, 26
# letters and strict; the warm start, then configs/instruct-paper.ini, which starts from it
# (runs/instruct-warm), one optimiser step per batch, base KL 0.01, top-p 0.9; cgrpo eval
# --greedy on both.
. "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh" "$@"
doc=$src/docs/results-instruct.md
for cmd in 'cgrpo train --config configs/instruct-long.ini' \
    'cgrpo train --config configs/instruct.ini --set run.iterations=25 --run-dir runs/instruct-warm' \
    'cgrpo train --config configs/instruct-paper.ini'; do
    grep -qF "$cmd" "$doc" || fail "$doc no longer gives '$cmd'"
done
ln -s "$src/configs" "$tmp/configs"
cd "$tmp"
train() { # LOG ARGS...
    local log=$1
    shift
    "$cgrpo" train --no-progress "$@" >"$log" 2>&1 || { tail -n 20 "$log"; fail "cgrpo train $* failed"; }
}
train long.log --config configs/instruct-long.ini --set run.iterations=3 --run-dir runs/long
for kv in "horizon = 64" "letters = 26" "strict = true"; do
    grep -qx "$kv" runs/long/config.ini || fail "the long run's config.ini lacks '$kv'"
done
train warm.log --config configs/instruct.ini --set run.iterations=3 --run-dir runs/instruct-warm
train paper.log --config configs/instruct-paper.ini --set run.iterations=3 --run-dir runs/paper
grep -q "\[train\] init: the weights of runs/instruct-warm/checkpoints/" paper.log ||
    fail "the paper run did not start from runs/instruct-warm: $(tail -n 5 paper.log)"
for kv in "epochs = 1" "minibatches = 1" "kl_coef = 0.01" "top_p = 0.9" "init = runs/instruct-warm"; do
    grep -qx "$kv" runs/paper/config.ini || fail "the paper run's config.ini lacks '$kv'"
done
for run in long paper; do
    "$cgrpo" eval "runs/$run" --greedy --episodes 50 --json >"$run.json" 2>"$run.eval.log" ||
        { cat "$run.eval.log"; fail "cgrpo eval runs/$run failed"; }
    grep -q '"hsr":[0-9]' "$run.json" || fail "$run.json has no hsr: $(cat "$run.json")"
done
echo ok
