//! Feature maps as the CPU path keeps them: channels last, `[batch, height, width, channels]`,
//! so that a pixel's channels are contiguous for the kernels.

use burn::tensor::Tensor;
use image::RgbImage;

/// Output side of a ceil-mode max-pool without padding.
pub fn ceil_pool_size(input: usize, kernel: usize, stride: usize) -> usize {
    let out = (input.saturating_sub(kernel)).div_ceil(stride) + 1;
    // PyTorch drops a last window that would start outside the input.
    if (out - 1) * stride >= input { out - 1 } else { out }
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
    pub(crate) fn pixels(&self) -> usize {
        self.batch * self.height * self.width
    }

    /// Faces of one size as raw pixel values (0-255), channels last: a network's input, which
    /// its program normalises itself.
    pub fn from_faces(faces: &[&RgbImage]) -> Self {
        let (width, height) = faces.first().map_or((0, 0), |f| f.dimensions());
        let mut data = Vec::with_capacity(faces.len() * (width * height) as usize * 3);
        for face in faces {
            assert_eq!(face.dimensions(), (width, height), "faces of one batch differ in size");
            data.extend(face.as_raw().iter().map(|&v| f32::from(v)));
        }
        Self { batch: faces.len(), height: height as usize, width: width as usize, channels: 3, data }
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
        let size = |input: usize| ceil_pool_size(input, kernel, stride);
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

    /// Element-wise sum with maps of the same shape.
    pub fn plus(&self, other: &Nhwc) -> Self {
        assert_eq!(self.shape(), other.shape(), "added maps differ in shape");
        Self { data: self.data.iter().zip(&other.data).map(|(a, b)| a + b).collect(), ..*self }
    }

    /// A one-channel map with its value repeated over `channels` channels.
    pub fn repeat_channels(&self, channels: usize) -> Self {
        assert_eq!(self.channels, 1, "only a one-channel map repeats");
        let data = self.data.iter().flat_map(|&v| std::iter::repeat_n(v, channels)).collect();
        Self { channels, data, ..*self }
    }

    /// Each image's values as one 1x1 pixel, in the order they are stored (height, width,
    /// channel).
    pub fn flatten_hwc(self) -> Self {
        let channels = self.height * self.width * self.channels;
        Self { height: 1, width: 1, channels, ..self }
    }

    /// `(batch, height, width, channels)`.
    /// The channels of pixel (`y`, `x`) of image `b` in coordinates padded by `padding` (top,
    /// left, bottom, right), `None` in the padding.
    #[inline(always)]
    pub(crate) fn padded_pixel(&self, b: usize, y: usize, x: usize, padding: &[usize; 4]) -> Option<&[f32]> {
        let (iy, ix) = (y.checked_sub(padding[0])?, x.checked_sub(padding[1])?);
        if iy >= self.height || ix >= self.width {
            return None;
        }
        Some(&self.data[((b * self.height + iy) * self.width + ix) * self.channels..][..self.channels])
    }

    pub fn shape(&self) -> (usize, usize, usize, usize) {
        (self.batch, self.height, self.width, self.channels)
    }

    /// The images of several batches of one shape, one batch after another.
    pub fn concat(parts: Vec<Nhwc>) -> Self {
        let mut parts = parts.into_iter();
        let mut out = parts.next().expect("at least one part");
        for part in parts {
            assert_eq!(
                (part.height, part.width, part.channels),
                (out.height, out.width, out.channels),
                "parts differ in shape"
            );
            out.batch += part.batch;
            out.data.extend_from_slice(&part.data);
        }
        out
    }
}
