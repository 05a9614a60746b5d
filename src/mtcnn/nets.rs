//! The three MTCNN networks (P-Net, R-Net, O-Net) with facenet-pytorch's layer names, so the
//! converted weights in `assets/mtcnn/*.safetensors` load through `apply_state_dict`.
//!
//! Every conv is valid (no padding), stride 1; every max-pool uses PyTorch's `ceil_mode=True`;
//! every PReLU is per channel. Layer tables: `tools/MTCNN_NOTES.md` §1.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PRelu};
use burn::tensor::{Device, Tensor};

use crate::model::block_ir::prelu;
use crate::model::ops::{BurnOps, Ops, vectors};

/// Side of the R-Net input crop.
pub const RNET_SIZE: usize = 24;
/// Side of the O-Net input crop.
pub const ONET_SIZE: usize = 48;

fn conv(channels: [usize; 2], kernel: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel]).init(device)
}

/// Stride-2 max-pool in ceil mode: the last window may hang over the bottom/right edge and then
/// takes the maximum of the part inside the input, as PyTorch does. Without ceil mode the maps
/// would lose a row and column (e.g. R-Net's 22 -> 10 instead of 11) and the dense layers would
/// not fit the weights.
fn pool(kernel: usize) -> MaxPool2d {
    MaxPool2dConfig::new([kernel, kernel]).with_strides([2, 2]).with_ceil_mode(true).init()
}

fn dense(d_input: usize, d_output: usize, device: &Device) -> Linear {
    LinearConfig::new(d_input, d_output).init(device)
}

/// P-Net outputs for `[n, 3, h, w]` input; maps are `[n, _, h', w']` with
/// `h' = ceil((h - 4) / 2) - 3`.
#[derive(Debug, Clone)]
pub struct PNetOutput<X = Tensor<4>> {
    /// Box regression `(dx1, dy1, dx2, dy2)` per cell: `[n, 4, h', w']`.
    pub reg: X,
    /// Softmax over the channel axis; channel 1 is "face": `[n, 2, h', w']`.
    pub prob: X,
}

/// The proposal network: fully convolutional, one 12x12 window per output cell.
#[derive(Module, Debug)]
pub struct PNet {
    pub conv1: Conv2d,
    pub prelu1: PRelu,
    pub pool1: MaxPool2d,
    pub conv2: Conv2d,
    pub prelu2: PRelu,
    pub conv3: Conv2d,
    pub prelu3: PRelu,
    pub conv4_1: Conv2d,
    pub conv4_2: Conv2d,
}

impl PNet {
    /// A randomly initialised P-Net; load the weights with `checkpoint::apply_state_dict`.
    pub fn new(device: &Device) -> Self {
        Self {
            conv1: conv([3, 10], 3, device),
            prelu1: prelu(10, device),
            pool1: pool(2),
            conv2: conv([10, 16], 3, device),
            prelu2: prelu(16, device),
            conv3: conv([16, 32], 3, device),
            prelu3: prelu(32, device),
            conv4_1: conv([32, 2], 1, device),
            conv4_2: conv([32, 4], 1, device),
        }
    }

    /// # Shapes
    /// - input: `[n, 3, h, w]` normalised RGB (`(v - 127.5) / 128`), `h, w >= 12`
    pub fn forward(&self, input: Tensor<4>) -> PNetOutput {
        self.forward_with(&mut BurnOps, input)
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, input: O::X) -> PNetOutput<O::X> {
        let x = o.conv(&self.conv1, input);
        let x = o.prelu(&self.prelu1, x);
        let x = o.max_pool(&self.pool1, x);
        let x = o.conv(&self.conv2, x);
        let x = o.prelu(&self.prelu2, x);
        let x = o.conv(&self.conv3, x);
        let x = o.prelu(&self.prelu3, x);
        let prob = o.conv(&self.conv4_1, x.clone());
        let prob = o.softmax_channels(prob);
        let reg = o.conv(&self.conv4_2, x);
        PNetOutput { reg, prob }
    }
}

/// R-Net outputs for `[n, 3, 24, 24]` input.
#[derive(Debug, Clone)]
pub struct RNetOutput<X = Tensor<2>> {
    /// Box regression `(dx1, dy1, dx2, dy2)`: `[n, 4]`.
    pub reg: X,
    /// Softmax; column 1 is "face": `[n, 2]`.
    pub prob: X,
}

/// The refinement network, on 24x24 crops of the P-Net boxes.
#[derive(Module, Debug)]
pub struct RNet {
    pub conv1: Conv2d,
    pub prelu1: PRelu,
    pub pool1: MaxPool2d,
    pub conv2: Conv2d,
    pub prelu2: PRelu,
    pub pool2: MaxPool2d,
    pub conv3: Conv2d,
    pub prelu3: PRelu,
    pub dense4: Linear,
    pub prelu4: PRelu,
    pub dense5_1: Linear,
    pub dense5_2: Linear,
}

impl RNet {
    /// A randomly initialised R-Net; load the weights with `checkpoint::apply_state_dict`.
    pub fn new(device: &Device) -> Self {
        Self {
            conv1: conv([3, 28], 3, device),
            prelu1: prelu(28, device),
            pool1: pool(3),
            conv2: conv([28, 48], 3, device),
            prelu2: prelu(48, device),
            pool2: pool(3),
            conv3: conv([48, 64], 2, device),
            prelu3: prelu(64, device),
            dense4: dense(576, 128, device),
            prelu4: prelu(128, device),
            dense5_1: dense(128, 2, device),
            dense5_2: dense(128, 4, device),
        }
    }

    /// # Shapes
    /// - input: `[n, 3, 24, 24]` normalised RGB
    pub fn forward(&self, input: Tensor<4>) -> RNetOutput {
        let out = self.forward_with(&mut BurnOps, input);
        RNetOutput { reg: vectors(out.reg), prob: vectors(out.prob) }
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, input: O::X) -> RNetOutput<O::X> {
        let x = o.conv(&self.conv1, input);
        let x = o.prelu(&self.prelu1, x);
        let x = o.max_pool(&self.pool1, x); // 22 -> 11
        let x = o.conv(&self.conv2, x);
        let x = o.prelu(&self.prelu2, x);
        let x = o.max_pool(&self.pool2, x); // 9 -> 4
        let x = o.conv(&self.conv3, x);
        let x = o.prelu(&self.prelu3, x); // [n, 64, 3, 3]
        let x = o.flatten_whc(x);
        let x = o.linear(&self.dense4, x);
        let x = o.prelu(&self.prelu4, x);
        let prob = o.linear(&self.dense5_1, x.clone());
        let prob = o.softmax_channels(prob);
        let reg = o.linear(&self.dense5_2, x);
        RNetOutput { reg, prob }
    }
}

/// O-Net outputs for `[n, 3, 48, 48]` input.
#[derive(Debug, Clone)]
pub struct ONetOutput<X = Tensor<2>> {
    /// Box regression `(dx1, dy1, dx2, dy2)`: `[n, 4]`.
    pub reg: X,
    /// Five points as fractions of the box, `[x0..x4, y0..y4]`: `[n, 10]`.
    pub landmarks: X,
    /// Softmax; column 1 is "face": `[n, 2]`.
    pub prob: X,
}

/// The output network, on 48x48 crops of the R-Net boxes.
#[derive(Module, Debug)]
pub struct ONet {
    pub conv1: Conv2d,
    pub prelu1: PRelu,
    pub pool1: MaxPool2d,
    pub conv2: Conv2d,
    pub prelu2: PRelu,
    pub pool2: MaxPool2d,
    pub conv3: Conv2d,
    pub prelu3: PRelu,
    pub pool3: MaxPool2d,
    pub conv4: Conv2d,
    pub prelu4: PRelu,
    pub dense5: Linear,
    pub prelu5: PRelu,
    pub dense6_1: Linear,
    pub dense6_2: Linear,
    pub dense6_3: Linear,
}

impl ONet {
    /// A randomly initialised O-Net; load the weights with `checkpoint::apply_state_dict`.
    pub fn new(device: &Device) -> Self {
        Self {
            conv1: conv([3, 32], 3, device),
            prelu1: prelu(32, device),
            pool1: pool(3),
            conv2: conv([32, 64], 3, device),
            prelu2: prelu(64, device),
            pool2: pool(3),
            conv3: conv([64, 64], 3, device),
            prelu3: prelu(64, device),
            pool3: pool(2),
            conv4: conv([64, 128], 2, device),
            prelu4: prelu(128, device),
            dense5: dense(1152, 256, device),
            prelu5: prelu(256, device),
            dense6_1: dense(256, 2, device),
            dense6_2: dense(256, 4, device),
            dense6_3: dense(256, 10, device),
        }
    }

    /// # Shapes
    /// - input: `[n, 3, 48, 48]` normalised RGB
    pub fn forward(&self, input: Tensor<4>) -> ONetOutput {
        let out = self.forward_with(&mut BurnOps, input);
        ONetOutput { reg: vectors(out.reg), landmarks: vectors(out.landmarks), prob: vectors(out.prob) }
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, input: O::X) -> ONetOutput<O::X> {
        let x = o.conv(&self.conv1, input);
        let x = o.prelu(&self.prelu1, x);
        let x = o.max_pool(&self.pool1, x); // 46 -> 23
        let x = o.conv(&self.conv2, x);
        let x = o.prelu(&self.prelu2, x);
        let x = o.max_pool(&self.pool2, x); // 21 -> 10
        let x = o.conv(&self.conv3, x);
        let x = o.prelu(&self.prelu3, x);
        let x = o.max_pool(&self.pool3, x); // 8 -> 4
        let x = o.conv(&self.conv4, x);
        let x = o.prelu(&self.prelu4, x); // [n, 128, 3, 3]
        let x = o.flatten_whc(x);
        let x = o.linear(&self.dense5, x);
        let x = o.prelu(&self.prelu5, x);
        let prob = o.linear(&self.dense6_1, x.clone());
        let prob = o.softmax_channels(prob);
        let reg = o.linear(&self.dense6_2, x.clone());
        let landmarks = o.linear(&self.dense6_3, x);
        ONetOutput { reg, landmarks, prob }
    }
}
