#!/usr/bin/env bash
# CLI tests for `cnndemo detect` on real photos with the shipped face model: annotated outputs,
# JSONL/TSV/text/CSV/JSON/YOLO-txt results, input forms (folders, -r, @list, stdin), output
# layout (mirrored sub-paths, no collisions, no temporaries) and running from another directory.
source "$(dirname "$0")/lib.sh" "$@"
check "cnndemo binary $CNNDEMO is executable" test -x "$CNNDEMO"
fetch_photos

# ---- inputs: the face-api photos, PNG/BMP copies, uniform images (one python run: cv2 is slow
# to import) ----------------------------------------------------------------------------------
mkdir -p in/faces in/png in/bmp c/x c/y s tree/sub/deeper
cp "$PHOTOS"/sample[1-6].jpg in/faces/ 2>/dev/null
check "the six face-api photos are in place" test -f in/faces/sample6.jpg
cp in/faces/sample2.jpg c/x/b.jpg
cp in/faces/sample1.jpg in/faces/sample2.jpg s/
cp in/faces/sample2.jpg tree/top.jpg
cp in/faces/sample4.jpg tree/sub/deeper/low.jpeg
py mkimg copy:in/faces/sample1.jpg:in/png/sample1.png copy:in/faces/sample3.jpg:in/bmp/sample3.bmp:0:0:1900:900 \
  grey:c/x/a.png:320:200:40 copy:in/faces/sample2.jpg:c/y/a.png:1250:50:700:550 grey:c/x/b.png:300:300:200 \
  grey:s/grey.png:400:300:128 copy:in/faces/sample3.jpg:tree/sub/mid.png:400:150:1450:600

# ---- 1. the face-api sample photos, plus a PNG and a BMP copy --------------------------------

run det1 "$CNNDEMO" detect -r -o out1 -f jsonl in
expect_rc 0 "detect -r on 6 photos + PNG + BMP"
py results out1/results.jsonl 8 --conf 0.5 --model face --same "$OUT"
py annotated out1/results.jsonl out1
py faces out1/results.jsonl faces/sample1.jpg 490,930,1575 60
py faces out1/results.jsonl png/sample1.png 490,930,1575 60
no_tmp_files "no *.tmp.* files left in out1 after a successful run" out1
no_grep_in "stdout carries only JSONL (no summary or log lines)" '^[^{]' "$OUT"

# a lower --conf keeps at least as many boxes, all scoring above it
run det1b "$CNNDEMO" detect -o out1b -f none --conf 0.3 --no-images in/faces/sample1.jpg
expect_rc 0 "detect --conf 0.3 --no-images"
py results out1b/results.jsonl 1 --conf 0.3
check "--no-images writes no images folder" test ! -e out1b/images
check "--conf 0.3 keeps >= 3 faces in sample1" \
  "$PY" -c 'import json,sys; sys.exit(len(json.loads(open("out1b/results.jsonl").readline())["detections"]) < 3)'

# ---- 2. equal basenames in different folders never collide -------------------------------------
run det2 "$CNNDEMO" detect -r -o out2 -f none --save-txt c
expect_rc 0 "detect two folders each with a.png"
check "c/x/a.png -> out2/images/c/x/a.png" test -f out2/images/c/x/a.png
check "c/y/a.png -> out2/images/c/y/a.png" test -f out2/images/c/y/a.png
check "the two a.png outputs differ" bash -c '! cmp -s out2/images/c/x/a.png out2/images/c/y/a.png'
py annotated out2/results.jsonl out2
check "results.jsonl gives 4 distinct output paths" \
  "$PY" -c 'import json,sys; o=[json.loads(l)["output"] for l in open("out2/results.jsonl")]; sys.exit(not (len(o)==4 and len(set(o))==4))'
# b.png and b.jpg in one folder: their YOLO labels must not overwrite each other
n_labels=$(find out2/labels/c/x -type f -name 'b*.txt' 2>/dev/null | wc -l)
if [ "$n_labels" -eq 2 ]; then pass "--save-txt: c/x/b.png and c/x/b.jpg get two distinct label files"
else fail "--save-txt: c/x/b.png and c/x/b.jpg get two distinct label files" \
  "found $n_labels: $(find out2/labels -type f | tr '\n' ' ')"; fi
py labels out2/results.jsonl out2

# ---- 6. from another working directory, with absolute paths ----------------------------------
mkdir -p elsewhere/xyz
ABS_IMG="$T/in/faces/sample2.jpg"
RUN_DIR="$T/elsewhere/xyz"
(cd "$RUN_DIR" && run det6 "$CNNDEMO" detect -m face -o out -f jsonl "$ABS_IMG"; echo "$RC" >"$T/det6.rc")
RC=$(cat det6.rc); OUT="$T/det6.out"; ERR="$T/det6.err"
expect_rc 0 "detect -m face from $RUN_DIR with an absolute image path"
check "the output is under the cwd: out/images${ABS_IMG}" test -f "$RUN_DIR/out/images${ABS_IMG}"
check "one face found in sample2.jpg" \
  "$PY" -c 'import json,sys; o=json.loads(open(sys.argv[1]).readline()); sys.exit(not (o["error"] is None and len(o["detections"])==1))' "$OUT"
(cd "$RUN_DIR" && run det6b "$CNNDEMO" detect -o out2 -f none "$ABS_IMG"; echo "$RC" >"$T/det6b.rc")
RC=$(cat det6b.rc); ERR="$T/det6b.err"
expect_rc 0 "detect with the default model (no -m) from another directory"

# ---- 7. --save-txt, --csv, --json -------------------------------------------------------------
run det7 "$CNNDEMO" detect -o out7 -f none --save-txt --csv out7/r.csv --json out7/r.json s
expect_rc 0 "detect --save-txt --csv --json"
py results out7/results.jsonl 3 --conf 0.5
py labels out7/results.jsonl out7
check "grey.png: label file exists and is empty" \
  bash -c '{ test -f out7/labels/s/grey.png.txt && ! test -s out7/labels/s/grey.png.txt; } || { test -f out7/labels/s/grey.txt && ! test -s out7/labels/s/grey.txt; }'
check "label path follows the README (labels/<input path>.txt: out7/labels/s/sample1.jpg.txt)" \
  test -f out7/labels/s/sample1.jpg.txt
py csv out7/r.csv out7/results.jsonl
py json out7/r.json out7/results.jsonl
no_tmp_files "no *.tmp.* files left in out7 (labels, csv, json)" out7

# ---- 9. input forms and stdout formats -------------------------------------------------------
echo "not an image" >tree/notes.txt
echo "not an image" >tree/sub/readme.md

run det9a "$CNNDEMO" detect -o out9a -f jsonl tree
expect_rc 0 "detect on a folder without -r"
py results out9a/results.jsonl 1
grep_in "without -r only the top level is taken" '"path": "tree/top.jpg"' out9a/results.jsonl
run det9b "$CNNDEMO" detect -r -o out9b -f jsonl tree
expect_rc 0 "detect -r on a folder tree"
py results out9b/results.jsonl 3
for p in tree/top.jpg tree/sub/mid.png tree/sub/deeper/low.jpeg; do
  count_lines "-r takes $p (once)" "\"path\": \"$p\"" out9b/results.jsonl 1
done
no_grep_in "non-image files in folders are ignored" 'notes.txt|readme.md' out9b/results.jsonl
py annotated out9b/results.jsonl out9b

printf 'tree/top.jpg\ntree/sub/mid.png\n' >list.txt
run det9c "$CNNDEMO" detect -o out9c --no-images -f jsonl @list.txt
expect_rc 0 "detect @list.txt"
py results out9c/results.jsonl 2 --same "$OUT"
count_lines "@list.txt: tree/sub/mid.png processed" '"path": "tree/sub/mid.png"' out9c/results.jsonl 1

printf 'tree/sub/deeper/low.jpeg\ns/grey.png\n' >stdin.txt
RUN_STDIN=stdin.txt run det9d "$CNNDEMO" detect -o out9d -f jsonl -
expect_rc 0 "detect - (paths on stdin)"
py results out9d/results.jsonl 2 --same "$OUT"
count_lines "stdin: s/grey.png processed" '"path": "s/grey.png"' out9d/results.jsonl 1
check "stdin: mirrored output out9d/images/tree/sub/deeper/low.jpeg" test -f out9d/images/tree/sub/deeper/low.jpeg

run det9e "$CNNDEMO" detect -r -o out9e --no-images -f tsv tree s
expect_rc 0 "detect -f tsv"
py tsv "$OUT" out9e/results.jsonl
run det9f "$CNNDEMO" detect -r -o out9f --no-images -f text tree s
expect_rc 0 "detect -f text"
py text "$OUT" out9f/results.jsonl
run det9g "$CNNDEMO" detect -r -o out9g --no-images -f none tree s
expect_rc 0 "detect -f none"
check "-f none: stdout is empty" test ! -s "$OUT"
py results out9g/results.jsonl 6
run det9h "$CNNDEMO" detect -r -o out9h --no-images -q -f none tree
expect_rc 0 "detect -q"
check "-q: stderr is empty" test ! -s "$ERR"

# ---- 14. no temporaries anywhere after all the successful runs above ------------------------
no_tmp_files "no *.tmp.* files left in any output folder" "$T"
check "no hidden temporaries (.NAME.*) left under any images/ or labels/ folder" \
  bash -c '[ -z "$(find "$1" -path "*/images/*" -name ".*" -o -path "*/labels/*" -name ".*" | head -1)" ]' _ "$T"

finish
