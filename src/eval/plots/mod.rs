//! Publication figures: per-region accuracy bars (the paper's Fig. 1), ROC curves, and accuracy
//! against occluded area. Each is rendered as a PNG and an SVG with the same layout and the
//! bundled DejaVu Sans, so the output does not depend on the fonts of the machine.
//!
//! The inputs are plain data (serde), independent of the rest of the crate, so that an
//! evaluation can dump them as JSON and the figures can be redrawn without rerunning it.

mod axis;
mod bars;
mod canvas;
mod chart;
mod curves;
mod scale;

use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::{Deserialize, Serialize};

pub use bars::{BASELINE_COLOR, FROM_COLOR};
pub use canvas::write_atomic;
pub use scale::{ColourScale, with_colour_scale};

/// Pixel size of the region bar chart (PNG; the SVG uses the same user units).
pub const REGION_BARS_SIZE: (u32, u32) = (1600, 900);
/// Pixel size of the ROC figure. It grows taller when the legend does not fit inside the plot
/// without covering a curve, and goes below it instead.
pub const ROC_SIZE: (u32, u32) = (1000, 850);
/// Pixel size of the accuracy-against-area figure (taller with the legend below, as for ROC).
pub const AREA_CURVES_SIZE: (u32, u32) = (1200, 850);

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("invalid figure data: {0}")]
    InvalidData(String),
    #[error("the bundled font could not be loaded")]
    Font,
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error("PNG encoding failed: {0}")]
    Encode(#[source] image::ImageError),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One occluded region of the bar chart: verification accuracy (%) of both models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionBar {
    /// Shown under the group, e.g. "mouth".
    pub name: String,
    /// Mean share of the face the condition hides (`ConditionResult::area_fraction`, the same
    /// number as the CSV's and the report's "occluded area"), printed under the name; `None`
    /// when unknown (figures saved before it was recorded).
    #[serde(default, alias = "area_ratio")]
    pub occluded_area: Option<f64>,
    pub baseline: f64,
    pub from: f64,
}

/// Fig. 1: baseline against FROM for each occluded region, accuracies in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionBars {
    pub title: String,
    pub regions: Vec<RegionBar>,
    /// Accuracy of (baseline, FROM) without occlusion, drawn as dashed lines.
    #[serde(default)]
    pub clean: Option<(f64, f64)>,
    /// One face crop per region, occluded at that region, drawn under its label (fewer than
    /// regions is allowed: the last groups go without). Not serialised.
    #[serde(skip)]
    pub thumbnails: Option<Vec<RgbImage>>,
    #[serde(default = "default_baseline_label")]
    pub baseline_label: String,
    #[serde(default = "default_from_label")]
    pub from_label: String,
    /// What the bars measure, written along the value axis.
    #[serde(default = "default_value_label")]
    pub value_label: String,
}

fn default_value_label() -> String {
    "verification accuracy (%)".into()
}

fn default_baseline_label() -> String {
    "baseline (unmasked)".into()
}

fn default_from_label() -> String {
    "FROM (masked)".into()
}

impl RegionBars {
    /// A chart with the default legend labels, no clean lines and no thumbnails.
    pub fn new(title: impl Into<String>, regions: Vec<RegionBar>) -> Self {
        Self {
            title: title.into(),
            regions,
            clean: None,
            thumbnails: None,
            baseline_label: default_baseline_label(),
            from_label: default_from_label(),
            value_label: default_value_label(),
        }
    }
}

/// Line pattern of a curve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dash {
    #[default]
    Solid,
    Dashed,
    Dotted,
    DashDot,
}

/// Explicit look of a curve, e.g. the same `color` for baseline (`Dashed`) and FROM (`Solid`)
/// on one condition. `color` indexes an 8-colour colour-blind-safe palette (modulo 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurveStyle {
    pub color: usize,
    pub dash: Dash,
}

/// One ROC curve: false accept rate against true accept rate, both in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurve {
    pub label: String,
    pub far: Vec<f64>,
    pub tar: Vec<f64>,
    /// Shown in the legend when given.
    #[serde(default)]
    pub auc: Option<f64>,
    /// `None`: the curve's index picks colour (and, past 8 curves, the dash).
    #[serde(default)]
    pub style: Option<CurveStyle>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurves {
    pub title: String,
    pub curves: Vec<RocCurve>,
    /// Left end of the log FAR axis; `None`: the decade below the smallest non-zero FAR
    /// (1e-4 for LFW's 3000 negatives per fold), kept within [1e-6, 1e-1].
    #[serde(default)]
    pub far_min: Option<f64>,
    /// Bottom of the TAR axis; `None`: the lowest TAR shown, rounded down to 0.1.
    #[serde(default)]
    pub tar_min: Option<f64>,
}

/// Accuracy (%) of one model at several occluded areas (% of the face).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaSeries {
    pub label: String,
    /// (occluded area in % of the face, accuracy in %).
    pub points: Vec<(f64, f64)>,
    #[serde(default)]
    pub style: Option<CurveStyle>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaCurves {
    pub title: String,
    pub series: Vec<AreaSeries>,
    /// Bottom of the accuracy axis; `None`: 2 points under the lowest accuracy, rounded down
    /// to a multiple of 5.
    #[serde(default)]
    pub accuracy_min: Option<f64>,
}

macro_rules! figure_api {
    ($fig:ty, $size:expr, $plan:path, $rgb:ident, $png:ident, $svg:ident, $write:ident, $what:literal) => {
        #[doc = concat!("Renders ", $what, " as an RGB image (e.g. for a GUI texture).")]
        pub fn $rgb(fig: &$fig) -> Result<RgbImage, PlotError> {
            let plan = $plan(fig, $size)?;
            canvas::render_rgb(plan.size.0, plan.size.1, |c| plan.draw(c))
        }

        #[doc = concat!("Renders ", $what, " as PNG file contents.")]
        pub fn $png(fig: &$fig) -> Result<Vec<u8>, PlotError> {
            canvas::encode_png(&$rgb(fig)?)
        }

        #[doc = concat!("Renders ", $what, " as an SVG document.")]
        pub fn $svg(fig: &$fig) -> Result<String, PlotError> {
            let plan = $plan(fig, $size)?;
            canvas::render_svg(plan.size.0, plan.size.1, |c| plan.draw(c))
        }

        #[doc = concat!("Writes ", $what, " to `stem.png` and `stem.svg` (each atomically) and")]
        /// returns both paths. Both are rendered before either is written.
        pub fn $write(fig: &$fig, stem: &Path) -> Result<[PathBuf; 2], PlotError> {
            let png = $png(fig)?;
            let svg = $svg(fig)?;
            write_pair(stem, &png, &svg)
        }
    };
}

figure_api!(
    RegionBars,
    REGION_BARS_SIZE,
    bars::plan_region_bars,
    render_region_bars_rgb,
    render_region_bars_png_bytes,
    render_region_bars_svg_string,
    write_region_bars,
    "the per-region bar chart"
);

figure_api!(
    RocCurves,
    ROC_SIZE,
    curves::plan_roc,
    render_roc_rgb,
    render_roc_png_bytes,
    render_roc_svg_string,
    write_roc,
    "the ROC curves"
);

figure_api!(
    AreaCurves,
    AREA_CURVES_SIZE,
    curves::plan_area_curves,
    render_area_curves_rgb,
    render_area_curves_png_bytes,
    render_area_curves_svg_string,
    write_area_curves,
    "accuracy against occluded area"
);

fn write_pair(stem: &Path, png: &[u8], svg: &str) -> Result<[PathBuf; 2], PlotError> {
    let png_path = canvas::with_suffix(stem, "png");
    let svg_path = canvas::with_suffix(stem, "svg");
    write_atomic(&png_path, png)?;
    write_atomic(&svg_path, svg.as_bytes())?;
    Ok([png_path, svg_path])
}
