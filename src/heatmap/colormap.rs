//! Colour maps for the heatmaps. The polynomials are the same as in `shaders/heatmap.wgsl`, so
//! the GPU overlay and the CPU fallback (and exported PNGs) agree.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Colormap {
    /// Google's Turbo (Mikhailov 2019), polynomial fit.
    #[default]
    Turbo,
    /// matplotlib's viridis, polynomial fit (perceptually uniform, colour-blind safe).
    Viridis,
    Grey,
}

impl Colormap {
    pub const ALL: [Colormap; 3] = [Colormap::Turbo, Colormap::Viridis, Colormap::Grey];

    pub fn name(self) -> &'static str {
        match self {
            Colormap::Turbo => "turbo",
            Colormap::Viridis => "viridis",
            Colormap::Grey => "grey",
        }
    }

    /// The index the shader switches on.
    pub fn shader_index(self) -> u32 {
        match self {
            Colormap::Turbo => 0,
            Colormap::Viridis => 1,
            Colormap::Grey => 2,
        }
    }

    /// Linear RGB-ish display colour in [0, 1] for `t` (clamped to [0, 1]).
    pub fn rgb(self, t: f32) -> [f32; 3] {
        let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
        match self {
            Colormap::Turbo => turbo(t),
            Colormap::Viridis => viridis(t),
            Colormap::Grey => [t, t, t],
        }
    }

    pub fn rgb8(self, t: f32) -> [u8; 3] {
        self.rgb(t).map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)
    }
}

fn turbo(x: f32) -> [f32; 3] {
    const R4: [f32; 4] = [0.135_721_38, 4.615_392_6, -42.660_32, 132.131_08];
    const G4: [f32; 4] = [0.091_402_61, 2.194_188_4, 4.842_966_6, -14.185_033];
    const B4: [f32; 4] = [0.106_673_3, 12.641_946, -60.582_05, 110.362_77];
    const R2: [f32; 2] = [-152.942_4, 59.286_38];
    const G2: [f32; 2] = [4.277_298_6, 2.829_566];
    const B2: [f32; 2] = [-89.903_11, 27.348_25];
    let v4 = [1.0, x, x * x, x * x * x];
    let v2 = [v4[2] * v4[2], v4[3] * v4[2]];
    let dot4 = |k: [f32; 4]| k.iter().zip(v4).map(|(a, b)| a * b).sum::<f32>();
    let dot2 = |k: [f32; 2]| k[0] * v2[0] + k[1] * v2[1];
    [dot4(R4) + dot2(R2), dot4(G4) + dot2(G2), dot4(B4) + dot2(B2)].map(|c| c.clamp(0.0, 1.0))
}

fn viridis(t: f32) -> [f32; 3] {
    const C: [[f32; 3]; 7] = [
        [0.277_727_33, 0.005_407_344_5, 0.334_099_8],
        [0.105_093_04, 1.404_613_5, 1.384_590_2],
        [-0.330_861_83, 0.214_847_56, 0.095_095_16],
        [-4.634_230_5, -5.799_101, -19.332_441],
        [6.228_27, 14.179_933, 56.690_55],
        [4.776_385, -13.745_145, -65.353_03],
        [-5.435_456, 4.645_852_6, 26.312_435],
    ];
    std::array::from_fn(|i| C.iter().rev().fold(0.0, |acc, c| acc * t + c[i]).clamp(0.0, 1.0))
}

/// Blue (negative) - white (0) - red (positive) for signed values in [-1, 1]: the sensitivity
/// map's similarity drops.
pub fn diverging(v: f32) -> [u8; 3] {
    let v = if v.is_finite() { v.clamp(-1.0, 1.0) } else { 0.0 };
    let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
    let (end, t) = if v >= 0.0 { ([0.70, 0.09, 0.17], v) } else { ([0.13, 0.40, 0.67], -v) };
    [0, 1, 2].map(|i| (lerp(0.97, end[i], t) * 255.0).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_hit_their_published_end_colours() {
        // viridis: #440154 at 0 and #fde725 at 1 (within the fit's error).
        let close = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 6);
        assert!(close(Colormap::Viridis.rgb8(0.0), [0x44, 0x01, 0x54]), "{:?}", Colormap::Viridis.rgb8(0.0));
        assert!(close(Colormap::Viridis.rgb8(1.0), [0xfd, 0xe7, 0x25]), "{:?}", Colormap::Viridis.rgb8(1.0));
        // turbo: blue low, green in the middle, dark red high.
        let [r, _, b] = Colormap::Turbo.rgb8(0.15);
        assert!(b > 200 && r < 100, "{r} {b}");
        let [r, g, b] = Colormap::Turbo.rgb8(0.5);
        assert!(g > r && g > b);
        let [r, g, b] = Colormap::Turbo.rgb8(1.0);
        assert!(r > 100 && g < 40 && b < 40);
        assert_eq!(Colormap::Grey.rgb8(0.5), [128, 128, 128]);
    }

    #[test]
    fn out_of_range_and_nan_are_clamped() {
        assert_eq!(Colormap::Grey.rgb8(f32::NAN), [0, 0, 0]);
        assert_eq!(Colormap::Grey.rgb8(7.0), [255, 255, 255]);
        assert_eq!(diverging(0.0), [247, 247, 247]);
        assert!(diverging(1.0)[0] > diverging(1.0)[2]);
        assert!(diverging(-1.0)[2] > diverging(-1.0)[0]);
    }
}
