//! Loading and saving network weights: official PyTorch checkpoints, safetensors, and burn's
//! own record format.

pub mod infer;
pub mod loader;
pub mod mobilefacenet_tfjs;
pub mod pickle_scan;
pub mod record;
pub mod state_dict;
pub mod tfjs;
pub mod torch_import;

use std::fmt::Display;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;

pub use loader::{KeyMismatch, LoadSummary};
pub use state_dict::{FileFormat, StateDict, detect_format};
pub use torch_import::{Renames, apply_state_dict, torch_keys, torch_tensors};

use crate::model::{FromNet, FromNetConfig};

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot read checkpoint: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{0}: not a PyTorch, safetensors or maskscope record file")]
    UnknownFormat(PathBuf),
    #[error("{0}: is a maskscope record, not a PyTorch/safetensors state dict")]
    NotAStateDict(PathBuf),
    #[error("{0}: the checkpoint holds no tensors")]
    Empty(PathBuf),
    #[error("{path}: cannot tell the FROM configuration: {message}")]
    Infer { path: PathBuf, message: String },
    #[error("{path}: the checkpoint does not fit the model; nothing was loaded\n{mismatch}")]
    Mismatch { path: PathBuf, mismatch: Box<KeyMismatch> },
    #[error("{path}: record: {message}")]
    Record { path: PathBuf, message: String },
}

impl CheckpointError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn read(path: &Path, message: impl Display) -> Self {
        Self::Read { path: path.to_path_buf(), message: message.to_string() }
    }

    pub(crate) fn infer(path: &Path, message: impl Display) -> Self {
        Self::Infer { path: path.to_path_buf(), message: message.to_string() }
    }

    pub(crate) fn record(path: &Path, message: impl Display) -> Self {
        Self::Record { path: path.to_path_buf(), message: message.to_string() }
    }
}

/// Refuses a network whose configuration came from a file (a record's metadata, shapes in a state
/// dict) when the file cannot hold its weights: `params` at 16 bits, the narrowest float read,
/// must fit in `bytes`. burn allocates parameters lazily, on first use, so a forged
/// configuration is refused here before its weights take any memory.
pub(crate) fn check_weights_fit(path: &Path, params: usize, bytes: u64) -> Result<(), CheckpointError> {
    let needed = (params as u64).saturating_mul(2);
    if needed > bytes {
        return Err(CheckpointError::Read {
            path: path.to_path_buf(),
            message: format!(
                "its configuration asks for {params} parameters ({:.1} MB at 16 bits), but the file holds only {bytes} bytes",
                needed as f64 / 1e6
            ),
        });
    }
    Ok(())
}

/// A FROM network loaded from any supported file.
#[derive(Debug)]
pub struct LoadedFromNet {
    pub net: FromNet,
    pub config: FromNetConfig,
    pub format: FileFormat,
    /// Tensors applied (for state dicts; records count none).
    pub applied: usize,
}

/// Loads a FROM network from a `.pth.tar`/`.pth` (official or bare state dict), a safetensors
/// file, or a record written by `maskscope convert`. The configuration comes from the file.
pub fn load_from_net(path: &Path, device: &Device) -> Result<LoadedFromNet, CheckpointError> {
    match detect_format(path)? {
        FileFormat::Burnpack => {
            let (net, config) = record::load_from_net(path, device)?;
            Ok(LoadedFromNet { net, config, format: FileFormat::Burnpack, applied: 0 })
        }
        _ => {
            let state_dict = StateDict::read(path)?;
            let format = state_dict.format;
            let config = infer::infer_from_net_config(&state_dict)?;
            let mut net = config.init(device);
            let bytes = state_dict.tensors.values().map(|t| t.as_bytes().len() as u64).sum();
            check_weights_fit(path, net.num_params(), bytes)?;
            let renames = net.torch_renames();
            let summary = apply_state_dict(&mut net, state_dict, &renames)?;
            record::check_finite(&net).map_err(|message| CheckpointError::record(path, message))?;
            Ok(LoadedFromNet { net, config, format, applied: summary.applied })
        }
    }
}
