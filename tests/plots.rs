//! Figure rendering: files on disk, their formats and sizes, what the SVG says, atomic writes,
//! and pixel checks that the bars show the numbers they are given.

use std::path::Path;

use image::{Rgb, RgbImage};
use maskscope::eval::plots::*;

const FROM_RGB: [u8; 3] = [0xd5, 0x5e, 0x00];
const BASELINE_RGB: [u8; 3] = [0x56, 0xb4, 0xe9];

fn regions() -> Vec<RegionBar> {
    let names = ["forehead", "left eye", "right eye", "both eyes", "nose", "mouth", "chin", "left half", "lower half"];
    names
        .iter()
        .enumerate()
        .map(|(i, n)| RegionBar {
            name: n.to_string(),
            occluded_area: Some(0.05 + 0.05 * i as f64),
            baseline: 80.0 + 2.0 * i as f64,
            from: 82.0 + 2.0 * i as f64,
        })
        .collect()
}

fn bars() -> RegionBars {
    let mut fig = RegionBars::new("per-region accuracy & <baseline>", regions());
    fig.clean = Some((99.3, 99.5));
    fig
}

fn roc(n: usize) -> RocCurves {
    let curves = (0..n)
        .map(|i| {
            let far: Vec<f64> = (0..=300).map(|k| k as f64 / 300.0).collect();
            let tar = far.iter().map(|f| 1.0 - (0.1 + 0.02 * i as f64) * (1.0 - f).powi(4)).collect();
            RocCurve { label: format!("condition {i}"), far, tar, auc: Some(0.99 - 0.001 * i as f64), style: None }
        })
        .collect();
    RocCurves { title: "ROC".into(), curves, far_min: None, tar_min: None }
}

fn area() -> AreaCurves {
    let series = [("baseline", 1.0), ("FROM", 0.5)]
        .iter()
        .map(|&(label, slope)| AreaSeries {
            label: label.into(),
            points: (0..10).map(|k| (5.0 * k as f64, 99.0 - slope * k as f64 * 2.0)).collect(),
            style: None,
        })
        .collect();
    AreaCurves { title: "accuracy against area".into(), series, accuracy_min: None }
}

fn count(img: &RgbImage, rgb: [u8; 3]) -> usize {
    img.pixels().filter(|p| p.0 == rgb).count()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn region_bars_write_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let [png, svg] = write_region_bars(&bars(), &dir.path().join("fig1")).unwrap();
    assert_eq!(png, dir.path().join("fig1.png"));
    assert_eq!(svg, dir.path().join("fig1.svg"));

    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), REGION_BARS_SIZE);
    assert!(count(&img, FROM_RGB) > 1000, "FROM bars missing");
    assert!(count(&img, BASELINE_RGB) > 1000, "baseline bars missing");

    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    assert_eq!(text.matches("<text").count(), text.matches("</text>").count());
    assert!(text.contains("font-family=\"DejaVu Sans, sans-serif\""));
    for r in regions() {
        assert!(text.contains(&r.name), "no label {}", r.name);
    }
    for label in ["baseline (unmasked)", "FROM (masked)", "per-region accuracy", "verification accuracy (%)"] {
        assert!(text.contains(label), "no {label}");
    }
    // Values are printed above the bars with one decimal, area ratios with two.
    assert!(text.contains(">\n82.0\n<") && text.contains(">\n0.05\n<"));
    // Only the two figures: no temporary file survives the atomic writes.
    assert_eq!(files_in(dir.path()), ["fig1.png", "fig1.svg"]);
}

#[test]
fn a_taller_value_draws_a_taller_bar() {
    let render = |v: f64| {
        let mut fig = RegionBars::new("", regions());
        fig.regions[4].from = v;
        render_region_bars_rgb(&fig).unwrap()
    };
    let (low, high) = (render(89.0), render(97.0));
    let gained = count(&high, FROM_RGB) as i64 - count(&low, FROM_RGB) as i64;
    // 8 points of a ~22-point axis over a ~600 px plot, times a ~55 px wide bar.
    assert!(gained > 55 * 150, "FROM pixels grew by only {gained}");
    assert_eq!(count(&high, BASELINE_RGB), count(&low, BASELINE_RGB));
}

#[test]
fn thumbnails_are_embedded_in_both_formats() {
    let mut fig = bars();
    let magenta = Rgb([255, 0, 255]);
    fig.thumbnails = Some((0..9).map(|_| RgbImage::from_pixel(96, 112, magenta)).collect());
    let img = render_region_bars_rgb(&fig).unwrap();
    // Nine ~89x104 crops; Lanczos keeps a flat image flat inside.
    assert!(count(&img, magenta.0) > 9 * 80 * 95, "thumbnails missing");
    let svg = render_region_bars_svg_string(&fig).unwrap();
    assert_eq!(svg.matches("<image ").count(), 9);
    assert!(svg.contains("href=\"data:image/png;base64,iVBORw0KGgo"));

    fig.thumbnails = Some((0..10).map(|_| RgbImage::new(4, 4)).collect());
    assert!(matches!(render_region_bars_rgb(&fig), Err(PlotError::InvalidData(_))));
}

#[test]
fn invalid_bar_data_is_rejected() {
    let mut fig = bars();
    fig.regions[0].from = f64::NAN;
    assert!(matches!(render_region_bars_png_bytes(&fig), Err(PlotError::InvalidData(_))));
    let mut fig = bars();
    fig.regions[1].baseline = 100.5;
    assert!(matches!(render_region_bars_svg_string(&fig), Err(PlotError::InvalidData(_))));
    assert!(matches!(render_region_bars_rgb(&RegionBars::new("", vec![])), Err(PlotError::InvalidData(_))));
}

#[test]
fn roc_figure_has_log_axis_and_auc_legend() {
    let dir = tempfile::tempdir().unwrap();
    let [png, svg] = write_roc(&roc(4), &dir.path().join("roc")).unwrap();
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), ROC_SIZE);
    let text = std::fs::read_to_string(&svg).unwrap();
    // Smallest non-zero FAR is 1/300, so the axis starts at the decade below.
    assert!(text.contains("10⁻³") && !text.contains("10⁻⁴"));
    assert!(text.contains("condition 0 (AUC 0.9900)") && text.contains("condition 3 (AUC 0.9870)"));
    assert!(text.contains("false accept rate (FAR)"));
    assert_eq!(files_in(dir.path()), ["roc.png", "roc.svg"]);
}

#[test]
fn many_roc_curves_move_the_legend_below_and_grow_the_figure() {
    let img = render_roc_rgb(&roc(24)).unwrap();
    assert_eq!(img.width(), ROC_SIZE.0);
    assert!(img.height() > ROC_SIZE.1);
    let svg = render_roc_svg_string(&roc(24)).unwrap();
    assert!(svg.contains("condition 23"));
}

#[test]
fn roc_input_is_checked() {
    let mut fig = roc(1);
    fig.curves[0].tar.pop();
    assert!(matches!(render_roc_rgb(&fig), Err(PlotError::InvalidData(_))));
    let mut fig = roc(1);
    fig.curves[0].far[3] = 1.5;
    assert!(matches!(render_roc_svg_string(&fig), Err(PlotError::InvalidData(_))));
    assert!(matches!(render_roc_png_bytes(&roc(0)), Err(PlotError::InvalidData(_))));
}

#[test]
fn area_curves_write_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let [png, svg] = write_area_curves(&area(), &dir.path().join("area")).unwrap();
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), AREA_CURVES_SIZE);
    let text = std::fs::read_to_string(&svg).unwrap();
    for label in ["baseline", "FROM", "occluded area (% of face)", "accuracy against area"] {
        assert!(text.contains(label), "no {label}");
    }
    // Default palette: the first two series in blue and vermillion.
    assert!(text.contains("#0072B2") && text.contains("#D55E00"));
}

#[test]
fn png_bytes_decode() {
    let bytes = render_area_curves_png_bytes(&area()).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), AREA_CURVES_SIZE);
}

#[test]
fn unwritable_directory_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("no such dir").join("fig1");
    let err = write_region_bars(&bars(), &stem).unwrap_err();
    match &err {
        PlotError::Write { path, .. } => {
            assert_eq!(path, &dir.path().join("no such dir").join("fig1.png"))
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("fig1.png"), "{err}");

    // A file where the directory should be: fails the same way, whoever runs the test.
    std::fs::write(dir.path().join("plain"), b"x").unwrap();
    let err = write_roc(&roc(2), &dir.path().join("plain").join("roc")).unwrap_err();
    assert!(err.to_string().contains("roc.png"), "{err}");
    assert_eq!(files_in(dir.path()), ["plain"]);
}

#[test]
fn atomic_write_replaces_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fig.v2.png");
    std::fs::write(&path, b"old").unwrap();
    write_atomic(&path, b"new contents").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
    assert_eq!(files_in(dir.path()), ["fig.v2.png"]);
    // A failed rename (the target is a directory) removes the temporary file.
    std::fs::create_dir(dir.path().join("taken.png")).unwrap();
    let err = write_atomic(&dir.path().join("taken.png"), b"x").unwrap_err();
    assert!(err.to_string().contains("taken.png"), "{err}");
    assert_eq!(files_in(dir.path()), ["fig.v2.png", "taken.png"]);
    std::fs::remove_dir(dir.path().join("taken.png")).unwrap();

    // A stem with a dot gets the extension appended, not substituted.
    let [png, _] = write_area_curves(&area(), &dir.path().join("fig.v2")).unwrap();
    assert_eq!(png, path);
}

#[test]
fn figures_round_trip_through_json() {
    let mut fig = bars();
    fig.thumbnails = Some(vec![RgbImage::new(2, 2)]);
    let json = serde_json::to_string(&fig).unwrap();
    let back: RegionBars = serde_json::from_str(&json).unwrap();
    assert_eq!(back.regions, fig.regions);
    assert!(back.thumbnails.is_none(), "thumbnails are not serialised");

    // Optional fields may be left out of hand-written JSON.
    let back: RegionBars =
        serde_json::from_str(r#"{"title": "t", "regions": [{"name": "mouth", "baseline": 90, "from": 92}]}"#).unwrap();
    assert_eq!(back.from_label, "FROM (masked)");
    assert!(back.clean.is_none() && back.regions[0].occluded_area.is_none());
    let roc: RocCurves = serde_json::from_str(
        r#"{"title": "", "curves": [{"label": "a", "far": [0, 0.5, 1], "tar": [0.5, 0.9, 1],
            "style": {"color": 2, "dash": "dashed"}}]}"#,
    )
    .unwrap();
    assert_eq!(roc.curves[0].style, Some(CurveStyle { color: 2, dash: Dash::Dashed }));
    render_roc_svg_string(&roc).unwrap();
}
