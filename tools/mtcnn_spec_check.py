#!/usr/bin/env python3
"""Independent NumPy re-implementation of MTCNN following tools/MTCNN_NOTES.md.

Purpose: check that the written spec (MTCNN_NOTES.md) and the converted
weights (assets/mtcnn/*.safetensors) reproduce the facenet-pytorch reference
(tests/fixtures/mtcnn/reference.json, unit.safetensors) without torch or
facenet-pytorch code.  Only numpy, pillow and safetensors are needed.

Usage (from the repository root):
    python3 tools/mtcnn_spec_check.py
Exit status 0 when every check passes.
"""
import json
import math
import os
import sys

import numpy as np
from PIL import Image
from safetensors.numpy import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F32 = np.float32


# ---------------------------------------------------------------- layers
def conv2d(x, w, b):
    """valid conv, stride 1. x [N,C,H,W], w [O,C,kh,kw]."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = h - kh + 1, wd - kw + 1
    s = x.strides
    cols = np.lib.stride_tricks.as_strided(
        x, (n, c, kh, kw, oh, ow), (s[0], s[1], s[2], s[3], s[2], s[3]))
    y = np.tensordot(cols, w, axes=([1, 2, 3], [1, 2, 3]))  # [N,oh,ow,O]
    return np.ascontiguousarray(y.transpose(0, 3, 1, 2)).astype(F32) + b[None, :, None, None]


def prelu(x, a):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return np.where(x >= 0, x, x * a.reshape(shape)).astype(F32)


def maxpool_ceil(x, k, s):
    n, c, h, w = x.shape
    oh = -(-(h - k) // s) + 1
    ow = -(-(w - k) // s) + 1
    # pad right/bottom with -inf so every window is full, then take strided maxima
    ph, pw = (oh - 1) * s + k, (ow - 1) * s + k
    xp = np.full((n, c, ph, pw), -np.inf, F32)
    xp[:, :, :h, :w] = x
    y = np.full((n, c, oh, ow), -np.inf, F32)
    for di in range(k):
        for dj in range(k):
            y = np.maximum(y, xp[:, :, di:di + (oh - 1) * s + 1:s, dj:dj + (ow - 1) * s + 1:s])
    return y


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(F32)


def linear(x, w, b):
    return (x @ w.T + b).astype(F32)


def flatten_whc(x):
    # facenet-pytorch: permute(0,3,2,1) then flatten -> index (w*H + h)*C + c
    return np.ascontiguousarray(x.transpose(0, 3, 2, 1)).reshape(x.shape[0], -1)


def pnet(p, x):
    x = prelu(conv2d(x, p["conv1.weight"], p["conv1.bias"]), p["prelu1.weight"])
    x = maxpool_ceil(x, 2, 2)
    x = prelu(conv2d(x, p["conv2.weight"], p["conv2.bias"]), p["prelu2.weight"])
    x = prelu(conv2d(x, p["conv3.weight"], p["conv3.bias"]), p["prelu3.weight"])
    prob = softmax(conv2d(x, p["conv4_1.weight"], p["conv4_1.bias"]), 1)
    reg = conv2d(x, p["conv4_2.weight"], p["conv4_2.bias"])
    return reg, prob


def rnet(p, x):
    x = prelu(conv2d(x, p["conv1.weight"], p["conv1.bias"]), p["prelu1.weight"])
    x = maxpool_ceil(x, 3, 2)
    x = prelu(conv2d(x, p["conv2.weight"], p["conv2.bias"]), p["prelu2.weight"])
    x = maxpool_ceil(x, 3, 2)
    x = prelu(conv2d(x, p["conv3.weight"], p["conv3.bias"]), p["prelu3.weight"])
    x = prelu(linear(flatten_whc(x), p["dense4.weight"], p["dense4.bias"]), p["prelu4.weight"])
    prob = softmax(linear(x, p["dense5_1.weight"], p["dense5_1.bias"]), 1)
    reg = linear(x, p["dense5_2.weight"], p["dense5_2.bias"])
    return reg, prob


def onet(p, x):
    x = prelu(conv2d(x, p["conv1.weight"], p["conv1.bias"]), p["prelu1.weight"])
    x = maxpool_ceil(x, 3, 2)
    x = prelu(conv2d(x, p["conv2.weight"], p["conv2.bias"]), p["prelu2.weight"])
    x = maxpool_ceil(x, 3, 2)
    x = prelu(conv2d(x, p["conv3.weight"], p["conv3.bias"]), p["prelu3.weight"])
    x = maxpool_ceil(x, 2, 2)
    x = prelu(conv2d(x, p["conv4.weight"], p["conv4.bias"]), p["prelu4.weight"])
    x = prelu(linear(flatten_whc(x), p["dense5.weight"], p["dense5.bias"]), p["prelu5.weight"])
    prob = softmax(linear(x, p["dense6_1.weight"], p["dense6_1.bias"]), 1)
    reg = linear(x, p["dense6_2.weight"], p["dense6_2.bias"])
    lm = linear(x, p["dense6_3.weight"], p["dense6_3.bias"])
    return reg, lm, prob


# ---------------------------------------------------------------- resampling
def area_matrix(n_in, n_out):
    m = np.zeros((n_out, n_in), np.float64)
    for i in range(n_out):
        a = (i * n_in) // n_out
        b = -(-((i + 1) * n_in) // n_out)
        m[i, a:b] = 1.0 / (b - a)
    return m


def area_resize(x, oh, ow):
    """x [C,H,W] float -> [C,oh,ow]; window [floor(i*H/oh), ceil((i+1)*H/oh))."""
    my = area_matrix(x.shape[1], oh)
    mx = area_matrix(x.shape[2], ow)
    t = np.matmul(my, x.astype(np.float64))  # [C,oh,W]
    return np.matmul(t, mx.T).astype(F32)


# ---------------------------------------------------------------- NMS
def nms_iou(boxes, scores, thr):
    """torchvision.ops.nms semantics: no +1, suppress IoU > thr, order by score desc."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (boxes[:, i].astype(np.float64) for i in range(4))
    area = (x2 - x1) * (y2 - y1)
    keep, removed = [], np.zeros(len(boxes), bool)
    for ii, i in enumerate(order):
        if removed[i]:
            continue
        keep.append(i)
        rest = order[ii + 1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        iou = inter / (area[i] + area[rest] - inter)
        removed[rest[iou > thr]] = True
    return np.array(keep, dtype=np.int64)


def nms_min(boxes, scores, thr):
    """O-Net stage: +1 areas, overlap = inter / min(area), keep overlap <= thr."""
    x1, y1, x2, y2 = (boxes[:, i].astype(np.float64) for i in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    idx = list(np.argsort(-scores, kind="stable"))
    keep = []
    while idx:
        i = idx.pop(0)
        keep.append(i)
        r = np.array(idx, dtype=np.int64)
        if len(r) == 0:
            break
        w = np.maximum(0.0, np.minimum(x2[i], x2[r]) - np.maximum(x1[i], x1[r]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[r]) - np.maximum(y1[i], y1[r]) + 1)
        o = w * h / np.minimum(area[i], area[r])
        idx = list(r[o <= thr])
    return np.array(keep, dtype=np.int64)


# ---------------------------------------------------------------- pipeline
def rerec(b):
    b = b.copy()
    h = b[:, 3] - b[:, 1]
    w = b[:, 2] - b[:, 0]
    l = np.maximum(w, h)
    b[:, 0] = b[:, 0] + w * F32(0.5) - l * F32(0.5)
    b[:, 1] = b[:, 1] + h * F32(0.5) - l * F32(0.5)
    b[:, 2] = b[:, 0] + l
    b[:, 3] = b[:, 1] + l
    return b


def bbreg(b, reg):
    b = b.copy()
    w = b[:, 2] - b[:, 0] + 1
    h = b[:, 3] - b[:, 1] + 1
    b[:, 0] += reg[:, 0] * w
    b[:, 1] += reg[:, 1] * h
    b[:, 2] += reg[:, 2] * w
    b[:, 3] += reg[:, 3] * h
    return b


def crops(img, boxes, size):
    """img [3,H,W] float32 0..255. Crop the truncated+clamped box, area-resize to size."""
    _, H, W = img.shape
    out = []
    for bx in boxes:
        x, y, ex, ey = (int(math.trunc(float(v))) for v in bx[:4])
        x, y = max(x, 1), max(y, 1)
        ex, ey = min(ex, W), min(ey, H)
        assert ey > y - 1 and ex > x - 1, "empty crop (facenet-pytorch would fail here)"
        out.append(area_resize(img[:, y - 1:ey, x - 1:ex], size, size))
    return (np.stack(out) - F32(127.5)) * F32(0.0078125)


def detect(img_u8, P, R, O, minsize=20, thr=(0.6, 0.7, 0.7), factor=0.709):
    img = img_u8.astype(F32).transpose(2, 0, 1)  # [3,H,W]
    _, H, W = img.shape
    m = 12.0 / minsize
    minl = min(H, W) * m
    scales, s = [], m
    while minl >= 12:
        scales.append(s)
        s *= factor
        minl *= factor

    per_scale = []
    for s in scales:
        hs, ws = int(H * s + 1), int(W * s + 1)
        x = (area_resize(img, hs, ws) - F32(127.5)) * F32(0.0078125)
        reg, prob = pnet(P, x[None])
        p1 = prob[0, 1]
        ys, xs = np.nonzero(p1 >= F32(thr[0]))  # row-major (y, x) order
        if len(ys) == 0:
            continue
        sc = F32(s)
        q1x = np.floor((F32(2) * xs.astype(F32) + F32(1)) / sc)
        q1y = np.floor((F32(2) * ys.astype(F32) + F32(1)) / sc)
        q2x = np.floor((F32(2) * xs.astype(F32) + F32(12)) / sc)
        q2y = np.floor((F32(2) * ys.astype(F32) + F32(12)) / sc)
        cand = np.stack([q1x, q1y, q2x, q2y, p1[ys, xs],
                         reg[0, 0, ys, xs], reg[0, 1, ys, xs], reg[0, 2, ys, xs], reg[0, 3, ys, xs]], 1).astype(F32)
        per_scale.append(cand[nms_iou(cand[:, :4], cand[:, 4], 0.5)])
    if not per_scale:
        return np.zeros((0, 5), F32), np.zeros((0, 5, 2), F32)
    b = np.concatenate(per_scale)
    b = b[nms_iou(b[:, :4], b[:, 4], 0.7)]
    rw = b[:, 2] - b[:, 0]
    rh = b[:, 3] - b[:, 1]
    boxes = np.stack([b[:, 0] + b[:, 5] * rw, b[:, 1] + b[:, 6] * rh,
                      b[:, 2] + b[:, 7] * rw, b[:, 3] + b[:, 8] * rh, b[:, 4]], 1).astype(F32)
    boxes = rerec(boxes)

    # R-Net
    reg, prob = rnet(R, crops(img, boxes, 24))
    sc = prob[:, 1]
    ok = sc > F32(thr[1])
    boxes = np.concatenate([boxes[ok, :4], sc[ok, None]], 1)
    reg = reg[ok]
    k = nms_iou(boxes[:, :4], boxes[:, 4], 0.7)
    boxes, reg = boxes[k], reg[k]
    boxes = rerec(bbreg(boxes, reg))
    if len(boxes) == 0:
        return np.zeros((0, 5), F32), np.zeros((0, 5, 2), F32)

    # O-Net
    reg, lm, prob = onet(O, crops(img, boxes, 48))
    sc = prob[:, 1]
    ok = sc > F32(thr[2])
    boxes = np.concatenate([boxes[ok, :4], sc[ok, None]], 1)
    reg, lm = reg[ok], lm[ok]
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    px = w[:, None] * lm[:, :5] + boxes[:, 0:1] - 1
    py = h[:, None] * lm[:, 5:] + boxes[:, 1:2] - 1
    pts = np.stack([px, py], 2)  # [n,5,2]
    boxes = bbreg(boxes, reg)
    k = nms_min(boxes[:, :4], boxes[:, 4], 0.7)
    return boxes[k], pts[k]


# ---------------------------------------------------------------- checks
def main():
    P = load_file(os.path.join(ROOT, "assets/mtcnn/pnet.safetensors"))
    R = load_file(os.path.join(ROOT, "assets/mtcnn/rnet.safetensors"))
    O = load_file(os.path.join(ROOT, "assets/mtcnn/onet.safetensors"))
    fx = os.path.join(ROOT, "tests/fixtures/mtcnn")
    U = load_file(os.path.join(fx, "unit.safetensors"))
    ok = True

    def close(name, a, b, tol):
        nonlocal ok
        d = float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) if np.size(a) else 0.0
        good = np.shape(a) == np.shape(b) and d <= tol
        ok &= good
        print(f"{'ok ' if good else 'BAD'} {name}: shape {np.shape(a)} max|diff| {d:.3g}")

    r, p = pnet(P, U["pnet_in"])
    close("pnet reg", r, U["pnet_reg"], 1e-5); close("pnet prob", p, U["pnet_prob"], 1e-5)
    r, p = rnet(R, U["rnet_in"])
    close("rnet reg", r, U["rnet_reg"], 1e-5); close("rnet prob", p, U["rnet_prob"], 1e-5)
    r, l, p = onet(O, U["onet_in"])
    close("onet reg", r, U["onet_reg"], 1e-5); close("onet lm", l, U["onet_landmarks"], 1e-5)
    close("onet prob", p, U["onet_prob"], 1e-5)
    for hh, ww in ((24, 24), (17, 29), (48, 48)):
        close(f"area {hh}x{ww}", area_resize(U["area_in"][0], hh, ww)[None], U[f"area_{hh}x{ww}"], 1e-3)

    ref = json.load(open(os.path.join(fx, "reference.json")))
    lfw = os.path.join(ROOT, ref["settings"]["image_root"])
    worst = {"box": 0.0, "prob": 0.0, "lm": 0.0}
    for e in ref["images"]:
        img = np.asarray(Image.open(os.path.join(lfw, e["path"])).convert("RGB"), np.uint8)
        boxes, pts = detect(img, P, R, O)
        # reference is area-sorted; raw_index gives detect_face order
        n = len(e["boxes"])
        if len(boxes) != n:
            ok = False
            print(f"BAD {e['path']}: {len(boxes)} faces vs {n}")
            continue
        for j in range(n):
            i = e["raw_index"][j]
            worst["box"] = max(worst["box"], float(np.abs(boxes[i, :4] - np.array(e["boxes"][j])).max()))
            worst["prob"] = max(worst["prob"], abs(float(boxes[i, 4]) - e["probs"][j]))
            worst["lm"] = max(worst["lm"], float(np.abs(pts[i] - np.array(e["landmarks"][j])).max()))
    good = worst["box"] < 0.05 and worst["prob"] < 1e-4 and worst["lm"] < 0.05
    ok &= good
    print(f"{'ok ' if good else 'BAD'} {len(ref['images'])} images: worst |diff| box {worst['box']:.3g} px, "
          f"prob {worst['prob']:.3g}, landmark {worst['lm']:.3g} px")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
