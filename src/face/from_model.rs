//! Any face model the app and the evaluation compare, behind one interface: FROM on
//! MobileFaceNet (the bundled default), the official LResNet FROM (converted or `.pth.tar`), or a
//! plain embedder without FROM heads. All take aligned faces in and give, per face, the masked
//! and unmasked embeddings, the feature mask and the pattern probabilities.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use image::RgbImage;

use crate::align::FaceTemplate;
use crate::assets;
use crate::checkpoint::record::{self, FROM_LRESNET, FROM_MOBILEFACENET};
use crate::checkpoint::{CheckpointError, load_from_net};
use crate::cpu::{self, CpuNetError, EmbedderProgram, FromProgram};
use crate::face::Embedder;
use crate::face::embedding_cache::EmbeddingPair;
use crate::face::tensor::faces_to_tensor;
use crate::model::config::MaskDecoderKind;
use crate::model::from_mobilefacenet::{FromMobileFaceNet, FromMobileFaceNetConfig};
use crate::model::mobilefacenet::{MobileFaceNet, normalize_mobilefacenet};
use crate::model::{FromNet, FromNetConfig, FromOutput, normalize_pixels};
use crate::patterns::PatternSet;

/// Faces per forward pass.
pub const MODEL_BATCH: usize = 32;
/// Architecture tag of a plain MobileFaceNet record.
const PLAIN_MOBILEFACENET: &str = "mobilefacenet";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("face {index} is {width}x{height}, the model needs {needed_w}x{needed_h}")]
    WrongSize { index: usize, width: u32, height: u32, needed_w: usize, needed_h: usize },
    #[error("reading results from the device failed: {0}")]
    Readback(String),
    #[error("the CPU inference path cannot run this network: {0}")]
    CpuPath(#[from] CpuNetError),
}

/// The networks behind a [`FaceModel`].
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one network per model, held for its lifetime: a box would only add an indirection"
)]
pub enum Network {
    FromMobileFaceNet {
        net: FromMobileFaceNet,
        config: FromMobileFaceNetConfig,
    },
    FromLResNet {
        net: FromNet,
        config: FromNetConfig,
    },
    /// An embedder with no FROM heads: masked and unmasked embeddings are the same.
    Plain {
        net: MobileFaceNet,
    },
}

/// The decoded feature mask of one face (1 keeps a feature, 0 removes it).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMask {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// `[channels, height, width]`, row-major.
    pub values: Vec<f32>,
}

impl FeatureMask {
    /// The mask averaged over channels, `[height, width]`.
    pub fn channel_mean(&self) -> Vec<f32> {
        let plane = self.height * self.width;
        let mut mean = vec![0f32; plane];
        for channel in self.values.chunks(plane) {
            mean.iter_mut().zip(channel).for_each(|(m, v)| *m += v);
        }
        mean.iter_mut().for_each(|m| *m /= self.channels.max(1) as f32);
        mean
    }

    /// One channel, `[height, width]` (`None` past the last one).
    pub fn channel(&self, index: usize) -> Option<&[f32]> {
        let plane = self.height * self.width;
        self.values.get(index * plane..(index + 1) * plane)
    }
}

/// What a model says about one aligned face.
#[derive(Debug, Clone)]
pub struct FaceOutputs {
    /// FROM's embedding (features times mask), not normalised.
    pub masked: Vec<f32>,
    /// The same network without the mask (the "baseline").
    pub unmasked: Vec<f32>,
    /// `None` for a plain embedder.
    pub mask: Option<FeatureMask>,
    /// Softmax over the proximate occlusion patterns (empty for a plain embedder).
    pub pattern_probabilities: Vec<f32>,
}

pub struct FaceModel {
    pub network: Network,
    pub device: Device,
    /// Where it was loaded from (for reports).
    pub source: PathBuf,
    patterns: Option<PatternSet>,
    /// The CPU inference path, when `device` is the CPU and the network has one.
    cpu: Option<CpuPath>,
}

/// The CPU inference paths (see `crate::cpu`); cloning shares the lowered weights.
#[derive(Debug, Clone)]
enum CpuPath {
    From(FromProgram),
    Plain(EmbedderProgram),
}

/// One batch's results, read back from the device.
struct Batch {
    masked: Vec<Vec<f32>>,
    unmasked: Vec<Vec<f32>>,
    /// Masks (`[channels, height, width]` each) and pattern logits, for networks with heads.
    heads: Option<(Vec<FeatureMask>, Vec<Vec<f32>>)>,
}

/// The record of the bundled default FROM model.
pub fn bundled_model_path() -> PathBuf {
    assets::from_model_record()
}

impl FaceModel {
    /// Loads a maskscope record (FROM-MobileFaceNet, FROM-LResNet or a plain MobileFaceNet), or
    /// an official FROM checkpoint (`.pth.tar`, `.pth`, `.safetensors`).
    pub fn load(path: &Path, device: &Device) -> Result<Self, ModelError> {
        let is_record = path.extension().is_some_and(|e| e == "bpk" || e == "burnpack" || e == "mpk");
        let architecture = if is_record { record::architecture(path)? } else { None };
        let network = match architecture.as_deref() {
            Some(FROM_MOBILEFACENET) => {
                let (net, config) = record::load_from_mobilefacenet(path, device)?;
                Network::FromMobileFaceNet { net, config }
            }
            Some(PLAIN_MOBILEFACENET) => Network::Plain { net: Embedder::load(path, device)?.net },
            Some(FROM_LRESNET) | None => {
                let loaded = load_from_net(path, device)?;
                Network::FromLResNet { net: loaded.net, config: loaded.config }
            }
            Some(other) => {
                return Err(CheckpointError::Record {
                    path: path.to_path_buf(),
                    message: format!("a '{other}' record is not a face model"),
                }
                .into());
            }
        };
        Self::new(network, device, path)
    }

    /// The bundled default FROM model.
    pub fn bundled(device: &Device) -> Result<Self, ModelError> {
        Self::load(&bundled_model_path(), device)
    }

    /// The model around `network`; on the CPU it runs the CPU path, which every network
    /// maskscope builds has (a failure to build it is an error, not a silent slow path).
    pub fn new(network: Network, device: &Device, source: &Path) -> Result<Self, ModelError> {
        let patterns = match &network {
            Network::FromMobileFaceNet { config, .. } => {
                let [h, w] = config.input_size();
                PatternSet::new(h, w, config.grid).ok()
            }
            Network::FromLResNet { config, .. } => {
                PatternSet::new(config.input_size[0], config.input_size[1], config.grid).ok()
            }
            Network::Plain { .. } => None,
        };
        let cpu = match &network {
            _ if !cpu::suits(device) => None,
            Network::FromMobileFaceNet { net, config } => {
                Some(CpuPath::From(FromProgram::new(net, config.input_size())?))
            }
            Network::FromLResNet { net, config } => Some(CpuPath::From(FromProgram::new(net, config.input_size)?)),
            Network::Plain { net } => Some(CpuPath::Plain(EmbedderProgram::new(net)?)),
        };
        Ok(Self { network, device: device.clone(), source: source.to_path_buf(), patterns, cpu })
    }

    /// A second handle on the same weights, for another thread: burn modules share their
    /// tensors when cloned, and the CPU path its lowered weights.
    pub fn share(&self) -> Self {
        let network = match &self.network {
            Network::FromMobileFaceNet { net, config } => {
                Network::FromMobileFaceNet { net: net.clone(), config: config.clone() }
            }
            Network::FromLResNet { net, config } => Network::FromLResNet { net: net.clone(), config: config.clone() },
            Network::Plain { net } => Network::Plain { net: net.clone() },
        };
        let patterns = self.patterns.clone();
        Self { network, device: self.device.clone(), source: self.source.clone(), patterns, cpu: self.cpu.clone() }
    }

    /// A short name for reports: the file name.
    pub fn name(&self) -> String {
        self.source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into())
    }

    /// `[height, width]` of the aligned faces it reads.
    pub fn input_size(&self) -> [usize; 2] {
        match &self.network {
            Network::FromMobileFaceNet { config, .. } => config.input_size(),
            Network::FromLResNet { config, .. } => config.input_size,
            Network::Plain { .. } => [112, 112],
        }
    }

    /// The alignment template of its input.
    pub fn template(&self) -> FaceTemplate {
        let [h, w] = self.input_size();
        FaceTemplate::for_size(h, w).unwrap_or(FaceTemplate::Arc112x112)
    }

    /// The proximate occlusion patterns its predictor classifies into (`None` without heads).
    pub fn patterns(&self) -> Option<&PatternSet> {
        self.patterns.as_ref()
    }

    pub fn has_mask(&self) -> bool {
        !matches!(self.network, Network::Plain { .. })
    }

    /// Which mask its decoder makes (`None` without heads): only `Channel` and `Spatial` masks
    /// lie over the face; an `Embedding` mask weighs the embedding's dimensions.
    pub fn mask_kind(&self) -> Option<MaskDecoderKind> {
        match &self.network {
            Network::FromMobileFaceNet { .. } => Some(MaskDecoderKind::Channel),
            Network::FromLResNet { config, .. } => Some(config.decoder),
            Network::Plain { .. } => None,
        }
    }

    /// Whether its mask lies over the face (a heatmap of it means something).
    pub fn has_spatial_mask(&self) -> bool {
        self.mask_kind().is_some_and(|k| k != MaskDecoderKind::Embedding)
    }

    fn check_sizes(&self, faces: &[&RgbImage], offset: usize) -> Result<(), ModelError> {
        let [h, w] = self.input_size();
        for (i, face) in faces.iter().enumerate() {
            if face.dimensions() != (w as u32, h as u32) {
                let (width, height) = face.dimensions();
                return Err(ModelError::WrongSize { index: offset + i, width, height, needed_w: w, needed_h: h });
            }
        }
        Ok(())
    }

    fn input(&self, faces: &[&RgbImage]) -> Tensor<4> {
        faces_to_tensor(faces, &self.device)
    }

    /// The network on one batch of faces of the right size; masks and pattern logits are read
    /// back from a device only when `heads` asks for them.
    fn run(&self, faces: &[&RgbImage], heads: bool) -> Result<Batch, ModelError> {
        match &self.cpu {
            Some(CpuPath::From(cpu)) => {
                let out = cpu.forward(faces, heads);
                if !heads {
                    return Ok(Batch { masked: out.masked, unmasked: out.unmasked, heads: None });
                }
                let (channels, height, width) = cpu.mask_shape();
                let masks =
                    out.masks.into_iter().map(|values| FeatureMask { channels, height, width, values }).collect();
                return Ok(Batch {
                    masked: out.masked,
                    unmasked: out.unmasked,
                    heads: Some((masks, out.pattern_logits)),
                });
            }
            Some(CpuPath::Plain(cpu)) => {
                let embeddings = cpu.embeddings(faces);
                return Ok(Batch { masked: embeddings.clone(), unmasked: embeddings, heads: None });
            }
            None => {}
        }
        let raw = self.input(faces);
        let output = match &self.network {
            Network::FromMobileFaceNet { net, .. } => net.forward(normalize_mobilefacenet(raw)),
            Network::FromLResNet { net, .. } => net.forward(normalize_pixels(raw)),
            Network::Plain { net } => {
                let embedding = rows(net.embed_features(net.taps(normalize_mobilefacenet(raw)).features))?;
                return Ok(Batch { masked: embedding.clone(), unmasked: embedding, heads: None });
            }
        };
        let FromOutput { masked_embedding, mask, pattern_logits, unmasked_embedding } = output;
        let (masked, unmasked) = (rows(masked_embedding)?, rows(unmasked_embedding)?);
        if !heads {
            return Ok(Batch { masked, unmasked, heads: None });
        }
        let [_, channels, height, width] = mask.dims();
        let masks = read(mask)?
            .chunks(channels * height * width)
            .map(|values| FeatureMask { channels, height, width, values: values.to_vec() })
            .collect();
        Ok(Batch { masked, unmasked, heads: Some((masks, rows(pattern_logits)?)) })
    }

    /// Masked and unmasked embeddings of aligned faces (no mask read back from a GPU).
    pub fn embed(&self, faces: &[&RgbImage]) -> Result<Vec<EmbeddingPair>, ModelError> {
        let mut out = Vec::with_capacity(faces.len());
        for (c, chunk) in faces.chunks(MODEL_BATCH).enumerate() {
            self.check_sizes(chunk, c * MODEL_BATCH)?;
            let batch = self.run(chunk, false)?;
            out.extend(batch.masked.into_iter().zip(batch.unmasked));
        }
        Ok(out)
    }

    /// Everything about each aligned face: embeddings, mask and pattern probabilities.
    pub fn analyze(&self, faces: &[&RgbImage]) -> Result<Vec<FaceOutputs>, ModelError> {
        let mut out = Vec::with_capacity(faces.len());
        for (c, chunk) in faces.chunks(MODEL_BATCH).enumerate() {
            self.check_sizes(chunk, c * MODEL_BATCH)?;
            let Batch { masked, unmasked, heads } = self.run(chunk, true)?;
            let (masks, probabilities) = match heads {
                Some((masks, logits)) => {
                    (masks.into_iter().map(Some).collect(), logits.iter().map(|l| softmax(l)).collect())
                }
                None => (vec![None; chunk.len()], vec![Vec::new(); chunk.len()]),
            };
            for (((masked, unmasked), mask), pattern_probabilities) in
                masked.into_iter().zip(unmasked).zip(masks).zip(probabilities)
            {
                out.push(FaceOutputs { masked, unmasked, mask, pattern_probabilities });
            }
        }
        Ok(out)
    }

    /// The same model on another device (e.g. the GUI's GPU).
    pub fn to_device(self, device: &Device) -> Result<Self, ModelError> {
        let network = match self.network {
            Network::FromMobileFaceNet { net, config } => {
                Network::FromMobileFaceNet { net: net.to_device(device), config }
            }
            Network::FromLResNet { net, config } => Network::FromLResNet { net: net.to_device(device), config },
            Network::Plain { net } => Network::Plain { net: net.to_device(device) },
        };
        Self::new(network, device, &self.source)
    }
}

fn read<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, ModelError> {
    tensor.into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| ModelError::Readback(format!("{e:?}")))
}

/// Softmax of one row of logits.
fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

fn rows(tensor: Tensor<2>) -> Result<Vec<Vec<f32>>, ModelError> {
    let dim = tensor.dims()[1];
    Ok(read(tensor)?.chunks(dim.max(1)).map(<[f32]>::to_vec).collect())
}
