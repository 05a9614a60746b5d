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

/// Maps RGB pixel values in 0..=255 to the network's input range: (x / 255 - 0.5) / 0.5.
pub fn normalize_pixels(raw: Tensor<4>) -> Tensor<4> {
    raw.div_scalar(127.5).sub_scalar(1.0)
}

impl FromNet {
    /// Backbone features and the decoded mask.
    ///
    /// # Shapes
    /// - input: `[batch, 3, H, W]`, normalised ([`normalize_pixels`])
    pub fn features(&self, input: Tensor<4>) -> (BackboneFeatures, Tensor<4>) {
        let features = self.backbone.forward(input);
        let x3 = self.fpn.forward(features.c3.clone(), features.c4.clone(), features.c5.clone());
        let mask = self.mask.forward(x3);
        (features, mask)
    }

    /// The full forward pass with the decoded mask.
    pub fn forward(&self, input: Tensor<4>) -> FromOutput {
        let (features, mask) = self.features(input);
        self.heads(features.c5, mask)
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
        let unmasked_embedding = self.fc.forward(c5.clone());
        let (masked_embedding, pattern_logits) = match &self.mask {
            MaskHead::Channel(_) => (self.fc.forward(c5 * mask.clone()), self.regress.forward(mask.clone())),
            MaskHead::Spatial(_) => {
                // The official code repeats the map over the channels before both uses.
                let channels = c5.dims()[1];
                let repeated = mask.clone().repeat_dim(1, channels);
                (self.fc.forward(c5 * repeated.clone()), self.regress.forward(repeated))
            }
            MaskHead::Embedding(_) => {
                let on_embedding: Tensor<2> = mask.clone().flatten(1, 3);
                (unmasked_embedding.clone() * on_embedding, self.regress.forward(mask.clone()))
            }
        };
        FromOutput { masked_embedding, mask, pattern_logits, unmasked_embedding }
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
