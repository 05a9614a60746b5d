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
    assert!(text.contains("device: cpu (maskscope CPU path, burn flex)"), "{text}");

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

/// The committed aligned 112x112 face `name` (`tests/fixtures/mobilefacenet/faces`) and its
/// TFLite reference embedding.
fn aligned_face(name: &str) -> (std::path::PathBuf, Vec<f32>) {
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("mobilefacenet/reference.json")).unwrap()).unwrap();
    let face =
        reference["faces"].as_array().unwrap().iter().find(|f| f["file"] == format!("faces/{name}.png")).unwrap();
    let embedding = face["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    (fixture(&format!("mobilefacenet/faces/{name}.png")), embedding)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt())
}

fn embed_json(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = maskscope().args(["--device", "cpu", "embed"]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `--aligned`: a crop of the template's size is embedded as it is (the TFLite reference of the
/// same crop agrees), a 112x96 crop is the 112x112 one without its 8 outer columns a side, and a
/// photo of another size is refused naming it and both sizes.
#[test]
fn aligned_crops_skip_detection_in_both_template_sizes() {
    let (face, reference) = aligned_face("Aaron_Peirsol_0001");
    let line = embed_json(&["--aligned".as_ref(), "112x112".as_ref(), face.as_os_str()]);
    let ours: Vec<f32> = serde_json::from_value(line["embedding"].clone()).unwrap();
    let agreement = cosine(&ours, &reference);
    assert!(agreement >= 0.9999, "cosine with TFLite {agreement}");
    assert_eq!(line["aligned_input"], "112x112");
    assert!(line["score"].is_null(), "no detection: {line}");
    assert_eq!(line["landmarks"][0][0].as_f64().unwrap() as f32, 38.2946_f32, "the template's points");

    // The same face as a SphereFace 112x96 crop, and that crop padded back to 112x112 with black.
    let dir = tempfile::tempdir().unwrap();
    let wide = image::open(&face).unwrap().to_rgb8();
    let narrow = image::imageops::crop_imm(&wide, 8, 0, 96, 112).to_image();
    let mut padded = image::RgbImage::new(112, 112);
    image::imageops::replace(&mut padded, &narrow, 8, 0);
    let (narrow_path, padded_path) = (dir.path().join("narrow.png"), dir.path().join("padded.png"));
    narrow.save(&narrow_path).unwrap();
    padded.save(&padded_path).unwrap();
    let from_narrow = embed_json(&["--aligned".as_ref(), "112x96".as_ref(), narrow_path.as_os_str()]);
    let from_padded = embed_json(&["--aligned".as_ref(), "112x112".as_ref(), padded_path.as_os_str()]);
    assert_eq!(from_narrow["embedding"], from_padded["embedding"], "112x96 is shifted, never resized");
    assert_eq!(from_narrow["landmarks"][0][0].as_f64().unwrap() as f32, 30.2946_f32);

    let out = maskscope().args(["--device", "cpu", "embed", "--aligned", "112x96"]).arg(&face).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && out.stdout.is_empty(), "{err}");
    assert!(err.contains("Aaron_Peirsol_0001.png") && err.contains("112x112") && err.contains("96x112"), "{err}");
    let out = maskscope().args(["embed", "--aligned", "100x100", "x.png"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("'100x100' is not an aligned crop size"), "{err}");
}

/// A tight crop (the face box, resized to 160x160, as masked-face sets ship them) has no margin
/// for the detector's boxes; the retry inside a grey margin finds the face, and its landmarks
/// come back in the crop's own pixels.
#[test]
fn a_face_that_fills_the_frame_is_found() {
    let photo = image::open(lfw("Aaron_Peirsol", 1)).unwrap().to_rgb8();
    let dir = tempfile::tempdir().unwrap();
    let whole = embed_json(&[lfw("Aaron_Peirsol", 1).as_os_str()]);
    // The square around the face box, its side the box's longer one (inside this photo).
    let [x1, y1, x2, y2]: [f64; 4] = serde_json::from_value(whole["box"].clone()).unwrap();
    let side = (x2 - x1).max(y2 - y1);
    let (left, top) = ((x1 + x2 - side) / 2.0, (y1 + y2 - side) / 2.0);
    assert!(left >= 0.0 && top >= 0.0 && left + side <= 250.0 && top + side <= 250.0);
    let tight = image::imageops::crop_imm(&photo, left as u32, top as u32, side as u32, side as u32).to_image();
    let tight = image::imageops::resize(&tight, 160, 160, image::imageops::FilterType::Triangle);
    let path = dir.path().join("tight.png");
    tight.save(&path).unwrap();
    let line = embed_json(&[path.as_os_str()]);
    let landmarks: [[f64; 2]; 5] = serde_json::from_value(line["landmarks"].clone()).unwrap();
    assert!(landmarks.iter().all(|&[x, y]| (0.0..160.0).contains(&x) && (0.0..160.0).contains(&y)), "{line}");
    let a: Vec<f32> = serde_json::from_value(whole["embedding"].clone()).unwrap();
    let b: Vec<f32> = serde_json::from_value(line["embedding"].clone()).unwrap();
    assert!(cosine(&a, &b) > 0.8, "the tight crop is the same face: {}", cosine(&a, &b));
}

/// `pairs`: 10 identity-disjoint folds of as many same as different pairs, that `eval` reads back
/// fold by fold; with --masked every pair is an unmasked photo then a masked one.
#[test]
fn pairs_builds_balanced_folds_and_masked_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("faces");
    for i in 0..24 {
        let person = root.join(format!("person_{i:02}"));
        std::fs::create_dir_all(&person).unwrap();
        for j in 0..3 {
            std::fs::write(person.join(format!("{j}.jpg")), b"").unwrap();
        }
        std::fs::write(person.join("3_mask.jpg"), b"").unwrap();
    }
    let csv = dir.path().join("out/pairs.csv");
    let out = maskscope().args(["pairs", "--from"]).arg(&root).arg("--out").arg(&csv).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let file = maskscope::eval::pairs::read_pairs_any(&csv, None).unwrap();
    // 24 people of 4 photos over 10 folds: the smallest fold (2 people) allows 12 same pairs.
    assert!(text.contains("10 folds of 12 same + 12 different pairs"), "{text}");
    assert_eq!(file.pairs.len(), 240);
    for pair in &file.pairs {
        assert!(pair.a.is_file() && pair.b.is_file(), "paths are relative to the CSV: {pair:?}");
        let who = |p: &std::path::Path| p.parent().unwrap().file_name().unwrap().to_owned();
        assert_eq!(who(&pair.a) == who(&pair.b), pair.same, "{pair:?}");
    }
    let again = dir.path().join("again.csv");
    maskscope().args(["pairs", "--from"]).arg(&root).arg("--out").arg(&again).output().unwrap();
    let body = |p: &std::path::Path| {
        std::fs::read_to_string(p).unwrap().lines().skip(1).map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(body(&csv).len(), body(&again).len());
    assert_eq!(
        maskscope::eval::pairs::read_pairs_any(&again, None).unwrap().pairs.iter().map(|p| p.same).collect::<Vec<_>>(),
        file.pairs.iter().map(|p| p.same).collect::<Vec<_>>(),
        "seeded"
    );

    let out = maskscope()
        .args(["pairs", "--masked", "*_mask*", "--from"])
        .arg(&root)
        .arg("--out")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = maskscope::eval::pairs::read_pairs_any(&csv, None).unwrap();
    assert!(!file.pairs.is_empty());
    for pair in &file.pairs {
        let name = |p: &std::path::Path| p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name(&pair.a).contains("_mask") && name(&pair.b).contains("_mask"), "{pair:?}");
    }
    let out =
        maskscope().args(["pairs", "--per-fold", "50", "--from"]).arg(&root).arg("--out").arg(&csv).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("fewer than the 50 asked for"), "{err}");
}

/// `identify` on a small gallery of committed LFW photos: one photo per person enrolled, the other
/// photo of each person with two as probes, clean and under a grey mouth box.
#[test]
fn identify_ranks_probes_against_a_gallery() {
    let dir = tempfile::tempdir().unwrap();
    let (gallery, probes) = (dir.path().join("gallery"), dir.path().join("probes"));
    let mut probe_count = 0;
    for person in std::fs::read_dir(common::lfw_fixture_images()).unwrap() {
        let person = person.unwrap().path();
        let name = person.file_name().unwrap().to_owned();
        let mut photos: Vec<_> = std::fs::read_dir(&person).unwrap().map(|e| e.unwrap().path()).collect();
        photos.sort();
        std::fs::create_dir_all(gallery.join(&name)).unwrap();
        std::fs::copy(&photos[0], gallery.join(&name).join(photos[0].file_name().unwrap())).unwrap();
        if let Some(second) = photos.get(1) {
            std::fs::create_dir_all(probes.join(&name)).unwrap();
            std::fs::copy(second, probes.join(&name).join(second.file_name().unwrap())).unwrap();
            probe_count += 1;
        }
    }
    let out_dir = dir.path().join("out");
    let out = maskscope()
        .args(["--device", "cpu", "identify", "--occlude", "clean,grey-mouth", "--max-rank", "5", "--no-cache"])
        .arg("--gallery")
        .arg(&gallery)
        .arg("--probe")
        .arg(&probes)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let results: maskscope::eval::identify_results::IdentifyResults =
        serde_json::from_slice(&std::fs::read(out_dir.join("results.json")).unwrap()).unwrap();
    let labels: Vec<&str> = results.paths.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["baseline", "FROM", "FROM, mask off"]);
    assert_eq!(results.probes.images, probe_count);
    assert_eq!(results.gallery.identities, 31);
    for condition in &results.conditions {
        for path in &condition.paths {
            let r = &path.report;
            assert_eq!(r.closed_set_probes, probe_count);
            assert_eq!(r.cmc.len(), 5);
            assert!(r.cmc.windows(2).all(|w| w[0] <= w[1]), "the CMC never falls: {:?}", r.cmc);
            // Rank-1 is the share of probes ranked first, recounted from the per-probe ranks.
            let first = r.per_probe.iter().filter(|p| p.rank == Some(1)).count();
            assert_eq!(r.rank1, first as f64 / probe_count as f64);
        }
    }
    let clean = results.conditions[0].path("baseline").unwrap();
    assert!(clean.rank1 >= 0.75, "MobileFaceNet identifies most clean LFW probes: {}", clean.rank1);
    let csv = std::fs::read_to_string(out_dir.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 3, "{csv}");
    assert!(csv.lines().next().unwrap().ends_with("cmc_4,cmc_5"), "{csv}");
    let figure = image::open(out_dir.join("rank1.png")).unwrap();
    assert!(figure.width() > 1000, "the rank-1 figure is drawn");
    assert!(text.contains("grey: mouth"), "{text}");
}

/// `inspect` on a folder: a JSON line per photo (a photo with no face gets one naming the error),
/// the 7x7 mask map, the top-k patterns, and an overlay PNG per face; under a grey mouth box the
/// shipped model removes more of the mouth cells than of the eye cells.
#[test]
fn inspect_reports_masks_patterns_and_overlays() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos/sub");
    std::fs::create_dir_all(&photos).unwrap();
    for (name, n) in [("Aaron_Peirsol", 1), ("Abdullah", 1)] {
        std::fs::copy(lfw(name, n), photos.join(format!("{name}_{n:04}.jpg"))).unwrap();
    }
    image::RgbImage::from_pixel(120, 90, image::Rgb([128, 128, 128])).save(photos.join("wall.png")).unwrap();
    let overlays = dir.path().join("overlays");
    let out = maskscope()
        .args(["--device", "cpu", "inspect", "--occlude", "grey-mouth", "--top-k", "3", "--overlay"])
        .arg(&overlays)
        .arg(dir.path().join("photos"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    let wall = lines.iter().find(|l| l["image"].as_str().unwrap().ends_with("wall.png")).unwrap();
    assert!(wall["error"].as_str().unwrap().contains("no face found"), "{wall}");
    for line in lines.iter().filter(|l| l["error"].is_null()) {
        let patterns = line["patterns"].as_array().unwrap();
        assert_eq!(patterns.len(), 3);
        let p: Vec<f64> = patterns.iter().map(|p| p["probability"].as_f64().unwrap()).collect();
        assert!(p.windows(2).all(|w| w[0] >= w[1]), "most probable first: {p:?}");
        assert!(line["true_pattern"].as_u64().is_some_and(|t| t > 0), "the mouth box has a pattern: {line}");
        assert_eq!(line["occlusion"], "grey: mouth");
        let mean: Vec<Vec<f64>> = serde_json::from_value(line["mask"]["mean"].clone()).unwrap();
        assert_eq!((mean.len(), mean[0].len()), (7, 7));
        // Mouth cells (rows 5-6, middle columns) against eye cells (row 2).
        let removed = |rows: std::ops::Range<usize>| {
            let cells: Vec<f64> =
                rows.flat_map(|r| (2..5).map(move |c| (r, c))).map(|(r, c)| 1.0 - mean[r][c]).collect();
            cells.iter().sum::<f64>() / cells.len() as f64
        };
        assert!(removed(5..7) > removed(2..3) + 0.2, "{:.3} vs {:.3}", removed(5..7), removed(2..3));
        let key = format!(
            "sub/{}",
            std::path::Path::new(line["image"].as_str().unwrap()).file_name().unwrap().to_string_lossy()
        );
        let overlay = image::open(overlays.join(format!("{}.png", key.replace('/', "__")))).unwrap();
        assert!(overlay.width() > 4 * 112 && overlay.height() > 4 * 112, "the face at 4x with its colour bar");
    }
    assert!(err.contains("2 faces inspected, 1 photos without a usable face"), "{err}");
}
