//! Checkpoints forged to crash, exhaust or fool the readers: each is refused with an error that
//! names the file, before anything large is allocated.

mod common;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use common::{fixture, torch_zip_with_pickle, with_call};
use maskscope::checkpoint::{self, CheckpointError, record};
use maskscope::model::FromNetConfig;
use safetensors::Dtype;
use safetensors::tensor::TensorView;

/// The tiny FROM fixture's tensors as (key, dtype, shape, bytes), to rewrite with one change.
fn tiny_tensors() -> Vec<(String, Dtype, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(fixture("from/from_tiny.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.iter().map(|(k, v)| (k.to_string(), v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect()
}

fn write_safetensors(path: &Path, tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(k, d, s, b)| (k.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

fn load_error(path: &Path) -> String {
    let error = checkpoint::load_from_net(path, &Device::flex()).expect_err("a forged checkpoint must be refused");
    let text = error.to_string();
    assert!(text.contains(&path.display().to_string()), "the error names the file: {text}");
    text
}

/// `layer4.0.conv1.weight` of shape [0, 24, 3, 3] divided by zero while the configuration was
/// read off the shapes (convert and eval --model both panicked).
#[test]
fn a_stage_without_output_channels_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zero-width.safetensors");
    let mut tensors = tiny_tensors();
    let conv = tensors.iter_mut().find(|t| t.0 == "layer4.0.conv1.weight").unwrap();
    conv.2[0] = 0;
    conv.3.clear();
    write_safetensors(&path, &tensors);
    let text = load_error(&path);
    assert!(text.contains("layer4.0.conv1.weight") && text.contains("no output channels"), "{text}");
}

/// Zero-byte tensors named `layer1.100000000.*` asked `init` for a hundred million blocks.
#[test]
fn a_block_count_beyond_the_bound_is_refused_before_building() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.safetensors");
    let mut tensors = tiny_tensors();
    tensors.push(("layer1.100000000.bn1.weight".into(), Dtype::F32, vec![0], Vec::new()));
    write_safetensors(&path, &tensors);
    let text = load_error(&path);
    assert!(text.contains("at most 32 per stage"), "{text}");
}

/// A record whose stored configuration is within every bound but far larger than its bytes:
/// refused by comparing the parameter count with the file, before loading a weight.
#[test]
fn a_record_whose_configuration_outgrows_its_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forged.bpk");
    let tiny = checkpoint::load_from_net(&fixture("from/from_tiny.safetensors"), &Device::flex()).unwrap();
    let forged = FromNetConfig::new().with_widths([2048; 4]).with_blocks([32; 4]).with_input_size([448, 448]);
    forged.validate().expect("the forged configuration is within the bounds");
    let json = serde_json::to_string(&forged).unwrap();
    record::save_module(&tiny.net, &path, record::FROM_LRESNET, &[("maskscope.config", json)]).unwrap();
    let text = load_error(&path);
    assert!(text.contains("asks for") && text.contains("parameters"), "{text}");
}

/// A configuration out of bounds in a record's metadata is refused by name.
#[test]
fn a_record_configuration_beyond_the_bounds_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.bpk");
    let tiny = checkpoint::load_from_net(&fixture("from/from_tiny.safetensors"), &Device::flex()).unwrap();
    let json = serde_json::to_string(&FromNetConfig::new().with_widths([64, 128, 256, 1 << 20])).unwrap();
    record::save_module(&tiny.net, &path, record::FROM_LRESNET, &[("maskscope.config", json)]).unwrap();
    let text = load_error(&path);
    assert!(text.contains("widths: 1048576 channels is more than 2048"), "{text}");
}

/// The fixture's zip archive with `data.pkl` replaced by `edit(data.pkl)`.
fn torch_file_with_pickle(dir: &Path, name: &str, edit: impl Fn(&[u8]) -> Vec<u8>) -> PathBuf {
    let path = dir.join(name);
    torch_zip_with_pickle(&fixture("from/from_tiny.pth.tar"), &path, edit);
    path
}

/// GLOBAL os.system, MARK, UNICODE 'echo', TUPLE, REDUCE.
const OS_SYSTEM_GLOBAL: &[u8] = b"cos\nsystem\n(Vecho\ntR";
/// The protocol 4 spelling: two short strings, memoised, then STACK_GLOBAL.
const OS_SYSTEM_STACK_GLOBAL: &[u8] = b"\x8c\x02os\x94\x8c\x06system\x94\x93(Vecho\ntR";

#[test]
fn a_pickle_that_names_a_callable_outside_the_allow_list_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // The untouched archive, rewritten the same way, loads: the check passes real checkpoints.
    let intact = torch_file_with_pickle(dir.path(), "intact.pth.tar", |p| p.to_vec());
    checkpoint::load_from_net(&intact, &Device::flex()).unwrap();
    for (name, call) in [("global.pth.tar", OS_SYSTEM_GLOBAL), ("stack-global.pth.tar", OS_SYSTEM_STACK_GLOBAL)] {
        let path = torch_file_with_pickle(dir.path(), name, |p| with_call(p, call));
        let text = load_error(&path);
        assert!(text.contains("os.system") && text.contains("refused without running"), "{name}: {text}");
    }
}

/// A pickle of a whole model names its class: refused, with the state-dict spelling to use.
#[test]
fn a_whole_model_pickle_is_refused_with_the_way_to_save_weights() {
    let dir = tempfile::tempdir().unwrap();
    let path =
        torch_file_with_pickle(dir.path(), "model.pth", |p| with_call(p, b"clib.models.fpn\nLResNet50E_IR_Occ\n"));
    let text = load_error(&path);
    assert!(text.contains("lib.models.fpn.LResNet50E_IR_Occ") && text.contains("state_dict()"), "{text}");
}

/// A STACK_GLOBAL whose operands are not two strings just pushed cannot be checked: refused.
#[test]
fn a_stack_global_that_cannot_be_followed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = torch_file_with_pickle(dir.path(), "opaque.pth", |p| with_call(p, b"\x8c\x02os)\x93"));
    let text = load_error(&path);
    assert!(text.contains("STACK_GLOBAL"), "{text}");
    assert!(matches!(checkpoint::StateDict::read(&path), Err(CheckpointError::Read { .. })));
}
