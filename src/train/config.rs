//! Everything that defines a training run, saved beside its checkpoints so `--resume` and the
//! README's "Training the default model" reproduce it exactly.

use burn::config::Config;
use serde::{Deserialize, Serialize};

use crate::occlusion::OcclusionStyle;

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
    /// The heads and the backbone after its first pyramid tap (c3, 28x28): the stem and first
    /// stage stay pretrained and run outside the autodiff graph (on the CPU inference path when
    /// training on the CPU). They are ~46% of the backbone's multiply-adds and its largest
    /// activations, and see only low-level texture, which occlusion corrupts least.
    AfterC3,
    /// The heads and the whole backbone.
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
    /// Start CosFace's class centres at each identity's mean embedding by the pretrained
    /// backbone (else random): the pretrained embedder then starts near CosFace's optimum
    /// instead of being pulled towards random centres.
    #[config(default = true)]
    pub cosface_centres_from_backbone: bool,
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
    /// The mask decoder's initial output logit everywhere (its last conv starts at zero weights
    /// and this bias): 3.0 starts the mask open at 0.95, the pretrained embedder itself; 0.0
    /// starts it at 0.5, where the sigmoid is steepest, so that the losses have to open the cells
    /// that carry identity rather than find any reason to close one.
    #[config(default = "crate::model::mask_decoder::OPEN_MASK_LOGIT")]
    pub mask_start_logit: f64,
    /// How training occluders are put on, one drawn uniformly per occluded face: `alpha`,
    /// `pasted-grey`, `pasted-black`, `pasted-white`, `grey-box` (see `OcclusionStyle`).
    #[config(default = "vec![OcclusionStyle::Alpha]")]
    pub occlusion_styles: Vec<OcclusionStyle>,
    /// Start the pattern predictor as a matched filter of each pattern's mask cells, `scale`
    /// logits per cell, with its BNs on their stored statistics (see `train::pattern_template`);
    /// `null` (the default) keeps the authors' random start and batch statistics.
    #[config(default = "None")]
    pub pattern_template: Option<f64>,
    /// Weight of mean(1 - mask) over every cell and channel of every face in the batch: a
    /// label-free prior that the mask keeps what no loss gives it a reason to remove (the
    /// ground-truth occlusion is never seen). 0 (the default) leaves it out.
    #[config(default = 0.0)]
    pub mask_sparsity: f64,
    /// A FROM-MobileFaceNet record (e.g. an earlier run's model.bpk) whose weights this run
    /// starts from, instead of the pretrained backbone with fresh heads; the pretrained backbone
    /// stays the distillation teacher and the source of the CosFace centres.
    #[config(default = "None")]
    pub start_from: Option<std::path::PathBuf>,
}

impl TrainConfig {
    /// Reads a configuration from JSON in which any field may be missing and takes its default:
    /// configurations written before a field existed (a run's config.json, the shipped recipe)
    /// keep loading, as the run they describe.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let mut merged = serde_json::to_value(TrainConfig::new())?;
        let given: serde_json::Value = serde_json::from_str(text)?;
        match (merged.as_object_mut(), given) {
            (Some(fields), serde_json::Value::Object(given)) => fields.extend(given),
            // Not an object: let serde say what it is instead.
            (_, other) => return serde_json::from_value(other),
        }
        serde_json::from_value(merged)
    }

    /// The learning rate of `epoch` (0-based) under the step schedule.
    pub fn learning_rate_at(&self, epoch: usize) -> f64 {
        let steps = self.lr_steps.iter().filter(|&&s| s <= epoch).count();
        self.learning_rate * self.lr_decay.powi(steps as i32)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 || self.batch_size < 2 {
            return Err("epochs must be >= 1 and batch size >= 2 (batch norm needs two samples)".into());
        }
        if self.learning_rate.is_nan() || self.learning_rate <= 0.0 {
            return Err(format!("learning rate must be positive, got {}", self.learning_rate));
        }
        if !(0.0..0.9).contains(&self.validation_fraction) {
            return Err(format!("validation fraction must be in [0, 0.9), got {}", self.validation_fraction));
        }
        if let Some(scale) = self.pattern_template
            && !(scale.is_finite() && scale > 0.0)
        {
            return Err(format!("pattern_template must be a positive number of logits per cell, got {scale}"));
        }
        if !(self.mask_sparsity.is_finite() && self.mask_sparsity >= 0.0) {
            return Err(format!("mask_sparsity must be a number >= 0, got {}", self.mask_sparsity));
        }
        Ok(())
    }
}
