//! The status bar: device, model, last inference time, and what is running.

use eframe::egui::{self, Color32, RichText};

use super::View;

pub fn show(ui: &mut egui::Ui, view: &mut View<'_>) {
    ui.horizontal(|ui| {
        ui.label(format!("Device: {}", view.state.device));
        if !view.state.renderer.is_empty() {
            ui.label(RichText::new(format!("UI on {}", view.state.renderer)).weak());
        }
        ui.separator();
        match &view.state.model.info {
            Some(info) => {
                let [h, w] = info.input_size;
                let patterns = info
                    .patterns
                    .as_ref()
                    .map_or_else(|| "no patterns".to_string(), |p| format!("{} patterns", p.len()));
                ui.label(format!("Model: {} ({h}x{w}, {patterns})", info.name))
                    .on_hover_text(info.source.display().to_string());
                if let Some(notice) = &info.notice {
                    ui.label(RichText::new("untrained heads").color(Color32::from_rgb(255, 170, 60)))
                        .on_hover_text(notice);
                }
            }
            None if view.state.model.loading => {
                ui.label("Model: loading…");
            }
            None => {
                ui.label(RichText::new("Model: none (see Model menu)").color(Color32::LIGHT_RED));
            }
        }
        ui.separator();
        match view.state.current_inference() {
            Some(i) => ui.label(format!("Last inference: {:.1} ms", i.elapsed.as_secs_f64() * 1e3)),
            None => ui.label("Last inference: -"),
        };
        if view.busy.live || view.state.model.loading {
            ui.spinner();
        }
        if view.busy.batch {
            ui.label(RichText::new("long job running").weak());
        }
    });
}
