//! LResNet-E-IR backbone (ArcFace's "E" input stem, improved residual units), as the official FROM
//! code builds it for 112 x 96 faces: a stride-1 stem, then four stages whose first block halves
//! the resolution.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PRelu};
use burn::tensor::{Device, Tensor};

use super::block_ir::{BlockIr, BlockIrConfig, batch_norm, conv3x3, prelu};
use super::ops::{BurnOps, Ops};

#[derive(Config, Debug)]
pub struct LResNetConfig {
    pub widths: [usize; 4],
    pub blocks: [usize; 4],
}

/// The taps FROM's feature pyramid reads.
///
/// # Shapes (112 x 96 input)
/// - `c3`: `[batch, widths[1], 28, 24]`
/// - `c4`: `[batch, widths[2], 14, 12]`
/// - `c5`: `[batch, widths[3], 7, 6]`
#[derive(Debug, Clone)]
pub struct BackboneFeatures<X = Tensor<4>> {
    pub c3: X,
    pub c4: X,
    pub c5: X,
}

#[derive(Module, Debug)]
pub struct LResNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub prelu1: PRelu,
    pub layer1: Vec<BlockIr>,
    pub layer2: Vec<BlockIr>,
    pub layer3: Vec<BlockIr>,
    pub layer4: Vec<BlockIr>,
}

impl LResNetConfig {
    pub fn init(&self, device: &Device) -> LResNet {
        let stem = self.widths[0];
        let stage = |index: usize| -> Vec<BlockIr> {
            let input = if index == 0 { stem } else { self.widths[index - 1] };
            let output = self.widths[index];
            (0..self.blocks[index])
                .map(|b| {
                    let (cin, stride) = if b == 0 { (input, 2) } else { (output, 1) };
                    BlockIrConfig::new(cin, output).with_stride(stride).init(device)
                })
                .collect()
        };
        LResNet {
            conv1: conv3x3([3, stem], 1, false, device),
            bn1: batch_norm(stem, device),
            prelu1: prelu(stem, device),
            layer1: stage(0),
            layer2: stage(1),
            layer3: stage(2),
            layer4: stage(3),
        }
    }
}

impl LResNet {
    /// # Shapes
    /// - input: `[batch, 3, H, W]`, normalised to [-1, 1]
    /// - output: see [`BackboneFeatures`]
    pub fn forward(&self, input: Tensor<4>) -> BackboneFeatures {
        self.forward_with(&mut BurnOps, input)
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, input: O::X) -> BackboneFeatures<O::X> {
        let x = o.conv(&self.conv1, input);
        let x = o.batch_norm(&self.bn1, x);
        let x = o.prelu(&self.prelu1, x);
        let mut stage = |blocks: &[BlockIr], x: O::X| blocks.iter().fold(x, |x, block| block.forward_with(o, x));
        let c2 = stage(&self.layer1, x);
        let c3 = stage(&self.layer2, c2);
        let c4 = stage(&self.layer3, c3.clone());
        let c5 = stage(&self.layer4, c4.clone());
        BackboneFeatures { c3, c4, c5 }
    }
}
