//! Sessions: the photos, their landmarks, the painted operations and the settings, as JSON, so
//! that a piece of work can be reopened later. Photos are referenced by path, not copied.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::document::Op;
use super::settings::Settings;
use crate::align::{FaceTemplate, Point};

pub const SESSION_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionFace {
    pub path: PathBuf,
    pub landmarks: Option<[Point; 5]>,
    pub hand_placed: bool,
    pub chosen: Option<usize>,
    pub is_reference: bool,
    /// The template the operations' coordinates refer to.
    pub template: FaceTemplate,
    pub ops: Vec<Op>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub version: u32,
    pub faces: Vec<SessionFace>,
    /// Index into `faces` of the face being painted.
    pub probe: Option<usize>,
    pub settings: Settings,
}

impl Session {
    /// The session as the JSON its file holds.
    pub fn to_json(&self) -> anyhow::Result<Vec<u8>> {
        Ok(serde_json::to_string_pretty(self)?.into_bytes())
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        crate::eval::plots::write_atomic(path, &self.to_json()?)?;
        Ok(())
    }

    /// Reads a session; photos that moved are looked for beside the session file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let mut session: Session = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: not a maskscope session: {e}", path.display()))?;
        anyhow::ensure!(
            session.version <= SESSION_VERSION,
            "{}: session version {} is newer than this maskscope reads ({SESSION_VERSION})",
            path.display(),
            session.version
        );
        let base = path.parent().unwrap_or(Path::new("."));
        for face in &mut session.faces {
            if !face.path.exists()
                && let Some(name) = face.path.file_name()
                && base.join(name).exists()
            {
                face.path = base.join(name);
            }
        }
        session.settings = session.settings.sanitised();
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_round_trip_and_find_moved_photos() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jpg"), b"x").unwrap();
        let session = Session {
            version: SESSION_VERSION,
            faces: vec![SessionFace {
                path: PathBuf::from("/nowhere/a.jpg"),
                landmarks: Some([[1.0, 2.0]; 5]),
                hand_placed: true,
                chosen: None,
                is_reference: false,
                template: FaceTemplate::Arc112x112,
                ops: vec![Op::Erase { points: vec![[3.0, 4.0]], radius: 2.0 }],
            }],
            probe: Some(0),
            settings: Settings::default(),
        };
        let path = dir.path().join("s.json");
        session.write(&path).unwrap();
        let back = Session::read(&path).unwrap();
        assert_eq!(back.faces[0].path, dir.path().join("a.jpg"));
        assert_eq!(back.faces[0].ops, session.faces[0].ops);
        std::fs::write(&path, "{\"not\": 1}").unwrap();
        assert!(Session::read(&path).unwrap_err().to_string().contains("not a maskscope session"));
    }
}
