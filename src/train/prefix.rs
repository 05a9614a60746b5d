//! The frozen start of the backbone when training with `--trainable after-c3`: the stem and first
//! bottleneck stage keep their pretrained weights, so their output (the first pyramid tap, c3) is
//! computed outside the autodiff graph and fed into it as a constant.
//!
//! That part is ~46% of MobileFaceNet's multiply-adds and holds its largest activations; in the
//! graph it costs a forward pass on burn's tape plus the tape's memory traffic, although no
//! gradient ever reaches it. On the CPU it runs on the CPU inference path (one face per rayon
//! task), elsewhere through burn on the device without autodiff. Both are the same layers as
//! [`MobileFaceNet::c3`]; the CPU path is checked against it in `cpu::tests`.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use image::RgbImage;

use crate::cpu::{self, CpuNetError, EmbedderProgram};
use crate::face::tensor::faces_to_tensor;
use crate::model::FromOutput;
use crate::model::from_mobilefacenet::FromMobileFaceNet;
use crate::model::mobilefacenet::{MobileFaceNet, normalize_mobilefacenet};

#[allow(clippy::large_enum_variant, reason = "one per training run")]
pub enum FrozenPrefix {
    /// Nothing is frozen outside the graph: the network runs from the pixels.
    None,
    /// c3 by the CPU inference path.
    CpuC3(EmbedderProgram),
    /// c3 by burn, on this (non-autodiff) device's copy of the pretrained backbone.
    BurnC3(MobileFaceNet),
}

impl FrozenPrefix {
    /// The c3 prefix of `backbone` (the pretrained weights, on `inner`, a device without
    /// autodiff): the CPU inference path on the CPU, burn elsewhere.
    pub fn c3(backbone: &MobileFaceNet, inner: &Device) -> Result<Self, CpuNetError> {
        Ok(if cpu::suits(inner) {
            FrozenPrefix::CpuC3(EmbedderProgram::new(backbone)?)
        } else {
            FrozenPrefix::BurnC3(backbone.clone().fork(inner))
        })
    }

    /// The training forward pass of `net` on aligned faces, on the autodiff `device`.
    pub fn forward(&self, net: &FromMobileFaceNet, faces: &[&RgbImage], device: &Device) -> FromOutput {
        match self {
            FrozenPrefix::None => net.forward(normalize_mobilefacenet(faces_to_tensor(faces, device))),
            FrozenPrefix::CpuC3(cpu) => net.forward_from_c3(cpu.c3(faces).to_tensor(device)),
            FrozenPrefix::BurnC3(backbone) => {
                let inner = backbone.devices().first().cloned().unwrap_or_default();
                let c3 = backbone.c3(normalize_mobilefacenet(faces_to_tensor(faces, &inner)));
                net.forward_from_c3(Tensor::from_data(c3.into_data(), device))
            }
        }
    }
}
