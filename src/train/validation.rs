//! The per-epoch validation score on held-out identities: verification accuracy with the first
//! face of each pair clean and the second occluded by Occ-LFW-2.0, for the masked (FROM) and
//! unmasked paths of the network being trained and for the pretrained backbone it started from;
//! and the pattern accuracy under the training protocol itself (its occlusion styles, a third of
//! the faces clean, random flips), each face's draw seeded by its key.

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::data::FaceSet;
use crate::eval::mask_contrast::{ContrastSums, MaskContrast, cell_coverage};
use crate::eval::verification::best_threshold;
use crate::face::Embedder;
use crate::face::embedder::{EmbedderError, cosine};
use crate::face::from_model::{FaceModel, ModelError};
use crate::occlusion::{OccLfw20, OccluderLibrary, OcclusionStyle, RandomOcclusion, fnv1a64};

/// Fixed, so every epoch (and every run) scores the same pairs and occlusions.
const PAIR_SEED: u64 = 7;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ValidationScore {
    /// The masked embedding (FROM).
    pub from_accuracy: f64,
    /// The same network's unmasked embedding (FROM, mask off).
    pub mask_off_accuracy: f64,
    /// The pretrained backbone, the baseline FROM must beat.
    pub pretrained_accuracy: f64,
    /// Pattern prediction accuracy under the training protocol (clean faces count, label 0).
    pub pattern_accuracy: f64,
    /// Mean mask value over those faces: near 0 or 1 everywhere means the mask decoder has
    /// saturated and masks nothing selectively.
    pub mask_mean: f64,
    /// Mask contrast over the occluded ones (as `maskscope eval` measures it).
    pub mask_contrast: MaskContrast,
}

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("validating the model: {0}")]
    Model(#[from] ModelError),
    #[error("validating against the pretrained backbone: {0}")]
    Pretrained(#[from] EmbedderError),
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

/// Scores `model` (the network being trained, in validation mode) and `pretrained` on `set`;
/// zeros when the set has no pairs.
pub fn validate(
    model: &FaceModel,
    pretrained: &Embedder,
    set: &FaceSet,
    occluders: &OccluderLibrary,
    styles: &[OcclusionStyle],
) -> Result<ValidationScore, ValidationError> {
    let pairs = validation_pairs(set);
    if pairs.is_empty() {
        return Ok(ValidationScore::default());
    }
    let occ_lfw = OccLfw20::new(occluders);
    let training = RandomOcclusion::with_styles(occluders, styles.to_vec());
    let clean: Vec<&RgbImage> = set.samples.iter().map(|s| &s.face).collect();
    let mut occluded = Vec::with_capacity(set.samples.len());
    let mut protocol_faces = Vec::with_capacity(set.samples.len());
    let mut protocol_occlusions = Vec::with_capacity(set.samples.len());
    for sample in &set.samples {
        let mut face = sample.face.clone();
        occ_lfw.occlude(&mut face, &sample.key);
        occluded.push(face);
        let mut face = sample.face.clone();
        let bytes: Vec<u8> = PAIR_SEED.to_le_bytes().into_iter().chain(sample.key.bytes()).collect();
        protocol_occlusions.push(training.apply(&mut face, &mut ChaCha8Rng::seed_from_u64(fnv1a64(&bytes))));
        protocol_faces.push(face);
    }
    let occluded: Vec<&RgbImage> = occluded.iter().collect();

    let same: Vec<bool> = pairs.iter().map(|p| p.2).collect();
    let accuracy = |first: &[Vec<f32>], second: &[Vec<f32>]| {
        let scores: Vec<f32> = pairs.iter().map(|&(a, b, _)| cosine(&first[a], &second[b])).collect();
        best_threshold(&scores, &same).1
    };
    let (clean_masked, clean_unmasked): (Vec<_>, Vec<_>) = model.embed(&clean)?.into_iter().unzip();
    let (occ_masked, occ_unmasked): (Vec<_>, Vec<_>) = model.embed(&occluded)?.into_iter().unzip();
    let pretrained_clean = pretrained.embed(&clean)?;
    let pretrained_occ = pretrained.embed(&occluded)?;

    let analysed = model.analyze(&protocol_faces.iter().collect::<Vec<_>>())?;
    let mut right = 0;
    let mut mask_sum = 0f64;
    let mut contrast = ContrastSums::default();
    for (outputs, occlusion) in analysed.iter().zip(&protocol_occlusions) {
        let label = occlusion.label;
        let predicted =
            outputs.pattern_probabilities.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
        right += usize::from(predicted == Some(label));
        if let Some(mask) = &outputs.mask {
            mask_sum += mask.values.iter().map(|&v| f64::from(v)).sum::<f64>() / mask.values.len().max(1) as f64;
            if label != 0 {
                contrast.add(&mask.channel_mean(), &cell_coverage(&occlusion.mask, mask.height, mask.width));
            }
        }
    }
    let faces = set.samples.len() as f64;
    Ok(ValidationScore {
        from_accuracy: accuracy(&clean_masked, &occ_masked),
        mask_off_accuracy: accuracy(&clean_unmasked, &occ_unmasked),
        pretrained_accuracy: accuracy(&pretrained_clean, &pretrained_occ),
        pattern_accuracy: right as f64 / faces,
        mask_mean: mask_sum / faces,
        mask_contrast: contrast.finish(),
    })
}
