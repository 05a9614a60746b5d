//! BlockIR, the improved residual unit of LResNet-E-IR (ArcFace, Deng et al. 2019):
//! BN -> conv3x3 -> BN -> PReLU -> conv3x3(stride) -> BN, plus a projection shortcut.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PRelu, PReluConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use super::ops::{BurnOps, Ops};

/// 3x3 convolution without bias, padding 1.
pub fn conv3x3(channels: [usize; 2], stride: usize, bias: bool, device: &Device) -> Conv2d {
    Conv2dConfig::new(channels, [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(bias)
        .init(device)
}

/// 1x1 convolution.
pub fn conv1x1(channels: [usize; 2], stride: usize, bias: bool, device: &Device) -> Conv2d {
    Conv2dConfig::new(channels, [1, 1]).with_stride([stride, stride]).with_bias(bias).init(device)
}

/// Per-channel PReLU, initialised like PyTorch (0.25).
pub fn prelu(channels: usize, device: &Device) -> PRelu {
    PReluConfig::new().with_num_parameters(channels).init(device)
}

pub fn batch_norm(features: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(features).init(device)
}

#[derive(Config, Debug)]
pub struct BlockIrConfig {
    pub in_channels: usize,
    pub out_channels: usize,
    #[config(default = 1)]
    pub stride: usize,
}

/// PyTorch names the projection shortcut `nn.Sequential(conv1x1, BN)`.
pub const DOWNSAMPLE_TORCH_NAMES: [(&str, &str); 2] =
    [("downsample.0", "downsample.conv"), ("downsample.1", "downsample.bn")];

/// The projection shortcut (`downsample.0` conv1x1, `downsample.1` BN).
#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

#[derive(Module, Debug)]
pub struct BlockIr {
    pub bn1: BatchNorm,
    pub conv1: Conv2d,
    pub bn2: BatchNorm,
    pub prelu1: PRelu,
    pub conv2: Conv2d,
    pub bn3: BatchNorm,
    pub downsample: Option<Downsample>,
}

impl BlockIrConfig {
    pub fn init(&self, device: &Device) -> BlockIr {
        let [cin, cout] = [self.in_channels, self.out_channels];
        let downsample = (self.stride != 1 || cin != cout).then(|| Downsample {
            conv: conv1x1([cin, cout], self.stride, false, device),
            bn: batch_norm(cout, device),
        });
        BlockIr {
            bn1: batch_norm(cin, device),
            conv1: conv3x3([cin, cout], 1, false, device),
            bn2: batch_norm(cout, device),
            prelu1: prelu(cout, device),
            conv2: conv3x3([cout, cout], self.stride, false, device),
            bn3: batch_norm(cout, device),
            downsample,
        }
    }
}

impl BlockIr {
    /// # Shapes
    /// - input: `[batch, in_channels, h, w]`
    /// - output: `[batch, out_channels, h / stride, w / stride]`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        self.forward_with(&mut BurnOps, input)
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, input: O::X) -> O::X {
        // The shortcut first: the CPU path then adds it as the last conv's epilogue.
        let shortcut = match &self.downsample {
            Some(down) => {
                let x = o.conv(&down.conv, input.clone());
                o.batch_norm(&down.bn, x)
            }
            None => input.clone(),
        };
        let x = o.batch_norm(&self.bn1, input);
        let x = o.conv(&self.conv1, x);
        let x = o.batch_norm(&self.bn2, x);
        let x = o.prelu(&self.prelu1, x);
        let x = o.conv(&self.conv2, x);
        let x = o.batch_norm(&self.bn3, x);
        o.add(x, shortcut)
    }
}
