//! MobileFaceNet (Chen et al. 2018) as trained by sirius-ai/MobileFaceNet_TF: 112 x 112 input, a
//! 192-d L2-normalised embedding. Batch norm is folded into the conv biases in the shipped
//! weights, so every conv here has a bias and there is no BatchNorm.
//!
//! Stages (output size for 112 x 112 input):
//! - `stem`: conv3x3 s2 (64) + PReLU, depthwise 3x3 (64) + PReLU, conv1x1 (64) — 56 x 56
//! - `stage2`: 5 bottlenecks, expansion 128, output 64, first stride 2 — 28 x 28 (pyramid tap)
//! - `stage3`: 1 bottleneck 256 -> 128, stride 2; `stage4`: 6 bottlenecks — 14 x 14 (tap)
//! - `stage5`: 1 bottleneck 512 -> 128, stride 2; `stage6`: 2 bottlenecks — 7 x 7 (tap)
//! - `conv7`: conv1x1 (512) + PReLU — the 7 x 7 x 512 map FROM masks
//! - `head`: global depthwise conv 7x7, conv1x1 512, conv1x1 192, L2 normalisation

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{PRelu, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use super::block_ir::prelu;
use super::ops::{BurnOps, InputNorm, Ops, vectors};

/// Embedding size of the shipped model.
pub const MOBILEFACENET_EMBEDDING: usize = 192;
/// Channels of the final feature map.
pub const MOBILEFACENET_FEATURES: usize = 512;
/// Input side of the ArcFace-aligned crop.
pub const MOBILEFACENET_INPUT: usize = 112;
/// TensorFlow's guard against division by zero in `l2_normalize`.
const L2_EPSILON: f32 = 1e-10;
/// Input normalisation, (pixel - mean) / scale, as sirius-ai trained it (measured best on LFW
/// pairs among the usual choices).
/// MobileFaceNet_TF's input: (x - 127.5) / 128.
pub const MOBILEFACENET_NORM: InputNorm = InputNorm { mean: 127.5, scale: 128.0 };

/// TensorFlow "SAME" padding of a 3x3 conv: stride 1 pads 1 on every side; stride 2 on an even
/// input pads only bottom and right.
pub fn same_padding_3x3(stride: usize) -> PaddingConfig2d {
    if stride == 1 { PaddingConfig2d::Explicit(1, 1, 1, 1) } else { PaddingConfig2d::Explicit(0, 0, 1, 1) }
}

fn conv(channels: [usize; 2], kernel: usize, stride: usize, groups: usize, device: &Device) -> Conv2d {
    let padding = if kernel == 3 { same_padding_3x3(stride) } else { PaddingConfig2d::Valid };
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(padding)
        .init(device)
}

/// A conv followed by an optional PReLU.
#[derive(Module, Debug)]
pub struct ConvAct {
    pub conv: Conv2d,
    pub act: Option<PRelu>,
}

impl ConvAct {
    pub fn new(
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        depthwise: bool,
        act: bool,
        device: &Device,
    ) -> Self {
        let groups = if depthwise { channels[0] } else { 1 };
        Self { conv: conv(channels, kernel, stride, groups, device), act: act.then(|| prelu(channels[1], device)) }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_with(&mut BurnOps, x)
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, x: O::X) -> O::X {
        let x = o.conv(&self.conv, x);
        match &self.act {
            Some(act) => o.prelu(act, x),
            None => x,
        }
    }
}

/// Inverted residual bottleneck: expand 1x1 + PReLU, depthwise 3x3 + PReLU, project 1x1.
#[derive(Module, Debug)]
pub struct Bottleneck {
    pub expand: ConvAct,
    pub depthwise: ConvAct,
    pub project: ConvAct,
    pub residual: bool,
}

impl Bottleneck {
    pub fn new(input: usize, hidden: usize, output: usize, stride: usize, device: &Device) -> Self {
        Self {
            expand: ConvAct::new([input, hidden], 1, 1, false, true, device),
            depthwise: ConvAct::new([hidden, hidden], 3, stride, true, true, device),
            project: ConvAct::new([hidden, output], 1, 1, false, false, device),
            residual: stride == 1 && input == output,
        }
    }

    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        self.forward_with(&mut BurnOps, input)
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, input: O::X) -> O::X {
        let x = self.expand.forward_with(o, input.clone());
        let x = self.depthwise.forward_with(o, x);
        let x = self.project.forward_with(o, x);
        if self.residual { o.add(x, input) } else { x }
    }
}

/// Stage widths and depths; the defaults are the shipped model.
#[derive(Config, Debug)]
pub struct MobileFaceNetConfig {
    /// (blocks, hidden, output, first stride) per bottleneck stage.
    #[config(default = "[(5, 128, 64, 2), (1, 256, 128, 2), (6, 256, 128, 1), (1, 512, 128, 2), (2, 256, 128, 1)]")]
    pub stages: [(usize, usize, usize, usize); 5],
    #[config(default = 64)]
    pub stem: usize,
    #[config(default = "MOBILEFACENET_FEATURES")]
    pub features: usize,
    #[config(default = "MOBILEFACENET_EMBEDDING")]
    pub embedding: usize,
}

#[derive(Module, Debug)]
pub struct MobileFaceNet {
    pub stem: Vec<ConvAct>,
    pub stages: Vec<Vec<Bottleneck>>,
    pub conv7: ConvAct,
    pub gdc: ConvAct,
    pub head_conv: ConvAct,
    pub linear: ConvAct,
}

/// The stage outputs FROM's pyramid reads, and the map it masks.
///
/// # Shapes (112 x 112 input)
/// - `c3`: `[batch, 64, 28, 28]`, `c4`: `[batch, 128, 14, 14]`, `c5`: `[batch, 128, 7, 7]`
/// - `features`: `[batch, 512, 7, 7]` (before the global depthwise conv)
#[derive(Debug, Clone)]
pub struct MobileFaceNetTaps<X = Tensor<4>> {
    pub c3: X,
    pub c4: X,
    pub c5: X,
    pub features: X,
}

impl MobileFaceNetConfig {
    pub fn init(&self, device: &Device) -> MobileFaceNet {
        let s = self.stem;
        let mut input = s;
        let stages = self
            .stages
            .iter()
            .map(|&(blocks, hidden, output, stride)| {
                (0..blocks)
                    .map(|b| {
                        let block = Bottleneck::new(input, hidden, output, if b == 0 { stride } else { 1 }, device);
                        input = output;
                        block
                    })
                    .collect()
            })
            .collect();
        let f = self.features;
        MobileFaceNet {
            stem: vec![
                ConvAct::new([3, s], 3, 2, false, true, device),
                ConvAct::new([s, s], 3, 1, true, true, device),
                ConvAct::new([s, s], 1, 1, false, false, device),
            ],
            stages,
            conv7: ConvAct::new([input, f], 1, 1, false, true, device),
            gdc: ConvAct::new([f, f], 7, 1, true, false, device),
            head_conv: ConvAct::new([f, f], 1, 1, false, false, device),
            linear: ConvAct::new([f, self.embedding], 1, 1, false, false, device),
        }
    }
}

impl MobileFaceNet {
    /// # Shapes
    /// - input: `[batch, 3, 112, 112]`, normalised RGB
    pub fn taps(&self, input: Tensor<4>) -> MobileFaceNetTaps {
        self.taps_with(&mut BurnOps, input)
    }

    pub fn taps_with<O: Ops>(&self, o: &mut O, input: O::X) -> MobileFaceNetTaps<O::X> {
        let c3 = self.c3_with(o, input);
        self.taps_from_c3_with(o, c3)
    }

    /// The first pyramid tap: the stem and the first bottleneck stage.
    ///
    /// # Shapes
    /// - input: `[batch, 3, 112, 112]`, normalised RGB; output: `[batch, 64, 28, 28]`
    pub fn c3(&self, input: Tensor<4>) -> Tensor<4> {
        self.c3_with(&mut BurnOps, input)
    }

    pub fn c3_with<O: Ops>(&self, o: &mut O, input: O::X) -> O::X {
        let x = self.stem.iter().fold(input, |x, layer| layer.forward_with(o, x));
        self.run_stage(o, x, 0)
    }

    fn run_stage<O: Ops>(&self, o: &mut O, x: O::X, stage: usize) -> O::X {
        self.stages[stage].iter().fold(x, |x, b| b.forward_with(o, x))
    }

    /// The taps from the first one on: training with the stem and first stage frozen computes
    /// `c3` outside the autodiff graph and starts here.
    pub fn taps_from_c3(&self, c3: Tensor<4>) -> MobileFaceNetTaps {
        self.taps_from_c3_with(&mut BurnOps, c3)
    }

    pub fn taps_from_c3_with<O: Ops>(&self, o: &mut O, c3: O::X) -> MobileFaceNetTaps<O::X> {
        let x = self.run_stage(o, c3.clone(), 1);
        let c4 = self.run_stage(o, x, 2);
        let x = self.run_stage(o, c4.clone(), 3);
        let c5 = self.run_stage(o, x, 4);
        let features = self.conv7.forward_with(o, c5.clone());
        MobileFaceNetTaps { c3, c4, c5, features }
    }

    /// The embedding of a (possibly masked) final feature map, before L2 normalisation.
    ///
    /// # Shapes
    /// - input: `[batch, 512, 7, 7]`; output: `[batch, 192]`
    pub fn embed_features(&self, features: Tensor<4>) -> Tensor<2> {
        vectors(self.embed_features_with(&mut BurnOps, features))
    }

    /// # Shapes
    /// - output: `[batch, embedding, 1, 1]`
    pub fn embed_features_with<O: Ops>(&self, o: &mut O, features: O::X) -> O::X {
        let x = self.gdc.forward_with(o, features);
        let x = self.head_conv.forward_with(o, x);
        self.linear.forward_with(o, x)
    }

    /// L2-normalised embeddings, as the shipped graph outputs them.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        l2_normalize(self.embed_features(self.taps(input).features))
    }
}

/// `x / sqrt(max(sum x^2, eps))` row-wise, like `tf.math.l2_normalize`.
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).clamp_min(L2_EPSILON).sqrt();
    x / norm
}

/// `l2_normalize` on one vector.
pub fn l2_normalize_vec(mut x: Vec<f32>) -> Vec<f32> {
    let norm = x.iter().map(|v| v * v).sum::<f32>().max(L2_EPSILON).sqrt();
    x.iter_mut().for_each(|v| *v /= norm);
    x
}

/// Maps RGB pixel values in 0..=255 to MobileFaceNet's input range ([`MOBILEFACENET_NORM`]).
pub fn normalize_mobilefacenet(raw: Tensor<4>) -> Tensor<4> {
    MOBILEFACENET_NORM.apply(raw)
}
