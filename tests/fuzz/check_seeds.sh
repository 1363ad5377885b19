#!/usr/bin/env bash
# check_seeds.sh GEN_CORPUS CORPUS_DIR: gen_corpus still writes the committed generated seeds
# (corpus/msg/, and corpus/ckpt/every_dtype*), byte for byte. After a deliberate change of
# the wire format or the checkpoint layout, regenerate them: gen_corpus tests/fuzz/corpus.
set -euo pipefail
gen=$1
corpus=$2
out=$(mktemp -d "${TMPDIR:-/tmp}/cgrpo-seeds.XXXXXX")
trap 'rm -rf "$out"' EXIT
mkdir "$out/msg" "$out/ckpt"
"$gen" "$out"
n=0
for f in "$out"/msg/* "$out"/ckpt/*; do
    rel=${f#"$out"/}
    if ! cmp -s "$f" "$corpus/$rel"; then
        echo "check_seeds: $rel differs from tests/fuzz/corpus/$rel (hint: regenerate with" \
             "$gen tests/fuzz/corpus if the format changed on purpose)" >&2
        exit 1
    fi
    n=$((n + 1))
done
echo "check_seeds: $n generated seeds match tests/fuzz/corpus"
