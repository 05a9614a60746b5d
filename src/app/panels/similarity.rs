//! Similarity of the painted face to each reference: FROM (masked), the clean-trained baseline
//! network, and FROM with its mask off, with the threshold and verdicts, and the history over the
//! edits.

use eframe::egui::{self, Color32, RichText, Sense};
use egui_plot::{HLine, Legend, Line, Plot, PlotPoints};

use super::View;
use crate::app::analysis::{RankedIdentity, Similarity, rank_identities, rank_in, same_person};
use crate::app::command::Command;
use crate::app::messages::DialogKind;
use crate::app::textures;
use crate::eval::identification::identity_of;

pub const FROM_COLOUR: Color32 = Color32::from_rgb(213, 94, 0);
pub const BASELINE_COLOUR: Color32 = Color32::from_rgb(86, 180, 233);
/// Bluish green, the third colour of the same (Okabe-Ito) palette.
pub const MASK_OFF_COLOUR: Color32 = Color32::from_rgb(0, 158, 115);

pub fn show(ui: &mut egui::Ui, view: &mut View<'_>) {
    ui.horizontal(|ui| {
        ui.add(egui::Slider::new(&mut view.state.settings.threshold, -0.2..=1.0).text("threshold"));
    });
    ui.horizontal(|ui| {
        if ui.button("From results.json…").on_hover_text("Use the clean-pairs threshold of an evaluation").clicked() {
            view.push(Command::Dialog(DialogKind::LoadThreshold));
        }
        if ui.add_enabled(view.state.sweep.results.is_some(), egui::Button::new("From the sweep")).clicked() {
            view.push(Command::UseSweepThreshold);
        }
    });
    let threshold = view.state.settings.threshold;
    let sims: Vec<Similarity> = view.state.current_inference().map(|i| i.similarities.clone()).unwrap_or_default();

    let gallery = ui
        .group(|ui| {
            ui.set_min_width(ui.available_width());
            ui.horizontal(|ui| {
                ui.label(RichText::new("Gallery").strong());
                if ui.button("Add references…").clicked() {
                    view.push(Command::Dialog(DialogKind::OpenReferences));
                }
                if let Some(id) = view.state.probe
                    && ui.button("Add this face").on_hover_text("Its clean version becomes a reference").clicked()
                {
                    view.push(Command::SetReference(id, true));
                }
            });
            let references: Vec<_> = view.state.references().map(|f| f.id).collect();
            if references.is_empty() {
                ui.label(RichText::new("Drop photos here to compare against them.").weak());
            }
            for id in references {
                reference_row(ui, view, id, sims.iter().find(|s| s.reference == id), threshold);
            }
        })
        .response
        .rect;
    view.state.gallery_rect = Some(gallery);
    ranking(ui, view, &sims);
    history(ui, view, threshold);
}

/// Rows of the ranking shown.
const RANKED_ROWS: usize = 5;

/// The gallery ranked for the painted face, FROM against the baseline network: closed-set
/// identification as `maskscope identify` does it, identities from the photos' names.
fn ranking(ui: &mut egui::Ui, view: &View<'_>, sims: &[Similarity]) {
    let identity = |id| view.state.face(id).map(|f| identity_of(&f.path));
    let from = rank_identities(sims, identity, |s| Some(s.from));
    if from.len() < 2 {
        return;
    }
    let baseline = rank_identities(sims, identity, |s| s.baseline);
    let probe = view.state.probe().map(|f| identity_of(&f.path)).unwrap_or_default();
    egui::CollapsingHeader::new("Identification: the gallery ranked").default_open(true).show(ui, |ui| {
        let place = |ranked: &[RankedIdentity]| match rank_in(ranked, &probe) {
            Some(rank) => format!("rank {rank} of {}", ranked.len()),
            None => "not ranked".into(),
        };
        if from.iter().any(|r| r.identity == probe) {
            ui.label(format!("{probe}: {} with FROM, {} with the baseline", place(&from), place(&baseline)));
        } else {
            ui.label(
                RichText::new(format!("{probe} is not in the gallery (identities come from the file or folder names)"))
                    .weak(),
            );
        }
        egui::Grid::new("ranking").striped(true).show(ui, |ui| {
            ui.label(RichText::new("rank").strong());
            ui.label(RichText::new("FROM").strong().color(FROM_COLOUR));
            ui.label(RichText::new("baseline").strong().color(BASELINE_COLOUR));
            ui.end_row();
            for row in 0..from.len().min(RANKED_ROWS) {
                ui.label(format!("{}", row + 1));
                for ranked in [&from, &baseline] {
                    match ranked.get(row) {
                        Some(r) => {
                            let text = RichText::new(format!("{} {:+.3}", r.identity, r.score)).monospace();
                            ui.label(if r.identity == probe {
                                text.strong().color(Color32::LIGHT_GREEN)
                            } else {
                                text
                            });
                        }
                        None => {
                            ui.label("");
                        }
                    }
                }
                ui.end_row();
            }
        });
    });
}

fn reference_row(
    ui: &mut egui::Ui,
    view: &mut View<'_>,
    id: crate::app::ids::FaceId,
    sim: Option<&Similarity>,
    threshold: f32,
) {
    let Some(face) = view.state.face(id) else { return };
    let name = face.name.clone();
    let thumb = textures::face_thumbnail(view.textures, ui.ctx(), id, face);
    // Spin only while an answer is coming: a reference or model that failed must not spin forever.
    let waiting = face.is_ready() && sim.is_none() && face.embedding_requested.is_some() && view.busy.live;
    ui.horizontal(|ui| {
        if let Some(t) = thumb {
            ui.add(egui::Image::new((t.id(), egui::vec2(40.0, 40.0))));
        }
        ui.vertical(|ui| {
            ui.horizontal(|ui| {
                ui.radio_value(&mut view.state.focus_reference, Some(id), RichText::new(&name).strong())
                    .on_hover_text("Plot this reference's history and use it for the sensitivity map");
                if ui.small_button("x").on_hover_text("Remove from the gallery").clicked() {
                    view.commands.push(Command::SetReference(id, false));
                }
            });
            match sim {
                Some(s) => {
                    bar(ui, "FROM", s.from, threshold, FROM_COLOUR)
                        .on_hover_text("The FROM model's masked embedding: its features times its mask");
                    match s.baseline {
                        Some(b) => bar(ui, "baseline", b, threshold, BASELINE_COLOUR)
                            .on_hover_text("The clean-trained baseline network: the bundled pretrained MobileFaceNet"),
                        None => ui.label(RichText::new("baseline: none for this model's crop").weak()),
                    };
                    bar(ui, "mask off", s.mask_off, threshold, MASK_OFF_COLOUR)
                        .on_hover_text("The FROM model without its mask: what the mask itself adds is FROM minus this");
                }
                None if waiting => {
                    ui.spinner();
                }
                None => {
                    ui.label(RichText::new("loading…").weak());
                }
            }
        });
    });
}

/// One similarity as a number, a bar with the threshold marked, and the verdict.
fn bar(ui: &mut egui::Ui, label: &str, value: f32, threshold: f32, colour: Color32) -> egui::Response {
    let same = same_person(value, threshold);
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("{label:<8} {value:+.3}")).monospace());
        let (rect, _) = ui.allocate_exact_size(egui::vec2(110.0, 12.0), Sense::hover());
        let painter = ui.painter_at(rect);
        let x = |v: f32| rect.left() + rect.width() * ((v + 0.2) / 1.2).clamp(0.0, 1.0);
        painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
        painter.rect_filled(egui::Rect::from_x_y_ranges(rect.left()..=x(value), rect.y_range()), 2.0, colour);
        painter.line_segment(
            [egui::pos2(x(threshold), rect.top() - 2.0), egui::pos2(x(threshold), rect.bottom() + 2.0)],
            egui::Stroke::new(2.0, ui.visuals().text_color()),
        );
        let verdict = if same {
            RichText::new("same").color(Color32::LIGHT_GREEN)
        } else {
            RichText::new("different").color(Color32::LIGHT_RED)
        };
        ui.label(verdict);
    })
    .response
}

fn history(ui: &mut egui::Ui, view: &mut View<'_>, threshold: f32) {
    let Some(focus) = view.state.focus_reference else { return };
    let name = view.state.face(focus).map_or_else(String::new, |f| f.name.clone());
    // A point per edit that has this reference's similarity on the picked path.
    let points = |pick: fn(&Similarity) -> Option<f32>| -> Vec<[f64; 2]> {
        view.state
            .history
            .iter()
            .filter_map(|h| {
                let s = h.similarities.iter().find(|s| s.reference == focus)?;
                Some([h.edit as f64, f64::from(pick(s)?)])
            })
            .collect()
    };
    let (from, baseline, mask_off) = (points(|s| Some(s.from)), points(|s| s.baseline), points(|s| Some(s.mask_off)));
    ui.label(RichText::new(format!("Similarity to {name} over the edits")).small());
    Plot::new("similarity-history")
        .height(150.0)
        .legend(Legend::default())
        .include_y(0.0)
        .include_y(1.0)
        .allow_scroll(false)
        .x_axis_label("edit")
        .show(ui, |plot| {
            plot.line(Line::new("FROM", PlotPoints::from(from)).color(FROM_COLOUR));
            plot.line(Line::new("baseline", PlotPoints::from(baseline)).color(BASELINE_COLOUR));
            plot.line(Line::new("mask off", PlotPoints::from(mask_off)).color(MASK_OFF_COLOUR));
            plot.hline(HLine::new("threshold", f64::from(threshold)).color(Color32::GRAY));
        });
}
