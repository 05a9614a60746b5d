//! Bilinear warping of an RGB image through a similarity transform.

use image::{Rgb, RgbImage};

use super::similarity::Similarity;

/// Samples `src` at (x, y) bilinearly; pixels outside the image are black, as in OpenCV's
/// `warpAffine` default, so a face near the border gets a black margin rather than smeared edges.
fn sample(src: &RgbImage, x: f64, y: f64) -> [f64; 3] {
    let (w, h) = (src.width() as i64, src.height() as i64);
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let pixel = |xi: i64, yi: i64| -> [f64; 3] {
        if xi < 0 || yi < 0 || xi >= w || yi >= h {
            [0.0; 3]
        } else {
            let p = src.get_pixel(xi as u32, yi as u32).0;
            [p[0] as f64, p[1] as f64, p[2] as f64]
        }
    };
    let (p00, p10, p01, p11) = (pixel(x0, y0), pixel(x0 + 1, y0), pixel(x0, y0 + 1), pixel(x0 + 1, y0 + 1));
    std::array::from_fn(|c| {
        let top = p00[c] * (1.0 - fx) + p10[c] * fx;
        let bottom = p01[c] * (1.0 - fx) + p11[c] * fx;
        top * (1.0 - fy) + bottom * fy
    })
}

/// The `width` x `height` image whose pixel (x, y) shows `src` at `to_crop.inverse()(x, y)`:
/// `to_crop` maps source pixel coordinates into the crop.
pub fn warp_similarity(src: &RgbImage, to_crop: &Similarity, width: u32, height: u32) -> RgbImage {
    let to_source = to_crop.inverse();
    RgbImage::from_fn(width, height, |x, y| {
        let [sx, sy] = to_source.apply([x as f64, y as f64]);
        let v = sample(src, sx, sy);
        Rgb(v.map(|c| c.round().clamp(0.0, 255.0) as u8))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_warp_copies_the_image() {
        let src = RgbImage::from_fn(7, 5, |x, y| Rgb([(x * 30) as u8, (y * 40) as u8, 7]));
        let out = warp_similarity(&src, &Similarity::IDENTITY, 7, 5);
        assert_eq!(out, src);
    }

    #[test]
    fn half_pixel_shift_averages_neighbours() {
        let src = RgbImage::from_fn(4, 1, |x, _| Rgb([(x * 100) as u8, 0, 0]));
        let shift = Similarity { a: 1.0, b: 0.0, tx: -0.5, ty: 0.0 };
        let out = warp_similarity(&src, &shift, 3, 1);
        assert_eq!(out.get_pixel(0, 0).0[0], 50);
        assert_eq!(out.get_pixel(1, 0).0[0], 150);
    }
}
