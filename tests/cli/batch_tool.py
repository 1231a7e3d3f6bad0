#!/usr/bin/python3
"""Checks and generators for tests/cli/test_batch.sh and test_hostile.sh (run with /usr/bin/python3:
needs Debian's cv2 + numpy). Like check.py, every assertion prints one line, "PASS <what>" or
"FAIL <what>: <why>"; the shell side counts them, and a crash counts as a failure.

  batch_tool.py mkset OUTROOT SRC...         ~40 images in OUTROOT/{a,b,b/c} (JPEG, PNG, BMP)
  batch_tool.py same A.jsonl B.jsonl [--ordered] [--dirs DA DB] [--label L]
                                             the same results (timing_ms ignored; "output" compared
                                             relative to DA / DB); --ordered: also the same order
  batch_tool.py samefiles DIR_A DIR_B LABEL  the same non-hidden files under DIR_A/images and
                                             DIR_B/images, byte for byte
  batch_tool.py killed OUTDIR LABEL          after a kill -9: complete lines parse, every
                                             final-named image decodes to its input's size
  batch_tool.py runjson OUTDIR [--full] KEY=VALUE...
                                             run.json fields (JSON values); --full: also the
                                             model files + sha256s, command, thresholds, timing
  batch_tool.py errors OUTDIR                errors.txt = the failed results.jsonl lines
  batch_tool.py shards N DIR...              shard folders are disjoint and cover N-sharded inputs
  batch_tool.py hostile OUTROOT GOOD.jpg GOOD.png
                                             writes the broken-file corpus and OUTROOT/manifest.tsv
  batch_tool.py hostile-results OUTDIR MANIFEST STDERR
                                             every must-fail input failed and is reported once
"""
import hashlib
import json
import os
import random
import struct
import sys
import zlib

cv2 = np = None
failures = 0


def need():
    global cv2, np
    try:
        import cv2 as _cv2
        import numpy as _np
    except ImportError as e:  # a missing dependency is a failure, never a skip
        print(f"FAIL import cv2/numpy with {sys.executable}: {e}")
        sys.exit(1)
    cv2, np = _cv2, _np


def report(ok, what, why=""):
    global failures
    if ok:
        print(f"PASS {what}")
    else:
        failures += 1
        print(f"FAIL {what}: {why}")
    return ok


def load_jsonl(path, strict=True):
    """Complete lines only (a last line without '\\n' is dropped); strict UTF-8 JSON per line."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last '\n': empty unless the file ends in a partial line
    objs = []
    for i, raw in enumerate(lines, 1):
        try:
            objs.append(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as e:
            if strict:
                raise ValueError(f"{path}:{i}: {e}: {raw[:120]!r}") from None
            objs.append(None)
    return objs, tail


def norm(o, outdir):
    o = dict(o)
    o.pop("timing_ms", None)
    out = o.get("output")
    if isinstance(out, str) and outdir is not None:
        pre = outdir.rstrip("/") + "/"
        o["output"] = "<OUT>/" + out[len(pre):] if out.startswith(pre) else "<ELSEWHERE>" + out
    return o


# ---------------------------------------------------------------------------------------------
def cmd_mkset(args):
    need()
    root, srcs = args[0], args[1:]
    for sub in ("a", "b", "b/c"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    n = 0
    for i, src in enumerate(sorted(srcs)):
        img = cv2.imread(src, cv2.IMREAD_COLOR)
        if not report(img is not None, f"mkset: cv2 reads {src}", "cv2.imread failed"):
            continue
        base = os.path.splitext(os.path.basename(src))[0]

        def scaled(side):
            h, w = img.shape[:2]
            s = side / max(h, w)
            return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))),
                              interpolation=cv2.INTER_AREA)
        outs = [(f"a/{base}.jpg", scaled(640)),
                (f"b/{base}.png", scaled(480)),
                (f"b/c/{base}_flip.jpg", cv2.flip(scaled(560), 1))]
        if i == 0:
            outs.append((f"a/{base} copy.bmp", scaled(400)))     # a space in the name, BMP
        if i == 1:
            outs.append((f"b/c/{base}-é.png", scaled(360)))      # a UTF-8 name
        for rel, im in outs:
            ok = cv2.imwrite(os.path.join(root, rel), im)
            n += ok
            if not ok:
                report(False, f"mkset: write {rel}", "cv2.imwrite failed")
    want = 3 * len(srcs) + min(len(srcs), 2)
    report(n == want, f"mkset: {n} test images in {root}", f"want {want}")


def cmd_same(args):
    a, b = args[0], args[1]
    ordered = "--ordered" in args
    da = db = None
    label = f"{a} vs {b}"
    if "--dirs" in args:
        k = args.index("--dirs")
        da, db = args[k + 1], args[k + 2]
    if "--label" in args:
        label = args[args.index("--label") + 1]
    try:
        oa, ta = load_jsonl(a)
        ob, tb = load_jsonl(b)
    except (OSError, ValueError) as e:
        report(False, f"{label}: both parse as JSONL", str(e))
        return
    report(ta == b"" and tb == b"", f"{label}: both end in a newline", f"tails {ta[:40]!r} {tb[:40]!r}")
    na = [norm(o, da) for o in oa]
    nb = [norm(o, db) for o in ob]
    pa = [o.get("path") for o in na]
    pb = [o.get("path") for o in nb]
    dup = sorted({p for p in pb if pb.count(p) > 1} | {p for p in pa if pa.count(p) > 1})
    report(not dup, f"{label}: no input appears twice", f"duplicates {dup[:5]}")
    report(sorted(pa) == sorted(pb), f"{label}: the same set of input paths ({len(pa)})",
           f"only in A {sorted(set(pa) - set(pb))[:5]}, only in B {sorted(set(pb) - set(pa))[:5]}")
    if ordered:
        report(pa == pb, f"{label}: the same order", f"first difference at "
               f"{next((i for i, (x, y) in enumerate(zip(pa, pb)) if x != y), min(len(pa), len(pb)))}")
    key = lambda o: json.dumps(o, sort_keys=True)  # noqa: E731
    sa = sorted(na, key=key)
    sb = sorted(nb, key=key)
    diff = [f"{x.get('path')}: {key(x)[:200]} != {key(y)[:200]}" for x, y in zip(sa, sb) if x != y]
    report(sa == sb and (not ordered or na == nb),
           f"{label}: identical results (detections, boxes, scores, sizes, outputs, errors)",
           "; ".join(diff[:3]) or "order differs")


def image_files(d):
    out = {}
    base = os.path.join(d, "images")
    for root, dirs, files in os.walk(base):
        for f in files:
            if f.startswith("."):
                continue
            p = os.path.join(root, f)
            out[os.path.relpath(p, base)] = p
    return out


def cmd_samefiles(args):
    a, b, label = args[0], args[1], args[2]
    fa, fb = image_files(a), image_files(b)
    report(bool(fa) and set(fa) == set(fb), f"{label}: the same set of output image files ({len(fa)})",
           f"only in A {sorted(set(fa) - set(fb))[:5]}, only in B {sorted(set(fb) - set(fa))[:5]}")
    differ = []
    for rel in sorted(set(fa) & set(fb)):
        with open(fa[rel], "rb") as x, open(fb[rel], "rb") as y:
            if x.read() != y.read():
                differ.append(rel)
    report(not differ, f"{label}: every output image byte-identical", f"differ: {differ[:5]}")


def cmd_killed(args):
    """State after a kill -9: every line that ends in '\\n' is complete JSON, and no image under
    its final name is partial (each decodes to the size of the input it mirrors)."""
    need()
    d, label = args[0], args[1]
    res = os.path.join(d, "results.jsonl")
    if os.path.exists(res):
        try:
            objs, tail = load_jsonl(res)
            report(all(isinstance(o, dict) and "path" in o and "error" in o for o in objs),
                   f"{label}: {len(objs)} complete results lines parse as JSON objects",
                   "a line without path/error")
            gone = [o["output"] for o in objs if isinstance(o, dict) and o.get("error") is None
                    and isinstance(o.get("output"), str) and not os.path.isfile(o["output"])]
            report(not gone, f"{label}: the image of every complete result exists", f"missing {gone[:4]}")
        except (OSError, ValueError) as e:
            report(False, f"{label}: every complete results line parses", str(e))
    else:
        report(True, f"{label}: no results.jsonl yet (killed early)")
    bad = []
    files = image_files(d)
    for rel, p in files.items():
        src = rel  # outputs mirror the input path (relative inputs, no '..')
        im = cv2.imread(p, cv2.IMREAD_COLOR)
        ref = cv2.imread(src, cv2.IMREAD_COLOR)
        if im is None or ref is None or im.shape != ref.shape:
            bad.append(f"{rel}: {None if im is None else im.shape} vs input "
                       f"{None if ref is None else ref.shape}")
    report(not bad, f"{label}: all {len(files)} final-named images decode to their input's size",
           "; ".join(bad[:4]))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cmd_runjson(args):
    d = args[0]
    try:
        with open(os.path.join(d, "run.json"), encoding="utf-8") as f:
            j = json.load(f)
    except (OSError, ValueError) as e:
        report(False, f"{d}/run.json parses", str(e))
        return
    report(isinstance(j, dict), f"{d}/run.json parses as an object", type(j).__name__)
    full = "--full" in args
    for kv in (a for a in args[1:] if a != "--full"):
        k, v = kv.split("=", 1)
        want = json.loads(v)
        got = j
        for part in k.split("."):
            got = got.get(part) if isinstance(got, dict) else None
        report(got == want, f"{d}/run.json: {k} = {v}", f"got {got!r}")
    if not full:
        return
    m = j.get("model", {})
    for part in ("cfg", "weights", "names"):
        e = m.get(part) if isinstance(m, dict) else None
        ok = isinstance(e, dict) and isinstance(e.get("path"), str) and os.path.isfile(e["path"])
        if report(ok, f"{d}/run.json: model.{part}.path names an existing file", repr(e)):
            want = sha256(e["path"])
            report(e.get("sha256") == want, f"{d}/run.json: model.{part}.sha256 = sha256sum of the file",
                   f"{e.get('sha256')} != {want}")
    report(isinstance(j.get("version"), str) and j["version"] != "", f"{d}/run.json: version is set",
           repr(j.get("version")))
    cmd = j.get("command")
    report(isinstance(cmd, list) and cmd[:2] == ["cnndemo", "detect"],
           f"{d}/run.json: command is the argument list", repr(cmd))
    for k in ("conf", "iou"):
        report(isinstance(j.get(k), (int, float)) and 0 <= j[k] <= 1, f"{d}/run.json: {k} threshold",
               repr(j.get(k)))
    for k in ("workers", "blas_threads"):
        report(isinstance(j.get(k), int) and j[k] >= 1, f"{d}/run.json: {k} >= 1", repr(j.get(k)))
    t = j.get("wall_s")
    report(isinstance(t, (int, float)) and t > 0, f"{d}/run.json: wall_s > 0", repr(t))
    tm = j.get("timing_ms")
    report(isinstance(tm, dict) and {"first", "steady_mean"} <= set(tm), f"{d}/run.json: timing_ms",
           repr(tm)[:100])


def cmd_errors(args):
    d = args[0]
    objs, _ = load_jsonl(os.path.join(d, "results.jsonl"))
    with open(os.path.join(d, "errors.txt"), "rb") as f:
        raw = f.read()
    lines = raw.decode("utf-8", "replace").splitlines()
    rows = [l.split("\t", 1) for l in lines]
    report(all(len(r) == 2 and r[0] and r[1] for r in rows),
           f"{d}/errors.txt: every line is PATH<TAB>REASON", repr(lines[:3]))
    failed = {o["path"]: o["error"] for o in objs if o.get("error") is not None}
    got = {r[0]: r[1] for r in rows if len(r) == 2}
    report(sorted(got) == sorted(failed) and len(rows) == len(got),
           f"{d}/errors.txt lists exactly the {len(failed)} failed inputs, once each",
           f"errors.txt {sorted(got)[:5]} vs results {sorted(failed)[:5]}")
    report(all(got.get(p) == e for p, e in failed.items()),
           f"{d}/errors.txt reasons = results.jsonl error fields", "differ")


def fnv1a(path):
    h = 0xcbf29ce484222325
    for c in path.encode("utf-8", "surrogateescape"):
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def cmd_shards(args):
    n, dirs = int(args[0]), args[1:]
    seen = {}
    for i, d in enumerate(dirs):
        objs, _ = load_jsonl(os.path.join(d, "results.jsonl"))
        for o in objs:
            seen.setdefault(o["path"], []).append(i)
    twice = [p for p, v in seen.items() if len(v) > 1]
    report(not twice, f"{n} shards are disjoint", f"in several shards: {twice[:5]}")
    sizes = [sum(1 for v in seen.values() if i in v) for i in range(len(dirs))]
    report(all(s > 0 for s in sizes), f"every shard got inputs (sizes {sizes})", "an empty shard")
    # the documented partition: FNV-1a 64 of the path string, modulo N
    wrong = [p for p, v in seen.items() if fnv1a(p) % n != v[0]]
    report(not wrong, "shard of each input = FNV-1a(path) mod N (depends on the path only)",
           f"{wrong[:5]}")


# ---------------------------------------------------------------------------------------------
def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def cmd_hostile(args):
    """Writes the corpus into OUTROOT/bad/ (all named with image extensions, picked up from the
    folder) and OUTROOT/other/ (real extensions, passed explicitly). OUTROOT/manifest.tsv has one
    line per file: MUST-FAIL or MAY-FAIL, TAB, path."""
    need()
    root, good_jpg, good_png = args[0], args[1], args[2]
    bad = os.path.join(root, "bad")
    other = os.path.join(root, "other")
    os.makedirs(bad, exist_ok=True)
    os.makedirs(other, exist_ok=True)
    manifest = []

    def put(path, data, must=True):
        with open(path, "wb") as f:
            f.write(data)
        manifest.append(("MUST-FAIL" if must else "MAY-FAIL", path))

    jpg = open(good_jpg, "rb").read()
    png = open(good_png, "rb").read()
    for frac in (0.1, 0.5, 0.9):
        put(f"{bad}/trunc{int(frac * 100)}.jpg", jpg[:int(len(jpg) * frac)])
        put(f"{bad}/trunc{int(frac * 100)}.png", png[:int(len(png) * frac)])
    put(f"{bad}/trunc_hdr.png", png[:33])           # signature + IHDR only
    put(f"{bad}/trunc_sig.png", png[:8])
    put(f"{bad}/trunc_iend.png", png[:-1])           # IEND chunk cut by one byte
    put(f"{bad}/trunc_soi.jpg", jpg[:3])
    put(f"{bad}/nine_bytes.jpg", b"\xff\xd8\xff\xe0\x00\x10JFI")
    # bit flips: the outcome may be a decodable image or a failure, but never a crash or a hang
    for seed in range(6):
        rng = random.Random(seed)
        for name, data in (("jpg", jpg), ("png", png)):
            b = bytearray(data)
            for _ in range(1 + seed * 3):
                k = rng.randrange(2, len(b))
                b[k] ^= 1 << rng.randrange(8)
            put(f"{bad}/flip{seed}.{name}", bytes(b), must=False)
        b = bytearray(jpg)                            # flips inside the headers
        for _ in range(4):
            k = rng.randrange(2, min(len(b), 600))
            b[k] ^= 1 << rng.randrange(8)
        put(f"{bad}/hdrflip{seed}.jpg", bytes(b), must=False)
    # a PNG claiming 100000 x 100000 with valid CRCs and a tiny IDAT
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 301)
    huge = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    put(f"{bad}/huge100k.png", huge)
    ihdr = struct.pack(">IIBBBBB", 1, 2**31 - 1, 8, 2, 0, 0, 0)  # thin but tall
    put(f"{bad}/tall.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b""))
    ihdr = struct.pack(">IIBBBBB", 0, 16, 8, 2, 0, 0, 0)  # zero width
    put(f"{bad}/zerowidth.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b""))
    # zero-byte files
    for ext in ("jpg", "png", "bmp", "jpeg"):
        put(f"{bad}/empty.{ext}", b"")
    # text named like images
    put(f"{bad}/notes.png", b"this is not a PNG\n" * 20)
    put(f"{bad}/notes.jpg", b"<html><body>not a jpeg</body></html>\n")
    put(f"{bad}/notes.bmp", b"BM this is text pretending to be a bitmap\n")
    # unsupported formats, under image extensions (taken from the folder) and their own names
    img = np.full((16, 16, 3), 128, np.uint8)
    ok, tif = cv2.imencode(".tiff", img)
    ok2, hdr = cv2.imencode(".hdr", img.astype(np.float32) / 255)
    ok3, pgm16 = cv2.imencode(".pgm", np.full((16, 16), 40000, np.uint16))
    report(ok and ok2 and ok3, "hostile: cv2 encodes TIFF, HDR and 16-bit PGM", "imencode failed")
    gif = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
           b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
    psd = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 16, 16, 8, 3) + b"\x00" * 4 * 3 + \
        struct.pack(">H", 0) + b"\x80" * (16 * 16 * 3)
    pic = b"\x53\x80\xf6\x34" + b"\x00" * 84 + b"PICT" + struct.pack(">HHf", 16, 16, 1.0) + b"\x00" * 200
    tga = struct.pack("<BBBHHBHHHHBB", 0, 0, 2, 0, 0, 0, 0, 0, 16, 16, 24, 0) + b"\x80" * (16 * 16 * 3)
    webp = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + b"\x00" * 22
    for name, data in (("gif", gif), ("tiff", tif.tobytes()), ("psd", psd), ("hdr", hdr.tobytes()),
                       ("pic", pic), ("pgm16", pgm16.tobytes()), ("tga", tga), ("webp", webp)):
        put(f"{bad}/fmt_{name}.png", data)
        put(f"{bad}/fmt_{name}.jpg", data)
        put(f"{other}/real.{name.replace('16', '')}", data)
    # BMPs whose header claims more pixels than the file holds, or absurd sizes
    bmp = cv2.imencode(".bmp", np.full((32, 32, 3), 99, np.uint8))[1].tobytes()
    b = bytearray(bmp)
    struct.pack_into("<i", b, 22, 4096)                # height 32 -> 4096, same data
    put(f"{bad}/bmp_short.bmp", bytes(b))
    b = bytearray(bmp)
    struct.pack_into("<ii", b, 18, 30000, -30000)      # 900 MP, top-down
    put(f"{bad}/bmp_huge.bmp", bytes(b))
    b = bytearray(bmp)
    struct.pack_into("<I", b, 10, 10 ** 9)             # pixel data offset past the end
    put(f"{bad}/bmp_offset.bmp", bytes(b))
    put(f"{bad}/bmp_cut.bmp", bmp[:len(bmp) // 2])
    # JPEG whose SOF claims 60000 x 60000 (3.6 gigapixels) followed by the original data
    k = jpg.find(b"\xff\xc0")
    if k < 0:
        k = jpg.find(b"\xff\xc2")
    b = bytearray(jpg)
    struct.pack_into(">HH", b, k + 5, 60000, 60000)
    put(f"{bad}/jpeg_huge.jpg", bytes(b))
    # a folder named like an image, inside the folder (walked with -r: holds a broken file)
    os.makedirs(f"{bad}/folder.jpg", exist_ok=True)
    put(f"{bad}/folder.jpg/inner.png", b"\x89PNG\r\n\x1a\n")
    with open(os.path.join(root, "manifest.tsv"), "w", encoding="utf-8") as f:
        for kind, p in manifest:
            f.write(f"{kind}\t{p}\n")
    report(len(manifest) > 40, f"hostile: {len(manifest)} broken files written", "too few")


def cmd_hostile_results(args):
    d, manifest, stderr_path = args[0], args[1], args[2]
    with open(manifest, encoding="utf-8") as f:
        rows = [l.rstrip("\n").split("\t", 1) for l in f if l.strip()]
    try:
        objs, tail = load_jsonl(os.path.join(d, "results.jsonl"))
    except (OSError, ValueError) as e:
        report(False, f"{d}/results.jsonl parses (strict UTF-8 JSON)", str(e))
        return
    report(tail == b"", f"{d}/results.jsonl ends in a newline", repr(tail[:60]))
    by = {}
    for o in objs:
        by.setdefault(o["path"], []).append(o)
    with open(os.path.join(d, "errors.txt"), "rb") as f:
        err_paths = [l.split(b"\t", 1)[0].decode("utf-8", "replace") for l in f.read().splitlines()]
    with open(stderr_path, "rb") as f:
        stderr = f.read().decode("utf-8", "replace").splitlines()
    probs = {"missing": [], "twice": [], "not_failed": [], "no_errors_txt": [], "stderr": [],
             "output": [], "may": []}
    for kind, p in rows:
        got = by.get(p, [])
        if len(got) != 1:
            probs["missing" if not got else "twice"].append(p)
            continue
        o = got[0]
        failed = o["error"] is not None
        if kind == "MUST-FAIL" and not failed:
            probs["not_failed"].append(p)
        if failed:
            if not (isinstance(o["error"], str) and p in o["error"] and o["detections"] == []
                    and o["output"] is None):
                probs["output"].append(p)
            if err_paths.count(p) != 1:
                probs["no_errors_txt"].append(p)
            if sum(1 for l in stderr if p + ":" in l) != 1:
                probs["stderr"].append(p)
        else:
            if not (isinstance(o["output"], str) and os.path.isfile(o["output"])):
                probs["may"].append(p)
    n_must = sum(1 for k, _ in rows if k == "MUST-FAIL")
    report(not probs["missing"] and not probs["twice"],
           f"each of the {len(rows)} broken inputs has exactly one results line",
           f"missing {probs['missing'][:5]}, twice {probs['twice'][:5]}")
    report(not probs["not_failed"], f"each of the {n_must} must-fail inputs failed",
           f"processed as images: {probs['not_failed'][:8]}")
    report(not probs["output"], "each failed input: error names the file, no detections, no output",
           f"{probs['output'][:5]}")
    report(not probs["no_errors_txt"], "each failed input is listed once in errors.txt",
           f"{probs['no_errors_txt'][:5]}")
    report(not probs["stderr"], "each failed input is named on exactly one stderr line",
           f"{probs['stderr'][:5]}")
    report(not probs["may"], "each bit-flipped input that decoded has its annotated image",
           f"{probs['may'][:5]}")
    n_fail = sum(1 for o in objs if o["error"] is not None)
    print(f"       ({n_fail} of {len(objs)} inputs failed)")


def main():
    cmds = {"mkset": cmd_mkset, "same": cmd_same, "samefiles": cmd_samefiles, "killed": cmd_killed,
            "runjson": cmd_runjson, "errors": cmd_errors, "shards": cmd_shards,
            "hostile": cmd_hostile, "hostile-results": cmd_hostile_results}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__)
        sys.exit(2)
    try:
        cmds[sys.argv[1]](sys.argv[2:])
    except Exception as e:  # noqa: BLE001 - any crash is a failed check, with the reason
        report(False, f"batch_tool.py {' '.join(sys.argv[1:3])}", f"{type(e).__name__}: {e}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
