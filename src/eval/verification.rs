//! Verification accuracy at a threshold on cosine similarity (pure Rust on f32).

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
