//! File dialogs. The system's (rfd) runs on a helper thread: it blocks until the user answers,
//! and the UI must keep painting meanwhile; the answer comes back as an event like any job's.
//! Where the system has no dialog to show (Linux without xdg-desktop-portal or zenity, where rfd
//! returns at once as if cancelled), or when asked to (`MASKSCOPE_FILE_DIALOG=builtin`),
//! maskscope's own browser ([`super::file_browser`]) opens instead.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::messages::{DialogKind, DialogResult, Event, Notify};

const IMAGE_EXTENSIONS: [&str; 7] = ["jpg", "jpeg", "png", "bmp", "gif", "webp", "JPG"];
const MODEL_EXTENSIONS: [&str; 6] = ["bpk", "burnpack", "mpk", "tar", "pth", "safetensors"];
/// A system dialog that "answers" faster than this never showed: nobody cancels that quickly.
const NO_DIALOG_WITHIN: Duration = Duration::from_millis(300);
/// Environment variable: `builtin` always uses maskscope's own file browser.
pub const FILE_DIALOG_ENV: &str = "MASKSCOPE_FILE_DIALOG";

/// Whether [`FILE_DIALOG_ENV`] asks for maskscope's own browser.
pub fn builtin_requested() -> bool {
    std::env::var(FILE_DIALOG_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("builtin"))
}

/// What the user is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogMode {
    OpenOne,
    OpenMany,
    /// Save, suggesting this file name.
    Save(String),
    Folder,
}

/// A dialog as both the system's and maskscope's own browser show it.
#[derive(Debug, Clone)]
pub struct DialogSpec {
    pub title: String,
    pub mode: DialogMode,
    /// Name and extensions of the file filter (none for folders).
    pub filter: Option<(String, Vec<&'static str>)>,
}

impl DialogKind {
    pub fn spec(&self) -> DialogSpec {
        let spec = |title: &str, mode, filter: Option<(&str, &[&'static str])>| DialogSpec {
            title: title.to_string(),
            mode,
            filter: filter.map(|(name, exts)| (name.to_string(), exts.to_vec())),
        };
        let png = Some(("PNG", &["png"][..]));
        match self {
            DialogKind::OpenFaces | DialogKind::OpenReferences => {
                spec("Open face photos", DialogMode::OpenMany, Some(("images", &IMAGE_EXTENSIONS)))
            }
            DialogKind::OpenModel => spec(
                "Open a face model (FROM record, .pth.tar, .safetensors, MobileFaceNet)",
                DialogMode::OpenOne,
                Some(("models", &MODEL_EXTENSIONS)),
            ),
            DialogKind::OpenSession => spec("Open a session", DialogMode::OpenOne, Some(("session", &["json"]))),
            DialogKind::SaveSession => {
                spec("Save the session", DialogMode::Save("session.json".into()), Some(("session", &["json"])))
            }
            DialogKind::ExportOccluded => spec("Save the occluded face", DialogMode::Save("occluded.png".into()), png),
            DialogKind::ExportOverlay => spec("Save the heatmap overlay", DialogMode::Save("heatmap.png".into()), png),
            DialogKind::ExportSensitivity => {
                spec("Save the sensitivity maps", DialogMode::Save("sensitivity.png".into()), png)
            }
            DialogKind::PickPairs => {
                spec("Pairs file (LFW pairs.txt or CSV)", DialogMode::OpenOne, Some(("pairs", &["txt", "csv"])))
            }
            DialogKind::PickImages => spec("Folder of the pairs' images", DialogMode::Folder, None),
            DialogKind::LoadThreshold => {
                spec("Evaluation results (results.json)", DialogMode::OpenOne, Some(("results", &["json"])))
            }
            DialogKind::ExportSweep(format) => DialogSpec {
                title: "Export the region sweep".into(),
                mode: DialogMode::Save(format!("region_sweep.{format}")),
                filter: Some((format.to_string(), vec![*format])),
            },
        }
    }
}

/// Opens at most one system dialog at a time.
#[derive(Default)]
pub struct Dialogs {
    open: Arc<AtomicBool>,
    /// Skip the system dialog: maskscope's own browser every time.
    builtin: bool,
}

impl Dialogs {
    pub fn new(builtin: bool) -> Self {
        Self { open: Arc::default(), builtin }
    }

    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    /// Shows the system dialog for `kind`; its answer, or [`Event::DialogUnavailable`] when
    /// there is none to show, comes back through `events`.
    pub fn open(&self, kind: DialogKind, start_dir: Option<PathBuf>, events: Sender<Event>, notify: Notify) {
        if self.builtin {
            let _ = events.send(Event::DialogUnavailable { kind, start_dir, reason: None });
            notify();
            return;
        }
        if self.open.swap(true, Ordering::SeqCst) {
            return;
        }
        let open = self.open.clone();
        let asked = kind.clone();
        let (thread_events, thread_notify) = (events.clone(), notify.clone());
        let spawned = std::thread::Builder::new().name("maskscope-dialog".into()).spawn(move || {
            let started = Instant::now();
            let paths = show(&kind.spec(), start_dir.clone());
            open.store(false, Ordering::SeqCst);
            let event = if paths.is_empty() && started.elapsed() < NO_DIALOG_WITHIN {
                let reason = "the system file dialog did not open (on Linux it needs xdg-desktop-portal or zenity)";
                Event::DialogUnavailable { kind, start_dir, reason: Some(reason.into()) }
            } else {
                Event::Dialog(DialogResult { kind, paths })
            };
            let _ = thread_events.send(event);
            thread_notify();
        });
        if let Err(e) = spawned {
            self.open.store(false, Ordering::SeqCst);
            let reason = format!("no thread for the system file dialog: {e}");
            let _ = events.send(Event::DialogUnavailable { kind: asked, start_dir: None, reason: Some(reason) });
            notify();
        }
    }
}

fn show(spec: &DialogSpec, start_dir: Option<PathBuf>) -> Vec<PathBuf> {
    let mut dialog = rfd::FileDialog::new().set_title(&spec.title);
    if let Some(dir) = start_dir.filter(|d| d.is_dir()) {
        dialog = dialog.set_directory(dir);
    }
    if let Some((name, extensions)) = &spec.filter {
        dialog = dialog.add_filter(name, extensions);
    }
    let one = |p: Option<PathBuf>| p.into_iter().collect::<Vec<_>>();
    match &spec.mode {
        DialogMode::OpenOne => one(dialog.pick_file()),
        DialogMode::OpenMany => dialog.pick_files().unwrap_or_default(),
        DialogMode::Save(name) => one(dialog.set_file_name(name).save_file()),
        DialogMode::Folder => one(dialog.pick_folder()),
    }
}
