//! The one rule every reader of a user's file follows: only a regular file (opening a FIFO
//! blocks, a device such as `/dev/zero` never ends), and no larger than the reader's limit.
//! Checked before the file is opened.

use std::io;
use std::path::Path;

/// The length of `path` if it is a regular file of at most `limit` bytes.
pub fn check(path: &Path, limit: u64) -> io::Result<u64> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file (a pipe, device or folder)"));
    }
    if meta.len() > limit {
        let why = format!("{} bytes is more than the {limit} allowed here", meta.len());
        return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    }
    Ok(meta.len())
}

/// The bytes of `path`, under [`check`]'s rule.
pub fn read(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    check(path, limit)?;
    std::fs::read(path)
}
