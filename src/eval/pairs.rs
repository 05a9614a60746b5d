//! The LFW `pairs.txt` family: a header (`N` or `folds N`), then `name i j` (same person) and
//! `name1 i name2 j` (different people) lines; images at `root/Name/Name_%04d.jpg`.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePair {
    pub a: PathBuf,
    pub b: PathBuf,
    pub same: bool,
    /// 1-based line in the pairs file, for messages.
    pub line: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PairsError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Malformed { path: PathBuf, line: usize, message: String },
}

/// `root/Name/Name_0007.jpg`
pub fn lfw_image_path(root: &Path, name: &str, number: u32) -> PathBuf {
    root.join(name).join(format!("{name}_{number:04}.jpg"))
}

/// Reads a pairs file; image paths are resolved under `root`.
pub fn read_pairs(path: &Path, root: &Path) -> Result<Vec<ImagePair>, PairsError> {
    let text = std::fs::read_to_string(path).map_err(|source| PairsError::Io { path: path.to_path_buf(), source })?;
    parse_pairs(&text, path, root)
}

pub fn parse_pairs(text: &str, path: &Path, root: &Path) -> Result<Vec<ImagePair>, PairsError> {
    let bad = |line: usize, message: String| PairsError::Malformed { path: path.to_path_buf(), line, message };
    let number = |line: usize, field: &str| -> Result<u32, PairsError> {
        field.parse().map_err(|_| bad(line, format!("'{field}' is not an image number")))
    };
    let mut pairs = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let fields: Vec<&str> = raw.split_whitespace().collect();
        match fields.as_slice() {
            [] => {}
            // The header: a pair count, or "folds pairs_per_fold" (View 2 writes "10 300").
            [n] if index == 0 && n.parse::<usize>().is_ok() => {}
            [a, b] if index == 0 && a.parse::<usize>().is_ok() && b.parse::<usize>().is_ok() => {}
            [name, i, j] => pairs.push(ImagePair {
                a: lfw_image_path(root, name, number(line, i)?),
                b: lfw_image_path(root, name, number(line, j)?),
                same: true,
                line,
            }),
            [name1, i, name2, j] => pairs.push(ImagePair {
                a: lfw_image_path(root, name1, number(line, i)?),
                b: lfw_image_path(root, name2, number(line, j)?),
                same: false,
                line,
            }),
            other => return Err(bad(line, format!("expected 3 or 4 fields, found {}", other.len()))),
        }
    }
    if pairs.is_empty() {
        return Err(bad(1, "no pairs".into()));
    }
    Ok(pairs)
}
