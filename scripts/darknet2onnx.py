#!/usr/bin/python3
"""darknet2onnx.py — writes a darknet .cfg + .weights network as an ONNX graph (opset 13), for
timing ONNX Runtime on exactly the network cnndemo runs (scripts/bench-peers).

usage: /usr/bin/python3 scripts/darknet2onnx.py CFG WEIGHTS OUT.onnx [--all-outputs] [--quiet]

The graph input is `input`, float32 (N, C, H, W) with a symbolic batch N. Outputs: the input of
every [yolo]/[region] head (the raw head convolution: the heads' box decoding is not part of the
graph) and the last layer when it is not a head. With --all-outputs every layer's tensor is an
output too, named `l<index>` (for a layer-by-layer comparison with `cnndemo forward --all`; the
extra outputs stop ONNX Runtime from fusing across them, so this graph is not for timing).
A JSON line on stdout describes the graph: {"outputs": {name: layer index}, "layers": [...]}.

Mapping (the same arithmetic as src/layers/*.c):
  [convolutional]  Conv (pads = padding on all sides, group = groups); batch-norm folded in float32
                   exactly as cnndemo folds it: a = scale/sqrt(var + 1e-6), w*a, bias - mean*a
  activations      leaky -> LeakyRelu(0.1), relu, logistic -> Sigmoid, tanh, relu6 -> Clip(0, 6),
                   swish -> x*Sigmoid(x), mish -> x*Tanh(Softplus(x)), elu, selu, hardswish
  [maxpool]        MaxPool with darknet's geometry: padding p (default size-1), the window starts
                   at -(p/2) (C truncation), so pads begin = p/2, end = p - p/2 and
                   out = (in + p - size)/stride + 1; padded cells never win (-inf in ONNX)
  [avgpool]        GlobalAveragePool
  [connected]      Flatten + Gemm(transB) (+ folded batch-norm), reshaped back to (N, out, 1, 1)
  [softmax]        Flatten + Softmax(axis 1) over c*h*w, reshaped back
  [route]          Concat; groups/group_id -> Slice of each input's channel group
  [shortcut]       Add (+ activation)
  [upsample]       Resize nearest, asymmetric coordinates, floor: out[y] = in[y / stride]
  [dropout]        identity
  [yolo]/[region]  identity; their input becomes a graph output
Keys prefixed x_ (cnndemo preprocessing extensions) are ignored; anything unsupported is an error.
"""
import json
import re
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BN_EPS = np.float32(1e-6)
OPSET = 13


class ConvertError(Exception):
    pass


def parse_cfg(path):
    """[(section, {key: value}, line)], whitespace dropped as darknet does."""
    sections = []
    with open(path) as f:
        for no, raw in enumerate(f, 1):
            line = re.sub(r"\s+", "", raw)
            if not line or line[0] in "#;":
                continue
            if line[0] == "[":
                sections.append((line[1:line.index("]")], {}, no))
            else:
                if not sections:
                    raise ConvertError(f"{path}:{no}: key before any [section]")
                key, _, value = line.partition("=")
                if not key.startswith("x_"):
                    sections[-1][1][key] = value
    if not sections or sections[0][0] not in ("net", "network"):
        raise ConvertError(f"{path}: the first section must be [net]")
    return sections


def ints(s):
    return [int(v) for v in s.split(",") if v != ""]


class Weights:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        major, minor, _rev = np.frombuffer(self.data, np.int32, 3)
        self.pos = 12 + (8 if major * 10 + minor >= 2 else 4)
        self.path = path

    def take(self, n):
        end = self.pos + 4 * n
        if end > len(self.data):
            raise ConvertError(f"{self.path}: too short ({len(self.data)} bytes)")
        a = np.frombuffer(self.data, np.float32, n, self.pos).copy()
        self.pos = end
        return a

    def finish(self):
        if self.pos != len(self.data):
            raise ConvertError(f"{self.path}: {len(self.data)} bytes, the cfg uses {self.pos}")


class Builder:
    def __init__(self):
        self.nodes, self.inits = [], []
        self.uid = 0
        self.layer = -1  # node and tensor names start with L<darknet layer index>_ (profiles map back)

    def name(self, base):
        self.uid += 1
        return f"L{self.layer}_{base}_{self.uid}" if self.layer >= 0 else f"{base}_{self.uid}"

    def const(self, base, array):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def node(self, op, inputs, out=None, **attrs):
        out = out or self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.name("n_" + op.lower()), **attrs))
        return out

    def activation(self, x, act, out):
        if act == "linear":
            return self.node("Identity", [x], out)
        if act == "leaky":
            return self.node("LeakyRelu", [x], out, alpha=0.1)
        if act == "relu":
            return self.node("Relu", [x], out)
        if act == "logistic":
            return self.node("Sigmoid", [x], out)
        if act == "tanh":
            return self.node("Tanh", [x], out)
        if act == "relu6":
            return self.node("Clip", [x, self.const("zero", np.float32(0)), self.const("six", np.float32(6))], out)
        if act == "elu":
            return self.node("Elu", [x], out, alpha=1.0)
        if act == "selu":
            return self.node("Selu", [x], out, alpha=1.6732632423543772, gamma=1.0507009873554805)
        if act == "swish":
            return self.node("Mul", [x, self.node("Sigmoid", [x])], out)
        if act == "mish":
            return self.node("Mul", [x, self.node("Tanh", [self.node("Softplus", [x])])], out)
        if act == "hardswish":
            return self.node("Mul", [x, self.node("HardSigmoid", [x], alpha=1 / 6, beta=0.5)], out)
        raise ConvertError(f"activation {act} not supported")


def fold_bn(w, b, scale, mean, var):
    """Exactly src/layers/conv.c conv_prepare, in float32."""
    a = (scale / np.sqrt(var + BN_EPS)).astype(np.float32)
    return (w * a.reshape((-1,) + (1,) * (w.ndim - 1))).astype(np.float32), (b - mean * a).astype(np.float32)


def convert(cfg_path, weights_path, all_outputs=False):
    secs = parse_cfg(cfg_path)
    net = secs[0][1]
    c, h, w = int(net.get("channels", 3)), int(net.get("height", 0)), int(net.get("width", 0))
    if h <= 0 or w <= 0:
        raise ConvertError(f"{cfg_path}: [net] needs width and height")
    wf = Weights(weights_path)
    b = Builder()
    shapes, tensors, kinds = [], [], []  # per layer: (c, h, w), tensor name, section
    extra = []  # per layer: conv geometry for the description
    heads = []
    x, shape = "input", (c, h, w)
    for i, (kind, o, line) in enumerate(secs[1:]):
        where = f"{cfg_path}:{line}: [{kind}] (layer {i})"
        b.layer = i
        out = f"l{i}"
        ic, ih, iw = shape
        if kind == "convolutional":
            n, k = int(o.get("filters", 1)), int(o.get("size", 1))
            s, g = int(o.get("stride", 1)), int(o.get("groups", 1))
            if int(o.get("dilation", 1)) != 1:
                raise ConvertError(f"{where}: dilation not supported")
            pad = int(o["padding"]) if "padding" in o else (k // 2 if int(o.get("pad", 0)) else 0)
            bn = int(o.get("batch_normalize", 0))
            bias = wf.take(n)
            if bn:
                scale, mean, var = wf.take(n), wf.take(n), wf.take(n)
            wt = wf.take(n * (ic // g) * k * k).reshape(n, ic // g, k, k)
            if bn:
                wt, bias = fold_bn(wt, bias, scale, mean, var)
            y = b.node("Conv", [x, b.const(f"w{i}", wt), b.const(f"b{i}", bias)],
                       kernel_shape=[k, k], strides=[s, s], pads=[pad] * 4, group=g)
            x = b.activation(y, o.get("activation", "logistic"), out)
            shape = (n, (ih + 2 * pad - k) // s + 1, (iw + 2 * pad - k) // s + 1)
        elif kind == "maxpool":
            s = int(o.get("stride", 1))
            k = int(o.get("size", s))
            p = int(o.get("padding", k - 1))
            pb, pe = p // 2, p - p // 2
            if pb >= k or pe >= k:  # ONNX Runtime requires pads < kernel
                raise ConvertError(f"{where}: padding {p} too large for size {k}")
            x = b.node("MaxPool", [x], out, kernel_shape=[k, k], strides=[s, s], pads=[pb, pb, pe, pe])
            shape = (ic, (ih + p - k) // s + 1, (iw + p - k) // s + 1)
        elif kind == "avgpool":
            x = b.node("GlobalAveragePool", [x], out)
            shape = (ic, 1, 1)
        elif kind == "connected":
            n = int(o.get("output", 1))
            bn = int(o.get("batch_normalize", 0))
            nin = ic * ih * iw
            bias, wt = wf.take(n), wf.take(n * nin).reshape(n, nin)
            if bn:
                scale, mean, var = wf.take(n), wf.take(n), wf.take(n)
                wt, bias = fold_bn(wt, bias, scale, mean, var)
            flat = b.node("Flatten", [x], axis=1)
            y = b.node("Gemm", [flat, b.const(f"w{i}", wt), b.const(f"b{i}", bias)], transB=1)
            y = b.activation(y, o.get("activation", "logistic"), b.name("fc"))
            x = b.node("Reshape", [y, b.const("shape", np.array([-1, n, 1, 1], np.int64))], out)
            shape = (n, 1, 1)
        elif kind == "softmax":
            if int(o.get("groups", 1)) != 1 or float(o.get("temperature", 1)) != 1:
                raise ConvertError(f"{where}: only groups=1, temperature=1")
            y = b.node("Softmax", [b.node("Flatten", [x], axis=1)], axis=1)
            x = b.node("Reshape", [y, b.const("shape", np.array([-1, ic, ih, iw], np.int64))], out)
        elif kind == "route":
            refs = [r if r >= 0 else i + r for r in ints(o["layers"])]
            g, gid = int(o.get("groups", 1)), int(o.get("group_id", 0))
            parts, oc = [], 0
            for r in refs:
                if not 0 <= r < i:
                    raise ConvertError(f"{where}: layer {r} is not an earlier layer")
                rc, rh, rw = shapes[r]
                if (rh, rw) != shapes[refs[0]][1:]:
                    raise ConvertError(f"{where}: spatial sizes differ")
                part = tensors[r]
                if g > 1:
                    cg = rc // g
                    part = b.node("Slice", [part, b.const("st", np.array([gid * cg], np.int64)),
                                            b.const("en", np.array([(gid + 1) * cg], np.int64)),
                                            b.const("ax", np.array([1], np.int64))])
                parts.append(part)
                oc += rc // g
            x = b.node("Concat", parts, out, axis=1) if len(parts) > 1 else b.node("Identity", parts, out)
            shape = (oc, shapes[refs[0]][1], shapes[refs[0]][2])
        elif kind == "shortcut":
            r = int(o["from"])
            r = r if r >= 0 else i + r
            if shapes[r] != shape:
                raise ConvertError(f"{where}: shape {shapes[r]} of layer {r} != {shape}")
            for key in ("alpha", "beta"):
                if float(o.get(key, 1)) != 1:
                    raise ConvertError(f"{where}: {key} != 1 not supported")
            if o.get("weights_type", "none") != "none":
                raise ConvertError(f"{where}: weights_type not supported")
            y = b.node("Add", [x, tensors[r]])
            x = b.activation(y, o.get("activation", "linear"), out)
        elif kind == "upsample":
            s = int(o.get("stride", 2))
            if float(o.get("scale", 1)) != 1:
                raise ConvertError(f"{where}: scale != 1 not supported")
            x = b.node("Resize", [x, "", b.const("scales", np.array([1, 1, s, s], np.float32))], out,
                       mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
            shape = (ic, ih * s, iw * s)
        elif kind == "dropout":
            x = b.node("Identity", [x], out)
        elif kind in ("yolo", "region"):
            heads.append(i - 1)
            x = b.node("Identity", [x], out)
        else:
            raise ConvertError(f"{where}: section not supported")
        shapes.append(shape)
        tensors.append(x)
        kinds.append(kind)
        extra.append({"size": k, "stride": s, "groups": g, "in_channels": ic}
                     if kind == "convolutional" else {})
    wf.finish()
    last = len(kinds) - 1
    keep = list(heads) + ([] if kinds[last] in ("yolo", "region") else [last])
    if all_outputs:
        keep = sorted(set(keep) | set(range(len(kinds))))
    outputs = {}
    for i in keep:
        outputs[tensors[i]] = i
    graph = helper.make_graph(
        b.nodes, "darknet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", c, h, w])],
        [helper.make_tensor_value_info(t, TensorProto.FLOAT, ["N", *shapes[i]]) for t, i in outputs.items()],
        b.inits)
    model = helper.make_model(graph, producer_name="cnndemo darknet2onnx",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 7  # ONNX Runtime reads IR 7 everywhere
    onnx.checker.check_model(model)
    return model, {"outputs": outputs, "input": [c, h, w],
                   "layers": [dict({"index": i, "type": k, "shape": list(s)}, **e) for i, (k, s, e) in
                              enumerate(zip(kinds, shapes, extra))]}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    if len(args) != 3 or flags - {"--all-outputs", "--quiet"}:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    try:
        model, info = convert(args[0], args[1], "--all-outputs" in flags)
    except (ConvertError, OSError, ValueError, KeyError) as e:
        sys.stderr.write(f"darknet2onnx: {e}\n")
        return 3
    onnx.save(model, args[2])
    if "--quiet" not in flags:
        print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
