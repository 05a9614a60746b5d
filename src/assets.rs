//! Where the bundled models and occluders live: `$MASKSCOPE_ASSETS`, else `assets/` beside the
//! executable, else the source checkout's `assets/` (for `cargo run`).

use std::path::PathBuf;

pub const ASSETS_ENV: &str = "MASKSCOPE_ASSETS";
/// The bundled face embedder (MobileFaceNet converted from the TF.js graph).
pub const MOBILEFACENET_RECORD: &str = "mobilefacenet.bpk";
/// The bundled default FROM model (heads trained by `maskscope train` on MobileFaceNet).
pub const FROM_MODEL_RECORD: &str = "from_mobilefacenet.bpk";
/// Folder of the MTCNN weights.
pub const MTCNN_DIR: &str = "mtcnn";
/// Folder of the occluder library (`<class>/*.png`).
pub const OCCLUDERS_DIR: &str = "occluders";

pub fn assets_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(ASSETS_ENV) {
        return PathBuf::from(dir);
    }
    if let Some(beside) = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join("assets")))
        && beside.is_dir()
    {
        return beside;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
}

pub fn mobilefacenet_record() -> PathBuf {
    assets_dir().join(MOBILEFACENET_RECORD)
}

pub fn from_model_record() -> PathBuf {
    assets_dir().join(FROM_MODEL_RECORD)
}

pub fn mtcnn_dir() -> PathBuf {
    assets_dir().join(MTCNN_DIR)
}

pub fn occluders_dir() -> PathBuf {
    assets_dir().join(OCCLUDERS_DIR)
}
