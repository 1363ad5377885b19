#!/usr/bin/env bash
# instruct_study.sh: the MDP-GRPO study on the instruct simulator (issue 5,
# docs/results-instruct.md): GRPO, MT-GRPO, DA-GRPO, PT-GRPO, DA-PT-GRPO and MDP-GRPO at
# G = 4 and G = 8 with the same episodes per run, several seeds, plus MDP-GRPO composed
# with a Constrained GRPO verbosity constraint; every final policy evaluated on the fixed
# held-out prompts (greedy and sampled); tables (Markdown) and plots (PNG).
# Resumable: a run whose summary.json, eval.json and eval-greedy.json exist is skipped.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: launch/experiments/instruct_study.sh [options]
Trains every method of the MDP-GRPO study on instruct (configs/instruct.ini), evaluates each
final policy on the held-out prompts, writes tables.md and plots/ under the output directory.
Run it again to resume: finished runs are skipped.

  --out DIR        output directory (default runs/instruct-study; runs/ is git-ignored)
  --cgrpo PATH     the cgrpo binary (default build/launch/cgrpo, else cgrpo on PATH)
  --seeds N        seeds 1..N (default 5)
  --iterations N   policy updates per run, 256 episodes each (default 200)
  --episodes N     held-out prompts per evaluation (default 1000)
  --jobs N         training runs at once (default 3; a run waits on its actor more than it
                   computes, so 3 fit on 2 cores)
  --docs DIR       also copy the main plots there as instruct-*.png (e.g. docs/img;
                   instruct-PROFILE-*.png with --profile paper or long)
  --profile NAME   default: configs/instruct.ini, methods GRPO, MT, DA, PT, DA-PT, MDP-GRPO
                   and the hot variants, MDP-GRPO with a verbosity constraint;
                   paper: configs/instruct-paper.ini (one optimiser step per batch, base KL
                   0.01, top-p 0.9) warm-started from a 25-iteration GRPO run on
                   configs/instruct.ini (trained first, as out/warm), methods GRPO, MT,
                   DA-PT and MDP-GRPO each with the paper's and the code's anchor, and the
                   asymmetric KL alone; long: configs/instruct-long.ini (64-token texts, 26
                   letters, all-or-nothing reward), the paper profile's methods
  --smoke          a quick check of the pipeline: 1 seed, 5 small iterations, 60 prompts;
                   starts over every time (removes the output directory's runs)
  -h, --help       this help

Full study: 85 training runs (about 12 s each), about 6 minutes on an idle 2-core machine;
--profile paper: 70 runs and the warm start; --profile long: 70 runs of about a minute
(22 minutes with 3 jobs).
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
study=instruct_study
. "$here/study_lib.sh"
out=runs/instruct-study
cgrpo=""
seeds=5
iterations=200
episodes=1000
jobs=3
docs=""
smoke=0
profile=default

while [ $# -gt 0 ]; do
    study_common_option "$@"
    [ "$study_shift" -gt 0 ] && { shift "$study_shift"; continue; }
    case "$1" in
    --profile) study_need "$@"; profile=$2; shift 2 ;;
    *) echo "$study: unknown option '$1' (hint: --help)" >&2; exit 2 ;;
    esac
done
for v in "$seeds" "$iterations" "$episodes" "$jobs"; do
    [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] ||
        { echo "instruct_study: '$v' is not a whole number >= 1 (hint: --help)" >&2; exit 2; }
done

study_find_cgrpo
case $profile in
default) config="$repo/configs/instruct.ini" ;;
paper) config="$repo/configs/instruct-paper.ini" ;;
long) config="$repo/configs/instruct-long.ini" ;;
*) echo "instruct_study: unknown profile '$profile' (hint: default, paper or long)" >&2; exit 2 ;;
esac
[ -r "$config" ] || { echo "instruct_study: $config not found" >&2; exit 1; }

# Equal sample budget: every run sees iterations x 256 episodes (G = 4: 64 groups, G = 8: 32).
per_iter=256
iters=$iterations
common=(--config "$config" --set "run.iterations=$iterations" --set run.checkpoint_every=0)
if [ "$smoke" = 1 ]; then
    seeds=1
    episodes=60
    per_iter=32
    iters=5
    common=(--config "$config" --set run.iterations=5 --set run.checkpoint_every=0
        --set train.minibatches=2 --set actor.instances=8)
fi

# The smoke check always starts over, so that it trains every time it runs.
[ "$smoke" = 1 ] && rm -rf "$out/runs" "$out/logs" "$out/plots" "$out/tables.md" "$out/warm"
mkdir -p "$out/runs" "$out/logs" "$out/plots" "$out/bin"
out=$(cd "$out" && pwd)
study_pin_cgrpo

# The paper profile's warm start: plain GRPO on configs/instruct.ini for 25 iterations (held-out
# HSR ~0.3), the policy every run starts from and its KL reference (configs/instruct-paper.ini).
if [ "$profile" = paper ]; then
    warm_iters=25
    [ "$smoke" = 1 ] && warm_iters=2
    if [ ! -f "$out/warm/summary.json" ]; then
        rm -rf "$out/warm"
        "$cgrpo" train --no-progress --config "$repo/configs/instruct.ini" \
            --set "run.iterations=$warm_iters" --run-dir "$out/warm" >"$out/logs/warm.log" 2>&1 ||
            { echo "instruct_study: the warm start failed (log: $out/logs/warm.log)" >&2; exit 1; }
    fi
    common+=(--set "train.init=$out/warm")
fi

# The -hot variants sample at temperatures around and above 1 instead of DESIGN.md's
# 0.1 ... 1.0 schedule (a probe of the diversity argument; docs/results-instruct.md).
# The paper profile: each anchor form (stabilisers.anchor = paper | code), the asymmetric KL
# alone; schedule pairs: the methods whose training reward and advantage by temperature slot
# are tabled; key: the methods of the docs' plots.
if [ "$profile" != default ]; then
    methods=(grpo mt dapt daptc akl mdp mdpcd)
    sched_methods="mt mdp mdpcd"
    key_methods="grpo mt mdp mdpcd"
else
    methods=(grpo mt da pt dapt mdp mth mdph)
    sched_methods="mt mdp"
    key_methods="grpo mt mdp mdph"
fi
declare -A pretty=([grpo]=GRPO [mt]=MT-GRPO [da]=DA-GRPO [pt]=PT-GRPO [dapt]=DA-PT-GRPO
    [mdp]=MDP-GRPO [mth]=MT-GRPO-hot [mdph]=MDP-GRPO-hot [mdpc]="MDP-GRPO + verbosity <= 0.1"
    [daptc]=DA-PT-GRPO-code [akl]=AKL-GRPO [mdpcd]=MDP-GRPO-code)
# (names without spaces: the by-C plot splits its list of names on them)
[ "$profile" != default ] && pretty[dapt]=DA-PT-GRPO-paper && pretty[mdp]=MDP-GRPO-paper
declare -A temps=([4]="0.1,0.4,0.7,1.0" [8]="0.1,0.23,0.36,0.49,0.61,0.74,0.87,1.0")
declare -A hot=([4]="0.8,1.0,1.2,1.4" [8]="0.8,0.89,0.97,1.06,1.14,1.23,1.31,1.4")
method_args() { # METHOD G
    local t="--set stabilisers.temperatures=${temps[$2]}" da="--set stabilisers.dual_anchor=true"
    local pt="--set stabilisers.prospect=true" kl="--set stabilisers.asym_kl=true"
    local th="--set stabilisers.temperatures=${hot[$2]}" code="--set stabilisers.anchor=code"
    case $1 in
    grpo) echo "" ;;
    mt) echo "$t" ;;
    da) echo "$da" ;;
    pt) echo "$pt" ;;
    dapt) echo "$da $pt" ;;
    mdp) echo "$t $da $pt $kl" ;;
    mth) echo "$th" ;;
    mdph) echo "$th $da $pt $kl" ;;
    mdpc) echo "$t $da $pt $kl --set train.estimator=scalarized_advantages --set constraints.verbosity=0.1" ;;
    daptc) echo "$da $pt $code" ;;
    akl) echo "$kl" ;;
    mdpcd) echo "$t $da $pt $kl $code" ;;
    esac
}

# The plan: "name|arguments" per run.
plan=()
for G in 4 8; do
    for m in "${methods[@]}"; do
        for s in $(seq 1 "$seeds"); do
            plan+=("g$G-$m-s$s|--set train.group_size=$G --set train.groups=$((per_iter / G)) --set run.seed=$s $(method_args "$m" "$G")")
        done
    done
done
for s in $(seq 1 "$seeds"); do
    [ "$profile" != default ] && break
    plan+=("g8-mdpc-s$s|--set train.group_size=8 --set train.groups=$((per_iter / 8)) --set run.seed=$s $(method_args mdpc 8)")
done

t_start=$SECONDS
study_run_plan "${plan[@]}"

# ---------------------------------------------------------------------------- tables
# byc FILE C KEY: KEY of by_n_constraints["C"] (empty when the set had no such prompt)
byc() { grep -o "\"$2\":{\"episodes\":[0-9]*,\"hsr\":[-0-9.eE+]*,\"ssr\":[-0-9.eE+]*}" "$1" |
    sed -n "s/.*\"$3\":\([-0-9.eE+]*\).*/\1/p"; }
# stats VALUES...: "mean sd" (sd over seeds with n - 1; 0 for one seed)
# over PREFIX CMD...: "mean sd" of CMD's output (with RUN replaced) over the seeds
over() {
    local p=$1 v=() s
    shift
    for s in $(seq 1 "$seeds"); do v+=("$("${@//RUN/$p-s$s}")"); done
    stats "${v[@]}"
}
cell() { read -r m sd < <(over "$@"); pm "$m" "$sd"; }

tables="$out/tables.md"
E="$out/runs"
{
    echo "# Instruct study: tables"
    echo
    echo "Written by \`launch/experiments/instruct_study.sh$([ "$smoke" = 1 ] && echo ' --smoke')\`:"
    echo "seeds 1..$seeds, $iters iterations x $per_iter episodes per run"
    echo "(G = 4: $((per_iter / 4)) groups, G = 8: $((per_iter / 8)) groups per update); every final policy"
    echo "evaluated on the first $episodes held-out prompts (\`cgrpo eval --episodes $episodes --json\`, with"
    echo "and without \`--greedy\`). Cells: mean ± standard deviation over seeds (n − 1)."
    echo
    for G in 4 8; do
        echo "## G = $G: held-out satisfaction, zero-variance groups, KL"
        echo
        echo "HSR: every constraint met; SSR: mean fraction met. \"zero-var\": fraction of"
        echo "training groups whose G rewards were all equal (mean over iterations). KL: mean"
        echo "KL(policy ‖ initial policy) over the states of the sampled held-out texts."
        echo
        echo "| method | HSR greedy | SSR greedy | HSR sampled | SSR sampled | zero-var | KL to initial |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        for m in "${methods[@]}"; do
            p="g$G-$m"
            echo "| ${pretty[$m]} | $(cell "$p" num "$E/RUN/eval-greedy.json" hsr) |" \
                "$(cell "$p" num "$E/RUN/eval-greedy.json" ssr) |" \
                "$(cell "$p" num "$E/RUN/eval.json" hsr) | $(cell "$p" num "$E/RUN/eval.json" ssr) |" \
                "$(cell "$p" csv RUN mean:frac_zero_std_reward) | $(cell "$p" num "$E/RUN/eval.json" kl_init) |"
        done
        echo
        echo "### G = $G: held-out HSR (greedy) by number of constraints"
        echo
        echo "| method | C=1 | C=2 | C=3 | C=4 | C=5 | C=6 |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        : >"$out/plots/hsr_by_c_g$G.dat"
        for m in "${methods[@]}"; do
            row="| ${pretty[$m]}"
            for c in 1 2 3 4 5 6; do
                read -r hm hs < <(over "g$G-$m" byc "$E/RUN/eval-greedy.json" "$c" hsr)
                row="$row | $(pm "$hm" "$hs")"
                printf '%s %s %s %s\n' "${pretty[$m]}" "$c" "$hm" "$hs" >>"$out/plots/hsr_by_c_g$G.dat"
            done
            echo "$row |"
        done
        echo
        echo "### G = $G: held-out SSR (greedy) by number of constraints"
        echo
        echo "| method | C=1 | C=2 | C=3 | C=4 | C=5 | C=6 |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        for m in "${methods[@]}"; do
            row="| ${pretty[$m]}"
            for c in 1 2 3 4 5 6; do row="$row | $(cell "g$G-$m" byc "$E/RUN/eval-greedy.json" "$c" ssr)"; done
            echo "$row |"
        done
        echo
        echo "### G = $G: training signals"
        echo
        echo "Training batches (at the sampling temperatures). Means over all iterations: reward,"
        echo "episodes with a negative advantage; over the last quarter of the iterations: the"
        echo "zero-variance groups and the two kinds of them, every member meeting the whole"
        echo "prompt (\"all met\") or none meeting any constraint (\"none met\"); the rest share one"
        echo "partial score. Last iteration: the k3 KL estimate to the reference (0 where no KL"
        echo "term is on) and the policy entropy."
        echo
        echo "| method | train reward | adv < 0 | zero-var (last ¼) | all met | none met | k3 KL (last) | entropy (last) |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        for m in "${methods[@]}"; do
            p="g$G-$m"
            echo "| ${pretty[$m]} | $(cell "$p" csv RUN mean:reward_mean) | $(cell "$p" csv RUN mean:adv_neg_frac) |" \
                "$(cell "$p" csv RUN tail:frac_zero_std_reward) | $(cell "$p" csv RUN tail:frac_groups_all_goal) |" \
                "$(cell "$p" csv RUN tail:frac_groups_all_zero) | $(cell "$p" csv RUN last:kl) | $(cell "$p" csv RUN last:entropy) |"
        done
        echo
        for what in reward adv; do
            if [ $what = reward ]; then
                echo "### G = $G: training reward by sampling temperature (mean over iterations)"
            else
                echo "### G = $G: mean advantage by sampling temperature slot (mean over iterations)"
                echo
                echo "The advantage each member slot received (\`adv_t<τ>\` in metrics.csv): under plain"
                echo "GRPO every slot averages 0; a schedule that favours some slots shows here."
            fi
            echo
            scheds="temps hot"
            [ "$profile" != default ] && scheds="temps"
            for sched in $scheds; do
                if [ $sched = temps ]; then pair=$sched_methods; IFS=, read -r -a tl <<<"${temps[$G]}"
                else pair="mth mdph"; IFS=, read -r -a tl <<<"${hot[$G]}"; fi
                head="| method"
                sep="|---"
                for t in "${tl[@]}"; do head="$head | τ=$t"; sep="$sep|---:"; done
                echo "$head |"
                echo "$sep|"
                for m in $pair; do
                    row="| ${pretty[$m]}"
                    for t in "${tl[@]}"; do
                        col="${what}_t$(awk -v t="$t" 'BEGIN { printf "%g", t }')"
                        row="$row | $(cell "g$G-$m" csv RUN "mean:$col")"
                    done
                    echo "$row |"
                done
                echo
            done
        done
    done
    if [ "$profile" = default ]; then # the composed runs belong to the default profile
        echo "## MDP-GRPO composed with Constrained GRPO (G = 8)"
        echo
        echo "MDP-GRPO with the verbosity cost (text longer than 8 tokens) enforced at 0.1 through"
        echo "scalarized advantages and softmax multipliers, against MDP-GRPO without it."
        echo
        echo "| run | HSR greedy | SSR greedy | verbosity (sampled) | verbosity (train, last ¼) | λ verbosity (last) |"
        echo "|---|---:|---:|---:|---:|---:|"
        for m in mdp mdpc; do
            p="g8-$m"
            lam="–"
            [ $m = mdpc ] && lam=$(cell "$p" csv RUN last:verbosity_lambda)
            echo "| ${pretty[$m]} | $(cell "$p" num "$E/RUN/eval-greedy.json" hsr) | $(cell "$p" num "$E/RUN/eval-greedy.json" ssr) |" \
                "$(cell "$p" num "$E/RUN/eval.json" verbosity) | $(cell "$p" csv RUN tail:verbosity_rate) | $lam |"
        done
    fi
} >"$tables"

# ---------------------------------------------------------------------------- plots
runs_of() { for s in $(seq 1 "$seeds"); do echo "$E/$1-s$s"; done; }
plots=()
for G in 4 8; do
    args=()
    for m in "${methods[@]}"; do
        mapfile -t r < <(runs_of "g$G-$m")
        args+=(--group "${pretty[$m]}" "${r[@]}")
    done
    mapfile -t made < <("$cgrpo" plot --band --x episodes --out "$out/plots/g$G" \
        --title "instruct, G = $G" --columns hsr,ssr,frac_zero_std_reward,kl,entropy "${args[@]}")
    plots+=("${made[@]}")
    # The same for four methods only, easier to read (these go to the docs).
    args=()
    for m in $key_methods; do
        mapfile -t r < <(runs_of "g$G-$m")
        args+=(--group "${pretty[$m]}" "${r[@]}")
    done
    mapfile -t made < <("$cgrpo" plot --band --x episodes --out "$out/plots/g$G-key" \
        --title "instruct, G = $G" --columns hsr,frac_zero_std_reward "${args[@]}")
    plots+=("${made[@]}")
    names=""
    for m in "${methods[@]}"; do names="$names ${pretty[$m]}"; done
    (
        cd "$out/plots"
        gnuplot <<EOF
set terminal pngcairo size 900,420 font 'sans,10' noenhanced
set output 'hsr_by_c_g$G.png'
set title 'instruct, G = $G: held-out HSR (greedy) by number of constraints, mean +- std over seeds'
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics lc rgb '#dddddd'
set yrange [0:1.05]
set xlabel 'constraints in the prompt'
set ylabel 'HSR'
set key outside right top
plot for [m in "$names"] '< grep "^'.m.' " hsr_by_c_g$G.dat' using 3:4:xtic(2) title m
EOF
    )
    plots+=("$out/plots/hsr_by_c_g$G.png")
done
for p in "${plots[@]}"; do
    [ -s "$p" ] || { echo "instruct_study: plot $p is missing or empty" >&2; exit 1; }
done
if [ -n "$docs" ]; then
    mkdir -p "$docs"
    prefix=instruct
    [ "$profile" != default ] && prefix=instruct-$profile
    for G in 4 8; do
        for f in hsr frac_zero_std_reward; do cp "$out/plots/g$G-key/$f.png" "$docs/$prefix-g$G-$f.png"; done
        cp "$out/plots/hsr_by_c_g$G.png" "$docs/$prefix-g$G-hsr-by-c.png"
    done
fi

# The smoke test's checks: every run has its files, the tables their rows.
for i in "${!plan[@]}"; do
    name=${plan[$i]%%|*}
    for f in summary.json metrics.csv eval.json eval-greedy.json; do
        [ -s "$E/$name/$f" ] || { echo "instruct_study: $E/$name/$f is missing or empty" >&2; exit 1; }
    done
    grep -q '"hsr":' "$E/$name/eval.json" || { echo "instruct_study: $name/eval.json has no hsr" >&2; exit 1; }
done
for m in "${methods[@]}"; do
    grep -q "^| ${pretty[$m]} |" "$tables" || { echo "instruct_study: no row for $m in $tables" >&2; exit 1; }
done

echo
cat "$tables"
echo "tables: $tables"
echo "plots:"
printf '  %s\n' "${plots[@]}"
echo "done in $(fmt_time $((SECONDS - t_start)))"
