#!/usr/bin/env bash
# CLI tests for `synth tumour`: the file layout and counts, YOLO labels that parse, 8-bit grey
# PNGs, class folders of hard links, byte-identical re-runs, -n N as a prefix of a longer run,
# --lesion-prob 0, stale class files after a re-run, and usage errors (exit 2, one stderr line).
source "$(dirname "$0")/lib.sh" "$@"
check "cnndemo binary $CNNDEMO is executable" test -x "$CNNDEMO"

# sums DIR : one "sha256  path" line per file under DIR, sorted, paths relative to DIR
sums() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs -r sha256sum); }
nfiles() { find "$1" -type f 2>/dev/null | wc -l; }

# ---- a dataset of 40 slices -----------------------------------------------------------------
run gen "$CNNDEMO" synth tumour -n 40 --seed 5 -o ds
expect_rc 0 "synth tumour -n 40 --seed 5 -o ds"
grep_in "stderr says the data is SYNTHETIC and not patient data" 'SYNTHETIC.*not patient data' "$ERR"
check "40 images" test "$(nfiles ds/images)" -eq 40
check "40 label files" test "$(nfiles ds/labels)" -eq 40
check "40 class images in tumour/ + no_tumour/" test $(($(nfiles ds/classes/tumour) + $(nfiles ds/classes/no_tumour))) -eq 40
check "images are named 000000.png .. 000039.png" test -f ds/images/000000.png -a -f ds/images/000039.png -a ! -e ds/images/000040.png
check "tumour.names is the one line 'tumour'" test "$(cat ds/tumour.names)" = tumour
count_lines "manifest.csv: header + 40 rows" '.' ds/manifest.csv 41
grep_in "manifest.csv header" '^file,has_tumour,n_lesions,seed$' ds/manifest.csv
count_lines "manifest.csv rows name the image, 0/1, 0..3 lesions and seed 5" '^images/0000[0-3][0-9]\.png,[01],[0-3],5$' ds/manifest.csv 40
ntum=$(grep -c '^images/[0-9]*\.png,1,' ds/manifest.csv)
check "manifest's tumour rows ($ntum) = classes/tumour/ files" test "$ntum" -eq "$(nfiles ds/classes/tumour)"
check "some slices have lesions and some do not (p = 0.5)" test "$ntum" -ge 8 -a "$ntum" -le 32
no_tmp_files "no *.tmp.* files left" ds

check "labels parse: 'class cx cy w h', class 0, box inside [0,1]; empty iff no_tumour; n_lesions lines" "$PY" -c '
import csv, os, sys
bad = []
for row in csv.DictReader(open("ds/manifest.csv")):
    stem = os.path.basename(row["file"])[:-4]
    lines = open("ds/labels/%s.txt" % stem).read().splitlines()
    if len(lines) != int(row["n_lesions"]): bad.append((stem, "line count"))
    cls = "tumour" if row["has_tumour"] == "1" else "no_tumour"
    if not os.path.isfile("ds/classes/%s/%s.png" % (cls, stem)): bad.append((stem, "class file"))
    if (len(lines) > 0) != (row["has_tumour"] == "1"): bad.append((stem, "has_tumour"))
    for l in lines:
        f = l.split()
        c, cx, cy, w, h = int(f[0]), *map(float, f[1:])
        if len(f) != 5 or c != 0 or not (0 < w <= 1 and 0 < h <= 1): bad.append((stem, l))
        if cx - w / 2 < -1e-6 or cx + w / 2 > 1 + 1e-6 or cy - h / 2 < -1e-6 or cy + h / 2 > 1 + 1e-6:
            bad.append((stem, l))
print(bad[:5], file=sys.stderr)
sys.exit(1 if bad else 0)'

check "images are 8-bit greyscale 128x128 PNGs" "$PY" -c '
import glob, struct, sys
ok = True
for p in glob.glob("ds/images/*.png"):
    b = open(p, "rb").read(33)
    w, h, depth, colour = struct.unpack(">IIBB", b[16:26])
    ok &= b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR" and (w, h, depth, colour) == (128, 128, 8, 0)
sys.exit(not ok)'
f=$(find ds/classes/tumour -name '*.png' -printf '%f\n' | sort | head -1)
check "classes/tumour/$f is a hard link to images/$f" test -n "$f" -a "$(stat -c %i "ds/classes/tumour/$f" 2>/dev/null)" = "$(stat -c %i "ds/images/$f")"

# ---- determinism ----------------------------------------------------------------------------
sums ds >ds.sums
run gen2 "$CNNDEMO" synth tumour -n 40 --seed 5 -o ds2/
expect_rc 0 "the same command into another folder"
sums ds2 >ds2.sums
check "same -n/--seed/--size: identical sha256 for every file" cmp -s ds.sums ds2.sums
run gen3 "$CNNDEMO" synth tumour -n 40 --seed 5 -o ds
expect_rc 0 "the same command again into the same folder"
sums ds >ds3.sums
check "re-running into the same folder: identical sha256" cmp -s ds.sums ds3.sums
no_tmp_files "no *.tmp.* files left after the re-run" ds
run gen4 "$CNNDEMO" synth tumour -n 40 --seed 6 -o ds6
check "another seed: other images" bash -c '! cmp -s ds/images/000000.png ds6/images/000000.png'

run pre "$CNNDEMO" synth tumour -n 10 --seed 5 -o ds10
expect_rc 0 "synth -n 10 --seed 5"
check "-n 10 is a prefix of -n 40: the first 10 images and labels are identical" bash -c '
for i in 0 1 2 3 4 5 6 7 8 9; do
  cmp -s ds/images/00000$i.png ds10/images/00000$i.png && cmp -s ds/labels/00000$i.txt ds10/labels/00000$i.txt || exit 1
done'
check "-n 10 manifest is the first 10 rows of -n 40" cmp -s ds10/manifest.csv <(head -11 ds/manifest.csv)

# ---- options --------------------------------------------------------------------------------
run p0 "$CNNDEMO" synth tumour -n 12 --seed 5 --lesion-prob 0 -o ds
expect_rc 0 "--lesion-prob 0 into the existing folder"
check "--lesion-prob 0: every label of the 12 is empty" bash -c 'for i in $(seq -w 0 11); do test ! -s ds/labels/0000$i.txt || exit 1; done'
check "--lesion-prob 0: no stale tumour/ copy of slices 0..11 (moved to no_tumour/)" bash -c '
for i in $(seq -w 0 11); do test ! -e ds/classes/tumour/0000$i.png -a -f ds/classes/no_tumour/0000$i.png || exit 1; done'
count_lines "--lesion-prob 0: the manifest has 12 rows without tumour" ',0,0,5$' ds/manifest.csv 12
check "the anatomy does not depend on --lesion-prob: a lesion-free slice is unchanged" bash -c '
i=$(head -13 ds2/manifest.csv | grep -m1 ",0,0,5$" | cut -c8-13); test -n "$i" && cmp -s ds/images/$i.png ds2/images/$i.png'

run p1 "$CNNDEMO" synth tumour -n 8 --seed 2 --lesion-prob 1 --size 64 -o ds64
expect_rc 0 "--lesion-prob 1 --size 64"
check "--lesion-prob 1: all 8 in classes/tumour" test "$(nfiles ds64/classes/tumour)" -eq 8
check "--size 64: 64x64 PNG" "$PY" -c '
import struct, sys; b = open("ds64/images/000000.png", "rb").read(24); sys.exit(struct.unpack(">II", b[16:24]) != (64, 64))'

run big "$CNNDEMO" synth tumour -n 1000 --seed 1 -o ds1000
expect_rc 0 "synth tumour -n 1000 (128 px)"
check "1000 images" test "$(nfiles ds1000/images)" -eq 1000
check "lesion share of 1000 slices within 0.44..0.56" test "$(grep -c ',1,[1-3],1$' ds1000/manifest.csv)" -ge 440 -a \
  "$(grep -c ',1,[1-3],1$' ds1000/manifest.csv)" -le 560

run help "$CNNDEMO" synth --help
expect_rc 0 "synth --help"
grep_in "help says SYNTHETIC" 'SYNTHETIC' "$OUT"
for o in --count --seed --output --size --lesion-prob; do grep_in "help lists $o" "$o" "$OUT"; done
run help2 "$CNNDEMO" --help
grep_in "cnndemo --help lists synth" '^  synth ' "$OUT"

# ---- usage errors: exit 2, one line on stderr -----------------------------------------------
bad() {
  local what=$1
  shift
  run bad "$CNNDEMO" synth "$@"
  expect_rc 2 "$what"
  count_lines "$what: one line on stderr" '.' "$ERR" 1
}
bad "no dataset name" -n 5 -o x
bad "unknown dataset 'tumor'" tumor -n 5 -o x
bad "two dataset names" tumour tumour -n 5 -o x
bad "missing -n" tumour -o x
bad "missing -o" tumour -n 5
bad "-n 0" tumour -n 0 -o x
bad "-n abc" tumour -n abc -o x
bad "-n 1000001" tumour -n 1000001 -o x
bad "--size 63" tumour -n 1 --size 63 -o x
bad "--size 1025" tumour -n 1 --size 1025 -o x
bad "--lesion-prob 1.5" tumour -n 1 --lesion-prob 1.5 -o x
bad "--lesion-prob nan" tumour -n 1 --lesion-prob nan -o x
bad "--seed -1" tumour -n 1 --seed -1 -o x
bad "unknown option" tumour -n 1 -o x --force
bad "-o without a value" tumour -n 1 -o
check "no usage error created the output folder" test ! -e x

: >afile
run unw "$CNNDEMO" synth tumour -n 2 -o afile/ds
expect_rc 5 "-o under a regular file (output error)"
count_lines "the output error is one line on stderr" '.' "$ERR" 1

finish
