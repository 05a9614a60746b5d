//! Writing what the workbench shows to PNG files.

use std::path::Path;

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

use super::heatmap::{HeatmapStyle, Plane, blend_over};
use super::sensitivity::SensitivityMap;

/// Exported images are enlarged this much: a 112 px face is too small to look at.
pub const EXPORT_SCALE: u32 = 4;

pub fn save_png(image: &RgbImage, path: &Path) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)?;
    crate::eval::plots::write_atomic(path, &bytes)?;
    Ok(())
}

/// The face, enlarged, with the heatmap over it as the screen shows it.
pub fn overlay(face: &RgbImage, plane: &Plane, range: (f32, f32), style: &HeatmapStyle) -> RgbImage {
    let (w, h) = (face.width() * EXPORT_SCALE, face.height() * EXPORT_SCALE);
    let big = imageops::resize(face, w, h, FilterType::Nearest);
    let heat = plane.colourise(w, h, style.colormap, range, style.opacity);
    blend_over(&big, &heat)
}

/// The face and both sensitivity maps side by side (face | baseline | FROM).
pub fn sensitivity_strip(map: &SensitivityMap) -> RgbImage {
    let face = &map.face;
    let (w, h) = (face.width() * EXPORT_SCALE, face.height() * EXPORT_SCALE);
    let gap = 8;
    let mut out = RgbImage::from_pixel(3 * w + 2 * gap, h, Rgb([255, 255, 255]));
    let big = imageops::resize(face, w, h, FilterType::Nearest);
    imageops::replace(&mut out, &big, 0, 0);
    imageops::replace(&mut out, &map.image(false, w, h, true), i64::from(w + gap), 0);
    imageops::replace(&mut out, &map.image(true, w, h, true), i64::from(2 * (w + gap)), 0);
    out
}
