#!/usr/bin/env python3
"""Parity fixtures for the authors' two other FROM mask decoders, made by THEIR code.

The official repository (github.com/haibo-qiu/FROM) defines, beside ``LResNet_Occ`` (the
paper's FROM, covered by ``tools/from_reference.py``), two variants in ``lib/models/fpn.py``:

* ``LResNet_Occ_2D``: a one-channel spatial mask (``mask.0..6``) repeated over C5's channels;
* ``LResNet_Occ_FC``: a mask on the 512-d embedding (``reduces.*`` + ``mask.0..2``).

This script imports that file as it is (nothing of it is copied into maskscope), builds each
variant at a reduced size with random, non-trivial weights, runs it in eval mode on fixed inputs
and writes the weights and the outputs for ``tests/from_variants.rs``. It is not needed at test
time (CI has no torch).

Usage, from the repository root::

    git clone https://github.com/haibo-qiu/FROM /tmp/FROM        # or any checkout of it
    pip install torch==2.5.1 numpy safetensors
    python3 tools/from_variants_reference.py --fpn /tmp/FROM/lib/models/fpn.py --out tests/fixtures/from

Their classes fix the pyramid at 256 channels, the FC variant's reduced map at 64 channels and
its embedding at 512; the reduced size shrinks the backbone only: ``filter_list`` =
[8, 8, 16, 24, 32, 226] (stem and layer1 8, layer2 16, layer3 24, layer4 32; K = 5 grid, 226
patterns), ``layers`` = [1, 2, 2, 1].
"""

import argparse
import importlib.util
import json
import os
import sys
import zipfile

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import from_reference  # noqa: E402 - this folder's reference; its BN/PReLU randomisation is shared
from safetensors.torch import save_file

FILTER_LIST = [8, 8, 16, 24, 32, 226]
LAYERS = [1, 2, 2, 1]
INPUT_H, INPUT_W = 112, 96


def load_official(path):
    spec = importlib.util.spec_from_file_location("official_fpn", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def randomize_nontrivial(model, seed):
    """``from_reference.randomize_nontrivial`` (every BN and PReLU parameter and buffer made
    non-trivial, so a wrong key or axis cannot go unnoticed), then, to keep the committed files
    small (their classes fix the pyramid at 256 channels): weights rounded to multiples of 1/256,
    which the zip's deflate packs tightly, and zeros in the pyramid layers their forward computes
    but never uses (P4_2, P5_2, P6, P7_2). Conv and Linear biases get random values too."""
    from_reference.randomize_nontrivial(model, seed)
    g = torch.Generator().manual_seed(seed + 2)
    unused = (["fpn", "P4_2"], ["fpn", "P5_2"], ["fpn", "P6"], ["fpn", "P7_2"])
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        for name, p in model.named_parameters():
            p.copy_(torch.zeros_like(p) if name.split(".")[:2] in unused else torch.round(p * 256) / 256)
    return model


def deflate(path):
    """Rewrites a torch.save zip with every entry deflated (torch.load reads either)."""
    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info, data in entries:
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)
    assert torch.load(path, weights_only=True)["epoch"] == 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fpn", required=True, help="the official lib/models/fpn.py")
    parser.add_argument("--out", default="tests/fixtures/from")
    args = parser.parse_args()
    official = load_official(args.fpn)
    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(4321)
    x_raw = torch.randint(0, 256, (2, 3, INPUT_H, INPUT_W), generator=g).float()
    x = (x_raw / 255.0 - 0.5) / 0.5
    summary = {}
    for name, cls in [("2d", official.LResNet_Occ_2D), ("fc", official.LResNet_Occ_FC)]:
        torch.manual_seed(0)
        model = randomize_nontrivial(cls(official.BlockIR, LAYERS, FILTER_LIST), seed=0).eval()
        fc_mask, mask, vec, fc = model(x)
        if name == "2d":
            # Their forward returns the map repeated over C5's channels; all copies are equal.
            assert torch.equal(mask, mask[:, :1].expand_as(mask))
            mask = mask[:, :1].contiguous()
        state = model.state_dict()
        # As the official training saves it, then re-zipped with deflate (torch.save stores).
        path = os.path.join(args.out, f"from_tiny_{name}.pth.tar")
        torch.save({"epoch": 1, "state_dict": state}, path)
        deflate(path)
        outputs = {"input_raw": x_raw, "masked_embedding": fc_mask, "mask": mask,
                   "pattern_logits": vec, "unmasked_embedding": fc}
        save_file({k: v.contiguous() for k, v in outputs.items()},
                  os.path.join(args.out, f"from_tiny_{name}_io.safetensors"))
        summary[name] = {"class": cls.__name__, "tensors": len(state),
                         "parameters": sum(p.numel() for p in model.parameters()),
                         "mask": list(mask.shape), "logits": list(vec.shape)}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
