//! The fixed occlusion regions of the FROM paper's Figure 1 (eyes, nose, mouth, face halves), used
//! to evaluate how accuracy depends on which part of the face is hidden.

use std::fmt;
use std::str::FromStr;

use image::{Rgb, RgbImage, RgbaImage};

use super::library::Occluder;
use super::protocol::Occlusion;
use super::{FACE_HEIGHT, FACE_WIDTH, OcclusionError, check_face, composite, x_offset};
use crate::patterns::Rect;

/// A Figure-1 region. Left and right are as seen in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    LeftEye,
    RightEye,
    TwoEyes,
    Nose,
    Mouth,
    LowerFace,
    UpperFace,
    LeftFace,
    RightFace,
}

impl Region {
    /// Every region, in the paper's order (evaluation tables and plots follow it).
    pub const ALL: [Region; 9] = [
        Region::LeftEye,
        Region::RightEye,
        Region::TwoEyes,
        Region::Nose,
        Region::Mouth,
        Region::LowerFace,
        Region::UpperFace,
        Region::LeftFace,
        Region::RightFace,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Region::LeftEye => "left_eye",
            Region::RightEye => "right_eye",
            Region::TwoEyes => "two_eyes",
            Region::Nose => "nose",
            Region::Mouth => "mouth",
            Region::LowerFace => "lower_face",
            Region::UpperFace => "upper_face",
            Region::LeftFace => "left_face",
            Region::RightFace => "right_face",
        }
    }

    /// The box `(x0, y0, x1, y1)` (half-open) on the 96x112 face.
    pub fn sphere_box(self) -> [u32; 4] {
        match self {
            Region::LeftEye => [10, 30, 50, 70],
            Region::RightEye => [50, 30, 90, 70],
            Region::TwoEyes => [10, 30, 90, 70],
            Region::Nose => [34, 48, 62, 86],
            Region::Mouth => [25, 82, 75, 107],
            Region::LowerFace => [8, 60, 92, 110],
            Region::UpperFace => [8, 8, 92, 72],
            Region::LeftFace => [8, 8, 50, 100],
            Region::RightFace => [50, 8, 92, 100],
        }
    }

    /// The region's pixels on a face `face_width` wide (96, or 112 with its 8 px margin).
    pub fn rect(self, face_width: u32) -> Rect {
        let [x0, y0, x1, y1] = self.sphere_box().map(|v| v as usize);
        let dx = x_offset(face_width) as usize;
        Rect::new(y0, y1, x0 + dx, x1 + dx)
    }

    /// Fraction of the 96x112 face the region covers.
    pub fn area_ratio(self) -> f64 {
        self.rect(FACE_WIDTH).area() as f64 / f64::from(FACE_WIDTH * FACE_HEIGHT)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Region {
    type Err = OcclusionError;

    /// Accepts the names of [`Region::name`], in any case and with `-` for `_`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        Region::ALL.into_iter().find(|r| r.name() == wanted).ok_or_else(|| OcclusionError::UnknownRegion {
            name: s.to_string(),
            valid: Region::ALL.map(Region::name).join(", "),
        })
    }
}

/// Stretches `occluder` over `region` of an aligned face.
pub fn occlude_region(face: &mut RgbImage, occluder: &Occluder, region: Region) -> Result<Occlusion, OcclusionError> {
    occlude_region_stretched(face, occluder, None, region)
}

/// [`occlude_region`] given the drawing already stretched to the region's box (a sweep
/// stretches it once for all its faces); one of another size is ignored and stretched anew.
pub fn occlude_region_stretched(
    face: &mut RgbImage,
    occluder: &Occluder,
    stretched: Option<&RgbaImage>,
    region: Region,
) -> Result<Occlusion, OcclusionError> {
    check_face(face)?;
    let rect = region.rect(face.width());
    let size = ((rect.x1 - rect.x0) as u32, (rect.y1 - rect.y0) as u32);
    let mask = match stretched {
        Some(stretched) if stretched.dimensions() == size && !rect.is_empty() => {
            composite::paste(face, stretched, rect.x0 as i64, rect.y0 as i64)
        }
        _ => composite::paste_box(face, &occluder.image, rect),
    };
    Ok(Occlusion::labelled(mask, Some((occluder.class.clone(), occluder.name.clone())), Some(rect), None, false))
}

/// Pastes `occluder` stretched over `region` opaque: the drawing over a flat `background` fills
/// the whole box, which is the occluded area (the authors' way of pasting, see
/// [`OcclusionStyle::Pasted`](super::OcclusionStyle::Pasted)). `stretched` as for
/// [`occlude_region_stretched`].
pub fn pasted_region(
    face: &mut RgbImage,
    occluder: &Occluder,
    stretched: Option<&RgbaImage>,
    region: Region,
    background: Rgb<u8>,
) -> Result<Occlusion, OcclusionError> {
    let whole_box = grey_region(face, region, background)?;
    let drawn = occlude_region_stretched(face, occluder, stretched, region)?;
    Ok(Occlusion { occluder: drawn.occluder, ..whole_box })
}

/// Paints `region` of an aligned face with a flat `colour` (the classic grey-box occlusion).
pub fn grey_region(face: &mut RgbImage, region: Region, colour: Rgb<u8>) -> Result<Occlusion, OcclusionError> {
    check_face(face)?;
    let rect = region.rect(face.width());
    let mask = composite::fill_rect(face, rect, colour);
    Ok(Occlusion::labelled(mask, None, Some(rect), None, false))
}
