#!/usr/bin/env bash
# CLI tests for `cnndemo val`.
# Classification: a 1x1 conv + global avgpool + softmax network with hand-written weights that
# make it read mean brightness (logit difference 20·x - 10 for x = pixel/255: dark -> class 0
# "normal", bright -> class 1 "tumour"), on ImageFolder datasets of uniform grey PNGs, so every
# metric is known in advance: a clean set (all right), a noisy set (one misfiled image in each
# class and one score tied across classes), train/test split folders, --limit, batching, the
# -o DIR files, --fail-under (exit 7) and errors.
# Detection: the shipped face model on the face-api photos, with YOLO labels written by
# `cnndemo detect --save-txt` (detect itself is checked against face-api in
# conformance.test_face_oracle). val must then find every labelled face at IoU 0.95 (mAP 1):
# this checks that labels mapped into the network input by data.c (top-left letterbox) and boxes
# decoded there agree with detect's mapping to image pixels. The same labels moved right by a
# quarter of their width (IoU 0.6) must give AP 1 up to IoU 0.55 and 0 from 0.65.
source "$(dirname "$0")/lib.sh" "$@"
check "cnndemo binary $CNNDEMO is executable" test -x "$CNNDEMO"

# jcheck WHAT FILE EXPR : the Python expression EXPR holds for d = the JSON object in FILE
# (near(a, b): |a - b| < 1e-5, and a is not null)
jcheck() {
  if "$PY" -c '
import json, sys
near = lambda a, b: a is not None and abs(a - b) < 1e-5
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$2" "$3" 2>"$T/jcheck.err"; then
    pass "$1"
  else
    fail "$1" "want: $3" "got: $(head -c 600 "$2" | tr '\n' ' ')" "$(head -c 300 "$T/jcheck.err")"
  fi
}
# one_line WHAT ERE : the last run's stderr is exactly one line, matching ERE
one_line() {
  local n
  n=$(wc -l <"$ERR")
  if [ "$n" -eq 1 ] && grep -Eq -- "$2" "$ERR"; then pass "$1"
  else fail "$1" "$n stderr lines, want 1 matching /$2/: $(head -c 400 "$ERR" | tr '\n' '|')"; fi
}

# ---- the brightness classifier and its datasets --------------------------------------------------
cat >bright.cfg <<'CFG'
[net]
width=8
height=8
channels=1

[convolutional]
filters=2
size=1
stride=1
pad=0
activation=linear

[avgpool]

[softmax]
CFG
printf 'normal\ntumour\n' >bright.names
"$PY" - <<'PYEOF'
import os, struct
import cv2, numpy as np
# darknet weights: int32 major, minor, revision, uint64 seen; conv: biases, then weights (O,I,1,1)
with open('bright.weights', 'wb') as f:
    f.write(struct.pack('<3iQ', 0, 2, 0, 0))
    f.write(struct.pack('<4f', 5.0, -5.0, -10.0, 10.0))  # logit0 = 5 - 10x, logit1 = 10x - 5
def grey(path, v):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, np.full((12, 16, 3), v, np.uint8))
sets = {
    'clean': {'normal': [30, 60, 90], 'tumour': [160, 200, 240]},
    # 200 misfiled as normal, 90 misfiled as tumour; 200 occurs in both classes (a tied score)
    'noisy': {'normal': [30, 60, 200], 'tumour': [90, 200, 240, 250]},
    'extra': {'normal': [30], 'tumour': [240], 'other': [128]},
    'onlyneg': {'normal': [30, 60]},
}
for name, classes in sets.items():
    for cls, values in classes.items():
        for v in values:
            grey('%s/%s/g%03d.png' % (name, cls, v), v)
for split, src in (('test', 'clean'), ('train', 'noisy')):
    for cls, values in sets[src].items():
        for v in values:
            grey('split/%s/%s/g%03d.png' % (split, cls, v), v)
PYEOF
check "brightness model and datasets written" test -f bright.weights -a -f noisy/tumour/g250.png
M=(-m "$T/bright")

# ---- 1. clean set: everything right ----------------------------------------------------------------
run clean "$CNNDEMO" val "${M[@]}" clean
expect_rc 0 "val on the clean set"
grep_in "text report: top1 1.0000 (6/6)" '^top1 +1\.0000 +\(6/6\)' "$OUT"
grep_in "text report: the positive class is tumour" '^sensitivity +1\.0000 +\(positive class tumour: 3/3\)' "$OUT"
grep_in "text report: confusion matrix row for tumour" '^1 +tumour +0 +3$' "$OUT"
check "nothing on stderr" test ! -s "$ERR"
run cleanj "$CNNDEMO" val "${M[@]}" -f json clean
expect_rc 0 "val -f json on the clean set"
cp "$OUT" clean.json
jcheck "clean: one JSON object with task classify, 6 samples, names from the names file" clean.json \
  'd["task"] == "classify" and d["samples"] == 6 and d["classes"] == ["normal", "tumour"] and d["layout"] == "folder"'
jcheck "clean: top1 = top5 = f1 = 1" clean.json 'near(d["top1"], 1) and near(d["top5"], 1) and near(d["f1"], 1)'
jcheck "clean: confusion [[3, 0], [0, 3]]" clean.json 'd["confusion"] == [[3, 0], [0, 3]]'
jcheck "clean: positive tumour, sensitivity = specificity = auc = 1" clean.json \
  'd["positive"] == "tumour" and near(d["sensitivity"], 1) and near(d["specificity"], 1) and near(d["auc"], 1)'

# ---- 2. noisy set: values worked out by hand ---------------------------------------------------------
# normal 30 60 200 -> predicted 0 0 1; tumour 90 200 240 250 -> 0 1 1 1.
# confusion [[2, 1], [1, 3]]; top1 5/7; tumour: sensitivity 3/4, specificity 2/3;
# precision/recall normal 2/3, 2/3, tumour 3/4, 3/4; macro F1 (2/3 + 3/4) / 2 = 17/24.
# AUC (tumour scores rise with brightness): 90 beats 30, 60 (2); 200 beats 30, 60 and ties 200
# (2.5); 240 and 250 beat all three (3 + 3): 10.5 / 12 = 0.875.
run noisy "$CNNDEMO" val "${M[@]}" -f json noisy
expect_rc 0 "val on the noisy set"
cp "$OUT" noisy.json
jcheck "noisy: confusion [[2, 1], [1, 3]]" noisy.json 'd["confusion"] == [[2, 1], [1, 3]]'
jcheck "noisy: top1 = 5/7, top5 = 1" noisy.json 'near(d["top1"], 5 / 7) and near(d["top5"], 1)'
jcheck "noisy: sensitivity 3/4, specificity 2/3" noisy.json \
  'near(d["sensitivity"], 3 / 4) and near(d["specificity"], 2 / 3)'
jcheck "noisy: AUC 0.875 (a tie counted 1/2)" noisy.json 'near(d["auc"], 0.875)'
jcheck "noisy: per-class precision, recall, F1 and macro F1 17/24" noisy.json '
  [(c["class"], c["support"], c["predicted"]) for c in d["per_class"]] == [("normal", 3, 3), ("tumour", 4, 4)]
  and near(d["per_class"][0]["precision"], 2 / 3) and near(d["per_class"][0]["recall"], 2 / 3)
  and near(d["per_class"][1]["precision"], 3 / 4) and near(d["per_class"][1]["f1"], 3 / 4)
  and near(d["f1"], 17 / 24)'
run noisyp "$CNNDEMO" val "${M[@]}" -f json --positive normal noisy
expect_rc 0 "--positive normal"
jcheck "--positive normal: sensitivity 2/3, specificity 3/4" "$OUT" \
  'd["positive"] == "normal" and near(d["sensitivity"], 2 / 3) and near(d["specificity"], 3 / 4)'
for b in 1 3; do
  run noisyb$b "$CNNDEMO" val "${M[@]}" -f json -b $b noisy
  expect_rc 0 "val -b $b"
  check "-b $b gives the same report as -b 8 (7 samples: partial batches)" cmp -s "$OUT" noisy.json
done

# ---- 3. -o DIR ----------------------------------------------------------------------------------------
run outdir "$CNNDEMO" val "${M[@]}" -f json -o res/ noisy
expect_rc 0 "val -o res/"
check "metrics.json is the stdout JSON" cmp -s res/metrics.json "$OUT"
check "confusion.csv holds names and counts" \
  test "$(cat res/confusion.csv)" = "$(printf 'true\\predicted,normal,tumour\nnormal,2,1\ntumour,1,3')"
grep_in "per_class.csv header" '^class_id,class,support,predicted,precision,recall,f1$' res/per_class.csv
grep_in "per_class.csv row for tumour" '^1,tumour,4,4,0\.750000,0\.750000,0\.750000$' res/per_class.csv
no_tmp_files "no *.tmp.* files left in res" res

# ---- 4. --fail-under ------------------------------------------------------------------------------------
run gate1 "$CNNDEMO" val "${M[@]}" --fail-under top1=1.01 clean
expect_rc 7 "--fail-under top1=1.01 on a perfect run"
one_line "one stderr line naming the metric, its value and the threshold" '^cnndemo val: top1 = 1\.000000 is below the --fail-under threshold 1\.01$'
grep_in "the report is still on stdout" '^top1 +1\.0000' "$OUT"
run gate2 "$CNNDEMO" val "${M[@]}" --fail-under top1=1 --fail-under auc=0.99 --fail-under=f1=0.9 clean
expect_rc 0 "three --fail-under gates that pass"
check "nothing on stderr when the gates pass" test ! -s "$ERR"
run gate3 "$CNNDEMO" val "${M[@]}" -f json --fail-under specificity=0.6 --fail-under sensitivity=0.8 noisy
expect_rc 7 "noisy: sensitivity 0.75 < 0.8 fails, specificity passes"
one_line "only the failing gate is reported" '^cnndemo val: sensitivity = 0\.750000 '
jcheck "the JSON records both gates" "$OUT" \
  '[(g["metric"], g["pass"]) for g in d["fail_under"]] == [("specificity", True), ("sensitivity", False)]'
run gate4 "$CNNDEMO" val "${M[@]}" -f json --fail-under auc=0.5 onlyneg
expect_rc 7 "auc without positive samples fails its gate"
one_line "the undefined auc is one stderr line" '^cnndemo val: auc is undefined on this dataset'
jcheck "one class folder, matched to the model's classes by name; auc and sensitivity null" "$OUT" \
  'd["confusion"] == [[2, 0], [0, 0]] and d["auc"] is None and d["sensitivity"] is None and near(d["specificity"], 1)'
for bad in map50=0.5 top1 top1=abc bogus=1; do
  run gbad "$CNNDEMO" val "${M[@]}" --fail-under "$bad" clean
  expect_rc 2 "--fail-under $bad is a usage error"
  one_line "--fail-under $bad: one stderr line" 'fail-under'
done

# ---- 5. splits, --limit, dataset errors ------------------------------------------------------------
run splt "$CNNDEMO" val "${M[@]}" -f json split
expect_rc 0 "a dataset with test/ and train/ folders"
jcheck "the test split (default) is split/test" "$OUT" 'd["split"] == "test" and d["samples"] == 6 and near(d["top1"], 1)'
run splt2 "$CNNDEMO" val "${M[@]}" -f json --split train split
expect_rc 0 "--split train"
jcheck "--split train is split/train" "$OUT" 'd["split"] == "train" and d["confusion"] == [[2, 1], [1, 3]]'
run lim "$CNNDEMO" val "${M[@]}" -f json --limit 2 clean
expect_rc 0 "--limit 2"
jcheck "--limit 2 takes one sample of each class" "$OUT" 'd["samples"] == 2 and d["confusion"] == [[1, 0], [0, 1]]'
run missing "$CNNDEMO" val "${M[@]}" no-such-dir
expect_rc 4 "a missing dataset folder"
one_line "a missing dataset folder: one stderr line naming it" 'no-such-dir'
run extra "$CNNDEMO" val "${M[@]}" extra
expect_rc 4 "a class folder the model does not have"
one_line "the unknown class folder is named" "other"
run pos "$CNNDEMO" val "${M[@]}" --positive lesion clean
expect_rc 2 "--positive with an unknown class"
one_line "--positive lesion: one stderr line" 'lesion'
run nom "$CNNDEMO" val clean
expect_rc 2 "val without a model"
run fmt "$CNNDEMO" val "${M[@]}" -f yaml clean
expect_rc 2 "--format yaml"

# ---- 6. detection: the face model on the face-api photos ---------------------------------------------
fetch_photos
mkdir -p faces/images faces/labels shifted/images shifted/labels wrong/images wrong/labels
cp "$PHOTOS"/sample[1-6].jpg faces/images/ 2>/dev/null
run det "$CNNDEMO" detect -q -o det -f none --no-images --save-txt faces/images
expect_rc 0 "detect --save-txt writes the reference labels"
for i in 1 2 3 4 5 6; do cp "det/labels/faces/images/sample$i.jpg.txt" "faces/labels/sample$i.txt" 2>/dev/null; done
n_boxes=$(cat faces/labels/*.txt 2>/dev/null | wc -l)
check "labels for 6 photos, 15+ faces ($n_boxes)" test "$n_boxes" -ge 15
cp faces/images/* shifted/images/ && cp faces/images/* wrong/images/
for f in faces/labels/*.txt; do
  awk '{printf "%d %.6f %.6f %.6f %.6f\n", $1, $2 + $4 / 4, $3, $4, $5}' "$f" >"shifted/labels/${f##*/}"
  awk '{printf "%d %.6f %.6f %.6f %.6f\n", 1, $2, $3, $4, $5}' "$f" >"wrong/labels/${f##*/}"
done

run face "$CNNDEMO" val -m face -f json faces
expect_rc 0 "val -m face on the labelled photos"
cp "$OUT" face.json
jcheck "face: task detect, 6 images, every label counted, class names from face.names" face.json \
  "d['task'] == 'detect' and d['images'] == 6 and d['boxes'] == $n_boxes and d['classes'] == ['face'] and d['layout'] == 'YOLO'"
jcheck "face: default conf 0.001, the model's NMS 0.4 and score threshold 0.5" face.json \
  'near(d["conf"], 0.001) and near(d["iou"], 0.4) and near(d["pr_conf"], 0.5)'
jcheck "face: mAP50 = mAP50:95 = 1 (every face found where detect put it)" face.json \
  'near(d["map50"], 1) and near(d["map"], 1)'
jcheck "face: precision = recall = 1 at score > 0.5 (the same faces as detect)" face.json \
  'near(d["per_class"][0]["precision"], 1) and near(d["per_class"][0]["recall"], 1)'
run faceb1 "$CNNDEMO" val -m face -f json -b 1 faces
expect_rc 0 "val -m face -b 1"
check "-b 1 gives the same report as -b 8" cmp -s "$OUT" face.json
run shifted "$CNNDEMO" val -m face -f json shifted
expect_rc 0 "val on labels moved by a quarter of their width"
jcheck "shifted (IoU 0.6): AP 1 at IoU 0.50 and 0.55, 0 from 0.65 on" "$OUT" \
  'near(d["per_class"][0]["ap"][0], 1) and near(d["per_class"][0]["ap"][1], 1) and all(near(a, 0) for a in d["per_class"][0]["ap"][3:])'
run wrong "$CNNDEMO" val -m face wrong
expect_rc 4 "labels of class 1 for a one-class model"
one_line "the label problem is one stderr line naming a file" 'wrong/images/sample1\.jpg.*class 1'
run fg "$CNNDEMO" val -m face --fail-under map50=0.99 --fail-under map=1.01 -o fres faces
expect_rc 7 "--fail-under map=1.01 fails, map50=0.99 passes"
one_line "only map is reported" '^cnndemo val: map = 1\.000000 '
check "detection -o writes per_class.csv and metrics.json, no confusion.csv" \
  test -f fres/per_class.csv -a -f fres/metrics.json -a ! -e fres/confusion.csv
grep_in "per_class.csv for detection" '^0,face,[0-9]+,[0-9]+,1\.000000,1\.000000,1\.000000,1\.000000$' fres/per_class.csv
run fgc "$CNNDEMO" val -m face --fail-under top1=0.5 faces
expect_rc 2 "--fail-under top1 with a detector"
run cross "$CNNDEMO" val "${M[@]}" faces
expect_rc 4 "a detection dataset given to a classifier"
one_line "the layout mismatch is one stderr line" 'detection'
finish
