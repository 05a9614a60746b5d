//! The training loop: occlude a batch, forward, losses, backward, optimiser step; a checkpoint,
//! a validation score and a metrics row every epoch; `resume` continues from the last epoch.
//!
//! Run folder layout:
//! - `config.json`: the [`TrainConfig`] (a resumed run must match it)
//! - `state/net.bpk`, `state/optimizer.bpk`, `state/progress.json`: what `resume` needs
//! - `epoch-NN.bpk`: the FROM model after each epoch (loadable like any model)
//! - `metrics.csv`: one row per epoch
//! - `model.bpk`: the final model

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{Module, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Tensor};
use image::RgbImage;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::config::{EmbeddingLoss, OptimizerKind, TrainConfig};
use super::data::FaceSet;
use super::losses::CosFaceHead;
use super::pattern_template;
pub use super::step::TrainNet;
use super::step::{StepBatch, freeze, step};
use super::validation::{ValidationError, ValidationScore, validate};
use crate::checkpoint::{CheckpointError, record};
use crate::cpu::CpuNetError;
use crate::face::Embedder;
use crate::face::cache::write_atomically;
use crate::face::embedder::EmbedderError;
use crate::face::from_model::{FaceModel, Network};
use crate::model::from_mobilefacenet::{FromMobileFaceNet, FromMobileFaceNetConfig, MOBILEFACENET_FEATURE_SIDE};
use crate::model::mask_decoder::OPEN_MASK_LOGIT;
use crate::model::mobilefacenet::{
    MOBILEFACENET_EMBEDDING, MOBILEFACENET_FEATURES, MOBILEFACENET_INPUT, MobileFaceNet,
};
use crate::occlusion::{OccluderLibrary, RandomOcclusion};
use crate::patterns::PatternSet;

const TRAIN_STATE: &str = "maskscope-train-state";

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid training configuration: {0}")]
    Config(String),
    #[error("{path}: {message}")]
    Run { path: PathBuf, message: String },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("training data: {0}")]
    Data(String),
    #[error("the pretrained backbone's CPU inference path: {0}")]
    CpuPath(#[from] CpuNetError),
    #[error("embedding the training faces with the pretrained backbone: {0}")]
    Teacher(#[from] EmbedderError),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("the trained network: {0}")]
    Model(#[from] crate::face::from_model::ModelError),
}

/// Per-step figures, for a progress display.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub epoch: usize,
    pub step: usize,
    pub steps: usize,
    pub loss: f32,
    pub faces_per_second: f64,
}

/// One row of `metrics.csv`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub learning_rate: f64,
    pub loss: f64,
    pub embedding_loss: f64,
    pub pattern_loss: f64,
    /// Pattern accuracy on the training batches (occluded and clean).
    pub pattern_accuracy: f64,
    /// Held-out identities, second face under Occ-LFW-2.0: FROM (masked), the same network with
    /// its mask off, and the pretrained backbone.
    pub val_from_accuracy: f64,
    pub val_mask_off_accuracy: f64,
    pub val_pretrained_accuracy: f64,
    /// Held-out identities under the training protocol.
    pub val_pattern_accuracy: f64,
    pub val_mask_mean: f64,
    /// Mean `1 - mask` over the cells of the occluded held-out faces that the occlusion covers
    /// at least half of, and over the cells it does not touch.
    pub val_mask_removed_covered: f64,
    pub val_mask_removed_uncovered: f64,
    pub seconds: f64,
}

#[derive(Debug, Clone)]
pub enum TrainEvent {
    Step(StepReport),
    Epoch(EpochMetrics),
}

#[derive(Debug, Serialize, Deserialize)]
struct Progress {
    epochs_done: usize,
}

/// Everything a run needs besides its configuration.
pub struct TrainInputs<'a> {
    pub train: &'a FaceSet,
    pub validation: &'a FaceSet,
    /// The pretrained backbone: the starting point and the distillation teacher.
    pub backbone: MobileFaceNet,
    pub occluders: &'a OccluderLibrary,
    /// Must have autodiff enabled.
    pub device: Device,
}

fn run_error(path: &Path, message: impl ToString) -> TrainError {
    TrainError::Run { path: path.to_path_buf(), message: message.to_string() }
}

/// The pretrained backbone's (L2-normalised) embeddings of every training face, unflipped, and
/// flipped when `flipped` asks for them (the distillation targets of mirrored faces).
fn teacher_embeddings(teacher: &Embedder, set: &FaceSet, flipped: bool) -> Result<Vec<[Vec<f32>; 2]>, TrainError> {
    let plain: Vec<&RgbImage> = set.samples.iter().map(|s| &s.face).collect();
    let plain = teacher.embed(&plain)?;
    let mirrored = if flipped {
        let faces: Vec<RgbImage> = set.samples.iter().map(|s| image::imageops::flip_horizontal(&s.face)).collect();
        teacher.embed(&faces.iter().collect::<Vec<_>>())?
    } else {
        vec![Vec::new(); plain.len()]
    };
    Ok(plain.into_iter().zip(mirrored).map(|(a, b)| [a, b]).collect())
}

/// Each identity's mean teacher embedding, normalised: CosFace's class centres start where the
/// pretrained backbone already puts each person, so the first steps' gradients refine the
/// backbone instead of tearing it towards random centres.
fn identity_centres(set: &FaceSet, teacher: &[[Vec<f32>; 2]]) -> Vec<Vec<f32>> {
    let mut centres = vec![vec![0f32; MOBILEFACENET_EMBEDDING]; set.identities.len()];
    for (sample, [embedding, _]) in set.samples.iter().zip(teacher) {
        centres[sample.identity].iter_mut().zip(embedding).for_each(|(c, e)| *c += e);
    }
    centres.into_iter().map(crate::model::mobilefacenet::l2_normalize_vec).collect()
}

pub fn optimizer(config: &TrainConfig) -> ModuleOptimizer {
    let decay = Some(WeightDecayConfig::new(config.weight_decay as f32));
    match config.optimizer {
        OptimizerKind::Sgd => SgdConfig::new()
            .with_momentum(Some(MomentumConfig::new().with_momentum(config.momentum)))
            .with_weight_decay(decay)
            .init(),
        OptimizerKind::Adam => AdamConfig::new().with_weight_decay(decay).init(),
    }
}

fn append_metrics(path: &Path, metrics: &EpochMetrics) -> Result<(), TrainError> {
    let fresh = !path.exists();
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| run_error(path, e))?;
    let mut writer = csv::WriterBuilder::new().has_headers(fresh).from_writer(file);
    writer.serialize(metrics).map_err(|e| run_error(path, e))?;
    writer.flush().map_err(|e| run_error(path, e))
}

/// The FROM model configuration a training configuration builds.
pub fn model_config(config: &TrainConfig) -> FromMobileFaceNetConfig {
    FromMobileFaceNetConfig::new().with_fpn_channels(config.fpn_channels).with_grid(config.grid)
}

/// A resumed run may only be extended: more epochs, and learning-rate steps that fall on epochs
/// not yet trained (so a run can be continued at a decayed rate). Anything else would make the
/// finished epochs belong to another configuration.
fn check_extension(saved: &TrainConfig, config: &TrainConfig, epochs_done: usize) -> Result<(), String> {
    let comparable = |c: &TrainConfig| {
        serde_json::to_string(&TrainConfig { epochs: 0, lr_steps: Vec::new(), ..c.clone() }).unwrap_or_default()
    };
    if comparable(saved) != comparable(config) {
        return Err(
            "differs from this run's configuration (on --resume only --epochs and later lr_steps may change)".into()
        );
    }
    if let Some(epoch) = (0..epochs_done).find(|&e| saved.learning_rate_at(e) != config.learning_rate_at(e)) {
        return Err(format!(
            "lr_steps change the learning rate of epoch {}, which is already trained (new steps must be >= {epochs_done})",
            epoch + 1
        ));
    }
    Ok(())
}

/// Trains FROM heads (and optionally the backbone) in `run_dir`; returns the final model.
pub fn train(
    config: &TrainConfig,
    inputs: TrainInputs,
    run_dir: &Path,
    resume: bool,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<FromMobileFaceNet, TrainError> {
    config.validate().map_err(TrainError::Config)?;
    if inputs.train.samples.len() < config.batch_size {
        return Err(TrainError::Data(format!(
            "{} training faces is fewer than one batch of {}",
            inputs.train.samples.len(),
            config.batch_size
        )));
    }
    let device = inputs.device.clone();
    std::fs::create_dir_all(run_dir.join("state")).map_err(|e| run_error(run_dir, e))?;
    let config_path = run_dir.join("config.json");
    let config_json = serde_json::to_string_pretty(config).map_err(|e| run_error(&config_path, e))?;
    let progress_path = run_dir.join("state").join("progress.json");
    let (net_path, optim_path) = (run_dir.join("state").join("net.bpk"), run_dir.join("state").join("optimizer.bpk"));

    let model_config = model_config(config);
    let inner = device.clone().without_autodiff();
    let teacher = Embedder::new(inputs.backbone.clone(), &inner)?;
    let cosface = matches!(config.loss, EmbeddingLoss::Cosface | EmbeddingLoss::Both);
    let distilling = config.loss != EmbeddingLoss::Cosface;
    let teacher_rows = if distilling || (cosface && config.cosface_centres_from_backbone) {
        teacher_embeddings(&teacher, inputs.train, distilling)?
    } else {
        Vec::new()
    };
    let mut net = TrainNet {
        // The backbone arrives on the plain CPU device; without forking it onto the autodiff one,
        // its weights would stay out of the graph and `--trainable all` would train only the heads.
        from: model_config.init_with(inputs.backbone.clone().train().fork(&device), &device),
        cosface: cosface.then(|| {
            if config.cosface_centres_from_backbone {
                CosFaceHead::from_centres(&identity_centres(inputs.train, &teacher_rows), &device)
            } else {
                CosFaceHead::new(inputs.train.identities.len(), MOBILEFACENET_EMBEDDING, &device)
            }
        }),
    };
    if config.mask_start_logit != OPEN_MASK_LOGIT {
        let bias = Tensor::<1>::full([MOBILEFACENET_FEATURES], config.mask_start_logit, &device);
        net.from.mask.conv2.bias = Some(Param::from_tensor(bias));
    }
    let pattern_set = PatternSet::new(MOBILEFACENET_INPUT, MOBILEFACENET_INPUT, config.grid)
        .map_err(|e| TrainError::Config(format!("grid: {e}")))?;
    if let Some(scale) = config.pattern_template {
        let mask_shape = [MOBILEFACENET_FEATURES, MOBILEFACENET_FEATURE_SIDE, MOBILEFACENET_FEATURE_SIDE];
        pattern_template::apply(&mut net.from.regress, &pattern_set, mask_shape, scale as f32, &device)
            .map_err(|e| TrainError::Config(format!("pattern_template: {e}")))?;
    }
    if let Some(path) = &config.start_from {
        let (start, start_config) = record::load_from_mobilefacenet(path, &inner)?;
        if start_config != model_config {
            return Err(TrainError::Config(format!(
                "start_from {}: its architecture ({start_config:?}) is not this run's ({model_config:?})",
                path.display()
            )));
        }
        net.from = start.train().fork(&device);
    }
    let mut optim = optimizer(config);
    let mut first_epoch = 0;
    if resume && progress_path.exists() {
        let saved = std::fs::read_to_string(&config_path).map_err(|e| run_error(&config_path, e))?;
        let saved = TrainConfig::from_json(&saved).map_err(|e| run_error(&config_path, e))?;
        let text = std::fs::read_to_string(&progress_path).map_err(|e| run_error(&progress_path, e))?;
        let progress: Progress = serde_json::from_str(&text).map_err(|e| run_error(&progress_path, e))?;
        check_extension(&saved, config, progress.epochs_done).map_err(|e| run_error(&config_path, e))?;
        write_atomically(&config_path, config_json.as_bytes()).map_err(|e| run_error(&config_path, e))?;
        record::load_module(&mut net, &net_path)?;
        optim = optim.load(&optim_path).map_err(|e| run_error(&optim_path, format!("{e:?}")))?;
        first_epoch = progress.epochs_done;
    } else {
        write_atomically(&config_path, config_json.as_bytes()).map_err(|e| run_error(&config_path, e))?;
        let _ = std::fs::remove_file(run_dir.join("metrics.csv"));
    }
    if config.pattern_template.is_some() {
        pattern_template::keep_statistics(&mut net.from.regress);
    }
    // The frozen prefix is the network's own (for a fresh run, the pretrained backbone's; a run
    // started from another model keeps that model's stem and first stage).
    let own_backbone = net.from.backbone.clone().valid();
    let prefix = freeze(config.trainable, &mut net.from, &own_backbone, &inner)?;
    let teacher_rows = if distilling { teacher_rows } else { Vec::new() };
    let protocol = RandomOcclusion::with_styles(inputs.occluders, config.occlusion_styles.clone());
    let steps = inputs.train.samples.len() / config.batch_size;

    for epoch in first_epoch..config.epochs {
        let started = Instant::now();
        let learning_rate = config.learning_rate_at(epoch);
        // One generator per epoch, so a resumed run draws what the uninterrupted one would.
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut order: Vec<usize> = (0..inputs.train.samples.len()).collect();
        order.shuffle(&mut rng);
        let mut sums = [0f64; 4];
        for (index, chunk) in order.chunks_exact(config.batch_size).enumerate() {
            let mut batch = StepBatch::default();
            for &i in chunk {
                let sample = &inputs.train.samples[i];
                let mut face = sample.face.clone();
                let occlusion = protocol.apply(&mut face, &mut rng);
                batch.labels.push(occlusion.label);
                batch.identities.push(sample.identity);
                if let Some(pair) = teacher_rows.get(i) {
                    batch.targets.extend_from_slice(&pair[usize::from(occlusion.flipped)]);
                }
                batch.faces.push(face);
            }
            let (trained, losses) = step(config, &prefix, net, &mut optim, &batch, learning_rate, &device);
            net = trained;
            sums[0] += f64::from(losses.loss);
            sums[1] += f64::from(losses.embedding);
            sums[2] += f64::from(losses.pattern);
            sums[3] += losses.right as f64 / chunk.len() as f64;
            let faces_per_second = ((index + 1) * config.batch_size) as f64 / started.elapsed().as_secs_f64();
            on_event(TrainEvent::Step(StepReport {
                epoch,
                step: index + 1,
                steps,
                loss: losses.loss,
                faces_per_second,
            }));
        }

        let trained = Network::FromMobileFaceNet { net: net.from.valid(), config: model_config.clone() };
        let trained = FaceModel::new(trained, &inner, run_dir)?;
        let ValidationScore {
            from_accuracy,
            mask_off_accuracy,
            pretrained_accuracy,
            pattern_accuracy,
            mask_mean,
            mask_contrast,
        } = validate(&trained, &teacher, inputs.validation, inputs.occluders, &config.occlusion_styles)?;
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            learning_rate,
            loss: sums[0] / steps as f64,
            embedding_loss: sums[1] / steps as f64,
            pattern_loss: sums[2] / steps as f64,
            pattern_accuracy: sums[3] / steps as f64,
            val_from_accuracy: from_accuracy,
            val_mask_off_accuracy: mask_off_accuracy,
            val_pretrained_accuracy: pretrained_accuracy,
            val_pattern_accuracy: pattern_accuracy,
            val_mask_mean: mask_mean,
            val_mask_removed_covered: mask_contrast.covered_removed,
            val_mask_removed_uncovered: mask_contrast.uncovered_removed,
            seconds: started.elapsed().as_secs_f64(),
        };
        record::save_from_mobilefacenet(
            &net.from,
            &model_config,
            &run_dir.join(format!("epoch-{:02}.bpk", epoch + 1)),
        )?;
        record::save_module(&net, &net_path, TRAIN_STATE, &[])?;
        optim.save(&optim_path).map_err(|e| run_error(&optim_path, format!("{e:?}")))?;
        let progress =
            serde_json::to_string(&Progress { epochs_done: epoch + 1 }).map_err(|e| run_error(&progress_path, e))?;
        write_atomically(&progress_path, progress.as_bytes()).map_err(|e| run_error(&progress_path, e))?;
        append_metrics(&run_dir.join("metrics.csv"), &metrics)?;
        on_event(TrainEvent::Epoch(metrics));
    }
    record::save_from_mobilefacenet(&net.from, &model_config, &run_dir.join("model.bpk"))?;
    Ok(net.from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_run_may_add_epochs_and_later_learning_rate_steps_only() {
        let saved = TrainConfig::new().with_epochs(2).with_lr_steps(vec![1]);
        // Two epochs done at 0.1 and 0.1 * decay: a third at a further decayed rate is an extension.
        assert_eq!(check_extension(&saved, &saved.clone().with_epochs(3).with_lr_steps(vec![1, 2]), 2), Ok(()));
        assert_eq!(check_extension(&saved, &saved.clone().with_epochs(3), 2), Ok(()));
        // Dropping the step would rewrite epoch 2's rate; moving it to epoch 3 likewise.
        for steps in [vec![], vec![2]] {
            let err = check_extension(&saved, &saved.clone().with_epochs(3).with_lr_steps(steps), 2).unwrap_err();
            assert!(err.contains("epoch 2"), "{err}");
        }
        // Any other change is refused.
        let err = check_extension(&saved, &saved.clone().with_seed(7), 2).unwrap_err();
        assert!(err.contains("differs"), "{err}");
    }
}
