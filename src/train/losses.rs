//! The training losses: CosFace on the masked embedding, distillation towards the clean face's
//! embedding, and cross-entropy on the occlusion pattern.

use burn::module::{Module, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

use crate::model::mobilefacenet::l2_normalize;

/// Standard deviation of the CosFace class centres at initialisation.
const COSFACE_INIT_STD: f64 = 0.01;

/// Class centres of CosFace (Wang et al. 2018): logits are s * (cos(x, w_y) - m) for the true
/// class and s * cos(x, w_j) for the others.
#[derive(Module, Debug)]
pub struct CosFaceHead {
    /// `[classes, embedding_dim]`
    pub centres: Param<Tensor<2>>,
}

impl CosFaceHead {
    pub fn new(classes: usize, embedding_dim: usize, device: &Device) -> Self {
        let centres = Tensor::random([classes, embedding_dim], Distribution::Normal(0.0, COSFACE_INIT_STD), device);
        Self { centres: Param::from_tensor(centres) }
    }

    /// Centres at the given (normalised) vectors, one per class.
    pub fn from_centres(centres: &[Vec<f32>], device: &Device) -> Self {
        let dim = centres.first().map_or(0, Vec::len);
        let data = TensorData::new(centres.concat(), [centres.len(), dim]);
        Self { centres: Param::from_tensor(Tensor::from_data(data, device)) }
    }

    /// Mean CosFace loss.
    ///
    /// # Shapes
    /// - `embedding`: `[batch, dim]` (any norm); `labels`: class per row; output `[1]`
    pub fn loss(&self, embedding: Tensor<2>, labels: &[usize], scale: f64, margin: f64) -> Tensor<1> {
        let device = embedding.device();
        let [batch, _] = embedding.dims();
        let classes = self.centres.dims()[0];
        let cosine = l2_normalize(embedding).matmul(l2_normalize(self.centres.val()).transpose());
        let mut margins = vec![0f32; batch * classes];
        for (row, &label) in labels.iter().enumerate() {
            margins[row * classes + label] = margin as f32;
        }
        let margins = Tensor::<2>::from_data(TensorData::new(margins, [batch, classes]), &device);
        cross_entropy((cosine - margins).mul_scalar(scale), labels)
    }
}

/// Mean softmax cross-entropy of `logits` `[batch, classes]` against class indices.
pub fn cross_entropy(logits: Tensor<2>, labels: &[usize]) -> Tensor<1> {
    let device = logits.device();
    let targets = Tensor::<1, Int>::from_data(
        TensorData::new(labels.iter().map(|&l| l as i64).collect::<Vec<_>>(), [labels.len()]),
        &device,
    );
    CrossEntropyLossConfig::new().init(&device).forward(logits, targets)
}

/// Row-wise cosine similarity.
///
/// # Shapes
/// - `a`, `b`: `[batch, dim]`; output `[batch]`
pub fn cosine_rows(a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
    (l2_normalize(a) * l2_normalize(b)).sum_dim(1).flatten(0, 1)
}

/// Mean of 1 - cosine(student, teacher): pulls the masked embedding of an occluded face towards
/// the embedding of the same face unoccluded.
pub fn distill(student: Tensor<2>, teacher: Tensor<2>) -> Tensor<1> {
    cosine_rows(student, teacher).neg().add_scalar(1.0).mean()
}
