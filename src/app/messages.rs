//! The messages between the UI thread and the workers: the tasks the UI submits, the events the
//! workers post back, and what a file dialog was for. Below the workers, the dialogs and the state
//! in the module graph, so that each of them can name the others' messages.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use image::RgbImage;

use super::engine::{Embedding, ModelChoice, ModelInfo};
use super::ids::{FaceId, InferKey};
use super::sensitivity::{SensitivityMap, SensitivitySpec};
use crate::eval::conditions::Condition;
use crate::eval::results::{ConditionResult, SweepResults};
use crate::face::from_model::FaceOutputs;
use crate::mtcnn::Detection;
use crate::occlusion::OccluderLibrary;
use crate::patterns::BinaryMask;

/// Wakes the UI (egui's `request_repaint`; a no-op in the benchmark).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// Ordered work for the live thread.
#[derive(Debug)]
pub enum Task {
    LoadModel(ModelChoice),
    Detect { face: FaceId, path: PathBuf },
    Embed { face: FaceId, align_revision: u64, image: RgbImage },
}

/// One live inference: the occluded face and its painted mask.
#[derive(Debug, Clone)]
pub struct InferRequest {
    pub key: InferKey,
    pub image: RgbImage,
    pub painted: BinaryMask,
}

#[derive(Debug, Clone)]
pub enum BatchJob {
    Sensitivity { face: RgbImage, reference: Embedding, spec: SensitivitySpec },
    Sweep { pairs: PathBuf, images: PathBuf, limit: usize, cache: PathBuf },
}

pub enum Event {
    ModelLoaded {
        generation: u64,
        info: ModelInfo,
    },
    ModelFailed {
        choice: ModelChoice,
        error: String,
    },
    Library(Result<Arc<OccluderLibrary>, String>),
    Detected {
        face: FaceId,
        photo: Arc<RgbImage>,
        detections: Vec<Detection>,
        /// The warning for a photo whose data is damaged (decoded with parts filled in).
        damage: Option<String>,
    },
    DetectFailed {
        face: FaceId,
        error: String,
    },
    Embedded {
        face: FaceId,
        align_revision: u64,
        generation: u64,
        embedding: Embedding,
    },
    EmbedFailed {
        face: FaceId,
        error: String,
    },
    Inferred {
        request: InferRequest,
        outputs: FaceOutputs,
        /// The baseline network's embedding of the same face.
        baseline: Option<Vec<f32>>,
        elapsed: Duration,
    },
    InferFailed {
        key: InferKey,
        error: String,
    },
    Progress(Progress),
    /// `None`: cancelled.
    Sensitivity(Option<SensitivityMap>),
    SweepCondition(ConditionResult),
    SweepDone {
        results: Box<SweepResults>,
        thumbnails: Vec<(Condition, RgbImage)>,
    },
    BatchFailed(String),
    Dialog(DialogResult),
    /// The system had no dialog to show (`reason`), or maskscope's own browser was asked for
    /// (`None`): open that browser instead.
    DialogUnavailable {
        kind: DialogKind,
        start_dir: Option<PathBuf>,
        reason: Option<String>,
    },
    Notice(String),
    /// A pasted image written to a file (or why it could not be).
    PastedImageSaved(Result<PathBuf, String>),
    /// A save or export written by the writer thread (or why it could not be).
    Saved(Result<PathBuf, String>),
}

/// Progress of a long job.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub stage: String,
    pub done: usize,
    pub total: usize,
}

impl Progress {
    pub fn fraction(&self) -> f32 {
        if self.total == 0 { 0.0 } else { (self.done as f32 / self.total as f32).clamp(0.0, 1.0) }
    }
}

/// What a dialog is for; decides its filters and what happens with the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogKind {
    OpenFaces,
    OpenReferences,
    OpenModel,
    OpenSession,
    SaveSession,
    ExportOccluded,
    ExportOverlay,
    ExportSensitivity,
    PickPairs,
    PickImages,
    LoadThreshold,
    /// The sweep results in one format: "png", "svg", "csv" or "json".
    ExportSweep(&'static str),
}

#[derive(Debug, Clone)]
pub struct DialogResult {
    pub kind: DialogKind,
    /// Empty when the user cancelled.
    pub paths: Vec<PathBuf>,
}
