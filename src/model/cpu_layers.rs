//! The building blocks of the CPU inference path (see `mobilefacenet_cpu`): channels-last feature
//! maps and conv layers in the layout their kernels read, each a matrix multiply (`cpu_matmul`)
//! or a loop over contiguous channels, with bias, PReLU, batch norm, sigmoid and the residual
//! applied while a block of output pixels is still in cache.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, PRelu, PaddingConfig2d};
use burn::tensor::Tensor;
use image::RgbImage;
use rayon::prelude::*;

use super::cpu_matmul::{PackedRhs, matmul};
use super::mobilefacenet::{INPUT_MEAN, INPUT_SCALE, MOBILEFACENET_INPUT};

/// Fewest output pixels one parallel task computes: below this the matrix multiply's packing
/// costs more than the thread hand-off saves.
const MIN_ROWS_PER_TASK: usize = 48;

#[derive(Debug, thiserror::Error)]
pub enum CpuNetError {
    #[error("layer {layer}: {message}")]
    Unsupported { layer: String, message: String },
    #[error("reading the weights of layer {layer} failed: {message}")]
    Readback { layer: String, message: String },
}

/// A batch of feature maps, channels last: `[batch, height, width, channels]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Nhwc {
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub data: Vec<f32>,
}

impl Nhwc {
    fn pixels(&self) -> usize {
        self.batch * self.height * self.width
    }

    /// Aligned 112x112 faces, normalised like MobileFaceNet's input. Every face must be 112x112.
    pub fn from_faces(faces: &[&RgbImage]) -> Self {
        let side = MOBILEFACENET_INPUT;
        let mut data = Vec::with_capacity(faces.len() * side * side * 3);
        for face in faces {
            assert_eq!(face.dimensions(), (side as u32, side as u32), "MobileFaceNet reads 112x112 faces");
            data.extend(face.as_raw().iter().map(|&v| (f32::from(v) - INPUT_MEAN) / INPUT_SCALE));
        }
        Self { batch: faces.len(), height: side, width: side, channels: 3, data }
    }

    /// The same maps channels-first as a burn tensor, `[batch, channels, height, width]`: what
    /// the tests compare with burn's forward pass, and what training feeds a frozen prefix's
    /// output into.
    pub fn to_tensor(&self, device: &burn::tensor::Device) -> Tensor<4> {
        let data = burn::tensor::TensorData::new(
            self.channels_first().concat(),
            [self.batch, self.channels, self.height, self.width],
        );
        Tensor::from_data(data, device)
    }

    /// Element-wise product with maps of the same shape (FROM's mask on the features).
    pub fn times(&self, other: &Nhwc) -> Self {
        assert_eq!(
            (self.batch, self.height, self.width, self.channels),
            (other.batch, other.height, other.width, other.channels)
        );
        Self { data: self.data.iter().zip(&other.data).map(|(a, b)| a * b).collect(), ..*self }
    }

    /// Each image's maps channels-first, flattened: `[channels * height * width]` per image.
    pub fn channels_first(&self) -> Vec<Vec<f32>> {
        let (plane, c) = (self.height * self.width, self.channels);
        self.data
            .chunks(plane * c)
            .map(|image| {
                let mut out = vec![0f32; plane * c];
                for (p, pixel) in image.chunks(c).enumerate() {
                    pixel.iter().enumerate().for_each(|(ch, &v)| out[ch * plane + p] = v);
                }
                out
            })
            .collect()
    }

    /// Channel-planar images (`[batch, channels, height, width]`, one after another) as
    /// channels-last maps.
    pub fn from_planar(planar: &[f32], batch: usize, channels: usize, height: usize, width: usize) -> Self {
        let plane = height * width;
        assert_eq!(planar.len(), batch * channels * plane, "planar buffer size");
        let mut data = vec![0f32; planar.len()];
        for (image, out) in planar.chunks(channels * plane).zip(data.chunks_mut(channels * plane)) {
            for (c, values) in image.chunks(plane).enumerate() {
                values.iter().enumerate().for_each(|(p, &v)| out[p * channels + c] = v);
            }
        }
        Self { batch, height, width, channels, data }
    }

    /// Max-pool with PyTorch's `ceil_mode=True` and no padding: a last window that hangs over
    /// the bottom or right edge takes the maximum of its part inside the map.
    pub fn max_pool_ceil(&self, kernel: usize, stride: usize) -> Self {
        let size = |input: usize| {
            let out = (input.saturating_sub(kernel)).div_ceil(stride) + 1;
            // PyTorch drops a last window that would start outside the input.
            if (out - 1) * stride >= input { out - 1 } else { out }
        };
        let (height, width, c) = (size(self.height), size(self.width), self.channels);
        let mut data = vec![f32::NEG_INFINITY; self.batch * height * width * c];
        for (b, out) in data.chunks_mut(height * width * c).enumerate() {
            for (p, pixel) in out.chunks_mut(c).enumerate() {
                let (oy, ox) = (p / width, p % width);
                for y in oy * stride..(oy * stride + kernel).min(self.height) {
                    for x in ox * stride..(ox * stride + kernel).min(self.width) {
                        let input = &self.data[((b * self.height + y) * self.width + x) * c..][..c];
                        pixel.iter_mut().zip(input).for_each(|(m, &v)| *m = m.max(v));
                    }
                }
            }
        }
        Self { batch: self.batch, height, width, channels: c, data }
    }

    /// Each image's maps as one 1x1 pixel of `width * height * channels` values in (x, y,
    /// channel) order, channel fastest: PyTorch's `x.permute(0, 3, 2, 1).flatten(1)`.
    pub fn flatten_whc(&self) -> Self {
        let (h, w, c) = (self.height, self.width, self.channels);
        let mut data = Vec::with_capacity(self.data.len());
        for image in self.data.chunks(h * w * c) {
            for x in 0..w {
                for y in 0..h {
                    data.extend_from_slice(&image[(y * w + x) * c..][..c]);
                }
            }
        }
        Self { batch: self.batch, height: 1, width: 1, channels: h * w * c, data }
    }

    /// Nearest-neighbour upsampling by 2 in both directions.
    pub fn upsample_x2(&self) -> Self {
        let c = self.channels;
        let (height, width) = (2 * self.height, 2 * self.width);
        let mut data = Vec::with_capacity(self.data.len() * 4);
        for b in 0..self.batch {
            for y in 0..height {
                for x in 0..width {
                    let at = ((b * self.height + y / 2) * self.width + x / 2) * c;
                    data.extend_from_slice(&self.data[at..at + c]);
                }
            }
        }
        Self { batch: self.batch, height, width, channels: c, data }
    }
}

/// Per output channel, after the sum: bias, then the optional PReLU, batch norm (inference:
/// a scale and a shift) and sigmoid, in that order.
#[derive(Debug, Clone)]
pub(crate) struct Epilogue {
    bias: Vec<f32>,
    slopes: Option<Vec<f32>>,
    scale_shift: Option<(Vec<f32>, Vec<f32>)>,
    sigmoid: bool,
}

impl Epilogue {
    /// The bias (zeros without one) and the optional PReLU of a layer with `channels` outputs.
    fn new(
        bias: Option<&Param<Tensor<1>>>,
        act: Option<&PRelu>,
        channels: usize,
        layer: &str,
    ) -> Result<Self, CpuNetError> {
        let slopes = act.map(|act| prelu_slopes(act, channels, layer)).transpose()?;
        Ok(Self { bias: bias_values(bias, channels, layer)?, slopes, scale_shift: None, sigmoid: false })
    }

    #[inline(always)]
    fn apply(&self, pixel: &mut [f32]) {
        pixel.iter_mut().zip(&self.bias).for_each(|(v, b)| *v += b);
        if let Some(slopes) = &self.slopes {
            pixel.iter_mut().zip(slopes).for_each(|(v, a)| {
                if *v < 0.0 {
                    *v *= a;
                }
            });
        }
        if let Some((scale, shift)) = &self.scale_shift {
            pixel.iter_mut().zip(scale).zip(shift).for_each(|((v, a), b)| *v = *v * a + b);
        }
        if self.sigmoid {
            pixel.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp()));
        }
    }
}

/// Inference batch norm as `x * scale + shift`, per feature.
pub(crate) fn batch_norm_affine(bn: &BatchNorm, layer: &str) -> Result<(Vec<f32>, Vec<f32>), CpuNetError> {
    let gamma = values(bn.gamma.val(), layer)?;
    let beta = values(bn.beta.val(), layer)?;
    let mean = values(bn.running_mean.value(), layer)?;
    let var = values(bn.running_var.value(), layer)?;
    let scale: Vec<f32> = gamma.iter().zip(&var).map(|(g, v)| g / (v + bn.epsilon as f32).sqrt()).collect();
    let shift = beta.iter().zip(&mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
    Ok((scale, shift))
}

/// Padding in pixels: top, left, bottom, right.
type Padding = [usize; 4];

/// A conv layer in the layout its kernel reads.
#[derive(Debug, Clone)]
pub(crate) enum Layer {
    /// 1x1, stride 1: weight `[in, out]`, packed.
    Pointwise { weight: PackedRhs, cin: usize, cout: usize, epilogue: Epilogue },
    /// One filter per channel: weight `[kernel * kernel, channels]`.
    Depthwise { weight: Vec<f32>, channels: usize, kernel: usize, stride: usize, padding: Padding, epilogue: Epilogue },
    /// Any other conv (MobileFaceNet's first): weight `[kernel * kernel * in, out]`, patch-major,
    /// packed.
    Dense {
        weight: PackedRhs,
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        padding: Padding,
        epilogue: Epilogue,
    },
}

pub(crate) fn values<const D: usize>(tensor: Tensor<D>, layer: &str) -> Result<Vec<f32>, CpuNetError> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| CpuNetError::Readback { layer: layer.to_string(), message: format!("{e:?}") })
}

/// A layer's bias, or zeros for one without.
pub(crate) fn bias_values(
    bias: Option<&Param<Tensor<1>>>,
    channels: usize,
    layer: &str,
) -> Result<Vec<f32>, CpuNetError> {
    match bias {
        Some(bias) => values(bias.val(), layer),
        None => Ok(vec![0.0; channels]),
    }
}

/// One PReLU slope per channel, also when the layer shares one slope among all.
fn prelu_slopes(act: &PRelu, channels: usize, layer: &str) -> Result<Vec<f32>, CpuNetError> {
    let slopes = values(act.alpha.val(), layer)?;
    Ok(if slopes.len() == 1 { vec![slopes[0]; channels] } else { slopes })
}

fn padding(conv: &Conv2d, layer: &str) -> Result<Padding, CpuNetError> {
    match conv.padding {
        PaddingConfig2d::Valid => Ok([0; 4]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => Ok([top, left, bottom, right]),
        ref other => Err(CpuNetError::Unsupported { layer: layer.to_string(), message: format!("padding {other:?}") }),
    }
}

impl Layer {
    pub(crate) fn new(conv: &Conv2d, act: Option<&PRelu>, layer: &str) -> Result<Self, CpuNetError> {
        let [cout, per_group, kh, kw] = conv.weight.dims();
        let unsupported = |message: String| CpuNetError::Unsupported { layer: layer.to_string(), message };
        if kh != kw || conv.stride[0] != conv.stride[1] || conv.dilation != [1, 1] {
            return Err(unsupported(format!(
                "kernel {kh}x{kw}, stride {:?}, dilation {:?}",
                conv.stride, conv.dilation
            )));
        }
        let (kernel, stride, padding) = (kh, conv.stride[0], padding(conv, layer)?);
        let weight = values(conv.weight.val(), layer)?;
        let epilogue = Epilogue::new(conv.bias.as_ref(), act, cout, layer)?;
        let taps = kernel * kernel;
        if conv.groups == cout && per_group == 1 && conv.groups > 1 {
            // burn: [channel][0][ky][kx] -> [ky * k + kx][channel]
            let mut by_tap = vec![0f32; taps * cout];
            for (c, filter) in weight.chunks(taps).enumerate() {
                filter.iter().enumerate().for_each(|(t, &w)| by_tap[t * cout + c] = w);
            }
            return Ok(Layer::Depthwise { weight: by_tap, channels: cout, kernel, stride, padding, epilogue });
        }
        if conv.groups != 1 {
            return Err(unsupported(format!("{} groups", conv.groups)));
        }
        let cin = per_group;
        // burn: [out][in][ky][kx] -> [(ky * k + kx) * in + in_channel][out]
        let mut patch_major = vec![0f32; taps * cin * cout];
        for (o, filter) in weight.chunks(cin * taps).enumerate() {
            for (i, plane) in filter.chunks(taps).enumerate() {
                plane.iter().enumerate().for_each(|(t, &w)| patch_major[(t * cin + i) * cout + o] = w);
            }
        }
        let patch_major = PackedRhs::new(taps * cin, cout, &patch_major);
        if kernel == 1 && stride == 1 && padding == [0; 4] {
            Ok(Layer::Pointwise { weight: patch_major, cin, cout, epilogue })
        } else {
            Ok(Layer::Dense { weight: patch_major, cin, cout, kernel, stride, padding, epilogue })
        }
    }

    /// A linear layer (and its activation) as a 1x1 conv over 1x1 maps (see
    /// [`Nhwc::flatten_whc`]).
    pub(crate) fn from_linear(linear: &Linear, act: Option<&PRelu>, layer: &str) -> Result<Self, CpuNetError> {
        // burn stores the weight as [in, out], the layout the matrix multiply reads.
        let [cin, cout] = linear.weight.dims();
        let weight = values(linear.weight.val(), layer)?;
        let epilogue = Epilogue::new(linear.bias.as_ref(), act, cout, layer)?;
        Ok(Layer::Pointwise { weight: PackedRhs::new(cin, cout, &weight), cin, cout, epilogue })
    }

    /// Follows the conv (and its activation) with an inference batch norm.
    pub(crate) fn with_batch_norm(mut self, bn: &BatchNorm, layer: &str) -> Result<Self, CpuNetError> {
        self.epilogue_mut().scale_shift = Some(batch_norm_affine(bn, layer)?);
        Ok(self)
    }

    /// Ends the layer with a sigmoid.
    pub(crate) fn with_sigmoid(mut self) -> Self {
        self.epilogue_mut().sigmoid = true;
        self
    }

    fn epilogue_mut(&mut self) -> &mut Epilogue {
        match self {
            Layer::Pointwise { epilogue, .. } | Layer::Depthwise { epilogue, .. } | Layer::Dense { epilogue, .. } => {
                epilogue
            }
        }
    }

    fn output_size(&self, height: usize, width: usize) -> (usize, usize) {
        match self {
            Layer::Pointwise { .. } => (height, width),
            Layer::Depthwise { kernel, stride, padding, .. } | Layer::Dense { kernel, stride, padding, .. } => (
                (height + padding[0] + padding[2] - kernel) / stride + 1,
                (width + padding[1] + padding[3] - kernel) / stride + 1,
            ),
        }
    }

    fn output_channels(&self) -> usize {
        match self {
            Layer::Pointwise { cout, .. } | Layer::Dense { cout, .. } => *cout,
            Layer::Depthwise { channels, .. } => *channels,
        }
    }

    /// The layer on `x`, plus `residual` (same shape as the output) when given.
    pub(crate) fn forward(&self, x: &Nhwc, residual: Option<&Nhwc>) -> Nhwc {
        let (height, width) = self.output_size(x.height, x.width);
        let channels = self.output_channels();
        let mut out =
            Nhwc { batch: x.batch, height, width, channels, data: vec![0f32; x.batch * height * width * channels] };
        if let Some(residual) = residual {
            assert_eq!(residual.data.len(), out.data.len(), "residual and output differ in size");
        }
        let pixels = out.pixels();
        let rows = MIN_ROWS_PER_TASK.max(pixels.div_ceil(2 * rayon::current_num_threads()));
        out.data.par_chunks_mut(rows * channels).enumerate().for_each(|(task, block)| {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                unsafe { self.block_avx2_fma(x, residual, task * rows, block) };
                return;
            }
            self.block(x, residual, task * rows, block);
        });
        out
    }

    /// The output pixels from `first` on that `block` holds.
    #[inline(always)]
    fn block(&self, x: &Nhwc, residual: Option<&Nhwc>, first: usize, block: &mut [f32]) {
        let channels = self.output_channels();
        let (height, width) = self.output_size(x.height, x.width);
        let count = block.len() / channels;
        match self {
            Layer::Pointwise { weight, cin, .. } => {
                matmul(count, &x.data[first * cin..(first + count) * cin], weight, block);
            }
            Layer::Dense { weight, cin, kernel, stride, padding, .. } => {
                let patch = kernel * kernel * cin;
                let mut patches = vec![0f32; count * patch];
                for (r, row) in patches.chunks_mut(patch).enumerate() {
                    let (b, oy, ox) = position(first + r, height, width);
                    for ky in 0..*kernel {
                        for kx in 0..*kernel {
                            if let Some(pixel) = input_pixel(x, b, oy * stride + ky, ox * stride + kx, padding) {
                                let at = (ky * kernel + kx) * cin;
                                row[at..at + cin].copy_from_slice(pixel);
                            }
                        }
                    }
                }
                matmul(count, &patches, weight, block);
            }
            Layer::Depthwise { weight, kernel, stride, padding, .. } => {
                for (r, acc) in block.chunks_mut(channels).enumerate() {
                    let (b, oy, ox) = position(first + r, height, width);
                    for ky in 0..*kernel {
                        for kx in 0..*kernel {
                            if let Some(pixel) = input_pixel(x, b, oy * stride + ky, ox * stride + kx, padding) {
                                let w = &weight[(ky * kernel + kx) * channels..][..channels];
                                acc.iter_mut().zip(pixel).zip(w).for_each(|((a, p), w)| *a += p * w);
                            }
                        }
                    }
                }
            }
        }
        let epilogue = match self {
            Layer::Pointwise { epilogue, .. } | Layer::Depthwise { epilogue, .. } | Layer::Dense { epilogue, .. } => {
                epilogue
            }
        };
        for (r, pixel) in block.chunks_mut(channels).enumerate() {
            epilogue.apply(pixel);
            if let Some(residual) = residual {
                let skip = &residual.data[(first + r) * channels..][..channels];
                pixel.iter_mut().zip(skip).for_each(|(v, s)| *v += s);
            }
        }
    }

    /// [`Self::block`] compiled for AVX2 + FMA: the depthwise, patch and epilogue loops run over
    /// contiguous channels and vectorise twice as wide as the x86-64 baseline (measured 25 ->
    /// 17 ms a face), and the depthwise `mul_add` becomes one instruction (elsewhere without FMA
    /// it is a library call, so only this build uses the depthwise path on x86-64 CPUs).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block_avx2_fma(&self, x: &Nhwc, residual: Option<&Nhwc>, first: usize, block: &mut [f32]) {
        self.block(x, residual, first, block);
    }
}

/// `(image, row, column)` of output pixel `index`.
#[inline(always)]
fn position(index: usize, height: usize, width: usize) -> (usize, usize, usize) {
    (index / (height * width), index / width % height, index % width)
}

/// The channels of input pixel (`y`, `x`) in padded coordinates, `None` in the padding.
#[inline(always)]
fn input_pixel<'a>(x: &'a Nhwc, b: usize, y: usize, col: usize, padding: &Padding) -> Option<&'a [f32]> {
    let (iy, ix) = (y.checked_sub(padding[0])?, col.checked_sub(padding[1])?);
    if iy >= x.height || ix >= x.width {
        return None;
    }
    Some(&x.data[((b * x.height + iy) * x.width + ix) * x.channels..][..x.channels])
}

#[cfg(test)]
pub(crate) mod tests {
    use burn::nn::PReluConfig;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, Distribution};

    use super::*;
    use crate::model::mobilefacenet::same_padding_3x3;

    pub(crate) fn random(dims: [usize; 4], device: &Device) -> Tensor<4> {
        Tensor::random(dims, Distribution::Normal(0.0, 1.0), device)
    }

    pub(crate) fn nhwc(t: &Tensor<4>) -> Nhwc {
        let [batch, channels, height, width] = t.dims();
        Nhwc::from_planar(&values(t.clone(), "input").unwrap(), batch, channels, height, width)
    }

    pub(crate) fn max_difference(ours: &Nhwc, reference: Tensor<4>) -> f32 {
        let ours = values(ours.to_tensor(&Device::flex()), "ours").unwrap();
        let reference = values(reference, "reference").unwrap();
        assert_eq!(ours.len(), reference.len());
        ours.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
    }

    /// Every conv kind MobileFaceNet uses, with random weights and slopes, against burn's conv.
    #[test]
    fn layers_match_burn() {
        let device = Device::flex();
        let cases = [
            // (in, out, kernel, stride, depthwise, input side): odd and even sides, both paddings.
            (3, 16, 3, 2, false, 12),
            (3, 16, 3, 1, false, 9),
            (24, 24, 3, 1, true, 9),
            (24, 24, 3, 2, true, 10),
            (32, 32, 7, 1, true, 7),
            (20, 36, 1, 1, false, 11),
        ];
        for (cin, cout, kernel, stride, depthwise, side) in cases {
            let padding = if kernel == 3 { same_padding_3x3(stride) } else { PaddingConfig2d::Valid };
            let conv = Conv2dConfig::new([cin, cout], [kernel, kernel])
                .with_stride([stride, stride])
                .with_groups(if depthwise { cin } else { 1 })
                .with_padding(padding)
                .init(&device);
            let act = PReluConfig::new().with_num_parameters(cout).with_alpha(0.2).init(&device);
            let act = PRelu {
                alpha: burn::module::Param::from_tensor(act.alpha.val().add_scalar(0.1).mul(Tensor::random(
                    [cout],
                    Distribution::Uniform(0.0, 2.0),
                    &device,
                ))),
                ..act
            };
            let x = random([2, cin, side, side], &device);
            let layer = Layer::new(&conv, Some(&act), "case").unwrap();
            let reference = act.forward(conv.forward(x.clone()));
            let difference = max_difference(&layer.forward(&nhwc(&x), None), reference);
            assert!(difference < 1e-4, "{cin}->{cout} k{kernel} s{stride} dw={depthwise} side {side}: {difference}");
        }
    }

    #[test]
    fn residual_is_added_after_the_conv() {
        let device = Device::flex();
        let conv = Conv2dConfig::new([8, 8], [1, 1]).init(&device);
        let (x, skip) = (random([1, 8, 5, 5], &device), random([1, 8, 5, 5], &device));
        let layer = Layer::new(&conv, None, "project").unwrap();
        let ours = layer.forward(&nhwc(&x), Some(&nhwc(&skip)));
        assert!(max_difference(&ours, conv.forward(x) + skip) < 1e-5);
    }

    #[test]
    fn upsampling_repeats_each_pixel_in_a_2x2_block() {
        // 1 image, 2x1 pixels, 2 channels: pixel (0,0) = [1, 2], pixel (1,0) = [3, 4]
        let x = Nhwc { batch: 1, height: 2, width: 1, channels: 2, data: vec![1.0, 2.0, 3.0, 4.0] };
        let up = x.upsample_x2();
        assert_eq!((up.height, up.width), (4, 2));
        assert_eq!(up.data, vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 3.0, 4.0, 3.0, 4.0]);
        assert_eq!(
            up.channels_first(),
            vec![vec![1.0, 1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 4.0]]
        );
    }
}
