//! Proximate occlusion patterns (FROM, Qiu et al. 2021, Sec. 3.3).
//!
//! A K x K grid is laid over the aligned face; every axis-aligned rectangle of grid cells is one
//! pattern, and pattern 0 means "no occlusion". The enumeration order is the official one: a
//! checkpoint's pattern-head rows are indexed by it, so it must never change.
//!
//! Pure Rust on purpose: no tensors, so the GUI, the occlusion synthesis and the tests can use it
//! without a backend.

use std::fmt;

/// Smallest and largest grid sizes the enumeration accepts.
pub const MIN_GRID: usize = 2;
pub const MAX_GRID: usize = 8;

/// The grid the official FROM models use (226 patterns).
pub const DEFAULT_GRID: usize = 5;

/// Number of patterns for a K x K grid: every rectangle of cells plus "no occlusion".
pub const fn pattern_count(grid: usize) -> usize {
    let spans = grid * (grid + 1) / 2;
    spans * spans + 1
}

/// Inverse of [`pattern_count`]: the grid whose pattern count is `count`, if any.
pub fn grid_for_pattern_count(count: usize) -> Option<usize> {
    (MIN_GRID..=MAX_GRID).find(|&k| pattern_count(k) == count)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("grid size {0} is outside {MIN_GRID}..={MAX_GRID}")]
    GridOutOfRange(usize),
    #[error("image size {height}x{width} is smaller than the {grid}x{grid} grid")]
    ImageTooSmall { height: usize, width: usize, grid: usize },
    #[error("pattern index {index} is out of range (this set has {count} patterns)")]
    IndexOutOfRange { index: usize, count: usize },
    #[error("mask has {actual} values but {height}x{width} needs {expected}")]
    MaskSize { height: usize, width: usize, expected: usize, actual: usize },
}

/// A half-open rectangle `rows y0..y1, cols x0..x1`, in pixels or in grid cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Rect {
    pub y0: usize,
    pub y1: usize,
    pub x0: usize,
    pub x1: usize,
}

impl Rect {
    pub const fn new(y0: usize, y1: usize, x0: usize, x1: usize) -> Self {
        Self { y0, y1, x0, x1 }
    }

    pub fn area(&self) -> usize {
        self.y1.saturating_sub(self.y0) * self.x1.saturating_sub(self.x0)
    }

    pub fn is_empty(&self) -> bool {
        self.area() == 0
    }

    pub fn intersection(&self, other: &Rect) -> Rect {
        let y0 = self.y0.max(other.y0);
        let x0 = self.x0.max(other.x0);
        Rect::new(y0, self.y1.min(other.y1).max(y0), x0, self.x1.min(other.x1).max(x0))
    }

    pub fn iou(&self, other: &Rect) -> f64 {
        let inter = self.intersection(other).area();
        let union = self.area() + other.area() - inter;
        if union == 0 { 0.0 } else { inter as f64 / union as f64 }
    }
}

impl fmt::Display for Rect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rows {}..{} x cols {}..{}", self.y0, self.y1, self.x0, self.x1)
    }
}

/// One proximate occlusion pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    NoOcclusion,
    /// `cells` counts grid cells; `pixels` is the same rectangle on the image the set was built for.
    Occluded {
        cells: Rect,
        pixels: Rect,
    },
}

/// A binary occlusion mask, row-major, `true` = occluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryMask {
    pub height: usize,
    pub width: usize,
    pub data: Vec<bool>,
}

impl BinaryMask {
    pub fn new(height: usize, width: usize) -> Self {
        Self { height, width, data: vec![false; height * width] }
    }

    pub fn from_vec(height: usize, width: usize, data: Vec<bool>) -> Result<Self, PatternError> {
        if data.len() != height * width {
            return Err(PatternError::MaskSize { height, width, expected: height * width, actual: data.len() });
        }
        Ok(Self { height, width, data })
    }

    /// Marks `rect` (clipped to the mask) as occluded.
    pub fn fill(&mut self, rect: Rect) {
        let clipped = rect.intersection(&Rect::new(0, self.height, 0, self.width));
        for y in clipped.y0..clipped.y1 {
            self.data[y * self.width + clipped.x0..y * self.width + clipped.x1].fill(true);
        }
    }

    pub fn get(&self, y: usize, x: usize) -> bool {
        self.data[y * self.width + x]
    }

    pub fn count(&self) -> usize {
        self.data.iter().filter(|&&v| v).count()
    }
}

/// Summed-area table: occluded-pixel counts of any rectangle in O(1).
struct IntegralImage {
    width: usize,
    sums: Vec<usize>,
}

impl IntegralImage {
    fn new(mask: &BinaryMask) -> Self {
        let w = mask.width + 1;
        let mut sums = vec![0usize; (mask.height + 1) * w];
        for y in 0..mask.height {
            let mut row = 0;
            for x in 0..mask.width {
                row += usize::from(mask.get(y, x));
                sums[(y + 1) * w + x + 1] = sums[y * w + x + 1] + row;
            }
        }
        Self { width: w, sums }
    }

    fn count(&self, r: &Rect) -> usize {
        let w = self.width;
        self.sums[r.y1 * w + r.x1] + self.sums[r.y0 * w + r.x0]
            - self.sums[r.y0 * w + r.x1]
            - self.sums[r.y1 * w + r.x0]
    }
}

/// Grid line `i` of `k` over a side of `len` pixels: floor(i * len / k).
fn grid_line(i: usize, len: usize, k: usize) -> usize {
    i * len / k
}

/// All proximate occlusion patterns of a K x K grid over an H x W image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternSet {
    height: usize,
    width: usize,
    grid: usize,
    /// Cell rectangles of patterns 1.. (pattern 0, no occlusion, has none).
    cells: Vec<Rect>,
}

impl PatternSet {
    /// Enumerates the patterns in the official order: for each start vertex (y0, x0) in row-major
    /// order, each end vertex (y1, x1) in row-major order with y1 > y0 and x1 > x0.
    pub fn new(height: usize, width: usize, grid: usize) -> Result<Self, PatternError> {
        if !(MIN_GRID..=MAX_GRID).contains(&grid) {
            return Err(PatternError::GridOutOfRange(grid));
        }
        if height < grid || width < grid {
            return Err(PatternError::ImageTooSmall { height, width, grid });
        }
        let mut cells = Vec::with_capacity(pattern_count(grid) - 1);
        for y0 in 0..=grid {
            for x0 in 0..=grid {
                for y1 in 0..=grid {
                    for x1 in 0..=grid {
                        if y1 > y0 && x1 > x0 {
                            cells.push(Rect::new(y0, y1, x0, x1));
                        }
                    }
                }
            }
        }
        debug_assert_eq!(cells.len() + 1, pattern_count(grid));
        Ok(Self { height, width, grid, cells })
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn grid(&self) -> usize {
        self.grid
    }

    /// Number of patterns, "no occlusion" included.
    pub fn len(&self) -> usize {
        self.cells.len() + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn get(&self, index: usize) -> Result<Pattern, PatternError> {
        match index {
            0 => Ok(Pattern::NoOcclusion),
            i if i < self.len() => {
                let cells = self.cells[i - 1];
                Ok(Pattern::Occluded { cells, pixels: self.cells_to_pixels(cells, self.height, self.width) })
            }
            _ => Err(PatternError::IndexOutOfRange { index, count: self.len() }),
        }
    }

    /// The pixel rectangle of pattern `index` on an image of `height` x `width` (`None` for 0).
    pub fn rect_at(&self, index: usize, height: usize, width: usize) -> Result<Option<Rect>, PatternError> {
        Ok(match self.get(index)? {
            Pattern::NoOcclusion => None,
            Pattern::Occluded { cells, .. } => Some(self.cells_to_pixels(cells, height, width)),
        })
    }

    fn cells_to_pixels(&self, cells: Rect, height: usize, width: usize) -> Rect {
        let k = self.grid;
        Rect::new(
            grid_line(cells.y0, height, k),
            grid_line(cells.y1, height, k),
            grid_line(cells.x0, width, k),
            grid_line(cells.x1, width, k),
        )
    }

    /// Renders pattern `index` as a mask of any resolution (the image, or a 7x6 / 7x7 feature map),
    /// with the grid lines recomputed for that resolution.
    pub fn render(&self, index: usize, height: usize, width: usize) -> Result<BinaryMask, PatternError> {
        let mut mask = BinaryMask::new(height, width);
        if let Some(rect) = self.rect_at(index, height, width)? {
            mask.fill(rect);
        }
        Ok(mask)
    }

    /// The pattern label of an occlusion: the pattern whose rectangle has the highest IoU with the
    /// occluded pixels (first one on ties); an empty occlusion is pattern 0. The mask must be
    /// `height` x `width` of this set.
    pub fn label_for_mask(&self, mask: &BinaryMask) -> Result<usize, PatternError> {
        if mask.height != self.height || mask.width != self.width {
            return Err(PatternError::MaskSize {
                height: self.height,
                width: self.width,
                expected: self.height * self.width,
                actual: mask.data.len(),
            });
        }
        let occluded = mask.count();
        if occluded == 0 {
            return Ok(0);
        }
        let integral = IntegralImage::new(mask);
        Ok(self.argmax_iou(|rect| {
            let inter = integral.count(rect);
            inter as f64 / (occluded + rect.area() - inter) as f64
        }))
    }

    /// The pattern label of a rectangular occlusion (clipped to the image).
    pub fn label_for_box(&self, occlusion: Rect) -> usize {
        let clipped = occlusion.intersection(&Rect::new(0, self.height, 0, self.width));
        if clipped.is_empty() {
            return 0;
        }
        self.argmax_iou(|rect| rect.iou(&clipped))
    }

    fn argmax_iou(&self, iou: impl Fn(&Rect) -> f64) -> usize {
        let mut best = (0, f64::NEG_INFINITY);
        for (i, cells) in self.cells.iter().enumerate() {
            let score = iou(&self.cells_to_pixels(*cells, self.height, self.width));
            if score > best.1 {
                best = (i + 1, score);
            }
        }
        best.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatternGuess {
    pub index: usize,
    pub probability: f32,
    /// The pattern's pixels on the aligned face; `None` for pattern 0 (no occlusion).
    pub rect: Option<Rect>,
}

/// The `k` most probable patterns under a predictor's softmax `probabilities`, most probable first (ties by index).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_counts_match_brute_force() {
        let mut mask = BinaryMask::new(9, 7);
        mask.fill(Rect::new(2, 6, 1, 4));
        mask.fill(Rect::new(5, 9, 3, 7));
        let integral = IntegralImage::new(&mask);
        let probe = Rect::new(1, 8, 2, 6);
        let brute = (probe.y0..probe.y1)
            .flat_map(|y| (probe.x0..probe.x1).map(move |x| (y, x)))
            .filter(|&(y, x)| mask.get(y, x))
            .count();
        assert_eq!(integral.count(&probe), brute);
    }

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
}
