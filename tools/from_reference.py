#!/usr/bin/env python3
"""Independent PyTorch reference implementation of FROM (LResNet50E-IR-FROM).

FROM = "End2End Occluded Face Recognition by Masking Corrupted Features"
(Qiu et al., TPAMI 2021).  This file re-implements the network from its
specification (module names == state-dict key names of the official code) and
generates the test fixtures under ``tests/fixtures/from/`` that the Rust side
of maskscope is tested against.  It is NOT needed at test time (CI has no
torch); it only documents and regenerates the fixtures.

Requirements (runs on the CPU; no GPU needed)::

    pip install torch==2.5.1 numpy safetensors

(The x86_64 Linux wheel on PyPI is the CUDA build. ``--no-deps`` is not
enough: ``import torch`` then fails on the missing libcudart/libcublas, so the
nvidia-* wheels, about 2.5 GB, have to be installed even for CPU use.)

Usage (run from the repository root)::

    # generate every fixture + run the self-checks (default out dir shown)
    python3 tools/from_reference.py generate --out tests/fixtures/from

    # only the self-checks (no files written): reload checkpoint, full-size
    # output shapes, parameter counts
    python3 tools/from_reference.py verify --out tests/fixtures/from

    # print the key list / parameter count of an arbitrary configuration
    python3 tools/from_reference.py keys --widths 64 128 256 512 \
        --blocks 3 4 14 3 --fpn-channels 256 --embedding-dim 512 --grid 5

Network (input N x 3 x 112 x 96 RGB, normalised as (x/255 - 0.5)/0.5):

  stem     conv1 (3x3, no bias) -> bn1 -> prelu1 (per-channel)
  layer1-4 BlockIR stages, first block of EVERY stage has stride 2
           112x96 -> 56x48 (layer1) -> 28x24 (C3) -> 14x12 (C4) -> 7x6 (C5)
  BlockIR  bn1 -> conv1 3x3 s1 -> bn2 -> prelu1 -> conv2 3x3 s -> bn3
           + shortcut (identity or downsample = [1x1 conv s, BN]); no act after add
  fpn      p5 = P5_1(C5); p4 = P4_1(C4) + up2(p5); p3 = P3_1(C3) + up2(p4);
           X3 = P3_2(p3)   (P5_2, P4_2, P6, P7_2 exist but are unused)
  mask     [conv3x3 s2, PReLU, BN, conv3x3 s2 -> widths[3], Sigmoid](X3) -> 7x6
  fc       [BN1d, Dropout, Linear, BN1d] on flatten(C5 * mask) / flatten(C5)
  regress  [BN1d, Dropout, Linear(no bias), BN1d] on flatten(mask) -> P logits
           P = (K(K+1)/2)^2 + 1 occlusion patterns (K=5 -> 226)

forward(x, mask=None) -> (masked_embedding, mask, pattern_logits,
unmasked_embedding); an external mask replaces the decoded one (the pattern
logits are then computed from the external mask as well).
"""

import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

MODEL_NAME = "LResNet50E-IR-FROM"

FULL_CONFIG = dict(widths=[64, 128, 256, 512], blocks=[3, 4, 14, 3],
                   fpn_channels=256, embedding_dim=512, grid=5)
TINY_CONFIG = dict(widths=[8, 16, 24, 32], blocks=[1, 2, 2, 1],
                   fpn_channels=16, embedding_dim=64, grid=5)

INPUT_H, INPUT_W = 112, 96
FEAT_H, FEAT_W = 7, 6


def num_patterns(grid):
    n = grid * (grid + 1) // 2
    return n * n + 1


def normalize_input(x_raw):
    """Raw RGB values in 0..255 -> network input, (x/255 - 0.5)/0.5."""
    return (x_raw / 255.0 - 0.5) / 0.5


class BlockIR(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.prelu1 = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes)
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, 0, bias=False),
                nn.BatchNorm2d(planes))
        else:
            self.downsample = None

    def forward(self, x):
        out = self.bn1(x)
        out = self.conv1(out)
        out = self.bn2(out)
        out = self.prelu1(out)
        out = self.conv2(out)
        out = self.bn3(out)
        residual = x if self.downsample is None else self.downsample(x)
        return out + residual


class PyramidFeatures(nn.Module):
    def __init__(self, c3, c4, c5, f):
        super().__init__()
        self.P5_1 = nn.Conv2d(c5, f, 1, 1, 0)
        self.P5_2 = nn.Conv2d(f, f, 3, 1, 1)
        self.P4_1 = nn.Conv2d(c4, f, 1, 1, 0)
        self.P4_2 = nn.Conv2d(f, f, 3, 1, 1)
        self.P3_1 = nn.Conv2d(c3, f, 1, 1, 0)
        self.P3_2 = nn.Conv2d(f, f, 3, 1, 1)
        self.P6 = nn.Conv2d(c5, f, 3, 2, 1)
        self.P7_2 = nn.Conv2d(f, f, 3, 2, 1)

    def forward(self, c3, c4, c5):
        p5 = self.P5_1(c5)
        p4 = self.P4_1(c4) + F.interpolate(p5, scale_factor=2, mode="nearest")
        p3 = self.P3_1(c3) + F.interpolate(p4, scale_factor=2, mode="nearest")
        return self.P3_2(p3)


class LResNetFROM(nn.Module):
    def __init__(self, widths=(64, 128, 256, 512), blocks=(3, 4, 14, 3),
                 fpn_channels=256, embedding_dim=512, grid=5):
        super().__init__()
        widths = list(widths)
        blocks = list(blocks)
        assert len(widths) == 4 and len(blocks) == 4
        self.widths = widths
        self.num_patterns = num_patterns(grid)
        f = fpn_channels
        flat = widths[3] * FEAT_H * FEAT_W

        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.prelu1 = nn.PReLU(widths[0])
        inplanes = widths[0]
        for i in range(4):
            layers = []
            for b in range(blocks[i]):
                layers.append(BlockIR(inplanes, widths[i], 2 if b == 0 else 1))
                inplanes = widths[i]
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*layers))

        self.fpn = PyramidFeatures(widths[1], widths[2], widths[3], f)
        self.mask = nn.Sequential(
            nn.Conv2d(f, f, 3, 2, 1, bias=False),
            nn.PReLU(f),
            nn.BatchNorm2d(f),
            nn.Conv2d(f, widths[3], 3, 2, 1, bias=False),
            nn.Sigmoid())
        self.fc = nn.Sequential(
            nn.BatchNorm1d(flat),
            nn.Dropout(0.5),
            nn.Linear(flat, embedding_dim),
            nn.BatchNorm1d(embedding_dim))
        self.regress = nn.Sequential(
            nn.BatchNorm1d(flat),
            nn.Dropout(0.5),
            nn.Linear(flat, self.num_patterns, bias=False),
            nn.BatchNorm1d(self.num_patterns))

    def features(self, x):
        """Returns (C3, C4, C5, X3) for a normalised input."""
        x = self.prelu1(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        c3 = self.layer2(x)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        x3 = self.fpn(c3, c4, c5)
        return c3, c4, c5, x3

    def forward(self, x, mask=None, return_taps=False):
        _, _, c5, x3 = self.features(x)
        if mask is None:
            mask = self.mask(x3)
        n = c5.shape[0]
        masked = self.fc((c5 * mask).view(n, -1))
        logits = self.regress(mask.view(n, -1))
        unmasked = self.fc(c5.view(n, -1))
        if return_taps:
            return masked, mask, logits, unmasked, c5, x3
        return masked, mask, logits, unmasked


def build(cfg):
    return LResNetFROM(**cfg)


def param_count(model):
    return sum(p.numel() for p in model.parameters())


def randomize_nontrivial(model, seed=0):
    """torch.manual_seed(seed) default init, then make every BN / PReLU
    parameter and buffer non-trivial.  Conv / linear weights keep default init."""
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                m.num_batches_tracked.fill_(
                    int(torch.randint(1, 100000, (1,), generator=g)))
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.35 + 0.05)
    return model


def make_tiny_model():
    torch.manual_seed(0)
    model = build(TINY_CONFIG)
    randomize_nontrivial(model, seed=0)
    model.eval()
    return model


def make_inputs():
    g = torch.Generator().manual_seed(1234)
    x_raw = torch.randint(0, 256, (2, 3, INPUT_H, INPUT_W), generator=g).float()
    ext_mask = torch.rand(2, TINY_CONFIG["widths"][3], FEAT_H, FEAT_W, generator=g)
    return x_raw, ext_mask


def key_manifest(model):
    tensors = []
    for k, v in model.state_dict().items():
        dtype = str(v.dtype).replace("torch.", "")
        tensors.append({"key": k, "shape": list(v.shape), "dtype": dtype})
    return {"model": MODEL_NAME, "patterns": model.num_patterns, "tensors": tensors}


@torch.no_grad()
def reference_outputs(model, x_raw, ext_mask):
    """Outputs computed in float64 on a float64 copy, returned as float32."""
    import copy
    m64 = copy.deepcopy(model).double().eval()
    x = normalize_input(x_raw.double())
    masked, mask, logits, unmasked, c5, x3 = m64(x, return_taps=True)
    e_masked, _, e_logits, _ = m64(x, mask=ext_mask.double())
    out = {
        "input_raw": x_raw,
        "masked_embedding": masked,
        "mask": mask,
        "pattern_logits": logits,
        "unmasked_embedding": unmasked,
        "external_mask": ext_mask,
        "external_masked_embedding": e_masked,
        "external_pattern_logits": e_logits,
        "c5": c5,
        "x3": x3,
    }
    return {k: v.float().contiguous() for k, v in out.items()}


def st_metadata(**extra):
    """A single metadata entry: safetensors writes the metadata map in hash
    order, so several keys would make the file bytes non-deterministic."""
    info = dict(model=MODEL_NAME, config=TINY_CONFIG, **extra)
    return {"info": json.dumps(info, sort_keys=True)}


def describe(name, t):
    print("  %-26s %-16s min %+.4f max %+.4f mean %+.4f std %.4f" % (
        name, list(t.shape), t.min().item(), t.max().item(),
        t.float().mean().item(), t.float().std().item()))


@torch.no_grad()
def verify(out_dir):
    ok = True
    # 1. full-size model: shapes + parameter count
    torch.manual_seed(0)
    full = build(FULL_CONFIG).eval()
    n_full = param_count(full)
    x = normalize_input(torch.randint(0, 256, (1, 3, INPUT_H, INPUT_W)).float())
    emb, mask, logits, unm = full(x)
    shapes = (list(emb.shape), list(mask.shape), list(logits.shape), list(unm.shape))
    expect = ([1, 512], [1, 512, 7, 6], [1, 226], [1, 512])
    print("full model %s: %d parameters (%d state-dict tensors), output shapes %s"
          % (MODEL_NAME, n_full, len(full.state_dict()), shapes))
    if shapes != expect:
        print("FAIL: full model shapes %s != %s" % (shapes, expect))
        ok = False
    keys_path = os.path.join(out_dir, "lresnet50e_ir_from_k5_keys.json")
    if os.path.exists(keys_path):
        with open(keys_path) as fh:
            if json.load(fh) != key_manifest(full):
                print("FAIL: %s does not match the model" % keys_path)
                ok = False
            else:
                print("keys manifest matches full model")
    del full

    # 2. tiny model: reload checkpoint into a fresh model, compare
    tiny = make_tiny_model()
    print("tiny model: %d parameters" % param_count(tiny))
    x_raw, ext = make_inputs()
    ref = reference_outputs(tiny, x_raw, ext)

    ckpt = torch.load(os.path.join(out_dir, "from_tiny.pth.tar"),
                      map_location="cpu", weights_only=True)
    fresh = build(TINY_CONFIG)
    fresh.load_state_dict(ckpt["state_dict"], strict=True)
    fresh.eval()
    xn = normalize_input(x_raw)
    got = fresh(xn)
    got_ext = fresh(xn, mask=ext)
    exp = tiny(xn)

    from safetensors.torch import load_file
    io = load_file(os.path.join(out_dir, "from_tiny_io.safetensors"))
    for k, v in ref.items():
        if not torch.equal(io[k], v):
            print("FAIL: io fixture tensor %s differs from regenerated reference" % k)
            ok = False
    names = ["masked_embedding", "mask", "pattern_logits", "unmasked_embedding"]
    pairs = list(zip(names, got)) + [("external_masked_embedding", got_ext[0]),
                                     ("external_pattern_logits", got_ext[2])]
    for name, t in pairs:
        err = (t - io[name]).abs().max().item()
        scale = io[name].abs().max().item()
        print("  reloaded f32 vs f64 reference %-26s max abs err %.3e (max |ref| %.3e)"
              % (name, err, scale))
        if err > 1e-4 * max(1.0, scale):
            print("FAIL: %s mismatch" % name)
            ok = False
    for a, b, name in zip(got, exp, names):
        if not torch.equal(a, b):
            print("FAIL: reloaded model output %s not bit-identical to original" % name)
            ok = False

    bare = torch.load(os.path.join(out_dir, "from_tiny_state_dict.pth"),
                      map_location="cpu", weights_only=True)
    st = load_file(os.path.join(out_dir, "from_tiny.safetensors"))
    sd = tiny.state_dict()
    for name, d in (("from_tiny_state_dict.pth", bare), ("from_tiny.safetensors", st)):
        if list(d.keys()) != list(sd.keys()) and sorted(d.keys()) != sorted(sd.keys()):
            print("FAIL: %s key set differs" % name)
            ok = False
        for k, v in sd.items():
            if not torch.equal(d[k], v):
                print("FAIL: %s tensor %s differs" % (name, k))
                ok = False
    # sanity: the mask must not be saturated, otherwise the test is weak
    m = io["mask"]
    frac_sat = ((m < 0.01) | (m > 0.99)).float().mean().item()
    print("  mask saturation fraction (<0.01 or >0.99): %.3f" % frac_sat)
    print("VERIFY", "OK" if ok else "FAILED")
    return ok


@torch.no_grad()
def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    from safetensors.torch import save_file

    # 1. key manifest of the full-size model (weights are NOT saved)
    torch.manual_seed(0)
    full = build(FULL_CONFIG)
    with open(os.path.join(out_dir, "lresnet50e_ir_from_k5_keys.json"), "w") as fh:
        json.dump(key_manifest(full), fh, indent=1)
        fh.write("\n")
    del full

    # 2. reduced model
    tiny = make_tiny_model()
    sd = tiny.state_dict()
    g = torch.Generator().manual_seed(99)
    classifier = {"weight": torch.randn(10, TINY_CONFIG["embedding_dim"], generator=g)}
    torch.save({"epoch": 1, "state_dict": sd, "classifier": classifier},
               os.path.join(out_dir, "from_tiny.pth.tar"))
    torch.save(sd, os.path.join(out_dir, "from_tiny_state_dict.pth"))
    save_file({k: v.contiguous() for k, v in sd.items()},
              os.path.join(out_dir, "from_tiny.safetensors"),
              metadata=st_metadata())

    x_raw, ext = make_inputs()
    ref = reference_outputs(tiny, x_raw, ext)
    save_file(ref, os.path.join(out_dir, "from_tiny_io.safetensors"),
              metadata=st_metadata(
                  torch=torch.__version__,
                  note="reference computed in float64, stored float32; "
                       "input_raw is 0..255, normalise (x/255-0.5)/0.5"))
    for name in os.listdir(out_dir):
        os.chmod(os.path.join(out_dir, name), 0o644)
    print("wrote fixtures to %s (torch %s)" % (out_dir, torch.__version__))
    for k, v in ref.items():
        describe(k, v)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("generate", help="write fixtures, then verify them")
    p.add_argument("--out", default="tests/fixtures/from")
    p = sub.add_parser("verify", help="self-checks against existing fixtures")
    p.add_argument("--out", default="tests/fixtures/from")
    p = sub.add_parser("keys", help="print state-dict keys of a configuration")
    p.add_argument("--widths", type=int, nargs=4, default=FULL_CONFIG["widths"])
    p.add_argument("--blocks", type=int, nargs=4, default=FULL_CONFIG["blocks"])
    p.add_argument("--fpn-channels", type=int, default=FULL_CONFIG["fpn_channels"])
    p.add_argument("--embedding-dim", type=int, default=FULL_CONFIG["embedding_dim"])
    p.add_argument("--grid", type=int, default=FULL_CONFIG["grid"])
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

    if args.cmd == "generate":
        generate(args.out)
        return 0 if verify(args.out) else 1
    if args.cmd == "verify":
        return 0 if verify(args.out) else 1
    if args.cmd == "keys":
        model = build(dict(widths=args.widths, blocks=args.blocks,
                           fpn_channels=args.fpn_channels,
                           embedding_dim=args.embedding_dim, grid=args.grid))
        for t in key_manifest(model)["tensors"]:
            print(t["key"], t["shape"], t["dtype"])
        print("parameters:", param_count(model), "patterns:", model.num_patterns)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
