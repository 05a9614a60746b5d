//! Gallery / probe identification on a toy gallery, and folder listing.

use std::path::Path;

use maskscope::eval::identification::{
    DEFAULT_MAX_RANK, Embeddings, IdentificationError, LabelledImage, identify, identify_with_faceless, identity_of,
    list_gallery_and_probes, list_identity_folders,
};

/// A: two images, e1 and (.6, .8, 0); B: e2; C: e3. Given in mixed order.
fn gallery() -> (Embeddings, Vec<&'static str>) {
    let rows = vec![vec![0.0, 0.0, 1.0], vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0], vec![0.6, 0.8, 0.0]];
    (Embeddings::from_rows(&rows).unwrap(), vec!["C", "A", "B", "A"])
}

#[test]
fn rank1_and_cmc_on_three_identities() {
    let (gallery, ids) = gallery();
    // Flat input, not normalised (the code normalises).
    let probes = Embeddings::from_flat(
        &[
            2.0, 0.1, 0.0, // A: A .999, B .05, C 0 -> rank 1
            0.7, 0.71, 0.0, // B: A = max(.70, .99) = .99 (its 2nd image) > B .71 -> rank 2
            0.6, 0.0, 0.3, // C: A .89 > C .45 > B 0 -> rank 2
            0.0, 0.0, -1.0, // C: A 0, B 0, C -1 -> rank 3
            1.0, 1.0, 1.0, // D: not in the gallery
        ],
        3,
    )
    .unwrap();
    let report = identify(&gallery, &ids, &probes, &["A", "B", "C", "C", "D"], DEFAULT_MAX_RANK).unwrap();
    assert_eq!((report.gallery_images, report.gallery_identities), (4, 3));
    assert_eq!((report.probes, report.closed_set_probes, report.open_set_probes), (5, 4, 1));
    let ranks: Vec<Option<usize>> = report.per_probe.iter().map(|p| p.rank).collect();
    assert_eq!(ranks, [Some(1), Some(2), Some(2), Some(3), None]);
    // Ranks 1, 2, 2, 3: CMC 1/4, 3/4, 1 (3 identities, so 3 ranks).
    assert_eq!(report.rank1, 0.25);
    assert_eq!(report.cmc, [0.25, 0.75, 1.0]);
    let best: Vec<&str> = report.per_probe.iter().map(|p| p.best_identity.as_str()).collect();
    assert_eq!(best, ["A", "A", "A", "A", "A"]);
    let b = &report.per_probe[1];
    let expected = (0.6 * 0.7 + 0.8 * 0.71) / (0.7f64 * 0.7 + 0.71 * 0.71).sqrt();
    assert!((b.best_score - expected).abs() < 1e-6, "{b:?}");
    assert!((b.true_score.unwrap() - 0.71 / (0.7f64 * 0.7 + 0.71 * 0.71).sqrt()).abs() < 1e-6);
    assert_eq!(report.per_probe[4].true_score, None);
    // A shorter CMC on request.
    let short = identify(&gallery, &ids, &probes, &["A", "B", "C", "C", "D"], 2).unwrap();
    assert_eq!(short.cmc, [0.25, 0.75]);
    // Serialisable; open-set probes have a null rank.
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["per_probe"][4]["rank"].is_null());
    assert_eq!(json["open_set_probes"], 1);
}

/// Probes in which no face was found: misses at every rank when their identity is enrolled,
/// open-set otherwise; by hand on the toy gallery.
#[test]
fn faceless_probes_are_misses_at_every_rank() {
    let (gallery, ids) = gallery();
    // One found probe of A (rank 1); faceless probes of B and C (enrolled) and D (not).
    let probes = Embeddings::from_rows(&[vec![1.0, 0.0, 0.0]]).unwrap();
    let report = identify_with_faceless(&gallery, &ids, &probes, &["A"], &["B", "C", "D"], DEFAULT_MAX_RANK).unwrap();
    assert_eq!((report.probes, report.closed_set_probes, report.open_set_probes), (4, 3, 1));
    assert_eq!(report.probes_without_face, 3);
    // Ranks: 1, miss, miss over 3 closed-set probes.
    assert_eq!(report.cmc, [1.0 / 3.0; 3]);
    assert_eq!(report.rank1, 1.0 / 3.0);
    assert_eq!(report.per_probe.len(), 1, "only found probes have a row");
    // Nothing found at all, but enrolled identities asked for: rank-1 0, not an error.
    let none = Embeddings::from_rows(&[]).unwrap();
    let report = identify_with_faceless(&gallery, &ids, &none, &[] as &[&str], &["A"], DEFAULT_MAX_RANK).unwrap();
    assert_eq!(report.cmc, [0.0; 3]);
    let only_open = identify_with_faceless(&gallery, &ids, &none, &[] as &[&str], &["D"], DEFAULT_MAX_RANK);
    assert!(matches!(only_open, Err(IdentificationError::NoClosedSetProbes { probes: 1 })), "{only_open:?}");
}

#[test]
fn identities_come_from_lfw_names_or_folders() {
    assert_eq!(identity_of(Path::new("lfw/Colin_Powell/Colin_Powell_0038.jpg")), "Colin_Powell");
    assert_eq!(identity_of(Path::new("gallery/alice/IMG_20240101.jpg")), "alice");
    assert_eq!(identity_of(Path::new("samples/Tony_Blair_0006.jpg")), "Tony_Blair");
    assert_eq!(identity_of(Path::new("bob.png")), "bob");
}

#[test]
fn ties_count_against_the_probe() {
    let gallery = Embeddings::from_rows(&[vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0]]).unwrap();
    // Equally similar to A (e1) and B (e2); C 0. The true identity B shares the top score.
    let probes = Embeddings::from_rows(&[vec![1.0, 1.0, 0.0], vec![0.0, 0.0, 0.0]]).unwrap();
    let report = identify(&gallery, &["A", "B", "C"], &probes, &["B", "B"], 20).unwrap();
    assert_eq!(report.per_probe[0].rank, Some(2));
    assert_eq!(report.per_probe[0].best_identity, "A");
    // An all-zero embedding scores 0 everywhere: last place.
    assert_eq!(report.per_probe[1].rank, Some(3));
    // Ranks 2 and 3: CMC 0, 1/2, 1.
    assert_eq!(report.cmc, [0.0, 0.5, 1.0]);
}

#[test]
fn bad_inputs_are_errors() {
    let (gallery, ids) = gallery();
    let probes = Embeddings::from_rows(&[vec![1.0, 0.0, 0.0]]).unwrap();
    assert!(matches!(
        Embeddings::from_rows(&[vec![1.0, 0.0], vec![1.0]]),
        Err(IdentificationError::Dimension { row: 1, expected: 2, found: 1 })
    ));
    assert!(matches!(
        Embeddings::from_flat(&[1.0, 2.0, 3.0], 2),
        Err(IdentificationError::FlatLength { len: 3, dim: 2 })
    ));
    assert!(matches!(Embeddings::from_flat(&[1.0, f32::NAN], 1), Err(IdentificationError::NotFinite { row: 1 })));
    assert!(matches!(
        identify(&gallery, &ids[..3], &probes, &["A"], 20),
        Err(IdentificationError::LabelCount { which: "gallery", .. })
    ));
    assert!(matches!(
        identify(&gallery, &ids, &probes, &["A", "B"], 20),
        Err(IdentificationError::LabelCount { which: "probes", .. })
    ));
    let narrow = Embeddings::from_rows(&[vec![1.0, 0.0]]).unwrap();
    assert!(matches!(
        identify(&gallery, &ids, &narrow, &["A"], 20),
        Err(IdentificationError::DimensionMismatch { gallery: 3, probes: 2 })
    ));
    assert!(matches!(
        identify(&gallery, &ids, &probes, &["Z"], 20),
        Err(IdentificationError::NoClosedSetProbes { probes: 1 })
    ));
    let empty = Embeddings::from_rows(&[]).unwrap();
    assert!(matches!(identify(&empty, &[] as &[&str], &probes, &["A"], 20), Err(IdentificationError::EmptyGallery)));
}

#[test]
fn folders_list_sorted_images_per_identity() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("metrics-identification");
    let _ = std::fs::remove_dir_all(&root);
    for (folder, files) in [
        ("gallery/bob", &["2.jpg", "1.PNG", "notes.txt", ".hidden.jpg"][..]),
        ("gallery/alice", &["a.jpeg"][..]),
        ("gallery/empty", &[][..]),
        ("probe/bob", &["x.bmp"][..]),
        ("probe/carol", &["y.webp"][..]),
    ] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        for file in files {
            std::fs::write(root.join(folder).join(file), b"").unwrap();
        }
    }
    std::fs::write(root.join("gallery/loose.jpg"), b"").unwrap();
    std::fs::create_dir_all(root.join("gallery/bob/deeper")).unwrap();
    std::fs::write(root.join("gallery/bob/deeper/3.jpg"), b"").unwrap();

    let (gallery, probes) = list_gallery_and_probes(&root.join("gallery"), &root.join("probe")).unwrap();
    let listed = |images: &[LabelledImage]| -> Vec<(String, String)> {
        images
            .iter()
            .map(|i| (i.identity.clone(), i.path.file_name().unwrap().to_string_lossy().into_owned()))
            .collect()
    };
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(listed(&gallery), [pair("alice", "a.jpeg"), pair("bob", "1.PNG"), pair("bob", "2.jpg")]);
    assert_eq!(listed(&probes), [pair("bob", "x.bmp"), pair("carol", "y.webp")]);
    assert_eq!(gallery[0].path, root.join("gallery/alice/a.jpeg"));
    assert!(matches!(list_identity_folders(&root.join("missing")), Err(IdentificationError::Io { .. })));
}
