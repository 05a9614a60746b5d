//! The evaluation sweep behind `maskscope eval` (and the GUI's live sweep): verification of a
//! pairs list under every occlusion condition, for every compared embedding path.
//!
//! Work is shared as much as the protocol allows. Each distinct photo is detected and aligned
//! once per template (and cached on disk). Clean faces are embedded once per model; under each
//! occluded condition only the distinct second faces of the pairs are occluded and embedded.
//! Embeddings are cached on disk by model and face content (see `face::embedding_cache`), so a
//! rerun, or a run with one more condition, embeds only what it has not seen. A FROM model
//! yields both of its paths from one forward pass.

mod embed;
pub mod identify;
mod photos;
mod score;
mod spec;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::tensor::Device;
use image::RgbImage;
use rayon::prelude::*;

use super::ScoresError;
use super::conditions::{Condition, ConditionError, Occluders, RegionFill, face_area_fraction, region_occluder};
use super::folds::{fold_order, fold_scheme};
use super::mask_contrast::{FaceContrast, cell_coverage};
use super::partial::{PartialError, RawCondition, finish_condition};
use super::results::{
    CacheStats, ConditionResult, ModelIdentity, PairsSummary, PathInfo, PhotoSummary, Protocol, RegionOccluderInfo,
    Seeds, Software, SweepResults, Timings,
};
use crate::align::FaceTemplate;
use crate::face::cache::{CacheError, file_sha256};
use crate::face::embedding_cache::{EmbeddingCache, EmbeddingPair};
use crate::face::from_model::{FaceModel, MODEL_BATCH, ModelError, Network};
use crate::face::{FaceError, FaceFinder, FacePick};
use crate::occlusion::{OccluderLibrary, OcclusionError, Region};
use crate::patterns::BinaryMask;

pub use score::{MISSING_FACE_SCORE, compared_paths};
pub use spec::{SweepSetup, SweepSpec};

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("interrupted: nothing was written (finished work is kept in the cache)")]
    Cancelled,
    #[error("pairs line {line}: image {} does not exist", path.display())]
    MissingImage { line: usize, path: PathBuf },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Condition(#[from] ConditionError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Face(#[from] FaceError),
    #[error("loading model {}: {source}", path.display())]
    LoadModel { path: PathBuf, source: ModelError },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("occluding {key} ({condition}): {source}")]
    Occlusion { condition: Condition, key: String, source: OcclusionError },
    #[error("scoring {condition} / {path}: {source}")]
    Scores { condition: Condition, path: String, source: ScoresError },
}

/// A model taking part in a sweep.
pub struct SweepModel {
    pub model: FaceModel,
    /// Its name in tables and legends.
    pub label: String,
    /// SHA-256 of the model file: identifies it in results.json and keys its embedding cache
    /// (`None`: a model built in memory, whose embeddings are not cached).
    pub sha256: Option<String>,
}

impl SweepModel {
    /// Loads and hashes a model file; the label is the file name without its extension.
    pub fn load(path: &Path, device: &Device) -> Result<Self, SweepError> {
        let model = FaceModel::load(path, device)
            .map_err(|source| SweepError::LoadModel { path: path.to_path_buf(), source })?;
        let sha256 = Some(file_sha256(path)?);
        let label = path.file_stem().map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
        Ok(Self { model, label, sha256 })
    }

    pub fn network_name(&self) -> &'static str {
        match self.model.network {
            Network::FromMobileFaceNet { .. } => "FROM-MobileFaceNet",
            Network::FromLResNet { .. } => "FROM-LResNet",
            Network::Plain { .. } => "MobileFaceNet",
        }
    }

    pub fn identity(&self) -> ModelIdentity {
        ModelIdentity {
            label: self.label.clone(),
            path: self.model.source.clone(),
            sha256: self.sha256.clone(),
            network: self.network_name().into(),
            has_mask: self.model.has_mask(),
            input_size: self.model.input_size(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepStage {
    /// Units: photos (times templates).
    Align,
    /// Units: faces embedded or read from the cache.
    Embed,
}

/// Hooks for progress displays; every method has an empty default.
pub trait SweepObserver {
    /// A stage starts with `total` units of work.
    fn stage(&mut self, _stage: SweepStage, _total: usize) {}
    /// `units` more are done.
    fn advance(&mut self, _units: usize) {}
    fn condition_started(&mut self, _condition: Condition) {}
    fn condition_finished(&mut self, _result: &ConditionResult) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl SweepObserver for Silent {}

/// What [`run_sweep`] measured.
pub struct SweepOutcome {
    pub paths: Vec<PathInfo>,
    /// Every condition finished; empty for a shard, whose conditions are only measured.
    pub conditions: Vec<ConditionResult>,
    /// Every condition as measured over this run's pairs (all of them, or a shard's).
    pub raw: Vec<RawCondition>,
    pub photos: PhotoSummary,
    pub cache: CacheStats,
    pub timings: Timings,
    /// One example second face (the first pair's with a face) under each occluded condition.
    pub thumbnails: Vec<(Condition, RgbImage)>,
    /// The distinct photos of the whole pairs list, in the order `raw` refers to them.
    pub photo_paths: Vec<PathBuf>,
}

/// Runs the sweep over every pair, or over [`SweepSpec::shard`]'s slice (measured, not finished:
/// `partial::merge` finishes the shards together). `cancel` is polled between photos and
/// batches; once set, the sweep returns [`SweepError::Cancelled`] having written nothing but
/// complete cache entries.
pub fn run_sweep(
    spec: &SweepSpec,
    models: &[SweepModel],
    finder: &mut FaceFinder,
    library: &OccluderLibrary,
    observer: &mut dyn SweepObserver,
    cancel: &AtomicBool,
) -> Result<SweepOutcome, SweepError> {
    // Missing photos first: the most specific message about a broken pairs file.
    let photos = photos::Photos::collect(&spec.pairs.pairs, spec.images_root.as_deref())?;
    check_inputs(spec, models)?;
    let occluders = spec.setup.occluders(library)?;
    let mut cache = CacheStats { root: spec.setup.cache_root.clone(), ..CacheStats::default() };
    spec.setup.apply(finder);
    let selected = spec.shard.map_or(0..photos.pairs.len(), |s| s.range(photos.pairs.len()));
    let pairs = &photos.pairs[selected.clone()];
    let mut needed = vec![false; photos.len()];
    for &(a, b) in pairs {
        needed[a] = true;
        needed[b] = true;
    }

    let start = Instant::now();
    let templates = distinct_templates(models);
    let needed_count = needed.iter().filter(|&&n| n).count();
    observer.stage(SweepStage::Align, needed_count * templates.len());
    let mut aligned: Vec<Vec<Option<RgbImage>>> = Vec::new();
    let mut damaged = Vec::new();
    for &template in &templates {
        let root = spec.setup.cache_root.as_deref();
        let (faces, damaged_here) =
            photos::align_photos(&photos, Some(&needed), finder, template, root, &mut cache, observer, cancel)?;
        aligned.push(faces);
        damaged.extend(damaged_here);
    }
    damaged.sort_unstable();
    damaged.dedup();
    let align_s = start.elapsed().as_secs_f64();
    // A photo counts as faceless if any template lost it, so that all paths score the same pairs.
    let has_face: Vec<bool> = (0..photos.len()).map(|p| aligned.iter().all(|faces| faces[p].is_some())).collect();
    let summary = PhotoSummary {
        distinct: photos.len(),
        without_face: (0..photos.len())
            .filter(|&p| needed[p] && !has_face[p])
            .map(|p| photos.paths[p].clone())
            .collect(),
        pairs_with_missing_face: pairs.iter().filter(|&&(a, b)| !has_face[a] || !has_face[b]).count(),
        damaged: damaged.iter().map(|&p| photos.paths[p].clone()).collect(),
    };

    let start = Instant::now();
    let template_of = |m: &SweepModel| templates.iter().position(|&t| t == m.model.template()).expect("listed above");
    let caches = embedding_caches(spec.setup.cache_root.as_deref(), models)?;
    let has_clean = spec.conditions.contains(&Condition::Clean);
    let mut needs_clean = vec![false; photos.len()];
    let mut seconds: Vec<usize> = Vec::new();
    for &(a, b) in pairs {
        needs_clean[a] |= has_face[a];
        needs_clean[b] |= has_face[b] && has_clean;
        if has_face[b] {
            seconds.push(b);
        }
    }
    seconds.sort_unstable();
    seconds.dedup();
    // The mask contrast of a second photo is measured once over all shards: by the shard of the
    // first pair that has it second.
    let mut first_pair_of = vec![usize::MAX; photos.len()];
    for (i, &(_, b)) in photos.pairs.iter().enumerate().rev() {
        first_pair_of[b] = i;
    }
    let owned: Vec<bool> = seconds.iter().map(|&b| selected.contains(&first_pair_of[b])).collect();
    let clean_photos: Vec<usize> = (0..photos.len()).filter(|&p| needs_clean[p]).collect();
    let occluded = spec.conditions.iter().filter(|c| c.is_occluded()).count();
    observer.stage(SweepStage::Embed, models.len() * (clean_photos.len() + occluded * seconds.len()));

    let mut clean: Vec<Vec<Option<EmbeddingPair>>> = Vec::new();
    for (m, model) in models.iter().enumerate() {
        let faces = &aligned[template_of(model)];
        let inputs: Vec<&RgbImage> = clean_photos.iter().map(|&p| faces[p].as_ref().expect("has a face")).collect();
        let embedded = embed::embed_faces(&model.model, caches[m].as_ref(), &inputs, &mut cache, observer, cancel)?;
        clean.push(by_photo(photos.len(), &clean_photos, embedded));
    }

    let paths = compared_paths(&models.iter().map(|m| (m.label.clone(), m.model.has_mask())).collect::<Vec<_>>());
    let labels: Vec<String> = paths.iter().map(|p| p.label.clone()).collect();
    // Cells covered by an occlusion mean something only for a mask over the face.
    let contrast_model = models.iter().position(|m| m.model.has_spatial_mask()).filter(|_| spec.mask_contrast);
    let same: Vec<bool> = spec.pairs.pairs.iter().map(|p| p.same).collect();
    let order = fold_order(&same, fold_scheme(spec.pairs.layout));
    let mut raws = Vec::with_capacity(spec.conditions.len());
    let mut conditions = Vec::with_capacity(spec.conditions.len());
    for &condition in &spec.conditions {
        if cancel.load(Ordering::Relaxed) {
            return Err(SweepError::Cancelled);
        }
        observer.condition_started(condition);
        let mut second_embeddings: Vec<Vec<Option<EmbeddingPair>>> = Vec::new();
        let mut area_by_photo = vec![0.0; photos.len()];
        let mut contrast = None;
        if condition.is_occluded() {
            let mut occlusion_masks: Vec<BinaryMask> = Vec::new();
            let mut occluded_faces: Vec<Vec<RgbImage>> = Vec::new();
            for (t, faces) in aligned.iter().enumerate() {
                // Each face's occlusion depends only on its key, so the faces are made in parallel.
                let made: Vec<Result<(RgbImage, Option<BinaryMask>), SweepError>> = seconds
                    .par_iter()
                    .map(|&p| {
                        let mut face = faces[p].clone().expect("has a face");
                        let key = &photos.keys[p];
                        let occlusion = occluders
                            .apply(condition, &mut face, key)
                            .map_err(|source| SweepError::Occlusion { condition, key: key.clone(), source })?;
                        Ok((face, occlusion.map(|o| o.mask)))
                    })
                    .collect();
                let mut out = Vec::with_capacity(seconds.len());
                let keep_masks = contrast_model.is_some_and(|m| template_of(&models[m]) == t);
                for (&p, result) in seconds.iter().zip(made) {
                    let (face, mask) = result?;
                    // The area is reported for the first model's template.
                    if let (0, Some(mask)) = (t, &mask) {
                        area_by_photo[p] = face_area_fraction(mask);
                    }
                    if keep_masks {
                        occlusion_masks.push(
                            mask.unwrap_or_else(|| BinaryMask::new(face.height() as usize, face.width() as usize)),
                        );
                    }
                    out.push(face);
                }
                occluded_faces.push(out);
            }
            if let Some(m) = contrast_model {
                let (faces, masks): (Vec<&RgbImage>, Vec<&BinaryMask>) = occluded_faces[template_of(&models[m])]
                    .iter()
                    .zip(&occlusion_masks)
                    .zip(&owned)
                    .filter(|(_, own)| **own)
                    .map(|(pair, _)| pair)
                    .unzip();
                let measured = measure_contrast(&models[m].model, &faces, &masks, cancel)?;
                let owners = seconds.iter().zip(&owned).filter(|(_, own)| **own).map(|(&p, _)| p);
                contrast = Some(owners.zip(measured).collect());
            }
            for (m, model) in models.iter().enumerate() {
                let inputs: Vec<&RgbImage> = occluded_faces[template_of(model)].iter().collect();
                let embedded =
                    embed::embed_faces(&model.model, caches[m].as_ref(), &inputs, &mut cache, observer, cancel)?;
                second_embeddings.push(by_photo(photos.len(), &seconds, embedded));
            }
        }
        let scores = paths
            .iter()
            .map(|path| {
                let second = if condition.is_occluded() { &second_embeddings[path.model] } else { &clean[path.model] };
                score::pair_scores(pairs, &clean[path.model], second, path.embedding)
            })
            .collect();
        let raw = RawCondition {
            condition,
            scores,
            areas: pairs.iter().map(|&(_, b)| has_face[b].then_some(area_by_photo[b])).collect(),
            occluded: if condition.is_occluded() { seconds.clone() } else { Vec::new() },
            contrast,
        };
        if spec.shard.is_none() {
            let result = finish_condition(&raw, &labels, &same, &order, spec.tar_rule).map_err(|e| match e {
                PartialError::Scores { path, source, .. } => SweepError::Scores { condition, path, source },
                other => SweepError::Invalid(other.to_string()),
            })?;
            observer.condition_finished(&result);
            conditions.push(result);
        }
        raws.push(raw);
    }
    cache.damaged_recomputed += caches.iter().flatten().map(EmbeddingCache::damaged).sum::<usize>();
    let thumbnails = thumbnails(spec, &photos, pairs, &aligned[0], &occluders);
    let timings = Timings { align_s, embed_s: start.elapsed().as_secs_f64() };
    Ok(SweepOutcome {
        paths,
        conditions,
        raw: raws,
        photos: summary,
        cache,
        timings,
        thumbnails,
        photo_paths: photos.paths.clone(),
    })
}

/// The alignment templates the models read, each once, in model order.
pub(super) fn distinct_templates(models: &[SweepModel]) -> Vec<FaceTemplate> {
    let mut templates: Vec<FaceTemplate> = Vec::new();
    for m in models {
        if !templates.contains(&m.model.template()) {
            templates.push(m.model.template());
        }
    }
    templates
}

/// Each model's embedding cache under `root` (none without a root, or for a model built in
/// memory).
pub(super) fn embedding_caches(
    root: Option<&Path>,
    models: &[SweepModel],
) -> Result<Vec<Option<EmbeddingCache>>, SweepError> {
    models
        .iter()
        .map(|m| match (root, &m.sha256) {
            (Some(root), Some(sha)) => Ok(Some(EmbeddingCache::open(root, sha)?)),
            _ => Ok(None),
        })
        .collect()
}

/// The mask-contrast subtotals of `model` on each occluded face, given its occlusion mask (a
/// face whose model output has no mask is skipped).
fn measure_contrast(
    model: &FaceModel,
    faces: &[&RgbImage],
    occlusions: &[&BinaryMask],
    cancel: &AtomicBool,
) -> Result<Vec<FaceContrast>, SweepError> {
    let mut out = Vec::with_capacity(faces.len());
    for (chunk, masks) in faces.chunks(MODEL_BATCH).zip(occlusions.chunks(MODEL_BATCH)) {
        if cancel.load(Ordering::Relaxed) {
            return Err(SweepError::Cancelled);
        }
        for (outputs, occlusion) in model.analyze(chunk)?.iter().zip(masks) {
            let Some(mask) = &outputs.mask else { continue };
            out.push(FaceContrast::of(&mask.channel_mean(), &cell_coverage(occlusion, mask.height, mask.width)));
        }
    }
    Ok(out)
}

/// Fails early, before any slow work, on what would fail late.
fn check_inputs(spec: &SweepSpec, models: &[SweepModel]) -> Result<(), SweepError> {
    if models.is_empty() {
        return Err(SweepError::Invalid("no model to evaluate".into()));
    }
    let mut labels: Vec<&str> = models.iter().map(|m| m.label.as_str()).collect();
    labels.sort_unstable();
    if let Some(w) = labels.windows(2).find(|w| w[0] == w[1]) {
        return Err(SweepError::Invalid(format!("two models are both labelled {:?}", w[0])));
    }
    if spec.conditions.is_empty() {
        return Err(ConditionError::Empty.into());
    }
    let pairs = &spec.pairs.pairs;
    let genuine = pairs.iter().filter(|p| p.same).count();
    if pairs.len() < 10 || genuine == 0 || genuine == pairs.len() {
        return Err(SweepError::Invalid(format!(
            "{}: {} pairs ({genuine} same, {} different): the 10-fold protocol needs at least 10 pairs of both kinds",
            spec.pairs_file.display(),
            pairs.len(),
            pairs.len() - genuine
        )));
    }
    Ok(())
}

/// Embeddings of `photos` (in that order) placed at their photo index.
fn by_photo(count: usize, photos: &[usize], embedded: Vec<EmbeddingPair>) -> Vec<Option<EmbeddingPair>> {
    let mut out = vec![None; count];
    for (&p, e) in photos.iter().zip(embedded) {
        out[p] = Some(e);
    }
    out
}

fn thumbnails(
    spec: &SweepSpec,
    photos: &photos::Photos,
    pairs: &[(usize, usize)],
    faces: &[Option<RgbImage>],
    occluders: &Occluders,
) -> Vec<(Condition, RgbImage)> {
    let Some(&(_, b)) = pairs.iter().find(|&&(_, b)| faces[b].is_some()) else {
        return Vec::new();
    };
    let example = faces[b].as_ref().expect("found above");
    spec.conditions
        .iter()
        .filter(|c| c.is_occluded())
        .filter_map(|&condition| {
            let mut face = example.clone();
            occluders.apply(condition, &mut face, &photos.keys[b]).ok()?;
            Some((condition, face))
        })
        .collect()
}

impl SweepOutcome {
    /// The results.json document of this outcome.
    pub fn into_results(
        self,
        spec: &SweepSpec,
        models: &[SweepModel],
        device: String,
        wall_time_s: f64,
    ) -> SweepResults {
        let genuine = spec.pairs.pairs.iter().filter(|p| p.same).count();
        let region_occluders = Region::ALL
            .iter()
            .map(|&region| RegionOccluderInfo {
                region: region.name().into(),
                fill: {
                    let (class, name) = region_occluder(region);
                    match spec.setup.region_fill {
                        RegionFill::Occluder => format!("{class}/{name}"),
                        RegionFill::Pasted => {
                            format!("{class}/{name} pasted over {}", spec.setup.paste_background.name())
                        }
                        RegionFill::Grey => "grey".into(),
                    }
                },
                area_ratio: region.area_ratio(),
            })
            .collect();
        let face_pick = match spec.setup.face_pick {
            FacePick::Central => "central",
            FacePick::Largest => "largest",
        };
        SweepResults {
            software: Software::this(),
            finished_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            wall_time_s,
            device,
            pairs: PairsSummary {
                file: spec.pairs_file.clone(),
                images: spec.images_root.clone(),
                format: spec.pairs.format,
                count: spec.pairs.pairs.len(),
                genuine,
                impostor: spec.pairs.pairs.len() - genuine,
            },
            protocol: Protocol {
                conditions: spec.conditions.clone(),
                occluded_image: "second".into(),
                region_fill: spec.setup.region_fill,
                paste_background: spec.setup.paste_background,
                region_occluders,
                square_fill: spec.setup.square_fill,
                seeds: Seeds { occ_lfw_2_0: spec.setup.occ_lfw_seed, square_positions: spec.setup.square_seed },
                face_pick: face_pick.into(),
                aligned_input: spec.setup.pre_aligned.map(|t| t.name().to_string()),
                missing_face_score: MISSING_FACE_SCORE,
                folds: fold_scheme(spec.pairs.layout),
                tar_rule: spec.tar_rule,
                accuracy:
                    "10 folds of consecutive pairs in fold order; threshold searched over cosine in [-1, 1) step 0.005 \
                           on 9 folds (highest of tied thresholds), measured on the 10th; mean and population std"
                        .into(),
            },
            models: models.iter().map(SweepModel::identity).collect(),
            paths: self.paths,
            photos: self.photos,
            cache: self.cache,
            timings: self.timings,
            conditions: self.conditions,
        }
    }
}
