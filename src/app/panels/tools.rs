//! The occluder tools above the face: tool choice and size, paint colour, the stamp library,
//! the Figure-1 region presets, the random Occ-LFW-2.0 occluder, undo/redo/clear.

use eframe::egui;

use super::View;
use crate::app::canvas_edit::CanvasEdit;
use crate::app::command::Command;
use crate::app::document::OccluderRef;
use crate::app::settings::{RegionFill, Tool};
use crate::occlusion::Region;

pub fn show(ui: &mut egui::Ui, view: &mut View<'_>) {
    let (can_undo, can_redo, has_face) =
        view.state.probe().map_or((false, false, false), |p| (p.doc.can_undo(), p.doc.can_redo(), p.is_ready()));
    ui.horizontal_wrapped(|ui| {
        let settings = &mut view.state.settings;
        for tool in Tool::ALL {
            ui.selectable_value(&mut settings.tool, tool, tool.label()).on_hover_text(tool.hint());
        }
        ui.separator();
        ui.add(egui::Slider::new(&mut settings.zoom, 2.0..=6.0).step_by(0.5).text("zoom"));
    });
    // The same height of options whatever the tool (two rows: the stamp's), so that the face
    // does not jump when the tool changes.
    ui.vertical(|ui| {
        let spacing = ui.spacing();
        ui.set_min_height(2.0 * (spacing.interact_size.y + spacing.item_spacing.y));
        tool_options(ui, view);
    });
    presets_and_history(ui, view, has_face, can_undo, can_redo);
}

fn tool_options(ui: &mut egui::Ui, view: &mut View<'_>) {
    ui.horizontal_wrapped(|ui| {
        let settings = &mut view.state.settings;
        match settings.tool {
            Tool::Brush | Tool::Eraser => {
                ui.add(egui::Slider::new(&mut settings.brush_radius, 1.0..=30.0).text("radius"));
            }
            Tool::Stamp => stamp_picker(ui, view),
            Tool::Rectangle => {}
        }
        let settings = &mut view.state.settings;
        if settings.tool != Tool::Eraser && settings.tool != Tool::Stamp {
            ui.label("colour");
            ui.color_edit_button_srgb(&mut settings.colour).on_hover_text("Paint colour");
        }
    });
}

fn presets_and_history(ui: &mut egui::Ui, view: &mut View<'_>, has_face: bool, can_undo: bool, can_redo: bool) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Regions:");
        let fill = view.state.settings.region_fill;
        for region in Region::ALL {
            let label = region.name().replace('_', " ");
            let hover =
                format!("Occlude this Figure-1 region with {}; replaces the previous region", fill.description());
            if ui.add_enabled(has_face, egui::Button::new(label)).on_hover_text(hover).clicked() {
                view.push(Command::ApplyRegion(region));
            }
        }
        egui::ComboBox::from_label("fill")
            .selected_text(fill.label())
            .show_ui(ui, |ui| {
                for choice in RegionFill::ALL {
                    ui.selectable_value(&mut view.state.settings.region_fill, choice, choice.label())
                        .on_hover_text(choice.description());
                }
            })
            .response
            .on_hover_text("What the region buttons fill their box with");
    });
    ui.horizontal_wrapped(|ui| {
        if ui.add_enabled(has_face, egui::Button::new("Random occluder (Occ-LFW-2.0)")).clicked() {
            view.push(Command::RandomOcclusion);
        }
        ui.separator();
        if ui.add_enabled(can_undo, egui::Button::new("Undo")).on_hover_text("Ctrl+Z").clicked() {
            view.push(Command::Undo);
        }
        if ui.add_enabled(can_redo, egui::Button::new("Redo")).on_hover_text("Ctrl+Shift+Z").clicked() {
            view.push(Command::Redo);
        }
        if ui
            .add_enabled(has_face, egui::Button::new("Clear"))
            .on_hover_text("Remove every occluder (undoable)")
            .clicked()
        {
            view.push(Command::Clear);
        }
    });
}

fn stamp_picker(ui: &mut egui::Ui, view: &mut View<'_>) {
    let Some(library) = view.state.library.clone() else {
        ui.label("Loading the occluder library…");
        return;
    };
    let settings = &mut view.state.settings;
    let current = settings.stamp.clone().unwrap_or(OccluderRef { class: String::new(), name: String::new() });
    {
        egui::ComboBox::from_label("class").selected_text(current.class.replace('_', " ")).show_ui(ui, |ui| {
            for class in library.classes() {
                let first = library.of_class(class).next().map(|o| o.name.clone()).unwrap_or_default();
                let selected = current.class == *class;
                if ui.selectable_label(selected, class.replace('_', " ")).clicked() && !selected {
                    settings.stamp = Some(OccluderRef { class: class.clone(), name: first });
                }
            }
        });
        egui::ComboBox::from_label("occluder").selected_text(current.name.replace('_', " ")).show_ui(ui, |ui| {
            for o in library.of_class(&current.class) {
                if ui.selectable_label(current.name == o.name, o.name.replace('_', " ")).clicked() {
                    settings.stamp = Some(OccluderRef { class: o.class.clone(), name: o.name.clone() });
                }
            }
        });
        // Size and rotation on a row of their own: in a narrow central panel the wrapped row ran
        // them under the inspector.
        ui.end_row();
    }
    stamp_size_and_rotation(ui, view);
}

/// The size and rotation sliders: of the selected placed stamp when there is one (what was last
/// placed, grabbed or scrolled), and always of the next stamp placed.
fn stamp_size_and_rotation(ui: &mut egui::Ui, view: &mut View<'_>) {
    let state = &*view.state;
    let selected = state
        .probe()
        .and_then(|probe| state.canvas.selected_stamp_in(probe.id, &probe.doc))
        .map(|(_, s)| (s.size, s.rotation));
    let settings = &mut view.state.settings;
    let (mut size, mut rotation) = match selected {
        // Shown as the slider's -180..180, whatever turn the wheel left the stamp at.
        Some((size, rotation)) => (size, (rotation + 180.0).rem_euclid(360.0) - 180.0),
        None => (settings.stamp_size, settings.stamp_rotation),
    };
    let target = if selected.is_some() { "the selected stamp (and the next one)" } else { "the next stamp placed" };
    let size_changed = ui
        .add(egui::Slider::new(&mut size, 4.0..=200.0).text("size"))
        .on_hover_text(format!("Size of {target}, pixels of the aligned face; scroll over a stamp to scale it"))
        .changed();
    let rotation_changed = ui
        .add(egui::Slider::new(&mut rotation, -180.0..=180.0).suffix("°").text("rotation"))
        .on_hover_text(format!("Rotation of {target}; Shift+scroll over a stamp to rotate it"))
        .changed();
    if size_changed || rotation_changed {
        (settings.stamp_size, settings.stamp_rotation) = (size, rotation);
        if selected.is_some() {
            view.push(Command::Canvas(CanvasEdit::ResizeSelected { size, rotation }));
        }
    }
    if selected.is_some() {
        ui.label("editing the selected stamp").on_hover_text("Click an empty spot to place a new one");
    }
}
