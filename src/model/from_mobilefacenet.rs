//! FROM's heads on MobileFaceNet: the official recipe (pyramid -> mask decoder -> mask on the final
//! feature map; pattern predictor on the mask) grafted onto the pretrained MobileFaceNet stages.
//! The mask multiplies the 7x7x512 map before MobileFaceNet's own global depthwise conv and
//! linear head, so the masked and unmasked embeddings live in the same space as the pretrained
//! one and the bundled threshold keeps its meaning.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::config::MAX_CHANNELS;
use super::fpn::{Fpn, FpnConfig};
use super::from_net::{FromForward, FromOutput, FromParts};
use super::heads::{FlatHead, FlatHeadConfig};
use super::mask_decoder::{MaskDecoder, MaskDecoderConfig};
use super::mobilefacenet::{
    MOBILEFACENET_FEATURES, MOBILEFACENET_INPUT, MOBILEFACENET_NORM, MobileFaceNet, MobileFaceNetConfig,
    MobileFaceNetTaps,
};
use super::ops::{BurnOps, InputNorm, Ops};
use crate::patterns;

/// Channels of MobileFaceNet's 28x28, 14x14 and 7x7 stage outputs.
pub const MOBILEFACENET_TAP_CHANNELS: [usize; 3] = [64, 128, 128];
/// Side of the final feature map (and of the mask) for a 112x112 face.
pub const MOBILEFACENET_FEATURE_SIDE: usize = 7;

#[derive(Config, Debug, PartialEq)]
pub struct FromMobileFaceNetConfig {
    /// Channels of the pyramid and of the mask decoder's hidden layer. Narrower than the
    /// official 256 because MobileFaceNet's own stages are at most 128 wide, and the live GUI
    /// needs the whole network in a frame budget on a CPU.
    #[config(default = 64)]
    pub fpn_channels: usize,
    /// K of the K x K proximate-occlusion grid (5 -> 226 patterns).
    #[config(default = "patterns::DEFAULT_GRID")]
    pub grid: usize,
}

impl FromMobileFaceNetConfig {
    pub fn pattern_count(&self) -> usize {
        patterns::pattern_count(self.grid)
    }

    /// Height and width of the aligned face the network reads.
    pub fn input_size(&self) -> [usize; 2] {
        [MOBILEFACENET_INPUT, MOBILEFACENET_INPUT]
    }

    /// Height and width of the mask.
    pub fn feature_size(&self) -> [usize; 2] {
        [MOBILEFACENET_FEATURE_SIDE, MOBILEFACENET_FEATURE_SIDE]
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.fpn_channels == 0 || self.fpn_channels > MAX_CHANNELS {
            return Err(format!("fpn_channels of {} is outside 1..={MAX_CHANNELS}", self.fpn_channels));
        }
        if !(patterns::MIN_GRID..=patterns::MAX_GRID).contains(&self.grid) {
            return Err(format!("grid {} is outside {}..={}", self.grid, patterns::MIN_GRID, patterns::MAX_GRID));
        }
        Ok(())
    }

    /// A network with freshly initialised heads around `backbone` (normally the pretrained one).
    /// Panics on a configuration that [`Self::validate`] rejects.
    pub fn init_with(&self, backbone: MobileFaceNet, device: &Device) -> FromMobileFaceNet {
        if let Err(why) = self.validate() {
            panic!("invalid FROM-MobileFaceNet configuration: {why}");
        }
        let [side_h, side_w] = self.feature_size();
        FromMobileFaceNet {
            backbone,
            fpn: FpnConfig::new(MOBILEFACENET_TAP_CHANNELS, self.fpn_channels).with_official_extras(false).init(device),
            mask: MaskDecoderConfig::new(self.fpn_channels, MOBILEFACENET_FEATURES).with_start_open(true).init(device),
            regress: FlatHeadConfig::new(MOBILEFACENET_FEATURES * side_h * side_w, self.pattern_count(), false)
                .init(device),
        }
    }

    /// A network with random weights everywhere (for tests and records about to be loaded).
    pub fn init(&self, device: &Device) -> FromMobileFaceNet {
        self.init_with(MobileFaceNetConfig::new().init(device), device)
    }
}

impl FromForward for FromMobileFaceNet {
    const NORM: InputNorm = MOBILEFACENET_NORM;

    fn forward_with<O: Ops>(&self, o: &mut O, input: O::X) -> FromParts<O::X> {
        FromMobileFaceNet::forward_with(self, o, input)
    }
}

#[derive(Module, Debug)]
pub struct FromMobileFaceNet {
    pub backbone: MobileFaceNet,
    pub fpn: Fpn,
    pub mask: MaskDecoder,
    pub regress: FlatHead,
}

impl FromMobileFaceNet {
    /// Backbone taps and the decoded mask.
    ///
    /// # Shapes
    /// - input: `[batch, 3, 112, 112]`, normalised like MobileFaceNet's input
    /// - mask: `[batch, 512, 7, 7]`
    pub fn features(&self, input: Tensor<4>) -> (MobileFaceNetTaps, Tensor<4>) {
        let taps = self.backbone.taps(input);
        self.features_from_taps(&mut BurnOps, taps)
    }

    fn features_from_taps<O: Ops>(&self, o: &mut O, taps: MobileFaceNetTaps<O::X>) -> (MobileFaceNetTaps<O::X>, O::X) {
        let x3 = self.fpn.forward_with(o, taps.c3.clone(), taps.c4.clone(), taps.c5.clone());
        let mask = self.mask.forward_with(o, x3);
        (taps, mask)
    }

    pub fn forward(&self, input: Tensor<4>) -> FromOutput {
        self.forward_with(&mut BurnOps, input).into()
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, input: O::X) -> FromParts<O::X> {
        let taps = self.backbone.taps_with(o, input);
        let (taps, mask) = self.features_from_taps(o, taps);
        self.heads_with(o, taps.features, mask)
    }

    /// The forward pass from the backbone's first tap (see [`MobileFaceNet::taps_from_c3`]).
    ///
    /// # Shapes
    /// - `c3`: `[batch, 64, 28, 28]`
    pub fn forward_from_c3(&self, c3: Tensor<4>) -> FromOutput {
        let taps = self.backbone.taps_from_c3(c3);
        let (taps, mask) = self.features_from_taps(&mut BurnOps, taps);
        self.heads(taps.features, mask)
    }

    /// The forward pass with an externally given mask in place of the decoded one.
    pub fn forward_with_mask(&self, input: Tensor<4>, mask: Tensor<4>) -> FromOutput {
        let taps = self.backbone.taps(input);
        self.heads(taps.features, mask)
    }

    /// Embeddings (before L2 normalisation) and pattern logits from the final map and a mask.
    ///
    /// # Shapes
    /// - `features`, `mask`: `[batch, 512, 7, 7]`
    pub fn heads(&self, features: Tensor<4>, mask: Tensor<4>) -> FromOutput {
        self.heads_with(&mut BurnOps, features, mask).into()
    }

    pub fn heads_with<O: Ops>(&self, o: &mut O, features: O::X, mask: O::X) -> FromParts<O::X> {
        let unmasked_embedding = self.backbone.embed_features_with(o, features.clone());
        let masked = o.mul(features, mask.clone());
        let masked_embedding = self.backbone.embed_features_with(o, masked);
        let pattern_logits = self.regress.forward_with(o, mask.clone());
        FromParts { masked_embedding, mask, pattern_logits, unmasked_embedding }
    }
}
