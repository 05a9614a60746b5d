//! Applying a PyTorch state dict to a burn module through burn-store, all or nothing.
//!
//! burn-store walks the module (its `ModuleSnapshot`), matches each parameter by path, transposes
//! Linear weights and renames BatchNorm's `weight`/`bias` (its PyTorch adapters). What differs
//! between a module's field paths and the checkpoint's keys is said once per network, in a rename
//! table beside the module (pairs of dotted PyTorch and burn paths; see [`renames`]). Before
//! anything is applied, every key is checked in name and shape, so that a checkpoint that does not
//! fit loads nothing and the error lists, in PyTorch's names, every missing key, unexpected key
//! and shape mismatch.

use burn::module::Module;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{
    BurnToPyTorchAdapter, KeyRemapper, ModuleAdapter, ModuleContext, ModuleSnapshot, PyTorchToBurnAdapter, bridge,
};
use burn::tensor::{DType, TensorData};

use super::CheckpointError;
use super::loader::{KeyMismatch, LoadSummary};
use super::state_dict::StateDict;

/// The buffer PyTorch's BatchNorm saves and burn does not keep: accepted when present, never
/// required.
const IGNORED_PARAM: &str = "num_batches_tracked";
/// burn's PReLU slope and PyTorch's name for it (burn-store's adapters rename only the norms').
const PRELU_BURN: &str = "alpha";
const PRELU_TORCH: &str = "weight";
const PRELU_MODULE: &str = "Struct:PRelu";

/// `(PyTorch path, burn path)` pairs (see [`crate::model::torch_names`]).
pub type Renames = [(String, String)];

/// The renames in one direction as burn-store's regex remapper.
fn remapper(renames: &Renames, to_burn: bool) -> KeyRemapper {
    let patterns = renames.iter().map(|(torch, burn)| {
        let anchored = torch.starts_with('^');
        let (torch, burn) = (torch.trim_start_matches('^'), burn.trim_start_matches('^'));
        let (from, to) = if to_burn { (torch, burn) } else { (burn, torch) };
        let from = regex::escape(from);
        if anchored {
            (format!("^{from}\\."), format!("{to}."))
        } else {
            (format!("(^|\\.){from}\\."), format!("${{1}}{to}."))
        }
    });
    KeyRemapper::from_pattern_iter(patterns).expect("escaped literal segments are valid regular expressions")
}

fn rename_all(names: Vec<String>, remapper: &KeyRemapper) -> Vec<String> {
    let tensors = names.into_iter().map(|name| bridge::from_data(TensorData::new(Vec::<f32>::new(), [0]), name, None));
    remapper.remap(tensors.collect()).0.into_iter().map(|t| t.name).collect()
}

/// PReLU's slope under PyTorch's name (burn-store's adapters rename only the norms'), chained
/// after burn-store's adapter for each direction.
#[derive(Debug, Clone, Copy)]
enum PreluSlope {
    /// Collecting: `alpha` is named `weight`.
    ToTorch,
    /// Applying: the parameter `alpha` is looked for as `weight`.
    FromTorch,
}

impl ModuleAdapter for PreluSlope {
    fn adapt(&self, mut tensor: PackTensor, ctx: ModuleContext<'_>) -> PackTensor {
        if matches!(self, PreluSlope::ToTorch)
            && ctx.module_type() == Some(PRELU_MODULE)
            && tensor.name.rsplit('.').next() == Some(PRELU_BURN)
        {
            tensor.name.truncate(tensor.name.len() - PRELU_BURN.len());
            tensor.name.push_str(PRELU_TORCH);
        }
        tensor
    }

    fn get_alternative_param_name(&self, param_name: &str, module_type: &str) -> Option<String> {
        let wanted = matches!(self, PreluSlope::FromTorch) && module_type == PRELU_MODULE && param_name == PRELU_BURN;
        wanted.then(|| PRELU_TORCH.to_string())
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(*self)
    }
}

/// Every tensor of `module` in PyTorch's layout and names, in the module's order, data read
/// lazily.
fn torch_view<M: ModuleSnapshot>(module: &M, renames: &Renames) -> Vec<PackTensor> {
    let mut tensors = module.collect(None, Some(Box::new(BurnToPyTorchAdapter.chain(PreluSlope::ToTorch))), true);
    let names = rename_all(tensors.iter().map(|t| t.name.clone()).collect(), &remapper(renames, false));
    tensors.iter_mut().zip(names).for_each(|(t, name)| t.name = name);
    tensors
}

/// Every key `module` expects, with PyTorch's shape, in the module's order.
pub fn torch_keys<M: ModuleSnapshot>(module: &M, renames: &Renames) -> Vec<(String, Vec<usize>)> {
    torch_view(module, renames).into_iter().map(|t| (t.name, t.shape.as_slice().to_vec())).collect()
}

/// Every tensor of `module` as a PyTorch state dict holds it. Used to check a converted record
/// against its source.
pub fn torch_tensors<M: ModuleSnapshot>(module: &M, renames: &Renames) -> Vec<(String, TensorData)> {
    torch_view(module, renames)
        .into_iter()
        .map(|t| {
            let name = t.name.clone();
            let data = bridge::into_data(t).unwrap_or_else(|e| panic!("{name}: a module tensor reads back: {e:?}"));
            (name, data)
        })
        .collect()
}

/// Loads every tensor of `state_dict` into `module`, or nothing: a missing, unexpected or
/// mis-shaped key is an error listing them all, and leaves the module as it was.
pub fn apply_state_dict<M: ModuleSnapshot + Module>(
    module: &mut M,
    state_dict: StateDict,
    renames: &Renames,
) -> Result<LoadSummary, CheckpointError> {
    let StateDict { source, mut tensors, .. } = state_dict;
    let ignored_suffix = format!(".{IGNORED_PARAM}");
    let before = tensors.len();
    tensors.retain(|key, _| !(key.ends_with(&ignored_suffix) || key == IGNORED_PARAM));
    let ignored = before - tensors.len();

    let mut mismatch = KeyMismatch::default();
    let expected = torch_keys(module, renames);
    for (key, shape) in &expected {
        match tensors.get(key) {
            None => mismatch.missing.push(key.clone()),
            Some(data) if data.shape().as_slice() != shape.as_slice() => {
                mismatch.shape_mismatches.push((key.clone(), shape.clone(), data.shape().as_slice().to_vec()))
            }
            Some(_) => {}
        }
    }
    let known: std::collections::HashSet<&str> = expected.iter().map(|(key, _)| key.as_str()).collect();
    mismatch.unexpected = tensors.keys().filter(|key| !known.contains(key.as_str())).cloned().collect();
    if !mismatch.is_empty() {
        return Err(CheckpointError::Mismatch { path: source, mismatch: Box::new(mismatch) });
    }

    let to_burn = remapper(renames, true);
    let packed = tensors.into_iter().map(|(key, data)| bridge::from_data(data.convert_dtype(DType::F32), key, None));
    let (packed, _) = to_burn.remap(packed.collect());
    let result = module.apply(packed, None, Some(Box::new(PyTorchToBurnAdapter.chain(PreluSlope::FromTorch))), true);
    // The names and shapes were all checked above: anything burn-store still reports is a fault
    // in a rename table, said as such rather than as a bad file.
    if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
        let message = format!(
            "the rename table does not match the module: {} errors ({:?}), missing {:?}, unused {:?}",
            result.errors.len(),
            result.errors.first().map(ToString::to_string),
            result.missing.iter().map(|(path, _)| path).take(5).collect::<Vec<_>>(),
            result.unused.iter().take(5).collect::<Vec<_>>()
        );
        return Err(CheckpointError::read(&source, message));
    }
    Ok(LoadSummary { applied: result.applied.len(), ignored })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_replace_whole_segments_both_ways() {
        let renames: Vec<(String, String)> =
            [("^fc.0", "fc.bn_in"), ("downsample.0", "downsample.conv"), ("^conv1", "backbone.conv1")]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        let keys = vec![
            "fc.0.weight".to_string(),
            "layer1.0.downsample.0.weight".into(),
            "conv1.weight".into(),
            "layer1.0.conv1.weight".into(),
            "xfc.0.weight".into(),
            "downsample.0.bias".into(),
        ];
        let burn = rename_all(keys.clone(), &remapper(&renames, true));
        assert_eq!(
            burn,
            [
                "fc.bn_in.weight",
                "layer1.0.downsample.conv.weight",
                "backbone.conv1.weight",
                "layer1.0.conv1.weight",
                "xfc.0.weight",
                "downsample.conv.bias"
            ]
        );
        assert_eq!(rename_all(burn, &remapper(&renames, false)), keys);
    }
}
