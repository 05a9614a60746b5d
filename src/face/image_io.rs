//! Reading photos: any format the `image` crate decodes, EXIF orientation applied, converted to
//! 8-bit RGB (16-bit, grey and RGBA inputs included). A JPEG whose data is damaged decodes anyway
//! (the decoder fills what it lost with grey, as browsers do), so it is also checked by a strict
//! decoder and the damage reported beside the image: see [`Photo::damage`].

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};
use zune_core::bytestream::ZCursor;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// Side length above which a photo is refused rather than decoded (a 40k x 40k RGB image would
/// need 4.8 GB).
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// Pixels above which a photo is refused before decoding: 100 MP (300 MB as RGB) is beyond any
/// camera's face photo, and a few kilobytes of header can claim 16384 x 16384.
pub const MAX_IMAGE_PIXELS: u64 = 100_000_000;
/// Bytes above which a photo file is refused unread.
pub const MAX_PHOTO_BYTES: u64 = 512 << 20;
/// What the decoder may allocate for one photo (the RGBA/16-bit intermediates of the largest
/// accepted one).
const MAX_DECODE_ALLOC: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot decode image: {source}")]
    Decode { path: PathBuf, source: image::ImageError },
    #[error(
        "{path}: {width}x{height} is larger than {MAX_IMAGE_SIDE} px on a side or {MAX_IMAGE_PIXELS} pixels in all"
    )]
    TooLarge { path: PathBuf, width: u32, height: u32 },
    #[error("{path}: not a regular file (a photo must be a file, not a pipe, device or folder)")]
    NotAFile { path: PathBuf },
    #[error("{path}: {bytes} bytes is more than a photo may be ({MAX_PHOTO_BYTES} bytes)")]
    FileTooLarge { path: PathBuf, bytes: u64 },
    #[error("{path}: damaged image data ({why})")]
    Damaged { path: PathBuf, why: String },
}

/// A decoded photo.
#[derive(Debug, Clone)]
pub struct Photo {
    pub image: RgbImage,
    /// Why the image is not what its file once held: a JPEG truncated or with corrupt coded data,
    /// which decodes with parts filled in. Results on such a photo may be wrong.
    pub damage: Option<String>,
}

impl Photo {
    /// The image, or [`ImageError::Damaged`] when the photo is damaged and `strict` is set.
    pub fn checked(self, path: &Path, strict: bool) -> Result<RgbImage, ImageError> {
        match self.damage {
            Some(why) if strict => Err(ImageError::Damaged { path: path.to_path_buf(), why }),
            _ => Ok(self.image),
        }
    }
}

/// Decodes `path` upright and as RGB, damage or not (see [`read_photo`]).
pub fn read_rgb(path: &Path) -> Result<RgbImage, ImageError> {
    read_photo(path).map(|photo| photo.image)
}

/// Decodes `path` upright and as RGB, and checks a JPEG's coded data with a strict decoder (a
/// second decode, a few milliseconds for a face photo).
///
/// Only regular files are read (a FIFO would block, `/dev/zero` never end), at most
/// [`MAX_PHOTO_BYTES`]; the declared size is checked before any pixel is decoded.
pub fn read_photo(path: &Path) -> Result<Photo, ImageError> {
    let io = |source| ImageError::Io { path: path.to_path_buf(), source };
    let decode = |source| ImageError::Decode { path: path.to_path_buf(), source };
    let metadata = std::fs::metadata(path).map_err(io)?;
    if !metadata.is_file() {
        return Err(ImageError::NotAFile { path: path.to_path_buf() });
    }
    if metadata.len() > MAX_PHOTO_BYTES {
        return Err(ImageError::FileTooLarge { path: path.to_path_buf(), bytes: metadata.len() });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let reader = ImageReader::new(Cursor::new(&bytes)).with_guessed_format().map_err(io)?;
    let is_jpeg = reader.format() == Some(image::ImageFormat::Jpeg);
    let mut decoder = reader.into_decoder().map_err(decode)?;
    let (width, height) = decoder.dimensions();
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(ImageError::TooLarge { path: path.to_path_buf(), width, height });
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    decoder.set_limits(limits).map_err(decode)?;
    // Phones store photos sideways with an EXIF rotation; faces must be upright for MTCNN.
    let orientation = decoder.orientation().map_err(decode)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode)?;
    image.apply_orientation(orientation);
    let damage = if is_jpeg { jpeg_damage(&bytes) } else { None };
    Ok(Photo { image: image.to_rgb8(), damage })
}

/// What a strict JPEG decoder objects to in `bytes` (a premature end, a corrupt Huffman stream,
/// a marker where coded data should be), which the lenient decoder `image` uses papers over.
fn jpeg_damage(bytes: &[u8]) -> Option<String> {
    let options = DecoderOptions::default().set_strict_mode(true).set_max_width(MAX_IMAGE_SIDE as usize);
    let options = options.set_max_height(MAX_IMAGE_SIDE as usize);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode().err().map(|e| e.to_string())
}
