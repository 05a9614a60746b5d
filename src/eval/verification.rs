//! Verification accuracy at a threshold on cosine similarity, the official k-fold protocol, and
//! a report bundling it with the ROC metrics (pure Rust on f32).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::roc::{Eer, RocPoint, TarAtFar, TarRule, decimate, official_tar_at_far, roc_curve};
use super::{ScoresError, check_scores};

/// Thresholds searched: cosine in [-1, 1) in steps of 0.005, as the official FROM evaluation.
pub fn threshold_grid() -> impl Iterator<Item = f32> {
    (0..400).map(|i| i as f32 / 200.0 - 1.0)
}

/// Fraction of pairs decided right when "same" means score > threshold.
pub fn accuracy_at(scores: &[f32], same: &[bool], threshold: f32) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    let right = scores.iter().zip(same).filter(|&(&s, &y)| (s > threshold) == y).count();
    right as f64 / scores.len() as f64
}

/// The grid threshold with the best accuracy (the lowest such threshold on ties).
pub fn best_threshold(scores: &[f32], same: &[bool]) -> (f32, f64) {
    threshold_grid()
        .map(|t| (t, accuracy_at(scores, same, t)))
        .fold((-1.0, -1.0), |best, cand| if cand.1 > best.1 { cand } else { best })
}

/// Which grid threshold wins when several give the best accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TieBreak {
    /// The lowest, as [`best_threshold`].
    Lowest,
    /// The highest: the official FROM / SphereFace `find_best_threshold` keeps a candidate when
    /// `accuracy >= best_acc`, so the last of the tied grid thresholds wins.
    Highest,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdAccuracy {
    pub threshold: f32,
    pub accuracy: f64,
}

/// Result of the k-fold protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KFoldAccuracy {
    pub folds: usize,
    pub tie_break: TieBreak,
    /// Mean of the held-out fold accuracies.
    pub mean: f64,
    /// Their population standard deviation (numpy's `np.std` default, ddof = 0).
    pub std: f64,
    /// Per fold: the threshold chosen on the other folds and the accuracy on this one.
    pub per_fold: Vec<ThresholdAccuracy>,
    /// Mean of the chosen thresholds (the official log prints it as `thd`).
    pub mean_threshold: f64,
}

/// Fold `i` of `n` pairs: `i*n/folds .. (i+1)*n/folds` (the official `KFold`, no shuffling), so
/// folds are blocks of consecutive pairs: LFW View 2's folds when the file order is kept.
pub fn fold_ranges(n: usize, folds: usize) -> Vec<Range<usize>> {
    (0..folds).map(|i| i * n / folds..(i + 1) * n / folds).collect()
}

/// The official LFW protocol of FROM (`lib/core/lfw_eval.py`, from SphereFace): for each fold,
/// the [`threshold_grid`] threshold with the best accuracy on the other folds ("same" means
/// score > threshold), ties broken by `tie`, is scored on the held-out fold.
///
/// The official code searches `np.arange(-1.0, 1.0, 0.005)` in float64; this searches the f32
/// [`threshold_grid`], which decides differently only for a score lying between a grid value's
/// f32 and f64 forms. Needs at least `folds` pairs; a fold may hold one class only.
pub fn kfold_accuracy(
    scores: &[f32],
    same: &[bool],
    folds: usize,
    tie: TieBreak,
) -> Result<KFoldAccuracy, ScoresError> {
    check_scores(scores, same)?;
    let n = scores.len();
    if folds < 2 || n < folds {
        return Err(ScoresError::Folds { pairs: n, folds });
    }
    let grid: Vec<f32> = threshold_grid().collect();
    // bin(s) = how many grid thresholds s exceeds: the pair is judged "same" at grid[k] iff
    // k < bin(s). Counting pairs per bin and fold makes each fold's search O(grid), with the
    // very comparisons of `accuracy_at`.
    let bins = grid.len() + 1;
    let ranges = fold_ranges(n, folds);
    let mut genuine = vec![vec![0usize; bins]; folds];
    let mut impostor = vec![vec![0usize; bins]; folds];
    for (f, range) in ranges.iter().enumerate() {
        for i in range.clone() {
            let bin = grid.partition_point(|&t| scores[i] > t);
            if same[i] { genuine[f][bin] += 1 } else { impostor[f][bin] += 1 }
        }
    }
    let mut per_fold = Vec::with_capacity(folds);
    for (f, range) in ranges.iter().enumerate() {
        let train =
            |hist: &[Vec<usize>], bin: usize| -> usize { (0..folds).filter(|&g| g != f).map(|g| hist[g][bin]).sum() };
        let mut genuine_above: usize = (0..bins).map(|b| train(&genuine, b)).sum();
        let mut impostor_below = 0;
        let mut best: Option<(f32, usize)> = None;
        for (k, &t) in grid.iter().enumerate() {
            // At grid[k]: genuine pairs with bin > k are right, impostors with bin <= k.
            genuine_above -= train(&genuine, k);
            impostor_below += train(&impostor, k);
            let right = genuine_above + impostor_below;
            let better = match (best, tie) {
                (None, _) => true,
                (Some((_, r)), TieBreak::Lowest) => right > r,
                (Some((_, r)), TieBreak::Highest) => right >= r,
            };
            if better {
                best = Some((t, right));
            }
        }
        let threshold = best.expect("the grid is not empty").0;
        let accuracy = accuracy_at(&scores[range.clone()], &same[range.clone()], threshold);
        per_fold.push(ThresholdAccuracy { threshold, accuracy });
    }
    let mean = per_fold.iter().map(|r| r.accuracy).sum::<f64>() / folds as f64;
    let std = (per_fold.iter().map(|r| (r.accuracy - mean).powi(2)).sum::<f64>() / folds as f64).sqrt();
    let mean_threshold = per_fold.iter().map(|r| r.threshold as f64).sum::<f64>() / folds as f64;
    Ok(KFoldAccuracy { folds, tie_break: tie, mean, std, per_fold, mean_threshold })
}

/// [`kfold_accuracy`] as FROM reports LFW: 10 folds, the official tie break (the highest of the
/// tied thresholds; [`best_threshold`] keeps the lowest). The rule moves results: on the
/// reference fixture the means differ by 0.35 points.
pub fn ten_fold_accuracy(scores: &[f32], same: &[bool]) -> Result<KFoldAccuracy, ScoresError> {
    kfold_accuracy(scores, same, 10, TieBreak::Highest)
}

/// FARs at which [`verification_report`] measures TAR.
pub const REPORT_FARS: [f64; 3] = [1e-2, 1e-3, 1e-4];

/// Everything about one set of scored pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationReport {
    pub pairs: usize,
    pub genuine: usize,
    pub impostor: usize,
    /// 10 folds of consecutive pairs in the given order, official tie break.
    pub ten_fold: KFoldAccuracy,
    /// Best grid threshold chosen on all pairs and its accuracy there (optimistic: the
    /// threshold is fitted to the data it is scored on).
    pub best_threshold: ThresholdAccuracy,
    pub auc: f64,
    pub eer: Eer,
    pub tar_at_far: Vec<TarAtFar>,
    /// How many points the full ROC has; `roc` may hold fewer after [`Self::decimated`].
    pub roc_points_full: usize,
    pub roc: Vec<RocPoint>,
}

/// The report for `scores` in pair order (the order defines the folds). Needs both kinds of
/// pairs and at least 10 pairs.
pub fn verification_report(scores: &[f32], same: &[bool]) -> Result<VerificationReport, ScoresError> {
    verification_report_with(scores, same, TarRule::Roc)
}

/// [`verification_report`] with TAR at FAR read by `tar_rule`.
pub fn verification_report_with(
    scores: &[f32],
    same: &[bool],
    tar_rule: TarRule,
) -> Result<VerificationReport, ScoresError> {
    let roc = roc_curve(scores, same)?;
    let tar_at_far = match tar_rule {
        TarRule::Roc => REPORT_FARS.iter().map(|&far| roc.tar_at_far(far)).collect(),
        TarRule::Authors => {
            REPORT_FARS.iter().map(|&far| official_tar_at_far(scores, same, far)).collect::<Result<_, _>>()?
        }
    };
    let ten_fold = ten_fold_accuracy(scores, same)?;
    let (threshold, accuracy) = best_threshold(scores, same);
    Ok(VerificationReport {
        pairs: scores.len(),
        genuine: roc.genuine,
        impostor: roc.impostor,
        ten_fold,
        best_threshold: ThresholdAccuracy { threshold, accuracy },
        auc: roc.auc(),
        eer: roc.eer(),
        tar_at_far,
        roc_points_full: roc.points.len(),
        roc: roc.points,
    })
}

impl VerificationReport {
    /// A copy whose ROC has at most `max_roc_points` points (see `Roc::decimated`), for storage;
    /// the metrics stay those of the full curve.
    pub fn decimated(&self, max_roc_points: usize) -> Self {
        Self { roc: decimate(&self.roc, max_roc_points), ..self.clone() }
    }
}
