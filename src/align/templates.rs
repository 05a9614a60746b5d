//! Canonical 5-point face templates: eye centres, nose tip, mouth corners (left and right as seen
//! in the image), in pixels of the aligned crop.

use super::similarity::Point;

/// Which aligned crop a model wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum FaceTemplate {
    /// 112 (h) x 96 (w): SphereFace / FROM.
    Sphere112x96,
    /// 112 x 112: ArcFace / MobileFaceNet; the 112x96 points shifted 8 px right.
    Arc112x112,
}

/// The SphereFace 112x96 landmark positions.
const SPHERE_112X96: [Point; 5] =
    [[30.2946, 51.6963], [65.5318, 51.5014], [48.0252, 71.7366], [33.5493, 92.3655], [62.7299, 92.2041]];

/// Horizontal offset from the 96-wide template to the 112-wide one.
const ARC_X_OFFSET: f64 = 8.0;

impl FaceTemplate {
    /// `[height, width]` of the crop.
    pub fn size(self) -> [usize; 2] {
        match self {
            FaceTemplate::Sphere112x96 => [112, 96],
            FaceTemplate::Arc112x112 => [112, 112],
        }
    }

    /// The horizontal offset of this template against the 112x96 one (0 or 8): boxes defined on
    /// the 96-wide face move by it.
    pub fn x_offset(self) -> f64 {
        match self {
            FaceTemplate::Sphere112x96 => 0.0,
            FaceTemplate::Arc112x112 => ARC_X_OFFSET,
        }
    }

    pub fn landmarks(self) -> [Point; 5] {
        SPHERE_112X96.map(|[x, y]| [x + self.x_offset(), y])
    }

    /// `height`x`width`, as the command line and results name it: "112x96" or "112x112".
    pub fn name(self) -> &'static str {
        match self {
            FaceTemplate::Sphere112x96 => "112x96",
            FaceTemplate::Arc112x112 => "112x112",
        }
    }

    /// The template whose crop is `height` x `width`, if any.
    pub fn for_size(height: usize, width: usize) -> Option<Self> {
        [FaceTemplate::Sphere112x96, FaceTemplate::Arc112x112].into_iter().find(|t| t.size() == [height, width])
    }
}

impl std::str::FromStr for FaceTemplate {
    type Err = String;

    /// "112x96" or "112x112" (height x width).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [FaceTemplate::Sphere112x96, FaceTemplate::Arc112x112]
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!(
                    "'{text}' is not an aligned crop size: 112x96 (SphereFace/FROM) or 112x112 (ArcFace/MobileFaceNet)"
                )
            })
    }
}
