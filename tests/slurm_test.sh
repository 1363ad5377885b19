#!/usr/bin/env bash
# slurm_test.sh CGRPO SOURCE_DIR: launch/slurm/cgrpo.sbatch (and scaling.sbatch, job 3) end to end on a single-node Slurm
# cluster on 127.0.0.1 (launch/slurm/local-cluster.sh: munged, slurmctld, slurmd). The learner
# binds 0.0.0.0, so the run uses CURVE keys and a token made by the script. Two jobs:
#   1. the hand-off Slurm does at `--signal=B:USR1@T`, sent by hand (scancel -b --signal=USR1)
#      once the run is under way: the learner checkpoints, the job requeues itself, the
#      requeued job resumes the run directory and finishes, the version counter continuing;
#   2. the same driven by a real time limit (--time=1 --signal=B:USR1@40), one requeue or more.
# Slurm holds a requeued job for 120 s (BeginTime); the test releases it at once with
# `scontrol update StartTime=now`. Opt-in: runs only with CG_SLURM_TEST=1 and as root (it
# installs slurmctld, slurmd, slurm-client and munge when missing); otherwise exits 77
# (skipped). About 2-3 minutes.
set -euo pipefail

if [[ ${CG_SLURM_TEST:-0} != 1 ]]; then
    echo "SKIPPED: the Slurm test runs only with CG_SLURM_TEST=1 (root; installs slurm-wlm + munge)"
    exit 77
fi
if [[ $(id -u) != 0 ]]; then
    echo "SKIPPED: the single-node Slurm cluster needs root"
    exit 77
fi
(($# == 2)) || { echo "usage: $0 CGRPO SOURCE_DIR" >&2; exit 2; }
CGRPO=$(realpath "$1")
SRC=$(realpath "$2")
CLUSTER=$SRC/launch/slurm/local-cluster.sh
SBATCH_SCRIPT=$SRC/launch/slurm/cgrpo.sbatch
W=$(mktemp -d "${TMPDIR:-/tmp}/cg-slurm-test-XXXXXX")
chmod 755 "$W" # munged wants o+x on every parent of its socket
export CG_SLURM_DIR=$W/cluster CG_SLURM_PORT=${CG_SLURM_PORT:-6927} CG_SLURM_CPUS=8
export SLURM_CONF=$CG_SLURM_DIR/etc/slurm.conf

FAILS=0
log() { printf '[slurm_test %(%H:%M:%S)T] %s\n' -1 "$*"; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then log "ok   $what"; else fail "$what"; fi; }
cleanup() {
    local rc=$?
    bash "$CLUSTER" stop || true
    if ((rc == 0 && FAILS == 0)); then rm -rf "$W"; else log "kept $W"; fi
}
trap cleanup EXIT

bash "$CLUSTER" install
bash "$CLUSTER" start

job_state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
rows() { local n; n=$({ wc -l < "$1/metrics.csv"; } 2>/dev/null || echo 1); echo $((n - 1)); }

# Waits until the job is COMPLETED (or another final state), releasing it from the requeue
# hold once it has waited 3 s for its BeginTime (slurmd refuses a credential issued in the
# second its predecessor's was revoked). Prints the final state.
wait_done() { # wait_done JOB TIMEOUT_S
    local job=$1 deadline=$((SECONDS + $2)) st held=0
    while ((SECONDS < deadline)); do
        st=$(job_state "$job")
        case $st in
        COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) echo "$st"; return 0 ;;
        PENDING)
            if scontrol show job "$job" | grep -q 'Reason=BeginTime'; then
                held=$((held + 1))
                ((held >= 3)) && { scontrol update JobId="$job" StartTime=now >/dev/null 2>&1 || true; }
            fi ;;
        *) held=0 ;;
        esac
        sleep 1
    done
    echo "TIMEOUT_WAITING($st)"
}

# The run's checks: complete, every iteration once, the version counter continuing across
# the requeues, actors present in each leg.
check_run() { # check_run RUN_DIR ITERATIONS MIN_RESTARTS JOB_OUT
    local run=$1 iters=$2 restarts=$3 out=$4
    check "metrics: iterations 1..$iters, once each, version = iteration" \
        awk -F, -v n="$iters" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
            { r++; if ($c["iteration"] != r || $c["version"] != r) bad = 1 }
            END { exit !(r == n && !bad) }' "$run/metrics.csv"
    check "summary.json written" test -s "$run/summary.json"
    local resumed
    resumed=$(grep -c 'resumed from .*checkpoints/ckpt-' "$run/logs/learner.log" || true)
    check "learner resumed $resumed times (>= $restarts)" test "$resumed" -ge "$restarts"
    check "job requeued itself (>= $restarts)" \
        test "$(grep -c 'requeueing job' "$out" || true)" -ge "$restarts"
    check "a restart resumed the run" grep -q "restart $restarts) on" "$out"
    check "CURVE keys made once, in the run" test -s "$run/keys/learner.key" -a -s "$run/keys/token"
    check "3 actors, each welcomed in more than one leg" \
        bash -c 'for i in 0 1 2; do [[ $(grep -c "welcome: actor $i " "$1/logs/actor-$i.log") -ge 2 ]] || exit 1; done' _ "$run"
    check "the time-limit warning reached the learner" grep -q 'USR1: time limit near' "$out"
}

SETS=(--set sim.name=sleep --set sleep.step_us=300 --set train.groups=8 --set actor.instances=4
      --set run.checkpoint_every=5 --set learner.device=cpu --set actor.heartbeat_ms=200
      --set learner.heartbeat_timeout_ms=1500)

# ---- 1: the hand-off, signalled by hand ------------------------------------------------------
log "job 1: USR1 by hand, one requeue; weights through one relay per node (CGRPO_RELAY_PORT)"
RUN1=$W/run1
RELAY_PORT=$((20000 + $$ % 20000))
JOB1=$(cd "$W" && CGRPO=$CGRPO CGRPO_BIND=0.0.0.0 CGRPO_RELAY_PORT=$RELAY_PORT sbatch --parsable -N 1 --ntasks=3 --time=10 \
       --output="$W/job1-%j.out" "$SBATCH_SCRIPT" "$RUN1" "${SETS[@]}" --set run.iterations=30)
deadline=$((SECONDS + 120))
while (($(rows "$RUN1") < 8 && SECONDS < deadline)); do sleep 0.5; done
check "job 1 trains (8 updates within 120 s)" test "$(rows "$RUN1")" -ge 8
scancel -b --signal=USR1 "$JOB1"
state=$(wait_done "$JOB1" 300)
check "job 1 completed after its requeue ($state)" test "$state" = COMPLETED
check_run "$RUN1" 30 1 "$W/job1-$JOB1.out"
check "job 1's actors took the weights from the node's relay" \
    grep -q "weights from the relay at 127.0.0.1:$RELAY_PORT" "$RUN1/logs/actor-0.log"
check "job 1's relay relayed to the end" grep -q "training is over" "$RUN1"/logs/relay-*.log

# ---- 2: a real time limit ------------------------------------------------------------------
# Slurm may signal up to 60 s early (sbatch(1)): each 60 s leg ends after 0-40 s. The run
# needs about 60 s of training, so 2 legs or more.
log "job 2: --time=1 --signal=B:USR1@20, requeued until done"
RUN2=$W/run2
JOB2=$(cd "$W" && CGRPO=$CGRPO CGRPO_BIND=0.0.0.0 sbatch --parsable -N 1 --ntasks=3 --time=1 \
       --signal=B:USR1@20 --output="$W/job2-%j.out" "$SBATCH_SCRIPT" "$RUN2" "${SETS[@]}" \
       --set run.iterations=80)
state=$(wait_done "$JOB2" 480)
check "job 2 completed after its requeues ($state)" test "$state" = COMPLETED
log "job 2 ran in $(($(grep -c 'requeueing job' "$W/job2-$JOB2.out" || true) + 1)) legs"
check_run "$RUN2" 80 1 "$W/job2-$JOB2.out"

# ---- 3: the scaling study across the allocation ---------------------------------------------
# launch/slurm/scaling.sbatch: the learner in the batch shell, each count's actors one srun step
# (bound to 0.0.0.0 here, so with CURVE keys handed to the launched actors).
log "job 3: scaling.sbatch, counts 1 and 3 as srun steps"
OUT3=$W/scaling
JOB3=$(cd "$W" && CGRPO=$CGRPO CGRPO_BIND=0.0.0.0 sbatch --parsable -N 1 --ntasks=3 --time=10 \
       --output="$W/job3-%j.out" "$SRC/launch/slurm/scaling.sbatch" "$OUT3" --actors 1,3 \
       --sim sleep:100 --updates 2 --duration 120 --seconds 0.3 --set train.groups=6 \
       --set actor.instances=4 --set learner.device=cpu)
state=$(wait_done "$JOB3" 300)
check "job 3 completed ($state)" test "$state" = COMPLETED
check "scaling.csv has a row for 1 and for 3 actors" \
    bash -c 'grep -q "^sleep:100,1," "$1" && grep -q "^sleep:100,3," "$1"' _ "$OUT3/scaling.csv"
check "no count went unmeasured" bash -c '! grep -q "not measured" "$1"' _ "$W/job3-$JOB3.out"
check "the 3 actors of count 3 came through srun" \
    test "$(grep -c 'welcome: actor' "$OUT3/run-sleep-3/actors.log" || true)" -ge 3
check "CURVE keys made for the study" test -s "$OUT3/keys/learner.key"

if ((FAILS > 0)); then
    for f in "$W"/job*.out "$RUN1/logs/learner.log" "$RUN2/logs/learner.log"; do
        [[ -f $f ]] && { echo "---- $f"; tail -n 30 "$f"; }
    done
    log "$FAILS checks failed"
    exit 1
fi
log "all checks passed"
