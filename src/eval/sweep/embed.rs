//! Embedding a list of aligned faces with one model: cached entries are read, the rest go
//! through the network in batches and are stored as each batch finishes, so an interrupted run
//! keeps what it computed.

use std::sync::atomic::{AtomicBool, Ordering};

use image::RgbImage;
use rayon::prelude::*;

use super::{SweepError, SweepObserver};
use crate::eval::results::CacheStats;
use crate::face::embedding_cache::{EmbeddingCache, EmbeddingPair, face_key};
use crate::face::from_model::{FaceModel, MODEL_BATCH};

/// The (masked, unmasked) embeddings of `faces`, in order.
pub(super) fn embed_faces(
    model: &FaceModel,
    cache: Option<&EmbeddingCache>,
    faces: &[&RgbImage],
    stats: &mut CacheStats,
    observer: &mut dyn SweepObserver,
    cancel: &AtomicBool,
) -> Result<Vec<EmbeddingPair>, SweepError> {
    let mut out: Vec<Option<EmbeddingPair>> = vec![None; faces.len()];
    let mut keys: Vec<Option<String>> = vec![None; faces.len()];
    let mut missing = Vec::new();
    // Hashing each face and reading its cache entry depend on that face alone: done in parallel.
    // Per face: its cache key and entry, when there is a cache.
    type Lookup = Result<Option<(String, Option<EmbeddingPair>)>, SweepError>;
    let looked_up: Vec<Lookup> = faces
        .par_iter()
        .map(|face| {
            let Some(cache) = cache else { return Ok(None) };
            let key = face_key(face);
            let found = cache.get(&key)?;
            Ok(Some((key, found)))
        })
        .collect();
    for (i, result) in looked_up.into_iter().enumerate() {
        match result? {
            Some((_, Some(found))) => {
                out[i] = Some(found);
                continue;
            }
            Some((key, None)) => keys[i] = Some(key),
            None => {}
        }
        missing.push(i);
    }
    let cached = faces.len() - missing.len();
    stats.embedded_cached += cached;
    observer.advance(cached);
    for batch in missing.chunks(MODEL_BATCH) {
        if cancel.load(Ordering::Relaxed) {
            return Err(SweepError::Cancelled);
        }
        let inputs: Vec<&RgbImage> = batch.iter().map(|&i| faces[i]).collect();
        let embedded = model.embed(&inputs)?;
        for (&i, pair) in batch.iter().zip(embedded) {
            if let (Some(cache), Some(key)) = (cache, &keys[i]) {
                cache.put(key, (&pair.0, &pair.1))?;
            }
            out[i] = Some(pair);
        }
        stats.embedded_fresh += batch.len();
        observer.advance(batch.len());
    }
    Ok(out.into_iter().map(|e| e.expect("every face is cached or embedded")).collect())
}
