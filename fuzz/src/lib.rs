//! What the fuzz targets share: the readers take paths, so each input is written to a file of
//! this process first.

use std::path::PathBuf;

/// Writes `bytes` to a file named `name` in this process's scratch folder and returns its path.
pub fn input_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("maskscope-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("scratch file");
    path
}
