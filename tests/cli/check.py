#!/usr/bin/python3
"""Independent checks for the CLI tests (run with /usr/bin/python3: needs Debian's cv2 + numpy).

Every check prints one line per assertion, "PASS <what>" or "FAIL <what>: <why>"; lib.sh counts
them. A crash (traceback, non-zero exit without a FAIL line) is counted as a failure by lib.sh.

  check.py mkimg SPEC...                      grey:OUT:W:H[:VALUE] (uniform) or
                                              copy:IN:OUT[:X:Y:W:H] (re-encode, optional crop)
  check.py results JSONL N [--conf C] [--model M] [--same OTHER]
  check.py annotated JSONL OUTDIR             output images: path, size, format, drawing
  check.py faces JSONL NAME X1,X2,.. TOL      detections in NAME centred on the given x
  check.py labels JSONL OUTDIR                YOLO txt per input, consistent with JSONL
  check.py csv CSV JSONL | json JSON JSONL | tsv TSV JSONL | text TXT JSONL
  check.py npy DIR INFO_TXT NLAYERS           forward --dump against `info`'s layer table
  check.py benchjson FILE RUNS
"""
import csv
import json
import math
import os
import re
import sys

cv2 = np = None


def need(cv=True):
    """Imports numpy (and cv2) on first use: importing cv2 costs a second, most checks skip it."""
    global cv2, np
    try:
        import numpy
        np = numpy
        if cv:
            import cv2 as _cv2
            cv2 = _cv2
    except ImportError as e:  # a missing dependency is a failure, never a skip
        print(f"FAIL import cv2/numpy with {sys.executable}: {e}")
        sys.exit(1)

KEYS = {"path", "width", "height", "model", "detections", "classes", "output", "timing_ms", "error"}
DET_KEYS = {"class_id", "class", "score", "box"}
STAGES = {"decode", "preprocess", "forward", "postprocess", "draw_encode"}
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff", "bmp": b"BM"}

failures = 0


def report(ok, what, why=""):
    global failures
    if ok:
        print(f"PASS {what}")
    else:
        failures += 1
        print(f"FAIL {what}: {why}")
    return ok


def load_jsonl(path):
    objs = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                raise ValueError(f"{path}:{i}: empty line")
            objs.append(json.loads(line))
    return objs


def read_jsonl_checked(path):
    try:
        objs = load_jsonl(path)
    except (OSError, ValueError) as e:
        report(False, f"{os.path.basename(path)} parses as JSONL", str(e))
        return None
    report(True, f"{os.path.basename(path)} parses as JSONL ({len(objs)} objects)")
    return objs


def magic_of(path):
    with open(path, "rb") as f:
        head = f.read(8)
    for kind, m in MAGIC.items():
        if head.startswith(m):
            return kind
    return "unknown"


def expected_output(outdir, path):
    """README: outputs mirror the input path under DIR/images (leading '/' and './' dropped)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return outdir + "/images/" + "/".join(parts)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# ---------------------------------------------------------------------------------------------
def cmd_mkimg(args):
    """Each argument makes one image: grey:OUT:W:H[:VALUE] or copy:IN:OUT[:X:Y:W:H] (a crop)."""
    need()
    for spec in args:
        f = spec.split(":")
        if f[0] == "grey":
            out, w, h = f[1], int(f[2]), int(f[3])
            img = np.full((h, w, 3), int(f[4]) if len(f) > 4 else 128, np.uint8)
        elif f[0] == "copy":
            img, out = cv2.imread(f[1], cv2.IMREAD_COLOR), f[2]
            if img is None:
                report(False, f"mkimg {out}", f"cannot read {f[1]}")
                continue
            if len(f) > 3:
                x, y, w, h = map(int, f[3:7])
                img = img[y:y + h, x:x + w]
        else:
            raise ValueError(f"mkimg: unknown spec {spec}")
        report(bool(cv2.imwrite(out, img)), f"mkimg {out}", "cv2.imwrite failed")


def cmd_results(args):
    path, n = args[0], int(args[1])
    conf, model, same = None, None, None
    i = 2
    while i < len(args):
        if args[i] == "--conf":
            conf = float(args[i + 1])
        elif args[i] == "--model":
            model = args[i + 1]
        elif args[i] == "--same":
            same = args[i + 1]
        i += 2
    name = os.path.basename(path)
    objs = read_jsonl_checked(path)
    if objs is None:
        return
    report(len(objs) == n, f"{name}: one object per input ({n})", f"got {len(objs)}")
    problems = []
    for o in objs:
        p = o.get("path", "?")
        if set(o) != KEYS:
            problems.append(f"{p}: keys {sorted(o)} != {sorted(KEYS)}")
            continue
        if not isinstance(o["path"], str) or not isinstance(o["detections"], list) \
                or not isinstance(o["classes"], list):
            problems.append(f"{p}: wrong types for path/detections/classes")
            continue
        if model is not None and o["model"] != model:
            problems.append(f"{p}: model {o['model']!r} != {model!r}")
        if not isinstance(o["timing_ms"], dict) or set(o["timing_ms"]) != STAGES or \
                not all(is_num(v) and v >= 0 for v in o["timing_ms"].values()):
            problems.append(f"{p}: timing_ms {o['timing_ms']!r} lacks the stages {sorted(STAGES)}")
        if o["error"] is not None:
            if not isinstance(o["error"], str) or not o["error"]:
                problems.append(f"{p}: error must be null or a non-empty string")
            if o["detections"]:
                problems.append(f"{p}: failed input has detections")
            continue
        w, h = o["width"], o["height"]
        if not (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0):
            problems.append(f"{p}: bad width/height {w}x{h}")
            continue
        if o["output"] is not None and not isinstance(o["output"], str):
            problems.append(f"{p}: output must be a string or null")
        for d in o["detections"]:
            if not isinstance(d, dict) or set(d) != DET_KEYS:
                problems.append(f"{p}: detection keys {sorted(d)} != {sorted(DET_KEYS)}")
                continue
            b, s = d["box"], d["score"]
            if not (isinstance(b, list) and len(b) == 4 and all(is_num(v) for v in b)):
                problems.append(f"{p}: box {b!r} is not 4 numbers")
                continue
            x1, y1, x2, y2 = b
            if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
                problems.append(f"{p}: box {b} not inside the {w}x{h} image")
            if not is_num(s) or not (s <= 1 and (s > conf if conf is not None else s > 0)):
                problems.append(f"{p}: score {s} not in ({conf}, 1]")
            if not isinstance(d["class_id"], int) or d["class_id"] < 0 or \
                    not isinstance(d["class"], str) or not d["class"]:
                problems.append(f"{p}: bad class_id/class {d['class_id']!r}/{d['class']!r}")
    report(not problems, f"{name}: keys, types, boxes inside images, scores in ({conf or 0}, 1]",
           "; ".join(problems[:6]))
    if same is not None:
        other = read_jsonl_checked(same)
        if other is not None:
            report(other == objs, f"{os.path.basename(same)} holds the same objects as {name}",
                   f"{len(other)} vs {len(objs)} objects, or different contents")


def changed_mask(a, b, thr):
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > thr


def check_drawing(inp, out, dets, lossless, label):
    """Box outlines changed; pixels far from every box (and its label tag) unchanged."""
    h, w = inp.shape[:2]
    thr = 0 if lossless else 40
    ch = changed_mask(inp, out, thr)
    big = max(w, h)
    s_max = 2 + big // 500            # generous bounds on the font scale / line width
    margin = 8 + big // 400
    far = np.ones((h, w), bool)
    bad_edges = []
    for d in dets:
        x1, y1, x2, y2 = d["box"]
        tag_w = (len(d["class"]) + 6) * 6 * s_max + s_max
        tag_h = 11 * s_max + 2
        ex1 = int(max(0, min(x1, w - tag_w) - margin))
        ex2 = int(min(w, max(x2, x1 + tag_w) + margin))
        ey1 = int(max(0, y1 - tag_h - margin))
        ey2 = int(min(h, y2 + margin))
        far[ey1:ey2, ex1:ex2] = False
        ix1, iy1 = int(x1), int(y1)
        ix2, iy2 = min(int(x2) - 1, w - 1), min(int(y2) - 1, h - 1)
        if ix2 - ix1 < 10 or iy2 - iy1 < 10:
            continue
        edges = {
            "top": ch[max(0, iy1 - 1):iy1 + 3, ix1 + 3:ix2 - 2].any(axis=0),
            "bottom": ch[max(0, iy2 - 2):iy2 + 2, ix1 + 3:ix2 - 2].any(axis=0),
            "left": ch[iy1 + 3:iy2 - 2, max(0, ix1 - 1):ix1 + 3].any(axis=1),
            "right": ch[iy1 + 3:iy2 - 2, max(0, ix2 - 2):ix2 + 2].any(axis=1),
        }
        for side, col in edges.items():
            if col.size == 0 or col.mean() < 0.9:
                bad_edges.append(f"{side} of {[round(v) for v in d['box']]}: "
                                 f"{0 if col.size == 0 else col.mean():.0%} changed")
    if dets:
        report(not bad_edges, f"{label}: pixels on every box outline changed", "; ".join(bad_edges))
    frac_far = far.mean()
    if frac_far < 0.2:
        report(False, f"{label}: far-from-box region is large enough to test",
               f"only {frac_far:.0%} of the image")
        return
    diff = np.abs(inp.astype(np.int16) - out.astype(np.int16))[far]
    if lossless:
        n = int((diff.max(axis=1) > 0).sum())
        report(n == 0, f"{label}: pixels far from boxes unchanged (exact, lossless)",
               f"{n} pixels changed")
    else:
        mean = float(diff.mean())
        gross = float((diff.max(axis=1) > 60).mean())
        report(mean < 1.5 and gross < 0.002,
               f"{label}: pixels far from boxes nearly unchanged (JPEG noise only)",
               f"mean |diff| {mean:.2f}, {gross:.3%} of pixels off by > 60")


def cmd_annotated(args):
    need()
    path, outdir = args[0], args[1]
    objs = load_jsonl(path)
    ok_objs = [o for o in objs if o["error"] is None]
    report(bool(ok_objs), f"{path}: at least one input succeeded", "none did")
    for o in ok_objs:
        p = o["path"]
        want = expected_output(outdir, p)
        report(o["output"] == want, f"{p}: \"output\" is {want}", f"got {o['output']!r}")
        if not report(os.path.isfile(want), f"{p}: annotated file exists at {want}", "missing"):
            continue
        in_kind, out_kind = magic_of(p), magic_of(want)
        report(in_kind == out_kind and in_kind != "unknown",
               f"{p}: output format matches input ({in_kind})", f"output is {out_kind}")
        report(os.path.splitext(want)[1] == os.path.splitext(p)[1],
               f"{p}: output keeps the extension", want)
        inp = cv2.imread(p, cv2.IMREAD_COLOR)
        out = cv2.imread(want, cv2.IMREAD_COLOR)
        if not report(inp is not None and out is not None, f"{p}: cv2 reads input and output",
                      "cv2.imread failed"):
            continue
        report(inp.shape == out.shape and (o["width"], o["height"]) == (inp.shape[1], inp.shape[0]),
               f"{p}: output size = input size = JSONL width/height",
               f"in {inp.shape}, out {out.shape}, jsonl {o['width']}x{o['height']}")
        if inp.shape != out.shape:
            continue
        check_drawing(inp, out, o["detections"], in_kind in ("png", "bmp"), p)


def cmd_faces(args):
    path, name, xs, tol = args[0], args[1], [float(v) for v in args[2].split(",")], float(args[3])
    objs = [o for o in load_jsonl(path) if o["path"].endswith(name)]
    if not report(len(objs) == 1, f"{name}: exactly one result", f"{len(objs)} results"):
        return
    dets = objs[0]["detections"]
    report(len(dets) == len(xs), f"{name}: {len(xs)} faces at the default threshold",
           f"{len(dets)} detections: {[d['box'] for d in dets]}")
    centres = [(d["box"][0] + d["box"][2]) / 2 for d in dets]
    stray = [round(c) for c in centres if min(abs(c - x) for x in xs) > tol]
    report(not stray, f"{name}: every box centre within {tol:g} px of {xs}", f"stray centres {stray}")
    missing = [x for x in xs if not any(abs(c - x) <= tol for c in centres)]
    report(not missing, f"{name}: every expected face found", f"missing x {missing}; centres {centres}")


def label_file(outdir, p):
    parts = [q for q in p.split("/") if q not in ("", ".")]
    readme = outdir + "/labels/" + "/".join(parts) + ".txt"     # README: labels/<input path>.txt
    stem = outdir + "/labels/" + os.path.splitext("/".join(parts))[0] + ".txt"
    return readme if os.path.isfile(readme) else stem


def cmd_labels(args):
    path, outdir = args[0], args[1]
    for o in load_jsonl(path):
        if o["error"] is not None:
            continue
        p, w, h = o["path"], o["width"], o["height"]
        lf = label_file(outdir, p)
        if not report(os.path.isfile(lf), f"{p}: label file exists", f"neither {lf} nor the README name"):
            continue
        with open(lf, encoding="utf-8") as f:
            text = f.read()
        lines = text.splitlines()
        dets = o["detections"]
        report(len(lines) == len(dets), f"{p}: {len(dets)} label lines in {lf}",
               f"{len(lines)} lines: {text[:200]!r}")
        if not dets:
            report(text == "", f"{p}: label file is empty when nothing was found", repr(text[:100]))
        problems = []
        for line, d in zip(lines, dets):
            f5 = line.split()
            try:
                cls = int(f5[0])
                vals = [float(v) for v in f5[1:]]
            except (ValueError, IndexError):
                problems.append(f"not 'cls cx cy w h': {line!r}")
                continue
            if len(f5) != 5 or not all(0 <= v <= 1 for v in vals):
                problems.append(f"not 5 fields in [0,1]: {line!r}")
                continue
            x1, y1, x2, y2 = d["box"]
            want = [(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h]
            if cls != d["class_id"] or max(abs(a - b) for a, b in zip(vals, want)) > 2e-3:
                problems.append(f"{line!r} != JSONL {d['class_id']} {[round(v, 4) for v in want]}")
        if dets:
            report(not problems, f"{p}: YOLO lines 'cls cx cy w h' in [0,1] match the JSONL boxes",
                   "; ".join(problems[:4]))


def cmd_csv(args):
    path, objs = args[0], load_jsonl(args[1])
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error) as e:
        report(False, f"{path} parses as CSV", str(e))
        return
    report(True, f"{path} parses as CSV ({len(rows)} rows)")
    need = {"path", "class_id", "class", "score", "x1", "y1", "x2", "y2"}
    hdr = set(rows[0]) if rows else set()
    if not report(need <= hdr, f"{path}: header has {sorted(need)}", f"header {sorted(hdr)}"):
        return
    det_rows = [r for r in rows if r["class_id"] not in ("", None)]
    n_dets = sum(len(o["detections"]) for o in objs)
    report(len(det_rows) == n_dets, f"{path}: {n_dets} detection rows (= JSONL detections)",
           f"{len(det_rows)} rows")
    report({r["path"] for r in rows} == {o["path"] for o in objs},
           f"{path}: every input appears", f"{sorted({r['path'] for r in rows})}")
    bad = []
    for o in objs:
        mine = [r for r in det_rows if r["path"] == o["path"]]
        if len(mine) != len(o["detections"]):
            bad.append(f"{o['path']}: {len(mine)} rows vs {len(o['detections'])}")
            continue
        for r, d in zip(mine, o["detections"]):
            got = [float(r[k]) for k in ("x1", "y1", "x2", "y2")]
            if max(abs(a - b) for a, b in zip(got, d["box"])) > 0.051 or \
                    abs(float(r["score"]) - d["score"]) > 1e-3:
                bad.append(f"{o['path']}: {got} vs {d['box']}")
    report(not bad, f"{path}: rows match the JSONL per input", "; ".join(bad[:4]))


def cmd_json(args):
    path, objs = args[0], load_jsonl(args[1])
    try:
        with open(path, encoding="utf-8") as f:
            arr = json.load(f)
    except (OSError, ValueError) as e:
        report(False, f"{path} parses as JSON", str(e))
        return
    report(isinstance(arr, list), f"{path} parses as a JSON array", type(arr).__name__)
    report(isinstance(arr, list) and len(arr) == len(objs), f"{path}: {len(objs)} objects",
           f"{len(arr) if isinstance(arr, list) else '?'}")
    report(arr == objs, f"{path}: same objects as results.jsonl", "contents differ")


def cmd_tsv(args):
    path, objs = args[0], load_jsonl(args[1])
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    fields = [l.split("\t") for l in lines]
    det = [f for f in fields if len(f) > 1 and f[1] == "detection"]
    n_dets = sum(len(o["detections"]) for o in objs)
    report(len(det) == n_dets and len(det) > 0, f"{path}: {n_dets} tab-separated detection rows",
           f"{len(det)} of {len(lines)} lines: {lines[:3]}")
    bad = []
    for o in objs:
        mine = [f for f in det if f[0] == o["path"]]
        for f, d in zip(mine, o["detections"]):
            try:
                nums = [float(v) for v in f[4:8 + 1]]
                if len(f) < 9 or int(f[2]) != d["class_id"] or f[3] != d["class"] or \
                        abs(nums[0] - d["score"]) > 1e-3 or \
                        max(abs(a - b) for a, b in zip(nums[1:], d["box"])) > 0.051:
                    bad.append(repr(f))
            except ValueError:
                bad.append(repr(f))
        if len(mine) != len(o["detections"]):
            bad.append(f"{o['path']}: {len(mine)} rows vs {len(o['detections'])} detections")
    report(not bad, f"{path}: rows are path, detection, class_id, class, score, x1, y1, x2, y2 "
                    f"matching the JSONL", "; ".join(bad[:4]))


def cmd_text(args):
    path, objs = args[0], load_jsonl(args[1])
    with open(path, encoding="utf-8") as f:
        text = f.read()
    bad = []
    for o in objs:
        n = len(o["detections"])
        want = f"{o['path']}: {n} detection{'' if n == 1 else 's'}"
        if want not in text:
            bad.append(want)
    report(not bad, f"{path}: a '<path>: N detections' line per input", f"missing {bad}")
    rows = re.findall(r"^\s+\S+\s+([0-9.]+)\s+\[(-?\d+), (-?\d+), (-?\d+), (-?\d+)\]", text, re.M)
    n_dets = sum(len(o["detections"]) for o in objs)
    report(len(rows) == n_dets, f"{path}: {n_dets} box lines", f"{len(rows)}: {text[:300]!r}")


def cmd_npy(args):
    need(cv=False)
    d, info_txt, nlayers = args[0], args[1], int(args[2])
    with open(info_txt, encoding="utf-8") as f:
        info = f.read()
    m = re.search(r"input (\d+)x(\d+)x(\d+)", info)
    rows = re.findall(r"^\s*(\d+)\s+(\w+)\s.*?(\d+)x(\d+)x(\d+)\s*->\s*(\d+)x(\d+)x(\d+)", info, re.M)
    if not report(m is not None and len(rows) == nlayers, f"info lists the input and {nlayers} layers",
                  f"{len(rows)} rows"):
        return

    def shape_ok(arr, w, h, c):
        s = arr.shape[1:] if arr.ndim == 4 and arr.shape[0] == 1 else arr.shape
        return tuple(s) == (c, h, w)

    def load(p):
        try:
            return np.load(p, allow_pickle=False)
        except Exception as e:  # noqa: BLE001 - report any loader failure
            report(False, f"numpy loads {os.path.basename(p)}", str(e))
            return None

    w, h, c = map(int, m.groups())
    a = load(os.path.join(d, "input.npy"))
    if a is not None:
        report(shape_ok(a, w, h, c) and a.dtype == np.float32 and np.isfinite(a).all(),
               f"input.npy is float32 ({c}, {h}, {w}), finite", f"{a.shape} {a.dtype}")
    files = sorted(f for f in os.listdir(d) if re.fullmatch(r"layer_\d+.*\.npy", f))
    report(len(files) == nlayers, f"{nlayers} layer_*.npy files", f"{len(files)}: {files}")
    bad = []
    for idx, typ, iw, ih, ic, ow, oh, oc in rows:
        cand = [f for f in files if re.match(rf"layer_0*{int(idx)}(\D|$)", f)]
        if len(cand) != 1:
            bad.append(f"layer {idx}: files {cand}")
            continue
        arr = load(os.path.join(d, cand[0]))
        if arr is None:
            bad.append(f"{cand[0]}: unreadable")
        elif not shape_ok(arr, int(ow), int(oh), int(oc)) or arr.dtype != np.float32 \
                or not np.isfinite(arr).all():
            bad.append(f"{cand[0]}: {arr.shape} {arr.dtype} vs info {ow}x{oh}x{oc}")
    report(not bad, "every layer_*.npy loads with the shape `info` gives", "; ".join(bad[:5]))


def cmd_benchjson(args):
    path, runs = args[0], int(args[1])
    try:
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
    except (OSError, ValueError) as e:
        report(False, "bench --json output parses", str(e))
        return
    report(isinstance(j, dict), "bench --json output parses as one object", type(j).__name__)
    ms = j.get("ms", {}) if isinstance(j, dict) else {}
    keys = ("min", "median", "p90", "p99", "max")
    okv = isinstance(ms, dict) and all(is_num(ms.get(k)) for k in keys)
    report(okv and 0 < ms["min"] <= ms["median"] <= ms["p90"] <= ms["p99"] <= ms["max"],
           "bench --json: 0 < min <= median <= p90 <= p99 <= max", repr(ms))
    report(j.get("runs") == runs, f"bench --json: runs = {runs}", repr(j.get("runs")))


def cmd_valjson(args):
    """valjson FILE METRIC MIN N: `val -f json` output parses, METRIC >= MIN over N samples."""
    path, metric, lo, n = args[0], args[1], float(args[2]), int(args[3])
    try:
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
    except (OSError, ValueError) as e:
        report(False, "val -f json output parses", str(e))
        return
    count = j.get("samples", j.get("images"))
    report(count == n, f"val measured {n} samples", repr(count))
    v = j.get(metric)
    report(is_num(v) and v >= lo, f"val: {metric} = {v} >= {lo}", repr(v))


def main():
    cmds = {"valjson": cmd_valjson, "mkimg": cmd_mkimg, "results": cmd_results, "annotated": cmd_annotated,
            "faces": cmd_faces, "labels": cmd_labels, "csv": cmd_csv, "json": cmd_json,
            "tsv": cmd_tsv, "text": cmd_text, "npy": cmd_npy, "benchjson": cmd_benchjson}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__)
        sys.exit(2)
    try:
        cmds[sys.argv[1]](sys.argv[2:])
    except Exception as e:  # noqa: BLE001 - any crash is a failed check, with the reason
        report(False, f"check.py {' '.join(sys.argv[1:3])}", f"{type(e).__name__}: {e}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
