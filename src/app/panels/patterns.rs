//! The predicted occlusion patterns (top 5, click one to show it on the face) against the pattern
//! the painted occlusion really is.

use eframe::egui::{self, RichText};

use super::View;
use super::canvas::{PREDICTED, TRUE_PATTERN};
use crate::app::analysis::TOP_PATTERNS;
use crate::patterns::PatternSet;

/// "rows 0-2, cols 1-4" in grid cells, or "no occlusion".
fn describe(patterns: &PatternSet, index: usize) -> String {
    match patterns.get(index) {
        Ok(crate::patterns::Pattern::Occluded { cells, .. }) => {
            format!("rows {}-{}, cols {}-{}", cells.y0, cells.y1 - 1, cells.x0, cells.x1 - 1)
        }
        _ => "no occlusion".into(),
    }
}

pub fn show(ui: &mut egui::Ui, view: &mut View<'_>) {
    if view.state.model.info.is_none() {
        ui.label("Waiting for the model…");
        return;
    }
    let Some(patterns) = view.state.model.info.as_ref().and_then(|m| m.patterns.clone()) else {
        ui.label("This model has no pattern predictor.");
        return;
    };
    ui.checkbox(&mut view.state.settings.show_grid, format!("{0}x{0} grid", patterns.grid()));
    ui.checkbox(&mut view.state.settings.show_patterns, "Show patterns on the face");
    let Some(inference) = view.state.current_inference() else {
        ui.label("Waiting for the model…");
        return;
    };
    let (top, truth) = (&inference.top, inference.truth);
    let shown = view.state.shown_pattern.or(top.first().map(|g| g.index));
    ui.label(format!("Predicted, of {} patterns:", patterns.len()));
    let mut clicked = None;
    egui::Grid::new("top-patterns").num_columns(3).striped(true).show(ui, |ui| {
        for (rank, guess) in top.iter().enumerate() {
            let mut text = RichText::new(format!("{}. #{}", rank + 1, guess.index));
            if Some(guess.index) == truth {
                text = text.color(TRUE_PATTERN).strong();
            }
            if ui
                .selectable_label(shown == Some(guess.index), text)
                .on_hover_text("Show this pattern on the face")
                .clicked()
            {
                clicked = Some(guess.index);
            }
            ui.label(describe(&patterns, guess.index));
            ui.label(format!("{:.1}%", 100.0 * guess.probability));
            ui.end_row();
        }
    });
    ui.add_space(4.0);
    match truth {
        Some(label) => {
            ui.label(
                RichText::new(format!("Painted occlusion: pattern #{label} ({})", describe(&patterns, label)))
                    .color(TRUE_PATTERN),
            );
            let verdict = match top.iter().position(|g| g.index == label) {
                Some(0) => RichText::new("The prediction is right.").color(egui::Color32::LIGHT_GREEN),
                Some(rank) => RichText::new(format!("Right pattern at rank {} of the top {TOP_PATTERNS}.", rank + 1))
                    .color(PREDICTED),
                None => {
                    let p = inference.outputs.pattern_probabilities.get(label).copied().unwrap_or(0.0);
                    RichText::new(format!("Not in the top {TOP_PATTERNS} (p = {:.2}%).", 100.0 * p))
                        .color(egui::Color32::LIGHT_RED)
                }
            };
            ui.label(verdict);
        }
        None => {
            ui.label("The painted occlusion matches no pattern.");
        }
    }
    if let Some(index) = clicked {
        view.state.shown_pattern = Some(index);
    }
}
