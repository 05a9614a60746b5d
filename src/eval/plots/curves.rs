//! ROC curves on a log FAR axis, and accuracy against occluded area: checks the data, picks
//! ranges, ticks and styles, and hands a line chart to the renderer in `chart`.

use super::axis::{Scale, linear_ticks, log_ticks, nice_step};
use super::canvas::MARKERS;
use super::canvas::{PALETTE, Rgb, dash_pattern};
use super::chart::{ChartPlan, LineChart, Series, plan};
use super::{AreaCurves, CurveStyle, Dash, PlotError, RocCurves};

fn style_for(i: usize, style: Option<CurveStyle>) -> (Rgb, &'static [f64]) {
    let s = style
        .unwrap_or(CurveStyle { color: i, dash: [Dash::Solid, Dash::Dashed, Dash::Dotted][(i / PALETTE.len()) % 3] });
    (PALETTE[s.color % PALETTE.len()], dash_pattern(s.dash))
}

pub(super) fn plan_roc(fig: &RocCurves, size: (u32, u32)) -> Result<ChartPlan, PlotError> {
    let bad = |m: String| Err(PlotError::InvalidData(m));
    if fig.curves.is_empty() {
        return bad("no ROC curves".into());
    }
    let unit = |v: &f64| v.is_finite() && (0.0..=1.0).contains(v);
    for cv in &fig.curves {
        if cv.far.len() != cv.tar.len() || cv.far.is_empty() {
            return bad(format!("curve {:?}: {} FAR and {} TAR values", cv.label, cv.far.len(), cv.tar.len()));
        }
        if !cv.far.iter().chain(&cv.tar).all(unit) || cv.auc.is_some_and(|a| !unit(&a)) {
            return bad(format!("curve {:?} has a rate outside [0, 1]", cv.label));
        }
    }
    let xmin = match fig.far_min {
        Some(v) if v > 0.0 && v < 1.0 => v,
        Some(v) => return bad(format!("far_min {v} is not in (0, 1)")),
        None => {
            let smallest =
                fig.curves.iter().flat_map(|cv| &cv.far).filter(|&&f| f > 0.0).fold(1.0f64, |a, &b| a.min(b));
            10f64.powf(smallest.log10().floor()).clamp(1e-6, 1e-1)
        }
    };
    let mut series = Vec::new();
    for (i, cv) in fig.curves.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = cv.far.iter().copied().zip(cv.tar.iter().copied()).collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        // Points left of the axis are replaced by the curve's value at its left end (linear
        // in FAR between the neighbours), so the curve starts at the edge instead of at its
        // first visible point.
        let first = pts.partition_point(|p| p.0 < xmin);
        let mut visible: Vec<(f64, f64)> = pts[first..].to_vec();
        if first > 0 && first < pts.len() {
            let (a, b) = (pts[first - 1], pts[first]);
            let t = if b.0 > a.0 { (xmin - a.0) / (b.0 - a.0) } else { 1.0 };
            visible.insert(0, (xmin, a.1 + t * (b.1 - a.1)));
        }
        let (color, pattern) = style_for(i, cv.style);
        let label = match cv.auc {
            Some(a) => format!("{} (AUC {a:.4})", cv.label),
            None => cv.label.clone(),
        };
        series.push(Series { label, points: visible, color, pattern, marker: None });
    }
    let ymin = match fig.tar_min {
        Some(v) if (0.0..1.0).contains(&v) => v,
        Some(v) => return bad(format!("tar_min {v} is not in [0, 1)")),
        None => {
            let lowest = series.iter().flat_map(|s| &s.points).map(|p| p.1).fold(1.0f64, f64::min);
            ((lowest * 10.0 - 1e-9).floor() / 10.0).clamp(0.0, 0.9)
        }
    };
    let chart = LineChart {
        title: fig.title.clone(),
        x_label: "false accept rate (FAR)".into(),
        y_label: "true accept rate (TAR)".into(),
        x: (xmin, 1.0, Scale::Log10),
        y: (ymin, 1.0, Scale::Linear),
        x_ticks: log_ticks(xmin, 1.0),
        y_ticks: linear_ticks(ymin, 1.0, nice_step(1.0 - ymin, 5.0)),
        series,
    };
    Ok(plan(chart, size))
}

pub(super) fn plan_area_curves(fig: &AreaCurves, size: (u32, u32)) -> Result<ChartPlan, PlotError> {
    let bad = |m: String| Err(PlotError::InvalidData(m));
    if fig.series.iter().all(|s| s.points.is_empty()) {
        return bad("no points to plot".into());
    }
    for s in &fig.series {
        let ok = |&(a, acc): &(f64, f64)| a.is_finite() && a >= 0.0 && acc.is_finite() && (0.0..=100.0).contains(&acc);
        if !s.points.iter().all(ok) {
            return bad(format!("series {:?}: area must be >= 0 and accuracy in [0, 100]", s.label));
        }
    }
    let all = || fig.series.iter().flat_map(|s| &s.points);
    let max_area = all().map(|p| p.0).fold(0.0f64, f64::max);
    let (lo, hi) = (all().map(|p| p.1).fold(f64::MAX, f64::min), all().map(|p| p.1).fold(0.0f64, f64::max));
    let xstep = nice_step(if max_area > 0.0 { max_area } else { 1.0 }, 5.0);
    let xmax = ((max_area / xstep - 1e-9).ceil() * xstep).max(xstep);
    let ymin = match fig.accuracy_min {
        Some(v) if v.is_finite() && v < hi => v,
        Some(v) => {
            return bad(format!("accuracy_min {v} is not below the highest accuracy"));
        }
        None => (((lo - 2.0) / 5.0).floor() * 5.0).max(0.0),
    };
    let ymax = (((hi + 1.0) / 5.0).ceil() * 5.0).min(100.0).max(ymin + 1.0);
    let series = fig
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut points = s.points.clone();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (color, pattern) = style_for(i, s.style);
            Series { label: s.label.clone(), points, color, pattern, marker: Some(MARKERS[i % MARKERS.len()]) }
        })
        .collect();
    let chart = LineChart {
        title: fig.title.clone(),
        x_label: "occluded area (% of face)".into(),
        y_label: "verification accuracy (%)".into(),
        x: (0.0, xmax, Scale::Linear),
        y: (ymin, ymax, Scale::Linear),
        x_ticks: linear_ticks(0.0, xmax, xstep),
        y_ticks: linear_ticks(ymin, ymax, nice_step(ymax - ymin, 5.0)),
        series,
    };
    Ok(plan(chart, size))
}
