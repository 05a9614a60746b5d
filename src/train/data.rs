//! Training data: one or more roots with a folder per identity, every photo aligned once (through
//! the aligned-face cache) and held in memory as a 112x112 crop, split into training and held-out
//! identities.
//!
//! Roots share one identity namespace (folders of the same name are one person, as CelebA's ids
//! are across its extracts), and a photo file name seen in an earlier root is a duplicate and
//! dropped (CelebA names every photo uniquely; its extracts overlap).

use std::path::{Path, PathBuf};

use image::RgbImage;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::face::cache::{AlignedCache, CacheError, CachedFace};
use crate::face::{FaceFinder, PHOTOS_PER_ROUND};

/// Photo extensions read from identity folders.
const PHOTO_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "bmp", "webp", "gif"];

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}: no identity folders with photos (expected <root>/<identity>/<photo>.jpg)")]
    Empty(PathBuf),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// One aligned training face.
#[derive(Debug, Clone)]
pub struct Sample {
    pub face: RgbImage,
    /// Index into [`FaceSet::identities`].
    pub identity: usize,
    /// Path relative to the dataset root (stable across machines; keys seeded occlusions).
    pub key: String,
}

/// Aligned faces of a folder-per-identity dataset.
#[derive(Debug, Clone, Default)]
pub struct FaceSet {
    pub identities: Vec<String>,
    pub samples: Vec<Sample>,
}

/// Photos that could not be used, for the run's report.
#[derive(Debug, Clone, Default)]
pub struct DropReport {
    /// Photos listed, duplicates included.
    pub photos: usize,
    /// Photos whose file name an earlier photo (in root order) already had.
    pub duplicates: Vec<PathBuf>,
    pub no_face: Vec<PathBuf>,
}

/// One photo to align: its identity, its file, and its key (the path under its root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPhoto {
    pub identity: String,
    pub path: PathBuf,
    pub key: String,
}

/// Every photo under each of `roots` (see [`list_photos`]), grouped by identity (identities
/// sorted, each one's photos in root order, then sorted), without duplicate file names: the first
/// photo of a name is kept. Returns the photos and the dropped duplicates.
pub fn list_photo_sets(roots: &[PathBuf]) -> Result<(Vec<ListedPhoto>, Vec<PathBuf>), DataError> {
    let mut seen = std::collections::HashSet::new();
    let mut by_identity: std::collections::BTreeMap<String, Vec<ListedPhoto>> = Default::default();
    let mut duplicates = Vec::new();
    for root in roots {
        for (identity, path) in list_photos(root)? {
            let name = path.file_name().unwrap_or_default().to_os_string();
            if !seen.insert(name) {
                duplicates.push(path);
                continue;
            }
            let key = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            by_identity.entry(identity.clone()).or_default().push(ListedPhoto { identity, path, key });
        }
    }
    Ok((by_identity.into_values().flatten().collect(), duplicates))
}

/// Every photo under `root/<identity>/`, sorted, with its identity name.
pub fn list_photos(root: &Path) -> Result<Vec<(String, PathBuf)>, DataError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DataError::Io { path, source }
    };
    let mut photos = Vec::new();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(io(root))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let identity = folder.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .map_err(io(&folder))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| PHOTO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            })
            .collect();
        files.sort();
        photos.extend(files.into_iter().map(|f| (identity.clone(), f)));
    }
    if photos.is_empty() {
        return Err(DataError::Empty(root.to_path_buf()));
    }
    Ok(photos)
}

/// Aligns every photo under `roots` (through `cache`; see [`list_photo_sets`]), calling
/// `progress` after each.
pub fn load_face_set(
    roots: &[PathBuf],
    finder: &FaceFinder,
    cache: &AlignedCache,
    mut progress: impl FnMut(usize, usize),
) -> Result<(FaceSet, DropReport), DataError> {
    let (photos, duplicates) = list_photo_sets(roots)?;
    let mut set = FaceSet::default();
    let mut report = DropReport { photos: photos.len() + duplicates.len(), duplicates, ..Default::default() };
    let mut done = 0;
    for round in photos.chunks(PHOTOS_PER_ROUND) {
        let found: Vec<_> = round.par_iter().map(|photo| cache.get_or_align(&photo.path, finder)).collect();
        for (photo, face) in round.iter().zip(found) {
            match face? {
                CachedFace::Aligned(face) => {
                    if set.identities.last() != Some(&photo.identity) {
                        set.identities.push(photo.identity.clone());
                    }
                    set.samples.push(Sample { face, identity: set.identities.len() - 1, key: photo.key.clone() });
                }
                CachedFace::NoFace => report.no_face.push(photo.path.clone()),
            }
            done += 1;
            progress(done, photos.len());
        }
    }
    Ok((set, report))
}

impl FaceSet {
    /// Splits off a seeded random `fraction` of the identities (at least one when `fraction` >
    /// 0 and there are two or more) as held-out data; identity indices are renumbered per part.
    pub fn split_identities(self, fraction: f64, seed: u64) -> (FaceSet, FaceSet) {
        let n = self.identities.len();
        let held_out_count =
            if fraction > 0.0 && n >= 2 { ((n as f64 * fraction).round() as usize).clamp(1, n - 1) } else { 0 };
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut held_out = vec![false; n];
        for &i in &order[..held_out_count] {
            held_out[i] = true;
        }
        let mut parts = [FaceSet::default(), FaceSet::default()];
        let mut new_index = vec![usize::MAX; n];
        for (i, name) in self.identities.iter().enumerate() {
            let part = &mut parts[usize::from(held_out[i])];
            new_index[i] = part.identities.len();
            part.identities.push(name.clone());
        }
        for sample in self.samples {
            let identity = sample.identity;
            parts[usize::from(held_out[identity])].samples.push(Sample { identity: new_index[identity], ..sample });
        }
        let [train, validation] = parts;
        (train, validation)
    }
}
