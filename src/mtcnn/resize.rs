//! Pixels for MTCNN, as facenet-pytorch prepares them: the planar float image, PyTorch's
//! `interpolate(mode="area")` resampling, the input normalisation and the scale pyramid.
//! No tensors here, so every rule is unit-testable.

use image::RgbImage;

/// P-Net's window: a pyramid level is useful while the image's short side still holds one.
pub const PNET_WINDOW: f64 = 12.0;
/// facenet-pytorch's normalisation: `(v - 127.5) * 0.0078125`.
const PIXEL_MEAN: f32 = 127.5;
const PIXEL_SCALE: f32 = 0.0078125;

/// A rectangle of pixels: top-left corner (0-based) and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResizeError {
    #[error("image buffer holds {actual} values, but {channels}x{height}x{width} needs {expected}")]
    BufferSize { channels: usize, height: usize, width: usize, expected: usize, actual: usize },
    #[error("image size {channels}x{height}x{width} overflows")]
    TooLarge { channels: usize, height: usize, width: usize },
    #[error("area resize: region {region:?} is empty or leaves the {width}x{height} image")]
    BadRegion { region: Region, width: usize, height: usize },
    #[error("area resize: the output size {height}x{width} is empty")]
    EmptyOutput { height: usize, width: usize },
}

/// A channel-planar (CHW) float image, values as decoded (0..255 for RGB8).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanarImage {
    channels: usize,
    height: usize,
    width: usize,
    data: Vec<f32>,
}

impl PlanarImage {
    /// Wraps a CHW buffer after checking its length.
    pub fn new(channels: usize, height: usize, width: usize, data: Vec<f32>) -> Result<Self, ResizeError> {
        let expected = channels
            .checked_mul(height)
            .and_then(|v| v.checked_mul(width))
            .ok_or(ResizeError::TooLarge { channels, height, width })?;
        if data.len() != expected {
            return Err(ResizeError::BufferSize { channels, height, width, expected, actual: data.len() });
        }
        Ok(Self { channels, height, width, data })
    }

    /// The RGB image as float CHW, like facenet-pytorch's `permute(0, 3, 1, 2).float()`.
    pub fn from_rgb(image: &RgbImage) -> Self {
        let (width, height) = (image.width() as usize, image.height() as usize);
        let plane = width * height;
        let mut data = vec![0.0f32; 3 * plane];
        for (i, pixel) in image.as_raw().chunks_exact(3).enumerate() {
            for (c, &value) in pixel.iter().enumerate() {
                data[c * plane + i] = f32::from(value);
            }
        }
        Self { channels: 3, height, width, data }
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The whole image as a region.
    pub fn full(&self) -> Region {
        Region { x: 0, y: 0, width: self.width, height: self.height }
    }

    /// `F.interpolate(crop, size=(out_height, out_width), mode="area")` of `region`, as a CHW
    /// buffer of `channels * out_height * out_width` values.
    ///
    /// Area mode is adaptive average pooling: output index `i` of an axis of input length `L`
    /// and output length `n` averages inputs `[floor(i*L/n), ceil((i+1)*L/n))`. The 2-D output
    /// is the mean over the rectangle of the two windows; this covers upsampling too.
    ///
    /// The window sum is taken in f64, then divided in f32 by the window height and then by its
    /// width, as PyTorch's CPU kernel does (`sum / kh / kw`, checked against torch 2.5.1 in
    /// both memory layouts). On integer pixel values PyTorch's f32 running sum is exact, so the
    /// results agree bit for bit; one division by `kh * kw` would differ in the last bit.
    pub fn area_resize(&self, region: Region, out_height: usize, out_width: usize) -> Result<Vec<f32>, ResizeError> {
        let inside = region.width > 0
            && region.height > 0
            && region.x.checked_add(region.width).is_some_and(|end| end <= self.width)
            && region.y.checked_add(region.height).is_some_and(|end| end <= self.height);
        if !inside {
            return Err(ResizeError::BadRegion { region, width: self.width, height: self.height });
        }
        if out_height == 0 || out_width == 0 {
            return Err(ResizeError::EmptyOutput { height: out_height, width: out_width });
        }
        let rows = area_windows(region.height, out_height);
        let cols = area_windows(region.width, out_width);
        let plane = self.height * self.width;
        let mut out = Vec::with_capacity(self.channels * out_height * out_width);
        // Separable sums: first every input row of the region over each column window, then
        // those row sums over each row window. Exact in f64 for pixel values.
        let mut row_sums = vec![0.0f64; region.height * out_width];
        for channel in self.data.chunks_exact(plane).take(self.channels) {
            for iy in 0..region.height {
                let start = (region.y + iy) * self.width + region.x;
                let row = &channel[start..start + region.width];
                for (ox, &(x0, x1)) in cols.iter().enumerate() {
                    row_sums[iy * out_width + ox] = row[x0..x1].iter().map(|&v| f64::from(v)).sum();
                }
            }
            for &(y0, y1) in &rows {
                for (ox, &(x0, x1)) in cols.iter().enumerate() {
                    let sum: f64 = (y0..y1).map(|iy| row_sums[iy * out_width + ox]).sum();
                    out.push(sum as f32 / (y1 - y0) as f32 / (x1 - x0) as f32);
                }
            }
        }
        Ok(out)
    }
}

/// The half-open input window `[floor(i*L/n), ceil((i+1)*L/n))` of each output index, as
/// PyTorch's `start_index`/`end_index` compute it in integers.
pub fn area_windows(input: usize, output: usize) -> Vec<(usize, usize)> {
    (0..output).map(|i| ((i * input) / output, ((i + 1) * input).div_ceil(output))).collect()
}

/// facenet-pytorch's network input scaling, in place: `(v - 127.5) * 0.0078125`.
pub fn normalize(values: &mut [f32]) {
    for v in values {
        *v = (*v - PIXEL_MEAN) * PIXEL_SCALE;
    }
}

/// The image scales of the P-Net pyramid, largest first, computed in f64 like the Python code:
/// start at `12 / min_face_size` and multiply by `factor` while the scaled short side is still
/// at least 12 pixels. Empty when the settings would never stop (`factor` outside (0, 1)) or
/// are not positive and finite.
pub fn pyramid_scales(height: usize, width: usize, min_face_size: f64, factor: f64) -> Vec<f64> {
    let valid = min_face_size.is_finite() && min_face_size > 0.0 && factor > 0.0 && factor < 1.0;
    if !valid {
        return Vec::new();
    }
    let first = PNET_WINDOW / min_face_size;
    let mut short_side = height.min(width) as f64 * first;
    let mut scale = first;
    let mut scales = Vec::new();
    while short_side >= PNET_WINDOW {
        scales.push(scale);
        scale *= factor;
        short_side *= factor;
    }
    scales
}

/// The P-Net input size `(height, width)` for `scale`: `int(h * scale + 1)`, truncated.
pub fn scaled_size(height: usize, width: usize, scale: f64) -> (usize, usize) {
    ((height as f64 * scale + 1.0) as usize, (width as f64 * scale + 1.0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_downsampling_and_upsampling() {
        assert_eq!(area_windows(4, 2), vec![(0, 2), (2, 4)]);
        assert_eq!(area_windows(5, 2), vec![(0, 3), (2, 5)]);
        assert_eq!(area_windows(2, 4), vec![(0, 1), (0, 1), (1, 2), (1, 2)]);
        assert_eq!(area_windows(3, 2), vec![(0, 2), (1, 3)]);
    }

    #[test]
    fn lfw_pyramid_has_eight_levels() {
        let sizes: Vec<usize> =
            pyramid_scales(250, 250, 20.0, 0.709).into_iter().map(|s| scaled_size(250, 250, s).0).collect();
        assert_eq!(sizes, vec![151, 107, 76, 54, 38, 27, 20, 14]);
    }

    #[test]
    fn endless_pyramids_are_refused() {
        assert!(pyramid_scales(250, 250, 20.0, 1.0).is_empty());
        assert!(pyramid_scales(250, 250, 0.0, 0.7).is_empty());
        assert!(pyramid_scales(250, 250, f64::NAN, 0.7).is_empty());
    }

    #[test]
    fn area_resize_averages_rectangles() {
        // One channel, 2x4 -> 1x2: means of the left and right 2x2 blocks.
        let img = PlanarImage::new(1, 2, 4, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]).unwrap();
        assert_eq!(img.area_resize(img.full(), 1, 2).unwrap(), vec![3.5, 5.5]);
        // A crop of the right column pair, upsampled 2x in width.
        let crop = Region { x: 2, y: 0, width: 2, height: 2 };
        assert_eq!(img.area_resize(crop, 2, 4).unwrap(), vec![3.0, 3.0, 4.0, 4.0, 7.0, 7.0, 8.0, 8.0]);
        assert!(img.area_resize(Region { x: 3, y: 0, width: 2, height: 1 }, 1, 1).is_err());
        assert!(img.area_resize(img.full(), 0, 1).is_err());
    }

    #[test]
    fn rgb_becomes_planar() {
        let rgb = RgbImage::from_raw(2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap();
        let img = PlanarImage::from_rgb(&rgb);
        assert_eq!(img.data(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let mut v = [127.5, 255.0];
        normalize(&mut v);
        assert_eq!(v, [0.0, 0.99609375]);
    }
}
