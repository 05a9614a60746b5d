//! Checkpoint loading: the format is sniffed (PyTorch zip or pickle, safetensors, burnpack
//! record), the configuration inferred or read, the weights applied.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = maskscope_fuzz::input_file("checkpoint", data);
    let _ = maskscope::checkpoint::load_from_net(&path, &burn::tensor::Device::flex());
});
