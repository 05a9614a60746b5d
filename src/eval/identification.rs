//! Closed-set identification, as FROM evaluates AR Face (`lib/core/ar_dataset.py`): every probe
//! is matched by cosine similarity against a labelled gallery; rank-1 accuracy and the CMC curve.
//!
//! Choices, where the official script has none or an accidental one:
//! * several gallery images of one identity: the identity's score is the maximum over its
//!   images. The official rank-1 (label of the single most similar gallery image) is the same.
//! * ties: a probe's rank is the number of gallery identities scoring >= its true identity, so
//!   a tie counts against it and the result does not depend on gallery order (the official
//!   stable sort lets the earlier gallery image win).
//! * probes whose identity is not in the gallery (open-set) cannot be ranked: they are left out
//!   of rank-1 and the CMC and counted in `open_set_probes`.
//! * probes in which no face was found ([`identify_with_faceless`]) count as misses at every
//!   rank when their identity is in the gallery, as `eval` scores a pair with such a photo
//!   "different"; they have no row in `per_probe`.
//! * embeddings are L2-normalised here; an all-zero embedding has similarity 0 with everything
//!   (as `face::embedder::cosine`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum IdentificationError {
    #[error("embedding {row} has {found} values, expected {expected}")]
    Dimension { row: usize, expected: usize, found: usize },
    #[error("{len} values are not a whole number of {dim}-dimensional embeddings")]
    FlatLength { len: usize, dim: usize },
    #[error("embeddings with no values")]
    ZeroDimension,
    #[error("embedding {row} holds a value that is not finite")]
    NotFinite { row: usize },
    #[error("gallery embeddings have {gallery} dimensions, probe embeddings {probes}")]
    DimensionMismatch { gallery: usize, probes: usize },
    #[error("{which}: {embeddings} embeddings but {labels} identity labels")]
    LabelCount { which: &'static str, embeddings: usize, labels: usize },
    #[error("the gallery is empty")]
    EmptyGallery,
    #[error("none of the {probes} probes has its identity in the gallery")]
    NoClosedSetProbes { probes: usize },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: folder name is not UTF-8")]
    NonUtf8 { path: PathBuf },
}

/// L2-normalised embeddings, stored row after row.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    data: Vec<f32>,
    dim: usize,
}

impl Embeddings {
    pub fn from_rows(rows: &[Vec<f32>]) -> Result<Self, IdentificationError> {
        let dim = rows.first().map_or(0, Vec::len);
        if dim == 0 && !rows.is_empty() {
            return Err(IdentificationError::ZeroDimension);
        }
        if let Some(row) = rows.iter().position(|r| r.len() != dim) {
            return Err(IdentificationError::Dimension { row, expected: dim, found: rows[row].len() });
        }
        Self::normalised(rows.concat(), dim)
    }

    /// `data` holds `data.len() / dim` embeddings of `dim` values each.
    pub fn from_flat(data: &[f32], dim: usize) -> Result<Self, IdentificationError> {
        if dim == 0 {
            return Err(IdentificationError::ZeroDimension);
        }
        if !data.len().is_multiple_of(dim) {
            return Err(IdentificationError::FlatLength { len: data.len(), dim });
        }
        Self::normalised(data.to_vec(), dim)
    }

    fn normalised(mut data: Vec<f32>, dim: usize) -> Result<Self, IdentificationError> {
        if dim == 0 {
            return Ok(Self { data, dim });
        }
        for (row, values) in data.chunks_mut(dim).enumerate() {
            if values.iter().any(|v| !v.is_finite()) {
                return Err(IdentificationError::NotFinite { row });
            }
            let norm = values.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
            if norm > 0.0 {
                values.iter_mut().for_each(|v| *v = (*v as f64 / norm) as f32);
            }
        }
        Ok(Self { data, dim })
    }

    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The normalised embedding `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

fn similarity(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// How one probe fared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub identity: String,
    /// 1-based rank of the true identity; `None` for an open-set probe.
    pub rank: Option<usize>,
    /// The top-scoring gallery identity (on a tie with the true identity, the other one, to
    /// agree with `rank`; otherwise the first by name).
    pub best_identity: String,
    pub best_score: f64,
    /// The true identity's score; `None` for an open-set probe.
    pub true_score: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentificationReport {
    pub gallery_images: usize,
    pub gallery_identities: usize,
    pub probes: usize,
    /// Probes whose identity is in the gallery: the denominator of rank-1 and the CMC.
    pub closed_set_probes: usize,
    /// Probes whose identity is not in the gallery, left out of rank-1 and the CMC.
    pub open_set_probes: usize,
    /// Probes in which no face was found (misses when closed-set), counted in `probes` too.
    #[serde(default)]
    pub probes_without_face: usize,
    pub rank1: f64,
    /// `cmc[k - 1]`: fraction of closed-set probes ranked k or better, k = 1..=min(gallery
    /// identities, max_rank).
    pub cmc: Vec<f64>,
    pub per_probe: Vec<ProbeResult>,
}

/// The rank of an identity scoring `score` among identities scoring `scores` (its own
/// included): how many score at least as much, so a tie counts against it.
pub fn rank_of(scores: &[f64], score: f64) -> usize {
    scores.iter().filter(|&&x| x >= score).count()
}

/// Who a photo shows, as its path says: LFW's `Name_0001.jpg` gives "Name"; otherwise the folder
/// it is in (a folder per identity), or its file name without the extension.
pub fn identity_of(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if let Some((name, number)) = stem.rsplit_once('_')
        && number.len() == 4
        && number.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
    {
        return name.to_string();
    }
    match path.parent().and_then(Path::file_name) {
        Some(folder) => folder.to_string_lossy().into_owned(),
        None => stem,
    }
}

/// Default CMC length.
pub const DEFAULT_MAX_RANK: usize = 20;

/// Ranks every probe against the gallery (see the module notes). `max_rank` bounds the CMC
/// (at least 1).
pub fn identify<G: AsRef<str>, P: AsRef<str>>(
    gallery: &Embeddings,
    gallery_ids: &[G],
    probes: &Embeddings,
    probe_ids: &[P],
    max_rank: usize,
) -> Result<IdentificationReport, IdentificationError> {
    identify_with_faceless(gallery, gallery_ids, probes, probe_ids, &[] as &[&str], max_rank)
}

/// [`identify`], plus `faceless`: the identities of probes in which no face was found (see the
/// module notes).
pub fn identify_with_faceless<G: AsRef<str>, P: AsRef<str>, F: AsRef<str>>(
    gallery: &Embeddings,
    gallery_ids: &[G],
    probes: &Embeddings,
    probe_ids: &[P],
    faceless: &[F],
    max_rank: usize,
) -> Result<IdentificationReport, IdentificationError> {
    if gallery_ids.len() != gallery.len() {
        return Err(IdentificationError::LabelCount {
            which: "gallery",
            embeddings: gallery.len(),
            labels: gallery_ids.len(),
        });
    }
    if probe_ids.len() != probes.len() {
        return Err(IdentificationError::LabelCount {
            which: "probes",
            embeddings: probes.len(),
            labels: probe_ids.len(),
        });
    }
    if gallery.is_empty() {
        return Err(IdentificationError::EmptyGallery);
    }
    if !probes.is_empty() && probes.dim() != gallery.dim() {
        return Err(IdentificationError::DimensionMismatch { gallery: gallery.dim(), probes: probes.dim() });
    }
    // Identities in name order, so results never depend on gallery order.
    let mut index: BTreeMap<&str, usize> = gallery_ids.iter().map(|id| (id.as_ref(), 0)).collect();
    for (i, slot) in index.values_mut().enumerate() {
        *slot = i;
    }
    let names: Vec<&str> = index.keys().copied().collect();
    let owner: Vec<usize> = gallery_ids.iter().map(|id| index[id.as_ref()]).collect();

    let mut per_probe = Vec::with_capacity(probes.len());
    let mut scores = vec![f64::NEG_INFINITY; names.len()];
    for (p, id) in probe_ids.iter().enumerate() {
        let id = id.as_ref();
        scores.fill(f64::NEG_INFINITY);
        for (g, &who) in owner.iter().enumerate() {
            scores[who] = scores[who].max(similarity(probes.row(p), gallery.row(g)));
        }
        let truth = index.get(id).copied();
        let true_score = truth.map(|t| scores[t]);
        let rank = true_score.map(|s| rank_of(&scores, s));
        let mut best = 0;
        for (i, &s) in scores.iter().enumerate().skip(1) {
            if s > scores[best] || (s == scores[best] && Some(best) == truth) {
                best = i;
            }
        }
        per_probe.push(ProbeResult {
            identity: id.to_string(),
            rank,
            best_identity: names[best].to_string(),
            best_score: scores[best],
            true_score,
        });
    }

    let ranks: Vec<usize> = per_probe.iter().filter_map(|r| r.rank).collect();
    let faceless_closed = faceless.iter().filter(|id| index.contains_key(id.as_ref())).count();
    let closed = ranks.len() + faceless_closed;
    if closed == 0 {
        return Err(IdentificationError::NoClosedSetProbes { probes: probes.len() + faceless.len() });
    }
    let cmc: Vec<f64> = (1..=names.len().min(max_rank.max(1)))
        .map(|k| ranks.iter().filter(|&&r| r <= k).count() as f64 / closed as f64)
        .collect();
    Ok(IdentificationReport {
        gallery_images: gallery.len(),
        gallery_identities: names.len(),
        probes: probes.len() + faceless.len(),
        closed_set_probes: closed,
        open_set_probes: probes.len() + faceless.len() - closed,
        probes_without_face: faceless.len(),
        rank1: cmc[0],
        cmc,
        per_probe,
    })
}

/// An image path and the identity it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelledImage {
    pub identity: String,
    pub path: PathBuf,
}

/// Image files recognised by extension (case-insensitive): the formats `image` is built with.
pub const IMAGE_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "bmp", "gif", "webp"];

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, IdentificationError> {
    let io = |source| IdentificationError::Io { path: dir.to_path_buf(), source };
    let mut paths = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    paths.sort();
    Ok(paths)
}

fn hidden(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// `root/<identity>/<image>`: one folder per identity, images directly inside it. Sorted by
/// identity folder, then file name. Files directly under `root`, deeper folders, hidden
/// entries and files with other extensions are ignored. Nothing is decoded.
pub fn list_identity_folders(root: &Path) -> Result<Vec<LabelledImage>, IdentificationError> {
    let mut images = Vec::new();
    for folder in read_dir_sorted(root)? {
        if hidden(&folder) || !folder.is_dir() {
            continue;
        }
        let identity = folder
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| IdentificationError::NonUtf8 { path: folder.clone() })?
            .to_string();
        for path in read_dir_sorted(&folder)? {
            let is_image = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
            if is_image && !hidden(&path) && path.is_file() {
                images.push(LabelledImage { identity: identity.clone(), path });
            }
        }
    }
    Ok(images)
}

/// The gallery and probe lists of a `gallery/<id>/*`, `probe/<id>/*` layout.
pub fn list_gallery_and_probes(
    gallery_root: &Path,
    probe_root: &Path,
) -> Result<(Vec<LabelledImage>, Vec<LabelledImage>), IdentificationError> {
    Ok((list_identity_folders(gallery_root)?, list_identity_folders(probe_root)?))
}
