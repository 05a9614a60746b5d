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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the photo is {found_width}x{found_height} (w x h), not an aligned {} crop ({}x{})", given.name(), given.size()[1], given.size()[0])]
pub struct NotAlignedSize {
    pub given: FaceTemplate,
    pub found_width: u32,
    pub found_height: u32,
}

/// A crop already aligned to `given` (and of its size), as `wanted` needs it. The templates share
/// their scale and differ by a horizontal shift, so nothing is resized: the same crop when they
/// agree; 112x96 to 112x112 adds 8 black columns a side (the pixels the narrower crop never had,
/// black as the warp's outside); 112x112 to 112x96 drops them.
pub fn realign(image: &RgbImage, given: FaceTemplate, wanted: FaceTemplate) -> Result<AlignedFace, NotAlignedSize> {
    let [h, w] = given.size();
    if (image.width() as usize, image.height() as usize) != (w, h) {
        return Err(NotAlignedSize { given, found_width: image.width(), found_height: image.height() });
    }
    let transform = Similarity { tx: wanted.x_offset() - given.x_offset(), ..Similarity::IDENTITY };
    let [h, w] = wanted.size();
    let image =
        if given == wanted { image.clone() } else { warp::warp_similarity(image, &transform, w as u32, h as u32) };
    Ok(AlignedFace { image, transform, template: wanted })
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;

    #[test]
    fn realign_shifts_between_templates_without_resizing() {
        let narrow = RgbImage::from_fn(96, 112, |x, y| Rgb([x as u8, y as u8, 200]));
        let wide = realign(&narrow, FaceTemplate::Sphere112x96, FaceTemplate::Arc112x112).unwrap();
        assert_eq!(wide.image.dimensions(), (112, 112));
        assert_eq!(wide.image.get_pixel(7, 50).0, [0, 0, 0], "the columns the narrow crop lacks are black");
        assert_eq!(wide.image.get_pixel(8, 50).0, [0, 50, 200]);
        assert_eq!(wide.image.get_pixel(103, 9).0, [95, 9, 200]);
        assert_eq!(wide.image.get_pixel(104, 9).0, [0, 0, 0]);
        // The template's landmarks land where the other template puts them.
        let [x, y] = wide.transform.apply(FaceTemplate::Sphere112x96.landmarks()[0]);
        assert_eq!([x, y], FaceTemplate::Arc112x112.landmarks()[0]);

        let back = realign(&wide.image, FaceTemplate::Arc112x112, FaceTemplate::Sphere112x96).unwrap();
        assert_eq!(back.image, narrow, "112x112 to 112x96 drops the added columns");
        let same = realign(&narrow, FaceTemplate::Sphere112x96, FaceTemplate::Sphere112x96).unwrap();
        assert_eq!(same.image, narrow);
    }

    #[test]
    fn realign_refuses_another_size_naming_both() {
        let photo = RgbImage::new(160, 160);
        let error = realign(&photo, FaceTemplate::Sphere112x96, FaceTemplate::Arc112x112).unwrap_err();
        assert_eq!(error.to_string(), "the photo is 160x160 (w x h), not an aligned 112x96 crop (96x112)");
    }
}
