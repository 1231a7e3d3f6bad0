#!/usr/bin/env bash
# CLI tests for failures: bad images in a batch (exit 4), bad weights and cfg files (exit 3),
# usage errors (exit 2), classify on a detector (exit 2), unwritable outputs (exit 5), and the
# --help / --version texts.
source "$(dirname "$0")/lib.sh" "$@"
check "cnndemo binary $CNNDEMO is executable" test -x "$CNNDEMO"
fetch_photos
CFG="$SRC/models/face.cfg"
WTS="$SRC/weights/face.weights"
IMG="$T/img/sample2.jpg"
mkdir -p img && cp "$PHOTOS/sample2.jpg" "$PHOTOS/sample1.jpg" img/ 2>/dev/null

# ---- 3. corrupt images among good ones: exit 4, the good ones still processed -----------------
mkdir -p batch
cp img/sample2.jpg batch/good1.jpg
cp img/sample1.jpg batch/good2.jpeg
size=$(stat -c %s img/sample1.jpg 2>/dev/null || echo 0)
head -c $((size / 2)) img/sample1.jpg >batch/truncated.jpg
echo "this is not a PNG" >batch/text.png
: >batch/zero.jpg
run bad3 "$CNNDEMO" detect -o out3 -f jsonl batch
expect_rc 4 "detect on a folder with 3 bad images and 2 good ones"
check "good1.jpg annotated despite the bad ones" test -f out3/images/batch/good1.jpg
check "good2.jpeg annotated despite the bad ones" test -f out3/images/batch/good2.jpeg
for b in truncated.jpg text.png zero.jpg; do
  count_lines "stderr reports batch/$b on exactly one line" "batch/$b" "$ERR" 1
  check "no output image for the bad batch/$b" test ! -e "out3/images/batch/$b"
done
py results out3/results.jsonl 5 --model face --same "$OUT"
check "results.jsonl: the 3 bad inputs have a non-null error naming them and no detections" \
  "$PY" -c '
import json, sys
objs = {o["path"]: o for o in map(json.loads, open("out3/results.jsonl"))}
bad = ["batch/truncated.jpg", "batch/text.png", "batch/zero.jpg"]
ok = all(isinstance(objs[p]["error"], str) and p in objs[p]["error"] and objs[p]["detections"] == []
         for p in bad)
good = all(objs[p]["error"] is None for p in ["batch/good1.jpg", "batch/good2.jpeg"])
sys.exit(not (ok and good))'
no_tmp_files "no *.tmp.* files left after a run with failures" out3

# a single missing file is an input failure too
run bad3b "$CNNDEMO" detect -o out3b -f none img/sample2.jpg img/does-not-exist.jpg
expect_rc 4 "detect with one missing file among the inputs"
count_lines "stderr names img/does-not-exist.jpg once" 'img/does-not-exist\.jpg' "$ERR" 1

# ---- 4. weights file of the wrong size, or with a NaN ---------------------------------------
head -c 775284 "$WTS" >short.weights
{ cat "$WTS"; printf 'abcd'; } >long.weights
check "the shipped weights are 775288 bytes" test "$(stat -c %s "$WTS")" -eq 775288
run w4a "$CNNDEMO" detect --cfg "$CFG" --weights short.weights -o out4 "$IMG"
expect_rc 3 "detect with weights 4 bytes short"
grep_in "stderr names short.weights" 'short\.weights' "$ERR"
grep_in "stderr gives the actual size 775284" '775284' "$ERR"
grep_in "stderr gives the expected size 775288" '775288' "$ERR"
count_lines "the weights problem is one line on stderr" '.' "$ERR" 1
run w4b "$CNNDEMO" detect --cfg "$CFG" --weights long.weights -o out4 "$IMG"
expect_rc 3 "detect with weights 4 bytes long"
grep_in "stderr names long.weights" 'long\.weights' "$ERR"
grep_in "stderr gives the actual size 775292" '775292' "$ERR"
grep_in "stderr gives the expected size 775288" '775288' "$ERR"
check "no output folder made when the model fails to load" test ! -e out4
run w4c "$CNNDEMO" info --cfg "$CFG" --weights short.weights
expect_rc 3 "info with a short weights file"
grep_in "info: stderr gives both sizes" '775284.*775288|775288.*775284' "$ERR"
cp "$WTS" nan.weights
printf '\x00\x00\xc0\x7f' | dd of=nan.weights bs=1 seek=100 conv=notrunc 2>/dev/null
run w4d "$CNNDEMO" detect --cfg "$CFG" --weights nan.weights -o out4 "$IMG"
expect_rc 3 "detect with a NaN in the weights"
grep_in "stderr names nan.weights" 'nan\.weights' "$ERR"
run w4e "$CNNDEMO" detect --cfg "$CFG" --weights no-such.weights -o out4 "$IMG"
expect_rc 3 "detect with a missing weights file"
grep_in "stderr names no-such.weights" 'no-such\.weights' "$ERR"
run w4f "$CNNDEMO" detect -m no-such-model -o out4 "$IMG"
expect_rc 3 "detect -m with an unknown model name"

# ---- 5. cfg errors name file:line -------------------------------------------------------------
# each mutation of face.cfg: NAME SED-SCRIPT MARKER (a regex finding the offending line)
cfg_case() {
  local name=$1 script=$2 marker=$3 what=$4 line
  sed "$script" "$CFG" >"$name.cfg"
  line=$(grep -n -m1 -E -- "$marker" "$name.cfg" | cut -d: -f1)
  if [ -z "$line" ] || cmp -s "$CFG" "$name.cfg"; then fail "cfg case $name was not generated"; return; fi
  run "cfg_$name" "$CNNDEMO" detect --cfg "$name.cfg" --weights "$WTS" -o out5 "$IMG"
  expect_rc 3 "cfg with $what"
  grep_in "$what: stderr names $name.cfg:$line" "$name.cfg:$line([^0-9]|$)" "$ERR"
  count_lines "$what: one line on stderr" '.' "$ERR" 1
}
cfg_case unknown_key '0,/^filters=32$/s//filters=32\nbogus_key=1/' '^bogus_key=' "an unknown key"
cfg_case unknown_section '0,/^\[maxpool\]$/s//[frobnicate]\nsize=2\n\n[maxpool]/' '^\[frobnicate\]' "an unknown section"
cfg_case bad_number '0,/^filters=32$/s//filters=3x2/' '^filters=3x2' "a bad number (filters=3x2)"
cfg_case fraction '0,/^filters=64$/s//filters=64.5/' '^filters=64\.5' "a fractional integer (filters=64.5)"
cfg_case duplicate '0,/^size=3$/s//size=3\nsize=3 # duplicate/' '^size=3 # duplicate' "a duplicate key"
cfg_case activation '0,/^activation=leaky$/s//activation=sparkly/' '^activation=sparkly' "an unknown activation"
run cfg_info "$CNNDEMO" info --cfg unknown_key.cfg
expect_rc 3 "info on a cfg with an unknown key"
grep_in "info: stderr names unknown_key.cfg:LINE" 'unknown_key\.cfg:[0-9]+' "$ERR"

# ---- 8. usage errors exit 2, --help exits 0 ---------------------------------------------------
usage_case() {
  local what=$1
  shift
  run usage "$CNNDEMO" "$@"
  expect_rc 2 "usage error: $what"
  check "usage error: $what: stdout is empty" test ! -s "$OUT"
  check "usage error: $what: message on stderr" test -s "$ERR"
}
usage_case "unknown option" detect --bogus "$IMG"
grep_in "unknown option is named" '--bogus' "$ERR"
usage_case "missing value for -o" detect "$IMG" -o
usage_case "missing value for --conf" detect "$IMG" --conf
usage_case "--conf 2" detect --conf 2 "$IMG"
grep_in "--conf 2: the option is named" '--conf' "$ERR"
usage_case "--conf abc" detect --conf abc "$IMG"
usage_case "--conf -0.1" detect --conf -0.1 "$IMG"
usage_case "--iou 1.5" detect --iou 1.5 "$IMG"
usage_case "-t 0" detect -t 0 "$IMG"
usage_case "-f xml" detect -f xml "$IMG"
usage_case "no inputs" detect
usage_case "no inputs (classify)" classify
usage_case "unknown command" frobnicate "$IMG"
grep_in "unknown command is named" 'frobnicate' "$ERR"
usage_case "no command" 
usage_case "bench: missing value for -n" bench -m face -n
usage_case "info: unknown option" info -m face --bogus
usage_case "forward: no --dump" forward -m face "$IMG"
check "no output folder made by any usage error" test ! -e cnndemo-out

for c in detect classify bench info forward init-weights; do
  run help "$CNNDEMO" "$c" --help
  expect_rc 0 "$c --help"
  grep_in "$c --help prints its usage on stdout" "^usage: cnndemo $c" "$OUT"
  run help "$CNNDEMO" help "$c"
  expect_rc 0 "help $c"
  grep_in "help $c prints its usage on stdout" "^usage: cnndemo $c" "$OUT"
done
run help "$CNNDEMO" --help
expect_rc 0 "cnndemo --help"
for c in detect classify bench info forward init-weights; do
  grep_in "cnndemo --help lists $c" "^ +$c " "$OUT"
done
run version "$CNNDEMO" --version
expect_rc 0 "cnndemo --version"
grep_in "--version prints the program version" '^cnndemo [0-9]+\.[0-9]+' "$OUT"
grep_in "--version prints the OpenBLAS config line" '^OpenBLAS.*OpenBLAS [0-9]+\.[0-9]+' "$OUT"
grep_in "--version names the OpenBLAS kernel family" 'kernel' "$OUT"

# ---- 12. classify with a detector --------------------------------------------------------------
run cls12 "$CNNDEMO" classify -m face -o out12 "$IMG"
expect_rc 2 "classify -m face (a detector)"
grep_in "classify on a detector points to detect" 'detect' "$ERR"
check "classify on a detector writes no outputs" test ! -e out12

# ---- 13. outputs that cannot be written: exit 5, nothing partial --------------------------------
mkdir -p w13 && echo "I am a file" >w13/blocker
before=$(cd w13 && find . | sort)
run out13a "$CNNDEMO" detect -o w13/blocker/sub -f none "$IMG"
expect_rc 5 "-o under a regular file"
grep_in "stderr names the blocking file" 'w13/blocker' "$ERR"
check "the blocking file is untouched" test "$(cat w13/blocker)" = "I am a file"
after=$(cd w13 && find . | sort)
check "no files created anywhere by the failed run" test "$before" = "$after"

mkdir -p w13b/images && echo x >w13b/images/img
run out13b "$CNNDEMO" detect -o w13b -f none img/sample2.jpg
expect_rc 5 "output image folder blocked by a file"
grep_in "stderr names the blocked path" 'w13b/images/img' "$ERR"
no_tmp_files "no *.tmp.* files left after the failed image write" w13b
check "no image written through the blocked folder" test "$(find w13b -name '*.jpg' | wc -l)" -eq 0

echo x >w13c
run out13c "$CNNDEMO" detect -o out13c -f none --csv w13c/r.csv img/sample2.jpg
expect_rc 5 "--csv under a regular file"
grep_in "stderr names the csv path" 'w13c/r\.csv' "$ERR"
no_tmp_files "no *.tmp.* files left after the failed csv write" out13c
check "no csv temporaries next to the blocker" test "$(find . -maxdepth 1 -name '*r.csv*' | wc -l)" -eq 0

finish
