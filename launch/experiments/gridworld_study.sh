#!/usr/bin/env bash
# gridworld_study.sh: the Constrained GRPO gridworld study (issue 4, docs/results-gridworld.md):
# a fixed-penalty sweep, constrained training with one and with two constraints, and an
# unconstrained GRPO baseline; every final policy evaluated; tables (Markdown) and plots.
# Resumable: a run whose summary.json and eval.json exist is skipped.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: launch/experiments/gridworld_study.sh [options]
Runs the gridworld study: (1) fixed-penalty sweep over the lava weight, (2) constrained,
lava only (2b: the same with multiplier lr 0.01), (3) constrained, lava and battery, (4)
unconstrained GRPO; ScAdv and ScRew (same seeds, same settings for both), several
seeds; evaluates every final policy; writes tables.md and plots/ under the output directory.
Run it again to resume: finished runs (summary.json + eval.json) are skipped.

  --out DIR        output directory (default <repo>/runs/gridworld-study; runs/ is git-ignored)
  --cgrpo PATH     the cgrpo binary (default build/launch/cgrpo, else cgrpo on PATH)
  --seeds N        seeds 1..N (default 3)
  --weights LIST   lava weights of the sweep, comma-separated (default 0,0.02,0.05,0.1,0.3,1,2)
  --battery-weight W  fixed battery weight of the sweep (default 0.1)
  --episodes N     evaluation episodes per final policy (default 1000)
  --actors N       local actors per training run (default 2)
  --layout NAME    [gridworld] layout of every run (default: the default map); with
                   tradeoff, parts sweep,one,grpo at lava <= 0.1 by default
  --lava-d D       the lava threshold d of the constrained parts (default 0.01; 0.1 with
                   --layout tradeoff)
  --parts LIST     which parts, comma-separated, of sweep,one,oneslow,two,grpo
                   (default all; sweep,one,grpo with --layout tradeoff)
  --iterations N   training iterations of every run (default: the config's, 150)
  --smoke          a quick check of the pipeline: 1 seed, 2 weights, 5 small iterations
  -h, --help       this help

Full study: 63 training runs of 150 iterations, about 15 minutes on an idle 2-core machine
(25 minutes with the machine shared with builds and tests). The trade-off study
(--layout tradeoff --iterations 400 --out runs/gridworld-tradeoff): 51 runs.
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
study=gridworld_study
. "$here/study_lib.sh"
out="$repo/runs/gridworld-study"
cgrpo=""
seeds=3
weights="0,0.02,0.05,0.1,0.3,1,2"
battery_weight=0.1
episodes=1000
actors=2
smoke=0
layout=""
lava_d=""
parts=""
iterations=""

while [ $# -gt 0 ]; do
    case "$1" in
    --out) study_need "$@"; out=$2; shift 2 ;;
    --cgrpo) study_need "$@"; cgrpo=$2; shift 2 ;;
    --seeds) study_need "$@"; seeds=$2; shift 2 ;;
    --weights) study_need "$@"; weights=$2; shift 2 ;;
    --battery-weight) study_need "$@"; battery_weight=$2; shift 2 ;;
    --episodes) study_need "$@"; episodes=$2; shift 2 ;;
    --actors) study_need "$@"; actors=$2; shift 2 ;;
    --layout) study_need "$@"; layout=$2; shift 2 ;;
    --lava-d) study_need "$@"; lava_d=$2; shift 2 ;;
    --parts) study_need "$@"; parts=$2; shift 2 ;;
    --iterations) study_need "$@"; iterations=$2; shift 2 ;;
    --smoke) smoke=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "gridworld_study: unknown option '$1' (hint: --help)" >&2; exit 2 ;;
    esac
done
for v in "$seeds" "$episodes" "$actors"; do
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "gridworld_study: '$v' is not a whole number" >&2; exit 2; }
done
[ "$seeds" -ge 1 ] || { echo "gridworld_study: --seeds must be >= 1" >&2; exit 2; }
if [ "$layout" = tradeoff ]; then
    : "${lava_d:=0.1}" "${parts:=sweep,one,grpo}"
fi
: "${lava_d:=0.01}" "${parts:=sweep,one,oneslow,two,grpo}"
[[ "$lava_d" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "gridworld_study: --lava-d '$lava_d' is not a number" >&2; exit 2; }
for part in ${parts//,/ }; do
    case $part in sweep | one | oneslow | two | grpo) ;;
    *) echo "gridworld_study: unknown part '$part' (hint: sweep,one,oneslow,two,grpo)" >&2; exit 2 ;;
    esac
done
has_part() { [[ ",$parts," == *",$1,"* ]]; }
if [ -n "$iterations" ] && ! [[ "$iterations" =~ ^[1-9][0-9]*$ ]]; then
    echo "gridworld_study: --iterations '$iterations' is not a whole number >= 1" >&2
    exit 2
fi

study_find_cgrpo

# run settings shared by every training run; the smoke mode shrinks the budget
common=()
if [ "$smoke" = 1 ]; then
    seeds=1
    weights="0,1"
    episodes=100
    common=(--set run.iterations=5 --set train.groups=8 --set train.group_size=8
        --set train.minibatches=2 --set actor.instances=8 --set run.checkpoint_every=0)
fi
[ -n "$layout" ] && common+=(--set "gridworld.layout=$layout")
[ -n "$iterations" ] && [ "$smoke" = 0 ] && common+=(--set "run.iterations=$iterations")
IFS=, read -r -a wlist <<<"$weights"
for w in "${wlist[@]}" "$battery_weight"; do
    [[ "$w" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "gridworld_study: weight '$w' is not a number >= 0" >&2; exit 2; }
done

mkdir -p "$out/runs" "$out/logs" "$out/plots"
out=$(cd "$out" && pwd)
printf '[constraints]\n' >"$out/unconstrained.ini" # an empty section: no constraint enforced

ests=(scalarized_advantages scalarized_rewards)
declare -A short=([scalarized_advantages]=scadv [scalarized_rewards]=screw [grpo]=grpo)
declare -A pretty=([scadv]=ScAdv [screw]=ScRew [grpo]=GRPO)

# The plan: one line per run, "name|arguments" (arguments without spaces; @UNCONSTRAINED@
# stands for the path of unconstrained.ini, which may have spaces).
plan=()
for est in "${ests[@]}"; do
    has_part sweep || break
    for w in "${wlist[@]}"; do
        for s in $(seq 1 "$seeds"); do
            plan+=("sweep-${short[$est]}-w$w-s$s|--set train.estimator=$est --set multipliers.kind=fixed --set constraints.lava=$lava_d --set constraints.lava_lambda=$w --set constraints.battery=0.1 --set constraints.battery_lambda=$battery_weight --set run.seed=$s")
        done
    done
done
for est in "${ests[@]}"; do
    has_part one || break
    for s in $(seq 1 "$seeds"); do
        plan+=("one-${short[$est]}-s$s|--set train.estimator=$est --set constraints.lava=$lava_d --set run.seed=$s")
    done
done
# the same with a slower multiplier (lr 0.01 instead of 0.03) for both estimators: without the
# battery constraint nothing stops a learner that avoids lava before it finds the goal from
# parking (docs/results-gridworld.md)
for est in "${ests[@]}"; do
    has_part oneslow || break
    for s in $(seq 1 "$seeds"); do
        plan+=("oneslow-${short[$est]}-s$s|--set train.estimator=$est --set constraints.lava=$lava_d --set multipliers.lr=0.01 --set run.seed=$s")
    done
done
for est in "${ests[@]}"; do
    has_part two || break
    for s in $(seq 1 "$seeds"); do
        plan+=("two-${short[$est]}-s$s|--set train.estimator=$est --set constraints.lava=$lava_d --set constraints.battery=0.1 --set run.seed=$s")
    done
done
for s in $(seq 1 "$seeds"); do
    has_part grpo || break
    plan+=("grpo-s$s|--config @UNCONSTRAINED@ --set train.estimator=grpo --set run.seed=$s")
done

total=${#plan[@]}
t_start=$SECONDS
trained=0
t_trained=0
echo "gridworld study: $total runs in $out (cgrpo: $cgrpo)"
for i in "${!plan[@]}"; do
    name=${plan[$i]%%|*}
    read -r -a args <<<"${plan[$i]#*|}"
    for a in "${!args[@]}"; do
        [ "${args[$a]}" = @UNCONSTRAINED@ ] && args[$a]="$out/unconstrained.ini"
    done
    dir="$out/runs/$name"
    k=$((i + 1))
    if [ -f "$dir/summary.json" ] && [ -f "$dir/eval.json" ]; then
        echo "[$k/$total] $name: done before, skipped"
        continue
    fi
    t0=$SECONDS
    if [ ! -f "$dir/summary.json" ]; then
        rm -rf "$dir" # an interrupted run starts over, so every run has the same budget
        if ! "$cgrpo" train --no-progress --actors "$actors" --run-dir "$dir" "${args[@]}" \
            "${common[@]}" >"$out/logs/$name.log" 2>&1; then
            echo "gridworld_study: training $name failed; the end of $out/logs/$name.log:" >&2
            tail -n 15 "$out/logs/$name.log" >&2
            exit 1
        fi
        trained=$((trained + 1))
    fi
    if ! "$cgrpo" eval "$dir" --episodes "$episodes" --json >"$dir/eval.json.tmp" 2>>"$out/logs/$name.log"; then
        echo "gridworld_study: evaluating $name failed (see $out/logs/$name.log)" >&2
        exit 1
    fi
    mv "$dir/eval.json.tmp" "$dir/eval.json"
    dt=$((SECONDS - t0))
    t_trained=$((t_trained + dt))
    left=""
    if [ "$trained" -gt 0 ]; then
        left=", about $(fmt_time $((t_trained / trained * (total - k)))) left"
    fi
    echo "[$k/$total] $name: $(fmt_time $dt) (elapsed $(fmt_time $((SECONDS - t_start)))$left)"
done

# ---------------------------------------------------------------------------- tables
# json NAME KEY: a number from an eval.json (flat, written by cgrpo eval --json)
json() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" "$out/runs/$1/eval.json"; }


# collect PREFIX KEY: values of KEY over the seeds of runs PREFIX-s<seed>
collect() {
    local v=()
    for s in $(seq 1 "$seeds"); do v+=("$(json "$1-s$s" "$2")"); done
    stats "${v[@]}"
}

# inband PREFIX KEY D: "n/N" seeds whose rate lies in [0.25 D, 2 D]
inband() {
    local n=0
    for s in $(seq 1 "$seeds"); do
        if awk -v x="$(json "$1-s$s" "$2")" -v d="$3" 'BEGIN {exit !(x >= 0.25 * d && x <= 2 * d)}'; then
            n=$((n + 1))
        fi
    done
    echo "$n/$seeds"
}

# effw RUN: mean over the last 10 iterations of lambda_R, reward_eff_weight, and per cost
# -lambda_k and <cost>_eff_weight, plus the largest |eff - w| over the whole run
effw() {
    awk -F, -v costs="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; nc = split(costs, c, " "); next }
        { rows[NR] = $0 }
        END {
            n = NR - 1; from = n > 10 ? n - 9 : 1
            for (r = 2; r <= NR; r++) {
                split(rows[r], f, ",")
                d = f[col["reward_eff_weight"]] - f[col["lambda_reward"]]; if (d < 0) d = -d
                if (d > dmax) dmax = d
                for (j = 1; j <= nc; j++) {
                    d = f[col[c[j] "_eff_weight"]] + f[col[c[j] "_lambda"]]; if (d < 0) d = -d
                    if (d > dmax) dmax = d
                }
                if (r - 1 >= from) {
                    m++; lr += f[col["lambda_reward"]]; er += f[col["reward_eff_weight"]]
                    for (j = 1; j <= nc; j++) { lk[j] += f[col[c[j] "_lambda"]]; ek[j] += f[col[c[j] "_eff_weight"]] }
                }
            }
            printf "%.3f / %.3f", lr / m, er / m
            for (j = 1; j <= nc; j++) printf " | %.3f / %.3f", -lk[j] / m, ek[j] / m
            printf " | %.3f\n", dmax
        }' "$out/runs/$1/metrics.csv"
}

# lasthalf RUN D: over the second half of a run's iterations (training batches, metrics.csv):
# "mean goal rate, mean lava rate, iterations with lava rate > D" (the final policy is one
# snapshot; a learner whose route cycles is seen here)
lasthalf() {
    awk -F, -v d="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { g[NR] = $col["goal_rate"]; l[NR] = $col["lava_rate"] }
        END {
            from = int(NR / 2) + 1
            for (r = from; r <= NR; r++) { sg += g[r]; sl += l[r]; n++; over += (l[r] > d) }
            printf "%.4f %.4f %d\n", sg / n, sl / n, over
        }' "$out/runs/$1/metrics.csv"
}

# ratio RUN COST: Σ(−<cost>_eff_weight) / Σ(reward_eff_weight) over the run's iterations
ratio() {
    awk -F, -v c="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { r += $col["reward_eff_weight"]; k -= $col[c "_eff_weight"] }
        END { printf "%.4f\n", (r > 0 ? k / r : 0) }' "$out/runs/$1/metrics.csv"
}

tables="$out/tables.md"
{
    echo "# Gridworld study: tables"
    echo
    echo "Written by \`launch/experiments/gridworld_study.sh$([ "$smoke" = 1 ] && echo ' --smoke')\`; seeds 1..$seeds;"
    echo "layout ${layout:-default}, parts $parts, lava threshold d = $lava_d${iterations:+, $iterations iterations per run};"
    echo "every final policy evaluated over $episodes episodes (\`cgrpo eval --episodes $episodes\`)."
    echo "Cells: mean ± standard deviation over seeds (n − 1)."
    echo
    if has_part sweep; then
        echo "## 1. Fixed-penalty sweep (multipliers frozen, λ_R = 1, battery weight $battery_weight)"
        echo
        echo "| lava weight | ScAdv goal | ScAdv lava | ScAdv battery | ScRew goal | ScRew lava | ScRew battery |"
        echo "|---:|---:|---:|---:|---:|---:|---:|"
        : >"$out/plots/sweep.dat"
        for j in "${!wlist[@]}"; do
            w=${wlist[$j]}
            row="| $w"
            dat="$j $w"
            for e in scadv screw; do
                for key in goal_rate lava battery; do
                    read -r m sd < <(collect "sweep-$e-w$w" "$key")
                    row="$row | $(pm "$m" "$sd")"
                    dat="$dat $m $sd"
                done
            done
            echo "$row |"
            echo "$dat" >>"$out/plots/sweep.dat"
        done
        echo
        echo "The weights each estimator actually applied: Σ(−eff. lava) / Σ(eff. reward) and"
        echo "Σ(−eff. battery) / Σ(eff. reward) over all iterations of a run (the logged effective"
        echo "weights, DESIGN.md §4), mean ± std over seeds. Intended: lava weight / 1 and $battery_weight / 1."
        echo
        echo "| lava weight | ScAdv lava/reward | ScAdv battery/reward | ScRew lava/reward | ScRew battery/reward |"
        echo "|---:|---:|---:|---:|---:|"
        for w in "${wlist[@]}"; do
            row="| $w"
            for e in scadv screw; do
                for c in lava battery; do
                    v=()
                    for s in $(seq 1 "$seeds"); do v+=("$(ratio "sweep-$e-w$w-s$s" "$c")"); done
                    read -r m sd < <(stats "${v[@]}")
                    row="$row | $(pm "$m" "$sd")"
                done
            done
            echo "$row |"
        done
        echo
    fi
    for exp in one oneslow two; do
        has_part $exp || continue
        if [ $exp = one ]; then
            echo "## 2. Constrained, one constraint (lava ≤ $lava_d, battery not enforced)"
            costs="lava"
        elif [ $exp = oneslow ]; then
            echo "## 2b. Constrained, one constraint, slower multiplier (\`--set multipliers.lr=0.01\`, both estimators)"
            costs="lava"
        else
            echo "## 3. Constrained, two constraints (lava ≤ $lava_d, battery ≤ 0.1)"
            costs="lava battery"
        fi
        echo
        echo "Final evaluation; \"in band\" counts seeds whose rate ends within [0.25 d, 2 d]."
        echo
        if [ $exp != two ]; then
            echo "| estimator | goal | lava | lava in band | battery (not enforced) |"
            echo "|---|---:|---:|---:|---:|"
        else
            echo "| estimator | goal | lava | lava in band | battery | battery in band |"
            echo "|---|---:|---:|---:|---:|---:|"
        fi
        for e in scadv screw; do
            read -r gm gs < <(collect "$exp-$e" goal_rate)
            read -r lm ls < <(collect "$exp-$e" lava)
            read -r bm bs < <(collect "$exp-$e" battery)
            lb=$(inband "$exp-$e" lava "$lava_d")
            if [ $exp != two ]; then
                echo "| ${pretty[$e]} | $(pm "$gm" "$gs") | $(pm "$lm" "$ls") | $lb | $(pm "$bm" "$bs") |"
            else
                echo "| ${pretty[$e]} | $(pm "$gm" "$gs") | $(pm "$lm" "$ls") | $lb | $(pm "$bm" "$bs") | $(inband "$exp-$e" battery 0.1) |"
            fi
        done
        echo
        echo "Training batches over the second half of each run (metrics.csv; the final policy above is"
        echo "one snapshot, this shows a learner whose route cycles), mean ± std over seeds:"
        echo
        echo "| estimator | goal | lava | iterations with lava > d, per seed |"
        echo "|---|---:|---:|---|"
        for e in scadv screw; do
            gv=() lv=() ov=()
            for s in $(seq 1 "$seeds"); do
                read -r g l o < <(lasthalf "$exp-$e-s$s" "$lava_d")
                gv+=("$g") lv+=("$l") ov+=("$o")
            done
            read -r gm gs < <(stats "${gv[@]}")
            read -r lm ls < <(stats "${lv[@]}")
            echo "| ${pretty[$e]} | $(pm "$gm" "$gs") | $(pm "$lm" "$ls") | ${ov[*]} of $(($(wc -l <"$out/runs/$exp-$e-s1/metrics.csv") / 2)) |"
        done
        echo
        echo "Multipliers against effective weights, each the mean of the last 10 iterations"
        echo "(signed: w = (λ_R, −λ_k)); last column: the largest |effective weight − w| in the run."
        echo
        head="| run | λ_R / eff. reward"
        sep="|---|---:"
        for c in $costs; do head="$head | −λ $c / eff. $c"; sep="$sep|---:"; done
        echo "$head | max abs. difference |"
        echo "$sep|---:|"
        for e in scadv screw; do
            for s in $(seq 1 "$seeds"); do
                echo "| ${pretty[$e]} seed $s | $(effw "$exp-$e-s$s" "$costs") |"
            done
        done
        echo
    done
    echo "## 4. Summary (final evaluation)"
    echo
    echo "| run | enforced | goal | lava | battery |"
    echo "|---|---|---:|---:|---:|"
    summary_row() {
        read -r gm gs < <(collect "$1" goal_rate)
        read -r lm ls < <(collect "$1" lava)
        read -r bm bs < <(collect "$1" battery)
        echo "| $2 | $3 | $(pm "$gm" "$gs") | $(pm "$lm" "$ls") | $(pm "$bm" "$bs") |"
    }
    ! has_part grpo || summary_row grpo "GRPO (costs ignored)" "none"
    for e in scadv screw; do
        ! has_part one || summary_row one-$e "${pretty[$e]}" "lava ≤ $lava_d"
    done
    for e in scadv screw; do
        ! has_part oneslow || summary_row oneslow-$e "${pretty[$e]}, multiplier lr 0.01" "lava ≤ $lava_d"
    done
    for e in scadv screw; do
        ! has_part two || summary_row two-$e "${pretty[$e]}" "lava ≤ $lava_d, battery ≤ 0.1"
    done
} >"$tables"

# ---------------------------------------------------------------------------- plots
runs_of() { for s in $(seq 1 "$seeds"); do echo "$out/runs/$1-s$s"; done; }
plots=()
for exp in one oneslow two grpo; do
    has_part $exp || continue
    if [ $exp = grpo ]; then
        mapfile -t ra < <(runs_of grpo)
        args=(--group "GRPO" "${ra[@]}")
        title="unconstrained GRPO"
    else
        mapfile -t ra < <(runs_of "$exp-scadv")
        mapfile -t rr < <(runs_of "$exp-screw")
        args=(--group ScAdv "${ra[@]}" --group ScRew "${rr[@]}")
        case $exp in
        one) title="lava <= $lava_d" ;;
        oneslow) title="lava <= $lava_d, multiplier lr 0.01" ;;
        *) title="lava <= $lava_d, battery <= 0.1" ;;
        esac
    fi
    mapfile -t made < <("$cgrpo" plot --band --out "$out/plots/$exp" --title "$title" "${args[@]}")
    plots+=("${made[@]}")
    # the same runs one line each: a band hides a split between seeds
    mkdir -p "$out/plots/$exp/runs"
    mapfile -t made < <("$cgrpo" plot --out "$out/plots/$exp/runs" --title "$title, each seed" "${args[@]}")
    plots+=("${made[@]}")
done

if has_part sweep; then
# the sweep: goal and lava rate against the lava weight (evenly spaced, labelled by value)
(
    cd "$out/plots"
    gnuplot <<EOF
set terminal pngcairo size 1400,450 font 'sans,10' noenhanced
set output 'sweep.png'
set multiplot layout 1,3 title 'Fixed-penalty sweep, battery weight $battery_weight: final policies, mean +- std over seeds (ScAdv and ScRew drawn slightly apart)'
set grid lc rgb '#dddddd'
set xlabel 'lava weight (lambda_R = 1)'
set key below horizontal Left reverse
set offsets 0.3, 0.3, 0, 0
set yrange [-0.02:1.05]
set title 'goal rate'
plot 'sweep.dat' using (\$1-0.04):3:4:xtic(2) with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title 'ScAdv', \
     '' using (\$1+0.04):9:10 with yerrorlines lc rgb '#d62728' lw 2 pt 5 title 'ScRew'
set title 'lava rate'
plot 'sweep.dat' using (\$1-0.04):5:6:xtic(2) with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title 'ScAdv', \
     '' using (\$1+0.04):11:12 with yerrorlines lc rgb '#d62728' lw 2 pt 5 title 'ScRew'
set title 'battery rate'
plot 'sweep.dat' using (\$1-0.04):7:8:xtic(2) with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title 'ScAdv', \
     '' using (\$1+0.04):13:14 with yerrorlines lc rgb '#d62728' lw 2 pt 5 title 'ScRew'
unset multiplot
EOF
)
plots+=("$out/plots/sweep.png")
fi
for p in "${plots[@]}"; do
    [ -s "$p" ] || { echo "gridworld_study: plot $p is missing or empty" >&2; exit 1; }
done

echo
cat "$tables"
echo "tables: $tables"
echo "plots:"
printf '  %s\n' "${plots[@]}"
echo "done in $(fmt_time $((SECONDS - t_start)))"
