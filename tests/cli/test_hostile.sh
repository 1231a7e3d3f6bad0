#!/usr/bin/env bash
# CLI tests with hostile inputs: a corpus of broken files made here (truncated and bit-flipped
# PNG/JPEG, absurd header sizes with valid CRCs, zero-byte files, text named .png, unsupported
# formats, lying BMP headers, a folder named like an image, a FIFO, dangling links) mixed with
# good images: the good ones are processed, each bad one is reported (one stderr line, errors.txt,
# the results.jsonl error field), exit 4, never a crash (exit >= 128) or a hang (60 s limit).
# Then broken cfg / weights / names files (exit 3, file:line), @lists with missing paths, and a
# small subset under valgrind (or, for a sanitizer build, under its own checks).
source "$(dirname "$0")/lib.sh" "$@"
BT="$SRC/tests/cli/batch_tool.py"
CFG="$SRC/models/face.cfg"
WTS="$SRC/weights/face.weights"
CRASHES=""

bt() { pycount "batch_tool.py $1" "$BT" "$@"; }

# run60 NAME CMD... : lib.sh's run with a 60 s limit (then KILL); a crash or hang is remembered
run60() {
  local name=$1
  shift
  timeout -k 5 "${LIMIT:-60}" "$@" </dev/null >"$T/$name.out" 2>"$T/$name.err"
  RC=$?
  OUT="$T/$name.out"
  ERR="$T/$name.err"
  if [ "$RC" -ge 124 ] && [ "$RC" -ne 130 ]; then CRASHES="$CRASHES $name:$RC"; fi
}
section() { echo "# ---- [${SECONDS}s] $*"; }

check "cnndemo binary $CNNDEMO is executable" test -x "$CNNDEMO"
# shellcheck disable=SC2317  # called through check
have() { command -v "$1" >/dev/null; }
check "valgrind is installed (scripts/setup installs it)" have valgrind
fetch_photos

# ---- 1. the corpus: broken files + good ones, in one folder tree -----------------------------
section "corpus"
mkdir -p src
bt mkset src "$PHOTOS/sample2.jpg" "$PHOTOS/sample1.jpg"   # small JPEG / PNG / BMP copies
bt hostile hc src/a/sample2.jpg src/b/sample2.png
cp src/a/sample1.jpg hc/bad/good1.jpg
cp src/b/sample1.png hc/bad/good2.png
cp "src/a/sample1 copy.bmp" hc/bad/good3.bmp
NBAD=$(wc -l <hc/manifest.tsv)
NOTHER=$(find hc/other -type f | wc -l)
check "corpus: $NBAD broken files ($NOTHER with their real extensions, passed explicitly)" test "$NBAD" -ge 60

section "the corpus in one run"
run60 corpus "$CNNDEMO" detect -r -o hout -f jsonl -j 2 hc/bad hc/other/*
expect_rc 4 "detect -r over $NBAD broken + 3 good files"
CORPUS_ERR=$ERR
py results hout/results.jsonl $((NBAD + 3)) --model face --same "$OUT"
bt hostile-results hout hc/manifest.tsv "$CORPUS_ERR"
for g in good1.jpg good2.png good3.bmp; do
  check "the good hc/bad/$g is processed among the broken ones" test -f "hout/images/hc/bad/$g"
done
check "the good images are processed without error" "$PY" -c '
import json, sys
objs = {o["path"]: o for o in map(json.loads, open("hout/results.jsonl"))}
sys.exit(not all(objs[f"hc/bad/{g}"]["error"] is None for g in ("good1.jpg", "good2.png", "good3.bmp")))'
grep_in "the summary counts the failures" "images processed, [0-9]+ failed" "$CORPUS_ERR"
no_tmp_files "no temporaries left after the corpus run" hout
for f in huge100k.png tall.png bmp_huge.bmp jpeg_huge.jpg; do
  grep_in "hc/bad/$f is refused by its header size (megapixels named)" "hc/bad/$f: .*(megapixel|too large|over)" "$CORPUS_ERR"
done
grep_in "the BMP with a lying header is reported as truncated" 'hc/bad/bmp_short\.bmp: .*truncated' "$CORPUS_ERR"
grep_in "the folder named folder.jpg is walked with -r (its broken inner.png reported)" 'hc/bad/folder\.jpg/inner\.png' "$CORPUS_ERR"
for f in gif tiff psd hdr pic pgm tga webp; do
  grep_in "hc/other/real.$f is reported as an unsupported format" "hc/other/real\\.$f: .*(unsupported|format)" "$CORPUS_ERR"
done
bt errors hout
run60 corpus3 "$CNNDEMO" detect -r -o hout3 -f jsonl -j 3 hc/bad hc/other/*
expect_rc 4 "the corpus with -j 3"
bt same hout/results.jsonl hout3/results.jsonl --ordered --dirs hout hout3 --label "corpus -j 2 vs -j 3"

# the header limits hold without big allocations: peak RSS of a run over the absurd headers
rss=$("$PY" -c '
import resource, subprocess, sys
subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' \
  "$CNNDEMO" detect -o hrss -f none -j 1 hc/bad/huge100k.png hc/bad/tall.png hc/bad/bmp_huge.bmp \
  hc/bad/bmp_short.bmp hc/bad/jpeg_huge.jpg hc/bad/zerowidth.png 2>&1)
check "absurd header sizes are refused without allocating: peak RSS ${rss:-?} KiB < 1 GiB" \
  test "${rss:-99999999}" -lt 1048576 2>/dev/null

# ---- 2. every broken file alone: exit 4 (or 0 for a bit flip that still decodes), one line ----
section "each broken file alone"
nbad_single=0
while IFS=$'\t' read -r kind f; do
  run60 single "$CNNDEMO" detect -q -o hsingle -f none --no-images -j 1 "$f"
  if [ "$kind" = MUST-FAIL ]; then
    [ "$RC" -eq 4 ] || { nbad_single=$((nbad_single + 1)); echo "       $f alone: exit $RC, want 4"; }
  else
    [ "$RC" -eq 4 ] || [ "$RC" -eq 0 ] || { nbad_single=$((nbad_single + 1)); echo "       $f alone: exit $RC, want 0 or 4"; }
  fi
done <hc/manifest.tsv
check "each of the $NBAD broken files alone: exit 4 (a decodable bit flip: 0)" test "$nbad_single" -eq 0
run60 single2 "$CNNDEMO" detect -o hsingle2 -f none hc/bad/trunc50.png
expect_rc 4 "one truncated PNG alone"
count_lines "one truncated PNG alone: one error line naming it" 'hc/bad/trunc50\.png' "$ERR" 1
count_lines "one truncated PNG alone: stderr = the error + the summary" '.' "$ERR" 2

# ---- 3. special files: a folder named like an image, a FIFO, links, devices, odd names --------
section "special files"
printf '%s\n' hc/bad/folder.jpg hc/bad/good1.jpg >dirlist.txt
run60 dirlist "$CNNDEMO" detect -o hdir -f none @dirlist.txt
expect_rc 4 "a folder named folder.jpg listed in an @list"
grep_in "the folder in the @list is reported as a folder" 'hc/bad/folder\.jpg: .*director' "$ERR"
check "the good image next to it is processed" test -f hdir/images/hc/bad/good1.jpg
run60 devzero "$CNNDEMO" detect -o hdev -f none /dev/zero hc/bad/good1.jpg
expect_rc 4 "/dev/zero as an input"
grep_in "/dev/zero is reported as not a regular file" '/dev/zero: .*regular' "$ERR"

mkdir -p links
cp src/a/sample2.jpg links/good.jpg
ln -s nowhere.jpg links/dangling.jpg
ln -s loop.jpg links/loop.jpg
run60 links "$CNNDEMO" detect -o hlinks -f none links
expect_rc 4 "a folder with a dangling link and a link loop named .jpg"
grep_in "the dangling link links/dangling.jpg is listed with a reason" 'links/dangling\.jpg' "$ERR"
grep_in "the link loop links/loop.jpg is listed with a reason" 'links/loop\.jpg' "$ERR"
check "the good image in links/ is processed" test -f hlinks/images/links/good.jpg

mkdir -p fifo
cp src/a/sample2.jpg fifo/good.jpg
mkfifo fifo/pipe.jpg
LIMIT=20 run60 fifo "$CNNDEMO" detect -o hfifo -f none fifo
check "a FIFO named pipe.jpg in the folder: no hang (finished within 20 s)" test "$RC" -lt 124
expect_rc 4 "a folder with a FIFO named pipe.jpg"
grep_in "the FIFO is reported as not a regular file" 'fifo/pipe\.jpg: .*regular' "$ERR"

# a good image whose file name is not UTF-8 (Latin-1 "café.jpg"): results.jsonl stays valid JSON
mkdir -p names
cp src/a/sample2.jpg "names/$(printf 'caf\xe9.jpg')"
cp src/a/sample2.jpg names/ok.jpg
run60 names "$CNNDEMO" detect -o hnames -f jsonl names
expect_rc 0 "a good image with a Latin-1 (not UTF-8) file name"
check "results.jsonl is valid (UTF-8) JSON even for a non-UTF-8 file name" "$PY" -c '
import json, sys
for line in open("hnames/results.jsonl", "rb"):
    json.loads(line.decode("utf-8"))'

# ---- 4. broken cfg files: exit 3, one line naming file:line ------------------------------------
section "cfg / weights / names"
# cfg_case NAME BASE SED-SCRIPT MARKER WHAT [ALT-MARKER]: the error must name NAME.cfg:LINE, LINE
# the first line matching MARKER (or ALT-MARKER)
cfg_case() {
  local name=$1 base=$2 script=$3 marker=$4 what=$5 alt=${6:-} line line2=""
  sed "$script" "$base" >"$name.cfg"
  line=$(grep -n -m1 -E -- "$marker" "$name.cfg" | cut -d: -f1)
  [ -n "$alt" ] && line2=$(grep -n -m1 -E -- "$alt" "$name.cfg" | cut -d: -f1)
  if [ -z "$line" ] || cmp -s "$base" "$name.cfg"; then fail "cfg case $name was not generated"; return; fi
  run60 "cfg_$name" "$CNNDEMO" detect --cfg "$name.cfg" --weights "$WTS" -o hcfg -f none src/a/sample2.jpg
  expect_rc 3 "cfg with $what"
  grep_in "$what: stderr names $name.cfg:$line${line2:+ or :$line2}" "$name.cfg:($line${line2:+|$line2})([^0-9]|$)" "$ERR"
  count_lines "$what: one line on stderr" '.' "$ERR" 1
  check "$what: no output folder" test ! -e hcfg
}
cfg_case unknown_key "$CFG" '0,/^filters=32$/s//filters=32\nbogus_key=1/' '^bogus_key=' "an unknown key"
cfg_case unknown_section "$CFG" '0,/^\[maxpool\]$/s//[frobnicate]\nsize=2\n\n[maxpool]/' '^\[frobnicate\]' "an unknown section"
cfg_case bad_number "$CFG" '0,/^filters=32$/s//filters=3e/' '^filters=3e' "a bad number (filters=3e)"
cfg_case bad_float "$CFG" 's/^x_conf=0.5$/x_conf=0.5.1/' '^x_conf=0\.5\.1' "a bad number (x_conf=0.5.1)"
cfg_case range_size "$CFG" '0,/^size=3$/s//size=-3/' '^size=-3' "an out-of-range size=-3"
cfg_case range_stride "$CFG" '0,/^stride=1$/s//stride=0/' '^stride=0' "an out-of-range stride=0"
cfg_case range_filters "$CFG" '0,/^filters=16$/s//filters=99999999999/' '^filters=9+' "an out-of-range filters=99999999999"
cfg_case range_conf "$CFG" 's/^x_conf=0.5$/x_conf=1.5/' '^x_conf=1\.5' "an out-of-range x_conf=1.5"
cfg_case range_width "$CFG" 's/^width=416$/width=0/' '^width=0' "an out-of-range width=0"
cfg_case route_later "$CFG" '0,/^\[maxpool\]$/s//[route]\nlayers=5\n\n[maxpool]/' '^layers=5' \
  "a route to a later layer" '^\[route\]'
cfg_case route_back "$CFG" '0,/^\[maxpool\]$/s//[route]\nlayers=-5\n\n[maxpool]/' '^layers=-5' \
  "a route before the first layer" '^\[route\]'
cfg_case region_filters "$CFG" 's/^filters=25$/filters=24/' '^\[region\]' \
  "a [region] whose input has 24 channels, not 25" '^filters=24'
cfg_case yolo_filters /usr/share/darknet/cfg/yolov3-tiny.cfg '0,/^filters=255$/s//filters=254/' '^\[yolo\]' \
  "a [yolo] whose input has 254 channels, not 255" '^filters=254'
cfg_case huge_layer "$CFG" 's/^width=416$/width=16384/; s/^height=416$/height=16384/' '^\[convolutional\]' \
  "width=height=16384 (one layer output too large)" '^(width|height)='
cfg_case huge_net "$CFG" 's/^width=416$/width=8192/; s/^height=416$/height=8192/' '^width=' \
  "width=height=8192 (the network would need > 8 GiB)" '^height='
grep_in "the > 8 GiB cfg: stderr gives the 8192 MiB limit" '8192 MiB' "$T/cfg_huge_net.err"
run60 cfg_bin "$CNNDEMO" detect --cfg "$WTS" --weights "$WTS" -o hcfg -f none src/a/sample2.jpg
expect_rc 3 "a binary file (the weights) given as the cfg"
grep_in "a binary cfg: stderr names the file" 'face\.weights' "$ERR"
head -c 300000 /dev/zero | tr '\0' a >long.cfg
run60 cfg_long "$CNNDEMO" detect --cfg long.cfg --weights "$WTS" -o hcfg -f none src/a/sample2.jpg
expect_rc 3 "a cfg with one 300 KB line"
count_lines "a cfg with one 300 KB line: one line on stderr" '.' "$ERR" 1
check "a cfg with one 300 KB line: the message is short (< 2 KB)" test "$(wc -c <"$ERR")" -lt 2048
: >empty.cfg
run60 cfg_empty "$CNNDEMO" detect --cfg empty.cfg --weights "$WTS" -o hcfg -f none src/a/sample2.jpg
expect_rc 3 "an empty cfg"

# ---- 5. weights one float short / long, names with a NUL byte ----------------------------------
wsize=$(stat -c %s "$WTS")
head -c $((wsize - 4)) "$WTS" >short.weights
{ cat "$WTS"; printf '\0\0\0\0'; } >long.weights
for w in short long; do
  wn=$((wsize + 4))
  [ "$w" = short ] && wn=$((wsize - 4))
  run60 "w_$w" "$CNNDEMO" detect --cfg "$CFG" --weights "$w.weights" -o hw -f none src/a/sample2.jpg
  expect_rc 3 "weights one float $w"
  grep_in "weights one float $w: one line naming $w.weights and both byte counts" \
    "$w\\.weights.*($wn.*$wsize|$wsize.*$wn)" "$ERR"
  count_lines "weights one float $w: one line on stderr" '.' "$ERR" 1
done
check "no output folder after the weights errors" test ! -e hw
printf 'fa\0ce\n' >nul.names
run60 names_nul "$CNNDEMO" detect -m face --names nul.names -o hn -f none src/a/sample2.jpg
expect_rc 3 "a names file with a NUL byte"
grep_in "a names file with a NUL byte: stderr names nul.names" 'nul\.names' "$ERR"
count_lines "a names file with a NUL byte: one line on stderr" '.' "$ERR" 1

# ---- 6. an @list with missing paths --------------------------------------------------------------
printf '%s\n' src/a/sample2.jpg missing/one.jpg '# a comment' src/b/sample2.png missing-two.png \
  "src/a/sample1 copy.bmp" >list.txt
run60 list "$CNNDEMO" detect -o hlist -f jsonl @list.txt
expect_rc 4 "an @list with 2 missing paths among 3 good ones"
py results hlist/results.jsonl 5 --model face --same "$OUT"
count_lines "missing/one.jpg is named once on stderr" 'missing/one\.jpg' "$ERR" 1
count_lines "missing-two.png is named once on stderr" 'missing-two\.png' "$ERR" 1
check "the 3 listed good images are processed" test "$(find hlist/images -type f | wc -l)" -eq 3
bt errors hlist
count_lines "errors.txt lists the 2 missing paths" $'^missing(/one\\.jpg|-two\\.png)\t' hlist/errors.txt 2

# ---- 7. memory checking: valgrind, or the sanitizers of an instrumented build --------------------
section "valgrind"
if grep -qa '__asan_init\|__ubsan_handle' "$CNNDEMO"; then
  # valgrind cannot run AddressSanitizer binaries; the instrumented build checks itself (leaks too)
  echo "       $CNNDEMO is a sanitizer build: running the subset under ASan/UBSan/LSan instead"
  MEMCHECK=(env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
  MEMNAME="the sanitizers"
else
  # valgrind has no AVX-512: pin an AVX2-or-older OpenBLAS family and skip the re-exec
  fam=$("$CNNDEMO" --version | sed -n 's/^OpenBLAS kernel family: \([A-Za-z0-9]*\).*/\1/p')
  case "$fam" in
    SkylakeX | Cooperlake | SapphireRapids | "") fam=Haswell ;;
  esac
  grep -qw avx2 /proc/cpuinfo || fam=${fam/Haswell/Sandybridge}
  MEMCHECK=(env OPENBLAS_CORETYPE="$fam" CNNDEMO_BLAS_CHOSEN="$fam" OPENBLAS_NUM_THREADS=1
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
  MEMNAME="valgrind (OpenBLAS $fam)"
fi
LIMIT=120 run60 vg1 "${MEMCHECK[@]}" "$CNNDEMO" detect -j 1 -t 1 -o hvg -f jsonl src/b/sample2.png hc/bad/trunc50.jpg
expect_rc 4 "$MEMNAME: detect on one good and one truncated image"
no_grep_in "$MEMNAME: no error reports" '(ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|== (Invalid|Conditional|Use of|Mismatched|Syscall)|definitely lost)' "$ERR"
py results hvg/results.jsonl 2 --model face --same "$OUT"
LIMIT=120 run60 vg2 "${MEMCHECK[@]}" "$CNNDEMO" detect -j 1 -t 1 --cfg route_later.cfg --weights "$WTS" -o hvg2 src/b/sample2.png
expect_rc 3 "$MEMNAME: detect with a broken cfg"
no_grep_in "$MEMNAME: broken cfg: no error reports" '(ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|== (Invalid|Conditional|Use of|Mismatched|Syscall)|definitely lost)' "$ERR"
LIMIT=120 run60 vg3 "${MEMCHECK[@]}" "$CNNDEMO" detect -j 1 -t 1 --cfg "$CFG" --weights short.weights -o hvg3 src/b/sample2.png
expect_rc 3 "$MEMNAME: detect with a short weights file"
no_grep_in "$MEMNAME: short weights: no error reports" '(ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|== (Invalid|Conditional|Use of|Mismatched|Syscall)|definitely lost)' "$ERR"
LIMIT=120 run60 vg4 "${MEMCHECK[@]}" "$CNNDEMO" merge -o hvg4 hvg hlist
expect_rc 4 "$MEMNAME: merge of two result folders (with failures)"
no_grep_in "$MEMNAME: merge: no error reports" '(ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|== (Invalid|Conditional|Use of|Mismatched|Syscall)|definitely lost)' "$ERR"

check "no run crashed or hung (exit >= 124, other than 130):${CRASHES:- none}" test -z "$CRASHES"
finish
