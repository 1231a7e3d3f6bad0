#!/usr/bin/env python3
"""test_opencv_conformance.py — cnndemo against an independent engine, OpenCV DNN (cv2 4.6).

usage: /usr/bin/python3 test_opencv_conformance.py <path-to-cnndemo> <source-dir>

For each model (seeded random weights from `cnndemo init-weights`):
  1. layers: one seeded random (c,h,w) tensor goes through `cnndemo forward --input --all` and
     through cv2.dnn; every darknet layer is compared with the OpenCV blob that ends it
     (max|ours - ref| <= 1e-4 * max|ref|); yolo/region heads are compared as OpenCV's decoded
     rows (cx, cy, w, h, obj, class scores), rebuilt from our head output, one column group at a
     time (w, h element-wise: max|ours/ref - 1| <= 1e-4).
  2. detections: for each sample image, `cnndemo detect --format jsonl` against detections
     decoded here from OpenCV's rows (OpenCV is fed the input.npy that `cnndemo forward IMAGE`
     writes, so preprocessing is identical), with our own class-wise greedy NMS.
Exit status is non-zero on any failure; the last line is `N passed, M failed`.
"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

try:
    import cv2
except ImportError as e:  # no reference engine is a failure, never a skip
    print(f"FAIL import cv2: {e} (run with /usr/bin/python3, which has python3-opencv)")
    print("0 passed, 1 failed")
    sys.exit(1)

REL_TOL = 1e-4          # per layer: max|ours - ref| <= REL_TOL * max|ref|
MATCH_IOU = 0.99        # a detection matches when IoU >= MATCH_IOU ...
BOX_PRINT_TOL = 0.1     # ... or every corner is within the 0.1 px the JSON prints
SCORE_TOL = 1e-3        # |score ours - score ref|
BORDER_REF = 1e-4       # a score this close to --conf may legitimately land on either side
BORDER_OURS = 1e-4 + 5e-5  # the same, plus half the 4-decimal print step of our JSON scores
MAX_BORDERLINE = 3      # per model, unmatched borderline detections tolerated
IMAGES = ["dog", "eagle", "giraffe", "horses", "kite", "person"]
DARKNET_SHARE = "/usr/share/darknet"

# (name, cfg, weights seed, input seed, detect --conf, detect --iou). With random weights the
# scores depend strongly on the image and the seed, so --conf is set per model from the score
# distribution of that seed (about the top 0.01-0.1% of class scores) to leave 0-50 boxes per
# image after NMS (0-60 seen); MIN_DETS guards against a vacuous pass. yolov2-tiny uses --iou 0.4 because
# OpenCV 4.6's Region layer runs its own class-wise NMS at IoU 0.4 on [region] heads (its darknet
# importer cannot switch it off); greedy NMS at 0.4 applied again on top of it is a no-op.
MODELS = [
    ("yolov3-tiny", DARKNET_SHARE + "/cfg/yolov3-tiny.cfg", 11, 101, 0.77, 0.45),
    ("yolov2-tiny", DARKNET_SHARE + "/cfg/yolov2-tiny.cfg", 12, 102, 0.70, 0.40),
    ("depthwise", "tests/conformance/depthwise.cfg", 13, 103, 0.46, 0.45),
]
MIN_DETS = 6            # per model, summed over the images, after borderline exclusion


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(name)
            print(f"FAIL {name}: {detail}", flush=True)
        return ok


def parse_cfg(path):
    """Darknet cfg -> [(section, {key: value})], [net] first. Whitespace inside lines is dropped,
    as darknet and OpenCV both do."""
    sections = []
    with open(path) as f:
        for raw in f:
            line = re.sub(r"\s+", "", raw)
            if not line or line[0] in "#;":
                continue
            if line[0] == "[":
                sections.append((line[1:line.index("]")], {}))
            else:
                key, _, value = line.partition("=")
                sections[-1][1][key] = value
    return sections


def ints(s):
    return [int(v) for v in s.split(",") if v != ""]


def floats(s):
    return [float(v) for v in s.split(",") if v != ""]


def opencv_cfg(src, dst):
    """Copy of the cfg for OpenCV only: its Region layer zeroes class scores <= `thresh` and
    runs its own NMS when `nms_threshold` > 0; both are switched off so that every row and every
    candidate is visible to the comparison. Nothing else changes."""
    out, head = [], False
    with open(src) as f:
        for raw in f:
            line = re.sub(r"\s+", "", raw)
            if line.startswith("["):
                if head:
                    out += ["thresh=0\n", "nms_threshold=0\n"]
                head = line in ("[yolo]", "[region]")
            elif head and line.split("=")[0] in ("thresh", "nms_threshold"):
                continue
            out.append(raw if raw.endswith("\n") else raw + "\n")
    if head:
        out += ["thresh=0\n", "nms_threshold=0\n"]
    with open(dst, "w") as f:
        f.writelines(out)


def run(cmd, what):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{what}: exit {p.returncode}: {' '.join(cmd)}\n{p.stderr.strip()}")
    return p.stdout


def blob_for_layer(i, kind, opts):
    """OpenCV 4.6's name for the blob that ends darknet layer i. Its importer names a layer's own
    blobs <kind>_i (conv_i, bn_i, pool_i, ...) and the activation after it <act>_{i+1}."""
    act = opts.get("activation", "linear")
    if kind == "convolutional":
        if act != "linear":
            return f"{act}_{i + 1}"
        return f"bn_{i}" if opts.get("batch_normalize", "0") == "1" else f"conv_{i}"
    if kind == "maxpool":
        return f"pool_{i}"
    if kind == "route":
        if len(ints(opts["layers"])) > 1:
            return f"concat_{i}"
        return f"slice_{i}" if int(opts.get("groups", "1")) > 1 else f"identity_{i}"
    if kind == "shortcut":
        return f"{act}_{i + 1}" if act != "linear" else f"shortcut_{i}"
    if kind == "upsample":
        return f"upsample_{i}"
    if kind == "yolo":
        return f"yolo_{i}"
    if kind == "region":
        return "detection_out"
    raise ValueError(f"layer {i}: no OpenCV blob mapping for [{kind}]")


def rows_from_head(kind, opts, head, net_w, net_h):
    """Our head output (1, A*E, h, w) -> OpenCV's decoded rows (h*w*A, 5+classes), row index
    (y*w + x)*A + a: cx, cy, w, h relative to the network input, obj, obj * class prob."""
    _, ch, lh, lw = head.shape
    classes = int(opts["classes"])
    anchors = floats(opts["anchors"])
    if kind == "yolo":
        mask = ints(opts["mask"])
        aw = np.array([anchors[2 * m] for m in mask]) / net_w
        ah = np.array([anchors[2 * m + 1] for m in mask]) / net_h
    else:
        num = int(opts["num"])
        aw = np.array(anchors[0::2][:num]) / lw
        ah = np.array(anchors[1::2][:num]) / lh
    n_anchors = len(aw)
    entries = 5 + classes
    assert ch == n_anchors * entries, (ch, n_anchors, entries)
    t = head[0].reshape(n_anchors, entries, lh, lw).astype(np.float64)
    t = t.transpose(2, 3, 0, 1)  # (h, w, A, E)
    col = np.arange(lw).reshape(1, lw, 1)
    row = np.arange(lh).reshape(lh, 1, 1)
    out = np.empty((lh, lw, n_anchors, entries))
    out[..., 0] = (col + t[..., 0]) / lw
    out[..., 1] = (row + t[..., 1]) / lh
    out[..., 2] = np.exp(t[..., 2]) * aw
    out[..., 3] = np.exp(t[..., 3]) * ah
    out[..., 4] = t[..., 4]
    out[..., 5:] = t[..., 4:5] * t[..., 5:]
    return out.reshape(-1, entries)


def rel_diff(ours, ref):
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    diff = float(np.max(np.abs(ours.astype(np.float64) - ref.astype(np.float64)))) if ref.size else 0.0
    return diff, scale, (diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf")))


def worst_index(ours, ref):
    idx = np.unravel_index(np.argmax(np.abs(ours.astype(np.float64) - ref)), ref.shape)
    return tuple(int(v) for v in idx)


def opencv_net(cfg, weights):
    net = cv2.dnn.readNetFromDarknet(cfg, weights)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    return net


def compare_layers(t, name, exe, cfg, cv_cfg, weights, sections, seed, work):
    """Seeded random input; every darknet layer against its OpenCV blob. Returns the worst
    relative difference seen."""
    net_opts = sections[0][1]
    c, h, w = int(net_opts["channels"]), int(net_opts["height"]), int(net_opts["width"])
    x = np.random.default_rng(seed).random((c, h, w), dtype=np.float32)
    raw = os.path.join(work, "input.f32")
    x.astype("<f4").tofile(raw)
    dump = os.path.join(work, "layers")
    run([exe, "forward", "--cfg", cfg, "--weights", weights, "--input", raw, "--dump", dump, "--all"],
        f"{name}: cnndemo forward")
    ours_in = np.load(os.path.join(dump, "input.npy"))
    t.check(f"{name}/input", ours_in.shape == (1, c, h, w) and np.array_equal(ours_in[0], x),
            f"input.npy {ours_in.shape} differs from the raw tensor given with --input")

    net = opencv_net(cv_cfg, weights)
    layers = sections[1:]
    blobs = [blob_for_layer(i, kind, opts) for i, (kind, opts) in enumerate(layers)]
    cv_names = set(net.getLayerNames())
    missing = [b for b in blobs if b not in cv_names]
    missing += [f"permute_{i}" for i, (kind, _) in enumerate(layers)
                if kind == "region" and f"permute_{i}" not in cv_names]
    if not t.check(f"{name}/opencv-names", not missing,
                   f"OpenCV has no blob(s) {missing}; its layers are {sorted(cv_names)}"):
        return float("inf")
    wanted = blobs + [f"permute_{i}" for i, (kind, _) in enumerate(layers) if kind == "region"]
    net.setInput(x[None])
    outs = dict(zip(wanted, net.forward(wanted)))

    net_w, net_h = w, h
    worst = 0.0
    for i, (kind, opts) in enumerate(layers):
        files = [f for f in os.listdir(dump) if f.startswith(f"layer_{i:03d}_")]
        label = f"{name}/layer{i:03d}-{kind}"
        if not t.check(label, len(files) == 1, f"expected one dump file layer_{i:03d}_*.npy, got {files}"):
            continue
        ours = np.load(os.path.join(dump, files[0]))
        ref = outs[blobs[i]]
        if kind in ("yolo", "region"):
            ours = rows_from_head(kind, opts, ours, net_w, net_h)
            if not t.check(label, ours.shape == ref.shape,
                           f"decoded rows {ours.shape} vs OpenCV {blobs[i]} {ref.shape}"):
                continue
            # coordinates, sizes and scores differ in scale: compare each group on its own.
            # w, h = exp(t) * anchor span orders of magnitude with random weights, so their
            # error is taken relative to each element (max |ours / ref - 1|), not to the largest.
            groups = [("xy", ours[:, 0:2], ref[:, 0:2]), ("wh", ours[:, 2:4], ref[:, 2:4]),
                      ("obj", ours[:, 4], ref[:, 4])]
            if kind == "yolo":
                groups.append(("cls", ours[:, 5:], ref[:, 5:]))
            else:
                # OpenCV's Region layer zeroes the class scores its built-in NMS (IoU 0.4)
                # suppresses, so only the scores it kept are compared with its rows; all scores
                # are compared with obj * softmax(classes) computed here from OpenCV's own
                # (undecoded) head input, blob permute_i, (1, h, w, anchors * entries).
                kept = ref[:, 5:] != 0
                groups.append((f"cls[{int(kept.sum())} kept by OpenCV NMS of {kept.size}]",
                               ours[:, 5:][kept], ref[:, 5:][kept]))
                raw = outs[f"permute_{i}"].reshape(ours.shape[0], -1).astype(np.float64)
                obj = 1 / (1 + np.exp(-raw[:, 4:5]))
                cls = raw[:, 5:]
                if opts.get("softmax", "0") == "1":
                    cls = np.exp(cls - cls.max(axis=1, keepdims=True))
                    cls /= cls.sum(axis=1, keepdims=True)
                else:
                    cls = 1 / (1 + np.exp(-cls))
                groups.append((f"cls[all, from permute_{i}]", ours[:, 5:], obj * cls))
            parts = []
            ok = True
            for part, o, r_ in groups:
                if part == "wh":
                    r = float(np.max(np.abs(o / r_.astype(np.float64) - 1))) if np.all(r_ > 0) else float("inf")
                    parts.append(f"wh max|ours/ref-1|={r:.3g}")
                else:
                    d, s_, r = rel_diff(o, r_)
                    parts.append(f"{part} max|d|={d:.3g} max|ref|={s_:.3g} rel={r:.3g}")
                worst = max(worst, r)
                if not r <= REL_TOL or o.size == 0:
                    ok = False
                    if o.size:
                        wi = worst_index(o, r_)
                        parts[-1] += f" worst at {wi}: ours {o[wi]:.7g} ref {r_[wi]:.7g}"
            t.check(label, ok, f"vs {blobs[i]}: " + "; ".join(parts))
            print(f"  {label:28s} vs {blobs[i]:14s} " + "; ".join(p.split(" worst")[0] for p in parts))
            continue
        if not t.check(label, ours.shape == ref.shape, f"shape {ours.shape} vs OpenCV {blobs[i]} {ref.shape}"):
            continue
        d, s, r = rel_diff(ours, ref)
        worst = max(worst, r)
        detail = f"vs {blobs[i]} {ref.shape}: max|d|={d:.3g} max|ref|={s:.3g} rel={r:.3g}"
        if r > REL_TOL:
            wi = worst_index(ours, ref)
            detail += f"; worst at {wi}: ours {ours[wi]:.7g} ref {ref[wi]:.7g}"
        t.check(label, r <= REL_TOL and np.all(np.isfinite(ours)), detail)
        print(f"  {label:28s} {detail}")
    return worst


def iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def reference_detections(rows, conf, nms_iou, img_w, img_h):
    """OpenCV rows -> [(class_id, score, [x1, y1, x2, y2])] in image pixels: one candidate per
    class with score > conf, class-wise greedy NMS (drop IoU > nms_iou) on unclipped boxes, then
    clip to [0, W] x [0, H]."""
    cands = []
    for r in rows:
        cx, cy, bw, bh = (float(v) for v in r[:4])
        box = [(cx - bw / 2) * img_w, (cy - bh / 2) * img_h, (cx + bw / 2) * img_w, (cy + bh / 2) * img_h]
        for cls in np.nonzero(r[5:] > conf)[0]:
            cands.append((int(cls), float(r[5 + cls]), box))
    cands.sort(key=lambda d: -d[1])
    kept = []
    for d in cands:
        if all(k[0] != d[0] or iou(k[2], d[2]) <= nms_iou for k in kept):
            kept.append(d)
    clip = lambda v, hi: min(max(v, 0.0), float(hi))
    return [(c, s, [clip(b[0], img_w), clip(b[1], img_h), clip(b[2], img_w), clip(b[3], img_h)])
            for c, s, b in kept]


def boxes_match(a, b):
    return iou(a, b) >= MATCH_IOU or max(abs(p - q) for p, q in zip(a, b)) <= BOX_PRINT_TOL + 1e-6


def compare_detections(t, name, exe, cfg, cv_cfg, weights, conf, nms_iou, work):
    """Returns (detections compared, borderline excluded)."""
    paths = [f"{DARKNET_SHARE}/data/{n}.jpg" for n in IMAGES]
    out = run([exe, "detect", "--cfg", cfg, "--weights", weights, "-o", os.path.join(work, "det"),
               "--format", "jsonl", "--conf", str(conf), "--iou", str(nms_iou), "--no-images", "-q",
               "--max-det", "0"]  # OpenCV keeps every box
              + paths, f"{name}: cnndemo detect")
    results = {}
    for line in out.splitlines():
        if line.strip():
            obj = json.loads(line)
            results[obj["path"]] = obj
    net = opencv_net(cv_cfg, weights)
    heads = [n for n in net.getLayerNames() if n.startswith("yolo_") or n == "detection_out"]
    compared = excluded = 0
    for path in paths:
        label = f"{name}/detect-{os.path.basename(path)}"
        if not t.check(label, path in results, f"no JSON line for {path} in detect output"):
            continue
        res = results[path]
        img = cv2.imread(path)
        img_h, img_w = img.shape[:2]
        if not t.check(label, (res["width"], res["height"]) == (img_w, img_h),
                       f"size {res['width']}x{res['height']}, image is {img_w}x{img_h}"):
            continue
        dump = os.path.join(work, "fwd-" + os.path.basename(path))
        run([exe, "forward", "--cfg", cfg, "--weights", weights, path, "--dump", dump],
            f"{name}: cnndemo forward {path}")
        net.setInput(np.load(os.path.join(dump, "input.npy")).astype(np.float32))
        rows = np.concatenate([o.reshape(-1, o.shape[-1]) for o in net.forward(heads)])
        ref = reference_detections(rows, conf, nms_iou, img_w, img_h)
        ours = [(d["class_id"], float(d["score"]), [float(v) for v in d["box"]]) for d in res["detections"]]

        # Match each OpenCV detection to an unused one of ours: same class, close score, same
        # box. Whatever stays unmatched is a failure unless its score is within the border of
        # --conf, where the two engines may legitimately disagree; those are excluded (from
        # both sets) and counted.
        used = [False] * len(ours)
        ref_used = [False] * len(ref)
        for k, (c, s, b) in enumerate(ref):
            j = next((j for j, (oc, os_, ob) in enumerate(ours)
                      if not used[j] and oc == c and abs(os_ - s) <= SCORE_TOL and boxes_match(ob, b)), None)
            if j is not None:
                used[j] = ref_used[k] = True
        ref_border = [abs(s - conf) <= BORDER_REF for _, s, _ in ref]
        ours_border = [abs(s - conf) <= BORDER_OURS for _, s, _ in ours]
        problems = [f"OpenCV class {c} score {s:.5f} box {[round(v, 2) for v in b]} has no match"
                    for k, (c, s, b) in enumerate(ref) if not ref_used[k] and not ref_border[k]]
        problems += [f"cnndemo class {c} score {s:.4f} box {b} has no match"
                     for j, (c, s, b) in enumerate(ours) if not used[j] and not ours_border[j]]
        border = sum(1 for k in range(len(ref)) if not ref_used[k] and ref_border[k])
        border += sum(1 for j in range(len(ours)) if not used[j] and ours_border[j])
        ours_classes = collections.Counter(c for j, (c, _, _) in enumerate(ours) if used[j] or not ours_border[j])
        ref_classes = collections.Counter(c for k, (c, _, _) in enumerate(ref) if ref_used[k] or not ref_border[k])
        matched = sum(used)
        compared += matched
        excluded += border
        t.check(label, not problems and ours_classes == ref_classes,
                f"{len(ours)} ours vs {len(ref)} OpenCV, {matched} matched, {border} borderline: "
                + "; ".join(problems[:8]) + (f" (+{len(problems) - 8} more)" if len(problems) > 8 else ""))
        print(f"  {label:28s} ours {len(ours)} OpenCV {len(ref)} matched {matched} borderline {border} "
              f"classes {dict(sorted(ours_classes.items()))}")
    t.check(f"{name}/detect-borderline", excluded <= MAX_BORDERLINE,
            f"{excluded} detections excluded as borderline (limit {MAX_BORDERLINE})")
    t.check(f"{name}/detect-nonvacuous", compared >= MIN_DETS,
            f"only {compared} detections compared at --conf {conf} (need >= {MIN_DETS})")
    return compared, excluded


def main():
    if len(sys.argv) != 3:
        print("usage: test_opencv_conformance.py <path-to-cnndemo> <source-dir>", file=sys.stderr)
        return 2
    exe, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    cv2.setNumThreads(2)
    t = Tally()
    start = time.monotonic()
    summary = []
    work_root = tempfile.mkdtemp(prefix="cnndemo-conformance-")
    try:
        for name, cfg, wseed, xseed, conf, nms_iou in MODELS:
            cfg = cfg if os.path.isabs(cfg) else os.path.join(src, cfg)
            work = os.path.join(work_root, name)
            os.makedirs(work)
            print(f"== {name} ({cfg}), weights seed {wseed}, input seed {xseed}, --conf {conf} --iou {nms_iou}",
                  flush=True)
            try:
                weights = os.path.join(work, name + ".weights")
                run([exe, "init-weights", "--cfg", cfg, "-o", weights, "--seed", str(wseed)],
                    f"{name}: cnndemo init-weights")
                cv_cfg = os.path.join(work, name + ".opencv.cfg")
                opencv_cfg(cfg, cv_cfg)
                sections = parse_cfg(cfg)
                worst = compare_layers(t, name, exe, cfg, cv_cfg, weights, sections, xseed, work)
                compared, excluded = compare_detections(t, name, exe, cfg, cv_cfg, weights, conf, nms_iou, work)
                summary.append(f"{name}: worst layer rel diff {worst:.3g}; {compared} detections "
                               f"matched, {excluded} borderline excluded")
            except Exception as e:  # a crash in one model is a failure, not an abort
                t.check(f"{name}/run", False, f"{type(e).__name__}: {e}")
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    for line in summary:
        print(line)
    print(f"time {time.monotonic() - start:.1f} s")
    if t.failures:
        print("failed: " + ", ".join(t.failures))
    print(f"{t.passed} passed, {t.failed} failed")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
