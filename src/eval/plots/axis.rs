//! Axis scales, tick choice and legend entries, shared by the bar chart and the line charts.

use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::HPos;

use super::PlotError;
use super::canvas::{Canvas, Marker, Rgb, font, text_width};

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Scale {
    Linear,
    Log10,
}

/// A data interval mapped onto a pixel interval (`p0` is where `min` lands; for a y axis that
/// is the bottom, so `p0 > p1`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Axis {
    pub min: f64,
    pub max: f64,
    pub scale: Scale,
    pub p0: f64,
    pub p1: f64,
}

impl Axis {
    fn t(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Linear => (v - self.min) / (self.max - self.min),
            Scale::Log10 => (v.log10() - self.min.log10()) / (self.max.log10() - self.min.log10()),
        }
    }

    pub fn map(&self, v: f64) -> f64 {
        self.p0 + self.t(v) * (self.p1 - self.p0)
    }
}

pub(super) struct Tick {
    pub value: f64,
    /// Empty for a minor tick.
    pub label: String,
}

/// A step of 1, 2, 2.5 or 5 times a power of ten giving about `target` intervals.
pub(super) fn nice_step(span: f64, target: f64) -> f64 {
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm < 1.5 {
        1.0
    } else if norm < 2.25 {
        2.0
    } else if norm < 3.5 {
        2.5
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Multiples of `step` within `[lo, hi]`, labelled with as many decimals as the step needs.
pub(super) fn linear_ticks(lo: f64, hi: f64, step: f64) -> Vec<Tick> {
    let decimals = (0..4).find(|&d| ((step * 10f64.powi(d)).round() - step * 10f64.powi(d)).abs() < 1e-6).unwrap_or(4);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let value = k as f64 * step;
            Tick { value, label: format!("{:.*}", decimals as usize, value) }
        })
        .collect()
}

/// Decades labelled as powers of ten, 2..9 times each decade as minor ticks.
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<Tick> {
    let mut ticks = Vec::new();
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    for e in first..=last {
        for m in 1..10 {
            let value = m as f64 * 10f64.powi(e);
            if value < lo * (1.0 - 1e-9) || value > hi * (1.0 + 1e-9) {
                continue;
            }
            let label = if m == 1 { power_of_ten(e) } else { String::new() };
            ticks.push(Tick { value, label });
        }
    }
    ticks
}

fn power_of_ten(e: i32) -> String {
    match e {
        0 => "1".into(),
        1 => "10".into(),
        _ => {
            const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
            let mut s = String::from("10");
            if e < 0 {
                s.push('⁻');
            }
            for d in e.unsigned_abs().to_string().bytes() {
                s.push(SUP[(d - b'0') as usize]);
            }
            s
        }
    }
}

/// What a legend entry shows next to its label.
#[derive(Clone)]
pub(super) enum Key {
    Swatch(Rgb),
    Line { color: Rgb, width: f64, pattern: &'static [f64], marker: Option<Marker> },
}

pub(super) struct Entry {
    pub key: Key,
    pub label: String,
}

pub(super) const KEY_W: f64 = 44.0;
pub(super) const KEY_GAP: f64 = 10.0;

impl Entry {
    pub fn width(&self, em: f64) -> f64 {
        KEY_W + KEY_GAP + text_width(&self.label, em, false)
    }

    /// Draws the entry with its key's left edge at `x` and its text baseline at `y`.
    pub fn draw<DB: DrawingBackend>(&self, c: &Canvas<DB>, x: f64, y: f64, em: f64) -> Result<(), PlotError> {
        let mid = y - 0.36 * em;
        match &self.key {
            Key::Swatch(color) => {
                let h = 0.8 * em;
                c.rect(x + 6.0, mid - h / 2.0, x + KEY_W - 6.0, mid + h / 2.0, *color)?
            }
            Key::Line { color, width, pattern, marker } => {
                c.polyline(&[(x, mid), (x + KEY_W, mid)], *color, *width, pattern)?;
                if let Some(m) = marker {
                    m.draw(c, (x + KEY_W / 2.0, mid), *color)?;
                }
            }
        }
        c.text(&self.label, x + KEY_W + KEY_GAP, y, font(em), HPos::Left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(22.0, 5.0), 5.0);
        assert_eq!(nice_step(1.0, 5.0), 0.2);
        assert_eq!(nice_step(100.0, 5.0), 20.0);
    }

    #[test]
    fn ticks_and_labels() {
        let t = linear_ticks(78.0, 100.0, 5.0);
        let labels: Vec<&str> = t.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["80", "85", "90", "95", "100"]);
        let t = linear_ticks(0.6, 1.0, 0.1);
        assert_eq!(t.last().unwrap().label, "1.0");
        let t = log_ticks(1e-4, 1.0);
        let majors: Vec<&str> = t.iter().filter(|t| !t.label.is_empty()).map(|t| t.label.as_str()).collect();
        assert_eq!(majors, ["10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "1"]);
        assert_eq!(t.len(), 4 * 9 + 1);
    }
}
