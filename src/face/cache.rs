//! On-disk cache of aligned faces, so detection and alignment (the slow part of every run over a
//! dataset) happen once per photo. Entries are keyed by the SHA-256 of the photo's bytes, the
//! template, the face pick and [`CACHE_VERSION`], so an edited photo or a changed detector never
//! returns a stale crop. Each entry is a PNG (or a `.noface` marker) written atomically and
//! sealed with its SHA-256 ([`seal`]): a damaged entry is a miss, recomputed and rewritten.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use image::RgbImage;
use sha2::{Digest, Sha256};

use super::{FaceError, FaceFinder};
use crate::align::FaceTemplate;

/// Bump when detection or alignment changes what a photo aligns to (2: sealed entries; 3: a
/// photo without a face is searched again inside a margin).
pub const CACHE_VERSION: u32 = 3;
/// Environment variable overriding the cache root.
pub const CACHE_ENV: &str = "MASKSCOPE_CACHE";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot encode the cache entry: {message}")]
    Encode { path: PathBuf, message: String },
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

/// Hex SHA-256 of a file's bytes, read as a stream. Only regular files: a FIFO would block and
/// a device never end.
pub fn file_sha256(path: &Path) -> Result<String, CacheError> {
    crate::input_file::check(path, u64::MAX).map_err(io_error(path))?;
    let mut file = fs::File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io_error(path))?;
    Ok(hex(&hasher.finalize()))
}

/// What follows every cache entry's bytes: this magic, then the SHA-256 of the bytes before it.
/// PNG readers stop at the image's end, so a sealed aligned face is still a PNG to look at.
const SEAL_MAGIC: &[u8; 8] = b"MSSHA256";
const SEAL_LEN: usize = SEAL_MAGIC.len() + 32;

/// `payload` followed by its seal.
pub(super) fn seal(mut payload: Vec<u8>) -> Vec<u8> {
    let digest = Sha256::digest(&payload);
    payload.extend_from_slice(SEAL_MAGIC);
    payload.extend_from_slice(&digest);
    payload
}

/// The payload of a sealed entry, or why it cannot be trusted.
pub(super) fn unseal(bytes: &[u8]) -> Result<&[u8], &'static str> {
    let Some(payload_len) = bytes.len().checked_sub(SEAL_LEN) else {
        return Err("too short to hold its checksum");
    };
    let (payload, trailer) = bytes.split_at(payload_len);
    if &trailer[..SEAL_MAGIC.len()] != SEAL_MAGIC {
        return Err("no checksum at its end (truncated, or written by another version)");
    }
    if Sha256::digest(payload).as_slice() != &trailer[SEAL_MAGIC.len()..] {
        return Err("its checksum does not match its bytes");
    }
    Ok(payload)
}

/// Reads a sealed entry: `Ok(None)` when there is none, or when it is damaged (which is
/// counted in `damaged`, so the run can say how many it recomputed).
pub(super) fn read_sealed(path: &Path, damaged: &AtomicUsize) -> Result<Option<Vec<u8>>, CacheError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CacheError::Io { path: path.to_path_buf(), source }),
    };
    match unseal(&bytes) {
        Ok(payload) => Ok(Some(payload.to_vec())),
        Err(_) => {
            damaged.fetch_add(1, Ordering::Relaxed);
            Ok(None)
        }
    }
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
    size: [usize; 2],
    damaged: AtomicUsize,
}

impl AlignedCache {
    /// The cache under `root` for faces aligned to `template` by a finder in `mode`
    /// ([`FaceFinder::mode_name`]: its face pick, or the aligned input).
    pub fn open(root: &Path, template: FaceTemplate, mode: &str) -> Result<Self, CacheError> {
        let size = template.size();
        let [h, w] = size;
        let dir = root.join(format!("aligned-v{CACHE_VERSION}")).join(format!("{h}x{w}-{mode}"));
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        Ok(Self { dir, size, damaged: AtomicUsize::new(0) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Entries found damaged (and so treated as missing) since the cache was opened.
    pub fn damaged(&self) -> usize {
        self.damaged.load(Ordering::Relaxed)
    }

    fn entry(&self, key: &str, extension: &str) -> PathBuf {
        // Two-character fan-out keeps directories small for datasets of many photos.
        self.dir.join(&key[..2]).join(format!("{key}.{extension}"))
    }

    /// The cached face of the photo with content hash `key`; `None` when there is none or the
    /// entry is damaged (a checksum mismatch, a face of the wrong size), so it is recomputed.
    pub fn get(&self, key: &str) -> Result<Option<CachedFace>, CacheError> {
        if read_sealed(&self.entry(key, "noface"), &self.damaged)?.is_some_and(|p| p.is_empty()) {
            return Ok(Some(CachedFace::NoFace));
        }
        let Some(png) = read_sealed(&self.entry(key, "png"), &self.damaged)? else {
            return Ok(None);
        };
        let [h, w] = self.size;
        match image::load_from_memory_with_format(&png, image::ImageFormat::Png) {
            Ok(image) if image.width() as usize == w && image.height() as usize == h => {
                Ok(Some(CachedFace::Aligned(image.to_rgb8())))
            }
            _ => {
                self.damaged.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
        }
    }

    /// Stores (or replaces) the entry of `key`.
    pub fn put(&self, key: &str, face: &CachedFace) -> Result<(), CacheError> {
        let (path, bytes) = match face {
            CachedFace::NoFace => (self.entry(key, "noface"), Vec::new()),
            CachedFace::Aligned(image) => {
                let path = self.entry(key, "png");
                let mut bytes = Vec::new();
                image
                    .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
                    .map_err(|e| CacheError::Encode { path: path.clone(), message: e.to_string() })?;
                (path, bytes)
            }
        };
        write_atomically(&path, &seal(bytes))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::FacePick;

    #[test]
    fn a_damaged_aligned_face_is_a_miss_and_a_sealed_one_is_still_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let cache = AlignedCache::open(dir.path(), FaceTemplate::Arc112x112, FacePick::Largest.name()).unwrap();
        let [h, w] = FaceTemplate::Arc112x112.size();
        let face = RgbImage::from_fn(w as u32, h as u32, |x, y| image::Rgb([x as u8, y as u8, 7]));
        cache.put("ab12", &CachedFace::Aligned(face.clone())).unwrap();
        let png = cache.entry("ab12", "png");
        assert_eq!(image::open(&png).unwrap().to_rgb8(), face, "an image viewer still reads the entry");
        assert!(matches!(cache.get("ab12").unwrap(), Some(CachedFace::Aligned(f)) if f == face));

        let intact = fs::read(&png).unwrap();
        let cuts = [0, 1, intact.len() / 2, intact.len() - SEAL_LEN, intact.len() - 1];
        for (i, &cut) in cuts.iter().enumerate() {
            fs::write(&png, &intact[..cut]).unwrap();
            assert!(cache.get("ab12").unwrap().is_none(), "cut at {cut}");
            assert_eq!(cache.damaged(), i + 1);
        }
        for at in [0, 40, intact.len() / 2, intact.len() - 1] {
            let mut flipped = intact.clone();
            flipped[at] ^= 0x01;
            fs::write(&png, &flipped).unwrap();
            assert!(cache.get("ab12").unwrap().is_none(), "byte {at} flipped");
        }
        // A face of another size, correctly sealed, is not this template's: also a miss.
        let small = RgbImage::new(8, 8);
        cache.put("ab12", &CachedFace::Aligned(small)).unwrap();
        assert!(cache.get("ab12").unwrap().is_none());

        cache.put("cd34", &CachedFace::NoFace).unwrap();
        assert!(matches!(cache.get("cd34").unwrap(), Some(CachedFace::NoFace)));
        fs::write(cache.entry("cd34", "noface"), b"").unwrap();
        assert!(cache.get("cd34").unwrap().is_none(), "an unsealed marker is not trusted");
    }

    #[cfg(unix)]
    #[test]
    fn hashing_refuses_a_fifo_instead_of_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("photo.jpg");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let text = file_sha256(&fifo).unwrap_err().to_string();
        assert!(text.contains("photo.jpg") && text.contains("not a regular file"), "{text}");
    }
}
