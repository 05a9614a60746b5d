//! How much FROM's mask removes where a face is occluded against where it is not: the mean of
//! `1 - mask` (channel-averaged) over the mask's cells that the occlusion covers at least half of,
//! and over the cells it does not touch. A mask that does nothing scores about the same on both;
//! one that removes corrupted features scores high on the first and low on the second.
//!
//! Each mask cell stands for a block of the aligned face: the face's rows and columns are split
//! into as many bands as the mask has, at `floor(i * size / cells)` like the pattern grid.
//! Pure arithmetic, no tensors.

use serde::{Deserialize, Serialize};

use crate::patterns::BinaryMask;

/// A cell counts as covered from this share of its pixels on.
pub const COVERED_SHARE: f64 = 0.5;

/// Mask contrast over a set of occluded faces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MaskContrast {
    pub faces: usize,
    /// Cells covered at least [`COVERED_SHARE`], over all faces.
    pub covered_cells: usize,
    /// Cells with no occluded pixel, over all faces.
    pub uncovered_cells: usize,
    /// Mean of `1 - mask` over the covered cells (`NaN`-free: 0 when there are none).
    pub covered_removed: f64,
    /// Mean of `1 - mask` over the uncovered cells.
    pub uncovered_removed: f64,
}

/// The share of each cell of a `rows` x `cols` grid over `mask` that is occluded, row-major.
pub fn cell_coverage(mask: &BinaryMask, rows: usize, cols: usize) -> Vec<f64> {
    let band = |i: usize, cells: usize, size: usize| (i * size / cells)..((i + 1) * size / cells);
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            let (ys, xs) = (band(r, rows, mask.height), band(c, cols, mask.width));
            let total = ys.len() * xs.len();
            let on = ys.clone().map(|y| xs.clone().filter(|&x| mask.get(y, x)).count()).sum::<usize>();
            out.push(if total == 0 { 0.0 } else { on as f64 / total as f64 });
        }
    }
    out
}

/// One face's share of [`ContrastSums`]: its covered and uncovered cells, counted and summed.
/// Kept per face so that the shards of a sweep add up to exactly what one run sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct FaceContrast {
    pub covered: (usize, f64),
    pub uncovered: (usize, f64),
}

impl FaceContrast {
    /// From a face's channel-mean mask and the coverage of the same cells (equal lengths).
    pub fn of(mask_mean: &[f32], coverage: &[f64]) -> Self {
        assert_eq!(mask_mean.len(), coverage.len(), "one coverage per mask cell");
        let mut face = Self::default();
        for (&m, &share) in mask_mean.iter().zip(coverage) {
            let removed = 1.0 - f64::from(m);
            if share >= COVERED_SHARE {
                face.covered.0 += 1;
                face.covered.1 += removed;
            } else if share == 0.0 {
                face.uncovered.0 += 1;
                face.uncovered.1 += removed;
            }
        }
        face
    }
}

/// Sums of [`MaskContrast`], face by face.
#[derive(Debug, Clone, Default)]
pub struct ContrastSums {
    faces: usize,
    covered: (usize, f64),
    uncovered: (usize, f64),
}

impl ContrastSums {
    /// One face: its channel-mean mask and the coverage of the same cells (equal lengths).
    pub fn add(&mut self, mask_mean: &[f32], coverage: &[f64]) {
        self.add_face(&FaceContrast::of(mask_mean, coverage));
    }

    /// One face's subtotals ([`FaceContrast`]).
    pub fn add_face(&mut self, face: &FaceContrast) {
        self.faces += 1;
        self.covered.0 += face.covered.0;
        self.covered.1 += face.covered.1;
        self.uncovered.0 += face.uncovered.0;
        self.uncovered.1 += face.uncovered.1;
    }

    pub fn finish(&self) -> MaskContrast {
        let mean = |(n, sum): (usize, f64)| if n == 0 { 0.0 } else { sum / n as f64 };
        MaskContrast {
            faces: self.faces,
            covered_cells: self.covered.0,
            uncovered_cells: self.uncovered.0,
            covered_removed: mean(self.covered),
            uncovered_removed: mean(self.uncovered),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::Rect;

    #[test]
    fn coverage_and_contrast_by_hand() {
        // A 14x14 face on a 7x7 grid: 2x2 pixel cells. Occlude rows 0..3, columns 0..4: cells
        // (0,0), (0,1) fully, (1,0), (1,1) half.
        let mut mask = BinaryMask::new(14, 14);
        mask.fill(Rect::new(0, 3, 0, 4));
        let coverage = cell_coverage(&mask, 7, 7);
        assert_eq!(&coverage[..3], [1.0, 1.0, 0.0]);
        assert_eq!(&coverage[7..10], [0.5, 0.5, 0.0]);
        assert_eq!(coverage.iter().filter(|&&c| c > 0.0).count(), 4);

        // The mask removes 0.8 on the four touched cells, 0.1 everywhere else.
        let mask_mean: Vec<f32> = coverage.iter().map(|&c| if c > 0.0 { 0.2 } else { 0.9 }).collect();
        let mut sums = ContrastSums::default();
        sums.add(&mask_mean, &coverage);
        let contrast = sums.finish();
        assert_eq!((contrast.faces, contrast.covered_cells, contrast.uncovered_cells), (1, 4, 45));
        assert!((contrast.covered_removed - 0.8).abs() < 1e-6);
        assert!((contrast.uncovered_removed - 0.1).abs() < 1e-6);
        assert_eq!(ContrastSums::default().finish(), MaskContrast::default());
    }

    #[test]
    fn bands_follow_the_floor_rule_on_uneven_sizes() {
        // 112 rows on 7 cells are 16 each; 96 columns on 7 cells split 13,14,14,13,14,14,14.
        let mut mask = BinaryMask::new(112, 96);
        mask.fill(Rect::new(0, 16, 0, 13));
        let coverage = cell_coverage(&mask, 7, 7);
        assert_eq!(coverage[0], 1.0);
        assert_eq!(coverage[1], 0.0);
        assert_eq!(coverage[7], 0.0);
    }
}
