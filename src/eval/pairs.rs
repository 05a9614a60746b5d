//! Pairs files. Two layouts:
//!
//! * the LFW `pairs.txt` family: a header (`N` or `folds N`), then `name i j` (same person) and
//!   `name1 i name2 j` (different people) lines; images at `root/Name/Name_%04d.jpg`;
//! * CSV, `path_a,path_b,same`, one pair a line, for data sets that are not LFW.
//!
//! Order is kept as in the file: the 10-fold protocol (`verification::kfold_accuracy`) takes folds
//! as blocks of consecutive pairs, which is how LFW View 2 lays out its folds.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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

/// What an LFW header announces: `folds` blocks of `per_class` same-person pairs followed by
/// `per_class` different-people pairs. View 2's `10 300` is 10 folds; View 1's single number
/// (`1100` in pairsDevTrain.txt) is one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldLayout {
    pub folds: usize,
    pub per_class: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairsFormat {
    Lfw,
    Csv,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairsFile {
    pub format: PairsFormat,
    pub pairs: Vec<ImagePair>,
    /// From the LFW header, checked against the lines; `None` for CSV or a headerless file.
    pub layout: Option<FoldLayout>,
}

/// `root/Name/Name_0007.jpg`
pub fn lfw_image_path(root: &Path, name: &str, number: u32) -> PathBuf {
    root.join(name).join(format!("{name}_{number:04}.jpg"))
}

/// Largest pairs file read (LFW View 2's pairs.txt is 100 KB).
pub const MAX_PAIRS_BYTES: u64 = 256 << 20;

/// The text of a pairs file: only a regular file (a FIFO would block, a device never end) of at
/// most [`MAX_PAIRS_BYTES`].
fn read_text(path: &Path) -> Result<String, PairsError> {
    let io = |source| PairsError::Io { path: path.to_path_buf(), source };
    let bytes = crate::input_file::read(path, MAX_PAIRS_BYTES).map_err(io)?;
    String::from_utf8(bytes).map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

fn malformed(path: &Path, line: usize, message: String) -> PairsError {
    PairsError::Malformed { path: path.to_path_buf(), line, message }
}

/// Reads a pairs file; image paths are resolved under `root`.
pub fn read_pairs(path: &Path, root: &Path) -> Result<Vec<ImagePair>, PairsError> {
    parse_pairs(&read_text(path)?, path, root)
}

pub fn parse_pairs(text: &str, path: &Path, root: &Path) -> Result<Vec<ImagePair>, PairsError> {
    parse_lfw(text, path, root).map(|(pairs, _)| pairs)
}

/// The pairs and the header's numbers as written, unchecked.
fn parse_lfw(text: &str, path: &Path, root: &Path) -> Result<(Vec<ImagePair>, Option<FoldLayout>), PairsError> {
    let bad = |line: usize, message: String| malformed(path, line, message);
    let number = |line: usize, field: &str| -> Result<u32, PairsError> {
        field.parse().map_err(|_| bad(line, format!("'{field}' is not an image number")))
    };
    let mut pairs = Vec::new();
    let mut layout = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let fields: Vec<&str> = raw.split_whitespace().collect();
        match fields.as_slice() {
            [] => {}
            // The header: a pair count, or "folds pairs_per_fold" (View 2 writes "10 300").
            [n] if index == 0 && n.parse::<usize>().is_ok() => {
                layout = Some(FoldLayout { folds: 1, per_class: n.parse().unwrap() });
            }
            [a, b] if index == 0 && a.parse::<usize>().is_ok() && b.parse::<usize>().is_ok() => {
                layout = Some(FoldLayout { folds: a.parse().unwrap(), per_class: b.parse().unwrap() });
            }
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
    Ok((pairs, layout))
}

/// Like [`parse_pairs`], but also returns the header's fold layout, after checking that the
/// lines follow it (pair count, and same-person lines before different-people lines in every
/// fold): if they did not, the consecutive folds of the evaluation would not be the file's folds.
pub fn parse_pairs_file(text: &str, path: &Path, root: &Path) -> Result<PairsFile, PairsError> {
    let (pairs, mut layout) = parse_lfw(text, path, root)?;
    // A lone number may also be a plain pair count, as in files derived from LFW's.
    if layout.is_some_and(|l| l.folds == 1 && l.per_class == pairs.len()) {
        layout = None;
    }
    if let Some(FoldLayout { folds, per_class }) = layout {
        let expected = folds * 2 * per_class;
        if pairs.len() != expected {
            return Err(malformed(
                path,
                1,
                format!(
                    "header announces {folds} fold(s) of {per_class} same + {per_class} different pairs ({expected}), the file has {}",
                    pairs.len()
                ),
            ));
        }
        for (index, pair) in pairs.iter().enumerate() {
            let same = index % (2 * per_class) < per_class;
            if pair.same != same {
                let fold = index / (2 * per_class) + 1;
                let kind = if same { "same-person" } else { "different-people" };
                return Err(malformed(
                    path,
                    pair.line,
                    format!("fold {fold} should have a {kind} pair here (header: {folds} {per_class})"),
                ));
            }
        }
    }
    Ok(PairsFile { format: PairsFormat::Lfw, pairs, layout })
}

/// `same` column values, case-insensitive.
fn parse_same(field: &str) -> Option<bool> {
    match field.to_ascii_lowercase().as_str() {
        "1" | "true" | "same" => Some(true),
        "0" | "false" | "different" => Some(false),
        _ => None,
    }
}

/// CSV pairs: `path_a,path_b,same`, `same` one of 1/0/true/false/same/different.
///
/// Relative paths are resolved against `base` (absolute ones are kept). The first record is a
/// header, and skipped, when its third field is not a `same` value or its first two fields are
/// `path_a,path_b` (needed because the header name `same` is itself a valid value). Blank lines
/// and lines starting with `#` are skipped. Fields may be quoted (a path with a comma), but a
/// record must fit on one line: lines are read one by one so that errors give the file's line
/// (the csv crate's own count skips comment lines).
pub fn parse_pairs_csv(text: &str, path: &Path, base: &Path) -> Result<Vec<ImagePair>, PairsError> {
    let mut pairs = Vec::new();
    let mut first = true;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).trim(csv::Trim::All).from_reader(trimmed.as_bytes());
        let record = match reader.records().next() {
            Some(Ok(record)) => record,
            Some(Err(e)) => return Err(malformed(path, line, e.to_string())),
            None => continue,
        };
        let fields: Vec<&str> = record.iter().collect();
        let [a, b, same] = fields.as_slice() else {
            return Err(malformed(
                path,
                line,
                format!("expected 3 fields (path_a,path_b,same), found {}", fields.len()),
            ));
        };
        let label = parse_same(same);
        let named = a.eq_ignore_ascii_case("path_a") && b.eq_ignore_ascii_case("path_b");
        if std::mem::take(&mut first) && (label.is_none() || named) {
            continue;
        }
        let Some(same) = label else {
            return Err(malformed(path, line, format!("'{same}' is not a same value (1/0/true/false/same/different)")));
        };
        if a.is_empty() || b.is_empty() {
            return Err(malformed(path, line, "empty image path".into()));
        }
        pairs.push(ImagePair { a: base.join(a), b: base.join(b), same, line });
    }
    if pairs.is_empty() {
        return Err(malformed(path, 1, "no pairs".into()));
    }
    Ok(pairs)
}

/// Reads CSV pairs; relative paths are resolved against `root`, or the CSV's own folder.
pub fn read_pairs_csv(path: &Path, root: Option<&Path>) -> Result<Vec<ImagePair>, PairsError> {
    parse_pairs_csv(&read_text(path)?, path, &base_folder(path, root))
}

fn base_folder(path: &Path, root: Option<&Path>) -> PathBuf {
    root.map(Path::to_path_buf).unwrap_or_else(|| path.parent().map(Path::to_path_buf).unwrap_or_default())
}

/// Reads either layout: CSV when the extension is `.csv` or the first line that is neither blank
/// nor a comment holds a comma (LFW names never do), else LFW with its header checked
/// ([`parse_pairs_file`]). Images are resolved under `root`, or the pairs file's folder.
pub fn read_pairs_any(path: &Path, root: Option<&Path>) -> Result<PairsFile, PairsError> {
    let text = read_text(path)?;
    let base = base_folder(path, root);
    let by_extension = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
    if by_extension || first.is_some_and(|l| l.contains(',')) {
        let pairs = parse_pairs_csv(&text, path, &base)?;
        Ok(PairsFile { format: PairsFormat::Csv, pairs, layout: None })
    } else {
        parse_pairs_file(&text, path, &base)
    }
}
