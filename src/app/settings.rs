//! What persists between runs (eframe storage): tool choices, the heatmap's look, the threshold,
//! the model and the last evaluation inputs. Unknown or missing fields fall back to defaults, so
//! an old settings file never stops the app from starting.

use serde::{Deserialize, Serialize};

use super::document::OccluderRef;
use super::engine::ModelChoice;
use crate::face::FacePick;
use crate::face::embedder::DEFAULT_THRESHOLD;
use crate::heatmap::HeatmapStyle;

/// eframe storage key.
pub const SETTINGS_KEY: &str = "maskscope-settings";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tool {
    #[default]
    Brush,
    Eraser,
    Rectangle,
    Stamp,
}

impl Tool {
    pub const ALL: [Tool; 4] = [Tool::Brush, Tool::Eraser, Tool::Rectangle, Tool::Stamp];

    pub fn label(self) -> &'static str {
        match self {
            Tool::Brush => "Brush",
            Tool::Eraser => "Eraser",
            Tool::Rectangle => "Rectangle",
            Tool::Stamp => "Stamp",
        }
    }

    pub fn hint(self) -> &'static str {
        match self {
            Tool::Brush => "Drag to paint (B)",
            Tool::Eraser => "Drag to restore the face (E)",
            Tool::Rectangle => "Drag a box (R)",
            Tool::Stamp => "Click to place an occluder, drag it to move, scroll over it to scale (S)",
        }
    }
}

/// How the one-click region presets are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RegionFill {
    /// The paint colour, as a flat box.
    #[default]
    Colour,
    /// The selected stamp occluder stretched over the region.
    Occluder,
    /// The object `maskscope eval` stretches over this region (its `--region-fill occluder`).
    EvalObject,
}

impl RegionFill {
    pub const ALL: [RegionFill; 3] = [RegionFill::Colour, RegionFill::EvalObject, RegionFill::Occluder];

    pub fn label(self) -> &'static str {
        match self {
            RegionFill::Colour => "paint colour",
            RegionFill::EvalObject => "eval's object",
            RegionFill::Occluder => "selected stamp",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            RegionFill::Colour => "a flat box in the paint colour",
            RegionFill::EvalObject => {
                "the object maskscope eval uses for this region (a hand, sunglasses, a phone, a mask, a book)"
            }
            RegionFill::Occluder => "the selected stamp occluder, stretched over the region",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub tool: Tool,
    /// Brush and eraser radius, crop pixels.
    pub brush_radius: f32,
    pub colour: [u8; 3],
    pub stamp: Option<OccluderRef>,
    /// Longer side of a new stamp, crop pixels.
    pub stamp_size: f32,
    pub stamp_rotation: f32,
    pub region_fill: RegionFill,
    pub heatmap: HeatmapStyle,
    /// Draw the heatmap with the WGSL shader (else the CPU texture).
    pub gpu_heatmap: bool,
    pub show_grid: bool,
    pub show_patterns: bool,
    /// Cosine similarity at or above which two faces are "the same person".
    pub threshold: f32,
    pub model: ModelChoice,
    /// Screen pixels per face pixel.
    pub zoom: f32,
    pub sensitivity_side: u32,
    pub sensitivity_stride: u32,
    pub sweep_pairs: String,
    pub sweep_images: String,
    /// Pairs evaluated by the sweep panel (a subsample keeps it interactive); 0 = all.
    pub sweep_limit: usize,
    /// Occ-LFW-2.0 draws so far, so that each click gives a new occluder.
    pub random_draws: u64,
    /// Which face of a photo with several is used when it opens (LFW centres its labelled person).
    pub face_pick: FacePick,
    /// Photos of an aligned template's size (112x96, 112x112) are taken as aligned crops: the
    /// template's points are used instead of the detector's (`--aligned` of the command line).
    pub photos_aligned: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tool: Tool::Brush,
            brush_radius: 6.0,
            colour: [40, 40, 40],
            stamp: Some(OccluderRef { class: "sunglasses".into(), name: "aviator_dark".into() }),
            stamp_size: 48.0,
            stamp_rotation: 0.0,
            region_fill: RegionFill::Colour,
            heatmap: HeatmapStyle::default(),
            gpu_heatmap: true,
            show_grid: true,
            show_patterns: true,
            threshold: DEFAULT_THRESHOLD,
            model: ModelChoice::Bundled,
            zoom: 4.0,
            sensitivity_side: 24,
            sensitivity_stride: 8,
            sweep_pairs: String::new(),
            sweep_images: String::new(),
            sweep_limit: 200,
            random_draws: 0,
            face_pick: FacePick::Largest,
            photos_aligned: false,
        }
    }
}

impl Settings {
    /// Settings read back from storage, with any out-of-range value repaired.
    pub fn sanitised(mut self) -> Self {
        let d = Settings::default();
        let fix =
            |v: f32, lo: f32, hi: f32, default: f32| if v.is_finite() && (lo..=hi).contains(&v) { v } else { default };
        self.brush_radius = fix(self.brush_radius, 0.5, 40.0, d.brush_radius);
        self.stamp_size = fix(self.stamp_size, 4.0, 200.0, d.stamp_size);
        self.stamp_rotation = fix(self.stamp_rotation, -180.0, 180.0, 0.0);
        self.threshold = fix(self.threshold, -1.0, 1.0, d.threshold);
        self.zoom = fix(self.zoom, 1.0, 8.0, d.zoom);
        self.heatmap.opacity = fix(self.heatmap.opacity, 0.0, 1.0, d.heatmap.opacity);
        self.sensitivity_side = self.sensitivity_side.clamp(4, 112);
        self.sensitivity_stride = self.sensitivity_stride.clamp(1, 56);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_or_partial_settings_fill_in_defaults() {
        let s: Settings = serde_json::from_str(r#"{"brush_radius": 3.0, "unknown": 1}"#).unwrap();
        assert_eq!(s.brush_radius, 3.0);
        assert_eq!(s.threshold, DEFAULT_THRESHOLD);
        let broken = Settings { zoom: f32::NAN, threshold: 9.0, ..Settings::default() }.sanitised();
        assert_eq!(broken.zoom, Settings::default().zoom);
        assert_eq!(broken.threshold, DEFAULT_THRESHOLD);
    }
}
