//! The line-chart renderer behind the ROC and area figures: log or linear axes, clipped and
//! thinned polylines, markers, and a legend inside the plot where no curve passes, else below.

use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::HPos;

use super::PlotError;
use super::axis::{Axis, Entry, Key, Scale, Tick};
use super::canvas::{Canvas, GRID, GRID_MINOR, MARKER_R, MUTED, Marker, Placed, Rgb, TEXT, font, text_width};

const MARGIN: f64 = 24.0;
const TITLE: f64 = 30.0;
const TICK: f64 = 24.0;
const AXIS_LABEL: f64 = 27.0;
const LEGEND: f64 = 22.0;
const LINE_W: f64 = 2.5;
const ASCENT: f64 = 0.93;
const DESCENT: f64 = 0.24;

pub(super) struct Series {
    pub label: String,
    /// Data coordinates.
    pub points: Vec<(f64, f64)>,
    pub color: Rgb,
    pub pattern: &'static [f64],
    pub marker: Option<Marker>,
}

pub(super) struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// (min, max, scale) of each axis.
    pub x: (f64, f64, Scale),
    pub y: (f64, f64, Scale),
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    pub series: Vec<Series>,
}

/// The part of segment `a`-`b` inside the rectangle, if any (Liang-Barsky).
fn clip(a: (f64, f64), b: (f64, f64), r: [f64; 4]) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.0 - r[0]), (dx, r[2] - a.0), (-dy, a.1 - r[1]), (dy, r[3] - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    let at = |t: f64| (a.0 + t * dx, a.1 + t * dy);
    (t0 <= t1).then(|| (at(t0), at(t1)))
}

/// Drops points closer than `tol` pixels to the last kept one: an ROC over thousands of
/// thresholds would otherwise put every one of them into the SVG.
fn thin(points: &[(f64, f64)], tol: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for (i, &p) in points.iter().enumerate() {
        let far_enough = out.last().is_none_or(|q| (p.0 - q.0).hypot(p.1 - q.1) >= tol);
        if far_enough || i + 1 == points.len() {
            out.push(p);
        }
    }
    out
}

/// Pixel polylines of a series, cut where it leaves the plot rectangle.
fn clipped(points: &[(f64, f64)], r: [f64; 4]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    for w in points.windows(2) {
        match clip(w[0], w[1], r) {
            Some((p, q)) => {
                if cur.last() != Some(&p) {
                    if cur.len() > 1 {
                        out.push(std::mem::take(&mut cur));
                    }
                    cur = vec![p];
                }
                cur.push(q);
            }
            None => {
                if cur.len() > 1 {
                    out.push(std::mem::take(&mut cur));
                }
                cur.clear();
            }
        }
    }
    if cur.len() > 1 {
        out.push(cur);
    }
    out
}

enum LegendPlace {
    /// Top-left corner of the boxed legend inside the plot.
    Inside(f64, f64),
    /// Columns under the x-axis title; the canvas is taller by the legend's height.
    Below { cols: usize, col_w: f64, x0: f64, y0: f64 },
}

/// A line chart with its layout settled: what `draw` needs besides a canvas.
pub(super) struct ChartPlan {
    chart: LineChart,
    pub size: (u32, u32),
    plot: [f64; 4],
    y_label_x: f64,
    x_title_y: f64,
    legend: LegendPlace,
    legend_em: f64,
}

impl ChartPlan {
    fn axes(&self) -> (Axis, Axis) {
        let [l, t, r, b] = self.plot;
        let ch = &self.chart;
        let xa = Axis { min: ch.x.0, max: ch.x.1, scale: ch.x.2, p0: l, p1: r };
        let ya = Axis { min: ch.y.0, max: ch.y.1, scale: ch.y.2, p0: b, p1: t };
        (xa, ya)
    }

    fn entries(&self) -> Vec<Entry> {
        entries(&self.chart)
    }
}

fn entries(ch: &LineChart) -> Vec<Entry> {
    ch.series
        .iter()
        .map(|s| Entry {
            key: Key::Line { color: s.color, width: LINE_W, pattern: s.pattern, marker: s.marker },
            label: s.label.clone(),
        })
        .collect()
}

fn pixels(ch: &LineChart, xa: &Axis, ya: &Axis) -> Vec<Vec<(f64, f64)>> {
    ch.series.iter().map(|s| s.points.iter().map(|&(x, y)| (xa.map(x), ya.map(y))).collect()).collect()
}

fn row_h(em: f64) -> f64 {
    1.45 * em
}

fn inside_box(entries: &[Entry], em: f64) -> (f64, f64) {
    let w = entries.iter().map(|e| e.width(em)).fold(0.0, f64::max);
    (w + 28.0, entries.len() as f64 * row_h(em) + 16.0)
}

/// Lays the chart out on a `w` x `h` canvas, taller if the legend has to go below the plot.
pub(super) fn plan(chart: LineChart, (w, h): (u32, u32)) -> ChartPlan {
    let (w, h) = (w as f64, h as f64);
    let y_tick_w = chart.y_ticks.iter().map(|t| text_width(&t.label, TICK, false)).fold(0.0, f64::max);
    let y_label_x = MARGIN + ASCENT * AXIS_LABEL;
    let plot_l = y_label_x + DESCENT * AXIS_LABEL + 14.0 + y_tick_w + 14.0;
    let last_x_tick = chart.x_ticks.iter().rev().find(|t| !t.label.is_empty());
    let overhang = last_x_tick.map_or(0.0, |t| text_width(&t.label, TICK, false) / 2.0);
    let plot_r = w - MARGIN - overhang.max(8.0);
    let plot_t = if chart.title.is_empty() { MARGIN + 10.0 } else { MARGIN + (ASCENT + DESCENT) * TITLE + 18.0 };
    let under_axis = 12.0 + (ASCENT + DESCENT) * TICK + 16.0 + (ASCENT + DESCENT) * AXIS_LABEL;
    let plot_b = h - MARGIN - under_axis;
    let x_title_y = plot_b + 12.0 + (ASCENT + DESCENT) * TICK + 16.0 + ASCENT * AXIS_LABEL;
    let mut p = ChartPlan {
        chart,
        size: (w as u32, h as u32),
        plot: [plot_l, plot_t, plot_r, plot_b],
        y_label_x,
        x_title_y,
        legend: LegendPlace::Inside(0.0, 0.0),
        legend_em: LEGEND,
    };
    let entries = p.entries();
    if entries.is_empty() {
        return p;
    }

    // First choice: inside the plot, in the first corner that no curve or marker crosses.
    let (bw, bh) = inside_box(&entries, LEGEND);
    let (xa, ya) = p.axes();
    let px = pixels(&p.chart, &xa, &ya);
    let inset = 14.0;
    let corners = [
        (plot_r - inset - bw, plot_b - inset - bh),
        (plot_l + inset, plot_t + inset),
        (plot_l + inset, plot_b - inset - bh),
        (plot_r - inset - bw, plot_t + inset),
    ];
    let fits = bw <= plot_r - plot_l - 2.0 * inset && bh <= plot_b - plot_t - 2.0 * inset;
    let free = |&(x, y): &(f64, f64)| {
        let pad = MARKER_R + 3.0;
        let r = [x - pad, y - pad, x + bw + pad, y + bh + pad];
        px.iter().zip(&p.chart.series).all(|(pts, s)| {
            let on_marker =
                s.marker.is_some() && pts.iter().any(|q| q.0 >= r[0] && q.0 <= r[2] && q.1 >= r[1] && q.1 <= r[3]);
            !on_marker && pts.windows(2).all(|w| clip(w[0], w[1], r).is_none())
        })
    };
    if let Some(&(x, y)) = corners.iter().filter(|_| fits).find(|c| free(c)) {
        p.legend = LegendPlace::Inside(x, y);
        return p;
    }

    // Otherwise below, in as many columns as fit; a smaller font buys columns for long lists.
    let avail = w - 2.0 * MARGIN;
    let mut choice = (LEGEND, 1usize, 0.0f64);
    for em in [LEGEND, LEGEND - 2.0, LEGEND - 4.0] {
        let col_w = entries.iter().map(|e| e.width(em)).fold(0.0, f64::max) + 30.0;
        let cols = ((avail / col_w).floor() as usize).clamp(1, entries.len());
        choice = (em, cols, col_w);
        if entries.len().div_ceil(cols) <= 6 {
            break;
        }
    }
    let (em, cols, col_w) = choice;
    let rows = entries.len().div_ceil(cols);
    let used = cols as f64 * col_w - 30.0;
    let x0 = ((plot_l + plot_r) / 2.0 - used / 2.0).clamp(MARGIN, (w - MARGIN - used).max(MARGIN));
    let y0 = x_title_y + DESCENT * AXIS_LABEL + 14.0;
    p.size.1 = (y0 + rows as f64 * row_h(em) + MARGIN).ceil() as u32;
    p.legend = LegendPlace::Below { cols, col_w, x0, y0 };
    p.legend_em = em;
    p
}

impl ChartPlan {
    pub fn draw<'f, DB: DrawingBackend>(&self, c: &Canvas<DB>) -> Result<Vec<Placed<'f>>, PlotError> {
        let ch = &self.chart;
        let [plot_l, plot_t, plot_r, plot_b] = self.plot;
        let (xa, ya) = self.axes();

        for t in ch.x_ticks.iter().filter(|t| t.label.is_empty()) {
            let px = xa.map(t.value);
            c.line((px, plot_t), (px, plot_b), GRID_MINOR, 1.0)?;
        }
        for t in ch.x_ticks.iter().filter(|t| !t.label.is_empty()) {
            let px = xa.map(t.value);
            c.line((px, plot_t), (px, plot_b), GRID, 1.0)?;
        }
        for t in &ch.y_ticks {
            let py = ya.map(t.value);
            c.line((plot_l, py), (plot_r, py), GRID, 1.0)?;
        }

        for (s, px) in ch.series.iter().zip(pixels(ch, &xa, &ya)) {
            for piece in clipped(&px, self.plot) {
                c.polyline(&thin(&piece, 0.5), s.color, LINE_W, s.pattern)?;
            }
            if let Some(m) = s.marker {
                let inside = |p: &&(f64, f64)| p.0 >= plot_l && p.0 <= plot_r && p.1 >= plot_t && p.1 <= plot_b;
                for &p in px.iter().filter(inside) {
                    m.draw(c, p, s.color)?;
                }
            }
        }

        c.rect_outline(plot_l, plot_t, plot_r, plot_b, TEXT, 1.5)?;
        for t in &ch.x_ticks {
            let px = xa.map(t.value);
            let len = if t.label.is_empty() { 4.0 } else { 8.0 };
            c.line((px, plot_b), (px, plot_b + len), TEXT, 1.5)?;
            if !t.label.is_empty() {
                c.text(&t.label, px, plot_b + 12.0 + ASCENT * TICK, font(TICK), HPos::Center)?;
            }
        }
        for t in &ch.y_ticks {
            let py = ya.map(t.value);
            c.line((plot_l - 8.0, py), (plot_l, py), TEXT, 1.5)?;
            c.text(&t.label, plot_l - 12.0, py + 0.36 * TICK, font(TICK), HPos::Right)?;
        }
        let mid = (plot_l + plot_r) / 2.0;
        c.text(&ch.x_label, mid, self.x_title_y, font(AXIS_LABEL), HPos::Center)?;
        c.text_up(&ch.y_label, self.y_label_x, (plot_t + plot_b) / 2.0, font(AXIS_LABEL))?;
        if !ch.title.is_empty() {
            c.text(&ch.title, mid, MARGIN + ASCENT * TITLE, font(TITLE).bold(), HPos::Center)?;
        }

        let entries = self.entries();
        let em = self.legend_em;
        let baseline = |row: usize| row as f64 * row_h(em) + 0.5 * row_h(em) + 0.36 * em;
        match self.legend {
            LegendPlace::Inside(x, y) if !entries.is_empty() => {
                let (bw, bh) = inside_box(&entries, em);
                c.rect(x, y, x + bw, y + bh, plotters::style::RGBColor(255, 255, 255))?;
                c.rect_outline(x, y, x + bw, y + bh, MUTED, 1.0)?;
                for (k, e) in entries.iter().enumerate() {
                    e.draw(c, x + 14.0, y + 8.0 + baseline(k), em)?;
                }
            }
            LegendPlace::Inside(..) => {}
            LegendPlace::Below { cols, col_w, x0, y0 } => {
                // Column-major, so that consecutive curves (e.g. a baseline/FROM pair) stay
                // next to each other.
                let rows = entries.len().div_ceil(cols);
                for (k, e) in entries.iter().enumerate() {
                    let (col, row) = (k / rows, k % rows);
                    e.draw(c, x0 + col as f64 * col_w, y0 + baseline(row), em)?;
                }
            }
        }
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_the_inside_part() {
        let r = [0.0, 0.0, 10.0, 10.0];
        assert_eq!(clip((-5.0, 5.0), (5.0, 5.0), r), Some(((0.0, 5.0), (5.0, 5.0))));
        assert_eq!(clip((-5.0, -5.0), (-1.0, 20.0), r), None);
        let pieces = clipped(&[(1.0, 1.0), (5.0, 1.0), (5.0, 20.0), (6.0, 20.0), (6.0, 2.0)], r);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0], vec![(1.0, 1.0), (5.0, 1.0), (5.0, 10.0)]);
    }
}
