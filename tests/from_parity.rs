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
