//! ROC curve, AUC, EER and TAR at fixed FAR over verification scores (pure Rust on f32).
//!
//! A pair is *accepted* at threshold `t` when `score >= t`, as in scikit-learn's `roc_curve`
//! (the accuracy search in `verification` uses `score > t`, as the official FROM code does).
//! FAR = accepted impostor pairs / impostor pairs; TAR = accepted genuine pairs / genuine pairs.

use serde::{Deserialize, Serialize};

use super::{ScoresError, check_scores};

/// One operating point. `threshold` is +inf for the first point (nothing accepted); JSON has no
/// infinity, so it is written as `null` there and read back as +inf.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    pub far: f64,
    pub tar: f64,
    #[serde(with = "infinite_as_null")]
    pub threshold: f32,
}

/// The full ROC: one point per distinct score, thresholds descending, starting at (0, 0) with
/// threshold +inf and ending at (1, 1): `sklearn.metrics.roc_curve(drop_intermediate=False)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Roc {
    pub points: Vec<RocPoint>,
    pub genuine: usize,
    pub impostor: usize,
}

/// Equal error rate: where FAR = FRR (= 1 - TAR).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Eer {
    pub rate: f64,
    /// The highest threshold with FAR >= FRR: the ROC point ending the crossing segment.
    /// Accepting `score >= threshold` gives FAR >= `rate` >= FRR.
    pub threshold: f32,
}

/// TAR at a target FAR.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TarAtFar {
    /// The target.
    pub far: f64,
    #[serde(flatten)]
    pub result: TarResult,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TarResult {
    /// The highest TAR of a ROC point whose FAR is <= the target; `threshold` is the highest
    /// threshold that reaches it and `actual_far` the FAR there.
    Measured {
        tar: f64,
        #[serde(with = "infinite_as_null")]
        threshold: f32,
        actual_far: f64,
    },
    /// target x impostor pairs < 1: one accepted impostor already exceeds the target, so only
    /// FAR = 0 would be admissible, which measures the top impostor score rather than a TAR at
    /// this FAR. `needed` = ceil(1 / target).
    NotEnoughImpostorPairs { impostor_pairs: usize, needed: usize },
}

/// How TAR at a target FAR is read off the scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TarRule {
    /// The highest TAR of a ROC point whose FAR is <= the target; "not enough impostor pairs"
    /// when one accepted impostor already exceeds it ([`Roc::tar_at_far`]).
    #[default]
    Roc,
    /// The official FROM code's `tar_far`: the impostor score at index `floor(impostors * far)`
    /// in descending order is the threshold, genuine scores >= it are accepted. With LFW's 3,000
    /// impostors at FAR 1e-4 that is the highest impostor score ([`official_tar_at_far`]).
    Authors,
}

impl TarAtFar {
    pub fn tar(&self) -> Option<f64> {
        match self.result {
            TarResult::Measured { tar, .. } => Some(tar),
            TarResult::NotEnoughImpostorPairs { .. } => None,
        }
    }
}

/// The ROC of `scores` (`same[i]`: pair `i` is genuine). Needs both kinds of pairs.
pub fn roc_curve(scores: &[f32], same: &[bool]) -> Result<Roc, ScoresError> {
    let (genuine, impostor) = check_scores(scores, same)?;
    if genuine == 0 || impostor == 0 {
        return Err(ScoresError::OneClass { genuine, impostor });
    }
    let mut sorted: Vec<(f32, bool)> = scores.iter().copied().zip(same.iter().copied()).collect();
    // Scores are finite, so partial_cmp is total; it also keeps -0.0 and 0.0 one value.
    sorted.sort_unstable_by(|x, y| y.0.partial_cmp(&x.0).unwrap());
    let mut points = vec![RocPoint { far: 0.0, tar: 0.0, threshold: f32::INFINITY }];
    let (mut tp, mut fp) = (0usize, 0usize);
    for (i, &(score, is_same)) in sorted.iter().enumerate() {
        if is_same {
            tp += 1;
        } else {
            fp += 1;
        }
        if sorted.get(i + 1).is_none_or(|next| next.0 != score) {
            points.push(RocPoint {
                far: fp as f64 / impostor as f64,
                tar: tp as f64 / genuine as f64,
                threshold: score,
            });
        }
    }
    Ok(Roc { points, genuine, impostor })
}

impl Roc {
    /// Area under the ROC by the trapezoid rule, as `sklearn.metrics.roc_auc_score`: with ties a
    /// diagonal segment, so a genuine-impostor tie counts one half (the Mann-Whitney statistic).
    pub fn auc(&self) -> f64 {
        self.points.windows(2).map(|w| (w[1].far - w[0].far) * (w[1].tar + w[0].tar) / 2.0).sum()
    }

    /// FAR - FRR never decreases along the ROC, from -1 at (0, 0) to 1 at (1, 1). The EER is
    /// taken on the first segment where it becomes >= 0, by linear interpolation along that
    /// (straight) segment to FAR - FRR = 0; a point with FAR = FRR exactly is its own EER.
    /// Between two ROC points the operating rates are not attainable by a threshold, so this is
    /// the usual convex-combination reading, as for the AUC's trapezoids.
    pub fn eer(&self) -> Eer {
        let gap = |p: &RocPoint| p.far - (1.0 - p.tar);
        // The last point is (1, 1), gap 1, so a crossing exists; the first is (0, 0), gap -1.
        let i = self.points.iter().position(|p| gap(p) >= 0.0).expect("the ROC ends at (1, 1)");
        let (p, q) = (self.points[i - 1], self.points[i]);
        let (gp, gq) = (gap(&p), gap(&q));
        let t = -gp / (gq - gp);
        Eer { rate: p.far + t * (q.far - p.far), threshold: q.threshold }
    }

    /// TAR at FAR <= `far`, `far` in (0, 1] (see [`TarResult`]).
    pub fn tar_at_far(&self, far: f64) -> TarAtFar {
        // Same arithmetic as the points' FAR, so a FAR of exactly `far` is admitted.
        if 1.0 / self.impostor as f64 > far {
            let needed = (1.0 / far).ceil() as usize;
            return TarAtFar {
                far,
                result: TarResult::NotEnoughImpostorPairs { impostor_pairs: self.impostor, needed },
            };
        }
        let admissible = self.points.iter().take_while(|p| p.far <= far);
        let best = admissible.fold(self.points[0], |best, p| if p.tar > best.tar { *p } else { best });
        TarAtFar { far, result: TarResult::Measured { tar: best.tar, threshold: best.threshold, actual_far: best.far } }
    }

    /// At most `max_points` (>= 2) points that draw the same curve, for storage. Interior points
    /// of straight runs are dropped first (lossless: same AUC and EER up to rounding); if that is
    /// not enough, a point is kept only once the curve has moved by a fixed step since the last
    /// kept one, measured as the largest change of FAR, TAR and normalised log10 FAR, so both
    /// linear and log-FAR plots keep their shape. The first and last points are always kept.
    pub fn decimated(&self, max_points: usize) -> Vec<RocPoint> {
        decimate(&self.points, max_points)
    }
}

pub(crate) fn decimate(points: &[RocPoint], max_points: usize) -> Vec<RocPoint> {
    let max_points = max_points.max(2);
    if points.len() <= 2 {
        return points.to_vec();
    }
    let mut corners = vec![points[0]];
    for w in points.windows(3) {
        let (a, b, c) = (w[0], w[1], w[2]);
        let cross = (b.far - a.far) * (c.tar - b.tar) - (b.tar - a.tar) * (c.far - b.far);
        if cross.abs() > 1e-12 {
            corners.push(b);
        }
    }
    corners.push(points[points.len() - 1]);
    if corners.len() <= max_points {
        return corners;
    }
    let floor = corners.iter().map(|p| p.far).filter(|&f| f > 0.0).fold(1.0, f64::min);
    let log_far = |f: f64| if floor < 1.0 { (f.max(floor).log10() - floor.log10()) / -floor.log10() } else { 0.0 };
    // Each of the three measures moves by at most 1 along the whole curve, so a step of 3/(m-2)
    // keeps at most m-2 points between the first and the last.
    let step = 3.0 / (max_points - 2) as f64;
    let last = corners[corners.len() - 1];
    let mut kept = vec![corners[0]];
    for &p in &corners[1..corners.len() - 1] {
        let k = kept[kept.len() - 1];
        let moved = (p.far - k.far).abs().max((p.tar - k.tar).abs()).max((log_far(p.far) - log_far(k.far)).abs());
        if moved >= step {
            kept.push(p);
        }
    }
    kept.push(last);
    kept
}

/// TAR at FAR the way the official FROM code computes it (`tar_far` in `lib/core/lfw_eval.py`):
/// the threshold is the impostor score at index `floor(impostors * far)` in descending order,
/// and TAR counts genuine scores >= it. The threshold itself is accepted, so the real FAR
/// (`actual_far`, the share of impostor scores >= the threshold) is at least 1/impostors even
/// when `far` is smaller (for `far` >= 1, where the original fails on the index, the lowest
/// impostor score is used). For comparing with published numbers ([`TarRule::Authors`]).
pub fn official_tar_at_far(scores: &[f32], same: &[bool], far: f64) -> Result<TarAtFar, ScoresError> {
    let (genuine, impostor) = check_scores(scores, same)?;
    if genuine == 0 || impostor == 0 {
        return Err(ScoresError::OneClass { genuine, impostor });
    }
    let mut impostors: Vec<f32> = scores.iter().zip(same).filter(|&(_, &y)| !y).map(|(&s, _)| s).collect();
    impostors.sort_unstable_by(|x, y| y.partial_cmp(x).unwrap());
    let index = ((impostor as f64 * far) as usize).min(impostor - 1);
    let threshold = impostors[index];
    let accepted = scores.iter().zip(same).filter(|&(&s, &y)| y && s >= threshold).count();
    let false_accepts = impostors.iter().filter(|&&s| s >= threshold).count();
    let result = TarResult::Measured {
        tar: accepted as f64 / genuine as f64,
        threshold,
        actual_far: false_accepts as f64 / impostor as f64,
    };
    Ok(TarAtFar { far, result })
}

/// The TAR of [`official_tar_at_far`] alone.
pub fn tar_at_far_official(scores: &[f32], same: &[bool], far: f64) -> Result<f64, ScoresError> {
    Ok(official_tar_at_far(scores, same, far)?.tar().unwrap_or_default())
}

/// Writes a non-finite threshold as `null` and reads `null` back as +inf.
mod infinite_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f32, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() { serializer.serialize_f32(*value) } else { serializer.serialize_none() }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f32, D::Error> {
        Ok(Option::<f32>::deserialize(deserializer)?.unwrap_or(f32::INFINITY))
    }
}
