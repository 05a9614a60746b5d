//! Evaluation protocols and metrics. Parsing, metrics, conditions and reports are pure Rust, no
//! tensors; `sweep` runs the face models over a pairs file under every occlusion condition.

pub mod conditions;
pub mod folds;
pub mod identification;
pub mod identify_results;
pub mod mask_contrast;
pub mod output_set;
pub mod pairs;
pub mod pairs_builder;
pub mod partial;
pub mod plots;
pub mod report;
pub mod results;
pub mod roc;
pub mod sweep;
pub mod verification;

/// Why a list of verification scores cannot be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoresError {
    #[error("{scores} scores but {labels} same/different labels")]
    LengthMismatch { scores: usize, labels: usize },
    #[error("score {index} is {value}, not a finite number")]
    NotFinite { index: usize, value: f32 },
    #[error("{genuine} genuine and {impostor} impostor pairs: the metric needs both kinds")]
    OneClass { genuine: usize, impostor: usize },
    #[error("{pairs} pairs cannot be split into {folds} folds (need at least 2 folds and a pair per fold)")]
    Folds { pairs: usize, folds: usize },
}

/// Checks lengths and finiteness (a NaN would silently count as "different" under every
/// threshold); returns the numbers of genuine and impostor pairs.
pub(crate) fn check_scores(scores: &[f32], same: &[bool]) -> Result<(usize, usize), ScoresError> {
    if scores.len() != same.len() {
        return Err(ScoresError::LengthMismatch { scores: scores.len(), labels: same.len() });
    }
    if let Some(index) = scores.iter().position(|s| !s.is_finite()) {
        return Err(ScoresError::NotFinite { index, value: scores[index] });
    }
    let genuine = same.iter().filter(|&&y| y).count();
    Ok((genuine, same.len() - genuine))
}
