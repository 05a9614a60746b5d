//! The three MTCNN networks on the CPU inference path (`model::cpu_layers`), built from the burn
//! modules' weights.
//!
//! burn-flex ran P-Net over the pyramid op by op, channels first, each conv, PReLU and pool a
//! pass over a fresh tensor; that made detection on a 250x250 LFW photo cost ~70 ms. Here every
//! conv is one matrix multiply over a block of channels-last pixels with the PReLU applied in
//! the same pass. The burn modules stay the definition and what the GPU runs.

use super::nets::{ONet, PNet, RNet};
use crate::model::cpu_layers::{CpuNetError, Layer, Nhwc};

/// P-Net's maps for one pyramid level, channels first.
#[derive(Debug, Clone, PartialEq)]
pub struct PNetMaps {
    pub height: usize,
    pub width: usize,
    /// Face probability per cell: `[height * width]`.
    pub face: Vec<f32>,
    /// Box regression, `[4, height, width]`.
    pub reg: Vec<f32>,
}

/// Per-crop outputs of R-Net and O-Net, row-major `[n, k]` like the burn nets' tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct CropOutputs {
    /// Softmax over (not face, face): `[n, 2]`.
    pub prob: Vec<f32>,
    /// Box regression: `[n, 4]`.
    pub reg: Vec<f32>,
    /// O-Net's five points as fractions of the box, `[n, 10]`; empty for R-Net.
    pub landmarks: Vec<f32>,
}

/// The three networks, ready for CPU inference.
#[derive(Debug, Clone)]
pub struct CpuMtcnnNets {
    pnet: Vec<Step>,
    pnet_prob: Layer,
    pnet_reg: Layer,
    rnet: Vec<Step>,
    rnet_prob: Layer,
    rnet_reg: Layer,
    onet: Vec<Step>,
    onet_prob: Layer,
    onet_reg: Layer,
    onet_landmarks: Layer,
}

/// One step of a network's trunk.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant, reason = "a dozen steps per network, built once")]
enum Step {
    Layer(Layer),
    /// Stride-2 max-pool in ceil mode with this kernel.
    Pool(usize),
    Flatten,
}

impl CpuMtcnnNets {
    pub fn new(pnet: &PNet, rnet: &RNet, onet: &ONet) -> Result<Self, CpuNetError> {
        let conv = |c, a, name| Layer::new(c, Some(a), name).map(Step::Layer);
        let dense = |l, a, name| Layer::from_linear(l, Some(a), name).map(Step::Layer);
        Ok(Self {
            pnet: vec![
                conv(&pnet.conv1, &pnet.prelu1, "pnet.conv1")?,
                Step::Pool(2),
                conv(&pnet.conv2, &pnet.prelu2, "pnet.conv2")?,
                conv(&pnet.conv3, &pnet.prelu3, "pnet.conv3")?,
            ],
            pnet_prob: Layer::new(&pnet.conv4_1, None, "pnet.conv4_1")?,
            pnet_reg: Layer::new(&pnet.conv4_2, None, "pnet.conv4_2")?,
            rnet: vec![
                conv(&rnet.conv1, &rnet.prelu1, "rnet.conv1")?,
                Step::Pool(3),
                conv(&rnet.conv2, &rnet.prelu2, "rnet.conv2")?,
                Step::Pool(3),
                conv(&rnet.conv3, &rnet.prelu3, "rnet.conv3")?,
                Step::Flatten,
                dense(&rnet.dense4, &rnet.prelu4, "rnet.dense4")?,
            ],
            rnet_prob: Layer::from_linear(&rnet.dense5_1, None, "rnet.dense5_1")?,
            rnet_reg: Layer::from_linear(&rnet.dense5_2, None, "rnet.dense5_2")?,
            onet: vec![
                conv(&onet.conv1, &onet.prelu1, "onet.conv1")?,
                Step::Pool(3),
                conv(&onet.conv2, &onet.prelu2, "onet.conv2")?,
                Step::Pool(3),
                conv(&onet.conv3, &onet.prelu3, "onet.conv3")?,
                Step::Pool(2),
                conv(&onet.conv4, &onet.prelu4, "onet.conv4")?,
                Step::Flatten,
                dense(&onet.dense5, &onet.prelu5, "onet.dense5")?,
            ],
            onet_prob: Layer::from_linear(&onet.dense6_1, None, "onet.dense6_1")?,
            onet_reg: Layer::from_linear(&onet.dense6_2, None, "onet.dense6_2")?,
            onet_landmarks: Layer::from_linear(&onet.dense6_3, None, "onet.dense6_3")?,
        })
    }

    /// P-Net on one normalised CHW pyramid level of `height` x `width` (both >= 12).
    pub fn pnet(&self, level: &[f32], height: usize, width: usize) -> PNetMaps {
        let x = trunk(&self.pnet, Nhwc::from_planar(level, 1, 3, height, width));
        let prob = softmax_pairs(&self.pnet_prob.forward(&x, None).data);
        let reg = self.pnet_reg.forward(&x, None).channels_first().concat();
        let face = prob.chunks(2).map(|p| p[1]).collect();
        PNetMaps { height: x.height, width: x.width, face, reg }
    }

    /// R-Net on `n` normalised CHW 24x24 crops, one after another.
    pub fn rnet(&self, crops: &[f32]) -> CropOutputs {
        let x = trunk(&self.rnet, crops_nhwc(crops, super::nets::RNET_SIZE));
        CropOutputs {
            prob: softmax_pairs(&self.rnet_prob.forward(&x, None).data),
            reg: self.rnet_reg.forward(&x, None).data,
            landmarks: Vec::new(),
        }
    }

    /// O-Net on `n` normalised CHW 48x48 crops, one after another.
    pub fn onet(&self, crops: &[f32]) -> CropOutputs {
        let x = trunk(&self.onet, crops_nhwc(crops, super::nets::ONET_SIZE));
        CropOutputs {
            prob: softmax_pairs(&self.onet_prob.forward(&x, None).data),
            reg: self.onet_reg.forward(&x, None).data,
            landmarks: self.onet_landmarks.forward(&x, None).data,
        }
    }
}

fn crops_nhwc(crops: &[f32], side: usize) -> Nhwc {
    Nhwc::from_planar(crops, crops.len() / (3 * side * side), 3, side, side)
}

fn trunk(steps: &[Step], input: Nhwc) -> Nhwc {
    steps.iter().fold(input, |x, step| match step {
        Step::Layer(layer) => layer.forward(&x, None),
        Step::Pool(kernel) => x.max_pool_ceil(*kernel, 2),
        Step::Flatten => x.flatten_whc(),
    })
}

/// Softmax of each (a, b) pair, as burn's softmax computes it (shifted by the maximum).
fn softmax_pairs(logits: &[f32]) -> Vec<f32> {
    logits
        .chunks(2)
        .flat_map(|pair| {
            let top = pair[0].max(pair[1]);
            let (a, b) = ((pair[0] - top).exp(), (pair[1] - top).exp());
            [a / (a + b), b / (a + b)]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::model::cpu_layers::values;

    fn random_input(n: usize, height: usize, width: usize, device: &Device) -> (Vec<f32>, Tensor<4>) {
        let t = Tensor::<4>::random([n, 3, height, width], Distribution::Normal(0.0, 1.0), device);
        (values(t.clone(), "input").unwrap(), t)
    }

    fn max_difference(a: &[f32], b: Tensor<2>) -> f32 {
        let b = values(b, "reference").unwrap();
        assert_eq!(a.len(), b.len());
        a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    /// Random weights against the burn modules; the real weights against facenet-pytorch are
    /// in `tests/mtcnn.rs`.
    #[test]
    fn nets_match_burn() {
        let device = Device::flex();
        let (pnet, rnet, onet) = (PNet::new(&device), RNet::new(&device), ONet::new(&device));
        let nets = CpuMtcnnNets::new(&pnet, &rnet, &onet).unwrap();

        // Odd sides make the ceil-mode pool keep a partial last window.
        let (level, x) = random_input(1, 23, 31, &device);
        let ours = nets.pnet(&level, 23, 31);
        let reference = pnet.forward(x);
        assert_eq!([1, 2, ours.height, ours.width], reference.prob.dims());
        let face: Tensor<2> = reference.prob.narrow(1, 1, 1).reshape([1, ours.height * ours.width]);
        assert!(max_difference(&ours.face, face) < 1e-5);
        assert!(max_difference(&ours.reg, reference.reg.reshape([1, 4 * ours.height * ours.width])) < 1e-4);

        let (crops, x) = random_input(3, 24, 24, &device);
        let (ours, reference) = (nets.rnet(&crops), rnet.forward(x));
        assert!(max_difference(&ours.prob, reference.prob) < 1e-5);
        assert!(max_difference(&ours.reg, reference.reg) < 1e-4);
        assert!(ours.landmarks.is_empty());

        let (crops, x) = random_input(2, 48, 48, &device);
        let (ours, reference) = (nets.onet(&crops), onet.forward(x));
        assert!(max_difference(&ours.prob, reference.prob) < 1e-5);
        assert!(max_difference(&ours.reg, reference.reg) < 1e-4);
        assert!(max_difference(&ours.landmarks, reference.landmarks) < 1e-4);
    }

    #[test]
    fn ceil_mode_pool_keeps_the_partial_window() {
        // One 3x3 channel 0..8; a 2x2 stride-2 pool in ceil mode gives 2x2 outputs, the last
        // row and column from the partial windows.
        let x = Nhwc { batch: 1, height: 3, width: 3, channels: 1, data: (0..9).map(|v| v as f32).collect() };
        let pooled = x.max_pool_ceil(2, 2);
        assert_eq!((pooled.height, pooled.width), (2, 2));
        assert_eq!(pooled.data, vec![4.0, 5.0, 7.0, 8.0]);
    }

    #[test]
    fn flatten_puts_the_channel_fastest_then_y_then_x() {
        // 2x2 pixels, 2 channels; value = 100 y + 10 x + c
        let data = [[0, 0], [0, 1], [1, 0], [1, 1]]
            .iter()
            .flat_map(|&[y, x]| [0, 1].map(|c| (100 * y + 10 * x + c) as f32))
            .collect();
        let x = Nhwc { batch: 1, height: 2, width: 2, channels: 2, data };
        let flat = x.flatten_whc();
        assert_eq!(flat.channels, 8);
        assert_eq!(flat.data, vec![0.0, 1.0, 100.0, 101.0, 10.0, 11.0, 110.0, 111.0]);
    }

    #[test]
    fn softmax_of_pairs_sums_to_one_and_survives_large_logits() {
        let p = softmax_pairs(&[0.0, 0.0, 1000.0, 0.0, 0.0, 2.0_f32.ln()]);
        assert_eq!(&p[..4], &[0.5, 0.5, 1.0, 0.0]);
        assert!((p[4] - 1.0 / 3.0).abs() < 1e-6 && (p[5] - 2.0 / 3.0).abs() < 1e-6);
    }
}
