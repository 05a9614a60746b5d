//! The evaluation sweep: condition parsing and occlusion (pure), then `maskscope eval` end to end
//! on a few LFW View 1 pairs with a FROM model whose heads are random (its masked path is poor,
//! which does not matter here: the tests check what is computed and written, not how well).
//! The photos are the committed LFW fixtures.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use common::random_heads_model;
use image::{Rgb, RgbImage};
use maskscope::assets;
use maskscope::device::ComputeDevice;
use maskscope::eval::conditions::{
    Condition, ConditionError, Occluders, RegionFill, SQUARE_SEED, SQUARE_SIDES, SquareFillKind, face_area_fraction,
    parse_protocol, region_occluder,
};
use maskscope::eval::folds::{FoldScheme, fold_order, fold_scheme};
use maskscope::eval::pairs::{FoldLayout, read_pairs_any};
use maskscope::eval::results::{CSV_HEADER, SweepResults};
use maskscope::eval::roc::TarRule;
use maskscope::eval::sweep::{SweepError, SweepModel, SweepObserver, SweepSpec, run_sweep};
use maskscope::eval::verification::ten_fold_accuracy;
use maskscope::face::FaceFinder;
use maskscope::face::cache::file_sha256;
use maskscope::occlusion::{OCC_LFW20_SEED, OccluderLibrary, PasteBackground, Region, occlude_region};

fn lfw_images() -> PathBuf {
    common::lfw_fixture_images()
}

fn bundled_library() -> OccluderLibrary {
    OccluderLibrary::bundled().expect("bundled occluders")
}

fn face(width: u32) -> RgbImage {
    RgbImage::from_fn(width, 112, |x, y| Rgb([(x * 2) as u8, (y * 2) as u8, 90]))
}

// ---- conditions (pure) ----

#[test]
fn protocols_expand_groups_and_sort_in_report_order() {
    let all = parse_protocol("random-sizes,occ-lfw-2.0,regions,clean", &SQUARE_SIDES).unwrap();
    assert_eq!(all.len(), 1 + 9 + 1 + 10);
    assert_eq!(all[0], Condition::Clean);
    assert_eq!(all[1..10], Region::ALL.map(Condition::Region));
    assert_eq!(all[10], Condition::OccLfw20);
    assert_eq!(all[11], Condition::Square(10));
    assert_eq!(all[20], Condition::Square(100));
    let mut everything = all.clone();
    everything.insert(11, Condition::OccLfw20Pasted);
    everything.splice(10..10, Region::ALL.map(Condition::GreyRegion));
    assert_eq!(parse_protocol("all", &SQUARE_SIDES).unwrap(), everything);
    // Grey boxes as their own conditions, after the regions in the sweep's fill.
    let both = parse_protocol("grey-regions,regions", &SQUARE_SIDES).unwrap();
    assert_eq!(both[..9], Region::ALL.map(Condition::Region));
    assert_eq!(both[9..], Region::ALL.map(Condition::GreyRegion));
    assert_eq!(Condition::GreyRegion(Region::UpperFace).name(), "grey-upper_face");
    assert_eq!(Condition::GreyRegion(Region::UpperFace).label(), "grey: upper face");
    assert_eq!("Grey-Upper-Face".parse::<Condition>().unwrap(), Condition::GreyRegion(Region::UpperFace));
    assert!("grey-chin".parse::<Condition>().is_err());
    assert_eq!(parse_protocol("occ_lfw-2.0-Pasted", &SQUARE_SIDES).unwrap(), [Condition::OccLfw20Pasted]);
    assert_eq!(Condition::OccLfw20Pasted.name(), "occ-lfw-2.0-pasted");

    // Names in any case, '-' or '_', duplicates dropped, sizes from the list given.
    let some = parse_protocol(" Mouth , left-eye,mouth,square-60,OCC_LFW-2.0,random-sizes", &[20, 60]).unwrap();
    assert_eq!(
        some,
        [
            Condition::Region(Region::LeftEye),
            Condition::Region(Region::Mouth),
            Condition::OccLfw20,
            Condition::Square(20),
            Condition::Square(60)
        ]
    );
    for c in &some {
        assert_eq!(c.name().parse::<Condition>().unwrap(), *c);
    }
    assert_eq!(Condition::OccLfw20.label(), "Occ-LFW-2.0");
    assert_eq!(Condition::Region(Region::TwoEyes).label(), "two eyes");
}

#[test]
fn a_bad_protocol_is_an_error_listing_the_valid_names() {
    let err = parse_protocol("clean,chin", &SQUARE_SIDES).unwrap_err();
    assert_eq!(err, ConditionError::Unknown { name: "chin".into() });
    let text = err.to_string();
    for valid in ["\"chin\"", "clean", "regions", "left_eye", "right_face", "occ-lfw-2.0", "random-sizes", "square-N"] {
        assert!(text.contains(valid), "{valid} missing from: {text}");
    }
    assert_eq!(parse_protocol("square-0", &SQUARE_SIDES).unwrap_err(), ConditionError::SquareSide { side: 0 });
    assert_eq!(parse_protocol("square-113", &SQUARE_SIDES).unwrap_err(), ConditionError::SquareSide { side: 113 });
    assert!(matches!(parse_protocol("square-x", &SQUARE_SIDES), Err(ConditionError::Unknown { .. })));
    assert_eq!(parse_protocol(" , ", &SQUARE_SIDES).unwrap_err(), ConditionError::Empty);
    assert_eq!(parse_protocol("random-sizes", &[]).unwrap_err(), ConditionError::NoSizes);
    assert_eq!(parse_protocol("random-sizes", &[20, 500]).unwrap_err(), ConditionError::SquareSide { side: 500 });
}

#[test]
fn grey_regions_cover_their_area_ratio_on_both_crops() {
    let library = bundled_library();
    let occluders =
        Occluders::new(&library, RegionFill::Grey, SquareFillKind::Grey, OCC_LFW20_SEED, SQUARE_SEED).unwrap();
    for width in [96, 112] {
        for region in Region::ALL {
            let mut f = face(width);
            let occlusion = occluders.apply(Condition::Region(region), &mut f, "A/A_0001.jpg").unwrap().unwrap();
            assert!((face_area_fraction(&occlusion.mask) - region.area_ratio()).abs() < 1e-12, "{region} on {width}");
        }
    }
    let mut f = face(112);
    assert!(occluders.apply(Condition::Clean, &mut f, "A/A_0001.jpg").unwrap().is_none());
    assert_eq!(f, face(112), "clean leaves the face alone");
    // `grey-<region>` is that grey box whatever the sweep's region fill.
    let objects =
        Occluders::new(&library, RegionFill::Occluder, SquareFillKind::Grey, OCC_LFW20_SEED, SQUARE_SEED).unwrap();
    for region in Region::ALL {
        let (mut grey, mut also_grey) = (face(112), face(112));
        let a = occluders.apply(Condition::Region(region), &mut grey, "A/A_0001.jpg").unwrap().unwrap();
        let b = objects.apply(Condition::GreyRegion(region), &mut also_grey, "A/A_0001.jpg").unwrap().unwrap();
        assert_eq!((grey, a.mask), (also_grey, b.mask), "{region}");
    }
}

#[test]
fn pasted_conditions_cover_whole_boxes_over_the_chosen_background() {
    let library = bundled_library();
    let alpha =
        Occluders::new(&library, RegionFill::Occluder, SquareFillKind::Grey, OCC_LFW20_SEED, SQUARE_SEED).unwrap();
    for background in PasteBackground::ALL {
        let pasted = Occluders::new(&library, RegionFill::Pasted, SquareFillKind::Grey, OCC_LFW20_SEED, SQUARE_SEED)
            .unwrap()
            .with_paste_background(background);
        assert_eq!(pasted.paste_background(), background);
        for width in [96, 112] {
            for region in Region::ALL {
                let mut f = face(width);
                let occlusion = pasted.apply(Condition::Region(region), &mut f, "A/A_0001.jpg").unwrap().unwrap();
                assert!(
                    (face_area_fraction(&occlusion.mask) - region.area_ratio()).abs() < 1e-12,
                    "{region} on {width}"
                );
                assert_eq!(occlusion.occluder.as_ref().map(|o| o.1.as_str()), Some(region_occluder(region).1));
            }
            // Occ-LFW-2.0 pasted: the alpha condition's occluder and box, the box wholly covered,
            // and its transparent parts in the background colour.
            for key in ["A/A_0001.jpg", "B/B_0002.jpg", "C/C_0003.jpg"] {
                let (mut fa, mut fp) = (face(width), face(width));
                let oa = alpha.apply(Condition::OccLfw20, &mut fa, key).unwrap().unwrap();
                let op = pasted.apply(Condition::OccLfw20Pasted, &mut fp, key).unwrap().unwrap();
                assert_eq!((oa.rect, &oa.occluder), (op.rect, &op.occluder), "{key}");
                let rect = op.rect.unwrap();
                assert_eq!(op.mask.count(), rect.area());
                let colour = background.colour();
                let shows_background = (rect.y0..rect.y1)
                    .flat_map(|y| (rect.x0..rect.x1).map(move |x| (x, y)))
                    .any(|(x, y)| *fp.get_pixel(x as u32, y as u32) == colour);
                assert!(
                    shows_background || oa.mask.count() == rect.area(),
                    "{key}: no {} pixel in the box",
                    background.name()
                );
            }
        }
    }
}

#[test]
fn occluder_regions_paint_inside_the_region_only() {
    let library = bundled_library();
    let occluders =
        Occluders::new(&library, RegionFill::Occluder, SquareFillKind::Grey, OCC_LFW20_SEED, SQUARE_SEED).unwrap();
    for region in Region::ALL {
        let mut f = face(112);
        let occlusion = occluders.apply(Condition::Region(region), &mut f, "A/A_0001.jpg").unwrap().unwrap();
        let rect = region.rect(112);
        let area = face_area_fraction(&occlusion.mask);
        assert!(area > 0.2 * region.area_ratio() && area <= region.area_ratio() + 1e-12, "{region}: {area}");
        let original = face(112);
        for (x, y, p) in f.enumerate_pixels() {
            let inside = (rect.x0..rect.x1).contains(&(x as usize)) && (rect.y0..rect.y1).contains(&(y as usize));
            assert!(inside || *p == *original.get_pixel(x, y), "{region} changed ({x}, {y}) outside its box");
        }
        // The sweep stretches each drawing once and reuses it: on both templates, first and
        // later faces, the result is what stretching it for this face gives.
        for width in [96, 112] {
            let (class, name) = region_occluder(region);
            let mut expected = face(width);
            occlude_region(&mut expected, library.find(class, name).unwrap(), region).unwrap();
            for _ in 0..2 {
                let mut f = face(width);
                occluders.apply(Condition::Region(region), &mut f, "B/B_0001.jpg").unwrap();
                assert_eq!(f, expected, "{region} on a {width}-wide face");
            }
        }
    }
}

#[test]
fn squares_are_seeded_per_image_and_grow_in_place() {
    let library = bundled_library();
    let occluders =
        Occluders::new(&library, RegionFill::Grey, SquareFillKind::Grey, OCC_LFW20_SEED, SQUARE_SEED).unwrap();
    let square = |side: u32, key: &str| {
        let mut f = face(112);
        let occlusion = occluders.apply(Condition::Square(side), &mut f, key).unwrap().unwrap();
        (f, occlusion)
    };
    let (a, occ_a) = square(40, "A/A_0001.jpg");
    let (again, _) = square(40, "A/A_0001.jpg");
    let (other, _) = square(40, "B/B_0001.jpg");
    assert_eq!(a, again, "the same key gets the same square");
    assert_ne!(a, other, "another key gets another position");
    // Inside the 96-wide face box, so the fraction is exactly side^2 over the box.
    assert_eq!(face_area_fraction(&occ_a.mask), 1600.0 / (96.0 * 112.0));
    let rect = occ_a.rect.unwrap();
    assert!(rect.x0 >= 8 && rect.x1 <= 104 && rect.y1 <= 112, "{rect:?}");
    // Larger squares at the same key contain the smaller ones' relative position: areas grow.
    let areas: Vec<f64> = SQUARE_SIDES.iter().map(|&s| face_area_fraction(&square(s, "A/A_0001.jpg").1.mask)).collect();
    assert!(areas.windows(2).all(|w| w[0] < w[1]), "{areas:?}");
    assert!((areas[9] - 100.0 * 96.0 / (96.0 * 112.0)).abs() < 1e-12, "100 px spans the face's width: {}", areas[9]);

    let with_objects =
        Occluders::new(&library, RegionFill::Grey, SquareFillKind::Occluder, OCC_LFW20_SEED, SQUARE_SEED).unwrap();
    let mut f = face(112);
    let occlusion = with_objects.apply(Condition::Square(60), &mut f, "A/A_0001.jpg").unwrap().unwrap();
    assert!(occlusion.occluder.is_some());
    assert!(face_area_fraction(&occlusion.mask) <= 3600.0 / (96.0 * 112.0));
}

#[test]
fn a_library_without_the_region_drawings_is_refused_for_occluder_fill() {
    let library = bundled_library();
    let only_cups = OccluderLibrary::from_occluders(library.of_class("cup").cloned().collect()).unwrap();
    let err = Occluders::new(&only_cups, RegionFill::Occluder, SquareFillKind::Grey, OCC_LFW20_SEED, SQUARE_SEED)
        .unwrap_err();
    assert!(err.to_string().contains("left_eye"), "{err}");
    assert!(Occluders::new(&only_cups, RegionFill::Grey, SquareFillKind::Grey, OCC_LFW20_SEED, SQUARE_SEED).is_ok());
}

#[test]
fn stratified_folds_keep_a_chance_model_at_chance() {
    // View 1's layout: the same pairs, then the different ones; every pair scored alike.
    let same: Vec<bool> = (0..100).map(|i| i < 50).collect();
    let scores = vec![0.3f32; 100];
    // Folds of one class: the threshold from the other nine folds, where the held-out class is
    // the minority, is wrong for every held-out pair.
    assert_eq!(ten_fold_accuracy(&scores, &same).unwrap().mean, 0.0);
    let scheme = fold_scheme(Some(FoldLayout { folds: 1, per_class: 50 }));
    assert_eq!(scheme, FoldScheme::Stratified);
    let order = fold_order(&same, scheme);
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>(), "a permutation");
    let reordered: Vec<bool> = order.iter().map(|&i| same[i]).collect();
    for fold in reordered.chunks(10) {
        assert_eq!(fold.iter().filter(|&&y| y).count(), 5, "each fold half same, half different");
    }
    assert_eq!(ten_fold_accuracy(&scores, &reordered).unwrap().mean, 0.5);
    assert_eq!(fold_scheme(Some(FoldLayout { folds: 10, per_class: 300 })), FoldScheme::FileOrder);
}

// ---- end to end ----

/// Six same-person then six different-people pairs of View 1 pairsDevTest, LFW layout.
fn write_pairs(dir: &Path) -> PathBuf {
    let text = "6\n\
        Abdullah_Gul\t13\t14\nAbdullatif_Sener\t1\t2\nAdel_Al-Jubeir\t1\t3\nAl_Pacino\t1\t2\nAlan_Greenspan\t1\t5\nAlbert_Costa\t2\t6\n\
        AJ_Lamas\t1\tZach_Safrin\t1\nAaron_Guiel\t1\tReese_Witherspoon\t3\nAaron_Tippin\t1\tJose_Luis_Rodriguez_Zapatero\t1\n\
        Abdul_Majeed_Shobokshi\t1\tCharles_Cope\t1\nAbdullah_Gul\t16\tSteve_Cox\t1\nAdam_Kennedy\t1\tAmelie_Mauresmo\t19\n";
    let path = dir.join("pairs.txt");
    std::fs::write(&path, text).unwrap();
    path
}

fn maskscope() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_maskscope"));
    cmd.env_remove("MASKSCOPE_DEVICE").args(["--device", "cpu"]);
    cmd
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(files_under(&path)) } else { out.push(path) }
    }
    out
}

fn no_temp_files(dir: &Path) {
    let temps: Vec<PathBuf> = files_under(dir).into_iter().filter(|p| p.to_string_lossy().contains(".tmp-")).collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

fn read_results(out: &Path) -> SweepResults {
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).expect("results.json parses")
}

#[test]
fn eval_writes_every_output_and_a_rerun_comes_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_heads_model(dir.path());
    let pairs = write_pairs(dir.path());
    let cache = dir.path().join("cache");
    let run = |out: &Path| {
        let status = maskscope()
            .arg("eval")
            .args(["--pairs".as_ref(), pairs.as_os_str(), "--images".as_ref(), lfw_images().as_os_str()])
            .args([
                "--model".as_ref(),
                model.as_os_str(),
                "--out".as_ref(),
                out.as_os_str(),
                "--cache".as_ref(),
                cache.as_os_str(),
            ])
            .args(["--protocol", "clean,mouth,two_eyes,occ-lfw-2.0,random-sizes", "--sizes", "20,60"])
            .output()
            .unwrap();
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        String::from_utf8(status.stdout).unwrap()
    };
    let first_out = dir.path().join("first");
    let stdout = run(&first_out);
    assert!(stdout.contains("Occ-LFW-2.0") && stdout.contains("from_random, mask off"), "{stdout}");
    let first = read_results(&first_out);

    let names: Vec<String> = first.conditions.iter().map(|c| c.condition.name()).collect();
    assert_eq!(names, ["clean", "two_eyes", "mouth", "occ-lfw-2.0", "square-20", "square-60"]);
    let labels: Vec<&str> = first.paths.iter().map(|p| p.label.as_str()).collect();
    // The clean-trained baseline network first, then FROM masked and with its mask off.
    assert_eq!(labels, ["baseline", "from_random", "from_random, mask off"]);
    assert_eq!(first.software.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(first.models.len(), 2);
    assert_eq!(first.models[0].network, "MobileFaceNet");
    assert_eq!(first.models[0].sha256.as_deref(), Some(file_sha256(&assets::mobilefacenet_record()).unwrap().as_str()));
    assert_eq!(first.models[1].sha256.as_deref(), Some(file_sha256(&model).unwrap().as_str()));
    assert_eq!(first.models[1].network, "FROM-MobileFaceNet");
    assert_eq!((first.pairs.count, first.pairs.genuine, first.pairs.impostor), (12, 6, 6));
    assert_eq!(first.protocol.seeds.occ_lfw_2_0, OCC_LFW20_SEED);
    assert_eq!(first.protocol.folds, FoldScheme::Stratified, "a one-fold header");
    assert_eq!(first.protocol.tar_rule, TarRule::Roc, "the default TAR rule is recorded");
    // results.json written before the rule was recorded reads as the ROC rule.
    let mut old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(first_out.join("results.json")).unwrap()).unwrap();
    assert!(old["protocol"].as_object_mut().unwrap().remove("tar_rule").is_some());
    assert_eq!(serde_json::from_value::<SweepResults>(old).unwrap().protocol.tar_rule, TarRule::Roc);
    assert_eq!(first.photos.distinct, 24);
    assert!(first.photos.without_face.is_empty(), "{:?}", first.photos.without_face);
    for c in &first.conditions {
        assert_eq!(c.paths.len(), 3, "{}", c.label);
        // Random heads on the pretrained backbone: with its mask off the model is the baseline.
        assert_eq!(c.path("baseline").unwrap(), c.path("from_random, mask off").unwrap(), "{}", c.label);
        for p in &c.paths {
            let r = &p.report;
            assert_eq!((r.pairs, r.genuine, r.impostor), (12, 6, 6));
            assert_eq!(r.ten_fold.folds, 10);
            assert!((0.0..=1.0).contains(&r.ten_fold.mean) && (0.0..=1.0).contains(&r.auc));
            assert_eq!(r.tar_at_far.len(), 3, "TAR at three FARs, each measured or marked");
            assert!(!r.roc.is_empty());
        }
    }
    // Occluded fractions: none for clean, exact for grey squares, within the box for objects.
    let area = |name: &str| first.conditions.iter().find(|c| c.condition.name() == name).unwrap().area_fraction;
    assert_eq!(area("clean"), 0.0);
    assert!((area("square-20") - 400.0 / 10752.0).abs() < 1e-9);
    assert!((area("square-60") - 3600.0 / 10752.0).abs() < 1e-9);
    assert!(area("mouth") > 0.0 && area("mouth") <= Region::Mouth.area_ratio());
    // The Figure-1 plot prints that same measured share, not the region box's ratio.
    let bars = maskscope::eval::report::region_bars(&first, &[]).expect("regions to plot");
    for bar in &bars.regions {
        let condition = first.conditions.iter().find(|c| c.label == bar.name).unwrap();
        assert_eq!(bar.occluded_area, Some(condition.area_fraction), "{}", bar.name);
    }
    // The baseline path of a clean pair is the pretrained MobileFaceNet: these pairs are easy.
    let clean = first.condition(Condition::Clean).unwrap().path("baseline").unwrap();
    assert!(clean.auc > 0.9, "clean baseline AUC {}", clean.auc);

    // CSV: a header and one row per condition x path, agreeing with the JSON.
    let mut reader = csv::Reader::from_path(first_out.join("results.csv")).unwrap();
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), CSV_HEADER);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6 * 3);
    assert_eq!((&rows[1][0], &rows[1][3]), ("clean", "from_random"));
    let mean: f64 = rows[1][10].parse().unwrap();
    let from_clean = first.conditions[0].path("from_random").unwrap().ten_fold.mean;
    assert!((mean - from_clean).abs() < 1e-6);

    // Figures decode; the report embeds them and tabulates every condition.
    for stem in ["figure1", "roc", "area"] {
        let png = image::open(first_out.join(format!("{stem}.png"))).unwrap_or_else(|e| panic!("{stem}.png: {e}"));
        assert!(png.width() >= 800 && png.height() >= 600, "{stem}: {}x{}", png.width(), png.height());
        let svg = std::fs::read_to_string(first_out.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{stem}.svg");
    }
    let figure1 = std::fs::read_to_string(first_out.join("figure1.svg")).unwrap();
    assert_eq!(figure1.matches("<image ").count(), 3, "a thumbnail per region and one for Occ-LFW-2.0");
    let report = std::fs::read_to_string(first_out.join("report.md")).unwrap();
    for needle in ["](figure1.png)", "](roc.png)", "](area.png)", "| two eyes |", "| Occ-LFW-2.0 |", "| 60 px square |"]
    {
        assert!(report.contains(needle), "report.md lacks {needle}");
    }
    no_temp_files(&first_out);

    // The cache holds the aligned faces and embeddings of the first run.
    let cached = files_under(&cache);
    // Every photo clean, and the 12 second faces under each of the 5 occluded conditions, by
    // each of the two models.
    let embedded = 2 * (24 + 5 * 12);
    assert_eq!(cached.iter().filter(|p| p.to_string_lossy().contains("aligned-v")).count(), 24);
    assert_eq!(cached.iter().filter(|p| p.extension().is_some_and(|e| e == "emb")).count(), embedded);
    assert_eq!((first.cache.aligned_fresh, first.cache.aligned_cached), (24, 0));
    assert_eq!((first.cache.embedded_fresh, first.cache.embedded_cached), (embedded, 0));
    no_temp_files(&cache);

    // Second run: nothing aligned or embedded again, and the same numbers.
    let second_out = dir.path().join("second");
    run(&second_out);
    let second = read_results(&second_out);
    assert_eq!((second.cache.aligned_fresh, second.cache.aligned_cached), (0, 24));
    assert_eq!((second.cache.embedded_fresh, second.cache.embedded_cached), (0, embedded));
    assert_eq!(second.conditions, first.conditions);

    // Third run over a damaged cache: a truncated aligned face and an embedding with one flipped
    // bit are misses, recomputed and rewritten, and the numbers stay the same.
    let png = cached.iter().find(|p| p.extension().is_some_and(|e| e == "png")).unwrap();
    let emb = cached.iter().find(|p| p.extension().is_some_and(|e| e == "emb")).unwrap();
    let bytes = std::fs::read(png).unwrap();
    std::fs::write(png, &bytes[..bytes.len() / 2]).unwrap();
    let mut bytes = std::fs::read(emb).unwrap();
    bytes[20] ^= 0x10;
    std::fs::write(emb, &bytes).unwrap();
    let third_out = dir.path().join("third");
    run(&third_out);
    let third = read_results(&third_out);
    assert_eq!(third.cache.damaged_recomputed, 2);
    assert_eq!((third.cache.aligned_fresh, third.cache.embedded_fresh), (1, 1));
    assert_eq!(third.conditions, first.conditions);
}

#[test]
fn two_models_are_compared_path_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_heads_model(dir.path());
    let pairs = write_pairs(dir.path());
    let out = dir.path().join("out");
    // The same file twice: both get names of their own, and the second model's embeddings come
    // from the cache the first one filled (the cache is keyed by the file's content).
    let status = maskscope()
        .arg("eval")
        .args(["--pairs".as_ref(), pairs.as_os_str(), "--images".as_ref(), lfw_images().as_os_str()])
        .args(["--model".as_ref(), model.as_os_str(), "--model".as_ref(), model.as_os_str()])
        .args(["--out".as_ref(), out.as_os_str(), "--cache".as_ref(), dir.path().join("cache").as_os_str()])
        .args(["--protocol", "clean,nose,square-30", "--region-fill", "grey", "--no-baseline"])
        .args(["--tar-rule", "authors"])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let results = read_results(&out);
    // The authors' TAR rule is recorded and measures every FAR, even 1e-4 on 6 impostors.
    assert_eq!(results.protocol.tar_rule, TarRule::Authors);
    assert!(
        results.conditions.iter().flat_map(|c| &c.paths).all(|p| p.report.tar_at_far.iter().all(|t| t.tar().is_some()))
    );
    let labels: Vec<&str> = results.paths.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["from_random #1", "from_random #1, mask off", "from_random #2", "from_random #2, mask off"]);
    assert_eq!(results.models.len(), 2);
    assert_eq!(results.models[0].sha256, results.models[1].sha256);
    assert_eq!(results.cache.embedded_fresh, 24 + 2 * 12, "the second model embeds nothing new");
    assert_eq!(results.cache.embedded_cached, 24 + 2 * 12);
    assert_eq!(results.protocol.region_occluders[3].fill, "grey");
    let nose = results.condition(Condition::Region(Region::Nose)).unwrap();
    assert!((nose.area_fraction - Region::Nose.area_ratio()).abs() < 1e-12, "a grey region hides its whole box");
    for c in &results.conditions {
        assert_eq!(c.paths.len(), 4);
        assert_eq!(c.path("from_random #1").unwrap(), c.path("from_random #2").unwrap(), "{}", c.label);
    }
    let rows = csv::Reader::from_path(out.join("results.csv")).unwrap().records().count();
    assert_eq!(rows, 3 * 4);
    let figure1 = std::fs::read_to_string(out.join("figure1.svg")).unwrap();
    assert!(figure1.contains("from_random #1") && figure1.contains("from_random #2"));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| from_random #2, mask off |"), "{report}");
}

#[test]
fn a_photo_without_a_face_keeps_its_pairs_as_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_heads_model(dir.path());
    // A flat grey photo: the detector finds nothing in it.
    image::RgbImage::from_pixel(250, 250, Rgb([128, 128, 128])).save(dir.path().join("blank.png")).unwrap();
    let images = lfw_images();
    let lfw = |name: &str, n: u32| images.join(name).join(format!("{name}_{n:04}.jpg")).display().to_string();
    let csv = [
        format!("{},{},1", lfw("Abdullatif_Sener", 1), lfw("Abdullatif_Sener", 2)),
        format!("{},{},1", lfw("Al_Pacino", 1), lfw("Al_Pacino", 2)),
        format!("{},{},1", lfw("Adel_Al-Jubeir", 1), lfw("Adel_Al-Jubeir", 3)),
        format!("{},blank.png,1", lfw("Albert_Costa", 2)),
        format!("{},{},1", lfw("Alan_Greenspan", 1), lfw("Alan_Greenspan", 5)),
        format!("{},{},0", lfw("AJ_Lamas", 1), lfw("Zach_Safrin", 1)),
        format!("{},{},0", lfw("Aaron_Guiel", 1), lfw("Reese_Witherspoon", 3)),
        format!("{},blank.png,0", lfw("Aaron_Tippin", 1)),
        format!("{},{},0", lfw("Abdul_Majeed_Shobokshi", 1), lfw("Charles_Cope", 1)),
        format!("{},{},0", lfw("Adam_Kennedy", 1), lfw("Amelie_Mauresmo", 19)),
    ];
    let pairs = dir.path().join("pairs.csv");
    std::fs::write(&pairs, format!("path_a,path_b,same\n{}\n", csv.join("\n"))).unwrap();

    let device = ComputeDevice::cpu().device;
    let models = vec![SweepModel::load(&model, &device).unwrap()];
    let file = read_pairs_any(&pairs, None).unwrap();
    let spec = SweepSpec::new(
        pairs.clone(),
        file,
        Some(dir.path().to_path_buf()),
        vec![Condition::Clean, Condition::Region(Region::Nose)],
    );
    let mut finder = FaceFinder::load(&assets::mtcnn_dir(), models[0].model.template(), &device).unwrap();
    let library = bundled_library();
    let outcome =
        run_sweep(&spec, &models, &mut finder, &library, &mut maskscope::eval::sweep::Silent, &AtomicBool::new(false))
            .unwrap();
    assert_eq!(outcome.photos.without_face, [dir.path().join("blank.png")]);
    assert_eq!(outcome.photos.pairs_with_missing_face, 2);
    assert_eq!(outcome.cache.root, None, "no cache asked for");
    for c in &outcome.conditions {
        for p in &c.paths {
            // All ten pairs stay, so the folds are the file's.
            assert_eq!(p.report.pairs, 10, "{} {}", c.label, p.path);
            // The blank pairs score -1: judged different, wrong for the genuine one, so the
            // best accuracy any threshold reaches is 9/10.
            assert!(p.report.best_threshold.accuracy <= 0.9 + 1e-12, "{} {}", c.label, p.path);
        }
    }
}

/// Sets the cancel flag when the second condition starts.
struct CancelAtSecond<'a> {
    cancel: &'a AtomicBool,
    started: usize,
}

impl SweepObserver for CancelAtSecond<'_> {
    fn condition_started(&mut self, _condition: Condition) {
        self.started += 1;
        if self.started == 2 {
            self.cancel.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_cancelled_sweep_stops_and_keeps_only_whole_cache_entries() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_heads_model(dir.path());
    let pairs = write_pairs(dir.path());
    let device = ComputeDevice::cpu().device;
    let models = vec![SweepModel::load(&model, &device).unwrap()];
    let file = read_pairs_any(&pairs, Some(&lfw_images())).unwrap();
    let conditions = parse_protocol("clean,nose,mouth", &SQUARE_SIDES).unwrap();
    let mut spec = SweepSpec::new(pairs.clone(), file, Some(lfw_images()), conditions);
    spec.setup.cache_root = Some(dir.path().join("cache"));
    let mut finder = FaceFinder::load(&assets::mtcnn_dir(), models[0].model.template(), &device).unwrap();
    let library = bundled_library();
    let cancel = AtomicBool::new(false);
    let mut observer = CancelAtSecond { cancel: &cancel, started: 0 };
    let result = run_sweep(&spec, &models, &mut finder, &library, &mut observer, &cancel);
    assert!(matches!(result, Err(SweepError::Cancelled)), "{:?}", result.err());
    assert_eq!(observer.started, 2, "stopped before the third condition");
    no_temp_files(&dir.path().join("cache"));
}

#[test]
fn bad_input_is_a_clear_error() {
    let out =
        maskscope().args(["eval", "--pairs", "p.txt", "--out", "o", "--protocol", "clean,chin"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--protocol") && err.contains("\"chin\"") && err.contains("occ-lfw-2.0"), "{err}");
    assert_eq!(err.matches("error").count(), 1, "printed once: {err}");

    let dir = tempfile::tempdir().unwrap();
    let model = random_heads_model(dir.path());
    let pairs = dir.path().join("pairs.txt");
    std::fs::write(&pairs, "Abdullah_Gul\t13\t14\nNo_Such_Person\t1\t2\n").unwrap();
    let out = maskscope()
        .args(["eval", "--no-cache", "--protocol", "clean", "--out"])
        .arg(dir.path().join("out"))
        .arg("--pairs")
        .arg(&pairs)
        .arg("--images")
        .arg(lfw_images())
        .arg("--model")
        .arg(&model)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No_Such_Person_0001.jpg") && err.contains("line 2"), "{err}");
    assert!(!dir.path().join("out").exists(), "nothing written on failure");
    assert!(!files_under(dir.path()).iter().any(|p| p.to_string_lossy().contains("partial")), "no staging left");

    // An --out that cannot hold the outputs is refused before any photo is read.
    std::fs::write(&pairs, "Abdullah_Gul\t13\t14\n").unwrap();
    let file = dir.path().join("results.txt");
    std::fs::write(&file, "not a folder").unwrap();
    let out = maskscope().args(["eval", "--no-cache", "--pairs"]).arg(&pairs).arg("--out").arg(&file).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("results.txt: exists and is not a folder"), "{err}");
}
