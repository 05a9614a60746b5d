//! The fast CPU inference path, derived from the burn modules.
//!
//! burn-flex runs a network op by op: every bias, PReLU and residual add is its own pass over a
//! freshly allocated channels-first tensor, and its depthwise kernel strides across channels.
//! Here each network's own `forward_with` is recorded once ([`trace`]), lowered into fused steps
//! over channels-last maps ([`program`]) and run on kernels made for them ([`layers`],
//! [`matmul`], [`winograd`]). The networks are not written again: their topology and layer names come from
//! the burn modules, which stay the definition (training, the GPU) and the reference the tests
//! compare against.
//!
//! [`FromProgram`] and [`EmbedderProgram`] are what the face models hold: a [`Program`] behind an
//! `Arc`, shared by every worker that runs the same weights.

pub mod channel_ops;
pub mod layers;
pub mod maps;
pub mod matmul;
pub mod program;
#[cfg(test)]
mod tests;
pub mod trace;
pub mod winograd;

use std::sync::Arc;

use burn::tensor::Device;
use image::RgbImage;

pub use maps::Nhwc;
pub use program::Program;
pub use trace::{Tracer, Value};

use crate::model::from_net::{FromForward, FromParts};
use crate::model::mobilefacenet::{MOBILEFACENET_INPUT, MOBILEFACENET_NORM, MobileFaceNet, l2_normalize_vec};
use crate::model::ops::InputNorm;

#[derive(Debug, thiserror::Error)]
pub enum CpuNetError {
    #[error("layer {layer}: {message}")]
    Unsupported { layer: String, message: String },
    #[error("reading the weights of layer {layer} failed: {message}")]
    Readback { layer: String, message: String },
}

/// Whether models on `device` should run this path: on burn's CPU backend (flex).
pub fn suits(device: &Device) -> bool {
    *device == Device::flex()
}

/// The traced input of `height` x `width` raw faces, normalised as `norm` says.
fn normalised_input(tracer: &mut Tracer, [height, width]: [usize; 2], norm: InputNorm) -> Value {
    let raw = tracer.input(height, width);
    tracer.scale(raw, 1.0 / norm.scale, -norm.mean / norm.scale)
}

/// What a FROM network gives for a batch of faces, one entry per face.
#[derive(Debug, Clone)]
pub struct CpuFromOutput {
    /// Embedding of the masked features (not normalised).
    pub masked: Vec<Vec<f32>>,
    /// Embedding of the features as they are (the baseline).
    pub unmasked: Vec<Vec<f32>>,
    /// The mask, channels first; empty unless the heads were asked for.
    pub masks: Vec<Vec<f32>>,
    /// Pattern predictor logits; empty unless the heads were asked for.
    pub pattern_logits: Vec<Vec<f32>>,
}

/// A FROM network (either backbone) on the CPU path.
#[derive(Debug, Clone)]
pub struct FromProgram {
    program: Arc<Program>,
    outputs: FromParts<Value>,
}

impl FromProgram {
    /// Traces `net` on `input_size` (`[height, width]`) faces.
    pub fn new<N: FromForward>(net: &N, input_size: [usize; 2]) -> Result<Self, CpuNetError> {
        let mut tracer = Tracer::new();
        let input = normalised_input(&mut tracer, input_size, N::NORM);
        let outputs = net.forward_with(&mut tracer, input);
        let wanted = [outputs.masked_embedding, outputs.mask, outputs.pattern_logits, outputs.unmasked_embedding];
        Ok(Self { program: Arc::new(Program::new(tracer, &wanted)?), outputs })
    }

    /// `(channels, height, width)` of the mask.
    pub fn mask_shape(&self) -> (usize, usize, usize) {
        self.program.shape(self.outputs.mask)
    }

    /// The network on aligned faces of its input size; the masks and pattern logits only when
    /// `heads` asks for them.
    pub fn forward(&self, faces: &[&RgbImage], heads: bool) -> CpuFromOutput {
        self.forward_maps(&Nhwc::from_faces(faces), heads)
    }

    /// [`Self::forward`] on raw pixel values (0-255) as maps.
    pub fn forward_maps(&self, input: &Nhwc, heads: bool) -> CpuFromOutput {
        let o = &self.outputs;
        let wanted: Vec<Value> = if heads {
            vec![o.masked_embedding, o.unmasked_embedding, o.mask, o.pattern_logits]
        } else {
            vec![o.masked_embedding, o.unmasked_embedding]
        };
        let mut maps = self.program.run(input, &wanted).into_iter();
        let mut next_rows = || maps.next().map(|m| rows(&m)).unwrap_or_default();
        let (masked, unmasked) = (next_rows(), next_rows());
        let masks = maps.next().map(|m| m.channels_first()).unwrap_or_default();
        let pattern_logits = maps.next().map(|m| rows(&m)).unwrap_or_default();
        CpuFromOutput { masked, unmasked, masks, pattern_logits }
    }
}

/// Each image's values of a map of 1x1 pixels.
fn rows(map: &Nhwc) -> Vec<Vec<f32>> {
    map.data.chunks(map.channels.max(1)).map(<[f32]>::to_vec).collect()
}

/// MobileFaceNet on the CPU path: embeddings, and the first pyramid tap training freezes.
#[derive(Debug, Clone)]
pub struct EmbedderProgram {
    program: Arc<Program>,
    embedding: Value,
    c3: Value,
}

impl EmbedderProgram {
    pub fn new(net: &MobileFaceNet) -> Result<Self, CpuNetError> {
        let mut tracer = Tracer::new();
        let input = normalised_input(&mut tracer, [MOBILEFACENET_INPUT; 2], MOBILEFACENET_NORM);
        let c3 = net.c3_with(&mut tracer, input);
        let taps = net.taps_from_c3_with(&mut tracer, c3);
        let embedding = net.embed_features_with(&mut tracer, taps.features);
        Ok(Self { program: Arc::new(Program::new(tracer, &[embedding, c3])?), embedding, c3 })
    }

    /// Embeddings (before L2 normalisation) of aligned 112x112 faces.
    pub fn embeddings(&self, faces: &[&RgbImage]) -> Vec<Vec<f32>> {
        let maps = self.program.run(&Nhwc::from_faces(faces), &[self.embedding]);
        rows(&maps[0])
    }

    /// L2-normalised embeddings of aligned 112x112 faces.
    pub fn embed(&self, faces: &[&RgbImage]) -> Vec<Vec<f32>> {
        self.embeddings(faces).into_iter().map(l2_normalize_vec).collect()
    }

    /// The first pyramid tap, [`MobileFaceNet::c3`], channels last.
    pub fn c3(&self, faces: &[&RgbImage]) -> Nhwc {
        self.program.run(&Nhwc::from_faces(faces), &[self.c3]).remove(0)
    }
}
