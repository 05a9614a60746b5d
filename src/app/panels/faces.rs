//! The loaded photos: open more (path field, dialog, samples), pick the face to paint, mark
//! references, remove.

use std::path::PathBuf;

use eframe::egui::{self, RichText};

use super::View;
use crate::app::command::Command;
use crate::app::messages::DialogKind;
use crate::app::state::FaceStatus;
use crate::app::textures;

pub fn show(ui: &mut egui::Ui, view: &mut View<'_>) {
    ui.heading("Faces");
    ui.horizontal(|ui| {
        let label = ui.label("Path:");
        let edit = ui
            .add(
                egui::TextEdit::singleline(&mut view.state.path_input)
                    .hint_text("paste a photo, model or session path")
                    .desired_width(170.0),
            )
            .labelled_by(label.id);
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Open").clicked() || enter) && !view.state.path_input.trim().is_empty() {
            let path = PathBuf::from(view.state.path_input.trim().trim_matches('"'));
            view.push(Command::OpenAny { paths: vec![path], as_references: false });
            view.state.path_input.clear();
        }
    });
    if ui.button("Open photos…").on_hover_text("Ctrl+O; or drop files on the window").clicked() {
        view.push(Command::Dialog(DialogKind::OpenFaces));
    }
    ui.add_space(4.0);
    let ids: Vec<_> = view.state.faces.iter().map(|f| f.id).collect();
    for id in ids {
        row(ui, view, id);
    }
}

fn row(ui: &mut egui::Ui, view: &mut View<'_>, id: crate::app::ids::FaceId) {
    let Some(face) = view.state.face(id) else { return };
    let selected = view.state.probe == Some(id);
    let (name, status, is_reference) = (face.name.clone(), face.status.clone(), face.is_reference);
    let thumb = textures::face_thumbnail(view.textures, ui.ctx(), id, face);
    let painted = !face.doc.ops().is_empty();
    ui.horizontal(|ui| {
        match thumb {
            Some(t) => {
                ui.add(egui::Image::new((t.id(), egui::vec2(32.0, 32.0))));
            }
            None if status == FaceStatus::Detecting => {
                ui.add_sized([32.0, 32.0], egui::Spinner::new());
            }
            None => {
                ui.add_sized([32.0, 32.0], egui::Label::new(RichText::new("!").color(egui::Color32::LIGHT_RED)));
            }
        }
        let mut text = RichText::new(&name);
        if painted {
            text = text.italics();
        }
        let response = ui.selectable_label(selected, text).on_hover_text("Paint occluders on this face");
        if response.clicked() {
            view.commands.push(Command::SelectProbe(id));
        }
        let mut reference = is_reference;
        if ui.checkbox(&mut reference, "ref").on_hover_text("Compare against this face").changed() {
            view.commands.push(Command::SetReference(id, reference));
        }
        if ui.small_button("x").on_hover_text("Close this photo").clicked() {
            view.commands.push(Command::RemoveFace(id));
        }
    });
    if let FaceStatus::Failed(error) = status {
        ui.label(RichText::new(error).small().color(egui::Color32::LIGHT_RED));
    }
}
