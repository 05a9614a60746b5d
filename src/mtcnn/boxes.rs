//! Box arithmetic of facenet-pytorch's MTCNN (`detect_face.py`): P-Net cell boxes, the two NMS
//! variants, regression, squaring, crop windows, landmarks and `detect()`'s ordering.
//!
//! Everything is f32 with the reference's operation order, because the reference computes in
//! float32 tensors and a floor or threshold can flip on the last bit. No tensors here.

use std::cmp::Ordering;

use super::resize::Region;

/// P-Net's stride on its input: one stride-2 pooling.
const PNET_STRIDE: f32 = 2.0;
/// P-Net's window on its input.
const PNET_CELL: f32 = 12.0;

/// A box `[x1, y1, x2, y2]` in image pixels with its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    pub score: f32,
}

impl FaceBox {
    pub const fn new(x1: f32, y1: f32, x2: f32, y2: f32, score: f32) -> Self {
        Self { x1, y1, x2, y2, score }
    }

    pub fn coords(&self) -> [f32; 4] {
        [self.x1, self.y1, self.x2, self.y2]
    }

    /// `(x2 - x1) * (y2 - y1)`, without +1 (torchvision's and `detect()`'s area).
    pub fn area(&self) -> f32 {
        (self.x2 - self.x1) * (self.y2 - self.y1)
    }

    pub fn with_score(self, score: f32) -> Self {
        Self { score, ..self }
    }
}

/// Intersection over union without +1, as torchvision's `nms` computes it.
pub fn iou(a: &FaceBox, b: &FaceBox) -> f32 {
    let w = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let h = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let inter = w * h;
    inter / (a.area() + b.area() - inter)
}

/// Indices sorted by descending score; ties keep index order (torch's stable sort).
fn by_descending_score(boxes: &[FaceBox]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| boxes[b].score.total_cmp(&boxes[a].score));
    order
}

/// torchvision `nms` (stages 1 and 2): visit boxes by descending score, keep one, drop every
/// later box whose IoU with it is `> threshold`. Returns the kept indices in visiting order.
///
/// The threshold is f64 because torchvision compares the f32 IoU with a C++ double.
pub fn nms_iou(boxes: &[FaceBox], threshold: f64) -> Vec<usize> {
    let order = by_descending_score(boxes);
    let mut suppressed = vec![false; boxes.len()];
    let mut keep = Vec::new();
    for (pos, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        for &j in &order[pos + 1..] {
            if !suppressed[j] && f64::from(iou(&boxes[i], &boxes[j])) > threshold {
                suppressed[j] = true;
            }
        }
    }
    keep
}

/// facenet-pytorch's NumPy NMS with method "Min" (stage 3): areas and intersections with +1,
/// overlap = intersection / smaller area; a box survives while its overlap is `<= threshold`.
///
/// NumPy sorts ascending and pops the last index, so among exactly equal scores the higher
/// index goes first; a stable ascending sort walked from the end reproduces that. The
/// threshold is f32 because NumPy 2 compares a float32 array with a Python float in float32.
pub fn nms_min(boxes: &[FaceBox], threshold: f32) -> Vec<usize> {
    let area = |b: &FaceBox| (b.x2 - b.x1 + 1.0) * (b.y2 - b.y1 + 1.0);
    let mut remaining: Vec<usize> = (0..boxes.len()).collect();
    remaining.sort_by(|&a, &b| boxes[a].score.total_cmp(&boxes[b].score));
    let mut keep = Vec::new();
    while let Some(i) = remaining.pop() {
        keep.push(i);
        let a = &boxes[i];
        remaining.retain(|&j| {
            let b = &boxes[j];
            let w = (a.x2.min(b.x2) - a.x1.max(b.x1) + 1.0).max(0.0);
            let h = (a.y2.min(b.y2) - a.y1.max(b.y1) + 1.0).max(0.0);
            let overlap = w * h / area(a).min(area(b));
            overlap <= threshold
        });
    }
    keep
}

/// `rerec`: the square of side `max(w, h)` (no +1) on the box's centre. Score unchanged.
pub fn rerec(b: &FaceBox) -> FaceBox {
    let h = b.y2 - b.y1;
    let w = b.x2 - b.x1;
    let l = w.max(h);
    let x1 = b.x1 + w * 0.5 - l * 0.5;
    let y1 = b.y1 + h * 0.5 - l * 0.5;
    FaceBox { x1, y1, x2: x1 + l, y2: y1 + l, score: b.score }
}

/// Box regression: each corner moves by its offset times the box width or height. Stage 1
/// uses the plain size (`plus_one = false`), stages 2 and 3 (`bbreg`) the size +1.
pub fn bbreg(b: &FaceBox, reg: &[f32; 4], plus_one: bool) -> FaceBox {
    let extra = if plus_one { 1.0 } else { 0.0 };
    let w = b.x2 - b.x1 + extra;
    let h = b.y2 - b.y1 + extra;
    FaceBox {
        x1: b.x1 + reg[0] * w,
        y1: b.y1 + reg[1] * h,
        x2: b.x2 + reg[2] * w,
        y2: b.y2 + reg[3] * h,
        score: b.score,
    }
}

/// A P-Net cell that passed the threshold: its box in image pixels and its regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellBox {
    pub bbox: FaceBox,
    pub reg: [f32; 4],
}

/// `generateBoundingBox`: every cell with face probability `>= threshold`, in row-major order,
/// mapped back to the image: `floor((2*x + 1) / scale)` to `floor((2*x + 12) / scale)` (the +1
/// is a leftover of 1-based coordinates, kept for parity), in f32 with the scale rounded to f32.
///
/// `face_prob` is the `[h, w]` face channel and `reg` the `[4, h, w]` regression of one image.
/// Slices shorter than the map give no boxes for the missing cells rather than a panic.
pub fn pnet_cell_boxes(
    face_prob: &[f32],
    reg: &[f32],
    map_height: usize,
    map_width: usize,
    scale: f64,
    threshold: f32,
) -> Vec<CellBox> {
    let cells = map_height * map_width;
    debug_assert!(face_prob.len() >= cells && reg.len() >= 4 * cells, "P-Net map smaller than its shape");
    let scale = scale as f32;
    let mut out = Vec::new();
    // `>=` as in the reference; a NaN probability never passes.
    let passing = face_prob.iter().take(cells).enumerate().filter(|&(_, &p)| p >= threshold);
    for (index, &p) in passing {
        let Some(offsets) = reg_at(reg, cells, index) else { continue };
        let x = (index % map_width) as f32;
        let y = (index / map_width) as f32;
        let bbox = FaceBox {
            x1: ((PNET_STRIDE * x + 1.0) / scale).floor(),
            y1: ((PNET_STRIDE * y + 1.0) / scale).floor(),
            x2: ((PNET_STRIDE * x + PNET_CELL) / scale).floor(),
            y2: ((PNET_STRIDE * y + PNET_CELL) / scale).floor(),
            score: p,
        };
        out.push(CellBox { bbox, reg: offsets });
    }
    out
}

fn reg_at(reg: &[f32], cells: usize, index: usize) -> Option<[f32; 4]> {
    Some([*reg.get(index)?, *reg.get(cells + index)?, *reg.get(2 * cells + index)?, *reg.get(3 * cells + index)?])
}

/// facenet-pytorch's `pad` + slicing: the pixels R-Net/O-Net see for a box. The corners are
/// truncated toward zero, clamped to 1-based `[1, w]`/`[1, h]`, and the crop is the inclusive
/// 1-based range, i.e. `img[y-1:ey, x-1:ex]`. The box itself is not changed.
///
/// `None` for an empty crop (a box wholly outside the image). facenet-pytorch skips the crop
/// but keeps the box, which misaligns its later indexing; dropping the box is the consistent
/// choice and never happens on the reference images.
pub fn crop_region(b: &FaceBox, image_width: usize, image_height: usize) -> Option<Region> {
    // `as` truncates toward zero and saturates, like `trunc().int()` for sane values.
    let x = (b.x1.trunc() as i64).max(1);
    let y = (b.y1.trunc() as i64).max(1);
    let ex = (b.x2.trunc() as i64).min(image_width as i64);
    let ey = (b.y2.trunc() as i64).min(image_height as i64);
    if ex < x || ey < y {
        return None;
    }
    Some(Region {
        x: (x - 1) as usize,
        y: (y - 1) as usize,
        width: (ex - x + 1) as usize,
        height: (ey - y + 1) as usize,
    })
}

/// The five O-Net points in image pixels. `lm` is `[x0..x4, y0..y4]` as fractions of the box
/// that was cropped (before O-Net's regression): `px = (x2-x1+1)*lm[k] + x1 - 1`.
pub fn landmarks(b: &FaceBox, lm: &[f32; 10]) -> [[f32; 2]; 5] {
    let w = b.x2 - b.x1 + 1.0;
    let h = b.y2 - b.y1 + 1.0;
    std::array::from_fn(|k| [w * lm[k] + b.x1 - 1.0, h * lm[5 + k] + b.y1 - 1.0])
}

/// `detect()`'s order with `select_largest=True`: `np.argsort(area)[::-1]`, i.e. largest area
/// (no +1) first, and exactly equal areas in reverse index order.
pub fn largest_first(boxes: &[FaceBox]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| boxes[a].area().partial_cmp(&boxes[b].area()).unwrap_or(Ordering::Equal));
    order.reverse();
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_boxes_follow_stride_and_scale() {
        // A 2x2 map at scale 0.5: cell (x=1, y=0) maps to floor(3/0.5)=6 .. floor(14/0.5)=28.
        let prob = [0.1, 0.6, 0.59, 0.9];
        let reg: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let cells = pnet_cell_boxes(&prob, &reg, 2, 2, 0.5, 0.6);
        assert_eq!(cells.len(), 2, "0.6 passes (>=), 0.59 does not");
        assert_eq!(cells[0].bbox, FaceBox::new(6.0, 2.0, 28.0, 24.0, 0.6));
        assert_eq!(cells[0].reg, [1.0, 5.0, 9.0, 13.0]);
        assert_eq!(cells[1].bbox, FaceBox::new(6.0, 6.0, 28.0, 28.0, 0.9));
    }

    #[test]
    fn crop_region_clamps_and_drops_empty_boxes() {
        let b = FaceBox::new(-5.7, 3.9, 300.2, 40.5, 1.0);
        assert_eq!(crop_region(&b, 250, 250), Some(Region { x: 0, y: 2, width: 250, height: 38 }));
        assert_eq!(crop_region(&FaceBox::new(260.0, 10.0, 280.0, 30.0, 1.0), 250, 250), None);
        assert_eq!(crop_region(&FaceBox::new(-30.0, 10.0, -0.5, 30.0, 1.0), 250, 250), None);
    }
}
