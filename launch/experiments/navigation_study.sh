#!/usr/bin/env bash
# navigation_study.sh: Constrained GRPO with continuous actions (issue 17,
# docs/results-navigation.md): ScAdv and ScRew with hazard <= D and wall <= 0.10 against
# unconstrained GRPO on configs/navigation.ini, several seeds; every final policy evaluated
# (sampled and greedy); tables (Markdown), plots of training, and a picture of greedy
# trajectories on evaluation layouts. Resumable: finished runs are skipped.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: launch/experiments/navigation_study.sh [options]
Trains ScAdv, ScRew (both with hazard <= D, wall <= 0.10) and unconstrained GRPO on
configs/navigation.ini, seeds 1..N each, evaluates every final policy (sampled and greedy),
and writes tables.md, plots/ and trajectories.png under the output directory.

  --out DIR        output directory (default runs/navigation-study; runs/ is git-ignored)
  --cgrpo PATH     the cgrpo binary (default build/launch/cgrpo, else cgrpo on PATH)
  --seeds N        seeds 1..N (default 3)
  --hazard D       the hazard threshold (default 0.05)
  --iterations N   policy updates per run, 256 episodes each (default: the config's, 300)
  --episodes N     evaluation episodes per final policy (default 1000)
  --jobs N         training runs at once (default 2)
  --docs DIR       also copy the main figures there as navigation-*.png (e.g. docs/img)
  --smoke          a quick check of the pipeline: 1 seed, 5 small iterations, 50 episodes;
                   starts over every time
  -h, --help       this help

Full study: 9 runs of 300 iterations, about 6 minutes on an idle 2-core machine.
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
study=navigation_study
. "$here/study_lib.sh"
out=runs/navigation-study
cgrpo=""
seeds=3
hazard=0.05
iterations=""
episodes=1000
jobs=2
docs=""
smoke=0

while [ $# -gt 0 ]; do
    study_common_option "$@"
    [ "$study_shift" -gt 0 ] && { shift "$study_shift"; continue; }
    case "$1" in
    --hazard) study_need "$@"; hazard=$2; shift 2 ;;
    *) echo "$study: unknown option '$1' (hint: --help)" >&2; exit 2 ;;
    esac
done
for v in "$seeds" "$episodes" "$jobs" ${iterations:+"$iterations"}; do
    [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] ||
        { echo "$study: '$v' is not a whole number >= 1 (hint: --help)" >&2; exit 2; }
done
[[ "$hazard" =~ ^(0(\.[0-9]+)?|1(\.0+)?)$ ]] ||
    { echo "$study: --hazard '$hazard' is not a number in [0, 1]" >&2; exit 2; }
study_find_cgrpo
config="$repo/configs/navigation.ini"

common=(--config "$config")
[ -n "$iterations" ] && common+=(--set "run.iterations=$iterations")
if [ "$smoke" = 1 ]; then
    seeds=1
    episodes=50
    common=(--config "$config" --set run.iterations=5 --set train.groups=8
        --set train.minibatches=2 --set actor.instances=16 --set run.checkpoint_every=0)
    rm -rf "$out/runs" "$out/logs" "$out/plots"
fi
mkdir -p "$out/runs" "$out/logs" "$out/plots"
out=$(cd "$out" && pwd)
study_pin_cgrpo
# The config with an empty [constraints] section: nothing enforced (a later --config replaces
# the earlier one whole).
awk '/^\[/ { skip = ($0 ~ /^\[constraints\]/); print; next } !skip' "$config" \
    >"$out/unconstrained.ini"

declare -A pretty=([scadv]=ScAdv [screw]=ScRew [grpo]="GRPO (unconstrained)")
methods=(scadv screw grpo)
plan=()
for s in $(seq 1 "$seeds"); do
    cons="--set constraints.hazard=$hazard --set constraints.wall=0.10 --set run.seed=$s"
    plan+=("scadv-s$s|--set train.estimator=scalarized_advantages $cons")
    plan+=("screw-s$s|--set train.estimator=scalarized_rewards $cons")
    plan+=("grpo-s$s|--config $out/unconstrained.ini --set train.estimator=grpo --set run.seed=$s")
done
t_start=$SECONDS
study_run_plan "${plan[@]}"

# ---------------------------------------------------------------------------- tables
# over METHOD FILE-OR-CSV KEY: "mean sd" over the seeds of an eval key or a metrics reduction
over() {
    local v=() s
    for s in $(seq 1 "$seeds"); do
        case $2 in
        csv) v+=("$(csv "$1-s$s" "$3")") ;;
        *) v+=("$(num "$out/runs/$1-s$s/$2" "$3")") ;;
        esac
    done
    stats "${v[@]}"
}
cell() { local m sd; read -r m sd < <(over "$@"); pm "$m" "$sd"; }

tables="$out/tables.md"
{
    echo "# Navigation study: tables"
    echo
    echo "Written by \`launch/experiments/navigation_study.sh\`: configs/navigation.ini,"
    echo "seeds 1..$seeds, constraints hazard ≤ $hazard and wall ≤ 0.10 (ScAdv, ScRew); every"
    echo "final policy evaluated on $episodes episodes (\`cgrpo eval --json\`, sampled and"
    echo "\`--greedy\`: the Gaussian's mean). Cells: mean ± standard deviation over seeds (n − 1)."
    echo
    echo "## Final policies"
    echo
    echo "| method | goal (sampled) | hazard (sampled) | wall (sampled) | goal (greedy) | hazard (greedy) | wall (greedy) |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for m in "${methods[@]}"; do
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${pretty[$m]}" \
            "$(cell $m eval.json goal_rate)" "$(cell $m eval.json hazard)" "$(cell $m eval.json wall)" \
            "$(cell $m eval-greedy.json goal_rate)" "$(cell $m eval-greedy.json hazard)" \
            "$(cell $m eval-greedy.json wall)"
    done
    echo
    echo "## Training batches, last quarter of the iterations"
    echo
    echo "| method | goal | hazard | wall | λ_hazard | λ_wall | log-std entropy (last) |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for m in "${methods[@]}"; do
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${pretty[$m]}" \
            "$(cell $m csv tail:goal_rate)" "$(cell $m csv tail:hazard_rate)" \
            "$(cell $m csv tail:wall_rate)" "$(cell $m csv tail:hazard_lambda)" \
            "$(cell $m csv tail:wall_lambda)" "$(cell $m csv last:entropy)"
    done
} >"$tables"

# ---------------------------------------------------------------------------- plots
runs_of() { for s in $(seq 1 "$seeds"); do echo "$out/runs/$1-s$s"; done; }
mapfile -t ra < <(runs_of scadv)
mapfile -t rr < <(runs_of screw)
mapfile -t rg < <(runs_of grpo)
mapfile -t plots < <("$cgrpo" plot --band --out "$out/plots" --title "navigation, hazard <= $hazard" \
    --columns goal_rate,hazard_rate,wall_rate --group ScAdv "${ra[@]}" --group ScRew "${rr[@]}" \
    --group GRPO "${rg[@]}")

# Greedy trajectories of ScAdv and GRPO (seed 1) on the first evaluation layouts: the same
# layouts for both, as both runs have seed 1 (the evaluation seed follows the run seed).
for m in scadv grpo; do
    "$cgrpo" eval "$out/runs/$m-s1" --greedy --episodes 8 --trace "$out/plots/trace-$m.txt" >/dev/null
done
(
    cd "$out/plots"
    for m in scadv grpo; do
        awk -v m=$m '
            $1 == "episode" { e = $2 }
            $1 == "goal" { print $2, $3, $4 > ("goal-" e ".dat") }
            $1 == "hazard" { print $2, $3, $4 > ("hazard-" e ".dat") }
            $1 == "arena" { print $2 > "arena.dat" }
            $1 == "pos" { print $3, $4 > ("path-" m "-" e ".dat") }' "trace-$m.txt"
    done
    size=$(head -n 1 arena.dat)
    {
        echo "set terminal pngcairo size 1500,520 font 'sans,10' noenhanced"
        echo "set output 'trajectories.png'"
        echo "set multiplot layout 1,3 title 'Greedy trajectories on evaluation layouts (seed 1): ScAdv (hazard <= $hazard) and unconstrained GRPO'"
        echo "set size ratio -1; set xrange [-$size:$size]; set yrange [-$size:$size]"
        echo "set border lw 3; unset xtics; unset ytics; set key below"
        for e in 0 1 2; do
            echo "set title 'layout $((e + 1))'"
            echo "plot 'hazard-$e.dat' using 1:2:3 with circles fill solid 0.35 lc rgb '#d62728' title 'hazard', \\"
            echo "     'goal-$e.dat' using 1:2:3 with circles fill solid 0.5 lc rgb '#2ca02c' title 'goal', \\"
            echo "     'path-scadv-$e.dat' using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'ScAdv', \\"
            echo "     'path-grpo-$e.dat' using 1:2 with lines lw 2 dt 2 lc rgb '#ff7f0e' title 'GRPO', \\"
            echo "     'path-scadv-$e.dat' every ::0::0 using 1:2 with points pt 7 ps 1.5 lc rgb 'black' title 'start'"
        done
        echo "unset multiplot"
    } | gnuplot
)
plots+=("$out/plots/trajectories.png")
for p in "${plots[@]}"; do
    [ -s "$p" ] || { echo "$study: plot $p is missing or empty" >&2; exit 1; }
done
if [ -n "$docs" ] && [ "$smoke" = 0 ]; then
    mkdir -p "$docs"
    for p in "${plots[@]}"; do cp "$p" "$docs/navigation-$(basename "$p")"; done
fi

echo
cat "$tables"
echo "tables: $tables"
echo "plots:"
printf '  %s\n' "${plots[@]}"
echo "done in $(fmt_time $((SECONDS - t_start)))"
