//! From embeddings to pair scores, and which embeddings are compared.

use crate::eval::results::{Embedding, PathInfo};
use crate::face::embedder::cosine;
use crate::face::embedding_cache::EmbeddingPair;

/// The score of a pair with a photo where no face was found: the lowest cosine, so the pair is
/// judged "different people" at every threshold (an error when it is a genuine pair), and the
/// folds of consecutive pairs keep their size.
pub const MISSING_FACE_SCORE: f32 = -1.0;

/// The compared paths of `models` (`(label, has_mask)` each): one FROM model is compared with
/// its own unmasked embedding ("baseline" and "FROM"); several models are each named by their
/// label, their masked path first and the unmasked one as "<label> baseline". A plain model has
/// one path.
pub fn compared_paths(models: &[(String, bool)]) -> Vec<PathInfo> {
    if let [(_, true)] = models {
        return vec![
            PathInfo { label: "baseline".into(), model: 0, embedding: Embedding::Unmasked },
            PathInfo { label: "FROM".into(), model: 0, embedding: Embedding::Masked },
        ];
    }
    let mut paths = Vec::new();
    for (model, (label, has_mask)) in models.iter().enumerate() {
        if *has_mask {
            paths.push(PathInfo { label: label.clone(), model, embedding: Embedding::Masked });
            paths.push(PathInfo { label: format!("{label} baseline"), model, embedding: Embedding::Unmasked });
        } else {
            paths.push(PathInfo { label: label.clone(), model, embedding: Embedding::Unmasked });
        }
    }
    paths
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
