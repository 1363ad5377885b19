# test_lib.sh: the prologue of the shell tests that take CGRPO SRC, sourced as
#   . "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh" "$@"
# Sets cgrpo and src from the arguments, a temporary directory tmp removed on exit, and
# fail MESSAGE (prints FAIL: MESSAGE, exits 1).
set -euo pipefail
cgrpo=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
