#!/usr/bin/env python3
"""Convert the facenet-pytorch MTCNN weights (P-Net, R-Net, O-Net) to safetensors.

Input : ../shared/models/mtcnn/{pnet,rnet,onet}.pt  (PyTorch state dicts, legacy
        pickle format, as shipped in PyPI facenet-pytorch 2.6.0, MIT licence)
Output: assets/mtcnn/{pnet,rnet,onet}.safetensors (float32, identical key names
        and shapes as the facenet-pytorch state dicts, no layout changes:
        conv weights [out, in, kh, kw], linear weights [out, in], PReLU
        weights [channels]).

The .pt files contain only tensors, so they are loaded with weights_only=True
(no code from the pickle is executed).

Requirements: torch (CPU is enough), safetensors, numpy.

Usage (from the repository root):
    python3 tools/convert_mtcnn.py [--src ../shared/models/mtcnn] [--dst assets/mtcnn]

The script also copies LICENSE.md and prints every key with its shape.
It is deterministic: rerunning it gives byte-identical files
(sha256 listed in assets/mtcnn/README.md).
"""
import argparse
import hashlib
import os
import shutil

import torch
from safetensors.torch import save_file, load_file

NETS = ("pnet", "rnet", "onet")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(root, "..", "shared", "models", "mtcnn"))
    ap.add_argument("--dst", default=os.path.join(root, "assets", "mtcnn"))
    args = ap.parse_args()
    os.makedirs(args.dst, exist_ok=True)

    for net in NETS:
        src = os.path.join(args.src, f"{net}.pt")
        sd = torch.load(src, map_location="cpu", weights_only=True)
        out = {}
        for k, v in sd.items():
            if not torch.is_tensor(v):
                raise SystemExit(f"{src}: non-tensor entry {k!r}")
            out[k] = v.detach().to(torch.float32).contiguous().clone()
        dst = os.path.join(args.dst, f"{net}.safetensors")
        # a single metadata key: safetensors writes the metadata map in hash order,
        # so more than one key would make the output bytes vary between runs
        save_file(out, dst, metadata={
            "source": "facenet-pytorch 2.6.0 (Tim Esler), data/" + net + ".pt, MIT licence",
        })
        os.chmod(dst, 0o644)
        # round-trip check
        back = load_file(dst)
        assert back.keys() == out.keys()
        for k in out:
            assert torch.equal(back[k], out[k]), k
        nparams = sum(v.numel() for v in out.values())
        with open(src, "rb") as f:
            src_md5 = hashlib.md5(f.read()).hexdigest()
        print(f"{net}: {len(out)} tensors, {nparams} params, src md5 {src_md5} -> {dst}")
        for k, v in out.items():
            print(f"  {k:18s} {list(v.shape)}")

    lic = os.path.join(args.src, "LICENSE.md")
    shutil.copyfile(lic, os.path.join(args.dst, "LICENSE.md"))
    os.chmod(os.path.join(args.dst, "LICENSE.md"), 0o644)
    print("copied", lic)


if __name__ == "__main__":
    main()
