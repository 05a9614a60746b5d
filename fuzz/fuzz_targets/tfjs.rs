//! A TF.js `model.json` beside a small weight shard.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let shard: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    maskscope_fuzz::input_file("shard.bin", &shard);
    let path = maskscope_fuzz::input_file("model.json", data);
    let _ = maskscope::checkpoint::tfjs::TfjsGraph::read(&path);
});
