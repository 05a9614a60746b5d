//! Aligned faces as a network's input: the one place pixels become a tensor.

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;

/// Faces of one size as a `[batch, 3, h, w]` tensor of raw pixel values (0-255, channels
/// first); each network normalises them its own way.
///
/// # Shapes
/// - output: `[faces.len(), 3, h, w]`, `(w, h)` the first face's size (an empty batch is
///   `[0, 3, 0, 0]`)
pub fn faces_to_tensor(faces: &[&RgbImage], device: &Device) -> Tensor<4> {
    let (w, h) = faces.first().map(|f| f.dimensions()).unwrap_or((0, 0));
    debug_assert!(faces.iter().all(|f| f.dimensions() == (w, h)), "faces of different sizes in one batch");
    let mut pixels = Vec::with_capacity(faces.len() * 3 * (w * h) as usize);
    for face in faces {
        for c in 0..3 {
            pixels.extend(face.pixels().map(|p| f32::from(p.0[c])));
        }
    }
    Tensor::<4>::from_data(TensorData::new(pixels, [faces.len(), 3, h as usize, w as usize]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_go_channels_first_row_by_row() {
        let mut face = RgbImage::new(2, 1);
        face.put_pixel(0, 0, image::Rgb([1, 2, 3]));
        face.put_pixel(1, 0, image::Rgb([4, 5, 6]));
        let tensor = faces_to_tensor(&[&face, &face], &Device::flex());
        assert_eq!(tensor.dims(), [2, 3, 1, 2]);
        let values = tensor.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(values, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0, 1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
