//! CSV pairs, format detection and LFW fold layouts.

use std::path::{Path, PathBuf};

use maskscope::eval::pairs::{
    FoldLayout, PairsError, PairsFormat, parse_pairs_csv, parse_pairs_file, read_pairs_any, read_pairs_csv,
};

/// A fresh folder under cargo's scratch space for integration tests.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("metrics-pairs").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn csv_with_and_without_header() {
    let base = Path::new("/data");
    let text =
        "path_a,path_b,same\na/1.jpg, b/2.jpg ,1\n\n# a comment\n/abs/x.png,y.png,different\n\"c,d.jpg\",e.jpg,TRUE\n";
    let pairs = parse_pairs_csv(text, Path::new("p.csv"), base).unwrap();
    assert_eq!(pairs.len(), 3);
    assert_eq!(
        (pairs[0].a.as_path(), pairs[0].b.as_path(), pairs[0].same, pairs[0].line),
        (Path::new("/data/a/1.jpg"), Path::new("/data/b/2.jpg"), true, 2)
    );
    // Absolute paths are kept; lines count blank and comment lines.
    assert_eq!((pairs[1].a.as_path(), pairs[1].same, pairs[1].line), (Path::new("/abs/x.png"), false, 5));
    assert_eq!((pairs[2].a.as_path(), pairs[2].same), (Path::new("/data/c,d.jpg"), true));
    // No header; every label spelling.
    let text = "a,b,1\na,b,0\na,b,true\na,b,false\na,b,Same\na,b,different\n";
    let labels: Vec<bool> = parse_pairs_csv(text, Path::new("p.csv"), base).unwrap().iter().map(|p| p.same).collect();
    assert_eq!(labels, [true, false, true, false, true, false]);
    // A header whose third name is not a label value.
    let pairs = parse_pairs_csv("first,second,label\na,b,0\n", Path::new("p.csv"), base).unwrap();
    assert_eq!((pairs.len(), pairs[0].line), (1, 2));
}

#[test]
fn malformed_csv_names_file_and_line() {
    let base = Path::new("/data");
    let error = |text: &str| parse_pairs_csv(text, Path::new("pairs.csv"), base).unwrap_err();
    let e = error("path_a,path_b,same\na,b,1\na,b\n");
    assert!(matches!(e, PairsError::Malformed { line: 3, .. }), "{e}");
    assert!(e.to_string().starts_with("pairs.csv:3:") && e.to_string().contains("expected 3 fields"), "{e}");
    let e = error("a,b,1\na,b,maybe\n");
    assert!(e.to_string().starts_with("pairs.csv:2:") && e.to_string().contains("'maybe'"), "{e}");
    let e = error("a,b,1\n,b,0\n");
    assert!(e.to_string().starts_with("pairs.csv:2:") && e.to_string().contains("empty"), "{e}");
    let e = error("a,b,1,extra\n");
    assert!(e.to_string().starts_with("pairs.csv:1:"), "{e}");
    let e = error("path_a,path_b,same\n");
    assert!(e.to_string().contains("no pairs"), "{e}");
    let e = read_pairs_csv(Path::new("/nonexistent/pairs.csv"), None).unwrap_err();
    assert!(matches!(e, PairsError::Io { .. }) && e.to_string().contains("/nonexistent/pairs.csv"), "{e}");
}

#[test]
fn any_layout_by_extension_or_content_with_paths_from_the_file_or_root() {
    let dir = scratch("any");
    let csv = dir.join("pairs.csv");
    std::fs::write(&csv, "x/1.jpg,y/1.jpg,1\n").unwrap();
    let file = read_pairs_any(&csv, None).unwrap();
    assert_eq!((file.format, file.layout), (PairsFormat::Csv, None));
    assert_eq!(file.pairs[0].a, dir.join("x/1.jpg"));
    assert_eq!(read_pairs_any(&csv, Some(Path::new("/images"))).unwrap().pairs[0].b, Path::new("/images/y/1.jpg"));
    // CSV content under another name.
    let txt = dir.join("list.txt");
    std::fs::write(&txt, "# pairs\nx/1.jpg,y/1.jpg,0\n").unwrap();
    let file = read_pairs_any(&txt, None).unwrap();
    assert_eq!((file.format, file.pairs[0].same), (PairsFormat::Csv, false));
    // LFW content: images under root, or the file's folder.
    let lfw = dir.join("pairs.txt");
    std::fs::write(&lfw, "1\nA\t1\t2\nB\t1\tC\t3\n").unwrap();
    let file = read_pairs_any(&lfw, None).unwrap();
    assert_eq!((file.format, file.layout), (PairsFormat::Lfw, Some(FoldLayout { folds: 1, per_class: 1 })));
    assert_eq!(file.pairs[1].b, dir.join("C/C_0003.jpg"));
    assert_eq!(read_pairs_any(&lfw, Some(Path::new("/lfw"))).unwrap().pairs[0].a, Path::new("/lfw/A/A_0001.jpg"));
    // A malformed CSV line is reported against the file read.
    std::fs::write(&csv, "x,y,1\nx,y\n").unwrap();
    let e = read_pairs_any(&csv, None).unwrap_err();
    assert!(e.to_string().starts_with(&format!("{}:2:", csv.display())), "{e}");
}

#[test]
fn lfw_fold_layout_is_checked() {
    let root = Path::new("/lfw");
    let path = Path::new("pairs.txt");
    // "2 1": two folds of one same-person pair then one different-people pair.
    let good = "2 1\nA 1 2\nB 1 C 1\nD 1 2\nE 1 F 1\n";
    let file = parse_pairs_file(good, path, root).unwrap();
    assert_eq!(file.layout, Some(FoldLayout { folds: 2, per_class: 1 }));
    assert_eq!(file.pairs.len(), 4);
    let e = parse_pairs_file("2 1\nA 1 2\nB 1 C 1\nD 1 2\n", path, root).unwrap_err();
    assert!(e.to_string().starts_with("pairs.txt:1:") && e.to_string().contains("the file has 3"), "{e}");
    let e = parse_pairs_file("2 1\nA 1 2\nB 1 C 1\nE 1 F 1\nD 1 2\n", path, root).unwrap_err();
    assert!(e.to_string().starts_with("pairs.txt:4:") && e.to_string().contains("fold 2"), "{e}");
    // A lone number equal to the pair count is a plain count, not a layout.
    assert_eq!(parse_pairs_file("2\nA 1 2\nB 1 C 1\n", path, root).unwrap().layout, None);
    assert_eq!(parse_pairs_file("A 1 2\nB 1 C 1\n", path, root).unwrap().layout, None);
}

#[test]
#[ignore = "reads ../shared/data/lfw-view1: cargo test --release -- --ignored"]
fn lfw_view1_files_have_one_fold_layouts() {
    let root = crate::common::shared("data/lfw-view1");
    let train = read_pairs_any(&root.join("pairsDevTrain.txt"), Some(&root.join("images"))).unwrap();
    assert_eq!(train.layout, Some(FoldLayout { folds: 1, per_class: 1100 }));
    assert_eq!(train.pairs.len(), 2200);
    let test = read_pairs_any(&root.join("pairsDevTest.txt"), Some(&root.join("images"))).unwrap();
    assert_eq!(test.layout, Some(FoldLayout { folds: 1, per_class: 500 }));
}
