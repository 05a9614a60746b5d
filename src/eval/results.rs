//! What an evaluation sweep found, as data: the `results.json` document (every number with the
//! protocol, model identities, seeds and run facts needed to reproduce it) and its flat
//! `results.csv` view, one row per condition and compared path. Pure serde, no tensors.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::conditions::{Condition, RegionFill, SquareFillKind};
use super::folds::FoldScheme;
use super::mask_contrast::MaskContrast;
use super::pairs::PairsFormat;
use super::roc::{TarResult, TarRule};
use super::verification::VerificationReport;
use crate::occlusion::PasteBackground;

/// ROC points kept per curve in results.json: enough to redraw the curve on linear and log
/// axes (see `Roc::decimated`); AUC, EER and TAR are computed on the full curve first.
pub const STORED_ROC_POINTS: usize = 400;

/// Which embedding of a model a compared path uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Embedding {
    /// Features times FROM's mask ("FROM").
    Masked,
    /// The same network without the mask ("baseline"), or a plain embedder's only embedding.
    Unmasked,
}

/// One compared path: a model's masked or unmasked embedding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathInfo {
    /// Unique name in tables and legends, e.g. "FROM" or "baseline".
    pub label: String,
    /// Index into [`SweepResults::models`].
    pub model: usize,
    pub embedding: Embedding,
}

/// The model label and the embedding ("masked"/"unmasked") of the compared path `label`, as the
/// CSV files write them (empty when unknown).
pub fn path_columns<'a>(paths: &[PathInfo], models: &'a [ModelIdentity], label: &str) -> (&'a str, &'static str) {
    let info = paths.iter().find(|p| p.label == label);
    let model = info.and_then(|i| models.get(i.model)).map_or("", |m| m.label.as_str());
    let embedding = info.map_or("", |i| match i.embedding {
        Embedding::Masked => "masked",
        Embedding::Unmasked => "unmasked",
    });
    (model, embedding)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelIdentity {
    pub label: String,
    pub path: PathBuf,
    /// SHA-256 of the model file; `None` for a model that was not read from a file.
    pub sha256: Option<String>,
    /// "FROM-MobileFaceNet", "FROM-LResNet" or "MobileFaceNet".
    pub network: String,
    pub has_mask: bool,
    /// `[height, width]` of the aligned faces it reads.
    pub input_size: [usize; 2],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Software {
    pub name: String,
    pub version: String,
}

impl Software {
    pub fn this() -> Self {
        Self { name: env!("CARGO_PKG_NAME").into(), version: env!("CARGO_PKG_VERSION").into() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairsSummary {
    pub file: PathBuf,
    pub images: Option<PathBuf>,
    pub format: PairsFormat,
    pub count: usize,
    pub genuine: usize,
    pub impostor: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionOccluderInfo {
    pub region: String,
    /// `class/name` of the drawing, or "grey" for the grey fill.
    pub fill: String,
    /// The region box's share of the 112x96 face.
    pub area_ratio: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seeds {
    pub occ_lfw_2_0: u64,
    pub square_positions: u64,
}

/// How faces were occluded and scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    pub conditions: Vec<Condition>,
    /// Always "second": the first image of each pair stays clean.
    pub occluded_image: String,
    pub region_fill: RegionFill,
    /// What shows through pasted occluders' transparent parts (region fill `pasted`,
    /// `occ-lfw-2.0-pasted`); results written before it existed read as grey.
    #[serde(default)]
    pub paste_background: PasteBackground,
    pub region_occluders: Vec<RegionOccluderInfo>,
    pub square_fill: SquareFillKind,
    pub seeds: Seeds,
    /// "central" or "largest": which face of a photo with several.
    pub face_pick: String,
    /// "112x96" or "112x112" when the photos were taken as aligned crops (`--aligned`), with no
    /// detection; absent when every photo went through the detector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aligned_input: Option<String>,
    /// How a pair whose photo has no detectable face is scored.
    pub missing_face_score: f32,
    /// How the pairs were split into the 10 folds.
    pub folds: FoldScheme,
    /// How TAR at FAR was read off the scores (`roc`, or the FROM code's `authors`); results
    /// written before it existed used `roc`.
    #[serde(default)]
    pub tar_rule: TarRule,
    /// How the accuracy is computed.
    pub accuracy: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhotoSummary {
    pub distinct: usize,
    /// Photos in which the detector found no face (paths as in the pairs file's layout).
    pub without_face: Vec<PathBuf>,
    /// Pairs with such a photo: scored [`Protocol::missing_face_score`] under every condition.
    pub pairs_with_missing_face: usize,
    /// Photos whose data is damaged (a truncated or corrupt JPEG), decoded with the lost parts
    /// filled in and scored as they came out.
    #[serde(default)]
    pub damaged: Vec<PathBuf>,
}

/// Work done against work found in the cache; a rerun of the same sweep has no fresh entries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    pub root: Option<PathBuf>,
    pub aligned_fresh: usize,
    pub aligned_cached: usize,
    pub embedded_fresh: usize,
    pub embedded_cached: usize,
    /// Entries whose checksum or layout failed: treated as missing, recomputed and rewritten.
    #[serde(default)]
    pub damaged_recomputed: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Reading, detecting and aligning photos (or reading them from the cache).
    pub align_s: f64,
    /// Occluding, embedding (or reading embeddings from the cache) and scoring.
    pub embed_s: f64,
}

/// Metrics of one compared path under one condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathResult {
    /// [`PathInfo::label`].
    pub path: String,
    pub report: VerificationReport,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionResult {
    pub condition: Condition,
    pub label: String,
    /// Mean occluded share of the face box over the pairs' second faces (0 for clean); the
    /// 112x112 crop's side margins do not count, so a grey region scores its area ratio.
    pub area_fraction: f64,
    /// The region box's area ratio (regions only).
    pub region_area_ratio: Option<f64>,
    /// Distinct second faces occluded and embedded.
    pub occluded_faces: usize,
    pub paths: Vec<PathResult>,
    /// How the compared FROM model's mask treats those faces' occluded and visible cells (when
    /// measured: occluded conditions, a FROM model, and asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_contrast: Option<MaskContrast>,
}

impl ConditionResult {
    pub fn path(&self, label: &str) -> Option<&VerificationReport> {
        self.paths.iter().find(|p| p.path == label).map(|p| &p.report)
    }
}

/// The whole results.json document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResults {
    pub software: Software,
    /// Seconds since the Unix epoch when the run finished.
    pub finished_unix_s: u64,
    pub wall_time_s: f64,
    /// The device the networks ran on, as `maskscope info` prints it.
    pub device: String,
    pub pairs: PairsSummary,
    pub protocol: Protocol,
    pub models: Vec<ModelIdentity>,
    pub paths: Vec<PathInfo>,
    pub photos: PhotoSummary,
    pub cache: CacheStats,
    pub timings: Timings,
    pub conditions: Vec<ConditionResult>,
}

impl SweepResults {
    pub fn condition(&self, condition: Condition) -> Option<&ConditionResult> {
        self.conditions.iter().find(|c| c.condition == condition)
    }

    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// The CSV view: a header and one row per condition x path. A TAR whose FAR the impostor
    /// pairs cannot resolve is an empty cell (results.json says why).
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(CSV_HEADER)?;
        for condition in &self.conditions {
            for path in &condition.paths {
                let (model, embedding) = path_columns(&self.paths, &self.models, &path.path);
                let r = &path.report;
                let tar = |far: f64| {
                    r.tar_at_far
                        .iter()
                        .find(|t| t.far == far)
                        .and_then(|t| match t.result {
                            TarResult::Measured { tar, .. } => Some(format!("{tar:.6}")),
                            TarResult::NotEnoughImpostorPairs { .. } => None,
                        })
                        .unwrap_or_default()
                };
                writer.write_record([
                    condition.condition.name(),
                    condition.label.clone(),
                    format!("{:.6}", condition.area_fraction),
                    path.path.clone(),
                    model.to_string(),
                    embedding.to_string(),
                    r.pairs.to_string(),
                    r.genuine.to_string(),
                    r.impostor.to_string(),
                    self.photos.pairs_with_missing_face.to_string(),
                    format!("{:.6}", r.ten_fold.mean),
                    format!("{:.6}", r.ten_fold.std),
                    format!("{:.4}", r.ten_fold.mean_threshold),
                    format!("{:.6}", r.best_threshold.accuracy),
                    format!("{:.4}", r.best_threshold.threshold),
                    format!("{:.6}", r.auc),
                    format!("{:.6}", r.eer.rate),
                    tar(1e-2),
                    tar(1e-3),
                    tar(1e-4),
                ])?;
            }
        }
        let bytes = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
        Ok(String::from_utf8(bytes).expect("the CSV writer writes the UTF-8 it is given"))
    }
}

pub const CSV_HEADER: [&str; 20] = [
    "condition",
    "condition_label",
    "area_fraction",
    "path",
    "model",
    "embedding",
    "pairs",
    "genuine",
    "impostor",
    "pairs_with_missing_face",
    "accuracy_mean",
    "accuracy_std",
    "mean_threshold",
    "best_threshold_accuracy",
    "best_threshold",
    "auc",
    "eer",
    "tar_at_far_1e-2",
    "tar_at_far_1e-3",
    "tar_at_far_1e-4",
];
