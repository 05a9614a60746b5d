//! Native file dialogs (rfd) on a helper thread: rfd's dialogs block until the user answers, and
//! the UI must keep painting meanwhile. The answer comes back as an event like any job's.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;

use super::jobs::{Event, Notify};

const IMAGE_EXTENSIONS: [&str; 7] = ["jpg", "jpeg", "png", "bmp", "gif", "webp", "JPG"];
const MODEL_EXTENSIONS: [&str; 6] = ["bpk", "burnpack", "mpk", "tar", "pth", "safetensors"];

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

/// Opens at most one dialog at a time.
#[derive(Default)]
pub struct Dialogs {
    open: Arc<AtomicBool>,
}

impl Dialogs {
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    pub fn open(&self, kind: DialogKind, start_dir: Option<PathBuf>, events: Sender<Event>, notify: Notify) {
        if self.open.swap(true, Ordering::SeqCst) {
            return;
        }
        let open = self.open.clone();
        let spawned = std::thread::Builder::new().name("maskscope-dialog".into()).spawn(move || {
            let paths = show(&kind, start_dir);
            open.store(false, Ordering::SeqCst);
            let _ = events.send(Event::Dialog(DialogResult { kind, paths }));
            notify();
        });
        if spawned.is_err() {
            self.open.store(false, Ordering::SeqCst);
        }
    }
}

fn show(kind: &DialogKind, start_dir: Option<PathBuf>) -> Vec<PathBuf> {
    let mut dialog = rfd::FileDialog::new();
    if let Some(dir) = start_dir.filter(|d| d.is_dir()) {
        dialog = dialog.set_directory(dir);
    }
    let one = |p: Option<PathBuf>| p.into_iter().collect::<Vec<_>>();
    match kind {
        DialogKind::OpenFaces | DialogKind::OpenReferences => dialog
            .set_title("Open face photos")
            .add_filter("images", &IMAGE_EXTENSIONS)
            .pick_files()
            .unwrap_or_default(),
        DialogKind::OpenModel => one(dialog
            .set_title("Open a face model (FROM record, .pth.tar, .safetensors, MobileFaceNet)")
            .add_filter("models", &MODEL_EXTENSIONS)
            .pick_file()),
        DialogKind::OpenSession => one(dialog.set_title("Open a session").add_filter("session", &["json"]).pick_file()),
        DialogKind::SaveSession => one(dialog
            .set_title("Save the session")
            .add_filter("session", &["json"])
            .set_file_name("session.json")
            .save_file()),
        DialogKind::ExportOccluded => one(dialog
            .set_title("Save the occluded face")
            .add_filter("PNG", &["png"])
            .set_file_name("occluded.png")
            .save_file()),
        DialogKind::ExportOverlay => one(dialog
            .set_title("Save the heatmap overlay")
            .add_filter("PNG", &["png"])
            .set_file_name("heatmap.png")
            .save_file()),
        DialogKind::ExportSensitivity => one(dialog
            .set_title("Save the sensitivity maps")
            .add_filter("PNG", &["png"])
            .set_file_name("sensitivity.png")
            .save_file()),
        DialogKind::PickPairs => {
            one(dialog.set_title("Pairs file (LFW pairs.txt or CSV)").add_filter("pairs", &["txt", "csv"]).pick_file())
        }
        DialogKind::PickImages => one(dialog.set_title("Folder of the pairs' images").pick_folder()),
        DialogKind::LoadThreshold => {
            one(dialog.set_title("Evaluation results (results.json)").add_filter("results", &["json"]).pick_file())
        }
        DialogKind::ExportSweep(format) => one(dialog
            .set_title("Export the region sweep")
            .add_filter(*format, &[*format])
            .set_file_name(format!("region_sweep.{format}"))
            .save_file()),
    }
}
