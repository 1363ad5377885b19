#!/usr/bin/env bash
# test_train_cuda: a short gridworld training (the `learns` integration run: open 3 x 7
# room, 30 iterations, --deterministic) with --set learner.device=cuda ends in the goal-rate
# band of the same run on the CPU: both last-3-iteration goal rates >= 0.8 and within 0.1
# of each other. Skipped (77) within a second where no CUDA device is; a CUDA module that
# cannot be loaded is a failure (this test exists only in builds with CUDA).
# usage: test_train_cuda.sh CGRPO_BINARY WORK_DIR
set -euo pipefail

cgrpo=$1
work=$2
sets=(--set run.seed=3 --set run.iterations=30
    --set "gridworld.map=#########/#S......#/#.......#/#......G#/#########"
    --set train.estimator=grpo --set policy.lr=0.003 --set train.groups=16
    --set train.group_size=8 --set actor.instances=8)
rm -rf "$work"
mkdir -p "$work"

# Mean goal_rate of the last 3 rows of DIR/metrics.csv.
last_goal_rate() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "goal_rate") c = i; next }
             { r[NR] = $c } END { if (!c || NR < 4) exit 1;
             printf "%.4f\n", (r[NR] + r[NR - 1] + r[NR - 2]) / 3 }' "$1/metrics.csv"
}

# DEVICE: trains into $work/DEVICE, log in $work/DEVICE.log; the exit status of cgrpo.
train() {
    "$cgrpo" train --no-progress --deterministic --actors 2 --run-dir "$work/$1" \
        --set "learner.device=$1" "${sets[@]}" >"$work/$1.log" 2>&1
}

if ! train cuda; then
    if grep -q "no CUDA device is available" "$work/cuda.log"; then
        echo "SKIP: $(grep -m1 -o 'no CUDA device is available.*' "$work/cuda.log")"
        exit 77
    fi
    tail -n 20 "$work/cuda.log"
    echo "FAIL: training with learner.device=cuda failed (log: $work/cuda.log)"
    exit 1
fi
if ! grep -q "backend cuda" "$work/cuda.log"; then
    echo "FAIL: the learner did not report backend cuda (log: $work/cuda.log)"
    exit 1
fi
if ! train cpu; then
    tail -n 20 "$work/cpu.log"
    echo "FAIL: the same training on the CPU failed (log: $work/cpu.log)"
    exit 1
fi
gpu=$(last_goal_rate "$work/cuda")
cpu=$(last_goal_rate "$work/cpu")
echo "goal rate, last 3 iterations: cuda $gpu, cpu $cpu"
if awk -v g="$gpu" -v c="$cpu" 'BEGIN { d = g - c; if (d < 0) d = -d;
        exit !(g >= 0.8 && c >= 0.8 && d <= 0.1) }'; then
    echo "PASS"
else
    echo "FAIL: goal rates out of band (both >= 0.8, within 0.1 of each other)"
    exit 1
fi
