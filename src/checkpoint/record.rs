//! burn's own record format (burnpack) for fast start-up: a module's weights tagged with its
//! architecture, plus (for FROM) the configuration that rebuilds the network, in one file.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::Module;
use burn::store::burn_pack::Reader;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{DType, Device};

use super::loader::KeyMismatch;
use super::{CheckpointError, check_weights_fit};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::from_mobilefacenet::{FromMobileFaceNet, FromMobileFaceNetConfig};
use crate::model::{FromNet, FromNetConfig};

/// Metadata key holding the network configuration as JSON.
const CONFIG_KEY: &str = "maskscope.config";
/// Metadata key naming the architecture, so a record of another network is refused clearly.
const ARCHITECTURE_KEY: &str = "maskscope.architecture";
pub const FROM_LRESNET: &str = "from-lresnet-e-ir";
pub const FROM_MOBILEFACENET: &str = "from-mobilefacenet";

/// Writes any module to `path` as a burnpack record tagged with its architecture (replacing any
/// file there); `metadata` adds further entries.
pub fn save_module<M: ModuleSnapshot>(
    module: &M,
    path: &Path,
    architecture: &str,
    metadata: &[(&str, String)],
) -> Result<(), CheckpointError> {
    let mut store =
        BurnpackStore::from_file(path).auto_extension(false).overwrite(true).metadata(ARCHITECTURE_KEY, architecture);
    for (key, value) in metadata {
        store = store.metadata(*key, value.clone());
    }
    module.save_into(&mut store).map_err(|e| CheckpointError::record(path, e))
}

/// The metadata of a record, after checking it holds `architecture`.
pub fn read_metadata(path: &Path, architecture: &str) -> Result<BTreeMap<String, String>, CheckpointError> {
    super::state_dict::check_regular_file(path)?;
    let reader = Reader::from_file(path).map_err(|e| CheckpointError::record(path, e))?;
    let metadata = reader.metadata().clone();
    match metadata.get(ARCHITECTURE_KEY) {
        Some(found) if found == architecture => Ok(metadata),
        other => Err(CheckpointError::record(
            path,
            format!("not a maskscope {architecture} record (architecture: {other:?})"),
        )),
    }
}

/// Loads a record into `module`; every tensor must be present and used.
pub fn load_module<M: ModuleSnapshot>(module: &mut M, path: &Path) -> Result<(), CheckpointError> {
    super::state_dict::check_regular_file(path)?;
    let mut store = BurnpackStore::from_file(path).auto_extension(false);
    let result = module.load_from(&mut store).map_err(|e| CheckpointError::record(path, e))?;
    if !result.errors.is_empty() {
        let errors: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
        return Err(CheckpointError::record(path, errors.join("; ")));
    }
    let mismatch = KeyMismatch {
        missing: result.missing.iter().map(|(key, _)| key.clone()).collect(),
        unexpected: result.unused.clone(),
        shape_mismatches: Vec::new(),
    };
    if !mismatch.is_empty() {
        return Err(CheckpointError::Mismatch { path: path.to_path_buf(), mismatch: Box::new(mismatch) });
    }
    check_finite(module).map_err(|message| CheckpointError::record(path, message))
}

/// Every float weight of `module` is a number: a NaN or an infinity would turn every embedding
/// into NaN, which the JSON outputs print as `null` and comparisons score as "different".
pub fn check_finite<M: ModuleSnapshot>(module: &M) -> Result<(), String> {
    for tensor in module.collect(None, None, false) {
        if tensor.dtype != DType::F32 {
            continue;
        }
        let bytes = tensor.to_bytes().map_err(|e| format!("reading {}: {e}", tensor.name))?;
        let values = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let bad: Vec<(usize, f32)> = values.enumerate().filter(|(_, v)| !v.is_finite()).collect();
        if let Some(&(index, value)) = bad.first() {
            return Err(format!(
                "tensor {} holds {} non-finite value(s) ({value} at flat index {index} first)",
                tensor.name,
                bad.len()
            ));
        }
    }
    Ok(())
}

/// Writes `net` and its configuration to `path` (replacing any file there).
pub fn save_from_net(net: &FromNet, config: &FromNetConfig, path: &Path) -> Result<(), CheckpointError> {
    save_with_config(net, config, path, FROM_LRESNET)
}

/// The configuration stored in a record.
pub fn read_config(path: &Path) -> Result<FromNetConfig, CheckpointError> {
    let config: FromNetConfig = read_config_of(path, FROM_LRESNET)?;
    config.validate().map_err(|why| CheckpointError::record(path, why))?;
    Ok(config)
}

/// Loads a record written by [`save_from_net`]; every tensor must be present and used.
pub fn load_from_net(path: &Path, device: &Device) -> Result<(FromNet, FromNetConfig), CheckpointError> {
    let config = read_config(path)?;
    let mut net = config.init(device);
    check_weights_fit(path, net.num_params(), file_length(path)?)?;
    load_module(&mut net, path)?;
    Ok((net, config))
}

/// Writes FROM-on-MobileFaceNet (backbone included) and its configuration to `path`.
pub fn save_from_mobilefacenet(
    net: &FromMobileFaceNet,
    config: &FromMobileFaceNetConfig,
    path: &Path,
) -> Result<(), CheckpointError> {
    save_with_config(net, config, path, FROM_MOBILEFACENET)
}

/// Loads a record written by [`save_from_mobilefacenet`].
pub fn load_from_mobilefacenet(
    path: &Path,
    device: &Device,
) -> Result<(FromMobileFaceNet, FromMobileFaceNetConfig), CheckpointError> {
    let config: FromMobileFaceNetConfig = read_config_of(path, FROM_MOBILEFACENET)?;
    config.validate().map_err(|why| CheckpointError::record(path, why))?;
    let mut net = config.init(device);
    check_weights_fit(path, net.num_params(), file_length(path)?)?;
    load_module(&mut net, path)?;
    Ok((net, config))
}

fn file_length(path: &Path) -> Result<u64, CheckpointError> {
    Ok(std::fs::metadata(path).map_err(|e| CheckpointError::io(path, e))?.len())
}

/// The architecture tag of a maskscope record (`None` for a burnpack file without one).
pub fn architecture(path: &Path) -> Result<Option<String>, CheckpointError> {
    super::state_dict::check_regular_file(path)?;
    let reader = Reader::from_file(path).map_err(|e| CheckpointError::record(path, e))?;
    Ok(reader.metadata().get(ARCHITECTURE_KEY).cloned())
}

fn save_with_config<M: ModuleSnapshot, C: Serialize>(
    module: &M,
    config: &C,
    path: &Path,
    architecture: &str,
) -> Result<(), CheckpointError> {
    let config_json = serde_json::to_string(config).map_err(|e| CheckpointError::record(path, e))?;
    save_module(module, path, architecture, &[(CONFIG_KEY, config_json)])
}

fn read_config_of<C: DeserializeOwned>(path: &Path, architecture: &str) -> Result<C, CheckpointError> {
    let metadata = read_metadata(path, architecture)?;
    let json = metadata
        .get(CONFIG_KEY)
        .ok_or_else(|| CheckpointError::record(path, format!("metadata key '{CONFIG_KEY}' is missing")))?;
    serde_json::from_str(json).map_err(|e| CheckpointError::record(path, format!("{CONFIG_KEY}: {e}")))
}
