//! The `maskscope` binary end to end.

mod common;

use std::process::Command;

use common::fixture;

fn maskscope() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_maskscope"));
    cmd.env_remove("MASKSCOPE_DEVICE");
    cmd
}

#[test]
fn info_reports_the_device() {
    let out = maskscope().args(["info", "--device", "cpu"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("device: cpu (flex)"), "{text}");

    let out = maskscope().args(["info", "--json"]).env("MASKSCOPE_DEVICE", "cpu").output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["device"]["backend"], "flex");
    assert_eq!(json["device"]["requested"], "cpu");
}

#[test]
fn auto_never_fails_and_a_bad_device_is_a_clear_error() {
    let out = maskscope().args(["info", "--device", "auto"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = maskscope().args(["info"]).env("MASKSCOPE_DEVICE", "tpu").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tpu"), "{err}");
}

/// Probing the GPU prints nothing of its own: without a desktop session (no XDG_RUNTIME_DIR, as
/// over ssh or in CI) Mesa's Vulkan device-select layer made libwayland print four error lines.
#[test]
fn info_writes_nothing_to_stderr_without_a_desktop_session() {
    let out = maskscope().args(["info", "--device", "auto"]).env_remove("XDG_RUNTIME_DIR").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "stray stderr");
}

/// `maskscope info | head -1`: the reader goes away and the process ends without a panic.
#[cfg(unix)]
#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let mut child = maskscope()
        .args(["info", "--device", "cpu"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    // Either it finished writing before the pipe closed, or SIGPIPE ended it.
    assert!(out.status.success() || out.status.signal() == Some(13), "{:?}", out.status);
}

#[test]
fn convert_writes_a_record_and_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("tiny.bpk");
    let out = maskscope()
        .args(["--device", "cpu", "convert"])
        .arg(fixture("from/from_tiny.pth.tar"))
        .arg("-o")
        .arg(&output)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("226 patterns"), "{stdout}");
    assert!(stdout.contains("tensors identical"), "{stdout}");
    assert!(output.exists());

    let garbage = dir.path().join("garbage.pth");
    std::fs::write(&garbage, [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10]).unwrap();
    let out = maskscope().args(["convert"]).arg(&garbage).arg("-o").arg(dir.path().join("x.bpk")).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: ") && err.contains("garbage.pth"), "{err}");
}

/// `convert X -o X` wrote the record over the source and then failed its read-back: the user's
/// checkpoint was gone. Outputs that are the input (also through a link) or not regular files
/// are refused, and the input stays byte for byte.
#[cfg(unix)]
#[test]
fn convert_never_writes_over_its_input_or_a_non_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("from.pth.tar");
    std::fs::copy(fixture("from/from_tiny.pth.tar"), &input).unwrap();
    let original = std::fs::read(&input).unwrap();
    let link = dir.path().join("link.bpk");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let hard = dir.path().join("hard.bpk");
    std::fs::hard_link(&input, &hard).unwrap();
    for (output, why) in [(&input, "is the input"), (&hard, "is the input"), (&link, "not a regular file")] {
        let out = maskscope().args(["--device", "cpu", "convert"]).arg(&input).arg("-o").arg(output).output().unwrap();
        assert!(!out.status.success(), "{}", output.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{err}");
        assert_eq!(std::fs::read(&input).unwrap(), original, "the input changed");
    }
    let out = maskscope().args(["--device", "cpu", "convert"]).arg(&input).args(["-o", "/dev/null"]).output().unwrap();
    assert!(!out.status.success());
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device(), "/dev/null was replaced");
}

fn lfw(name: &str, n: u32) -> std::path::PathBuf {
    common::lfw_fixture_images().join(name).join(format!("{name}_{n:04}.jpg"))
}

#[test]
fn verify_tells_same_from_different_people() {
    let out = maskscope()
        .args(["--device", "cpu", "verify"])
        .arg(lfw("Aaron_Peirsol", 1))
        .arg(lfw("Aaron_Peirsol", 2))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("same person"), "{text}");
    let out = maskscope()
        .args(["--device", "cpu", "verify"])
        .arg(lfw("Aaron_Peirsol", 1))
        .arg(lfw("Abdullah", 1))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("different people"), "{text}");
}

#[test]
fn verify_refuses_a_threshold_that_is_not_a_cosine() {
    for bad in ["nan", "inf", "1e40", "-1.5", "x"] {
        let out =
            maskscope().args(["--device", "cpu", "verify", "a.jpg", "b.jpg", "--threshold", bad]).output().unwrap();
        assert!(!out.status.success(), "{bad} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--threshold") && err.contains(bad), "{bad}: {err}");
    }
    // A negative cosine is a threshold, not a flag: it gets as far as reading the photos.
    let out =
        maskscope().args(["--device", "cpu", "verify", "a.jpg", "b.jpg", "--threshold", "-0.2"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("--threshold") && err.contains("a.jpg"), "{err}");
}

/// A file name that is not UTF-8 is embedded like any other (it panicked in serde).
#[cfg(unix)]
#[test]
fn embed_takes_a_photo_whose_name_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join(std::ffi::OsStr::from_bytes(b"face-\xff.jpg"));
    std::fs::copy(maskscope::app::samples::samples_dir().join(maskscope::app::samples::FIRST_SAMPLE), &photo).unwrap();
    let out = maskscope().args(["--device", "cpu", "embed"]).arg(&photo).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(line["image"].as_str().unwrap().contains("face-\u{fffd}.jpg"), "{line}");
    assert_eq!(line["embedding"].as_array().unwrap().len(), 192);
}

/// A truncated JPEG still shows a face (its lost rows grey): embedded with a warning naming it,
/// refused under --strict.
#[test]
fn a_truncated_photo_is_embedded_with_a_warning_or_refused_under_strict() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("cut.jpg");
    let bytes = std::fs::read(lfw("Aaron_Peirsol", 1)).unwrap();
    std::fs::write(&photo, &bytes[..bytes.len() * 9 / 10]).unwrap();
    let out = maskscope().args(["--device", "cpu", "embed"]).arg(&photo).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("warning:") && err.contains("cut.jpg") && err.contains("--strict"), "{err}");
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(line["damage"].is_string(), "{line}");
    let out = maskscope().args(["--device", "cpu", "embed", "--strict"]).arg(&photo).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("cut.jpg: damaged image data"), "{err}");
    assert!(out.stdout.is_empty(), "no embedding printed");
}

#[test]
fn a_photo_without_a_face_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let blank = dir.path().join("wall.png");
    image::RgbImage::from_pixel(200, 160, image::Rgb([128, 128, 128])).save(&blank).unwrap();
    let out = maskscope().args(["--device", "cpu", "embed"]).arg(&blank).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wall.png") && err.contains("no face found"), "{err}");
    // No hint at a flag that does not exist.
    assert!(!err.contains("--landmarks"), "{err}");
    // A missing photo: named once, its cause said once.
    let out = maskscope().args(["--device", "cpu", "embed"]).arg(dir.path().join("gone.jpg")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("gone.jpg").count(), 1, "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

#[test]
fn eval_pairs_scores_a_small_pairs_file() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = dir.path().join("pairs.txt");
    std::fs::write(&pairs, "2\nAaron_Peirsol\t1\t2\nAaron_Peirsol\t1\tAbdullah\t1\n").unwrap();
    let root = lfw("Aaron_Peirsol", 1).parent().unwrap().parent().unwrap().to_path_buf();
    let out = maskscope()
        .args(["--device", "cpu", "eval-pairs", "--pairs"])
        .arg(&pairs)
        .arg("--images")
        .arg(&root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("accuracy: 100.00%"), "{text}");
    assert!(text.contains("photos without a face: 0 of 3"), "{text}");
    std::fs::write(&pairs, "2\nAaron_Peirsol\t1\n").unwrap();
    let out = maskscope().args(["eval-pairs", "--pairs"]).arg(&pairs).arg("--images").arg(&root).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pairs.txt:2"), "{err}");
}

/// `bench train` runs `maskscope train`'s own step for every trainable setting and prints a
/// faces/s figure for each (the figures themselves are for a person to read, not asserted).
#[test]
fn bench_train_times_each_trainable_setting() {
    let out =
        maskscope().args(["--device", "cpu", "bench", "train", "--batch", "1,4", "--runs", "1"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> =
        text.lines().filter(|l| l.trim_end().ends_with(|c: char| c.is_ascii_digit()) && l.contains("ms")).collect();
    assert_eq!(rows.len(), 3, "batch 1 is skipped (batch norm needs two faces), batch 4 timed three ways:\n{text}");
    for (row, name) in rows.iter().zip(["heads", "after-c3", "all"]) {
        let fields: Vec<&str> = row.split_whitespace().collect();
        assert_eq!((fields[0], fields[1]), (name, "4"), "{row}");
        let faces_per_second: f64 = fields[5].parse().unwrap();
        assert!(faces_per_second > 0.0, "{row}");
    }
    assert!(text.contains("load"), "the load is printed beside the figures:\n{text}");
}
