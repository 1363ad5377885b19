#!/usr/bin/env bash
# test_experiment_smoke: the gridworld study's pipeline end to end in its smoke mode
# (launch/experiments/gridworld_study.sh --smoke): every run dir with summary.json and
# eval.json, the Markdown tables, non-empty PNGs, a second invocation that skips every run;
# the trade-off layout's parts (--layout tradeoff);
# and `cgrpo plot`'s errors for a missing/empty metrics.csv and an unknown column.
# usage: test_experiment_smoke.sh CGRPO_BINARY STUDY_SCRIPT WORK_DIR
set -euo pipefail

cgrpo=$1
script=$2
work=$3
if ! command -v gnuplot >/dev/null; then
    echo "SKIP: gnuplot is not installed (apt-get install gnuplot-nox)"
    exit 77
fi
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}
rm -rf "$work"
mkdir -p "$work"
out="$work/study"

start=$SECONDS
if ! bash "$script" --smoke --out "$out" --cgrpo "$cgrpo" >"$work/first.log" 2>&1; then
    tail -n 30 "$work/first.log"
    echo "FAIL: the smoke study exited non-zero (log: $work/first.log)"
    exit 1
fi
echo "smoke study: $((SECONDS - start)) s"

# 2 weights x 2 estimators (sweep) + 2 (one constraint) + 2 (one, slow multiplier) + 2 (two)
# + 1 (GRPO), one seed
runs=(sweep-scadv-w0-s1 sweep-scadv-w1-s1 sweep-screw-w0-s1 sweep-screw-w1-s1
    one-scadv-s1 one-screw-s1 oneslow-scadv-s1 oneslow-screw-s1 two-scadv-s1 two-screw-s1 grpo-s1)
for r in "${runs[@]}"; do
    d="$out/runs/$r"
    [ -s "$d/metrics.csv" ] || fail "$d/metrics.csv missing or empty"
    [ -s "$d/summary.json" ] || fail "$d/summary.json missing"
    if [ -s "$d/eval.json" ]; then
        grep -q '"goal_rate":[0-9]' "$d/eval.json" || fail "$d/eval.json has no goal_rate"
        grep -q '"lava":[0-9]' "$d/eval.json" || fail "$d/eval.json has no lava rate"
        grep -q '"episodes":100,' "$d/eval.json" || fail "$d/eval.json is not over 100 episodes"
    else
        fail "$d/eval.json missing"
    fi
done
[ "$(ls "$out/runs" | wc -l)" -eq ${#runs[@]} ] || fail "expected ${#runs[@]} run dirs in $out/runs"

t="$out/tables.md"
if [ -s "$t" ]; then
    for h in "## 1. Fixed-penalty sweep" "## 2. Constrained, one constraint" "## 2b. " \
        "## 3. Constrained, two constraints" "## 4. Summary" "| lava weight | ScAdv goal" \
        "| GRPO (costs ignored) | none |" "| lava weight | ScAdv lava/reward"; do
        grep -qF "$h" "$t" || fail "tables.md lacks '$h'"
    done
    # ScAdv applies exactly the weights it is given (lava 1, battery 0.1, reward 1)
    grep -qF "| 1 | 1.000 ± 0.000 | 0.100 ± 0.000 |" "$t" || fail "tables.md: ScAdv's applied weights at lava weight 1 are not (1, 0.1)"
    # every table row has numbers, not empty cells
    rows=$(grep -c '^| [0-9A-Z]' "$t" || true)
    [ "$rows" -ge 20 ] || fail "tables.md has $rows table rows, expected >= 20"
    if grep -q '| *|' "$t"; then fail "tables.md has an empty cell"; fi
    if grep -qi 'nan' "$t"; then fail "tables.md has a NaN"; fi
else
    fail "$t missing"
fi

pngs=(sweep.png)
for e in one oneslow two; do
    for f in goal_rate lava_rate battery_rate multipliers eff_weights-ScAdv eff_weights-ScRew; do
        pngs+=("$e/$f.png")
    done
done
pngs+=(grpo/goal_rate.png grpo/lava_rate.png grpo/eff_weights.png)
for p in "${pngs[@]}"; do
    f="$out/plots/$p"
    if [ -s "$f" ]; then
        [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "$f is not a PNG"
    else
        fail "$f missing or empty"
    fi
done

# resumable: a second invocation trains nothing
bash "$script" --smoke --out "$out" --cgrpo "$cgrpo" >"$work/second.log" 2>&1 || fail "second invocation failed"
n=$(grep -c 'done before, skipped' "$work/second.log" || true)
[ "$n" -eq ${#runs[@]} ] || fail "second invocation skipped $n of ${#runs[@]} runs"

# a run with eval.json removed is evaluated again, not retrained
rm "$out/runs/grpo-s1/eval.json"
v0=$(stat -c %Y "$out/runs/grpo-s1/summary.json")
bash "$script" --smoke --out "$out" --cgrpo "$cgrpo" >"$work/third.log" 2>&1 || fail "third invocation failed"
[ -s "$out/runs/grpo-s1/eval.json" ] || fail "eval.json not rewritten"
[ "$(stat -c %Y "$out/runs/grpo-s1/summary.json")" = "$v0" ] || fail "grpo-s1 was retrained"

# the trade-off layout's parts: sweep, lava only at d = 0.1 and GRPO, on that layout
trade="$work/tradeoff"
if bash "$script" --smoke --layout tradeoff --out "$trade" --cgrpo "$cgrpo" >"$work/tradeoff.log" 2>&1; then
    [ "$(ls "$trade/runs" | wc -l)" -eq 7 ] || fail "tradeoff: expected 7 run dirs in $trade/runs"
    grep -q "^layout = tradeoff" "$trade/runs/one-scadv-s1/config.ini" ||
        fail "tradeoff: one-scadv-s1 did not run on the tradeoff layout"
    for h in "layout tradeoff, parts sweep,one,grpo, lava threshold d = 0.1" "## 1. Fixed-penalty sweep" \
        "## 2. Constrained, one constraint (lava ≤ 0.1, battery not enforced)" "| ScAdv | lava ≤ 0.1 |"; do
        grep -qF "$h" "$trade/tables.md" || fail "tradeoff tables.md lacks '$h'"
    done
    if grep -qF "## 3. Constrained, two" "$trade/tables.md"; then fail "tradeoff ran part two"; fi
    [ -s "$trade/plots/sweep.png" ] || fail "tradeoff: no sweep.png"
else
    tail -n 20 "$work/tradeoff.log"
    fail "the tradeoff smoke study exited non-zero (log: $work/tradeoff.log)"
fi
bash "$script" --smoke --parts one,bogus --out "$work/bad" --cgrpo "$cgrpo" >"$work/bad.log" 2>&1 &&
    fail "an unknown part was accepted"
grep -qF "unknown part 'bogus'" "$work/bad.log" || fail "unknown part: $(cat "$work/bad.log")"

# cgrpo plot: clear errors
mkdir -p "$work/empty" "$work/header"
: >"$work/empty/metrics.csv"
head -n 1 "$out/runs/grpo-s1/metrics.csv" >"$work/header/metrics.csv"
expect_err() { # expect_err TEXT ARGS...: cgrpo plot fails and says TEXT
    local text=$1
    shift
    if "$cgrpo" plot "$@" >"$work/err.out" 2>&1; then
        fail "cgrpo plot $* succeeded"
    elif ! grep -qF "$text" "$work/err.out"; then
        fail "cgrpo plot $*: expected '$text', got: $(cat "$work/err.out")"
    fi
}
expect_err "no-such-dir/metrics.csv" "$work/no-such-dir"
expect_err "is empty" "$work/empty"
expect_err "has a header but no rows" "$work/header"
expect_err "unknown column 'no_such_col'" --out "$work/p" --columns goal_rate,no_such_col "$out/runs/grpo-s1"
expect_err "unknown column 'nope'" --out "$work/p" --x nope "$out/runs/grpo-s1"
expect_err "need --out" "$out/runs/grpo-s1" "$out/runs/one-scadv-s1"
"$cgrpo" plot --help | grep -q "usage: cgrpo plot" || fail "cgrpo plot --help"

# a line of another width (an edited file) is skipped and said, the rest plotted
mkdir -p "$work/ragged"
{ head -n 3 "$out/runs/grpo-s1/metrics.csv"; echo "1,2,3"; tail -n +4 "$out/runs/grpo-s1/metrics.csv"; } \
    >"$work/ragged/metrics.csv"
"$cgrpo" plot --out "$work/pr" --columns goal_rate "$work/ragged" >"$work/ragged.out" 2>&1 ||
    fail "cgrpo plot with a ragged line: $(cat "$work/ragged.out")"
grep -qF "skipped 1 line(s) whose field count is not the header's (the first: line 4)" "$work/ragged.out" ||
    fail "cgrpo plot did not say it skipped the ragged line: $(cat "$work/ragged.out")"
[ -s "$work/pr/goal_rate.png" ] || fail "no PNG for the ragged run"

# a name with quotes, spaces and a gnuplot command reaches gnuplot as a string, not a command
odd="$work/it's a \"run\"; system('touch pwned')"
mkdir -p "$odd"
cp "$out/runs/grpo-s1/metrics.csv" "$odd/"
(cd "$work" && "$cgrpo" plot --x env_steps --columns goal_rate --title "t'\"; system('touch pwned')" \
    "$odd") >"$work/odd.out" 2>&1 || fail "cgrpo plot on an odd directory name: $(cat "$work/odd.out")"
[ -s "$odd/plots/goal_rate.png" ] || fail "no PNG for the odd directory name"
[ ! -e "$work/pwned" ] || fail "a directory name ran a gnuplot command"

if [ "$fails" -gt 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
