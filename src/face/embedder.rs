//! The bundled face embedder: MobileFaceNet from a maskscope record.

use std::path::Path;

use burn::tensor::Device;
use image::RgbImage;

use crate::align::FaceTemplate;
use crate::checkpoint::{CheckpointError, record};
use crate::cpu::{self, CpuNetError, EmbedderProgram};
use crate::face::tensor::faces_to_tensor;
use crate::model::mobilefacenet::{MobileFaceNet, MobileFaceNetConfig, normalize_mobilefacenet};

/// Architecture tag of the embedder's record.
const MOBILEFACENET: &str = "mobilefacenet";
/// Aligned faces per forward pass: large enough to keep the CPU busy, small enough for memory.
pub const EMBED_BATCH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum EmbedderError {
    #[error("face {index} is {width}x{height}, the embedder needs 112x112")]
    WrongSize { index: usize, width: u32, height: u32 },
    #[error("reading embeddings from the device failed: {0}")]
    Readback(String),
}

pub struct Embedder {
    pub net: MobileFaceNet,
    pub device: Device,
    /// The CPU inference path, when `device` is the CPU.
    cpu: Option<EmbedderProgram>,
}

/// The crop MobileFaceNet was trained on.
pub const EMBEDDER_TEMPLATE: FaceTemplate = FaceTemplate::Arc112x112;

/// Cosine similarity at or above which the bundled MobileFaceNet calls two faces the same person
/// (chosen on LFW View 1 pairsDevTrain; `eval-pairs` prints the best threshold for other data):
/// the default of `verify` and of the workbench.
pub const DEFAULT_THRESHOLD: f32 = 0.395;

impl Embedder {
    pub fn save(net: &MobileFaceNet, path: &Path) -> Result<(), CheckpointError> {
        record::save_module(net, path, MOBILEFACENET, &[])
    }

    pub fn load(path: &Path, device: &Device) -> Result<Self, CheckpointError> {
        record::read_metadata(path, MOBILEFACENET)?;
        let mut net = MobileFaceNetConfig::new().init(device);
        record::load_module(&mut net, path)?;
        Self::new(net, device).map_err(|e| CheckpointError::Record { path: path.to_path_buf(), message: e.to_string() })
    }

    /// An embedder around `net`; on the CPU it runs the CPU inference path built from its weights.
    pub fn new(net: MobileFaceNet, device: &Device) -> Result<Self, CpuNetError> {
        let cpu = if cpu::suits(device) { Some(EmbedderProgram::new(&net)?) } else { None };
        Ok(Self { net, device: device.clone(), cpu })
    }

    /// L2-normalised embeddings of 112x112 aligned faces, in batches.
    pub fn embed(&self, faces: &[&RgbImage]) -> Result<Vec<Vec<f32>>, EmbedderError> {
        if let Some((index, face)) = faces.iter().enumerate().find(|(_, f)| f.dimensions() != (112, 112)) {
            let (width, height) = face.dimensions();
            return Err(EmbedderError::WrongSize { index, width, height });
        }
        let mut out = Vec::with_capacity(faces.len());
        for chunk in faces.chunks(EMBED_BATCH) {
            if let Some(cpu) = &self.cpu {
                out.extend(cpu.embed(chunk));
                continue;
            }
            let embeddings = self.net.forward(normalize_mobilefacenet(faces_to_tensor(chunk, &self.device)));
            let dim = embeddings.dims()[1];
            let values =
                embeddings.into_data().try_to_vec::<f32>().map_err(|e| EmbedderError::Readback(format!("{e:?}")))?;
            out.extend(values.chunks(dim).map(<[f32]>::to_vec));
        }
        Ok(out)
    }
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na * nb) }
}
