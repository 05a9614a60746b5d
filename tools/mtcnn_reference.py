#!/usr/bin/env python3
"""Reference MTCNN outputs from facenet-pytorch 2.6.0, for testing the Rust port.

Writes (from the repository root):
  tests/fixtures/mtcnn/reference.json   detections on 50 LFW View-1 images
  tests/fixtures/mtcnn/unit.safetensors per-net and resampling unit vectors

reference.json
  Images: the sorted list of all ``*.jpg`` under
  ../shared/data/lfw-view1/images (sorted by the relative path string
  "Name/Name_NNNN.jpg"), N = 4992; image i (i = 0..49) is entry
  floor(i * N / 50).  The images are read from ../shared at test time, they
  are not copied into the repository.
  Detector: ``MTCNN(keep_all=True, device='cpu')`` with the defaults
  (min_face_size=20, thresholds=[0.6, 0.7, 0.7], factor=0.709,
  select_largest=True) and ``mtcnn.detect(pil_rgb_image, landmarks=True)``.
  Faces are recorded in the order ``detect`` returns them.  NOTE: with the
  default select_largest=True, ``detect`` re-orders detect_face's output by
  box area (x2-x1)*(y2-y1), largest first (np.argsort(...)[::-1]).  The field
  ``raw_index`` gives each face's position in the raw ``detect_face`` output
  (which is in O-Net-stage "Min"-NMS order = descending O-Net probability).
  Per image also: width, height, sha256 of the decoded RGB bytes (HWC, uint8,
  PIL/libjpeg-turbo decode) so a test can tell decoder differences from
  detector differences, and ``stages``: number of candidate boxes fed to
  R-Net and O-Net and the P-Net input size per pyramid scale.

unit.safetensors (float32 unless noted)
  pnet_in  [1,3,23,31]  -> pnet_reg [1,4,7,11], pnet_prob [1,2,7,11]
  rnet_in  [3,3,24,24]  -> rnet_reg [3,4],  rnet_prob [3,2]
  onet_in  [3,3,48,48]  -> onet_reg [3,4],  onet_landmarks [3,10], onet_prob [3,2]
  area_in  [1,3,37,41]  (integer values 0..255)
     -> area_24x24 [1,3,24,24], area_17x29 [1,3,17,29], area_48x48 [1,3,48,48]
        (torch.nn.functional.interpolate(mode="area") = adaptive_avg_pool2d,
         the resampler facenet-pytorch uses everywhere)
  Net inputs are uniform in [-1, 1) from numpy default_rng(20240607)
  (values already normalised, i.e. what (x - 127.5) * 0.0078125 produces).
  prob tensors are the softmax outputs (channel/column 1 = face).

Pixels: by default PIL decodes the JPEGs (libjpeg-turbo). With ``--pixels DIR`` the
detector instead sees the exact RGB that maskscope's own decoder (the ``image`` crate)
produces, dumped by ``cargo run --example decode_rgb -- <lfw> <list> DIR`` as raw HWC uint8
files named ``Name__Name_NNNN.jpg.rgb``; JPEG decoders differ by +-1 per pixel, which alone
moves MTCNN landmarks by up to a few pixels, so the committed fixture compares detectors on
identical pixels (``rgb_sha256`` is then the hash of those pixels, which the test checks).

Requirements (CPU only):
  pip install torch==2.5.1 numpy safetensors pillow
  pip install --no-deps torchvision==0.20.1 facenet-pytorch==2.6.0

Usage:
  python3 tools/mtcnn_reference.py [--lfw ../shared/data/lfw-view1/images]
"""
import argparse
import hashlib
import json
import os
import warnings

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

N_IMAGES = 50
SEED = 20240607


def to_list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def list_images(lfw):
    paths = []
    for name in os.listdir(lfw):
        d = os.path.join(lfw, name)
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            if f.lower().endswith(".jpg"):
                paths.append(f"{name}/{f}")
    paths.sort()
    return paths


def unit_vectors(mtcnn, out_path):
    rng = np.random.default_rng(SEED)
    t = {}

    def u(shape):
        return torch.from_numpy(rng.uniform(-1.0, 1.0, size=shape).astype(np.float32))

    with torch.no_grad():
        t["pnet_in"] = u((1, 3, 23, 31))
        reg, prob = mtcnn.pnet(t["pnet_in"])
        t["pnet_reg"], t["pnet_prob"] = reg, prob

        t["rnet_in"] = u((3, 3, 24, 24))
        reg, prob = mtcnn.rnet(t["rnet_in"])
        t["rnet_reg"], t["rnet_prob"] = reg, prob

        t["onet_in"] = u((3, 3, 48, 48))
        reg, lm, prob = mtcnn.onet(t["onet_in"])
        t["onet_reg"], t["onet_landmarks"], t["onet_prob"] = reg, lm, prob

        area_in = torch.from_numpy(rng.integers(0, 256, size=(1, 3, 37, 41)).astype(np.float32))
        t["area_in"] = area_in
        F = torch.nn.functional
        t["area_24x24"] = F.interpolate(area_in, size=(24, 24), mode="area")
        t["area_17x29"] = F.interpolate(area_in, size=(17, 29), mode="area")
        t["area_48x48"] = F.interpolate(area_in, size=(48, 48), mode="area")

    t = {k: v.detach().to(torch.float32).contiguous() for k, v in t.items()}
    save_file(t, out_path, metadata={"tool": f"facenet-pytorch 2.6.0 MTCNN nets, seed {SEED}"})
    os.chmod(out_path, 0o644)
    return {k: list(v.shape) for k, v in t.items()}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser()
    ap.add_argument("--lfw", default=os.path.join(root, "..", "shared", "data", "lfw-view1", "images"))
    ap.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "mtcnn"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pixels", default=None,
                    help="folder of raw RGB dumps from maskscope's decoder (see above)")
    ap.add_argument("--list", default=None, help="write the chosen image paths here and stop")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    # facenet-pytorch calls torch.load without weights_only; silence the FutureWarning
    warnings.filterwarnings("ignore", category=FutureWarning)
    import facenet_pytorch
    from facenet_pytorch import MTCNN
    from facenet_pytorch.models.utils.detect_face import detect_face
    import torchvision

    mtcnn = MTCNN(keep_all=True, device="cpu")
    mtcnn.eval()

    # hooks recording the batch shapes each net sees
    seen = {"pnet": [], "rnet": [], "onet": []}

    def hook(name):
        def f(_m, inp, _out):
            seen[name].append(list(inp[0].shape))
        return f

    for name in seen:
        getattr(mtcnn, name).register_forward_hook(hook(name))

    paths = list_images(args.lfw)
    n = len(paths)
    chosen = [paths[(i * n) // N_IMAGES] for i in range(N_IMAGES)]
    if args.list:
        with open(args.list, "w") as f:
            f.write("".join(rel + "\n" for rel in chosen))
        return

    images = []
    total = 0
    for rel in chosen:
        img = Image.open(os.path.join(args.lfw, rel))
        mode = img.mode
        img = img.convert("RGB")
        if args.pixels:
            raw = np.fromfile(os.path.join(args.pixels, rel.replace("/", "__") + ".rgb"), dtype=np.uint8)
            img = Image.fromarray(raw.reshape(img.height, img.width, 3), "RGB")
        rgb = np.asarray(img, dtype=np.uint8)
        for k in seen:
            seen[k].clear()
        boxes, probs, points = mtcnn.detect(img, landmarks=True)
        stages = {
            "pnet_inputs_hw": [s[2:] for s in seen["pnet"]],
            "rnet_candidates": sum(s[0] for s in seen["rnet"]),
            "onet_candidates": sum(s[0] for s in seen["onet"]),
        }
        # raw detect_face order (no area sort), to map faces back
        with torch.no_grad():
            raw_boxes, raw_points = detect_face(
                img, mtcnn.min_face_size, mtcnn.pnet, mtcnn.rnet, mtcnn.onet,
                mtcnn.thresholds, mtcnn.factor, mtcnn.device)
        raw_boxes = np.asarray(raw_boxes[0], dtype=np.float64).reshape(-1, 5)
        entry = {
            "path": rel,
            "width": img.width,
            "height": img.height,
            "jpeg_mode": mode,
            "rgb_sha256": hashlib.sha256(rgb.tobytes()).hexdigest(),
            "boxes": [],
            "probs": [],
            "landmarks": [],
            "raw_index": [],
            "stages": stages,
        }
        if boxes is not None:
            boxes = np.asarray(boxes, dtype=np.float64)
            probs = np.asarray(probs, dtype=np.float64)
            points = np.asarray(points, dtype=np.float64)
            for b, p, lm in zip(boxes, probs, points):
                entry["boxes"].append(to_list(b))
                entry["probs"].append(float(p))
                entry["landmarks"].append([to_list(xy) for xy in lm])
                d = np.abs(raw_boxes[:, :4] - b[None, :]).max(axis=1)
                j = int(np.argmin(d))
                assert d[j] == 0.0, (rel, d)
                entry["raw_index"].append(j)
            assert sorted(entry["raw_index"]) == list(range(len(raw_boxes))), rel
        else:
            assert len(raw_boxes) == 0
        total += len(entry["boxes"])
        images.append(entry)
        print(f"{rel}: {len(entry['boxes'])} face(s) "
              f"rnet_in={stages['rnet_candidates']} onet_in={stages['onet_candidates']}")

    unit_shapes = unit_vectors(mtcnn, os.path.join(args.out, "unit.safetensors"))

    ref = {
        "tool": "facenet-pytorch 2.6.0 MTCNN",
        "versions": {
            "facenet_pytorch": getattr(facenet_pytorch, "__version__", "2.6.0"),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "numpy": np.__version__,
            "pillow": Image.__version__,
        },
        "settings": {
            "call": "MTCNN(keep_all=True, device='cpu').detect(pil_rgb, landmarks=True)",
            "min_face_size": mtcnn.min_face_size,
            "thresholds": list(mtcnn.thresholds),
            "factor": mtcnn.factor,
            "select_largest": mtcnn.select_largest,
            "output_order": "as returned by detect(): sorted by box area (x2-x1)*(y2-y1) "
                            "descending (select_largest=True); raw_index = position in "
                            "detect_face output (descending O-Net prob)",
            "box_format": "[x1, y1, x2, y2] in pixels of the original image (float)",
            "landmark_order": "left eye, right eye, nose, left mouth corner, right mouth "
                              "corner (as seen in the image), each [x, y]",
            "image_selection": f"sorted relative paths of all *.jpg under lfw-view1/images "
                               f"(N={n}); entries floor(i*N/{N_IMAGES}) for i in 0..{N_IMAGES}",
            "image_root": "../shared/data/lfw-view1/images",
            "torch_threads": args.threads,
            "pixels": ("maskscope's decoder (image crate 0.25, zune-jpeg), via --pixels"
                       if args.pixels else "PIL / libjpeg-turbo"),
        },
        "num_images": len(images),
        "num_faces": total,
        "unit_safetensors": unit_shapes,
        "images": images,
    }
    out = os.path.join(args.out, "reference.json")
    with open(out, "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(images)} images, {total} faces")


if __name__ == "__main__":
    main()
