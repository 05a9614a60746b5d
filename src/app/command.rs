//! What panels ask for. A panel never touches files, dialogs or the model itself: it pushes a
//! command, and `dispatch` carries it out after the frame's panels are drawn.

use std::path::PathBuf;

use super::engine::ModelChoice;
use super::ids::FaceId;
use super::messages::DialogKind;
use crate::align::Point;
use crate::occlusion::Region;

#[derive(Debug, Clone)]
pub enum Command {
    /// Load photos; the first becomes the face to paint unless they are references.
    OpenFiles {
        paths: Vec<PathBuf>,
        as_references: bool,
    },
    /// A dropped or pasted path: a photo, a model or a session, by its extension.
    OpenAny {
        paths: Vec<PathBuf>,
        as_references: bool,
    },
    /// An image pasted into the window (e.g. a face copied from a browser): saved as a PNG under
    /// the paste folder, then opened as the face to paint.
    OpenPastedImage(std::sync::Arc<eframe::egui::ColorImage>),
    /// Put the heatmap overlay (as exported) on the clipboard.
    CopyOverlay,
    SelectProbe(FaceId),
    RemoveFace(FaceId),
    SetReference(FaceId, bool),
    /// Use detection `index` of a photo with several faces.
    PickDetection(FaceId, usize),
    /// Move one landmark (photo pixels) and re-align.
    MoveLandmark {
        face: FaceId,
        index: usize,
        to: Point,
    },
    /// Back to the detector's landmarks.
    ResetLandmarks(FaceId),
    /// Put the five points at a default spot, to be dragged into place.
    PlaceLandmarksByHand(FaceId),
    /// Take the photo as an aligned crop (`true`: the template of its size gives the five
    /// points) or not (back to the detector's points, or points to place by hand).
    TakeAsAligned(FaceId, bool),
    Undo,
    Redo,
    Clear,
    ApplyRegion(Region),
    /// A pointer gesture on the canvas or the stamp sliders.
    Canvas(super::canvas_edit::CanvasEdit),
    /// One random Occ-LFW-2.0 occluder.
    RandomOcclusion,
    LoadModel(ModelChoice),
    Dialog(DialogKind),
    SaveSession(PathBuf),
    OpenSession(PathBuf),
    ExportOccluded(PathBuf),
    ExportOverlay(PathBuf),
    ExportSensitivity(PathBuf),
    ExportSweep {
        path: PathBuf,
        format: &'static str,
    },
    LoadThreshold(PathBuf),
    RunSensitivity,
    RunSweep,
    CancelBatch,
    /// Take the threshold the sweep chose on clean pairs (FROM's mean over folds).
    UseSweepThreshold,
}
