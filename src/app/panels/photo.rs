//! The photo of the face being painted, with the detector's boxes (click one to use that face)
//! and the five landmarks, which can be dragged to fix a bad alignment.

use eframe::egui::{self, Color32, Pos2, RichText, Sense, Stroke};

use super::View;
use crate::align::FaceTemplate;
use crate::app::command::Command;
use crate::app::textures;
use crate::face::{FacePick, pick_face};

const LANDMARK_NAMES: [&str; 5] = [
    "landmark: left eye",
    "landmark: right eye",
    "landmark: nose",
    "landmark: left mouth corner",
    "landmark: right mouth corner",
];
const LANDMARK_RADIUS: f32 = 5.0;

pub fn show(ui: &mut egui::Ui, view: &mut View<'_>) {
    let Some(face) = view.state.probe() else { return };
    let Some(photo) = face.photo.clone() else { return };
    let id = face.id;
    ui.label(RichText::new(format!("{} ({}x{})", face.name, photo.width(), photo.height())).strong());
    let texture = view
        .textures
        .get(ui.ctx(), &format!("face-{}-photo", id.0), 0, egui::TextureOptions::LINEAR, || textures::rgb(&photo));
    let width = ui.available_width().min(360.0);
    let scale = width / photo.width() as f32;
    let size = egui::vec2(photo.width() as f32, photo.height() as f32) * scale;
    let (rect, response) = ui.allocate_exact_size(size, Sense::click());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, "Photo"));
    let painter = ui.painter_at(rect);
    painter.image(texture.id(), rect, egui::Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)), Color32::WHITE);
    let to_screen = |x: f64, y: f64| rect.min + egui::vec2(x as f32, y as f32) * scale;

    let face = view.state.probe().expect("checked above");
    let detections = face.detections.clone();
    let chosen = face.chosen;
    let landmarks = face.landmarks;
    let hand_placed = face.hand_placed;
    let given_template = face.given_template;
    for (i, d) in detections.iter().enumerate() {
        let [x1, y1, x2, y2] = d.bbox.map(f64::from);
        let r = egui::Rect::from_two_pos(to_screen(x1, y1), to_screen(x2, y2));
        let colour = if chosen == Some(i) { Color32::LIGHT_GREEN } else { Color32::from_rgb(255, 140, 0) };
        painter.rect_stroke(r, 0.0, Stroke::new(2.0, colour), egui::StrokeKind::Middle);
        painter.text(
            r.left_top(),
            egui::Align2::LEFT_BOTTOM,
            format!("{} {:.2}", i + 1, d.score),
            egui::FontId::proportional(11.0),
            colour,
        );
        if response.clicked()
            && chosen != Some(i)
            && let Some(p) = response.interact_pointer_pos()
            && r.contains(p)
        {
            view.commands.push(Command::PickDetection(id, i));
        }
    }
    if let Some(points) = landmarks {
        for (i, [x, y]) in points.iter().enumerate() {
            let centre = to_screen(*x, *y);
            let handle = egui::Rect::from_center_size(centre, egui::Vec2::splat(LANDMARK_RADIUS * 3.0));
            let point = ui.interact(handle, ui.scope_id().with(("landmark", id.0, i)), Sense::drag());
            let point = point.on_hover_text(format!("{}: drag to fix the alignment", LANDMARK_NAMES[i]));
            point.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, LANDMARK_NAMES[i]));
            if point.dragged()
                && let Some(p) = point.interact_pointer_pos()
            {
                let p = p.clamp(rect.min, rect.max);
                let to = [f64::from((p.x - rect.min.x) / scale), f64::from((p.y - rect.min.y) / scale)];
                view.commands.push(Command::MoveLandmark { face: id, index: i, to });
            }
            let active = point.hovered() || point.dragged();
            painter.circle_filled(
                centre,
                LANDMARK_RADIUS,
                if active { Color32::YELLOW } else { Color32::from_rgb(255, 60, 60) },
            );
            painter.circle_stroke(centre, LANDMARK_RADIUS, Stroke::new(1.0, Color32::BLACK));
        }
    }
    ui.horizontal_wrapped(|ui| {
        let mut pick = view.state.settings.face_pick;
        egui::ComboBox::from_label("face")
            .selected_text(pick.name())
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut pick, FacePick::Largest, "largest");
                ui.selectable_value(&mut pick, FacePick::Central, "central");
            })
            .response
            .on_hover_text(
                "Which face of a photo with several is used when it opens: the largest, or the one \
                 nearest the centre (where LFW-style datasets put the labelled person). Remembered.",
            );
        if pick != view.state.settings.face_pick {
            view.state.settings.face_pick = pick;
            if let Some(index) = pick_face(&detections, photo.width(), photo.height(), pick)
                && chosen != Some(index)
                && !hand_placed
            {
                view.commands.push(Command::PickDetection(id, index));
            }
        }
        let mut aligned = view.state.settings.photos_aligned;
        let fits = FaceTemplate::for_size(photo.height() as usize, photo.width() as usize).is_some();
        if ui
            .checkbox(&mut aligned, "aligned crop")
            .on_hover_text(
                "Take photos of an aligned template's size (96x112 or 112x112, w x h) as aligned crops, as \
                 `--aligned` does: the template's five points are used, not the detector's. Remembered.",
            )
            .changed()
        {
            view.state.settings.photos_aligned = aligned;
            if fits || !aligned {
                view.commands.push(Command::TakeAsAligned(id, aligned));
            }
        }
        if let Some(given) = given_template {
            ui.label(format!("an aligned {} crop: the red points are the template's", given.name()));
        } else if aligned && !fits {
            ui.label(format!("{}x{}: not an aligned crop's size, so detected", photo.width(), photo.height()));
        }
        if detections.len() > 1 {
            ui.label(format!("{} faces: click a box to pick one.", detections.len()));
        }
        if hand_placed && !detections.is_empty() && ui.button("Reset to detected").clicked() {
            view.commands.push(Command::ResetLandmarks(id));
        }
        if ui
            .button("Place points by hand")
            .on_hover_text("Put the five points in the middle, then drag them")
            .clicked()
        {
            view.commands.push(Command::PlaceLandmarksByHand(id));
        }
    });
    if detections.is_empty() && given_template.is_none() {
        ui.label(
            RichText::new("No face was detected: drag the five points onto the eyes, nose tip and mouth corners.")
                .color(Color32::from_rgb(255, 170, 60)),
        );
    }
}
