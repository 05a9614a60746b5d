//! One optimiser step of `maskscope train`: forward (from the pixels, or from the frozen
//! prefix's output), the losses, backward, update. The training loop and `bench train` both run
//! it, so the benchmark times exactly what training does.

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;

use super::config::{TrainConfig, Trainable};
use super::losses::{CosFaceHead, cross_entropy, distill};
use super::prefix::FrozenPrefix;
use crate::cpu::CpuNetError;
use crate::model::from_mobilefacenet::FromMobileFaceNet;
use crate::model::mobilefacenet::MobileFaceNet;

/// What the network being trained holds: the FROM model and, for CosFace, the class centres.
#[derive(Module, Debug)]
pub struct TrainNet {
    pub from: FromMobileFaceNet,
    pub cosface: Option<CosFaceHead>,
}

/// One batch of occluded faces with their supervision.
#[derive(Debug, Clone, Default)]
pub struct StepBatch {
    pub faces: Vec<RgbImage>,
    /// Occlusion pattern of each face.
    pub labels: Vec<usize>,
    /// Training identity of each face (CosFace).
    pub identities: Vec<usize>,
    /// Distillation targets, one embedding per face back to back; empty without distillation.
    pub targets: Vec<f32>,
}

/// What one step measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepLosses {
    pub loss: f32,
    /// CosFace and/or weighted distillation.
    pub embedding: f32,
    pub pattern: f32,
    /// Faces whose pattern the predictor got right.
    pub right: usize,
}

/// Freezes what `trainable` keeps fixed in `net` and returns the prefix its forward pass starts
/// after; `pretrained` (on `inner`, a device without autodiff) computes that prefix.
pub fn freeze(
    trainable: Trainable,
    net: &mut FromMobileFaceNet,
    pretrained: &MobileFaceNet,
    inner: &Device,
) -> Result<FrozenPrefix, CpuNetError> {
    Ok(match trainable {
        Trainable::Heads => {
            net.backbone = net.backbone.clone().freeze();
            FrozenPrefix::None
        }
        Trainable::AfterC3 => {
            let backbone = &mut net.backbone;
            backbone.stem = std::mem::take(&mut backbone.stem).freeze();
            backbone.stages[0] = std::mem::take(&mut backbone.stages[0]).freeze();
            FrozenPrefix::c3(pretrained, inner)?
        }
        Trainable::All => FrozenPrefix::None,
    })
}

/// One optimiser step on `batch` at `learning_rate`; `device` has autodiff.
pub fn step(
    config: &TrainConfig,
    prefix: &FrozenPrefix,
    net: TrainNet,
    optim: &mut ModuleOptimizer,
    batch: &StepBatch,
    learning_rate: f64,
    device: &Device,
) -> (TrainNet, StepLosses) {
    let n = batch.faces.len();
    let output = prefix.forward(&net.from, &batch.faces.iter().collect::<Vec<_>>(), device);
    let pattern_loss = cross_entropy(output.pattern_logits.clone(), &batch.labels);
    let mut embedding_loss = Tensor::<1>::zeros([1], device);
    if !batch.targets.is_empty() {
        let dim = batch.targets.len() / n;
        let target = Tensor::<2>::from_data(TensorData::new(batch.targets.clone(), [n, dim]), device);
        embedding_loss =
            embedding_loss + distill(output.masked_embedding.clone(), target).mul_scalar(config.distill_weight);
    }
    if let Some(head) = &net.cosface {
        embedding_loss = embedding_loss
            + head.loss(
                output.masked_embedding.clone(),
                &batch.identities,
                config.cosface_scale,
                config.cosface_margin,
            );
    }
    let mut loss = embedding_loss.clone() + pattern_loss.clone().mul_scalar(config.pattern_weight);
    if config.mask_sparsity > 0.0 {
        let removed = output.mask.clone().neg().add_scalar(1.0).mean();
        loss = loss + removed.mul_scalar(config.mask_sparsity);
    }
    let predicted =
        output.pattern_logits.argmax(1).into_data().convert::<i64>().try_into_vec::<i64>().unwrap_or_default();
    let right = predicted.iter().zip(&batch.labels).filter(|&(&p, &l)| p as usize == l).count();
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let net = optim.step(learning_rate, net, grads);
    let scalar = |t: Tensor<1>| t.into_scalar::<f32>();
    let losses =
        StepLosses { loss: scalar(loss), embedding: scalar(embedding_loss), pattern: scalar(pattern_loss), right };
    (net, losses)
}
