#!/usr/bin/env bash
# CLI tests for `cnndemo study activations` and `cnndemo info --stats`: a tiny study on
# Fashion-MNIST (Debian's dataset-fashion-mnist) writes its tables, CSVs and charts; the CSV has
# one row per run with accuracies above chance and unit shares in [0, 1]; ReLU layers have exact
# zeros and tanh layers none; the charts decode with the expected sizes; runs are deterministic
# whatever the number of parallel jobs; the runs' weights (PReLU slopes included) load with their
# cfgs; `info --stats` prints one row per layer; bad arguments are one-line errors.
source "$(dirname "$0")/lib.sh" "$@"
check "cnndemo binary $CNNDEMO is executable" test -x "$CNNDEMO"
FM=/usr/share/datasets/fashion-mnist
check "Fashion-MNIST is installed (Debian package dataset-fashion-mnist)" \
  test -f $FM/train-images-idx3-ubyte.gz -a -f $FM/t10k-labels-idx1-ubyte.gz

# pyrun WHAT SCRIPT ARGS... : runs a python check script; each "PASS x" / "FAIL x" line counts.
pyrun() {
  local what=$1
  shift
  pycount "$what: python" "$@"
}

# ---- a tiny study: 4 activations x (no bn, bn) + the ReLU family at high lr = 11 runs ----
ST=("$CNNDEMO" study activations -a relu,leaky_0.01,prelu,tanh --seeds 1 --limit 512 --test-limit 300
  --steps 60 --batch 16 --probe 64 --probe-every 20 -t 1)
run tiny "${ST[@]}" -o out
expect_rc 0 "tiny study"
for f in results.md results.csv loss.png dead_units.png accuracy.png; do
  check "writes $f" test -s "out/$f"
done
check "one cfg per configuration (11)" test "$(ls out/runs/*.cfg | wc -l)" -eq 11
check "one weights file per run (11)" test "$(ls out/runs/*-s1.weights | wc -l)" -eq 11
check "one curve CSV per run (11)" test "$(ls out/runs/*-s1.csv | wc -l)" -eq 11
count_lines "stdout: the tables, one row per configuration" '^\| (relu|leaky 0\.01|prelu|tanh) \|' "$OUT" 11
count_lines "stdout: three tables (no bn, bn, high lr)" '^### ' "$OUT" 3
grep_in "results.md defines dead units" '\*\*Dead unit\*\*: a convolution channel whose output' out/results.md
grep_in "results.md states the budget" '60 SGD steps of 16 images' out/results.md
grep_in "results.md links the charts" '!\[accuracy\]\(accuracy\.png\)' out/results.md
grep_in "progress on stderr names the runs" 'study: \[11/11\]' "$ERR"
no_tmp_files "no temporary files left" out

cat > check_study.py <<'EOF'
import csv, sys, os
import cv2, numpy as np
out = sys.argv[1]
def ok(cond, what, why=""):
    print(("PASS " if cond else "FAIL ") + what + ("" if cond else ": " + why))
rows = list(csv.DictReader(open(f"{out}/results.csv")))
ok(len(rows) == 11, "results.csv: one row per run", f"{len(rows)} rows")
keys = {(r["cfg_activation"], r["batch_norm"], r["lr_factor"]) for r in rows}
want = {(a, b, "1") for a in ("relu", "leaky_0.01", "prelu", "tanh") for b in ("0", "1")}
want |= {(a, "0", "10") for a in ("relu", "leaky_0.01", "prelu")}
ok(keys == want, "results.csv: exactly the (activation, batch-norm, lr) combinations", f"{sorted(keys ^ want)}")
shares = [k for k in rows[0] if k in ("dead", "max_dead", "inactive", "sparsity") or
          k.split("_conv")[0] in ("dead", "inactive", "sparsity")]
ok(len(shares) == 4 + 9, "results.csv: overall and per-conv-layer share columns", str(shares))
bad = [(r["run"], k, r[k]) for r in rows for k in shares + ["test_top1"] if not 0 <= float(r[k]) <= 1]
ok(not bad, "every accuracy and unit share is in [0, 1]", str(bad[:5]))
base = [r for r in rows if r["lr_factor"] == "1"]
low = [(r["run"], r["test_top1"]) for r in base if float(r["test_top1"]) <= 0.2]
ok(not low, "base-lr runs learn: test top-1 above twice chance (0.2)", str(low))
ok(all(float(r["max_dead"]) >= float(r["dead"]) for r in rows), "the highest dead share is at least the final one")
ok(all(r["steps"] == "60" or r["diverged_at"] == r["steps"] for r in rows), "60 steps per run (unless diverged there)")
ok(all(r["diverged_at"] == "0" for r in base), "no base-lr run diverges")
relu = [r for r in rows if r["cfg_activation"] == "relu"]
ok(all(float(r[f"sparsity_conv{i}"]) > 0 for r in relu for i in (1, 2, 3)),
   "ReLU: every conv layer has exact zeros", str([(r["run"], r["sparsity"]) for r in relu]))
tanh = [r for r in rows if r["cfg_activation"] == "tanh"]
ok(len(tanh) == 2 and all(float(r["sparsity"]) == 0 and float(r["dead"]) == 0 for r in tanh),
   "tanh: no exact zeros, no dead units", str([(r["run"], r["sparsity"], r["dead"]) for r in tanh]))
# leaky units output 0 only for a pre-activation of exactly 0 (at initialisation: zero biases on
# the images' black background; a run that diverged in its first steps ends with that state)
leaky = [r for r in rows if r["cfg_activation"] in ("leaky_0.01", "prelu")]
ok(all(float(r["dead"]) == 0 and float(r["max_dead"]) == 0 for r in leaky),
   "leaky 0.01 and PReLU: never a dead unit")
ok(all(float(r["sparsity"]) == 0 for r in leaky if r["diverged_at"] == "0"),
   "leaky 0.01 and PReLU: no exact zeros after training",
   str([(r["run"], r["sparsity"]) for r in leaky]))
ok(all(float(r["test_top1"]) < 0.2 for r in rows if r["diverged_at"] != "0"),
   "a diverged run is tested as it ended: at chance")
ok(all(r["batch_norm"] == "0" for r in rows if r["lr_factor"] == "10"), "the high-lr runs have no batch-norm")
# curves: a probe at steps 0, 20, 40, 60
for r in rows:
    c = list(csv.DictReader(open(f"{out}/runs/{r['run']}.csv")))
    steps = [p["step"] for p in c]
    if r["diverged_at"] == "0" and steps != ["0", "20", "40", "60"]:
        ok(False, f"curve of {r['run']}: probes at 0, 20, 40, 60", str(steps)); break
    if c[0]["loss"] != "" or any(p["loss"] == "" for p in c[1:]):
        ok(False, f"curve of {r['run']}: no loss before step 1, a loss at every later probe"); break
    if abs(float(c[-1]["dead"]) - float(r["dead"])) > 1e-4:
        ok(False, f"curve of {r['run']}: its last point is the final state"); break
else:
    ok(True, "every run's curve CSV: probes at 0, 20, 40, 60, losses after step 0, last point = final")
for name, w, h in (("loss", 1680, 440), ("dead_units", 1680, 440), ("accuracy", 1000, 460)):
    img = cv2.imread(f"{out}/{name}.png", cv2.IMREAD_COLOR)
    ok(img is not None and img.shape == (h, w, 3), f"{name}.png decodes as {w}x{h}",
       "unreadable" if img is None else str(img.shape))
    if img is None: continue
    ok(img.std() > 10 and (img == 255).all(axis=2).mean() > 0.5, f"{name}.png: a white chart with drawing on it")
# ReLU's colour (220, 30, 30; BGR in OpenCV) is drawn in the loss and dead-unit charts
for name in ("loss", "dead_units"):
    img = cv2.imread(f"{out}/{name}.png")
    n = int((np.abs(img.astype(int) - [30, 30, 220]).sum(axis=2) == 0).sum()) if img is not None else 0
    ok(n > 200, f"{name}.png shows the ReLU curves", f"{n} red pixels")
EOF
pyrun "study outputs" check_study.py out

# ---- determinism: the same runs on two threads give the same weights and results ----
run j2 "${ST[@]}" -j 2 -q -o out2
expect_rc 0 "the same study with -j 2"
check "-q: nothing on stderr" test ! -s "$ERR"
same=1
for w in out/runs/*.weights; do cmp -s "$w" "out2/runs/$(basename "$w")" || same=0; done
check "-j 2 and -j 1: byte-identical weights for every run" test "$same" -eq 1
check "-j 2 and -j 1: the same accuracies and unit statistics" \
  cmp -s <(cut -d, -f1-17,21- out/results.csv) <(cut -d, -f1-17,21- out2/results.csv)

# ---- seeds: one row per run, the tables give the spread ----
run seeds "$CNNDEMO" study activations -a relu --runs plain --seeds 2 --limit 256 --test-limit 100 \
  --steps 20 --batch 16 --probe 32 -t 1 -o seeds
expect_rc 0 "two seeds"
count_lines "results.csv: a row per seed" '^relu-nobn-s[12],' seeds/results.csv 2
check "different seeds give different weights" bash -c '! cmp -s seeds/runs/relu-nobn-s1.weights seeds/runs/relu-nobn-s2.weights'
grep_in "the table gives the min-max over the seeds" '^\| relu \| [0-9.]+ \([0-9.]+-[0-9.]+\) \| [0-9]/2 \|' "$OUT"

# ---- the runs' weights load with their cfgs (PReLU slopes after each conv's weights) ----
run infop "$CNNDEMO" info --cfg out/runs/prelu-bn.cfg --weights out/runs/prelu-bn-s1.weights
expect_rc 0 "info on the PReLU run"
grep_in "PReLU weights file has the size the cfg needs" '^weights: .*prelu-bn-s1\.weights: OK' "$OUT"
count_lines "info shows prelu convolutions" '^ +[0-9]+ conv .* prelu$' "$OUT" 3

# ---- info --stats ----
"$PY" - <<'EOF'
import gzip, os, numpy as np, cv2
raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
x = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)
os.makedirs("imgs", exist_ok=True)
for i in range(6):
    cv2.imwrite(f"imgs/{i}.png", x[i])
EOF
check "six test images written" test -f imgs/5.png
run stats "$CNNDEMO" info --cfg out/runs/relu-bn.cfg --weights out/runs/relu-bn-s1.weights --stats imgs -t 1
expect_rc 0 "info --stats on the ReLU run"
grep_in "stats over the six images" '^activation statistics over 6 images' "$OUT"
awk '/^activation statistics/{s=1; next} s && /^ +[0-9]+ /' "$OUT" > rows.txt
count_lines "one stats row per layer (8)" '.' rows.txt 8
check "ReLU conv rows have zeros; values parse" \
  awk '$2=="conv" && $4=="relu" {n++; if ($5+0 <= 0 || $5+0 > 100 || $6+0 > $8+0) bad=1} END {exit !(n==3 && !bad)}' rows.txt
check "softmax row: no zeros, no dead channels, mean 1/10" \
  awk '$2=="softmax" {f=1; if ($5+0 != 0 || $6+0 != 0 || ($10 < 0.0999 || $10 > 0.1001)) bad=1} END {exit !(f && !bad)}' rows.txt
run statst "$CNNDEMO" info --cfg out/runs/tanh-bn.cfg --weights out/runs/tanh-bn-s1.weights --stats imgs/0.png imgs/1.png
expect_rc 0 "info --stats on the tanh run"
check "tanh conv rows: 0.00 % zeros, 0 dead" \
  awk '$2=="conv" && $4=="tanh" {n++; if ($5 != "0.00" || $6 != "0") bad=1} END {exit !(n==3 && !bad)}' "$OUT"
run statsf "$CNNDEMO" info -m face --stats /usr/share/darknet/data/dog.jpg -t 1
expect_rc 0 "info --stats on the face model (any model)"
awk '/^activation statistics/{s=1; next} s && /^ +[0-9]+ /' "$OUT" > frows.txt
count_lines "face: one stats row per layer (19)" '.' frows.txt 19

# ---- errors ----
run e1 "$CNNDEMO" info -m face --stats
expect_rc 2 "--stats without images"
run e2 "$CNNDEMO" info -m face imgs/0.png
expect_rc 2 "images without --stats"
run e3 "$CNNDEMO" info --cfg out/runs/relu-bn.cfg --weights out/runs/relu-bn-s1.weights --stats imgs/0.png nosuch.png
expect_rc 4 "an unreadable image"
count_lines "one line naming it" 'nosuch\.png' "$ERR" 1
grep_in "the readable image is still counted" '^activation statistics over 1 image ' "$OUT"
run e4 "$CNNDEMO" study nosuch
expect_rc 2 "unknown study"
run e5 "$CNNDEMO" study activations -a relu,relux -o e5
expect_rc 2 "unknown activation in --activations"
grep_in "names it" "unknown activation 'relux'" "$ERR"
run e6 "$CNNDEMO" study activations -a tanh --runs high -o e6 --limit 64 --test-limit 10
expect_rc 2 "nothing to run"
run e7 "$CNNDEMO" study activations --data nosuchdir -o e7
expect_rc 4 "missing data"
count_lines "one line naming it" 'nosuchdir' "$ERR" 1
finish
