//! Sweeps split over machines: `eval --shard I/N` measures a contiguous slice of the pairs and
//! writes what it measured, unfinished (a [`PartialSweep`]); `maskscope merge` puts the N parts
//! back together and finishes them into exactly the results one run gives. Pure data and
//! arithmetic, no tensors.
//!
//! Exactness: a part keeps the raw numbers the metrics are made of (each pair's score on every
//! path, each pair's occluded area, each occluded face's mask-contrast subtotals) and one run
//! finishes its conditions from the same numbers ([`finish_condition`]), so sums run in the same
//! order over the same values. A second photo shared by pairs of two shards has its mask contrast
//! measured by the shard of its first pair only.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ScoresError;
use super::conditions::Condition;
use super::folds::fold_order;
use super::mask_contrast::{ContrastSums, FaceContrast};
use super::results::{CacheStats, ConditionResult, PathResult, PhotoSummary, STORED_ROC_POINTS, SweepResults, Timings};
use super::verification::verification_report_with;
use crate::occlusion::Region;

/// Written at the top of every part; a file without it is not one.
pub const PARTIAL_FORMAT: &str = "maskscope partial sweep 1";
/// The part's file name inside the `--out` folder of `eval --shard`.
pub const PARTIAL_FILE: &str = "partial.json";
/// The file beside [`PARTIAL_FILE`] holding a part's example face under `condition` (for the
/// Figure-1 thumbnails).
pub fn thumbnail_file(condition: Condition) -> String {
    format!("thumbnail-{}.png", condition.name())
}

#[derive(Debug, thiserror::Error)]
pub enum PartialError {
    #[error("--shard {0}: expected I/N with 1 <= I <= N, e.g. 3/8")]
    BadShard(String),
    #[error("scoring {condition} / {path}: {source}")]
    Scores { condition: String, path: String, source: ScoresError },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: not a part of a sharded sweep: {message}", path.display())]
    NotAPart { path: PathBuf, message: String },
    #[error("{} does not belong with {}: its {what} differs", path.display(), first.display())]
    Mismatch { path: PathBuf, first: PathBuf, what: &'static str },
    #[error("shard {shard} of {count} is given twice: {} and {}", first.display(), second.display())]
    Duplicate { shard: usize, count: usize, first: PathBuf, second: PathBuf },
    #[error("shards missing: {missing:?} of {count} (each of 1..={count} is needed once)")]
    Missing { missing: Vec<usize>, count: usize },
    #[error("no parts to merge")]
    Empty,
}

/// Shard `index` (0-based) of `count`: a contiguous block of the pairs in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The pairs (indices in file order) this shard measures: the `index`-th of `count` nearly
    /// equal blocks.
    pub fn range(self, pairs: usize) -> Range<usize> {
        self.index * pairs / self.count..(self.index + 1) * pairs / self.count
    }
}

impl std::str::FromStr for Shard {
    type Err = PartialError;

    /// "I/N", 1-based as array jobs number their tasks (Slurm's `$SLURM_ARRAY_TASK_ID` from 1).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || PartialError::BadShard(text.to_string());
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (i, n): (usize, usize) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if i == 0 || i > n {
            return Err(bad());
        }
        Ok(Shard { index: i - 1, count: n })
    }
}

/// One condition as measured over some of the pairs, before any metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawCondition {
    pub condition: Condition,
    /// Per compared path (results' `paths` order), the score of each pair measured, file order.
    pub scores: Vec<Vec<f32>>,
    /// Per pair measured: the occluded share of its second face, `None` when it has no face.
    pub areas: Vec<Option<f64>>,
    /// Second photos (indices into the distinct photos) occluded and embedded.
    pub occluded: Vec<usize>,
    /// Mask-contrast subtotals of the faces measured (photo index, face), by photo index;
    /// `None` when not measured.
    pub contrast: Option<Vec<(usize, FaceContrast)>>,
}

/// The metrics of a condition measured over every pair. `same` and the scores are in file
/// order; `order` is the pairs' order in the 10-fold protocol ([`fold_order`], computed once per
/// sweep).
pub fn finish_condition(
    raw: &RawCondition,
    labels: &[String],
    same: &[bool],
    order: &[usize],
    tar_rule: super::roc::TarRule,
) -> Result<ConditionResult, PartialError> {
    let same_ordered: Vec<bool> = order.iter().map(|&i| same[i]).collect();
    let mut paths = Vec::with_capacity(labels.len());
    for (label, scores) in labels.iter().zip(&raw.scores) {
        let ordered: Vec<f32> = order.iter().map(|&i| scores.get(i).copied().unwrap_or(f32::NAN)).collect();
        let report = verification_report_with(&ordered, &same_ordered, tar_rule)
            .map_err(|source| PartialError::Scores { condition: raw.condition.label(), path: label.clone(), source })?;
        paths.push(PathResult { path: label.clone(), report: report.decimated(STORED_ROC_POINTS) });
    }
    let scored: Vec<f64> = raw.areas.iter().flatten().copied().collect();
    let mask_contrast = raw.contrast.as_ref().map(|faces| {
        let mut sums = ContrastSums::default();
        faces.iter().for_each(|(_, face)| sums.add_face(face));
        sums.finish()
    });
    Ok(ConditionResult {
        condition: raw.condition,
        label: raw.condition.label(),
        area_fraction: if scored.is_empty() { 0.0 } else { scored.iter().sum::<f64>() / scored.len() as f64 },
        region_area_ratio: raw.condition.region().map(Region::area_ratio),
        occluded_faces: if raw.condition.is_occluded() { raw.occluded.len() } else { 0 },
        paths,
        mask_contrast,
    })
}

/// What `eval --shard` writes: its slice measured, and everything a merge checks and needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialSweep {
    pub format: String,
    pub shard: Shard,
    /// SHA-256 of the pairs file's bytes: all parts must have read the same file.
    pub pairs_sha256: String,
    /// Same/different of every pair of the file, in file order.
    pub same: Vec<bool>,
    /// The distinct photos of the whole pairs file, in the order photo indices refer to.
    pub photo_paths: Vec<PathBuf>,
    /// The run's results.json, without conditions: protocol, models, paths, and this shard's
    /// photo summary, cache counts and timings.
    pub results: SweepResults,
    /// One per condition, over this shard's pairs.
    pub raw: Vec<RawCondition>,
    /// Conditions whose example face is beside the part ([`thumbnail_file`]).
    pub thumbnails: Vec<Condition>,
}

impl PartialSweep {
    /// Reads a part: `partial.json`, or the folder holding it.
    pub fn read(path: &Path) -> Result<(PathBuf, Self), PartialError> {
        let file = if path.is_dir() { path.join(PARTIAL_FILE) } else { path.to_path_buf() };
        let bytes = crate::input_file::read(&file, 1 << 30)
            .map_err(|source| PartialError::Io { path: file.clone(), source })?;
        let part: PartialSweep = serde_json::from_slice(&bytes)
            .map_err(|e| PartialError::NotAPart { path: file.clone(), message: e.to_string() })?;
        if part.format != PARTIAL_FORMAT {
            return Err(PartialError::NotAPart { path: file, message: format!("format {:?}", part.format) });
        }
        Ok((file, part))
    }
}

/// The merged results, and the part whose example faces Figure 1 shows: the first shard that
/// has any, whose faces are the ones one run picks (its file, and their conditions).
pub struct Merged {
    pub results: SweepResults,
    pub thumbnails_from: Option<(PathBuf, Vec<Condition>)>,
}

/// Puts the parts of one sharded sweep back together (any order; each shard exactly once) and
/// finishes every condition. `parts` carry the file each was read from, for messages.
pub fn merge(mut parts: Vec<(PathBuf, PartialSweep)>) -> Result<Merged, PartialError> {
    let (first_path, first) = parts.first().ok_or(PartialError::Empty)?.clone();
    for (path, part) in &parts {
        let differs = |what| PartialError::Mismatch { path: path.clone(), first: first_path.clone(), what };
        let checks: [(&'static str, bool); 8] = [
            ("pairs file (SHA-256)", part.pairs_sha256 == first.pairs_sha256),
            ("shard count", part.shard.count == first.shard.count),
            ("pairs", part.same == first.same && part.results.pairs == first.results.pairs),
            ("photos", part.photo_paths == first.photo_paths),
            ("protocol", part.results.protocol == first.results.protocol),
            ("models", part.results.models == first.results.models),
            ("compared paths", part.results.paths == first.results.paths),
            ("conditions", part.raw.iter().map(|r| r.condition).eq(first.raw.iter().map(|r| r.condition))),
        ];
        if let Some((what, _)) = checks.iter().find(|(_, same)| !same) {
            return Err(differs(what));
        }
    }
    parts.sort_by_key(|(_, part)| part.shard.index);
    for pair in parts.windows(2) {
        if pair[0].1.shard.index == pair[1].1.shard.index {
            return Err(PartialError::Duplicate {
                shard: pair[0].1.shard.index + 1,
                count: first.shard.count,
                first: pair[0].0.clone(),
                second: pair[1].0.clone(),
            });
        }
    }
    let present: Vec<usize> = parts.iter().map(|(_, p)| p.shard.index).collect();
    let missing: Vec<usize> = (0..first.shard.count).filter(|i| !present.contains(i)).map(|i| i + 1).collect();
    if !missing.is_empty() {
        return Err(PartialError::Missing { missing, count: first.shard.count });
    }

    let labels: Vec<String> = first.results.paths.iter().map(|p| p.label.clone()).collect();
    let protocol = &first.results.protocol;
    let order = fold_order(&first.same, protocol.folds);
    let mut conditions = Vec::with_capacity(first.raw.len());
    for c in 0..first.raw.len() {
        let mut whole = RawCondition {
            condition: first.raw[c].condition,
            scores: vec![Vec::new(); labels.len()],
            areas: Vec::new(),
            occluded: Vec::new(),
            contrast: first.raw[c].contrast.as_ref().map(|_| Vec::new()),
        };
        for (_, part) in &parts {
            let raw = &part.raw[c];
            for (all, some) in whole.scores.iter_mut().zip(&raw.scores) {
                all.extend_from_slice(some);
            }
            whole.areas.extend_from_slice(&raw.areas);
            whole.occluded.extend_from_slice(&raw.occluded);
            if let (Some(all), Some(some)) = (&mut whole.contrast, &raw.contrast) {
                all.extend_from_slice(some);
            }
        }
        whole.occluded.sort_unstable();
        whole.occluded.dedup();
        if let Some(all) = &mut whole.contrast {
            all.sort_by_key(|(photo, _)| *photo);
        }
        conditions.push(finish_condition(&whole, &labels, &first.same, &order, protocol.tar_rule)?);
    }

    // Photo facts: unions in photo order, counts summed (the shards' pairs are disjoint).
    let index = |path: &PathBuf| first.photo_paths.iter().position(|p| p == path).unwrap_or(usize::MAX);
    let union = |pick: fn(&PhotoSummary) -> &Vec<PathBuf>| {
        let mut all: Vec<PathBuf> = parts.iter().flat_map(|(_, p)| pick(&p.results.photos).clone()).collect();
        all.sort_by_key(index);
        all.dedup();
        all
    };
    let photos = PhotoSummary {
        distinct: first.photo_paths.len(),
        without_face: union(|p| &p.without_face),
        pairs_with_missing_face: parts.iter().map(|(_, p)| p.results.photos.pairs_with_missing_face).sum(),
        damaged: union(|p| &p.damaged),
    };
    let mut cache = CacheStats { root: first.results.cache.root.clone(), ..CacheStats::default() };
    let mut timings = Timings::default();
    for (_, part) in &parts {
        let c = &part.results.cache;
        cache.aligned_fresh += c.aligned_fresh;
        cache.aligned_cached += c.aligned_cached;
        cache.embedded_fresh += c.embedded_fresh;
        cache.embedded_cached += c.embedded_cached;
        cache.damaged_recomputed += c.damaged_recomputed;
        timings.align_s += part.results.timings.align_s;
        timings.embed_s += part.results.timings.embed_s;
    }
    let thumbnails_from =
        parts.iter().find(|(_, p)| !p.thumbnails.is_empty()).map(|(file, p)| (file.clone(), p.thumbnails.clone()));
    let mut results = first.results.clone();
    results.finished_unix_s = parts.iter().map(|(_, p)| p.results.finished_unix_s).max().unwrap_or(0);
    // Machine time over all shards (they may have run at once).
    results.wall_time_s = parts.iter().map(|(_, p)| p.results.wall_time_s).sum();
    let mut devices: Vec<&str> = parts.iter().map(|(_, p)| p.results.device.as_str()).collect();
    devices.dedup();
    results.device = devices.join("; ");
    results.photos = photos;
    results.cache = cache;
    results.timings = timings;
    results.conditions = conditions;
    Ok(Merged { results, thumbnails_from })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_pairs_once_in_order() {
        for (pairs, count) in [(1000, 8), (7, 3), (3, 5), (10, 1)] {
            let covered: Vec<usize> = (0..count).flat_map(|index| Shard { index, count }.range(pairs)).collect();
            assert_eq!(covered, (0..pairs).collect::<Vec<_>>(), "{pairs} pairs in {count} shards");
        }
        assert_eq!("3/8".parse::<Shard>().unwrap(), Shard { index: 2, count: 8 });
        for bad in ["0/4", "5/4", "4", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
