//! What a PyTorch state dict's load reports: the tensors applied, or every key that did not fit
//! (see `torch_import`).

use std::fmt;

/// Everything that did not fit. Empty means the load was complete.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyMismatch {
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    /// (key, shape the model expects, shape in the file)
    pub shape_mismatches: Vec<(String, Vec<usize>, Vec<usize>)>,
}

impl KeyMismatch {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.shape_mismatches.is_empty()
    }
}

/// Keys listed per section of a mismatch; a damaged file once produced a 45 MB message of
/// 1.5 M missing keys, where the first few and a count say as much.
pub const LISTED_KEYS: usize = 20;

impl fmt::Display for KeyMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let section = |f: &mut fmt::Formatter<'_>, title: &str, lines: Vec<String>| -> fmt::Result {
            if !lines.is_empty() {
                writeln!(f, "  {title} ({}):", lines.len())?;
                for line in lines.iter().take(LISTED_KEYS) {
                    writeln!(f, "    {line}")?;
                }
                if lines.len() > LISTED_KEYS {
                    writeln!(f, "    ... and {} more", lines.len() - LISTED_KEYS)?;
                }
            }
            Ok(())
        };
        section(f, "missing keys", self.missing.clone())?;
        section(f, "unexpected keys", self.unexpected.clone())?;
        let mismatches = self
            .shape_mismatches
            .iter()
            .map(|(key, want, got)| format!("{key}: model expects {want:?}, file has {got:?}"))
            .collect();
        section(f, "shape mismatches", mismatches)
    }
}

/// Number of tensors a complete load applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSummary {
    pub applied: usize,
    pub ignored: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_mismatch_lists_the_first_keys_and_counts_the_rest() {
        let mismatch = KeyMismatch {
            missing: (0..100_000).map(|i| format!("layer1.{i}.weight")).collect(),
            unexpected: vec!["extra".into()],
            shape_mismatches: Vec::new(),
        };
        let text = mismatch.to_string();
        assert!(text.contains("missing keys (100000):") && text.contains("layer1.19.weight"), "{text}");
        assert!(!text.contains("layer1.20.weight") && text.contains("... and 99980 more"), "{text}");
        assert!(text.contains("unexpected keys (1):\n    extra\n") && !text.contains("1 more"), "{text}");
        assert!(text.len() < 2_000, "{} bytes", text.len());
    }
}
