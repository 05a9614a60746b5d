//! Everything that defines a training run, saved beside its checkpoints so `--resume` and the
//! README's "Training the default model" reproduce it exactly.

use burn::config::Config;
use serde::{Deserialize, Serialize};

/// Which losses train the masked embedding (the pattern loss is always on, weighted by
/// `pattern_weight`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum EmbeddingLoss {
    /// 1 - cosine(masked embedding of the occluded face, frozen backbone's embedding of the
    /// clean face): needs no identity labels.
    Distill,
    /// CosFace (large-margin cosine) over the training identities.
    Cosface,
    /// Both, summed.
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// SGD with momentum and weight decay (the paper's recipe for the whole network).
    Sgd,
    /// Adam with weight decay (the default for training the heads).
    Adam,
}

/// Which parts of the network learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Trainable {
    /// Pyramid, mask decoder and pattern predictor; the pretrained backbone stays fixed.
    Heads,
    /// The heads and the backbone.
    All,
}

#[derive(Config, Debug)]
pub struct TrainConfig {
    #[config(default = "EmbeddingLoss::Distill")]
    pub loss: EmbeddingLoss,
    #[config(default = "Trainable::Heads")]
    pub trainable: Trainable,
    #[config(default = "OptimizerKind::Adam")]
    pub optimizer: OptimizerKind,
    #[config(default = 3)]
    pub epochs: usize,
    #[config(default = 64)]
    pub batch_size: usize,
    /// The default suits Adam on the heads; SGD at 0.05 (the paper's order for the whole
    /// network) saturated the mask decoder's sigmoid at zero within the first epoch.
    #[config(default = 0.001)]
    pub learning_rate: f64,
    /// Epochs (0-based) at whose start the learning rate is multiplied by `lr_decay`.
    #[config(default = "vec![2]")]
    pub lr_steps: Vec<usize>,
    #[config(default = 0.1)]
    pub lr_decay: f64,
    #[config(default = 0.9)]
    pub momentum: f64,
    #[config(default = 5e-4)]
    pub weight_decay: f64,
    /// Weight of the distillation term. 1 - cosine is about 0.2 where the pattern cross-entropy
    /// starts near ln(226) = 5.4; without a weight the pattern loss alone shapes the mask.
    #[config(default = 10.0)]
    pub distill_weight: f64,
    /// lambda: weight of the occlusion-pattern cross-entropy.
    #[config(default = 1.0)]
    pub pattern_weight: f64,
    #[config(default = 30.0)]
    pub cosface_scale: f64,
    #[config(default = 0.35)]
    pub cosface_margin: f64,
    /// Fraction of identities held out for the per-epoch validation score.
    #[config(default = 0.1)]
    pub validation_fraction: f64,
    #[config(default = 20211)]
    pub seed: u64,
    /// Channels of the pyramid (see `FromMobileFaceNetConfig`).
    #[config(default = 64)]
    pub fpn_channels: usize,
    #[config(default = "crate::patterns::DEFAULT_GRID")]
    pub grid: usize,
}

impl TrainConfig {
    /// The learning rate of `epoch` (0-based) under the step schedule.
    pub fn learning_rate_at(&self, epoch: usize) -> f64 {
        let steps = self.lr_steps.iter().filter(|&&s| s <= epoch).count();
        self.learning_rate * self.lr_decay.powi(steps as i32)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 || self.batch_size < 2 {
            return Err("epochs must be >= 1 and batch size >= 2 (batch norm needs two samples)".into());
        }
        if !(self.learning_rate > 0.0) {
            return Err(format!("learning rate must be positive, got {}", self.learning_rate));
        }
        if !(0.0..0.9).contains(&self.validation_fraction) {
            return Err(format!("validation fraction must be in [0, 0.9), got {}", self.validation_fraction));
        }
        Ok(())
    }
}
