# lib.sh — shared helpers for tests/cli/test_*.sh. Source it with the test's arguments:
#   source "$(dirname "$0")/lib.sh" "$@"      # $1 = path to cnndemo, $2 = source dir
# Every test runs in a fresh temporary folder ($T, the current directory, removed on exit).
# Assertions count passes and failures; `finish` prints "N passed, M failed" as the last line and
# exits 1 when anything failed (or when nothing was checked). Nothing is ever skipped: a missing
# prerequisite (npm, python3-opencv, the binary) is a failure.
# shellcheck disable=SC2034  # OUT, ERR, PHOTOS, ... are used by the sourcing test scripts
set -u

CNNDEMO=${1:-}
SRC=${2:-}
PY=/usr/bin/python3                     # Debian's python3 with cv2 (not a pyenv on PATH)
PASS=0
FAIL=0
RC=0
if [ -z "$CNNDEMO" ] || [ -z "$SRC" ]; then
  echo "usage: bash $0 path/to/cnndemo source-dir" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
CNNDEMO=$(cd "$(dirname "$CNNDEMO")" && pwd)/$(basename "$CNNDEMO")
SRC=$(cd "$SRC" && pwd)
CHECK="$SRC/tests/cli/check.py"
T=$(mktemp -d "${TMPDIR:-/tmp}/cnndemo-cli.XXXXXX") || { echo "0 passed, 1 failed"; exit 1; }
trap 'cd /; rm -rf "$T"' EXIT
trap 'exit 129' HUP INT TERM PIPE       # so the EXIT trap cleans up on signals too
cd "$T" || exit 1
export NO_COLOR=1
unset CNNDEMO_HOME

pass() { PASS=$((PASS + 1)); echo "ok   - $1"; }
fail() {
  FAIL=$((FAIL + 1))
  echo "FAIL - $1"
  shift
  local l
  for l in "$@"; do printf '       %s\n' "$l"; done
}

# run NAME CMD... : runs CMD (stdin from $RUN_STDIN, default /dev/null), stdout to $T/NAME.out,
# stderr to $T/NAME.err, exit status in RC. A 300 s timeout turns a hang into a failure.
RUN_STDIN=/dev/null
run() {
  local name=$1
  shift
  timeout -k 5 300 "$@" <"$RUN_STDIN" >"$T/$name.out" 2>"$T/$name.err"
  RC=$?
  OUT="$T/$name.out"
  ERR="$T/$name.err"
}

show_err() { [ -s "$ERR" ] && echo "stderr: $(head -c 600 "$ERR" | tr '\n' '|')"; }

# expect_rc WANT WHAT : the last run's exit status
expect_rc() {
  if [ "$RC" -eq "$1" ]; then pass "$2 (exit $1)"; else fail "$2: exit $RC, want $1" "$(show_err)"; fi
}

# check WHAT CMD... : passes when CMD succeeds
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what" "command: $*"; fi
}

# grep_in WHAT ERE FILE / no_grep_in WHAT ERE FILE
grep_in() {
  if grep -Eq -- "$2" "$3"; then pass "$1"; else fail "$1" "no match for /$2/ in $(basename "$3"): $(head -c 400 "$3" | tr '\n' '|')"; fi
}
no_grep_in() {
  if grep -Eq -- "$2" "$3"; then fail "$1" "unexpected /$2/: $(grep -E -- "$2" "$3" | head -3 | tr '\n' '|')"; else pass "$1"; fi
}

# count_lines WHAT ERE FILE N : exactly N lines of FILE match
count_lines() {
  local n
  n=$(grep -Ec -- "$2" "$3")
  if [ "$n" -eq "$4" ]; then pass "$1"; else fail "$1" "$n lines match /$2/, want $4: $(head -c 400 "$3" | tr '\n' '|')"; fi
}

# make_classifier: writes cls.cfg (a small 32x32 classifier with batch-norm), cls.names (the
# ten Fashion-MNIST classes) and cls.weights (seeded random, seed 7) in the current folder.
make_classifier() {
cat > cls.cfg <<'CFG'
[net]
width=32
height=32
channels=3

[convolutional]
filters=8
size=3
stride=1
pad=1
batch_normalize=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=10
size=1
stride=1
activation=linear

[avgpool]

[softmax]
CFG
printf '%s\n' tshirt trouser pullover dress coat sandal shirt sneaker bag boot > cls.names
  run init "$CNNDEMO" init-weights --cfg cls.cfg -o cls.weights --seed 7
  expect_rc 0 "init-weights for the classifier cfg"
}

# pycount LABEL SCRIPT ARGS... : runs a python check script, counting each "PASS x" / "FAIL x"
# line it prints; a non-zero exit without a FAIL line (a crash) is a failure named LABEL.
pycount() {
  local label=$1 script=$2 out rc line nfail=0
  shift 2
  out=$("$PY" "$script" "$@" 2>&1)
  rc=$?
  while IFS= read -r line; do
    case "$line" in
      PASS\ *) pass "${line#PASS }" ;;
      FAIL\ *) fail "${line#FAIL }"; nfail=$((nfail + 1)) ;;
      *) [ -n "$line" ] && echo "       $line" ;;
    esac
  done <<<"$out"
  if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then fail "$label exited $rc" "$(echo "$out" | tail -5)"; fi
}
# py ARGS... : check.py through pycount.
py() { pycount "check.py $1" "$CHECK" "$@"; }

# no_tmp_files WHAT DIR : nothing named *.tmp.* left in DIR
no_tmp_files() {
  local left
  left=$(find "$2" -name '*.tmp.*' 2>/dev/null | head -5)
  if [ -z "$left" ]; then pass "$1"; else fail "$1" "left behind: $left"; fi
}

# fetch_photos : sets PHOTOS to the face-api demo folder (npm missing or offline = failure).
# ctest runs tests in parallel and fetch-face-api rebuilds its cache from scratch, so take a lock.
fetch_photos() {
  local pkg
  mkdir -p "$SRC/.cache"
  if pkg=$(flock -w 600 "$SRC/.cache/fetch-face-api.lock" "$SRC/scripts/fetch-face-api" 2>"$T/fetch.err" | tail -1) &&
    [ -f "$pkg/demo/sample1.jpg" ]; then
    PHOTOS="$pkg/demo"
    pass "scripts/fetch-face-api provides the face-api demo photos"
  else
    PHOTOS="$T/no-photos"
    fail "scripts/fetch-face-api provides the face-api demo photos (needs npm + registry)" \
      "$(head -c 400 "$T/fetch.err")"
  fi
}


finish() {
  if [ $((PASS + FAIL)) -eq 0 ]; then FAIL=1; echo "FAIL - no assertions ran"; fi
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
  exit $?
}
