//! The outputs of a sweep: results.json, results.csv, the three figures (PNG and SVG) and a
//! Markdown report embedding them, written into an [`OutputSet`](super::output_set::OutputSet)'s
//! staging folder so the set lands whole. No tensors: everything comes from
//! [`SweepResults`] (plus the example thumbnails, which are not stored there).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use image::RgbImage;

use super::conditions::{Condition, RegionFill};
use super::folds::FoldScheme;
use super::plots::{
    AreaCurves, AreaSeries, CurveStyle, Dash, PlotError, RegionBar, RegionBars, RocCurve, RocCurves, write_area_curves,
    write_atomic, write_region_bars, write_roc,
};
use super::results::{ConditionResult, Embedding, ModelIdentity, PathInfo, SweepResults};
use super::roc::{TarResult, TarRule};
use super::verification::VerificationReport;
use crate::occlusion::Region;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot create {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error("encoding results.json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("encoding results.csv: {0}")]
    Csv(#[from] csv::Error),
}

/// Palette indices (see `plots::CurveStyle`): sky blue for baselines and vermillion for FROM, as
/// in the bar chart; the second model's paths in bluish green and reddish purple.
const BASELINE_COLOUR: usize = 5;
const FROM_COLOUR: usize = 1;
const SECOND_MODEL_COLOURS: [usize; 2] = [2, 3];
/// ROC colours per condition: black for clean, then blue, bluish green, orange, reddish purple.
const CONDITION_COLOURS: [usize; 5] = [6, 0, 2, 4, 3];
/// Regions shown in the ROC figure, in order of preference: the paper's most telling cases.
const ROC_REGIONS: [Region; 5] = [Region::TwoEyes, Region::Mouth, Region::UpperFace, Region::LowerFace, Region::Nose];

/// Whether `path` is a FROM model's masked embedding.
fn is_masked(models: &[ModelIdentity], path: &PathInfo) -> bool {
    path.embedding == Embedding::Masked && models.get(path.model).is_some_and(|m| m.has_mask)
}

/// The pair (baseline, FROM) the bar chart compares: the first masked path, against the first
/// path of another model (the clean-trained baseline `maskscope eval` puts first), or, with a
/// single FROM model, against its own unmasked path. Without a FROM model, the first path of each
/// of two models. `None` for a single plain model.
pub fn compared_pair<'a>(paths: &'a [PathInfo], models: &[ModelIdentity]) -> Option<(&'a PathInfo, &'a PathInfo)> {
    let Some(from) = paths.iter().find(|p| is_masked(models, p)) else {
        let first = paths.iter().find(|p| p.model == 0)?;
        let second = paths.iter().find(|p| p.model == 1)?;
        return Some((first, second));
    };
    let base = paths
        .iter()
        .find(|p| p.model != from.model && !is_masked(models, p))
        .or_else(|| paths.iter().find(|p| p.model == from.model && !is_masked(models, p)))?;
    Some((base, from))
}

/// A path's legend entry, naming its network: "baseline (MobileFaceNet)", "FROM
/// (FROM-MobileFaceNet, masked)", "FROM, mask off (FROM-MobileFaceNet, unmasked)".
pub fn path_legend(models: &[ModelIdentity], path: &PathInfo) -> String {
    let Some(model) = models.get(path.model) else { return path.label.clone() };
    if !model.has_mask {
        return format!("{} ({})", path.label, model.network);
    }
    let side = if is_masked(models, path) { "masked" } else { "unmasked" };
    format!("{} ({}, {side})", path.label, model.network)
}

fn accuracy_percent(condition: &ConditionResult, path: &str) -> Option<f64> {
    condition.path(path).map(|r| 100.0 * r.ten_fold.mean)
}

/// Fig. 1: per region (then Occ-LFW-2.0) the two compared paths' 10-fold accuracy, the clean
/// accuracies as lines, and the example face occluded at each region under its label. `None`
/// when there is no pair to compare or no region / Occ-LFW-2.0 condition.
pub fn region_bars(results: &SweepResults, thumbnails: &[(Condition, RgbImage)]) -> Option<RegionBars> {
    let (base, from) = compared_pair(&results.paths, &results.models)?;
    let groups: Vec<&ConditionResult> = results.conditions.iter().filter(|c| c.condition.is_figure_group()).collect();
    let mut regions = Vec::new();
    for c in &groups {
        regions.push(RegionBar {
            name: c.label.clone(),
            occluded_area: Some(c.area_fraction),
            baseline: accuracy_percent(c, &base.label)?,
            from: accuracy_percent(c, &from.label)?,
        });
    }
    if regions.is_empty() {
        return None;
    }
    let fill = match results.protocol.region_fill {
        RegionFill::Occluder => "occluder objects",
        RegionFill::Pasted => "pasted occluder boxes",
        RegionFill::Grey => "grey boxes",
    };
    let mut fig = RegionBars::new(format!("Verification accuracy by occluded region ({fill})"), regions);
    if let Some(clean) = results.condition(Condition::Clean) {
        fig.clean = accuracy_percent(clean, &base.label).zip(accuracy_percent(clean, &from.label));
    }
    let thumbs: Vec<RgbImage> = groups
        .iter()
        .map_while(|c| thumbnails.iter().find(|(t, _)| *t == c.condition).map(|(_, image)| image.clone()))
        .collect();
    fig.thumbnails = (!thumbs.is_empty()).then_some(thumbs);
    fig.baseline_label = path_legend(&results.models, base);
    fig.from_label = path_legend(&results.models, from);
    Some(fig)
}

/// Colour and dash of a path: the compared pair in the bar chart's colours (baseline sky blue,
/// FROM vermillion), every other path in the second model's colours; masked solid, unmasked
/// dashed.
fn path_style(results: &SweepResults, path: &PathInfo) -> CurveStyle {
    let masked = is_masked(&results.models, path);
    let pair = compared_pair(&results.paths, &results.models);
    let is = |p: Option<&PathInfo>| p.is_some_and(|p| p.label == path.label);
    let color = if is(pair.map(|p| p.1)) {
        FROM_COLOUR
    } else if is(pair.map(|p| p.0)) {
        BASELINE_COLOUR
    } else if masked {
        SECOND_MODEL_COLOURS[0]
    } else {
        SECOND_MODEL_COLOURS[1]
    };
    CurveStyle { color, dash: if masked { Dash::Solid } else { Dash::Dashed } }
}

/// The conditions drawn in the ROC figure: clean, Occ-LFW-2.0 and a few telling regions (fewer
/// with more paths), else squares; every curve of all conditions would be unreadable, and
/// results.json keeps them all.
pub fn roc_conditions(results: &SweepResults) -> Vec<Condition> {
    let budget = if results.paths.len() > 2 { 3 } else { 5 };
    let present = |c: Condition| results.condition(c).is_some();
    let mut chosen: Vec<Condition> =
        [Condition::Clean, Condition::OccLfw20].into_iter().filter(|&c| present(c)).collect();
    chosen.extend(ROC_REGIONS.iter().map(|&r| Condition::Region(r)).filter(|&c| present(c)));
    let squares: Vec<Condition> =
        results.conditions.iter().map(|c| c.condition).filter(|c| matches!(c, Condition::Square(_))).collect();
    if chosen.len() < 3 && !squares.is_empty() {
        // The smallest, middle and largest squares.
        for i in [0, squares.len() / 2, squares.len() - 1] {
            if !chosen.contains(&squares[i]) {
                chosen.push(squares[i]);
            }
        }
    }
    for c in &results.conditions {
        if chosen.len() >= 2 {
            break;
        }
        if !chosen.contains(&c.condition) {
            chosen.push(c.condition);
        }
    }
    chosen.truncate(budget);
    chosen.sort();
    chosen
}

/// ROC curves of [`roc_conditions`]: a colour per condition, a dash per path (dashed baseline,
/// solid FROM).
pub fn roc_curves(results: &SweepResults) -> RocCurves {
    let mut curves = Vec::new();
    for (i, condition) in roc_conditions(results).into_iter().enumerate() {
        let Some(c) = results.condition(condition) else { continue };
        for path in &results.paths {
            let Some(report) = c.path(&path.label) else { continue };
            // Colour tells conditions apart here, so the second model gets dashes of its own.
            let dash = match (path.model, path_style(results, path).dash) {
                (0, dash) => dash,
                (_, Dash::Solid) => Dash::Dotted,
                _ => Dash::DashDot,
            };
            curves.push(RocCurve {
                label: format!("{}, {}", c.label, path.label),
                far: report.roc.iter().map(|p| p.far).collect(),
                tar: report.roc.iter().map(|p| p.tar).collect(),
                auc: Some(report.auc),
                style: Some(CurveStyle { color: CONDITION_COLOURS[i % CONDITION_COLOURS.len()], dash }),
            });
        }
    }
    RocCurves { title: "ROC under occlusion".into(), curves, far_min: None, tar_min: None }
}

/// Accuracy against occluded area: per path, the square sweep (and clean at 0 % when present).
/// `None` without square conditions.
pub fn area_curves(results: &SweepResults) -> Option<AreaCurves> {
    let squares: Vec<&ConditionResult> =
        results.conditions.iter().filter(|c| matches!(c.condition, Condition::Square(_))).collect();
    if squares.is_empty() {
        return None;
    }
    let clean = results.condition(Condition::Clean);
    let series = results
        .paths
        .iter()
        .map(|path| {
            let mut points: Vec<(f64, f64)> =
                clean.iter().filter_map(|c| Some((0.0, accuracy_percent(c, &path.label)?))).collect();
            points.extend(
                squares.iter().filter_map(|c| Some((100.0 * c.area_fraction, accuracy_percent(c, &path.label)?))),
            );
            AreaSeries { label: path.label.clone(), points, style: Some(path_style(results, path)) }
        })
        .collect();
    let title = match results.protocol.square_fill {
        super::conditions::SquareFillKind::Grey => "Accuracy against occluded area (grey squares)",
        super::conditions::SquareFillKind::Occluder => "Accuracy against occluded area (occluder squares)",
    };
    Some(AreaCurves { title: title.into(), series, accuracy_min: None })
}

/// Writes results.json, results.csv, figure1/roc/area (.png and .svg) and report.md into `out`
/// (created if needed); returns the files written.
/// Every file a sweep's output set may hold (figures only when their conditions were run).
pub const OUTPUT_NAMES: &[&str] = &[
    "results.json",
    "results.csv",
    "figure1.png",
    "figure1.svg",
    "roc.png",
    "roc.svg",
    "area.png",
    "area.svg",
    "report.md",
];

/// Writes the set's files into `out` (a staging folder), returning their paths.
pub fn write_outputs(
    results: &SweepResults,
    thumbnails: &[(Condition, RgbImage)],
    out: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(out).map_err(|source| ReportError::CreateDir { path: out.to_path_buf(), source })?;
    let mut written = Vec::new();
    let mut write = |name: &str, bytes: &[u8]| -> Result<(), ReportError> {
        let path = out.join(name);
        write_atomic(&path, bytes)?;
        written.push(path);
        Ok(())
    };
    write("results.json", results.to_json()?.as_bytes())?;
    write("results.csv", results.to_csv()?.as_bytes())?;
    let mut figures = Vec::new();
    if let Some(fig) = region_bars(results, thumbnails) {
        written.extend(write_region_bars(&fig, &out.join("figure1"))?);
        figures.push(Figure::Regions);
    }
    written.extend(write_roc(&roc_curves(results), &out.join("roc"))?);
    figures.push(Figure::Roc);
    if let Some(fig) = area_curves(results) {
        written.extend(write_area_curves(&fig, &out.join("area"))?);
        figures.push(Figure::Area);
    }
    let path = out.join("report.md");
    write_atomic(&path, markdown(results, &figures).as_bytes())?;
    written.push(path);
    Ok(written)
}

/// The figures a report embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Regions,
    Roc,
    Area,
}

fn percent(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

fn tar_cell(report: &VerificationReport, far: f64) -> String {
    match report.tar_at_far.iter().find(|t| t.far == far).map(|t| t.result) {
        Some(TarResult::Measured { tar, .. }) => percent(tar),
        Some(TarResult::NotEnoughImpostorPairs { .. }) => "n/a¹".into(),
        None => String::new(),
    }
}

/// report.md: setup, figures and tables (a summary of accuracies, then every metric).
pub fn markdown(results: &SweepResults, figures: &[Figure]) -> String {
    let mut md = String::new();
    let file = results
        .pairs
        .file
        .file_name()
        .map_or_else(|| results.pairs.file.display().to_string(), |n| n.to_string_lossy().into_owned());
    let _ = writeln!(md, "# Occluded face verification on {file}\n");
    let _ = writeln!(
        md,
        "{} {}, device {}, wall time {:.0} s (align {:.0} s, occlude + embed + score {:.0} s).\n",
        results.software.name,
        results.software.version,
        results.device,
        results.wall_time_s,
        results.timings.align_s,
        results.timings.embed_s
    );
    let _ = writeln!(md, "## Setup\n");
    let p = &results.pairs;
    let _ = writeln!(
        md,
        "- Pairs: `{}`, {} pairs ({} same, {} different).",
        p.file.display(),
        p.count,
        p.genuine,
        p.impostor
    );
    for m in &results.models {
        let sha =
            m.sha256.as_deref().map_or("not from a file".to_string(), |s| format!("sha256 {}", &s[..s.len().min(16)]));
        let _ = writeln!(
            md,
            "- Model `{}`: {} ({}x{} input), `{}`, {sha}.",
            m.label,
            m.network,
            m.input_size[0],
            m.input_size[1],
            m.path.display()
        );
    }
    let paths: Vec<String> = results
        .paths
        .iter()
        .map(|path| {
            let kind = match path.embedding {
                Embedding::Masked => "masked embedding",
                Embedding::Unmasked => "unmasked embedding",
            };
            format!("**{}** ({kind} of `{}`)", path.label, results.models[path.model].label)
        })
        .collect();
    let _ = writeln!(md, "- Compared: {}.", paths.join(", "));
    let fills: Vec<String> =
        results.protocol.region_occluders.iter().map(|r| format!("{} → {}", r.region, r.fill)).collect();
    let _ = writeln!(
        md,
        "- Occlusion: the second image of each pair, after alignment; the first stays clean. Regions: {}. \
         Occ-LFW-2.0 seed {:#x}; square positions seed {:#x}.",
        fills.join(", "),
        results.protocol.seeds.occ_lfw_2_0,
        results.protocol.seeds.square_positions
    );
    let ph = &results.photos;
    let _ = writeln!(
        md,
        "- Photos: {} distinct, {} without a detectable face; {} pairs contain one and score {} (judged \"different\") under every condition.",
        ph.distinct,
        ph.without_face.len(),
        ph.pairs_with_missing_face,
        results.protocol.missing_face_score
    );
    let c = &results.cache;
    let _ = writeln!(
        md,
        "- Work: {} photos aligned, {} read from the cache; {} faces embedded, {} read from the cache.\n",
        c.aligned_fresh, c.aligned_cached, c.embedded_fresh, c.embedded_cached
    );

    summary_table(&mut md, results);
    contrast_table(&mut md, results);
    let has_groups = results.conditions.iter().any(|c| c.condition.is_figure_group());
    if has_groups && !figures.contains(&Figure::Regions) {
        let _ = writeln!(md, "No Figure 1: it sets two compared paths side by side, and this run has one.\n");
    }
    for figure in figures {
        let (stem, caption) = match figure {
            Figure::Regions => (
                "figure1",
                "Accuracy (10-fold) by occluded region, after the FROM paper's Fig. 1. Numbers under the names: the measured mean share of the face the condition hides, as in the table's \"occluded area\" column. Dashed lines: accuracy without occlusion.",
            ),
            Figure::Roc => (
                "roc",
                "ROC curves of a readable subset of the conditions (results.json holds every curve). Dashed: baseline (unmasked); solid: FROM (masked).",
            ),
            Figure::Area => (
                "area",
                "Accuracy (10-fold) against the mean occluded share of the face, for squares of growing side at seeded random positions (0 %: clean).",
            ),
        };
        let _ = writeln!(md, "![{stem}]({stem}.png)\n\n{caption} ([SVG]({stem}.svg))\n");
    }
    metrics_table(&mut md, results);
    let folds = match results.protocol.folds {
        FoldScheme::FileOrder => "the pairs file's own 10 folds",
        FoldScheme::Stratified => {
            "the file lays out no 10 folds, so each fold takes the next tenth of its same-person and of its \
             different-people pairs (a fold of one class would turn a chance-level model into a near-0 % one)"
        }
    };
    let _ = writeln!(md, "Folds: {folds}.\n");
    let tar_rule = match results.protocol.tar_rule {
        TarRule::Roc => "TAR at FAR is the best TAR of a ROC point whose FAR is at most the target",
        TarRule::Authors => {
            "TAR at FAR follows the FROM code's `tar_far` (`--tar-rule authors`): the threshold is the impostor score \
             at index floor(impostors x FAR) in descending order, genuine scores at or above it are accepted, so the \
             real FAR can exceed the target"
        }
    };
    let _ = writeln!(
        md,
        "Accuracy: {}. AUC, EER and TAR come from the ROC over all pairs; {tar_rule}; \"best thr.\" is the accuracy \
         at the single best threshold chosen on all pairs (optimistic).\n\n¹ n/a: fewer impostor pairs than 1/FAR, so \
         that FAR cannot be measured.",
        results.protocol.accuracy
    );
    md
}

/// The FROM model's mask contrast per occluded condition, when measured.
fn contrast_table(md: &mut String, results: &SweepResults) {
    let rows: Vec<_> = results.conditions.iter().filter_map(|c| c.mask_contrast.map(|m| (c, m))).collect();
    let Some(model) = results.models.iter().find(|m| m.has_mask) else { return };
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "## Mask contrast of {}

Mean of 1 − mask (averaged over channels) over the mask cells an occlusion covers at \
         least half of, and over the cells it does not touch, on the occluded second faces.
",
        model.label
    );
    let _ = writeln!(
        md,
        "| condition | 1 − mask, occluded cells | 1 − mask, visible cells | faces |\n| --- | ---: | ---: | ---: |"
    );
    for (c, m) in rows {
        let _ = writeln!(md, "| {} | {:.3} | {:.3} | {} |", c.label, m.covered_removed, m.uncovered_removed, m.faces);
    }
    md.push('\n');
}

/// Accuracy per condition and path, one row per condition.
fn summary_table(md: &mut String, results: &SweepResults) {
    let _ = writeln!(md, "## Accuracy (%), 10-fold mean ± std\n");
    let mut header = "| condition | occluded area |".to_string();
    let mut rule = "| --- | ---: |".to_string();
    for path in &results.paths {
        let _ = write!(header, " {} |", path.label);
        rule.push_str(" ---: |");
    }
    let pair = compared_pair(&results.paths, &results.models);
    if let Some((a, b)) = pair {
        let _ = write!(header, " {} − {} |", b.label, a.label);
        rule.push_str(" ---: |");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for c in &results.conditions {
        let mut row = format!("| {} | {:.1} % |", c.label, 100.0 * c.area_fraction);
        for path in &results.paths {
            match c.path(&path.label) {
                Some(r) => {
                    let _ = write!(row, " {} ± {} |", percent(r.ten_fold.mean), percent(r.ten_fold.std));
                }
                None => row.push_str(" |"),
            }
        }
        if let Some((a, b)) = pair
            && let (Some(x), Some(y)) = (c.path(&a.label), c.path(&b.label))
        {
            let _ = write!(row, " {:+.2} |", 100.0 * (y.ten_fold.mean - x.ten_fold.mean));
        }
        let _ = writeln!(md, "{row}");
    }
    md.push('\n');
}

/// Every metric, one row per condition and path.
fn metrics_table(md: &mut String, results: &SweepResults) {
    let _ = writeln!(md, "## All metrics (%)\n");
    let _ = writeln!(
        md,
        "| condition | path | accuracy | AUC | EER | TAR@FAR 1e-2 | TAR@FAR 1e-3 | TAR@FAR 1e-4 | best thr. |"
    );
    let _ = writeln!(md, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for c in &results.conditions {
        for p in &c.paths {
            let r = &p.report;
            let _ = writeln!(
                md,
                "| {} | {} | {} ± {} | {} | {} | {} | {} | {} | {} |",
                c.label,
                p.path,
                percent(r.ten_fold.mean),
                percent(r.ten_fold.std),
                percent(r.auc),
                percent(r.eer.rate),
                tar_cell(r, 1e-2),
                tar_cell(r, 1e-3),
                tar_cell(r, 1e-4),
                percent(r.best_threshold.accuracy),
            );
        }
    }
    md.push('\n');
}
