//! The per-epoch validation score: verification accuracy on held-out identities, the first face
//! of each pair clean and the second occluded by the Occ-LFW-2.0 protocol, for the masked (FROM)
//! and unmasked (baseline) embeddings of the same network.

use burn::module::Module;
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::data::FaceSet;
use super::losses::cosine_rows;
use super::run::faces_to_tensor;
use crate::eval::verification::best_threshold;
use crate::model::from_mobilefacenet::FromMobileFaceNet;
use crate::occlusion::{OccLfw20, OccluderLibrary};

/// Fixed, so every epoch (and every run) scores the same pairs.
const PAIR_SEED: u64 = 7;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ValidationScore {
    pub from_accuracy: f64,
    pub baseline_accuracy: f64,
    /// Pattern prediction accuracy on the occluded faces.
    pub pattern_accuracy: f64,
    /// Mean mask value over the occluded faces: near 0 or 1 everywhere means the mask decoder
    /// has saturated and masks nothing selectively.
    pub mask_mean: f64,
}

/// Index pairs (a, b, same): each face with one other face of its identity (when it has one)
/// and one face of another identity.
pub fn validation_pairs(set: &FaceSet) -> Vec<(usize, usize, bool)> {
    let mut rng = ChaCha8Rng::seed_from_u64(PAIR_SEED);
    let mut by_identity = vec![Vec::new(); set.identities.len()];
    for (i, s) in set.samples.iter().enumerate() {
        by_identity[s.identity].push(i);
    }
    let mut pairs = Vec::new();
    if set.identities.len() < 2 {
        return pairs;
    }
    for (i, sample) in set.samples.iter().enumerate() {
        let mates: Vec<usize> = by_identity[sample.identity].iter().copied().filter(|&j| j != i).collect();
        if !mates.is_empty() {
            pairs.push((i, mates[rng.random_range(0..mates.len())], true));
        }
        let other = loop {
            let j = rng.random_range(0..set.samples.len());
            if set.samples[j].identity != sample.identity {
                break j;
            }
        };
        pairs.push((i, other, false));
    }
    pairs
}

/// Scores `net` (in validation mode) on `set`; zeros when the set has no pairs.
pub fn validate(net: &FromMobileFaceNet, set: &FaceSet, occluders: &OccluderLibrary, batch: usize) -> ValidationScore {
    let pairs = validation_pairs(set);
    if pairs.is_empty() {
        return ValidationScore::default();
    }
    let device = net.devices().first().cloned().unwrap_or_default();
    let protocol = OccLfw20::new(occluders);
    let mut occluded = Vec::with_capacity(set.samples.len());
    let mut labels = Vec::with_capacity(set.samples.len());
    for sample in &set.samples {
        let mut face = sample.face.clone();
        labels.push(protocol.occlude(&mut face, &sample.key).label);
        occluded.push(face);
    }
    let clean: Vec<&RgbImage> = set.samples.iter().map(|s| &s.face).collect();
    let occluded: Vec<&RgbImage> = occluded.iter().collect();
    let mut mask_sum = 0f64;
    let mut rows = |faces: &[&RgbImage], labels: Option<&[usize]>, right: &mut usize| {
        let mut masked = Vec::new();
        let mut unmasked = Vec::new();
        for (c, chunk) in faces.chunks(batch).enumerate() {
            let out = net.forward(faces_to_tensor(chunk, &device));
            if let Some(labels) = labels {
                mask_sum += f64::from(out.mask.clone().mean().into_scalar::<f32>()) * chunk.len() as f64;
                let predicted = out.pattern_logits.argmax(1).into_data().convert::<i64>().try_into_vec::<i64>().unwrap_or_default();
                *right += predicted.iter().enumerate().filter(|&(i, &p)| p as usize == labels[c * batch + i]).count();
            }
            masked.push(out.masked_embedding);
            unmasked.push(out.unmasked_embedding);
        }
        (burn::tensor::Tensor::cat(masked, 0), burn::tensor::Tensor::cat(unmasked, 0))
    };
    let mut right = 0;
    let (clean_masked, clean_unmasked) = rows(&clean, None, &mut right);
    let (occ_masked, occ_unmasked) = rows(&occluded, Some(&labels), &mut right);
    let ids = |pick: fn(&(usize, usize, bool)) -> usize| {
        let values: Vec<i64> = pairs.iter().map(|p| pick(p) as i64).collect();
        burn::tensor::Tensor::<1, burn::tensor::Int>::from_data(burn::tensor::TensorData::new(values, [pairs.len()]), &device)
    };
    let (a, b) = (ids(|p| p.0), ids(|p| p.1));
    let same: Vec<bool> = pairs.iter().map(|p| p.2).collect();
    let score = |clean: burn::tensor::Tensor<2>, occ: burn::tensor::Tensor<2>| {
        let scores = cosine_rows(clean.select(0, a.clone()), occ.select(0, b.clone()));
        let scores: Vec<f32> = scores.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
        best_threshold(&scores, &same).1
    };
    ValidationScore {
        from_accuracy: score(clean_masked, occ_masked),
        baseline_accuracy: score(clean_unmasked, occ_unmasked),
        pattern_accuracy: right as f64 / set.samples.len() as f64,
        mask_mean: mask_sum / set.samples.len() as f64,
    }
}
