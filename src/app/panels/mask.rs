//! How the feature mask is shown: which plane, 1 - mask, colour map, range, opacity, and the
//! colour bar.

use eframe::egui;

use super::{View, colour_bar};
use crate::heatmap::colormap::Colormap;
use crate::heatmap::{MaskSource, ValueRange};
use crate::model::config::MaskDecoderKind;

/// The strip's height in points.
const STRIP_HEIGHT: f32 = 18.0;

/// An embedding mask (`LResNet_Occ_FC`): its values as a heat strip over the embedding's
/// dimensions, in the chosen colours, with the same colour bar; it is not spatial, so nothing is
/// drawn over the face.
fn embedding_mask(ui: &mut egui::Ui, view: &mut View<'_>) {
    ui.label(
        egui::RichText::new(
            "This model (LResNet_Occ_FC) masks the embedding, not the face: one value per dimension, \
             so there is no heatmap over the face. 1 - mask per dimension:",
        )
        .small(),
    );
    let colormap = view.state.settings.heatmap.colormap;
    let Some(mask) = view.state.current_inference().and_then(|i| i.outputs.mask.as_ref()) else {
        ui.label("No mask yet.");
        return;
    };
    let values = &mask.values;
    let (rect, response) =
        ui.allocate_exact_size(egui::vec2(ui.available_width().min(320.0), STRIP_HEIGHT), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let step = rect.width() / values.len().max(1) as f32;
    for (i, &v) in values.iter().enumerate() {
        let [r, g, b] = colormap.rgb8(1.0 - v);
        let x = rect.left() + i as f32 * step;
        let cell = egui::Rect::from_x_y_ranges(x..=x + step + 0.5, rect.y_range());
        painter.rect_filled(cell, 0.0, egui::Color32::from_rgb(r, g, b));
    }
    let removed: f32 = values.iter().map(|v| 1.0 - v).sum::<f32>() / values.len().max(1) as f32;
    response.on_hover_text(format!("{} dimensions; mean 1 - mask {removed:.3}", values.len()));
    colour_bar::show(ui, colormap, (0.0, 1.0), "1 - mask: 1 = dimension removed");
}

pub fn show(ui: &mut egui::Ui, view: &mut View<'_>) {
    let Some(info) = &view.state.model.info else {
        ui.label("Waiting for the model…");
        return;
    };
    if !info.has_mask {
        ui.label("This model has no FROM heads, so there is no mask to show.");
        return;
    }
    if info.mask_kind == Some(MaskDecoderKind::Embedding) {
        embedding_mask(ui, view);
        return;
    }
    if info.mask_kind == Some(MaskDecoderKind::Spatial) {
        ui.label(egui::RichText::new("LResNet_Occ_2D: one spatial map, the same for every channel").small());
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
