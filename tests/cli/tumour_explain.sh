#!/usr/bin/env bash
# --explain on the tumour models: on 200 synthetic slices (`cnndemo synth tumour -n 200 --seed 11`,
# a seed no training run uses), the Grad-CAM peak lies inside a ground-truth lesion box on at
# least 90 % of the true-positive slices (detect: a detection with IoU >= 0.5 with a lesion box;
# classify: top-1 "tumour" on a slice with lesions), with at least 20 true positives.
# Not named test_*.sh, so ctest does not pick it up by itself: register it (rename, or add_test in
# tests/CMakeLists.txt) once models/tumour*.cfg and weights/tumour*.weights are in the tree.
# A missing model is a FAILURE, never a skip.
# Usage: bash tests/cli/tumour_explain.sh path/to/cnndemo source-dir [TASK:MODEL[:LAYER] ...]
#        (default: detect:tumour classify:tumour-cls, each at its default layer; LAYER is passed
#        as --explain-layer)
# Measured on stand-in models trained briefly here (8 epochs detector, 6 epochs classifier, on
# 2000 seed-1 slices): detector at its default layer (the last leaky conv, 8x8 cells of 16 px)
# 86/97 = 88.7 %; classifier at its default layer (8x8) 63/104 = 60.6 %, at --explain-layer 6
# (16x16) 76 %, at --explain-layer 4 (32x32) 104/104 = 100 %. The classifier's misses were within
# half a cell of the lesion box: the map's resolution, not its direction, is what limits it.
source "$(dirname "$0")/lib.sh" "$@"
X="$SRC/tests/cli/explain_check.py"
shift 2
specs=("$@")
[ "${#specs[@]}" -gt 0 ] || specs=(detect:tumour classify:tumour-cls)

run synth "$CNNDEMO" synth tumour -n 200 --seed 11 -o slices
expect_rc 0 "cnndemo synth tumour -n 200 --seed 11"
check "200 slices with labels" test "$(find slices/images -name '*.png' | wc -l)" -eq 200 -a -f slices/labels/000199.txt

for spec in "${specs[@]}"; do
  IFS=: read -r task model layer <<<"$spec"
  opt=(--explain)
  [ -n "$layer" ] && opt=(--explain-layer "$layer")
  if [ ! -f "$SRC/models/$model.cfg" ] || [ ! -f "$SRC/weights/$model.weights" ]; then
    fail "$model: models/$model.cfg and weights/$model.weights exist" "train it with scripts/train-models $model"
    continue
  fi
  pass "$model: model files exist"
  run "$model" "$CNNDEMO" "$task" -m "$model" "${opt[@]}" --no-images -f jsonl -o "out-$model" slices/images
  expect_rc 0 "$task -m $model ${opt[*]} on the slices"
  cp "$OUT" "$model.jsonl"
  CHECK=$X py tumour "$model.jsonl" slices "$task" 0.9 20
done
finish
