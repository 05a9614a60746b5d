//! The panels. Each one reads the state, writes settings and its own gesture state, and pushes
//! commands for every edit of a face's document and anything with side effects; none of them
//! touches documents, files, dialogs or the model.

mod canvas;
mod colour_bar;
mod faces;
mod mask;
mod menu;
mod patterns;
mod photo;
mod sensitivity;
mod similarity;
mod status;
mod sweep;
mod tools;

use eframe::egui;

use super::command::Command;
use super::document::Rendered;
use super::state::AppState;
use super::textures::Textures;

/// What is running, for disabling buttons and showing spinners.
#[derive(Debug, Clone, Copy, Default)]
pub struct Busy {
    pub live: bool,
    pub batch: bool,
    pub dialog: bool,
}

/// Everything a panel may use during one frame.
pub struct View<'a> {
    pub state: &'a mut AppState,
    pub commands: &'a mut Vec<Command>,
    pub textures: &'a mut Textures,
    /// The face being painted, occluded as the edits stand.
    pub occluded: Option<&'a Rendered>,
    /// Draw the heatmap with the WGSL pipeline.
    pub gpu_heatmap: bool,
    pub busy: Busy,
}

impl View<'_> {
    pub fn push(&mut self, command: Command) {
        self.commands.push(command);
    }
}

/// Lays out the whole window.
pub fn show(ui: &mut egui::Ui, view: &mut View<'_>) {
    egui::Panel::top("menu").show(ui, |ui| menu::show(ui, view));
    egui::Panel::bottom("status").show(ui, |ui| status::show(ui, view));
    egui::Panel::left("faces").default_size(300.0).min_size(220.0).show(ui, |ui| {
        egui::ScrollArea::vertical().id_salt("faces-scroll").show(ui, |ui| {
            faces::show(ui, view);
            ui.separator();
            photo::show(ui, view);
        });
    });
    egui::Panel::right("inspector").default_size(360.0).min_size(280.0).show(ui, |ui| {
        egui::ScrollArea::vertical().id_salt("inspector-scroll").show(ui, |ui| {
            egui::CollapsingHeader::new("Feature mask").default_open(true).show(ui, |ui| mask::show(ui, view));
            egui::CollapsingHeader::new("Occlusion patterns")
                .default_open(true)
                .show(ui, |ui| patterns::show(ui, view));
            egui::CollapsingHeader::new("Similarity").default_open(true).show(ui, |ui| similarity::show(ui, view));
        });
    });
    egui::CentralPanel::default().show(ui, |ui| {
        tools::show(ui, view);
        ui.separator();
        egui::ScrollArea::both().id_salt("canvas-scroll").show(ui, |ui| canvas::show(ui, view));
    });
    sensitivity::window(ui.ctx(), view);
    sweep::window(ui.ctx(), view);
}

/// Screen rectangle of a crop-pixel rectangle drawn at `zoom` from `origin`.
pub fn crop_rect(origin: egui::Pos2, zoom: f32, r: &crate::patterns::Rect) -> egui::Rect {
    egui::Rect::from_min_max(
        origin + egui::vec2(r.x0 as f32, r.y0 as f32) * zoom,
        origin + egui::vec2(r.x1 as f32, r.y1 as f32) * zoom,
    )
}
