//! The occlusion sensitivity window: slide a grey square over the face and see where the
//! similarity to the reference drops, FROM with its mask off and FROM side by side.

use eframe::egui::{self, RichText};

use super::View;
use crate::app::command::Command;
use crate::app::messages::DialogKind;
use crate::app::textures;

const MAP_SIDE: f32 = 190.0;

pub fn window(ctx: &egui::Context, view: &mut View<'_>) {
    let mut open = view.state.sensitivity.open;
    egui::Window::new("Occlusion sensitivity").open(&mut open).default_width(430.0).show(ctx, |ui| body(ui, view));
    view.state.sensitivity.open = open;
}

fn body(ui: &mut egui::Ui, view: &mut View<'_>) {
    let settings = &mut view.state.settings;
    ui.add(egui::Slider::new(&mut settings.sensitivity_side, 4..=64).text("square side (px)"));
    ui.add(egui::Slider::new(&mut settings.sensitivity_stride, 2..=32).text("stride (px)"));
    let reference = view.state.focus_reference.and_then(|id| view.state.face(id)).map(|f| f.name.clone());
    ui.label(match &reference {
        Some(name) => format!("Against {name} (pick another in the gallery)."),
        None => "Pick a reference in the gallery first.".into(),
    });
    let running = view.state.sensitivity.running.clone();
    ui.horizontal(|ui| {
        let can_run = running.is_none() && !view.busy.batch && reference.is_some();
        if ui.add_enabled(can_run, egui::Button::new("Compute")).clicked() {
            view.push(Command::RunSensitivity);
        }
        if running.is_some() && ui.button("Cancel").clicked() {
            view.push(Command::CancelBatch);
        }
        if ui.add_enabled(view.state.sensitivity.result.is_some(), egui::Button::new("Export PNG…")).clicked() {
            view.push(Command::Dialog(DialogKind::ExportSensitivity));
        }
    });
    if let Some(p) = &running {
        ui.add(egui::ProgressBar::new(p.fraction()).text(format!("{} {}/{}", p.stage, p.done, p.total)));
    }
    let Some(map) = view.state.sensitivity.result.clone() else { return };
    let generation = view.state.sensitivity.generation;
    let ratio = map.face.width() as f32 / map.face.height().max(1) as f32;
    let size = egui::vec2(MAP_SIDE * ratio, MAP_SIDE);
    ui.horizontal(|ui| {
        for (from, title, base) in [(false, "FROM, mask off", map.mask_off_base), (true, "FROM", map.from_base)] {
            let texture = view.textures.get(
                ui.ctx(),
                &format!("sensitivity-{title}"),
                generation,
                egui::TextureOptions::LINEAR,
                || textures::rgb(&map.image(from, size.x as u32, size.y as u32, true)),
            );
            ui.vertical(|ui| {
                ui.label(RichText::new(format!("{title}: similarity {base:+.3}")).strong());
                ui.add(egui::Image::new((texture.id(), size)));
            });
        }
    });
    ui.label(
        RichText::new(format!(
            "Red: the similarity drops when a {0}x{0} square covers that spot (scale ±{1:.3}); blue: it rises.",
            map.spec.side,
            map.scale()
        ))
        .small(),
    );
}
