//! On-disk cache of embeddings, so a sweep rerun (or a new condition) does not embed a face twice.
//!
//! An entry is keyed by the model's identity (the SHA-256 of its file) and the SHA-256 of the
//! exact pixels the network reads (size and RGB bytes of the aligned, possibly occluded face).
//! Keying by content rather than by photo and condition means that nothing upstream can make an
//! entry stale: a changed detector, alignment, occluder drawing, seed or protocol produces other
//! pixels and so another key. The price is hashing 37 KB per face, far below one forward pass.
//!
//! The stored vectors are what the model produced on the device of the run that wrote them; CPU
//! and GPU results differ by float rounding only (well below anything the metrics resolve).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use image::RgbImage;
use sha2::{Digest, Sha256};

use super::cache::{CacheError, hex, read_sealed, seal, write_atomically};

/// Bump when the entry format or the meaning of an embedding changes (2: sealed entries).
pub const EMBEDDING_CACHE_VERSION: u32 = 2;
/// First bytes of every entry.
const MAGIC: &[u8; 8] = b"MSEMB\x01\0\0";

/// The (masked, unmasked) embeddings of one face.
pub type EmbeddingPair = (Vec<f32>, Vec<f32>);

/// Embeddings of one model.
pub struct EmbeddingCache {
    dir: PathBuf,
    damaged: AtomicUsize,
}

/// The key of an aligned face: hex SHA-256 of its width, height (u32 little-endian) and pixels.
pub fn face_key(face: &RgbImage) -> String {
    let mut hasher = Sha256::new();
    hasher.update(face.width().to_le_bytes());
    hasher.update(face.height().to_le_bytes());
    hasher.update(face.as_raw());
    hex(&hasher.finalize())
}

impl EmbeddingCache {
    /// The cache under `root` of the model whose file has SHA-256 `model_sha256`.
    pub fn open(root: &Path, model_sha256: &str) -> Result<Self, CacheError> {
        let dir = root.join(format!("embeddings-v{EMBEDDING_CACHE_VERSION}")).join(model_sha256);
        fs::create_dir_all(&dir).map_err(|source| CacheError::Io { path: dir.clone(), source })?;
        Ok(Self { dir, damaged: AtomicUsize::new(0) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Entries found damaged (and so treated as missing) since the cache was opened.
    pub fn damaged(&self) -> usize {
        self.damaged.load(Ordering::Relaxed)
    }

    fn entry(&self, key: &str) -> PathBuf {
        // Two-character fan-out, as the aligned-face cache: a sweep stores tens of thousands.
        self.dir.join(&key[..2]).join(format!("{key}.emb"))
    }

    /// The embeddings of the face with [`face_key`] `key`; `None` when there are none or the
    /// entry is damaged, so they are recomputed and the entry rewritten.
    pub fn get(&self, key: &str) -> Result<Option<EmbeddingPair>, CacheError> {
        let Some(payload) = read_sealed(&self.entry(key), &self.damaged)? else {
            return Ok(None);
        };
        match decode(&payload) {
            Some(pair) => Ok(Some(pair)),
            None => {
                self.damaged.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
        }
    }

    pub fn put(&self, key: &str, (masked, unmasked): (&[f32], &[f32])) -> Result<(), CacheError> {
        write_atomically(&self.entry(key), &seal(encode(masked, unmasked)))
    }
}

/// `MAGIC`, the two lengths (u32 LE), then the values (f32 LE).
fn encode(masked: &[f32], unmasked: &[f32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + 4 * (masked.len() + unmasked.len()));
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(masked.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&(unmasked.len() as u32).to_le_bytes());
    for value in masked.iter().chain(unmasked) {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    bytes
}

/// The embeddings of an entry whose seal held; `None` if its layout is still wrong.
fn decode(bytes: &[u8]) -> Option<EmbeddingPair> {
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return None;
    }
    let length = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
    let (masked, unmasked) = (length(8), length(12));
    if bytes.len() as u64 != 16 + 4 * (masked as u64 + unmasked as u64) {
        return None;
    }
    let values: Vec<f32> =
        bytes[16..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
    Some((values[..masked].to_vec(), values[masked..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_every_damaged_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = EmbeddingCache::open(dir.path(), "abc").unwrap();
        let face = RgbImage::from_pixel(4, 3, image::Rgb([1, 2, 3]));
        let key = face_key(&face);
        assert_eq!(cache.get(&key).unwrap(), None);
        cache.put(&key, (&[1.0, -2.5], &[0.25, 4.0, 8.0])).unwrap();
        assert_eq!(cache.get(&key).unwrap(), Some((vec![1.0, -2.5], vec![0.25, 4.0, 8.0])));

        // Every truncation and every flipped bit of the entry is a miss, counted as damaged.
        let intact = std::fs::read(cache.entry(&key)).unwrap();
        let mut damaged = 0;
        for cut in 0..intact.len() {
            std::fs::write(cache.entry(&key), &intact[..cut]).unwrap();
            assert_eq!(cache.get(&key).unwrap(), None, "cut at {cut}");
            damaged += 1;
        }
        for bit in 0..intact.len() * 8 {
            let mut flipped = intact.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            std::fs::write(cache.entry(&key), &flipped).unwrap();
            assert_eq!(cache.get(&key).unwrap(), None, "bit {bit}");
            damaged += 1;
        }
        assert_eq!(cache.damaged(), damaged);
        // Rewritten, the entry reads back.
        cache.put(&key, (&[1.0, -2.5], &[0.25, 4.0, 8.0])).unwrap();
        assert_eq!(cache.get(&key).unwrap(), Some((vec![1.0, -2.5], vec![0.25, 4.0, 8.0])));
    }

    #[test]
    fn the_key_depends_on_every_pixel_and_the_shape() {
        let face = RgbImage::from_pixel(4, 3, image::Rgb([1, 2, 3]));
        let mut changed = face.clone();
        changed.put_pixel(3, 2, image::Rgb([1, 2, 4]));
        let transposed = RgbImage::from_pixel(3, 4, image::Rgb([1, 2, 3]));
        assert_ne!(face_key(&face), face_key(&changed));
        assert_ne!(face_key(&face), face_key(&transposed));
        assert_eq!(face_key(&face), face_key(&face.clone()));
    }
}
