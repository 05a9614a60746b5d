//! Pairs files, LFW layout or CSV (the first line decides).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = maskscope_fuzz::input_file("pairs.txt", data);
    let _ = maskscope::eval::pairs::read_pairs_any(&path, None);
});
