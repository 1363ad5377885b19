#!/usr/bin/env bash
# test_format.sh SRC: every C, header and CUDA file of the tree is as clang-format (the
# committed .clang-format) writes it. 77 = skipped without clang-format. To fix:
#     clang-format -i FILE...
set -euo pipefail
src=$1
command -v clang-format >/dev/null || {
    echo "SKIP: needs clang-format (bash launch/setup.sh deps installs it)"
    exit 77
}
mapfile -t files < <(cd "$src" && find actor common learner launch proto tests \
    \( -name '*.c' -o -name '*.h' -o -name '*.cu' \) -not -path '*/corpus/*' | sort)
[ ${#files[@]} -gt 0 ] || { echo "FAIL: no sources under $src"; exit 1; }
bad=()
for f in "${files[@]}"; do
    (cd "$src" && clang-format --dry-run -Werror "$f" >/dev/null 2>&1) || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
    echo "FAIL: ${#bad[@]} of ${#files[@]} files differ from clang-format's output:"
    printf '  %s\n' "${bad[@]}"
    echo "(hint: clang-format -i on them; the style is $src/.clang-format)"
    exit 1
fi
echo "${#files[@]} files formatted; 1 passed, 0 failed"
