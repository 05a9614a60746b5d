//! From embeddings to pair scores, and which embeddings are compared.

use crate::eval::results::{Embedding, PathInfo};
use crate::face::embedder::cosine;
use crate::face::embedding_cache::EmbeddingPair;

/// The score of a pair with a photo where no face was found: the lowest cosine, so the pair is
/// judged "different people" at every threshold (an error when it is a genuine pair), and the
/// folds of consecutive pairs keep their size.
pub const MISSING_FACE_SCORE: f32 = -1.0;

/// The compared paths of `models` (`(label, has_mask)` each), in model order: a plain model has
/// one path, named by its label; a FROM model has its masked path, named by its label, and its
/// own unmasked path as "<label>, mask off" (what the mask itself adds is the difference). The
/// baseline FROM is judged against is a separate, clean-trained network, never a FROM model's own
/// unmasked path: `maskscope eval` puts the pretrained MobileFaceNet first, labelled "baseline".
pub fn compared_paths(models: &[(String, bool)]) -> Vec<PathInfo> {
    let mut paths = Vec::new();
    for (model, (label, has_mask)) in models.iter().enumerate() {
        if *has_mask {
            paths.push(PathInfo { label: label.clone(), model, embedding: Embedding::Masked });
            paths.push(PathInfo { label: mask_off_label(label), model, embedding: Embedding::Unmasked });
        } else {
            paths.push(PathInfo { label: label.clone(), model, embedding: Embedding::Unmasked });
        }
    }
    paths
}

/// The label of a FROM model's unmasked path.
pub fn mask_off_label(label: &str) -> String {
    format!("{label}, mask off")
}

/// Cosine of each pair's first face (clean) and second face (as the condition left it), from
/// embeddings indexed by photo.
pub(super) fn pair_scores(
    pairs: &[(usize, usize)],
    first: &[Option<EmbeddingPair>],
    second: &[Option<EmbeddingPair>],
    embedding: Embedding,
) -> Vec<f32> {
    pairs
        .iter()
        .map(|&(a, b)| match (&first[a], &second[b]) {
            (Some(x), Some(y)) => cosine(side(x, embedding), side(y, embedding)),
            _ => MISSING_FACE_SCORE,
        })
        .collect()
}

fn side(pair: &EmbeddingPair, embedding: Embedding) -> &[f32] {
    match embedding {
        Embedding::Masked => &pair.0,
        Embedding::Unmasked => &pair.1,
    }
}
