#!/usr/bin/env bash
# test_docs_navigation.sh CGRPO SRC: docs/results-navigation.md's commands as written (fewer
# iterations here), from a directory laid out as the repository's root: configs/navigation.ini
# trains with a Gaussian head on 2 local actors; cgrpo eval --greedy and --trace on it; the
# same config under mpirun (1 learner + 2 actor ranks, when mpirun is Open MPI's); and a head
# that cannot drive the simulator is refused with a hint.
. "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh" "$@"
doc=$src/docs/results-navigation.md
for cmd in 'cgrpo train --config configs/navigation.ini' 'cgrpo eval runs/<run> --greedy' \
    'launch/experiments/navigation_study.sh --out runs/navigation-study --docs docs/img' \
    'cgrpo mpi --config configs/navigation.ini' \
    'cgrpo bench --config configs/navigation.ini --sims navigation'; do
    grep -qF "$cmd" "$doc" || fail "$doc no longer gives '$cmd'"
done
ln -s "$src/configs" "$tmp/configs"
cd "$tmp"
"$cgrpo" train --no-progress --config configs/navigation.ini --set run.iterations=4 \
    --run-dir runs/nav >train.log 2>&1 || { tail -n 20 train.log; fail "cgrpo train failed"; }
grep -q "actor 1 joined" train.log || fail "the run did not have 2 actors: $(tail -n 5 train.log)"
grep -qx "head = auto" runs/nav/config.ini || fail "config.ini lacks head = auto"
head -n 1 runs/nav/metrics.csv | grep -q "hazard_rate,wall_rate" || fail "metrics.csv lacks the costs"
"$cgrpo" eval runs/nav --greedy --episodes 20 --json --trace trace.txt >eval.json 2>eval.log ||
    { cat eval.log; fail "cgrpo eval failed"; }
grep -q '"decoding":"greedy"' eval.json || fail "eval.json: $(cat eval.json)"
grep -q '"hazard":[0-9]' eval.json || fail "eval.json has no hazard rate: $(cat eval.json)"
[ "$(grep -c '^episode ' trace.txt)" = 8 ] || fail "the trace has not 8 episodes"
grep -q '^hazard ' trace.txt && grep -q '^pos 1 ' trace.txt || fail "the trace lacks hazards or steps"

"$cgrpo" bench --config configs/navigation.ini --sims navigation --seconds 1 --iterations 2 \
    --out bench >bench.log 2>&1 || { tail -n 20 bench.log; fail "cgrpo bench failed"; }
grep -q "^navigation " bench.log && ! grep -q "failed" bench.log ||
    fail "cgrpo bench did not measure navigation: $(tail -n 5 bench.log)"

# a categorical head cannot drive a continuous simulator
if "$cgrpo" train --no-progress --config configs/navigation.ini --set policy.head=categorical \
    --set run.iterations=1 --run-dir runs/bad >bad.log 2>&1; then
    fail "head = categorical was accepted for navigation"
fi
grep -q "head = categorical cannot drive simulator navigation" bad.log ||
    fail "the refusal does not say why: $(tail -n 3 bad.log)"
# nucleus sampling has no meaning for continuous actions
if "$cgrpo" train --no-progress --config configs/navigation.ini --set sampling.top_p=0.9 \
    --set run.iterations=1 --run-dir runs/bad2 >bad2.log 2>&1; then
    fail "top_p = 0.9 was accepted for navigation"
fi
grep -q "top_p = 0.9: nucleus sampling applies to discrete actions" bad2.log ||
    fail "the top_p refusal does not say why: $(tail -n 3 bad2.log)"

if mpirun --version 2>&1 | grep -q "Open MPI"; then
    # as the cluster tests run Open MPI here: as root, loopback and shared memory only, and
    # LeakSanitizer (in the sanitizer build) told about Open MPI's own leaks
    export LSAN_OPTIONS="suppressions=$src/tests/lsan-mpi.supp:fast_unwind_on_malloc=0:print_suppressions=0"
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
        OMPI_MCA_oob_tcp_if_include=lo HWLOC_COMPONENTS=-gl timeout 120 \
        mpirun --oversubscribe -x LSAN_OPTIONS -n 3 "$cgrpo" mpi --config configs/navigation.ini \
        --no-progress --set run.iterations=3 --set actor.instances=16 --run-dir runs/mpi \
        >mpi.log 2>&1 || { tail -n 20 mpi.log; fail "mpirun cgrpo mpi failed"; }
    [ "$(tail -n +2 runs/mpi/metrics.csv | wc -l)" = 3 ] || fail "the mpirun run did not do 3 iterations"
    echo "ok (with mpirun)"
else
    echo "ok (mpirun is not Open MPI's: its part not run)"
fi
