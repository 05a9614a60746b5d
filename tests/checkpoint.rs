//! Importing official FROM checkpoints: key names, formats, errors, and burn records.

mod common;

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use common::{assert_close, fixture, max_abs_diff, read_tensors, take};
use maskscope::checkpoint::{
    self, CheckpointError, FileFormat, StateDict, apply_state_dict, infer::infer_from_net_config, record, torch_keys,
    torch_tensors,
};
use maskscope::model::{FromNetConfig, normalize_pixels};

fn tiny_config() -> FromNetConfig {
    FromNetConfig::new()
        .with_widths([8, 16, 24, 32])
        .with_blocks([1, 2, 2, 1])
        .with_fpn_channels(16)
        .with_embedding_dim(64)
}

#[derive(serde::Deserialize)]
struct KeyListing {
    patterns: usize,
    tensors: Vec<KeyEntry>,
}

#[derive(serde::Deserialize)]
struct KeyEntry {
    key: String,
    shape: Vec<usize>,
}

#[test]
fn full_model_keys_and_shapes_equal_the_official_state_dict() {
    let text = std::fs::read_to_string(fixture("from/lresnet50e_ir_from_k5_keys.json")).unwrap();
    let listing: KeyListing = serde_json::from_str(&text).unwrap();
    let config = FromNetConfig::new();
    assert_eq!(listing.patterns, config.pattern_count());
    let net = config.init(&Device::flex());
    let mut ours = torch_keys(&net, &net.torch_renames());
    let mut reference: Vec<(String, Vec<usize>)> = listing
        .tensors
        .into_iter()
        .filter(|e| !e.key.ends_with("num_batches_tracked"))
        .map(|e| (e.key, e.shape))
        .collect();
    assert_eq!(ours.len(), reference.len(), "number of state-dict entries");
    // Same keys, same shapes (the order is the module's: burn-store matches by key; the official
    // file interleaves the pyramid's unused extras).
    ours.sort();
    reference.sort();
    for (i, (ours, theirs)) in ours.iter().zip(&reference).enumerate() {
        assert_eq!(ours, theirs, "entry {i}");
    }
}

#[test]
fn configuration_is_inferred_from_the_checkpoint() {
    let sd = StateDict::read(&fixture("from/from_tiny.pth.tar")).unwrap();
    assert_eq!(infer_from_net_config(&sd).unwrap(), tiny_config());
}

#[test]
fn official_bare_and_safetensors_files_load_the_same_tensors() {
    let device = Device::flex();
    let mut reference = None;
    for (file, format) in [
        ("from/from_tiny.pth.tar", FileFormat::Torch),
        ("from/from_tiny_state_dict.pth", FileFormat::Torch),
        ("from/from_tiny.safetensors", FileFormat::Safetensors),
    ] {
        let loaded = checkpoint::load_from_net(&fixture(file), &device).unwrap();
        assert_eq!(loaded.format, format, "{file}");
        // Every parameter and running statistic (no num_batches_tracked, no classifier).
        let renames = loaded.net.torch_renames();
        assert_eq!(loaded.applied, torch_tensors(&loaded.net, &renames).len(), "{file}");
        let tensors: BTreeMap<String, TensorData> = torch_tensors(&loaded.net, &renames).into_iter().collect();
        match &reference {
            None => reference = Some(tensors),
            Some(reference) => {
                for (key, data) in reference {
                    assert_eq!(max_abs_diff(&tensors[key], data, key), 0.0, "{file}: {key}");
                }
            }
        }
    }
    // And they are the file's values, BatchNorm running statistics included.
    let sd = StateDict::read(&fixture("from/from_tiny.safetensors")).unwrap();
    let loaded = reference.unwrap();
    for key in ["bn1.running_var", "layer3.1.bn2.running_mean", "fc.2.weight", "regress.3.running_var", "mask.1.weight"]
    {
        let file = sd.tensors[key].clone().convert::<f32>();
        assert_eq!(max_abs_diff(&loaded[key], &file, key), 0.0, "{key}");
    }
}

#[test]
fn a_wrong_checkpoint_lists_every_problem_and_loads_nothing() {
    let device = Device::flex();
    let mut sd = StateDict::read(&fixture("from/from_tiny.pth.tar")).unwrap();
    sd.tensors.remove("fc.3.weight");
    sd.tensors.remove("layer2.1.conv2.weight");
    let extra = sd.tensors["bn1.bias"].clone();
    sd.tensors.insert("head.extra.bias".into(), extra);
    // One width changed: the model expects 64 embedding features.
    let mut net = tiny_config().with_embedding_dim(32).init(&device);
    let renames = net.torch_renames();
    let before = torch_tensors(&net, &renames);
    let err = apply_state_dict(&mut net, sd, &renames).unwrap_err();
    // Nothing was applied: every tensor is still the freshly initialised one.
    for ((key, was), (_, is)) in before.iter().zip(torch_tensors(&net, &renames)) {
        assert_eq!(max_abs_diff(&is, was, key), 0.0, "{key} changed");
    }
    let CheckpointError::Mismatch { mismatch, .. } = &err else { panic!("unexpected error {err}") };
    assert_eq!(mismatch.missing, vec!["layer2.1.conv2.weight".to_string(), "fc.3.weight".to_string()]);
    assert_eq!(mismatch.unexpected, vec!["head.extra.bias".to_string()]);
    let mismatched: Vec<&str> = mismatch.shape_mismatches.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(mismatched, ["fc.2.weight", "fc.2.bias", "fc.3.bias", "fc.3.running_mean", "fc.3.running_var"]);
    let text = err.to_string();
    for needle in
        ["from_tiny.pth.tar", "missing keys (2)", "unexpected keys (1)", "head.extra.bias", "model expects [32, 1344]"]
    {
        assert!(text.contains(needle), "error text lacks {needle:?}:\n{text}");
    }
}

#[test]
fn a_file_that_is_no_checkpoint_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.pth.tar");
    std::fs::write(&path, b"this is not a checkpoint").unwrap();
    let err = checkpoint::load_from_net(&path, &Device::flex()).unwrap_err();
    assert!(matches!(err, CheckpointError::UnknownFormat(_)), "{err}");
    assert!(err.to_string().contains("notes.pth.tar"), "{err}");
    let missing = checkpoint::load_from_net(&dir.path().join("absent.pth"), &Device::flex()).unwrap_err();
    assert!(missing.to_string().contains("absent.pth"), "{missing}");
}

#[test]
fn burn_record_round_trip_gives_identical_outputs() {
    let device = Device::flex();
    let loaded = checkpoint::load_from_net(&fixture("from/from_tiny.pth.tar"), &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.bpk");
    record::save_from_net(&loaded.net, &loaded.config, &path).unwrap();

    let reloaded = checkpoint::load_from_net(&path, &device).unwrap();
    assert_eq!(reloaded.format, FileFormat::Burnpack);
    assert_eq!(reloaded.config, loaded.config);
    let io = read_tensors("from/from_tiny_io.safetensors");
    let input = normalize_pixels(Tensor::<4>::from_data(take(&io, "input_raw"), &device));
    // The weights survive bit for bit...
    let (original, restored) = (loaded.net, reloaded.net);
    let renames = original.torch_renames();
    let before: BTreeMap<String, TensorData> = torch_tensors(&original, &renames).into_iter().collect();
    for (key, data) in torch_tensors(&restored, &renames) {
        assert_eq!(max_abs_diff(&data, &before[&key], &key), 0.0, "{key}");
    }
    // ...and so do the outputs, up to float summation order (a transposed weight is laid out
    // differently in memory, so the matmul may add in another order).
    let a = original.forward(input.clone());
    let b = restored.forward(input);
    assert_close(&b.masked_embedding.into_data(), &a.masked_embedding.into_data(), 1e-5, "masked embedding");
    assert_close(&b.pattern_logits.into_data(), &a.pattern_logits.into_data(), 1e-5, "pattern logits");

    // A record is not a state dict, and a truncated record is an error, not a partial model.
    assert!(matches!(StateDict::read(&path), Err(CheckpointError::NotAStateDict(_))));
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.bpk");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert!(checkpoint::load_from_net(&cut, &device).is_err());
}

/// A record (or state dict) with a NaN or an infinity among its weights is refused at load,
/// naming the file and the tensor: it would make every embedding NaN.
#[test]
fn non_finite_weights_are_refused_naming_the_tensor() {
    let device = Device::flex();
    let loaded = checkpoint::load_from_net(&fixture("from/from_tiny.safetensors"), &device).unwrap();
    for bad in [f32::NAN, f32::INFINITY] {
        let mut net = loaded.net.clone();
        let mut values = net.backbone.bn1.gamma.val().into_data().try_to_vec::<f32>().unwrap();
        values[1] = bad;
        let n = values.len();
        net.backbone.bn1.gamma =
            burn::module::Param::from_tensor(Tensor::from_data(TensorData::new(values, [n]), &device));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.bpk");
        record::save_from_net(&net, &loaded.config, &path).unwrap();
        let err = checkpoint::load_from_net(&path, &device).unwrap_err().to_string();
        assert!(err.contains("bad.bpk") && err.contains("bn1") && err.contains("non-finite"), "{err}");
    }
    // The intact network passes the same check.
    record::check_finite(&loaded.net).unwrap();
}

/// Reading a safetensors file is linear in its tensors: 10,000 small ones never finished when
/// the header was parsed once per tensor (6,000 took 39 s); every value comes back exactly.
#[test]
fn a_safetensors_file_with_many_tensors_reads_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.safetensors");
    let values: Vec<Vec<u8>> = (0..10_000).map(|i| (i as f32).to_le_bytes().to_vec()).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = values
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            (format!("t.{i}"), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], bytes).unwrap())
        })
        .collect();
    safetensors::serialize_to_file(views, None, &path).unwrap();
    let sd = StateDict::read(&path).unwrap();
    assert_eq!(sd.tensors.len(), 10_000);
    for (key, data) in &sd.tensors {
        let i: f32 = key.strip_prefix("t.").unwrap().parse().unwrap();
        assert_eq!(data.clone().convert::<f32>().try_to_vec::<f32>().unwrap(), [i], "{key}");
    }
}
