//! MobileFaceNet inference written directly for the CPU, from the burn module's weights.
//!
//! burn-flex runs the network op by op: every bias, PReLU and residual add is its own pass over
//! a freshly allocated channels-first tensor, and its depthwise kernel strides across channels.
//! That measured ~35 ms a face on the 2-core reference machine at any batch size. Here the
//! activations are channels-last, every 1x1 and dense conv is one matrix multiply (`cpu_matmul`,
//! over weights packed once) over a block of pixels with bias, PReLU and the residual applied while the block is
//! still in cache, and depthwise convs are straight loops over contiguous channels.
//!
//! The embedder and the FROM model use this path whenever they run on the CPU; burn's forward
//! pass stays the definition (training, the GPU) and the reference the tests compare against.

use burn::tensor::Device;
use image::RgbImage;
use rayon::prelude::*;

use super::cpu_layers::{CpuNetError, Layer, Nhwc};
use super::mobilefacenet::{ConvAct, MobileFaceNet, l2_normalize_vec};

/// Faces one parallel task carries through the whole network. One face's activations stay in
/// the core's caches; a batch in one pass streams every layer through memory (measured 12 ms a
/// face at batch 1 against 18 ms at batch 64).
pub const FACES_PER_TASK: usize = 1;

#[derive(Debug, Clone)]
struct Bottleneck {
    expand: Layer,
    depthwise: Layer,
    project: Layer,
    residual: bool,
}

/// MobileFaceNet for CPU inference; see the module documentation.
#[derive(Debug, Clone)]
pub struct CpuMobileFaceNet {
    stem: Vec<Layer>,
    stages: Vec<Vec<Bottleneck>>,
    conv7: Layer,
    gdc: Layer,
    head_conv: Layer,
    linear: Layer,
}

/// The stage outputs FROM's pyramid reads and the final map, channels last (see
/// [`MobileFaceNetTaps`](super::mobilefacenet::MobileFaceNetTaps) for the shapes).
#[derive(Debug, Clone)]
pub struct CpuTaps {
    pub c3: Nhwc,
    pub c4: Nhwc,
    pub c5: Nhwc,
    pub features: Nhwc,
}

impl CpuMobileFaceNet {
    /// Whether models on `device` should run this path: on burn's CPU backend (flex).
    pub fn suits(device: &Device) -> bool {
        *device == Device::flex()
    }

    pub fn new(net: &MobileFaceNet) -> Result<Self, CpuNetError> {
        let layer = |conv_act: &ConvAct, name: String| Layer::new(&conv_act.conv, conv_act.act.as_ref(), &name);
        let stem = net.stem.iter().enumerate().map(|(i, l)| layer(l, format!("stem.{i}"))).collect::<Result<_, _>>()?;
        let mut stages = Vec::with_capacity(net.stages.len());
        for (s, stage) in net.stages.iter().enumerate() {
            let mut blocks = Vec::with_capacity(stage.len());
            for (b, block) in stage.iter().enumerate() {
                blocks.push(Bottleneck {
                    expand: layer(&block.expand, format!("stages.{s}.{b}.expand"))?,
                    depthwise: layer(&block.depthwise, format!("stages.{s}.{b}.depthwise"))?,
                    project: layer(&block.project, format!("stages.{s}.{b}.project"))?,
                    residual: block.residual,
                });
            }
            stages.push(blocks);
        }
        Ok(Self {
            stem,
            stages,
            conv7: layer(&net.conv7, "conv7".into())?,
            gdc: layer(&net.gdc, "gdc".into())?,
            head_conv: layer(&net.head_conv, "head_conv".into())?,
            linear: layer(&net.linear, "linear".into())?,
        })
    }

    fn run_stage(&self, mut x: Nhwc, stage: usize) -> Nhwc {
        for block in &self.stages[stage] {
            let hidden = block.depthwise.forward(&block.expand.forward(&x, None), None);
            x = block.project.forward(&hidden, block.residual.then_some(&x));
        }
        x
    }

    /// The first pyramid tap, [`MobileFaceNet::c3`](super::mobilefacenet::MobileFaceNet::c3).
    pub fn c3(&self, input: &Nhwc) -> Nhwc {
        let x = self.stem.iter().fold(input.clone(), |x, layer| layer.forward(&x, None));
        self.run_stage(x, 0)
    }

    /// Backbone taps of normalised input (see [`Nhwc::from_faces`]).
    pub fn taps(&self, input: &Nhwc) -> CpuTaps {
        let mut x = self.c3(input);
        let mut outputs = vec![x.clone()];
        for stage in 1..self.stages.len() {
            x = self.run_stage(x, stage);
            outputs.push(x.clone());
        }
        let features = self.conv7.forward(&x, None);
        // The pyramid taps are the ends of stages 1 (28x28), 3 (14x14) and 5 (7x7).
        let mut outputs = outputs.into_iter();
        let c3 = outputs.next().expect("stage 1");
        let c4 = outputs.nth(1).expect("stage 3");
        let c5 = outputs.nth(1).expect("stage 5");
        CpuTaps { c3, c4, c5, features }
    }

    /// Embeddings (before L2 normalisation) of final feature maps, one per image.
    pub fn embed_features(&self, features: &Nhwc) -> Vec<Vec<f32>> {
        let x = self.linear.forward(&self.head_conv.forward(&self.gdc.forward(features, None), None), None);
        x.data.chunks(x.channels).map(<[f32]>::to_vec).collect()
    }

    /// Embeddings (before L2 normalisation) of aligned 112x112 faces, [`FACES_PER_TASK`] at a
    /// time in parallel.
    pub fn embeddings(&self, faces: &[&RgbImage]) -> Vec<Vec<f32>> {
        faces
            .par_chunks(FACES_PER_TASK)
            .flat_map_iter(|chunk| self.embed_features(&self.taps(&Nhwc::from_faces(chunk)).features))
            .collect()
    }

    /// L2-normalised embeddings of aligned 112x112 faces.
    pub fn embed(&self, faces: &[&RgbImage]) -> Vec<Vec<f32>> {
        self.embeddings(faces).into_iter().map(l2_normalize_vec).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cpu_layers::tests::{max_difference, nhwc, random};
    use crate::model::cpu_layers::values;
    use crate::model::mobilefacenet::MobileFaceNetConfig;

    /// The whole network, random weights, batch 3: every tap and the embedding.
    #[test]
    fn network_matches_burn() {
        let device = Device::flex();
        let net = MobileFaceNetConfig::new().init(&device);
        let cpu = CpuMobileFaceNet::new(&net).unwrap();
        let input = random([3, 3, 112, 112], &device);
        let reference = net.taps(input.clone());
        let ours = cpu.taps(&nhwc(&input));
        for (name, ours, reference) in [
            ("c3", &ours.c3, reference.c3),
            ("c4", &ours.c4, reference.c4),
            ("c5", &ours.c5, reference.c5),
            ("features", &ours.features, reference.features.clone()),
        ] {
            let scale = values(reference.clone().abs().max(), name).unwrap()[0];
            let difference = max_difference(ours, reference);
            assert!(difference <= 1e-4 * scale.max(1.0), "{name}: {difference} (largest value {scale})");
        }
        let embedding = values(net.embed_features(reference.features), "embedding").unwrap();
        let ours = cpu.embed_features(&ours.features).concat();
        let difference = ours.iter().zip(&embedding).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(difference < 1e-3, "embedding: {difference}");
    }
}
