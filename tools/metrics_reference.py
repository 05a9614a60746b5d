#!/usr/bin/env python3
"""Reference values for the verification metrics (src/eval/roc.rs, src/eval/verification.rs).

Regenerates ``tests/fixtures/metrics/``:

* ``scores.csv`` -- ``score,label`` for 2000 synthetic pairs laid out like LFW View 2 (10 folds
  of 100 genuine then 100 impostor pairs), scores float32 in [-1, 1] from a seeded numpy
  generator, with exact ties inside and across the classes (scores rounded to 0.01, which are
  threshold-grid values; impostor scores copied onto genuine pairs) and the extremes -1 and 1.
  Each score is written as the shortest decimal that reads back as the same float32.
* ``sklearn_reference.json`` -- from those float32 scores:
  - ``roc``: ``sklearn.metrics.roc_curve(drop_intermediate=False)`` fpr, tpr, thresholds (the
    first threshold, +inf, is written as null; the others are the float32 scores as float64);
  - ``roc_auc_score`` and ``auc`` (trapezoid over that ROC);
  - ``eer``: from the sklearn ROC, linear interpolation on the first segment where FAR - FRR
    turns >= 0 (FRR = 1 - TPR), the method documented in ``Roc::eer``; ``eer_threshold`` is the
    threshold at that segment's end;
  - ``tar_at_far``: max TPR over ROC points with FPR <= target; null when target x impostor
    pairs < 1 ("not enough impostor pairs");
  - ``tar_at_far_official``: FROM's ``tar_far`` (lib/core/lfw_eval.py), re-written here;
  - ``ten_fold``: the official FROM / SphereFace protocol re-implemented in numpy (folds
    ``[int(i*n/10), int((i+1)*n/10))``, threshold searched on the other nine folds with
    ``score > t``, ``>=`` keeps the later threshold on ties, held-out accuracy, ``np.mean`` and
    ``np.std``), on the float32 grid ``float32(i)/200 - 1`` that the Rust code searches; it is
    also run on the official ``np.arange(-1.0, 1.0, 0.005)`` float64 grid and
    ``official_arange_grid_agrees`` says whether every fold chose the same grid index and
    accuracy; ``ten_fold_lowest_tie`` breaks ties towards the lower threshold instead;
  - ``best_threshold``: best grid threshold on all pairs (lowest on ties) and its accuracy.

Usage (from the repository root)::

    pip install numpy scikit-learn       # tested: numpy 2.4.6, scikit-learn 1.9.1 (scipy 1.17.1)
    python tools/metrics_reference.py [--out tests/fixtures/metrics]
"""

import argparse
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import auc, roc_auc_score, roc_curve

SEED = 5
FOLDS = 10
PER_CLASS = 100
FARS = [1e-2, 1e-3, 1e-4]


def make_scores():
    rng = np.random.default_rng(SEED)
    n = 2 * FOLDS * PER_CLASS
    genuine = np.zeros(n, dtype=bool)
    for f in range(FOLDS):
        genuine[f * 2 * PER_CLASS : f * 2 * PER_CLASS + PER_CLASS] = True
    scores = np.where(genuine, rng.normal(0.55, 0.14, n), rng.normal(0.05, 0.12, n))
    scores = np.clip(scores, -1.0, 1.0)
    # Ties: a fifth of all scores rounded to 0.01 (grid values, shared within and across classes).
    rounded = rng.choice(n, n // 5, replace=False)
    scores[rounded] = np.round(scores[rounded], 2)
    # Ties across classes at arbitrary values: 40 genuine pairs take an impostor's score.
    gen_idx, imp_idx = np.flatnonzero(genuine), np.flatnonzero(~genuine)
    scores[rng.choice(gen_idx, 40, replace=False)] = scores[rng.choice(imp_idx, 40, replace=False)]
    scores[gen_idx[3]], scores[imp_idx[5]] = 1.0, -1.0
    return scores.astype(np.float32), genuine


def eer_from_roc(fpr, tpr, thresholds):
    gap = fpr - (1.0 - tpr)
    i = int(np.argmax(gap >= 0.0))
    t = -gap[i - 1] / (gap[i] - gap[i - 1])
    return fpr[i - 1] + t * (fpr[i] - fpr[i - 1]), float(thresholds[i])


def tar_at_far(fpr, tpr, impostors, far):
    if far * impostors < 1:
        return None
    return float(tpr[fpr <= far].max())


def official_tar_far(scores, genuine, far):
    posi = sorted(scores[genuine].astype(np.float64), reverse=True)
    nega = sorted(scores[~genuine].astype(np.float64), reverse=True)
    threshold = nega[int(len(nega) * far)]
    return float((np.array(posi) >= threshold).sum()) / len(posi)


def kfold(scores, genuine, thresholds, highest=True):
    n = len(scores)
    accuracies, chosen, chosen_index = [], [], []
    for i in range(FOLDS):
        test = np.arange(int(i * n / FOLDS), int((i + 1) * n / FOLDS))
        train = np.setdiff1d(np.arange(n), test)
        best_acc, best_k = -1.0, None
        for k, t in enumerate(thresholds):
            acc = np.count_nonzero((scores[train] > t) == genuine[train]) / len(train)
            if acc > best_acc or (highest and acc == best_acc):
                best_acc, best_k = acc, k
        t = thresholds[best_k]
        accuracies.append(np.count_nonzero((scores[test] > t) == genuine[test]) / len(test))
        chosen.append(float(t))
        chosen_index.append(best_k)
    return {
        "mean": float(np.mean(accuracies)),
        "std": float(np.std(accuracies)),
        "accuracies": [float(a) for a in accuracies],
        "thresholds": chosen,
        "mean_threshold": float(np.mean(chosen)),
    }, chosen_index


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="tests/fixtures/metrics")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    scores, genuine = make_scores()
    labels = genuine.astype(int)
    impostors = int((~genuine).sum())

    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    eer, eer_threshold = eer_from_roc(fpr, tpr, thresholds)

    grid32 = np.arange(400, dtype=np.float32) / np.float32(200) - np.float32(1)
    ten_fold, index32 = kfold(scores, genuine, grid32)
    lowest, _ = kfold(scores, genuine, grid32, highest=False)
    official, index64 = kfold(scores.astype(np.float64), genuine, np.arange(-1.0, 1.0, 0.005))
    agrees = index32 == index64 and official["accuracies"] == ten_fold["accuracies"]

    accs = [np.count_nonzero((scores > t) == genuine) / len(scores) for t in grid32]
    best = int(np.argmax(accs))  # argmax takes the first maximum: the lowest threshold

    reference = {
        "generator": "tools/metrics_reference.py",
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
        "seed": SEED,
        "pairs": len(scores),
        "genuine": int(genuine.sum()),
        "impostor": impostors,
        "folds": FOLDS,
        "per_class": PER_CLASS,
        "distinct_scores": int(len(np.unique(scores))),
        "roc": {
            "fpr": fpr.tolist(),
            "tpr": tpr.tolist(),
            "thresholds": [None] + thresholds[1:].tolist(),
        },
        "roc_auc_score": float(roc_auc_score(labels, scores)),
        "auc": float(auc(fpr, tpr)),
        "eer": float(eer),
        "eer_threshold": eer_threshold,
        "tar_at_far": [{"far": far, "tar": tar_at_far(fpr, tpr, impostors, far)} for far in FARS],
        "tar_at_far_official": [{"far": far, "tar": official_tar_far(scores, genuine, far)} for far in FARS],
        "ten_fold": ten_fold,
        "ten_fold_lowest_tie": lowest,
        "official_arange_grid_agrees": bool(agrees),
        "best_threshold": {"threshold": float(grid32[best]), "accuracy": float(accs[best])},
    }
    written = [np.format_float_positional(s, unique=True, trim="-") for s in scores]
    assert all(np.float32(w) == s for w, s in zip(written, scores)), "scores must read back exactly"
    with open(os.path.join(args.out, "scores.csv"), "w") as f:
        f.write("score,label\n")
        for w, y in zip(written, labels):
            f.write(f"{w},{y}\n")
    with open(os.path.join(args.out, "sklearn_reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    print(f"{len(scores)} pairs, {reference['distinct_scores']} distinct scores, ROC {len(fpr)} points")
    print(f"AUC {reference['roc_auc_score']:.6f}  EER {eer:.6f}  10-fold {ten_fold['mean']:.4f} +- {ten_fold['std']:.4f}")
    print(f"lowest-tie 10-fold {lowest['mean']:.4f}; official arange grid agrees: {agrees}")


if __name__ == "__main__":
    main()
