//! Short messages in the corner: errors from bad input, notices from the jobs. They fade by
//! themselves so that a mistake never needs a dialog to dismiss.

use std::time::{Duration, Instant};

use eframe::egui;

const ERROR_LIFETIME: Duration = Duration::from_secs(8);
const INFO_LIFETIME: Duration = Duration::from_secs(4);
const MAX_TOASTS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

#[derive(Debug, Clone)]
pub struct Toast {
    pub level: Level,
    pub text: String,
    created: Instant,
}

#[derive(Debug, Default)]
pub struct Toasts {
    list: Vec<Toast>,
}

impl Toasts {
    pub fn error(&mut self, text: impl Into<String>) {
        self.push(Level::Error, text.into());
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.push(Level::Info, text.into());
    }

    fn push(&mut self, level: Level, text: String) {
        // The same error from every frame of a drag shows once.
        if self.list.iter().any(|t| t.text == text) {
            return;
        }
        if self.list.len() >= MAX_TOASTS {
            self.list.remove(0);
        }
        self.list.push(Toast { level, text, created: Instant::now() });
    }

    pub fn iter(&self) -> impl Iterator<Item = &Toast> {
        self.list.iter()
    }

    /// Draws the live toasts at the bottom right and drops the expired ones.
    pub fn show(&mut self, ctx: &egui::Context) {
        let now = Instant::now();
        self.list.retain(|t| now.duration_since(t.created) < lifetime(t.level));
        if self.list.is_empty() {
            return;
        }
        let mut closed = None;
        egui::Area::new(egui::Id::unique("maskscope-toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -36.0))
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                ui.set_max_width(420.0);
                for (i, toast) in self.list.iter().enumerate() {
                    let (fill, label) = match toast.level {
                        Level::Error => (egui::Color32::from_rgb(120, 30, 30), "Error"),
                        Level::Info => (egui::Color32::from_rgb(30, 60, 100), "Note"),
                    };
                    egui::Frame::new().fill(fill).corner_radius(6.0).inner_margin(8.0).show(ui, |ui| {
                        ui.set_max_width(400.0);
                        // Long messages (a checkpoint's missing keys) wrap instead of running off
                        // the screen.
                        let text = egui::RichText::new(format!("{label}: {}", toast.text)).color(egui::Color32::WHITE);
                        ui.add(egui::Label::new(text).wrap());
                        if ui.small_button("x").on_hover_text("Dismiss").clicked() {
                            closed = Some(i);
                        }
                    });
                    ui.add_space(4.0);
                }
            });
        if let Some(i) = closed {
            self.list.remove(i);
        }
        // Repaint when the next toast expires, even if nothing else happens.
        if let Some(next) =
            self.list.iter().map(|t| lifetime(t.level).saturating_sub(now.duration_since(t.created))).min()
        {
            ctx.request_repaint_after(next);
        }
    }
}

fn lifetime(level: Level) -> Duration {
    match level {
        Level::Error => ERROR_LIFETIME,
        Level::Info => INFO_LIFETIME,
    }
}
