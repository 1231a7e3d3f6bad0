#!/usr/bin/python3
"""opencv_folder.py — the "straightforward OpenCV loop" that scripts/bench-peers times against
`cnndemo detect` on a folder: for each image, in one process, imread -> blobFromImage (resize to
the network size, /255, BGR->RGB) -> cv2.dnn forward -> decode the [region] head (sigmoid
objectness, anchors, cv2.dnn.NMSBoxes) -> draw rectangles + score text -> imwrite, with
cv2.setNumThreads(THREADS) (all cores by default: one process, OpenCV's own thread pool).

usage: /usr/bin/python3 opencv_folder.py CFG WEIGHTS IN_DIR OUT_DIR [THREADS]
CFG must be OpenCV-readable with the [region] replaced by an identity ([dropout]), as
bench-peers writes it, so that the output is the raw head convolution (anchors x (x, y, w, h,
objectness), no classes: the face model). Prints one JSON line: images, faces, seconds and the
mean ms per image of each stage (decode, preprocess, forward, postprocess, draw_encode: the names
of cnndemo's results.jsonl timing_ms).
"""
import glob
import json
import os
import re
import sys
import time

import cv2
import numpy as np

# models/face.cfg [region]
ANCHORS = [(1.603231, 2.094468), (6.041143, 7.080126), (2.882459, 3.518061), (4.266906, 5.178857),
           (9.041765, 10.66308)]
CONF, NMS = 0.5, 0.4


def main():
    if len(sys.argv) not in (5, 6):
        sys.stderr.write(__doc__)
        return 2
    cfg, weights, src, dst = sys.argv[1:5]
    cv2.setNumThreads(int(sys.argv[5]) if len(sys.argv) == 6 else os.cpu_count())
    text = open(cfg).read()
    nw = int(re.search(r"^\s*width\s*=\s*(\d+)", text, re.M).group(1))
    nh = int(re.search(r"^\s*height\s*=\s*(\d+)", text, re.M).group(1))
    t0 = time.perf_counter()
    net = cv2.dnn.readNetFromDarknet(cfg, weights)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    os.makedirs(dst, exist_ok=True)
    files = sorted(f for f in glob.glob(os.path.join(src, "*")) if f.lower().endswith((".jpg", ".jpeg", ".png")))
    anchors = np.array(ANCHORS, np.float32)
    faces = 0
    stage = dict.fromkeys(("decode", "preprocess", "forward", "postprocess", "draw_encode"), 0.0)
    now = time.perf_counter
    for path in files:
        ts = now()
        img = cv2.imread(path)
        ih, iw = img.shape[:2]
        t1 = now()
        blob = cv2.dnn.blobFromImage(img, 1 / 255.0, (nw, nh), swapRB=True, crop=False)
        t2 = now()
        net.setInput(blob)
        head = net.forward()[0]  # (A*5, gh, gw)
        t3 = now()
        gh, gw = head.shape[1:]
        t = head.reshape(len(anchors), 5, gh, gw)
        obj = 1 / (1 + np.exp(-t[:, 4]))
        a, gy, gx = np.nonzero(obj > CONF)
        boxes, scores = [], []
        for k, y, x in zip(a, gy, gx):
            tx, ty, tw, th = t[k, :4, y, x]
            cx = (x + 1 / (1 + np.exp(-tx))) / gw * iw
            cy = (y + 1 / (1 + np.exp(-ty))) / gh * ih
            bw = np.exp(tw) * anchors[k, 0] / gw * iw
            bh = np.exp(th) * anchors[k, 1] / gh * ih
            boxes.append([int(cx - bw / 2), int(cy - bh / 2), int(bw), int(bh)])
            scores.append(float(obj[k, y, x]))
        keep = cv2.dnn.NMSBoxes(boxes, scores, CONF, NMS) if boxes else []
        t4 = now()
        for i in np.array(keep).reshape(-1):
            x, y, w, h = boxes[i]
            cv2.rectangle(img, (x, y), (x + w, y + h), (0, 255, 0), 2)
            cv2.putText(img, "face %.2f" % scores[i], (x, max(y - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (0, 255, 0), 1)
            faces += 1
        cv2.imwrite(os.path.join(dst, os.path.basename(path)), img)
        for k, a, b in (("decode", ts, t1), ("preprocess", t1, t2), ("forward", t2, t3), ("postprocess", t3, t4),
                        ("draw_encode", t4, now())):
            stage[k] += (b - a) * 1e3
    n = max(len(files), 1)
    print(json.dumps({"images": len(files), "faces": faces, "seconds": time.perf_counter() - t0,
                      "mean_ms": {k: v / n for k, v in stage.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
