//! From a photo to a face embedding: decode, detect (MTCNN), align to a template, embed.

pub mod cache;
pub mod embedder;
pub mod embedding_cache;
pub mod from_model;
pub mod image_io;
pub mod tensor;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use image::{Rgb, RgbImage};

use crate::align::{self, AlignedFace, FaceTemplate, Point};
use crate::mtcnn::{Detection, Mtcnn, MtcnnError};

pub use embedder::{Embedder, EmbedderError};
pub use image_io::{ImageError, Photo, read_photo, read_rgb};

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The detector could not be loaded.
    #[error(transparent)]
    DetectorLoad(#[from] MtcnnError),
    /// The detector failed on this photo (e.g. too large to search).
    #[error("{path}: {source}")]
    Detector { path: PathBuf, source: MtcnnError },
    #[error("{0}: no face found")]
    NoFace(PathBuf),
    #[error("{path}: cannot align: {message}")]
    Align { path: PathBuf, message: String },
    /// `--aligned` was given and the photo is not a crop of that size.
    #[error("{path}: {source} (--aligned says every photo is one)")]
    NotAligned { path: PathBuf, source: align::NotAlignedSize },
}

/// The warning printed for a photo decoded despite damaged data.
pub fn damage_warning(path: &Path, why: &str) -> String {
    format!(
        "warning: {}: damaged image data ({why}); decoded with the lost parts filled in, so its result may be wrong",
        path.display()
    )
}

impl FaceError {
    /// The photo was read but yields no face to use: none detected, or too large to search.
    /// Evaluations score such a photo as "no face" rather than stopping.
    pub fn is_no_face(&self) -> bool {
        matches!(self, FaceError::NoFace(_) | FaceError::Detector { source: MtcnnError::ImageTooLarge { .. }, .. })
    }
}

/// A face found in a photo, aligned for the embedder.
#[derive(Debug, Clone)]
pub struct FoundFace {
    pub aligned: AlignedFace,
    /// The detection used (the one the finder's `pick` chose); `None` when landmarks were given by hand.
    pub detection: Option<Detection>,
    /// How many faces the detector found in the photo.
    pub faces_in_photo: usize,
    /// Set when the photo's data is damaged (see [`Photo::damage`]): the face may be wrong.
    pub damage: Option<String>,
}

/// Which face of a photo with several to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FacePick {
    /// The largest box.
    #[default]
    Largest,
    /// The box whose centre is nearest the photo's centre (LFW's labelled person is centred).
    Central,
}

/// The faces MTCNN finds in `image`, largest first; when it finds none, those it finds inside a
/// grey margin ([`RETRY_MARGIN`]) around the photo, in the photo's coordinates: a face that fills
/// the frame (a tight crop) is found there.
pub fn detect_faces(detector: &Mtcnn, image: &RgbImage) -> Result<Vec<Detection>, MtcnnError> {
    let found = detector.detect(image)?;
    if !found.is_empty() {
        return Ok(found);
    }
    let margin = (RETRY_MARGIN * f64::from(image.width().max(image.height()))).round() as u32;
    let mut padded = RgbImage::from_pixel(image.width() + 2 * margin, image.height() + 2 * margin, RETRY_FILL);
    image::imageops::replace(&mut padded, image, i64::from(margin), i64::from(margin));
    let shift = -(margin as f32);
    match detector.detect(&padded) {
        Ok(found) => Ok(found.into_iter().map(|d| d.translated(shift, shift)).collect()),
        // The photo itself was searched: too large with its margin only means no second look.
        Err(MtcnnError::ImageTooLarge { .. }) => Ok(Vec::new()),
        Err(other) => Err(other),
    }
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
    /// Refuse damaged photos ([`ImageError::Damaged`]) instead of reporting their damage.
    pub strict: bool,
    /// The photos are crops already aligned to this template: used as they are (shifted to
    /// `template` if it differs, never resized), without detection.
    pub pre_aligned: Option<FaceTemplate>,
}

/// Border added around a photo in which the detector found no face, as a share of its longer
/// side: a face that fills the frame (a tight crop) has no margin for MTCNN's boxes, which then
/// fall outside the image and are lost; with the margin it is found.
const RETRY_MARGIN: f64 = 0.25;
/// The margin's colour: mid grey, what the detector's input normalisation maps to 0.
const RETRY_FILL: Rgb<u8> = Rgb([128, 128, 128]);

impl FacePick {
    pub fn name(self) -> &'static str {
        match self {
            FacePick::Largest => "largest",
            FacePick::Central => "central",
        }
    }
}

/// The index in `detections` (largest first, as the detector returns them) of the face `pick`
/// chooses in a `width` x `height` photo; `None` when there is none.
pub fn pick_face(detections: &[Detection], width: u32, height: u32, pick: FacePick) -> Option<usize> {
    match pick {
        FacePick::Largest => (!detections.is_empty()).then_some(0),
        FacePick::Central => {
            let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
            let distance = |d: &Detection| {
                let [x1, y1, x2, y2] = d.bbox;
                ((x1 + x2) / 2.0 - cx).hypot((y1 + y2) / 2.0 - cy)
            };
            (0..detections.len()).min_by(|&a, &b| distance(&detections[a]).total_cmp(&distance(&detections[b])))
        }
    }
}

impl FaceFinder {
    pub fn load(mtcnn_dir: &Path, template: FaceTemplate, device: &Device) -> Result<Self, FaceError> {
        Ok(Self {
            detector: Mtcnn::load(mtcnn_dir, device)?,
            template,
            pick: FacePick::default(),
            strict: false,
            pre_aligned: None,
        })
    }

    /// Detects the faces of `image` and aligns the one `pick` chooses; a photo in which none is
    /// found is searched again inside a grey margin ([`RETRY_MARGIN`]), which finds the faces of
    /// tight crops. With [`Self::pre_aligned`] set the photo is the aligned face.
    pub fn find(&self, image: &RgbImage, source: &Path) -> Result<FoundFace, FaceError> {
        if let Some(given) = self.pre_aligned {
            let aligned = align::realign(image, given, self.template)
                .map_err(|e| FaceError::NotAligned { path: source.to_path_buf(), source: e })?;
            return Ok(FoundFace { aligned, detection: None, faces_in_photo: 1, damage: None });
        }
        let detections = detect_faces(&self.detector, image)
            .map_err(|e| FaceError::Detector { path: source.to_path_buf(), source: e })?;
        let chosen = pick_face(&detections, image.width(), image.height(), self.pick)
            .ok_or_else(|| FaceError::NoFace(source.to_path_buf()))?;
        let chosen = detections[chosen];
        let landmarks = chosen.landmarks.map(|[x, y]| [f64::from(x), f64::from(y)]);
        let aligned = self.align_to(image, &landmarks, source)?;
        Ok(FoundFace { aligned, detection: Some(chosen), faces_in_photo: detections.len(), damage: None })
    }

    /// Aligns with landmarks given by the caller (eyes, nose tip, mouth corners).
    pub fn align_to(&self, image: &RgbImage, landmarks: &[Point; 5], source: &Path) -> Result<AlignedFace, FaceError> {
        align::align(image, landmarks, self.template)
            .map_err(|e| FaceError::Align { path: source.to_path_buf(), message: e.to_string() })
    }

    /// Reads, detects and aligns the photo at `path`.
    /// A damaged photo is an error when `strict` is set, else its face carries the damage.
    pub fn find_in_file(&self, path: &Path) -> Result<FoundFace, FaceError> {
        let photo = read_photo(path)?;
        let damage = photo.damage.clone().filter(|_| !self.strict);
        let image = photo.checked(path, self.strict)?;
        Ok(FoundFace { damage, ..self.find(&image, path)? })
    }

    /// What decides the face a photo yields, for cache keys: the pick, or the aligned input.
    pub fn mode_name(&self) -> String {
        match self.pre_aligned {
            Some(given) => format!("given-{}", given.name()),
            None => self.pick.name().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(x1: f32, y1: f32, x2: f32, y2: f32) -> Detection {
        Detection { bbox: [x1, y1, x2, y2], score: 0.99, landmarks: [[0.0; 2]; 5] }
    }

    #[test]
    fn largest_takes_the_first_and_central_the_box_nearest_the_middle() {
        // Largest first, as the detector returns them: a big face off to the left, a smaller
        // one in the middle of a 250x250 photo (LFW's layout when someone stands behind).
        let faces = [detection(0.0, 40.0, 110.0, 170.0), detection(95.0, 90.0, 165.0, 170.0)];
        assert_eq!(pick_face(&faces, 250, 250, FacePick::Largest), Some(0));
        assert_eq!(pick_face(&faces, 250, 250, FacePick::Central), Some(1));
        assert_eq!(pick_face(&[], 250, 250, FacePick::Central), None);
        assert_eq!(pick_face(&[], 250, 250, FacePick::Largest), None);
    }
}
