#!/usr/bin/env bash
# test_docs_scaling.sh CGRPO SRC: every `cgrpo scaling` command that README.md and
# docs/performance.md give (in code blocks; backslash continuations joined) runs as written,
# with short settings appended (2 actor counts, B = 4, 2 updates): each count gets a row
# (none "not measured"), one progress line, no learner log lines and no gnuplot warnings, and
# the CSV and plot are written.
. "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh" "$@"
cmds=$(awk '/^ *```/ {code = !code; next}
            code { line = (cont ? line " " : "") $0; cont = sub(/\\$/, "", line)
                   if (!cont) { if (line ~ /cgrpo scaling /) print line; line = "" } }' \
           "$src/README.md" "$src/docs/performance.md")
[ -n "$cmds" ] || fail "no cgrpo scaling command found in README.md or docs/performance.md"
grep -q 'cgrpo scaling' <<<"$(sed -n '/^```/,/^```/p' "$src/README.md")" || fail "README.md lost its study command"
n=0
while IFS= read -r line; do
    n=$((n + 1))
    args=${line#*cgrpo scaling }
    args=${args%%#*} # a trailing comment
    out="$tmp/study-$n"
    echo "== cgrpo scaling $args (+ short settings)"
    # shellcheck disable=SC2086 # the documented arguments, split as a shell would
    "$cgrpo" scaling $args --actors 1,2 --set train.groups=4 --set actor.instances=4 \
        --updates 2 --duration 60 --seconds 0.3 --set learner.device=cpu --out "$out" \
        >"$tmp/log-$n" 2>&1 || fail "study $n exited non-zero: $(cat "$tmp/log-$n")"
    for a in 1 2; do
        grep -Eq "^ +$a +[0-9]" "$tmp/log-$n" || fail "study $n: no row for $a actor(s): $(cat "$tmp/log-$n")"
        [ "$(grep -c "^  $a actors\?: " "$tmp/log-$n")" -eq 1 ] ||
            fail "study $n: not one progress line for $a actor(s): $(cat "$tmp/log-$n")"
    done
    ! grep -q "not measured" "$tmp/log-$n" || fail "study $n: a count was not measured: $(cat "$tmp/log-$n")"
    ! grep -qi "warning\|^INFO" "$tmp/log-$n" || fail "study $n: warnings or log lines: $(cat "$tmp/log-$n")"
    [ "$(tail -n +2 "$out/scaling.csv" | grep -c .)" -eq 2 ] || fail "study $n: scaling.csv has not 2 rows"
    if command -v gnuplot >/dev/null; then
        [ -s "$out/scaling.png" ] || fail "study $n: no scaling.png"
    fi
done <<<"$cmds"
# one count alone: its plot without gnuplot's empty-range warnings
"$cgrpo" scaling --actors 2 --sim sleep:100 --set train.groups=4 --set actor.instances=4 \
    --updates 2 --duration 60 --seconds 0.3 --set learner.device=cpu --out "$tmp/one" \
    >"$tmp/log-one" 2>&1 || fail "one count: $(cat "$tmp/log-one")"
! grep -qi "warning" "$tmp/log-one" || fail "one count: warnings: $(cat "$tmp/log-one")"
# the same --out again: refused before it starts (its runs would be measured as this study's)
if "$cgrpo" scaling --actors 2 --sim sleep:100 --out "$tmp/one" >"$tmp/log-again" 2>&1; then
    fail "a study into a directory with an earlier study's runs was not refused"
fi
grep -q "holds an earlier study's run for 2 actors" "$tmp/log-again" || fail "again: $(cat "$tmp/log-again")"
echo "$n passed, 0 failed"
