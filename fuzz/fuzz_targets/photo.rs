//! Photo decoding (every format `image` reads, the strict JPEG check, EXIF orientation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = maskscope_fuzz::input_file("photo", data);
    let _ = maskscope::face::read_photo(&path);
});
