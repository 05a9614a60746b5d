//! FROM's feature pyramid: lateral 1x1 convs and nearest x2 top-down merges from C5 to C3, then a
//! 3x3 smoothing conv. Only the path to X3 is computed; the official checkpoint also holds
//! `P5_2`, `P4_2`, `P6` and `P7_2` (a RetinaNet leftover), which are loaded but unused, so a
//! network trained here leaves them out.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

use super::block_ir::{conv1x1, conv3x3};
use super::ops::{BurnOps, Ops};

#[derive(Config, Debug)]
pub struct FpnConfig {
    /// Channels of C3, C4, C5.
    pub in_channels: [usize; 3],
    pub channels: usize,
    /// Whether to hold the official checkpoint's unused outputs (`P5_2`, `P4_2`, `P6`, `P7_2`).
    #[config(default = true)]
    pub official_extras: bool,
}

/// The official code's names for the pyramid's convs (upper case), the unused extras included.
pub const FPN_TORCH_NAMES: [(&str, &str); 8] = [
    ("P5_1", "p5_1"),
    ("P4_1", "p4_1"),
    ("P3_1", "p3_1"),
    ("P3_2", "p3_2"),
    ("P5_2", "extras.p5_2"),
    ("P4_2", "extras.p4_2"),
    ("P6", "extras.p6"),
    ("P7_2", "extras.p7_2"),
];

#[derive(Module, Debug)]
pub struct Fpn {
    pub p5_1: Conv2d,
    pub p4_1: Conv2d,
    pub p3_1: Conv2d,
    pub p3_2: Conv2d,
    pub extras: Option<OfficialExtras>,
}

/// Pyramid outputs the official checkpoint holds but FROM never computes.
#[derive(Module, Debug)]
pub struct OfficialExtras {
    pub p5_2: Conv2d,
    pub p4_2: Conv2d,
    pub p6: Conv2d,
    pub p7_2: Conv2d,
}

impl FpnConfig {
    pub fn init(&self, device: &Device) -> Fpn {
        let [c3, c4, c5] = self.in_channels;
        let f = self.channels;
        Fpn {
            p5_1: conv1x1([c5, f], 1, true, device),
            p4_1: conv1x1([c4, f], 1, true, device),
            p3_1: conv1x1([c3, f], 1, true, device),
            p3_2: conv3x3([f, f], 1, true, device),
            extras: self.official_extras.then(|| OfficialExtras {
                p5_2: conv3x3([f, f], 1, true, device),
                p4_2: conv3x3([f, f], 1, true, device),
                p6: conv3x3([c5, f], 2, true, device),
                p7_2: conv3x3([f, f], 2, true, device),
            }),
        }
    }
}

impl Fpn {
    /// # Shapes
    /// - `c3`: `[batch, c3, 4h, 4w]`, `c4`: `[batch, c4, 2h, 2w]`, `c5`: `[batch, c5, h, w]`
    /// - output (X3): `[batch, channels, 4h, 4w]`
    pub fn forward(&self, c3: Tensor<4>, c4: Tensor<4>, c5: Tensor<4>) -> Tensor<4> {
        self.forward_with(&mut BurnOps, c3, c4, c5)
    }

    pub fn forward_with<O: Ops>(&self, o: &mut O, c3: O::X, c4: O::X, c5: O::X) -> O::X {
        // Each upsampled level first: the CPU path then adds it as the lateral conv's epilogue.
        let p5 = o.conv(&self.p5_1, c5);
        let up = o.upsample_x2(p5);
        let lateral = o.conv(&self.p4_1, c4);
        let p4 = o.add(lateral, up);
        let up = o.upsample_x2(p4);
        let lateral = o.conv(&self.p3_1, c3);
        let p3 = o.add(lateral, up);
        o.conv(&self.p3_2, p3)
    }
}
