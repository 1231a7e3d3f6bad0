#!/usr/bin/env bash
# CLI tests for `info`, `bench`, `forward --dump` and `init-weights` with the shipped face model.
source "$(dirname "$0")/lib.sh" "$@"
check "cnndemo binary $CNNDEMO is executable" test -x "$CNNDEMO"
fetch_photos
CFG="$SRC/models/face.cfg"
IMG="$T/sample2.jpg"
cp "$PHOTOS/sample2.jpg" "$IMG" 2>/dev/null

# ---- 10. info and bench ----------------------------------------------------------------------
run info "$CNNDEMO" info -m face
expect_rc 0 "info -m face"
cp "$OUT" info.txt
grep_in "info: 19 layers" '(^|[^0-9])19 layers' info.txt
grep_in "info: 193817 parameters" '(^|[^0-9])193817 parameters' info.txt
grep_in "info: the weights check is OK with 775288 bytes" '^weights: .*face\.weights: OK.*775288' info.txt
count_lines "info: a table row per layer (0..18)" '^ +[0-9]+ +(conv|max|region) ' info.txt 19

run bench "$CNNDEMO" bench -m face -n 3 -w 1 --per-layer
expect_rc 0 "bench -m face -n 3 -w 1 --per-layer"
grep_in "bench prints the median" 'median [0-9.]+' "$OUT"
grep_in "bench says 3 timed runs" '3 timed runs' "$OUT"
count_lines "bench --per-layer: a row per layer (0..18)" \
  '^ +[0-9]+ +(conv|max|region) +[0-9]+x[0-9]+x[0-9]+ -> [0-9]+x[0-9]+x[0-9]+ .*[0-9.]+ +[0-9.]+ *$' "$OUT" 19
run benchj "$CNNDEMO" bench -m face -n 3 -w 1 --json
expect_rc 0 "bench --json"
py benchjson "$OUT" 3
run benchi "$CNNDEMO" bench -m face -n 2 -w 0 -t 1 "$IMG"
expect_rc 0 "bench on an image with -t 1 -w 0"

# ---- 11. forward --dump --all ------------------------------------------------------------------
run fwd "$CNNDEMO" forward "$IMG" -m face --dump dump --all
expect_rc 0 "forward IMG -m face --dump dump --all"
check "dump/input.npy written" test -f dump/input.npy
py npy dump info.txt 19
no_tmp_files "no *.tmp.* files left in the dump folder" dump

# ---- init-weights: seeded, deterministic, loadable ---------------------------------------------
run iw1 "$CNNDEMO" init-weights --cfg "$CFG" -o r7a.weights --seed 7
expect_rc 0 "init-weights --seed 7"
cat "$OUT" "$ERR" >iw1.txt
grep_in "init-weights says the weights are SEEDED RANDOM" "SEEDED RANDOM" iw1.txt
run iw2 "$CNNDEMO" init-weights --cfg "$CFG" -o r7b.weights --seed 7
run iw3 "$CNNDEMO" init-weights --cfg "$CFG" -o r8.weights --seed 8
check "init-weights: size matches the cfg (775288 bytes)" test "$(stat -c %s r7a.weights 2>/dev/null)" = 775288
check "init-weights: same seed, same bytes" cmp -s r7a.weights r7b.weights
check "init-weights: another seed, other bytes" bash -c '! cmp -s r7a.weights r8.weights'
run iw4 "$CNNDEMO" info --cfg "$CFG" --weights r7a.weights
expect_rc 0 "info accepts the random weights"
grep_in "info: the random weights check OK" 'r7a\.weights: OK' "$OUT"

finish
