#!/usr/bin/env bash
# CLI tests for --explain (Grad-CAM). On the face model and the face-api sample photos: every
# photo's heatmap peak lies inside a detected face box, results are the same with and without
# --explain (and -j 1 and -j 2 explain alike), the heatmap is drawn (annotated images differ
# from a plain run, and are red near the peak), a bad input gets "explain": null. On a small
# seeded classifier: the top-1 class is explained. Misuse: a model with nothing to take the
# map at is a model error (exit 3).
# The synthetic-tumour check (peak in the lesion box on >= 90 % of true positives) is
# tests/cli/tumour_explain.sh, run once the tumour models exist.
source "$(dirname "$0")/lib.sh" "$@"
fetch_photos
X="$SRC/tests/cli/explain_check.py"

mkdir -p in
cp "$PHOTOS"/sample[1-6].jpg in/ 2>/dev/null
check "the six face-api photos are in place" test -f in/sample6.jpg
printf 'not an image' > in/zz-bad.jpg

run plain "$CNNDEMO" detect -f jsonl -o plain in
expect_rc 4 "detect without --explain (one bad input)"
cp "$OUT" plain.jsonl
run ex "$CNNDEMO" detect --explain -j 2 -f jsonl -o ex in
expect_rc 4 "detect --explain -j 2 (one bad input)"
cp "$OUT" ex.jsonl
CHECK=$X py boxes ex.jsonl 6
CHECK=$X py same plain.jsonl ex.jsonl
run ex1 "$CNNDEMO" detect --explain -j 1 -f jsonl -o ex1 in
expect_rc 4 "detect --explain -j 1"
cp "$OUT" ex1.jsonl
check "-j 1 and -j 2 give the same peaks" cmp -s \
  <(grep -o '"explain": {[^}]*' ex.jsonl | sed 's/"ms": [0-9.]*//') \
  <(grep -o '"explain": {[^}]*' ex1.jsonl | sed 's/"ms": [0-9.]*//')
grep_in "the bad input has \"explain\": null" '"path": "in/zz-bad.jpg".*"explain": null' ex.jsonl
grep_in "run.json records --explain" '"explain": true' ex/run.json
grep_in "plain run.json records no --explain" '"explain": false' plain/run.json

# the heatmap is drawn: the explained copy differs from the plain one, and is redder at the peak
$PY - <<'PYEOF' >draw.txt
import json, cv2, numpy as np
for line in open('ex.jsonl'):
    r = json.loads(line)
    if r['error'] or r['explain']['peak_x'] is None:
        continue
    a = cv2.imread('plain/images/' + r['path']).astype(np.float32)
    b = cv2.imread('ex/images/' + r['path']).astype(np.float32)
    diff = np.abs(a - b).mean()
    print(('PASS ' if diff > 10 else 'FAIL ') + '%s: heatmap blended in (mean |difference| %.1f)' % (r['path'], diff))
    x, y = int(r['explain']['peak_x']), int(r['explain']['peak_y'])
    pa = a[max(0, y - 2):y + 3, max(0, x - 2):x + 3].reshape(-1, 3).mean(0)
    pb = b[max(0, y - 2):y + 3, max(0, x - 2):x + 3].reshape(-1, 3).mean(0)
    # at the map's maximum jet is dark red (128, 0, 0): blended at 45 %, blue and green fall to
    # about 55 % of the photo's (BGR order)
    ok = pb[0] < 0.62 * pa[0] + 6 and pb[1] < 0.62 * pa[1] + 6
    print(('PASS ' if ok else 'FAIL ') +
          '%s: jet red at the peak (B,G,R plain %s, explained %s)' % (r['path'], pa.round(), pb.round()))
PYEOF
while IFS= read -r line; do
  case "$line" in PASS\ *) pass "${line#PASS }" ;; *) fail "${line#FAIL }" ;; esac
done <draw.txt
count_lines "six photos checked for the drawing" '^PASS .*heatmap blended' draw.txt 6

run text "$CNNDEMO" detect --explain --no-images -o txt in/sample2.jpg
expect_rc 0 "detect --explain --no-images, text output"
grep_in "text output shows the peak" '^  explain: peak at \([0-9]+, [0-9]+\), layer [0-9]+$' "$OUT"
check "--no-images writes no images" test ! -e txt/images

# ---- classify: a small seeded classifier with batch-norm ----
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
filters=16
size=3
stride=1
pad=1
batch_normalize=1
activation=relu

[convolutional]
filters=10
size=1
stride=1
activation=linear

[avgpool]

[softmax]
CFG
run init "$CNNDEMO" init-weights --cfg cls.cfg -o cls.weights --seed 5
expect_rc 0 "init-weights for the classifier"
mkdir -p cin
$PY -c "
import cv2, numpy as np
rng = np.random.default_rng(1)
for i in range(3):
    cv2.imwrite('cin/c%d.png' % i, (rng.random((40 + 8 * i, 36, 3)) * 255).astype(np.uint8))
"
run cls "$CNNDEMO" classify --explain --cfg cls.cfg --weights cls.weights -f jsonl -o cout cin
expect_rc 0 "classify --explain"
cp "$OUT" cls.jsonl
CHECK=$X py classes cls.jsonl
count_lines "three classified images" '"explain": \{"layer": 2, "class_id"' cls.jsonl 3

# ---- misuse ----
cat > fc.cfg <<'CFG'
[net]
width=8
height=8
channels=1

[connected]
output=3
activation=linear

[softmax]
CFG
run fcinit "$CNNDEMO" init-weights --cfg fc.cfg -o fc.weights --seed 1
run fc "$CNNDEMO" classify --explain --cfg fc.cfg --weights fc.weights -o fcout cin/c0.png
expect_rc 3 "--explain without a convolutional layer is a model error"
grep_in "the message says why" 'no \[convolutional\] layer' "$ERR"
finish
