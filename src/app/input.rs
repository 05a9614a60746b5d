//! Window-wide input: keyboard shortcuts, files dropped on the window, paths pasted into it.

use std::path::PathBuf;

use eframe::egui::{self, Key, KeyboardShortcut, Modifiers};

use super::command::Command;
use super::messages::DialogKind;
use super::settings::Tool;
use super::state::AppState;

const REDO: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::Z);
const REDO_Y: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Y);
const UNDO: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Z);
const OPEN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
const SAVE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);

/// Every shortcut and gesture, as the Help window lists them (kept beside the code handling them).
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Ctrl+O", "open photos"),
    ("Ctrl+S", "save the session"),
    ("Ctrl+Z", "undo"),
    ("Ctrl+Shift+Z, Ctrl+Y", "redo"),
    ("Ctrl+V", "paste photo paths or an image (a face copied from a browser)"),
    ("B / E / R / S", "brush / eraser / rectangle / stamp tool"),
    ("drag on the face", "paint, erase, draw a box, or move a stamp"),
    ("click (stamp tool)", "place the selected occluder"),
    ("wheel over a stamp", "scale it"),
    ("Shift+wheel over a stamp", "rotate it"),
    ("size / rotation sliders", "resize / rotate the stamp last placed or grabbed (outlined)"),
    ("drag a landmark", "re-align the face by hand"),
    ("drop files on the window", "open photos, a model or a session (on the gallery: as references)"),
    ("F1", "this list"),
];

pub fn handle(ctx: &egui::Context, state: &mut AppState, commands: &mut Vec<Command>) {
    let typing = ctx.egui_wants_keyboard_input();
    ctx.input_mut(|i| {
        // Redo first: egui matches shortcuts ignoring extra Shift, so Ctrl+Z would swallow it.
        if i.consume_shortcut(&REDO) || i.consume_shortcut(&REDO_Y) {
            commands.push(Command::Redo);
        } else if !typing && i.consume_shortcut(&UNDO) {
            commands.push(Command::Undo);
        }
        if i.consume_shortcut(&OPEN) {
            commands.push(Command::Dialog(DialogKind::OpenFaces));
        }
        if i.consume_shortcut(&SAVE) {
            commands.push(Command::Dialog(DialogKind::SaveSession));
        }
        if i.key_pressed(Key::F1) {
            state.show_help = !state.show_help;
        }
        if !typing && i.modifiers.is_none() {
            for (key, tool) in
                [(Key::B, Tool::Brush), (Key::E, Tool::Eraser), (Key::R, Tool::Rectangle), (Key::S, Tool::Stamp)]
            {
                if i.key_pressed(key) {
                    state.settings.tool = tool;
                }
            }
        }
    });

    let (dropped, pointer) = ctx.input(|i| {
        let paths: Vec<PathBuf> = i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect();
        (paths, i.pointer.latest_pos())
    });
    if !dropped.is_empty() {
        let on_gallery = matches!((state.gallery_rect, pointer), (Some(r), Some(p)) if r.contains(p));
        commands.push(Command::OpenAny { paths: dropped, as_references: on_gallery });
    }

    if !typing {
        let (mut pasted, mut images) = (Vec::<PathBuf>::new(), Vec::new());
        ctx.input(|i| {
            for event in &i.events {
                match event {
                    egui::Event::Paste(text) => pasted.extend(paths_in(text)),
                    egui::Event::PasteImage(image) => images.push(image.clone()),
                    _ => {}
                }
            }
        });
        if !pasted.is_empty() {
            commands.push(Command::OpenAny { paths: pasted, as_references: false });
        }
        commands.extend(images.into_iter().map(Command::OpenPastedImage));
    }

    draw_drop_hint(ctx, state);
}

/// The existing files named in pasted text: one per line, plain or `file://` URLs.
pub fn paths_in(text: &str) -> Vec<PathBuf> {
    text.lines()
        .map(|l| l.trim().trim_matches('"').trim_matches('\''))
        .map(|l| l.strip_prefix("file://").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect()
}

fn draw_drop_hint(ctx: &egui::Context, state: &AppState) {
    let hovering = ctx.input(|i| i.raw.hovered_files.len());
    if hovering == 0 {
        return;
    }
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::unique("maskscope-drop")));
    let screen = ctx.content_rect();
    painter.rect_filled(screen, 0.0, egui::Color32::from_black_alpha(150));
    let text = format!(
        "Drop {hovering} file(s): photos open as the face to paint (on the gallery: as references); \
         .bpk/.pth.tar/.safetensors load a model; .json opens a session"
    );
    painter.text(
        screen.center(),
        egui::Align2::CENTER_CENTER,
        text,
        egui::FontId::proportional(20.0),
        egui::Color32::WHITE,
    );
    if let Some(rect) = state.gallery_rect {
        painter.rect_stroke(rect, 4.0, egui::Stroke::new(3.0, egui::Color32::LIGHT_GREEN), egui::StrokeKind::Inside);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_text_yields_existing_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("face.jpg");
        std::fs::write(&file, b"x").unwrap();
        let text = format!("file://{}\n  /does/not/exist.jpg \n\"{}\"", file.display(), file.display());
        assert_eq!(paths_in(&text), vec![file.clone(), file]);
        assert!(paths_in("hello").is_empty());
    }
}
