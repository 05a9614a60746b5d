//! The photos of a pairs list: each distinct photo found once, then read, detected and aligned
//! once per template, through the aligned-face cache when there is one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use image::RgbImage;
use rayon::prelude::*;

use super::{SweepError, SweepObserver};
use crate::align::FaceTemplate;
use crate::eval::pairs::ImagePair;
use crate::eval::results::CacheStats;
use crate::face::cache::{AlignedCache, CachedFace, file_sha256};
use crate::face::{FaceError, FaceFinder, PHOTOS_PER_ROUND};
use crate::occlusion::image_key;

/// The distinct photos of a pairs list and, per pair, the indices of its two photos.
pub(super) struct Photos {
    pub paths: Vec<PathBuf>,
    /// Path under the image root, `/`-separated: seeds the random occlusions of the photo.
    pub keys: Vec<String>,
    /// `(first, second)` photo of each pair, in pair order.
    pub pairs: Vec<(usize, usize)>,
}

impl Photos {
    /// Indexes the photos of `pairs` and checks that every one exists, so a typo in a pairs file
    /// stops the run before any slow work, naming the line.
    pub fn collect(pairs: &[ImagePair], root: Option<&Path>) -> Result<Self, SweepError> {
        let mut index: BTreeMap<&Path, usize> = BTreeMap::new();
        let mut photos = Photos { paths: Vec::new(), keys: Vec::new(), pairs: Vec::with_capacity(pairs.len()) };
        for pair in pairs {
            let a = photos.slot(&mut index, &pair.a, pair.line, root)?;
            let b = photos.slot(&mut index, &pair.b, pair.line, root)?;
            photos.pairs.push((a, b));
        }
        Ok(photos)
    }

    fn slot<'p>(
        &mut self,
        index: &mut BTreeMap<&'p Path, usize>,
        path: &'p Path,
        line: usize,
        root: Option<&Path>,
    ) -> Result<usize, SweepError> {
        if let Some(&i) = index.get(path) {
            return Ok(i);
        }
        if !path.is_file() {
            return Err(SweepError::MissingImage { line, path: path.to_path_buf() });
        }
        // Outside the root (a CSV may give absolute paths) the whole path is the key.
        let relative = root.and_then(|r| path.strip_prefix(r).ok()).unwrap_or(path);
        self.paths.push(path.to_path_buf());
        self.keys.push(image_key(relative));
        index.insert(path, self.paths.len() - 1);
        Ok(self.paths.len() - 1)
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }
}

/// The aligned face of every photo for `template` (`None`: no face found, or not `needed`),
/// from the cache under `cache_root` or detected now (and then stored), and the indices of photos
/// with damaged data (which are not cached, so every run finds and reports them). `needed`
/// (default: all) says which photos a shard of the sweep uses.
#[allow(clippy::too_many_arguments, reason = "the sweep's shared state, passed through")]
pub(super) fn align_photos(
    photos: &Photos,
    needed: Option<&[bool]>,
    finder: &mut FaceFinder,
    template: FaceTemplate,
    cache_root: Option<&Path>,
    stats: &mut CacheStats,
    observer: &mut dyn SweepObserver,
    cancel: &AtomicBool,
) -> Result<(Vec<Option<RgbImage>>, Vec<usize>), SweepError> {
    let mut damaged = Vec::new();
    finder.template = template;
    let finder = &*finder;
    let cache = cache_root.map(|root| AlignedCache::open(root, template, &finder.mode_name())).transpose()?;
    let mut faces: Vec<Option<RgbImage>> = vec![None; photos.len()];
    let todo: Vec<usize> = (0..photos.len()).filter(|&p| needed.is_none_or(|n| n[p])).collect();
    for round in todo.chunks(PHOTOS_PER_ROUND) {
        if cancel.load(Ordering::Relaxed) {
            return Err(SweepError::Cancelled);
        }
        let found: Vec<Result<(CachedFace, bool, bool), SweepError>> =
            round.par_iter().map(|&p| aligned_face(finder, cache.as_ref(), &photos.paths[p])).collect();
        for (&p, result) in round.iter().zip(found) {
            let (face, from_cache, is_damaged) = result?;
            if is_damaged {
                damaged.push(p);
            }
            if from_cache {
                stats.aligned_cached += 1;
            } else {
                stats.aligned_fresh += 1;
            }
            faces[p] = match face {
                CachedFace::Aligned(image) => Some(image),
                CachedFace::NoFace => None,
            };
            observer.advance(1);
        }
    }
    stats.damaged_recomputed += cache.as_ref().map_or(0, AlignedCache::damaged);
    Ok((faces, damaged))
}

/// One photo's aligned face, whether it came from the cache, and whether its data is damaged.
fn aligned_face(
    finder: &FaceFinder,
    cache: Option<&AlignedCache>,
    path: &Path,
) -> Result<(CachedFace, bool, bool), SweepError> {
    let Some(cache) = cache else {
        let (found, damaged) = detect(finder, path)?;
        return Ok((found.unwrap_or(CachedFace::NoFace), false, damaged));
    };
    let key = file_sha256(path)?;
    if let Some(found) = cache.get(&key)? {
        return Ok((found, true, false));
    }
    let (found, damaged) = detect(finder, path)?;
    // An alignment failure is not remembered: only "no face" is a fact about the photo. Nor is
    // a damaged photo's face, so that a rerun reports the damage again.
    if let Some(face) = found.as_ref().filter(|_| !damaged) {
        cache.put(&key, face)?;
    }
    Ok((found.unwrap_or(CachedFace::NoFace), false, damaged))
}

/// The photo's aligned face, `NoFace` when the detector finds none, `None` when the landmarks
/// found cannot be aligned (degenerate), and whether the photo's data is damaged; unreadable
/// photos (and damaged ones, for a strict finder) are errors.
fn detect(finder: &FaceFinder, path: &Path) -> Result<(Option<CachedFace>, bool), SweepError> {
    match finder.find_in_file(path) {
        Ok(found) => Ok((Some(CachedFace::Aligned(found.aligned.image)), found.damage.is_some())),
        Err(e) if e.is_no_face() => Ok((Some(CachedFace::NoFace), false)),
        Err(FaceError::Align { .. }) => Ok((None, false)),
        Err(other) => Err(other.into()),
    }
}
