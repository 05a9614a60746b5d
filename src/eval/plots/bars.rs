//! The per-region bar chart (Fig. 1 of the FROM paper): baseline and FROM accuracy side by
//! side for each occluded region, with optional clean-accuracy lines and face thumbnails.

use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::HPos;

use super::axis::{Axis, Entry, Key, Scale, linear_ticks, nice_step};
use super::canvas::{Canvas, GRID, MUTED, Placed, Rgb, TEXT, font};
use super::{PlotError, RegionBars};

/// Sky blue and vermillion from Okabe & Ito: told apart with any colour vision deficiency, and
/// by lightness when printed in grey.
pub const BASELINE_COLOR: (u8, u8, u8) = (0x56, 0xb4, 0xe9);
pub const FROM_COLOR: (u8, u8, u8) = (0xd5, 0x5e, 0x00);

const MARGIN: f64 = 24.0;
const TITLE: f64 = 34.0;
const LEGEND: f64 = 24.0;
const TICK: f64 = 24.0;
const AXIS_LABEL: f64 = 26.0;
const XLABEL: f64 = 24.0;
const RATIO: f64 = 21.0;
const VALUE: f64 = 21.0;
const THUMB_H: f64 = 104.0;
/// DejaVu Sans ascent and descent, in ems: how far glyphs reach above and below the baseline.
const ASCENT: f64 = 0.93;
const DESCENT: f64 = 0.24;

fn rgb((r, g, b): (u8, u8, u8)) -> Rgb {
    plotters::style::RGBColor(r, g, b)
}

fn validate(fig: &RegionBars) -> Result<(), super::PlotError> {
    let bad = |m: String| Err(PlotError::InvalidData(m));
    if fig.regions.is_empty() {
        return bad("the bar chart has no regions".into());
    }
    let ok = |v: f64| v.is_finite() && (0.0..=100.0).contains(&v);
    for r in &fig.regions {
        if !ok(r.baseline) || !ok(r.from) {
            return bad(format!("accuracy of region {:?} is not a percentage in [0, 100]", r.name));
        }
        if r.occluded_area.is_some_and(|a| !a.is_finite()) {
            return bad(format!("occluded area of region {:?} is not finite", r.name));
        }
    }
    if let Some((b, f)) = fig.clean
        && (!ok(b) || !ok(f))
    {
        return bad("clean accuracy is not a percentage in [0, 100]".into());
    }
    if let Some(t) = &fig.thumbnails {
        if t.len() > fig.regions.len() {
            return bad(format!("{} thumbnails for {} regions", t.len(), fig.regions.len()));
        }
        if t.iter().any(|i| i.width() == 0 || i.height() == 0) {
            return bad("empty thumbnail".into());
        }
    }
    Ok(())
}

/// Splits a label at the space that best balances two lines, if it is wider than `max`.
fn wrap<DB: DrawingBackend>(c: &Canvas<DB>, text: &str, em: f64, max: f64) -> Vec<String> {
    if c.text_width(text, em, false) <= max {
        return vec![text.to_string()];
    }
    let best = text
        .char_indices()
        .filter(|&(_, ch)| ch == ' ')
        .map(|(i, _)| {
            let (a, b) = (&text[..i], &text[i + 1..]);
            (c.text_width(a, em, false).max(c.text_width(b, em, false)), vec![a.into(), b.into()])
        })
        .min_by(|x, y| x.0.total_cmp(&y.0));
    best.map_or_else(|| vec![text.to_string()], |(_, lines)| lines)
}

/// A validated bar chart; its layout depends on nothing but the fixed canvas size.
pub(super) struct BarsPlan<'f> {
    fig: &'f RegionBars,
    pub size: (u32, u32),
}

pub(super) fn plan_region_bars(fig: &RegionBars, size: (u32, u32)) -> Result<BarsPlan<'_>, PlotError> {
    validate(fig)?;
    Ok(BarsPlan { fig, size })
}

impl<'f> BarsPlan<'f> {
    pub fn draw<DB: DrawingBackend>(&self, c: &Canvas<DB>) -> Result<Vec<Placed<'f>>, PlotError> {
        draw(c, self.fig, (self.size.0 as f64, self.size.1 as f64))
    }
}

fn draw<'f, DB: DrawingBackend>(
    c: &Canvas<DB>,
    fig: &'f RegionBars,
    (w, h): (f64, f64),
) -> Result<Vec<Placed<'f>>, PlotError> {
    let n = fig.regions.len();
    let (base_c, from_c) = (rgb(BASELINE_COLOR), rgb(FROM_COLOR));

    // Data range: zoomed to the data so that differences of a point are visible, but ticks
    // stop at 100 and the axis shows a break mark when it does not start at zero.
    let mut lowest = fig.regions.iter().map(|r| r.baseline.min(r.from)).fold(f64::MAX, f64::min);
    if let Some((b, f)) = fig.clean {
        lowest = lowest.min(b).min(f);
    }
    let mut ymin = (lowest - 2.0).floor().max(0.0);
    let step = nice_step(100.0 - ymin, 5.0);
    if ymin > 0.0 && (ymin / step).fract() == 0.0 {
        // A truncated axis ending on a tick leaves the break mark no room of its own.
        ymin = (ymin - step / 2.0).max(0.0);
    }
    let ticks = linear_ticks(ymin, 100.0, step);

    let tick_w = ticks.iter().map(|t| c.text_width(&t.label, TICK, false)).fold(0.0, f64::max);
    let axis_label_x = MARGIN + ASCENT * AXIS_LABEL;
    let plot_l = axis_label_x + DESCENT * AXIS_LABEL + 14.0 + tick_w + 12.0;
    let plot_r = w - MARGIN;
    let g = (plot_r - plot_l) / n as f64;
    let bar_w = (0.40 * g).min(110.0);
    let gap = (0.02 * g).clamp(2.0, 6.0);

    // Region labels: one size for all. Shrink a little first, then break at spaces (never
    // inside a name like "Occ-LFW-2.0"), then shrink further until every line fits its group.
    let max_label_w = g - 10.0;
    let widest = |labels: &[Vec<String>], em: f64| {
        labels.iter().flatten().map(|l| c.text_width(l, em, false)).fold(0.0, f64::max)
    };
    let whole: Vec<Vec<String>> = fig.regions.iter().map(|r| vec![r.name.clone()]).collect();
    let mut label_em = XLABEL;
    while widest(&whole, label_em) > max_label_w && label_em > XLABEL - 4.0 {
        label_em -= 1.0;
    }
    let mut labels = whole;
    if widest(&labels, label_em) > max_label_w {
        labels = fig.regions.iter().map(|r| wrap(c, &r.name, label_em, max_label_w)).collect();
        while widest(&labels, label_em) > max_label_w && label_em > 14.0 {
            label_em -= 1.0;
        }
    }
    let label_lines = labels.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let has_ratio = fig.regions.iter().any(|r| r.occluded_area.is_some());
    let has_thumbs = fig.thumbnails.as_ref().is_some_and(|t| !t.is_empty());

    // Top down to the plot, then bottom up: the plot takes whatever height is left.
    let mut y = MARGIN;
    let title_y = if fig.title.is_empty() {
        None
    } else {
        y += ASCENT * TITLE;
        let t = y;
        y += DESCENT * TITLE + 12.0;
        Some(t)
    };
    let mut entries = vec![
        Entry { key: Key::Swatch(base_c), label: fig.baseline_label.clone() },
        Entry { key: Key::Swatch(from_c), label: fig.from_label.clone() },
    ];
    if let Some((b, f)) = fig.clean {
        let line = |color| Key::Line { color, width: 2.5, pattern: &[10.0, 6.0], marker: None };
        entries.push(Entry {
            key: line(base_c),
            label: format!("{}, no occlusion: {b:.1}", model_name(&fig.baseline_label)),
        });
        entries
            .push(Entry { key: line(from_c), label: format!("{}, no occlusion: {f:.1}", model_name(&fig.from_label)) });
    }
    let spacing = 36.0;
    let mut legend_em = LEGEND;
    let legend_w = |em: f64| entries.iter().map(|e| e.width(em)).sum::<f64>() + spacing * (entries.len() - 1) as f64;
    while legend_w(legend_em) > plot_r - plot_l && legend_em > 14.0 {
        legend_em -= 1.0;
    }
    y += ASCENT * legend_em;
    let legend_y = y;
    y += DESCENT * legend_em + 18.0;
    let plot_t = y;

    let mut y = h - MARGIN;
    let x_title_y = y - DESCENT * AXIS_LABEL;
    y = x_title_y - ASCENT * AXIS_LABEL - 14.0;
    let thumb_top = if has_thumbs {
        y -= THUMB_H;
        let t = y;
        y -= 12.0;
        Some(t)
    } else {
        None
    };
    let line_h = 1.2 * label_em;
    let ratio_y = if has_ratio {
        let r = y - DESCENT * RATIO;
        y = r - 1.15 * RATIO;
        Some(r)
    } else {
        None
    };
    let last_label_y = y - DESCENT * label_em;
    let first_label_y = last_label_y - (label_lines - 1.0) * line_h;
    let plot_b = first_label_y - ASCENT * label_em - 12.0;

    // Headroom above 100 for the value printed over the tallest bar.
    let value_em = {
        let mut em = VALUE;
        while c.text_width("100.0", em, false) > bar_w + gap - 4.0 && em > 12.0 {
            em -= 1.0;
        }
        em
    };
    let room = ASCENT * value_em + 10.0;
    let highest = fig.regions.iter().map(|r| r.baseline.max(r.from)).fold(100.0f64, f64::max);
    let ph = plot_b - plot_t;
    let ymax = ((highest - room * ymin / ph) / (1.0 - room / ph)).max(100.0);
    let ya = Axis { min: ymin, max: ymax, scale: Scale::Linear, p0: plot_b, p1: plot_t };

    for t in &ticks {
        let py = ya.map(t.value);
        c.line((plot_l, py), (plot_r, py), GRID, 1.0)?;
        c.line((plot_l - 8.0, py), (plot_l, py), TEXT, 1.5)?;
        c.text(&t.label, plot_l - 12.0, py + 0.36 * TICK, font(TICK), HPos::Right)?;
    }
    c.text_up(&fig.value_label, axis_label_x, (plot_t + plot_b) / 2.0, font(AXIS_LABEL))?;

    // Values get a white backing so that a clean-accuracy line never runs through one.
    let mut values = Vec::new();
    for (i, r) in fig.regions.iter().enumerate() {
        let cx = plot_l + g * (i as f64 + 0.5);
        for (x0, v, color) in [(cx - gap / 2.0 - bar_w, r.baseline, base_c), (cx + gap / 2.0, r.from, from_c)] {
            let top = ya.map(v);
            c.rect(x0, top, x0 + bar_w, plot_b, color)?;
            values.push((x0 + bar_w / 2.0, top - 6.0, format!("{v:.1}")));
        }
    }
    if let Some((b, f)) = fig.clean {
        for (v, color) in [(b, base_c), (f, from_c)] {
            let py = ya.map(v);
            c.polyline(&[(plot_l, py), (plot_r, py)], color, 2.5, &[10.0, 6.0])?;
        }
    }
    for (x, y, text) in &values {
        let tw = c.text_width(text, value_em, false);
        let white = plotters::style::RGBColor(255, 255, 255);
        c.rect(x - tw / 2.0 - 2.0, y - ASCENT * value_em * 0.8, x + tw / 2.0 + 2.0, y + 3.0, white)?;
        c.text(text, *x, *y, font(value_em), HPos::Center)?;
    }

    // Axes drawn last so bars do not cover them; a break mark when zero is off the axis.
    c.line((plot_l, plot_t), (plot_l, plot_b), TEXT, 1.5)?;
    c.line((plot_l, plot_b), (plot_r, plot_b), TEXT, 1.5)?;
    if ymin > 0.0 {
        let white = plotters::style::RGBColor(255, 255, 255);
        // Between the axis end and the lowest tick when there is room, so it crosses no tick.
        let lowest_tick = ticks.first().map_or(plot_t, |t| ya.map(t.value));
        let by = if plot_b - lowest_tick >= 24.0 { (plot_b + lowest_tick) / 2.0 } else { plot_b - 10.0 };
        c.rect(plot_l - 10.0, by - 4.0, plot_l + 10.0, by + 4.0, white)?;
        for dy in [-4.0, 4.0] {
            c.line((plot_l - 10.0, by + dy + 4.0), (plot_l + 10.0, by + dy - 4.0), TEXT, 1.5)?;
        }
    }

    let mut placed = Vec::new();
    for (i, r) in fig.regions.iter().enumerate() {
        let cx = plot_l + g * (i as f64 + 0.5);
        c.line((cx, plot_b), (cx, plot_b + 8.0), TEXT, 1.5)?;
        for (k, line) in labels[i].iter().enumerate() {
            c.text(line, cx, first_label_y + k as f64 * line_h, font(label_em), HPos::Center)?;
        }
        if let (Some(ry), Some(a)) = (ratio_y, r.occluded_area) {
            c.text(&format!("{a:.2}"), cx, ry, font(RATIO).color(MUTED), HPos::Center)?;
        }
        let thumb = fig.thumbnails.as_ref().and_then(|t| t.get(i));
        if let (Some(top), Some(img)) = (thumb_top, thumb) {
            let aspect = img.width() as f64 / img.height() as f64;
            let th = THUMB_H.min((g - 8.0) / aspect);
            let tw = th * aspect;
            let (x0, y0) = (cx - tw / 2.0, top + (THUMB_H - th) / 2.0);
            placed.push(Placed { image: img, x: x0, y: y0, w: tw, h: th });
            c.rect_outline(x0 - 1.0, y0 - 1.0, x0 + tw + 1.0, y0 + th + 1.0, MUTED, 1.0)?;
        }
    }
    let x_title = if has_ratio { "occluded region (share of the face hidden)" } else { "occluded region" };
    c.text(x_title, (plot_l + plot_r) / 2.0, x_title_y, font(AXIS_LABEL), HPos::Center)?;

    // Centred over the plot rather than the canvas, which includes the y-axis labels.
    let mid = (plot_l + plot_r) / 2.0;
    if let Some(ty) = title_y {
        c.text(&fig.title, mid, ty, font(TITLE).bold(), HPos::Center)?;
    }
    let mut x = mid - legend_w(legend_em) / 2.0;
    for e in &entries {
        e.draw(c, x, legend_y, legend_em)?;
        x += e.width(legend_em) + spacing;
    }
    Ok(placed)
}

/// "baseline" from "baseline (unmasked)": the clean-line legend names the model only.
fn model_name(label: &str) -> &str {
    label.split(" (").next().unwrap_or(label)
}
