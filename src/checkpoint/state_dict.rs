//! Reading tensors out of checkpoint files: PyTorch `torch.save` files (zip or legacy pickle;
//! the official FROM `.pth.tar` dict with `state_dict`, or a bare state dict) and safetensors.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::store::bridge;
use burn::store::pytorch_reader::PytorchReader;
use burn::tensor::{DType, TensorData};
use safetensors::{Dtype, SafeTensors};

use super::CheckpointError;

/// The key under which the official training code nests the weights.
const STATE_DICT_KEY: &str = "state_dict";
/// The prefix `nn.DataParallel` adds to every key.
const DATA_PARALLEL_PREFIX: &str = "module.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum FileFormat {
    /// `torch.save` output (zip archive or legacy pickle).
    Torch,
    Safetensors,
    /// burn's own record format, as `maskscope convert` writes it.
    Burnpack,
}

/// Sniffs the format from the first bytes, so a misnamed file still loads (or fails clearly).
pub fn detect_format(path: &Path) -> Result<FileFormat, CheckpointError> {
    check_regular_file(path)?;
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path).map_err(|e| CheckpointError::io(path, e))?;
    let n = file.read(&mut head).map_err(|e| CheckpointError::io(path, e))?;
    let head = &head[..n];
    if head.starts_with(b"PK\x03\x04") || head.first() == Some(&0x80) {
        Ok(FileFormat::Torch)
    } else if head.len() >= 9 && head[8] == b'{' {
        Ok(FileFormat::Safetensors)
    } else if head.len() >= 4
        && u32::from_le_bytes([head[0], head[1], head[2], head[3]]) == burn::store::burn_pack::MAGIC_NUMBER
    {
        Ok(FileFormat::Burnpack)
    } else {
        Err(CheckpointError::UnknownFormat(path.to_path_buf()))
    }
}

/// Refuses what is not a regular file of at most [`MAX_CHECKPOINT_BYTES`], before opening it
/// (opening a FIFO blocks; a device never ends).
pub fn check_regular_file(path: &Path) -> Result<(), CheckpointError> {
    crate::input_file::check(path, MAX_CHECKPOINT_BYTES).map(drop).map_err(|e| CheckpointError::io(path, e))
}

/// A checkpoint's tensors by PyTorch key, data as stored (any dtype).
#[derive(Debug)]
pub struct StateDict {
    pub source: PathBuf,
    pub format: FileFormat,
    pub tensors: BTreeMap<String, TensorData>,
}

impl StateDict {
    /// Reads a PyTorch or safetensors checkpoint.
    pub fn read(path: &Path) -> Result<Self, CheckpointError> {
        let format = detect_format(path)?;
        let tensors = match format {
            FileFormat::Torch => read_torch(path)?,
            FileFormat::Safetensors => read_safetensors(path)?,
            FileFormat::Burnpack => return Err(CheckpointError::NotAStateDict(path.to_path_buf())),
        };
        if tensors.is_empty() {
            return Err(CheckpointError::Empty(path.to_path_buf()));
        }
        Ok(Self { source: path.to_path_buf(), format, tensors: strip_data_parallel(tensors) })
    }

    pub fn shape(&self, key: &str) -> Option<&[usize]> {
        self.tensors.get(key).map(|t| t.shape().as_slice())
    }
}

fn read_torch(path: &Path) -> Result<BTreeMap<String, TensorData>, CheckpointError> {
    super::pickle_scan::check_torch_file(path)?;
    let reader = PytorchReader::new(path).map_err(|e| CheckpointError::read(path, e))?;
    let all = reader.into_tensors();
    let nested = format!("{STATE_DICT_KEY}.");
    let has_nested = all.keys().any(|k| k.starts_with(&nested));
    let mut tensors = BTreeMap::new();
    for (key, tensor) in all {
        // A training checkpoint also holds the classifier (CosFace weights) and optimiser state:
        // only the network's weights are wanted.
        let key = match (has_nested, key.strip_prefix(&nested)) {
            (true, Some(inner)) => inner.to_string(),
            (true, None) => continue,
            (false, _) => key,
        };
        let data = bridge::into_data(bridge::from_pytorch(tensor))
            .map_err(|e| CheckpointError::read(path, format!("tensor '{key}': {e}")))?;
        tensors.insert(key, data);
    }
    Ok(tensors)
}

/// Largest checkpoint read whole into memory (the official LResNet50E-IR-FROM is ~190 MB).
pub const MAX_CHECKPOINT_BYTES: u64 = 4 << 30;

/// Parses the header once and copies each tensor out of the file's bytes: linear in the number
/// of tensors (burn-store's lazy reader re-parsed the header per tensor: 6,000 tensors took 39 s,
/// 10,000 never finished).
fn read_safetensors(path: &Path) -> Result<BTreeMap<String, TensorData>, CheckpointError> {
    let length = std::fs::metadata(path).map_err(|e| CheckpointError::read(path, e))?.len();
    if length > MAX_CHECKPOINT_BYTES {
        return Err(CheckpointError::read(path, format!("{length} bytes is more than {MAX_CHECKPOINT_BYTES}")));
    }
    let bytes = std::fs::read(path).map_err(|e| CheckpointError::read(path, e))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| CheckpointError::read(path, e))?;
    file.iter()
        .map(|(key, view)| {
            let dtype = match view.dtype() {
                Dtype::F64 => DType::F64,
                Dtype::F32 => DType::F32,
                Dtype::F16 => DType::F16,
                Dtype::BF16 => DType::BF16,
                Dtype::I64 => DType::I64,
                Dtype::I32 => DType::I32,
                Dtype::I16 => DType::I16,
                Dtype::I8 => DType::I8,
                Dtype::U64 => DType::U64,
                Dtype::U32 => DType::U32,
                Dtype::U16 => DType::U16,
                Dtype::U8 => DType::U8,
                other => {
                    return Err(CheckpointError::read(path, format!("tensor '{key}': unsupported dtype {other:?}")));
                }
            };
            Ok((key.to_string(), TensorData::from_bytes_vec(view.data().to_vec(), view.shape().to_vec(), dtype)))
        })
        .collect()
}

fn strip_data_parallel(tensors: BTreeMap<String, TensorData>) -> BTreeMap<String, TensorData> {
    if !tensors.keys().all(|k| k.starts_with(DATA_PARALLEL_PREFIX)) {
        return tensors;
    }
    tensors.into_iter().map(|(k, v)| (k[DATA_PARALLEL_PREFIX.len()..].to_string(), v)).collect()
}
