//! The aligned face, enlarged, where occluders are painted: the occluded face, FROM's mask as a
//! heatmap over it, the pattern grid with the predicted and the true pattern, and the tools'
//! pointer handling.

use eframe::egui::{self, Color32, Pos2, Sense, Stroke, StrokeKind};

use super::{View, crop_rect};
use crate::app::canvas_edit::CanvasEdit;
use crate::app::command::Command;
use crate::app::document::Op;
use crate::app::heatmap_gpu::HeatmapCallback;
use crate::app::settings::Tool;
use crate::app::textures;
use crate::patterns::PatternSet;

/// Colours of the predicted (top) pattern and the true (painted) one.
pub const PREDICTED: Color32 = Color32::from_rgb(255, 210, 0);
pub const TRUE_PATTERN: Color32 = Color32::from_rgb(0, 220, 255);

pub fn show(ui: &mut egui::Ui, view: &mut View<'_>) {
    let Some(probe) = view.state.probe() else {
        ui.label("Open a face: drag photos onto the window, use File > Open, paste a path, or pick a sample.");
        return;
    };
    let (Some(aligned), Some(rendered)) = (&probe.aligned, view.occluded) else {
        match &probe.status {
            crate::app::state::FaceStatus::Detecting => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("Finding the face in {}…", probe.name));
                });
            }
            crate::app::state::FaceStatus::Failed(error) => {
                ui.label(egui::RichText::new(error).color(Color32::LIGHT_RED));
            }
            crate::app::state::FaceStatus::Ready => {
                ui.label("Place the five landmarks on the photo to align this face.");
            }
        }
        return;
    };
    let (w, h) = aligned.image.dimensions();
    let zoom = view.state.settings.zoom;
    let name = format!("face-{}-occluded", probe.id.0);
    let version = probe.align_revision * 1_000_003 + probe.doc.revision();
    let texture =
        view.textures.get(ui.ctx(), &name, version, egui::TextureOptions::LINEAR, || textures::rgb(&rendered.image));

    let (response, painter) = ui.allocate_painter(egui::vec2(w as f32, h as f32) * zoom, Sense::click_and_drag());
    let response = response.on_hover_text(view.state.settings.tool.hint());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Face canvas"));
    let rect = response.rect;
    let uv = egui::Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
    painter.image(texture.id(), rect, uv, Color32::WHITE);

    draw_heatmap(ui, view, &painter, rect);
    let patterns = view.state.model.info.as_ref().and_then(|m| m.patterns.clone());
    if let Some(patterns) = &patterns {
        draw_patterns(view, &painter, rect.min, zoom, patterns);
    }
    interact(ui, view, &response, rect.min, zoom);
    draw_tool_overlay(ui, view, &painter, &response, rect.min, zoom);
}

fn draw_heatmap(ui: &egui::Ui, view: &mut View<'_>, painter: &egui::Painter, rect: egui::Rect) {
    let style = view.state.settings.heatmap;
    let Some(heatmap) = &view.state.heatmap else { return };
    if !style.visible {
        return;
    }
    if view.gpu_heatmap {
        HeatmapCallback {
            plane: heatmap.plane.clone(),
            generation: heatmap.generation,
            colormap: style.colormap,
            range: heatmap.range,
            opacity: style.opacity,
        }
        .paint(painter, rect);
    } else {
        let (plane, range) = (heatmap.plane.clone(), heatmap.range);
        let texture = view.textures.get(ui.ctx(), "heatmap", heatmap.generation, egui::TextureOptions::LINEAR, || {
            let aspect = rect.width() / rect.height().max(1.0);
            let side = crate::heatmap::CPU_HEATMAP_SIDE;
            textures::rgba(&plane.colourise(
                ((side as f32) * aspect).round().max(1.0) as u32,
                side,
                style.colormap,
                range,
                style.opacity,
            ))
        });
        painter.image(texture.id(), rect, egui::Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)), Color32::WHITE);
    }
}

fn draw_patterns(view: &View<'_>, painter: &egui::Painter, origin: Pos2, zoom: f32, patterns: &PatternSet) {
    let settings = &view.state.settings;
    let (h, w) = (patterns.height(), patterns.width());
    if settings.show_grid {
        let k = patterns.grid();
        let stroke = Stroke::new(1.0, Color32::from_white_alpha(90));
        for i in 1..k {
            let y = origin.y + (i * h / k) as f32 * zoom;
            let x = origin.x + (i * w / k) as f32 * zoom;
            painter.line_segment([Pos2::new(origin.x, y), Pos2::new(origin.x + w as f32 * zoom, y)], stroke);
            painter.line_segment([Pos2::new(x, origin.y), Pos2::new(x, origin.y + h as f32 * zoom)], stroke);
        }
    }
    if !settings.show_patterns {
        return;
    }
    let Some(inference) = view.state.current_inference() else { return };
    let top = &inference.top;
    let shown = view.state.shown_pattern.or(top.first().map(|g| g.index));
    if let Some(guess) = top.iter().find(|g| Some(g.index) == shown)
        && let Some(r) = &guess.rect
    {
        let screen = crop_rect(origin, zoom, r);
        painter.rect_filled(screen, 0.0, PREDICTED.gamma_multiply(0.12));
        painter.rect_stroke(screen, 0.0, Stroke::new(3.0, PREDICTED), StrokeKind::Inside);
        painter.text(
            screen.left_top() + egui::vec2(4.0, 2.0),
            egui::Align2::LEFT_TOP,
            format!("#{} {:.0}%", guess.index, 100.0 * guess.probability),
            egui::FontId::proportional(13.0),
            PREDICTED,
        );
    }
    if let Some(label) = inference.truth
        && let Ok(Some(r)) = patterns.rect_at(label, h, w)
    {
        let screen = crop_rect(origin, zoom, &r).shrink(3.0);
        dashed_rect(painter, screen, Stroke::new(2.0, TRUE_PATTERN));
        painter.text(
            screen.right_bottom() - egui::vec2(4.0, 2.0),
            egui::Align2::RIGHT_BOTTOM,
            format!("true #{label}"),
            egui::FontId::proportional(13.0),
            TRUE_PATTERN,
        );
    }
}

fn dashed_rect(painter: &egui::Painter, r: egui::Rect, stroke: Stroke) {
    let corners = [r.left_top(), r.right_top(), r.right_bottom(), r.left_bottom(), r.left_top()];
    for pair in corners.windows(2) {
        painter.extend(egui::Shape::dashed_line(&[pair[0], pair[1]], stroke, 8.0, 5.0));
    }
}

/// Crop pixels of a screen position.
fn to_crop(p: Pos2, origin: Pos2, zoom: f32) -> [f32; 2] {
    [(p.x - origin.x) / zoom, (p.y - origin.y) / zoom]
}

/// Turns the pointer into canvas edits; the document changes when they are carried out.
fn interact(ui: &egui::Ui, view: &mut View<'_>, response: &egui::Response, origin: Pos2, zoom: f32) {
    let settings = &view.state.settings;
    let pointer = response.interact_pointer_pos().or(response.hover_pos()).map(|p| to_crop(p, origin, zoom));
    // A drag is recognised only once the pointer has moved a few pixels: it starts where the
    // button went down, not where it is now.
    let press = ui.input(|i| i.pointer.press_origin()).map(|p| to_crop(p, origin, zoom));
    let start = if response.drag_started() { press.or(pointer) } else { pointer };
    let stroke = &mut view.state.canvas.stroke;
    let mut edits = Vec::new();
    match settings.tool {
        Tool::Brush | Tool::Eraser => {
            let make = |points: Vec<[f32; 2]>| match settings.tool {
                Tool::Eraser => Op::Erase { points, radius: settings.brush_radius },
                _ => Op::Brush { points, radius: settings.brush_radius, colour: settings.colour },
            };
            if response.drag_started()
                && let Some(p) = start
            {
                *stroke = vec![p];
            }
            if response.dragged()
                && let Some(p) = pointer
            {
                // Points closer than a quarter pixel add nothing but work.
                if stroke.last().is_none_or(|q| (q[0] - p[0]).hypot(q[1] - p[1]) > 0.25) {
                    stroke.push(p);
                }
                edits.push(CanvasEdit::Preview(make(stroke.clone())));
            }
            if response.drag_stopped() {
                edits.push(CanvasEdit::CommitPreview);
                stroke.clear();
            } else if response.clicked()
                && let Some(p) = pointer
            {
                edits.push(CanvasEdit::Add(make(vec![p])));
            }
        }
        Tool::Rectangle => {
            if response.drag_started()
                && let Some(p) = start
            {
                *stroke = vec![p];
            }
            if response.dragged()
                && let (Some(p), Some(&a)) = (pointer, stroke.first())
            {
                edits.push(CanvasEdit::Preview(Op::Rect { a, b: p, colour: settings.colour }));
            }
            if response.drag_stopped() {
                edits.push(CanvasEdit::CommitPreview);
                stroke.clear();
            }
        }
        Tool::Stamp => {
            if response.drag_started()
                && let Some(p) = start
            {
                edits.push(CanvasEdit::GrabStamp(p));
            }
            if response.dragged()
                && let Some(p) = pointer
            {
                edits.push(CanvasEdit::DragStamp(p));
            }
            if response.drag_stopped() {
                edits.push(CanvasEdit::ReleaseStamp);
            } else if response.clicked()
                && let Some(p) = pointer
            {
                edits.push(CanvasEdit::ClickStamp(p));
            }
            // The wheel over a stamp scales it (with Shift: rotates it) instead of scrolling.
            let over_stamp = pointer.filter(|&p| view.state.probe().is_some_and(|f| f.doc.stamp_at(p).is_some()));
            if let (true, Some(at)) = (response.hovered(), over_stamp) {
                // egui turns a vertical wheel into horizontal scrolling while Shift is held.
                let (delta, rotate) = ui.input(|i| (i.smooth_scroll_delta, i.modifiers.shift));
                let scroll = if rotate { delta.x + delta.y } else { delta.y };
                if scroll != 0.0 {
                    ui.input_mut(|i| i.smooth_scroll_delta = egui::Vec2::ZERO);
                    edits.push(CanvasEdit::WheelStamp { at, scroll, rotate });
                }
            }
        }
    }
    if !edits.is_empty() {
        ui.ctx().request_repaint();
    }
    view.commands.extend(edits.into_iter().map(Command::Canvas));
}

fn draw_tool_overlay(
    ui: &egui::Ui,
    view: &View<'_>,
    painter: &egui::Painter,
    response: &egui::Response,
    origin: Pos2,
    zoom: f32,
) {
    let settings = &view.state.settings;
    // The stamp the size and rotation sliders edit, outlined while the stamp tool is on.
    if settings.tool == Tool::Stamp
        && let Some(probe) = view.state.probe()
        && let Some((_, s)) = view.state.canvas.selected_stamp_in(probe.id, &probe.doc)
    {
        let centre = origin + egui::vec2(s.centre[0], s.centre[1]) * zoom;
        painter.circle_stroke(centre, s.size / 2.0 * zoom + 2.0, Stroke::new(1.0, Color32::WHITE));
    }
    let Some(hover) = response.hover_pos() else { return };
    match settings.tool {
        Tool::Brush | Tool::Eraser => {
            painter.circle_stroke(hover, settings.brush_radius * zoom, Stroke::new(1.5, Color32::WHITE));
            painter.circle_stroke(hover, settings.brush_radius * zoom + 1.5, Stroke::new(1.0, Color32::BLACK));
        }
        Tool::Stamp => {
            let Some(probe) = view.state.probe() else { return };
            let p = to_crop(hover, origin, zoom);
            if let Some(i) = probe.doc.stamp_at(p)
                && let Op::Stamp(s) = &probe.doc.ops()[i]
            {
                let centre = origin + egui::vec2(s.centre[0], s.centre[1]) * zoom;
                painter.circle_stroke(centre, s.size / 2.0 * zoom, Stroke::new(1.5, PREDICTED));
                ui.ctx().set_cursor_icon(egui::CursorIcon::Grab);
            }
        }
        Tool::Rectangle => ui.ctx().set_cursor_icon(egui::CursorIcon::Crosshair),
    }
}
