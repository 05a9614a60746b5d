//! A starting point for the pattern predictor that makes the pattern loss shape the mask's
//! amplitude, not only its pattern of tiny differences (`TrainConfig::pattern_template`).
//!
//! The authors' predictor (BN1d -> Dropout -> Linear -> BN1d) normalises every mask value, and
//! then every logit, over the batch: scaling the mask's deviations by any factor leaves the
//! loss unchanged. With the mask decoder's few hundred steps here, that let it reach 81% pattern
//! accuracy with masks that differed by hundredths (`1 - mask` 0.047 on occluded and clean cells
//! alike, docs/training recipes 1-3). So with a template:
//!
//! - both BNs keep their starting statistics (mean 0, variance 1: the identity, plus the learned
//!   gamma and beta), as in inference, and read the mask as it is;
//! - the linear layer starts as a matched filter of each pattern's cells: pattern p scores
//!   `scale * sum over mask cells of a_p(cell) * (1 - 2 * m(cell))`, with `a_p` the share of the
//!   cell inside p's rectangle and `m` the channel-mean mask. On a mask that is 0 exactly over
//!   a rectangle R and 1 elsewhere, R scores highest (`scale * |R|`), "none" scores 0.
//!
//! Nothing here looks at an occlusion: the pattern label stays the only supervision, as in FROM;
//! the template fixes which way round the mask reads (low = occluded) and the learned weights
//! move from there.

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};

use crate::eval::mask_contrast::cell_coverage;
use crate::model::heads::FlatHead;
use crate::patterns::{PatternError, PatternSet};

/// The matched filter of `set`'s patterns on a `channels` x `rows` x `cols` mask.
///
/// Returns the linear weights in burn's `[in, out]` layout (input index `c * rows * cols + cell`,
/// PyTorch's NCHW flattening) and the per-pattern offset `scale * sum_cell a_p(cell)`.
pub fn matched_filter(
    set: &PatternSet,
    channels: usize,
    rows: usize,
    cols: usize,
    scale: f32,
) -> Result<(Vec<f32>, Vec<f32>), PatternError> {
    let (inputs, patterns) = (channels * rows * cols, set.len());
    let mut weights = vec![0f32; inputs * patterns];
    let mut offsets = vec![0f32; patterns];
    for p in 0..patterns {
        let coverage = cell_coverage(&set.render(p, set.height(), set.width())?, rows, cols);
        offsets[p] = scale * coverage.iter().sum::<f64>() as f32;
        for c in 0..channels {
            for (cell, &share) in coverage.iter().enumerate() {
                // The channel mean spreads each cell's weight over its channels.
                weights[(c * rows * cols + cell) * patterns + p] = -2.0 * scale * share as f32 / channels as f32;
            }
        }
    }
    Ok((weights, offsets))
}

/// Sets `head` (the pattern predictor, reading a `channels` x `rows` x `cols` mask) to the
/// matched filter of `set` and makes its BNs use their stored statistics while training.
pub fn apply(
    head: &mut FlatHead,
    set: &PatternSet,
    [channels, rows, cols]: [usize; 3],
    scale: f32,
    device: &Device,
) -> Result<(), PatternError> {
    let (weights, offsets) = matched_filter(set, channels, rows, cols, scale)?;
    let shape = [channels * rows * cols, set.len()];
    head.linear.weight = Param::from_tensor(Tensor::from_data(TensorData::new(weights, shape), device));
    head.bn_out.beta = Param::from_tensor(Tensor::from_data(TensorData::new(offsets, [set.len()]), device));
    keep_statistics(head);
    Ok(())
}

/// Makes both BNs of `head` normalise with their stored statistics while training (their gamma
/// and beta still learn). Called again after a resumed run loads its weights.
pub fn keep_statistics(head: &mut FlatHead) {
    head.bn_in.training = Param::from_bool(false);
    head.bn_out.training = Param::from_bool(false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::Rect;

    fn scores(weights: &[f32], offsets: &[f32], mask: &[f32]) -> Vec<f32> {
        let patterns = offsets.len();
        (0..patterns)
            .map(|p| offsets[p] + mask.iter().enumerate().map(|(i, &m)| weights[i * patterns + p] * m).sum::<f32>())
            .collect()
    }

    #[test]
    fn a_mask_closed_over_a_pattern_scores_that_pattern_highest() {
        // A 10x10 face, K = 5 (2-pixel grid cells) and a 5x5 mask of the same cells, 2 channels:
        // one mask cell per grid cell, so coverage is 0 or 1.
        let set = PatternSet::new(10, 10, 5).unwrap();
        let (weights, offsets) = matched_filter(&set, 2, 5, 5, 1.0).unwrap();
        assert_eq!(offsets[0], 0.0, "no cells for \"none\"");
        let open = vec![1.0; 50];
        let none = scores(&weights, &offsets, &open);
        let best = none.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(best, 0, "an open mask reads as no occlusion");
        // Close rows 1..3 (pixels 2..6), columns 0..2 (pixels 0..4) in both channels.
        let target = set.label_for_box(Rect::new(2, 6, 0, 4));
        let closed_cells = [5, 6, 10, 11];
        let mask: Vec<f32> = (0..50).map(|i| if closed_cells.contains(&(i % 25)) { 0.0 } else { 1.0 }).collect();
        let s = scores(&weights, &offsets, &mask);
        let best = s.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(best, target);
        // By hand: |R| = 4 cells at scale 1; a pattern of one of those cells scores 1.
        assert!((s[target] - 4.0).abs() < 1e-5, "{}", s[target]);
        let one_cell = set.label_for_box(Rect::new(2, 4, 0, 2));
        assert!((s[one_cell] - 1.0).abs() < 1e-5, "{}", s[one_cell]);
    }
}
