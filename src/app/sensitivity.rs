//! Occlusion sensitivity: a grey square slid over the face, and at each position how much the
//! similarity to a reference drops, for FROM's masked embedding and for the same network with its
//! mask off. Where the mask-off path drops and FROM does not is where the mask does its work.

use std::sync::atomic::{AtomicBool, Ordering};

use image::{Rgb, RgbImage};

use super::engine::Embedding;
use crate::face::embedder::cosine;
use crate::face::from_model::{FaceModel, MODEL_BATCH};
use crate::heatmap::Plane;
use crate::heatmap::colormap::diverging;
use crate::occlusion::{SquareFill, square_occlusion};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SensitivitySpec {
    /// Side of the square, crop pixels.
    pub side: u32,
    /// Distance between neighbouring positions, crop pixels.
    pub stride: u32,
}

/// Square centres: one per `stride` x `stride` cell of a `width` x `height` face, row-major.
pub fn positions(spec: SensitivitySpec, width: u32, height: u32) -> (usize, usize, Vec<(i64, i64)>) {
    let stride = spec.stride.max(1);
    let axis =
        |len: u32| -> Vec<i64> { (0..len.div_ceil(stride)).map(|i| i64::from(i * stride + stride / 2)).collect() };
    let (xs, ys) = (axis(width), axis(height));
    let centres = ys.iter().flat_map(|&y| xs.iter().map(move |&x| (x, y))).collect();
    (xs.len(), ys.len(), centres)
}

#[derive(Debug, Clone)]
pub struct SensitivityMap {
    pub spec: SensitivitySpec,
    pub cols: usize,
    pub rows: usize,
    /// Similarity of the unoccluded (painted) face to the reference.
    pub from_base: f32,
    pub mask_off_base: f32,
    /// Per position, row-major: base similarity minus the similarity with the square there.
    pub from_drop: Vec<f32>,
    pub mask_off_drop: Vec<f32>,
    /// The face the squares were slid over (the maps are drawn on it).
    pub face: RgbImage,
}

impl SensitivityMap {
    /// The largest absolute drop over both maps: one colour scale makes them comparable.
    pub fn scale(&self) -> f32 {
        self.from_drop.iter().chain(&self.mask_off_drop).fold(0f32, |m, v| m.max(v.abs())).max(1e-6)
    }

    /// One map as an image `width` x `height`, smoothly upsampled, blue = similarity rose,
    /// red = it dropped, on the shared scale; over a faded grey copy of the face when `on_face`,
    /// so that the spots can be placed on it.
    pub fn image(&self, from: bool, width: u32, height: u32, on_face: bool) -> RgbImage {
        let values = if from { &self.from_drop } else { &self.mask_off_drop };
        let plane = Plane { width: self.cols, height: self.rows, values: values.clone() };
        let scale = self.scale();
        let face =
            on_face.then(|| image::imageops::resize(&self.face, width, height, image::imageops::FilterType::Triangle));
        RgbImage::from_fn(width, height, |x, y| {
            let v = plane.sample((x as f32 + 0.5) / width as f32, (y as f32 + 0.5) / height as f32);
            let colour = diverging(v / scale);
            match &face {
                Some(f) => {
                    let [r, g, b] = f.get_pixel(x, y).0.map(f32::from);
                    let grey = 0.299 * r + 0.587 * g + 0.114 * b;
                    // The map's colours dominate; the face shows through as texture.
                    Rgb(colour.map(|c| (0.7 * f32::from(c) + 0.3 * grey).round() as u8))
                }
                None => Rgb(colour),
            }
        })
    }
}

/// Runs the sweep of squares over `face` in batches. `progress(done, total)` is called after each
/// batch; returns `None` once `cancel` is set.
pub fn compute(
    model: &FaceModel,
    face: &RgbImage,
    reference: &Embedding,
    spec: SensitivitySpec,
    cancel: &AtomicBool,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<Option<SensitivityMap>> {
    anyhow::ensure!(spec.side > 0 && spec.stride > 0, "the square and the stride must be at least 1 pixel");
    let (cols, rows, centres) = positions(spec, face.width(), face.height());
    let base = model.embed(&[face])?.pop().ok_or_else(|| anyhow::anyhow!("no embedding"))?;
    let from_base = cosine(&base.0, &reference.masked);
    let mask_off_base = cosine(&base.1, &reference.unmasked);
    let mut from_drop = Vec::with_capacity(centres.len());
    let mut mask_off_drop = Vec::with_capacity(centres.len());
    progress(0, centres.len());
    for chunk in centres.chunks(MODEL_BATCH) {
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let occluded: Vec<RgbImage> = chunk
            .iter()
            .map(|&centre| {
                let mut f = face.clone();
                square_occlusion(&mut f, spec.side, centre, SquareFill::Grey);
                f
            })
            .collect();
        let refs: Vec<&RgbImage> = occluded.iter().collect();
        for (masked, unmasked) in model.embed(&refs)? {
            from_drop.push(from_base - cosine(&masked, &reference.masked));
            mask_off_drop.push(mask_off_base - cosine(&unmasked, &reference.unmasked));
        }
        progress(from_drop.len(), centres.len());
    }
    Ok(Some(SensitivityMap {
        spec,
        cols,
        rows,
        from_base,
        mask_off_base,
        from_drop,
        mask_off_drop,
        face: face.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_tile_the_face_row_major() {
        let (cols, rows, centres) = positions(SensitivitySpec { side: 20, stride: 8 }, 112, 112);
        assert_eq!((cols, rows), (14, 14));
        assert_eq!(centres[0], (4, 4));
        assert_eq!(centres[1], (12, 4));
        assert_eq!(centres[14], (4, 12));
        let (cols, rows, _) = positions(SensitivitySpec { side: 20, stride: 10 }, 96, 112);
        assert_eq!((cols, rows), (10, 12));
    }

    #[test]
    fn images_share_one_scale() {
        let map = SensitivityMap {
            spec: SensitivitySpec { side: 8, stride: 8 },
            cols: 1,
            rows: 1,
            from_base: 0.9,
            mask_off_base: 0.9,
            from_drop: vec![0.1],
            mask_off_drop: vec![0.4],
            face: RgbImage::new(8, 8),
        };
        assert_eq!(map.scale(), 0.4);
        let strong = map.image(false, 2, 2, false).get_pixel(0, 0).0;
        let weak = map.image(true, 2, 2, false).get_pixel(0, 0).0;
        assert!(strong[1] < weak[1], "the bigger drop is the deeper red: {strong:?} vs {weak:?}");
    }
}
