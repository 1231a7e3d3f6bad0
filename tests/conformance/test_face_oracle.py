#!/usr/bin/env python3
"""test_face_oracle.py — cnndemo's `face` model against the original library it was converted from.

usage: /usr/bin/python3 test_face_oracle.py <path-to-cnndemo> <source-dir>
           [--cfg FILE --weights FILE] [--images 1,2,...] [--no-controls] [--reinstall] [--keep DIR]

The oracle is npm @vladmandic/face-api 1.7.15 itself (TinyFaceDetector.detectAllFaces on a
tf.tensor3d(int32) HWC RGB input, inputSize 416) on the pure-JavaScript tfjs 4.22 `cpu` backend
(tests/conformance/face/oracle.js; the native tfjs-node is not used). Its packages are pinned by
tests/conformance/face/package{,-lock}.json and installed with `npm ci --ignore-scripts` into
<source-dir>/.cache/face-oracle/ (re-used while the lock file is unchanged).

Same decoded pixels: cnndemo decodes JPEG with stb_image, a Node face-api would need another
decoder (jpeg-js, up to 34 levels apart). So each demo JPEG (demo/sample1..6.jpg of the package,
via scripts/fetch-face-api) is decoded ONCE, by OpenCV, and written as a lossless PNG; cnndemo is
given that PNG (PNG decoding is exact), the oracle the very same pixels as raw RGB bytes. That both
engines saw identical pixels is checked, not assumed: cnndemo's network input (`forward --dump`,
input.npy = pixel/255 after pad + resize) must equal face-api's own padded + resized batch tensor
/255 (checks `input`).

Checks, per image:
  input   max|cnndemo input.npy - face-api toBatchTensor(416)/255| <= INPUT_TOL
  head    raw 13x13x25 head: cnndemo layer 17 (conv8, before [region]) vs face-api's forwardInput,
          max|diff| <= HEAD_REL_TOL * max|ref|
and per image and threshold (0.5 = the model default: cnndemo runs without --conf; 0.3):
  count   equal numbers of faces
  boxes   boxes paired greedily by IoU; every pair has all 4 corners within BOX_TOL px and scores
          within SCORE_TOL. face-api does not clip boxes; cnndemo clips them to [0,W]x[0,H], so the
          oracle's boxes are clipped the same way before comparing.
Negative controls (the comparison must FAIL for them; skip with --no-controls): cnndemo with a
copy of face.cfg whose anchors 0 and 2 are swapped, and with a copy of face.weights whose five
objectness biases are raised by 0.1.
Pre-NMS candidates within NEAR of a threshold are listed (both engines' scores) for information.
Exit status is non-zero on any failure (a missing npm / node / registry is a failure, not a skip);
the last line is `N passed, M failed`.
"""
import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

try:
    import cv2
except ImportError as e:  # the JPEG decoder for both sides; a failure, never a skip
    print(f"FAIL import cv2: {e} (run with /usr/bin/python3, which has python3-opencv)")
    print("0 passed, 1 failed")
    sys.exit(1)

THRESHOLDS = [0.5, 0.3]     # 0.5 is the library's and the model's default
BOX_TOL = 1.0               # px, every corner
SCORE_TOL = 0.01
INPUT_TOL = 1e-5            # network input, in pixel/255 units (1/255 = 3.9e-3)
HEAD_REL_TOL = 1e-4         # raw head, relative to its max |value|
NEAR = 0.02                 # pre-NMS candidates this close to a threshold are listed
INPUT_SIZE = 416
ANCHORS = 5


class Tally:
    def __init__(self, quiet=False):
        self.passed = 0
        self.failed = 0
        self.quiet = quiet

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            if not self.quiet:
                print(f"FAIL {name}: {detail}", flush=True)
        return ok


def run(cmd, what, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{what} exited {p.returncode}: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return p


def sha256(*paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def fetch_face_api(src):
    """scripts/fetch-face-api under the same lock tests/cli/lib.sh takes (ctest runs in parallel)."""
    os.makedirs(os.path.join(src, ".cache"), exist_ok=True)
    with open(os.path.join(src, ".cache", "fetch-face-api.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = run([os.path.join(src, "scripts", "fetch-face-api")], "scripts/fetch-face-api")
    return p.stdout.strip().splitlines()[-1]


def install_oracle(src, reinstall):
    """npm ci of tests/conformance/face/package-lock.json into .cache/face-oracle; returns prefix."""
    face = os.path.join(src, "tests", "conformance", "face")
    prefix = os.path.join(src, ".cache", "face-oracle")
    os.makedirs(prefix, exist_ok=True)
    stamp_file = os.path.join(prefix, "installed.sha256")
    want = sha256(os.path.join(face, "package.json"), os.path.join(face, "package-lock.json"))
    with open(os.path.join(src, ".cache", "face-oracle.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        have = open(stamp_file).read().strip() if os.path.exists(stamp_file) else ""
        installed = os.path.exists(os.path.join(prefix, "node_modules", ".package-lock.json"))
        if reinstall or have != want or not installed:
            for f in ("package.json", "package-lock.json"):
                shutil.copyfile(os.path.join(face, f), os.path.join(prefix, f))
            if os.path.exists(stamp_file):
                os.remove(stamp_file)
            t = time.time()
            run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                "npm ci (face oracle)", cwd=prefix)
            with open(stamp_file, "w") as f:
                f.write(want + "\n")
            print(f"npm ci into {prefix}: {time.time() - t:.1f} s", flush=True)
        else:
            print(f"face oracle packages: {prefix} (lock unchanged, npm ci skipped)", flush=True)
    return prefix


def iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def oracle_boxes(dets, w, h):
    """face-api's {x, y, width, height} -> corners, clipped to the image as cnndemo does."""
    out = []
    for d in dets:
        x1, y1 = d["x"], d["y"]
        x2, y2 = x1 + d["width"], y1 + d["height"]
        out.append(([min(max(x1, 0.0), w), min(max(y1, 0.0), h),
                     min(max(x2, 0.0), w), min(max(y2, 0.0), h)], d["score"]))
    return out


def compare(ours, ref):
    """Greedy IoU pairing. Returns (ok, max corner diff, max score diff, detail)."""
    pairs = sorted(((iou(o[0], r[0]), i, j) for i, o in enumerate(ours) for j, r in enumerate(ref)),
                   reverse=True)
    used_o, used_r, matched = set(), set(), []
    for v, i, j in pairs:
        if v > 0 and i not in used_o and j not in used_r:
            used_o.add(i)
            used_r.add(j)
            matched.append((i, j))
    dbox = dscore = 0.0
    bad = []
    for i, j in matched:
        db = max(abs(a - b) for a, b in zip(ours[i][0], ref[j][0]))
        ds = abs(ours[i][1] - ref[j][1])
        dbox, dscore = max(dbox, db), max(dscore, ds)
        if db > BOX_TOL or ds > SCORE_TOL:
            bad.append(f"cnndemo {fmt(ours[i])} vs face-api {fmt(ref[j])} (corner {db:.3f} px, score {ds:.4f})")
    for i in sorted(set(range(len(ours))) - used_o):
        bad.append(f"cnndemo {fmt(ours[i])} unmatched")
    for j in sorted(set(range(len(ref))) - used_r):
        bad.append(f"face-api {fmt(ref[j])} unmatched")
    return not bad, dbox, dscore, "; ".join(bad)


def fmt(d):
    return "[" + ", ".join(f"{v:.1f}" for v in d[0]) + f"] {d[1]:.4f}"


def cnndemo_detect(exe, model, pngs, thr, out_dir):
    cmd = [exe, "detect", *model, "--format", "jsonl", "--no-images", "-q", "-t", "1",
           "--max-det", "0", "-o", out_dir, *pngs]
    if thr is not None:
        cmd[2:2] = ["--conf", str(thr)]
    p = run(cmd, "cnndemo detect")
    res = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        if r.get("error"):
            raise RuntimeError(f"cnndemo detect {r['path']}: {r['error']}")
        res[r["path"]] = ([(d["box"], d["score"]) for d in r["detections"]], r["width"], r["height"])
    return res


def compare_all(t, label, det, oracle, names, pngs, thr_key, verbose):
    """count + boxes checks for one threshold over all images; returns #failed checks."""
    before = t.failed
    for name, png in zip(names, pngs):
        ours, w, h = det[png]
        ref = oracle_boxes(oracle[name]["results"][thr_key], w, h)
        t.check(f"{label} {name} count", len(ours) == len(ref),
                f"cnndemo {len(ours)} faces, face-api {len(ref)}")
        ok, dbox, dscore, detail = compare(ours, ref)
        t.check(f"{label} {name} boxes", ok, detail)
        if verbose:
            print(f"  {name} @{thr_key}: {len(ours)} vs {len(ref)} faces, max corner diff "
                  f"{dbox:.3f} px, max score diff {dscore:.5f}", flush=True)
    return t.failed - before


def candidates(head_nhwc):
    """(row, col, anchor, score) of every pre-NMS candidate, from a raw (n, n, 25) head."""
    n = head_nhwc.shape[0]
    obj = head_nhwc.reshape(n, n, ANCHORS, 5)[..., 4].astype(np.float64)
    return 1.0 / (1.0 + np.exp(-obj))


def mutant_cfg(src_cfg, dst_cfg):
    """Copy of face.cfg with anchors 0 and 2 swapped."""
    lines = open(src_cfg).read().splitlines()
    for k, line in enumerate(lines):
        if line.replace(" ", "").startswith("anchors="):
            v = [x.strip() for x in line.split("=", 1)[1].split(",") if x.strip()]
            v[0:2], v[4:6] = v[4:6], v[0:2]
            lines[k] = "anchors=" + ",".join(v)
            break
    else:
        raise RuntimeError(f"{src_cfg}: no anchors= line")
    open(dst_cfg, "w").write("\n".join(lines) + "\n")


def mutant_weights(src_w, dst_w, filters=25, cin=512):
    """Copy of face.weights with the five objectness biases of the last conv raised by 0.1."""
    data = bytearray(open(src_w, "rb").read())
    off = len(data) - (filters * cin + filters) * 4    # last conv: biases[25], then weights
    b = np.frombuffer(bytes(data[off:off + filters * 4]), dtype="<f4").copy()
    b[4::5] += 0.1
    data[off:off + filters * 4] = b.tobytes()
    open(dst_w, "wb").write(bytes(data))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cnndemo")
    ap.add_argument("src")
    ap.add_argument("--cfg", help="model cfg for cnndemo (default <src>/models/face.cfg)")
    ap.add_argument("--weights", help="model weights (default <src>/weights/face.weights)")
    ap.add_argument("--images", default="1,2,3,4,5,6", help="demo sample numbers")
    ap.add_argument("--no-controls", action="store_true", help="skip the negative controls")
    ap.add_argument("--reinstall", action="store_true", help="npm ci even if the lock is unchanged")
    ap.add_argument("--keep", help="keep the work files (PNGs, dumps) in this folder")
    a = ap.parse_args()
    exe, src = os.path.abspath(a.cnndemo), os.path.abspath(a.src)
    cfg = os.path.abspath(a.cfg or os.path.join(src, "models", "face.cfg"))
    weights = os.path.abspath(a.weights or os.path.join(src, "weights", "face.weights"))
    model = ["--cfg", cfg, "--weights", weights]
    t = Tally()
    start = time.time()

    try:
        pkg = fetch_face_api(src)
        t.check("fetch-face-api", True)
    except Exception as e:
        t.check("fetch-face-api", False, str(e))
        print(f"{t.passed} passed, {t.failed} failed")
        return 1
    try:
        prefix = install_oracle(src, a.reinstall)
        t.check("npm ci face oracle", True)
    except Exception as e:
        t.check("npm ci face oracle", False, f"{e} (needs node, npm and the npm registry)")
        print(f"{t.passed} passed, {t.failed} failed")
        return 1
    installed_model = os.path.join(prefix, "node_modules", "@vladmandic", "face-api", "model")
    for f in ("tiny_face_detector_model.bin", "tiny_face_detector_model-weights_manifest.json"):
        a_, b_ = os.path.join(installed_model, f), os.path.join(pkg, "model", f)
        t.check(f"oracle model {f}", os.path.exists(a_) and sha256(a_) == sha256(b_),
                f"{a_} differs from the sha256-checked {b_}")

    work = a.keep or tempfile.mkdtemp(prefix="face-oracle-")
    os.makedirs(work, exist_ok=True)
    try:
        # 1. decode each JPEG once (OpenCV/libjpeg), lossless PNG for cnndemo, raw RGB for face-api
        names, pngs, oracle_args = [], [], []
        for k in [int(x) for x in a.images.split(",")]:
            name = f"sample{k}"
            bgr = cv2.imread(os.path.join(pkg, "demo", name + ".jpg"),
                             cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
            png = os.path.join(work, name + ".png")
            if bgr is None or not cv2.imwrite(png, bgr):
                raise RuntimeError(f"cannot decode/convert {name}.jpg")
            back = cv2.imread(png, cv2.IMREAD_UNCHANGED)   # exactly what the PNG holds
            if back is None or back.dtype != np.uint8 or back.shape != bgr.shape or not np.array_equal(back, bgr):
                raise RuntimeError(f"{png} does not round-trip")
            rgb = os.path.join(work, name + ".rgb")
            with open(rgb, "wb") as f:
                f.write(np.ascontiguousarray(back[:, :, ::-1]).tobytes())
            h, w = back.shape[:2]
            names.append(name)
            pngs.append(png)
            oracle_args += [rgb, str(w), str(h)]

        # 2. the oracle: face-api on tfjs cpu, all images and thresholds in one node process
        t0 = time.time()
        odump = os.path.join(work, "oracle")
        cmd = ["node", os.path.join(src, "tests", "conformance", "face", "oracle.js"),
               "--prefix", prefix, "--input-size", str(INPUT_SIZE), "--dump", odump]
        for thr in THRESHOLDS:
            cmd += ["--threshold", str(thr)]
        p = run(cmd + oracle_args, "node oracle.js")
        oracle = {}
        for name, line in zip(names, p.stdout.splitlines()):
            oracle[name] = json.loads(line)
        t.check("oracle ran", len(oracle) == len(names) and
                all(o["backend"] == "cpu" for o in oracle.values()), p.stdout[-2000:])
        print(f"oracle (face-api 1.7.15, tfjs cpu): {time.time() - t0:.1f} s for {len(names)} images "
              f"x {len(THRESHOLDS)} thresholds + dumps", flush=True)

        # 3. identical pixels and network: cnndemo's input and raw head vs the library's
        print("per image: network input and raw head, cnndemo vs face-api", flush=True)
        heads = {}
        for idx, (name, png) in enumerate(zip(names, pngs)):
            d = os.path.join(work, "cnndemo-" + name)
            run([exe, "forward", png, *model, "-t", "1", "--all", "--dump", d], "cnndemo forward")
            ours_in = np.load(os.path.join(d, "input.npy"))[0].transpose(1, 2, 0)   # HWC
            ref_batch = np.load(os.path.join(odump, f"{idx}_batch.npy"))[0]
            ref_in = ref_batch.astype(np.float64) / 255.0
            din = float(np.abs(ours_in - ref_in).max()) if ours_in.shape == ref_in.shape else float("inf")
            t.check(f"{name} input", din <= INPUT_TOL,
                    f"max|diff| {din:.3g} (shape {ours_in.shape} vs {ref_in.shape})")
            ours_head = np.load(os.path.join(d, "layer_017_conv.npy"))[0].transpose(1, 2, 0)
            ref_head = np.load(os.path.join(odump, f"{idx}_head.npy"))[0]
            scale = float(np.abs(ref_head).max())
            dh = float(np.abs(ours_head - ref_head).max()) if ours_head.shape == ref_head.shape else float("inf")
            t.check(f"{name} head", dh <= HEAD_REL_TOL * scale,
                    f"max|diff| {dh:.3g} > {HEAD_REL_TOL} * {scale:.3g}")
            heads[name] = (candidates(ours_head), candidates(ref_head))
            print(f"  {name}: input max|diff| {din:.2e}, head max|diff| {dh:.2e} (max|head| {scale:.1f})",
                  flush=True)
            if not a.keep:
                shutil.rmtree(d)

        # 4. detections
        for thr in THRESHOLDS:
            label = f"@{thr}"
            det = cnndemo_detect(exe, model, pngs, None if thr == 0.5 else thr,
                                 os.path.join(work, f"detect-{thr}"))
            print(f"detections at {thr}" + (" (cnndemo: model default, no --conf)" if thr == 0.5 else ""),
                  flush=True)
            compare_all(t, label, det, oracle, names, pngs, str(thr), True)
            for name in names:
                ours_s, ref_s = heads[name]
                near = np.argwhere(np.abs(ref_s - thr) <= NEAR)
                for r, c, an in near:
                    o, f = ours_s[r, c, an], ref_s[r, c, an]
                    side = "same side" if (o > thr) == (f > thr) else "DIFFERENT SIDES"
                    print(f"  near {thr}: {name} cell ({r},{c}) anchor {an}: face-api {f:.5f}, "
                          f"cnndemo {o:.5f} ({side})", flush=True)

        # 5. negative controls: the comparison must detect a broken model
        if not a.no_controls:
            print("negative controls (must not match)", flush=True)
            mcfg = os.path.join(work, "face-anchors-swapped.cfg")
            mutant_cfg(cfg, mcfg)
            mw = os.path.join(work, "face-obj-bias.weights")
            mutant_weights(weights, mw)
            for label, mmodel in (("swapped anchors 0<->2", ["--cfg", mcfg, "--weights", weights]),
                                  ("objectness bias +0.1", ["--cfg", cfg, "--weights", mw])):
                sub = Tally(quiet=True)
                for thr in THRESHOLDS:
                    det = cnndemo_detect(exe, mmodel, pngs, thr, os.path.join(work, "control"))
                    compare_all(sub, f"control {label} @{thr}", det, oracle, names, pngs, str(thr), False)
                t.check(f"control {label} detected", sub.failed > 0,
                        "the comparison passed with a broken model")
                print(f"  {label}: {sub.failed} of {sub.passed + sub.failed} checks fail (expected > 0)",
                      flush=True)
    except Exception as e:
        t.check("run", False, str(e))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"total {time.time() - start:.1f} s")
    print(f"{t.passed} passed, {t.failed} failed")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
