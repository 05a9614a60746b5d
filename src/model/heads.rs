//! The two heads on a flattened 7 x 6 map: BN1d -> Dropout(0.5) -> Linear -> BN1d. The embedding
//! head (`fc`) reads the (masked) C5 features; the pattern predictor (`regress`) reads the mask
//! and classifies it into one of the proximate occlusion patterns.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{BatchNorm, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::block_ir::batch_norm;
use super::ops::{BurnOps, Ops, vectors};

/// Dropout of both heads in the official training recipe.
pub const HEAD_DROPOUT: f64 = 0.5;

#[derive(Config, Debug)]
pub struct FlatHeadConfig {
    pub in_features: usize,
    pub out_features: usize,
    /// The embedding head has a bias; the pattern predictor has none.
    pub bias: bool,
}

/// PyTorch's `nn.Sequential(BN, Dropout, Linear, BN)` indices.
pub const FLAT_HEAD_TORCH_NAMES: [(&str, &str); 3] = [("0", "bn_in"), ("2", "linear"), ("3", "bn_out")];

#[derive(Module, Debug)]
pub struct FlatHead {
    pub bn_in: BatchNorm,
    pub dropout: Dropout,
    pub linear: Linear,
    pub bn_out: BatchNorm,
}

impl FlatHeadConfig {
    pub fn init(&self, device: &Device) -> FlatHead {
        FlatHead {
            bn_in: batch_norm(self.in_features, device),
            dropout: DropoutConfig::new(HEAD_DROPOUT).init(),
            linear: LinearConfig::new(self.in_features, self.out_features).with_bias(self.bias).init(device),
            bn_out: batch_norm(self.out_features, device),
        }
    }
}

impl FlatHead {
    /// # Shapes
    /// - input: `[batch, C, h, w]` (flattened in NCHW order, like PyTorch's `view(N, -1)`)
    /// - output: `[batch, out_features]`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        vectors(self.forward_with(&mut BurnOps, input))
    }

    /// # Shapes
    /// - output: `[batch, out_features, 1, 1]`
    pub fn forward_with<O: Ops>(&self, o: &mut O, input: O::X) -> O::X {
        let x = o.flatten(input);
        let x = o.batch_norm(&self.bn_in, x);
        let x = o.dropout(&self.dropout, x);
        let x = o.linear(&self.linear, x);
        o.batch_norm(&self.bn_out, x)
    }
}
