#!/usr/bin/python3
"""make_seeds.py — writes the hand-made seed files of tests/fuzz/corpus/ (images, cfgs, weights,
names and list files). Run from anywhere: /usr/bin/python3 tests/fuzz/make_seeds.py
Seeds are named seed-*; inputs a campaign found crashing are added as crash-* (never rewritten
here). Needs numpy and OpenCV (python3-opencv) for the JPEG seeds."""
import os
import struct
import zlib

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def pattern(h, w, c=3):
    y, x = np.mgrid[0:h, 0:w]
    planes = [(x * 37 + y * 11) % 256, (x * 5 + y * 53) % 256, (x * y * 7 + 90) % 256,
              (x + y * 3) * 9 % 256]
    return np.stack(planes[:c], axis=-1).astype(np.uint8)


# ---- PNG, written by hand for every colour type, bit depth and interlacing ----
def chunk(kind, data):
    c = kind + data
    return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)


def pack_row(vals, depth):
    """vals: flat list of samples for one row."""
    if depth == 8:
        return bytes(vals)
    if depth == 16:
        return b"".join(struct.pack(">H", v) for v in vals)
    out, acc, bits = bytearray(), 0, 0
    for v in vals:
        acc = (acc << depth) | v
        bits += depth
        if bits == 8:
            out.append(acc)
            acc = bits = 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def png(w, h, ctype, depth, samples, interlace=0, extra=b"", filt=0):
    """samples(x, y) -> tuple of channel values."""
    def rows(xs, ys):
        raw = b""
        for y in ys:
            vals = []
            for x in xs:
                vals.extend(samples(x, y))
            raw += bytes([filt]) + pack_row(vals, depth)
        return raw
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            xs, ys = range(x0, w, dx), range(y0, h, dy)
            if len(xs) and len(ys):
                raw += rows(xs, ys)
    else:
        raw = rows(range(w), range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def images():
    m = lambda d: (1 << d) - 1
    for d in (1, 2, 4, 8, 16):
        put("image", f"png-grey{d}.png", png(9, 5, 0, d, lambda x, y: ((x + 2 * y) % (m(d) + 1),)))
    put("image", "png-rgb8.png", png(7, 5, 2, 8, lambda x, y: (x * 30, y * 40, 200)))
    put("image", "png-rgb16.png", png(5, 4, 2, 16, lambda x, y: (x * 9000, y * 7000, 65535)))
    put("image", "png-rgb8-adam7.png",
        png(11, 9, 2, 8, lambda x, y: (x * 20, y * 25, (x * y) % 256), interlace=1))
    put("image", "png-grey2-adam7.png", png(10, 10, 0, 2, lambda x, y: ((x ^ y) & 3,), interlace=1))
    plte = chunk(b"PLTE", bytes(range(48)))
    trns = chunk(b"tRNS", bytes([0, 128, 255]))
    for d in (1, 2, 4, 8):
        put("image", f"png-pal{d}.png",
            png(9, 4, 3, d, lambda x, y: ((x + y) % min(16, 1 << d),), extra=plte + trns))
    put("image", "png-greyalpha8.png", png(6, 3, 4, 8, lambda x, y: (x * 40, y * 80)))
    put("image", "png-rgba16-adam7.png",
        png(6, 6, 6, 16, lambda x, y: (x * 9999, y * 9999, 500, 40000), interlace=1))
    put("image", "png-rgba8-paeth.png", png(5, 5, 6, 8, lambda x, y: (x, y, x * y, 255), filt=4))
    put("image", "png-rgb8-avg.png", png(5, 5, 2, 8, lambda x, y: (x * 9, y, 7), filt=3))
    put("image", "png-grey8-trns.png",
        png(4, 4, 0, 8, lambda x, y: (x * 60,), extra=chunk(b"tRNS", b"\x00\x3c")))
    ok, b = cv2.imencode(".png", pattern(6, 8))
    put("image", "cv2-rgb.png", b.tobytes())

    # ---- JPEG (OpenCV / libjpeg-turbo) ----
    img = pattern(16, 16)
    variants = {
        "baseline-q50.jpg": (img, [cv2.IMWRITE_JPEG_QUALITY, 50]),
        "baseline-odd.jpg": (pattern(7, 13), [cv2.IMWRITE_JPEG_QUALITY, 30]),
        "grey.jpg": (pattern(9, 10, 1), [cv2.IMWRITE_JPEG_QUALITY, 40]),
        "progressive.jpg": (img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1, cv2.IMWRITE_JPEG_QUALITY, 40]),
        "progressive-grey.jpg": (pattern(12, 9, 1), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        "restart.jpg": (pattern(24, 24), [cv2.IMWRITE_JPEG_RST_INTERVAL, 1,
                                          cv2.IMWRITE_JPEG_QUALITY, 30]),
        "optimized.jpg": (img, [cv2.IMWRITE_JPEG_OPTIMIZE, 1, cv2.IMWRITE_JPEG_QUALITY, 20]),
    }
    for name, (im, params) in variants.items():
        ok, b = cv2.imencode(".jpg", im, params)
        assert ok and len(b) < 4096, name
        put("image", name, b.tobytes())

    # ---- BMP, by hand ----
    def bmp(w, h, bpp, rows, palette=b"", hsz=40, comp=0, masks=b"", topdown=False):
        stride = (w * bpp + 31) // 32 * 4
        pix = b"".join(r.ljust(stride, b"\0") for r in rows)
        if hsz == 12:
            info = struct.pack("<IHHHH", 12, w, h, 1, bpp)
        else:
            info = struct.pack("<IiiHHIIiiII", hsz, w, -h if topdown else h, 1, bpp, comp,
                               len(pix), 2835, 2835, len(palette) // 4 if palette else 0, 0)
            info += masks
            info = info.ljust(hsz, b"\0")
        off = 14 + len(info) + len(palette)
        return b"BM" + struct.pack("<IHHI", off + len(pix), 0, 0, off) + info + palette + pix

    def rgb_rows(w, h):
        p = pattern(h, w)
        return [bytes(p[h - 1 - y, :, ::-1].tobytes()) for y in range(h)]  # bottom-up BGR

    put("image", "bmp24.bmp", bmp(5, 3, 24, rgb_rows(5, 3)))
    put("image", "bmp24-topdown.bmp", bmp(5, 3, 24, rgb_rows(5, 3)[::-1], topdown=True))
    put("image", "bmp24-os2.bmp", bmp(4, 3, 24, rgb_rows(4, 3), hsz=12))
    pal = b"".join(bytes([i * 16, 255 - i * 16, i * 7, 0]) for i in range(16))
    put("image", "bmp8-pal.bmp", bmp(6, 4, 8, [bytes((x + y) % 16 for x in range(6))
                                                 for y in range(4)], palette=pal))
    put("image", "bmp4-pal.bmp", bmp(7, 3, 4, [pack_row([(x * 3 + y) % 16 for x in range(7)], 4)
                                                 for y in range(3)], palette=pal))
    put("image", "bmp1-pal.bmp", bmp(11, 3, 1, [pack_row([(x + y) & 1 for x in range(11)], 1)
                                                  for y in range(3)], palette=pal[:8]))
    px32 = [b"".join(struct.pack("<I", (x * 40) << 16 | (y * 80) << 8 | 0x80 | 0xFF000000)
                     for x in range(4)) for y in range(3)]
    masks32 = struct.pack("<IIII", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000)
    put("image", "bmp32-bitfields-v4.bmp", bmp(4, 3, 32, px32, hsz=108, comp=3, masks=masks32))
    put("image", "bmp32.bmp", bmp(4, 3, 32, px32))
    px16 = [b"".join(struct.pack("<H", (x * 5) << 11 | (y * 9) << 5 | 17) for x in range(5))
            for y in range(2)]
    masks16 = struct.pack("<III", 0xF800, 0x07E0, 0x001F)
    put("image", "bmp16-565-v3.bmp", bmp(5, 2, 16, px16, hsz=56, comp=3, masks=masks16 + b"\0" * 4))
    put("image", "bmp16-555.bmp", bmp(5, 2, 16, px16))

    # ---- inputs our checks refuse (they keep those paths in the corpus) ----
    good = png(6, 5, 2, 8, lambda x, y: (x, y, 9))
    put("image", "bad-png-truncated.png", good[:-20])
    put("image", "bad-png-empty-idat.png", good[:33] + chunk(b"IDAT", b"") + chunk(b"IEND", b""))
    put("image", "bad-png-huge.png", png(1, 1, 0, 8, lambda x, y: (0,))[:16] +
        struct.pack(">II", 100000, 100000) + good[24:])
    put("image", "bad-jpeg-eoi-only.jpg", bytes([0xFF, 0xD8, 0xFF, 0xFE, 0, 14]) + bytes(12) +
        bytes([0xFF, 0xD9]))
    put("image", "bad-bmp-depth.bmp", bmp(5, 3, 24, rgb_rows(5, 3))[:28] + b"\x07\x00" +
        bmp(5, 3, 24, rgb_rows(5, 3))[30:])


# ---- cfg: the planner's inputs ----
TINY_CFGS = {
    "classifier.cfg": """[net]
width=12
height=10
channels=1
[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=relu
[avgpool]
[dropout]
probability=0.3
[connected]
output=4
activation=linear
[softmax]
groups=1
""",
    "region.cfg": """[net]
width=32
height=32
channels=3
x_letterbox=center
x_resize=bilinear
x_fill=0.25
[convolutional]
filters=8
size=3
stride=2
pad=1
activation=leaky
[maxpool]
size=2
stride=2
[convolutional]
filters=14
size=1
activation=linear
[region]
anchors=1,1, 2,3
classes=2
coords=4
num=2
softmax=1
thresh=0.5
x_conf=0.3
x_nms=0.4
""",
    "region-objectness.cfg": """[net]
width=16
height=16
channels=3
[convolutional]
filters=10
size=1
activation=linear
[region]
anchors=1,1, 2,2
classes=0
num=2
x_score=objectness
""",
    "yolo-route-upsample.cfg": """[net]
width=32
height=32
channels=3
x_letterbox=topleft
x_resize=bilinear_legacy
x_mean=10,20,30
x_input_divisor=64
[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=mish
[convolutional]
filters=8
groups=8
size=3
stride=1
padding=2
activation=swish
[convolutional]
filters=8
size=1
activation=linear
[shortcut]
from=-2
activation=leaky
[maxpool]
size=3
stride=2
padding=1
[convolutional]
filters=14
size=1
activation=linear
[yolo]
mask=0,1
anchors=1,2, 3,4, 5,6
classes=2
num=3
scale_x_y=1.05
[route]
layers=-3
[upsample]
stride=2
[route]
layers=-1,3
groups=2
group_id=1
[convolutional]
filters=14
size=1
activation=logistic
[yolo]
mask=1,2
anchors=1,2, 3,4, 5,6
classes=2
num=3
""",
    "net-training-keys.cfg": """[network]
batch=64
subdivisions=8
width=8
height=8
channels=3
momentum=0.9
decay=0.0005
learning_rate=0.001
policy=steps
steps=400000,450000
scales=.1,.1
letter_box=1
[conv]
filters=2
size=1
activation=tanh
[max]
stride=1
size=1
[avg]
[conn]
output=3
batch_normalize=1
activation=relu
[soft]
""",
    "errors.cfg": """[net]
width=8
height=8
[convolutional]
filters=0
[route]
layers=5
""",
}


def cfgs():
    for src, name in [("/usr/share/darknet/cfg/yolov3-tiny.cfg", "yolov3-tiny.cfg"),
                      ("/usr/share/darknet/cfg/yolov2-tiny.cfg", "yolov2-tiny.cfg"),
                      (os.path.join(TOP, "models/face.cfg"), "face.cfg"),
                      (os.path.join(TOP, "tests/conformance/depthwise.cfg"), "depthwise.cfg")]:
        with open(src) as f:
            text = f.read()
        put("cfg", name, text)
        # the same network at 64x64 builds in the fuzzer; face and depthwise also at 16x16 and
        # 8x8, small enough to run forward (FORWARD_MAX_* in fuzz_cfg.c; the darknet networks'
        # parameters alone are over its allocation cap)
        for size in (64, 16, 8) if name in ("face.cfg", "depthwise.cfg") else (64,):
            small = "\n".join("width=%d" % size if l.startswith("width=") else
                              "height=%d" % size if l.startswith("height=") else l
                              for l in text.split("\n"))
            put("cfg", name.replace(".cfg", "-%d.cfg" % size), small)
    for name, text in TINY_CFGS.items():
        put("cfg", name, text)
    with open(os.path.join(HERE, "fuzz_weights.c")) as f:
        src = f.read()
    # the fixed network of fuzz_weights.c, from its C string
    body = src[src.index("CFG[] =") + 7:src.index(";", src.index("CFG[] ="))]
    text = "".join(eval(s) for s in body.split("\n") if s.strip().startswith('"'))
    put("cfg", "fuzz-weights-net.cfg", text)


# ---- weights for the network of fuzz_weights.c (440 floats) ----
def weights():
    n = 440
    rng = np.random.default_rng(1)
    vals = rng.uniform(0.05, 0.5, n).astype("<f4").tobytes()
    h02 = struct.pack("<iiiQ", 0, 2, 0, 12345)
    h01 = struct.pack("<iiiI", 0, 1, 0, 77)
    h10 = struct.pack("<iiiQ", 1, 0, 0, 1)
    put("weights", "v0.2.weights", h02 + vals)
    put("weights", "v0.1.weights", h01 + vals)
    put("weights", "v1.0.weights", h10 + vals)
    put("weights", "zeros.weights", h02 + bytes(4 * n))
    big = np.full(n, 3e38, dtype="<f4").tobytes()
    put("weights", "huge-values.weights", h02 + big)
    neg = (-rng.uniform(0.0, 50.0, n)).astype("<f4").tobytes()
    put("weights", "negative.weights", h02 + neg)
    nan = bytearray(h02 + vals)
    nan[20 + 4 * 200:20 + 4 * 201] = struct.pack("<f", float("nan"))
    put("weights", "nan.weights", bytes(nan))
    put("weights", "short.weights", h02 + vals[:400])
    put("weights", "long.weights", h02 + vals + b"\0\0\0\0")
    put("weights", "header-only.weights", h02)
    put("weights", "bad-version.weights", struct.pack("<iiiQ", -1, 2, 0, 0) + vals)


def names():
    with open(os.path.join(TOP, "models/face.names")) as f:
        put("names", "face.names", f.read())
    with open("/usr/share/darknet/data/voc.names") as f:
        put("names", "voc.names", f.read())
    with open("/usr/share/darknet/data/coco.names") as f:
        put("names", "coco.names", f.read())
    put("names", "crlf-blank.names", "cat\r\ndog\r\n\r\n\r\n")
    put("names", "no-final-newline.names", "a\nb\n\nc")
    put("names", "nul.names", b"ok\nbad\0name\n")
    put("names", "empty.names", b"")
    put("names", "list.txt", "# inputs\nimages/a.png\n\n/abs/path/b.jpg\r\n"
        "../../etc/passwd.png\n./x/./y/../z.JPEG\n..\n.\n//double//slash.bmp\nnoext\n"
        "dir/.hidden.png\n")
    put("names", "list-long-line.txt", "a/" + "x" * 8200 + ".png\nshort.png\n")


if __name__ == "__main__":
    images()
    cfgs()
    weights()
    names()
