//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use burn::tensor::TensorData;
use maskscope::checkpoint::StateDict;

/// A FROM-MobileFaceNet record with random heads around the bundled backbone, written in `dir`.
pub fn random_heads_model(dir: &Path) -> PathBuf {
    use maskscope::checkpoint::record::save_from_mobilefacenet;
    use maskscope::model::from_mobilefacenet::FromMobileFaceNetConfig;
    let device = maskscope::device::ComputeDevice::cpu().device;
    let backbone = maskscope::face::Embedder::load(&maskscope::assets::mobilefacenet_record(), &device)
        .expect("bundled MobileFaceNet")
        .net;
    let config = FromMobileFaceNetConfig::new();
    let path = dir.join("from_random.bpk");
    save_from_mobilefacenet(&config.init_with(backbone, &device), &config, &path).unwrap();
    path
}

pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(relative)
}

/// The committed LFW photos (`tests/fixtures/lfw/README.md` credits them), laid out like LFW's
/// `images/Name/Name_NNNN.jpg`.
pub fn lfw_fixture_images() -> PathBuf {
    fixture("lfw/images")
}

/// A path under `../shared`, the project's data beside our own checkouts (never on a user's
/// machine). Only `#[ignore]`d tests read it (`cargo test --release -- --ignored`, which `.ci/run`
/// runs where `../shared` exists); they fail, naming the path, when it is missing.
pub fn shared(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared").join(relative);
    assert!(path.exists(), "{} is missing: this opt-in test needs the project's ../shared data", path.display());
    path
}

/// The tensors of a fixture safetensors file.
pub fn read_tensors(relative: &str) -> StateDict {
    StateDict::read(&fixture(relative)).expect("fixture readable")
}

pub fn take(dict: &StateDict, key: &str) -> TensorData {
    dict.tensors.get(key).unwrap_or_else(|| panic!("fixture lacks {key}")).clone()
}

/// Largest absolute difference, after checking the shapes agree.
pub fn max_abs_diff(actual: &TensorData, expected: &TensorData, what: &str) -> f32 {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shape");
    let a = actual.try_to_vec::<f32>().unwrap();
    let e = expected.try_to_vec::<f32>().unwrap();
    a.iter().zip(&e).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Largest absolute value: the scale an error is judged against.
pub fn max_abs(data: &TensorData) -> f32 {
    data.try_to_vec::<f32>().unwrap().iter().map(|v| v.abs()).fold(0.0, f32::max)
}

/// Asserts `actual` is within `relative` x (max |expected|) of `expected` everywhere.
pub fn assert_close(actual: &TensorData, expected: &TensorData, relative: f32, what: &str) {
    let scale = max_abs(expected).max(f32::MIN_POSITIVE);
    let err = max_abs_diff(actual, expected, what);
    assert!(err <= relative * scale, "{what}: max abs error {err:e} exceeds {relative:e} x scale {scale:e}");
    eprintln!("{what}: max abs error {err:.3e} (scale {scale:.3e})");
}

/// Writes to `out` the zip archive of `source` (a `torch.save` file) with its `data.pkl`
/// replaced by `edit(data.pkl)`.
pub fn torch_zip_with_pickle(source: &Path, out: &Path, edit: impl Fn(&[u8]) -> Vec<u8>) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(source).unwrap()).unwrap();
    let mut writer = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if name.ends_with("data.pkl") {
            bytes = edit(&bytes);
        }
        writer.start_file(name, options).unwrap();
        writer.write_all(&bytes).unwrap();
    }
    writer.finish().unwrap();
}

/// `pickle` with `call` inserted after its PROTO, followed by a POP: stack-neutral, so the rest
/// of the pickle still reads.
pub fn with_call(pickle: &[u8], call: &[u8]) -> Vec<u8> {
    assert_eq!(pickle[0], 0x80, "the pickle opens with PROTO");
    [&pickle[..2], call, b"0", &pickle[2..]].concat()
}

/// Makes a FIFO at `path`: opening it for reading blocks until a writer comes, so a reader that
/// opens it before checking the file type hangs.
#[cfg(unix)]
pub fn make_fifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}
