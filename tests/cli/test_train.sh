#!/usr/bin/env bash
# CLI tests for `cnndemo train`: a small ImageFolder task that a CNN must learn (which half of
# the image is bright, in noise), determinism for a seed, resume from a checkpoint equal to an
# uninterrupted run, SIGINT leaving a resumable checkpoint, the trained weights used by
# `classify`, and one-line errors for bad data, cfgs and arguments.
source "$(dirname "$0")/lib.sh" "$@"
check "cnndemo binary $CNNDEMO is executable" test -x "$CNNDEMO"

# ---- data: 16x16 grey PNGs, class "top" has its top half brighter, "bottom" its bottom half ----
"$PY" - <<'EOF'
import os, numpy as np, cv2
rng = np.random.default_rng(7)
for split, n in (("data", 48), ("heldout", 24)):
    for cls in ("bottom", "top"):
        os.makedirs(f"{split}/{cls}", exist_ok=True)
        for i in range(n):
            img = rng.normal(100, 30, (16, 16))
            half = slice(0, 8) if cls == "top" else slice(8, 16)
            img[half, :] += 60
            cv2.imwrite(f"{split}/{cls}/{i:03d}.png", np.clip(img, 0, 255).astype(np.uint8))
EOF
check "test data written" test -f data/top/000.png -a -f heldout/bottom/023.png
cat > net.cfg <<'EOF'
[net]
batch=8
width=16
height=16
channels=1
learning_rate=0.05
momentum=0.9
decay=0.0005

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=relu

[maxpool]
size=2
stride=2

[connected]
output=2
activation=linear

[softmax]
EOF
printf 'bottom\ntop\n' > net.names
TR=("$CNNDEMO" train --cfg net.cfg --policy constant --burn-in 0 --no-flip -t 1)

# ---- learning ----
run e1 "${TR[@]}" -o e1.weights --epochs 1 --val heldout data
expect_rc 0 "train 1 epoch"
run e8 "${TR[@]}" -o e8.weights --epochs 8 --val heldout data
expect_rc 0 "train 8 epochs"
grep_in "train prints the weights path, steps and final loss" '^final_loss [0-9.]+$' "$OUT"
grep_in "8 epochs of 96 images in batches of 8 = 96 steps" '^steps 96$' "$OUT"
l1=$(awk '/^final_loss/{print $2}' e1.out)
l8=$(awk '/^final_loss/{print $2}' e8.out)
acc=$(awk '/^val_top1/{print $2}' e8.out)
check "loss falls with training (1 epoch $l1 -> 8 epochs $l8, at least 3x)" \
  awk -v a="$l1" -v b="$l8" 'BEGIN{exit !(a > 0 && b > 0 && b * 3 < a)}'
check "held-out top-1 after 8 epochs >= 0.95 (got $acc)" awk -v a="$acc" 'BEGIN{exit !(a >= 0.95)}'
check "weights file has the size info expects (20 + 4 x params)" \
  test "$(stat -c %s e8.weights)" -eq $((20 + 4 * $("$CNNDEMO" info --cfg net.cfg | awk '/parameters/{for(i=1;i<=NF;i++) if($(i+1)=="parameters,") print $i}')))
no_tmp_files "no temporary files left" .

# ---- determinism and resume ----
run again "${TR[@]}" -o again.weights --epochs 8 data
expect_rc 0 "train again with the same seed"
check "same seed and threads: byte-identical weights" cmp -s e8.weights again.weights
run seed2 "${TR[@]}" -o seed2.weights --epochs 8 --seed 2 data
check "another seed: different weights" bash -c '! cmp -s e8.weights seed2.weights'
run half "${TR[@]}" -o resumed.weights --epochs 4 data
expect_rc 0 "train 4 epochs (first half)"
check "a checkpoint and its optimiser state are written" test -f resumed.weights.ckpt -a -f resumed.weights.ckpt.state
run rest "${TR[@]}" -o resumed.weights --epochs 8 --resume data
expect_rc 0 "train to 8 epochs with --resume"
grep_in "resume says where it continues" 'resumed from .*resumed.weights.ckpt at step 48' "$ERR"
check "4 + 4 resumed epochs give exactly the weights of 8 uninterrupted ones" cmp -s e8.weights resumed.weights
cp e1.weights.ckpt.state bad.state
cp e8.weights bad.weights; cp e1.weights.ckpt.state bad.weights.ckpt.state; cp e8.weights bad.weights.ckpt
run badresume "${TR[@]}" -o bad.weights --epochs 9 --resume data
expect_rc 4 "--resume with optimiser state of other weights"
count_lines "one stderr line naming the state file" 'bad\.weights\.ckpt\.state: does not belong' "$ERR" 1

# ---- batch-norm recalibration only ----
run recal "$CNNDEMO" train --cfg net.cfg --weights e1.weights.ckpt --epochs 0 -o recal.weights -t 1 --val heldout data
expect_rc 0 "--epochs 0 with --weights: recalibrate only"
grep_in "no steps taken" '^steps 0$' "$OUT"
check "recalibrating the epoch-1 checkpoint changes it and gives what training with recalibration wrote" \
  bash -c 'test "$(stat -c %s e1.weights.ckpt)" = "$(stat -c %s recal.weights)" && ! cmp -s e1.weights.ckpt recal.weights && cmp -s e1.weights recal.weights'
run recal0 "$CNNDEMO" train --cfg net.cfg --epochs 0 -o x.weights data
expect_rc 2 "--epochs 0 without --weights"

# ---- interrupt ----
timeout --preserve-status -s INT 3 "${TR[@]}" -o long.weights --epochs 100000 data >long.out 2>long.err
RC=$?
expect_rc 130 "SIGINT stops training"
check "interrupted: checkpoint left for --resume" test -f long.weights.ckpt -a -f long.weights.ckpt.state
check "interrupted: no final weights written" test ! -e long.weights
grep_in "interrupted: says how to continue" 'interrupted at step [0-9]+; checkpoint .*--resume' long.err

# ---- the trained model classifies ----
run cls "$CNNDEMO" classify --cfg net.cfg --weights e8.weights --names net.names -f tsv -o clsout \
  heldout/top/000.png heldout/bottom/000.png
expect_rc 0 "classify with the trained weights"
grep_in "top image -> top" 'top/000\.png.*top' "$OUT"
grep_in "bottom image -> bottom" 'bottom/000\.png.*bottom' "$OUT"

# ---- errors ----
run nodata "${TR[@]}" -o x.weights nosuchdir
expect_rc 4 "missing data dir"
count_lines "one line naming it" 'nosuchdir' "$ERR" 1
run nocfg "$CNNDEMO" train --cfg nosuch.cfg -o x.weights data
expect_rc 3 "missing cfg"
run noout "$CNNDEMO" train --cfg net.cfg data
expect_rc 2 "no -o"
sed 's/^output=2$/output=1/' net.cfg > one.cfg
run fewout "$CNNDEMO" train --cfg one.cfg -o x.weights data
expect_rc 4 "2 classes but the net outputs 1"
grep_in "says classes vs outputs" '2 classes but one\.cfg outputs 1' "$ERR"
mkdir -p idx
head -c 5000 /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz > idx/train-images-idx3-ubyte.gz
cp /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz idx/
run trunc "$CNNDEMO" train --cfg "$SRC/models/fashion.cfg" -o x.weights idx
expect_rc 4 "truncated IDX"
count_lines "one line naming the truncated file" 'idx/train-images-idx3-ubyte.gz: truncated or corrupt' "$ERR" 1
check "no weights written on errors" test ! -e x.weights
finish
