//! `eval --shard I/N` and `maskscope merge`: three shards of a small sweep, merged, give exactly
//! the results (and results.csv) of one run, mask contrast and photos without a face included;
//! parts that do not belong together are refused, naming them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::random_heads_model;
use maskscope::eval::results::SweepResults;

fn maskscope() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_maskscope"));
    cmd.env_remove("MASKSCOPE_DEVICE").args(["--device", "cpu"]);
    cmd
}

/// Ten CSV pairs of committed LFW photos and a blank photo (no face). Abdullah_Gul_0016 is the
/// second photo of pairs in two shards, so its mask contrast must be counted once.
fn write_pairs(dir: &Path) -> PathBuf {
    image::RgbImage::from_pixel(250, 250, image::Rgb([128, 128, 128])).save(dir.join("blank.png")).unwrap();
    let lfw = |name: &str, n: u32| {
        common::lfw_fixture_images().join(name).join(format!("{name}_{n:04}.jpg")).display().to_string()
    };
    let rows = [
        format!("{},{},1", lfw("Abdullah_Gul", 13), lfw("Abdullah_Gul", 16)),
        format!("{},{},1", lfw("Al_Pacino", 1), lfw("Al_Pacino", 2)),
        format!("{},blank.png,1", lfw("Albert_Costa", 2)),
        format!("{},{},1", lfw("Alan_Greenspan", 1), lfw("Alan_Greenspan", 5)),
        format!("{},{},1", lfw("Adel_Al-Jubeir", 1), lfw("Adel_Al-Jubeir", 3)),
        format!("{},{},0", lfw("AJ_Lamas", 1), lfw("Zach_Safrin", 1)),
        format!("{},{},0", lfw("Aaron_Guiel", 1), lfw("Reese_Witherspoon", 3)),
        format!("{},{},0", lfw("Steve_Cox", 1), lfw("Abdullah_Gul", 16)),
        format!("{},{},0", lfw("Abdul_Majeed_Shobokshi", 1), lfw("Charles_Cope", 1)),
        format!("{},{},0", lfw("Adam_Kennedy", 1), lfw("Amelie_Mauresmo", 19)),
    ];
    let path = dir.join("pairs.csv");
    std::fs::write(&path, format!("path_a,path_b,same\n{}\n", rows.join("\n"))).unwrap();
    path
}

fn eval(pairs: &Path, model: &Path, out: &Path, shard: Option<&str>) -> String {
    let mut cmd = maskscope();
    cmd.arg("eval").arg("--pairs").arg(pairs).arg("--model").arg(model).arg("--out").arg(out);
    cmd.args(["--protocol", "clean,mouth,occ-lfw-2.0", "--no-cache"]);
    if let Some(shard) = shard {
        cmd.args(["--shard", shard]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn merge(parts: &[&Path], out: &Path) -> std::process::Output {
    maskscope().arg("merge").args(parts).arg("--out").arg(out).output().unwrap()
}

fn results(out: &Path) -> SweepResults {
    serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap()
}

#[test]
fn three_shards_merge_into_the_results_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_heads_model(dir.path());
    let pairs = write_pairs(dir.path());
    let whole = dir.path().join("whole");
    eval(&pairs, &model, &whole, None);
    let parts: Vec<PathBuf> = (1..=3).map(|i| dir.path().join(format!("part{i}"))).collect();
    for (i, part) in parts.iter().enumerate() {
        let said = eval(&pairs, &model, part, Some(&format!("{}/3", i + 1)));
        assert!(said.contains(&format!("shard {}/3", i + 1)), "{said}");
        assert!(part.join("partial.json").is_file() && !part.join("results.json").exists());
    }
    let merged = dir.path().join("merged");
    // Any order.
    let out = merge(&[&parts[2], &parts[0], &parts[1]], &merged);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let (one, together) = (results(&whole), results(&merged));
    assert_eq!(together.conditions, one.conditions, "every metric, area and mask contrast");
    assert_eq!(together.photos, one.photos);
    assert_eq!((&together.pairs, &together.protocol), (&one.pairs, &one.protocol));
    assert_eq!((&together.models, &together.paths), (&one.models, &one.paths));
    let read = |out: &Path| std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(read(&merged), read(&whole));
    assert_eq!(one.photos.without_face.len(), 1, "the blank photo");
    let mouth = &one.conditions[1];
    // Ten second photos: one repeated, one without a face.
    assert_eq!(mouth.occluded_faces, 8, "distinct second photos with a face");
    assert_eq!(mouth.mask_contrast.unwrap().faces, 8, "the shared second photo counted once");
    for name in ["figure1.png", "roc.png", "report.md"] {
        assert!(merged.join(name).is_file(), "{name}");
    }
}

#[test]
fn parts_that_do_not_belong_together_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_heads_model(dir.path());
    let pairs = write_pairs(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    eval(&pairs, &model, &a, Some("1/2"));
    eval(&pairs, &model, &b, Some("2/2"));
    let out = dir.path().join("out");

    let err = |o: std::process::Output| {
        assert!(!o.status.success());
        String::from_utf8(o.stderr).unwrap()
    };
    let missing = err(merge(&[&a], &out));
    assert!(missing.contains("shards missing: [2] of 2"), "{missing}");
    let twice = err(merge(&[&a, &b, &a], &out));
    assert!(twice.contains("shard 1 of 2 is given twice"), "{twice}");

    // The same shard of a sweep over an edited pairs file.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let text = std::fs::read_to_string(&pairs).unwrap().replace("Al_Pacino_0002", "Al_Pacino_0001");
    let edited = other.join("pairs.csv");
    std::fs::write(&edited, text).unwrap();
    std::fs::copy(dir.path().join("blank.png"), other.join("blank.png")).unwrap();
    let c = dir.path().join("c");
    eval(&edited, &model, &c, Some("2/2"));
    let mismatch = err(merge(&[&a, &c], &out));
    assert!(mismatch.contains("does not belong with") && mismatch.contains("pairs file"), "{mismatch}");
    assert!(!out.join("results.json").exists(), "nothing written");
    let not_a_part = err(merge(&[&pairs], &out));
    assert!(not_a_part.contains("pairs.csv") && not_a_part.contains("not a part"), "{not_a_part}");
}
