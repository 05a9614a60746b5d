//! On-disk cache of aligned faces, so detection and alignment (the slow part of every run over a
//! dataset) happen once per photo. Entries are keyed by the SHA-256 of the photo's bytes, the
//! template, the face pick and [`CACHE_VERSION`], so an edited photo or a changed detector never
//! returns a stale crop. Each entry is a PNG (or a `.noface` marker) written atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use image::RgbImage;
use sha2::{Digest, Sha256};

use super::{FaceError, FaceFinder, FacePick};
use crate::align::FaceTemplate;

/// Bump when detection or alignment changes what a photo aligns to.
pub const CACHE_VERSION: u32 = 1;
/// Environment variable overriding the cache root.
pub const CACHE_ENV: &str = "MASKSCOPE_CACHE";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: cached face is unreadable ({message}); delete it to recompute")]
    Corrupt { path: PathBuf, message: String },
    #[error(transparent)]
    Face(#[from] FaceError),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io { path: path.to_path_buf(), source }
}

/// The default cache root: `$MASKSCOPE_CACHE`, else `$XDG_CACHE_HOME/maskscope`, else
/// `~/.cache/maskscope`, else a folder in the system temp dir.
pub fn default_cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_ENV) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("maskscope");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache").join("maskscope");
    }
    std::env::temp_dir().join("maskscope-cache")
}

/// Hex SHA-256 of a file's bytes.
pub fn file_sha256(path: &Path) -> Result<String, CacheError> {
    let bytes = fs::read(path).map_err(io_error(path))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the cache knows about one photo.
#[derive(Debug, Clone)]
pub enum CachedFace {
    Aligned(RgbImage),
    /// The detector found no face (remembered so it is not searched again).
    NoFace,
}

/// Aligned faces for one template and face pick.
pub struct AlignedCache {
    dir: PathBuf,
}

impl AlignedCache {
    /// The cache under `root` for faces aligned to `template`, picked by `pick`.
    pub fn open(root: &Path, template: FaceTemplate, pick: FacePick) -> Result<Self, CacheError> {
        let [h, w] = template.size();
        let pick = pick.name();
        let dir = root.join(format!("aligned-v{CACHE_VERSION}")).join(format!("{h}x{w}-{pick}"));
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, key: &str, extension: &str) -> PathBuf {
        // Two-character fan-out keeps directories small for datasets of many photos.
        self.dir.join(&key[..2]).join(format!("{key}.{extension}"))
    }

    /// The cached face of the photo with content hash `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<CachedFace>, CacheError> {
        if self.entry(key, "noface").exists() {
            return Ok(Some(CachedFace::NoFace));
        }
        let png = self.entry(key, "png");
        if !png.exists() {
            return Ok(None);
        }
        let image = image::open(&png).map_err(|e| CacheError::Corrupt { path: png.clone(), message: e.to_string() })?;
        Ok(Some(CachedFace::Aligned(image.to_rgb8())))
    }

    pub fn put(&self, key: &str, face: &CachedFace) -> Result<(), CacheError> {
        let (path, bytes) = match face {
            CachedFace::NoFace => (self.entry(key, "noface"), Vec::new()),
            CachedFace::Aligned(image) => {
                let mut bytes = Vec::new();
                image
                    .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
                    .map_err(|e| CacheError::Corrupt { path: self.entry(key, "png"), message: e.to_string() })?;
                (self.entry(key, "png"), bytes)
            }
        };
        write_atomically(&path, &bytes)
    }

    /// The aligned face of the photo at `path`: from the cache, or detected, aligned and stored.
    /// A photo with no face is remembered as such and reported as `CachedFace::NoFace`.
    pub fn get_or_align(&self, path: &Path, finder: &FaceFinder) -> Result<CachedFace, CacheError> {
        let key = file_sha256(path)?;
        if let Some(found) = self.get(&key)? {
            return Ok(found);
        }
        let face = match finder.find_in_file(path) {
            Ok(found) => CachedFace::Aligned(found.aligned.image),
            Err(e) if e.is_no_face() => CachedFace::NoFace,
            Err(other) => return Err(other.into()),
        };
        self.put(&key, &face)?;
        Ok(face)
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place, so an interrupted
/// run never leaves a truncated file under the final name.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut file = fs::File::create(&temp).map_err(io_error(&temp))?;
    file.write_all(bytes).map_err(io_error(&temp))?;
    drop(file);
    fs::rename(&temp, path).map_err(io_error(path))
}
