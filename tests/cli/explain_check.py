#!/usr/bin/python3
"""Checks of `--explain` results for the CLI tests (PASS/FAIL lines, counted by lib.sh's py).

  explain_check.py boxes JSONL [MIN_IMAGES]   every result with detections has an "explain" whose
                                              peak lies in one of the explained detections' boxes
  explain_check.py classes JSONL              classify: the explained class is the top-1, peak
                                              inside the image
  explain_check.py same JSONL_A JSONL_B       the same detections/classes in both runs (--explain
                                              must not change results), explain absent from A
  explain_check.py tumour JSONL DATASET TASK MIN_FRACTION MIN_TP
                                              synthetic tumour slices (cnndemo synth tumour): the
                                              fraction of true-positive slices whose heatmap peak
                                              lies in a ground-truth lesion box is >= MIN_FRACTION
                                              (TASK detect: a detection with IoU >= 0.5 with a
                                              lesion box; TASK classify: top-1 is "tumour" on a
                                              slice with lesions); at least MIN_TP such slices
"""
import json
import os
import sys

failures = 0


def report(ok, what, why=""):
    global failures
    if ok:
        print(f"PASS {what}")
    else:
        failures += 1
        print(f"FAIL {what}: {why}")
    return ok


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def inside(px, py, box):
    return box[0] <= px <= box[2] and box[1] <= py <= box[3]


def explain_keys_ok(r, kind):
    e = r.get("explain", "absent")
    if r["error"] is not None:
        return e is None, f"failed input: explain should be null, is {e}"
    if not isinstance(e, dict):
        return False, f"explain is {e!r}"
    want = {"layer", kind, "peak_x", "peak_y", "ms"}
    if set(e) != want:
        return False, f"keys {sorted(e)} != {sorted(want)}"
    return True, ""


def boxes(args):
    rows = load(args[0])
    min_images = int(args[1]) if len(args) > 1 else 1
    checked = 0
    for r in rows:
        ok, why = explain_keys_ok(r, "detections")
        report(ok, f"{r['path']}: explain object well-formed", why)
        if not ok or r["error"] is not None:
            continue
        e, dets = r["explain"], r["detections"]
        if not dets:
            report(e["layer"] is None and e["detections"] == [] and e["peak_x"] is None,
                   f"{r['path']}: nothing detected, nothing explained", str(e))
            continue
        idx = e["detections"]
        report(0 in idx and all(0 <= i < len(dets) for i in idx),
               f"{r['path']}: explained detections {idx} include the strongest", str(e))
        if e["peak_x"] is None:
            report(False, f"{r['path']}: a heatmap peak", str(e))
            continue
        hit = [i for i in idx if 0 <= i < len(dets) and inside(e["peak_x"], e["peak_y"], dets[i]["box"])]
        report(bool(hit), f"{r['path']}: heatmap peak ({e['peak_x']:.0f}, {e['peak_y']:.0f}) inside a detected box",
               f"boxes {[dets[i]['box'] for i in idx if 0 <= i < len(dets)]}")
        checked += 1
    report(checked >= min_images, f"{checked} images with detections checked (>= {min_images})")


def classes(args):
    rows = load(args[0])
    for r in rows:
        ok, why = explain_keys_ok(r, "class_id")
        report(ok, f"{r['path']}: explain object well-formed", why)
        if not ok or r["error"] is not None:
            continue
        e = r["explain"]
        report(e["class_id"] == r["classes"][0]["class_id"], f"{r['path']}: the top-1 class is explained", str(e))
        report(e["layer"] is not None and e["layer"] >= 0, f"{r['path']}: a layer", str(e))
        if e["peak_x"] is not None:
            report(0 <= e["peak_x"] <= r["width"] and 0 <= e["peak_y"] <= r["height"],
                   f"{r['path']}: peak inside the image", str(e))


def same(args):
    a, b = load(args[0]), load(args[1])
    report(len(a) == len(b), f"same number of results ({len(a)}, {len(b)})")
    report(all("explain" not in r for r in a), "no explain key without --explain")
    for ra, rb in zip(a, b):
        report(ra["path"] == rb["path"] and ra["detections"] == rb["detections"] and ra["classes"] == rb["classes"],
               f"{ra['path']}: same results with and without --explain")


def gt_boxes(dataset, image_path, w, h):
    stem = os.path.splitext(os.path.basename(image_path))[0]
    out = []
    with open(os.path.join(dataset, "labels", stem + ".txt")) as f:
        for line in f:
            p = line.split()
            if len(p) != 5:
                continue
            cx, cy, bw, bh = (float(v) for v in p[1:])
            out.append([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
    return out


def iou(a, b):
    iw, ih = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def tumour(args):
    rows, dataset, task, min_frac, min_tp = load(args[0]), args[1], args[2], float(args[3]), int(args[4])
    report(len(rows) > 0 and all(r["error"] is None for r in rows), f"{len(rows)} slices processed without errors")
    tp = hits = 0
    misses = []
    for r in rows:
        gts = gt_boxes(dataset, r["path"], r["width"], r["height"])
        if not gts:
            continue
        e = r.get("explain")
        if task == "detect":
            positive = any(iou(d["box"], g) >= 0.5 for d in r["detections"] for g in gts)
        else:
            positive = bool(r["classes"]) and r["classes"][0]["class"] == "tumour"
        if not positive:
            continue
        tp += 1
        if e and e["peak_x"] is not None and any(inside(e["peak_x"], e["peak_y"], g) for g in gts):
            hits += 1
        else:
            misses.append(os.path.basename(r["path"]))
    frac = hits / tp if tp else 0.0
    report(tp >= min_tp, f"{task}: {tp} true-positive slices (>= {min_tp})")
    report(frac >= min_frac, f"{task}: heatmap peak inside a lesion box on {hits}/{tp} = {frac:.1%} of "
           f"true-positive slices (>= {min_frac:.0%})", f"misses: {' '.join(misses[:20])}")


if __name__ == "__main__":
    {"boxes": boxes, "classes": classes, "same": same, "tumour": tumour}[sys.argv[1]](sys.argv[2:])
    sys.exit(1 if failures else 0)
