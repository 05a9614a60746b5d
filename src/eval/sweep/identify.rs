//! Closed-set identification under occlusion (`maskscope identify`), as the paper's AR Face
//! protocol: a clean gallery, the probes under each condition, rank-1 and the CMC for every
//! compared path (the baseline network, FROM, FROM with its mask off).
//!
//! It shares the verification sweep's machinery: photos are aligned once per template through the
//! aligned-face cache, faces embedded once per model through the embedding cache, and probes
//! occluded by the same seeded conditions (keyed by their path under the probe folder).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use image::RgbImage;
use rayon::prelude::*;

use super::embed::embed_faces;
use super::photos::{Photos, align_photos};
use super::score::compared_paths;
use super::{SweepError, SweepModel, SweepObserver, SweepSetup, SweepStage, distinct_templates, embedding_caches};
use crate::eval::conditions::{Condition, ConditionError};
use crate::eval::identification::{Embeddings, LabelledImage, identify_with_faceless};
use crate::eval::identify_results::{
    IdentifyCondition, IdentifyPathResult, IdentifyProtocol, IdentifyResults, PhotoSet,
};
use crate::eval::results::{CacheStats, Embedding, Seeds, Software};
use crate::face::FaceFinder;
use crate::face::embedding_cache::{EmbeddingCache, EmbeddingPair};
use crate::occlusion::{OccluderLibrary, image_key};

/// What to identify and how.
#[derive(Debug, Clone)]
pub struct IdentifySpec {
    pub gallery_root: PathBuf,
    pub probe_root: PathBuf,
    pub gallery: Vec<LabelledImage>,
    pub probes: Vec<LabelledImage>,
    /// Conditions the probes are put under (the gallery stays clean).
    pub conditions: Vec<Condition>,
    pub setup: SweepSetup,
    /// Length of the CMC.
    pub max_rank: usize,
}

/// Runs the identification; `cancel` is polled between photos and batches, as in the sweep.
pub fn run_identification(
    spec: &IdentifySpec,
    models: &[SweepModel],
    finder: &mut FaceFinder,
    library: &OccluderLibrary,
    observer: &mut dyn SweepObserver,
    cancel: &AtomicBool,
    device: String,
) -> Result<IdentifyResults, SweepError> {
    let start = Instant::now();
    if models.is_empty() {
        return Err(SweepError::Invalid("no model to evaluate".into()));
    }
    if spec.conditions.is_empty() {
        return Err(ConditionError::Empty.into());
    }
    for (what, set) in [("gallery", &spec.gallery), ("probe", &spec.probes)] {
        if set.is_empty() {
            return Err(SweepError::Invalid(format!("the {what} folder holds no photos in identity folders")));
        }
    }
    let occluders = spec.setup.occluders(library)?;
    spec.setup.apply(finder);
    // Gallery photos first, then probes: one list, aligned in one pass per template.
    let key = |root: &PathBuf, image: &LabelledImage| image_key(image.path.strip_prefix(root).unwrap_or(&image.path));
    let photos = Photos {
        paths: spec.gallery.iter().chain(&spec.probes).map(|i| i.path.clone()).collect(),
        keys: spec
            .gallery
            .iter()
            .map(|i| key(&spec.gallery_root, i))
            .chain(spec.probes.iter().map(|i| key(&spec.probe_root, i)))
            .collect(),
        pairs: Vec::new(),
    };
    let gallery_count = spec.gallery.len();
    let templates = distinct_templates(models);
    let mut cache = CacheStats { root: spec.setup.cache_root.clone(), ..CacheStats::default() };
    observer.stage(SweepStage::Align, photos.paths.len() * templates.len());
    let mut aligned: Vec<Vec<Option<RgbImage>>> = Vec::new();
    for &template in &templates {
        let (faces, _damaged) = align_photos(
            &photos,
            None,
            finder,
            template,
            spec.setup.cache_root.as_deref(),
            &mut cache,
            observer,
            cancel,
        )?;
        aligned.push(faces);
    }
    // A photo counts as faceless if any template lost it, so that all paths rank the same probes.
    let has_face: Vec<bool> = (0..photos.paths.len()).map(|p| aligned.iter().all(|f| f[p].is_some())).collect();
    let gallery_faces: Vec<usize> = (0..gallery_count).filter(|&p| has_face[p]).collect();
    let probe_faces: Vec<usize> = (gallery_count..photos.paths.len()).filter(|&p| has_face[p]).collect();
    let faceless_probes: Vec<&str> = (gallery_count..photos.paths.len())
        .filter(|&p| !has_face[p])
        .map(|p| spec.probes[p - gallery_count].identity.as_str())
        .collect();
    if gallery_faces.is_empty() {
        return Err(SweepError::Invalid("no face was found in any gallery photo".into()));
    }
    let template_of = |m: &SweepModel| templates.iter().position(|&t| t == m.model.template()).expect("listed above");
    let caches = embedding_caches(spec.setup.cache_root.as_deref(), models)?;
    let occluded_conditions = spec.conditions.iter().filter(|c| c.is_occluded()).count();
    let has_clean = spec.conditions.contains(&Condition::Clean);
    observer.stage(
        SweepStage::Embed,
        models.len() * (gallery_faces.len() + probe_faces.len() * (occluded_conditions + usize::from(has_clean))),
    );
    let mut gallery_embeddings = Vec::with_capacity(models.len());
    for (m, model) in models.iter().enumerate() {
        let faces = &aligned[template_of(model)];
        let inputs: Vec<&RgbImage> = gallery_faces.iter().map(|&p| faces[p].as_ref().expect("has a face")).collect();
        gallery_embeddings.push(embed_faces(&model.model, caches[m].as_ref(), &inputs, &mut cache, observer, cancel)?);
    }
    let gallery_ids: Vec<&str> = gallery_faces.iter().map(|&p| spec.gallery[p].identity.as_str()).collect();
    let probe_ids: Vec<&str> = probe_faces.iter().map(|&p| spec.probes[p - gallery_count].identity.as_str()).collect();

    let paths = compared_paths(&models.iter().map(|m| (m.label.clone(), m.model.has_mask())).collect::<Vec<_>>());
    let mut conditions = Vec::with_capacity(spec.conditions.len());
    for &condition in &spec.conditions {
        if cancel.load(Ordering::Relaxed) {
            return Err(SweepError::Cancelled);
        }
        observer.condition_started(condition);
        let mut probe_embeddings = Vec::with_capacity(models.len());
        for (m, model) in models.iter().enumerate() {
            let faces = &aligned[template_of(model)];
            let occluded: Vec<RgbImage> = probe_faces
                .par_iter()
                .map(|&p| {
                    let mut face = faces[p].clone().expect("has a face");
                    let key = &photos.keys[p];
                    occluders.apply(condition, &mut face, key).map_err(|source| SweepError::Occlusion {
                        condition,
                        key: key.clone(),
                        source,
                    })?;
                    Ok(face)
                })
                .collect::<Result<_, SweepError>>()?;
            let inputs: Vec<&RgbImage> = occluded.iter().collect();
            probe_embeddings.push(embed_faces(
                &model.model,
                caches[m].as_ref(),
                &inputs,
                &mut cache,
                observer,
                cancel,
            )?);
        }
        let mut results = Vec::with_capacity(paths.len());
        for path in &paths {
            let gallery = side_embeddings(&gallery_embeddings[path.model], path.embedding)?;
            let probes = side_embeddings(&probe_embeddings[path.model], path.embedding)?;
            let report =
                identify_with_faceless(&gallery, &gallery_ids, &probes, &probe_ids, &faceless_probes, spec.max_rank)
                    .map_err(|e| SweepError::Invalid(format!("{} / {}: {e}", condition.label(), path.label)))?;
            results.push(IdentifyPathResult { path: path.label.clone(), report });
        }
        conditions.push(IdentifyCondition { condition, label: condition.label(), paths: results });
    }
    cache.damaged_recomputed += caches.iter().flatten().map(EmbeddingCache::damaged).sum::<usize>();

    let set = |root: &PathBuf, images: &[LabelledImage], offset: usize| {
        let mut identities: Vec<&str> = images.iter().map(|i| i.identity.as_str()).collect();
        identities.sort_unstable();
        identities.dedup();
        PhotoSet {
            root: root.clone(),
            images: images.len(),
            identities: identities.len(),
            without_face: (0..images.len())
                .filter(|&i| !has_face[offset + i])
                .map(|i| images[i].path.clone())
                .collect(),
        }
    };
    Ok(IdentifyResults {
        software: Software::this(),
        device,
        wall_time_s: start.elapsed().as_secs_f64(),
        gallery: set(&spec.gallery_root, &spec.gallery, 0),
        probes: set(&spec.probe_root, &spec.probes, gallery_count),
        protocol: IdentifyProtocol {
            conditions: spec.conditions.clone(),
            occluded_image: "probe".into(),
            region_fill: spec.setup.region_fill,
            paste_background: spec.setup.paste_background,
            square_fill: spec.setup.square_fill,
            seeds: Seeds { occ_lfw_2_0: spec.setup.occ_lfw_seed, square_positions: spec.setup.square_seed },
            face_pick: spec.setup.face_pick.name().into(),
            aligned_input: spec.setup.pre_aligned.map(|t| t.name().to_string()),
            max_rank: spec.max_rank,
            ranking: "cosine similarity; an identity scores the maximum over its gallery images; a probe's rank is \
                      the number of identities scoring at least its own; probes without a face are misses"
                .into(),
        },
        models: models.iter().map(SweepModel::identity).collect(),
        paths,
        cache,
        conditions,
    })
}

/// One side (masked or unmasked) of embedding pairs, as rows for ranking.
fn side_embeddings(pairs: &[EmbeddingPair], embedding: Embedding) -> Result<Embeddings, SweepError> {
    let rows: Vec<Vec<f32>> = pairs
        .iter()
        .map(|pair| match embedding {
            Embedding::Masked => pair.0.clone(),
            Embedding::Unmasked => pair.1.clone(),
        })
        .collect();
    Embeddings::from_rows(&rows).map_err(|e| SweepError::Invalid(format!("embeddings: {e}")))
}
