//! FROM's mask decoder: Conv3x3 s2 -> PReLU -> BN -> Conv3x3 s2 -> Sigmoid turns the pyramid's
//! top-down map X3 into a soft mask with the shape of C5 (values in (0, 1), 0 = corrupted).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PRelu};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use super::block_ir::{batch_norm, conv3x3, prelu};
use crate::checkpoint::{TorchParams, TorchVisitor, join};

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
        let x = self.conv1.forward(x3);
        let x = self.bn.forward(self.prelu.forward(x));
        sigmoid(self.conv2.forward(x))
    }
}

impl TorchParams for MaskDecoder {
    fn visit_torch(&mut self, prefix: &str, v: &mut dyn TorchVisitor) {
        self.conv1.visit_torch(&join(prefix, "0"), v);
        self.prelu.visit_torch(&join(prefix, "1"), v);
        self.bn.visit_torch(&join(prefix, "2"), v);
        self.conv2.visit_torch(&join(prefix, "3"), v);
    }
}
