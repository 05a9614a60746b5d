//! The model side of the workbench, free of any UI: which face model to load (with the fallback
//! while the trained one does not exist), what the panels need to know about it, and one
//! analysis of an occluded face. The job threads and `bench gui` both use it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::align::FaceTemplate;
use crate::assets;
use crate::device::ComputeDevice;
use crate::face::from_model::{FaceModel, FaceOutputs, Network, bundled_model_path};
use crate::face::{Embedder, FaceFinder};
use crate::model::config::MaskDecoderKind;
use crate::model::from_mobilefacenet::FromMobileFaceNetConfig;
use crate::model::mask_decoder::MaskDecoderConfig;
use crate::model::mobilefacenet::MOBILEFACENET_FEATURES;
use crate::patterns::PatternSet;

/// Seed of the fresh FROM heads, so that every run (and every test) sees the same ones.
pub const UNTRAINED_HEADS_SEED: u64 = 0x6d61_736b;

/// Which model to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelChoice {
    /// `assets/from_mobilefacenet.bpk`, or the untrained fallback while it does not exist.
    Bundled,
    /// A FROM record, an official `.pth.tar`/`.safetensors`, or a plain MobileFaceNet record.
    File(PathBuf),
    /// The pretrained MobileFaceNet with freshly initialised FROM heads, as a training run starts:
    /// the mask decoder starts uniform, so FROM stays close to the baseline.
    UntrainedHeads,
    /// The pretrained MobileFaceNet with random (seeded) FROM heads, mask decoder included: the
    /// mask and the patterns react to every edit but mean nothing. Shows the workbench's
    /// plumbing without a trained model; the UI tests use it.
    RandomHeads,
}

/// What the panels need to know about the loaded model.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub name: String,
    pub source: PathBuf,
    pub choice: ModelChoice,
    /// `[height, width]` of the aligned face it reads.
    pub input_size: [usize; 2],
    pub template: FaceTemplate,
    /// The proximate occlusion patterns its predictor outputs (`None` without FROM heads).
    pub patterns: Option<PatternSet>,
    pub has_mask: bool,
    /// Which of the official mask decoders it has (`None` without heads).
    pub mask_kind: Option<MaskDecoderKind>,
    /// Shown in the UI, e.g. that the heads are untrained.
    pub notice: Option<String>,
    /// Where tensors run, e.g. "cpu (maskscope CPU path, burn flex)".
    pub device: String,
}

pub struct LoadedModel {
    pub model: FaceModel,
    pub info: ModelInfo,
}

/// The pretrained MobileFaceNet with fresh (seeded) FROM heads; with `random_mask` the mask
/// decoder (which training starts uniform) is replaced by a random one.
pub fn fresh_heads(device: &ComputeDevice, random_mask: bool) -> anyhow::Result<FaceModel> {
    let record = assets::mobilefacenet_record();
    let backbone = Embedder::load(&record, &device.device)?.net;
    device.device.seed(UNTRAINED_HEADS_SEED);
    let config = FromMobileFaceNetConfig::new();
    let mut net = config.init_with(backbone, &device.device);
    if random_mask {
        net.mask = MaskDecoderConfig::new(config.fpn_channels, MOBILEFACENET_FEATURES).init(&device.device);
    }
    Ok(FaceModel::new(Network::FromMobileFaceNet { net, config }, &device.device, &record)?)
}

/// Loads `choice`. Loading a file the user picked can panic deep inside a decoder on malformed
/// input; that is turned into an error so the app survives a wrong checkpoint.
pub fn load(choice: &ModelChoice, device: &ComputeDevice) -> anyhow::Result<LoadedModel> {
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load_inner(choice, device)));
    match attempt {
        Ok(result) => result,
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown reason");
            anyhow::bail!("loading the model failed: {why}")
        }
    }
}

fn load_inner(choice: &ModelChoice, device: &ComputeDevice) -> anyhow::Result<LoadedModel> {
    let untrained_notice = |why: &str| {
        format!(
            "{why}: running the pretrained MobileFaceNet with untrained FROM heads: a \
             uniform mask, meaningless patterns, and FROM close to the baseline (which is meaningful)."
        )
    };
    let (model, notice) = match choice {
        ModelChoice::Bundled => {
            let path = bundled_model_path();
            if path.is_file() {
                (FaceModel::load(&path, &device.device)?, None)
            } else {
                let why = format!("the trained FROM model ({}) is not there yet", display_name(&path));
                (fresh_heads(device, false)?, Some(untrained_notice(&why)))
            }
        }
        ModelChoice::File(path) => {
            anyhow::ensure!(path.is_file(), "{}: no such file", path.display());
            let model = FaceModel::load(path, &device.device)?;
            let notice = match model.mask_kind() {
                None => Some(
                    "a plain embedder without FROM heads: no mask and no patterns; FROM and baseline are the same"
                        .to_string(),
                ),
                Some(MaskDecoderKind::Embedding) => Some(
                    "LResNet_Occ_FC: its mask weighs the 512 embedding dimensions, not places on the face, so \
                     it is shown as a strip, not as a heatmap"
                        .to_string(),
                ),
                Some(_) => None,
            };
            (model, notice)
        }
        ModelChoice::UntrainedHeads => {
            (fresh_heads(device, false)?, Some(untrained_notice("untrained FROM heads chosen")))
        }
        ModelChoice::RandomHeads => {
            let notice =
                "random FROM heads: the mask, the patterns and the FROM similarity react to edits but mean nothing";
            (fresh_heads(device, true)?, Some(notice.to_string()))
        }
    };
    let info = ModelInfo {
        name: match choice {
            ModelChoice::UntrainedHeads => "MobileFaceNet + untrained FROM heads".into(),
            ModelChoice::RandomHeads => "MobileFaceNet + random FROM heads".into(),
            ModelChoice::Bundled if notice.is_some() => "MobileFaceNet + untrained FROM heads".into(),
            _ => model.name(),
        },
        source: model.source.clone(),
        choice: choice.clone(),
        input_size: model.input_size(),
        template: model.template(),
        patterns: model.patterns().cloned(),
        has_mask: model.has_mask(),
        mask_kind: model.mask_kind(),
        notice,
        device: device.info.short(),
    };
    Ok(LoadedModel { model, info })
}

fn display_name(path: &Path) -> String {
    path.file_name().map(|n| format!("assets/{}", n.to_string_lossy())).unwrap_or_else(|| path.display().to_string())
}

/// The MTCNN detector aligning to `template`.
pub fn face_finder(template: FaceTemplate, device: &ComputeDevice) -> anyhow::Result<FaceFinder> {
    Ok(FaceFinder::load(&assets::mtcnn_dir(), template, &device.device)?)
}

/// Everything the model says about one (occluded) aligned face, and how long it took.
pub fn analyze(model: &FaceModel, face: &RgbImage) -> anyhow::Result<(FaceOutputs, Duration)> {
    let start = Instant::now();
    let mut out = model.analyze(&[face])?;
    let outputs = out.pop().ok_or_else(|| anyhow::anyhow!("the model returned no output"))?;
    Ok((outputs, start.elapsed()))
}

/// A face's embeddings: the model's two paths and the clean-trained baseline network's.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// FROM: features times the mask.
    pub masked: Vec<f32>,
    /// The same network with its mask off.
    pub unmasked: Vec<f32>,
    /// The baseline network FROM is judged against (the bundled pretrained MobileFaceNet);
    /// `None` when it did not load or cannot read this crop (a 112x96 model's).
    pub baseline: Option<Vec<f32>>,
}

impl Embedding {
    pub fn from_outputs(outputs: &FaceOutputs, baseline: Option<Vec<f32>>) -> Self {
        Self { masked: outputs.masked.clone(), unmasked: outputs.unmasked.clone(), baseline }
    }
}

/// The baseline network of the similarity panel: the bundled pretrained MobileFaceNet.
pub fn load_baseline(device: &ComputeDevice) -> anyhow::Result<Embedder> {
    let record = assets::mobilefacenet_record();
    Embedder::load(&record, &device.device)
        .with_context(|| format!("loading the baseline network {}", record.display()))
}

/// The baseline network's embedding of an aligned face, when there is a baseline and the face is
/// the crop it reads.
pub fn baseline_embedding(baseline: Option<&Embedder>, face: &RgbImage) -> anyhow::Result<Option<Vec<f32>>> {
    let Some(baseline) = baseline.filter(|_| face.dimensions() == (112, 112)) else { return Ok(None) };
    Ok(baseline.embed(&[face])?.pop())
}

pub fn embed(model: &FaceModel, baseline: Option<&Embedder>, face: &RgbImage) -> anyhow::Result<Embedding> {
    let mut out = model.embed(&[face])?;
    let (masked, unmasked) = out.pop().ok_or_else(|| anyhow::anyhow!("the model returned no embedding"))?;
    Ok(Embedding { masked, unmasked, baseline: baseline_embedding(baseline, face)? })
}
