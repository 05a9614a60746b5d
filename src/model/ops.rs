//! The operations the networks are written in, so that each network is written once.
//!
//! Every block's `forward_with` spells its topology over an [`Ops`]: [`BurnOps`] carries each
//! operation out on burn tensors (training, the GPU, and the reference every test compares
//! against); the CPU path (`crate::cpu`) records the same calls into a graph that it fuses and
//! runs on its own kernels. A layer's name is its field, its place in the network the one
//! `forward_with` that uses it.

use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, Dropout, Linear, PRelu};
use burn::tensor::Tensor;
use burn::tensor::activation::{sigmoid, softmax};

/// The operations of our networks on activations `[batch, channels, height, width]`; a vector
/// of features is `[batch, features, 1, 1]`.
pub trait Ops {
    type X: Clone;

    fn conv(&mut self, conv: &Conv2d, x: Self::X) -> Self::X;
    fn batch_norm(&mut self, bn: &BatchNorm, x: Self::X) -> Self::X;
    fn prelu(&mut self, prelu: &PRelu, x: Self::X) -> Self::X;
    fn sigmoid(&mut self, x: Self::X) -> Self::X;
    /// Softmax over the channels of each pixel.
    fn softmax_channels(&mut self, x: Self::X) -> Self::X;
    fn max_pool(&mut self, pool: &MaxPool2d, x: Self::X) -> Self::X;
    /// Training only; nothing at inference.
    fn dropout(&mut self, dropout: &Dropout, x: Self::X) -> Self::X;
    fn add(&mut self, a: Self::X, b: Self::X) -> Self::X;
    /// Elementwise, both of one shape.
    fn mul(&mut self, a: Self::X, b: Self::X) -> Self::X;
    /// Nearest-neighbour x2 (PyTorch `interpolate(scale_factor=2, mode="nearest")`).
    fn upsample_x2(&mut self, x: Self::X) -> Self::X;
    /// A one-channel map repeated `channels` times.
    fn repeat_channels(&mut self, x: Self::X, channels: usize) -> Self::X;
    /// `[batch, c, h, w]` -> `[batch, c * h * w, 1, 1]`, channels first (PyTorch's
    /// `view(batch, -1)`).
    fn flatten(&mut self, x: Self::X) -> Self::X;
    /// `[batch, c, h, w]` -> `[batch, w * h * c, 1, 1]` in (x, y, channel) order, channel
    /// fastest (`x.permute(0, 3, 2, 1).flatten(1)`, the order of TensorFlow/Caffe weights).
    fn flatten_whc(&mut self, x: Self::X) -> Self::X;
    /// On `[batch, in, 1, 1]`.
    fn linear(&mut self, linear: &Linear, x: Self::X) -> Self::X;
}

/// The operations on burn tensors: each is the burn module's own forward.
#[derive(Debug, Clone, Copy, Default)]
pub struct BurnOps;

impl Ops for BurnOps {
    type X = Tensor<4>;

    fn conv(&mut self, conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        conv.forward(x)
    }

    fn batch_norm(&mut self, bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
        bn.forward(x)
    }

    fn prelu(&mut self, prelu: &PRelu, x: Tensor<4>) -> Tensor<4> {
        prelu.forward(x)
    }

    fn sigmoid(&mut self, x: Tensor<4>) -> Tensor<4> {
        sigmoid(x)
    }

    fn softmax_channels(&mut self, x: Tensor<4>) -> Tensor<4> {
        softmax(x, 1)
    }

    fn max_pool(&mut self, pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
        pool.forward(x)
    }

    fn dropout(&mut self, dropout: &Dropout, x: Tensor<4>) -> Tensor<4> {
        dropout.forward(x)
    }

    fn add(&mut self, a: Tensor<4>, b: Tensor<4>) -> Tensor<4> {
        a + b
    }

    fn mul(&mut self, a: Tensor<4>, b: Tensor<4>) -> Tensor<4> {
        a * b
    }

    fn upsample_x2(&mut self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        x.reshape([n, c, h, 1, w, 1]).expand([n, c, h, 2, w, 2]).reshape([n, c, 2 * h, 2 * w])
    }

    fn repeat_channels(&mut self, x: Tensor<4>, channels: usize) -> Tensor<4> {
        x.repeat_dim(1, channels)
    }

    fn flatten(&mut self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        x.reshape([n, c * h * w, 1, 1])
    }

    fn flatten_whc(&mut self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        x.permute([0, 3, 2, 1]).reshape([n, w * h * c, 1, 1])
    }

    fn linear(&mut self, linear: &Linear, x: Tensor<4>) -> Tensor<4> {
        let n = x.dims()[0];
        let y = linear.forward(x.flatten::<2>(1, 3));
        let out = y.dims()[1];
        y.reshape([n, out, 1, 1])
    }
}

/// How a network's raw pixel values (0-255) become its input: `(x - mean) / scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputNorm {
    pub mean: f32,
    pub scale: f32,
}

impl InputNorm {
    pub fn apply(&self, raw: Tensor<4>) -> Tensor<4> {
        raw.sub_scalar(self.mean).div_scalar(self.scale)
    }
}

/// `[batch, features, 1, 1]` as `[batch, features]`.
pub fn vectors(x: Tensor<4>) -> Tensor<2> {
    x.flatten(1, 3)
}
