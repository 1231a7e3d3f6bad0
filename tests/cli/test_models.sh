#!/usr/bin/env bash
# The shipped models reach their targets, as `cnndemo val --fail-under` measures them:
#   fashion     top-1 >= 0.935 on the official 10k Fashion-MNIST test set
#   tumour-cls  sensitivity >= 0.97 and specificity >= 0.95 on 1000 held-out synthetic slices
#   tumour      AP50 >= 0.95 on the same held-out slices (seed 3; training used seed 1)
# and their files are what info expects (cfg + weights + names agree).
source "$(dirname "$0")/lib.sh" "$@"
check "cnndemo binary $CNNDEMO is executable" test -x "$CNNDEMO"
FM=/usr/share/datasets/fashion-mnist
check "Debian's dataset-fashion-mnist is installed" test -f $FM/t10k-images-idx3-ubyte.gz

for m in fashion tumour-cls tumour; do
  run "info-$m" "$CNNDEMO" info -m "$m"
  expect_rc 0 "info -m $m"
  grep_in "$m: weights file matches the cfg" '^weights: .*: OK' "$OUT"
done

run fashion "$CNNDEMO" val -m fashion -f json --fail-under top1=0.935 $FM
expect_rc 0 "fashion: top-1 >= 0.935 on the 10k test images"
py valjson "$OUT" top1 0.935 10000

run synth "$CNNDEMO" synth tumour -n 1000 --seed 3 -o heldout
expect_rc 0 "1000 held-out slices (seed 3)"
run tcls "$CNNDEMO" val -m tumour-cls -f json --positive tumour \
  --fail-under sensitivity=0.97 --fail-under specificity=0.95 heldout/classes
expect_rc 0 "tumour-cls: sensitivity >= 0.97 and specificity >= 0.95"
py valjson "$OUT" sensitivity 0.97 1000
run tdet "$CNNDEMO" val -m tumour -f json --fail-under map50=0.95 heldout
expect_rc 0 "tumour: AP50 >= 0.95"
py valjson "$OUT" map50 0.95 1000

# the gate really gates: an impossible threshold exits 7 with one line
run gate "$CNNDEMO" val -m tumour-cls --fail-under top1=1.01 --limit 50 heldout/classes
expect_rc 7 "--fail-under above what the model reaches"
count_lines "one stderr line naming the metric" 'top1 = .* is below the --fail-under threshold 1.01' "$ERR" 1
finish
