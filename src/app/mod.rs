//! The workbench GUI (eframe 0.37 on wgpu): paint occluders on an aligned face and watch FROM's
//! feature mask, predicted occlusion pattern and similarity to reference faces change live.
//!
//! Built like egui's demo app: [`Workbench`] owns an [`state::AppState`]; the panels (in
//! `panels/`) read it, write what the user edits and emit [`command::Command`]s; `dispatch`
//! carries the commands out; [`jobs`] owns the model on worker threads and posts results back
//! with `request_repaint`. The model-side pieces ([`engine`], [`analysis`], [`document`],
//! [`sensitivity`], and `crate::heatmap`) have no UI and are shared with `maskscope bench gui`.

pub mod analysis;
pub mod bench;
pub mod canvas_edit;
pub mod command;
pub mod dialogs;
mod dispatch;
pub mod document;
pub mod engine;
mod events;
pub mod export;
pub mod file_browser;
pub mod heatmap_gpu;
pub mod ids;
mod input;
pub mod jobs;
mod launch;
pub mod messages;
mod panels;
pub mod samples;
pub mod sensitivity;
pub mod session;
pub mod settings;
pub mod stamp;
pub mod state;
mod textures;
pub mod toasts;
mod workbench;

pub use launch::{GuiArgs, launch, native_options};
pub use workbench::{AppOptions, Workbench};
