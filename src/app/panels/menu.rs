//! The menu bar: files, model, evaluation windows, samples, view options.

use eframe::egui;

use super::View;
use crate::app::command::Command;
use crate::app::engine::ModelChoice;
use crate::app::messages::DialogKind;
use crate::app::samples;

pub fn show(ui: &mut egui::Ui, view: &mut View<'_>) {
    let dialog_free = !view.busy.dialog;
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            ui.add_enabled_ui(dialog_free, |ui| {
                if ui.button("Open photos…  (Ctrl+O)").clicked() {
                    view.push(Command::Dialog(DialogKind::OpenFaces));
                }
                if ui.button("Add reference photos…").clicked() {
                    view.push(Command::Dialog(DialogKind::OpenReferences));
                }
                ui.separator();
                if ui.button("Open session…").clicked() {
                    view.push(Command::Dialog(DialogKind::OpenSession));
                }
                if ui.button("Save session…  (Ctrl+S)").clicked() {
                    view.push(Command::Dialog(DialogKind::SaveSession));
                }
                ui.separator();
                if ui.button("Export occluded face…").clicked() {
                    view.push(Command::Dialog(DialogKind::ExportOccluded));
                }
                if ui.add_enabled(view.state.heatmap.is_some(), egui::Button::new("Export heatmap overlay…")).clicked() {
                    view.push(Command::Dialog(DialogKind::ExportOverlay));
                }
                if ui.add_enabled(view.state.heatmap.is_some(), egui::Button::new("Copy heatmap overlay")).clicked() {
                    view.push(Command::CopyOverlay);
                }
            });
            ui.separator();
            if ui.button("Quit").clicked() {
                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
            }
        });
        ui.menu_button("Model", |ui| {
            let current = view.state.model.info.as_ref().map(|m| m.choice.clone());
            if ui.selectable_label(current == Some(ModelChoice::Bundled), "Bundled default (FROM on MobileFaceNet)").clicked() {
                view.push(Command::LoadModel(ModelChoice::Bundled));
            }
            if ui.selectable_label(current == Some(ModelChoice::UntrainedHeads), "MobileFaceNet + untrained FROM heads").clicked() {
                view.push(Command::LoadModel(ModelChoice::UntrainedHeads));
            }
            if ui
                .selectable_label(current == Some(ModelChoice::RandomHeads), "MobileFaceNet + random FROM heads")
                .on_hover_text("The mask and patterns react to edits but mean nothing: a demo of the plumbing")
                .clicked()
            {
                view.push(Command::LoadModel(ModelChoice::RandomHeads));
            }
            if ui
                .add_enabled(dialog_free, egui::Button::new("Open model file…"))
                .on_hover_text("A FROM record or one written by `maskscope train`, an official .pth.tar/.safetensors, or a MobileFaceNet record")
                .clicked()
            {
                view.push(Command::Dialog(DialogKind::OpenModel));
            }
        });
        ui.menu_button("Evaluate", |ui| {
            ui.checkbox(&mut view.state.sensitivity.open, "Occlusion sensitivity map");
            ui.checkbox(&mut view.state.sweep.open, "Region sweep");
        });
        ui.menu_button("Samples", |ui| {
            for path in samples::sample_paths() {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if ui.button(&name).on_hover_text("Labeled Faces in the Wild (research use; see assets/samples/README.md)").clicked() {
                    view.push(Command::OpenFiles { paths: vec![path], as_references: false });
                }
            }
        });
        ui.menu_button("Help", |ui| {
            if ui.button("Shortcuts and mouse…  (F1)").clicked() {
                view.state.show_help = true;
            }
            ui.label(format!("maskscope {}", env!("CARGO_PKG_VERSION")));
            ui.label("FROM: Qiu et al., TPAMI 2021 (arXiv 2108.09468)");
        });
        ui.menu_button("View", |ui| {
            ui.checkbox(&mut view.state.settings.heatmap.visible, "Heatmap");
            ui.checkbox(&mut view.state.settings.show_grid, "Pattern grid");
            ui.checkbox(&mut view.state.settings.show_patterns, "Patterns on the face");
            ui.add(egui::Slider::new(&mut view.state.settings.zoom, 2.0..=6.0).step_by(0.5).text("zoom"));
        });
    });
    help_window(ui.ctx(), &mut view.state.show_help);
}

/// Every shortcut and mouse gesture, in a window the Help menu and F1 open.
fn help_window(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("Shortcuts and mouse").open(open).resizable(false).collapsible(false).show(ctx, |ui| {
        egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
            for (keys, what) in crate::app::input::SHORTCUTS {
                ui.strong(*keys);
                ui.label(*what);
                ui.end_row();
            }
        });
        ui.separator();
        ui.heading("What am I looking at?");
        for (title, text) in LOOKING_AT {
            ui.label(egui::RichText::new(*title).strong());
            ui.label(*text);
        }
    });
}

/// The Help window's short explanation of each panel.
const LOOKING_AT: &[(&str, &str)] = &[
    (
        "Feature mask",
        "FROM's mask decoder predicts, for every cell of the final feature map (7x7 for 112x112 faces), how \
         much of the features there to keep. The heatmap shows 1 - mask: hot cells are the features FROM \
         removes because it judges them corrupted by an occluder.",
    ),
    (
        "Occlusion patterns",
        "The pattern predictor classifies the mask into one of the proximate occlusion patterns: every \
         rectangle of cells of a 5x5 grid over the face, plus 'none' (226 in all). The list shows its top \
         guesses beside the pattern your occluders really cover.",
    ),
    (
        "Similarity",
        "Cosine similarity of the painted face to each reference face, for FROM (masked features), the \
         clean-trained baseline network, and FROM with its mask off; above the threshold the faces are \
         called the same person.",
    ),
];
