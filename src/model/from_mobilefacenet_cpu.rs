//! FROM on MobileFaceNet for CPU inference: the backbone of `mobilefacenet_cpu` plus the pyramid,
//! the mask decoder, the pattern predictor and both embeddings, built from a trained
//! [`FromMobileFaceNet`]'s weights. In burn the heads cost about as much as the backbone on the
//! CPU; here they add a few milliseconds a face.

use burn::nn::Linear;
use image::RgbImage;
use rayon::prelude::*;

use super::cpu_layers::{CpuNetError, Layer, Nhwc, batch_norm_affine, bias_values, values};
use super::cpu_matmul::{PackedRhs, matmul};
use super::from_mobilefacenet::FromMobileFaceNet;
use super::heads::FlatHead;
use super::mobilefacenet_cpu::{CpuMobileFaceNet, FACES_PER_TASK};

/// What the network gives for a batch of faces, one entry per face.
#[derive(Debug, Clone)]
pub struct CpuFromOutput {
    /// Embedding of the masked features (not normalised).
    pub masked: Vec<Vec<f32>>,
    /// Embedding of the features as they are (the baseline).
    pub unmasked: Vec<Vec<f32>>,
    /// The mask, channels-first `[512 * 7 * 7]`; empty unless the heads were asked for.
    pub masks: Vec<Vec<f32>>,
    /// Pattern predictor logits; empty unless the heads were asked for.
    pub pattern_logits: Vec<Vec<f32>>,
}

/// BN -> (Dropout: nothing at inference) -> Linear -> BN on a flattened map.
#[derive(Debug, Clone)]
struct CpuFlatHead {
    input: (Vec<f32>, Vec<f32>),
    /// `[in, out]`
    weight: PackedRhs,
    bias: Vec<f32>,
    output: (Vec<f32>, Vec<f32>),
}

impl CpuFlatHead {
    fn new(head: &FlatHead) -> Result<Self, CpuNetError> {
        let Linear { weight, bias, .. } = &head.linear;
        let [inputs, outputs] = weight.dims();
        let weight_values = PackedRhs::new(inputs, outputs, &values(weight.val(), "regress.linear")?);
        Ok(Self {
            input: batch_norm_affine(&head.bn_in, "regress.bn_in")?,
            weight: weight_values,
            bias: bias_values(bias.as_ref(), outputs, "regress.linear")?,
            output: batch_norm_affine(&head.bn_out, "regress.bn_out")?,
        })
    }

    /// Logits of flattened channels-first inputs.
    fn forward(&self, inputs: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let (features, outputs) = (self.input.0.len(), self.bias.len());
        let mut x = Vec::with_capacity(inputs.len() * features);
        for input in inputs {
            x.extend(input.iter().zip(&self.input.0).zip(&self.input.1).map(|((v, a), b)| v * a + b));
        }
        let mut logits = vec![0f32; inputs.len() * outputs];
        matmul(inputs.len(), &x, &self.weight, &mut logits);
        logits
            .chunks(outputs)
            .map(|row| {
                row.iter()
                    .zip(&self.bias)
                    .zip(&self.output.0)
                    .zip(&self.output.1)
                    .map(|(((v, bias), a), b)| (v + bias) * a + b)
                    .collect()
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct CpuFromMobileFaceNet {
    backbone: CpuMobileFaceNet,
    p5_1: Layer,
    p4_1: Layer,
    p3_1: Layer,
    p3_2: Layer,
    decoder_1: Layer,
    decoder_2: Layer,
    regress: CpuFlatHead,
}

impl CpuFromMobileFaceNet {
    pub fn new(net: &FromMobileFaceNet) -> Result<Self, CpuNetError> {
        let fpn = &net.fpn;
        let mask = &net.mask;
        Ok(Self {
            backbone: CpuMobileFaceNet::new(&net.backbone)?,
            p5_1: Layer::new(&fpn.p5_1, None, "fpn.p5_1")?,
            p4_1: Layer::new(&fpn.p4_1, None, "fpn.p4_1")?,
            p3_1: Layer::new(&fpn.p3_1, None, "fpn.p3_1")?,
            p3_2: Layer::new(&fpn.p3_2, None, "fpn.p3_2")?,
            decoder_1: Layer::new(&mask.conv1, Some(&mask.prelu), "mask.conv1")?
                .with_batch_norm(&mask.bn, "mask.bn")?,
            decoder_2: Layer::new(&mask.conv2, None, "mask.conv2")?.with_sigmoid(),
            regress: CpuFlatHead::new(&net.regress)?,
        })
    }

    /// The network on aligned 112x112 faces, [`FACES_PER_TASK`] at a time in parallel; the
    /// masks and pattern logits only when `heads` asks for them.
    pub fn forward(&self, faces: &[&RgbImage], heads: bool) -> CpuFromOutput {
        let parts: Vec<CpuFromOutput> =
            faces.par_chunks(FACES_PER_TASK).map(|chunk| self.forward_batch(chunk, heads)).collect();
        let mut out =
            CpuFromOutput { masked: Vec::new(), unmasked: Vec::new(), masks: Vec::new(), pattern_logits: Vec::new() };
        for part in parts {
            out.masked.extend(part.masked);
            out.unmasked.extend(part.unmasked);
            out.masks.extend(part.masks);
        }
        if heads {
            // One multiply for the whole batch: per face it would stream the predictor's 23 MB
            // of weights from memory for a single row.
            out.pattern_logits = self.regress.forward(&out.masks);
        }
        out
    }

    fn forward_batch(&self, faces: &[&RgbImage], heads: bool) -> CpuFromOutput {
        let taps = self.backbone.taps(&Nhwc::from_faces(faces));
        let p5 = self.p5_1.forward(&taps.c5, None);
        let p4 = self.p4_1.forward(&taps.c4, Some(&p5.upsample_x2()));
        let p3 = self.p3_1.forward(&taps.c3, Some(&p4.upsample_x2()));
        let mask = self.decoder_2.forward(&self.decoder_1.forward(&self.p3_2.forward(&p3, None), None), None);
        CpuFromOutput {
            masked: self.backbone.embed_features(&taps.features.times(&mask)),
            unmasked: self.backbone.embed_features(&taps.features),
            masks: if heads { mask.channels_first() } else { Vec::new() },
            pattern_logits: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::module::{Module, Param};
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::model::from_mobilefacenet::FromMobileFaceNetConfig;

    fn close(ours: &[f32], reference: Tensor<2>, what: &str, tolerance: f32) {
        let reference = values(reference, what).unwrap();
        assert_eq!(ours.len(), reference.len(), "{what}");
        let difference = ours.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(difference < tolerance, "{what}: {difference}");
    }

    /// Random weights everywhere, the mask decoder's last conv too (not the open start) and
    /// batch-norm statistics away from the identity, against burn's forward pass.
    #[test]
    fn matches_burn() {
        let device = Device::flex();
        let mut net = FromMobileFaceNetConfig::new().init(&device);
        let dims = net.mask.conv2.weight.dims();
        net.mask.conv2.weight = Param::from_tensor(Tensor::random(dims, Distribution::Normal(0.0, 0.05), &device));
        let stats = |n: usize, low: f64| Tensor::<1>::random([n], Distribution::Uniform(low, low + 1.0), &device);
        for bn in [&mut net.mask.bn, &mut net.regress.bn_in, &mut net.regress.bn_out] {
            let n = bn.gamma.dims()[0];
            bn.running_mean = burn::module::RunningState::new(stats(n, -0.5));
            bn.running_var = burn::module::RunningState::new(stats(n, 0.5));
            bn.gamma = Param::from_tensor(stats(n, 0.5));
        }
        let net = net.valid();
        let cpu = CpuFromMobileFaceNet::new(&net).unwrap();
        let faces: Vec<image::RgbImage> = (0..2u8)
            .map(|i| {
                image::RgbImage::from_fn(112, 112, |x, y| {
                    image::Rgb([(x * 2) as u8 ^ i, (y * 2) as u8, ((x + y) as u8).wrapping_mul(3)])
                })
            })
            .collect();
        let faces: Vec<&image::RgbImage> = faces.iter().collect();
        let ours = cpu.forward(&faces, true);
        let without_heads = cpu.forward(&faces, false);
        assert_eq!((without_heads.masked, without_heads.unmasked), (ours.masked.clone(), ours.unmasked.clone()));
        assert!(without_heads.masks.is_empty() && without_heads.pattern_logits.is_empty());
        let reference = net.forward(Nhwc::from_faces(&faces).to_tensor(&device));
        close(&ours.masks.concat(), reference.mask.flatten(1, 3), "mask", 1e-4);
        close(&ours.masked.concat(), reference.masked_embedding, "masked embedding", 1e-3);
        close(&ours.unmasked.concat(), reference.unmasked_embedding, "unmasked embedding", 1e-3);
        close(&ours.pattern_logits.concat(), reference.pattern_logits, "pattern logits", 1e-3);
    }
}
