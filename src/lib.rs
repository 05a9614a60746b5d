//! maskscope: a workbench for occluded face recognition built around FROM (Qiu et al.,
//! "End2End Occluded Face Recognition by Masking Corrupted Features", TPAMI 2021).

pub mod align;
pub mod app;
pub mod assets;
pub mod checkpoint;
pub mod cli;
pub mod cpu;
pub mod device;
pub mod error_text;
pub mod eval;
pub mod face;
pub mod heatmap;
pub mod input_file;
pub mod model;
pub mod mtcnn;
pub mod occlusion;
pub mod patterns;
pub mod train;
