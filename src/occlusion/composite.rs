//! Alpha compositing of RGBA occluders onto RGB faces, and the resizing that precedes it.
//!
//! All arithmetic is integer (or the image crate's fixed resampling), so a composited face is the
//! same bit for bit on every run.

use image::imageops::{self, FilterType};
use image::{ImageBuffer, Rgb, RgbImage, Rgba, RgbaImage};

use crate::patterns::{BinaryMask, Rect};

/// Resampling filter for occluders: bilinear, and with the image crate's support scaling it also
/// averages properly when shrinking a 512 px drawing to 20 px.
pub const RESIZE_FILTER: FilterType = FilterType::Triangle;

type Premultiplied = ImageBuffer<Rgba<u16>, Vec<u16>>;

/// Pasted alpha at or above this counts as occluded (alpha > 0.5 on a 0..=255 scale).
pub const MASK_ALPHA: u8 = 128;

/// Composites `occluder` onto `face` with its top-left corner at (`left`, `top`) (may be negative
/// or beyond the face: what hangs off is clipped), and returns the face-sized occlusion mask:
/// true where the pasted alpha is >= [`MASK_ALPHA`].
///
/// Each channel becomes `round(a * occ + (1 - a) * face)` with `a = alpha / 255`.
pub fn paste(face: &mut RgbImage, occluder: &RgbaImage, left: i64, top: i64) -> BinaryMask {
    let (face_w, face_h) = face.dimensions();
    let mut mask = BinaryMask::new(face_h as usize, face_w as usize);
    let (occ_w, occ_h) = occluder.dimensions();
    let x_range = left.max(0)..left.saturating_add(i64::from(occ_w)).min(i64::from(face_w));
    let y_range = top.max(0)..top.saturating_add(i64::from(occ_h)).min(i64::from(face_h));
    for y in y_range {
        for x in x_range.clone() {
            // In range by construction: x - left in 0..occ_w, x in 0..face_w (likewise y).
            let src = *occluder.get_pixel((x - left) as u32, (y - top) as u32);
            let alpha = src[3];
            if alpha == 0 {
                continue;
            }
            let dst = face.get_pixel_mut(x as u32, y as u32);
            for c in 0..3 {
                dst[c] = blend(src[c], dst[c], alpha);
            }
            if alpha >= MASK_ALPHA {
                mask.data[y as usize * face_w as usize + x as usize] = true;
            }
        }
    }
    mask
}

/// `round((alpha * top + (255 - alpha) * bottom) / 255)`: the numerator is an integer, so its
/// fractional part over 255 is never exactly one half and adding 127 before flooring rounds.
fn blend(top: u8, bottom: u8, alpha: u8) -> u8 {
    let (top, bottom, alpha) = (u32::from(top), u32::from(bottom), u32::from(alpha));
    ((alpha * top + (255 - alpha) * bottom + 127) / 255) as u8
}

/// Resizes an occluder to `width` x `height` with [`RESIZE_FILTER`].
///
/// The colours are premultiplied by alpha while resampling: the transparent pixels around a
/// drawing are usually black, and resampling straight RGBA would smear that black into a dark
/// fringe around every shrunken occluder.
pub fn resize(occluder: &RgbaImage, width: u32, height: u32) -> RgbaImage {
    if occluder.dimensions() == (width, height) {
        return occluder.clone();
    }
    if width == 0 || height == 0 || occluder.width() == 0 || occluder.height() == 0 {
        return RgbaImage::new(width, height);
    }
    // c * a and a * 255 both fit u16 (<= 65025) exactly, so premultiplying loses nothing.
    let premultiplied: Premultiplied = ImageBuffer::from_fn(occluder.width(), occluder.height(), |x, y| {
        let p = occluder.get_pixel(x, y).0.map(u16::from);
        Rgba([p[0] * p[3], p[1] * p[3], p[2] * p[3], p[3] * 255])
    });
    let scaled = imageops::resize(&premultiplied, width, height, RESIZE_FILTER);
    ImageBuffer::from_fn(width, height, |x, y| {
        let p = scaled.get_pixel(x, y).0.map(u32::from);
        let alpha = p[3];
        if alpha == 0 {
            return Rgba([0, 0, 0, 0]);
        }
        // colour = C * 255 / A, alpha = A / 255, both rounded to nearest.
        let unpremultiply = |c: u32| ((c * 255 + alpha / 2) / alpha).min(255) as u8;
        Rgba([unpremultiply(p[0]), unpremultiply(p[1]), unpremultiply(p[2]), ((alpha + 127) / 255).min(255) as u8])
    })
}

/// Stretches `occluder` to fill `rect` (rows y0..y1, cols x0..x1 of the face) and pastes it there.
pub fn paste_box(face: &mut RgbImage, occluder: &RgbaImage, rect: Rect) -> BinaryMask {
    if rect.is_empty() {
        return BinaryMask::new(face.height() as usize, face.width() as usize);
    }
    let scaled = resize(occluder, (rect.x1 - rect.x0) as u32, (rect.y1 - rect.y0) as u32);
    paste(face, &scaled, rect.x0 as i64, rect.y0 as i64)
}

/// Pastes the whole `occluder` rectangle opaque, its object over a flat `background`, with its
/// top-left corner at (`left`, `top`); what hangs off the face is clipped. The mask is the whole
/// clipped rectangle, transparent corners included: the authors' `occluded_image_ratio` pastes an
/// RGB occluder image this way, so that nothing of the face shows through the box.
pub fn paste_opaque(face: &mut RgbImage, occluder: &RgbaImage, left: i64, top: i64, background: Rgb<u8>) -> BinaryMask {
    let rect = clipped_rect(left, top, occluder.width(), occluder.height(), face.width(), face.height());
    let mask = fill_rect(face, rect, background);
    paste(face, occluder, left, top);
    mask
}

/// The `width` x `height` box with its top-left corner at (`left`, `top`), clipped to a
/// `face_width` x `face_height` face (empty when it misses the face).
pub fn clipped_rect(left: i64, top: i64, width: u32, height: u32, face_width: u32, face_height: u32) -> Rect {
    let clamp = |v: i64, max: u32| v.clamp(0, i64::from(max)) as usize;
    Rect::new(
        clamp(top, face_height),
        clamp(top.saturating_add(i64::from(height)), face_height),
        clamp(left, face_width),
        clamp(left.saturating_add(i64::from(width)), face_width),
    )
}

/// Fills `rect` (clipped to the face) with an opaque `colour`; the mask is the clipped rectangle.
pub fn fill_rect(face: &mut RgbImage, rect: Rect, colour: Rgb<u8>) -> BinaryMask {
    let (face_w, face_h) = (face.width() as usize, face.height() as usize);
    let clipped = rect.intersection(&Rect::new(0, face_h, 0, face_w));
    for y in clipped.y0..clipped.y1 {
        for x in clipped.x0..clipped.x1 {
            face.put_pixel(x as u32, y as u32, colour);
        }
    }
    let mut mask = BinaryMask::new(face_h, face_w);
    mask.fill(clipped);
    mask
}
