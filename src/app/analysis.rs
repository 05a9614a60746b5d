//! Turning a model's raw outputs into what the panels show: the most likely occlusion patterns,
//! the pattern the painted occlusion really is, and similarities to the references with verdicts.
//! Pure functions, tested without a model.

use crate::face::embedder::cosine;
use crate::patterns::{BinaryMask, PatternGuess, PatternSet, top_patterns};

use super::engine::Embedding;
use super::ids::FaceId;

/// Patterns listed in the panel.
pub const TOP_PATTERNS: usize = 5;

/// The pattern the painted occlusion matches best (IoU argmax; 0 when nothing is painted).
pub fn true_pattern(patterns: &PatternSet, painted: &BinaryMask) -> Option<usize> {
    if painted.count() == 0 {
        return Some(0);
    }
    patterns.label_for_mask(painted).ok()
}

/// What the pattern panel and the canvas show of one inference: the [`TOP_PATTERNS`] most
/// probable patterns and the painted mask's own pattern (nothing without a pattern predictor).
pub fn pattern_summary(
    patterns: Option<&PatternSet>,
    probabilities: &[f32],
    painted: &BinaryMask,
) -> (Vec<PatternGuess>, Option<usize>) {
    let Some(patterns) = patterns else { return (Vec::new(), None) };
    (top_patterns(probabilities, patterns, TOP_PATTERNS), true_pattern(patterns, painted))
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

/// A gallery identity in a ranking: the best similarity over its references.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedIdentity {
    pub identity: String,
    pub score: f32,
}

/// The gallery's identities, most similar first (ties by name), for one compared path: `score`
/// picks it from a [`Similarity`] (`None`: that reference has no score on this path).
pub fn rank_identities(
    sims: &[Similarity],
    identity: impl Fn(FaceId) -> Option<String>,
    score: impl Fn(&Similarity) -> Option<f32>,
) -> Vec<RankedIdentity> {
    let mut best: std::collections::BTreeMap<String, f32> = std::collections::BTreeMap::new();
    for s in sims {
        if let (Some(who), Some(v)) = (identity(s.reference), score(s)) {
            let slot = best.entry(who).or_insert(f32::NEG_INFINITY);
            *slot = slot.max(v);
        }
    }
    let mut ranked: Vec<RankedIdentity> =
        best.into_iter().map(|(identity, score)| RankedIdentity { identity, score }).collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.identity.cmp(&b.identity)));
    ranked
}

/// The 1-based rank of `identity` in `ranked` by the rule `maskscope identify` uses (a tie counts
/// against it); `None` when it is not in the gallery.
pub fn rank_in(ranked: &[RankedIdentity], identity: &str) -> Option<usize> {
    let own = ranked.iter().find(|r| r.identity == identity)?.score;
    let scores: Vec<f64> = ranked.iter().map(|r| f64::from(r.score)).collect();
    Some(crate::eval::identification::rank_of(&scores, f64::from(own)))
}

/// "same" at or above the threshold.
pub fn same_person(similarity: f32, threshold: f32) -> bool {
    similarity >= threshold
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::embedder::DEFAULT_THRESHOLD;
    use crate::patterns::Rect;

    #[test]
    fn identities_rank_by_their_best_reference_and_ties_count_against() {
        let sim = |reference: u64, from: f32, baseline: Option<f32>| Similarity {
            reference: FaceId(reference),
            from,
            mask_off: 0.0,
            baseline,
        };
        // References 1 and 2 show Ann, 3 Bob, 4 Cy (who has no baseline score).
        let sims = [sim(1, 0.2, Some(0.5)), sim(2, 0.7, Some(0.1)), sim(3, 0.7, Some(0.6)), sim(4, 0.1, None)];
        let who = |id: FaceId| Some(["", "Ann", "Ann", "Bob", "Cy"][id.0 as usize].to_string());
        let from = rank_identities(&sims, who, |s| Some(s.from));
        let names: Vec<&str> = from.iter().map(|r| r.identity.as_str()).collect();
        assert_eq!(names, ["Ann", "Bob", "Cy"], "Ann's best is 0.7, tied with Bob: by name");
        assert_eq!(rank_in(&from, "Ann"), Some(2), "a tie counts against");
        assert_eq!(rank_in(&from, "Cy"), Some(3));
        assert_eq!(rank_in(&from, "Dee"), None);
        let baseline = rank_identities(&sims, who, |s| s.baseline);
        assert_eq!(baseline.len(), 2, "Cy has no baseline score");
        assert_eq!(rank_in(&baseline, "Bob"), Some(1));
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
