#!/usr/bin/env bash
# CLI tests for `classify`: a small classifier cfg (conv, maxpool, 1x1 conv, global avgpool,
# softmax) with seeded test weights; top-k probabilities checked against OpenCV's DNN module on
# the same network input, the banner drawn on the annotated copy, and classify/detect misuse.
source "$(dirname "$0")/lib.sh" "$@"
PY=/usr/bin/python3
make_classifier
mkdir -p in
$PY - <<'PYEOF'
import cv2, numpy as np
rng = np.random.default_rng(3)
for i in range(3):
    img = (rng.random((48 + 8 * i, 40, 3)) * 255).astype(np.uint8)
    cv2.imwrite('in/img%d.png' % i, img)
PYEOF
check "three test PNGs written" test -f in/img2.png

run cls "$CNNDEMO" classify --cfg cls.cfg --weights cls.weights --names cls.names -k 3 -f jsonl -o out in
expect_rc 0 "classify a folder"
cp "$OUT" cls.jsonl
for i in 0 1 2; do
  run fwd$i "$CNNDEMO" forward --cfg cls.cfg --weights cls.weights "in/img$i.png" --dump "dump$i"
  expect_rc 0 "forward --dump img$i"
done
$PY - <<'PYEOF' > pycheck.txt
import json, cv2, numpy as np
names = open('cls.names').read().split()
net = cv2.dnn.readNetFromDarknet('cls.cfg', 'cls.weights')
res = {json.loads(l)['path']: json.loads(l) for l in open('cls.jsonl')}
def rep(ok, what):
    print(('PASS ' if ok else 'FAIL ') + what)
rep(len(res) == 3, 'one JSONL object per image (%d)' % len(res))
for i in range(3):
    r = res.get('in/img%d.png' % i)
    if r is None:
        rep(False, 'img%d in results' % i); continue
    x = np.load('dump%d/input.npy' % i)
    net.setInput(x)
    ref = net.forward().reshape(-1)
    top = r['classes']
    rep(len(top) == 3, 'img%d: 3 classes reported' % i)
    rep(r['detections'] == [] and r['error'] is None, 'img%d: no detections, no error' % i)
    want = np.argsort(-ref)[:3]
    rep([c['class_id'] for c in top] == list(want), 'img%d: top-3 ids %s == OpenCV %s' % (i, [c['class_id'] for c in top], list(want)))
    rep(all(abs(c['prob'] - ref[c['class_id']]) <= 1e-4 for c in top), 'img%d: probabilities within 1e-4 of OpenCV' % i)
    rep(all(c['class'] == names[c['class_id']] for c in top), 'img%d: class names from the names file' % i)
    rep(all(top[j]['prob'] >= top[j + 1]['prob'] for j in range(2)), 'img%d: descending probabilities' % i)
    a = cv2.imread('in/img%d.png' % i); b = cv2.imread(r['output'])
    rep(b is not None and a.shape == b.shape, 'img%d: annotated copy has the input size' % i)
    if b is not None and a.shape == b.shape:
        rep(np.abs(a[:6].astype(int) - b[:6]).max() > 0, 'img%d: banner drawn at the top' % i)
        rep(np.abs(a[-4:].astype(int) - b[-4:]).max() == 0, 'img%d: bottom rows untouched' % i)
PYEOF
while read -r verdict what; do
  if [ "$verdict" = PASS ]; then pass "$what"; else fail "$what"; fi
done < pycheck.txt
check "the OpenCV comparison ran (10+ checks)" test "$(grep -c . pycheck.txt)" -ge 10

run det "$CNNDEMO" detect --cfg cls.cfg --weights cls.weights in/img0.png
expect_rc 2 "detect with a classifier is a usage error"
grep_in "detect with a classifier points to classify" 'use `cnndemo classify`' "$ERR"
finish
