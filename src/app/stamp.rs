//! Scaled and rotated occluder drawings for stamps, cached: a stamp is re-rendered on every frame
//! of a drag, and resampling a 512 px drawing each time would cost more than the rest of the edit.

use std::collections::HashMap;

use image::{Rgba, RgbaImage};

use crate::occlusion::{Occluder, composite};

/// Cached drawings before the cache is emptied (a drag produces a few dozen sizes at most).
const CACHE_LIMIT: usize = 96;

#[derive(Debug, Hash, PartialEq, Eq)]
struct Key {
    class: String,
    name: String,
    width: u32,
    height: u32,
    /// Rotation in tenths of a degree.
    rotation: i32,
}

#[derive(Debug, Default)]
pub struct StampCache {
    drawings: HashMap<Key, RgbaImage>,
}

impl StampCache {
    /// `occluder` with its longer side `size` pixels (aspect kept), rotated `rotation` degrees
    /// counter-clockwise as seen on screen.
    pub fn get(&mut self, occluder: &Occluder, size: f32, rotation: f32) -> &RgbaImage {
        let (width, height) = fit_longer_side(occluder.image.width(), occluder.image.height(), size);
        let rotation = (rotation.rem_euclid(360.0) * 10.0).round() as i32 % 3600;
        self.entry(occluder, width, height, rotation)
    }

    /// `occluder` stretched to `width` x `height`, unrotated.
    pub fn resized(&mut self, occluder: &Occluder, width: u32, height: u32) -> &RgbaImage {
        self.entry(occluder, width.max(1), height.max(1), 0)
    }

    fn entry(&mut self, occluder: &Occluder, width: u32, height: u32, rotation: i32) -> &RgbaImage {
        let key = Key { class: occluder.class.clone(), name: occluder.name.clone(), width, height, rotation };
        if !self.drawings.contains_key(&key) && self.drawings.len() >= CACHE_LIMIT {
            self.drawings.clear();
        }
        self.drawings.entry(key).or_insert_with(|| {
            let scaled = composite::resize(&occluder.image, width, height);
            if rotation == 0 { scaled } else { rotate(&scaled, rotation as f32 / 10.0) }
        })
    }
}

/// `width` x `height` scaled so the longer side is `size` (at least 1 pixel each way).
pub fn fit_longer_side(width: u32, height: u32, size: f32) -> (u32, u32) {
    let longer = width.max(height).max(1) as f32;
    let scale = size.max(1.0) / longer;
    (((width as f32 * scale).round() as u32).max(1), ((height as f32 * scale).round() as u32).max(1))
}

/// Rotates an RGBA image about its centre into the bounding box of the result, sampling
/// bilinearly in premultiplied alpha (straight alpha would darken the edges).
pub fn rotate(src: &RgbaImage, degrees: f32) -> RgbaImage {
    let (w, h) = (src.width() as f32, src.height() as f32);
    // Screen y points down, so a counter-clockwise turn on screen is a negative angle here.
    let (sin, cos) = (-degrees.to_radians()).sin_cos();
    // The small slack keeps a quarter turn from growing a column through rounding noise.
    let out_w = (w * cos.abs() + h * sin.abs() - 1e-3).ceil().max(1.0) as u32;
    let out_h = (w * sin.abs() + h * cos.abs() - 1e-3).ceil().max(1.0) as u32;
    let (cx, cy) = (w / 2.0, h / 2.0);
    let (ox, oy) = (out_w as f32 / 2.0, out_h as f32 / 2.0);
    let texel = |x: i64, y: i64| -> [f32; 4] {
        if x < 0 || y < 0 || x >= src.width() as i64 || y >= src.height() as i64 {
            return [0.0; 4];
        }
        let p = src.get_pixel(x as u32, y as u32).0.map(f32::from);
        let a = p[3] / 255.0;
        [p[0] * a, p[1] * a, p[2] * a, p[3]]
    };
    RgbaImage::from_fn(out_w, out_h, |x, y| {
        // Inverse rotation of the output pixel centre into the source.
        let (dx, dy) = (x as f32 + 0.5 - ox, y as f32 + 0.5 - oy);
        let sx = cos * dx + sin * dy + cx - 0.5;
        let sy = -sin * dx + cos * dy + cy - 0.5;
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let mut acc = [0f32; 4];
        for (xi, yi, wgt) in [
            (x0, y0, (1.0 - fx) * (1.0 - fy)),
            (x0 + 1, y0, fx * (1.0 - fy)),
            (x0, y0 + 1, (1.0 - fx) * fy),
            (x0 + 1, y0 + 1, fx * fy),
        ] {
            let t = texel(xi, yi);
            acc.iter_mut().zip(t).for_each(|(a, v)| *a += v * wgt);
        }
        if acc[3] < 0.5 {
            return Rgba([0, 0, 0, 0]);
        }
        let a = acc[3] / 255.0;
        let c = |v: f32| (v / a).round().clamp(0.0, 255.0) as u8;
        Rgba([c(acc[0]), c(acc[1]), c(acc[2]), acc[3].round().clamp(0.0, 255.0) as u8])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_side_fits_and_aspect_is_kept() {
        assert_eq!(fit_longer_side(200, 100, 40.0), (40, 20));
        assert_eq!(fit_longer_side(100, 300, 30.0), (10, 30));
        assert_eq!(fit_longer_side(100, 1, 10.0), (10, 1));
    }

    #[test]
    fn quarter_turn_swaps_sides_and_moves_the_corner() {
        let mut src = RgbaImage::from_pixel(4, 2, Rgba([0, 0, 0, 0]));
        // Opaque red in the top-right corner.
        src.put_pixel(3, 0, Rgba([255, 0, 0, 255]));
        let out = rotate(&src, 90.0);
        assert_eq!(out.dimensions(), (2, 4));
        // Counter-clockwise on screen: the top-right corner goes to the top-left.
        assert_eq!(out.get_pixel(0, 0).0, [255, 0, 0, 255]);
        assert_eq!(out.get_pixel(1, 3).0[3], 0);
    }
}
