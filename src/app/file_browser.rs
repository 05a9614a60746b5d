//! maskscope's own file browser (egui_file), drawn in the window: the fallback for every open,
//! save and export when the system's dialog cannot open (see `dialogs`).

use std::path::{Path, PathBuf};

use eframe::egui;
use egui_file::{FileDialog, State};

use super::dialogs::DialogMode;
use super::messages::{DialogKind, DialogResult};

pub struct FileBrowser {
    kind: DialogKind,
    dialog: FileDialog,
}

impl FileBrowser {
    /// A browser for `kind`, open in `start_dir` (else the working directory).
    pub fn new(kind: DialogKind, start_dir: Option<PathBuf>) -> Self {
        let spec = kind.spec();
        let mut dialog = match &spec.mode {
            DialogMode::OpenOne | DialogMode::OpenMany => FileDialog::open_file(),
            DialogMode::Save(_) => FileDialog::save_file(),
            DialogMode::Folder => FileDialog::select_folder(),
        }
        .title(&spec.title)
        .multi_select(spec.mode == DialogMode::OpenMany);
        if let Some(dir) = start_dir.filter(|d| d.is_dir()).or_else(|| std::env::current_dir().ok()) {
            dialog = dialog.initial_path(dir);
        }
        if let DialogMode::Save(name) = &spec.mode {
            dialog = dialog.default_filename(name.clone());
        }
        if let Some((_, extensions)) = spec.filter {
            let extensions: Vec<String> = extensions.iter().map(|e| e.to_ascii_lowercase()).collect();
            let has_extension = move |path: &Path| {
                path.extension().is_some_and(|e| extensions.contains(&e.to_string_lossy().to_ascii_lowercase()))
            };
            dialog = dialog.show_files_filter(Box::new(has_extension));
        }
        dialog.open();
        Self { kind, dialog }
    }

    /// Draws the browser; the answer (no paths when cancelled) once the user has given one.
    pub fn show(&mut self, ctx: &egui::Context) -> Option<DialogResult> {
        self.dialog.show(ctx);
        let paths = match self.dialog.state() {
            State::Open => return None,
            State::Selected if self.dialog.has_multi_select() => {
                self.dialog.selection().into_iter().map(Path::to_path_buf).collect()
            }
            State::Selected => self.dialog.path().map(Path::to_path_buf).into_iter().collect(),
            State::Cancelled | State::Closed => Vec::new(),
        };
        Some(DialogResult { kind: self.kind.clone(), paths })
    }
}
