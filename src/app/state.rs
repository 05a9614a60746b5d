//! Everything the workbench knows, in one place. Panels read it and write settings; edits of a
//! face's document and anything with side effects (files, dialogs, the model) go through
//! `Command`s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use image::RgbImage;

use super::analysis::{Similarity, similarities};
use super::document::{Document, OccluderRef, Op, Stamp};
use super::engine::{Embedding, ModelInfo};
use super::ids::{FaceId, InferKey};
use super::messages::Progress;
use super::sensitivity::SensitivityMap;
use super::session::{SESSION_VERSION, Session, SessionFace};
use super::settings::Settings;
use super::toasts::Toasts;
use crate::align::{self, AlignedFace, FaceTemplate, Point};
use crate::eval::conditions::Condition;
use crate::eval::plots::RegionBar;
use crate::eval::results::SweepResults;
use crate::face::from_model::FaceOutputs;
use crate::heatmap::Plane;
use crate::mtcnn::Detection;
use crate::occlusion::OccluderLibrary;
use crate::patterns::PatternGuess;

#[derive(Debug, Clone, PartialEq)]
pub enum FaceStatus {
    /// Being read and searched for faces.
    Detecting,
    Ready,
    Failed(String),
}

/// One photo: where its face is, the aligned crop, and the occlusion painted on it.
#[derive(Debug)]
pub struct FaceEntry {
    pub id: FaceId,
    pub path: PathBuf,
    pub name: String,
    pub status: FaceStatus,
    pub photo: Option<Arc<RgbImage>>,
    pub detections: Vec<Detection>,
    /// Which detection the landmarks came from.
    pub chosen: Option<usize>,
    /// Eyes, nose, mouth corners in photo pixels.
    pub landmarks: Option<[Point; 5]>,
    /// The landmarks were placed or moved by hand.
    pub hand_placed: bool,
    /// The photo is taken as a crop aligned to this template: the landmarks are its points.
    pub given_template: Option<FaceTemplate>,
    pub aligned: Option<AlignedFace>,
    /// Bumped whenever the crop changes.
    pub align_revision: u64,
    pub doc: Document,
    pub is_reference: bool,
    /// The clean crop's embeddings, with the (crop revision, model generation) they belong to.
    pub embedding: Option<(u64, u64, Embedding)>,
    /// The (crop revision, model generation) whose embedding was last asked for.
    pub embedding_requested: Option<(u64, u64)>,
    /// Landmarks and operations from a session, applied once the photo is read.
    pub restore: Option<SessionFace>,
}

impl FaceEntry {
    pub fn new(id: FaceId, path: PathBuf) -> Self {
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        Self {
            id,
            path,
            name,
            status: FaceStatus::Detecting,
            photo: None,
            detections: Vec::new(),
            chosen: None,
            landmarks: None,
            hand_placed: false,
            given_template: None,
            aligned: None,
            align_revision: 0,
            doc: Document::default(),
            is_reference: false,
            embedding: None,
            embedding_requested: None,
            restore: None,
        }
    }

    /// Re-aligns the crop from the current landmarks; the painted operations stay in crop pixels.
    pub fn realign(&mut self, template: FaceTemplate) -> Result<(), String> {
        let (Some(photo), Some(landmarks)) = (&self.photo, &self.landmarks) else { return Ok(()) };
        let aligned =
            align::align(photo, landmarks, template).map_err(|e| format!("{}: cannot align: {e}", self.name))?;
        self.aligned = Some(aligned);
        self.align_revision += 1;
        Ok(())
    }

    /// Takes the photo as a crop aligned to the template of its size: that template's five
    /// points become the landmarks (what `--aligned` assumes on the command line).
    pub fn take_as_aligned(&mut self) -> Result<FaceTemplate, String> {
        let photo = self.photo.as_ref().ok_or_else(|| format!("{} is not loaded", self.name))?;
        let (w, h) = photo.dimensions();
        let template = FaceTemplate::for_size(h as usize, w as usize).ok_or_else(|| {
            format!("{} is {w}x{h}, not an aligned crop (96x112 or 112x112, w x h): its face is detected", self.name)
        })?;
        self.landmarks = Some(template.landmarks());
        self.given_template = Some(template);
        self.hand_placed = false;
        Ok(template)
    }

    /// The clean embedding, if it matches the current crop and model.
    pub fn current_embedding(&self, model_generation: u64) -> Option<&Embedding> {
        match &self.embedding {
            Some((rev, generation, e)) if *rev == self.align_revision && *generation == model_generation => Some(e),
            _ => None,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.status == FaceStatus::Ready && self.aligned.is_some()
    }
}

/// The newest model output for the face being edited.
#[derive(Debug, Clone)]
pub struct Inference {
    pub key: InferKey,
    pub outputs: FaceOutputs,
    /// The baseline network's embedding of the same face (see `engine::Embedding::baseline`).
    pub baseline: Option<Vec<f32>>,
    pub elapsed: Duration,
    /// The occluded face it ran on and the painted mask, for the true pattern and exports.
    pub painted: crate::patterns::BinaryMask,
    pub image: RgbImage,
    /// What the panels show of it, derived once when it arrives (not in every frame): the most
    /// probable patterns, the painted mask's own pattern, and the similarity to each reference
    /// (refreshed when a reference's embedding arrives).
    pub top: Vec<PatternGuess>,
    pub truth: Option<usize>,
    pub similarities: Vec<Similarity>,
}

/// The heatmap's plane for the current inference and style; `generation` tells the GPU path when
/// to upload.
#[derive(Debug, Clone)]
pub struct HeatmapView {
    pub plane: Arc<Plane>,
    pub range: (f32, f32),
    pub generation: u64,
}

/// One point of the similarity history (one per edit that produced a result).
#[derive(Debug, Clone)]
pub struct HistoryPoint {
    pub edit: u64,
    pub similarities: Vec<Similarity>,
}

#[derive(Debug, Default)]
pub struct SensitivityState {
    pub open: bool,
    pub running: Option<Progress>,
    pub result: Option<SensitivityMap>,
    /// Bumped with each new result (texture refresh).
    pub generation: u64,
}

#[derive(Debug, Default)]
pub struct SweepState {
    pub open: bool,
    pub running: Option<Progress>,
    /// Bars as the conditions finish (the clean condition goes to `clean`).
    pub bars: Vec<RegionBar>,
    /// Clean accuracies (baseline, FROM) in percent.
    pub clean: Option<(f64, f64)>,
    pub results: Option<SweepResults>,
    pub thumbnails: Vec<(Condition, RgbImage)>,
    pub message: Option<String>,
    /// Legend entries naming the two networks of the bars: (baseline, FROM).
    pub legend: (String, String),
}

/// What is running on the workers, for the status bar and the tests.
#[derive(Debug, Default, Clone)]
pub struct ModelState {
    pub info: Option<ModelInfo>,
    /// Bumped with each model loaded.
    pub generation: u64,
    pub loading: bool,
}

/// Gesture state of the canvas (transient, not saved).
#[derive(Debug, Clone, Default)]
pub struct CanvasState {
    /// Stroke points or the rectangle's first corner, crop pixels (kept by the panel).
    pub stroke: Vec<[f32; 2]>,
    /// A stamp being moved: its index and the grab offset from its centre.
    pub moving: Option<(usize, [f32; 2])>,
    /// The stamp being scaled or rotated (wheel or sliders), and when it last changed (one undo
    /// step per gesture).
    pub scrolling: Option<(usize, std::time::Instant)>,
    /// The placed stamp the size and rotation sliders edit: the one last placed, grabbed or
    /// scrolled over.
    pub selected: Option<StampSelection>,
}

/// A placed stamp, by face and position in its operations, valid while that face's document is
/// at `revision`: any other edit (undo, a preset, a brush stroke) ends the selection, since it may
/// move or remove the stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StampSelection {
    pub face: FaceId,
    pub index: usize,
    pub revision: u64,
}

impl CanvasState {
    /// A pause longer than this between two changes of a stamp starts a new undo step.
    pub const EDIT_GESTURE: std::time::Duration = std::time::Duration::from_millis(600);

    /// Notes a change of stamp `index` now; true when it begins a new gesture, which the caller
    /// makes its own undo step (a wheel turn or a slider drag is one step, not one per frame).
    pub(super) fn begin_stamp_edit(&mut self, index: usize) -> bool {
        let now = std::time::Instant::now();
        let fresh = self.scrolling.is_none_or(|(j, t)| j != index || now - t > Self::EDIT_GESTURE);
        self.scrolling = Some((index, now));
        fresh
    }

    /// The selected stamp of `doc` (the document of `face`) and its index, if the selection
    /// still holds.
    pub fn selected_stamp_in<'d>(&self, face: FaceId, doc: &'d Document) -> Option<(usize, &'d Stamp)> {
        let s = self.selected.filter(|s| s.face == face && s.revision == doc.revision())?;
        match doc.ops().get(s.index) {
            Some(Op::Stamp(stamp)) => Some((s.index, stamp)),
            _ => None,
        }
    }
}

pub struct AppState {
    pub settings: Settings,
    pub canvas: CanvasState,
    pub faces: Vec<FaceEntry>,
    next_id: u64,
    /// The face being painted.
    pub probe: Option<FaceId>,
    pub model: ModelState,
    pub library: Option<Arc<OccluderLibrary>>,
    pub inference: Option<Inference>,
    pub last_requested: Option<InferKey>,
    pub heatmap: Option<HeatmapView>,
    /// Pattern highlighted by a click in the list (`None`: the top prediction).
    pub shown_pattern: Option<usize>,
    pub history: Vec<HistoryPoint>,
    /// Edits that produced a result since the face was opened (the history's x axis).
    pub edits: u64,
    /// The document revision of the newest history point.
    pub last_history_revision: Option<u64>,
    /// Reference whose similarity the history plot and the sensitivity map use.
    pub focus_reference: Option<FaceId>,
    pub sensitivity: SensitivityState,
    pub sweep: SweepState,
    pub toasts: Toasts,
    /// The path typed into "Open path".
    pub path_input: String,
    /// Screen area of the gallery, so that files dropped on it become references.
    pub gallery_rect: Option<eframe::egui::Rect>,
    /// Where tensors run, e.g. "cpu (maskscope CPU path, burn flex)".
    pub device: String,
    /// The adapter egui renders with, e.g. "llvmpipe (Vulkan)".
    pub renderer: String,
    /// The folder of the last file dialog's answer, where the next save or export starts.
    pub last_dialog_dir: Option<PathBuf>,
    /// Where images pasted into the window are saved (they open from there like any photo).
    pub paste_dir: PathBuf,
    /// The aligned-face and embedding caches the region sweep shares with `maskscope eval`.
    pub cache_dir: PathBuf,
    /// The Help window (shortcuts and mouse gestures) is open.
    pub show_help: bool,
}

impl AppState {
    /// The session that reopens this state: photos by path, their landmarks and painted
    /// operations, and the settings.
    pub fn to_session(&self) -> Session {
        let state = self;
        let template = state.template();
        let faces: Vec<SessionFace> = state
            .faces
            .iter()
            .map(|f| SessionFace {
                path: std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone()),
                landmarks: f.landmarks,
                hand_placed: f.hand_placed,
                chosen: f.chosen,
                is_reference: f.is_reference,
                template,
                ops: f.doc.ops().to_vec(),
            })
            .collect();
        let probe = state.probe.and_then(|id| state.faces.iter().position(|f| f.id == id));
        Session { version: SESSION_VERSION, faces, probe, settings: state.settings.clone() }
    }

    /// The stamp occluder to place: the one chosen in the settings, else the first of its class,
    /// else the library's first.
    pub fn selected_stamp(&self) -> Option<OccluderRef> {
        let library = self.library.as_deref()?;
        let wanted = self.settings.stamp.as_ref();
        let found = wanted
            .and_then(|r| library.find(&r.class, &r.name))
            .or_else(|| wanted.and_then(|r| library.of_class(&r.class).next()))
            .or_else(|| library.occluders().first())?;
        Some(OccluderRef { class: found.class.clone(), name: found.name.clone() })
    }

    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            canvas: CanvasState::default(),
            faces: Vec::new(),
            next_id: 1,
            probe: None,
            model: ModelState::default(),
            library: None,
            inference: None,
            last_requested: None,
            heatmap: None,
            shown_pattern: None,
            history: Vec::new(),
            edits: 0,
            last_history_revision: None,
            focus_reference: None,
            sensitivity: SensitivityState::default(),
            sweep: SweepState::default(),
            last_dialog_dir: None,
            paste_dir: crate::face::cache::default_cache_root().join("pasted"),
            cache_dir: crate::face::cache::default_cache_root(),
            show_help: false,
            toasts: Toasts::default(),
            path_input: String::new(),
            gallery_rect: None,
            device: String::new(),
            renderer: String::new(),
        }
    }

    pub fn add_face(&mut self, path: PathBuf) -> FaceId {
        let id = FaceId(self.next_id);
        self.next_id += 1;
        self.faces.push(FaceEntry::new(id, path));
        id
    }

    pub fn face(&self, id: FaceId) -> Option<&FaceEntry> {
        self.faces.iter().find(|f| f.id == id)
    }

    pub fn face_mut(&mut self, id: FaceId) -> Option<&mut FaceEntry> {
        self.faces.iter_mut().find(|f| f.id == id)
    }

    pub fn probe(&self) -> Option<&FaceEntry> {
        self.probe.and_then(|id| self.face(id))
    }

    pub fn probe_mut(&mut self) -> Option<&mut FaceEntry> {
        let id = self.probe?;
        self.face_mut(id)
    }

    pub fn references(&self) -> impl Iterator<Item = &FaceEntry> {
        self.faces.iter().filter(|f| f.is_reference)
    }

    /// The template faces are aligned to: the model's, or MobileFaceNet's before one is loaded.
    pub fn template(&self) -> FaceTemplate {
        self.model.info.as_ref().map_or(FaceTemplate::Arc112x112, |m| m.template)
    }

    /// The current inference's embeddings, as the similarity panel compares them.
    pub fn probe_embedding(&self) -> Option<Embedding> {
        self.current_inference().map(|i| Embedding::from_outputs(&i.outputs, i.baseline.clone()))
    }

    /// Recomputes the current inference's similarities to the references (after an inference,
    /// a reference's embedding, or commands that may have changed the references); returns them.
    pub fn refresh_similarities(&mut self) -> Option<Vec<Similarity>> {
        let probe = self.probe_embedding()?;
        let sims = similarities(&probe, &self.reference_embeddings());
        if let Some(inference) = self.inference.as_mut() {
            inference.similarities = sims.clone();
        }
        Some(sims)
    }

    /// The inference, if it belongs to the face and edit currently shown.
    pub fn current_inference(&self) -> Option<&Inference> {
        let probe = self.probe()?;
        self.inference.as_ref().filter(|i| {
            i.key.face == probe.id
                && i.key.align_revision == probe.align_revision
                && i.key.model_generation == self.model.generation
        })
    }

    /// The references with embeddings for the current model, in gallery order.
    pub fn reference_embeddings(&self) -> Vec<(FaceId, &Embedding)> {
        self.references().filter_map(|f| Some((f.id, f.current_embedding(self.model.generation)?))).collect()
    }
}
