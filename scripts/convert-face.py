#!/usr/bin/env python3
"""Converts face-api's pretrained TinyFaceDetector (npm @vladmandic/face-api, MIT) into
cnndemo's darknet-style models/face.cfg + weights/face.weights.

Input: the package folder from scripts/fetch-face-api. The .bin holds 19 uint8-quantised
tensors back to back in manifest order; value = q * scale + min (double, stored as float32).
Layout changes: HWIO -> OIHW for convolutions, [kh,kw,C,1] -> [C,1,kh,kw] for depthwise.
The input mean is folded into conv0's bias (conv0 has VALID padding, so this is exact) and the
network input becomes pixel/255. Network, preprocessing and decoding: shared/reference/face-detector.md.
Standard library only.
"""
import array
import json
import os
import struct
import sys

MEAN_RGB = (117.001, 114.697, 97.404)
ANCHORS = [(1.603231, 2.094468), (6.041143, 7.080126), (2.882459, 3.518061),
           (4.266906, 5.178857), (9.041765, 10.66308)]
CHANNELS = [3, 16, 32, 64, 128, 256, 512]


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def load_tensors(pkg):
    model = os.path.join(pkg, 'model')
    with open(os.path.join(model, 'tiny_face_detector_model-weights_manifest.json')) as f:
        manifest = json.load(f)
    with open(os.path.join(model, 'tiny_face_detector_model.bin'), 'rb') as f:
        blob = f.read()
    tensors, offset = {}, 0
    for group in manifest:
        for spec in group['weights']:
            q = spec['quantization']
            if q['dtype'] != 'uint8':
                sys.exit('convert-face: unexpected quantisation %s' % q['dtype'])
            count = 1
            for d in spec['shape']:
                count *= d
            raw = blob[offset:offset + count]
            if len(raw) != count:
                sys.exit('convert-face: %s truncated' % spec['name'])
            tensors[spec['name']] = (spec['shape'], [f32(b * q['scale'] + q['min']) for b in raw])
            offset += count
    if offset != len(blob):
        sys.exit('convert-face: %d bytes left over in the .bin' % (len(blob) - offset))
    return tensors


def hwio_to_oihw(shape, v):
    kh, kw, ci, co = shape
    return [v[((y * kw + x) * ci + i) * co + o]
            for o in range(co) for i in range(ci) for y in range(kh) for x in range(kw)]


def depthwise_to_c1hw(shape, v):
    kh, kw, c, m = shape
    assert m == 1
    return [v[(y * kw + x) * c + ch] for ch in range(c) for y in range(kh) for x in range(kw)]


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: convert-face.py PACKAGE_DIR OUTPUT_TOP   (writes models/face.cfg, weights/face.weights)')
    pkg, top = sys.argv[1], sys.argv[2]
    t = load_tensors(pkg)
    params = array.array('f')

    # conv0 with the mean folded into its bias: b' = b - sum W * mean/255
    shape, w = t['conv0/filters']
    _, b = t['conv0/bias']
    w0 = hwio_to_oihw(shape, w)
    per = 3 * 3 * 3
    bias0 = []
    for o in range(16):
        s = 0.0
        for i in range(3):
            for k in range(9):
                s += w0[o * per + i * 9 + k] * MEAN_RGB[i] / 255.0
        bias0.append(b[o] - s)
    params.extend(bias0)
    params.extend(w0)
    cfg = ['# face: TinyFaceDetector from npm @vladmandic/face-api 1.7.15 (MIT), converted by',
           '# scripts/convert-face.py; see README "Models". Input mean folded into conv0.',
           '[net]', 'width=416', 'height=416', 'channels=3',
           '# face-api pads to a square at the bottom/right, then resizes (TF legacy bilinear)',
           'x_letterbox=topleft', 'x_resize=bilinear_legacy', 'x_mean=0,0,0', 'x_input_divisor=255',
           '', '[convolutional]', 'filters=16', 'size=3', 'stride=1', 'pad=0', 'activation=leaky',
           '', '[maxpool]', 'size=2', 'stride=2']
    for i in range(1, 6):
        cin, cout = CHANNELS[i], CHANNELS[i + 1]
        shape, dw = t['conv%d/depthwise_filter' % i]
        params.extend([0.0] * cin)
        params.extend(depthwise_to_c1hw(shape, dw))
        shape, pw = t['conv%d/pointwise_filter' % i]
        _, b = t['conv%d/bias' % i]
        params.extend(b)
        params.extend(hwio_to_oihw(shape, pw))
        cfg += ['', '# separable block %d: depthwise 3x3, then pointwise 1x1 with bias' % i,
                '[convolutional]', 'filters=%d' % cin, 'groups=%d' % cin, 'size=3', 'stride=1',
                'pad=1', 'activation=linear',
                '', '[convolutional]', 'filters=%d' % cout, 'size=1', 'stride=1', 'pad=1',
                'activation=leaky',
                '', '[maxpool]', 'size=2', 'stride=%d' % (1 if i == 5 else 2)]
    shape, w = t['conv8/filters']
    _, b = t['conv8/bias']
    params.extend(b)
    params.extend(hwio_to_oihw(shape, w))
    cfg += ['', '[convolutional]', 'filters=25', 'size=1', 'stride=1', 'pad=1', 'activation=linear',
            '', '# 5 anchors x (x, y, w, h, objectness); no class channel: score = objectness',
            '[region]', 'anchors=' + ', '.join('%s,%s' % a for a in ANCHORS), 'bias_match=1',
            'classes=0', 'coords=4', 'num=5', 'softmax=1', 'thresh=0.5', 'x_score=objectness',
            'x_conf=0.5', 'x_nms=0.4']

    os.makedirs(os.path.join(top, 'models'), exist_ok=True)
    os.makedirs(os.path.join(top, 'weights'), exist_ok=True)
    with open(os.path.join(top, 'models', 'face.cfg'), 'w') as f:
        f.write('\n'.join(cfg) + '\n')
    with open(os.path.join(top, 'models', 'face.names'), 'w') as f:
        f.write('face\n')
    tmp = os.path.join(top, 'weights', '.face.weights.tmp')
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<iiiQ', 0, 2, 0, 0))
        if sys.byteorder != 'little':
            params.byteswap()
        params.tofile(f)
    os.replace(tmp, os.path.join(top, 'weights', 'face.weights'))
    print('wrote models/face.cfg, models/face.names, weights/face.weights (%d parameters)' % len(params))


if __name__ == '__main__':
    main()
