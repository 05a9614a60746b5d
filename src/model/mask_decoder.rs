//! FROM's mask decoders, the three of the official `lib/models/fpn.py`, each turning the
//! pyramid's top-down map X3 into a soft mask (values in (0, 1), 0 = corrupted):
//!
//! - [`MaskDecoder`] (`LResNet_Occ`, the paper's): Conv3x3 s2 -> PReLU -> BN -> Conv3x3 s2 ->
//!   Sigmoid, a mask of C5's shape;
//! - [`SpatialMaskDecoder`] (`LResNet_Occ_2D`): the same two stages, then PReLU -> BN -> Conv3x3
//!   s1 to one channel -> Sigmoid: one map over C5's cells, shared by every channel;
//! - [`EmbeddingMaskDecoder`] (`LResNet_Occ_FC`): Conv3x3 s2 -> PReLU -> BN -> Conv3x3 s2 to 64
//!   -> PReLU -> BN (`reduces`), flattened, then BN1d -> Linear -> BN1d -> Sigmoid (`mask`): a
//!   mask on the embedding, one value per dimension.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, LinearConfig, PRelu};
use burn::tensor::{Device, Tensor};

use super::block_ir::{batch_norm, conv3x3, prelu};
use super::config::{EMBEDDING_MASK_REDUCED, FromNetConfig, MaskDecoderKind};
use super::ops::{BurnOps, Ops};
use super::torch_names::{TorchRenames, under};

/// The initial logit of a mask decoder built with `start_open` (sigmoid(3) = 0.953).
pub const OPEN_MASK_LOGIT: f64 = 3.0;

#[derive(Config, Debug)]
pub struct MaskDecoderConfig {
    pub in_channels: usize,
    pub out_channels: usize,
    /// Start with a mask of sigmoid(OPEN_MASK_LOGIT) = 0.95 everywhere: the last conv gets a bias
    /// set to that logit and zero weights. A network grafted onto a pretrained backbone whose
    /// head has biases then starts out as that backbone; random weights would multiply its
    /// features by noise, and a uniform 0.5 (zero weights, no bias) turns its embedding
    /// noticeably, as the biases do not scale with the features.
    #[config(default = false)]
    pub start_open: bool,
}

/// The official `nn.Sequential(conv, PReLU, BN, conv)` indices.
pub const CHANNEL_DECODER_TORCH_NAMES: [(&str, &str); 4] =
    [("0", "conv1"), ("1", "prelu"), ("2", "bn"), ("3", "conv2")];

#[derive(Module, Debug)]
pub struct MaskDecoder {
    pub conv1: Conv2d,
    pub prelu: PRelu,
    pub bn: BatchNorm,
    pub conv2: Conv2d,
}

impl MaskDecoderConfig {
    pub fn init(&self, device: &Device) -> MaskDecoder {
        let [cin, cout] = [self.in_channels, self.out_channels];
        MaskDecoder {
            conv1: conv3x3([cin, cin], 2, false, device),
            prelu: prelu(cin, device),
            bn: batch_norm(cin, device),
            conv2: if self.start_open {
                // Fresh parameters: `Param::map` would keep the replaced tensors out of autodiff,
                // and with zero weights nothing upstream would ever receive a gradient.
                let conv = conv3x3([cin, cout], 2, true, device);
                let weight = Tensor::<4>::zeros([cout, cin, 3, 3], device);
                let bias = Tensor::<1>::full([cout], OPEN_MASK_LOGIT, device);
                Conv2d { weight: Param::from_tensor(weight), bias: Some(Param::from_tensor(bias)), ..conv }
            } else {
                conv3x3([cin, cout], 2, false, device)
            },
        }
    }
}

impl MaskDecoder {
    /// # Shapes
    /// - input (X3): `[batch, in_channels, 4h, 4w]`
    /// - output: `[batch, out_channels, h, w]`
    pub fn forward(&self, x3: Tensor<4>) -> Tensor<4> {
        self.forward_with(&mut BurnOps, x3)
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, x3: O::X) -> O::X {
        let x = o.conv(&self.conv1, x3);
        let x = o.prelu(&self.prelu, x);
        let x = o.batch_norm(&self.bn, x);
        let x = o.conv(&self.conv2, x);
        o.sigmoid(x)
    }
}

/// `LResNet_Occ_2D`'s decoder (see the module notes).
/// The official `nn.Sequential` indices.
pub const SPATIAL_DECODER_TORCH_NAMES: [(&str, &str); 7] =
    [("0", "conv1"), ("1", "prelu1"), ("2", "bn1"), ("3", "conv2"), ("4", "prelu2"), ("5", "bn2"), ("6", "conv3")];

#[derive(Module, Debug)]
pub struct SpatialMaskDecoder {
    pub conv1: Conv2d,
    pub prelu1: PRelu,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub prelu2: PRelu,
    pub bn2: BatchNorm,
    pub conv3: Conv2d,
}

impl SpatialMaskDecoder {
    fn init(fpn_channels: usize, c5_channels: usize, device: &Device) -> Self {
        let (f, c) = (fpn_channels, c5_channels);
        Self {
            conv1: conv3x3([f, f], 2, false, device),
            prelu1: prelu(f, device),
            bn1: batch_norm(f, device),
            conv2: conv3x3([f, c], 2, false, device),
            prelu2: prelu(c, device),
            bn2: batch_norm(c, device),
            conv3: conv3x3([c, 1], 1, false, device),
        }
    }

    /// # Shapes
    /// - input (X3): `[batch, fpn, 4h, 4w]`
    /// - output: `[batch, 1, h, w]`
    pub fn forward(&self, x3: Tensor<4>) -> Tensor<4> {
        self.forward_with(&mut BurnOps, x3)
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, x3: O::X) -> O::X {
        let x = o.conv(&self.conv1, x3);
        let x = o.prelu(&self.prelu1, x);
        let x = o.batch_norm(&self.bn1, x);
        let x = o.conv(&self.conv2, x);
        let x = o.prelu(&self.prelu2, x);
        let x = o.batch_norm(&self.bn2, x);
        let x = o.conv(&self.conv3, x);
        o.sigmoid(x)
    }
}

/// `LResNet_Occ_FC`'s decoder (see the module notes): `reduces` then `mask` in the official keys.
/// The official `reduces` sequence's indices.
pub const EMBEDDING_DECODER_REDUCES_TORCH_NAMES: [(&str, &str); 6] = [
    ("0", "reduce_conv1"),
    ("1", "reduce_prelu1"),
    ("2", "reduce_bn1"),
    ("3", "reduce_conv2"),
    ("4", "reduce_prelu2"),
    ("5", "reduce_bn2"),
];
/// The official `mask` sequence's indices.
pub const EMBEDDING_DECODER_MASK_TORCH_NAMES: [(&str, &str); 3] = [("0", "bn_in"), ("1", "linear"), ("2", "bn_out")];

#[derive(Module, Debug)]
pub struct EmbeddingMaskDecoder {
    pub reduce_conv1: Conv2d,
    pub reduce_prelu1: PRelu,
    pub reduce_bn1: BatchNorm,
    pub reduce_conv2: Conv2d,
    pub reduce_prelu2: PRelu,
    pub reduce_bn2: BatchNorm,
    pub bn_in: BatchNorm,
    pub linear: Linear,
    pub bn_out: BatchNorm,
}

impl EmbeddingMaskDecoder {
    fn init(fpn_channels: usize, cells: usize, embedding_dim: usize, device: &Device) -> Self {
        let (f, r) = (fpn_channels, EMBEDDING_MASK_REDUCED);
        Self {
            reduce_conv1: conv3x3([f, f], 2, false, device),
            reduce_prelu1: prelu(f, device),
            reduce_bn1: batch_norm(f, device),
            reduce_conv2: conv3x3([f, r], 2, false, device),
            reduce_prelu2: prelu(r, device),
            reduce_bn2: batch_norm(r, device),
            bn_in: batch_norm(r * cells, device),
            linear: LinearConfig::new(r * cells, embedding_dim).init(device),
            bn_out: batch_norm(embedding_dim, device),
        }
    }

    /// # Shapes
    /// - input (X3): `[batch, fpn, 4h, 4w]`
    /// - output: `[batch, embedding_dim, 1, 1]` (4-D like the other masks, not spatial)
    pub fn forward(&self, x3: Tensor<4>) -> Tensor<4> {
        self.forward_with(&mut BurnOps, x3)
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, x3: O::X) -> O::X {
        let x = o.conv(&self.reduce_conv1, x3);
        let x = o.prelu(&self.reduce_prelu1, x);
        let x = o.batch_norm(&self.reduce_bn1, x);
        let x = o.conv(&self.reduce_conv2, x);
        let x = o.prelu(&self.reduce_prelu2, x);
        let x = o.batch_norm(&self.reduce_bn2, x);
        let x = o.flatten(x);
        let x = o.batch_norm(&self.bn_in, x);
        let x = o.linear(&self.linear, x);
        let x = o.batch_norm(&self.bn_out, x);
        o.sigmoid(x)
    }
}

/// The mask decoder of a [`FromNet`](super::FromNet): one of the three official ones.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant, reason = "one decoder per network, held for its lifetime")]
pub enum MaskHead {
    Channel(MaskDecoder),
    Spatial(SpatialMaskDecoder),
    Embedding(EmbeddingMaskDecoder),
}

impl MaskHead {
    pub fn init(config: &FromNetConfig, device: &Device) -> Self {
        let (f, c5) = (config.fpn_channels, config.widths[3]);
        match config.decoder {
            MaskDecoderKind::Channel => MaskHead::Channel(MaskDecoderConfig::new(f, c5).init(device)),
            MaskDecoderKind::Spatial => MaskHead::Spatial(SpatialMaskDecoder::init(f, c5, device)),
            MaskDecoderKind::Embedding => {
                let [h, w] = config.feature_size();
                MaskHead::Embedding(EmbeddingMaskDecoder::init(f, h * w, config.embedding_dim, device))
            }
        }
    }

    /// The decoded mask: `[batch, C5 channels, h, w]` (channel), `[batch, 1, h, w]` (spatial) or
    /// `[batch, embedding_dim, 1, 1]` (embedding).
    pub fn forward(&self, x3: Tensor<4>) -> Tensor<4> {
        self.forward_with(&mut BurnOps, x3)
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, x3: O::X) -> O::X {
        match self {
            MaskHead::Channel(d) => d.forward_with(o, x3),
            MaskHead::Spatial(d) => d.forward_with(o, x3),
            MaskHead::Embedding(d) => d.forward_with(o, x3),
        }
    }
}

impl MaskHead {
    /// The official keys of the decoder, relative to the network: `mask.*`, and for the
    /// embedding mask also `reduces.*` (the official network keeps its reducing convs apart).
    pub fn torch_renames(&self) -> TorchRenames {
        match self {
            MaskHead::Channel(_) => under("mask", "mask", &CHANNEL_DECODER_TORCH_NAMES),
            MaskHead::Spatial(_) => under("mask", "mask", &SPATIAL_DECODER_TORCH_NAMES),
            MaskHead::Embedding(_) => {
                let mut renames = under("reduces", "mask", &EMBEDDING_DECODER_REDUCES_TORCH_NAMES);
                renames.extend(under("mask", "mask", &EMBEDDING_DECODER_MASK_TORCH_NAMES));
                renames
            }
        }
    }
}
