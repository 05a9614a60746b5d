//! A set of output files that lands whole or not at all.
//!
//! The files are written into a staging folder made when the run starts, so a `--out` that
//! cannot be written is reported before any slow work, and moved into place together at the
//! end. An interrupted or failed run removes its staging folder and leaves the previous set as it
//! was; files of an older set that the new one does not produce are removed, so a folder never
//! mixes two runs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{}: exists and is not a folder; give a folder for the outputs", path.display())]
    NotAFolder { path: PathBuf },
    #[error("{}: cannot write the outputs there: {source}", path.display())]
    Unwritable { path: PathBuf, source: io::Error },
    #[error("moving the outputs into {}: {source}", path.display())]
    Commit { path: PathBuf, source: io::Error },
}

/// Staging folders of sets in progress, for [`remove_staging_folders`] to delete when the
/// process is interrupted for good (no destructor runs then). Held while a commit moves files,
/// so an interrupt waits for the set to land rather than leave half of it.
static IN_PROGRESS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes every staging folder of this process, after any commit under way; for an interrupt
/// handler about to exit.
pub fn remove_staging_folders() {
    let folders = IN_PROGRESS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for folder in folders.iter() {
        let _ = fs::remove_dir_all(folder);
    }
}

pub struct OutputSet {
    out: PathBuf,
    staging: PathBuf,
    /// The staging folder is inside `out` (which existed) rather than beside it.
    inside: bool,
    committed: bool,
}

impl OutputSet {
    /// Checks that `out` is a folder (or can become one) that can be written, and makes the
    /// staging folder.
    pub fn prepare(out: &Path) -> Result<Self, OutputError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let unwritable = |source| OutputError::Unwritable { path: out.to_path_buf(), source };
        let (staging, inside) = match fs::metadata(out) {
            Ok(meta) if meta.is_dir() => (out.join(format!(".maskscope-partial-{tag}")), true),
            Ok(_) => return Err(OutputError::NotAFolder { path: out.to_path_buf() }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let parent = match out.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                fs::create_dir_all(&parent).map_err(unwritable)?;
                let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                (parent.join(format!(".{name}.maskscope-partial-{tag}")), false)
            }
            Err(e) => return Err(unwritable(e)),
        };
        fs::create_dir(&staging).map_err(unwritable)?;
        if let Ok(mut folders) = IN_PROGRESS.lock() {
            folders.push(staging.clone());
        }
        Ok(Self { out: out.to_path_buf(), staging, inside, committed: false })
    }

    /// The folder to write the set's files into.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// Moves the staged files into `out`, and removes from `out` the files named in
    /// `set_names` (every name such a set may hold) that this set does not hold. Returns the
    /// final paths.
    pub fn commit(mut self, set_names: &[&str]) -> Result<Vec<PathBuf>, OutputError> {
        let fail = |source| OutputError::Commit { path: self.out.clone(), source };
        let mut names: Vec<_> = fs::read_dir(&self.staging)
            .map_err(fail)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(fail)?;
        names.sort();
        let mut in_progress = IN_PROGRESS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let moved = (|| {
            if !self.inside && fs::rename(&self.staging, &self.out).is_ok() {
                return Ok(());
            }
            // `out` exists: file by file (each rename is atomic), then older files of the set.
            fs::create_dir_all(&self.out)?;
            for name in &names {
                fs::rename(self.staging.join(name), self.out.join(name))?;
            }
            for stale in set_names.iter().filter(|n| !names.iter().any(|m| m == **n)) {
                match fs::remove_file(self.out.join(stale)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            fs::remove_dir(&self.staging)
        })();
        in_progress.retain(|f| f != &self.staging);
        drop(in_progress);
        moved.map_err(fail)?;
        self.committed = true;
        Ok(names.iter().map(|n| self.out.join(n)).collect())
    }
}

impl Drop for OutputSet {
    fn drop(&mut self) {
        if let Ok(mut folders) = IN_PROGRESS.lock() {
            folders.retain(|f| f != &self.staging);
        }
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["a.txt", "b.txt", "c.txt"];

    fn stage(set: &OutputSet, names: &[&str], text: &str) {
        for name in names {
            fs::write(set.staging().join(name), text).unwrap();
        }
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_folder_appears_whole_and_a_rerun_replaces_the_set_only() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let set = OutputSet::prepare(&out).unwrap();
        stage(&set, NAMES, "first");
        assert!(!out.exists(), "nothing in place before the commit");
        assert_eq!(set.commit(NAMES).unwrap().len(), 3);
        assert_eq!(listing(&out), NAMES);

        // A user's own file stays; the set's file the new run lacks goes.
        fs::write(out.join("notes.md"), "mine").unwrap();
        let set = OutputSet::prepare(&out).unwrap();
        stage(&set, &["a.txt", "b.txt"], "second");
        set.commit(NAMES).unwrap();
        assert_eq!(listing(&out), ["a.txt", "b.txt", "notes.md"]);
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "second");
        assert_eq!(listing(dir.path()), ["run"], "no staging folder left");
    }

    #[test]
    fn an_abandoned_set_leaves_the_old_one_and_no_staging_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let set = OutputSet::prepare(&out).unwrap();
        stage(&set, NAMES, "first");
        set.commit(NAMES).unwrap();
        let set = OutputSet::prepare(&out).unwrap();
        stage(&set, &["a.txt"], "second");
        drop(set);
        assert_eq!(listing(&out), NAMES);
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "first");
    }

    #[test]
    fn an_out_that_cannot_hold_the_set_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        let text = OutputSet::prepare(&file).err().unwrap().to_string();
        assert!(text.contains("not a folder"), "{text}");
        assert!(matches!(OutputSet::prepare(&file.join("below")), Err(OutputError::Unwritable { .. })));
        #[cfg(unix)]
        {
            let text = OutputSet::prepare(Path::new("/dev/null")).err().unwrap().to_string();
            assert!(text.contains("/dev/null") && text.contains("not a folder"), "{text}");
        }
    }
}
