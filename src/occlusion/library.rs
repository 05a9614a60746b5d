//! The occluder library: RGBA drawings of everyday objects, one folder per class.
//!
//! Sampling indexes into the library, so the order of its occluders is part of a dataset's
//! definition: classes and files are sorted by name, never taken in directory order.

use std::fs;
use std::path::{Path, PathBuf};

use image::{ImageFormat, ImageReader, RgbaImage};

use super::OcclusionError;
use crate::assets;

/// The PDSN/FROM occluder classes the bundled library provides. Other folder names are accepted:
/// users may add classes of their own.
pub const KNOWN_CLASSES: [&str; 9] =
    ["book_cover", "cup", "eye_mask", "eyeglasses", "hand", "mouth_mask", "phone", "scarf", "sunglasses"];

/// One occluder drawing: transparent background, cropped to the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occluder {
    /// The folder it came from.
    pub class: String,
    /// The file stem.
    pub name: String,
    pub image: RgbaImage,
}

#[derive(Debug, Clone)]
pub struct OccluderLibrary {
    occluders: Vec<Occluder>,
    classes: Vec<String>,
}

impl OccluderLibrary {
    /// Reads `dir/<class>/<file>` for every class folder and image file, both sorted by name.
    ///
    /// Files without an image extension (README.md, LICENSE, masks.cfg) and hidden entries are
    /// skipped; an image that fails to decode is an error naming it, since silently dropping a
    /// user's occluder would change the dataset without notice.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, OcclusionError> {
        let dir = dir.as_ref();
        let mut occluders = Vec::new();
        for class_dir in sorted_entries(dir)? {
            if !class_dir.is_dir() {
                continue;
            }
            let class = file_name(&class_dir);
            for file in sorted_entries(&class_dir)? {
                if !file.is_file() {
                    continue;
                }
                let Some(image) = read_image(&file)? else { continue };
                let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                occluders.push(Occluder { class: class.clone(), name, image });
            }
        }
        if occluders.is_empty() {
            return Err(OcclusionError::EmptyLibrary { path: dir.to_path_buf() });
        }
        Self::from_occluders(occluders)
    }

    /// The library shipped in `assets/occluders` (see [`assets::occluders_dir`]).
    pub fn bundled() -> Result<Self, OcclusionError> {
        Self::load(assets::occluders_dir())
    }

    /// A library of the given occluders, in the given order.
    pub fn from_occluders(occluders: Vec<Occluder>) -> Result<Self, OcclusionError> {
        if occluders.is_empty() {
            return Err(OcclusionError::NoOccluders);
        }
        let mut classes: Vec<String> = occluders.iter().map(|o| o.class.clone()).collect();
        classes.sort();
        classes.dedup();
        Ok(Self { occluders, classes })
    }

    pub fn occluders(&self) -> &[Occluder] {
        &self.occluders
    }

    pub fn get(&self, index: usize) -> Option<&Occluder> {
        self.occluders.get(index)
    }

    pub fn len(&self) -> usize {
        self.occluders.len()
    }

    /// Always false: a library holds at least one occluder.
    pub fn is_empty(&self) -> bool {
        self.occluders.is_empty()
    }

    /// Class names that hold at least one occluder, sorted.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    pub fn of_class<'a>(&'a self, class: &'a str) -> impl Iterator<Item = &'a Occluder> + 'a {
        self.occluders.iter().filter(move |o| o.class == class)
    }

    pub fn find(&self, class: &str, name: &str) -> Option<&Occluder> {
        self.occluders.iter().find(|o| o.class == class && o.name == name)
    }
}

/// Non-hidden entries of `dir`, sorted by file name.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, OcclusionError> {
    let io_error = |source| OcclusionError::Io { path: dir.to_path_buf(), source };
    let mut entries = fs::read_dir(dir)
        .map_err(io_error)?
        .map(|entry| entry.map(|e| e.path()).map_err(io_error))
        .collect::<Result<Vec<_>, _>>()?;
    entries.retain(|path| path.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')));
    entries.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(entries)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `None` for files that are not images by their extension.
fn read_image(path: &Path) -> Result<Option<RgbaImage>, OcclusionError> {
    let Ok(format) = ImageFormat::from_path(path) else { return Ok(None) };
    if !format.reading_enabled() {
        return Err(OcclusionError::Unsupported { path: path.to_path_buf() });
    }
    let io_error = |source| OcclusionError::Io { path: path.to_path_buf(), source };
    // Guessing from the content first lets a JPEG saved as .png still load.
    let reader = ImageReader::open(path).map_err(io_error)?.with_guessed_format().map_err(io_error)?;
    let image = reader.decode().map_err(|source| OcclusionError::Decode { path: path.to_path_buf(), source })?;
    Ok(Some(image.to_rgba8()))
}
