# study_lib.sh: what the study scripts share, sourced after they set `study` (their name for
# messages) and `repo`:
#   study_find_cgrpo         sets cgrpo (--cgrpo PATH, else build/launch/cgrpo, else PATH's)
#                            and checks it and gnuplot
#   study_pin_cgrpo          copies cgrpo to $out/bin and uses the copy, so that rebuilding
#                            cgrpo while the study runs is safe
#   study_run_plan PLAN...   trains and evaluates "name|args" runs, `jobs` at a time, into
#                            $out/runs/NAME with logs in $out/logs (resumable: a run with
#                            summary.json, eval.json and eval-greedy.json is skipped); every
#                            run gets "${common[@]}" before its own arguments and is evaluated
#                            on `episodes` episodes, sampled and greedy
#   study_common_option ARGS...  parses one of the options the studies share (below)
#   study_need OPTION ARGS...    exits 2 unless OPTION has a value
#   fmt_time S, stats V..., pm MEAN SD, num FILE KEY, csv RUN HOW:COLUMN   (below)

study_need() { [ $# -ge 2 ] || { echo "$study: $1 needs a value (hint: --help)" >&2; exit 2; }; }

# study_common_option ARGS...: takes one of the options every study has (--out, --cgrpo,
# --seeds, --iterations, --episodes, --jobs, --docs with a value; --smoke; -h/--help, which
# calls the script's usage) off the front of ARGS into the variable of its name; sets
# study_shift to the words it used, 0 when ARGS does not start with one of them.
study_common_option() {
    study_shift=2
    case "$1" in
    --out | --cgrpo | --seeds | --iterations | --episodes | --jobs | --docs)
        study_need "$@"
        printf -v "${1#--}" '%s' "$2"
        ;;
    --smoke) smoke=1; study_shift=1 ;;
    -h | --help) usage; exit 0 ;;
    *) study_shift=0 ;;
    esac
}

fmt_time() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
# stats VALUES...: "mean sd" (sd over seeds with n-1; 0 for one value)
stats() { printf '%s\n' "$@" | awk '{s+=$1; q+=$1*$1; n++} END {m=s/n; v=(n>1)?(q-n*m*m)/(n-1):0; if(v<0)v=0; printf "%.4f %.4f\n", m, sqrt(v)}'; }
pm() { printf '%.3f ± %.3f' "$1" "$2"; }
# num FILE KEY: the first number after "KEY": in a JSON file (cgrpo eval --json's overall
# values come before any nested ones)
num() { grep -o "\"$2\":[-0-9.eE+]*" "$1" | head -n 1 | cut -d: -f2; }
# csv RUN HOW:COLUMN: a column of metrics.csv reduced over the iterations; HOW is mean (all
# rows), tail (mean of the last quarter) or last (the last row); 0 if there is no such column
csv() {
    awk -F, -v what="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; split(what, w, ":"); c = col[w[2]]; next }
        { n++; v[n] = c ? $c : 0 }
        END {
            from = w[1] == "tail" ? n - int(n / 4) + 1 : w[1] == "last" ? n : 1
            if (from < 1) from = 1
            for (r = from; r <= n; r++) { s += v[r]; k++ }
            printf "%.6f\n", k ? s / k : 0
        }' "$out/runs/$1/metrics.csv"
}

study_find_cgrpo() {
    if [ -z "${cgrpo:-}" ]; then
        if [ -x "$repo/build/launch/cgrpo" ]; then
            cgrpo="$repo/build/launch/cgrpo"
        elif command -v cgrpo >/dev/null; then
            cgrpo=$(command -v cgrpo)
        else
            echo "$study: no cgrpo binary (hint: bash launch/setup.sh, or pass --cgrpo PATH)" >&2
            exit 1
        fi
    fi
    [ -x "$cgrpo" ] || { echo "$study: $cgrpo is not executable (hint: --cgrpo PATH)" >&2; exit 1; }
    command -v gnuplot >/dev/null || {
        echo "$study: gnuplot not found (hint: apt-get install gnuplot-nox)" >&2
        exit 1
    }
}

study_pin_cgrpo() {
    mkdir -p "$out/bin"
    cp "$cgrpo" "$out/bin/cgrpo.tmp" && mv "$out/bin/cgrpo.tmp" "$out/bin/cgrpo"
    echo "$study: cgrpo copied from $cgrpo"
    cgrpo="$out/bin/cgrpo"
}

# study_run_one NAME ARGS...: trains (unless done) and evaluates one run; a failure leaves
# $out/logs/NAME.failed.
study_run_one() {
    local name=$1 dir="$out/runs/$1" log="$out/logs/$1.log" t0=$SECONDS
    shift
    if [ ! -f "$dir/summary.json" ]; then
        rm -rf "$dir" # an interrupted run starts over, so every run has the same budget
        if ! "$cgrpo" train --no-progress --run-dir "$dir" "${common[@]}" "$@" >"$log" 2>&1; then
            echo "training failed" >"$out/logs/$name.failed"
            return 1
        fi
    fi
    for mode in sample greedy; do
        local f="$dir/eval.json" flag=()
        [ $mode = greedy ] && { f="$dir/eval-greedy.json"; flag=(--greedy); }
        if ! "$cgrpo" eval "$dir" --episodes "$episodes" --json "${flag[@]}" >"$f.tmp" 2>>"$log"; then
            echo "evaluation failed" >"$out/logs/$name.failed"
            return 1
        fi
        mv "$f.tmp" "$f"
    done
    echo "  $name: $(fmt_time $((SECONDS - t0)))"
}

study_run_plan() {
    local total=$# t_start=$SECONDS started=0 entry name args dir
    mkdir -p "$out/runs" "$out/logs"
    rm -f "$out"/logs/*.failed
    echo "$study: $total runs in $out, $jobs at a time (cgrpo: $cgrpo)"
    for entry in "$@"; do
        name=${entry%%|*}
        read -r -a args <<<"${entry#*|}"
        dir="$out/runs/$name"
        if [ -f "$dir/summary.json" ] && [ -f "$dir/eval.json" ] && [ -f "$dir/eval-greedy.json" ]; then
            continue
        fi
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
            wait -n || true
        done
        study_run_one "$name" "${args[@]}" &
        started=$((started + 1))
    done
    wait || true
    local failed f n
    failed=$(ls "$out"/logs/*.failed 2>/dev/null || true)
    if [ -n "$failed" ]; then
        for f in $failed; do
            n=$(basename "$f" .failed)
            echo "$study: $n: $(cat "$f"); the end of $out/logs/$n.log:" >&2
            tail -n 15 "$out/logs/$n.log" >&2
        done
        exit 1
    fi
    echo "trained and evaluated $started runs ($((total - started)) done before) in $(fmt_time $((SECONDS - t_start)))"
}
