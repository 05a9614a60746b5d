//! The region sweep window: the evaluation's per-region protocol on a pairs file, run in the
//! background with progress and cancel, the Figure-1 bars filling in as conditions finish, and
//! exports.

use eframe::egui::{self, RichText};
use egui_plot::{Bar, BarChart, HLine, Legend, Plot, PlotPoint, Text};

use super::View;
use super::similarity::{BASELINE_COLOUR, FROM_COLOUR};
use crate::app::command::Command;
use crate::app::messages::DialogKind;

pub fn window(ctx: &egui::Context, view: &mut View<'_>) {
    let mut open = view.state.sweep.open;
    egui::Window::new("Region sweep").open(&mut open).default_width(560.0).show(ctx, |ui| body(ui, view));
    view.state.sweep.open = open;
}

fn body(ui: &mut egui::Ui, view: &mut View<'_>) {
    let running = view.state.sweep.running.clone();
    // Plain rows rather than a Grid: a Grid sizes its columns on its first frame, which leaves
    // the path fields a few characters wide.
    let settings = &mut view.state.settings;
    let mut browse = None;
    for (name, value, hint, kind) in [
        ("Pairs file   ", &mut settings.sweep_pairs, "pairs.txt or .csv", DialogKind::PickPairs),
        ("Images folder", &mut settings.sweep_images, "root of the photos", DialogKind::PickImages),
    ] {
        ui.horizontal(|ui| {
            let label = ui.label(RichText::new(name).monospace());
            ui.add_sized([320.0, 20.0], egui::TextEdit::singleline(value).hint_text(hint)).labelled_by(label.id);
            if ui.button("Browse…").on_hover_text(format!("Choose the {}", name.trim().to_lowercase())).clicked() {
                browse = Some(kind);
            }
        });
    }
    ui.horizontal(|ui| {
        let label = ui.label(RichText::new("Pairs used   ").monospace());
        ui.add(egui::DragValue::new(&mut settings.sweep_limit).range(0..=100_000))
            .labelled_by(label.id)
            .on_hover_text("0 = every pair; fewer keeps the sweep quick");
    });
    if let Some(kind) = browse {
        view.commands.push(Command::Dialog(kind));
    }
    ui.horizontal(|ui| {
        if ui.add_enabled(running.is_none() && !view.busy.batch, egui::Button::new("Run sweep")).clicked() {
            view.push(Command::RunSweep);
        }
        if running.is_some() && ui.button("Cancel").clicked() {
            view.push(Command::CancelBatch);
        }
        if ui.add_enabled(view.state.sweep.results.is_some(), egui::Button::new("Use its threshold")).clicked() {
            view.push(Command::UseSweepThreshold);
        }
    });
    if let Some(p) = &running {
        ui.add(egui::ProgressBar::new(p.fraction()).text(format!("{} {}/{}", p.stage, p.done, p.total)));
    }
    if let Some(message) = &view.state.sweep.message {
        ui.label(RichText::new(message).small());
    }
    let sweep = &view.state.sweep;
    let mut baseline = Vec::new();
    let mut from = Vec::new();
    for (i, bar) in sweep.bars.iter().enumerate() {
        let x = i as f64;
        baseline.push(Bar::new(x - 0.2, bar.baseline).width(0.38).name(&bar.name));
        from.push(Bar::new(x + 0.2, bar.from).width(0.38).name(&bar.name));
    }
    let names: Vec<String> = sweep.bars.iter().map(|b| short_name(&b.name)).collect();
    let clean = sweep.clean;
    // Bars start at 0, which would squeeze accuracies of 90-99% together: the view starts a
    // little under the lowest value instead, and stays there (no drag or zoom). The headroom
    // above 100% keeps the legend off the bars.
    let lowest = sweep.bars.iter().flat_map(|b| [b.baseline, b.from]).chain(clean.iter().flat_map(|&(b, f)| [b, f]));
    let floor = ((lowest.fold(100.0_f64, f64::min) / 5.0).floor() * 5.0 - 5.0).clamp(0.0, 90.0);
    let top = 100.0 + (100.0 - floor) * 0.2;
    let columns = names.len().max(9) as f64;
    Plot::new("region-sweep")
        .height(250.0)
        .legend(Legend::default())
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_double_click_reset(false)
        .show_axes([false, true])
        .y_axis_label("accuracy (%)")
        .show(ui, |plot| {
            plot.set_plot_bounds_x(-0.7..=columns - 0.3);
            plot.set_plot_bounds_y(floor..=top);
            let (baseline_name, from_name) = &view.state.sweep.legend;
            plot.bar_chart(BarChart::new(baseline_name.as_str(), baseline).color(BASELINE_COLOUR));
            plot.bar_chart(BarChart::new(from_name.as_str(), from).color(FROM_COLOUR));
            // Unnamed items stay out of the legend; the caption below explains the lines.
            if let Some((b, f)) = clean {
                plot.hline(HLine::new("", b).color(BASELINE_COLOUR).style(egui_plot::LineStyle::dashed_loose()));
                plot.hline(HLine::new("", f).color(FROM_COLOUR).style(egui_plot::LineStyle::dashed_loose()));
            }
            // The region names sit in the plot: axis labels of this width would be dropped.
            let y = floor + (top - floor) * 0.01;
            for (i, name) in names.iter().enumerate() {
                let text = RichText::new(name).small().strong();
                plot.text(Text::new("", PlotPoint::new(i as f64, y), text).anchor(egui::Align2::CENTER_BOTTOM));
            }
        });
    if let Some((b, f)) = clean {
        ui.label(RichText::new(format!("Dashed: clean pairs, baseline {b:.1}%, FROM {f:.1}%.")).small());
    }
    let has_bars = !view.state.sweep.bars.is_empty();
    ui.horizontal(|ui| {
        ui.label("Export:");
        for format in ["png", "svg", "csv", "json"] {
            // A partial sweep exports what it has (the figure and the bars as CSV/JSON).
            if ui.add_enabled(has_bars, egui::Button::new(format.to_uppercase())).clicked() {
                view.push(Command::Dialog(DialogKind::ExportSweep(format)));
            }
        }
    });
}

/// A region's label short enough for its column: "lower face" -> "lower", "left eye" -> "L eye".
fn short_name(name: &str) -> String {
    match name {
        "left eye" => "L eye".into(),
        "right eye" => "R eye".into(),
        "two eyes" => "eyes".into(),
        other => other.strip_suffix(" face").unwrap_or(other).to_string(),
    }
}
