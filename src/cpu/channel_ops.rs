//! What a CPU layer applies channel by channel around its sums: the prologue on its input (a
//! batch norm), and the epilogue on its output (bias, PReLU, batch norm, sigmoid, softmax).

use burn::nn::{BatchNorm, PRelu};
use burn::tensor::Tensor;

use super::CpuNetError;

/// `x * scale + shift`, per channel.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Affine {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
}

impl Affine {
    /// Inference batch norm.
    pub fn batch_norm(bn: &BatchNorm, layer: &str) -> Result<Self, CpuNetError> {
        let gamma = values(bn.gamma.val(), layer)?;
        let beta = values(bn.beta.val(), layer)?;
        let mean = values(bn.running_mean.value(), layer)?;
        let var = values(bn.running_var.value(), layer)?;
        let scale: Vec<f32> = gamma.iter().zip(&var).map(|(g, v)| g / (v + bn.epsilon as f32).sqrt()).collect();
        let shift = beta.iter().zip(&mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
        Ok(Self { scale, shift })
    }

    /// The same scale and shift for every one of `channels`.
    pub fn uniform(scale: f32, shift: f32, channels: usize) -> Self {
        Self { scale: vec![scale; channels], shift: vec![shift; channels] }
    }

    /// The entries in another order: entry `i` of the result is entry `order[i]`.
    pub fn permuted(&self, order: &[usize]) -> Self {
        Self {
            scale: order.iter().map(|&i| self.scale[i]).collect(),
            shift: order.iter().map(|&i| self.shift[i]).collect(),
        }
    }

    #[inline(always)]
    pub fn apply(&self, pixel: &mut [f32]) {
        self.apply_from(pixel, 0);
    }

    /// On channels `first ..` of a pixel.
    #[inline(always)]
    pub(super) fn apply_from(&self, part: &mut [f32], first: usize) {
        let (scale, shift) = (&self.scale[first..], &self.shift[first..]);
        for ((v, a), b) in part.iter_mut().zip(scale).zip(shift) {
            *v = *v * a + b;
        }
    }
}

/// What follows a layer's sum and bias, channel by channel.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ChannelOp {
    Affine(Affine),
    /// One slope per channel.
    PRelu(Vec<f32>),
    Sigmoid,
    /// Over the channels of each pixel, shifted by their maximum (as burn computes it).
    Softmax,
}

impl ChannelOp {
    /// PReLU with one slope per channel, also when the layer shares one slope among all.
    pub fn prelu(act: &PRelu, channels: usize, layer: &str) -> Result<Self, CpuNetError> {
        let slopes = values(act.alpha.val(), layer)?;
        Ok(ChannelOp::PRelu(if slopes.len() == 1 { vec![slopes[0]; channels] } else { slopes }))
    }

    #[inline(always)]
    pub fn apply(&self, pixel: &mut [f32]) {
        self.apply_from(pixel, 0);
    }

    /// On channels `first ..` of a pixel (a softmax needs them all: `first` 0).
    #[inline(always)]
    pub(super) fn apply_from(&self, pixel: &mut [f32], first: usize) {
        match self {
            ChannelOp::Affine(affine) => affine.apply_from(pixel, first),
            ChannelOp::PRelu(slopes) => {
                // Every value written, as a select: a store only where `v < 0` was compiled to
                // AVX masked stores, which AMD CPUs run in microcode (a third of the depthwise
                // layers' time in perf).
                for (v, a) in pixel.iter_mut().zip(&slopes[first..]) {
                    *v = if *v < 0.0 { *v * a } else { *v };
                }
            }
            ChannelOp::Sigmoid => {
                for v in pixel.iter_mut() {
                    *v = 1.0 / (1.0 + (-*v).exp());
                }
            }
            ChannelOp::Softmax => {
                debug_assert_eq!(first, 0, "a softmax over part of a pixel");
                let top = pixel.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                pixel.iter_mut().for_each(|v| *v = (*v - top).exp());
                let sum: f32 = pixel.iter().sum();
                pixel.iter_mut().for_each(|v| *v /= sum);
            }
        }
    }
}

/// Per output channel, after the sum: the bias, then `ops` in order.
#[derive(Debug, Clone)]
pub(crate) struct Epilogue {
    bias: Vec<f32>,
    ops: Vec<ChannelOp>,
}

impl Epilogue {
    pub(super) fn new(bias: Vec<f32>, ops: Vec<ChannelOp>) -> Self {
        Self { bias, ops }
    }

    #[inline(always)]
    pub(super) fn apply(&self, pixel: &mut [f32]) {
        self.apply_from(pixel, 0);
    }

    /// On output channels `first ..` of a pixel.
    #[inline(always)]
    pub(super) fn apply_from(&self, part: &mut [f32], first: usize) {
        for (v, b) in part.iter_mut().zip(&self.bias[first..]) {
            *v += b;
        }
        for op in &self.ops {
            op.apply_from(part, first);
        }
    }

    /// Whether it can run on part of a pixel's channels.
    pub(super) fn splits(&self) -> bool {
        !self.ops.contains(&ChannelOp::Softmax)
    }
}

pub(crate) fn values<const D: usize>(tensor: Tensor<D>, layer: &str) -> Result<Vec<f32>, CpuNetError> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| CpuNetError::Readback { layer: layer.to_string(), message: format!("{e:?}") })
}
