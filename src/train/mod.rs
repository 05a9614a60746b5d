//! `maskscope train`: FROM heads on the pretrained MobileFaceNet, trained on faces occluded by
//! pasted occluders (see `crate::occlusion`), with CosFace and/or distillation plus the pattern
//! loss.

pub mod config;
pub mod data;
pub mod losses;
pub mod pattern_template;
pub mod prefix;
pub mod run;
pub mod step;
pub mod validation;

pub use config::TrainConfig;
pub use run::{TrainError, TrainEvent, TrainInputs, train};
