//! Reading a TensorFlow.js graph model (`model.json` + weight shards): the node list and the
//! float32 weights by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::CheckpointError;
use super::state_dict::MAX_CHECKPOINT_BYTES;
use crate::input_file;

/// Largest `model.json` read (MobileFaceNet's is ~100 KB).
pub const MAX_MODEL_JSON_BYTES: u64 = 64 << 20;

/// The bytes of `path` under [`input_file`]'s rule.
fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, CheckpointError> {
    input_file::read(path, limit).map_err(|e| CheckpointError::io(path, e))
}

#[derive(Debug, Deserialize)]
struct ModelJson {
    #[serde(rename = "modelTopology")]
    topology: Topology,
    #[serde(rename = "weightsManifest")]
    manifest: Vec<ManifestGroup>,
}

#[derive(Debug, Deserialize)]
struct Topology {
    node: Vec<GraphNode>,
}

/// One node of the graph: its op, inputs and attributes (kept as JSON).
#[derive(Debug, Clone, Deserialize)]
pub struct GraphNode {
    pub name: String,
    pub op: String,
    #[serde(default)]
    pub input: Vec<String>,
    #[serde(default)]
    pub attr: BTreeMap<String, serde_json::Value>,
}

impl GraphNode {
    /// The `strides` attribute (NHWC), if any.
    pub fn strides(&self) -> Option<Vec<i64>> {
        let list = self.attr.get("strides")?.get("list")?.get("i")?.as_array()?;
        list.iter().map(|v| v.as_str()?.parse().ok()).collect()
    }
}

#[derive(Debug, Deserialize)]
struct ManifestGroup {
    paths: Vec<String>,
    weights: Vec<ManifestEntry>,
}

#[derive(Debug, Deserialize)]
struct ManifestEntry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    #[serde(default)]
    quantization: Option<serde_json::Value>,
}

/// A weight as stored (TensorFlow layout: HWIO for convs), as f32.
#[derive(Debug, Clone)]
pub struct TfjsWeight {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

#[derive(Debug)]
pub struct TfjsGraph {
    pub source: PathBuf,
    pub nodes: Vec<GraphNode>,
    pub weights: BTreeMap<String, TfjsWeight>,
}

impl TfjsGraph {
    /// Reads `model.json` and the shards its manifest names (relative to the JSON's folder).
    /// Only regular files are read (a FIFO would block, `/dev/zero` never end): the JSON up to
    /// [`MAX_MODEL_JSON_BYTES`], the shards of a group up to [`MAX_CHECKPOINT_BYTES`] together.
    pub fn read(json_path: &Path) -> Result<Self, CheckpointError> {
        let text = read_regular_file(json_path, MAX_MODEL_JSON_BYTES)?;
        let text = String::from_utf8(text).map_err(|e| CheckpointError::read(json_path, format!("model JSON: {e}")))?;
        let model: ModelJson =
            serde_json::from_str(&text).map_err(|e| CheckpointError::read(json_path, format!("model JSON: {e}")))?;
        let folder = json_path.parent().unwrap_or(Path::new("."));
        let mut weights = BTreeMap::new();
        for group in &model.manifest {
            let mut bytes = Vec::new();
            for shard in &group.paths {
                let room = MAX_CHECKPOINT_BYTES.saturating_sub(bytes.len() as u64);
                let shard_bytes = read_regular_file(&folder.join(shard), room)
                    .map_err(|e| CheckpointError::read(json_path, format!("weight shard {shard:?}: {e}")))?;
                bytes.extend(shard_bytes);
            }
            let mut offset = 0usize;
            for entry in &group.weights {
                if !matches!(entry.dtype.as_str(), "float32" | "int32") || entry.quantization.is_some() {
                    return Err(CheckpointError::read(
                        json_path,
                        format!(
                            "weight '{}' is {} (quantised: {}); only plain float32 and int32 are supported",
                            entry.name,
                            entry.dtype,
                            entry.quantization.is_some()
                        ),
                    ));
                }
                let end = entry
                    .shape
                    .iter()
                    .try_fold(4usize, |n, &d| n.checked_mul(d))
                    .and_then(|len| offset.checked_add(len))
                    .unwrap_or(usize::MAX);
                let chunk = bytes.get(offset..end).ok_or_else(|| {
                    CheckpointError::read(
                        json_path,
                        format!("weight '{}' runs past the end of the shards ({} bytes)", entry.name, bytes.len()),
                    )
                })?;
                let is_int = entry.dtype == "int32";
                // Integer constants (reduction axes) are small and only counted, never computed
                // with, so they are kept as floats too.
                let values = chunk
                    .chunks_exact(4)
                    .map(|b| {
                        let bytes = [b[0], b[1], b[2], b[3]];
                        if is_int { i32::from_le_bytes(bytes) as f32 } else { f32::from_le_bytes(bytes) }
                    })
                    .collect();
                weights.insert(entry.name.clone(), TfjsWeight { shape: entry.shape.clone(), values });
                offset = end;
            }
            if offset != bytes.len() {
                return Err(CheckpointError::read(
                    json_path,
                    format!("the shards hold {} bytes, the manifest describes {offset}", bytes.len()),
                ));
            }
        }
        Ok(Self { source: json_path.to_path_buf(), nodes: model.topology.node, weights })
    }

    pub fn weight(&self, name: &str) -> Result<&TfjsWeight, CheckpointError> {
        self.weights.get(name).ok_or_else(|| CheckpointError::read(&self.source, format!("weight '{name}' is missing")))
    }

    pub fn node(&self, name: &str) -> Result<&GraphNode, CheckpointError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| CheckpointError::read(&self.source, format!("node '{name}' is missing")))
    }
}
