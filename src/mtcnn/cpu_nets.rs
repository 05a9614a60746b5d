//! The three MTCNN networks on the CPU inference path (`crate::cpu`), traced from the burn
//! modules.
//!
//! burn-flex ran P-Net over the pyramid op by op, channels first, each conv, PReLU and pool a
//! pass over a fresh tensor; that made detection on a 250x250 LFW photo cost ~70 ms. On the CPU
//! path every conv is one matrix multiply over a block of channels-last pixels with the PReLU
//! (and the softmax) applied in the same pass. The burn modules stay the definition and what
//! the GPU runs.

use super::nets::{ONET_SIZE, ONet, ONetOutput, PNet, PNetOutput, RNET_SIZE, RNet, RNetOutput};
use crate::cpu::{CpuNetError, Nhwc, Program, Tracer, Value};

/// Side of the input P-Net is traced on: its smallest (one output cell). It runs on any larger
/// one, being fully convolutional.
const PNET_TRACE_SIZE: usize = 12;

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
    pnet: (Program, PNetOutput<Value>),
    rnet: (Program, RNetOutput<Value>),
    onet: (Program, ONetOutput<Value>),
}

impl CpuMtcnnNets {
    pub fn new(pnet: &PNet, rnet: &RNet, onet: &ONet) -> Result<Self, CpuNetError> {
        let mut t = Tracer::new();
        let input = t.input(PNET_TRACE_SIZE, PNET_TRACE_SIZE);
        let p = pnet.forward_with(&mut t, input);
        let pnet = (Program::new(t, &[p.prob, p.reg])?, p);
        let mut t = Tracer::new();
        let input = t.input(RNET_SIZE, RNET_SIZE);
        let r = rnet.forward_with(&mut t, input);
        let rnet = (Program::new(t, &[r.prob, r.reg])?, r);
        let mut t = Tracer::new();
        let input = t.input(ONET_SIZE, ONET_SIZE);
        let o = onet.forward_with(&mut t, input);
        let onet = (Program::new(t, &[o.prob, o.reg, o.landmarks])?, o);
        Ok(Self { pnet, rnet, onet })
    }

    /// P-Net on one normalised CHW pyramid level of `height` x `width` (both >= 12).
    pub fn pnet(&self, level: &[f32], height: usize, width: usize) -> PNetMaps {
        let (program, out) = &self.pnet;
        let maps = program.run(&Nhwc::from_planar(level, 1, 3, height, width), &[out.prob, out.reg]);
        let face = maps[0].data.chunks(2).map(|p| p[1]).collect();
        PNetMaps { height: maps[0].height, width: maps[0].width, face, reg: maps[1].channels_first().concat() }
    }

    /// R-Net on `n` normalised CHW 24x24 crops, one after another.
    pub fn rnet(&self, crops: &[f32]) -> CropOutputs {
        let (program, out) = &self.rnet;
        let mut maps = program.run(&crops_nhwc(crops, RNET_SIZE), &[out.prob, out.reg]).into_iter();
        let mut next = || maps.next().map(|m| m.data).unwrap_or_default();
        CropOutputs { prob: next(), reg: next(), landmarks: Vec::new() }
    }

    /// O-Net on `n` normalised CHW 48x48 crops, one after another.
    pub fn onet(&self, crops: &[f32]) -> CropOutputs {
        let (program, out) = &self.onet;
        let mut maps = program.run(&crops_nhwc(crops, ONET_SIZE), &[out.prob, out.reg, out.landmarks]).into_iter();
        let mut next = || maps.next().map(|m| m.data).unwrap_or_default();
        CropOutputs { prob: next(), reg: next(), landmarks: next() }
    }
}

fn crops_nhwc(crops: &[f32], side: usize) -> Nhwc {
    Nhwc::from_planar(crops, crops.len() / (3 * side * side), 3, side, side)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::cpu::channel_ops::{ChannelOp, values};

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
    fn softmax_sums_to_one_and_survives_large_logits() {
        let mut p = [[0.0, 0.0], [1000.0, 0.0], [0.0, 2.0_f32.ln()]];
        p.iter_mut().for_each(|pixel| ChannelOp::Softmax.apply(pixel));
        assert_eq!(&p[..2], &[[0.5, 0.5], [1.0, 0.0]]);
        assert!((p[2][0] - 1.0 / 3.0).abs() < 1e-6 && (p[2][1] - 2.0 / 3.0).abs() < 1e-6);
    }
}
