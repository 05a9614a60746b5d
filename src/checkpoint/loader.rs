//! Applying a PyTorch state dict to a module, all or nothing: every key must match in name and
//! shape, or the error lists every missing key, unexpected key and shape mismatch.

use std::collections::BTreeMap;
use std::fmt;

use burn::module::{Param, RunningState};
use burn::tensor::{DType, Device, Tensor, TensorData};

use super::CheckpointError;
use super::state_dict::StateDict;
use super::torch_params::{ParamSlot, TorchParams, TorchVisitor};

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

struct Loader<'a> {
    tensors: BTreeMap<String, TensorData>,
    device: &'a Device,
    mismatch: KeyMismatch,
    summary: LoadSummary,
}

impl TorchVisitor for Loader<'_> {
    fn visit(&mut self, key: String, slot: ParamSlot<'_>) {
        let expected = slot.torch_shape();
        if let ParamSlot::Ignored = slot {
            self.summary.ignored += usize::from(self.tensors.remove(&key).is_some());
            return;
        }
        let Some(data) = self.tensors.remove(&key) else {
            self.mismatch.missing.push(key);
            return;
        };
        let found = data.shape().as_slice().to_vec();
        if found != expected {
            self.mismatch.shape_mismatches.push((key, expected, found));
            return;
        }
        let data = data.convert_dtype(DType::F32);
        let device = self.device;
        match slot {
            ParamSlot::Vector(p) => *p = Param::initialized(p.id, Tensor::<1>::from_data(data, device)),
            ParamSlot::Kernel(p) => *p = Param::initialized(p.id, Tensor::<4>::from_data(data, device)),
            ParamSlot::LinearWeight(p) => {
                let weight = Tensor::<2>::from_data(data, device).transpose();
                *p = Param::initialized(p.id, weight);
            }
            ParamSlot::Running(s) => *s = RunningState::new(Tensor::<1>::from_data(data, device)),
            ParamSlot::Ignored => unreachable!("handled above"),
        }
        self.summary.applied += 1;
    }
}

/// Loads every tensor of `state_dict` into `module` on `device`. On error the module is partly
/// overwritten and must be discarded; callers build a fresh module per load.
pub fn apply_state_dict(
    module: &mut impl TorchParams,
    state_dict: StateDict,
    device: &Device,
) -> Result<LoadSummary, CheckpointError> {
    let mut loader = Loader {
        tensors: state_dict.tensors,
        device,
        mismatch: KeyMismatch::default(),
        summary: LoadSummary { applied: 0, ignored: 0 },
    };
    module.visit_torch("", &mut loader);
    loader.mismatch.unexpected = loader.tensors.into_keys().collect();
    if loader.mismatch.is_empty() {
        Ok(loader.summary)
    } else {
        Err(CheckpointError::Mismatch { path: state_dict.source, mismatch: Box::new(loader.mismatch) })
    }
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
