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
