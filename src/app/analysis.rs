//! Turning a model's raw outputs into what the panels show: the most likely occlusion patterns,
//! the pattern the painted occlusion really is, and similarities to the references with verdicts.
//! Pure functions, tested without a model.

use crate::face::embedder::cosine;
use crate::patterns::{BinaryMask, PatternSet, Rect};

use super::engine::Embedding;
use super::state::FaceId;

/// Cosine-similarity threshold of the bundled MobileFaceNet, chosen on LFW View 1 pairsDevTrain
/// (the CLI's `verify` default; see the README).
pub const DEFAULT_THRESHOLD: f32 = 0.395;

/// Patterns listed in the panel.
pub const TOP_PATTERNS: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct PatternGuess {
    pub index: usize,
    pub probability: f32,
    /// The pattern's pixels on the aligned face; `None` for pattern 0 (no occlusion).
    pub rect: Option<Rect>,
}

/// The `k` most probable patterns, most probable first (ties by index).
pub fn top_patterns(probabilities: &[f32], patterns: &PatternSet, k: usize) -> Vec<PatternGuess> {
    let mut order: Vec<usize> = (0..probabilities.len().min(patterns.len())).collect();
    order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|index| PatternGuess {
            index,
            probability: probabilities[index],
            rect: patterns.rect_at(index, patterns.height(), patterns.width()).ok().flatten(),
        })
        .collect()
}

/// The pattern the painted occlusion matches best (IoU argmax; 0 when nothing is painted).
pub fn true_pattern(patterns: &PatternSet, painted: &BinaryMask) -> Option<usize> {
    if painted.count() == 0 {
        return Some(0);
    }
    patterns.label_for_mask(painted).ok()
}

/// A painted face's similarity to one reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub reference: FaceId,
    /// Masked (FROM) embeddings.
    pub from: f32,
    /// The same network's unmasked embeddings (FROM with its mask off).
    pub mask_off: f32,
    /// The clean-trained baseline network's embeddings, when both faces have one.
    pub baseline: Option<f32>,
}

pub fn similarities(probe: &Embedding, references: &[(FaceId, &Embedding)]) -> Vec<Similarity> {
    references
        .iter()
        .map(|(id, r)| Similarity {
            reference: *id,
            from: cosine(&probe.masked, &r.masked),
            mask_off: cosine(&probe.unmasked, &r.unmasked),
            baseline: probe.baseline.as_ref().zip(r.baseline.as_ref()).map(|(p, r)| cosine(p, r)),
        })
        .collect()
}

/// "same" at or above the threshold.
pub fn same_person(similarity: f32, threshold: f32) -> bool {
    similarity >= threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_patterns_are_sorted_with_rectangles() {
        let set = PatternSet::new(112, 112, 5).unwrap();
        let mut probs = vec![0.0; set.len()];
        probs[0] = 0.1;
        probs[7] = 0.5;
        probs[3] = 0.3;
        let top = top_patterns(&probs, &set, 3);
        assert_eq!(top.iter().map(|g| g.index).collect::<Vec<_>>(), [7, 3, 0]);
        assert!(top[0].rect.is_some());
        assert!(top[2].rect.is_none(), "pattern 0 has no rectangle");
    }

    #[test]
    fn true_pattern_of_a_painted_box_is_its_iou_argmax() {
        let set = PatternSet::new(112, 112, 5).unwrap();
        let mut mask = BinaryMask::new(112, 112);
        assert_eq!(true_pattern(&set, &mask), Some(0));
        // The whole lower half of the face.
        mask.fill(Rect::new(67, 112, 0, 112));
        let label = true_pattern(&set, &mask).unwrap();
        let rect = set.rect_at(label, 112, 112).unwrap().unwrap();
        assert_eq!((rect.y1, rect.x0, rect.x1), (112, 0, 112));
    }

    #[test]
    fn similarities_compare_like_with_like() {
        let probe = Embedding { masked: vec![1.0, 0.0], unmasked: vec![0.0, 1.0], baseline: Some(vec![0.6, 0.8]) };
        let reference = Embedding { masked: vec![1.0, 0.0], unmasked: vec![1.0, 0.0], baseline: Some(vec![1.0, 0.0]) };
        let s = similarities(&probe, &[(FaceId(3), &reference)]);
        assert_eq!(s[0].reference, FaceId(3));
        assert!((s[0].from - 1.0).abs() < 1e-6);
        assert!(s[0].mask_off.abs() < 1e-6);
        assert!((s[0].baseline.unwrap() - 0.6).abs() < 1e-6);
        // A face without a baseline embedding has no baseline similarity.
        let no_baseline = Embedding { baseline: None, ..reference.clone() };
        assert_eq!(similarities(&probe, &[(FaceId(4), &no_baseline)])[0].baseline, None);
        assert!(same_person(0.4, DEFAULT_THRESHOLD) && !same_person(0.39, DEFAULT_THRESHOLD));
    }
}
