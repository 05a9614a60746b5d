//! Reading photos: any format the `image` crate decodes, EXIF orientation applied, converted to
//! 8-bit RGB (16-bit, grey and RGBA inputs included).

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

/// Side length above which a photo is refused rather than decoded (a 40k x 40k RGB image would
/// need 4.8 GB).
pub const MAX_IMAGE_SIDE: u32 = 16_384;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot decode image: {source}")]
    Decode { path: PathBuf, source: image::ImageError },
    #[error("{path}: {width}x{height} is larger than {MAX_IMAGE_SIDE} px on a side")]
    TooLarge { path: PathBuf, width: u32, height: u32 },
}

/// Decodes `path` upright and as RGB.
pub fn read_rgb(path: &Path) -> Result<RgbImage, ImageError> {
    let decode = |source| ImageError::Decode { path: path.to_path_buf(), source };
    let reader = ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|source| ImageError::Io { path: path.to_path_buf(), source })?;
    let mut decoder = reader.into_decoder().map_err(decode)?;
    let (width, height) = decoder.dimensions();
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(ImageError::TooLarge { path: path.to_path_buf(), width, height });
    }
    // Phones store photos sideways with an EXIF rotation; faces must be upright for MTCNN.
    let orientation = decoder.orientation().map_err(decode)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode)?;
    image.apply_orientation(orientation);
    Ok(image.to_rgb8())
}
