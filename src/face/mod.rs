//! From a photo to a face embedding: decode, detect (MTCNN), align to a template, embed.

pub mod cache;
pub mod embedder;
pub mod embedding_cache;
pub mod from_model;
pub mod image_io;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use image::RgbImage;

use crate::align::{self, AlignedFace, FaceTemplate, Point};
use crate::mtcnn::{Detection, Mtcnn, MtcnnError};

pub use embedder::{Embedder, EmbedderError};
pub use image_io::{ImageError, read_rgb};

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Detector(#[from] MtcnnError),
    #[error("{0}: no face found (give the five landmarks by hand with --landmarks)")]
    NoFace(PathBuf),
    #[error("{path}: cannot align: {message}")]
    Align { path: PathBuf, message: String },
}

/// A face found in a photo, aligned for the embedder.
#[derive(Debug, Clone)]
pub struct FoundFace {
    pub aligned: AlignedFace,
    /// The detection used (the largest face); `None` when landmarks were given by hand.
    pub detection: Option<Detection>,
    /// How many faces the detector found in the photo.
    pub faces_in_photo: usize,
}

/// Which face of a photo with several to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FacePick {
    /// The largest box.
    #[default]
    Largest,
    /// The box whose centre is nearest the photo's centre (LFW's labelled person is centred).
    Central,
}

/// Photos to detect at once, one per thread: a single detection leaves part of the machine idle
/// (its small pyramid levels and few crops do not split well across threads). Callers that work
/// through many photos go this many at a time, which keeps their progress reports regular.
pub const PHOTOS_PER_ROUND: usize = 8;

/// MTCNN plus alignment to one template.
pub struct FaceFinder {
    pub detector: Mtcnn,
    pub template: FaceTemplate,
    pub pick: FacePick,
}

impl FaceFinder {
    pub fn load(mtcnn_dir: &Path, template: FaceTemplate, device: &Device) -> Result<Self, FaceError> {
        Ok(Self { detector: Mtcnn::load(mtcnn_dir, device)?, template, pick: FacePick::default() })
    }

    /// Detects the faces of `image` and aligns the one `pick` chooses.
    pub fn find(&self, image: &RgbImage, source: &Path) -> Result<FoundFace, FaceError> {
        let detections = self.detector.detect(image)?;
        let chosen = match self.pick {
            // The detector returns the largest first.
            FacePick::Largest => detections.first(),
            FacePick::Central => {
                let (cx, cy) = (image.width() as f32 / 2.0, image.height() as f32 / 2.0);
                let distance = |d: &Detection| {
                    let [x1, y1, x2, y2] = d.bbox;
                    ((x1 + x2) / 2.0 - cx).hypot((y1 + y2) / 2.0 - cy)
                };
                detections.iter().min_by(|a, b| distance(a).total_cmp(&distance(b)))
            }
        };
        let chosen = *chosen.ok_or_else(|| FaceError::NoFace(source.to_path_buf()))?;
        let landmarks = chosen.landmarks.map(|[x, y]| [f64::from(x), f64::from(y)]);
        let aligned = self.align_to(image, &landmarks, source)?;
        Ok(FoundFace { aligned, detection: Some(chosen), faces_in_photo: detections.len() })
    }

    /// Aligns with landmarks given by the caller (eyes, nose tip, mouth corners).
    pub fn align_to(&self, image: &RgbImage, landmarks: &[Point; 5], source: &Path) -> Result<AlignedFace, FaceError> {
        align::align(image, landmarks, self.template)
            .map_err(|e| FaceError::Align { path: source.to_path_buf(), message: e.to_string() })
    }

    /// Reads, detects and aligns the photo at `path`.
    pub fn find_in_file(&self, path: &Path) -> Result<FoundFace, FaceError> {
        let image = read_rgb(path)?;
        self.find(&image, path)
    }
}
