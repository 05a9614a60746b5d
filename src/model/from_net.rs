//! The FROM network (Qiu et al., TPAMI 2021): backbone -> pyramid -> mask decoder; the mask
//! multiplies C5 before the embedding head, and the pattern predictor classifies the mask.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::block_ir::DOWNSAMPLE_TORCH_NAMES;
use super::config::FromNetConfig;
use super::fpn::{FPN_TORCH_NAMES, Fpn, FpnConfig};
use super::heads::{FLAT_HEAD_TORCH_NAMES, FlatHead, FlatHeadConfig};
use super::lresnet::{BackboneFeatures, LResNet, LResNetConfig};
use super::mask_decoder::MaskHead;
use super::ops::{BurnOps, InputNorm, Ops, vectors};
use super::torch_names::{TorchRenames, anywhere, under};

/// Everything one forward pass yields.
///
/// # Shapes
/// - `masked_embedding`, `unmasked_embedding`: `[batch, embedding_dim]`
/// - `mask`: `[batch, widths[3], h, w]` (7 x 6 for 112 x 96 faces); the spatial decoder's
///   `[batch, 1, h, w]`; the embedding decoder's `[batch, embedding_dim, 1, 1]`
/// - `pattern_logits`: `[batch, patterns]`
#[derive(Debug, Clone)]
pub struct FromOutput {
    pub masked_embedding: Tensor<2>,
    pub mask: Tensor<4>,
    pub pattern_logits: Tensor<2>,
    pub unmasked_embedding: Tensor<2>,
}

/// [`FromOutput`] as the [`Ops`] give it: every output 4-D, the embeddings and logits
/// `[batch, features, 1, 1]`.
#[derive(Debug, Clone)]
pub struct FromParts<X> {
    pub masked_embedding: X,
    pub mask: X,
    pub pattern_logits: X,
    pub unmasked_embedding: X,
}

impl From<FromParts<Tensor<4>>> for FromOutput {
    fn from(parts: FromParts<Tensor<4>>) -> Self {
        FromOutput {
            masked_embedding: vectors(parts.masked_embedding),
            mask: parts.mask,
            pattern_logits: vectors(parts.pattern_logits),
            unmasked_embedding: vectors(parts.unmasked_embedding),
        }
    }
}

#[derive(Module, Debug)]
pub struct FromNet {
    pub backbone: LResNet,
    pub fpn: Fpn,
    pub mask: MaskHead,
    pub fc: FlatHead,
    pub regress: FlatHead,
}

impl FromNetConfig {
    /// Panics on a configuration that [`FromNetConfig::validate`] rejects.
    pub fn init(&self, device: &Device) -> FromNet {
        if let Err(why) = self.validate() {
            panic!("invalid FROM configuration: {why}");
        }
        let [_, c3, c4, c5] = self.widths;
        let flat = self.flat_features();
        FromNet {
            backbone: LResNetConfig::new(self.widths, self.blocks).init(device),
            fpn: FpnConfig::new([c3, c4, c5], self.fpn_channels).init(device),
            mask: MaskHead::init(self, device),
            fc: FlatHeadConfig::new(flat, self.embedding_dim, true).init(device),
            regress: FlatHeadConfig::new(self.pattern_features(), self.pattern_count(), false).init(device),
        }
    }
}

/// The official code's input: (x / 255 - 0.5) / 0.5.
pub const LRESNET_NORM: InputNorm = InputNorm { mean: 127.5, scale: 127.5 };

/// Maps RGB pixel values in 0..=255 to the network's input range ([`LRESNET_NORM`]).
pub fn normalize_pixels(raw: Tensor<4>) -> Tensor<4> {
    LRESNET_NORM.apply(raw)
}

/// A FROM network, whichever its backbone: what the CPU path traces.
pub trait FromForward {
    /// How its input is normalised.
    const NORM: InputNorm;

    /// The forward pass on normalised input.
    fn forward_with<O: Ops>(&self, o: &mut O, input: O::X) -> FromParts<O::X>;
}

impl FromForward for FromNet {
    const NORM: InputNorm = LRESNET_NORM;

    fn forward_with<O: Ops>(&self, o: &mut O, input: O::X) -> FromParts<O::X> {
        FromNet::forward_with(self, o, input)
    }
}

impl FromNet {
    /// Backbone features and the decoded mask.
    ///
    /// # Shapes
    /// - input: `[batch, 3, H, W]`, normalised ([`normalize_pixels`])
    pub fn features(&self, input: Tensor<4>) -> (BackboneFeatures, Tensor<4>) {
        self.features_with(&mut BurnOps, input)
    }

    pub fn features_with<O: Ops>(&self, o: &mut O, input: O::X) -> (BackboneFeatures<O::X>, O::X) {
        let features = self.backbone.forward_with(o, input);
        let x3 = self.fpn.forward_with(o, features.c3.clone(), features.c4.clone(), features.c5.clone());
        let mask = self.mask.forward_with(o, x3);
        (features, mask)
    }

    /// The full forward pass with the decoded mask.
    pub fn forward(&self, input: Tensor<4>) -> FromOutput {
        self.forward_with(&mut BurnOps, input).into()
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, input: O::X) -> FromParts<O::X> {
        let (features, mask) = self.features_with(o, input);
        self.heads_with(o, features.c5, mask)
    }

    /// The forward pass with an externally given mask in place of the decoded one (the
    /// pattern logits then describe that mask too).
    ///
    /// # Shapes
    /// - `mask`: `[batch, widths[3], h, w]`
    pub fn forward_with_mask(&self, input: Tensor<4>, mask: Tensor<4>) -> FromOutput {
        let features = self.backbone.forward(input);
        self.heads(features.c5, mask)
    }

    /// Embeddings and pattern logits from C5 and a mask of the decoder's shape.
    pub fn heads(&self, c5: Tensor<4>, mask: Tensor<4>) -> FromOutput {
        self.heads_with(&mut BurnOps, c5, mask).into()
    }

    pub fn heads_with<O: Ops>(&self, o: &mut O, c5: O::X, mask: O::X) -> FromParts<O::X> {
        let unmasked_embedding = self.fc.forward_with(o, c5.clone());
        let (masked_embedding, pattern_logits) = match &self.mask {
            MaskHead::Channel(_) => {
                let masked = o.mul(c5, mask.clone());
                (self.fc.forward_with(o, masked), self.regress.forward_with(o, mask.clone()))
            }
            MaskHead::Spatial(decoder) => {
                // The official code repeats the map over the channels before both uses.
                let channels = decoder.conv2.weight.dims()[0];
                let repeated = o.repeat_channels(mask.clone(), channels);
                let masked = o.mul(c5, repeated.clone());
                (self.fc.forward_with(o, masked), self.regress.forward_with(o, repeated))
            }
            MaskHead::Embedding(_) => {
                let masked = o.mul(unmasked_embedding.clone(), mask.clone());
                (masked, self.regress.forward_with(o, mask.clone()))
            }
        };
        FromParts { masked_embedding, mask, pattern_logits, unmasked_embedding }
    }
}

impl FromNet {
    /// The official checkpoint's keys where they differ from this module's paths: the backbone
    /// at the top level (`conv1`, `layer1`, ...), the blocks' and heads' `nn.Sequential`
    /// indices, the pyramid's upper-case names and the decoder's keys.
    pub fn torch_renames(&self) -> TorchRenames {
        let mut renames = under("", "backbone", &LRESNET_TOP_LEVEL);
        renames.extend(anywhere(&DOWNSAMPLE_TORCH_NAMES));
        renames.extend(under("fpn", "fpn", &FPN_TORCH_NAMES));
        renames.extend(self.mask.torch_renames());
        renames.extend(under("fc", "fc", &FLAT_HEAD_TORCH_NAMES));
        renames.extend(under("regress", "regress", &FLAT_HEAD_TORCH_NAMES));
        renames
    }
}

/// The backbone's parameters that the official network holds at its top level.
const LRESNET_TOP_LEVEL: [(&str, &str); 7] = [
    ("conv1", "conv1"),
    ("bn1", "bn1"),
    ("prelu1", "prelu1"),
    ("layer1", "layer1"),
    ("layer2", "layer2"),
    ("layer3", "layer3"),
    ("layer4", "layer4"),
];
