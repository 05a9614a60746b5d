//! The feature mask as a heatmap on the CPU: which plane to show, its value range, smooth
//! upsampling and colouring. The GPU path (`heatmap_gpu`) draws the same picture from the same
//! plane; this one feeds the glow fallback, the exported overlay PNG, `maskscope inspect` and the
//! tests. No egui: the workbench and the command line share it.

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage, Rgba, RgbaImage};
use serde::{Deserialize, Serialize};

pub mod colormap;

use crate::face::from_model::FeatureMask;
use colormap::Colormap;

/// Side of the CPU fallback's overlay texture: the face's own resolution, which egui's linear
/// filtering enlarges smoothly (a larger texture costs milliseconds per edit for nothing).
pub const CPU_HEATMAP_SIDE: u32 = 112;

/// Which plane of the mask to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MaskSource {
    /// The mean over channels.
    #[default]
    Mean,
    /// One channel (clamped to the mask's channel count).
    Channel(usize),
}

/// How values map to the colour scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ValueRange {
    /// The mask's own range, [0, 1].
    #[default]
    Unit,
    /// The plane's minimum to maximum (an untrained mask sits in a narrow band).
    Auto,
}

/// Everything that decides the look of the heatmap (persisted between runs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeatmapStyle {
    pub source: MaskSource,
    /// Show 1 - mask: what FROM removes rather than what it keeps.
    pub removed: bool,
    pub colormap: Colormap,
    pub range: ValueRange,
    /// Opacity of the overlay over the face, 0..=1.
    pub opacity: f32,
    pub visible: bool,
}

impl Default for HeatmapStyle {
    fn default() -> Self {
        Self {
            source: MaskSource::Mean,
            removed: true,
            colormap: Colormap::Turbo,
            range: ValueRange::Unit,
            opacity: 0.55,
            visible: true,
        }
    }
}

/// A 2-D field of values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub values: Vec<f32>,
}

impl Plane {
    /// The plane of `mask` that `style` asks for (inverted when it shows what is removed).
    pub fn from_mask(mask: &FeatureMask, style: &HeatmapStyle) -> Plane {
        let values = match style.source {
            MaskSource::Mean => mask.channel_mean(),
            MaskSource::Channel(c) => mask
                .channel(c.min(mask.channels.saturating_sub(1)))
                .map(<[f32]>::to_vec)
                .unwrap_or_else(|| mask.channel_mean()),
        };
        let values = if style.removed { values.into_iter().map(|v| 1.0 - v).collect() } else { values };
        Plane { width: mask.width, height: mask.height, values }
    }

    /// `(low, high)` of the colour scale; never an empty interval.
    pub fn range(&self, range: ValueRange) -> (f32, f32) {
        match range {
            ValueRange::Unit => (0.0, 1.0),
            ValueRange::Auto => {
                let finite = self.values.iter().copied().filter(|v| v.is_finite());
                let (lo, hi) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
                if !lo.is_finite() {
                    (0.0, 1.0)
                } else if hi - lo < 1e-6 {
                    (lo - 0.5e-6, lo + 0.5e-6)
                } else {
                    (lo, hi)
                }
            }
        }
    }

    /// The plane bilinearly sampled at `(u, v)` in [0, 1]^2, with texel centres at
    /// (i + 0.5) / n and clamped edges: the convention of the WGSL shader.
    pub fn sample(&self, u: f32, v: f32) -> f32 {
        if self.values.is_empty() || self.width == 0 || self.height == 0 {
            return 0.0;
        }
        let x = (u * self.width as f32 - 0.5).clamp(0.0, (self.width - 1) as f32);
        let y = (v * self.height as f32 - 0.5).clamp(0.0, (self.height - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |x: usize, y: usize| self.values[y * self.width + x];
        let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
        let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// The coloured overlay at `width` x `height` (straight alpha = `opacity`).
    pub fn colourise(
        &self,
        width: u32,
        height: u32,
        colormap: Colormap,
        (lo, hi): (f32, f32),
        opacity: f32,
    ) -> RgbaImage {
        let alpha = (opacity.clamp(0.0, 1.0) * 255.0).round() as u8;
        let span = (hi - lo).max(f32::MIN_POSITIVE);
        RgbaImage::from_fn(width, height, |x, y| {
            let v = self.sample((x as f32 + 0.5) / width as f32, (y as f32 + 0.5) / height as f32);
            let [r, g, b] = colormap.rgb8((v - lo) / span);
            Rgba([r, g, b, alpha])
        })
    }
}

/// `overlay` composited over `face` (same size), for export.
pub fn blend_over(face: &RgbImage, overlay: &RgbaImage) -> RgbImage {
    RgbImage::from_fn(face.width(), face.height(), |x, y| {
        let f = face.get_pixel(x, y).0;
        let Some(o) = overlay.get_pixel_checked(x, y) else { return Rgb(f) };
        let a = u32::from(o.0[3]);
        Rgb(std::array::from_fn(|c| ((u32::from(o.0[c]) * a + u32::from(f[c]) * (255 - a) + 127) / 255) as u8))
    })
}

/// Exported images are enlarged this much: a 112 px face is too small to look at.
pub const EXPORT_SCALE: u32 = 4;

/// The face, enlarged [`EXPORT_SCALE`] times, with the heatmap over it as the screen shows it.
pub fn overlay(face: &RgbImage, plane: &Plane, range: (f32, f32), style: &HeatmapStyle) -> RgbImage {
    let (w, h) = (face.width() * EXPORT_SCALE, face.height() * EXPORT_SCALE);
    let big = imageops::resize(face, w, h, FilterType::Nearest);
    let heat = plane.colourise(w, h, style.colormap, range, style.opacity);
    blend_over(&big, &heat)
}

/// Ticks on the workbench's colour bar.
pub const COLOUR_BAR_TICKS: usize = 5;

/// [`overlay`] with the colour bar the workbench draws beside it, and a caption saying what the
/// colours measure (e.g. "1 - mask, mean over channels").
pub fn overlay_with_colour_bar(
    face: &RgbImage,
    plane: &Plane,
    range: (f32, f32),
    style: &HeatmapStyle,
    caption: &str,
) -> Result<RgbImage, crate::eval::plots::PlotError> {
    let picture = overlay(face, plane, range, style);
    let colours: Vec<[u8; 3]> = (0..256).map(|i| style.colormap.rgb8(i as f32 / 255.0)).collect();
    let (lo, hi) = range;
    let decimals = tick_decimals(lo, hi, COLOUR_BAR_TICKS);
    let ticks: Vec<(f64, String)> = ticks(lo, hi, COLOUR_BAR_TICKS)
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i as f64 / (COLOUR_BAR_TICKS - 1) as f64, format!("{v:.decimals$}")))
        .collect();
    crate::eval::plots::with_colour_scale(
        &picture,
        &crate::eval::plots::ColourScale { colours: &colours, ticks: &ticks, caption },
    )
}

/// What a plane drawn with `style` shows, for captions and legends.
pub fn describe(style: &HeatmapStyle) -> String {
    let what = if style.removed { "1 - mask (what FROM removes)" } else { "mask (what FROM keeps)" };
    match style.source {
        MaskSource::Mean => format!("{what}, mean over channels"),
        MaskSource::Channel(c) => format!("{what}, channel {c}"),
    }
}

/// Tick values for a colour bar between `lo` and `hi` (ends included).
pub fn ticks(lo: f32, hi: f32, count: usize) -> Vec<f32> {
    let n = count.max(2);
    (0..n).map(|i| lo + (hi - lo) * i as f32 / (n - 1) as f32).collect()
}

/// Decimals that tell neighbouring ticks apart: two, or as many as a narrow range needs (a
/// trained mask's min - max range can span 0.05 to 0.065).
pub fn tick_decimals(lo: f32, hi: f32, count: usize) -> usize {
    let step = (hi - lo).abs() / count.max(2).saturating_sub(1) as f32;
    if step <= 0.0 || !step.is_finite() {
        return 2;
    }
    (-step.log10()).ceil().clamp(2.0, 6.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_differ_on_narrow_ranges() {
        assert_eq!(tick_decimals(0.0, 1.0, 5), 2);
        assert_eq!(tick_decimals(0.41, 0.57, 5), 2);
        let (lo, hi) = (0.052, 0.064);
        let decimals = tick_decimals(lo, hi, 5);
        assert_eq!(decimals, 3);
        let labels: Vec<String> = ticks(lo, hi, 5).iter().map(|v| format!("{v:.decimals$}")).collect();
        assert!(labels.windows(2).all(|w| w[0] != w[1]), "{labels:?}");
        assert_eq!(tick_decimals(0.5, 0.5, 5), 2, "an empty range keeps the default");
    }

    fn mask() -> FeatureMask {
        // Two channels of 2x2: channel 0 all 0, channel 1 = [0, 1; 1, 1].
        FeatureMask { channels: 2, height: 2, width: 2, values: vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0] }
    }

    #[test]
    fn planes_follow_the_style() {
        let mut style = HeatmapStyle { removed: false, ..HeatmapStyle::default() };
        assert_eq!(Plane::from_mask(&mask(), &style).values, [0.0, 0.5, 0.5, 0.5]);
        style.source = MaskSource::Channel(1);
        assert_eq!(Plane::from_mask(&mask(), &style).values, [0.0, 1.0, 1.0, 1.0]);
        style.source = MaskSource::Channel(9);
        assert_eq!(Plane::from_mask(&mask(), &style).values, [0.0, 1.0, 1.0, 1.0], "clamped to the last channel");
        style.removed = true;
        assert_eq!(Plane::from_mask(&mask(), &style).values, [1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn bilinear_sampling_hits_texel_centres_and_clamps_edges() {
        let plane = Plane { width: 2, height: 1, values: vec![0.0, 1.0] };
        assert_eq!(plane.sample(0.25, 0.5), 0.0);
        assert_eq!(plane.sample(0.75, 0.5), 1.0);
        assert_eq!(plane.sample(0.5, 0.5), 0.5);
        assert_eq!(plane.sample(0.0, 0.0), 0.0);
        assert_eq!(plane.sample(1.0, 1.0), 1.0);
    }

    #[test]
    fn auto_range_spans_the_values_and_never_collapses() {
        let plane = Plane { width: 3, height: 1, values: vec![0.2, 0.4, f32::NAN] };
        assert_eq!(plane.range(ValueRange::Auto), (0.2, 0.4));
        assert_eq!(plane.range(ValueRange::Unit), (0.0, 1.0));
        let flat = Plane { width: 1, height: 1, values: vec![0.3] };
        let (lo, hi) = flat.range(ValueRange::Auto);
        assert!(hi > lo);
    }

    #[test]
    fn overlay_uses_the_colormap_and_opacity() {
        let plane = Plane { width: 1, height: 1, values: vec![1.0] };
        let img = plane.colourise(4, 4, Colormap::Grey, (0.0, 1.0), 0.5);
        assert_eq!(img.get_pixel(2, 2).0, [255, 255, 255, 128]);
        let face = RgbImage::from_pixel(4, 4, Rgb([0, 0, 0]));
        assert_eq!(blend_over(&face, &img).get_pixel(0, 0).0, [128, 128, 128]);
    }
}
