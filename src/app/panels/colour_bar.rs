//! A horizontal colour bar with tick values, for the heatmap's scale.

use eframe::egui::{self, Color32, Pos2, Sense, Stroke};

use crate::heatmap::colormap::Colormap;
use crate::heatmap::{COLOUR_BAR_TICKS, tick_decimals, ticks};

pub fn show(ui: &mut egui::Ui, colormap: Colormap, (lo, hi): (f32, f32), caption: &str) {
    let width = ui.available_width().clamp(120.0, 320.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 34.0), Sense::hover());
    let bar = egui::Rect::from_min_size(rect.min, egui::vec2(width, 14.0));
    let painter = ui.painter_at(rect);
    // One quad per step with the colours at its ends would blend in gamma space; steps are finer
    // than a pixel at this width, so flat slices are exact enough.
    let steps = 64;
    for i in 0..steps {
        let t0 = i as f32 / steps as f32;
        let t1 = (i + 1) as f32 / steps as f32;
        let [r, g, b] = colormap.rgb8((t0 + t1) / 2.0);
        let slice = egui::Rect::from_x_y_ranges(bar.left() + t0 * width..=bar.left() + t1 * width + 0.5, bar.y_range());
        painter.rect_filled(slice, 0.0, Color32::from_rgb(r, g, b));
    }
    painter.rect_stroke(bar, 0.0, Stroke::new(1.0, ui.visuals().text_color()), egui::StrokeKind::Outside);
    let text = ui.visuals().text_color();
    let decimals = tick_decimals(lo, hi, COLOUR_BAR_TICKS);
    for (i, v) in ticks(lo, hi, COLOUR_BAR_TICKS).into_iter().enumerate() {
        let x = bar.left() + width * i as f32 / (COLOUR_BAR_TICKS - 1) as f32;
        painter.line_segment([Pos2::new(x, bar.bottom()), Pos2::new(x, bar.bottom() + 4.0)], Stroke::new(1.0, text));
        let align = match i {
            0 => egui::Align2::LEFT_TOP,
            _ if i == COLOUR_BAR_TICKS - 1 => egui::Align2::RIGHT_TOP,
            _ => egui::Align2::CENTER_TOP,
        };
        painter.text(
            Pos2::new(x, bar.bottom() + 5.0),
            align,
            format!("{v:.decimals$}"),
            egui::FontId::proportional(11.0),
            text,
        );
    }
    ui.label(egui::RichText::new(caption).small().weak());
}
