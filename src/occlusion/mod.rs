//! Synthetic occlusion of aligned faces: the occluder library, alpha compositing, the FROM paper's
//! fixed Figure-1 regions, and the random protocols used to train (FROM Sec. 4.1) and to build
//! Occ-LFW-2.0.
//!
//! An occluder is alpha-composited, or pasted as an opaque rectangle as the authors' code does, or
//! replaced by a grey box of its size (see [`style`]).
//!
//! Every occlusion returns its binary mask and its proximate-pattern label (K = 5), so a sample can
//! supervise FROM's mask decoder and pattern head directly.
//!
//! Faces are the aligned crops of `crate::align`: 112 high and 96 (Sphere112x96) or 112
//! (Arc112x112, the same face with 8 px of margin each side) wide. Occluder sizes are pixels of the
//! 96-wide face, so both crops get the same occluders; the region boxes are defined on the 96-wide
//! face and shifted right by the margin on the wider crop, so only those two sizes are accepted
//! there. The random protocols and the square sweep take a face of any size.
//!
//! No tensors and no global state: every random choice comes from a caller's `ChaCha8Rng`, so a
//! dataset is reproducible bit for bit from its seed.

pub mod composite;
pub mod library;
pub mod protocol;
pub mod regions;
pub mod style;

use std::path::PathBuf;

use image::RgbImage;

use crate::patterns::PatternError;

pub use composite::{MASK_ALPHA, RESIZE_FILTER, clipped_rect, fill_rect, paste, paste_box, paste_opaque, resize};
pub use library::{KNOWN_CLASSES, Occluder, OccluderLibrary};
pub use protocol::{
    BASE_LONGER_SIDE, CLEAN_PROBABILITY, FLIP_PROBABILITY, MAX_OCCLUDER_HEIGHT, MAX_OCCLUDER_WIDTH, OCC_LFW20_FACTOR,
    OCC_LFW20_SEED, OccLfw20, Occlusion, PATTERN_GRID, Placement, RandomDraw, RandomOcclusion, SCALE_FACTORS,
    SquareFill, fnv1a64, image_key, occluder_size, pattern_label, square_occlusion,
};
pub use regions::{Region, grey_region, occlude_region, occlude_region_stretched, pasted_region};
pub use style::{OcclusionStyle, PasteBackground, SWEEP_GREY};

/// Height of both aligned templates.
pub const FACE_HEIGHT: u32 = 112;
/// Width of the Sphere112x96 face, on which occluder sizes and region boxes are defined.
pub const FACE_WIDTH: u32 = 96;
/// Width of the Arc112x112 crop.
pub const ARC_WIDTH: u32 = 112;

#[derive(Debug, thiserror::Error)]
pub enum OcclusionError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot decode occluder image {path}: {source}")]
    Decode { path: PathBuf, source: image::ImageError },
    #[error("occluder image {path} is a format this build of maskscope cannot read")]
    Unsupported { path: PathBuf },
    #[error("occluder library {path} has no images (expected {path}/<class>/*.png)")]
    EmptyLibrary { path: PathBuf },
    #[error("an occluder library needs at least one occluder")]
    NoOccluders,
    #[error(
        "face is {width}x{height} (w x h); occlusion needs an aligned {FACE_WIDTH}x{FACE_HEIGHT} \
         (Sphere112x96) or {ARC_WIDTH}x{FACE_HEIGHT} (Arc112x112) face"
    )]
    FaceSize { width: u32, height: u32 },
    #[error("unknown region {name:?}; valid regions: {valid}")]
    UnknownRegion { name: String, valid: String },
    #[error(transparent)]
    Pattern(#[from] PatternError),
}

/// Horizontal margin of a face crop `face_width` wide against the 96-wide face (0 or 8).
pub fn x_offset(face_width: u32) -> u32 {
    face_width.saturating_sub(FACE_WIDTH) / 2
}

/// Checks that `face` is one of the two aligned templates, the only faces the region boxes fit.
pub fn check_face(face: &RgbImage) -> Result<(), OcclusionError> {
    let (width, height) = face.dimensions();
    if height == FACE_HEIGHT && (width == FACE_WIDTH || width == ARC_WIDTH) {
        Ok(())
    } else {
        Err(OcclusionError::FaceSize { width, height })
    }
}
