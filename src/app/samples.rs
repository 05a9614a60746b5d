//! The bundled sample faces (`assets/samples`, LFW photos; see its README): what the app opens
//! on first start, so that it shows something useful without any setup.

use std::path::PathBuf;

use crate::assets;

/// Folder of the sample photos.
pub const SAMPLES_DIR: &str = "samples";
/// The sample painted first, and the two references shown against it: the same person in
/// another photo, and someone else.
pub const FIRST_SAMPLE: &str = "Colin_Powell_0038.jpg";
pub const DEFAULT_REFERENCES: [&str; 2] = ["Colin_Powell_0074.jpg", "Laura_Bush_0016.jpg"];

pub fn samples_dir() -> PathBuf {
    assets::assets_dir().join(SAMPLES_DIR)
}

/// The sample photos, sorted by name, the first sample first.
pub fn sample_paths() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(samples_dir()) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("png")))
        .collect();
    paths.sort_by_key(|p| (!is_named(p, FIRST_SAMPLE), p.file_name().map(|n| n.to_os_string())));
    paths
}

pub fn is_named(path: &std::path::Path, name: &str) -> bool {
    path.file_name().is_some_and(|n| n == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_bundled_first_sample_first() {
        let paths = sample_paths();
        assert!(paths.len() >= 4, "{paths:?}");
        assert!(is_named(&paths[0], FIRST_SAMPLE));
        for name in DEFAULT_REFERENCES {
            assert!(paths.iter().any(|p| is_named(p, name)), "{name} missing");
        }
    }
}
