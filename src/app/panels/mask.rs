//! How the feature mask is shown: which plane, 1 - mask, colour map, range, opacity, and the
//! colour bar.

use eframe::egui;

use super::{View, colour_bar};
use crate::heatmap::colormap::Colormap;
use crate::heatmap::{MaskSource, ValueRange};

pub fn show(ui: &mut egui::Ui, view: &mut View<'_>) {
    let Some(info) = &view.state.model.info else {
        ui.label("Waiting for the model…");
        return;
    };
    if !info.has_mask {
        ui.label("This model has no FROM heads, so there is no mask to show.");
        return;
    }
    let channels = view.state.current_inference().and_then(|i| i.outputs.mask.as_ref()).map_or(1, |m| m.channels);
    let gpu_available = view.gpu_heatmap || view.state.settings.gpu_heatmap;
    let style = &mut view.state.settings.heatmap;
    ui.checkbox(&mut style.visible, "Show the heatmap");
    ui.horizontal(|ui| {
        let mut single = matches!(style.source, MaskSource::Channel(_));
        ui.radio_value(&mut single, false, "mean of channels");
        ui.radio_value(&mut single, true, "one channel");
        match (single, style.source) {
            (false, _) => style.source = MaskSource::Mean,
            (true, MaskSource::Mean) => style.source = MaskSource::Channel(0),
            _ => {}
        }
    });
    if let MaskSource::Channel(c) = &mut style.source {
        ui.add(egui::Slider::new(c, 0..=channels.saturating_sub(1)).text("channel"));
    }
    ui.checkbox(&mut style.removed, "Show 1 - mask (what FROM removes)");
    ui.horizontal(|ui| {
        egui::ComboBox::from_label("colours").selected_text(style.colormap.name()).show_ui(ui, |ui| {
            for map in Colormap::ALL {
                ui.selectable_value(&mut style.colormap, map, map.name());
            }
        });
        egui::ComboBox::from_label("range")
            .selected_text(match style.range {
                ValueRange::Unit => "0 - 1",
                ValueRange::Auto => "min - max",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut style.range, ValueRange::Unit, "0 - 1");
                ui.selectable_value(&mut style.range, ValueRange::Auto, "min - max");
            });
    });
    ui.add(egui::Slider::new(&mut style.opacity, 0.0..=1.0).text("opacity"));
    let colormap = style.colormap;
    let removed = style.removed;
    if gpu_available {
        ui.checkbox(&mut view.state.settings.gpu_heatmap, "Draw with the WGSL shader (else CPU texture)");
    }
    match &view.state.heatmap {
        Some(h) => {
            let caption = if removed { "1 - mask: 1 = feature removed" } else { "mask: 1 = feature kept, 0 = removed" };
            colour_bar::show(ui, colormap, h.range, caption);
            let (w, hgt) = (h.plane.width, h.plane.height);
            ui.label(egui::RichText::new(format!("{w}x{hgt} mask, upsampled to the face")).small().weak());
        }
        None => {
            ui.label("No mask yet.");
        }
    }
}
