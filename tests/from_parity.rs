//! The burn FROM network against the independent PyTorch reference (tools/from_reference.py):
//! a reduced configuration's random-init checkpoint and its eval-mode outputs for fixed inputs.

mod common;

use burn::tensor::{Device, Tensor};
use common::{assert_close, fixture, read_tensors, take};
use maskscope::checkpoint::load_from_net;
use maskscope::device::{DeviceRequest, select};
use maskscope::model::normalize_pixels;

/// Allowed error relative to each output's largest magnitude (the acceptance bound).
const TOLERANCE: f32 = 1e-4;

fn check_parity(device: &Device, label: &str) {
    let loaded = load_from_net(&fixture("from/from_tiny.pth.tar"), device).expect("tiny checkpoint loads");
    let io = read_tensors("from/from_tiny_io.safetensors");
    let input = normalize_pixels(Tensor::<4>::from_data(take(&io, "input_raw"), device));

    let (features, _) = loaded.net.features(input.clone());
    assert_close(&features.c5.into_data(), &take(&io, "c5"), TOLERANCE, &format!("{label} c5"));

    let out = loaded.net.forward(input.clone());
    assert_close(
        &out.masked_embedding.into_data(),
        &take(&io, "masked_embedding"),
        TOLERANCE,
        &format!("{label} masked embedding"),
    );
    assert_close(&out.mask.into_data(), &take(&io, "mask"), TOLERANCE, &format!("{label} mask"));
    assert_close(
        &out.pattern_logits.into_data(),
        &take(&io, "pattern_logits"),
        TOLERANCE,
        &format!("{label} pattern logits"),
    );
    assert_close(
        &out.unmasked_embedding.into_data(),
        &take(&io, "unmasked_embedding"),
        TOLERANCE,
        &format!("{label} unmasked embedding"),
    );

    let external = Tensor::<4>::from_data(take(&io, "external_mask"), device);
    let out = loaded.net.forward_with_mask(input, external);
    assert_close(
        &out.masked_embedding.into_data(),
        &take(&io, "external_masked_embedding"),
        TOLERANCE,
        &format!("{label} external-mask embedding"),
    );
    assert_close(
        &out.pattern_logits.into_data(),
        &take(&io, "external_pattern_logits"),
        TOLERANCE,
        &format!("{label} external-mask logits"),
    );
}

#[test]
fn matches_pytorch_reference_on_cpu() {
    check_parity(&Device::flex(), "cpu");
}

#[test]
fn matches_pytorch_reference_on_wgpu_when_an_adapter_exists() {
    match select(DeviceRequest::Gpu) {
        Ok(gpu) => check_parity(&gpu.device, &gpu.info.short()),
        // No adapter is not a failure of the model; CI installs lavapipe so this path runs there.
        Err(why) => eprintln!("skipped: {why}"),
    }
}

/// The authors' two other decoders, `LResNet_Occ_2D` and `LResNet_Occ_FC`, built and run by their
/// own `lib/models/fpn.py` (tools/from_variants_reference.py): the checkpoint's keys pick the
/// decoder, and the outputs match theirs. Converted to a record, they give the same outputs.
#[test]
fn the_authors_2d_and_fc_decoders_load_by_their_keys_and_match_their_code() {
    use maskscope::model::config::MaskDecoderKind;
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    for (name, kind) in [("2d", MaskDecoderKind::Spatial), ("fc", MaskDecoderKind::Embedding)] {
        let checkpoint = fixture(&format!("from/from_tiny_{name}.pth.tar"));
        let record = dir.path().join(format!("{name}.bpk"));
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_maskscope"))
            .args(["--device", "cpu", "convert"])
            .arg(&checkpoint)
            .arg("-o")
            .arg(&record)
            .output()
            .unwrap();
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        let io = read_tensors(&format!("from/from_tiny_{name}_io.safetensors"));
        for (source, path) in [("checkpoint", &checkpoint), ("record", &record)] {
            let loaded = load_from_net(path, &device).expect("the variant loads");
            assert_eq!(loaded.config.decoder, kind, "{name} {source}");
            let input = normalize_pixels(Tensor::<4>::from_data(take(&io, "input_raw"), &device));
            let out = loaded.net.forward(input);
            let label = |what: &str| format!("{name} ({source}) {what}");
            let expected_mask = take(&io, "mask");
            // Theirs is [batch, 1, h, w] (2d) or [batch, 512] (fc); ours is 4-D either way.
            let values = out.mask.into_data().try_to_vec::<f32>().unwrap();
            let mask = burn::tensor::TensorData::new(values, expected_mask.shape().to_vec());
            assert_close(&mask, &expected_mask, TOLERANCE, &label("mask"));
            for (ours, key) in [
                (out.masked_embedding, "masked_embedding"),
                (out.pattern_logits, "pattern_logits"),
                (out.unmasked_embedding, "unmasked_embedding"),
            ] {
                assert_close(&ours.into_data(), &take(&io, key), TOLERANCE, &label(key));
            }
        }
    }
}

/// The CPU path of all three networks against the same PyTorch outputs: it is lowered from the
/// burn modules, so this checks the lowering (fusions, folds, the flattened heads' weight order).
#[test]
fn the_cpu_path_matches_pytorch_for_every_decoder() {
    use maskscope::cpu::{FromProgram, Nhwc};
    let device = Device::flex();
    for name in ["from_tiny", "from_tiny_2d", "from_tiny_fc"] {
        let loaded = load_from_net(&fixture(&format!("from/{name}.pth.tar")), &device).expect("the checkpoint loads");
        let cpu = FromProgram::new(&loaded.net, loaded.config.input_size).expect("the CPU path builds");
        let io = read_tensors(&format!("from/{name}_io.safetensors"));
        let raw = take(&io, "input_raw");
        let [batch, channels, height, width] = raw.shape().as_slice().try_into().unwrap();
        let input = Nhwc::from_planar(&raw.try_to_vec::<f32>().unwrap(), batch, channels, height, width);
        let out = cpu.forward_maps(&input, true);
        let data = |rows: Vec<Vec<f32>>, like: &burn::tensor::TensorData| {
            burn::tensor::TensorData::new(rows.concat(), like.shape().to_vec())
        };
        for (ours, key) in [
            (out.masked, "masked_embedding"),
            (out.unmasked, "unmasked_embedding"),
            (out.masks, "mask"),
            (out.pattern_logits, "pattern_logits"),
        ] {
            let expected = take(&io, key);
            assert_close(&data(ours, &expected), &expected, TOLERANCE, &format!("{name} cpu {key}"));
        }
        // Without the heads, the same embeddings and nothing else.
        let plain = cpu.forward_maps(&input, false);
        assert!(plain.masks.is_empty() && plain.pattern_logits.is_empty());
        let again = cpu.forward_maps(&input, true);
        assert_eq!(plain.masked, again.masked, "{name}");
    }
}
