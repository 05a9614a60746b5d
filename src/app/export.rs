//! Writing what the workbench shows to PNG files.

use std::path::Path;

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

use super::sensitivity::SensitivityMap;
use crate::heatmap::EXPORT_SCALE;

pub fn save_png(image: &RgbImage, path: &Path) -> anyhow::Result<()> {
    crate::eval::plots::write_atomic(path, &png_bytes(image)?)?;
    Ok(())
}

/// `image` encoded as PNG.
pub fn png_bytes(image: &RgbImage) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)?;
    Ok(bytes)
}

/// Saves an image pasted into the window as `pasted-<hash>.png` in `dir` (the same picture
/// pasted twice is one file) and returns its path. Transparent pixels are laid over white, as a
/// browser shows them.
pub fn save_pasted_image(image: &eframe::egui::ColorImage, dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    use sha2::{Digest, Sha256};
    let [width, height] = image.size.map(|v| v as u32);
    let rgb = RgbImage::from_fn(width, height, |x, y| {
        let [r, g, b, a] = image.pixels[(y * width + x) as usize].to_srgba_unmultiplied();
        let over_white = |c: u8| ((u32::from(c) * u32::from(a) + 255 * (255 - u32::from(a))) / 255) as u8;
        Rgb([over_white(r), over_white(g), over_white(b)])
    });
    let hash: String = Sha256::digest(rgb.as_raw()).iter().take(6).map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("pasted-{hash}.png"));
    save_png(&rgb, &path)?;
    Ok(path)
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
