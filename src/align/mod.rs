//! Face alignment: the similarity transform from five detected landmarks to a template, and the
//! warp that produces the aligned crop. Pure maths and pixels, no tensors.

pub mod similarity;
pub mod templates;
pub mod warp;

use image::RgbImage;

pub use similarity::{Point, Similarity, SimilarityError};
pub use templates::FaceTemplate;

/// An aligned face crop and the transform that produced it (source pixels -> crop pixels).
#[derive(Debug, Clone)]
pub struct AlignedFace {
    pub image: RgbImage,
    pub transform: Similarity,
    pub template: FaceTemplate,
}

/// Aligns `image` so that `landmarks` (eye centres, nose tip, mouth corners, in source pixels)
/// land on the template's points in the least-squares sense.
pub fn align(image: &RgbImage, landmarks: &[Point; 5], template: FaceTemplate) -> Result<AlignedFace, SimilarityError> {
    let transform = Similarity::estimate(landmarks, &template.landmarks())?;
    let [h, w] = template.size();
    let crop = warp::warp_similarity(image, &transform, w as u32, h as u32);
    Ok(AlignedFace { image: crop, transform, template })
}
